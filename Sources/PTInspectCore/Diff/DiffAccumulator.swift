// DiffAccumulator.swift: the element-wise statistics of `diff --values`, accumulated chunk by
// chunk over pairs of float64 values and merged across workers.

/// Running statistics of `a - b` over pairs of elements. Sums and maxima are taken over the pairs
/// where both values are finite; NaN and Inf are counted per side and never reach the sums.
package struct DiffAccumulator: Sendable, Equatable {
  package var atol: Double
  package var rtol: Double
  /// Pairs seen.
  package var count: Int64 = 0
  /// Pairs where both values are finite (the statistics' population).
  package var finite: Int64 = 0
  /// Pairs whose values differ (a != b).
  package var different: Int64 = 0
  /// Pairs beyond the tolerance: |a - b| > atol + rtol * |b| (any difference when both are 0).
  package var beyond: Int64 = 0
  package var maxAbs: Double = 0
  package var maxRel: Double = 0
  /// Pairs with a != 0 (maxRel is defined only when there is one).
  package var nonzeroBefore: Int64 = 0
  package var sumSquares: Double = 0
  package var dot: Double = 0
  package var normBefore: Double = 0
  package var normAfter: Double = 0
  package var nanBefore: Int64 = 0
  package var nanAfter: Int64 = 0
  package var infBefore: Int64 = 0
  package var infAfter: Int64 = 0
  /// Pairs where a NaN or Inf meets a different value.
  package var nonFiniteMismatches: Int64 = 0

  package init(atol: Double = 0, rtol: Double = 0) {
    self.atol = atol
    self.rtol = rtol
  }

  /// Adds `n` pairs `(a[i], b[i])`.
  package mutating func add(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, count n: Int) {
    add(UnsafeRawPointer(a), Float64Lanes.self, UnsafeRawPointer(b), Float64Lanes.self, count: n)
  }

  /// Adds `n` pairs of stored little-endian elements, `a` of type `A` and `b` of type `B`
  /// (float64, float32, bfloat16 or float16), converted in registers: the same blocks, lanes
  /// and order as for decoded doubles, so the same statistics bit for bit.
  mutating func add<A: StoredLanes, B: StoredLanes>(
    _ a: UnsafeRawPointer, _: A.Type, _ b: UnsafeRawPointer, _: B.Type, count n: Int
  ) {
    var start = 0
    // Blocks of 4096: a fast, vectorised pass that assumes finite values; a block whose sums come
    // out non-finite is done again element by element.
    while start < n {
      let m = min(4096, n - start)
      let pa = a + start &* A.itemSize
      let pb = b + start &* B.itemSize
      let saved = self
      if !addFinite(pa, A.self, pb, B.self, count: m) {
        self = saved
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * m) { buffer in
          guard let x = buffer.baseAddress else { return }
          let y = x + m
          for i in 0..<m {
            x[i] = A.scalar(pa, i)
            y[i] = B.scalar(pb, i)
          }
          addChecked(x, y, count: m)
        }
      }
      start += m
    }
  }

  /// Whether `addStored` takes stored elements of `dtype`.
  static func hasLanes(_ dtype: DType) -> Bool {
    [.float64, .float32, .bfloat16, .float16].contains(dtype)
  }

  /// Adds `n` pairs of stored little-endian elements, `a` of `da` and `b` of `db` (dtypes
  /// `hasLanes` takes; others are ignored).
  mutating func addStored(
    _ a: UnsafeRawPointer, _ da: DType, _ b: UnsafeRawPointer, _ db: DType, count n: Int
  ) {
    switch da {
    case .float64: addStored(a, Float64Lanes.self, b, db, count: n)
    case .float32: addStored(a, Float32Lanes.self, b, db, count: n)
    case .bfloat16: addStored(a, BFloat16Lanes.self, b, db, count: n)
    case .float16: addStored(a, Float16Lanes.self, b, db, count: n)
    default: return
    }
  }

  @inline(__always)
  mutating func addStored<A: StoredLanes>(
    _ a: UnsafeRawPointer, _: A.Type, _ b: UnsafeRawPointer, _ db: DType, count n: Int
  ) {
    switch db {
    case .float64: add(a, A.self, b, Float64Lanes.self, count: n)
    case .float32: add(a, A.self, b, Float32Lanes.self, count: n)
    case .bfloat16: add(a, A.self, b, BFloat16Lanes.self, count: n)
    case .float16: add(a, A.self, b, Float16Lanes.self, count: n)
    default: return
    }
  }

  /// The fast path; returns false (with the state spoilt) when a value was NaN or Inf.
  @inline(__always)
  mutating func addFinite<A: StoredLanes, B: StoredLanes>(
    _ a: UnsafeRawPointer, _: A.Type, _ b: UnsafeRawPointer, _: B.Type, count n: Int
  ) -> Bool {
    typealias V = SIMD4<Double>
    typealias I = SIMD4<Int64>
    var vMaxAbs = V(repeating: 0)
    // The lanes start from the largest relative difference so far: the maximum is the same
    // whatever they start from, and fewer quotients are taken.
    var vMaxRel = V(repeating: maxRel)
    var relBound = vMaxRel * (1 - 0x1p-50)
    var vSq = V(repeating: 0)
    var vDot = V(repeating: 0)
    var vA = V(repeating: 0)
    var vB = V(repeating: 0)
    var vNonzero = I(repeating: 0)
    var vDifferent = I(repeating: 0)
    var vBeyond = I(repeating: 0)
    let zero = V(repeating: 0)
    let one = I(repeating: 1)
    let noInt = I(repeating: 0)
    let vAtol = V(repeating: atol)
    let vRtol = V(repeating: rtol)
    let tolerance = atol > 0 || rtol > 0
    let floatValued = A.isFloatValued && B.isFloatValued
    var i = 0
    while i + 4 <= n {
      let x = A.load4(a, i)
      let y = B.load4(b, i)
      let d = x - y
      let ad = magnitude(d)
      let ax = magnitude(x)
      vMaxAbs = vMaxAbs.replacing(with: ad, where: ad .> vMaxAbs)
      vSq += d * d
      vDot += x * y
      vA += x * x
      vB += y * y
      let nz = ax .!= zero
      vNonzero &+= noInt.replacing(with: one, where: nz)
      // Divide only where |a - b| / |a| may be a new maximum m: the quotient rounds above m
      // only if |a - b| > m * |a| exactly, and the bound m * (1 - 2^-50) keeps the rounded
      // product below that. Exact for float32-valued inputs: a nonzero |a - b| is then at
      // least 2^-149, far above any product the bound rounds wrong (below 2^-1000); float64
      // inputs divide every time.
      if !floatValued || any(nz .& (ad .> relBound * ax)) {
        // |a - b| / |a| where a != 0, else 0 (the division by a zero is discarded).
        let rel = (ad / ax).replacing(with: zero, where: .!nz)
        vMaxRel = vMaxRel.replacing(with: rel, where: rel .> vMaxRel)
        relBound = vMaxRel * (1 - 0x1p-50)
      }
      let diff = d .!= zero
      vDifferent &+= noInt.replacing(with: one, where: diff)
      if tolerance {
        vBeyond &+= noInt.replacing(with: one, where: ad .> vAtol + vRtol * magnitude(y))
      }
      i += 4
    }
    var sq = vSq.sum()
    var dt = vDot.sum()
    var na = vA.sum()
    var nb = vB.sum()
    var mAbs = vMaxAbs.max()
    var mRel = vMaxRel.max()
    var nonzero = vNonzero.wrappedSum()
    var different = vDifferent.wrappedSum()
    var beyond = tolerance ? vBeyond.wrappedSum() : different
    while i < n {
      let x = A.scalar(a, i)
      let y = B.scalar(b, i)
      let d = x - y
      let ad = Swift.abs(d)
      if ad > mAbs { mAbs = ad }
      sq += d * d
      dt += x * y
      na += x * x
      nb += y * y
      if x != 0 {
        nonzero += 1
        let rel = ad / Swift.abs(x)
        if rel > mRel { mRel = rel }
      }
      if d != 0 {
        different += 1
        if !tolerance || ad > atol + rtol * Swift.abs(y) { beyond += 1 }
      }
      i += 1
    }
    // Any NaN or Inf among the inputs makes a sum NaN or Inf (x*x and y*y take every value).
    guard (sq + na + nb + dt).isFinite, mAbs.isFinite, mRel.isFinite else { return false }
    count &+= Int64(n)
    finite &+= Int64(n)
    sumSquares += sq
    dot += dt
    normBefore += na
    normAfter += nb
    maxAbs = Swift.max(maxAbs, mAbs)
    maxRel = Swift.max(maxRel, mRel)
    nonzeroBefore &+= nonzero
    self.different &+= different
    self.beyond &+= beyond
    return true
  }

  /// |v| lane by lane, by clearing the sign bit (-0 becomes +0, which no statistic tells apart).
  @inline(__always)
  func magnitude(_ v: SIMD4<Double>) -> SIMD4<Double> {
    unsafeBitCast(
      unsafeBitCast(v, to: SIMD4<UInt64>.self) & 0x7FFF_FFFF_FFFF_FFFF, to: SIMD4<Double>.self)
  }

  /// The careful path: NaN and Inf are counted and kept out of the statistics.
  mutating func addChecked(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, count n: Int) {
    let tolerance = atol > 0 || rtol > 0
    for i in 0..<n {
      let x = a[i]
      let y = b[i]
      count &+= 1
      if x.isNaN { nanBefore &+= 1 } else if x.isInfinite { infBefore &+= 1 }
      if y.isNaN { nanAfter &+= 1 } else if y.isInfinite { infAfter &+= 1 }
      guard x.isFinite && y.isFinite else {
        // NaN against NaN and Inf against the same Inf are equal; anything else is a mismatch.
        if !((x.isNaN && y.isNaN) || x == y) {
          nonFiniteMismatches &+= 1
          different &+= 1
          beyond &+= 1
        }
        continue
      }
      finite &+= 1
      let d = x - y
      let ad = Swift.abs(d)
      if ad > maxAbs { maxAbs = ad }
      sumSquares += d * d
      dot += x * y
      normBefore += x * x
      normAfter += y * y
      if x != 0 {
        nonzeroBefore &+= 1
        let rel = ad / Swift.abs(x)
        if rel > maxRel { maxRel = rel }
      }
      if d != 0 {
        different &+= 1
        if !tolerance || ad > atol + rtol * Swift.abs(y) { beyond &+= 1 }
      }
    }
  }

  /// Combines the statistics of another part of the same tensor.
  package mutating func merge(_ o: DiffAccumulator) {
    count &+= o.count
    finite &+= o.finite
    different &+= o.different
    beyond &+= o.beyond
    maxAbs = Swift.max(maxAbs, o.maxAbs)
    maxRel = Swift.max(maxRel, o.maxRel)
    nonzeroBefore &+= o.nonzeroBefore
    sumSquares += o.sumSquares
    dot += o.dot
    normBefore += o.normBefore
    normAfter += o.normAfter
    nanBefore &+= o.nanBefore
    nanAfter &+= o.nanAfter
    infBefore &+= o.infBefore
    infAfter &+= o.infAfter
    nonFiniteMismatches &+= o.nonFiniteMismatches
  }

  /// The statistics as the report shows them.
  package func stats(bitIdentical: Bool?) -> ValueStats {
    let rms = finite > 0 ? (sumSquares / Double(finite)).squareRoot() : 0
    let norms = normBefore.squareRoot() * normAfter.squareRoot()
    return ValueStats(
      numel: count, elementsChanged: beyond, elementsDifferent: different, maxAbsDiff: maxAbs,
      maxRelDiff: nonzeroBefore > 0 ? maxRel : nil, rmsDiff: rms,
      cosine: normBefore > 0 && normAfter > 0 ? dot / norms : nil, bitIdentical: bitIdentical,
      nanBefore: nanBefore, nanAfter: nanAfter, infBefore: infBefore, infAfter: infAfter,
      nonFiniteMismatches: nonFiniteMismatches)
  }
}
