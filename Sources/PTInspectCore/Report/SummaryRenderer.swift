// SummaryRenderer.swift: the summary for people (a table) and for pull requests (Markdown).

/// How the layer table is laid out.
public struct LayerTableOptions: Sendable {
  /// Roll the module tree up to this many name components.
  public var depth: Int?
  /// Collapse repeated blocks into one group.
  public var collapse = true
  /// Show each layer's parameter formula and what was inferred.
  public var explain = false
  /// Show the memory block (bytes by dtype, projections, Adam estimate, file anatomy).
  public var memory = false
  /// The width tables fit (descriptions are cut with `...` first); `.max`: as wide as they are.
  public var width = Int.max
  /// The lines the summary should fit: without `depth`, and with repeats collapsed, a longer
  /// layer table is rolled up to the deepest depth that fits (`.max`: never).
  public var height = Int.max
  /// Options for the layer table: `depth` rolls the module tree up to N levels, `collapse` folds
  /// repeated blocks, `explain` adds each count's formula, `memory` adds the memory section.
  public init(depth: Int? = nil, collapse: Bool = true, explain: Bool = false, memory: Bool = false)
  {
    self.depth = depth
    self.collapse = collapse
    self.explain = explain
    self.memory = memory
  }
}

/// Renders a `SummaryReport` as `ptinspect` prints it: a terminal table or Markdown. Pure: it returns the text.
public enum SummaryRenderer {
  static func dash(_ n: Int64) -> String { n == 0 ? "-" : Format.count(n) }

  /// A description in fewer characters, for a table that does not fit: the keywords whose
  /// meaning the position gives (`in_features=`, `kernel_size=`, ...) and `bias=True` left out.
  /// `Linear(in_features=16, out_features=4, bias=True)` is `Linear(16, 4)`.
  static func compact(_ description: String) -> String {
    var d = description
    for keyword in [
      "in_features=", "out_features=", "kernel_size=", "embed_dim=", "num_parameters=",
      "num_embeddings=", "embedding_dim=",
    ] {
      d = d.replacingOccurrences(of: keyword, with: "")
    }
    return d.replacingOccurrences(of: ", bias=True)", with: ")")
  }

  /// The layer table; one that does not fit `options.width` writes compact descriptions, and
  /// leaves out the Buffers column when the model has no buffers.
  /// `rows` are the table's rows when the caller has them already (the height fitting does).
  static func layerTable(
    _ r: SummaryReport, _ options: LayerTableOptions, rows: [LayerRow]? = nil
  ) -> TextTable {
    let rows = rows ?? LayerRows.rows(r.layers, depth: options.depth, collapse: options.collapse)
    var table = layerTable(r, rows, compact: false, buffers: true)
    func fits(_ t: TextTable) -> Bool {
      t.naturalWidths().reduce(0, +) + 2 * (t.headers.count - 1) <= options.width
    }
    if options.width != .max && !fits(table) {
      table = layerTable(r, rows, compact: true, buffers: r.totals.buffers > 0)
    }
    return table
  }

  static func layerTable(
    _ r: SummaryReport, _ rows: [LayerRow], compact: Bool, buffers: Bool
  ) -> TextTable {
    var table = TextTable(
      headers: ["Layer", "Type", "Description", "Parameters", "Buffers", "Bytes"],
      alignments: [.left, .left, .left, .right, .right, .right])
    // At first, of the layer names only groups' labels are cut (in the middle).
    let plain = rows.filter { $0.repeatCount <= 1 }.map(\.name.count).max() ?? 0
    table.minimumWidths = [0: max(TextTable.softFloor, plain)]
    for row in rows {
      var description = compact ? Self.compact(row.description) : row.description
      if !row.shared.isEmpty {
        description += " [tied: " + row.shared.joined(separator: ", ") + "]"
      }
      table.add([
        row.name, row.displayType, description,
        dash(row.parameters) + (row.isBlockMember ? " each" : ""),
        dash(row.buffers), Format.bytes(row.bytes),
      ])
    }
    table.rulesBefore = [table.rows.count]
    // Descriptions shrink first, then layer names (in the middle, so a group's `[0-11] x12`
    // stays), then types.
    table.shrinkable = [2, 0, 1]
    table.elideMiddle = [0]
    table.add([
      "Total", "\(r.layers.count) layers", "", Format.count(r.totals.parameters),
      Format.count(r.totals.buffers),
      Format.bytes(r.totals.bytes),
    ])
    // Too narrow still: Buffers, then Bytes, are left out.
    table.cutBeforeDropping = true
    table.droppable = [4, 5]
    if !buffers {
      table.headers.remove(at: 4)
      table.alignments.remove(at: 4)
      table.rows = table.rows.map {
        var row = $0; row.remove(at: 4); return row
      }
      table.droppable = [4]
    }
    return table
  }

  /// Lines of the totals block as (label, value, detail).
  static func totalsLines(_ r: SummaryReport) -> [(String, String, String)] {
    let t = r.totals
    var lines: [(String, String, String)] = []
    var p = ["weights \(Format.count(t.weights))", "biases \(Format.count(t.biases))"]
    if t.otherParameters > 0 { p.append("other \(Format.count(t.otherParameters))") }
    lines.append(("Parameters", Format.count(t.parameters), p.joined(separator: ", ")))
    let byType = t.byLayerType.filter { $0.value > 0 }.sorted {
      ($0.value, $1.key) > ($1.value, $0.key)
    }
    if byType.count > 1 {
      lines.append(
        (
          "  by layer type", "",
          byType.prefix(8).map { "\($0.key) \(Format.count($0.value))" }.joined(separator: ", ")
        ))
    }
    if let trainable = t.trainable, let frozen = t.frozen {
      lines.append(
        (
          "  trainable", Format.count(trainable),
          "frozen \(Format.count(frozen)) (requires_grad from the file)"
        ))
    } else if !t.parametersExact && t.tensors > 0 {
      lines.append(
        ("", "", "(inferred from names and dtypes: a state dict does not mark parameters)"))
    }
    var b: [String] = []
    if t.runningStats > 0 { b.append("running_mean/var \(Format.count(t.runningStats))") }
    if t.numBatchesTracked > 0 {
      b.append("num_batches_tracked \(Format.count(t.numBatchesTracked))")
    }
    if t.otherBuffers > 0 { b.append("other \(Format.count(t.otherBuffers))") }
    lines.append(("Buffers", Format.count(t.buffers), b.joined(separator: ", ")))
    lines.append(
      (
        "Elements", Format.count(t.elements),
        t.sharedTensors > 0 ? "\(t.sharedTensors) tied tensor(s) counted once" : ""
      ))
    let dtypes = t.byDtype.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map {
      "\($0.key) \(Format.bytes($0.value))"
    }
    lines.append(
      (
        "Bytes", Format.count(t.bytes),
        Format.bytes(t.bytes) + (dtypes.isEmpty ? "" : ": " + dtypes.joined(separator: ", "))
      ))
    lines.append(("File", Format.count(r.fileBytes), r.anatomy.verdict))
    return lines
  }

  /// The legend for `?` types, naming what the table's guesses could also be.
  static func guessNote(_ r: SummaryReport) -> String? {
    var alternatives: [String] = []
    // The guesses already looked at: thousands of layers make a few distinct guesses.
    var seen: [(type: String, candidates: [String])] = []
    for l in r.layers where l.isGuess {
      guard !seen.contains(where: { $0.type == l.type && $0.candidates == l.typeCandidates })
      else { continue }
      seen.append((l.type, l.typeCandidates))
      guard !l.type.contains(" or ") else { continue }
      let other = l.typeCandidates.dropFirst().joined(separator: "/")
      let pair = "\(l.type)? could be \(other)"
      if !alternatives.contains(pair) { alternatives.append(pair) }
    }
    guard !alternatives.isEmpty else { return nil }
    return "? = inferred from shapes that fit another type too ("
      + alternatives.prefix(3).joined(
        separator: "; ") + "); --explain tells why"
  }

  static func header(_ r: SummaryReport) -> String {
    var parts = [r.format, Format.bytes(r.fileBytes), "\(r.tensors.count) tensors"]
    if r.pickleProtocol > 0 { parts.append("pickle protocol \(r.pickleProtocol)") }
    if !r.modelPrefix.isEmpty { parts.append("model at '\(r.modelPrefix.dropLast())'") }
    return "\(r.file): " + parts.joined(separator: ", ")
  }

  /// The depth the layer table is rolled up to so the summary fits `options.height` lines, with
  /// the table's rows at that depth: the depth is nil when the table fits as it is (or has only
  /// one level); nil altogether when the table is not fitted (a depth was asked for, or every
  /// layer). `otherLines` is how many lines the summary has besides the layer table's rows, and
  /// `noteLines` those of the note saying it was rolled up: a table too long by its rows alone is
  /// not rendered to be counted.
  static func fittingDepth(
    _ r: SummaryReport, _ options: LayerTableOptions, otherLines: Int, noteLines: Int
  ) -> (depth: Int?, rows: [LayerRow])? {
    guard options.depth == nil, options.collapse, !options.explain, !options.memory,
      options.height != .max
    else { return nil }
    let source = LayerRowSource(r.layers, formulas: false)
    func rows(_ depth: Int?) -> [LayerRow] { source.rows(depth: depth, collapse: true) }
    // A table short enough to fit is rendered to be counted (a narrow terminal adds a line
    // saying which columns were left out); a longer one is too long by its rows alone.
    func lines(_ rows: [LayerRow]) -> Int {
      guard otherLines + rows.count <= options.height else { return otherLines + rows.count }
      let table = layerTable(r, options, rows: rows).render(width: options.width)
      return otherLines - 3 + lineCount(table)
    }
    let whole = rows(nil)
    var depth = source.deepest - 1
    guard lines(whole) > options.height, depth >= 1 else { return (nil, whole) }
    var fitted = rows(depth)
    // With the roll-up note.
    while depth > 1 && lines(fitted) + noteLines > options.height {
      depth -= 1
      fitted = rows(depth)
    }
    return (depth, fitted)
  }

  /// The summary as a table for a terminal.
  public static func table(
    _ r: SummaryReport, options: LayerTableOptions = LayerTableOptions(),
    style: TerminalStyle = .plain
  ) -> String {
    var options = options
    // What follows the layer table depends on the depth only through --explain's formulas, and
    // a table with --explain is never rolled up to fit: it is written once, before fitting.
    let width = options.width
    let rest = sectionsAfterLayers(r, options: options, style: style)
    let head = Format.wrapped(header(r), width: width)
    let guess = r.layers.isEmpty ? nil : guessNote(r).map { Format.wrapped($0, width: width) }
    // Lines besides the rows: the header and a blank line, the table's heading, rule and total,
    // the guess note, and the rest; and what the roll-up note takes when there is one.
    let otherLines =
      lineCount(head) + 1 + 3 + (guess.map(lineCount) ?? 0) + rest.reduce(0) { $0 + lineCount($1) }
    let fitted =
      r.layers.isEmpty
      ? nil
      : fittingDepth(
        r, options, otherLines: otherLines,
        noteLines: lineCount(rolledUpNote(depth: 1, options: options)))
    let rolledUp = fitted?.depth ?? nil
    if let rolledUp { options.depth = rolledUp }
    var out = [style.bold(head), ""]
    if r.layers.isEmpty {
      out.append("No model tensors.")
    } else {
      out.append(
        layerTable(r, options, rows: fitted?.rows).render(style: style, width: width))
      if let guess { out.append(style.dim(guess)) }
    }
    if let rolledUp { out.append(style.dim(rolledUpNote(depth: rolledUp, options: options))) }
    out += rest
    return out.joined(separator: "\n") + "\n"
  }

  /// The line saying the table was rolled up to `depth`, wrapped at the width.
  static func rolledUpNote(depth: Int, options: LayerTableOptions) -> String {
    Format.wrapped(
      "(rolled up to depth \(depth) to fit \(options.height) lines: --depth N for another depth, --expand for every layer)",
      width: options.width, indent: 1)
  }

  /// The lines of `text` as printed (one more than its newlines).
  static func lineCount(_ text: String) -> Int {
    text.utf8.reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
  }

  /// The summary's sections after the layer table: totals, the checkpoint's parts, formulas
  /// (`--explain`), memory, notes and what a remote read cost; each element is printed as a line.
  static func sectionsAfterLayers(
    _ r: SummaryReport, options: LayerTableOptions, style: TerminalStyle
  ) -> [String] {
    var out: [String] = []
    out.append("")
    let lines = totalsLines(r)
    let lw = lines.map(\.0.count).max() ?? 0
    let vw = lines.map(\.1.count).max() ?? 0
    for (label, value, detail) in lines {
      let l = label + String(repeating: " ", count: lw - label.count)
      let v = String(repeating: " ", count: vw - value.count) + value
      var line = style.bold(l) + "  " + v
      if !detail.isEmpty {
        // A long detail wraps under itself.
        let column = lw + vw + 4
        var parts = Format.wrap(detail, width: options.width - column)
        line += "  " + parts.removeFirst()
        for p in parts { line += "\n" + String(repeating: " ", count: column) + p }
      }
      while line.hasSuffix(" ") { line.removeLast() }
      out.append(line)
    }
    if r.anatomy.parts.count > 1 || r.anatomy.parts.contains(where: { !$0.name.isEmpty }) {
      out.append("")
      out.append(style.bold("Checkpoint"))
      var table = TextTable(
        headers: ["Key", "Role", "Tensors", "Bytes", "Value"],
        alignments: [.left, .left, .right, .right, .left])
      for p in r.anatomy.parts {
        table.add([
          p.name.isEmpty ? "(root)" : p.name, p.role.rawValue,
          p.tensors == 0 ? "-" : Format.count(Int64(p.tensors)),
          p.tensors == 0 ? "-" : Format.bytes(p.bytes), p.value ?? "",
        ])
      }
      table.shrinkable = [4]
      out.append(table.render(style: style, width: options.width))
    }
    if options.explain {
      out.append("")
      out.append(style.bold("How each count follows from the shapes"))
      if r.layers.contains(where: { $0.inferred.isEmpty == false })
        || r.totals.parametersExact == false
      {
        out.append(
          style.dim(
            "Layer types are inferred from tensor names and shapes where the file does not name module classes."
          ))
      }
      for row in LayerRows.rows(r.layers, depth: options.depth, collapse: options.collapse) {
        if row.repeatCount > 1 && row.type.hasSuffix("layers each") {
          out.append(
            "\(row.name): \(row.repeatCount) blocks of \(Format.count(row.parameters / Int64(row.repeatCount))) = \(Format.count(row.parameters))"
          )
          continue
        }
        out.append("\(row.name): \(row.formula)")
        for note in row.inferred { out.append("    " + style.dim(note)) }
        for s in row.shared { out.append("    tied: \(s) (counted once, where it first appears)") }
      }
    }
    if options.memory {
      out.append("")
      out.append(MemoryRenderer.table(r.memory, style: style))
    }
    let notes = r.diagnostics
    if !notes.isEmpty {
      out.append("")
      for d in notes {
        let (tag, paint) =
          d.severity == .warning
          ? ("warning:", style.yellow)
          : d.severity == .error ? ("error:", style.red) : ("note:", style.dim)
        out.append(Format.tagged(tag, d.message, width: options.width, style: paint))
      }
    }
    if let cost = r.source {
      out.append("")
      out.append(style.dim(costLine(cost, fileBytes: r.fileBytes)))
    }
    return out
  }

  /// What a remote checkpoint cost, in one line.
  public static func costLine(_ cost: SourceCost, fileBytes: Int64) -> String {
    let share = fileBytes > 0 ? Double(cost.bytesFetched) / Double(fileBytes) * 100 : 0
    return
      "fetched \(Format.count(cost.bytesFetched)) bytes (\(cFormat(share < 0.1 ? "%.3f" : "%.1f", share))% of \(Format.bytes(fileBytes))) in \(cost.requests) request\(cost.requests == 1 ? "" : "s"), \(cFormat("%.2f", cost.seconds)) s: \(cost.url)"
  }

  /// The summary as Markdown, ready to post in a pull request.
  public static func markdown(_ r: SummaryReport, options: LayerTableOptions = LayerTableOptions())
    -> String
  {
    var out = [
      "### ptinspect: `\(r.file)`", "", header(r).replacingOccurrences(of: "\(r.file): ", with: ""),
      "",
    ]
    if !r.layers.isEmpty {
      var whole = options
      whole.width = .max  // Markdown is read in a browser: nothing is shortened
      out.append(layerTable(r, whole).markdown())
      out.append("")
    }
    var totals = TextTable(
      headers: ["Total", "Count", "Detail"], alignments: [.left, .right, .left])
    for (label, value, detail) in totalsLines(r) {
      totals.add([label.trimmingSpaces(), value, detail])
    }
    out.append(totals.markdown())
    if r.anatomy.parts.count > 1 {
      out.append("")
      var parts = TextTable(
        headers: ["Key", "Role", "Tensors", "Bytes", "Value"],
        alignments: [.left, .left, .right, .right, .left])
      for p in r.anatomy.parts {
        parts.add([
          p.name.isEmpty ? "(root)" : "`\(p.name)`", p.role.rawValue,
          Format.count(Int64(p.tensors)),
          Format.bytes(p.bytes), p.value ?? "",
        ])
      }
      out.append(parts.markdown())
    }
    if options.memory {
      out.append("")
      out.append(MemoryRenderer.markdown(r.memory))
    }
    if !r.diagnostics.isEmpty {
      out.append("")
      for d in r.diagnostics { out.append("- **\(d.severity.rawValue)**: \(d.message)") }
    }
    return out.joined(separator: "\n") + "\n"
  }
}
