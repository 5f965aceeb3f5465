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
    var v = Lanes(atol: atol, rtol: rtol)
    var i = 0
    while i + 8 <= n {
      let (x0, x1) = A.load(a, i)
      let (y0, y1) = B.load(b, i)
      v.add(x0, y0)
      v.add(x1, y1)
      i += 8
    }
    if i + 4 <= n {
      v.add(
        V(A.scalar(a, i), A.scalar(a, i + 1), A.scalar(a, i + 2), A.scalar(a, i + 3)),
        V(B.scalar(b, i), B.scalar(b, i + 1), B.scalar(b, i + 2), B.scalar(b, i + 3)))
      i += 4
    }
    let tolerance = v.tolerance
    var sq = v.sq.sum()
    var dt = v.dot.sum()
    var na = v.a.sum()
    var nb = v.b.sum()
    var mAbs = v.maxAbs.max()
    var mRel = v.maxRel.max()
    var nonzero = v.nonzero.wrappedSum()
    var different = v.different.wrappedSum()
    var beyond = tolerance ? v.beyond.wrappedSum() : different
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

  /// The fast path's accumulators: four pairs at a time, one per lane.
  struct Lanes {
    typealias V = SIMD4<Double>
    typealias I = SIMD4<Int64>
    var maxAbs = V(repeating: 0)
    var maxRel = V(repeating: 0)
    var sq = V(repeating: 0)
    var dot = V(repeating: 0)
    var a = V(repeating: 0)
    var b = V(repeating: 0)
    var nonzero = I(repeating: 0)
    var different = I(repeating: 0)
    var beyond = I(repeating: 0)
    let atol: V
    let rtol: V
    let tolerance: Bool

    init(atol: Double, rtol: Double) {
      self.atol = V(repeating: atol)
      self.rtol = V(repeating: rtol)
      tolerance = atol > 0 || rtol > 0
    }

    @inline(__always)
    mutating func add(_ x: V, _ y: V) {
      let zero = V(repeating: 0)
      let one = I(repeating: 1)
      let noInt = I(repeating: 0)
      let d = x - y
      let ad = d.replacing(with: -d, where: d .< zero)
      let ax = x.replacing(with: -x, where: x .< zero)
      maxAbs = maxAbs.replacing(with: ad, where: ad .> maxAbs)
      sq += d * d
      dot += x * y
      a += x * x
      b += y * y
      let nz = ax .!= zero
      nonzero &+= noInt.replacing(with: one, where: nz)
      // |a - b| / |a| where a != 0, else 0 (the division by a zero is discarded).
      let rel = (ad / ax).replacing(with: zero, where: .!nz)
      maxRel = maxRel.replacing(with: rel, where: rel .> maxRel)
      let diff = d .!= zero
      different &+= noInt.replacing(with: one, where: diff)
      if tolerance {
        let ay = y.replacing(with: -y, where: y .< zero)
        beyond &+= noInt.replacing(with: one, where: ad .> atol + rtol * ay)
      }
    }
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
