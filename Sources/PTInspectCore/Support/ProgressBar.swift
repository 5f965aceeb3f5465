// ProgressBar.swift: the one progress bar, for files (`summary`, `budget`) and for bytes
// (`stats`, `diff --values`). It writes through a sink the executable passes (standard error),
// and exists only on a terminal whose TERM is not dumb.

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// A progress bar on one line, redrawn in place and cleared before results are printed. Safe
/// to update from any thread.
package final class ProgressBar: @unchecked Sendable {
  /// What the bar counts.
  package enum Unit: Sendable {
    /// Files of a batch: drawn on every update (`[####....] 3/8 files`).
    case files
    /// Bytes read: drawn once the work has taken half a second, at most ten times a second,
    /// with a percentage and a rate.
    case bytes
  }

  private let unit: Unit
  private let write: @Sendable (String) -> Void
  private let lock = Lock()
  private let start = Date()
  private var lastDraw = Date.distantPast
  private var drawn = false
  static let width = 30

  /// A bar when the output it draws on is a terminal and TERM is not dumb, else nil. `write`
  /// puts text on that output.
  package init?(
    _ unit: Unit, isTerminal: Bool, environment: [String: String],
    write: @escaping @Sendable (String) -> Void
  ) {
    guard isTerminal, environment["TERM"] != "dumb" else { return nil }
    self.unit = unit
    self.write = write
  }

  /// Shows `done` of `total` (files or bytes).
  package func update(_ done: Int64, _ total: Int64) {
    lock.lock()
    defer { lock.unlock() }
    let line: String
    switch unit {
    case .files:
      let filled = total > 0 ? Int(done * Int64(Self.width) / total) : Self.width
      line = "\r\u{1B}[K[\(Self.bar(filled))] \(done)/\(total) files"
    case .bytes:
      let now = Date()
      let elapsed = now.timeIntervalSince(start)
      guard elapsed > 0.5, now.timeIntervalSince(lastDraw) > 0.1, total > 0 else { return }
      lastDraw = now
      let fraction = min(1, Double(done) / Double(total))
      let rate = Double(done) / elapsed
      line =
        "\r[\(Self.bar(Int(fraction * Double(Self.width))))] \(cFormat("%3.0f", fraction * 100))%  "
        + "\(Format.bytes(done)) of \(Format.bytes(total))  \(Format.bytes(Int64(rate)))/s "
    }
    drawn = true
    write(line)
  }

  /// Clears the bar's line if it is drawn (before printing results, and at the end).
  package func clear() {
    lock.lock()
    defer { lock.unlock() }
    guard drawn else { return }
    drawn = false
    write("\r\u{1B}[K")
  }

  static func bar(_ filled: Int) -> String {
    String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
  }
}
