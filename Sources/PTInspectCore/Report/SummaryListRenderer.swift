// SummaryListRenderer.swift: `summary` over several files: one row per file and a total.

/// One row of the many-files summary table.
package struct SummaryRow: Sendable, Codable, Equatable {
  package var file: String
  package var format: String
  package var tensors: Int
  package var parameters: Int64
  package var buffers: Int64
  package var bytes: Int64
  package var fileBytes: Int64
  /// Why the file could not be read.
  package var error: String?
  /// The kind of failure (`CheckpointError.kind`) when it could not be read.
  package var errorKind: String?
  /// The summary's warnings (a dangerous global, no tensors, ...), kept in the one-row layout.
  package var warnings: [String] = []

  package init(_ r: SummaryReport) {
    file = r.file
    format = r.format
    tensors = r.tensors.count
    parameters = r.totals.parameters
    buffers = r.totals.buffers
    bytes = r.totals.bytes
    fileBytes = r.fileBytes
    warnings = r.diagnostics.filter { $0.severity != .info }.map(\.message)
  }

  public init(_ e: CheckpointError) {
    self.init(file: e.file, error: e.message)
    errorKind = e.kind
  }

  package init(file: String, error: String) {
    self.file = file
    format = "-"
    tensors = 0
    parameters = 0
    buffers = 0
    bytes = 0
    fileBytes = 0
    self.error = error
  }
}

/// `summary` over several files: one row per file.
package enum SummaryListRenderer {
  static func table(_ rows: [SummaryRow]) -> TextTable {
    var t = TextTable(
      headers: ["File", "Format", "Tensors", "Parameters", "Buffers", "Bytes", "File size"],
      alignments: [.left, .left, .right, .right, .right, .right, .right])
    var total = (
      tensors: 0, parameters: Int64(0), buffers: Int64(0), bytes: Int64(0), file: Int64(0)
    )
    var read = 0
    for r in rows {
      if r.error != nil {
        t.add([r.file, "unreadable", "-", "-", "-", "-", "-"])
        continue
      }
      read += 1
      total.tensors += r.tensors
      total.parameters &+= r.parameters
      total.buffers &+= r.buffers
      total.bytes &+= r.bytes
      total.file &+= r.fileBytes
      t.add([
        r.file, r.format, Format.count(Int64(r.tensors)), Format.count(r.parameters),
        Format.count(r.buffers),
        Format.bytes(r.bytes), Format.bytes(r.fileBytes),
      ])
    }
    t.rulesBefore = [t.rows.count]
    t.add([
      "Total", "\(read) file\(read == 1 ? "" : "s")", Format.count(Int64(total.tensors)),
      Format.count(total.parameters), Format.count(total.buffers), Format.bytes(total.bytes),
      Format.bytes(total.file),
    ])
    return t
  }

  /// The rows as a table for a terminal, with a total, fitted to `width` columns (the file
  /// names are shortened in the middle first); then each file's warnings and why each
  /// unreadable file could not be read.
  package static func table(
    _ rows: [SummaryRow], style: TerminalStyle = .plain, width: Int = .max
  ) -> String {
    var t = table(rows)
    // Narrow terminals: file names cut in the middle, then Buffers, Tensors, File size and
    // Format left out, in that order.
    t.shrinkable = [0]
    t.elideMiddle = [0]
    t.droppable = [4, 2, 6, 1]
    var out = t.render(style: style, width: width)
    for r in rows {
      for w in r.warnings {
        out +=
          "\n" + Format.tagged("warning:", "\(r.file): \(w)", width: width, style: style.yellow)
      }
    }
    let failed = rows.filter { $0.error != nil }
    if !failed.isEmpty {
      out += "\n\(failed.count) file\(failed.count == 1 ? "" : "s") could not be read:"
      for r in failed {
        out +=
          "\n" + style.red(Format.wrapped("  \(r.file): \(r.error ?? "")", width: width, indent: 4))
      }
    }
    return out + "\n"
  }
}
