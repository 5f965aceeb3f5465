// JSONFormatTests.swift: every command's `--format json` and `--format jsonl`, run as a user
// runs them: each output parses, jsonl is one compact line per input, and both say the same.

import Foundation
import PTInspectTestSupport
import Testing

@Suite struct JSONFormatTests {
  /// Commands without `--format`, with how many inputs (jsonl lines) each has.
  static let commands: [(args: [String], inputs: Int)] = [
    (["summary", "Fixtures/cifar_cnn.pt"], 1),
    (["summary", "Fixtures/legacy_cnn.pt"], 1),
    (["summary", "Fixtures/small_cnn.safetensors"], 1),
    (["summary", "Fixtures/sharded"], 1),
    (["summary", "Fixtures/cifar_cnn.pt", "Fixtures/tied.pt", "Fixtures/pre16_style.pth"], 3),
    (["tensors", "Fixtures/quantized.pt"], 1),
    (["tensors", "--filter", "*.weight", "Fixtures/legacy_tar.pt"], 1),
    (["diff", "--values", "Fixtures/diff/base.pt", "Fixtures/diff/finetuned.pt"], 1),
    (["diff", "Fixtures/diff/base.pt", "Fixtures/diff/widened.pt"], 1),
    (["diff", "--values", "Fixtures/dtypes.pt", "Fixtures/dtypes.pt"], 1),
    (["scan", "Fixtures/hostile/zip_tricks.pt"], 1),
    (["scan", "Fixtures/cifar_cnn.pt", "Fixtures/hostile/os_system.pt"], 2),
    (["stats", "Fixtures/dtypes.pt"], 1),
    (["stats", "Fixtures/tied.pt"], 1),
    (["budget", "Fixtures/cifar_cnn.pt", "--max-params", "5.8M"], 1),
  ]

  /// Every JSON document in `text`, which holds one or more pretty documents one after another.
  static func documents(_ text: String) throws -> [Any] {
    // A pretty document ends with a `}` at the start of a line.
    let parts = text.components(separatedBy: "\n}\n").filter { !$0.isEmpty }
    return try parts.map {
      try JSONSerialization.jsonObject(with: Data(($0 + "\n}").utf8))
    }
  }

  static func canonical(_ object: Any) throws -> Data {
    try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
  }

  @Test(arguments: commands.indices)
  func jsonAndJSONLinesParseAndAgree(_ i: Int) throws {
    let (args, inputs) = Self.commands[i]
    let json = try runPTInspect(args + ["--format", "json"])
    let jsonl = try runPTInspect(args + ["--format", "jsonl"])
    #expect(json.status == jsonl.status, "\(args)")
    #expect(json.stderr == jsonl.stderr)
    #expect(json.stdout.hasSuffix("}\n"), "\(args)")
    // Several inputs: one document, its `files` the entries jsonl prints one per line.
    let documents = try Self.documents(json.stdout)
    #expect(documents.count == 1, "\(args): \(documents.count) documents")
    var pretty = documents
    if inputs > 1, let batch = documents.first as? [String: Any] {
      #expect(batch["schemaVersion"] as? Int == 1)
      pretty = batch["files"] as? [Any] ?? []
    }
    #expect(pretty.count == inputs, "\(args): \(pretty.count) entries")
    let lines = jsonl.stdout.split(separator: "\n", omittingEmptySubsequences: false)
    #expect(lines.count == inputs + 1 && lines.last == "", "\(args): \(lines.count) lines")
    let compact = try lines.dropLast().map {
      try JSONSerialization.jsonObject(with: Data($0.utf8))
    }
    #expect(compact.count == pretty.count)
    for (a, b) in zip(pretty, compact) {
      #expect(try Self.canonical(a) == Self.canonical(b), "\(args)")
    }
  }

  /// Several files: `json` is one object listing them, `jsonl` one line each.
  @Test func budgetForSeveralFiles() throws {
    let args = ["budget", "Fixtures/cifar_cnn.pt", "Fixtures/tied.pt", "--max-params", "5.8M"]
    let json = try runPTInspect(args + ["--format", "json"])
    let jsonl = try runPTInspect(args + ["--format", "jsonl"])
    let batch = try #require(
      try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    let files = try #require(batch["files"] as? [Any])
    let lines = jsonl.stdout.split(separator: "\n")
    #expect(files.count == 2 && lines.count == 2)
    for (file, line) in zip(files, lines) {
      #expect(
        try Self.canonical(file)
          == Self.canonical(try JSONSerialization.jsonObject(with: Data(line.utf8))))
    }
  }

  /// NaN and Inf in the data never reach the JSON as anything but null.
  @Test func nonFiniteValuesAreNull() throws {
    for args in [
      ["stats", "Fixtures/dtypes.pt"],
      ["diff", "--values", "Fixtures/dtypes.pt", "Fixtures/dtypes.pt"],
    ] {
      for format in ["json", "jsonl"] {
        let r = try runPTInspect(args + ["--format", format])
        #expect(!r.stdout.contains("NaN") && !r.stdout.contains("Infinity"), "\(args) \(format)")
      }
    }
  }
}
