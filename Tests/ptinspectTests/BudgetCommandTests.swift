// BudgetCommandTests.swift: `ptinspect budget` end to end: every exit code (0, 1, 2, 64), every
// rule parser error's exact message, the budget file, JSON, Markdown and golden tables.

import Foundation
import PTInspectTestSupport
import Testing

/// Runs the built binary from `directory` (for budget-file discovery), colour off.
func runPTInspect(in directory: String, _ arguments: [String]) throws -> RunResult {
  try runPTInspect(arguments, directory: directory)
}

/// A fresh temporary folder, removed by the caller.
func temporaryFolder() throws -> String {
  let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
    "ptinspect-\(UUID().uuidString)"
  ).path
  try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
  return dir
}

@Suite struct BudgetCommandTests {
  static let cifar = "Fixtures/cifar_cnn.pt"

  @Test func withinBudgetExitsZero() throws {
    let r = try runPTInspect(["budget", Self.cifar, "--max-params", "6M"])
    #expect(r.status == 0)
    #expect(r.stderr == "")
    assertGolden(r.stdout, named: "budget-cifar-pass.txt")
  }

  @Test func overBudgetExitsOne() throws {
    let r = try runPTInspect([
      "budget", Self.cifar, "--max-params", "5.8M", "--max-bytes", "25MB", "--max-file-bytes",
      "30MB",
      "--budget", "1*=5M", "--budget", "19=4.2M",
    ])
    #expect(r.status == 1)
    #expect(r.stderr == "")
    #expect(
      r.stdout.hasSuffix(
        "FAIL Fixtures/cifar_cnn.pt: over budget on 2 of 5 rules (max-params 5.8M by 52,234 parameters;\n     budget 1*=5M by 81,344 parameters)\n"
      ))
    assertGolden(r.stdout, named: "budget-cifar-fail.txt")
  }

  @Test func markdownForAPullRequest() throws {
    let r = try runPTInspect([
      "budget", Self.cifar, "--max-params", "5.8M", "--max-bytes", "25MB", "--format", "markdown",
    ])
    #expect(r.status == 1)
    #expect(r.stdout.hasPrefix("### ptinspect budget: ❌ over budget\n"))
    assertGolden(r.stdout, named: "budget-cifar-fail.md")
    let pass = try runPTInspect([
      "budget", Self.cifar, "--max-params", "6M", "--format", "markdown",
    ])
    #expect(pass.status == 0)
    #expect(pass.stdout.hasPrefix("### ptinspect budget: ✅ within budget\n"))
  }

  @Test func json() throws {
    let r = try runPTInspect([
      "budget", Self.cifar, "--max-params", "5.8M", "--budget", "1*=5.1M", "--format", "json",
    ])
    #expect(r.status == 1)
    let json = try #require(
      try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    #expect(json["schemaVersion"] as? Int == 1)
    #expect(json["file"] as? String == Self.cifar)
    #expect(json["verdict"] as? String == "fail")
    let rules = try #require(json["rules"] as? [[String: Any]])
    #expect(rules.map { $0["rule"] as? String } == ["max-params 5.8M", "budget 1*=5.1M"])
    #expect(rules.map { $0["actual"] as? Int } == [5_852_234, 5_081_344])
    #expect(rules.map { $0["limit"] as? Int } == [5_800_000, 5_100_000])
    #expect(rules.map { $0["margin"] as? Int } == [-52_234, 18_656])
    #expect(rules.map { $0["pass"] as? Bool } == [false, true])
    #expect(rules[1]["matched"] as? Int == 16)  // 11.*, 12.*, 14.*, 17.*, 19.* with buffers
  }

  @Test func growthAgainstABaseline() throws {
    let r = try runPTInspect([
      "budget", "Fixtures/diff/widened.pt", "--baseline", "Fixtures/diff/base.pt", "--max-growth",
      "5%",
      "--max-bytes-growth", "+1KB",
    ])
    #expect(r.status == 1)
    assertGolden(r.stdout, named: "budget-growth.txt")
    let ok = try runPTInspect([
      "budget", "Fixtures/diff/widened.pt", "--baseline", "Fixtures/diff/base.pt", "--max-growth",
      "+170",
    ])
    #expect(ok.status == 0)
    #expect(
      ok.stdout.contains(
        "max-growth +170 vs Fixtures/diff/base.pt  +170 (+10.6%)   +170       0  ok"))
  }

  @Test func baselineFolderMatchedByFileName() throws {
    let old = try temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: old) }
    // The old release of widened.pt was base.pt; tied.pt is new and has no baseline.
    try FileManager.default.copyItem(
      atPath: Fixtures.path("diff/base.pt"), toPath: old + "/widened.pt")
    let r = try runPTInspect([
      "budget", "Fixtures/diff/widened.pt", "Fixtures/tied.pt", "--baseline", old, "--max-growth",
      "5%",
      "--format", "json",
    ])
    #expect(r.status == 1)
    let json = try #require(
      try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    let files = try #require(json["files"] as? [[String: Any]])
    #expect(files.map { $0["verdict"] as? String } == ["fail", "pass"])
    let rule = try #require((files[0]["rules"] as? [[String: Any]])?.first)
    #expect(rule["actual"] as? Int == 170)
    #expect(rule["baseline"] as? Int == 1_610)
    #expect(files[0]["baselineFile"] as? String == old + "/widened.pt")
    #expect((files[1]["rules"] as? [Any])?.isEmpty == true)
    #expect(
      files[1]["notes"] as? [String] == ["no baseline for this file: 'max-growth 5%' not checked"])
  }

  @Test func budgetFileGivenWithConfig() throws {
    let pass = try runPTInspect([
      "budget", Self.cifar, "--config", "Fixtures/budget/pyproject.toml",
    ])
    #expect(pass.status == 0)
    assertGolden(pass.stdout, named: "budget-pyproject.txt")
    let over = try runPTInspect(["budget", Self.cifar, "--config", "Fixtures/budget/over.toml"])
    #expect(over.status == 1)
    #expect(over.stdout.contains("budget 0=1K"))
    // The command line overrides the file key by key.
    let overridden = try runPTInspect([
      "budget", Self.cifar, "--config", "Fixtures/budget/over.toml", "--max-params", "6M",
      "--budget", "1*=6M",
      "--budget", "0=1000",
    ])
    #expect(overridden.status == 0, "\(overridden.stdout)")
    // A baseline in the file is relative to the file.
    let growth = try runPTInspect([
      "budget", "Fixtures/diff/widened.pt", "--config", "Fixtures/budget/growth.toml",
    ])
    #expect(growth.status == 1)
    #expect(growth.stdout.contains("max-growth 5% vs Fixtures/budget/../diff/base.pt"))
  }

  @Test func budgetFileFoundInTheCurrentFolder() throws {
    let dir = try temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let model = Fixtures.path("cifar_cnn.pt")
    try "[tool.ptinspect.budget]\nmax-params = \"5.8M\"\n".write(
      toFile: dir + "/pyproject.toml", atomically: true, encoding: .utf8)
    let fromPyproject = try runPTInspect(in: dir, ["budget", model])
    #expect(fromPyproject.status == 1)
    #expect(fromPyproject.stdout.hasPrefix("rules from pyproject.toml\n"))
    try "[budget]\nmax-params = \"6M\"\n".write(
      toFile: dir + "/.ptinspect.toml", atomically: true, encoding: .utf8)
    let fromDotfile = try runPTInspect(in: dir, ["budget", model])
    #expect(fromDotfile.status == 0)
    #expect(fromDotfile.stdout.hasPrefix("rules from .ptinspect.toml\n"))
    let json = try runPTInspect(in: dir, ["budget", model, "--format", "json"])
    #expect(json.stdout.contains("\"config\" : \".ptinspect.toml\""))
    // --no-config ignores it: no rules left is a usage error.
    let ignored = try runPTInspect(in: dir, ["budget", model, "--no-config"])
    #expect(ignored.status == 64)
    #expect(ignored.stderr.hasPrefix("Error: no budget rules: "))
    let cli = try runPTInspect(in: dir, ["budget", model, "--no-config", "--max-params", "5.8M"])
    #expect(cli.status == 1)
    // A broken budget file in the folder is reported, not skipped.
    try "[budget]\nmax-params = \"6X\"\n".write(
      toFile: dir + "/.ptinspect.toml", atomically: true, encoding: .utf8)
    let broken = try runPTInspect(in: dir, ["budget", model])
    #expect(broken.status == 64)
    #expect(
      broken.stderr.hasPrefix(
        "Error: .ptinspect.toml:2: max-params: '6X' is not a number: unknown unit 'X'\n"))
  }

  // MARK: exit 2

  @Test(arguments: [
    (["budget", "nope.pt", "--max-params", "1M"], "ptinspect: nope.pt: no such file\n"),
    (
      ["budget", "Fixtures/broken/truncated_zip.pt", "--max-params", "1M"],
      "ptinspect: Fixtures/broken/truncated_zip.pt: truncated or corrupt zip archive: the central directory at its end is missing (was the file cut short?)\n"
    ),
    (
      ["budget", "Fixtures/diff/widened.pt", "--baseline", "old.pt", "--max-growth", "5%"],
      "ptinspect: old.pt: baseline: no such file\n"
    ),
    (
      [
        "budget", "Fixtures/diff/widened.pt", "--baseline", "Fixtures/broken/empty.pt",
        "--max-growth", "5%",
      ],
      "ptinspect: Fixtures/broken/empty.pt: baseline: empty file (0 bytes)\n"
    ),
    (
      ["budget", "Fixtures/diff/widened.pt", "--config", "nope.toml"],
      "ptinspect: nope.toml: no such budget file\n"
    ),
  ])
  func unreadableInputExitsTwo(_ args: [String], _ stderr: String) throws {
    let r = try runPTInspect(args)
    #expect(r.status == 2, "\(args)")
    #expect(r.stderr == stderr)
  }

  @Test func unreadableFileInTheTable() throws {
    let r = try runPTInspect(["budget", "nope.pt", "--max-params", "1M", "--format", "json"])
    #expect(r.status == 2)
    let json = try #require(
      try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    #expect(json["verdict"] as? String == "error")
    #expect(json["error"] as? String == "no such file")
  }

  // MARK: exit 64, exact messages

  static let usageErrors: [([String], String)] = [
    (["--max-params", "25XB"], "--max-params: '25XB' is not a number: unknown unit 'XB'"),
    (["--max-params", "25MB"], "--max-params: '25MB' is a byte size, not a count"),
    (["--max-params", "1.5"], "--max-params: '1.5' is not a whole number"),
    (["--max-params", "6__000"], "--max-params: '6__000' is not a number: misplaced '_'"),
    (
      ["--max-params", "lots"],
      "--max-params: 'lots' is not a number: it must start with a digit (e.g. 5.8M, 6_000_000, 25MB)"
    ),
    (["--max-params", ""], "--max-params: '' is not a number: empty value"),
    (
      ["--max-bytes", "25M"],
      "--max-bytes: '25M' is not a byte size: write 25MB (10^6 bytes) or 25MiB (2^20 bytes)"
    ),
    (["--max-bytes", "25XB"], "--max-bytes: '25XB' is not a number: unknown unit 'XB'"),
    (["--max-file-bytes", "99999999TB"], "--max-file-bytes: '99999999TB' is too large"),
    (["--budget", "encoder.*"], "--budget: 'encoder.*' is not GLOB=N (e.g. 'encoder.*=20M')"),
    (["--budget", "=20M"], "--budget: '=20M' has an empty pattern"),
    (["--budget", "enc="], "--budget: 'enc=' has no limit (e.g. 'enc=20M')"),
    (["--budget", "enc=20Q"], "--budget: '20Q' is not a number: unknown unit 'Q'"),
    (
      ["--max-growth", "5x%", "--baseline", "Fixtures/diff/base.pt"],
      "--max-growth: '5x%' is not a percentage: unexpected 'x' before '%'"
    ),
    (
      ["--max-growth", "+2MB", "--baseline", "Fixtures/diff/base.pt"],
      "--max-growth: '+2MB' is a byte size, not a count"
    ),
    (
      ["--max-bytes-growth", "+2M", "--baseline", "Fixtures/diff/base.pt"],
      "--max-bytes-growth: '+2M' is not a byte size: write 2MB (10^6 bytes) or 2MiB (2^20 bytes)"
    ),
    (["--max-growth", "5%"], "'max-growth' needs a baseline checkpoint (--baseline OLD)"),
    (
      ["--baseline", "Fixtures/diff/base.pt", "--max-params", "1M"],
      "a baseline needs a growth rule (--max-growth 5% or --max-bytes-growth 5%)"
    ),
    (
      [],
      "no budget rules: give --max-params, --max-bytes, --max-file-bytes, --budget GLOB=N or --max-growth with --baseline, or a budget file (.ptinspect.toml, or [tool.ptinspect.budget] in pyproject.toml)"
    ),
    (
      ["--config", "Fixtures/budget/bad.toml"],
      "Fixtures/budget/bad.toml:3: unknown key 'max-param' in [budget] (known: max-params, max-bytes, max-file-bytes, max-growth, max-bytes-growth, baseline, groups)"
    ),
    (
      ["--config", "Fixtures/budget/pyproject.toml", "--no-config"],
      "'--config' and '--no-config' cannot go together"
    ),
  ]

  @Test(arguments: usageErrors.indices)
  func badRuleExits64(_ i: Int) throws {
    let (args, message) = Self.usageErrors[i]
    let r = try runPTInspect(["budget", Self.cifar] + args)
    #expect(r.status == 64, "\(args)")
    #expect(r.stdout == "")
    #expect(
      r.stderr.hasPrefix("Error: \(message)\nUsage: ptinspect budget "), "\(args): \(r.stderr)")
  }

  @Test func noFilesIsAUsageError() throws {
    let r = try runPTInspect(["budget", "--max-params", "1M"])
    #expect(r.status == 64)
    #expect(r.stderr.hasPrefix("Error: give at least one checkpoint file or folder\n"))
  }
}
