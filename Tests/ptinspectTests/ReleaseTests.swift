// ReleaseTests.swift: what scripts/install and scripts/release leave, checked by scripts/test-release
// (which .ci/run calls): it builds the release binary once, installs it into a temporary prefix,
// makes the tarball, and runs this suite with their paths in the environment. Without them
// (a plain `swift test`) the suite is skipped, saying so.

import Foundation
import PTInspectTestSupport
import Testing

/// The paths scripts/test-release passes, or nil.
enum Release {
  static let environment = ProcessInfo.processInfo.environment
  static let prefix = environment["PTINSPECT_INSTALL_PREFIX"]
  static let tarball = environment["PTINSPECT_RELEASE_TARBALL"]
  static let ready = prefix != nil && tarball != nil

  /// The toolchain's root (/opt/swift for /opt/swift/usr/bin/swift): what a user without Swift
  /// does not have.
  static let toolchain: String? = {
    let r = run("/bin/sh", ["-c", "command -v swift"])
    guard r.status == 0 else { return nil }
    let swift = URL(fileURLWithPath: r.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
      .resolvingSymlinksInPath()
    return swift.deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().path
  }()

  /// Whether this machine lets a process hide a folder under an empty tmpfs in its own mount
  /// namespace (`unshare -m`: root, or a user namespace; not in every container).
  static let canHideToolchain: Bool = {
    guard ready, let toolchain else { return false }
    return run("unshare", ["-m", "sh", "-c", "mount -t tmpfs tmpfs '\(toolchain)'"]).status == 0
  }()

  static let commands = ["summary", "tensors", "diff", "budget", "scan", "stats"]

  /// Runs `program` (looked up on PATH) and returns its exit status and output.
  static func run(_ program: String, _ arguments: [String], in folder: String? = nil) -> RunResult {
    do {
      return try runProgram(
        URL(fileURLWithPath: "/usr/bin/env"), [program] + arguments, directory: folder)
    } catch {
      return RunResult(status: -1, stdout: "", stderr: "\(error)")
    }
  }
}

@Suite(.enabled(if: Release.ready, "run by scripts/test-release, which builds the release"))
struct ReleaseTests {
  let prefix = Release.prefix ?? ""

  func installed(_ path: String) -> String { prefix + "/" + path }

  @Test func installedTreeHasTheBinaryManualPagesAndCompletions() throws {
    #expect(FileManager.default.isExecutableFile(atPath: installed("bin/ptinspect")))
    let pages = try FileManager.default.contentsOfDirectory(
      atPath: installed("share/man/man1")
    ).sorted()
    #expect(pages == ["ptinspect.1"] + Release.commands.sorted().map { "ptinspect.\($0).1" })
    for completion in [
      "share/bash-completion/completions/ptinspect", "share/zsh/site-functions/_ptinspect",
      "share/fish/vendor_completions.d/ptinspect.fish",
    ] {
      let text = try String(contentsOfFile: installed(completion), encoding: .utf8)
      #expect(text.contains("ptinspect"), "\(completion)")
    }
  }

  @Test(arguments: [nil] + Release.commands)
  func manualPageHasExamplesAndExitCodes(_ command: String?) throws {
    let name = command.map { "ptinspect.\($0)" } ?? "ptinspect"
    let page = try String(contentsOfFile: installed("share/man/man1/\(name).1"), encoding: .utf8)
    #expect(page.contains(".Dt \(name.uppercased()) 1"))
    let examples = try #require(page.range(of: "\n.Sh EXAMPLES\n.Bd -literal -offset indent\n"))
    #expect(
      page[examples.upperBound...].hasPrefix(command == nil ? "  Look inside:" : "  ptinspect "))
    #expect(page.contains("64 a usage error."))
    #expect(!page.contains(".Ex -std") && !page.contains("ptinspect.help"))
    // EXAMPLES comes before SEE ALSO (the top page) or ends the page.
    if let seeAlso = page.range(of: ".Sh \"SEE ALSO\"") {
      #expect(try #require(page.range(of: ".Sh EXAMPLES")).lowerBound < seeAlso.lowerBound)
    }
  }

  @Test func installedBashCompletionCompletesFilesAtTheTopLevel() throws {
    let script = try String(
      contentsOfFile: installed("share/bash-completion/completions/ptinspect"), encoding: .utf8)
    let fixtures = Fixtures.root.appendingPathComponent("Fixtures").path
    // `ptinspect cif<TAB>`: the default subcommand's files, and no subcommand starts so.
    #expect(
      try bashCompletions(script, ["ptinspect", "cif"], in: fixtures) == [
        "cifar_cnn.pt", "cifar_cnn.pt.expected.json", "cifar_cnn_p4.pt",
        "cifar_cnn_p4.pt.expected.json",
      ])
    #expect(try bashCompletions(script, ["ptinspect", "st"], in: fixtures) == ["stats"])
  }

  @Test func installedBinaryLinksNoSwiftRuntimeAndNamesItsCommit() throws {
    let ldd = Release.run("ldd", [installed("bin/ptinspect")])
    #expect(ldd.status == 0)
    // libcurl is loaded on the first remote request, not at start (Sources/CCurl/shim.h).
    for library in ["libswiftCore", "libFoundation", "_FoundationICU", "libdispatch", "libcurl"] {
      #expect(!ldd.stdout.contains(library), "\(library) in\n\(ldd.stdout)")
    }
    let version = Release.run(installed("bin/ptinspect"), ["--version"])
    let commit = Release.run("git", ["-C", Fixtures.root.path, "rev-parse", "--short=12", "HEAD"])
    #expect(
      version.stdout.hasPrefix(
        "ptinspect 0.1.0 (commit \(commit.stdout.trimmingCharacters(in: .newlines))"),
      "\(version.stdout)")
  }

  @Test func tarballHoldsAnInstallTree() throws {
    let tarball = Release.tarball ?? ""
    let name = URL(fileURLWithPath: tarball).deletingPathExtension().deletingPathExtension()
      .lastPathComponent
    #expect(name.hasPrefix("ptinspect-0.1.0-linux-"))
    let list = Release.run("tar", ["-tzf", tarball])
    #expect(list.status == 0)
    let files = Set(list.stdout.split(separator: "\n").map(String.init))
    let expected =
      [
        "bin/ptinspect", "README.md", "CHANGELOG.md",
        "share/bash-completion/completions/ptinspect", "share/zsh/site-functions/_ptinspect",
        "share/fish/vendor_completions.d/ptinspect.fish", "share/man/man1/ptinspect.1",
      ] + Release.commands.map { "share/man/man1/ptinspect.\($0).1" }
    for file in expected { #expect(files.contains("\(name)/\(file)"), "\(file)") }
  }

  @Test(
    .enabled(
      if: Release.canHideToolchain,
      "skipped: this machine does not permit `unshare -m` with a tmpfs over the Swift toolchain"))
  func tarballBinaryRunsWithTheToolchainHidden() throws {
    let work = FileManager.default.temporaryDirectory.appendingPathComponent(
      "ptinspect-release-\(getpid())")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: work) }
    #expect(
      Release.run("tar", ["-xzf", Release.tarball ?? "", "--strip-components=1", "-C", work.path])
        .status == 0)
    let toolchain = Release.toolchain ?? "/opt/swift"
    let binary = work.appendingPathComponent("bin/ptinspect").path
    // In its own mount namespace, the toolchain is an empty tmpfs: no swift, no runtime.
    let r = Release.run(
      "unshare",
      [
        "-m", "sh", "-c",
        """
        mount -t tmpfs tmpfs '\(toolchain)' && ! command -v swift >/dev/null \
        && [ -z "$(ls -A '\(toolchain)')" ] && exec '\(binary)' Fixtures/cifar_cnn.pt
        """,
      ], in: Fixtures.root.path)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr == "")
    assertGolden(r.stdout, named: "summary-cifar_cnn.txt")
  }
}
