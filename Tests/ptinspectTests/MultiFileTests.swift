// MultiFileTests.swift: many checkpoints at once (`summary a.pt b.pt dir/`, `budget` over a
// model zoo): one row a file, JSON lines, stable order, folders, one unreadable file reported
// without stopping the rest; and the memory block of `summary --memory`.

import Foundation
import PTInspectTestSupport
import Testing

/// A model zoo in a temporary folder: two good checkpoints, one broken, one note, one hidden file.
func makeZoo() throws -> String {
  let dir = try temporaryFolder()
  let fm = FileManager.default
  try fm.copyItem(atPath: Fixtures.path("diff/base.pt"), toPath: dir + "/a_base.pt")
  try fm.copyItem(atPath: Fixtures.path("diff/widened.pt"), toPath: dir + "/b_widened.pt")
  try fm.copyItem(atPath: Fixtures.path("broken/truncated_zip.pt"), toPath: dir + "/c_broken.pt")
  try "not a checkpoint\n".write(toFile: dir + "/notes.txt", atomically: true, encoding: .utf8)
  try fm.copyItem(atPath: Fixtures.path("diff/base.pt"), toPath: dir + "/.hidden.pt")
  try fm.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
  try fm.copyItem(atPath: Fixtures.path("tied.pt"), toPath: dir + "/sub/tied.pt")
  return dir
}

func lines(_ s: String) -> [String] { s.split(separator: "\n").map(String.init) }

func jsonObjects(_ jsonl: String) throws -> [[String: Any]] {
  try lines(jsonl).map { line in
    try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
  }
}

@Suite struct MultiFileTests {
  static let diffFiles = [
    "base.pt", "base_copy.pt", "dataparallel.pt", "finetuned.pt", "fp16.pt", "widened.pt",
  ]

  @Test func summaryTableOneRowAFile() throws {
    let r = try runPTInspect(["summary", "Fixtures/diff", "Fixtures/tied.pt"])
    #expect(r.status == 0)
    #expect(r.stderr == "")
    assertGolden(r.stdout, named: "budget-many-summary.txt")
  }

  @Test func summaryJSONLinesAgainstTorch() throws {
    let r = try runPTInspect(["summary", "--format", "jsonl", "Fixtures/diff"])
    #expect(r.status == 0)
    let objects = try jsonObjects(r.stdout)
    #expect(objects.map { $0["file"] as? String } == Self.diffFiles.map { "Fixtures/diff/" + $0 })
    for (file, object) in zip(Self.diffFiles, objects) {
      let torch = try TorchNumbersE2E("diff/" + file)
      let totals = try #require(object["totals"] as? [String: Any])
      #expect(totals["parameters"] as? Int == torch.parameters, "\(file)")
      #expect(totals["buffers"] as? Int == torch.buffers, "\(file)")
      #expect(object["schemaVersion"] as? Int == 1)
      #expect(object["memory"] is [String: Any])
    }
  }

  @Test func orderFollowsTheArguments() throws {
    let files = [
      "Fixtures/tied.pt", "Fixtures/diff/widened.pt", "Fixtures/cifar_cnn.pt",
      "Fixtures/diff/base.pt",
    ]
    let r = try runPTInspect(["summary", "--format", "jsonl"] + files)
    #expect(try jsonObjects(r.stdout).map { $0["file"] as? String } == files)
    let b = try runPTInspect(["budget", "--format", "jsonl", "--max-params", "1.7K"] + files)
    #expect(b.status == 1)
    let verdicts = try jsonObjects(b.stdout)
    #expect(verdicts.map { $0["file"] as? String } == files)
    #expect(verdicts.map { $0["verdict"] as? String } == ["fail", "fail", "fail", "pass"])
  }

  @Test func budgetOverAZoo() throws {
    let r = try runPTInspect([
      "budget", "Fixtures/diff", "--max-params", "1.7K", "--max-bytes", "7KiB",
    ])
    #expect(r.status == 1)
    assertGolden(r.stdout, named: "budget-many-diff.txt")
    let md = try runPTInspect([
      "budget", "Fixtures/diff", "--max-params", "1.7K", "--format", "markdown",
    ])
    #expect(md.status == 1)
    assertGolden(md.stdout, named: "budget-many-diff.md")
    let json = try runPTInspect([
      "budget", "Fixtures/diff", "--max-params", "1.8K", "--format", "json",
    ])
    #expect(json.status == 0)
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    #expect(object["schemaVersion"] as? Int == 1)
    #expect(object["verdict"] as? String == "pass")
    #expect((object["files"] as? [[String: Any]])?.count == 6)
  }

  @Test func aFolderWithOneBrokenFile() throws {
    let zoo = try makeZoo()
    defer { try? FileManager.default.removeItem(atPath: zoo) }
    let broken =
      "ptinspect: \(zoo)/c_broken.pt: truncated or corrupt zip archive: the central directory at its end is missing (was the file cut short?)\n"
    // summary: the good files are listed, the broken one reported once, exit 2 at the end.
    // Wide enough for the temporary folder's long paths (a narrower table cuts them in the middle).
    let s = try runPTInspect(["summary", zoo], environment: ["COLUMNS": "300"])
    #expect(s.status == 2)
    #expect(s.stderr == broken)
    let rows = lines(s.stdout)
    #expect(rows.count == 8)  // header, 3 files, rule, total, note, the reason
    #expect(rows.contains { $0.hasPrefix("\(zoo)/a_base.pt ") && $0.contains("1,610") })
    #expect(rows.contains { $0.hasPrefix("\(zoo)/b_widened.pt ") && $0.contains("1,780") })
    #expect(rows.contains { $0.hasPrefix("\(zoo)/c_broken.pt ") && $0.contains("unreadable") })
    #expect(!s.stdout.contains("notes.txt"))
    #expect(!s.stdout.contains("hidden"))
    #expect(!s.stdout.contains("tied"))  // not recursive
    #expect(
      s.stdout.hasSuffix(
        "1 file could not be read:\n  \(zoo)/c_broken.pt: truncated or corrupt zip archive: the central directory at its end is missing (was the file cut short?)\n"
      ))
    // jsonl: a line per file, the broken one an error entry.
    let j = try runPTInspect(["summary", "--format", "jsonl", zoo])
    #expect(j.status == 2)
    let entries = try jsonObjects(j.stdout)
    #expect(
      entries.map { $0["file"] as? String } == [
        "\(zoo)/a_base.pt", "\(zoo)/b_widened.pt", "\(zoo)/c_broken.pt",
      ])
    #expect(entries.map { $0["errorKind"] as? String } == [nil, nil, "container"])
    // budget: the broken file is an error row, the others are checked.
    let b = try runPTInspect(["budget", zoo, "--max-params", "2K", "--format", "jsonl"])
    #expect(b.status == 2)
    #expect(b.stderr == broken)
    let verdicts = try jsonObjects(b.stdout)
    #expect(verdicts.map { $0["verdict"] as? String } == ["pass", "pass", "error"])
    #expect(
      verdicts.last?["error"] as? String
        == "truncated or corrupt zip archive: the central directory at its end is missing (was the file cut short?)"
    )
    // Recursive: the subfolder's checkpoint joins.
    let rec = try runPTInspect(["summary", "--format", "jsonl", "--recursive", zoo])
    #expect(try jsonObjects(rec.stdout).map { $0["file"] as? String }.last == "\(zoo)/sub/tied.pt")
  }

  @Test func namedFilesAreAlwaysReported() throws {
    // A file named on the command line is reported even when it is not a checkpoint.
    let r = try runPTInspect(["summary", "Fixtures/diff/base.pt", "Fixtures/README.md"])
    #expect(r.status == 2)
    #expect(r.stderr.hasPrefix("ptinspect: Fixtures/README.md: not a PyTorch checkpoint"))
    #expect(r.stdout.contains("Fixtures/diff/base.pt"))
  }

  @Test func foldersWithoutCheckpointsAreErrors() throws {
    let dir = try temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let empty = try runPTInspect(["summary", dir])
    #expect(empty.status == 2)
    #expect(empty.stderr == "ptinspect: \(dir): no checkpoint files in the folder\n")
    try "hello\n".write(toFile: dir + "/README.md", atomically: true, encoding: .utf8)
    let notes = try runPTInspect(["budget", dir, "--max-params", "1M"])
    #expect(notes.status == 2)
    #expect(notes.stderr == "ptinspect: \(dir): no checkpoint files in the folder\n")
  }

  @Test func shardedFoldersAreOneCheckpoint() throws {
    let r = try runPTInspect([
      "summary", "--format", "jsonl", "Fixtures/sharded", "Fixtures/sharded_bin",
    ])
    #expect(r.status == 0)
    let objects = try jsonObjects(r.stdout)
    #expect(objects.map { $0["format"] as? String } == ["safetensors-index", "torch-index"])
    #expect(
      objects.map { ($0["totals"] as? [String: Any])?["parameters"] as? Int } == [92_466, 92_466])
  }

  @Test func memoryBlock() throws {
    let r = try runPTInspect(["summary", "--memory", "Fixtures/cifar_cnn.pt"])
    #expect(r.status == 0)
    assertGolden(r.stdout, named: "memory-cifar_cnn.txt")
    let md = try runPTInspect([
      "summary", "--memory", "--format", "markdown", "Fixtures/ema_checkpoint.pt",
    ])
    #expect(md.status == 0)
    assertGolden(md.stdout, named: "memory-ema_checkpoint.md")
    // Without --memory the table has no memory block; JSON always has it.
    let plain = try runPTInspect(["summary", "Fixtures/cifar_cnn.pt"])
    #expect(!plain.stdout.contains("Adam"))
    let json = try runPTInspect(["summary", "--format", "json", "Fixtures/cifar_cnn.pt"])
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    let memory = try #require(object["memory"] as? [String: Any])
    #expect(memory["storedBytes"] as? Int == 23_412_544)
    // --memory with several files prints each file's full summary.
    let many = try runPTInspect([
      "summary", "--memory", "Fixtures/diff/base.pt", "Fixtures/tied.pt",
    ])
    #expect(many.stdout.components(separatedBy: "Adam, mixed precision").count == 3)
  }
}

/// Torch's counts from a fixture's expected.json.
struct TorchNumbersE2E {
  var parameters: Int
  var buffers: Int
  init(_ fixture: String) throws {
    let model = try #require(try Fixtures.expected(fixture)["model"] as? [String: Any])
    parameters = try #require(model["parameters"] as? Int)
    buffers = try #require(model["buffers"] as? Int)
  }
}
