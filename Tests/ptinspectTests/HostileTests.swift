// HostileTests.swift: every hostile input, through the summary and the scan: the exact exit code
// and error line; no crash, no hang, no large allocation; and no file created or command run,
// whatever the input asks for.

import Foundation
import PTInspectTestSupport
import Testing

/// What running the binary in a sandbox gave.
struct SandboxRun {
  var status: Int32
  var stdout: String
  var stderr: String
  var timedOut: Bool
  /// Whether the process died of a signal (a crash, or the memory cap).
  var signalled: Bool
}

/// Runs the built `ptinspect` from `directory`, with its address space capped at `memoryKB`
/// (`ulimit -v`) and killed after `seconds`: a large allocation fails, a hang is caught.
func runSandboxed(
  _ arguments: [String], in directory: URL, memoryKB: Int = 1_048_576, seconds: Double = 120
) throws -> SandboxRun {
  let here = Bundle.main.bundleURL
  let candidates = [
    here.appendingPathComponent("ptinspect"),
    here.deletingLastPathComponent().appendingPathComponent("ptinspect"),
  ]
  guard
    let binary = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) })
  else {
    throw RunError.binaryNotFound(here.path)
  }
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/bin/sh")
  process.arguments = ["-c", "ulimit -v \(memoryKB); exec \"$0\" \"$@\"", binary.path] + arguments
  process.currentDirectoryURL = directory
  var env = ProcessInfo.processInfo.environment
  env["NO_COLOR"] = "1"
  process.environment = env
  let out = Pipe()
  let err = Pipe()
  process.standardOutput = out
  process.standardError = err
  try process.run()
  let timer = DispatchWorkItem { if process.isRunning { process.terminate() } }
  DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: timer)
  let outData = out.fileHandleForReading.readDataToEndOfFile()
  let errData = err.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  let timedOut =
    !timer.isCancelled && process.terminationReason == .uncaughtSignal
    && process.terminationStatus == SIGTERM
  timer.cancel()
  return SandboxRun(
    status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
    stderr: String(decoding: errData, as: UTF8.self), timedOut: timedOut,
    signalled: process.terminationReason == .uncaughtSignal)
}

func freshDirectory(_ label: String) throws -> URL {
  let url = FileManager.default.temporaryDirectory.appendingPathComponent(
    "ptinspect-\(label)-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url
}

@Suite struct HostileTests {
  /// (fixture, summary status, summary stderr, scan status, scan stderr). Stderr is exact.
  static let cases: [(String, Int32, String, Int32, String)] = [
    ("hostile/os_system.pt", 0, "", 1, ""),
    ("hostile/touch_marker.pkl", 0, "", 1, ""),
    ("hostile/nested_lists.pkl", 0, "", 0, ""),
    ("hostile/nested_lists.pt", 0, "", 0, ""),
    (
      "hostile/memo_out_of_range.pt",
      2,
      "memo_out_of_range/data.pkl: corrupt pickle: BINGET at offset 2 reads memo key 200, which was never set",
      2,
      "memo_out_of_range/data.pkl: corrupt pickle: BINGET at offset 2 reads memo key 200, which was never set"
    ),
    (
      "hostile/huge_shape.pt",
      2,
      "tensor '0.weight' has a shape [4611686018427387904, 3, 3, 3] and stride [27, 9, 3, 1] that overflow",
      0, ""
    ),
    (
      "hostile/huge_string.pt",
      2,
      "huge_string/data.pkl: truncated pickle: BINUNICODE at offset 2 needs 4294967295 bytes, 1017 remain",
      2,
      "huge_string/data.pkl: truncated pickle: BINUNICODE at offset 2 needs 4294967295 bytes, 1017 remain"
    ),
    (
      "hostile/zip_bomb.pt",
      2, "zip entry bomb/data.pkl expands 203842 bytes to 209715200: refused as a zip bomb",
      2, "zip entry bomb/data.pkl expands 203842 bytes to 209715200: refused as a zip bomb"
    ),
    (
      "hostile/truncated_zip.pt",
      2,
      "truncated or corrupt zip archive: the central directory at its end is missing (was the file cut short?)",
      2,
      "truncated or corrupt zip archive: the central directory at its end is missing (was the file cut short?)"
    ),
    (
      "hostile/zip_tricks.pt",
      2, "not a PyTorch checkpoint: unrecognised content (first bytes 23 21 70 72 65 66 69 78)",
      1, ""
    ),
  ]

  @Test(arguments: cases.indices)
  func exitCodesAndMessages(_ i: Int) throws {
    let (name, summaryStatus, summaryError, scanStatus, scanError) = Self.cases[i]
    let file = Fixtures.relative(name)
    func line(_ message: String) -> String {
      message.isEmpty ? "" : "ptinspect: \(file): \(message)\n"
    }
    let summary = try runPTInspect([file])
    #expect(summary.status == summaryStatus, "\(name): \(summary.stderr)")
    #expect(summary.stderr == line(summaryError), "\(name)")
    let scan = try runPTInspect(["scan", file])
    #expect(scan.status == scanStatus, "\(name): \(scan.stderr)")
    #expect(scan.stderr == line(scanError), "\(name)")
  }

  /// The scan corpus (scripts/make_scan_corpus.py), listed in hostile/corpus.tsv: ScanCorpusTests.
  static func corpus(_ folder: String) throws -> [String] {
    let text = try String(contentsOfFile: Fixtures.path(folder + "/corpus.tsv"), encoding: .utf8)
    return text.split(separator: "\n").dropFirst().compactMap {
      $0.split(separator: "\t").first.map { folder + "/" + $0 }
    }
  }

  @Test func everyHostileFixtureIsCovered() throws {
    let names = try FileManager.default.contentsOfDirectory(atPath: Fixtures.path("hostile")).filter
    { !$0.hasSuffix(".md") && !$0.hasSuffix(".tsv") }
    #expect(
      Set(names.map { "hostile/" + $0 })
        == Set(Self.cases.map(\.0)).union(try Self.corpus("hostile")))
  }

  /// Inputs made on the fly: each once made the decoder or the interpreter crash, take minutes,
  /// or ask for gigabytes.
  static func generated() -> [(String, [UInt8], Int32, String)] {
    let n = 100_000
    var memo: [UInt8] = [0x80, 0x02, 0x4E]
    for i in 1..<20_000 {
      let key = UInt32(i) * 65_535
      memo += [0x72] + (0..<4).map { UInt8(truncatingIfNeeded: key >> (8 * $0)) }
    }
    memo += [0x2E]
    // Two million levels: the walk copied the growing path at each one (quadratic: minutes).
    let nestedState: [UInt8] =
      [0x80, 0x02] + Array("ccollections\nOrderedDict\n)RX\u{01}\0\0\0a)".utf8)
      + Array(repeating: 0x85, count: 2_000_000) + [0x73, 0x2E]
    // 20,000 partials, each wrapping a global of its own module, beside 20,000 more globals:
    // grouping the scan's advice by text was quadratic (minutes).
    var manyGlobals: [UInt8] = [0x80, 0x02, 0x28]
    for i in 0..<20_000 {
      manyGlobals += Array("cfunctools\npartial\ncm\(i)\nf\(i)\n".utf8) + [0x85, 0x52]
      manyGlobals += Array("cn\(i)\ng\(i)\n".utf8)
    }
    manyGlobals += [0x6C, 0x2E]
    return [
      ("many_globals.pkl", manyGlobals, 0, ""),
      // A LONG of 196,000 digits: a quadratic conversion took minutes.
      (
        "long_digits.pkl",
        [0x80, 0x02, 0x4C] + Array(repeating: 0x39, count: 196_000) + [0x4C, 0x0A, 0x2E], 2,
        "pickle limit exceeded: LONG at offset 2: integer digits 196000 is over the limit of 4300"
      ),
      // LONG_BINPUT keys 65,535 apart: the dense memo grew 64K entries per opcode (30 GB).
      ("memo_spread.pkl", memo, 0, ""),
      // A state dict whose value nests tuples deep: the optimizer check recursed (a crash at
      // 100,000 levels), and the walk took quadratic time (found by scripts/fuzz: an OOM under ASan).
      ("nested_state.pkl", nestedState, 0, ""),
      // Dicts nested 100,000 deep.
      (
        "nested_dicts.pkl",
        [0x80, 0x02, 0x7D] + [UInt8]([0x4B, 0x00, 0x7D]).repeated(n)
          + Array(repeating: 0x73, count: n)
          + [0x2E], 0, ""
      ),
    ]
  }

  @Test func generatedInputsAreBounded() throws {
    let inputs = try freshDirectory("hostile-inputs")
    let cwd = try freshDirectory("hostile-cwd")
    for (name, bytes, status, message) in Self.generated() {
      let path = inputs.appendingPathComponent(name).path
      try Data(bytes).write(to: URL(fileURLWithPath: path))
      for command in [[], ["scan"], ["tensors"]] {
        let r = try runSandboxed(command + [path], in: cwd, seconds: 60)
        #expect(!r.timedOut, "\(name) \(command): hung")
        #expect(
          !r.signalled, "\(name) \(command): crashed or ran out of memory: \(r.stderr.prefix(300))")
        #expect(r.status == status, "\(name) \(command): \(r.stderr.prefix(300))")
        if !message.isEmpty {
          #expect(r.stderr == "ptinspect: \(path): \(message)\n", "\(name) \(command)")
        }
      }
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: cwd.path) == [])
  }

  /// No input, whatever it asks for, makes ptinspect create a file or run a command. The hostile
  /// payloads `touch ptinspect-pwned-*` in the working directory; it must stay empty.
  @Test func noFileCreatedNoCommandRun() throws {
    let cwd = try freshDirectory("sandbox")
    var files = try FileManager.default.contentsOfDirectory(atPath: Fixtures.path("hostile")).filter
    { !$0.hasSuffix(".md") && !$0.hasSuffix(".tsv") }
    .map { "hostile/" + $0 }
    files += try Self.corpus("benign")
    files += try FileManager.default.contentsOfDirectory(atPath: Fixtures.path("broken")).filter {
      !$0.hasSuffix(".md")
    }
    .map { "broken/" + $0 }
    files += [
      "views.pt", "legacy_cnn.pt", "scripted.pt", "whole_model_legacy.pt", "small_cnn.safetensors",
    ]
    #expect(files.count >= 80)
    let commands: [[String]] = [
      [], ["--format", "json"], ["tensors"], ["scan"], ["scan", "--format", "json"],
      ["scan", "--format", "markdown"],
    ]
    for file in files.sorted() {
      for command in commands {
        let r = try runSandboxed(command + [Fixtures.path(file)], in: cwd)
        #expect(!r.timedOut && !r.signalled, "\(file) \(command): \(r.stderr.prefix(300))")
        #expect([0, 1, 2].contains(r.status), "\(file) \(command)")
        // The payload's text may be printed as data (the scan quotes it), never as command output.
        #expect(!r.stdout.split(separator: "\n").contains { $0 == "pwned" }, "\(file) \(command)")
      }
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: cwd.path) == [])
  }
}

extension Array {
  fileprivate func repeated(_ n: Int) -> [Element] {
    var out: [Element] = []
    out.reserveCapacity(count * n)
    for _ in 0..<n { out += self }
    return out
  }
}
