// Formatting.swift: numbers, bytes and shapes as people read them, text from files made safe
// for a terminal, a small text table, and terminal styling.

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

package enum Format {
  /// `5852234` as `5,852,234`.
  package static func count(_ n: Int64) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (i, ch) in digits.enumerated() {
      if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
      out.append(ch)
    }
    return n < 0 ? "-" + out : out
  }

  /// Bytes in binary units: `22.3 MiB`, `3.5 KiB`, `24 B`.
  package static func bytes(_ n: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    var value = Double(n)
    var unit = 0
    while abs(value) >= 1024 && unit < units.count - 1 {
      value /= 1024
      unit += 1
    }
    return unit == 0 ? "\(n) B" : cFormat("%.1f", value) + " " + units[unit]
  }

  /// `text` broken at spaces into lines of at most `width` characters (a longer word stays
  /// whole); lines after the first start with `indent` spaces, which count in the width.
  public static func wrap(_ text: String, width: Int, indent: Int = 0) -> [String] {
    guard text.count > width, width > indent + 10 else { return [text] }
    var lines: [String] = []
    var line = ""
    for word in text.split(separator: " ", omittingEmptySubsequences: false) {
      let lead = lines.isEmpty ? 0 : indent
      if !line.isEmpty && lead + line.count + 1 + word.count > width {
        lines.append(line)
        line = String(word)
      } else {
        line += (line.isEmpty ? "" : " ") + word
      }
    }
    lines.append(line)
    let pad = String(repeating: " ", count: indent)
    return lines.enumerated().map { $0.offset == 0 ? $0.element : pad + $0.element }
  }

  /// `[32, 3, 3, 3]`; `[]` for a scalar.
  package static func shape(_ s: [Int64]) -> String {
    "[" + s.map(String.init).joined(separator: ", ") + "]"
  }

  /// Text from the file made safe for a terminal: control and format characters (escape
  /// sequences, bidi overrides) are shown as `\u{1B}`, and more than `limit` characters are cut.
  package static func printable(_ text: String, limit: Int = 4096) -> String {
    var out = ""
    var count = 0
    for scalar in text.unicodeScalars {
      if count >= limit {
        out += "..."
        break
      }
      switch scalar.properties.generalCategory {
      case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .unassigned:
        out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
      default:
        out.unicodeScalars.append(scalar)
      }
      count += 1
    }
    return out
  }
}

/// Column alignment in a `TextTable`.
package enum Alignment: Sendable { case left, right }

/// A monospace table: columns padded to width, no box drawing, so `awk` and `column` still work.
package struct TextTable: Sendable {
  package var headers: [String]
  package var alignments: [Alignment]
  package var rows: [[String]] = []
  /// Rows after which a rule is drawn (e.g. before a total).
  package var rulesBefore: Set<Int> = []

  package init(headers: [String], alignments: [Alignment]) {
    self.headers = headers
    self.alignments = alignments
  }

  /// Columns that may be narrowed to fit a width, the first given first; their cells are cut
  /// with `...` (in the middle for `elideMiddle` columns, such as paths).
  package var shrinkable: [Int] = []
  package var elideMiddle: Set<Int> = []

  package mutating func add(_ row: [String]) { rows.append(row) }

  /// The natural width of each column: its widest cell.
  func naturalWidths() -> [Int] {
    var widths = headers.map(\.count)
    for row in rows {
      for (i, cell) in row.enumerated() where i < widths.count {
        widths[i] = max(widths[i], cell.count)
      }
    }
    return widths
  }

  /// Widths that fit `width` columns in all: the shrinkable columns give up characters in turn,
  /// each down to its header or 12 characters, before any line would be wider.
  func fittedWidths(_ width: Int) -> [Int] {
    var widths = naturalWidths()
    var excess = widths.reduce(0, +) + 2 * max(0, widths.count - 1) - width
    for i in shrinkable where excess > 0 && i < widths.count {
      let floor = max(headers[i].count, 12)
      let cut = min(excess, max(0, widths[i] - floor))
      widths[i] -= cut
      excess -= cut
    }
    return widths
  }

  /// `cell` cut to `width` characters with `...`.
  static func elide(_ cell: String, _ width: Int, middle: Bool) -> String {
    guard cell.count > width else { return cell }
    guard width > 3 else { return String(cell.prefix(width)) }
    if !middle { return cell.prefix(width - 3) + "..." }
    let tail = (width - 3) / 2
    return cell.prefix(width - 3 - tail) + "..." + cell.suffix(tail)
  }

  /// The table as text, at most `width` columns wide when its shrinkable columns allow it.
  public func render(style: TerminalStyle = .plain, width: Int = .max) -> String {
    let widths = width == .max ? naturalWidths() : fittedWidths(width)
    func line(_ cells: [String]) -> String {
      var parts: [String] = []
      for (i, raw) in cells.enumerated() where i < widths.count {
        let cell =
          raw.count > widths[i]
          ? TextTable.elide(raw, widths[i], middle: elideMiddle.contains(i)) : raw
        let pad = String(repeating: " ", count: max(0, widths[i] - cell.count))
        parts.append(alignments[i] == .right ? pad + cell : cell + pad)
      }
      var text = parts.joined(separator: "  ")
      while text.hasSuffix(" ") { text.removeLast() }
      return text
    }
    var out = [style.bold(line(headers))]
    for (i, row) in rows.enumerated() {
      if rulesBefore.contains(i) {
        out.append(String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1)))
      }
      out.append(line(row))
    }
    return out.joined(separator: "\n")
  }

  /// The same table as GitHub-flavoured Markdown.
  package func markdown() -> String {
    func esc(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|") }
    var out = ["| " + headers.map(esc).joined(separator: " | ") + " |"]
    out.append("|" + alignments.map { $0 == .right ? "---:" : "---" }.joined(separator: "|") + "|")
    for row in rows { out.append("| " + row.map(esc).joined(separator: " | ") + " |") }
    return out.joined(separator: "\n")
  }
}

/// When output is coloured (`--color`).
public enum ColorMode: String, Sendable, CaseIterable {
  /// On a terminal, unless NO_COLOR is set or TERM is dumb.
  case auto
  case always, never
}

/// ANSI styling, or none. Colour is for people at a terminal only.
public struct TerminalStyle: Sendable {
  /// Whether escape sequences are written.
  public var enabled: Bool
  /// No colour or bold: plain text.
  public static let plain = TerminalStyle(enabled: false)

  /// A style that writes ANSI escape sequences when `enabled`.
  public init(enabled: Bool) { self.enabled = enabled }

  /// Colour when asked (`always`), or when `auto` and stdout is a terminal and NO_COLOR is unset.
  public static func resolve(_ mode: ColorMode, isTerminal: Bool, environment: [String: String])
    -> TerminalStyle
  {
    switch mode {
    case .always: return TerminalStyle(enabled: true)
    case .never: return .plain
    case .auto:
      let noColor = environment["NO_COLOR"].map { !$0.isEmpty } ?? false
      return TerminalStyle(enabled: isTerminal && !noColor && environment["TERM"] != "dumb")
    }
  }

  func wrap(_ s: String, _ code: String) -> String { enabled ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }
  /// `s` in bold.
  public func bold(_ s: String) -> String { wrap(s, "1") }
  /// `s` dimmed.
  public func dim(_ s: String) -> String { wrap(s, "2") }
  /// `s` in yellow (warnings).
  public func yellow(_ s: String) -> String { wrap(s, "33") }
  /// `s` in red (findings, NaN and Inf).
  public func red(_ s: String) -> String { wrap(s, "31") }
  /// `s` in green (within budget, safe).
  public func green(_ s: String) -> String { wrap(s, "32") }
}
