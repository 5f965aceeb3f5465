// LegacyStreamReader.swift: the legacy stream torch wrote from 0.1.10 to 1.5 (and with
// `_use_new_zipfile_serialization=False`): five pickles (magic number, protocol version,
// sys_info, the main object, the storage keys), then each storage as an 8-byte element count
// and its bytes. Storages are skipped over, never read.

import Pickle

enum LegacyStreamReader: ContainerReader {
  /// The legacy magic number 0x1950a86a20f9469cfc6c as LONG1 10 bytes, right after PROTO (and an
  /// optional FRAME).
  static let magic: [UInt8] = [
    0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19,
  ]

  /// The same number as pickle protocols 0 and 1 write it: a text LONG, then STOP.
  static let textMagic = Array("L119547037146038801333356L\n.".utf8)

  static func probe(_ h: [UInt8], source: any ByteSource) -> Bool {
    if h.starts(with: textMagic) { return true }
    guard h.count > 2, h[0] == 0x80, h[1] <= 5 else { return false }
    let i = h[2] == 0x95 ? 11 : 2  // FRAME + 8-byte length
    return h.count >= i + magic.count && Array(h[i..<i + magic.count]) == magic
  }

  /// The pickles torch.load reads, in order, with the same unpickler.
  static let parts = ["magic number", "protocol version", "sys_info", "main", "storage keys"]

  static func read(_ source: any ByteSource, mode: ReadMode, options: OpenOptions)
    throws(CheckpointError) -> ContainerContents
  {
    try Containers.withWholeFile(source) { buffer throws(CheckpointError) in
      try read(buffer, source: source, mode: mode, options: options)
    }
  }

  static func read(
    _ buffer: UnsafeRawBufferPointer, source: any ByteSource, mode: ReadMode, options: OpenOptions
  ) throws(CheckpointError) -> ContainerContents {
    func fail(_ message: String) -> CheckpointError { CheckpointError(file: source.name, message) }
    var contents = ContainerContents(format: .torchLegacy, fileBytes: source.size)
    contents.storageNaming = .stream
    let decoder = PickleDecoder(limits: options.pickleLimits)
    var offset = 0
    var graphs: [PickleGraph] = []
    for (i, part) in parts.enumerated() {
      let what = [
        "magic number", "protocol version", "sys_info", "main pickle", "storage key list",
      ][i]
      do {
        let g = try decoder.decode(buffer, at: offset)
        contents.pickles.append(
          PickleSource(
            name: part, role: part == "main" ? .main : .loaded,
            bytes: .range(offset: Int64(offset), count: Int64(g.endOffset - offset)),
            context: "legacy stream, \(what)", graph: g, base: 0))
        graphs.append(g)
        offset = g.endOffset
      } catch {
        let failed = CheckpointError(
          file: source.name, .pickle(context: "legacy stream, \(what)", error))
        guard mode == .lenient else { throw failed }
        contents.pickles.append(
          PickleSource(
            name: part, role: part == "main" ? .main : .loaded,
            bytes: .range(offset: Int64(offset), count: Int64(buffer.count - offset)),
            context: "legacy stream, \(what)", base: 0))
        return contents
      }
      if i == 1, mode == .strict, graphs[1].root.intValue != 1001 {
        throw fail("legacy stream with unknown protocol version \(graphs[1].root)")
      }
    }
    guard mode == .strict else { return contents }
    let (sysInfo, main, keyList) = (graphs[2], graphs[3], graphs[4])
    contents.byteOrder = .little
    if let entries = TorchInterpreter(graph: sysInfo).dictEntries(sysInfo.root),
      entries.contains(where: { $0.key == .string("little_endian") && $0.value == .bool(false) })
    {
      contents.byteOrder = .big
      contents.diagnostics.append(Diagnostic(.info, "tensor data is stored big-endian (sys_info)"))
    }
    guard let keys = keyList.sequence(keyList.root) else {
      throw fail("legacy stream: the storage key list is not a list")
    }
    // Storage classes by key, from every storage persistent id (not only the tensors').
    let interpreter = TorchInterpreter(graph: main)
    var refs: [String: StorageRef] = [:]
    for (i, node) in main.nodes.enumerated() {
      guard case .persistentID(let pid) = node else { continue }
      // Protocol 0 writes a persistent id as its text (`PERSID "('storage', <class ...>, ...)"`),
      // which no loader can turn back into a storage: torch.load fails on it too.
      if case .string(let text) = pid, text.hasPrefix("('storage'") {
        throw fail(
          "legacy stream saved with pickle protocol 0: storage ids are written as text, which torch.load cannot read either"
        )
      }
      guard let ref = try? interpreter.storage(.node(i)) else { continue }
      refs[ref.key] = ref
    }
    for keyValue in keys {
      guard case .string(let key) = keyValue else {
        throw fail("legacy stream: a storage key is not a string")
      }
      guard let ref = refs[key] else {
        throw fail("legacy stream: storage '\(key)' is listed but never used")
      }
      guard offset + 8 <= buffer.count else {
        throw fail(
          "truncated legacy stream: storage '\(key)' starts at offset \(offset), past the end (\(buffer.count) bytes)"
        )
      }
      let count = littleEndian(buffer, at: offset, width: 8)
      let itemSize = UInt64(ref.dtype?.itemSize ?? 1)
      let (bytes, overflow) = count.multipliedReportingOverflow(by: itemSize)
      let dataStart = offset + 8
      guard !overflow, bytes <= UInt64(buffer.count - dataStart) else {
        throw fail(
          "truncated legacy stream: storage '\(key)' needs \(count) x \(itemSize) bytes at offset \(dataStart), but the file has \(buffer.count - dataStart) left"
        )
      }
      if Int64(count) != ref.count {
        contents.diagnostics.append(
          Diagnostic(
            .warning,
            "storage '\(key)': the stream holds \(count) elements, its id declares \(ref.count)"))
      }
      let id = StorageID(folder: ref.folder, key: key)
      contents.add(
        StorageRecord(
          id: id, location: .range(offset: Int64(dataStart), count: Int64(bytes)),
          dtype: ref.dtype?.rawValue ?? "untyped", declaredBytes: ref.declaredBytes,
          recordBytes: Int64(bytes), usedBytes: 0, holderText: "the stream"))
      offset = dataStart + Int(bytes)
    }
    if offset < buffer.count {
      contents.diagnostics.append(
        Diagnostic(.warning, "\(buffer.count - offset) bytes follow the last storage"))
    }
    return contents
  }
}
