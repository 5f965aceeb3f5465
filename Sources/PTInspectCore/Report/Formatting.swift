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
  /// whole); the first line keeps the text's leading spaces, lines after it start with
  /// `indent` spaces, which count in the width.
  public static func wrap(_ text: String, width: Int, indent: Int = 0) -> [String] {
    guard text.count > width, width > indent + 10 else { return [text] }
    let leading = String(text.prefix { $0 == " " })
    var lines: [String] = []
    var line = leading
    var bare = true  // no word on the line yet
    for word in text.dropFirst(leading.count).split(
      separator: " ", omittingEmptySubsequences: false)
    {
      let lead = lines.isEmpty ? 0 : indent
      if !bare && lead + line.count + 1 + word.count > width {
        lines.append(line)
        line = String(word)
      } else {
        line += (bare ? "" : " ") + word
      }
      bare = false
    }
    lines.append(line)
    let pad = String(repeating: " ", count: indent)
    return lines.enumerated().map { $0.offset == 0 ? $0.element : pad + $0.element }
  }

  /// `wrap` joined into one string: the lines after the first indented by `indent`.
  package static func wrapped(_ text: String, width: Int, indent: Int = 2) -> String {
    wrap(text, width: width, indent: indent).joined(separator: "\n")
  }

  /// `tag message` (`note: ...`, `warning: ...`) wrapped at `width`, the lines after the first
  /// indented under the message (4 spaces past the tag's own indent when the tag takes more
  /// than a third of the line); never cut (a word longer than a line stays whole). `style`
  /// styles the tag.
  package static func tagged(
    _ tag: String, _ message: String, width: Int, style: (String) -> String = { $0 }
  ) -> String {
    let hanging =
      tag.count + 1 <= width / 3 ? tag.count + 1 : tag.prefix { $0 == " " }.count + 4
    let lines = wrap(tag + " " + message, width: width, indent: hanging)
    // A tag wider than the line is wrapped with the message.
    guard lines[0].count > tag.count else { return lines.joined(separator: "\n") }
    return ([style(tag) + lines[0].dropFirst(tag.count)] + lines.dropFirst()).joined(
      separator: "\n")
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
///
/// Fitted to a width, a table first narrows its `shrinkable` text columns (cells cut with
/// `...`), then writes the numbers that have a shorter form in it (`compact`), then leaves out
/// its `droppable` columns whole, in their order (a number is never cut), and says so in one
/// line (`droppedNote`).
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
  /// Whether the shrinkable columns give up characters together, the widest first, rather
  /// than each in turn, in the first pass too (below their soft floors they always do).
  package var shrinkEvenly = false
  /// A shrinkable column's floor in the first pass, instead of `softFloor`: e.g. the widest
  /// name that is not a group's label, so only the groups' labels are cut at first.
  package var minimumWidths: [Int: Int] = [:]
  /// Whether text is narrowed all the way (`hardFloor`) before a droppable column is left
  /// out: for tables whose text is what they are for, such as the summary's layers.
  package var cutBeforeDropping = false
  /// Columns that may be left out whole when narrowing is not enough, the first given first.
  package var droppable: [Int] = []
  /// Shorter forms of cells (row, then column), written when the full ones do not fit:
  /// `98.0 MiB` for `102,760,448`.
  package var compact: [Int: [Int: String]] = [:]

  package mutating func add(_ row: [String]) { rows.append(row) }

  /// Adds a row with shorter forms of some of its cells (column: text) for a tight width.
  package mutating func add(_ row: [String], compact cells: [Int: String]) {
    if !cells.isEmpty { compact[rows.count] = cells }
    rows.append(row)
  }

  /// A text column gives up characters down to this many in a first pass (its header's width
  /// if wider), and down to `hardFloor` only when the table is still too wide after the
  /// droppable columns are left out.
  static let softFloor = 24
  static let hardFloor = 12

  /// The cells as written: the compact forms when `compact`.
  func cells(compact useCompact: Bool) -> [[String]] {
    guard useCompact, !compact.isEmpty else { return rows }
    return rows.enumerated().map { i, row in
      guard let short = compact[i] else { return row }
      return row.enumerated().map { short[$0.offset] ?? $0.element }
    }
  }

  /// The natural width of each column: its widest cell.
  func naturalWidths() -> [Int] { naturalWidths(rows) }

  func naturalWidths(_ rows: [[String]]) -> [Int] {
    var widths = headers.map(\.count)
    for row in rows {
      for (i, cell) in row.enumerated() where i < widths.count {
        widths[i] = max(widths[i], cell.count)
      }
    }
    return widths
  }

  /// The width of a line of the table with columns of `widths` (the `kept` ones).
  static func lineWidth(_ widths: [Int], _ kept: [Int]) -> Int {
    kept.reduce(0) { $0 + widths[$1] } + 2 * max(0, kept.count - 1)
  }

  /// `widths` with the shrinkable columns among `kept` narrowed until a line fits `width`,
  /// each down to its header or its floor: when `soft`, `softFloor` or its `minimumWidths`
  /// entry, each column in turn (unless `shrinkEvenly`); else `hardFloor`, the widest first.
  func shrunk(_ natural: [Int], kept: [Int], width: Int, soft: Bool) -> [Int] {
    func floor(_ i: Int) -> Int {
      max(headers[i].count, soft ? minimumWidths[i] ?? Self.softFloor : Self.hardFloor)
    }
    var widths = natural
    var excess = Self.lineWidth(widths, kept) - width
    if shrinkEvenly || !soft {
      // The widest column above its floor gives up a character, until the line fits.
      let columns = shrinkable.filter { kept.contains($0) }
      func room(_ i: Int) -> Int { widths[i] - floor(i) }
      while excess > 0,
        let i = columns.filter({ room($0) > 0 }).max(by: { widths[$0] < widths[$1] })
      {
        widths[i] -= 1
        excess -= 1
      }
      return widths
    }
    for i in shrinkable where excess > 0 && kept.contains(i) {
      let cut = min(excess, max(0, widths[i] - floor(i)))
      widths[i] -= cut
      excess -= cut
    }
    return widths
  }

  /// Widths that fit `width` columns in all when the shrinkable columns allow it: each first
  /// down to `softFloor` characters, then to `hardFloor`.
  func fittedWidths(_ width: Int) -> [Int] {
    let soft = shrunk(
      naturalWidths(), kept: Array(headers.indices), width: width, soft: true)
    return shrunk(soft, kept: Array(headers.indices), width: width, soft: false)
  }

  /// How the table fits `width`: the columns kept, their widths and whether the compact cells
  /// are written. In order, the first that fits: text narrowed to `softFloor`; the same with
  /// compact numbers; then the same two with the droppable columns left out one by one; then
  /// text narrowed to `hardFloor` (which may still be too wide: the narrowest the table goes).
  /// With `cutBeforeDropping`, text is narrowed to `hardFloor` before any column is left out.
  func layout(_ width: Int) -> (kept: [Int], widths: [Int], compact: Bool) {
    let all = Array(headers.indices)
    guard width != .max else { return (all, naturalWidths(), false) }
    let drops = droppable.filter { headers.indices.contains($0) }
    let compacts = compact.isEmpty ? [false] : [false, true]
    var steps: [(drop: Int, compact: Bool, soft: Bool)] = []
    if cutBeforeDropping {
      steps = compacts.map { (0, $0, true) }
      steps += (0...drops.count).map { ($0, !compact.isEmpty, false) }
    } else {
      for d in 0...drops.count { steps += compacts.map { (d, $0, true) } }
      steps.append((drops.count, !compact.isEmpty, false))
    }
    var last: (kept: [Int], widths: [Int], compact: Bool) = (all, naturalWidths(), false)
    for step in steps {
      let left = Set(drops.prefix(step.drop))
      let kept = all.filter { !left.contains($0) }
      var widths = shrunk(
        naturalWidths(cells(compact: step.compact)), kept: kept, width: width, soft: true)
      if !step.soft { widths = shrunk(widths, kept: kept, width: width, soft: false) }
      last = (kept, widths, step.compact)
      if Self.lineWidth(widths, kept) <= width { break }
    }
    return last
  }

  /// Leaf names that say little alone (`q_proj.weight` and `k_proj.weight` differ by their
  /// module): a dotted name keeps the component before them too.
  static let genericLeaves: Set<String> = [
    "weight", "bias", "running_mean", "running_var", "num_batches_tracked",
  ]

  /// `cell` cut to `width` characters with `...`: at the end, or in the middle. In the middle,
  /// a dotted name first loses whole components after its first, from the left, never one
  /// holding a digit (a layer's index) nor its leaf (and the leaf's module for a `weight` or
  /// `bias`): `encoder.layers.encoder_layer_1.self_attention.in_proj_weight` at 43 is
  /// `encoder...encoder_layer_1...in_proj_weight`, `model.layers.3.self_attn.q_proj.weight` at
  /// 24 is `...3...q_proj.weight`; what is still too long keeps its end. Other text keeps two
  /// thirds of its characters from the end, where paths differ.
  static func elide(_ cell: String, _ width: Int, middle: Bool) -> String {
    guard cell.count > width else { return cell }
    guard width > 3 else { return String(cell.prefix(width)) }
    if !middle { return cell.prefix(width - 3) + "..." }
    if cell.contains(".") && !cell.contains("/") && !cell.hasPrefix(" ") {
      let parts = cell.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
      var kept = Array(repeating: true, count: parts.count)
      func joined(from start: Int = 0) -> String {
        var out = ""
        var gap = start > 0
        for (i, p) in parts.enumerated() where i >= start {
          if !kept[i] {
            gap = true
            continue
          }
          out += (out.isEmpty && !gap ? "" : gap ? "..." : ".") + p
          gap = false
        }
        return out
      }
      let tail = genericLeaves.contains(parts[parts.count - 1]) ? 2 : 1
      var text = cell
      for i in parts.indices.dropFirst().dropLast(tail)
      where text.count > width && !parts[i].isEmpty && !parts[i].contains(where: \.isNumber) {
        kept[i] = false
        text = joined()
      }
      if text.count <= width { return text }
      // Still too long: without the first component, then the end.
      let rest = joined(from: 1)
      return rest.count <= width ? rest : "..." + rest.suffix(width - 3)
    }
    let tail = (width - 3) * 2 / 3
    return cell.prefix(width - 3 - tail) + "..." + cell.suffix(tail)
  }

  /// The table fitted to `width` (`layout`), and the headers of the columns it left out.
  package func fit(style: TerminalStyle = .plain, width: Int = .max) -> (
    text: String, dropped: [String]
  ) {
    let (kept, widths, useCompact) = layout(width)
    func line(_ cells: [String]) -> String {
      var parts: [String] = []
      for i in kept where i < cells.count {
        let raw = cells[i]
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
    for (i, row) in cells(compact: useCompact).enumerated() {
      if rulesBefore.contains(i) {
        out.append(String(repeating: "-", count: Self.lineWidth(widths, kept)))
      }
      out.append(line(row))
    }
    let dropped = headers.indices.filter { !kept.contains($0) }.map { headers[$0] }
    return (out.joined(separator: "\n"), dropped)
  }

  /// The one line (wrapped at `width`) that says which columns `fit` left out and how to see
  /// them, or nil when none was.
  package func droppedNote(_ dropped: [String], width: Int) -> String? {
    guard !dropped.isEmpty else { return nil }
    let names = dropped.joined(separator: ", ")
    let full = Self.lineWidth(naturalWidths(), Array(headers.indices))
    let text =
      "(column\(dropped.count == 1 ? "" : "s") \(names) left out to fit \(width) columns: "
      + "COLUMNS=\(full) or --format json for all)"
    return Format.wrap(text, width: width, indent: 1).joined(separator: "\n")
  }

  /// The table as text, at most `width` columns wide when its columns allow it, with the
  /// line saying what was left out (`droppedNote`), dimmed, under it.
  public func render(style: TerminalStyle = .plain, width: Int = .max) -> String {
    let (text, dropped) = fit(style: style, width: width)
    guard let note = droppedNote(dropped, width: width) else { return text }
    return text + "\n" + style.dim(note)
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
