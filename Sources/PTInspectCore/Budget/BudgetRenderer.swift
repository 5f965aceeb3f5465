// BudgetRenderer.swift: budget verdicts as a table (one row per file and rule), a one-line
// verdict, JSON, JSON lines, and Markdown ready to post as a pull-request comment.

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// Several files' budget verdicts (`--format json` with more than one file).
package struct BudgetBatchReport: Sendable, Codable, Equatable {
  package var schemaVersion = reportSchemaVersion
  /// `pass` when every file is within budget, `fail` when any is over, `error` when any could
  /// not be read.
  package var verdict: BudgetVerdict
  package var files: [BudgetReport]

  package init(_ files: [BudgetReport]) {
    self.files = files
    verdict = BudgetRenderer.overallVerdict(files)
  }
}

package enum BudgetRenderer {
  /// `error` if any file could not be read, else `fail` if any is over budget, else `pass`.
  package static func overallVerdict(_ reports: [BudgetReport]) -> BudgetVerdict {
    if reports.contains(where: { $0.verdict == .error }) { return .error }
    if reports.contains(where: { $0.verdict == .fail }) { return .fail }
    return .pass
  }

  static func signed(_ n: Int64) -> String { n > 0 ? "+" + Format.count(n) : Format.count(n) }

  static func unit(_ c: BudgetCheck) -> String { c.metric == .parameters ? "" : " B" }

  static func percent(_ part: Int64, of whole: Int64) -> String? {
    guard whole != 0 else { return nil }
    let p = Double(part) / Double(whole) * 100
    return (p > 0 ? "+" : "") + cFormat("%.1f%%", p)
  }

  /// Actual, limit and margin as shown.
  static func cells(_ c: BudgetCheck) -> (actual: String, limit: String, margin: String) {
    let u = unit(c)
    if let base = c.baseline {
      let share = percent(c.actual, of: base).map { " (\($0))" } ?? ""
      return (signed(c.actual) + u + share, signed(c.limit) + u, signed(c.margin) + u)
    }
    let share = percent(c.margin, of: c.limit).map { " (\($0))" } ?? ""
    return (Format.count(c.actual) + u, Format.count(c.limit) + u, signed(c.margin) + u + share)
  }

  static func status(_ c: BudgetCheck) -> String {
    if c.pass { return "ok" }
    return c.matched == 0 ? "no match" : "over"
  }

  static func styled(_ s: String, _ pass: Bool, _ style: TerminalStyle) -> String {
    pass ? style.green(s) : style.red(s)
  }

  /// One line: the verdict for one file (`PASS x.pt: within budget (2 rules)`).
  package static func verdictLine(_ r: BudgetReport) -> String {
    let tag = r.verdict == .error ? "ERROR" : r.passed ? "PASS" : "FAIL"
    return "\(tag) \(r.file): \(verdictDetail(r))"
  }

  /// The verdict without the file: `within budget (2 rules)`, `over budget on 1 of 2 rules (...)`.
  package static func verdictDetail(_ r: BudgetReport) -> String {
    if r.verdict == .error { return "could not be read: \(r.error ?? "")" }
    let failed = r.failedRules
    let n = r.rules.count
    if failed.isEmpty {
      return "within budget (\(n) rule\(n == 1 ? "" : "s"))"
    }
    let which = failed.map { c -> String in
      if c.matched == 0 { return "\(c.rule): no match" }
      let what = c.metric == .parameters ? "parameters" : "bytes"
      return "\(c.rule) by \(Format.count(-c.margin)) \(what)"
    }
    return
      "over budget on \(failed.count) of \(n) rule\(n == 1 ? "" : "s") (\(which.joined(separator: "; ")))"
  }

  /// One line: the verdict for several files.
  package static func batchVerdictLine(_ reports: [BudgetReport]) -> String {
    let failed = reports.filter { $0.verdict == .fail }
    let errors = reports.filter { $0.verdict == .error }
    let ok = reports.count - failed.count - errors.count
    let files = { (n: Int) in "\(n) file\(n == 1 ? "" : "s")" }
    var parts: [String] = []
    if !failed.isEmpty {
      let names =
        failed.prefix(3).map(\.file).joined(separator: ", ") + (failed.count > 3 ? ", ..." : "")
      parts.append("\(failed.count) of \(files(reports.count)) over budget (\(names))")
    }
    if !errors.isEmpty {
      let names =
        errors.prefix(3).map(\.file).joined(separator: ", ") + (errors.count > 3 ? ", ..." : "")
      parts.append("\(errors.count) could not be read (\(names))")
    }
    if parts.isEmpty { return "PASS: \(files(ok)) within budget" }
    return (errors.isEmpty ? "FAIL: " : "ERROR: ") + parts.joined(separator: "; ")
  }

  static func table(_ reports: [BudgetReport], withFile: Bool) -> TextTable {
    var headers = ["Rule", "Actual", "Limit", "Margin", "Status"]
    var alignments: [Alignment] = [.left, .right, .right, .right, .left]
    if withFile {
      headers.insert("File", at: 0)
      alignments.insert(.left, at: 0)
    }
    var t = TextTable(headers: headers, alignments: alignments)
    // Narrow terminals: file names (cut in the middle) and rules shrink, then Limit and
    // Actual are left out (Margin says how far from the limit).
    let shift = withFile ? 1 : 0
    t.shrinkable = withFile ? [0, 1] : [0]
    t.elideMiddle = withFile ? [0] : []
    t.droppable = [2 + shift, 1 + shift]
    for r in reports {
      if r.verdict == .error {
        t.add((withFile ? [r.file] : []) + ["-", "-", "-", "-", "unreadable"])
        continue
      }
      for c in r.rules {
        let (actual, limit, margin) = cells(c)
        t.add((withFile ? [r.file] : []) + [c.rule, actual, limit, margin, status(c)])
      }
    }
    return t
  }

  /// Colours the Status column of a rendered table (the last column).
  static func colour(_ rendered: String, style: TerminalStyle) -> String {
    guard style.enabled else { return rendered }
    return rendered.split(separator: "\n", omittingEmptySubsequences: false).enumerated().map {
      i, line in
      guard i > 0 else { return String(line) }
      for (word, pass) in [
        ("ok", true), ("over", false), ("no match", false), ("unreadable", false),
      ]
      where line.hasSuffix("  " + word) {
        return String(line.dropLast(word.count)) + styled(word, pass, style)
      }
      return String(line)
    }.joined(separator: "\n")
  }

  /// Notes (group patterns matching nothing, missing baselines) as lines, each wrapped at
  /// `width` under its text.
  static func notes(_ reports: [BudgetReport], withFile: Bool, width: Int = .max) -> [String] {
    var out: [String] = []
    for r in reports {
      let prefix = withFile ? "\(r.file): " : ""
      for c in r.rules {
        if let note = c.note { out.append(Format.tagged("note:", prefix + note, width: width)) }
      }
      for note in r.notes { out.append(Format.tagged("note:", prefix + note, width: width)) }
    }
    return out
  }

  /// The verdict for one file: the rules table fitted to `width`, then one verdict line.
  package static func table(
    _ r: BudgetReport, style: TerminalStyle = .plain, width: Int = .max
  ) -> String {
    var out: [String] = []
    if let config = r.config {
      out.append(style.dim(Format.wrapped("rules from \(config)", width: width)))
    }
    if r.verdict != .error {
      out.append(
        colour(table([r], withFile: false).render(style: style, width: width), style: style))
      out.append(contentsOf: notes([r], withFile: false, width: width))
      out.append("")
    }
    out.append(
      style.bold(styled(Format.wrapped(verdictLine(r), width: width, indent: 5), r.passed, style)))
    return out.joined(separator: "\n") + "\n"
  }

  /// Several files: one row per file and rule (fitted to `width`), then one verdict line.
  package static func table(
    _ reports: [BudgetReport], style: TerminalStyle = .plain, width: Int = .max
  ) -> String {
    if reports.count == 1, let only = reports.first {
      return table(only, style: style, width: width)
    }
    var out: [String] = []
    if let config = reports.first?.config {
      out.append(style.dim(Format.wrapped("rules from \(config)", width: width)))
    }
    out.append(
      colour(table(reports, withFile: true).render(style: style, width: width), style: style))
    out.append(contentsOf: notes(reports, withFile: true, width: width))
    out.append("")
    let verdict = Format.wrapped(batchVerdictLine(reports), width: width, indent: 6)
    out.append(style.bold(styled(verdict, overallVerdict(reports) == .pass, style)))
    return out.joined(separator: "\n") + "\n"
  }

  /// Markdown for a pull-request comment: a heading with the verdict, the rules table, notes.
  package static func markdown(_ reports: [BudgetReport]) -> String {
    let verdict = overallVerdict(reports)
    let heading =
      switch verdict {
      case .pass: "✅ within budget"
      case .fail: "❌ over budget"
      case .error: "⚠️ could not check every file"
      }
    var out = ["### ptinspect budget: \(heading)", ""]
    let single = reports.count == 1
    for r in reports where single {
      out.append("`\(r.file)`: \(verdictDetail(r))")
      out.append("")
    }
    if !single {
      out.append(batchVerdictLine(reports))
      out.append("")
    }
    var t = table(reports, withFile: !single)
    for i in t.rows.indices {
      let last = t.rows[i].count - 1
      let s = t.rows[i][last]
      t.rows[i][last] = s == "ok" ? "✅ ok" : "❌ " + s
      if !single { t.rows[i][0] = "`\(t.rows[i][0])`" }
      t.rows[i][single ? 0 : 1] =
        t.rows[i][single ? 0 : 1] == "-" ? "-" : "`\(t.rows[i][single ? 0 : 1])`"
    }
    if t.rows.isEmpty == false { out.append(t.markdown()) }
    let notes = notes(reports, withFile: !single)
    let errors = reports.filter { $0.verdict == .error }
    if !notes.isEmpty || !errors.isEmpty {
      out.append("")
      for e in errors { out.append("- **unreadable** `\(e.file)`: \(e.error ?? "")") }
      for n in notes { out.append("- " + n) }
    }
    if let config = reports.first?.config {
      out.append("")
      out.append("_Rules from `\(config)`._")
    }
    return out.joined(separator: "\n") + "\n"
  }
}
