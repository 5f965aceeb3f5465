// DiffRenderer.swift: `ptinspect diff` as a terminal table or Markdown.

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// Renders a `DiffReport`.
package enum DiffRenderer {
  /// `model.pt (torch-zip, 33 tensors)`, the file in backticks for Markdown.
  static func describe(_ side: DiffSide, quoted: Bool) -> String {
    (quoted ? "`\(side.file)`" : side.file)
      + " (\(side.format), \(Format.count(Int64(side.tensors))) tensors)"
  }

  /// The terminal rendering: files, names, a table of what differs, layers, totals, verdict;
  /// tables fitted to `width` columns and longer lines wrapped under themselves.
  package static func table(_ r: DiffReport, style: TerminalStyle = .plain, width: Int = .max)
    -> String
  {
    func wrap(_ text: String, _ indent: Int) -> String {
      Format.wrapped(text, width: width, indent: indent)
    }
    // Nothing differs: one line.
    if r.differences == 0 && r.tensors.isEmpty && r.expectations.isEmpty
      && r.values.skipped.isEmpty && (r.contents?.skipped.isEmpty ?? true)
    {
      return style.bold(style.green(wrap("verdict: " + r.verdict, 9))) + "\n"
        + costLines(r, style, width: width)
    }
    var out = [
      wrap("before: " + describe(r.before, quoted: false), 8),
      wrap("after:  " + describe(r.after, quoted: false), 8),
    ]
    for line in nameLines(r) { out.append(wrap("names:  " + line, 8)) }
    if !r.tensors.isEmpty {
      out.append("")
      out.append(differenceTable(r).render(style: style, width: width))
    }
    if !r.values.nonFinite.isEmpty {
      out.append("")
      for n in r.values.nonFinite {
        out.append(style.yellow(wrap("NaN/Inf: " + nonFiniteLine(n), 9)))
      }
    }
    if !r.layers.isEmpty {
      out.append("")
      out.append(style.bold("Layers"))
      for l in r.layers { out.append(wrap("  " + layerLine(l), 4)) }
    }
    out.append("")
    out.append(totalsTable(r).render(style: style, width: width))
    if !r.expectations.isEmpty {
      out.append("")
      for e in r.expectations {
        let line = wrap(expectationLine(e), 2)
        out.append(e.kept ? style.green(line) : style.red(line))
        for v in e.violations.prefix(20) { out.append(wrap("  \(v.name): \(v.change)", 4)) }
        if e.violations.count > 20 {
          out.append("  ... and \(Format.count(Int64(e.violations.count - 20))) more")
        }
      }
    }
    let skipped = r.values.skipped + (r.contents?.skipped ?? [])
    for s in skipped.prefix(10) {
      out.append(style.dim(wrap("not compared: \(s.name) (\(s.reason))", 14)))
    }
    if skipped.count > 10 {
      out.append(style.dim("not compared: \(Format.count(Int64(skipped.count - 10))) more"))
    }
    if !r.notes.isEmpty {
      out.append("")
      for n in r.notes { out.append(style.dim(Format.tagged("note:", n, width: width))) }
    }
    out.append("")
    let verdict = wrap("verdict: " + r.verdict, 9)
    out.append(r.finding ? style.bold(style.red(verdict)) : style.bold(style.green(verdict)))
    return out.joined(separator: "\n") + "\n" + costLines(r, style, width: width)
  }

  /// One line per remote side: what reading it cost.
  static func costLines(_ r: DiffReport, _ style: TerminalStyle, width: Int = .max) -> String {
    [r.before, r.after].compactMap { side in
      side.source.map {
        style.dim(
          Format.wrapped(SummaryRenderer.costLine($0, fileBytes: side.fileBytes), width: width))
          + "\n"
      }
    }.joined()
  }

  /// The same report as GitHub-flavoured Markdown.
  package static func markdown(_ r: DiffReport) -> String {
    var out: [String] = []
    out.append("### ptinspect diff: `\(r.before.file)` → `\(r.after.file)`")
    out.append("")
    out.append("**\(r.verdict)**")
    out.append("")
    out.append("- before: " + describe(r.before, quoted: true))
    out.append("- after: " + describe(r.after, quoted: true))
    for line in nameLines(r) { out.append("- names: " + line) }
    if !r.tensors.isEmpty {
      out.append("")
      out.append(differenceTable(r).markdown())
    }
    if !r.values.nonFinite.isEmpty {
      out.append("")
      for n in r.values.nonFinite { out.append("- NaN/Inf: " + nonFiniteLine(n)) }
    }
    if !r.layers.isEmpty {
      out.append("")
      out.append("#### Layers")
      out.append("")
      for l in r.layers { out.append("- " + layerLine(l)) }
    }
    out.append("")
    out.append(totalsTable(r).markdown())
    if !r.expectations.isEmpty {
      out.append("")
      for e in r.expectations {
        out.append("- " + expectationLine(e))
        for v in e.violations.prefix(20) { out.append("  - `\(v.name)`: \(v.change)") }
        if e.violations.count > 20 {
          out.append("  - ... and \(Format.count(Int64(e.violations.count - 20))) more")
        }
      }
    }
    let extra =
      (r.values.skipped + (r.contents?.skipped ?? [])).prefix(10).map {
        "not compared: `\($0.name)` (\($0.reason))"
      }
      + r.notes.map { "note: " + $0 }
    if !extra.isEmpty {
      out.append("")
      for line in extra { out.append("- " + line) }
    }
    return out.joined(separator: "\n") + "\n"
  }

  // MARK: pieces

  static func nameLines(_ r: DiffReport) -> [String] {
    var lines: [String] = []
    for (label, side) in [("before", r.before), ("after", r.after)] where !side.modelPrefix.isEmpty
    {
      lines.append("the model of \(label) sits under '\(side.modelPrefix)' (left out of its names)")
    }
    for s in r.prefixStripped {
      let how =
        s.automatic
        ? "every model key of \(s.side) carries it, the other side's do not" : "--strip-prefix"
      lines.append(
        "'\(s.prefix)' stripped from \(Format.count(Int64(s.tensors))) names of \(s.side) (\(how))")
    }
    return lines
  }

  static func differenceTable(_ r: DiffReport) -> TextTable {
    let stats = r.valuesCompared
    var headers = ["Change", "Tensor", "Before", "After"]
    var alignments: [Alignment] = [.left, .left, .left, .left]
    if stats {
      headers += ["Elements changed", "Max abs diff", "Max rel diff", "RMS diff", "Cosine"]
      alignments += [.right, .right, .right, .right, .right]
    }
    var table = TextTable(headers: headers, alignments: alignments)
    // Narrow terminals: tensor names (cut in the middle) and changes shrink; then RMS diff,
    // Max rel diff, Before, After and Elements changed are left out, in that order.
    table.shrinkable = [1, 0]
    table.elideMiddle = [1]
    table.minimumWidths = [1: 32]
    if stats { table.droppable = [7, 6, 2, 3, 4] }
    let valueChanges = Dictionary(
      (r.changed + r.withinTolerance).map { ($0.name, $0.stats) }, uniquingKeysWith: { x, _ in x })
    for t in r.tensors {
      var row = [
        t.change.replacingOccurrences(of: "+", with: ", "), t.name, look(t.before), look(t.after),
      ]
      if stats {
        if let s = valueChanges[t.name] {
          row += [
            "\(Format.count(s.elementsChanged)) of \(Format.count(s.numel))", number(s.maxAbsDiff),
            s.maxRelDiff.map(number) ?? "-", number(s.rmsDiff), s.cosine.map(cosine) ?? "-",
          ]
        } else {
          row += ["", "", "", "", ""]
        }
      }
      table.add(row)
    }
    return table
  }

  static func look(_ l: TensorLook?) -> String {
    guard let l else { return "-" }
    return "\(l.dtype) \(Format.shape(l.shape))"
  }

  /// Four significant digits, in exponent form when small or large: `0.02820`, `5.916e-05`.
  static func number(_ x: Double) -> String {
    if x == 0 { return "0" }
    if !x.isFinite { return x.isNaN ? "NaN" : (x > 0 ? "Inf" : "-Inf") }
    let a = Swift.abs(x)
    return a >= 1e-3 && a < 1e5 ? cFormat("%.4g", x) : cFormat("%.3e", x)
  }

  /// A cosine near 1 as `1 - 2.316e-08`, so its digits are not all nines.
  static func cosine(_ c: Double) -> String {
    if c < 1 && 1 - c < 1e-4 { return "1 - " + cFormat("%.3e", 1 - c) }
    return cFormat("%.6f", c)
  }

  static func signed(_ n: Int64) -> String { n > 0 ? "+" + Format.count(n) : Format.count(n) }

  static func layerLine(_ l: LayerChange) -> String {
    var text = "\(l.name): "
    switch (l.before, l.after) {
    case (let b?, let a?) where b == a: text += b
    case (let b?, let a?): text += "\(b) -> \(a)"
    case (nil, let a?): text += "(new) \(a)"
    case (let b?, nil): text += "\(b) -> (removed)"
    case (nil, nil): text += "?"
    }
    var parts: [String] = []
    if l.parameterDifference != 0 { parts.append("\(signed(l.parameterDifference)) parameters") }
    if l.buffersAfter != l.buffersBefore {
      parts.append("\(signed(l.buffersAfter &- l.buffersBefore)) buffer elements")
    }
    // Group the tensors by what changed: `weight, bias: values`.
    var order: [String] = []
    var byChange: [String: [String]] = [:]
    for t in l.tensors where l.before != nil && l.after != nil {
      if byChange[t.change] == nil { order.append(t.change) }
      byChange[t.change, default: []].append(t.name)
    }
    for change in order {
      let what = change.replacingOccurrences(of: "+", with: " and ")
      parts.append("\(what) of \(byChange[change, default: []].joined(separator: ", "))")
    }
    if !parts.isEmpty { text += ": " + parts.joined(separator: "; ") }
    return text
  }

  static func totalsTable(_ r: DiffReport) -> TextTable {
    var table = TextTable(
      headers: ["Totals", "Before", "After", "Difference"],
      alignments: [.left, .right, .right, .right])
    let t = r.totals
    table.add([
      "tensors", Format.count(t.before.tensors), Format.count(t.after.tensors),
      signed(t.difference.tensors),
    ])
    table.add([
      "parameters", Format.count(t.before.parameters), Format.count(t.after.parameters),
      signed(t.difference.parameters),
    ])
    table.add([
      "buffer elements", Format.count(t.before.buffers), Format.count(t.after.buffers),
      signed(t.difference.buffers),
    ])
    table.add([
      "bytes", Format.count(t.before.bytes), Format.count(t.after.bytes),
      signed(t.difference.bytes),
    ])
    return table
  }

  static func expectationLine(_ e: ExpectationResult) -> String {
    if e.tensors == 0 { return "expect unchanged '\(e.pattern)': BROKEN, it matches no tensor" }
    if e.kept {
      return "expect unchanged '\(e.pattern)': kept (\(Format.count(Int64(e.tensors))) tensors)"
    }
    return
      "expect unchanged '\(e.pattern)': BROKEN, \(Format.count(Int64(e.violations.count))) of \(Format.count(Int64(e.tensors))) tensors changed"
  }

  static func nonFiniteLine(_ n: NonFiniteCount) -> String {
    "\(n.name): \(Format.count(n.nanBefore)) NaN and \(Format.count(n.infBefore)) Inf before, \(Format.count(n.nanAfter)) NaN and \(Format.count(n.infAfter)) Inf after"
  }
}
