// Checkpoint+Sharing.swift: tied tensors (the same view of one storage), overlapping views, and
// storage bytes no tensor views.

extension Checkpoint {
  /// Marks tied tensors (same storage, offset, shape, stride and dtype as an earlier one) and
  /// reports overlapping views and storage bytes no tensor views.
  mutating func markSharedTensors() {
    // Storages are numbered once (one hash of the id's bytes per view); everything after uses
    // the number. A storage's first view is remembered by its tensor's position: a second view
    // of the same storage (rare outside ties and slices) is the only case that needs the key.
    struct ViewKey: Hashable {
      var storage: Int
      var offset: Int64
      var shape: [Int64]
      var stride: [Int64]
      var dtype: DType
    }
    typealias ViewRange = (name: String, start: Int64, end: Int64)
    var numbers = StorageNumbers(capacity: storages.count)
    // A storage's byte ranges: the first inline, any more (ties, slices) in `moreRanges`, so
    // the usual storage of one view allocates no list.
    var firstRange: [ViewRange?] = []
    var moreRanges: [Int: [ViewRange]] = [:]
    var firstView: [Int?] = []
    var others: [ViewKey: String] = [:]
    var tied = 0
    func storageNumber(_ id: StorageID) -> Int {
      let (n, isNew) = numbers.add(id)
      if isNew {
        firstRange.append(nil)
        firstView.append(nil)
      }
      return n
    }
    func addRange(_ n: Int, _ r: ViewRange) {
      if firstRange[n] == nil { firstRange[n] = r } else { moreRanges[n, default: []].append(r) }
    }
    func viewKey(_ t: TensorRecord, _ n: Int) -> ViewKey {
      ViewKey(storage: n, offset: t.storageOffset, shape: t.shape, stride: t.stride, dtype: t.dtype)
    }
    for i in tensors.indices {
      for component in tensors[i].components {
        guard let s = component.storage, let extent = component.storageExtent, component.numel > 0
        else { continue }
        let item = Int64(component.dtype.itemSize)
        addRange(
          storageNumber(s.id), (component.name, component.storageOffset &* item, extent &* item))
      }
      guard let s = tensors[i].storage, s.storageClass != "safetensors" else { continue }
      let n = storageNumber(s.id)
      if let f = firstView[n] {
        let key = viewKey(tensors[i], n)
        if viewKey(tensors[f], n) == key {
          tensors[i].sharedWith = tensors[f].name
          tied += 1
          continue
        }
        if let original = others[key] {
          tensors[i].sharedWith = original
          tied += 1
          continue
        }
        others[key] = tensors[i].name
      } else {
        firstView[n] = i
      }
      let item = Int64(tensors[i].dtype.itemSize)
      if let extent = tensors[i].storageExtent, tensors[i].numel > 0 {
        addRange(n, (tensors[i].name, tensors[i].storageOffset &* item, extent &* item))
      }
    }
    if tied > 0 {
      diagnostics.append(
        Diagnostic(
          .info,
          "\(tied) tensor(s) share storage with another of the same view (tied weights); counted once"
        ))
    }
    // Each storage's record (the first listed under its id), by storage number.
    var recordIndex = [Int?](repeating: nil, count: numbers.ids.count)
    for j in storages.indices {
      if let n = numbers.number(of: storages[j].id), recordIndex[n] == nil { recordIndex[n] = j }
    }
    var overlaps: [String] = []
    var unused: Int64 = 0
    var unusedExamples: [String] = []
    for n in numbers.ids.indices {
      guard let first = firstRange[n] else { continue }
      var covered: Int64 = 0
      var lowest = first
      if let more = moreRanges[n] {
        let ranges = ([first] + more).sorted { ($0.start, $0.end) < ($1.start, $1.end) }
        lowest = ranges[0]
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
      } else {
        covered = max(0, first.end - max(first.start, 0))
      }
      if let j = recordIndex[n] {
        let info = storages[j]
        let idle = info.recordBytes - covered
        if idle > 0 {
          unused += idle
          if unusedExamples.count < 3 {
            unusedExamples.append(
              "'\(lowest.name)' views \(covered) of storage '\(info.key)''s \(info.recordBytes) bytes"
            )
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

/// A tensor name split once for model-like ordering, for files that keep no order of their own
/// (safetensors headers are sorted by byte value). Components compare by the number they end
/// in (`layer2` before `layer10`, `encoder_layer_2` before `encoder_layer_10`); at the same
/// number a layer comes before its norm and both before a block (`conv1`, `bn1`, `layer1`);
/// numbered components come before unnumbered ones (ResNet's `fc` after `layer4`); the rest by
/// text.
struct NaturalKey: Comparable {
  struct Part {
    var text: Substring
    var number: Int?
    var stem: Substring
    /// 0: a layer (`conv1` of `conv1.weight`), 1: a norm layer, 2: a block holding layers.
    var rank: Int
  }
  var parts: [Part]

  init(_ name: String) {
    let components = name.split(separator: ".", omittingEmptySubsequences: false)
    parts = components.enumerated().map { i, text in
      let (stem, number) = splitTrailingNumber(text, maxDigits: 18)
      var rank = 2
      if i == components.count - 2 {
        let s = stem.lowercased()
        rank = s.contains("norm") || ["bn", "ln", "gn", "bn_", "ln_", "gn_"].contains(s) ? 1 : 0
      } else if i == components.count - 1 {
        rank = 0
      }
      return Part(text: text, number: number, stem: stem, rank: rank)
    }
  }

  static func < (a: NaturalKey, b: NaturalKey) -> Bool {
    for (p, q) in zip(a.parts, b.parts) where p.text != q.text {
      switch (p.number, q.number) {
      case (let i?, let j?):
        if i != j { return i < j }
        if p.rank != q.rank { return p.rank < q.rank }
        return p.stem < q.stem
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
