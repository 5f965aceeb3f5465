// ScanEndToEndTests.swift: `ptinspect scan` run as a user runs it: every verdict with its exit
// code, golden output in each format, exact error lines, several files at once.

import Foundation
import PTInspectTestSupport
import Testing

@Suite struct ScanEndToEndTests {
  static let goldens: [(args: [String], golden: String, status: Int32)] = [
    (["scan", "Fixtures/hostile/os_system.pt"], "scan-os_system.txt", 1),
    (["scan", "--format", "json", "Fixtures/hostile/os_system.pt"], "scan-os_system.json", 1),
    (["scan", "Fixtures/training_checkpoint.pt"], "scan-training_checkpoint.txt", 0),
    (
      ["scan", "--format", "markdown", "Fixtures/training_checkpoint.pt"],
      "scan-training_checkpoint.md", 0
    ),
    (["scan", "Fixtures/cifar_cnn_p4.pt"], "scan-cifar_cnn_p4.txt", 0),
    (["scan", "Fixtures/legacy_cnn.pt"], "scan-legacy_cnn.txt", 0),
    (["scan", "Fixtures/whole_model_legacy.pt"], "scan-whole_model_legacy.txt", 0),
    (["scan", "Fixtures/hostile/zip_tricks.pt"], "scan-zip_tricks.txt", 1),
    (["scan", "--format", "json", "Fixtures/hostile/zip_tricks.pt"], "scan-zip_tricks.json", 1),
    (["scan", "Fixtures/hostile/touch_marker.pkl"], "scan-touch_marker.txt", 1),
  ]

  @Test(arguments: goldens.indices)
  func golden(_ i: Int) throws {
    let (args, golden, status) = Self.goldens[i]
    let r = try runPTInspect(args)
    #expect(r.status == status, "\(args): \(r.stderr)")
    #expect(r.stderr == "")
    assertGolden(r.stdout, named: golden)
  }

  /// Each verdict, with and without --strict.
  @Test(arguments: [
    // (file, status, strict status, last verdict line prefix)
    (
      "Fixtures/cifar_cnn.pt", Int32(0), Int32(0),
      "verdict: SAFE: every global is on torch's weights_only allowlist"
    ),
    ("Fixtures/small_cnn.safetensors", 0, 0, "verdict: SAFE: no pickle to run"),
    ("Fixtures/hostile/nested_lists.pt", 0, 0, "verdict: SAFE: the pickles name no global"),
    (
      "Fixtures/training_checkpoint.pt", 0, 1,
      "verdict: UNKNOWN: nothing known to be dangerous, but 5 globals are outside"
    ),
    (
      "Fixtures/scripted.pt", 0, 1,
      "verdict: UNKNOWN: nothing known to be dangerous, but 19 globals are outside"
    ),
    (
      "Fixtures/hostile/os_system.pt", 1, 1,
      "verdict: DANGEROUS: 1 global can run code or touch the system (posix.system)"
    ),
    (
      "Fixtures/hostile/memo_out_of_range.pt", 2, 2,
      "verdict: INCOMPLETE: 1 part could not be read; in the rest, SAFE"
    ),
  ])
  func verdicts(_ file: String, _ status: Int32, _ strictStatus: Int32, _ verdict: String) throws {
    let plain = try runPTInspect(["scan", file])
    #expect(plain.status == status, "\(file): \(plain.stderr)")
    #expect(plain.stdout.split(separator: "\n").contains { $0.hasPrefix(verdict) }, "\(file)")
    let strict = try runPTInspect(["scan", "--strict", file])
    #expect(strict.status == strictStatus, "\(file)")
    let json = try runPTInspect(["scan", "--format", "json", file])
    #expect(json.status == status)
    let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
    #expect(object?["schemaVersion"] as? Int == 1)
    let keys = Set(object?.keys.map { $0 } ?? [])
    #expect(
      keys == [
        "schemaVersion", "file", "format", "verdict", "complete", "errors", "pickles", "globals",
        "zipFindings", "notes",
        "addSafeGlobals", "advice", "source",
      ])
  }

  @Test func strictFailsOnZipFindingsAlone() throws {
    // Every global in a prefixed archive is allowed; only the zip finding makes --strict fail.
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "ptinspect-scan-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let path = folder.appendingPathComponent("prefixed.pt").path
    let original = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("views.pt")))
    try (Data("junk".utf8) + original).write(to: URL(fileURLWithPath: path))
    #expect(try runPTInspect(["scan", path]).status == 0)
    let strict = try runPTInspect(["scan", "--strict", path])
    #expect(strict.status == 1)
    #expect(
      strict.stdout.contains(
        "zip: 4 bytes come before the zip archive (its offsets are shifted by that much)"))
    #expect(strict.stdout.contains("[--strict: fails]"))
  }

  @Test(arguments: [
    ("Fixtures/broken/empty.pt", "ptinspect: Fixtures/broken/empty.pt: empty file (0 bytes)"),
    ("Fixtures/nope.pt", "ptinspect: Fixtures/nope.pt: no such file"),
    (
      "Fixtures/broken/html_error.pt",
      "ptinspect: Fixtures/broken/html_error.pt: this is an HTML or XML page, not a checkpoint (a failed download?)"
    ),
    (
      "Fixtures/broken/truncated_pickle.pt",
      "ptinspect: Fixtures/broken/truncated_pickle.pt: archive/data.pkl: truncated pickle: input ends at offset 1561 before STOP"
    ),
    (
      "Fixtures/hostile/huge_string.pt",
      "ptinspect: Fixtures/hostile/huge_string.pt: huge_string/data.pkl: truncated pickle: BINUNICODE at offset 2 needs 4294967295 bytes, 1017 remain"
    ),
  ])
  func unreadable(_ file: String, _ line: String) throws {
    let r = try runPTInspect(["scan", file])
    #expect(r.status == 2)
    #expect(r.stderr == line + "\n")
  }

  @Test func severalFilesExitWithTheWorstCode() throws {
    let safeAndDangerous = try runPTInspect([
      "scan", "Fixtures/views.pt", "Fixtures/hostile/os_system.pt",
    ])
    #expect(safeAndDangerous.status == 1)
    #expect(safeAndDangerous.stdout.components(separatedBy: "verdict: ").count == 3)
    let withUnreadable = try runPTInspect([
      "scan", "Fixtures/hostile/os_system.pt", "Fixtures/broken/empty.pt", "Fixtures/views.pt",
    ])
    #expect(withUnreadable.status == 2)
    #expect(withUnreadable.stderr == "ptinspect: Fixtures/broken/empty.pt: empty file (0 bytes)\n")
    #expect(withUnreadable.stdout.components(separatedBy: "verdict: ").count == 3)
    let jsonl = try runPTInspect([
      "scan", "--format", "jsonl", "Fixtures/views.pt", "Fixtures/hostile/os_system.pt",
    ])
    let lines = jsonl.stdout.split(separator: "\n")
    #expect(lines.count == 2)
    #expect(lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil })
  }

  @Test func shardedIndexScansEachShard() throws {
    let r = try runPTInspect(["scan", "Fixtures/sharded_bin/pytorch_model.bin.index.json"])
    #expect(r.status == 0)
    #expect(
      r.stdout.contains(
        "Fixtures/sharded_bin/pytorch_model-00001-of-00002.bin: torch-zip, 1 pickle"))
    #expect(
      r.stdout.contains(
        "Fixtures/sharded_bin/pytorch_model-00002-of-00002.bin: torch-zip, 1 pickle"))
  }

  @Test func usageErrors() throws {
    let r = try runPTInspect(["scan"])
    #expect(r.status == 64)
    #expect(r.stderr.contains("Missing expected argument '<files> ...'"))
  }

  @Test func summaryWarnsButStillSummarises() throws {
    let table = try runPTInspect(["Fixtures/hostile/os_system.pt"])
    #expect(table.status == 0)
    #expect(table.stdout.contains("(root)  Module    x [2]"))
    #expect(
      table.stdout.contains(
        "warning: references dangerous global posix.system: loading it with torch.load(weights_only=False)\n         runs code; run ptinspect scan\n"
      ))
    let json = try runPTInspect(["--format", "json", "Fixtures/hostile/os_system.pt"])
    let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
    let diagnostics = object?["diagnostics"] as? [[String: String]] ?? []
    #expect(
      diagnostics.contains([
        "severity": "warning",
        "message":
          "references dangerous global posix.system: loading it with torch.load(weights_only=False) runs code; run ptinspect scan",
      ]))
    #expect((object?["tensors"] as? [[String: Any]])?.first?["name"] as? String == "x")
    // Files without a dangerous global get no such warning.
    #expect(try !runPTInspect(["Fixtures/training_checkpoint.pt"]).stdout.contains("dangerous"))
  }
}
