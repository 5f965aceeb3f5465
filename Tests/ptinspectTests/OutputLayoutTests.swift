// OutputLayoutTests.swift: output that fits its reader, run as a user runs it: screen-sized
// summaries of ResNet-50- and ViT-B/16-shaped models, narrow and wide terminals, one JSON
// document per run with error entries, warnings in the many-files table, SARIF against the
// official SARIF 2.1.0 schema, --quiet, standard input, filters that match nothing.

import Foundation
import PTInspectTestSupport
import Testing

/// The lines of `text` (without the empty one after the last newline).
private func outputLines(_ text: String) -> [Substring] {
  text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
}

/// The widest line of the layer table in a summary: from its header to its Total line.
private func tableWidth(_ text: String) -> Int {
  let all = outputLines(text)
  guard let start = all.firstIndex(where: { $0.hasPrefix("Layer ") }),
    let total = all[start...].firstIndex(where: { $0.hasPrefix("Total ") })
  else { return Int.max }
  return all[start...total].map(\.count).max() ?? 0
}

@Suite struct FittedSummaryTests {
  @Test("ResNet-50's block layout fits a screen: rolled up to depth 2, 100 columns")
  func resnet() throws {
    let r = try runPTInspect(["Fixtures/output/resnet_bottleneck.pt"])
    #expect(r.status == 0)
    assertGolden(r.stdout, named: "summary-resnet_bottleneck.txt")
    #expect(outputLines(r.stdout).count <= 45)
    #expect(tableWidth(r.stdout) <= 100)
    #expect(
      r.stdout.contains(
        "(rolled up to depth 2 to fit 45 lines: --depth N for another depth, --expand for every layer)"
      ))
    // Every tensor is still counted: torch's answer.
    let expected = try Fixtures.expected("output/resnet_bottleneck.pt")
    let parameters = try #require(expected["parameters"] as? Int)
    var grouped = String(parameters)
    for i in stride(from: grouped.count - 3, to: 0, by: -3) {
      grouped.insert(",", at: grouped.index(grouped.startIndex, offsetBy: i))
    }
    #expect(r.stdout.contains("Parameters        \(grouped)  "))
  }

  @Test("ViT-B/16's 12 encoder layers fit a screen")
  func vit() throws {
    let r = try runPTInspect(["Fixtures/output/vit_depth12.pt"])
    #expect(r.status == 0)
    assertGolden(r.stdout, named: "summary-vit_depth12.txt")
    #expect(outputLines(r.stdout).count <= 45)
    #expect(tableWidth(r.stdout) <= 100)
  }

  @Test("a taller terminal (LINES) is filled before rolling up; --expand and --depth as asked")
  func taller() throws {
    let tall = try runPTInspect(
      ["Fixtures/output/resnet_bottleneck.pt"], environment: ["LINES": "120"])
    #expect(!tall.stdout.contains("rolled up"))
    #expect(tall.stdout.contains("layer1.[1-2] x2"))
    #expect(outputLines(tall.stdout).count > 45 && outputLines(tall.stdout).count <= 120)
    let expand = try runPTInspect(["summary", "--expand", "Fixtures/output/resnet_bottleneck.pt"])
    #expect(!expand.stdout.contains("rolled up"))
    #expect(expand.stdout.contains("layer3.5.conv3"))
    let depth = try runPTInspect([
      "summary", "--depth", "1", "Fixtures/output/resnet_bottleneck.pt",
    ])
    #expect(!depth.stdout.contains("rolled up"))
    #expect(outputLines(depth.stdout).contains { $0.hasPrefix("layer3 ") })
  }

  @Test("a narrow terminal: descriptions cut with ..., then the type")
  func narrow() throws {
    let r = try runPTInspect(["Fixtures/cifar_cnn.pt"], environment: ["COLUMNS": "72"])
    #expect(r.status == 0)
    assertGolden(r.stdout, named: "summary-cifar_cnn-72cols.txt")
    #expect(tableWidth(r.stdout) <= 72)
    #expect(r.stdout.contains("..."))
  }

  @Test("a wide terminal: nothing is cut, as the table always was")
  func wide() throws {
    let r = try runPTInspect(["Fixtures/cifar_cnn.pt"], environment: ["COLUMNS": "200"])
    #expect(r.status == 0)
    assertGolden(r.stdout, named: "summary-cifar_cnn-200cols.txt")
    #expect(r.stdout.contains("Linear(in_features=4096, out_features=1024, bias=True)"))
    #expect(!r.stdout.contains("..."))
  }
}

@Suite struct BatchOutputTests {
  static let inputs = [
    "Fixtures/tied.pt", "Fixtures/broken/empty.pt", "Fixtures/hostile/os_system.pt",
  ]

  @Test("several files, one unreadable, one dangerous: the table keeps both")
  func table() throws {
    let r = try runPTInspect(["summary"] + Self.inputs)
    #expect(r.status == 2)
    #expect(r.stderr == "ptinspect: Fixtures/broken/empty.pt: empty file (0 bytes)\n")
    assertGolden(r.stdout, named: "summary-many-unreadable.txt")
    #expect(
      r.stdout.contains(
        "warning: Fixtures/hostile/os_system.pt: references dangerous global posix.system"))
    #expect(r.stdout.contains("  Fixtures/broken/empty.pt: empty file (0 bytes)\n"))
  }

  @Test("several files as Markdown: the unreadable one is a section with its error")
  func markdown() throws {
    let r = try runPTInspect(["summary", "--format", "markdown"] + Self.inputs)
    #expect(r.status == 2)
    assertGolden(r.stdout, named: "summary-many-unreadable.md")
    #expect(
      r.stdout.contains(
        "### ptinspect: `Fixtures/broken/empty.pt`\n\n**error** (not-a-checkpoint): empty file (0 bytes)\n"
      ))
  }

  @Test("summary --format json: one document, the unreadable input an error entry")
  func summaryJSON() throws {
    let r = try runPTInspect(["summary", "--format", "json"] + Self.inputs)
    #expect(r.status == 2)
    let doc = try #require(
      try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    #expect(Set(doc.keys) == ["schemaVersion", "files"])
    #expect(doc["schemaVersion"] as? Int == 1)
    let files = try #require(doc["files"] as? [[String: Any]])
    #expect(files.map { $0["file"] as? String } == Self.inputs)
    #expect(
      files[1] as NSDictionary
        == [
          "schemaVersion": 1, "file": "Fixtures/broken/empty.pt", "error": "empty file (0 bytes)",
          "errorKind": "not-a-checkpoint",
        ])
    #expect(files[0]["format"] as? String == "torch-zip")
    // A folder is several inputs too, even with one checkpoint in it.
    let folder = try runPTInspect(["summary", "--format", "json", "Fixtures/output"])
    let object = try JSONSerialization.jsonObject(with: Data(folder.stdout.utf8)) as? [String: Any]
    #expect((object?["files"] as? [Any])?.count == 3)
  }

  @Test("scan --format json over several files and a folder: one document, error entries")
  func scanJSON() throws {
    let r = try runPTInspect([
      "scan", "--format", "json", "Fixtures/diff", "Fixtures/broken/empty.pt",
      "Fixtures/hostile/os_system.pt",
    ])
    #expect(r.status == 2)
    let doc = try #require(
      try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    let files = try #require(doc["files"] as? [[String: Any]])
    #expect(files.count == 8)
    #expect(files.first?["file"] as? String == "Fixtures/diff/base.pt")
    #expect(files[6]["errorKind"] as? String == "not-a-checkpoint")
    #expect(files[6]["error"] as? String == "empty file (0 bytes)")
    #expect(files[7]["verdict"] as? String == "dangerous")
    let jsonl = try runPTInspect([
      "scan", "--format", "jsonl", "Fixtures/broken/empty.pt", "Fixtures/cifar_cnn.pt",
    ])
    let rows = jsonl.stdout.split(separator: "\n").map {
      try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
    }
    #expect(
      rows.map { $0?["file"] as? String } == ["Fixtures/broken/empty.pt", "Fixtures/cifar_cnn.pt"])
    #expect(rows.first??["errorKind"] as? String == "not-a-checkpoint")
  }

  @Test("scan takes folders, --recursive; an empty folder is an error")
  func scanFolders() throws {
    let r = try runPTInspect(["scan", "Fixtures/diff"])
    #expect(r.status == 0)
    #expect(r.stdout.components(separatedBy: "verdict: SAFE").count == 7)
    let dir = try temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
    try FileManager.default.copyItem(
      atPath: Fixtures.path("hostile/os_system.pt"), toPath: dir + "/sub/model.pt")
    try "notes\n".write(toFile: dir + "/README.md", atomically: true, encoding: .utf8)
    let flat = try runPTInspect(["scan", dir])
    #expect(flat.status == 2)
    #expect(flat.stderr == "ptinspect: \(dir): no checkpoint files in the folder\n")
    let deep = try runPTInspect(["scan", "--recursive", dir])
    #expect(deep.status == 1)
    #expect(deep.stdout.contains("posix.system"))
  }

  @Test("budget error entries carry errorKind")
  func budgetErrorKind() throws {
    let r = try runPTInspect([
      "budget", "--max-params", "1M", "--format", "json", "Fixtures/tied.pt",
      "Fixtures/broken/empty.pt",
    ])
    #expect(r.status == 2)
    let doc = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    let files = doc?["files"] as? [[String: Any]] ?? []
    #expect(files.map { $0["errorKind"] as? String } == [nil, "not-a-checkpoint"])
    #expect(files.first?["errorKind"] is NSNull)
  }
}

@Suite struct SARIFTests {
  /// Validates `log` against Tests/sarif-schema-2.1.0.json (the OASIS schema, draft-04) with
  /// Python's jsonschema; returns the errors, one per line ("" when valid).
  func schemaErrors(_ log: String) throws -> String {
    let dir = try temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try log.write(toFile: dir + "/log.sarif", atomically: true, encoding: .utf8)
    let schema = Fixtures.root.appendingPathComponent("Tests/sarif-schema-2.1.0.json").path
    let script = """
      import json, sys, jsonschema
      schema = json.load(open(sys.argv[1]))
      log = json.load(open(sys.argv[2]))
      v = jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
      errors = list(v.iter_errors(log))
      for e in errors: print(e.message, list(e.path))
      sys.exit(1 if errors else 0)
      """
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", script, schema, dir + "/log.sarif"]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    try p.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    return p.terminationStatus == 0 ? "" : "status \(p.terminationStatus): " + text
  }

  @Test("scan --format sarif is valid SARIF 2.1.0: a result per dangerous or unknown global")
  func valid() throws {
    let r = try runPTInspect([
      "scan", "--format", "sarif", "Fixtures/hostile/os_system.pt", "Fixtures/cifar_cnn.pt",
      "Fixtures/broken/empty.pt", "Fixtures/hostile/scan_cgi_test.pkl",
    ])
    #expect(r.status == 2)
    #expect(try schemaErrors(r.stdout) == "")
    let log = try #require(
      try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    #expect(log["version"] as? String == "2.1.0")
    let run = try #require((log["runs"] as? [[String: Any]])?.first)
    let results = try #require(run["results"] as? [[String: Any]])
    let system = try #require(
      results.first { ($0["properties"] as? [String: String])?["global"] == "posix.system" })
    #expect(system["ruleId"] as? String == "PTI001")
    #expect(system["level"] as? String == "error")
    let location = try #require((system["locations"] as? [[String: Any]])?.first)
    let physical = try #require(location["physicalLocation"] as? [String: Any])
    #expect(
      (physical["artifactLocation"] as? [String: Any])?["uri"] as? String
        == "Fixtures/hostile/os_system.pt")
    // The byte offset in the file: the stored data.pkl's start plus the opcode's offset.
    #expect((physical["region"] as? [String: Any])?["byteOffset"] as? Int == 239)
    #expect(
      (system["message"] as? [String: Any])?["text"] as? String
        == "dangerous global posix.system in pickle 'os_system/data.pkl' at byte 175 (GLOBAL): operating-system access (os.system on Linux and macOS)"
    )
    #expect(
      !results.contains {
        ($0["locations"] as? [[String: Any]])?.description.contains("cifar_cnn") ?? false
      })
    #expect(results.contains { ($0["properties"] as? [String: String])?["global"] == "cgi.test" })
    let invocation = try #require((run["invocations"] as? [[String: Any]])?.first)
    #expect(invocation["executionSuccessful"] as? Bool == false)
    let notes = try #require(invocation["toolExecutionNotifications"] as? [[String: Any]])
    #expect(
      (notes.first?["message"] as? [String: Any])?["text"] as? String
        == "Fixtures/broken/empty.pt: empty file (0 bytes)")
  }

  @Test("a clean scan is a valid log with no results")
  func clean() throws {
    let r = try runPTInspect(["scan", "--format", "sarif", "Fixtures/cifar_cnn.pt"])
    #expect(r.status == 0)
    #expect(try schemaErrors(r.stdout) == "")
    #expect(r.stdout.contains("\"results\" : []"))
    #expect(r.stdout.contains("\"executionSuccessful\" : true"))
  }

  @Test("a mistake in a log is caught by the check (it can fail)")
  func checkCanFail() throws {
    #expect(try schemaErrors(#"{"version": "2.1.0", "runs": [{"results": []}]}"#) != "")
  }

  @Test("the other commands refuse --format sarif: exit 64")
  func refused() throws {
    for command in [
      ["summary"], ["tensors"], ["stats"], ["diff", "Fixtures/tied.pt"],
      ["budget", "--max-params", "1M"],
    ] {
      let r = try runPTInspect(command + ["Fixtures/tied.pt", "--format", "sarif"])
      #expect(r.status == 64, "\(command)")
      #expect(r.stderr.hasPrefix("Error: '--format sarif' is for scan only; \(command[0]) writes"))
    }
  }
}

@Suite struct SmallGapTests {
  @Test("--quiet: nothing on standard output, the same exit codes")
  func quiet() throws {
    let cases: [([String], Int32)] = [
      (["summary", "Fixtures/tied.pt"], 0),
      (["tensors", "Fixtures/tied.pt"], 0),
      (["stats", "Fixtures/tied.pt"], 0),
      (["diff", "Fixtures/diff/base.pt", "Fixtures/diff/finetuned.pt"], 1),
      (["scan", "Fixtures/hostile/os_system.pt"], 1),
      (["budget", "--max-params", "1K", "Fixtures/tied.pt"], 1),
      (["summary", "--format", "json", "Fixtures/broken/empty.pt"], 2),
    ]
    for (args, status) in cases {
      let r = try runPTInspect(args + ["--quiet"])
      #expect(r.status == status, "\(args)")
      #expect(r.stdout == "", "\(args)")
    }
    let q = try runPTInspect(["summary", "-q", "Fixtures/broken/empty.pt"])
    #expect(q.stderr == "ptinspect: Fixtures/broken/empty.pt: empty file (0 bytes)\n")
  }

  @Test("a filter that matches nothing says so and exits 1")
  func noMatch() throws {
    let t = try runPTInspect(["tensors", "--filter", "nomatch*", "Fixtures/tied.pt"])
    #expect(t.status == 1)
    #expect(t.stderr == "ptinspect: Fixtures/tied.pt: --filter 'nomatch*' matches no tensor\n")
    let s = try runPTInspect(["stats", "--filter", "nomatch*", "Fixtures/tied.pt"])
    #expect(s.status == 1)
    #expect(s.stderr == "ptinspect: Fixtures/tied.pt: --filter 'nomatch*' matches no tensor\n")
    #expect(try runPTInspect(["tensors", "--filter", "emb.*", "Fixtures/tied.pt"]).status == 0)
  }

  @Test("- reads a checkpoint from standard input")
  func standardInput() throws {
    let r = try runPTInspect(["summary", "-"], stdin: Fixtures.path("tied.pt"))
    #expect(r.status == 0)
    #expect(r.stdout.hasPrefix("<stdin>: torch-zip, 9.9 KiB, 6 tensors"))
    let scan = try runPTInspect(["scan", "-"], stdin: Fixtures.path("hostile/os_system.pt"))
    #expect(scan.status == 1)
    let stats = try runPTInspect(["stats", "/dev/stdin"], stdin: Fixtures.path("tied.pt"))
    #expect(stats.status == 0)
    #expect(stats.stdout.contains("6 tensors"))
    let empty = try runPTInspect(["summary", "-"], stdin: Fixtures.path("broken/empty.pt"))
    #expect(empty.status == 2)
    #expect(empty.stderr == "ptinspect: <stdin>: empty file (0 bytes)\n")
  }

  @Test("safetensors: the bytes besides the tensors are the header")
  func safetensorsHeader() throws {
    let r = try runPTInspect(["Fixtures/small_cnn.safetensors"])
    #expect(r.stdout.contains("bytes of header"))
    #expect(!r.stdout.contains("pickle and container"))
  }
}

@Suite struct StatsFindingsTests {
  static let file = "Fixtures/output/stats_findings.pt"

  @Test("stats calls out what is wrong before any table")
  func findings() throws {
    let r = try runPTInspect(["stats", Self.file])
    #expect(r.status == 0)
    assertGolden(r.stdout, named: "stats-findings.txt")
    let lines = r.stdout.split(separator: "\n").map(String.init)
    #expect(lines[1] == "Findings (7)")
    for expected in [
      "  running-var: 1.running_var: negative variance (min -0.25)",
      "  all-zero: 2.weight: all 144 values are 0",
      "  constant: 4.weight: all 64 values are 0.5",
      "  nan-inf: 5.weight: 1 of 64 values not finite (nan 1, inf 0)",
      "  identical: 7.weight: the same values as 6.weight (every statistic equal; not tied in the file)",
      "  all-zero: layer 2 (Conv2d): every weight is 0",
    ] {
      #expect(lines.contains(expected), "\(expected)")
    }
    #expect(lines.contains { $0.hasPrefix("  out-of-scale: 3.weight: max |value| 166.46 is ") })
    // The weights' rollup leaves the running statistics out; they have their own table.
    #expect(
      lines.contains { $0.hasPrefix("1      BatchNorm2d        2      8         0        1") })
    #expect(lines.contains { $0.hasPrefix("Buffers of  Type") })
    let json = try runPTInspect(["stats", "--format", "json", Self.file])
    let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
    let kinds = (object?["findings"] as? [[String: Any]])?.compactMap { $0["kind"] as? String }
    #expect(
      kinds == [
        "running-var", "all-zero", "out-of-scale", "constant", "nan-inf", "identical", "all-zero",
      ])
    #expect((object?["layerBuffers"] as? [[String: Any]])?.count == 1)
    #expect((object?["layerParameters"] as? [[String: Any]])?.count == 8)
  }

  @Test("a clean file says so in one line")
  func none() throws {
    let r = try runPTInspect(["stats", "Fixtures/cifar_cnn.pt"])
    #expect(
      r.stdout.contains(
        "\n\nFindings: none (no NaN/Inf, all-zero or constant weights, outliers or copies)\n\n"))
  }

  @Test("--top and --sort pick the tensor rows; a big file shows 25 unless --all")
  func topAndSort() throws {
    let r = try runPTInspect(["stats", "--top", "2", "--sort", "absmax", Self.file])
    let rows = r.stdout.split(separator: "\n").filter { $0.contains(" float32 ") }
    // Largest |value| first; ties keep the file's order (1.weight before 1.running_var).
    #expect(
      rows.map { $0.split(separator: " ").first.map(String.init) ?? "" } == [
        "3.weight", "1.weight",
      ])
    #expect(r.stdout.contains("(2 of 19 tensors shown; the total covers all;"))
    let big = try runPTInspect(["stats", "Fixtures/output/vit_depth12.pt"])
    #expect(big.stdout.contains("(25 of 152 tensors shown;"))
    let all = try runPTInspect(
      ["stats", "--all", "Fixtures/output/vit_depth12.pt"], environment: ["COLUMNS": "200"])
    #expect(!all.stdout.contains("tensors shown"))
    #expect(all.stdout.contains("encoder.layers.encoder_layer_11.mlp.3.bias"))
    let bad = try runPTInspect(["stats", "--top", "0", Self.file])
    #expect(bad.status == 64)
  }
}

/// Every table fitted to the terminal: tensors, diff, stats, scan, budget and the many-files
/// summary at 60 and 80 columns (text cut with `...`, low-priority columns left out with a
/// line saying so) and at 200 (as wide as they are), no line wider than the terminal.
@Suite struct FittedTableTests {
  static let commands: [String: [String]] = [
    "tensors-cifar": ["tensors", "Fixtures/cifar_cnn.pt"],
    "tensors-vit": [
      "tensors", "--filter", "encoder.layers.encoder_layer_1*", "Fixtures/output/vit_depth12.pt",
    ],
    "diff-values": ["diff", "--values", "Fixtures/diff/base.pt", "Fixtures/diff/finetuned.pt"],
    "diff-structure": ["diff", "Fixtures/diff/base.pt", "Fixtures/diff/widened.pt"],
    "stats-findings": ["stats", "Fixtures/output/stats_findings.pt"],
    "scan-os_system": ["scan", "Fixtures/hostile/os_system.pt"],
    "scan-zip_tricks": ["scan", "Fixtures/hostile/zip_tricks.pt"],
    "budget-cifar": [
      "budget", "--max-params", "5.8M", "--budget", "1*=5M", "Fixtures/cifar_cnn.pt",
    ],
    "summary-many": [
      "summary", "Fixtures/tied.pt", "Fixtures/broken/empty.pt", "Fixtures/hostile/os_system.pt",
    ],
    "summary-vit": ["summary", "Fixtures/output/vit_depth12.pt"],
  ]

  @Test(arguments: commands.keys.sorted(), [60, 80, 200])
  func fitted(_ name: String, _ width: Int) throws {
    let r = try runPTInspect(Self.commands[name] ?? [], environment: ["COLUMNS": String(width)])
    #expect(r.status <= 2)
    assertGolden(r.stdout, named: "layout-\(name)-\(width)cols.txt")
    let wide = outputLines(r.stdout).filter { $0.count > width }
    #expect(wide.isEmpty, "\(name) at \(width): \(wide)")
    if width == 200 {
      // Wide enough for every table: nothing cut, nothing left out.
      #expect(!r.stdout.contains("left out to fit"), "\(name)")
      let all = try runPTInspect(
        Self.commands[name] ?? [], environment: ["COLUMNS": "1000"])
      #expect(
        r.stdout.components(separatedBy: "...").count
          == all.stdout.components(separatedBy: "...").count, "\(name)")
    }
  }

  @Test("a left-out column is named, with how to see it")
  func droppedColumnsAreNamed() throws {
    let r = try runPTInspect(["tensors", "Fixtures/cifar_cnn.pt"], environment: ["COLUMNS": "80"])
    #expect(
      r.stdout.contains(
        "(columns Stride, Storage, Offset, Numel left out to fit 80 columns: COLUMNS=118\n or --format json for all)"
      ))
    // What is left out of the table is still in the JSON.
    let json = try runPTInspect(
      ["tensors", "--format", "json", "Fixtures/cifar_cnn.pt"], environment: ["COLUMNS": "60"])
    #expect(json.stdout.contains("\"stride\""))
    // Numbers are never cut: whole columns are left out instead.
    let values = try runPTInspect(
      ["diff", "--values", "Fixtures/diff/base.pt", "Fixtures/diff/finetuned.pt"],
      environment: ["COLUMNS": "60"])
    #expect(values.stdout.contains("head.weight                    0.0282  0.997932"))
  }

  @Test("ViT-B/16's group label keeps its [0-11] x12 end when the Layer column shrinks")
  func groupLabel() throws {
    let r = try runPTInspect(["summary", "Fixtures/output/vit_depth12.pt"])
    let group = try #require(outputLines(r.stdout).first { $0.contains("x12") })
    #expect(group.hasPrefix("...encoder_layer_[0-11] x12  "))
    // Only the group's label is cut: the other names stay whole.
    #expect(r.stdout.contains("\n  .self_attention "))
    #expect(r.stdout.contains("\nencoder.ln "))
  }
}
