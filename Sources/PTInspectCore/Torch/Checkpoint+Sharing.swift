// Checkpoint+Sharing.swift: tied tensors (the same view of one storage), overlapping views, and
// storage bytes no tensor views.

extension Checkpoint {
  /// Marks tied tensors (same storage, offset, shape, stride and dtype as an earlier one) and
  /// reports overlapping views and storage bytes no tensor views.
  mutating func markSharedTensors() {
    struct ViewKey: Hashable {
      var storage: StorageID
      var offset: Int64
      var shape: [Int64]
      var stride: [Int64]
      var dtype: DType
    }
    var first: [ViewKey: String] = [:]
    var rangesByStorage: [StorageID: [(name: String, start: Int64, end: Int64)]] = [:]
    var storageOrder: [StorageID] = []
    for i in tensors.indices {
      for component in tensors[i].components {
        guard let s = component.storage, let extent = component.storageExtent, component.numel > 0
        else { continue }
        let id = s.id
        if rangesByStorage[id] == nil { storageOrder.append(id) }
        let item = Int64(component.dtype.itemSize)
        rangesByStorage[id, default: []].append(
          (component.name, component.storageOffset &* item, extent &* item))
      }
      guard let s = tensors[i].storage, s.storageClass != "safetensors" else { continue }
      let id = s.id
      let key = ViewKey(
        storage: id, offset: tensors[i].storageOffset, shape: tensors[i].shape,
        stride: tensors[i].stride, dtype: tensors[i].dtype)
      if let original = first[key] {
        tensors[i].sharedWith = original
        continue
      }
      first[key] = tensors[i].name
      let item = Int64(tensors[i].dtype.itemSize)
      if let extent = tensors[i].storageExtent, tensors[i].numel > 0 {
        if rangesByStorage[id] == nil { storageOrder.append(id) }
        rangesByStorage[id, default: []].append(
          (tensors[i].name, tensors[i].storageOffset &* item, extent &* item))
      }
    }
    let tied = tensors.filter { $0.sharedWith != nil }.count
    if tied > 0 {
      diagnostics.append(
        Diagnostic(
          .info,
          "\(tied) tensor(s) share storage with another of the same view (tied weights); counted once"
        ))
    }
    // Storage records by the id the ranges use (folder/key).
    var storageByID: [StorageID: StorageRecord] = [:]
    for info in storages { storageByID[info.id] = storageByID[info.id] ?? info }
    var overlaps: [String] = []
    var unused: Int64 = 0
    var unusedExamples: [String] = []
    for id in storageOrder {
      let ranges = (rangesByStorage[id] ?? []).sorted { ($0.start, $0.end) < ($1.start, $1.end) }
      var covered: Int64 = 0
      var reach: Int64 = 0
      var reachName = ""
      for r in ranges {
        if r.start < reach, overlaps.count < 50 {
          overlaps.append("'\(reachName)' and '\(r.name)'")
        }
        covered += max(0, r.end - max(r.start, reach))
        if r.end > reach {
          reach = r.end
          reachName = r.name
        }
      }
      if let info = storageByID[id] {
        let idle = info.recordBytes - covered
        if idle > 0 {
          unused += idle
          if unusedExamples.count < 3, let r = ranges.first {
            unusedExamples.append(
              "'\(r.name)' views \(covered) of storage '\(info.key)''s \(info.recordBytes) bytes")
          }
        }
      }
    }
    if !overlaps.isEmpty {
      diagnostics.append(
        Diagnostic(
          .info,
          "\(overlaps.count) pair(s) of tensors view overlapping bytes of one storage: "
            + overlaps.prefix(3).joined(separator: ", ")))
    }
    if unused > 0 {
      diagnostics.append(
        Diagnostic(
          .warning,
          "the file carries \(unused) storage bytes no tensor views (saved views drag their whole storage): "
            + unusedExamples.joined(separator: "; ")))
    }
  }
}

/// A dotted name split once for natural ordering: each component with its integer value, when
/// it is one.
struct NaturalKey: Comparable {
  var parts: [(text: Substring, number: Int?)]

  init(_ name: String) {
    parts = name.split(separator: ".", omittingEmptySubsequences: false).map { ($0, Int($0)) }
  }

  /// Component by component, numbers by value and before words: `2.weight` < `10.weight`.
  static func < (a: NaturalKey, b: NaturalKey) -> Bool {
    for (p, q) in zip(a.parts, b.parts) where p.text != q.text {
      switch (p.number, q.number) {
      case (let i?, let j?): return i < j
      case (.some, nil): return true
      case (nil, .some): return false
      case (nil, nil): return p.text < q.text
      }
    }
    return a.parts.count < b.parts.count
  }

  static func == (a: NaturalKey, b: NaturalKey) -> Bool { !(a < b) && !(b < a) }
}

extension Array {
  /// Sorted in natural order of the names `name` gives, each name split once.
  func naturallySorted(by name: (Element) -> String) -> [Element] {
    map { (NaturalKey(name($0)), $0) }.sorted { $0.0 < $1.0 }.map(\.1)
  }
}
