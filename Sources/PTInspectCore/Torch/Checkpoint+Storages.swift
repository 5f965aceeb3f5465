// Checkpoint+Storages.swift: the storage checks of the assembly step: every storage a tensor
// views exists and holds the view's extent; the storages listed with the bytes their tensors use.

extension Checkpoint {
  /// Checks that every storage a tensor views exists and holds the view's extent, and lists
  /// the storages with the bytes their tensors use.
  mutating func checkStorages(_ tensors: [TensorRecord], _ contents: ContainerContents)
    throws(CheckpointError)
  {
    func fail(_ message: String) -> CheckpointError { CheckpointError(file: path, message) }
    // The records in file order (those the container lists), then as tensors first use them;
    // `position` finds a record with one lookup per view.
    var records = contents.storageOrder.compactMap { contents.storages[$0] }
    // A zip lists no storages up front: each tensor adds its own, so the array is sized once
    // (growing it by doubling held two copies of the records at the peak of a large file).
    records.reserveCapacity(records.count + tensors.count)
    var position: [StorageID: Int] = [:]
    position.reserveCapacity(max(records.count, tensors.count))
    for (i, r) in records.enumerated() { position[r.id] = i }
    // Each view is checked in place: a tensor is its own view unless it has components (no
    // `storageViews` array, no record copies).
    func check(_ view: TensorRecord) throws(CheckpointError) {
      guard let s = view.storage else { return }
      let id = s.id
      let index: Int
      if let i = position[id] {
        index = i
      } else if var record = contents.record(for: id) {
        record.dtype = s.dtype?.rawValue ?? "untyped"
        record.declaredBytes = s.declaredBytes
        index = records.count
        records.append(record)
        position[id] = index
      } else {
        switch contents.storageNaming {
        case .zipRecords(let root):
          throw fail(
            "tensor '\(view.name)' needs storage record '\(root)\(id)', which is missing")
        case .stream:
          throw fail(
            "tensor '\(view.name)' needs storage '\(s.key)', which the stream does not hold")
        case .tarArchive, .header:
          throw fail(
            "tensor '\(view.name)' needs storage '\(s.key)', which the archive does not hold")
        }
      }
      guard let needed = view.requiredStorageBytes else {
        throw fail(
          "tensor '\(view.name)' has a shape \(view.shape) and stride \(view.stride) that overflow"
        )
      }
      let record = records[index]
      let isZip = record.location.isZipEntry
      let available = isZip ? min(record.recordBytes, s.declaredBytes) : record.recordBytes
      if needed > available {
        throw fail(
          "tensor '\(view.name)' needs \(needed) bytes of storage '\(s.key)' (offset \(view.storageOffset), shape \(view.shape), stride \(view.stride)), but \(record.holder) holds \(record.recordBytes)"
            + (isZip && s.declaredBytes < record.recordBytes
              ? " and its id declares \(s.declaredBytes)" : ""))
      }
      if isZip, s.declaredBytes > record.recordBytes {
        throw fail(
          "storage '\(s.key)' declares \(s.declaredBytes) bytes, but \(record.holder) holds \(record.recordBytes)"
        )
      }
      if needed > record.usedBytes { records[index].usedBytes = needed }
    }
    for i in tensors.indices {
      if tensors[i].components.isEmpty {
        try check(tensors[i])
      } else {
        for view in tensors[i].components { try check(view) }
      }
      // A quantizer's per-channel scales and zero points are read like tensors.
      if let q = tensors[i].quantization {
        for p in [q.channelScales, q.channelZeroPoints] {
          if let p, position[p.storage.id] == nil, let r = contents.record(for: p.storage.id),
            !quantizerStorages.contains(where: { $0.id == r.id })
          {
            quantizerStorages.append(r)
          }
        }
      }
    }
    storages = records
  }
}

extension StorageLocation {
  var isZipEntry: Bool {
    if case .zipEntry = self { return true }
    return false
  }
}
