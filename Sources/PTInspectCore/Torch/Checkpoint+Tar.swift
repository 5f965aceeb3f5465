// Checkpoint+Tar.swift: the tar container of torch before 0.1.10: members `sys_info`, `pickle`,
// `storages` and `tensors`, read as torch.serialization's `legacy_load` reads them. Storage bytes
// are skipped, never read.

import Foundation
import Pickle

extension Checkpoint {
  struct TarMember {
    var start: Int
    var size: Int
  }

  /// Members of a ustar/PAX archive by name.
  static func tarMembers(_ buffer: UnsafeRawBufferPointer) throws(InterpretError) -> [String:
    TarMember]
  {
    func field(_ at: Int, _ length: Int) -> [UInt8] { Array(buffer[at..<at + length]) }
    func text(_ bytes: [UInt8]) -> String {
      String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }
    var members: [String: TarMember] = [:]
    var pos = 0
    var paxPath: String?
    while pos + 512 <= buffer.count {
      let header = field(pos, 512)
      if header.allSatisfy({ $0 == 0 }) { break }
      var name = text(Array(header[0..<100]))
      let prefix = text(Array(header[345..<500]))
      if !prefix.isEmpty { name = prefix + "/" + name }
      let sizeText = text(Array(header[124..<136])).trimmingCharacters(in: .whitespaces)
      guard let size = Int(sizeText.isEmpty ? "0" : sizeText, radix: 8) else {
        throw InterpretError("tar header at offset \(pos) has an invalid size")
      }
      let start = pos + 512
      guard size <= buffer.count - start else {
        throw InterpretError(
          "truncated tar archive: member '\(name)' needs \(size) bytes at offset \(start)")
      }
      switch header[156] {
      case UInt8(ascii: "x"):
        // PAX extended header: "len path=value\n" records.
        for record in text(field(start, size)).split(separator: "\n")
        where record.contains(" path=") {
          paxPath = record.components(separatedBy: " path=").last
        }
      case UInt8(ascii: "g"):
        break
      default:
        members[paxPath ?? name] = TarMember(start: start, size: size)
        paxPath = nil
      }
      pos = start + (size + 511) / 512 * 512
    }
    return members
  }

  static func openTar(_ path: String, buffer: UnsafeRawBufferPointer, options: OpenOptions)
    throws(CheckpointError)
    -> Checkpoint
  {
    func fail(_ message: String) -> CheckpointError { CheckpointError(file: path, message) }
    let members: [String: TarMember]
    do {
      members = try tarMembers(buffer)
    } catch {
      throw fail(error.message)
    }
    guard let mainMember = members["pickle"], let storageMember = members["storages"],
      let tensorMember = members["tensors"]
    else {
      throw fail(
        "a tar archive, but not a torch checkpoint: no 'pickle', 'storages' and 'tensors' members")
    }
    let decoder = PickleDecoder(limits: options.pickleLimits)
    var diagnostics: [Diagnostic] = []
    var globals: [(pickle: String, reference: GlobalReference)] = []
    // Each member is read as its own buffer so nothing runs past its end.
    func member(_ m: TarMember) -> UnsafeRawBufferPointer {
      UnsafeRawBufferPointer(rebasing: buffer[m.start..<m.start + m.size])
    }
    func decode(_ m: TarMember, at offset: Int, _ what: String) throws(CheckpointError)
      -> PickleGraph
    {
      do {
        let g = try decoder.decode(member(m), at: offset)
        globals += g.globals.map { (pickle: what, reference: $0) }
        return g
      } catch {
        throw fail("tar member '\(what)': \(error.description)")
      }
    }
    func key(_ v: PickleValue) -> String? {
      switch v {
      case .int(let i): return String(i)
      case .string(let s): return s
      default: return nil
      }
    }
    func readInt(_ m: TarMember, _ at: Int, _ width: Int, _ what: String) throws(CheckpointError)
      -> Int64
    {
      guard at + width <= m.size else {
        throw fail("truncated tar member '\(what)' at offset \(at)")
      }
      var v: UInt64 = 0
      for i in (0..<width).reversed() { v = v << 8 | UInt64(buffer[m.start + at + i]) }
      return width == 4 ? Int64(Int32(bitPattern: UInt32(v))) : Int64(bitPattern: v)
    }
    // storages: count, then per storage (key, location, class), an 8-byte count and its bytes;
    // then the storage views (target, root, offset, numel).
    struct Stored {
      var ref: StorageRef
      var dataOffset: Int
    }
    var stored: [String: Stored] = [:]
    var order: [String] = []
    var offset = 0
    var g = try decode(storageMember, at: offset, "storages")
    guard let count = g.root.intValue, count >= 0 else {
      throw fail("tar member 'storages' does not start with a count")
    }
    offset = g.endOffset
    for _ in 0..<count {
      g = try decode(storageMember, at: offset, "storages")
      guard let items = g.sequence(g.root), items.count == 3, let k = key(items[0]),
        let cls = g.global(items[2]), let dtype = DType(storageClass: cls.name)
      else { throw fail("tar member 'storages' has a malformed storage header") }
      let n = try readInt(storageMember, g.endOffset, 8, "storages")
      let dataStart = g.endOffset + 8
      let (bytes, overflow) = n.multipliedReportingOverflow(by: Int64(dtype.itemSize))
      guard n >= 0, !overflow, bytes <= Int64(storageMember.size - dataStart) else {
        throw fail(
          "truncated tar member 'storages': storage '\(k)' needs \(n) x \(dtype.itemSize) bytes")
      }
      stored[k] = Stored(
        ref: StorageRef(
          key: k, storageClass: cls.name, dtype: dtype,
          device: g.root == .none ? "?" : (items[1].stringValue ?? "?"), count: n,
          folder: "storages"),
        dataOffset: storageMember.start + dataStart)
      order.append(k)
      offset = dataStart + Int(bytes)
    }
    g = try decode(storageMember, at: offset, "storages")
    for view in g.sequence(g.root) ?? [] {
      guard let v = g.sequence(view), v.count == 4, let target = key(v[0]), let root = key(v[1]),
        let start = v[2].intValue, let numel = v[3].intValue, let base = stored[root],
        let dtype = base.ref.dtype,
        start >= 0, numel >= 0, start + numel <= base.ref.count
      else { throw fail("tar member 'storages' has a malformed storage view") }
      var ref = base.ref
      ref.key = target
      ref.count = numel
      stored[target] = Stored(ref: ref, dataOffset: base.dataOffset + Int(start) * dtype.itemSize)
      order.append(target)
    }
    // tensors: count, then per tensor (key, storage key, class), ndim, sizes, strides, offset.
    var persistent: [String: TensorFacts] = [:]
    offset = 0
    g = try decode(tensorMember, at: offset, "tensors")
    guard let tensorCount = g.root.intValue, tensorCount >= 0 else {
      throw fail("tar member 'tensors' does not start with a count")
    }
    offset = g.endOffset
    for _ in 0..<tensorCount {
      g = try decode(tensorMember, at: offset, "tensors")
      guard let items = g.sequence(g.root), items.count == 3, let k = key(items[0]),
        let sk = key(items[1])
      else {
        throw fail("tar member 'tensors' has a malformed tensor header")
      }
      guard let s = stored[sk], let dtype = s.ref.dtype else {
        throw fail("tensor '\(k)' needs storage '\(sk)', which the tar archive does not hold")
      }
      var at = g.endOffset
      let ndim = try readInt(tensorMember, at, 4, "tensors")
      guard (0...64).contains(ndim) else { throw fail("tensor '\(k)' has \(ndim) dimensions") }
      at += 8
      var shape: [Int64] = []
      var stride: [Int64] = []
      for _ in 0..<ndim {
        shape.append(try readInt(tensorMember, at, 8, "tensors"))
        at += 8
      }
      for _ in 0..<ndim {
        stride.append(try readInt(tensorMember, at, 8, "tensors"))
        at += 8
      }
      let storageOffset = try readInt(tensorMember, at, 8, "tensors")
      offset = at + 8
      guard shape.allSatisfy({ $0 >= 0 }), storageOffset >= 0 else {
        throw fail("tensor '\(k)' has a negative size or offset")
      }
      persistent[k] = TensorFacts(
        dtype: dtype, shape: shape, stride: stride, storage: s.ref, offset: storageOffset,
        requiresGrad: nil,
        layout: "strided")
    }
    let main = try decode(mainMember, at: 0, "pickle")
    var interpreter = TorchInterpreter(graph: main)
    interpreter.persistentTensors = persistent
    var interpreted: InterpretedPickle
    do {
      interpreted = try interpreter.interpret()
    } catch {
      throw fail("tar member 'pickle': \(error.message)")
    }
    var infos: [String: StorageInfo] = [:]
    for k in order {
      guard let s = stored[k] else { continue }
      infos[k] = StorageInfo(
        key: k, record: "offset \(s.dataOffset)", dtype: s.ref.dtype?.rawValue ?? "untyped",
        declaredBytes: s.ref.declaredBytes, recordBytes: s.ref.declaredBytes, usedBytes: 0,
        id: "storages/" + k)
    }
    for t in interpreted.tensors.flatMap(\.storageViews) {
      guard let s = t.storage, var info = infos[s.key] else { continue }
      guard let needed = t.requiredStorageBytes else {
        throw fail("tensor '\(t.name)' has a shape \(t.shape) and stride \(t.stride) that overflow")
      }
      if needed > info.recordBytes {
        throw fail(
          "tensor '\(t.name)' needs \(needed) bytes of storage '\(s.key)', but the archive holds \(info.recordBytes)"
        )
      }
      info.usedBytes = max(info.usedBytes, needed)
      infos[s.key] = info
    }
    var byteOrder = "little"
    if let sys = members["sys_info"], let sg = try? decoder.decode(member(sys)),
      let entries = TorchInterpreter(graph: sg).dictEntries(sg.root),
      entries.contains(where: { $0.key == .string("little_endian") && $0.value == .bool(false) })
    {
      byteOrder = "big"
      diagnostics.append(Diagnostic(.info, "tensor data is stored big-endian (sys_info)"))
    }
    for note in interpreted.notes { diagnostics.append(Diagnostic(.warning, note)) }
    var c = Checkpoint(
      path: path, format: .torchTar, fileBytes: Int64(buffer.count), tensors: interpreted.tensors,
      modelPrefix: "",
      strippedPrefix: "", parts: [], metadata: [], modules: interpreted.modules,
      moduleOrder: interpreted.moduleOrder,
      storages: order.compactMap { infos[$0] }, globals: globals, diagnostics: diagnostics,
      archiveRoot: nil,
      pickleProtocol: main.protocolVersion, byteOrder: byteOrder)
    // The checkpoint owns the records now: drop the walk's copy so updating them does not
    // copy the whole array.
    interpreted.tensors = []
    ModelLocator.locate(&c, interpreted: interpreted, graph: main, persistentTensors: persistent)
    c.markSharedTensors()
    return c
  }
}
