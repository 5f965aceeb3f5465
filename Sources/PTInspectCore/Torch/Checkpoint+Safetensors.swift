// Checkpoint+Safetensors.swift: the safetensors header (8-byte length, JSON), validated as the
// reference implementation validates it. Tensor bytes are never read.

import Foundation

extension Checkpoint {
  /// Largest header the reference implementation accepts.
  static let maxSafetensorsHeader: UInt64 = 100_000_000

  static func openSafetensors(_ path: String, fileBytes: Int64) throws(CheckpointError)
    -> Checkpoint
  {
    func fail(_ message: String) -> CheckpointError { CheckpointError(file: path, message) }
    guard let handle = FileHandle(forReadingAtPath: path) else {
      throw fail("cannot open the file for reading")
    }
    defer { try? handle.close() }
    let lengthBytes = [UInt8]((try? handle.read(upToCount: 8)) ?? Data())
    guard lengthBytes.count == 8 else {
      throw fail("safetensors file shorter than its 8-byte header length")
    }
    let n = lengthBytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    guard n <= maxSafetensorsHeader else {
      throw fail("safetensors header of \(n) bytes is over the limit of \(maxSafetensorsHeader)")
    }
    guard n <= UInt64(fileBytes - 8) else {
      throw fail("truncated safetensors file: the header needs \(n) bytes, \(fileBytes - 8) remain")
    }
    let header = (try? handle.read(upToCount: Int(n))) ?? Data()
    guard let object = try? JSONSerialization.jsonObject(with: header),
      let dict = object as? [String: Any]
    else {
      throw fail("safetensors header is not a JSON object")
    }
    let dataStart = 8 + Int64(n)
    let dataBytes = fileBytes - dataStart
    var tensors: [TensorRecord] = []
    var metadata: [MetadataItem] = []
    var ranges: [(name: String, begin: Int64, end: Int64)] = []
    // JSONSerialization loses key order; the file's own order is the data order, so sort by offset.
    for (name, value) in dict {
      if name == "__metadata__" {
        for (k, v) in (value as? [String: Any] ?? [:]).sorted(by: { $0.key < $1.key }) {
          metadata.append(MetadataItem(name: "__metadata__." + k, type: "str", value: "'\(v)'"))
        }
        continue
      }
      guard let info = value as? [String: Any], let dtypeName = info["dtype"] as? String,
        let shapeAny = info["shape"] as? [Any], let offsetsAny = info["data_offsets"] as? [Any],
        offsetsAny.count == 2
      else { throw fail("safetensors entry '\(name)' lacks dtype, shape or data_offsets") }
      guard let dtype = DType(safetensors: dtypeName) else {
        throw fail("safetensors entry '\(name)' has unknown dtype \(dtypeName)")
      }
      let shape = shapeAny.compactMap { ($0 as? NSNumber)?.int64Value }
      let offsets = offsetsAny.compactMap { ($0 as? NSNumber)?.int64Value }
      guard shape.count == shapeAny.count, shape.allSatisfy({ $0 >= 0 }), offsets.count == 2,
        offsets[0] >= 0, offsets[1] >= offsets[0]
      else { throw fail("safetensors entry '\(name)' has an invalid shape or data_offsets") }
      var stride = [Int64](repeating: 1, count: shape.count)
      var acc: Int64 = 1
      for i in shape.indices.reversed() {
        stride[i] = acc
        acc = acc &* max(shape[i], 1)
      }
      let leaf = lastComponent(name)
      let kind: TensorKind =
        TorchInterpreter.inferredBuffer(leaf: leaf, dtype: dtype) ? .buffer : .parameter
      var record = TensorRecord(
        name: name, dtype: dtype, shape: shape, stride: stride,
        storage: StorageRef(
          key: name, storageClass: "safetensors", dtype: dtype, device: "cpu", count: 0, folder: ""),
        storageOffset: 0, requiresGrad: nil, kind: kind, kindIsExact: false,
        role: TorchInterpreter.role(leaf: leaf, kind: kind), section: .model, layout: "strided",
        quantization: nil, sharedWith: nil, moduleClass: nil)
      let expected = dtype == .float4_e2m1fn_x2 ? record.numel : record.bytes
      guard offsets[1] - offsets[0] == expected else {
        throw fail(
          "safetensors entry '\(name)' spans \(offsets[1] - offsets[0]) bytes, but \(dtypeName) \(shape) needs \(expected)"
        )
      }
      let numel = record.numel
      record.storage?.count = numel
      tensors.append(record)
      ranges.append((name, offsets[0], offsets[1]))
    }
    let order = ranges.indices.sorted {
      (ranges[$0].begin, ranges[$0].name) < (ranges[$1].begin, ranges[$1].name)
    }
    var cursor: Int64 = 0
    for i in order {
      let r = ranges[i]
      guard r.begin == cursor else {
        throw fail(
          r.begin < cursor
            ? "safetensors entry '\(r.name)' overlaps the entry before it"
            : "safetensors entry '\(r.name)' leaves a gap of \(r.begin - cursor) bytes before it")
      }
      cursor = r.end
    }
    guard cursor <= dataBytes else {
      throw fail(
        "truncated safetensors file: tensors need \(cursor) data bytes, \(dataBytes) remain")
    }
    var diagnostics: [Diagnostic] = []
    if cursor < dataBytes {
      diagnostics.append(Diagnostic(.warning, "\(dataBytes - cursor) bytes follow the last tensor"))
    }
    // The header's key order is lost in parsing; list tensors in natural name order
    // (`layers.2` before `layers.10`), as state dicts usually are.
    let sorted = tensors.sorted { naturalLess($0.name, $1.name) }
    var c = Checkpoint(
      path: path, format: .safetensors, fileBytes: fileBytes, tensors: sorted, modelPrefix: "",
      strippedPrefix: "", parts: [], metadata: metadata, modules: [:], moduleOrder: [],
      storages: order.map {
        StorageInfo(
          key: ranges[$0].name,
          record: "bytes \(dataStart + ranges[$0].begin)-\(dataStart + ranges[$0].end)",
          dtype: tensors[$0].dtype.rawValue, declaredBytes: ranges[$0].end - ranges[$0].begin,
          recordBytes: ranges[$0].end - ranges[$0].begin,
          usedBytes: ranges[$0].end - ranges[$0].begin)
      },
      globals: [], diagnostics: diagnostics, archiveRoot: nil, pickleProtocol: 0,
      byteOrder: "little")
    c.parts = [
      CheckpointPart(
        name: "", role: "model", tensors: sorted.count,
        elements: sorted.reduce(0) { $0 &+ $1.numel },
        bytes: sorted.reduce(0) { $0 &+ $1.bytes }, value: nil)
    ]
    return c
  }
}

extension Checkpoint {
  /// Marks tied tensors (same storage, offset, shape, stride and dtype as an earlier one) and
  /// reports overlapping views and storage bytes no tensor views.
  mutating func markSharedTensors() {
    struct ViewKey: Hashable {
      var storage: String
      var offset: Int64
      var shape: [Int64]
      var stride: [Int64]
      var dtype: DType
    }
    var first: [ViewKey: String] = [:]
    var rangesByStorage: [String: [(name: String, start: Int64, end: Int64)]] = [:]
    var storageOrder: [String] = []
    for i in tensors.indices {
      for component in tensors[i].components {
        guard let s = component.storage, let extent = component.storageExtent, component.numel > 0
        else { continue }
        let id = s.folder + "/" + s.key
        if rangesByStorage[id] == nil { storageOrder.append(id) }
        let item = Int64(component.dtype.itemSize)
        rangesByStorage[id, default: []].append(
          (component.name, component.storageOffset &* item, extent &* item))
      }
      guard let s = tensors[i].storage, s.storageClass != "safetensors" else { continue }
      let id = s.folder + "/" + s.key
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
    var storageByID: [String: StorageInfo] = [:]
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

/// Orders dotted names component by component, numbers by value: `2.weight` < `10.weight`.
func naturalLess(_ a: String, _ b: String) -> Bool {
  let x = a.split(separator: ".", omittingEmptySubsequences: false)
  let y = b.split(separator: ".", omittingEmptySubsequences: false)
  for (p, q) in zip(x, y) where p != q {
    if let i = Int(p), let j = Int(q) { return i < j }
    if Int(p) != nil { return true }
    if Int(q) != nil { return false }
    return p < q
  }
  return x.count < y.count
}
