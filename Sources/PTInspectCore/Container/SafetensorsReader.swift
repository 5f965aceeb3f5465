// SafetensorsReader.swift: the safetensors header (8-byte length, JSON), validated as the
// reference implementation validates it. Tensor bytes are never read.

enum SafetensorsReader: ContainerReader {
  /// Largest header the reference implementation accepts.
  static let maxHeader: UInt64 = 100_000_000

  /// An 8-byte little-endian length that fits the file, then a JSON object: `{` right after the
  /// length and `}` closing the header (padded with spaces). A pickle's first bytes cannot pass.
  static func probe(_ h: [UInt8], source: any ByteSource) -> Bool {
    guard h.count >= 10, h[8] == UInt8(ascii: "{") else { return false }
    let n = littleEndian(h, at: 0, width: 8)
    guard n >= 2, n <= UInt64(max(source.size - 8, 0)) else { return false }
    let tail = min(Int(n), 64)
    guard let last = try? source.read(at: 8 + Int64(n) - Int64(tail), count: tail) else {
      return false
    }
    // Writers pad the header with spaces (to 8 bytes); a window of spaces only is padding too.
    let end = last.last { $0 != 0x20 }
    return end == nil || end == UInt8(ascii: "}")
  }

  static func read(_ source: any ByteSource, mode: ReadMode, options: OpenOptions)
    throws(CheckpointError) -> ContainerContents
  {
    func fail(_ message: String) -> CheckpointError { CheckpointError(file: source.name, message) }
    var contents = ContainerContents(format: .safetensors, fileBytes: source.size)
    contents.byteOrder = .little
    guard mode == .strict else {
      contents.notes.append("safetensors holds no pickle: nothing in it is run when it is loaded")
      return contents
    }
    let fileBytes = source.size
    guard let lengthBytes = try? source.read(at: 0, count: 8) else {
      throw fail("safetensors file shorter than its 8-byte header length")
    }
    let n = littleEndian(lengthBytes, at: 0, width: 8)
    guard n <= maxHeader else {
      throw fail("safetensors header of \(n) bytes is over the limit of \(maxHeader)")
    }
    guard n <= UInt64(max(fileBytes - 8, 0)) else {
      throw fail("truncated safetensors file: the header needs \(n) bytes, \(fileBytes - 8) remain")
    }
    let header: [UInt8]
    do {
      header = try source.read(at: 8, count: Int(n))
    } catch {
      throw CheckpointError(file: source.name, .source(error))
    }
    guard let object = (try? JSONReader().parse(header))?.object else {
      throw fail("safetensors header is not a JSON object")
    }
    let dataStart = 8 + Int64(n)
    let dataBytes = fileBytes - dataStart
    var ranges: [(name: String, begin: Int64, end: Int64, dtype: DType)] = []
    for (name, value) in object {
      if name == "__metadata__" {
        for (k, v) in (value.object ?? []).sorted(by: { $0.key < $1.key }) {
          contents.metadata.append(
            MetadataItem(name: "__metadata__." + k, type: "str", value: "'\(v.string ?? v.text)'"))
        }
        continue
      }
      guard let dtypeName = value["dtype"]?.string, let shapeValues = value["shape"]?.array,
        let offsetValues = value["data_offsets"]?.array, offsetValues.count == 2
      else { throw fail("safetensors entry '\(name)' lacks dtype, shape or data_offsets") }
      guard let dtype = DType(safetensors: dtypeName) else {
        throw fail("safetensors entry '\(name)' has unknown dtype \(dtypeName)")
      }
      let shape = shapeValues.compactMap(\.integer)
      let offsets = offsetValues.compactMap(\.integer)
      guard shape.count == shapeValues.count, shape.allSatisfy({ $0 >= 0 }), offsets.count == 2,
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
        role: TorchInterpreter.role(leaf: leaf, kind: kind), section: .model, layout: .strided,
        quantization: nil, sharedWith: nil, moduleClass: nil)
      let expected = dtype == .float4_e2m1fn_x2 ? record.numel : record.bytes
      guard offsets[1] - offsets[0] == expected else {
        throw fail(
          "safetensors entry '\(name)' spans \(offsets[1] - offsets[0]) bytes, but \(dtypeName) \(shape) needs \(expected)"
        )
      }
      let numel = record.numel
      record.storage?.count = numel
      contents.headerTensors.append(record)
      ranges.append((name, offsets[0], offsets[1], dtype))
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
      let id = StorageID(folder: "", key: r.name)
      contents.add(
        StorageRecord(
          id: id, location: .range(offset: dataStart + r.begin, count: r.end - r.begin),
          dtype: r.dtype.rawValue, declaredBytes: r.end - r.begin, recordBytes: r.end - r.begin,
          usedBytes: r.end - r.begin, holderText: "the header's entry '\(r.name)'"))
    }
    guard cursor <= dataBytes else {
      throw fail(
        "truncated safetensors file: tensors need \(cursor) data bytes, \(dataBytes) remain")
    }
    if cursor < dataBytes {
      contents.diagnostics.append(
        Diagnostic(.warning, "\(dataBytes - cursor) bytes follow the last tensor"))
    }
    // List tensors in natural name order (`layers.2` before `layers.10`), as state dicts are.
    contents.headerTensors = contents.headerTensors.naturallySorted { $0.name }
    return contents
  }
}
