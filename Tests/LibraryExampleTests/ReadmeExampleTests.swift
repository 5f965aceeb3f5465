// ReadmeExampleTests.swift: the README's library example is this target's ReadmeExample.swift,
// word for word, and it runs.

import Foundation
import PTInspectTestSupport
import Testing

@Suite struct ReadmeExampleTests {
  /// The lines of `text` after the line containing `start` and before the next line that is
  /// `end` (leading and trailing spaces aside).
  static func lines(of text: String, from start: String, to end: String) -> [Substring] {
    let all = text.split(separator: "\n", omittingEmptySubsequences: false)
    guard let a = all.firstIndex(where: { $0.contains(start) }),
      let b = all[(a + 1)...].firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == end })
    else { return [] }
    return Array(all[(a + 1)..<b])
  }

  @Test func readmeShowsTheCompiledExample() throws {
    let readme = try String(
      contentsOf: Fixtures.root.appendingPathComponent("README.md"), encoding: .utf8)
    let source = try String(
      contentsOf: Fixtures.root.appendingPathComponent(
        "Tests/LibraryExampleTests/ReadmeExample.swift"), encoding: .utf8)
    let shown = Self.lines(of: readme, from: "<!-- library example begins", to: "```")
    let compiled = Self.lines(
      of: source, from: "// README example begins", to: "// README example ends"
    )
    .map { $0.dropFirst(2) }
    #expect(compiled.count >= 8)
    // The README block: ```swift, the import, a blank line, then the body.
    #expect(shown.prefix(3) == ["```swift", "import PTInspectCore", ""])
    #expect(Array(shown.dropFirst(3)) == compiled)
  }

  @Test func exampleRuns() throws {
    let previous = FileManager.default.currentDirectoryPath
    #expect(FileManager.default.changeCurrentDirectoryPath(Fixtures.root.path))
    defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }
    try readmeExample()
  }
}
