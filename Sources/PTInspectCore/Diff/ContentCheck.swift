// ContentCheck.swift: `diff` without `--values`: are the contents the same, as cheaply as the
// file allows? Zip checkpoints carry every storage record's CRC-32 and size in the central
// directory (already read), so a tensor that is its whole storage on both sides is answered
// without reading any data, and equal storages answer every equal view of them. Everything else
// (safetensors, legacy files, views of a shared storage whose storages differ) is compared
// byte for byte, streamed (`ValueComparator.bytesIdentical`).

/// How the contents were compared without `--values` (JSON `contents`).
public struct ContentCheckSummary: Sendable, Codable, Equatable {
  /// Tensor pairs with the same shape and dtype whose contents were compared.
  public var compared: Int
  /// Of those, answered by the zip's CRC-32 and size, without reading data.
  public var byCRC: Int
  /// Of those, answered by comparing the bytes.
  public var byBytes: Int
  /// Bytes of tensor data read (both sides) for the byte comparison.
  public var bytesRead: Int64
  /// Tensors whose contents differ.
  public var changed: [String]
  /// Pairs not compared (no readable data), with the reason.
  public var skipped: [SkippedTensor]
}

enum ContentCheck {
  /// The zip entry of every storage of `c`, by id.
  static func entries(_ c: Checkpoint) -> [StorageID: ZipEntry] {
    var out: [StorageID: ZipEntry] = [:]
    for s in c.storages {
      if case .zipEntry(let e) = s.location { out[s.id] = e }
    }
    return out
  }

  /// What the CRC-32s say about a pair: true the same bytes, false different, nil unknown.
  static func byCRC(
    _ p: DiffPair, _ a: [StorageID: ZipEntry], _ b: [StorageID: ZipEntry], sameOrder: Bool
  ) -> Bool? {
    let x = p.before
    let y = p.after
    guard sameOrder, x.dtype == y.dtype, x.layout == .strided, y.layout == .strided,
      x.components.isEmpty, y.components.isEmpty, x.quantization == y.quantization,
      let sx = x.storage, let sy = y.storage, let ex = a[sx.id], let ey = b[sy.id]
    else { return nil }
    let sameStorage = ex.crc == ey.crc && ex.size == ey.size
    // Equal storages: any view of them taken the same way is equal.
    if sameStorage && x.storageOffset == y.storageOffset && x.stride == y.stride { return true }
    // Each side its whole storage: the CRC-32s tell them apart.
    func whole(_ t: TensorRecord, _ e: ZipEntry) -> Bool {
      t.storageOffset == 0 && t.isContiguous && t.bytes == Int64(clamping: e.size)
    }
    if !sameStorage && whole(x, ex) && whole(y, ey) { return false }
    return nil
  }

  /// Compares the contents of the same-shape, same-dtype `pairs`; returns the summary and
  /// marks changed tensors in `changes`.
  static func run(
    _ pairs: [DiffPair], _ a: Checkpoint, _ b: Checkpoint, options: DiffOptions,
    progress: CheckpointDiff.Progress?, changes: inout [String: TensorChanges]
  ) throws(CheckpointError) -> ContentCheckSummary {
    let same = pairs.filter { $0.before.dtype == $0.after.dtype }
    let ea = entries(a)
    let eb = entries(b)
    let sameOrder = a.fileByteOrders == b.fileByteOrders
    var summary = ContentCheckSummary(
      compared: 0, byCRC: 0, byBytes: 0, bytesRead: 0, changed: [], skipped: [])
    var rest: [DiffPair] = []
    var differs = Set<String>()
    for p in same {
      guard let verdict = byCRC(p, ea, eb, sameOrder: sameOrder) else {
        rest.append(p)
        continue
      }
      summary.compared += 1
      summary.byCRC += 1
      if !verdict { differs.insert(p.name) }
    }
    if !rest.isEmpty {
      let outcome = try ValueComparator.bytesIdentical(
        rest, a, b, options: options, progress: progress)
      summary.bytesRead = outcome.bytesRead
      for (p, result) in zip(rest, outcome.results) {
        switch result {
        case .skipped(let reason):
          summary.skipped.append(SkippedTensor(name: p.name, reason: reason))
        case .identical(let identical):
          summary.compared += 1
          summary.byBytes += 1
          if !identical { differs.insert(p.name) }
        }
      }
    }
    for p in same where differs.contains(p.name) {
      summary.changed.append(p.name)
      changes[p.name, default: []].insert(.values)
    }
    return summary
  }
}
