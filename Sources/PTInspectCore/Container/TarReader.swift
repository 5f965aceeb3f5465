// TarReader.swift: the tar container of torch before 0.1.10, read as torch.serialization's
// `legacy_load` reads it: members `sys_info` and `pickle` are pickles; `storages` holds a pickled
// count, then per storage a pickled (key, location, class), an 8-byte element count and the
// bytes, then the pickled storage views; `tensors` holds a pickled count, then per tensor a
// pickled (key, storage key, class), int32 ndim, 4 bytes of padding, sizes, strides and offset.

import Pickle

enum TarReader: ContainerReader {
  struct Member {
    var name: String
    var start: Int
    var size: Int
  }

  static func probe(_ h: [UInt8], source: any ByteSource) -> Bool {
    h.count >= 262 && Array(h[257..<262]) == Array("ustar".utf8)
  }

  /// Members of a ustar/PAX archive, in order.
  static func members(_ buffer: UnsafeRawBufferPointer) throws(FormatError) -> [Member] {
    func text(_ range: Range<Int>) -> String {
      String(decoding: buffer[range].prefix { $0 != 0 }, as: UTF8.self)
    }
    var members: [Member] = []
    var pos = 0
    var paxPath: String?
    while pos + 512 <= buffer.count {
      if buffer[pos..<pos + 512].allSatisfy({ $0 == 0 }) { break }
      var name = text(pos..<pos + 100)
      let prefix = text(pos + 345..<pos + 500)
      if !prefix.isEmpty { name = prefix + "/" + name }
      let sizeText = text(pos + 124..<pos + 136).filter { $0 != " " }
      guard let size = Int(sizeText.isEmpty ? "0" : sizeText, radix: 8), size >= 0 else {
        throw FormatError("tar header at offset \(pos) has an invalid size")
      }
      let start = pos + 512
      guard size <= buffer.count - start else {
        throw FormatError(
          "truncated tar archive: member '\(name)' needs \(size) bytes at offset \(start)")
      }
      switch buffer[pos + 156] {
      case UInt8(ascii: "x"):
        // PAX extended header: "len path=value\n" records.
        for record in text(start..<start + size).split(separator: "\n") {
          if let r = record.firstRange(of: " path=") { paxPath = String(record[r.upperBound...]) }
        }
      case UInt8(ascii: "g"):
        break
      default:
        members.append(Member(name: paxPath ?? name, start: start, size: size))
        paxPath = nil
      }
      pos = start + (size + 511) / 512 * 512
    }
    return members
  }

  static func read(_ source: any ByteSource, mode: ReadMode, options: OpenOptions)
    throws(CheckpointError) -> ContainerContents
  {
    try Containers.withWholeFile(source) { buffer throws(CheckpointError) in
      try read(buffer, source: source, mode: mode, options: options)
    }
  }

  /// The state of one read: the pickles found, and what the strict read builds.
  struct Walk {
    let buffer: UnsafeRawBufferPointer
    let file: String
    let mode: ReadMode
    let decoder: PickleDecoder
    var contents: ContainerContents

    func fail(_ reason: CheckpointError.Reason) -> CheckpointError {
      CheckpointError(file: file, reason)
    }

    /// A lenient read's error: a pickle that does not decode is the scan's to report.
    mutating func structural(_ error: CheckpointError) {
      if case .pickle = error.reason { return }
      contents.errors.append(error.message)
    }

    /// Decodes the pickle at `offset` of `member`, recording it as `name`.
    mutating func pickle(_ member: Member, at offset: Int, name: String, role: PickleRole)
      throws(CheckpointError) -> PickleGraph
    {
      let bytes = UnsafeRawBufferPointer(
        rebasing: buffer[member.start..<member.start + member.size])
      do {
        let g = try decoder.decode(bytes, at: offset)
        contents.pickles.append(
          PickleSource(
            name: name, role: role,
            bytes: .range(offset: Int64(member.start + offset), count: Int64(g.endOffset - offset)),
            context: "tar member '\(member.name)'", graph: g, base: Int64(member.start)))
        return g
      } catch {
        contents.pickles.append(
          PickleSource(
            name: name, role: role,
            bytes: .range(offset: Int64(member.start + offset), count: Int64(member.size - offset)),
            context: "tar member '\(member.name)'", base: Int64(member.start)))
        throw fail(.pickle(context: "tar member '\(member.name)'", error))
      }
    }

    /// The member's records: a pickled count, then per record a pickled header and raw bytes.
    /// `body` gets each header and where it ends, and returns where the next record starts.
    mutating func records(
      _ m: Member, _ body: (inout Walk, PickleGraph, Int) throws(CheckpointError) -> Int
    ) throws(CheckpointError) -> Int {
      let first = try pickle(m, at: 0, name: m.name, role: .loaded)
      guard let count = first.root.intValue, count >= 0 else {
        throw fail(.container("tar member '\(m.name)' does not start with a count"))
      }
      var offset = first.endOffset
      for i in 0..<count {
        guard offset < m.size else {
          throw fail(.container("\(m.name): \(count) records declared, \(i) present"))
        }
        let header = try pickle(m, at: offset, name: "\(m.name) record \(i + 1)", role: .loaded)
        offset = try body(&self, header, header.endOffset)
      }
      return offset
    }

    /// A little-endian integer of `width` bytes at `at` of `member`.
    func integer(_ member: Member, _ at: Int, _ width: Int, what: String) throws(CheckpointError)
      -> Int64
    {
      guard at >= 0, at + width <= member.size else {
        throw fail(.container("truncated tar member '\(member.name)' at offset \(at)"))
      }
      let v = littleEndian(buffer, at: member.start + at, width: width)
      return width == 4 ? Int64(Int32(bitPattern: UInt32(v))) : Int64(bitPattern: v)
    }
  }

  static func key(_ v: PickleValue) -> String? {
    switch v {
    case .int(let i): String(i)
    case .string(let s): s
    default: nil
    }
  }

  static func read(
    _ buffer: UnsafeRawBufferPointer, source: any ByteSource, mode: ReadMode, options: OpenOptions
  ) throws(CheckpointError) -> ContainerContents {
    var walk = Walk(
      buffer: buffer, file: source.name, mode: mode,
      decoder: PickleDecoder(limits: options.pickleLimits),
      contents: ContainerContents(format: .torchTar, fileBytes: source.size))
    walk.contents.storageNaming = .tarArchive
    let all: [Member]
    do {
      all = try members(buffer)
    } catch {
      if mode == .strict { throw walk.fail(.container(error.message)) }
      walk.contents.errors.append(error.message)
      return walk.contents
    }
    func member(_ name: String) -> Member? { all.last { $0.name == name } }
    if mode == .lenient {
      // Every pickle a loader reads, member by member, whatever the others hold.
      for m in all {
        switch m.name.split(separator: "/").last.map(String.init) ?? m.name {
        case "sys_info": _ = try? walk.pickle(m, at: 0, name: m.name, role: .loaded)
        case "pickle": _ = try? walk.pickle(m, at: 0, name: m.name, role: .main)
        case "storages":
          do throws(CheckpointError) { try storages(m, &walk) } catch {
            walk.structural(error)
          }
        case "tensors":
          do throws(CheckpointError) { try tensors(m, &walk) } catch {
            walk.structural(error)
          }
        default: break
        }
      }
      return walk.contents
    }
    guard let mainMember = member("pickle"), let storageMember = member("storages"),
      let tensorMember = member("tensors")
    else {
      throw walk.fail(
        .container(
          "a tar archive, but not a torch checkpoint: no 'pickle', 'storages' and 'tensors' members"
        ))
    }
    let stored = try storages(storageMember, &walk)
    walk.contents.persistentTensors = try tensors(tensorMember, &walk, stored: stored)
    _ = try walk.pickle(mainMember, at: 0, name: mainMember.name, role: .main)
    walk.contents.byteOrder = .little
    if let sys = member("sys_info"),
      let sg = try? walk.decoder.decode(
        UnsafeRawBufferPointer(rebasing: buffer[sys.start..<sys.start + sys.size])),
      let entries = TorchInterpreter(graph: sg).dictEntries(sg.root),
      entries.contains(where: { $0.key == .string("little_endian") && $0.value == .bool(false) })
    {
      walk.contents.byteOrder = .big
      walk.contents.diagnostics.append(
        Diagnostic(.info, "tensor data is stored big-endian (sys_info)"))
    }
    return walk.contents
  }

  /// The `storages` member: each storage's reference and where its bytes are, views included.
  @discardableResult
  static func storages(_ m: Member, _ walk: inout Walk) throws(CheckpointError) -> [String:
    StorageRef]
  {
    var refs: [String: StorageRef] = [:]
    let offset = try walk.records(m) { walk, g, end throws(CheckpointError) in
      guard let items = g.sequence(g.root), items.count == 3, let k = key(items[0]),
        let cls = g.global(items[2]), let dtype = DType(storageClass: cls.name)
      else { throw walk.fail(.container("tar member 'storages' has a malformed storage header")) }
      let n = try walk.integer(m, end, 8, what: "storages")
      let dataStart = end + 8
      let (bytes, overflow) = n.multipliedReportingOverflow(by: Int64(dtype.itemSize))
      guard n >= 0, !overflow, bytes <= Int64(m.size - dataStart) else {
        throw walk.fail(
          .container(
            "truncated tar member 'storages': storage '\(k)' needs \(n) x \(dtype.itemSize) bytes"))
      }
      let ref = StorageRef(
        key: k, storageClass: cls.name, dtype: dtype, device: items[1].stringValue ?? "?", count: n,
        folder: "storages")
      refs[k] = ref
      let id = StorageID(folder: "storages", key: k)
      walk.contents.add(
        StorageRecord(
          id: id, location: .range(offset: Int64(m.start + dataStart), count: bytes),
          dtype: dtype.rawValue, declaredBytes: ref.declaredBytes, recordBytes: ref.declaredBytes,
          usedBytes: 0, holderText: "the archive"))
      return dataStart + Int(bytes)
    }
    guard walk.mode == .strict || offset < m.size else { return refs }
    let g = try walk.pickle(m, at: offset, name: "\(m.name) views", role: .loaded)
    for view in g.sequence(g.root) ?? [] {
      guard let v = g.sequence(view), v.count == 4, let target = key(v[0]), let root = key(v[1]),
        let start = v[2].intValue, let numel = v[3].intValue, let base = refs[root],
        let dtype = base.dtype,
        let baseRecord = walk.contents.storages[
          StorageID(
            folder: "storages", key: root)],
        case .range(let baseOffset, _) = baseRecord.location,
        start >= 0, numel >= 0, start + numel <= base.count
      else { throw walk.fail(.container("tar member 'storages' has a malformed storage view")) }
      var ref = base
      ref.key = target
      ref.count = numel
      refs[target] = ref
      let id = StorageID(folder: "storages", key: target)
      walk.contents.add(
        StorageRecord(
          id: id,
          location: .range(
            offset: baseOffset + start * Int64(dtype.itemSize), count: ref.declaredBytes),
          dtype: dtype.rawValue, declaredBytes: ref.declaredBytes, recordBytes: ref.declaredBytes,
          usedBytes: 0, holderText: "the archive"))
    }
    return refs
  }

  /// The `tensors` member: each tensor's storage, sizes, strides and offset, by key.
  @discardableResult
  static func tensors(_ m: Member, _ walk: inout Walk, stored: [String: StorageRef] = [:])
    throws(CheckpointError) -> PersistentTensors
  {
    var tensors: PersistentTensors = [:]
    _ = try walk.records(m) { walk, g, end throws(CheckpointError) in
      guard let items = g.sequence(g.root), items.count == 3, let k = key(items[0]),
        let sk = key(items[1])
      else { throw walk.fail(.container("tar member 'tensors' has a malformed tensor header")) }
      var at = end
      let ndim = try walk.integer(m, at, 4, what: "tensors")
      guard (0...64).contains(ndim) else {
        throw walk.fail(.container("tensor '\(k)' has \(ndim) dimensions"))
      }
      at += 8
      var shape: [Int64] = []
      var stride: [Int64] = []
      for _ in 0..<ndim {
        shape.append(try walk.integer(m, at, 8, what: "tensors"))
        at += 8
      }
      for _ in 0..<ndim {
        stride.append(try walk.integer(m, at, 8, what: "tensors"))
        at += 8
      }
      let storageOffset = try walk.integer(m, at, 8, what: "tensors")
      guard walk.mode == .strict else { return at + 8 }
      guard let s = stored[sk], let dtype = s.dtype else {
        throw walk.fail(
          .container("tensor '\(k)' needs storage '\(sk)', which the tar archive does not hold"))
      }
      guard shape.allSatisfy({ $0 >= 0 }), storageOffset >= 0 else {
        throw walk.fail(.container("tensor '\(k)' has a negative size or offset"))
      }
      tensors[k] = TensorFacts(
        dtype: dtype, shape: shape, stride: stride, storage: s, offset: storageOffset,
        requiresGrad: nil, layout: .strided)
      return at + 8
    }
    return tensors
  }
}
