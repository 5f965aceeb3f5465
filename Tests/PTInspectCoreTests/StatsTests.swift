// StatsTests.swift: the statistics engine and report: torch's numbers through the parallel
// engine and its fused kernels, NaN and Inf, numerical stability, sparse and tied tensors, the
// layer rollup.

import Foundation
import PTInspectTestSupport
import Testing

@testable import PTInspectCore

/// A one-tensor safetensors file (little-endian `data` of `code` elements), deleted after `body`.
func withSafetensors<R>(
  _ code: String, count: Int, data: [UInt8], _ body: (Checkpoint) throws -> R
) throws -> R {
  var header = Array(
    #"{"x":{"dtype":"\#(code)","shape":[\#(count)],"data_offsets":[0,\#(data.count)]}}"#.utf8)
  while header.count % 8 != 0 { header.append(0x20) }
  let file = withUnsafeBytes(of: UInt64(header.count).littleEndian) { [UInt8]($0) } + header + data
  let url = FileManager.default.temporaryDirectory.appendingPathComponent(
    "ptinspect-stats-\(UUID().uuidString).safetensors")
  try Data(file).write(to: url)
  defer { try? FileManager.default.removeItem(at: url) }
  return try body(try Checkpoint.open(url.path))
}

func bytes<T>(_ values: [T]) -> [UInt8] { values.withUnsafeBytes { [UInt8]($0) } }

/// Mean and std must agree to `tolerance` relative to the magnitude; the rest exactly.
func expectSame(
  _ a: ValueStatistics, _ b: ValueStatistics, _ what: String, tolerance: Double = 1e-12
) {
  #expect(
    a.count == b.count && a.zeros == b.zeros && a.nan == b.nan && a.inf == b.inf, "\(what): counts")
  #expect(
    a.min == b.min && a.max == b.max,
    "\(what): min/max \(String(describing: a.min))/\(String(describing: a.max))")
  let scale = max(abs(a.min ?? 0), abs(a.max ?? 0), 1e-300)
  #expect(abs((a.mean ?? 0) - (b.mean ?? 0)) <= tolerance * scale, "\(what): mean")
  #expect(abs((a.std ?? 0) - (b.std ?? 0)) <= tolerance * scale, "\(what): std")
}

@Suite struct StatsTests {
  @Test func engineMatchesTorchOnEveryCifarTensor() throws {
    let c = try Checkpoint.open(Fixtures.path("cifar_cnn.pt"))
    let reader = try TensorDataReader(c)
    var engine = StatsEngine()
    engine.threads = 3
    engine.unitBytes = 1 << 20  // several units per large tensor, merged in order
    let outcomes = try engine.run(reader, tensors: c.tensors)
    let expected = try expectedTensors("cifar_cnn.pt")
    #expect(expected.count == 33 && outcomes.count == 33)
    for (t, o) in zip(c.tensors, outcomes) {
      guard case .statistics(let s) = o else {
        Issue.record("\(t.name): \(o)")
        continue
      }
      let want = try #require(expected.first { $0.name == t.name }?.stats)
      expectStats(s, want, t.name)
    }
  }

  @Test func engineHandlesEveryDtypeViewAndSkip() throws {
    for fixture in ["dtypes.pt", "views.pt", "small_cnn.safetensors", "legacy_cnn.pt"] {
      let c = try Checkpoint.open(Fixtures.path(fixture))
      let outcomes = try StatsEngine().run(try TensorDataReader(c), tensors: c.tensors)
      let expected = try expectedTensors(fixture)
      #expect(expected.count == c.tensors.count)
      for (t, o) in zip(c.tensors, outcomes) {
        guard case .statistics(let s) = o,
          let want = expected.first(where: { $0.name == t.name })?.stats
        else {
          Issue.record("\(fixture): \(t.name): \(o)")
          continue
        }
        expectStats(s, want, "\(fixture): \(t.name)")
      }
    }
    let meta = try Checkpoint.open(Fixtures.path("meta.pt"))
    let outcomes = try StatsEngine().run(try TensorDataReader(meta), tensors: meta.tensors)
    #expect(outcomes.first == .skipped("meta tensor: no data"))
    guard case .statistics(let real)? = outcomes.last else {
      Issue.record("meta.pt: the real tensor was not read")
      return
    }
    expectStats(real, try #require(try expectedTensors("meta.pt").last?.stats), "meta.pt: real")
  }

  @Test func sparseTensorsGetTheirDenseStatistics() throws {
    let c = try Checkpoint.open(Fixtures.path("sparse.pt"))
    let outcomes = try StatsEngine().run(try TensorDataReader(c), tensors: c.tensors)
    let reference = try torchReference().sparse
    for (t, o) in zip(c.tensors, outcomes) {
      guard case .statistics(let s) = o else {
        Issue.record("\(t.name): \(o)")
        continue
      }
      #expect(s.count == 12)
      expectStats(s, try #require(reference[t.name]), t.name)
    }
  }

  @Test(arguments: ["F32", "BF16", "F16"])
  func fusedKernelsAgreeWithTheDecoder(_ code: String) throws {
    // 10,007 values (not a multiple of 8 or of the 4,096 block) with zeros, NaN and Inf in
    // different blocks and lanes, so both the fast and the careful paths run.
    var values = (0..<10_007).map { Float(sin(Double($0) * 0.37) * 3) }
    values[17] = 0
    values[4_100] = .nan
    values[4_101] = -.infinity
    values[9_999] = .infinity
    values[10_006] = 0
    let data: [UInt8]
    switch code {
    case "F32": data = bytes(values)
    case "BF16": data = bytes(values.map { UInt16($0.bitPattern >> 16) })
    default:
      #if arch(x86_64) || arch(arm64)
        data = bytes(values.map { Float16($0).bitPattern })
      #else
        return
      #endif
    }
    try withSafetensors(code, count: values.count, data: data) { c in
      let reader = try TensorDataReader(c)
      let t = try #require(c.tensors.first)
      var engine = StatsEngine()
      engine.unitBytes = 6_000  // units that start and end mid-block
      guard case .statistics(let fused)? = try engine.run(reader, tensors: [t]).first else {
        Issue.record("\(code): not read")
        return
      }
      let decoded = try statistics(reader, t, chunk: 333)
      expectSame(fused, decoded, code)
      #expect(fused.nan == 1 && fused.inf == 2 && fused.count == 10_007)
      #expect(fused.zeros >= 2)
    }
  }

  @Test func accumulationStaysAccurateFarFromZero() throws {
    // 2^21 values 1e9 + (i mod 7): mean about 1e9 + 3, variance about 4. A one-pass sum of
    // squares (E[x^2] - E[x]^2) loses every digit here.
    let n = 1 << 21
    let values = (0..<n).map { 1e9 + Double($0 % 7) }
    let exactMean = values.reduce(0.0) { $0 + ($1 - 1e9) } / Double(n) + 1e9
    let exactVariance = values.reduce(0.0) { $0 + ($1 - exactMean) * ($1 - exactMean) } / Double(n)
    var s = ValueStatistics()
    values.withUnsafeBufferPointer { s.add($0) }
    #expect(abs((s.mean ?? 0) - exactMean) < 1e-6)
    #expect(abs((s.std ?? 0) - exactVariance.squareRoot()) < 1e-9)
    // Merging partial results in another grouping gives the same answer.
    var parts = ValueStatistics()
    values.withUnsafeBufferPointer { all in
      var i = 0
      while i < n {
        let m = min(12_345, n - i)
        parts.merge(ValueStatistics(UnsafeBufferPointer(rebasing: all[i..<(i + m)])))
        i += m
      }
    }
    #expect(abs((parts.mean ?? 0) - exactMean) < 1e-6)
    #expect(abs((parts.std ?? 0) - exactVariance.squareRoot()) < 1e-9)
  }

  @Test func nonFiniteValuesAreCountedAndLeftOut() {
    let values: [Double] = [.nan, 1, .infinity, 0, -.infinity, 3, .nan, -0.0]
    let s = values.withUnsafeBufferPointer { ValueStatistics($0) }
    #expect(s.count == 8 && s.nan == 2 && s.inf == 2 && s.zeros == 2 && s.finiteCount == 4)
    #expect(s.min == 0 && s.max == 3 && s.mean == 1)
    #expect(abs((s.std ?? 0) - (1.5 as Double).squareRoot()) < 1e-15)  // deviations 0, -1, 2, -1
    let none = [Double.nan, .infinity].withUnsafeBufferPointer { ValueStatistics($0) }
    #expect(
      none.min == nil && none.max == nil && none.mean == nil && none.std == nil && none.hasNonFinite
    )
    let empty = ValueStatistics()
    #expect(empty.count == 0 && empty.zeroFraction == 0 && empty.mean == nil)
  }

  @Test func reportRollsTensorsUpIntoLayers() throws {
    let c = try Checkpoint.open(Fixtures.path("cifar_cnn.pt"))
    let report = try StatsReport(c)
    #expect(report.tensors.count == 33 && report.totals.read == 33 && report.totals.skipped == 0)
    #expect(
      report.layers.map(\.name) == [
        "0", "2", "5", "6", "8", "11", "12", "14", "17", "19", "21", "23",
      ])
    #expect(report.layers.first { $0.name == "5" }?.tensors == 5)
    #expect(report.totals.statistics.count == 5_853_133)
    #expect(!report.hasNonFinite && report.totals.nonFiniteTensors == [])
    // A layer's statistics are its tensors' merged: check one against torch's per-tensor numbers.
    let expected = try expectedTensors("cifar_cnn.pt")
    let weight = try #require(expected.first { $0.name == "0.weight" }?.stats)
    let bias = try #require(expected.first { $0.name == "0.bias" }?.stats)
    let layer = try #require(report.layers.first { $0.name == "0" }?.statistics)
    let (nw, nb) = (864.0, 32.0)
    let mean = ((weight.mean ?? 0) * nw + (bias.mean ?? 0) * nb) / (nw + nb)
    let m2 =
      pow(weight.std ?? 0, 2) * nw + pow(bias.std ?? 0, 2) * nb
      + pow((weight.mean ?? 0) - (bias.mean ?? 0), 2) * nw * nb / (nw + nb)
    #expect(
      layer.count == 896 && layer.min == min(weight.min ?? 0, bias.min ?? 0)
        && layer.max == 0.19250090420246124)
    #expect(
      abs((layer.mean ?? 0) - mean) < 1e-15
        && abs((layer.std ?? 0) - (m2 / 896).squareRoot()) < 1e-15)
  }

  @Test func tiedTensorsAreReadOnceAndCountedOnce() throws {
    let c = try Checkpoint.open(Fixtures.path("tied.pt"))
    let report = try StatsReport(c)
    let head = try #require(report.tensors.first { $0.sharedWith != nil })
    let original = try #require(report.tensors.first { $0.name == head.sharedWith })
    #expect(head.statistics == original.statistics && head.statistics != nil)
    #expect(report.totals.read == report.tensors.count - 1)
    #expect(
      report.totals.statistics.count
        == report.tensors.filter { $0.sharedWith == nil }.reduce(0) { $0 + $1.numel })
  }

  @Test func filterAndNonFiniteFindings() throws {
    let c = try Checkpoint.open(Fixtures.path("dtypes.pt"))
    let all = try StatsReport(c)
    #expect(all.hasNonFinite && all.totals.nonFiniteTensors == ["float32"])
    #expect(all.totals.statistics.nan == 1 && all.totals.statistics.inf == 1)
    let ints = try StatsReport(c, filter: "*int*")
    #expect(
      ints.tensors.map(\.name) == [
        "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
      ])
    #expect(!ints.hasNonFinite && ints.filter == "*int*")
  }

  @Test func jsonHasTheDocumentedFields() throws {
    let report = try StatsReport(try Checkpoint.open(Fixtures.path("meta.pt")))
    let json = try ReportJSON.encode(report)
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    #expect(object["schemaVersion"] as? Int == 1)
    #expect(
      Set(object.keys) == [
        "schemaVersion", "file", "format", "filter", "tensors", "layers", "totals", "source",
        "layerParameters", "layerBuffers", "findings",
      ])
    #expect(object["source"] is NSNull)  // a local file
    let tensors = try #require(object["tensors"] as? [[String: Any]])
    let fields: Set<String> = [
      "name", "dtype", "numel", "min", "max", "mean", "std", "zeros", "zeroFraction", "nan", "inf",
      "sharedWith", "skipped",
    ]
    for t in tensors { #expect(Set(t.keys) == fields) }
    #expect(tensors.first?["skipped"] as? String == "meta tensor: no data")
    #expect(tensors.first?["min"] is NSNull && tensors.last?["skipped"] is NSNull)
    let totals = try #require(object["totals"] as? [String: Any])
    #expect(
      Set(totals.keys) == [
        "tensors", "read", "skipped", "bytes", "numel", "min", "max", "mean", "std", "zeros",
        "zeroFraction", "nan",
        "inf", "nonFiniteTensors",
      ])
    #expect(totals["skipped"] as? Int == 1 && totals["read"] as? Int == 1)
    let layer = try #require((object["layers"] as? [[String: Any]])?.first)
    #expect(
      Set(layer.keys) == [
        "name", "type", "tensors", "numel", "min", "max", "mean", "std", "zeros", "zeroFraction",
        "nan", "inf",
      ])
  }
}

// MARK: the stored-lane kernels, bit for bit

/// The fused kernel as it was before float lanes (double lanes for min, max and zeros): the
/// oracle the new kernel must match bit for bit, so that no golden moves.
enum DoubleLaneKernel {
  static func add<L: StoredLanes>(_ p: UnsafeRawPointer, count: Int, _: L.Type) -> ValueStatistics {
    var s = ValueStatistics()
    var start = 0
    while start < count {
      let n = min(4_096, count - start)
      s.merge(block(p + start * L.itemSize, n, L.self))
      start += n
    }
    return s
  }

  static func block<L: StoredLanes>(_ p: UnsafeRawPointer, _ n: Int, _: L.Type) -> ValueStatistics {
    var lo = SIMD4<Double>(repeating: .infinity)
    var hi = SIMD4<Double>(repeating: -.infinity)
    var sum = SIMD4<Double>(repeating: 0)
    var zeros = SIMD4<Int64>(repeating: 0)
    let vectors = n / 8
    for i in 0..<vectors {
      let (a, b) = L.load(p, i &* 8)
      lo = lo.replacing(with: a, where: a .< lo)
      lo = lo.replacing(with: b, where: b .< lo)
      hi = hi.replacing(with: a, where: a .> hi)
      hi = hi.replacing(with: b, where: b .> hi)
      sum += a + b
      zeros &+= SIMD4<Int64>(repeating: 0).replacing(with: 1, where: a .== 0)
      zeros &+= SIMD4<Int64>(repeating: 0).replacing(with: 1, where: b .== 0)
    }
    var total = sum.sum()
    var minimum = Swift.min(lo.min(), .infinity)
    var maximum = Swift.max(hi.max(), -.infinity)
    var zeroCount = zeros.wrappedSum()
    for i in (vectors &* 8)..<n {
      let v = L.scalar(p, i)
      minimum = Swift.min(minimum, v)
      maximum = Swift.max(maximum, v)
      total += v
      if v == 0 { zeroCount &+= 1 }
    }
    if total.isFinite {
      let mean = total / Double(n)
      let m = SIMD4<Double>(repeating: mean)
      var dev = SIMD4<Double>(repeating: 0)
      for i in 0..<vectors {
        let (a, b) = L.load(p, i &* 8)
        let da = a - m
        let db = b - m
        dev += da * da + db * db
      }
      var m2 = dev.sum()
      for i in (vectors &* 8)..<n {
        let d = L.scalar(p, i) - mean
        m2 += d * d
      }
      if m2.isFinite {
        var s = ValueStatistics()
        s.count = Int64(n)
        s.zeros = zeroCount
        s.finiteCount = Int64(n)
        s.finiteMean = mean
        s.m2 = m2
        s.finiteMin = minimum
        s.finiteMax = maximum
        return s
      }
    }
    let values = (0..<n).map { L.scalar(p, $0) }
    return values.withUnsafeBufferPointer { ValueStatistics.block(first($0), n) }
  }
}

/// The first element of a buffer the test knows is not empty.
func first<T>(_ buffer: UnsafeBufferPointer<T>) -> UnsafePointer<T> {
  guard let p = buffer.baseAddress else { preconditionFailure("an empty buffer") }
  return p
}

func first<T>(_ buffer: UnsafeMutableBufferPointer<T>) -> UnsafeMutablePointer<T> {
  guard let p = buffer.baseAddress else { preconditionFailure("an empty buffer") }
  return p
}

func first(_ buffer: UnsafeRawBufferPointer) -> UnsafeRawPointer {
  guard let p = buffer.baseAddress else { preconditionFailure("an empty buffer") }
  return p
}

/// Elements `i..<i+8` as `L.halves` gives them, put back in order.
func inOrder<L: FloatLanes>(_: L.Type, _ p: UnsafeRawPointer, _ i: Int) -> [Float] {
  let (f, s) = L.halves(p, i)
  guard L.interleaved else { return (0..<4).map { f[$0] } + (0..<4).map { s[$0] } }
  return (0..<8).map { $0 % 2 == 0 ? f[$0 / 2] : s[$0 / 2] }
}

/// The same statistics down to the bits of every double (so +0 and -0 differ).
func expectBitIdentical(_ a: ValueStatistics, _ b: ValueStatistics, _ what: String) {
  #expect(
    a.count == b.count && a.finiteCount == b.finiteCount && a.zeros == b.zeros && a.nan == b.nan
      && a.inf == b.inf, "\(what): counts")
  for (name, x, y) in [
    ("min", a.finiteMin, b.finiteMin), ("max", a.finiteMax, b.finiteMax),
    ("mean", a.finiteMean, b.finiteMean), ("m2", a.m2, b.m2),
  ] {
    #expect(x.bitPattern == y.bitPattern, "\(what): \(name) \(x) vs \(y)")
  }
}

/// Stored values of one float dtype from float32 values (bf16: the top half; f16: rounded).
func stored(_ values: [Float], _ code: String) -> [UInt8] {
  switch code {
  case "F32": return bytes(values)
  case "BF16": return bytes(values.map { UInt16($0.bitPattern >> 16) })
  default: return bytes(values.map { Float16($0).bitPattern })
  }
}

@Suite struct StoredLaneTests {
  /// Runs `body` on the bytes with the lanes of `code`.
  func withLanes<R>(
    _ code: String, _ data: [UInt8],
    _ body: (UnsafeRawPointer, Int, any FloatLanes.Type) -> R
  ) -> R {
    data.withUnsafeBytes { raw in
      switch code {
      case "F32": return body(first(raw), data.count / 4, Float32Lanes.self)
      case "BF16": return body(first(raw), data.count / 2, BFloat16Lanes.self)
      default: return body(first(raw), data.count / 2, Float16Lanes.self)
      }
    }
  }

  func newAndOld(_ code: String, _ data: [UInt8]) -> (ValueStatistics, ValueStatistics) {
    func run<L: FloatLanes>(_ p: UnsafeRawPointer, _ n: Int, _ l: L.Type) -> (
      ValueStatistics, ValueStatistics
    ) {
      var s = ValueStatistics()
      s.addStored(p, count: n, l)
      return (s, DoubleLaneKernel.add(p, count: n, l))
    }
    return withLanes(code, data) { p, n, lanes in run(p, n, lanes) }
  }

  @Test(arguments: ["F32", "BF16", "F16"])
  func floatLanesFoldToTheDoubleKernelsBits(_ code: String) {
    var rng = SystemRandomNumberGenerator()
    // Random blocks; blocks of +0 and -0 mixed (the sign of a zero extreme depends on the order
    // values are met in); non-negative blocks with zeros; subnormals; NaN and Inf; lengths that
    // are not multiples of 8 or of the 4,096 block.
    var cases: [(String, [Float])] = []
    cases.append(("random", (0..<10_007).map { _ in Float.random(in: -3...3, using: &rng) }))
    cases.append(
      ("signed zeros", (0..<9_001).map { i in i % 3 == 0 ? -0.0 : (i % 3 == 1 ? 0 : 1) }))
    cases.append(
      ("zeros then negatives", (0..<5_000).map { i in i % 2 == 0 ? -0.0 : -Float(i) }))
    cases.append(("all -0", [Float](repeating: -0.0, count: 4_099)))
    cases.append(("all +0 and one -0", (0..<8_200).map { i in i == 7_000 ? -0.0 : 0 }))
    cases.append(
      (
        "subnormals",
        (0..<4_500).map { i in Float(bitPattern: UInt32(i % 300)) * (i % 2 == 0 ? 1 : -1) }
      ))
    var special = (0..<12_000).map { _ in Float.random(in: -1e4...1e4, using: &rng) }
    special[3] = .nan
    special[4_097] = .infinity
    special[8_200] = -.infinity
    special[11_999] = Float(bitPattern: 0x7FC0_1234)  // a NaN with a payload
    cases.append(("NaN and Inf", special))
    cases.append(("short", [1.5, -0.0, 0, 2]))
    for (name, values) in cases {
      let (new, old) = newAndOld(code, stored(values, code))
      expectBitIdentical(new, old, "\(code) \(name)")
    }
  }

  @Test func float16LanesConvertEveryPatternExactly() {
    #if arch(x86_64) || arch(arm64)
      let all = (0..<65_536).map { UInt16($0) }
      all.withUnsafeBytes { raw in
        for i in stride(from: 0, to: all.count, by: 8) {
          let v = inOrder(Float16Lanes.self, first(raw), i)
          for j in 0..<8 {
            let h = all[i + j]
            let want = Float(Float16(bitPattern: h))
            if want.isNaN {
              // NaN keeps its sign and payload (shifted into place), quiet or signalling.
              #expect(
                v[j].isNaN
                  && v[j].bitPattern
                    == (UInt32(h & 0x8000) << 16 | 0x7F80_0000 | UInt32(h & 0x3FF) << 13)
              )
            } else {
              #expect(v[j].bitPattern == want.bitPattern, "0x\(String(h, radix: 16))")
            }
          }
        }
      }
    #endif
    // By hand: the smallest subnormal, the largest subnormal, -0, -Inf, a signalling NaN.
    let hand: [UInt16] = [0x0001, 0x03FF, 0x8000, 0xFC00, 0x7D01, 0x7BFF, 0x0400, 0x8001]
    let want: [Float] = [
      0x1p-24, 1023 * 0x1p-24, -0.0, -.infinity, .nan, 65_504, 0x1p-14, -0x1p-24,
    ]
    hand.withUnsafeBytes { raw in
      let v = inOrder(Float16Lanes.self, first(raw), 0)
      for j in 0..<8 where !want[j].isNaN {
        #expect(v[j].bitPattern == want[j].bitPattern, "0x\(String(hand[j], radix: 16))")
      }
      #expect(v[4].isNaN && v[4].bitPattern == 0x7FA0_2000)
    }
  }

  @Test func bfloat16LanesShiftTheBits() {
    let hand: [UInt16] = [0x0001, 0x807F, 0x8000, 0x7F80, 0xFF80, 0x7FC1, 0x7F81, 0x3F80]
    hand.withUnsafeBytes { raw in
      let v = inOrder(BFloat16Lanes.self, first(raw), 0)
      for j in 0..<8 {
        #expect(v[j].bitPattern == UInt32(hand[j]) << 16)
      }
      #expect(v[0] == 0x1p-133 && v[2].sign == .minus && v[2] == 0 && v[3] == .infinity)
      #expect(v[5].isNaN && v[6].isNaN && v[7] == 1)
    }
  }

  @Test func preadAndTheMappingGiveTheSameBits() throws {
    for fixture in ["cifar_cnn.pt", "dtypes.pt", "views.pt", "small_cnn.safetensors"] {
      let c = try Checkpoint.open(Fixtures.path(fixture))
      let reader = try TensorDataReader(c)
      var engine = StatsEngine()
      engine.unitBytes = 6_000  // units that start and end mid-block
      let mapped = try engine.run(reader, tensors: c.tensors)
      engine.readsIntoBuffers = true
      let read = try engine.run(reader, tensors: c.tensors)
      for (t, (x, y)) in zip(c.tensors, zip(mapped, read)) {
        guard case .statistics(let a) = x, case .statistics(let b) = y else {
          #expect(x == y, "\(fixture): \(t.name)")
          continue
        }
        expectBitIdentical(a, b, "\(fixture): \(t.name)")
      }
    }
    #expect(StatsEngine(environment: ["PTINSPECT_READ": "pread"]).readsIntoBuffers)
    #expect(!StatsEngine(environment: [:]).readsIntoBuffers)
  }

  @Test func nonFiniteCountsComeFromTheBits() {
    func count(_ data: [UInt8], _ dtype: DType) -> (nan: Int64, inf: Int64)? {
      data.withUnsafeBytes {
        ValueDecoder.nonFinite(first($0), count: data.count / dtype.itemSize, dtype: dtype)
      }
    }
    // NaNs with payloads (quiet and signalling), both infinities, the largest finite values
    // and -0, in the vector part and the tail of several blocks.
    var f = [Float](repeating: 1, count: 9_001)
    f[0] = .nan
    f[1] = Float(bitPattern: 0xFF80_0001)  // a negative signalling NaN
    f[2] = .infinity
    f[5_000] = -.infinity
    f[8_999] = Float(bitPattern: 0x7FFF_FFFF)
    f[9_000] = -.greatestFiniteMagnitude
    f[7] = -0.0
    #expect(count(bytes(f), .float32)! == (3, 2))
    #expect(count(bytes(f.map { Double($0) }), .float64)! == (3, 2))
    // In bfloat16 the signalling NaN's payload is cut off: 0xFF80 is -Inf.
    #expect(count(bytes(f.map { UInt16($0.bitPattern >> 16) }), .bfloat16)! == (2, 3))
    var h = [UInt16](repeating: 0x3C00, count: 4_100)
    h[4_099] = 0x7C01  // signalling NaN, in the last block's tail
    h[17] = 0xFC00
    h[18] = 0x7BFF  // 65504, finite
    h[19] = 0xFE00  // negative quiet NaN
    #expect(count(bytes(h), .float16)! == (2, 1))
    #expect(count(bytes([UInt8](repeating: 0xFF, count: 16)), .int8) == nil)
    #expect(count([], .float32)! == (0, 0))
  }
}
