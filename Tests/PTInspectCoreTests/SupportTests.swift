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

/// The rest of what stands in for Foundation: percent-encoding, whitespace trimming as
/// Foundation's character sets define it, HTTP dates, the C formatter against printf's text,
/// a detached thread, sleeping, the home folder. Each is checked against the text Foundation
/// wrote for the same input.
@Suite struct TextEncodingTests {
  @Test func percentEncodingOfHubPathsAndRevisions() {
    // RemotePath.encode: RFC 3986 unreserved characters, `/` kept unless asked otherwise.
    #expect(RemotePath.encode("org/model v2/weights.bin") == "org/model%20v2/weights.bin")
    #expect(RemotePath.encode("refs/pr/1", keepSlash: false) == "refs%2Fpr%2F1")
    #expect(RemotePath.encode("a-b_c.d~e") == "a-b_c.d~e")
    #expect(RemotePath.encode("é/ü") == "%C3%A9/%C3%BC")
    #expect(RemotePath.encode("100%+x=y&z#?") == "100%25%2Bx%3Dy%26z%23%3F")
    // Every ASCII byte: exactly these are kept.
    let ascii = String(decoding: (0..<128).map { UInt8($0) }, as: UTF8.self)
    let kept = ascii.filter { RemotePath.encode(String($0)) == String($0) }
    #expect(kept == "-./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~")
  }

  @Test func percentEncodingOfSARIFPaths() {
    // Foundation's .urlPathAllowed without ":".
    let ascii = String(decoding: (32..<127).map { UInt8($0) }, as: UTF8.self)
    let kept = ascii.filter { $0.description.percentEncoded(keeping: .pathWithoutColon) == "\($0)" }
    #expect(
      kept == "!$&'()*+,-./0123456789=@ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~")
    #expect("é ü/%:".percentEncoded(keeping: .pathWithoutColon) == "%C3%A9%20%C3%BC/%25%3A")
  }

  @Test func percentDecoding() {
    #expect("a%2Fb".percentDecoded == "a/b")
    #expect("%C3%A9%2f".percentDecoded == "é/")
    #expect("a+b".percentDecoded == "a+b")
    #expect("a%zz".percentDecoded == nil)  // not hex
    #expect("a%2".percentDecoded == nil)  // cut short
    #expect("a%ff".percentDecoded == nil)  // not UTF-8
  }

  @Test func trimmingAsFoundationsCharacterSets() {
    #expect(
      " \t\u{A0}x y\u{2003}\n".trimming(.whitespaces).unicodeScalars.map(\.value) == [
        120, 32, 121, 0x2003, 10,
      ])
    #expect(" \t\u{A0}x y\u{2003}\n\r\u{85}\u{2028}".trimming(.whitespacesAndNewlines) == "x y")
    #expect("\u{0B}\u{0C}x\u{1C}".trimming(.whitespacesAndNewlines) == "x\u{1C}")
    #expect("\r\nkey: value\r\n".trimming(.whitespacesAndNewlines) == "key: value")
    #expect(" \t ".trimming(.whitespaces) == "")
    #expect("".trimming(.whitespacesAndNewlines) == "")
  }

  @Test func httpDatesInTheThreeForms() {
    // RFC 7231 7.1.1.1's example instant, in each form (784111777 is what Foundation's
    // DateFormatter gave for the IMF-fixdate).
    #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
    #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT") == 784_111_777)
    #expect(HTTPDate.parse("Sun Nov  6 08:49:37 1994") == 784_111_777)
    #expect(HTTPDate.parse("Sun, 6 Nov 1994 08:49:37 GMT") == 784_111_777)
    #expect(HTTPDate.parse("Thu, 01 Jan 1970 00:00:00 GMT") == 0)
    #expect(HTTPDate.parse("Wed, 21 Oct 2015 07:28:00 GMT") == 1_445_412_480)
    #expect(HTTPDate.parse("Tue, 29 Feb 2000 23:59:59 UTC") == 951_868_799)
    #expect(HTTPDate.parse("Thursday, 01-Jan-37 00:00:00 GMT") == 2_114_380_800)  // 2037
    // Not dates.
    for text in [
      "", "soon", "Sun, 06 Nov 1994 08:49:37 PST", "Sun, 06 Foo 1994 08:49:37 GMT",
      "Sun, 31 Nov 1994 08:49:37 GMT", "Sat, 29 Feb 1900 00:00:00 GMT",
      "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 94 08:49:37 GMT", "Sun Nov  6 08:49 1994",
    ] {
      #expect(HTTPDate.parse(text) == nil, "\(text)")
    }
  }

  @Test func retryAfterTakesEveryHTTPDateForm() throws {
    #expect(HTTPClient.retryAfter(" Sun, 06 Nov 1994 08:49:37 GMT ") == 0)  // in the past
    #expect(HTTPClient.retryAfter("Sunday, 06-Nov-94 08:49:37 GMT") == 0)
    #expect(HTTPClient.retryAfter("Sun Nov  6 08:49:37 1994") == 0)
    let later = try #require(HTTPClient.retryAfter("Fri, 01 Jan 2100 00:00:00 GMT"))
    #expect(later > 365 * 86_400)
    #expect(HTTPClient.retryAfter("Sun, 06 Nov 1994 08:49:37 PST") == nil)
  }

  @Test func cFormatMatchesPrintfText() {
    // What String(format:) wrote for each conversion the renderers use.
    #expect(cFormat("%.2f", 0.005) == "0.01")
    #expect(cFormat("%.2f", 1.005) == "1.00")  // 1.00499999999999989...
    #expect(cFormat("%.2f", -0.001) == "-0.00")
    #expect(cFormat("%.3f", 0.0625) == "0.062")  // round half to even on the exact binary value
    #expect(cFormat("%g", 100000) == "100000")
    #expect(cFormat("%g", 1e6) == "1e+06")
    #expect(cFormat("%g", 0.0001) == "0.0001")
    #expect(cFormat("%g", 0.00001) == "1e-05")
    #expect(cFormat("%.6g", 3.14159265) == "3.14159")
    #expect(cFormat("%e", 0) == "0.000000e+00")
    #expect(cFormat("%.2e", -1234.5) == "-1.23e+03")
    #expect(cFormat("%.1f", .infinity) == "inf")
    #expect(cFormat("%.1f", -.infinity) == "-inf")
    #expect(cFormat("%.1f", .nan) == "nan")
    #expect(cFormat("%8.3f|", 3.14159) == "   3.142|")
    #expect(cFormat("%-8.1f|", 2.5) == "2.5     |")
  }

  @Test func detachedThreadsRunAndSleepWaits() {
    let done = Locked(0)
    for _ in 0..<4 { detachThread { done.withLock { $0 += 1 } } }
    var waited = 0
    while done.current < 4 && waited < 500 {
      sleep(seconds: 0.01)
      waited += 1
    }
    #expect(done.current == 4)
    sleep(seconds: 0)
    sleep(seconds: -1)
  }

  @Test func homeDirectoryIsAnAbsolutePath() {
    #expect(homeDirectory().hasPrefix("/"))
  }
}
