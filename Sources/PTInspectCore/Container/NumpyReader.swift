// NumpyReader.swift: NumPy's `.npy` (one array: magic, version, a Python-literal header, the
// data) and `.npz` (a zip of `.npy` members, stored by `np.savez`, deflated by
// `np.savez_compressed`). Each array is a tensor; an object array (`|O`) carries a pickle after
// its header, which `np.load(allow_pickle=True)` runs: it is listed for the scan and the
// summary's warning, never read as values.

import Pickle

/// What an `.npy` header says.
struct NpyHeader: Equatable {
  /// `<f4`, `|b1`, `>i8`, `|O`, or a structured dtype's text.
  var descr: String
  var fortranOrder: Bool
  var shape: [Int64]
  /// Where the data starts, from the start of the `.npy` bytes.
  var dataOffset: Int

  /// The torch dtype the descr stands for, and whether it is big-endian; nil for dtypes torch
  /// has no counterpart for (strings, datetimes, structured, object, long double).
  var dtype: (DType, bigEndian: Bool)? {
    guard descr.count >= 3, let order = descr.first, "<>|=".contains(order) else { return nil }
    let code = String(descr.dropFirst())
    let types: [String: DType] = [
      "f2": .float16, "f4": .float32, "f8": .float64, "i1": .int8, "i2": .int16, "i4": .int32,
      "i8": .int64, "u1": .uint8, "u2": .uint16, "u4": .uint32, "u8": .uint64, "b1": .bool,
      "c8": .complex64, "c16": .complex128,
    ]
    return types[code].map { ($0, order == ">") }
  }

  var isObject: Bool { descr == "|O" || descr == "<O" || descr == ">O" }

  /// Parses the header at the start of `bytes` (at least its first 10 bytes, and the whole
  /// header when it claims more); `available` is how many bytes the array holds in all.
  static func parse(_ bytes: [UInt8]) throws(FormatError) -> NpyHeader {
    guard bytes.count >= 10, bytes.starts(with: NumpyReader.magic) else {
      throw FormatError("not an .npy array: no \\x93NUMPY magic")
    }
    let major = bytes[6]
    let lengthBytes = major == 1 ? 2 : 4
    guard (1...3).contains(major), bytes.count >= 8 + lengthBytes else {
      throw FormatError(".npy format version \(major).\(bytes[7]) is not one numpy writes")
    }
    let length = Int(littleEndian(bytes, at: 8, width: lengthBytes))
    let start = 8 + lengthBytes
    guard length <= bytes.count - start else {
      throw FormatError(
        "truncated .npy header: it declares \(length) bytes, \(bytes.count - start) follow")
    }
    let text = String(decoding: bytes[start..<start + length], as: UTF8.self)
    var literal = PythonLiteral(text)
    guard let fields = literal.dict() else {
      throw FormatError(".npy header is not a Python dict: \(text.prefix(80))")
    }
    guard let descr = fields["descr"], let order = fields["fortran_order"],
      let shapeText = fields["shape"]
    else { throw FormatError(".npy header lacks descr, fortran_order or shape") }
    var shapeLiteral = PythonLiteral(shapeText)
    guard let shape = shapeLiteral.intTuple(), shape.allSatisfy({ $0 >= 0 }) else {
      throw FormatError(".npy header has an invalid shape \(shapeText)")
    }
    var descrLiteral = PythonLiteral(descr)
    return NpyHeader(
      descr: descrLiteral.string() ?? descr, fortranOrder: order == "True", shape: shape,
      dataOffset: start + length)
  }
}

/// The restricted Python literals `.npy` headers hold: a dict of string keys, strings, True and
/// False, tuples of ints, and lists (kept as text).
struct PythonLiteral {
  let chars: [Character]
  var i = 0

  init(_ text: String) { chars = Array(text) }

  mutating func skip() { while i < chars.count, chars[i].isWhitespace { i += 1 } }

  /// A quoted string.
  mutating func string() -> String? {
    skip()
    guard i < chars.count, chars[i] == "'" || chars[i] == "\"" else { return nil }
    let quote = chars[i]
    i += 1
    var out = ""
    while i < chars.count, chars[i] != quote {
      if chars[i] == "\\", i + 1 < chars.count { i += 1 }
      out.append(chars[i])
      i += 1
    }
    guard i < chars.count else { return nil }
    i += 1
    return out
  }

  /// The text of one value (nested brackets matched), trimmed.
  mutating func valueText() -> String? {
    skip()
    let start = i
    var depth = 0
    var quote: Character?
    while i < chars.count {
      let c = chars[i]
      if let q = quote {
        if c == q { quote = nil }
      } else if c == "'" || c == "\"" {
        quote = c
      } else if "([{".contains(c) {
        depth += 1
      } else if ")]}".contains(c) {
        if depth == 0 { break }
        depth -= 1
      } else if c == ",", depth == 0 {
        break
      }
      i += 1
    }
    let text = String(chars[start..<i]).trimmingWhitespace()
    return text.isEmpty ? nil : text
  }

  /// `{'key': value, ...}` as key to value text.
  mutating func dict() -> [String: String]? {
    skip()
    guard i < chars.count, chars[i] == "{" else { return nil }
    i += 1
    var out: [String: String] = [:]
    while true {
      skip()
      if i < chars.count, chars[i] == "}" { return out }
      guard let key = string() else { return nil }
      skip()
      guard i < chars.count, chars[i] == ":" else { return nil }
      i += 1
      guard let value = valueText() else { return nil }
      out[key] = value
      skip()
      if i < chars.count, chars[i] == "," { i += 1 }
    }
  }

  /// `()`, `(3,)`, `(2, 3)`.
  mutating func intTuple() -> [Int64]? {
    skip()
    guard i < chars.count, chars[i] == "(" else { return nil }
    let inner = String(chars[(i + 1)...]).split(separator: ")", maxSplits: 1).first ?? ""
    var dims: [Int64] = []
    for part in inner.split(separator: ",") {
      let t = String(part).trimmingWhitespace()
      if t.isEmpty { continue }
      guard let d = Int64(t.hasSuffix("L") ? String(t.dropLast()) : t) else { return nil }
      dims.append(d)
    }
    return dims
  }
}

extension String {
  func trimmingWhitespace() -> String {
    String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
  }
}

enum NumpyReader: ContainerReader {
  static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]

  static func probe(_ head: [UInt8], source: any ByteSource) -> Bool {
    head.starts(with: magic)
  }

  static func read(_ source: any ByteSource, mode: ReadMode, options: OpenOptions)
    throws(CheckpointError) -> ContainerContents
  {
    var contents = ContainerContents(format: .npy, fileBytes: source.size)
    let head: [UInt8]
    do {
      head = try source.readPrefix(upTo: 1 << 16)
    } catch {
      throw CheckpointError(file: source.name, .source(error))
    }
    do throws(FormatError) {
      let header = try NpyHeader.parse(head)
      try add(
        header, name: "array", dataStart: Int64(header.dataOffset), available: source.size,
        location: { .range(offset: Int64(header.dataOffset), count: $0) }, into: &contents)
    } catch {
      if mode == .strict { throw CheckpointError(file: source.name, error.message) }
      contents.errors.append(error.message)
    }
    return contents
  }

  /// An object array: listed, and the pickle its values are (after the header) kept for the
  /// scan and the summary's warning.
  static func addObjectArray(
    _ header: NpyHeader, name: String, pickle: PickleSource.Bytes,
    into contents: inout ContainerContents
  ) {
    let shapeText = "(" + header.shape.map(String.init).joined(separator: ", ") + ")"
    contents.pickles.append(
      PickleSource(name: name, role: .loaded, bytes: pickle, context: "\(name) (object array)"))
    contents.metadata.append(
      MetadataItem(name: name, type: "numpy.ndarray", value: "object array, shape \(shapeText)"))
    contents.diagnostics.append(
      Diagnostic(
        .warning,
        "'\(name)' is an object array: its values are a pickle, which np.load(allow_pickle=True) runs"
      ))
  }

  /// One array as a tensor (or, for dtypes torch has none of, as metadata; for an object array,
  /// as the pickle after its header).
  static func add(
    _ header: NpyHeader, name: String, dataStart: Int64, available: Int64,
    location: (Int64) -> StorageLocation, into contents: inout ContainerContents,
    storageOffsetBytes: Int64 = 0
  ) throws(FormatError) {
    let shapeText = "(" + header.shape.map(String.init).joined(separator: ", ") + ")"
    if header.isObject, case .range(let offset, let count) = location(available - dataStart) {
      return addObjectArray(
        header, name: name, pickle: .range(offset: offset, count: count), into: &contents)
    }
    guard let (dtype, bigEndian) = header.dtype else {
      contents.metadata.append(
        MetadataItem(
          name: name, type: "numpy.ndarray", value: "dtype \(header.descr), shape \(shapeText)"))
      contents.diagnostics.append(
        Diagnostic(
          .info,
          "'\(name)' has numpy dtype \(header.descr), which has no torch dtype: listed as metadata")
      )
      return
    }
    var stride = [Int64](repeating: 1, count: header.shape.count)
    var acc: Int64 = 1
    let order = header.fortranOrder ? Array(header.shape.indices) : header.shape.indices.reversed()
    for d in order {
      stride[d] = acc
      acc = acc &* max(header.shape[d], 1)
    }
    let leaf = lastComponent(name)
    let kind: TensorKind =
      TorchInterpreter.inferredBuffer(leaf: leaf, dtype: dtype) ? .buffer : .parameter
    let item = Int64(dtype.itemSize)
    guard storageOffsetBytes % item == 0 else {
      throw FormatError("'\(name)': its data is not aligned to its \(item)-byte elements")
    }
    var record = TensorRecord(
      name: name, dtype: dtype, shape: header.shape, stride: stride,
      storage: StorageRef(
        key: name, storageClass: "numpy", dtype: dtype, device: "cpu", count: 0, folder: "npy"),
      storageOffset: storageOffsetBytes / item, requiresGrad: nil, kind: kind, kindIsExact: false,
      role: TorchInterpreter.role(leaf: leaf, kind: kind), section: .model, layout: .strided,
      quantization: nil, sharedWith: nil, moduleClass: nil)
    let numel = record.numel
    record.storage?.count = numel
    let bytes = record.bytes
    guard bytes != Int64.max, bytes <= available - dataStart else {
      throw FormatError(
        "'\(name)' needs \(bytes) bytes after its header (\(header.descr) \(shapeText)), but \(max(0, available - dataStart)) follow"
      )
    }
    contents.headerTensors.append(record)
    var storage = StorageRecord(
      id: StorageID(folder: "npy", key: name), location: location(bytes), dtype: dtype.rawValue,
      declaredBytes: bytes, recordBytes: bytes, usedBytes: bytes, holderText: "'\(name)'")
    storage.byteOrder = bigEndian ? .big : .little
    contents.add(storage)
    if bigEndian, contents.byteOrder != .big {
      contents.byteOrder = .big
      contents.diagnostics.append(
        Diagnostic(.info, "tensor data is stored big-endian ('\(name)' is \(header.descr))"))
    } else if contents.byteOrder == nil {
      contents.byteOrder = .little
    }
  }
}

/// `.npz`: a zip whose entries are all `.npy` arrays.
enum NpzReader: ContainerReader {
  /// A zip whose first entry (its local header, at the start) is an `.npy` array: what
  /// `np.savez` writes. Costs nothing beyond the first bytes.
  static func probe(_ head: [UInt8], source: any ByteSource) -> Bool {
    guard head.count >= 30, head.starts(with: [0x50, 0x4B, 0x03, 0x04]) else { return false }
    let length = Int(littleEndian(head, at: 26, width: 2))
    guard length >= 4, 30 + length <= head.count else { return false }
    return head[30 + length - 4..<30 + length].elementsEqual(".npy".utf8)
  }

  static func read(_ source: any ByteSource, mode: ReadMode, options: OpenOptions)
    throws(CheckpointError) -> ContainerContents
  {
    var (zip, contents) = try TorchZipReader.contents(source, format: .npz, mode: mode)
    for entry in zip.entries {
      guard entry.normalizedName.hasSuffix(".npy") else {
        contents.diagnostics.append(
          Diagnostic(.warning, "'\(entry.normalizedName)' is not an .npy array: not read"))
        continue
      }
      let name = String(entry.normalizedName.dropLast(4))
      do throws(CheckpointError) {
        try member(entry, name: name, zip: zip, into: &contents)
      } catch {
        if mode == .strict { throw error }
        contents.errors.append(error.message)
      }
    }
    return contents
  }

  /// One `.npy` member: its header read (inflated as far as needed), its data located.
  static func member(
    _ entry: ZipEntry, name: String, zip: ZipFile, into contents: inout ContainerContents
  ) throws(CheckpointError) {
    let file = zip.source.name
    func fail(_ reason: CheckpointError.Reason) -> CheckpointError {
      CheckpointError(file: file, reason)
    }
    let stored = ZipFile.isStored(entry) && entry.size == entry.compressedSize
    let head: [UInt8]
    let dataStart: Int64
    do {
      head = try zip.read(entry, offset: 0, count: Int(min(entry.size, 1 << 16)))
      dataStart = stored ? try zip.dataOffset(of: entry) : 0
    } catch {
      throw CheckpointError(error, file: file)
    }
    let header: NpyHeader
    do {
      header = try NpyHeader.parse(head)
    } catch {
      throw fail(.container("\(entry.normalizedName): \(error.message)"))
    }
    let size = Int64(clamping: entry.size)
    do throws(FormatError) {
      if stored {
        let at = dataStart + Int64(header.dataOffset)
        try NumpyReader.add(
          header, name: name, dataStart: Int64(header.dataOffset), available: size,
          location: { .range(offset: at, count: $0) }, into: &contents)
      } else {
        if header.isObject {
          // The pickle after the header, inflated: small enough to hold (object arrays are).
          let bytes = try? zip.read(entry, limit: 1 << 30)
          return NumpyReader.addObjectArray(
            header, name: name, pickle: .owned(Array((bytes ?? []).dropFirst(header.dataOffset))),
            into: &contents)
        }
        try NumpyReader.add(
          header, name: name, dataStart: Int64(header.dataOffset), available: size,
          location: { _ in .zipEntry(entry) }, into: &contents,
          storageOffsetBytes: Int64(header.dataOffset))
      }
    } catch {
      throw fail(.container(error.message))
    }
  }
}
