// DiffTests.swift: `CheckpointDiff` against the answers torch computed when it made the diff
// fixtures (Fixtures/diff/expected_diff.json), and its rules for names, tolerances and NaN.

import Foundation
import PTInspectTestSupport
import Testing

@testable import PTInspectCore

/// The pairs of Fixtures/diff/expected_diff.json.
struct ExpectedDiff: Decodable, Sendable, CustomTestStringConvertible {
  struct Stats: Decodable, Sendable {
    var maxAbsDiff: Double
    var maxRelDiff: Double?
    var rmsDiff: Double
    var cosine: Double?
  }
  var a: String
  var b: String
  var stripPrefix: String?
  var added: [String]
  var removed: [String]
  var shapeChanged: [String]
  var dtypeChanged: [String]
  var changed: [String]
  var stats: [String: Stats]

  var testDescription: String { "\(a) -> \(b)" }

  static func load() throws -> [ExpectedDiff] {
    struct File: Decodable { var pairs: [ExpectedDiff] }
    let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("diff/expected_diff.json")))
    return try JSONDecoder().decode(File.self, from: data).pairs
  }
}

/// Relative closeness for statistics whose summation order differs from torch's.
func close(_ x: Double?, _ y: Double?, _ tolerance: Double = 1e-12) -> Bool {
  switch (x, y) {
  case (nil, nil): return true
  case (let x?, let y?): return x == y || abs(x - y) <= tolerance * max(abs(x), abs(y))
  default: return false
  }
}

func diff(_ a: String, _ b: String, _ configure: (inout DiffOptions) -> Void = { _ in }) throws
  -> DiffReport
{
  var options = DiffOptions()
  configure(&options)
  return try CheckpointDiff.compare(
    try Checkpoint.open(Fixtures.path(a)), try Checkpoint.open(Fixtures.path(b)), options: options)
}

@Suite("Diff against torch")
struct DiffTorchTests {
  static let pairs = (try? ExpectedDiff.load()) ?? []

  @Test("the torch-made pairs are all there")
  func pairsLoaded() {
    #expect(Self.pairs.count == 5)
  }

  @Test("lists and statistics match torch", arguments: pairs)
  func matchesTorch(_ e: ExpectedDiff) throws {
    let r = try diff("diff/" + e.a, "diff/" + e.b) { $0.values = true }
    #expect(r.added.map(\.name) == e.added)
    #expect(r.removed.map(\.name) == e.removed)
    #expect(r.shapeChanged.map(\.name) == e.shapeChanged)
    #expect(r.dtypeChanged.map(\.name) == e.dtypeChanged)
    #expect(r.changed.map(\.name) == e.changed)
    for c in r.changed {
      guard let s = e.stats[c.name] else {
        Issue.record("no torch statistics for \(c.name)")
        continue
      }
      // max|a-b| and max|a-b|/|a| are single float64 operations: exact. Sums differ in order.
      #expect(c.stats.maxAbsDiff == s.maxAbsDiff, "\(c.name) maxAbsDiff")
      #expect(c.stats.maxRelDiff == s.maxRelDiff, "\(c.name) maxRelDiff")
      #expect(
        close(c.stats.rmsDiff, s.rmsDiff), "\(c.name) rmsDiff \(c.stats.rmsDiff) vs \(s.rmsDiff)")
      #expect(
        close(c.stats.cosine, s.cosine), "\(c.name) cosine \(String(describing: c.stats.cosine))")
      #expect(c.stats.elementsChanged == c.stats.numel)
      #expect(c.stats.nanBefore + c.stats.nanAfter + c.stats.infBefore + c.stats.infAfter == 0)
    }
    #expect(r.prefixStripped.map(\.prefix) == (e.stripPrefix.map { [$0] } ?? []))
    let differing = Set(e.added + e.removed + e.shapeChanged + e.dtypeChanged + e.changed)
    #expect(r.differences == differing.count)
    #expect(r.finding == !differing.isEmpty)
    #expect(r.values.bytesRead > 0)
  }

  @Test("without --values only the structure is compared")
  func structureOnly() throws {
    for e in Self.pairs {
      let r = try diff("diff/" + e.a, "diff/" + e.b)
      #expect(r.shapeChanged.map(\.name) == e.shapeChanged)
      #expect(r.dtypeChanged.map(\.name) == e.dtypeChanged)
      #expect(r.changed.isEmpty)
      #expect(r.valuesCompared == false)
      #expect(r.values.bytesRead == 0)
    }
  }

  @Test("the DataParallel copy: 'module.' stripped from the second file, and said so")
  func dataParallelPrefix() throws {
    let r = try diff("diff/base.pt", "diff/dataparallel.pt") { $0.values = true }
    #expect(
      r.prefixStripped == [
        PrefixStrip(side: "after", prefix: "module.", automatic: true, tensors: 16)
      ])
    #expect(r.differences == 0)
    #expect(r.unchanged == 16)
    #expect(r.values.identical == 16)
    // The other way round, the first file loses it.
    let back = try diff("diff/dataparallel.pt", "diff/base.pt")
    #expect(back.prefixStripped.map(\.side) == ["before"])
    // Without detection every name is added or removed.
    let raw = try diff("diff/base.pt", "diff/dataparallel.pt") { $0.autoStrip = false }
    #expect(raw.removed.count == 16 && raw.added.count == 16)
    #expect(raw.added.first?.name == "module.backbone.0.weight")
    // An explicit --strip-prefix does the same work and is reported as asked for.
    let explicit = try diff("diff/base.pt", "diff/dataparallel.pt") {
      $0.autoStrip = false
      $0.stripPrefixes = ["module."]
    }
    #expect(
      explicit.prefixStripped == [
        PrefixStrip(side: "after", prefix: "module.", automatic: false, tensors: 16)
      ])
    #expect(explicit.differences == 0)
  }

  @Test("the widened head: layer rollup and totals")
  func widenedLayer() throws {
    let r = try diff("diff/base.pt", "diff/widened.pt")
    #expect(r.layers.count == 1)
    let head = try #require(r.layers.first)
    #expect(head.name == "head")
    #expect(head.before == "Linear(in_features=16, out_features=10, bias=True)")
    #expect(head.after == "Linear(in_features=16, out_features=20, bias=True)")
    #expect(head.parameterDifference == 170)
    #expect(
      head.tensors == [
        LayerTensorChange(name: "weight", change: "shape"),
        LayerTensorChange(name: "bias", change: "shape"),
      ])
    // torch: base has 1,610 parameters; the widened head adds 10*16 + 10.
    let expected = try Fixtures.expected("diff/base.pt")
    let model = expected["model"] as? [String: Any]
    let torchParameters = (model?["parameters"] as? NSNumber)?.int64Value
    #expect(torchParameters == nil || torchParameters == r.totals.before.parameters)
    #expect(r.totals.before.parameters == 1_610)
    #expect(r.totals.after.parameters == 1_780)
    #expect(r.totals.difference.parameters == 170)
    #expect(r.totals.difference.bytes == 680)
    #expect(
      r.shapeChanged.first
        == ShapeChange(
          name: "head.weight", shapeBefore: [10, 16], shapeAfter: [20, 16], dtypeBefore: "float32",
          dtypeAfter: "float32",
          numelBefore: 160, numelAfter: 320))
  }

  @Test("the fine-tune: the BatchNorm and the head changed, nothing else")
  func fineTuneLayers() throws {
    let r = try diff("diff/base.pt", "diff/finetuned.pt") { $0.values = true }
    #expect(r.layers.map(\.name) == ["backbone.1", "head"])
    #expect(r.layers.first?.tensors.map(\.name) == ["running_mean", "running_var"])
    #expect(r.layers.allSatisfy { $0.parameterDifference == 0 && $0.before == $0.after })
    #expect(r.unchanged == 12)
    #expect(r.values.compared == 16)
    #expect(r.values.identical == 12)
    #expect(r.values.changed == 4)
    #expect(r.verdict == "4 of 16 tensors differ: 4 with changed values")
    // running_mean was all zeros before: no relative difference, no cosine.
    let mean = try #require(r.changed.first)
    #expect(mean.name == "backbone.1.running_mean")
    #expect(mean.stats.maxRelDiff == nil && mean.stats.cosine == nil)
    #expect(mean.stats.bitIdentical == false)
  }
}

@Suite("Diff rules")
struct DiffRuleTests {
  @Test("--expect-unchanged: the frozen backbone check")
  func expectUnchanged() throws {
    let kept = try diff("diff/base.pt", "diff/finetuned.pt") {
      $0.expectUnchanged = ["backbone.0", "backbone.2.*"]
    }
    #expect(kept.expectations.map(\.kept) == [true, true])
    #expect(kept.expectations.map(\.tensors) == [2, 2])
    #expect(kept.finding == false)
    // Only the covered tensors were read.
    #expect(kept.values.compared == 4)

    let broken = try diff("diff/base.pt", "diff/finetuned.pt") { $0.expectUnchanged = ["backbone"] }
    let e = try #require(broken.expectations.first)
    #expect(e.kept == false)
    #expect(e.tensors == 14)
    #expect(
      e.violations == [
        ExpectationViolation(name: "backbone.1.running_mean", change: "values"),
        ExpectationViolation(name: "backbone.1.running_var", change: "values"),
      ])
    #expect(broken.finding)
    #expect(broken.verdict.hasPrefix("EXPECTATION BROKEN ('backbone': 2 changed); "))

    // A pattern that covers nothing is broken: a typo must not pass CI.
    let typo = try diff("diff/base.pt", "diff/base_copy.pt") { $0.expectUnchanged = ["backbon.*"] }
    #expect(typo.expectations.first?.kept == false)
    #expect(typo.finding)

    // Shape changes break it too, without reading values.
    let widened = try diff("diff/base.pt", "diff/widened.pt") { $0.expectUnchanged = ["head.*"] }
    #expect(widened.expectations.first?.violations.map(\.change) == ["shape", "shape"])
  }

  @Test("--filter and --exclude limit the comparison, on dotted ancestors too")
  func filters() throws {
    let head = try diff("diff/base.pt", "diff/finetuned.pt") {
      $0.values = true
      $0.filters = ["head"]
    }
    #expect(head.before.tensors == 2 && head.after.tensors == 2)
    #expect(head.changed.map(\.name) == ["head.weight", "head.bias"])
    #expect(head.totals.before.parameters == 170)
    let noStats = try diff("diff/base.pt", "diff/finetuned.pt") {
      $0.values = true
      $0.excludes = ["*.running_*", "head"]
    }
    #expect(noStats.differences == 0)
    #expect(noStats.before.tensors == 10)
  }

  @Test("tolerances follow numpy's allclose: |a - b| > atol + rtol * |b|")
  func tolerances() throws {
    let loose = try diff("diff/base.pt", "diff/fp16.pt") {
      $0.values = true
      $0.atol = 1e-4
    }
    #expect(loose.changed.isEmpty)
    #expect(loose.values.withinTolerance == 6)
    #expect(loose.dtypeChanged.count == 14)
    #expect(loose.finding)  // the dtypes still differ
    let converted = try diff("diff/base.pt", "diff/fp16.pt") {
      $0.values = true
      $0.atol = 1e-4
      $0.ignoreDType = true
    }
    #expect(converted.finding == false)
    #expect(converted.differences == 0)
    #expect(
      converted.verdict
        == "no differences: 16 tensors with the same names, shapes and values (14 with another dtype, ignored); 6 with values within the tolerance"
    )
    // rtol alone: fp16 rounding is below 2^-11 relative, so 1e-3 of |b| covers every element.
    let relative = try diff("diff/base.pt", "diff/fp16.pt") {
      $0.values = true
      $0.rtol = 1e-3
    }
    #expect(relative.changed.isEmpty)
    // A tolerance too tight leaves some elements changed but not all.
    let tight = try diff("diff/base.pt", "diff/fp16.pt") {
      $0.values = true
      $0.atol = 3e-5
    }
    let w = try #require(tight.changed.first { $0.name == "backbone.0.weight" })
    #expect(w.stats.elementsChanged > 0 && w.stats.elementsChanged < w.stats.numel)
    #expect(w.stats.elementsDifferent == 216)
  }

  @Test("the same weights in three containers are identical")
  func acrossContainers() throws {
    for (a, b) in [
      ("small_cnn.safetensors", "cifar_cnn_p4.pt"), ("legacy_cnn.pt", "small_cnn.safetensors"),
      ("cifar_cnn_p4.pt", "legacy_cnn.pt"),
    ] {
      let r = try diff(a, b) { $0.values = true }
      #expect(r.differences == 0, "\(a) vs \(b): \(r.verdict)")
      #expect(r.values.compared == 33)
      #expect(r.values.identical == 33)
      #expect(r.before.tensors == 33)
    }
  }

  @Test("Lightning's 'model.' keys against a plain model_state_dict")
  func lightningPrefix() throws {
    let r = try diff("training_checkpoint.pt", "lightning.ckpt")
    #expect(r.before.modelPrefix == "model_state_dict.")
    #expect(r.after.modelPrefix == "state_dict.")
    #expect(
      r.prefixStripped == [
        PrefixStrip(side: "after", prefix: "model.", automatic: true, tensors: 33)
      ])
    #expect(r.added.isEmpty && r.removed.isEmpty)
  }

  @Test("--all takes optimizer state into the comparison")
  func allTensors() throws {
    let model = try diff("training_checkpoint.pt", "training_checkpoint.pt")
    let all = try diff("training_checkpoint.pt", "training_checkpoint.pt") {
      $0.allTensors = true
      $0.values = true
    }
    #expect(all.before.tensors > model.before.tensors)
    #expect(all.differences == 0)
    #expect(all.values.identical == all.values.compared)
  }

  @Test("tensors split into ranges over several threads give the same statistics")
  func splitWork() throws {
    let whole = try diff("diff/base.pt", "diff/fp16.pt") {
      $0.values = true
      $0.threads = 1
    }
    let split = try diff("diff/base.pt", "diff/fp16.pt") {
      $0.values = true
      $0.threads = 2
      $0.jobElements = 7
    }
    #expect(split.changed.map(\.name) == whole.changed.map(\.name))
    for (x, y) in zip(split.changed, whole.changed) {
      #expect(x.stats.maxAbsDiff == y.stats.maxAbsDiff && x.stats.maxRelDiff == y.stats.maxRelDiff)
      #expect(x.stats.elementsChanged == y.stats.elementsChanged)
      #expect(close(x.stats.rmsDiff, y.stats.rmsDiff) && close(x.stats.cosine, y.stats.cosine))
    }
    let identical = try diff("diff/base.pt", "diff/base_copy.pt") {
      $0.values = true
      $0.jobElements = 5
    }
    #expect(identical.values.identical == 16)
  }

  @Test("every dtype compares with itself, views honoured")
  func everyDType() throws {
    for file in ["dtypes.pt", "views.pt", "quantized.pt", "tied.pt"] {
      let r = try diff(file, file) { $0.values = true }
      #expect(r.differences == 0, "\(file): \(r.verdict)")
      #expect(r.values.identical == r.values.compared, "\(file)")
      #expect(r.values.compared + r.values.skipped.count == r.before.tensors, "\(file)")
    }
  }
}

/// Writes a float32 safetensors file with the given tensors (name, shape, values) to a temp path.
func writeSafetensors(_ tensors: [(String, [Int], [Float])]) throws -> String {
  var header: [String: Any] = [:]
  var data = Data()
  for (name, shape, values) in tensors {
    let start = data.count
    for v in values {
      withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) }
    }
    header[name] = ["dtype": "F32", "shape": shape, "data_offsets": [start, data.count]]
  }
  var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
  while json.count % 8 != 0 { json.append(0x20) }
  var file = Data()
  withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
  file.append(json)
  file.append(data)
  let path = FileManager.default.temporaryDirectory
    .appendingPathComponent("ptinspect-diff-\(UUID().uuidString).safetensors").path
  try file.write(to: URL(fileURLWithPath: path))
  return path
}

@Suite("Diff NaN and Inf")
struct DiffNonFiniteTests {
  @Test("NaN and Inf in dtypes.pt are reported per tensor, as torch counted them")
  func dtypesFixture() throws {
    let r = try diff("dtypes.pt", "dtypes.pt") { $0.values = true }
    let expected = try Fixtures.expected("dtypes.pt")
    var torch: [String: (Int64, Int64)] = [:]
    for t in expected["tensors"] as? [[String: Any]] ?? [] {
      guard let name = t["name"] as? String, let stats = t["stats"] as? [String: Any] else {
        continue
      }
      let nan = (stats["nan"] as? NSNumber)?.int64Value ?? 0
      let inf = (stats["inf"] as? NSNumber)?.int64Value ?? 0
      if nan + inf > 0 { torch[name] = (nan, inf) }
    }
    #expect(!torch.isEmpty)
    #expect(r.values.nonFinite.map(\.name).sorted() == torch.keys.sorted())
    for n in r.values.nonFinite {
      #expect(n.nanBefore == torch[n.name]?.0 && n.nanAfter == torch[n.name]?.0)
      #expect(n.infBefore == torch[n.name]?.1 && n.infAfter == torch[n.name]?.1)
    }
    #expect(r.differences == 0)
  }

  @Test("a NaN that appears in the second file is a change; the statistics stay finite")
  func nanAppears() throws {
    let a = try writeSafetensors([("w", [4], [1, 2, 3, 4]), ("same", [2], [.nan, 1])])
    let b = try writeSafetensors([("w", [4], [1, .nan, 3, 4.5]), ("same", [2], [.nan, 1])])
    defer {
      try? FileManager.default.removeItem(atPath: a)
      try? FileManager.default.removeItem(atPath: b)
    }
    var options = DiffOptions()
    options.values = true
    let r = try CheckpointDiff.compare(
      try Checkpoint.open(a), try Checkpoint.open(b), options: options)
    #expect(r.changed.map(\.name) == ["w"])
    let w = try #require(r.changed.first).stats
    #expect(w.nanBefore == 0 && w.nanAfter == 1 && w.nonFiniteMismatches == 1)
    #expect(w.elementsDifferent == 2)
    #expect(w.maxAbsDiff == 0.5 && w.maxRelDiff == 0.125)
    #expect(close(w.rmsDiff, (0.25 / 3).squareRoot()))
    // NaN in the same place on both sides: unchanged, and still reported.
    #expect(r.values.identical == 1)
    #expect(Set(r.values.nonFinite.map(\.name)) == ["w", "same"])
    #expect(
      r.values.nonFinite.contains { $0.name == "same" && $0.nanBefore == 1 && $0.nanAfter == 1 })
  }
}

@Suite("Diff statistics")
struct DiffAccumulatorTests {
  /// The statistics computed naively, as the fixture file defines them.
  func naive(_ a: [Double], _ b: [Double]) -> ValueStats {
    var maxAbs = 0.0
    var maxRel: Double?
    var sq = 0.0
    var dot = 0.0
    var na = 0.0
    var nb = 0.0
    for (x, y) in zip(a, b) {
      maxAbs = max(maxAbs, abs(x - y))
      if x != 0 { maxRel = max(maxRel ?? 0, abs(x - y) / abs(x)) }
      sq += (x - y) * (x - y)
      dot += x * y
      na += x * x
      nb += y * y
    }
    let differing = Int64(zip(a, b).filter { $0 != $1 }.count)
    return ValueStats(
      numel: Int64(a.count), elementsChanged: differing, elementsDifferent: differing,
      maxAbsDiff: maxAbs,
      maxRelDiff: maxRel, rmsDiff: (sq / Double(a.count)).squareRoot(),
      cosine: na > 0 && nb > 0 ? dot / (na.squareRoot() * nb.squareRoot()) : nil, bitIdentical: nil)
  }

  func accumulate(
    _ a: [Double], _ b: [Double], atol: Double = 0, rtol: Double = 0, split: Int? = nil
  ) -> ValueStats {
    var acc = DiffAccumulator(atol: atol, rtol: rtol)
    a.withUnsafeBufferPointer { x in
      b.withUnsafeBufferPointer { y in
        guard let xa = x.baseAddress, let ya = y.baseAddress else { return }
        if let split {
          // Two halves accumulated apart and merged, as two workers would.
          var second = DiffAccumulator(atol: atol, rtol: rtol)
          acc.add(xa, ya, count: split)
          second.add(xa + split, ya + split, count: a.count - split)
          acc.merge(second)
        } else {
          acc.add(xa, ya, count: a.count)
        }
      }
    }
    return acc.stats(bitIdentical: nil)
  }

  @Test(
    "the vectorised path agrees with the definition", arguments: [1, 3, 4, 7, 4_096, 4_099, 10_001])
  func agreesWithDefinition(_ n: Int) {
    var rng = SystemRandomNumberGenerator()
    let a = (0..<n).map { i in i % 5 == 0 ? 0 : Double.random(in: -2...2, using: &rng) }
    let b = a.enumerated().map { i, x in
      i % 3 == 0 ? x : x + Double.random(in: -0.01...0.01, using: &rng)
    }
    let s = accumulate(a, b)
    let e = naive(a, b)
    #expect(s.maxAbsDiff == e.maxAbsDiff)
    #expect(s.maxRelDiff == e.maxRelDiff)
    #expect(close(s.rmsDiff, e.rmsDiff, 1e-12))
    #expect(close(s.cosine, e.cosine, 1e-12))
    #expect(s.elementsDifferent == e.elementsDifferent)
    let halves = accumulate(a, b, split: n / 2)
    #expect(halves.maxAbsDiff == e.maxAbsDiff && halves.elementsDifferent == e.elementsDifferent)
    #expect(close(halves.rmsDiff, e.rmsDiff, 1e-12))
  }

  @Test("NaN and Inf are counted, not propagated")
  func nonFinite() {
    let a: [Double] = [1, .nan, .infinity, 2, .nan, -.infinity, 0, 3]
    let b: [Double] = [1, .nan, .infinity, 2.5, 4, .infinity, 0, 3]
    let s = accumulate(a, b)
    #expect(s.nanBefore == 2 && s.nanAfter == 1)
    #expect(s.infBefore == 2 && s.infAfter == 2)
    // NaN vs 4 and -Inf vs +Inf are mismatches; NaN vs NaN and Inf vs Inf are equal.
    #expect(s.nonFiniteMismatches == 2)
    #expect(s.elementsDifferent == 3)
    #expect(s.isChanged)
    // The statistics cover the 4 pairs where both are finite only.
    #expect(s.maxAbsDiff == 0.5)
    #expect(s.maxRelDiff == 0.25)
    #expect(close(s.rmsDiff, (0.25 / 4).squareRoot()))
    #expect(s.cosine?.isFinite == true)
  }

  @Test("equal values with NaN in the same places are unchanged")
  func sameNaN() {
    let a: [Double] = [.nan, 1, .infinity]
    let s = accumulate(a, a)
    #expect(!s.isChanged)
    #expect(s.elementsDifferent == 0 && s.maxAbsDiff == 0)
  }

  @Test("zero against zero: no relative difference, no cosine; -0 equals +0")
  func zeros() {
    let s = accumulate([0, -0.0, 0], [0, 0, -0.0])
    #expect(s.maxRelDiff == nil && s.cosine == nil && s.rmsDiff == 0 && !s.isChanged)
  }

  @Test("allclose: atol + rtol * |b|, against the second value")
  func allclose() {
    // |a-b| = 0.1 each; the limit is 0.05 + 0.1 * |b|.
    let a: [Double] = [1.1, 0.1, 10.1]
    let b: [Double] = [1.0, 0.0, 10.0]
    let s = accumulate(a, b, atol: 0.05, rtol: 0.1)
    // 0.1 > 0.05 + 0.1 * 1.0 = 0.15? no. 0.1 > 0.05 + 0 = 0.05? yes. 0.1 > 0.05 + 1.0? no.
    #expect(s.elementsChanged == 1)
    #expect(s.elementsDifferent == 3)
  }
}

@Suite("Diff from stored bytes")
struct StoredDiffTests {
  /// The accumulator over decoded doubles and over the stored bytes: every field, to the bit.
  func expectSameBits(_ x: DiffAccumulator, _ y: DiffAccumulator, _ what: String) {
    let ints = [
      (x.count, y.count), (x.finite, y.finite), (x.different, y.different), (x.beyond, y.beyond),
      (x.nonzeroBefore, y.nonzeroBefore), (x.nanBefore, y.nanBefore), (x.nanAfter, y.nanAfter),
      (x.infBefore, y.infBefore), (x.infAfter, y.infAfter),
      (x.nonFiniteMismatches, y.nonFiniteMismatches),
    ]
    #expect(ints.allSatisfy { $0.0 == $0.1 }, "\(what): counts \(ints)")
    let doubles = [
      (x.maxAbs, y.maxAbs), (x.maxRel, y.maxRel), (x.sumSquares, y.sumSquares), (x.dot, y.dot),
      (x.normBefore, y.normBefore), (x.normAfter, y.normAfter),
    ]
    #expect(doubles.allSatisfy { $0.0.bitPattern == $0.1.bitPattern }, "\(what): \(doubles)")
  }

  func decoded(_ data: [UInt8], _ dtype: DType) -> [Double] {
    let n = data.count / dtype.itemSize
    var out = [Double](repeating: 0, count: n)
    data.withUnsafeBytes { raw in
      out.withUnsafeMutableBufferPointer {
        ValueDecoder(dtype: dtype, swap: false, dequantization: .none).decode(
          first(raw), strideBytes: dtype.itemSize, count: n, into: first($0))
      }
    }
    return out
  }

  func encoded(_ values: [Float], _ dtype: DType) -> [UInt8] {
    switch dtype {
    case .float64: return bytes(values.map { Double($0) })
    case .float32: return bytes(values)
    case .bfloat16: return bytes(values.map { UInt16($0.bitPattern >> 16) })
    default: return bytes(values.map { Float16($0).bitPattern })
    }
  }

  @Test(
    "stored pairs of every float dtype accumulate as their decoded doubles, bit for bit",
    arguments: [
      (DType.float32, DType.float32), (.float32, .float16), (.bfloat16, .float32),
      (.float16, .float16), (.float64, .bfloat16), (.float64, .float64),
    ])
  func storedEqualsDecoded(_ da: DType, _ db: DType) {
    var rng = SystemRandomNumberGenerator()
    let n = 10_011
    var a = (0..<n).map { i in i % 7 == 0 ? 0 : Float.random(in: -5...5, using: &rng) }
    var b = a.enumerated().map { i, x in
      i % 3 == 0 ? x : x + Float.random(in: -0.01...0.01, using: &rng)
    }
    a[5] = .nan
    b[5] = .nan
    a[4_200] = .infinity
    b[9_000] = -.infinity
    a[10_010] = -0.0
    for tolerance in [0.0, 1e-3] {
      let xa = encoded(a, da)
      let xb = encoded(b, db)
      var old = DiffAccumulator(atol: tolerance, rtol: tolerance)
      var double = old
      let (x, y) = (decoded(xa, da), decoded(xb, db))
      x.withUnsafeBufferPointer { p in
        y.withUnsafeBufferPointer { q in
          old.oldAdd(first(p), first(q), count: n)
          double.add(first(p), first(q), count: n)
        }
      }
      expectSameBits(double, old, "decoded \(da) against \(db), tolerance \(tolerance)")
      var new = DiffAccumulator(atol: tolerance, rtol: tolerance)
      xa.withUnsafeBytes { p in
        xb.withUnsafeBytes { q in new.addStored(first(p), da, first(q), db, count: n) }
      }
      expectSameBits(new, old, "\(da) against \(db), tolerance \(tolerance)")
    }
  }

  @Test("identical pairs count NaN and Inf from their bits, over ranges and blocks")
  func identicalPairsCountNonFiniteFromBits() throws {
    var values = (0..<20_000).map { Float($0 % 97) - 40 }
    values[3] = .nan
    values[19_999] = .infinity
    values[10_000] = -.infinity
    let path = try writeSafetensors([("w", [values.count], values), ("z", [4], [0, -0.0, 1, 2])])
    let copy = path + ".copy.safetensors"
    try FileManager.default.copyItem(atPath: path, toPath: copy)
    defer {
      try? FileManager.default.removeItem(atPath: path)
      try? FileManager.default.removeItem(atPath: copy)
    }
    for jobElements: Int64 in [4_096, 7, 1 << 22] {
      var options = DiffOptions()
      options.values = true
      options.jobElements = jobElements
      options.threads = 3
      let r = try CheckpointDiff.compare(
        try Checkpoint.open(path), try Checkpoint.open(copy), options: options)
      #expect(r.changed.isEmpty && r.values.identical == 2)
      let w = try #require(r.values.nonFinite.first { $0.name == "w" })
      #expect(w.nanBefore == 1 && w.nanAfter == 1 && w.infBefore == 2 && w.infAfter == 2)
      #expect(!r.values.nonFinite.contains { $0.name == "z" })
    }
  }
}

extension DiffAccumulator {
  /// `add` as it was before the stored-lane kernels: the oracle they must match bit for bit.
  mutating func oldAdd(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, count n: Int) {
    var start = 0
    while start < n {
      let m = min(4096, n - start)
      let saved = self
      if !oldAddFinite(a + start, b + start, count: m) {
        self = saved
        addChecked(a + start, b + start, count: m)
      }
      start += m
    }
  }

  /// The fast path; returns false (with the state spoilt) when a value was NaN or Inf.
  mutating func oldAddFinite(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, count n: Int)
    -> Bool
  {
    typealias V = SIMD4<Double>
    typealias I = SIMD4<Int64>
    var vMaxAbs = V(repeating: 0)
    var vMaxRel = V(repeating: 0)
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
    var i = 0
    let ra = UnsafeRawPointer(a)
    let rb = UnsafeRawPointer(b)
    while i + 4 <= n {
      let x = ra.loadUnaligned(fromByteOffset: i * 8, as: V.self)
      let y = rb.loadUnaligned(fromByteOffset: i * 8, as: V.self)
      let d = x - y
      let ad = d.replacing(with: -d, where: d .< zero)
      let ax = x.replacing(with: -x, where: x .< zero)
      vMaxAbs = vMaxAbs.replacing(with: ad, where: ad .> vMaxAbs)
      vSq += d * d
      vDot += x * y
      vA += x * x
      vB += y * y
      let nz = ax .!= zero
      vNonzero &+= noInt.replacing(with: one, where: nz)
      // |a - b| / |a| where a != 0, else 0 (the division by a zero is discarded).
      let rel = (ad / ax).replacing(with: zero, where: .!nz)
      vMaxRel = vMaxRel.replacing(with: rel, where: rel .> vMaxRel)
      let diff = d .!= zero
      vDifferent &+= noInt.replacing(with: one, where: diff)
      if tolerance {
        let ay = y.replacing(with: -y, where: y .< zero)
        vBeyond &+= noInt.replacing(with: one, where: ad .> vAtol + vRtol * ay)
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
      let x = a[i]
      let y = b[i]
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
}
