// FirstContactTests.swift: what a new user meets first: a mistyped subcommand gets a suggestion
// (exit 64) while a real file of that name is still summarised, every --help ends with
// examples, --version names the commit, and file arguments complete file names.

import Foundation
import PTInspectCore
import PTInspectTestSupport
import Testing

@Suite struct DidYouMeanTests {
  static let typos: [(typed: String, meant: String)] = [
    ("stat", "stats"), ("tensor", "tensors"), ("dif", "diff"), ("sacn", "scan"),
    ("budgte", "budget"), ("summery", "summary"), ("Stats", "stats"),
  ]

  @Test(arguments: typos.indices)
  func mistypedSubcommandIsAUsageError(_ i: Int) throws {
    let (typed, meant) = Self.typos[i]
    let r = try runPTInspect([typed, "Fixtures/cifar_cnn.pt"])
    #expect(r.status == 64)
    #expect(r.stdout == "")
    #expect(
      r.stderr.hasPrefix(
        "Error: '\(typed)' is not a subcommand, nor a file or folder; did you mean 'ptinspect \(meant)'?\n"
      ), "\(r.stderr)")
  }

  @Test func aFileNamedLikeASubcommandIsSummarised() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "ptinspect-didyoumean-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    try FileManager.default.copyItem(
      atPath: Fixtures.path("cifar_cnn.pt"), toPath: dir.appendingPathComponent("stat").path)
    let r = try runPTInspect(["stat"], directory: dir.path)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.hasPrefix("stat: torch-zip, 22.3 MiB, 33 tensors"))
  }

  @Test func aMissingFileFarFromEveryNameIsStillUnreadable() throws {
    let r = try runPTInspect(["model.pt"])
    #expect(r.status == 2)
    #expect(r.stderr.hasPrefix("ptinspect: model.pt: "))
  }

  @Test func closestNames() {
    let names = ["summary", "tensors", "diff", "budget", "scan", "stats"]
    #expect(closestName(to: "stat", among: names) == "stats")
    #expect(closestName(to: "sacn", among: names) == "scan")  // a swap is one edit
    #expect(closestName(to: "stats", among: names) == nil)  // a name is not a typo
    #expect(closestName(to: "STATS", among: names) == "stats")
    #expect(closestName(to: "sa", among: names) == nil)  // two edits from a 4-letter name
    #expect(closestName(to: "model.pt", among: names) == nil)
    #expect(closestName(to: "", among: names) == nil)
  }
}

@Suite struct HelpTests {
  static let commands = ["summary", "tensors", "diff", "budget", "scan", "stats"]

  @Test(arguments: commands)
  func helpEndsWithExamples(_ command: String) throws {
    for args in [[command, "--help"], ["help", command]] {
      let r = try runPTInspect(args)
      #expect(r.status == 0)
      let tail = try #require(r.stdout.range(of: "\nEXAMPLES:\n")).upperBound
      let examples = r.stdout[tail...].split(separator: "\n").filter {
        $0.hasPrefix("  ptinspect ")
      }
      #expect((2...4).contains(examples.count), "\(args)")
      // The examples are the last thing printed, after the options.
      #expect(try #require(r.stdout.range(of: "\nOPTIONS:\n")).upperBound < tail)
      #expect(!r.stdout[tail...].contains("OPTIONS:"))
    }
  }

  @Test func topLevelHelpListsExamplesByTask() throws {
    let r = try runPTInspect(["--help"])
    #expect(r.status == 0)
    #expect(r.stdout.contains("SUBCOMMANDS:"))
    for task in ["Look inside:", "Compare:", "Gate in CI (exit 1 on a finding):", "Script it:"] {
      #expect(r.stdout.contains("\n  \(task)\n"), "\(task)")
    }
    #expect(r.stdout.hasSuffix("        one line per file of a folder\n"))
  }

  @Test func versionNamesTheCommit() throws {
    let r = try runPTInspect(["--version"])
    #expect(r.status == 0)
    let commit = try git(["rev-parse", "--short=12", "HEAD"])
    #expect(r.stdout.hasPrefix("ptinspect 0.1.0 (commit \(commit)"), "\(r.stdout)")
  }

  @Test func bashCompletesFileNamesForFileArguments() throws {
    let script = try runPTInspect(["--generate-completion-script", "bash"])
    #expect(script.status == 0)
    let fixtures = Fixtures.root.appendingPathComponent("Fixtures").path
    #expect(
      try bashCompletions(script.stdout, ["ptinspect", "summary", "cif"], in: fixtures) == [
        "cifar_cnn.pt", "cifar_cnn.pt.expected.json", "cifar_cnn_p4.pt",
        "cifar_cnn_p4.pt.expected.json",
      ])
    #expect(
      try bashCompletions(script.stdout, ["ptinspect", "diff", "diff/base_"], in: fixtures) == [
        "diff/base_copy.pt", "diff/base_copy.pt.expected.json",
      ])
    #expect(
      try bashCompletions(script.stdout, ["ptinspect", "stats", "--format", "j"], in: fixtures) == [
        "json", "jsonl",
      ])
  }

  @Test func zshAndFishCompleteFileNamesForFileArguments() throws {
    let zsh = try runPTInspect(["--generate-completion-script", "zsh"]).stdout
    #expect(zsh.contains("':before:_files'") && zsh.contains("'*:files:_files'"))
    let fish = try runPTInspect(["--generate-completion-script", "fish"]).stdout
    #expect(fish.contains("\"ptinspect summary\" -ge 1' -F"))
    #expect(fish.contains("\"ptinspect stats\" -eq 1' -F"))
  }

  func git(_ arguments: [String]) throws -> String {
    try runProgram(
      URL(fileURLWithPath: "/usr/bin/env"), ["git", "-C", Fixtures.root.path] + arguments
    ).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
  }

}

/// What bash offers for the last of `words` with `script` (a bash completion script for
/// ptinspect) loaded, run in `folder`: the completions, sorted.
func bashCompletions(_ script: String, _ words: [String], in folder: String) throws -> [String] {
  let path = FileManager.default.temporaryDirectory.appendingPathComponent(
    "ptinspect-completion-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).bash")
  try script.write(to: path, atomically: true, encoding: .utf8)
  defer { try? FileManager.default.removeItem(at: path) }
  let quoted = words.map { "'\($0)'" }.joined(separator: " ")
  let current = words.last ?? ""
  let previous = words.count > 1 ? words[words.count - 2] : ""
  let command = """
    source '\(path.path)'
    COMP_WORDS=(\(quoted)); COMP_CWORD=\(words.count - 1)
    COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
    _ptinspect ptinspect '\(current)' '\(previous)'
    printf '%s\\n' "${COMPREPLY[@]}"
    """
  let r = try runProgram(
    URL(fileURLWithPath: "/usr/bin/env"), ["bash", "-c", command], directory: folder)
  return r.stdout.split(separator: "\n").map(String.init).sorted()
}
