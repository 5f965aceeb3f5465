// StatsCommandTests.swift: `ptinspect stats` run as a user runs it: golden output, `--check`
// exit codes, exact error lines, usage errors.

import ArgumentParser
import Foundation
import PTInspectTestSupport
import Testing

@testable import ptinspect

@Suite struct StatsCommandTests {
  static let goldens: [(args: [String], golden: String)] = [
    (["stats", "Fixtures/views.pt"], "stats-views.txt"),
    (["stats", "Fixtures/quantized.pt"], "stats-quantized.txt"),
    (["stats", "--filter", "1[17].*", "Fixtures/cifar_cnn.pt"], "stats-cifar-filter.txt"),
    (["stats", "--format", "markdown", "Fixtures/meta.pt"], "stats-meta.md"),
    (["stats", "--format", "json", "Fixtures/tied.pt"], "stats-tied.json"),
  ]

  @Test(arguments: goldens.indices)
  func golden(_ i: Int) throws {
    let (args, golden) = Self.goldens[i]
    let r = try runPTInspect(args)
    #expect(r.status == 0, "\(args): \(r.stderr)")
    #expect(r.stderr == "")
    assertGolden(r.stdout, named: golden)
  }

  @Test func checkFailsOnNaNOrInf() throws {
    let r = try runPTInspect(["stats", "--check", "Fixtures/dtypes.pt"])
    #expect(r.status == 1)
    #expect(r.stderr == "ptinspect: Fixtures/dtypes.pt: 1 tensor holds NaN or Inf\n")
    #expect(r.stdout.contains("1 tensor holds NaN or Inf: float32 (1 NaN, 1 Inf)"))
    // The same file without the float32 tensor, and a clean model, pass.
    let ints = try runPTInspect(["stats", "--check", "--filter", "*int*", "Fixtures/dtypes.pt"])
    #expect(ints.status == 0 && ints.stderr == "")
    let clean = try runPTInspect(["stats", "--check", "--format", "json", "Fixtures/cifar_cnn.pt"])
    #expect(clean.status == 0 && clean.stderr == "")
    let report = try #require(
      try JSONSerialization.jsonObject(with: Data(clean.stdout.utf8)) as? [String: Any])
    #expect((report["totals"] as? [String: Any])?["nonFiniteTensors"] as? [String] == [])
    // Without --check a finding is reported but does not fail.
    let plain = try runPTInspect(["stats", "Fixtures/dtypes.pt"])
    #expect(plain.status == 0 && plain.stderr == "")
  }

  @Test func jsonNamesEveryTensorWithItsStatistics() throws {
    let r = try runPTInspect(["stats", "--format", "json", "Fixtures/dtypes.pt"])
    #expect(r.status == 0)
    let report = try #require(
      try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    #expect(report["schemaVersion"] as? Int == 1 && report["format"] as? String == "torch-zip")
    let tensors = try #require(report["tensors"] as? [[String: Any]])
    #expect(tensors.count == 21)
    let f32 = try #require(tensors.first { $0["name"] as? String == "float32" })
    #expect(f32["nan"] as? Int == 1 && f32["inf"] as? Int == 1 && f32["zeros"] as? Int == 1)
    #expect(
      f32["min"] as? Double == -1.5 && f32["max"] as? Double == 2.25 && f32["numel"] as? Int == 6)
    let bool = try #require(tensors.first { $0["name"] as? String == "bool" })
    #expect(bool["zeroFraction"] as? Double == 0.5 && bool["mean"] as? Double == 0.5)
    let totals = try #require(report["totals"] as? [String: Any])
    #expect(
      totals["numel"] as? Int == 126 && totals["read"] as? Int == 21 && totals["nan"] as? Int == 1)
  }

  @Test func everyContainerIsRead() throws {
    for file in [
      "Fixtures/legacy_cnn.pt", "Fixtures/small_cnn.safetensors", "Fixtures/scripted.pt",
      "Fixtures/sharded",
      "Fixtures/whole_model_legacy.pt", "Fixtures/sparse.pt", "Fixtures/legacy_tar.pt",
      "Fixtures/sharded_bin",
    ] {
      let r = try runPTInspect(["stats", "--check", "--format", "json", file])
      #expect(r.status == 0 && r.stderr == "", "\(file): \(r.stderr)")
      let report = try #require(
        try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
      let totals = try #require(report["totals"] as? [String: Any])
      #expect(totals["skipped"] as? Int == 0 && (totals["read"] as? Int ?? 0) > 0, "\(file)")
    }
  }

  @Test func unreadableInputsExitTwo() throws {
    for (file, message) in [
      ("nope.pt", "no such file"),
      ("Fixtures/broken/empty.pt", "empty file (0 bytes)"),
      (
        "Fixtures/broken/short_storage.pt",
        "tensor '0.weight' needs 108 bytes of storage '0' (offset 0, shape [1, 3, 3, 3], stride [27, 9, 3, 1]), but 'archive/data/0' holds 4"
      ),
    ] {
      let r = try runPTInspect(["stats", file])
      #expect(r.status == 2, "\(file)")
      #expect(r.stderr == "ptinspect: \(file): \(message)\n")
      #expect(r.stdout == "")
    }
  }

  @Test func usageErrorsExit64() throws {
    #expect(try runPTInspect(["stats"]).status == 64)
    #expect(try runPTInspect(["stats", "--format", "xml", "Fixtures/views.pt"]).status == 64)
    #expect(try runPTInspect(["stats", "--colour", "Fixtures/views.pt"]).status == 64)
  }

  @Test func optionsParse() throws {
    let command = try PTInspect.parseAsRoot([
      "stats", "x.pt", "--check", "--filter", "a*", "--format", "json",
    ])
    let stats = try #require(command as? PTInspect.Stats)
    #expect(
      stats.file == "x.pt" && stats.check && stats.filter == "a*" && stats.output.format == .json)
    let plain = try #require(try PTInspect.parseAsRoot(["stats", "x.pt"]) as? PTInspect.Stats)
    #expect(!plain.check && plain.filter == nil && plain.output.format == .table)
  }
}
