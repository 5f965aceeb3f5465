// Checkpoint+Containers.swift: the containers that are not zips: the legacy stream (torch 0.1.10
// to 1.5, and `_use_new_zipfile_serialization=False`), bare pickles, and safetensors.

import Foundation
import Pickle

extension Checkpoint {
  static func openOther(_ path: String, sniff: Sniffer, options: OpenOptions)
    throws(CheckpointError)
    -> Checkpoint
  {
    func fail(_ message: String) -> CheckpointError { CheckpointError(file: path, message) }
    switch sniff.kind {
    case .safetensors:
      return try openSafetensors(path, fileBytes: sniff.fileBytes)
    default:
      break
    }
    let data: Data
    do {
      data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
    } catch {
      throw fail("cannot read the file: \(error.localizedDescription)")
    }
    let result = data.withUnsafeBytes {
      (buffer: UnsafeRawBufferPointer) -> Result<Checkpoint, CheckpointError> in
      Result { () throws(CheckpointError) -> Checkpoint in
        switch sniff.kind {
        case .legacy: try openLegacy(path, buffer: buffer, options: options)
        case .tar: try openTar(path, buffer: buffer, options: options)
        default: try openPickle(path, buffer: buffer, options: options)
        }
      }
    }
    return try result.get()
  }

  /// A bare pickle: `pickle.dump` output, or a `data.pkl` taken out of its zip.
  static func openPickle(_ path: String, buffer: UnsafeRawBufferPointer, options: OpenOptions)
    throws(CheckpointError) -> Checkpoint
  {
    let graph: PickleGraph
    var interpreted: InterpretedPickle
    do {
      graph = try PickleDecoder(limits: options.pickleLimits).decode(buffer)
      interpreted = try TorchInterpreter(graph: graph).interpret()
    } catch let e as PickleError {
      throw CheckpointError(file: path, e.description)
    } catch let e as InterpretError {
      throw CheckpointError(file: path, e.message)
    } catch {
      throw CheckpointError(file: path, "\(error)")
    }
    var c = Checkpoint(
      path: path, format: .pickle, fileBytes: Int64(buffer.count), tensors: interpreted.tensors,
      modelPrefix: "", strippedPrefix: "", parts: [], metadata: [], modules: interpreted.modules,
      moduleOrder: interpreted.moduleOrder, storages: [],
      globals: graph.globals.map { (pickle: "pickle", reference: $0) }, diagnostics: [],
      archiveRoot: nil, pickleProtocol: graph.protocolVersion, byteOrder: nil)
    if c.tensors.contains(where: { $0.storage != nil }) {
      c.diagnostics.append(
        Diagnostic(
          .warning,
          "a bare pickle: its tensors' storages are not in this file, so their sizes are not checked"
        ))
    }
    for note in interpreted.notes { c.diagnostics.append(Diagnostic(.warning, note)) }
    // The checkpoint owns the records now: drop the walk's copy so updating them does not
    // copy the whole array.
    interpreted.tensors = []
    ModelLocator.locate(&c, interpreted: interpreted, graph: graph)
    c.markSharedTensors()
    return c
  }

  /// The legacy stream: magic, protocol, sys_info, the main pickle, the storage keys, then each
  /// storage as an 8-byte count and its bytes. Storages are skipped over, never read.
  static func openLegacy(_ path: String, buffer: UnsafeRawBufferPointer, options: OpenOptions)
    throws(CheckpointError) -> Checkpoint
  {
    func fail(_ message: String) -> CheckpointError { CheckpointError(file: path, message) }
    let decoder = PickleDecoder(limits: options.pickleLimits)
    var offset = 0
    func next(_ what: String) throws(CheckpointError) -> PickleGraph {
      do {
        let g = try decoder.decode(buffer, at: offset)
        offset = g.endOffset
        return g
      } catch {
        throw fail("legacy stream, \(what): \(error.description)")
      }
    }
    _ = try next("magic number")
    let proto = try next("protocol version")
    guard proto.root.intValue == 1001 else {
      throw fail("legacy stream with unknown protocol version \(proto.root)")
    }
    let sysInfo = try next("sys_info")
    var diagnostics: [Diagnostic] = []
    var byteOrder = "little"
    let sysInterpreter = TorchInterpreter(graph: sysInfo)
    if let entries = sysInterpreter.dictEntries(sysInfo.root),
      let le = entries.first(where: { $0.key == .string("little_endian") }),
      le.value == .bool(false)
    {
      byteOrder = "big"
      diagnostics.append(Diagnostic(.info, "tensor data is stored big-endian (sys_info)"))
    }
    let main = try next("main pickle")
    var interpreted: InterpretedPickle
    do {
      interpreted = try TorchInterpreter(graph: main).interpret()
    } catch {
      throw fail("legacy stream, main pickle: \(error.message)")
    }
    let keyList = try next("storage key list")
    guard let keys = keyList.sequence(keyList.root) else {
      throw fail("legacy stream: the storage key list is not a list")
    }
    // Storage classes by key, from every storage persistent id (not only the tensors').
    let interpreter = TorchInterpreter(graph: main)
    var refs: [String: StorageRef] = [:]
    for (i, node) in main.nodes.enumerated() {
      guard case .persistentID = node, let ref = try? interpreter.storage(.node(i)) else {
        continue
      }
      refs[ref.key] = ref
    }
    var storages: [String: StorageInfo] = [:]
    var storageOrder: [String] = []
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
      var count: UInt64 = 0
      for i in (0..<8).reversed() { count = count << 8 | UInt64(buffer[offset + i]) }
      let itemSize = UInt64(ref.dtype?.itemSize ?? 1)
      let (bytes, overflow) = count.multipliedReportingOverflow(by: itemSize)
      let dataStart = offset + 8
      guard !overflow, bytes <= UInt64(buffer.count - dataStart) else {
        throw fail(
          "truncated legacy stream: storage '\(key)' needs \(count) x \(itemSize) bytes at offset \(dataStart), but the file has \(buffer.count - dataStart) left"
        )
      }
      if Int64(count) != ref.count {
        diagnostics.append(
          Diagnostic(
            .warning,
            "storage '\(key)': the stream holds \(count) elements, its id declares \(ref.count)"))
      }
      storageOrder.append(key)
      storages[key] = StorageInfo(
        key: key, record: "offset \(dataStart)", dtype: ref.dtype?.rawValue ?? "untyped",
        declaredBytes: ref.declaredBytes, recordBytes: Int64(bytes), usedBytes: 0,
        id: ref.folder + "/" + key)
      offset = dataStart + Int(bytes)
    }
    if offset < buffer.count {
      diagnostics.append(
        Diagnostic(.warning, "\(buffer.count - offset) bytes follow the last storage"))
    }
    for t in interpreted.tensors.flatMap(\.storageViews) {
      guard let s = t.storage else { continue }
      guard var info = storages[s.key] else {
        throw fail("tensor '\(t.name)' needs storage '\(s.key)', which the stream does not hold")
      }
      guard let needed = t.requiredStorageBytes else {
        throw fail("tensor '\(t.name)' has a shape \(t.shape) and stride \(t.stride) that overflow")
      }
      if needed > info.recordBytes {
        throw fail(
          "tensor '\(t.name)' needs \(needed) bytes of storage '\(s.key)', but the stream holds \(info.recordBytes)"
        )
      }
      info.usedBytes = max(info.usedBytes, needed)
      storages[s.key] = info
    }
    for note in interpreted.notes { diagnostics.append(Diagnostic(.warning, note)) }
    var c = Checkpoint(
      path: path, format: .torchLegacy, fileBytes: Int64(buffer.count),
      tensors: interpreted.tensors,
      modelPrefix: "", strippedPrefix: "", parts: [], metadata: [], modules: interpreted.modules,
      moduleOrder: interpreted.moduleOrder, storages: storageOrder.compactMap { storages[$0] },
      globals: [sysInfo, main, keyList].flatMap { g in
        g.globals.map { (pickle: "legacy stream", reference: $0) }
      },
      diagnostics: diagnostics, archiveRoot: nil, pickleProtocol: main.protocolVersion,
      byteOrder: byteOrder)
    // The checkpoint owns the records now: drop the walk's copy so updating them does not
    // copy the whole array.
    interpreted.tensors = []
    ModelLocator.locate(&c, interpreted: interpreted, graph: main)
    c.markSharedTensors()
    return c
  }
}
