// TestSupport.swift: fixture paths, running the built binary, and golden files.

import Foundation
import Testing

/// Paths into the repository's Fixtures/ folder.
public enum Fixtures {
  /// The repository root, found from this file's path.
  public static let root: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  /// `Fixtures/<name>` as a path.
  public static func path(_ name: String) -> String {
    root.appendingPathComponent("Fixtures").appendingPathComponent(name).path
  }

  /// `Fixtures/<name>` relative to the repository root, as the README shows it.
  public static func relative(_ name: String) -> String { "Fixtures/" + name }

  /// Reads `Fixtures/<name>.expected.json` (what torch reported when it made the fixture).
  public static func expected(_ name: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path(name + ".expected.json")))
    return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
  }
}

/// The result of running the `ptinspect` binary.
public struct RunResult: Sendable {
  public var status: Int32
  public var stdout: String
  public var stderr: String

  public init(status: Int32, stdout: String, stderr: String) {
    self.status = status
    self.stdout = stdout
    self.stderr = stderr
  }
}

/// Runs the built `ptinspect` with `arguments`, from the repository root, with colour off and
/// COLUMNS and LINES unset (tables fit 100 columns and 45 lines unless a test sets them).
/// Runs from `directory` when given (the repository root by default).
/// `stdin`, when given, is a file fed to its standard input.
public func runPTInspect(
  _ arguments: [String], environment: [String: String] = [:], directory: String? = nil,
  stdin: String? = nil
) throws -> RunResult {
  // Tests run from <scratch>/debug/<bundle>.xctest; the binary sits in the same folder.
  let binary = Bundle.main.bundleURL.appendingPathComponent("ptinspect")
  let candidates = [
    binary, Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("ptinspect"),
  ]
  guard let exe = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) })
  else {
    throw RunError.binaryNotFound(binary.path)
  }
  var env = ProcessInfo.processInfo.environment
  env["NO_COLOR"] = "1"
  env["COLUMNS"] = nil
  env["LINES"] = nil
  for (k, v) in environment { env[k] = v }
  return try runProgram(
    exe, arguments, environment: env, directory: directory ?? Fixtures.root.path, stdin: stdin)
}

/// Runs `executable` with `arguments` in `directory` (the current folder by default), with
/// `environment` (this process's by default), `stdin` (a file) as its standard input when given,
/// and returns its status and output.
public func runProgram(
  _ executable: URL, _ arguments: [String], environment: [String: String]? = nil,
  directory: String? = nil, stdin: String? = nil
) throws -> RunResult {
  let process = Process()
  process.executableURL = executable
  process.arguments = arguments
  if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
  if let environment { process.environment = environment }
  let out = Pipe()
  let err = Pipe()
  process.standardOutput = out
  process.standardError = err
  if let stdin { process.standardInput = FileHandle(forReadingAtPath: stdin) }
  try process.run()
  // Read before waiting so a large output cannot fill the pipe and block the child.
  let outData = out.fileHandleForReading.readDataToEndOfFile()
  let errData = err.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return RunResult(
    status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
    stderr: String(decoding: errData, as: UTF8.self))
}

public enum RunError: Error { case binaryNotFound(String) }

/// Compares `actual` with `Fixtures/golden/<name>`. With PTINSPECT_RECORD_GOLDEN=1 (or when the
/// file is missing) it writes the file and records a test issue, so recording never passes.
public func assertGolden(
  _ actual: String, named name: String, sourceLocation: SourceLocation = #_sourceLocation
) {
  let url = Fixtures.root.appendingPathComponent("Fixtures/golden").appendingPathComponent(name)
  let record = ProcessInfo.processInfo.environment["PTINSPECT_RECORD_GOLDEN"] == "1"
  guard !record, let expected = try? String(contentsOf: url, encoding: .utf8) else {
    try? FileManager.default.createDirectory(
      at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try? actual.write(to: url, atomically: true, encoding: .utf8)
    Issue.record(
      "recorded golden file \(name); check it and run again", sourceLocation: sourceLocation)
    return
  }
  if expected != actual {
    let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
    let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
    let firstDiff =
      zip(e, a).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(e.count, a.count)
    let expectedLine = firstDiff < e.count ? String(e[firstDiff]) : "<end>"
    let actualLine = firstDiff < a.count ? String(a[firstDiff]) : "<end>"
    Issue.record(
      "golden \(name) differs at line \(firstDiff + 1):\n  expected: \(expectedLine)\n  actual:   \(actualLine)",
      sourceLocation: sourceLocation)
  }
}
