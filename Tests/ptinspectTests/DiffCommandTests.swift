// DiffCommandTests.swift: `ptinspect diff` end to end: printed output (golden files), JSON
// fields, exit codes and error messages.

import Foundation
import PTInspectCore
import PTInspectTestSupport
import Testing

@Suite("ptinspect diff")
struct DiffCommandTests {
  func run(_ arguments: [String]) throws -> RunResult { try runPTInspect(["diff"] + arguments) }

  func json(_ r: RunResult) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8))
    return try #require(object as? [String: Any])
  }

  func names(_ value: Any?) -> [String] {
    (value as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
  }

  @Test("the fine-tune with --values: table, exit 1")
  func fineTuneTable() throws {
    let r = try run(["--values", "Fixtures/diff/base.pt", "Fixtures/diff/finetuned.pt"])
    #expect(r.status == 1)
    #expect(r.stderr == "")
    assertGolden(r.stdout, named: "diff-finetuned-values.txt")
  }

  @Test("the widened layer: structure only, layer rollup")
  func widenedTable() throws {
    let r = try run(["Fixtures/diff/base.pt", "Fixtures/diff/widened.pt"])
    #expect(r.status == 1)
    assertGolden(r.stdout, named: "diff-widened.txt")
    #expect(
      r.stdout.contains(
        "  head: Linear(in_features=16, out_features=10, bias=True) -> Linear(in_features=16,\n    out_features=20, bias=True): +170 parameters; shape of weight, bias\n"
      ))
  }

  @Test("the fp16 copy within a tolerance, as Markdown")
  func fp16Markdown() throws {
    let r = try run([
      "--values", "--atol", "1e-4", "--format", "markdown", "Fixtures/diff/base.pt",
      "Fixtures/diff/fp16.pt",
    ])
    #expect(r.status == 1)
    assertGolden(r.stdout, named: "diff-fp16-atol.md")
    let converted = try run([
      "--values", "--atol", "1e-4", "--ignore-dtype", "Fixtures/diff/base.pt",
      "Fixtures/diff/fp16.pt",
    ])
    #expect(converted.status == 0)
  }

  @Test("the DataParallel copy: the stripped prefix is reported, exit 0")
  func dataParallel() throws {
    let r = try run(["--values", "Fixtures/diff/base.pt", "Fixtures/diff/dataparallel.pt"])
    #expect(r.status == 0)
    assertGolden(r.stdout, named: "diff-dataparallel.txt")
    let j = try json(
      try run(["--format", "json", "Fixtures/diff/base.pt", "Fixtures/diff/dataparallel.pt"]))
    let strips = try #require(j["prefixStripped"] as? [[String: Any]])
    #expect(strips.count == 1)
    #expect(strips.first?["prefix"] as? String == "module.")
    #expect(strips.first?["side"] as? String == "after")
    #expect(strips.first?["automatic"] as? Bool == true)
  }

  @Test("JSON: the lists, each entry with a name, statistics on changed entries")
  func jsonFields() throws {
    let r = try run([
      "--values", "--format", "json", "Fixtures/diff/base.pt", "Fixtures/diff/finetuned.pt",
    ])
    #expect(r.status == 1)
    assertGolden(r.stdout + "\n", named: "diff-finetuned-values.json")
    let j = try json(r)
    #expect(j["schemaVersion"] as? Int == 1)
    for key in ["added", "removed", "shapeChanged", "dtypeChanged"] {
      #expect(names(j[key]) == [], "\(key)")
    }
    #expect(
      names(j["changed"]) == [
        "backbone.1.running_mean", "backbone.1.running_var", "head.weight", "head.bias",
      ])
    // Numbers through JSONDecoder (JSONSerialization rounds some doubles on Linux).
    let report = try JSONDecoder().decode(DiffReport.self, from: Data(r.stdout.utf8))
    let head = try #require(report.changed.first { $0.name == "head.weight" })
    // torch: Fixtures/diff/expected_diff.json.
    #expect(head.stats.maxAbsDiff == 0.02819775603711605)
    #expect(head.stats.maxRelDiff == 3.1080181729669283)
    #expect(abs(head.stats.rmsDiff - 0.00943594253565309) < 1e-15)
    #expect(abs((head.stats.cosine ?? 0) - 0.9979317480500275) < 1e-14)
    #expect(r.stdout.contains("\"maxRelDiff\" : 3.1080181729669283"))
    let mean = try #require((j["changed"] as? [[String: Any]])?.first)
    #expect(mean["maxRelDiff"] is NSNull && mean["cosine"] is NSNull)
    #expect(j["unchanged"] as? Int == 12)
    let totals = try #require(j["totals"] as? [String: [String: Any]])
    #expect(totals["difference"]?["parameters"] as? Int == 0)
    #expect(j["verdict"] as? String == "4 of 16 tensors differ: 4 with changed values")
    // --format jsonl: the same report on one line.
    let line = try run([
      "--values", "--format", "jsonl", "Fixtures/diff/base.pt", "Fixtures/diff/finetuned.pt",
    ])
    #expect(line.stdout.split(separator: "\n").count == 1)
    #expect(names(try json(line)["changed"]) == names(j["changed"]))
  }

  @Test("the fine-tune without --values: contents by CRC-32, no data read, exit 1")
  func fineTuneWithoutValues() throws {
    let r = try run(["Fixtures/diff/base.pt", "Fixtures/diff/finetuned.pt"])
    #expect(r.status == 1)
    #expect(r.stderr == "")
    assertGolden(r.stdout, named: "diff-finetuned-contents.txt")
    let j = try json(
      try run(["--format", "json", "Fixtures/diff/base.pt", "Fixtures/diff/finetuned.pt"]))
    let contents = try #require(j["contents"] as? [String: Any])
    #expect(contents["byCRC"] as? Int == 16)
    #expect(contents["byBytes"] as? Int == 0)
    #expect(contents["bytesRead"] as? Int == 0)
    #expect(
      contents["changed"] as? [String] == [
        "backbone.1.running_mean", "backbone.1.running_var", "head.weight", "head.bias",
      ])
    #expect(j["verdict"] as? String == "4 of 16 tensors differ: 4 with other contents")
    // --values and --structure-only leave `contents` null.
    let values = try json(
      try run([
        "--values", "--format", "json", "Fixtures/diff/base.pt", "Fixtures/diff/finetuned.pt",
      ]))
    #expect(values["contents"] is NSNull)
    let same = try run(["Fixtures/diff/base.pt", "Fixtures/diff/base_copy.pt"])
    #expect(
      same.stdout
        == "verdict: no differences: 16 tensors with the same names, shapes, dtypes and contents\n")
    let both = try run([
      "--values", "--structure-only", "Fixtures/diff/base.pt", "Fixtures/diff/base_copy.pt",
    ])
    #expect(both.status == 64)
    #expect(both.stderr.contains("Error: '--values' and '--structure-only' cannot go together"))
  }

  /// Two safetensors files written here (8-byte header length, JSON header, data): no CRC, so
  /// the bytes are compared; one tensor differs in its last byte.
  @Test("without a checksum the bytes are compared: safetensors")
  func safetensorsBytes() throws {
    let dir = try temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    func write(_ name: String, last: UInt8) throws -> String {
      let header =
        #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[4],"data_offsets":[8,12]}}"#
      var bytes: [UInt8] = []
      var n = UInt64(header.utf8.count).littleEndian
      withUnsafeBytes(of: &n) { bytes += $0 }
      bytes += Array(header.utf8)
      bytes += [0, 0, 128, 63, 0, 0, 0, 64]  // 1.0, 2.0
      bytes += [1, 2, 3, last]
      let path = dir + "/" + name
      try Data(bytes).write(to: URL(fileURLWithPath: path))
      return path
    }
    let a = try write("a.safetensors", last: 4)
    let b = try write("b.safetensors", last: 5)
    let c = try write("c.safetensors", last: 4)
    let r = try run(["--format", "json", a, b])
    #expect(r.status == 1)
    let contents = try #require(try json(r)["contents"] as? [String: Any])
    #expect(contents["byCRC"] as? Int == 0)
    #expect(contents["byBytes"] as? Int == 2)
    #expect(contents["changed"] as? [String] == ["b"])
    #expect(try run([a, c]).status == 0)
  }

  @Test("exit codes: 0 identical, 1 different, 0/1 by expectations")
  func exitCodes() throws {
    #expect(
      try run(["--values", "Fixtures/diff/base.pt", "Fixtures/diff/base_copy.pt"]).status == 0)
    // Without --values the contents are still compared (by CRC-32); --structure-only does not.
    #expect(try run(["Fixtures/diff/base.pt", "Fixtures/diff/finetuned.pt"]).status == 1)
    #expect(
      try run(["--structure-only", "Fixtures/diff/base.pt", "Fixtures/diff/finetuned.pt"]).status
        == 0)
    #expect(try run(["Fixtures/diff/base.pt", "Fixtures/diff/base_copy.pt"]).status == 0)
    #expect(
      try run(["--values", "Fixtures/diff/base.pt", "Fixtures/diff/finetuned.pt"]).status == 1)
    #expect(
      try run(["--values", "Fixtures/small_cnn.safetensors", "Fixtures/legacy_cnn.pt"]).status == 0)
    // The head changed, the backbone convolutions stayed frozen: expectations decide the exit code.
    let frozen = try run([
      "Fixtures/diff/base.pt", "Fixtures/diff/finetuned.pt", "--expect-unchanged", "backbone.0",
      "--expect-unchanged", "backbone.2",
    ])
    #expect(frozen.status == 0)
    #expect(frozen.stdout.contains("expect unchanged 'backbone.0': kept (2 tensors)"))
    let broken = try run([
      "Fixtures/diff/base.pt", "Fixtures/diff/finetuned.pt", "--expect-unchanged", "backbone.*",
    ])
    #expect(broken.status == 1)
    assertGolden(broken.stdout, named: "diff-expect-broken.txt")
  }

  @Test("unreadable inputs: exit 2, one line per file on stderr")
  func unreadable() throws {
    let empty = try run(["Fixtures/broken/empty.pt", "Fixtures/diff/base.pt"])
    #expect(empty.status == 2)
    #expect(empty.stdout == "")
    #expect(empty.stderr == "ptinspect: Fixtures/broken/empty.pt: empty file (0 bytes)\n")
    let both = try run(["Fixtures/broken/empty.pt", "Fixtures/diff/missing.pt"])
    #expect(both.status == 2)
    #expect(
      both.stderr
        == "ptinspect: Fixtures/broken/empty.pt: empty file (0 bytes)\nptinspect: Fixtures/diff/missing.pt: no such file\n"
    )
  }

  @Test("usage errors: exit 64")
  func usage() throws {
    let negative = try run(["--atol=-1", "Fixtures/diff/base.pt", "Fixtures/diff/base.pt"])
    #expect(negative.status == 64)
    #expect(negative.stderr.contains("'--atol' must be a finite number of at least 0"))
    #expect(try run(["Fixtures/diff/base.pt"]).status == 64)
    #expect(
      try run(["--threads", "0", "Fixtures/diff/base.pt", "Fixtures/diff/base.pt"]).status == 64)
  }
}
