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
    // a record's number is its position, found with one hash of the id's bytes per view.
    var records = contents.storageOrder.compactMap { contents.storages[$0] }
    // A zip lists no storages up front: each tensor adds its own, so the array is sized once
    // (growing it by doubling held two copies of the records at the peak of a large file).
    records.reserveCapacity(records.count + tensors.count)
    // The listed ids are unique (`ContainerContents.add`), so a record's number is its position.
    var position = StorageNumbers(capacity: records.count + tensors.count)
    for r in records { _ = position.add(r.id) }
    // Each view is checked in place: a tensor is its own view unless it has components (no
    // `storageViews` array, no record copies).
    func check(_ view: TensorRecord) throws(CheckpointError) {
      guard let s = view.storage else { return }
      let id = s.id
      let (index, isNew) = position.add(id)
      if !isNew {
      } else if var record = contents.record(for: id) {
        record.dtype = s.dtype?.rawValue ?? "untyped"
        record.declaredBytes = s.declaredBytes
        records.append(record)
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
      // The record's fields are read in place (a copy would retain its entry's Strings).
      let recordBytes = records[index].recordBytes
      let isZip = records[index].location.isZipEntry
      let available = isZip ? min(recordBytes, s.declaredBytes) : recordBytes
      if needed > available {
        throw fail(
          "tensor '\(view.name)' needs \(needed) bytes of storage '\(s.key)' (offset \(view.storageOffset), shape \(view.shape), stride \(view.stride)), but \(records[index].holder) holds \(recordBytes)"
            + (isZip && s.declaredBytes < recordBytes
              ? " and its id declares \(s.declaredBytes)" : ""))
      }
      if isZip, s.declaredBytes > recordBytes {
        throw fail(
          "storage '\(s.key)' declares \(s.declaredBytes) bytes, but \(records[index].holder) holds \(recordBytes)"
        )
      }
      if needed > records[index].usedBytes { records[index].usedBytes = needed }
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
          if let p, position.number(of: p.storage.id) == nil,
            let r = contents.record(for: p.storage.id),
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

/// Storages numbered in the order they are first added, each found by one hash of its id's
/// bytes: checks and ties go by number, not by a `[StorageID: Int]` that hashes two Strings
/// with the general hasher at every lookup.
struct StorageNumbers {
  /// The ids, by number.
  private(set) var ids: [StorageID] = []
  private var table: IndexTable

  /// Numbers that hold `capacity` storages before they grow.
  init(capacity: Int = 0) {
    ids.reserveCapacity(capacity)
    table = IndexTable(capacity: capacity)
  }

  /// The number of storage `id`, when it has one.
  func number(of id: StorageID) -> Int? { number(of: id, hash: id.bytesHash) }

  private func number(of id: StorageID, hash: Int) -> Int? {
    table.first(hash: hash) { ids[$0] == id }
  }

  /// The number of storage `id`, the next one when it has none (`isNew` then).
  mutating func add(_ id: StorageID) -> (number: Int, isNew: Bool) {
    let hash = id.bytesHash
    if let n = number(of: id, hash: hash) { return (n, false) }
    table.add(ids.count, hash: hash)
    ids.append(id)
    return (ids.count - 1, true)
  }
}
