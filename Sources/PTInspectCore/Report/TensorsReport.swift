// TensorsReport.swift: the `tensors` listing: every tensor with dtype, shape, stride, storage
// and offset, filtered and sorted.

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// How to order the tensors listing.
public enum TensorSort: String, Sendable, CaseIterable {
  /// As stored in the file.
  case file
  case name, size, numel, dtype, storage
}

/// The `tensors` listing as data.
public struct TensorsReport: Sendable, Codable {
  /// The JSON schema version (`reportSchemaVersion`).
  public var schemaVersion = reportSchemaVersion
  /// The file, as given.
  public var file: String
  /// The container (`ContainerFormat` raw value).
  public var format: String
  /// The `--filter` glob, or nil for every tensor.
  public var filter: String?
  /// The listed tensors, in `sort` order.
  public var tensors: [TensorEntry]
  /// What reading a remote checkpoint cost; null for a local file.
  public var source: SourceCost?

  /// Every tensor of `c` whose full name matches the glob `filter` (all for nil), in `sort` order.
  public init(_ c: Checkpoint, filter: String?, sort: TensorSort) {
    source = c.sourceCost
    file = c.path
    format = c.format.rawValue
    self.filter = filter
    var entries = c.tensors.map(TensorEntry.init)
    if let filter { entries = entries.filter { Glob.matches(filter, $0.name) } }
    switch sort {
    case .file: break
    case .name: entries.sort { $0.name < $1.name }
    case .size: entries.sort { ($0.bytes, $1.name) > ($1.bytes, $0.name) }
    case .numel: entries.sort { ($0.numel, $1.name) > ($1.numel, $0.name) }
    case .dtype: entries.sort { ($0.dtype, $0.name) < ($1.dtype, $1.name) }
    case .storage:
      entries.sort {
        (($0.storage ?? "").count, $0.storage ?? "", $0.storageOffset) < (
          ($1.storage ?? "").count, $1.storage ?? "", $1.storageOffset
        )
      }
    }
    tensors = entries
  }

  func textTable() -> TextTable {
    var table = TextTable(
      headers: ["Name", "Dtype", "Shape", "Stride", "Storage", "Offset", "Numel", "Bytes", "Kind"],
      alignments: [.left, .left, .left, .left, .left, .right, .right, .right, .left])
    // Narrow terminals: names (cut in the middle) and kinds shrink, bytes go binary
    // (`98.0 MiB`), then Stride, Offset, Storage, Numel and Kind are left out, in that order.
    table.shrinkable = [0, 8]
    table.elideMiddle = [0]
    table.minimumWidths = [0: 32]
    table.droppable = [3, 5, 4, 6, 8]
    func add(_ t: TensorEntry, name: String, kind: String) {
      table.add(
        [
          name, t.dtype, Format.shape(t.shape),
          Format.shape(t.stride) + (t.contiguous ? "" : " *"),
          t.storage ?? t.chunks.map { "\($0.count) chunk\($0.count == 1 ? "" : "s")" } ?? "-",
          Format.count(t.storageOffset), Format.count(t.numel), Format.count(t.bytes), kind,
        ], compact: [7: Format.bytes(t.bytes)])
    }
    for t in tensors {
      var kind = t.kind + (t.kindExact ? "" : "?")
      if let s = t.sharedWith { kind += " (tied to \(s))" }
      if t.layout != "strided" { kind += " [\(t.layout)]" }
      if let d = t.layoutDetail { kind += " " + d }
      add(t, name: t.name, kind: kind)
      // A composite tensor's stored parts, indented under it.
      for c in t.components ?? [] {
        add(c, name: "  ." + c.name.dropFirst(t.name.count + 1), kind: "component")
      }
    }
    return table
  }

  /// The listing as `ptinspect tensors` prints it on a terminal, fitted to `width` columns.
  public func table(style: TerminalStyle = .plain, width: Int = .max) -> String {
    let table = textTable()
    let (text, dropped) = table.fit(style: style, width: width)
    var footer = "\(tensors.count) tensor(s)"
    // The legends of the columns shown.
    if tensors.contains(where: { !$0.kindExact }) && !dropped.contains("Kind") {
      footer += "; kind? = inferred from the name and dtype"
    }
    if tensors.contains(where: { !$0.contiguous }) && !dropped.contains("Stride") {
      footer += "; * = not contiguous"
    }
    var out = [text]
    if let note = table.droppedNote(dropped, width: width) { out.append(style.dim(note)) }
    out.append(Format.wrapped(footer, width: width))
    return out.joined(separator: "\n") + "\n"
  }

  /// The listing as a Markdown table.
  public func markdown() -> String {
    "### ptinspect tensors: `\(file)`\n\n" + textTable().markdown() + "\n"
  }
}
