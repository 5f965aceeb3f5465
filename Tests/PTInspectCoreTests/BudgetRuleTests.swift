// BudgetRuleTests.swift: each budget rule against torch-made fixtures, with the expected numbers
// computed from what torch reported (Fixtures/*.expected.json), not from ptinspect.

import Foundation
import PTInspectTestSupport
import Testing

@testable import PTInspectCore

/// Numbers from a fixture's `.expected.json`, as torch saw them.
struct TorchNumbers {
  struct Tensor {
    var name: String
    var dtype: String
    var numel: Int64
    var kind: String
    var requiresGrad: Bool?
  }
  var tensors: [Tensor]
  var model: [String: Any]

  static let itemSize: [String: Int64] = [
    "float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4, "int16": 2,
    "int8": 1,
    "uint8": 1, "bool": 1,
  ]

  init(_ fixture: String) throws {
    let expected = try Fixtures.expected(fixture)
    let list = try #require(expected["tensors"] as? [[String: Any]])
    tensors = try list.map { t in
      Tensor(
        name: try #require(t["name"] as? String), dtype: try #require(t["dtype"] as? String),
        numel: try #require((t["numel"] as? NSNumber)?.int64Value),
        kind: t["kind"] as? String ?? "",
        requiresGrad: t["requiresGrad"] as? Bool)
    }
    model = expected["model"] as? [String: Any] ?? [:]
  }

  var parameters: Int64 { (model["parameters"] as? NSNumber)?.int64Value ?? -1 }

  /// Bytes of the tensors whose names pass `where` (no tied tensors in these fixtures unless said).
  func bytes(where keep: (Tensor) -> Bool = { _ in true }) -> Int64 {
    tensors.filter(keep).reduce(0) { $0 + $1.numel * (Self.itemSize[$1.dtype] ?? 0) }
  }

  func numel(where keep: (Tensor) -> Bool) -> Int64 {
    tensors.filter(keep).reduce(0) { $0 + $1.numel }
  }

  /// Parameters by torch's rule: floating-point tensors that are not running statistics.
  static func isParameter(_ t: Tensor) -> Bool {
    !t.name.hasSuffix("running_mean") && !t.name.hasSuffix("running_var")
      && !t.name.hasSuffix("num_batches_tracked")
  }
}

func budgetSpec(_ build: (inout BudgetSpec) throws -> Void) rethrows -> BudgetSpec {
  var spec = BudgetSpec()
  try build(&spec)
  return spec
}

func evaluateBudget(_ fixture: String, _ spec: BudgetSpec, baseline: String? = nil) throws
  -> BudgetReport
{
  let c = try Checkpoint.open(Fixtures.path(fixture))
  let base = try baseline.map {
    BudgetBaseline(SummaryReport(try Checkpoint.open(Fixtures.path($0))))
  }
  return BudgetEvaluator.evaluate(spec, checkpoint: c, report: SummaryReport(c), baseline: base)
}

@Suite struct BudgetRuleTests {
  @Test func maxParamsAgainstTorchCount() throws {
    let torch = try TorchNumbers("cifar_cnn.pt")
    #expect(torch.parameters == 5_852_234)
    let over = try evaluateBudget("cifar_cnn.pt", budgetSpec { try $0.set(.maxParams, "5.8M") })
    #expect(over.verdict == .fail)
    #expect(over.rules.count == 1)
    let rule = try #require(over.rules.first)
    #expect(rule.rule == "max-params 5.8M")
    #expect(rule.metric == .parameters)
    #expect(rule.actual == torch.parameters)
    #expect(rule.limit == 5_800_000)
    #expect(rule.margin == 5_800_000 - torch.parameters)
    #expect(rule.pass == false)

    let within = try evaluateBudget("cifar_cnn.pt", budgetSpec { try $0.set(.maxParams, "6M") })
    #expect(within.verdict == .pass)
    #expect(within.rules.first?.margin == 6_000_000 - torch.parameters)
    // Exactly at the limit passes.
    let exact = try evaluateBudget(
      "cifar_cnn.pt", budgetSpec { try $0.set(.maxParams, "5_852_234") })
    #expect(exact.verdict == .pass)
    #expect(exact.rules.first?.margin == 0)
    let oneShort = try evaluateBudget(
      "cifar_cnn.pt", budgetSpec { try $0.set(.maxParams, "5,852,233") })
    #expect(oneShort.verdict == .fail)
  }

  @Test func maxBytesIsTheModelsTensorBytes() throws {
    let torch = try TorchNumbers("cifar_cnn.pt")
    let bytes = torch.bytes()
    #expect(bytes == 23_412_544)
    let r = try evaluateBudget(
      "cifar_cnn.pt",
      budgetSpec {
        try $0.set(.maxBytes, "25MB"); try $0.set(.maxFileBytes, "22MiB")
      })
    #expect(r.rules.map(\.rule) == ["max-bytes 25MB", "max-file-bytes 22MiB"])
    #expect(r.rules[0].actual == bytes)
    #expect(r.rules[0].limit == 25_000_000)
    #expect(r.rules[0].pass)
    let fileSize = try #require(
      (try FileManager.default.attributesOfItem(atPath: Fixtures.path("cifar_cnn.pt"))[.size]
        as? NSNumber)?.int64Value)
    #expect(r.rules[1].metric == .fileBytes)
    #expect(r.rules[1].actual == fileSize)
    #expect(r.rules[1].limit == 22 * 1_048_576)
    #expect(r.rules[1].pass == false)
    #expect(r.verdict == .fail)
  }

  @Test func groupBudgetsMatchNamesRelativeToTheModel() throws {
    let torch = try TorchNumbers("cifar_cnn.pt")
    // '1*': layers 11, 12, 14, 17, 19 (their parameters, not the BatchNorm running statistics).
    let ones = torch.numel { $0.name.hasPrefix("1") && TorchNumbers.isParameter($0) }
    #expect(ones == 5_081_344)
    let r = try evaluateBudget(
      "cifar_cnn.pt",
      budgetSpec {
        try $0.addGroup("1*=5M")
        try $0.addGroup("1*=5.1M")
        try $0.addGroup("19=4.2M")
        try $0.addGroup("19.*=16MB")
      })
    #expect(r.rules.map(\.rule) == ["budget 1*=5.1M", "budget 19=4.2M", "budget 19.*=16MB"])
    #expect(r.rules[0].actual == ones)
    #expect(r.rules[0].matched == torch.tensors.filter { $0.name.hasPrefix("1") }.count)
    #expect(r.rules[0].pass)
    // A plain name is a module: '19' is 19.weight and 19.bias, not 1 or 190.
    let nineteen = torch.numel { $0.name.hasPrefix("19.") }
    #expect(r.rules[1].actual == nineteen)
    #expect(r.rules[1].matched == 2)
    #expect(r.rules[1].pass)
    // A byte limit counts bytes.
    #expect(r.rules[2].metric == .bytes)
    #expect(r.rules[2].actual == torch.bytes { $0.name.hasPrefix("19.") })
    #expect(r.rules[2].limit == 16_000_000)
    #expect(r.rules[2].pass == false)
  }

  @Test func groupBudgetUnderAModelPrefix() throws {
    // training_checkpoint.pt keeps the model under 'model_state_dict.': patterns see '19.weight'.
    let torch = try TorchNumbers("training_checkpoint.pt")
    let r = try evaluateBudget("training_checkpoint.pt", budgetSpec { try $0.addGroup("19.*=4K") })
    let want = torch.numel { $0.name.hasPrefix("model_state_dict.19.") }
    #expect(want == 4_128)
    #expect(r.rules.first?.actual == want)
    #expect(r.rules.first?.pass == false)
    #expect(r.rules.first?.margin == 4_000 - want)
  }

  @Test func tiedTensorsCountOnce() throws {
    let torch = try TorchNumbers("tied.pt")
    // emb.weight and head.weight share one storage: torch counts 1,904 parameters.
    #expect(torch.parameters == 1_904)
    let r = try evaluateBudget(
      "tied.pt",
      budgetSpec {
        try $0.set(.maxParams, "1904"); try $0.addGroup("*.weight=2K")
      })
    #expect(r.rules[0].actual == 1_904)
    #expect(r.rules[0].pass)
    // emb.weight (1,600) + proj.weight (256) + norm.weight (16); head.weight is emb.weight again.
    #expect(r.rules[1].actual == 1_600 + 256 + 16)
    #expect(r.rules[1].matched == 4)
  }

  @Test func aGroupMatchingNothingFails() throws {
    let r = try evaluateBudget("cifar_cnn.pt", budgetSpec { try $0.addGroup("encoder.*=20M") })
    #expect(r.verdict == .fail)
    #expect(r.rules.first?.matched == 0)
    #expect(r.rules.first?.actual == 0)
    #expect(r.rules.first?.pass == false)
    #expect(r.rules.first?.note == "'encoder.*' matches no model tensor")
  }

  @Test func growthAgainstABaseline() throws {
    let base = try TorchNumbers("diff/base.pt")
    let widened = try TorchNumbers("diff/widened.pt")
    #expect(base.parameters == 1_610)
    #expect(widened.parameters == 1_780)
    let growth = widened.parameters - base.parameters
    let spec = try budgetSpec {
      try $0.set(.maxGrowth, "5%")
      try $0.set(.maxBytesGrowth, "+1KB")
      try $0.set(.baseline, "base.pt")
    }
    let r = try evaluateBudget("diff/widened.pt", spec, baseline: "diff/base.pt")
    #expect(r.verdict == .fail)
    let params = try #require(r.rules.first)
    #expect(params.rule == "max-growth 5% vs \(Fixtures.path("diff/base.pt"))")
    #expect(params.baseline == base.parameters)
    #expect(params.actual == growth)
    #expect(params.limit == 80)  // floor(1,610 * 5%)
    #expect(params.margin == 80 - growth)
    #expect(params.pass == false)
    let bytes = try #require(r.rules.last)
    #expect(bytes.metric == .bytes)
    #expect(bytes.baseline == base.bytes())
    #expect(bytes.actual == widened.bytes() - base.bytes())
    #expect(bytes.limit == 1_000)
    #expect(bytes.pass)
    #expect(r.baselineFile == Fixtures.path("diff/base.pt"))

    let roomy = try evaluateBudget(
      "diff/widened.pt",
      budgetSpec {
        try $0.set(.maxGrowth, "+200"); try $0.set(.baseline, "x")
      },
      baseline: "diff/base.pt")
    #expect(roomy.verdict == .pass)
    #expect(roomy.rules.first?.margin == 200 - growth)
    let percent = try evaluateBudget(
      "diff/widened.pt",
      budgetSpec {
        try $0.set(.maxGrowth, "10.6%"); try $0.set(.baseline, "x")
      },
      baseline: "diff/base.pt")
    #expect(percent.rules.first?.limit == 170)  // floor(170.66)
    #expect(percent.verdict == .pass)
    // Shrinking is always within a growth budget.
    let shrink = try evaluateBudget(
      "diff/base.pt",
      budgetSpec {
        try $0.set(.maxGrowth, "0%"); try $0.set(.baseline, "x")
      },
      baseline: "diff/widened.pt")
    #expect(shrink.rules.first?.actual == -growth)
    #expect(shrink.verdict == .pass)
  }

  @Test func growthWithoutABaselineIsNotedNotPassed() throws {
    let spec = try budgetSpec {
      try $0.set(.maxParams, "1M")
      try $0.set(.maxGrowth, "5%")
      try $0.set(.baseline, "old/")
    }
    let r = try evaluateBudget("diff/base.pt", spec)
    #expect(r.rules.map(\.rule) == ["max-params 1M"])
    #expect(r.notes == ["no baseline for this file: 'max-growth 5%' not checked"])
  }

  @Test func jsonHasTheSchemaFields() throws {
    let r = try evaluateBudget("cifar_cnn.pt", budgetSpec { try $0.set(.maxParams, "5.8M") })
    let json = try #require(
      try JSONSerialization.jsonObject(with: Data(try ReportJSON.encode(r).utf8)) as? [String: Any])
    #expect(json["schemaVersion"] as? Int == 1)
    #expect(json["file"] as? String == Fixtures.path("cifar_cnn.pt"))
    #expect(json["verdict"] as? String == "fail")
    let rule = try #require((json["rules"] as? [[String: Any]])?.first)
    #expect(rule["rule"] as? String == "max-params 5.8M")
    #expect(rule["actual"] as? Int == 5_852_234)
    #expect(rule["limit"] as? Int == 5_800_000)
    #expect(rule["margin"] as? Int == -52_234)
    #expect(rule["pass"] as? Bool == false)
    #expect(rule["metric"] as? String == "parameters")
    #expect(rule["baseline"] is NSNull)
  }

  @Test func verdictLines() throws {
    let over = try evaluateBudget(
      "cifar_cnn.pt",
      budgetSpec {
        try $0.set(.maxParams, "5.8M"); try $0.set(.maxBytes, "25MB")
      })
    #expect(
      BudgetRenderer.verdictLine(over)
        == "FAIL \(Fixtures.path("cifar_cnn.pt")): over budget on 1 of 2 rules (max-params 5.8M by 52,234 parameters)"
    )
    let within = try evaluateBudget("cifar_cnn.pt", budgetSpec { try $0.set(.maxParams, "6M") })
    #expect(
      BudgetRenderer.verdictLine(within)
        == "PASS \(Fixtures.path("cifar_cnn.pt")): within budget (1 rule)")
    let error = BudgetReport.unreadable("x.pt", "no such file")
    #expect(BudgetRenderer.verdictLine(error) == "ERROR x.pt: could not be read: no such file")
    #expect(BudgetBatchReport([within, over]).verdict == .fail)
    #expect(BudgetBatchReport([within, over, error]).verdict == .error)
    #expect(BudgetBatchReport([within]).verdict == .pass)
  }
}
