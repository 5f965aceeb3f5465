// SupportTests.swift: the pieces the executable hands its work to: the progress bar (only on a
// terminal whose TERM is not dumb, through the sink it is given), the batch runner, baselines,
// scan exit codes, a tensor's changes as the diff spells them, and PTINSPECT_THREADS.

import Foundation
import PTInspectTestSupport
import Testing

@testable import PTInspectCore

/// What a progress bar wrote.
final class Written: @unchecked Sendable {
  let text = Locked("")
  var sink: @Sendable (String) -> Void { { s in self.text.withLock { $0 += s } } }
}

@Suite struct SupportTests {
  @Test func progressBarOnlyOnATerminalWhoseTermIsNotDumb() {
    let w = Written()
    #expect(ProgressBar(.files, isTerminal: false, environment: [:], write: w.sink) == nil)
    #expect(
      ProgressBar(.bytes, isTerminal: true, environment: ["TERM": "dumb"], write: w.sink) == nil)
    #expect(
      ProgressBar(.files, isTerminal: true, environment: ["TERM": "xterm"], write: w.sink) != nil)
  }

  @Test func filesBarDrawsAndClearsThroughItsSink() throws {
    let w = Written()
    let bar = try #require(ProgressBar(.files, isTerminal: true, environment: [:], write: w.sink))
    bar.clear()
    #expect(w.text.current == "")  // nothing drawn, nothing to clear
    bar.update(1, 3)
    bar.clear()
    #expect(
      w.text.current == "\r\u{1B}[K[##########....................] 1/3 files" + "\r\u{1B}[K")
  }

  @Test func bytesBarWaitsHalfASecond() throws {
    let w = Written()
    let bar = try #require(ProgressBar(.bytes, isTerminal: true, environment: [:], write: w.sink))
    bar.update(10, 100)
    bar.clear()
    #expect(w.text.current == "")
  }

  @Test func batchRunnerKeepsInputOrderAndReportsEmptyFolders() throws {
    let empty = FileManager.default.temporaryDirectory
      .appendingPathComponent("ptinspect-empty-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: empty) }
    let files = ["cifar_cnn.pt", "small_cnn.safetensors"].map(Fixtures.path)
    let seen = Locked<[String]>([])
    let reported = Locked<[String]>([])
    let failed = BatchRunner.run(
      files + [empty], recursive: false,
      report: { error in reported.withLock { $0.append(error.message) } },
      work: { (path: String) throws(CheckpointError) -> String in path },
      emit: { input, outcome in
        if case .success(let path) = outcome { seen.withLock { $0.append(path) } }
      })
    #expect(seen.current == files)
    #expect(reported.current == ["no checkpoint files in the folder"])
    #expect(failed)
  }

  @Test func baselines() throws {
    #expect(try BaselineSource(nil).baseline(for: "x.pt") == nil)
    let file = try BaselineSource(Fixtures.path("cifar_cnn.pt"))
    let fromFile = try #require(try file.baseline(for: "anything.pt"))
    #expect(fromFile.parameters > 0)
    let folder = try BaselineSource(Fixtures.path(""))
    #expect(try folder.baseline(for: "elsewhere/cifar_cnn.pt") == fromFile)
    #expect(try folder.baseline(for: "elsewhere/no_such_file.pt") == nil)
    #expect(throws: CheckpointError.self) { try BaselineSource(Fixtures.path("no_such.pt")) }
    do {
      _ = try BaselineSource(Fixtures.path("no_such.pt"))
    } catch {
      #expect(error.message.hasPrefix("baseline: "))
    }
  }

  @Test func scanExitCodeTakesTheWorst() throws {
    var code = ScanExitCode()
    #expect(code.code == 0)
    code.add(try SecurityScanner.scan(Fixtures.path("cifar_cnn.pt")), strict: false)
    #expect(code.code == 0)
    code.addUnreadable()
    code.add(try SecurityScanner.scan(Fixtures.path("cifar_cnn.pt")), strict: false)
    #expect(code.code == 2)
  }

  @Test func tensorChangesAreSpelledInOneOrder() {
    #expect(TensorChanges([.dtype, .shape]).description == "shape+dtype")
    #expect(TensorChanges([.close, .dtype]).description == "dtype+close")
    #expect(TensorChanges([.values, .dtype]).description == "dtype+values")
    #expect(TensorChanges.added.description == "added")
    #expect(TensorChanges().description == "")
  }

  @Test func threadsFromTheEnvironment() {
    #expect(StatsEngine(environment: ["PTINSPECT_THREADS": "1"]).threads == 1)
    #expect(StatsEngine(environment: ["PTINSPECT_THREADS": "0"]).threads == StatsEngine().threads)
    #expect(StatsEngine(environment: [:]).threads == StatsEngine().threads)
  }
}

/// What stands in for Foundation under FoundationEssentials: printf formatting, the string
/// search and replacement, trimming.
@Suite struct SystemSupportTests {
  @Test func cFormatWritesWhatPrintfWrites() {
    #expect(cFormat("%.1f", 2.25) == "2.2")
    #expect(cFormat("%.1f%%", 12.34) == "12.3%")
    #expect(cFormat("%.3e", 12345.678) == "1.235e+04")
    #expect(cFormat("%.4g", 0.000123456) == "0.0001235")
    #expect(cFormat("%3.0f", 7) == "  7")
    // Longer than the first 64-byte buffer: measured, then written whole.
    #expect(cFormat("%.0f", 1e70).count == 71)
  }

  @Test func stringSearchReplaceAndTrim() {
    #expect("a_b__c".replacingOccurrences(of: "_", with: "-") == "a-b--c")
    #expect(
      "BatchNorm(8)".replacingOccurrences(of: "BatchNorm(", with: "BatchNorm2d(")
        == "BatchNorm2d(8)")
    let text = "x class Net(y"
    #expect(text.range(of: "class Net(").map { text[$0] } == "class Net(")
    #expect(text.range(of: "absent") == nil)
    #expect(" \t key = 1 \t".trimmingSpaces() == "key = 1")
  }
}
