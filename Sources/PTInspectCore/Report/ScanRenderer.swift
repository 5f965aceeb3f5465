// ScanRenderer.swift: a scan report as a table for the terminal or as Markdown.

/// Renders `ScanReport`s.
package enum ScanRenderer {
  /// Occurrences listed per global in the Where column before "+N more".
  static let shownOccurrences = 3

  /// The report as the terminal shows it: the table fitted to `width` columns, the other
  /// lines wrapped under themselves (the Python lines to copy excepted).
  package static func table(
    _ r: ScanReport, strict: Bool = false, style: TerminalStyle = .plain, width: Int = .max
  ) -> String {
    var out = [Format.wrapped(header(r), width: width)]
    if !r.globals.isEmpty {
      out.append("")
      out.append(globalsTable(r).render(style: style, width: width))
    }
    out.append("")
    out.append(verdictLine(r, strict: strict, style: style, width: width))
    if let cost = r.source {
      out.append(
        style.dim(
          Format.wrapped(SummaryRenderer.costLine(cost, fileBytes: r.fileBytes), width: width)))
    }
    if !r.zipFindings.isEmpty {
      out.append("")
      for f in r.zipFindings {
        out.append(
          Format.tagged("zip:", Format.printable(f.message), width: width, style: style.yellow))
      }
    }
    if let line = r.addSafeGlobalsLine {
      out.append("")
      out.append(
        Format.wrapped(
          "Reviewed data types (and globals you allowed) that torch.load(weights_only=True) refuses by default; to allow them:",
          width: width, indent: 0))
      // Python to copy: never wrapped.
      if let imports = r.addSafeGlobalsImports { out.append("  " + imports) }
      out.append("  " + line)
    }
    let advice = adviceGroups(r)
    if !advice.isEmpty {
      out.append("")
      out.append("Not suggested for allowing; check instead:")
      for (names, check) in advice {
        out.append(Format.tagged("  \(names):", Format.printable(check), width: width))
      }
    }
    let notes =
      r.errors.map { ("error:", style.red, $0) } + r.notes.map { ("note:", style.dim, $0) }
    if !notes.isEmpty {
      out.append("")
      for (tag, paint, message) in notes {
        out.append(Format.tagged(tag, Format.printable(message), width: width, style: paint))
      }
    }
    return out.joined(separator: "\n") + "\n"
  }

  /// The report as Markdown, ready to post in a pull request.
  package static func markdown(_ r: ScanReport) -> String {
    var out = [
      "### ptinspect scan: `\(Format.printable(r.file))`", "",
      header(r).replacingOccurrences(of: "\(Format.printable(r.file)): ", with: ""), "",
    ]
    if !r.globals.isEmpty {
      var table = globalsTable(r)
      table.rows = table.rows.map { row in
        row.enumerated().map { $0.offset == 1 ? "`\($0.element)`" : $0.element }
      }
      out.append(table.markdown())
      out.append("")
    }
    out.append("**\(verdictLine(r, strict: false, style: .plain))**")
    if !r.zipFindings.isEmpty {
      out.append("")
      for f in r.zipFindings { out.append("- zip: \(Format.printable(f.message))") }
    }
    if let line = r.addSafeGlobalsLine {
      out.append("")
      out.append("Reviewed data types (and globals you allowed) that torch refuses by default:")
      out.append("")
      out.append("```python")
      if let imports = r.addSafeGlobalsImports { out.append(imports) }
      out.append(line)
      out.append("```")
    }
    let advice = adviceGroups(r)
    if !advice.isEmpty {
      out.append("")
      out.append("Not suggested for allowing; check instead:")
      out.append("")
      for (names, check) in advice { out.append("- \(names): \(Format.printable(check))") }
    }
    let notes =
      r.errors.map { "- error: \(Format.printable($0))" }
      + r.notes.map { "- note: \(Format.printable($0))" }
    if !notes.isEmpty {
      out.append("")
      out.append(contentsOf: notes)
    }
    return out.joined(separator: "\n") + "\n"
  }

  /// The advice, one line per distinct check: `a, b, c: what to check`.
  static func adviceGroups(_ r: ScanReport) -> [(String, String)] {
    var groups: [(names: [String], count: Int, check: String)] = []
    var index: [String: Int] = [:]
    for a in r.advice {
      if let i = index[a.check] {
        groups[i].count += 1
        if groups[i].names.count < 4 {
          groups[i].names.append(Format.printable(a.global, limit: 160))
        }
      } else {
        index[a.check] = groups.count
        groups.append(([Format.printable(a.global, limit: 160)], 1, a.check))
      }
    }
    return groups.map { g in
      let shown = g.names.joined(separator: ", ")
      return (
        g.count > g.names.count ? shown + " and \(g.count - g.names.count) more" : shown, g.check
      )
    }
  }

  /// The Why column: the reason, and for an unknown global whether loading calls it.
  static func why(_ g: ScanGlobal) -> String {
    guard g.classification == .unknown, !GlobalClassifier.isPartial(g.qualifiedName) else {
      return g.reason
    }
    return g.reason
      + (g.calledBy.isEmpty
        ? "; referenced, not called" : "; called (\(g.calledBy.joined(separator: ", ")))")
  }

  static func header(_ r: ScanReport) -> String {
    let pickles = r.pickles.count
    var text =
      "\(Format.printable(r.file)): \(r.format), \(pickles) pickle\(pickles == 1 ? "" : "s"), "
    text += "\(r.globals.count) distinct global\(r.globals.count == 1 ? "" : "s")"
    if !r.globals.isEmpty {
      text +=
        " (\(r.count(.dangerous)) dangerous, \(r.count(.unknown)) unknown, \(r.count(.allowed)) allowed)"
    }
    return text
  }

  static func globalsTable(_ r: ScanReport) -> TextTable {
    var table = TextTable(
      headers: ["Verdict", "Global", "Refs", "Where", "Why"],
      alignments: [.left, .left, .right, .left, .left])
    // Narrow terminals: names shrink, then Refs and Where are left out before a reason is
    // cut (below 60 characters), then reasons and names shrink together, the wider first.
    table.shrinkable = [4, 1]
    table.shrinkEvenly = true
    table.elideMiddle = [1]
    table.droppable = [2, 3]
    for g in r.globals {
      table.add([
        g.classification.rawValue, Format.printable(g.displayName, limit: 160),
        Format.count(Int64(g.occurrences.count)),
        locations(g), Format.printable(why(g)),
      ])
    }
    table.minimumWidths = [4: min(60, table.rows.map { $0[4].count }.max() ?? 0)]
    return table
  }

  /// `data.pkl GLOBAL@97 REDUCE@128; constants.pkl GLOBAL@4 +3 more`.
  static func locations(_ g: ScanGlobal) -> String {
    var groups: [(pickle: String, items: [String])] = []
    for o in g.occurrences.prefix(shownOccurrences) {
      let item = "\(o.opcode)@\(o.offset)"
      if let last = groups.last, last.pickle == o.pickle {
        groups[groups.count - 1].items.append(item)
      } else {
        groups.append((o.pickle, [item]))
      }
    }
    var text = groups.map {
      Format.printable($0.pickle, limit: 160) + " " + $0.items.joined(separator: " ")
    }
    .joined(separator: "; ")
    if g.occurrences.count > shownOccurrences {
      text += " +\(g.occurrences.count - shownOccurrences) more"
    }
    return text
  }

  /// One line: what the scan means for loading the file.
  static func verdictLine(
    _ r: ScanReport, strict: Bool, style: TerminalStyle, width: Int = .max
  ) -> String {
    var text: String
    switch r.verdict {
    case .dangerous:
      let names = r.globals.filter { $0.classification == .dangerous }.map {
        Format.printable($0.displayName, limit: 160)
      }
      let shown = names.prefix(3).joined(separator: ", ") + (names.count > 3 ? ", ..." : "")
      text =
        style.red("DANGEROUS")
        + ": \(names.count) global\(names.count == 1 ? "" : "s") can run code or touch the system (\(shown)); \(r.unsafeLoad) on this file would run \(names.count == 1 ? "it" : "them")"
    case .unknown:
      let n = r.count(.unknown)
      text =
        style.yellow("UNKNOWN")
        + ": nothing known to be dangerous, but \(n) global\(n == 1 ? " is" : "s are") outside torch's weights_only allowlist"
        + (r.format == "torchscript"
          ? " (TorchScript types and helpers, which torch.jit.load resolves itself)"
          : "; torch.load(weights_only=True) refuses the file until \(n == 1 ? "it is" : "they are") allowed")
    case .allowed:
      text =
        style.green("SAFE")
        + (r.globals.isEmpty
          ? (r.pickles.isEmpty ? ": no pickle to run" : ": the pickles name no global")
          : r.globals.contains(where: \.allowedByUser)
            ? ": every global is on torch's weights_only allowlist or allowed by you"
            : ": every global is on torch's weights_only allowlist")
    }
    if !r.complete {
      let n = r.errors.count
      text =
        style.red("INCOMPLETE") + ": \(n) part\(n == 1 ? "" : "s") could not be read; in the rest, "
        + text
    }
    if strict && r.complete && r.verdict != .dangerous
      && (r.verdict == .unknown || !r.zipFindings.isEmpty)
    {
      text += " [--strict: fails]"
    }
    return Format.tagged("verdict:", text, width: width)
  }
}
