// ValueStatistics.swift: min, max, mean, standard deviation, zeros, NaN and Inf of a stream of
// values, accumulated stably: two passes per block of 4,096 values, blocks and partial results
// merged with Chan et al.'s pairwise formula, everything in Double.

/// Statistics of a tensor's values (or of many tensors'), as torch computes them in float64:
/// NaN and ±Inf are counted and left out of min, max, mean and std; std is the population
/// standard deviation (correction 0); zeros counts values equal to 0 (either sign).
public struct ValueStatistics: Sendable, Equatable, Codable {
  /// Every value, finite or not.
  public var count: Int64 = 0
  /// Finite values: those min, max, mean and std describe.
  public var finiteCount: Int64 = 0
  var finiteMean: Double = 0
  /// Sum of squared deviations from the mean (M2) of the finite values.
  var m2: Double = 0
  var finiteMin = Double.infinity
  var finiteMax = -Double.infinity
  /// Values equal to zero (either sign).
  public var zeros: Int64 = 0
  /// NaN values (left out of min, max, mean and std).
  public var nan: Int64 = 0
  /// +Inf and -Inf.
  public var inf: Int64 = 0

  /// Statistics of no values: counts 0, min/max/mean/std nil.
  public init() {}

  /// The smallest finite value; nil when there is none.
  public var min: Double? { finiteCount > 0 ? finiteMin : nil }
  /// The largest finite value; nil when there is none.
  public var max: Double? { finiteCount > 0 ? finiteMax : nil }
  /// The mean of the finite values; nil when there is none.
  public var mean: Double? { finiteCount > 0 ? finiteMean : nil }
  /// The population standard deviation of the finite values; nil when there is none.
  public var std: Double? {
    finiteCount > 0 ? (Swift.max(m2, 0) / Double(finiteCount)).squareRoot() : nil
  }
  /// Share of values equal to zero (0 for no values).
  public var zeroFraction: Double { count > 0 ? Double(zeros) / Double(count) : 0 }
  /// Whether any value is NaN or ±Inf.
  public var hasNonFinite: Bool { nan > 0 || inf > 0 }

  /// Statistics of `values`.
  public init(_ values: UnsafeBufferPointer<Double>) {
    add(values)
  }

  /// Adds `count` zeros (the implicit zeros of a sparse tensor).
  public mutating func addZeros(_ n: Int64) {
    guard n > 0 else { return }
    var z = ValueStatistics()
    z.count = n
    z.finiteCount = n
    z.finiteMin = 0
    z.finiteMax = 0
    z.zeros = n
    merge(z)
  }

  /// Adds values, in blocks of 4,096: a pass for sum, min, max and zeros, a second for the
  /// squared deviations from the block's own mean; then the block is merged in.
  public mutating func add(_ values: UnsafeBufferPointer<Double>) {
    guard let base = values.baseAddress else { return }
    let block = 4_096
    var start = 0
    while start < values.count {
      let n = Swift.min(block, values.count - start)
      merge(ValueStatistics.block(base + start, n))
      start += n
    }
  }

  /// Merges another partial result (Chan, Golub and LeVeque 1979: exact in exact arithmetic,
  /// and stable because each side's M2 is taken about its own mean).
  public mutating func merge(_ o: ValueStatistics) {
    count += o.count
    zeros += o.zeros
    nan += o.nan
    inf += o.inf
    guard o.finiteCount > 0 else { return }
    if finiteCount == 0 {
      finiteCount = o.finiteCount
      finiteMean = o.finiteMean
      m2 = o.m2
      finiteMin = o.finiteMin
      finiteMax = o.finiteMax
      return
    }
    let na = Double(finiteCount)
    let nb = Double(o.finiteCount)
    let n = na + nb
    let delta = o.finiteMean - finiteMean
    // delta overflows only for two huge means of opposite sign: then weigh the means instead.
    finiteMean =
      delta.isFinite
      ? finiteMean + delta * (nb / n) : finiteMean * (na / n) + o.finiteMean * (nb / n)
    m2 += o.m2 + delta * delta * (na / n) * nb
    finiteCount += o.finiteCount
    finiteMin = Swift.min(finiteMin, o.finiteMin)
    finiteMax = Swift.max(finiteMax, o.finiteMax)
  }

  /// The statistics of a block of `n` values, every one finite: the fast paths' result.
  init(allFinite n: Int, zeros: Int64, mean: Double, m2: Double, min: Double, max: Double) {
    count = Int64(n)
    self.zeros = zeros
    finiteCount = Int64(n)
    finiteMean = mean
    self.m2 = m2
    finiteMin = min
    finiteMax = max
  }

  /// One block: the fast path assumes every value is finite and checks afterwards (a NaN or an
  /// infinity makes the sum non-finite); the careful path runs only for blocks that fail.
  static func block(_ p: UnsafePointer<Double>, _ n: Int) -> ValueStatistics {
    var lo = SIMD4<Double>(repeating: .infinity)
    var hi = SIMD4<Double>(repeating: -.infinity)
    var sum = SIMD4<Double>(repeating: 0)
    var zeros = SIMD4<Int64>(repeating: 0)
    let raw = UnsafeRawPointer(p)
    let vectors = n / 4
    for i in 0..<vectors {
      let v = raw.loadUnaligned(fromByteOffset: i &* 32, as: SIMD4<Double>.self)
      lo = lo.replacing(with: v, where: v .< lo)
      hi = hi.replacing(with: v, where: v .> hi)
      sum += v
      zeros &+= SIMD4<Int64>(repeating: 0).replacing(with: 1, where: v .== 0)
    }
    var total = sum.sum()
    var minimum = lo.min()
    var maximum = hi.max()
    var zeroCount = zeros.wrappedSum()
    for i in (vectors &* 4)..<n {
      let v = p[i]
      minimum = Swift.min(minimum, v)
      maximum = Swift.max(maximum, v)
      total += v
      if v == 0 { zeroCount &+= 1 }
    }
    if total.isFinite {
      let mean = total / Double(n)
      var dev = SIMD4<Double>(repeating: 0)
      let m = SIMD4<Double>(repeating: mean)
      for i in 0..<vectors {
        let d = raw.loadUnaligned(fromByteOffset: i &* 32, as: SIMD4<Double>.self) - m
        dev += d * d
      }
      var m2 = dev.sum()
      for i in (vectors &* 4)..<n {
        let d = p[i] - mean
        m2 += d * d
      }
      if m2.isFinite {
        return ValueStatistics(
          allFinite: n, zeros: zeroCount, mean: mean, m2: m2, min: minimum, max: maximum)
      }
    }
    // Careful path: count NaN and Inf, and run Welford's update over the finite values (no
    // sum to overflow).
    var s = ValueStatistics()
    s.count = Int64(n)
    s.zeros = zeroCount
    var count: Int64 = 0
    var mean = 0.0
    var m2 = 0.0
    for i in 0..<n {
      let v = p[i]
      if v.isNaN {
        s.nan += 1
      } else if v.isInfinite {
        s.inf += 1
      } else {
        count += 1
        let delta = v - mean
        mean += delta / Double(count)
        m2 += delta * (v - mean)
        s.finiteMin = Swift.min(s.finiteMin, v)
        s.finiteMax = Swift.max(s.finiteMax, v)
      }
    }
    s.finiteCount = count
    s.finiteMean = mean
    s.m2 = m2
    return s
  }

  // MARK: fused kernels for stored float32, bfloat16 and float16

  /// Adds `count` stored little-endian elements of `dtype` (float32, bfloat16 or float16)
  /// without decoding them into a buffer first: the same two passes per block of 4,096 as
  /// `add`, on the stored values. Other dtypes are ignored.
  mutating func addStored(_ p: UnsafeRawPointer, count: Int, dtype: DType) {
    switch dtype {
    case .float32: addStored(p, count: count, Float32Lanes.self)
    case .bfloat16: addStored(p, count: count, BFloat16Lanes.self)
    case .float16: addStored(p, count: count, Float16Lanes.self)
    default: return
    }
  }

  mutating func addStored<L: FloatLanes>(_ p: UnsafeRawPointer, count: Int, _ lanes: L.Type) {
    let block = 4_096
    var start = 0
    while start < count {
      let n = Swift.min(block, count - start)
      merge(Self.storedBlock(p + start &* L.itemSize, n, lanes))
      start += n
    }
  }

  /// One block of stored values, 8 at a time. Min, max and zeros are taken in float lanes
  /// (exact: every value is a float32); the sum and the squared deviations in double lanes,
  /// each lane meeting the same elements in the same order as ever and the lanes summed in the
  /// same order, so results are bit for bit those of the double kernel.
  @inline(__always)
  static func storedBlock<L: FloatLanes>(_ p: UnsafeRawPointer, _ n: Int, _ lanes: L.Type)
    -> ValueStatistics
  {
    var lo = (SIMD4<Float>(repeating: .infinity), SIMD4<Float>(repeating: .infinity))
    var hi = (SIMD4<Float>(repeating: -.infinity), SIMD4<Float>(repeating: -.infinity))
    var zeros = (SIMD4<Int32>(repeating: 0), SIMD4<Int32>(repeating: 0))
    var x = SIMD2<Double>(repeating: 0)
    var y = SIMD2<Double>(repeating: 0)
    let vectors = n / 8
    for i in 0..<vectors {
      let (f, s) = L.halves(p, i &* 8)
      // Written so that the accumulator is the operand minps/maxps overwrite.
      lo.0 = f.replacing(with: lo.0, where: lo.0 .< f)
      lo.1 = s.replacing(with: lo.1, where: lo.1 .< s)
      hi.0 = f.replacing(with: hi.0, where: hi.0 .> f)
      hi.1 = s.replacing(with: hi.1, where: hi.1 .> s)
      zeros.0 &-= unsafeBitCast(f .== 0, to: SIMD4<Int32>.self)  // a true lane is -1
      zeros.1 &-= unsafeBitCast(s .== 0, to: SIMD4<Int32>.self)
      let d = L.pairs(f, s)
      x += d.xa + d.xb
      y += d.ya + d.yb
    }
    var total = L.sum(x, y)
    var minimum = Double(Swift.min(lo.0.min(), lo.1.min()))
    var maximum = Double(Swift.max(hi.0.max(), hi.1.max()))
    var zeroCount = Int64(zeros.0.wrappedSum() &+ zeros.1.wrappedSum())
    for i in (vectors &* 8)..<n {
      let v = L.scalar(p, i)
      minimum = Swift.min(minimum, v)
      maximum = Swift.max(maximum, v)
      total += v
      if v == 0 { zeroCount &+= 1 }
    }
    // NaN or Inf in the block (a finite sum of 4,096 float32 values cannot overflow): the
    // careful path on the decoded values.
    guard total.isFinite else { return careful(p, n, lanes) }
    if minimum == 0 || maximum == 0 {
      // Which zero (+0 or -0) is the extreme depends on the order the values are met in:
      // take it as the double kernel does.
      (minimum, maximum) = orderedExtremes(p, n, lanes)
    }
    let mean = total / Double(n)
    let m = SIMD2<Double>(repeating: mean)
    var dx = SIMD2<Double>(repeating: 0)
    var dy = SIMD2<Double>(repeating: 0)
    for i in 0..<vectors {
      let (f, s) = L.halves(p, i &* 8)
      let d = L.pairs(f, s)
      let (xa, xb, ya, yb) = (d.xa - m, d.xb - m, d.ya - m, d.yb - m)
      dx += xa * xa + xb * xb
      dy += ya * ya + yb * yb
    }
    var m2 = L.sum(dx, dy)
    for i in (vectors &* 8)..<n {
      let d = L.scalar(p, i) - mean
      m2 += d * d
    }
    return ValueStatistics(
      allFinite: n, zeros: zeroCount, mean: mean, m2: m2, min: minimum, max: maximum)
  }

  /// Min and max of a finite block in the double kernel's order: lane j meets elements 8i+j,
  /// then 8i+4+j; the lanes are reduced, then the tail is met in order.
  static func orderedExtremes<L: FloatLanes>(_ p: UnsafeRawPointer, _ n: Int, _ lanes: L.Type)
    -> (Double, Double)
  {
    var lo = SIMD4<Double>(repeating: .infinity)
    var hi = SIMD4<Double>(repeating: -.infinity)
    let vectors = n / 8
    for i in 0..<vectors {
      let (a, b) = L.load(p, i &* 8)
      lo = lo.replacing(with: a, where: a .< lo)
      lo = lo.replacing(with: b, where: b .< lo)
      hi = hi.replacing(with: a, where: a .> hi)
      hi = hi.replacing(with: b, where: b .> hi)
    }
    var minimum = Swift.min(lo.min(), .infinity)
    var maximum = Swift.max(hi.max(), -.infinity)
    for i in (vectors &* 8)..<n {
      let v = L.scalar(p, i)
      minimum = Swift.min(minimum, v)
      maximum = Swift.max(maximum, v)
    }
    return (minimum, maximum)
  }

  /// A block holding NaN or Inf: decoded, then the careful path of `block`.
  static func careful<L: FloatLanes>(_ p: UnsafeRawPointer, _ n: Int, _ lanes: L.Type)
    -> ValueStatistics
  {
    withUnsafeTemporaryAllocation(of: Double.self, capacity: n) { buffer in
      guard let base = buffer.baseAddress else { return ValueStatistics() }
      for i in 0..<n { base[i] = L.scalar(p, i) }
      return block(base, n)
    }
  }

  enum CodingKeys: String, CodingKey {
    case count, min, max, mean, std, zeros, zeroFraction, nan, inf
  }

  /// The computed statistics, null when there is no finite value.
  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(count, forKey: .count)
    try c.encode(min, forKey: .min)
    try c.encode(max, forKey: .max)
    try c.encode(mean, forKey: .mean)
    try c.encode(std, forKey: .std)
    try c.encode(zeros, forKey: .zeros)
    try c.encode(zeroFraction, forKey: .zeroFraction)
    try c.encode(nan, forKey: .nan)
    try c.encode(inf, forKey: .inf)
  }

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    count = try c.decode(Int64.self, forKey: .count)
    zeros = try c.decode(Int64.self, forKey: .zeros)
    nan = try c.decode(Int64.self, forKey: .nan)
    inf = try c.decode(Int64.self, forKey: .inf)
    finiteCount = count - nan - inf
    if let v = try c.decodeIfPresent(Double.self, forKey: .min) { finiteMin = v }
    if let v = try c.decodeIfPresent(Double.self, forKey: .max) { finiteMax = v }
    finiteMean = try c.decodeIfPresent(Double.self, forKey: .mean) ?? 0
    let std = try c.decodeIfPresent(Double.self, forKey: .std) ?? 0
    m2 = std * std * Double(finiteCount)
  }
}
