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

  package init(_ r: SummaryReport) {
    file = r.file
    format = r.format
    tensors = r.tensors.count
    parameters = r.totals.parameters
    buffers = r.totals.buffers
    bytes = r.totals.bytes
    fileBytes = r.fileBytes
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

  /// The rows as a table for a terminal, with a total.
  package static func table(_ rows: [SummaryRow], style: TerminalStyle = .plain) -> String {
    var out = table(rows).render(style: style)
    let failed = rows.filter { $0.error != nil }.count
    if failed > 0 {
      out += "\n\(failed) file\(failed == 1 ? "" : "s") could not be read (see above)"
    }
    return out + "\n"
  }
}
