// SecurityScanner.swift: finds every pickle in a file and every global each one names or calls,
// without interpreting tensors (a file whose tensors are broken is still scanned) and without
// executing anything. Each pickle is decoded with PickleDecoder; when that fails, the opcode scan
// still lists the globals up to the first error.

import Foundation
import Pickle

/// Limits for a scan.
public struct ScanOptions: Sendable {
  /// Largest compressed pickle entry that is inflated into memory (stored entries are mapped).
  public var maxInflatedBytes: UInt64 = 1 << 30
  /// Most pickles read from one bare pickle stream.
  public var maxStreamPickles = 1000
  public var pickleLimits = PickleLimits()
  public init() {}
}

/// Scans checkpoint files for the globals their pickles reference.
public enum SecurityScanner {
  /// The files to scan for `path`: the shards of a sharded checkpoint index (or of a directory
  /// holding one), else `path` itself.
  public static func expand(_ path: String) throws(CheckpointError) -> [String] {
    let sniff = try Sniffer(path: path)
    guard sniff.kind == .json || sniff.kind == .directory else { return [path] }
    var indexPath = path
    if sniff.kind == .directory {
      let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
      let indexes = names.filter { $0.hasSuffix(".index.json") }.sorted()
      guard indexes.count == 1, let only = indexes.first else {
        throw CheckpointError(
          file: path,
          indexes.isEmpty
            ? "is a directory without a checkpoint index (*.index.json): name a checkpoint file"
            : "is a directory with \(indexes.count) checkpoint indexes (\(indexes.joined(separator: ", "))): name one"
        )
      }
      indexPath = (path as NSString).appendingPathComponent(only)
    }
    guard let data = FileManager.default.contents(atPath: indexPath),
      let object = try? JSONSerialization.jsonObject(with: data),
      let root = object as? [String: Any],
      let weightMap = root["weight_map"] as? [String: Any]
    else {
      throw CheckpointError(
        file: indexPath, "a JSON file that is not a sharded checkpoint index (no 'weight_map')")
    }
    let shards = Set(weightMap.values.compactMap { $0 as? String }).sorted()
    guard !shards.isEmpty else {
      throw CheckpointError(file: indexPath, "the index lists no shards")
    }
    let folder = (indexPath as NSString).deletingLastPathComponent
    return shards.map { (folder as NSString).appendingPathComponent($0) }
  }

  /// Scans one file. Throws when nothing in it can be read at all (missing, empty, not a
  /// checkpoint); a file read in part gives a report with `complete == false`.
  public static func scan(_ path: String, options: ScanOptions = ScanOptions())
    throws(CheckpointError)
    -> ScanReport
  {
    let sniff = try Sniffer(path: path)
    var scan = Scan(path: path, options: options)
    switch sniff.kind {
    case .json, .directory:
      throw CheckpointError(file: path, "a sharded checkpoint index: scan the shard files it lists")
    case .safetensors:
      scan.format = "safetensors"
      scan.notes.append("safetensors holds no pickle: nothing in it is run when it is loaded")
      return scan.report()
    case .unsupported(let message):
      throw CheckpointError(file: path, message)
    case .zip, .legacy, .pickle, .tar, .notCheckpoint:
      break
    }
    let file = try ScanMappedFile(path: path)
    try file.withBytes { (buffer) throws(CheckpointError) in
      switch sniff.kind {
      case .zip: scan.scanZip(buffer)
      case .legacy: scan.scanLegacy(buffer)
      case .tar: scan.scanTar(buffer)
      case .notCheckpoint(let message):
        // A zip with data before it: Python's zipfile (and tools built on it) still read it.
        if let zip = try? RawZip.parse(buffer), !zip.entries.isEmpty {
          scan.scanZip(buffer)
          return
        }
        // torch.load unpickles any file that is not a zip: a pickle that opens with an unusual
        // opcode is still a pickle. Only a complete one naming a global is taken as such.
        let probe = OpcodeScanner.scan(buffer)
        guard probe.error == nil, !probe.references.isEmpty else {
          throw CheckpointError(file: path, message)
        }
        scan.scanBare(buffer)
      default: scan.scanBare(buffer)
      }
    }
    return scan.report()
  }
}

/// The state of one file's scan.
struct Scan {
  let path: String
  let options: ScanOptions
  var format = "pickle"
  var pickles: [ScannedPickle] = []
  var occurrences: [String: [ScanOccurrence]] = [:]
  var keys: [String: (module: String, name: String)] = [:]
  var order: [String] = []
  var errors: [String] = []
  var notes: [String] = []
  var findings: [ZipFinding] = []
  /// Opcodes torch.load(weights_only=True) does not implement, by pickle.
  var unsupportedByWeightsOnly: [String: [String]] = [:]
  /// Classes the unknown globals create, which add_safe_globals needs as well.
  var impliedSafeGlobals: [String] = []
  /// Calls, BUILDs, partials and nested pickles (PickleAnalysis.swift).
  var analysis = ScanAnalysis()

  init(path: String, options: ScanOptions) {
    self.path = path
    self.options = options
  }

  // MARK: one pickle

  /// How a pickle's failure is reported: as an error (a loader would read it) or a note.
  enum Role { case loaded, other }

  /// Scans the pickle starting at `start` of `buffer`; returns where it ended, or nil on error.
  @discardableResult
  mutating func scanPickle(
    _ name: String, _ buffer: UnsafeRawBufferPointer, at start: Int = 0, fileOffset: Int?,
    role: Role = .loaded, weightsOnly: Bool = false
  ) -> Int? {
    let opcodes = OpcodeScanner.scan(buffer, at: start)
    var references = 0
    var record = ScannedPickle(
      name: name, fileOffset: fileOffset, bytes: opcodes.endOffset - start,
      protocolVersion: opcodes.protocolVersion, decoded: false, error: nil, references: 0)
    func found(_ module: String?, _ globalName: String?, _ opcode: String, _ offset: Int) {
      references += 1
      add(
        module: module, name: globalName,
        occurrence: ScanOccurrence(pickle: name, offset: offset, opcode: opcode))
    }
    var end: Int?
    do {
      let graph = try PickleDecoder(limits: options.pickleLimits).decode(buffer, at: start)
      record.decoded = true
      record.bytes = graph.endOffset - start
      record.protocolVersion = graph.protocolVersion
      end = graph.endOffset
      for g in graph.globals { found(g.global.module, g.global.name, g.opcode.name, g.offset) }
      var persistentIDs = 0
      var computedCalls = 0
      var otherPersistentIDs: [String: Int] = [:]
      for node in graph.nodes {
        switch node {
        case .object(let o) where o.kind != .inst:
          let opcode: String
          switch o.kind {
          case .reduce: opcode = "REDUCE"
          case .newObj: opcode = "NEWOBJ"
          case .newObjEx: opcode = "NEWOBJ_EX"
          case .obj, .inst: opcode = "OBJ"
          }
          if let g = graph.global(o.callable) {
            found(g.module, g.name, opcode, o.offset)
            // numpy.dtype('f8') makes a numpy.dtypes.Float64DType, which BUILD then needs allowed.
            if g.module == "numpy", g.name == "dtype", o.kind == .reduce,
              case .string(let code)? = graph.sequence(o.args)?.first,
              let cls = Scan.numpyDTypeClass(code)
            {
              let implied = "numpy.dtypes." + cls
              if !impliedSafeGlobals.contains(implied) { impliedSafeGlobals.append(implied) }
            }
          } else if graph.object(o.callable) != nil {
            computedCalls += 1
          }
        case .persistentID(let id):
          let offset =
            persistentIDs < opcodes.persistentIDOffsets.count
            ? opcodes.persistentIDOffsets[persistentIDs] : -1
          persistentIDs += 1
          let opcode =
            offset >= 0 && offset < buffer.count && buffer[offset] == Opcode.persID.rawValue
            ? "PERSID" : "BINPERSID"
          let items = graph.sequence(id) ?? []
          for item in items {
            if let g = graph.global(item) { found(g.module, g.name, opcode, offset) }
          }
          if weightsOnly, case .string(let kind)? = items.first, kind != "storage" {
            otherPersistentIDs[kind, default: 0] += 1
          }
        default:
          break
        }
      }
      for (kind, count) in otherPersistentIDs.sorted(by: { $0.key < $1.key }) {
        notes.append(
          "\(name) holds \(count) persistent id\(count == 1 ? "" : "s") of kind '\(kind)': torch.load(weights_only=True) accepts only 'storage' ones, whatever add_safe_globals allows"
        )
      }
      if computedCalls > 0 {
        notes.append(
          "\(name): \(computedCalls) call\(computedCalls == 1 ? "" : "s") of a value computed while loading (not a named global): a gadget-chain pattern"
        )
      }
      // Calls, BUILDs, what partials wrap, and pickles nested as bytes (PickleAnalysis.swift).
      analyze(graph, pickle: name, via: [], depth: 0)
    } catch {
      // Globals up to the first error, from the opcode walk.
      for r in opcodes.references { found(r.module, r.name, r.opcode.name, r.offset) }
      record.error = error.description
      // A bare pickle is the whole file: its name adds nothing to the message.
      let message = name == "pickle" ? error.description : "\(name): \(error.description)"
      switch role {
      case .loaded: errors.append(message)
      case .other: notes.append(message + " (the scan lists the globals before it)")
      }
    }
    record.references = references
    pickles.append(record)
    if weightsOnly {
      let unsupported = opcodes.opcodesSeen.opcodes.filter { !Scan.weightsOnlyOpcodes.contains($0) }
      if !unsupported.isEmpty { unsupportedByWeightsOnly[name] = unsupported.map(\.name) }
    }
    return end
  }

  /// Files an occurrence under its global; `via` is the chain of loader calls a nested pickle
  /// sits in (a global nested in `pickle.loads` is a row of its own).
  mutating func add(
    module: String?, name: String?, occurrence: ScanOccurrence, via: [String] = []
  ) {
    let pair: (module: String, name: String)
    if let module, let name {
      pair = GlobalClassifier.normalize(module: module, name: name)
    } else {
      pair = (ScanGlobal.computed, ScanGlobal.computed)
    }
    let key =
      pair.module == ScanGlobal.computed
      ? Scan.key(module: "", name: "", via: via)
      : Scan.key(module: pair.module, name: pair.name, via: via)
    if keys[key] == nil {
      keys[key] = pair
      order.append(key)
      if !via.isEmpty { analysis.via[key] = via }
    }
    occurrences[key, default: []].append(occurrence)
  }

  /// The opcodes `torch/_weights_only_unpickler.py` (torch 2.15) implements; any other one
  /// fails with "Unsupported operand".
  static let weightsOnlyOpcodes: Set<Opcode> = [
    .proto, .stop, .global, .newObj, .reduce, .build, .append, .appends, .setItem, .setItems, .mark,
    .tuple, .tuple1, .tuple2, .tuple3, .none, .newTrue, .newFalse, .emptyTuple, .emptyList,
    .emptyDict, .emptySet, .binInt, .binInt1, .binInt2, .long1, .binFloat, .binUnicode,
    .shortBinString, .binPersID, .binGet, .longBinGet, .binPut, .longBinPut,
  ]

  // MARK: containers

  mutating func scanBare(_ buffer: UnsafeRawBufferPointer) {
    format = "pickle"
    guard var offset = scanPickle("pickle", buffer, fileOffset: 0, weightsOnly: true) else {
      return
    }
    var n = 1
    // pickle.load and torch.load read only the first pickle; more that follow are listed too.
    while offset < buffer.count {
      guard buffer[offset] == 0x80, offset + 1 < buffer.count, buffer[offset + 1] <= 5,
        n < options.maxStreamPickles
      else {
        notes.append("\(buffer.count - offset) bytes follow the pickle's STOP at offset \(offset)")
        return
      }
      n += 1
      guard
        let next = scanPickle("pickle \(n)", buffer, at: offset, fileOffset: offset, role: .other)
      else {
        return
      }
      offset = next
    }
  }

  mutating func scanLegacy(_ buffer: UnsafeRawBufferPointer) {
    format = "torch-legacy"
    var offset = 0
    // torch.load reads these five pickles, in order, with the same unpickler.
    for name in ["magic number", "protocol version", "sys_info", "main", "storage keys"] {
      guard let next = scanPickle(name, buffer, at: offset, fileOffset: offset, weightsOnly: true)
      else {
        return
      }
      offset = next
    }
  }

  /// The pre-0.1.10 tar format: `sys_info` and `pickle` are pickles; `storages` and `tensors`
  /// hold a pickled count, then for each record a pickled header and raw data.
  mutating func scanTar(_ buffer: UnsafeRawBufferPointer) {
    format = "torch-tar"
    var p = 0
    while p + 512 <= buffer.count {
      let header = UnsafeRawBufferPointer(rebasing: buffer[p..<p + 512])
      if header.allSatisfy({ $0 == 0 }) { break }
      let nameBytes = header.prefix(100).prefix { $0 != 0 }
      let name = String(decoding: nameBytes, as: UTF8.self)
      let sizeText = String(
        decoding: header[124..<136].filter { $0 >= 0x30 && $0 <= 0x37 }, as: UTF8.self)
      guard let size = Int(sizeText.isEmpty ? "0" : sizeText, radix: 8) else {
        errors.append("tar member '\(name)': unreadable size field")
        return
      }
      let start = p + 512
      guard size <= buffer.count - start else {
        errors.append("truncated tar: member '\(name)' needs \(size) bytes at offset \(start)")
        return
      }
      let member = UnsafeRawBufferPointer(rebasing: buffer[start..<start + size])
      let base = name.split(separator: "/").last.map(String.init) ?? name
      switch base {
      case "sys_info", "pickle":
        scanPickle(name, member, fileOffset: start)
      case "storages", "tensors":
        scanTarRecords(name, member, fileOffset: start, storages: base == "storages")
      default:
        break
      }
      p = start + (size + 511) / 512 * 512
    }
  }

  mutating func scanTarRecords(
    _ name: String, _ member: UnsafeRawBufferPointer, fileOffset: Int, storages: Bool
  ) {
    let decoder = PickleDecoder(limits: options.pickleLimits)
    guard let countEnd = scanPickle(name, member, fileOffset: fileOffset),
      let count = try? decoder.decode(member).root.intValue, count >= 0
    else { return }
    var offset = countEnd
    for i in 0..<count {
      let label = "\(name) record \(i + 1)"
      guard offset < member.count,
        let end = scanPickle(label, member, at: offset, fileOffset: fileOffset + offset),
        let graph = try? decoder.decode(member, at: offset)
      else {
        if offset >= member.count {
          errors.append("\(name): \(count) records declared, \(i) present")
        }
        return
      }
      offset = end
      func read(_ width: Int) -> UInt64? {
        guard offset + width <= member.count else { return nil }
        var v: UInt64 = 0
        for k in (0..<width).reversed() { v = v << 8 | UInt64(member[offset + k]) }
        offset += width
        return v
      }
      var skip: UInt64 = 0
      var ok = true
      if storages {
        // (key, location, storage_type), an 8-byte element count, then the elements.
        let items = graph.sequence(graph.root) ?? []
        let cls = items.count == 3 ? graph.global(items[2])?.name : nil
        let size = UInt64(cls.flatMap { DType(storageClass: $0) }?.itemSize ?? 0)
        if let n = read(8), size > 0 {
          let (bytes, overflow) = n.multipliedReportingOverflow(by: size)
          ok = !overflow
          skip = bytes
        } else {
          ok = false
        }
      } else {
        // (key, storage_key, type), int32 ndim, 4 bytes of padding, sizes, strides, offset.
        if let ndim = read(4), ndim < 1 << 16, read(4) != nil {
          skip = ndim * 16 + 8
        } else {
          ok = false
        }
      }
      guard ok, skip <= UInt64(member.count - offset) else {
        errors.append("\(label): its data runs past the end of the member")
        return
      }
      offset += Int(skip)
    }
  }

  // MARK: zip

  /// Entry names holding a pickle by torch's conventions (TorchScript's debug info included).
  static func isPickleName(_ name: String) -> Bool {
    name.hasSuffix(".pkl") || name.hasSuffix(".debug_pkl")
  }

  /// `data/12`, `archive/constants/3`: tensor bytes, which may start with 0x80 by chance.
  static func isStorageRecord(_ name: String) -> Bool {
    let parts = name.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count >= 2, let last = parts.last, !last.isEmpty, last.allSatisfy(\.isNumber) else {
      return false
    }
    let folder = parts[parts.count - 2]
    return folder == "data" || folder == "constants"
  }

  static func looksLikePickle(_ head: UnsafeRawBufferPointer) -> Bool {
    head.count >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5
  }

  mutating func scanZip(_ buffer: UnsafeRawBufferPointer) {
    let zip: RawZip
    do {
      zip = try RawZip.parse(buffer)
    } catch {
      format = "zip"
      errors.append(error.message)
      recoverFromLocalHeaders(buffer)
      return
    }
    findings = zip.findings
    let names = Set(zip.entries.map(\.name))
    let hasData = names.contains { $0 == "data.pkl" || $0.hasSuffix("/data.pkl") }
    let isScript =
      hasData && names.contains { $0 == "constants.pkl" || $0.hasSuffix("/constants.pkl") }
    format = isScript ? "torchscript" : hasData ? "torch-zip" : "zip"
    if isScript {
      notes.append(
        "a TorchScript archive: torch.jit.load reads it, resolving its __torch__ classes from the archive's code/ folder; torch.load(weights_only=True) refuses it whatever add_safe_globals allows"
      )
    }
    var archive: ZipArchive??
    for entry in zip.entries {
      let isPickle = Scan.isPickleName(entry.name)
      let topLevelData =
        entry.name == "data.pkl"
        || (entry.name.hasSuffix("/data.pkl") && entry.name.dropLast(9).contains("/") == false)
      let result = content(of: entry, in: buffer, archive: &archive, headOnly: !isPickle)
      switch result {
      case .failure(let message):
        if isPickle {
          errors.append(message.contains(entry.name) ? message : "\(entry.name): \(message)")
        }
      case .success(let bytes):
        bytes.withBytes { (data: UnsafeRawBufferPointer) in
          if isPickle {
            scanPickle(
              entry.name, data, fileOffset: bytes.fileOffset,
              weightsOnly: topLevelData && !isScript)
            return
          }
          guard Scan.looksLikePickle(data) else { return }
          // The head looked like a pickle: read the whole entry.
          let whole =
            bytes.isHead
            ? content(of: entry, in: buffer, archive: &archive, headOnly: false) : result
          guard case .success(let full) = whole else { return }
          full.withBytes { (all: UnsafeRawBufferPointer) in
            if Scan.isStorageRecord(entry.name) {
              // Tensor bytes start with 0x80 0x02..0x05 by chance; only a whole pickle that fills the
              // record and names a global is one.
              guard let graph = try? PickleDecoder(limits: options.pickleLimits).decode(all),
                graph.endOffset == all.count, !graph.globals.isEmpty
              else { return }
            }
            findings.append(
              ZipFinding(
                kind: "pickle-in-non-pkl-entry", entry: entry.name,
                message: "'\(entry.name)' holds a pickle although its name does not end in .pkl"))
            scanPickle(entry.name, all, fileOffset: full.fileOffset, role: .other)
          }
        }
      }
    }
  }

  /// The bytes of an entry: a slice of the mapped file when stored, inflated by libzip otherwise.
  struct EntryBytes {
    enum Storage {
      case mapped(UnsafeRawBufferPointer)
      case owned([UInt8])
    }
    var storage: Storage
    var fileOffset: Int?
    /// Only the first bytes were read.
    var isHead: Bool

    func withBytes(_ body: (UnsafeRawBufferPointer) -> Void) {
      switch storage {
      case .mapped(let b): body(b)
      case .owned(let a): a.withUnsafeBytes(body)
      }
    }
  }

  enum EntryResult {
    case success(EntryBytes)
    case failure(String)
  }

  func content(
    of entry: RawZipEntry, in buffer: UnsafeRawBufferPointer, archive: inout ZipArchive??,
    headOnly: Bool
  )
    -> EntryResult
  {
    guard let local = entry.local else {
      return .failure(
        "no local header at offset \(entry.localHeaderOffset): the entry cannot be read")
    }
    switch entry.method {
    case 0:
      // Stored: the central directory's size, as torch's reader uses it; the flags (encryption
      // included) are ignored, as torch ignores the local header's.
      let start = local.dataOffset
      guard start <= buffer.count else {
        return .failure("its data starts past the end of the file")
      }
      let available = buffer.count - start
      let wanted = headOnly ? min(entry.compressedSize, 16) : entry.compressedSize
      guard wanted <= UInt64(available) else {
        return .failure(
          "truncated: \(entry.compressedSize) bytes declared, \(available) in the file")
      }
      return .success(
        EntryBytes(
          storage: .mapped(UnsafeRawBufferPointer(rebasing: buffer[start..<start + Int(wanted)])),
          fileOffset: start, isHead: headOnly))
    case 8:
      if archive == nil {
        archive = .some(try? ZipArchive(path: path))
      }
      guard let opened = archive ?? nil else {
        return .failure("libzip cannot open the archive to inflate it")
      }
      guard entry.index < opened.entries.count, opened.entries[entry.index].index == entry.index,
        opened.entries[entry.index].name == entry.name.replacingOccurrences(of: "\\", with: "/")
      else { return .failure("libzip lists the archive's entries differently") }
      let zipEntry = opened.entries[entry.index]
      do {
        let bytes =
          headOnly
          ? try opened.read(zipEntry, offset: 0, count: Int(min(zipEntry.size, 16)))
          : try opened.read(zipEntry, limit: options.maxInflatedBytes)
        return .success(EntryBytes(storage: .owned(bytes), fileOffset: nil, isHead: headOnly))
      } catch {
        return .failure(error.description)
      }
    default:
      return .failure("compression method \(entry.method) is not supported")
    }
  }

  /// A zip without its end records: list what its local headers still hold.
  mutating func recoverFromLocalHeaders(_ buffer: UnsafeRawBufferPointer) {
    let headers = RawZip.recoverLocalHeaders(buffer)
    var recovered = 0
    for local in headers where local.method == 0 && local.dataOffset < buffer.count {
      let head = UnsafeRawBufferPointer(
        rebasing: buffer[local.dataOffset..<min(buffer.count, local.dataOffset + 2)])
      guard
        Scan.isPickleName(local.name)
          || (Scan.looksLikePickle(head) && !Scan.isStorageRecord(local.name))
      else {
        continue
      }
      // The size may be deferred to a data descriptor: the pickle's own STOP ends it.
      let end =
        local.compressedSize > 0
        ? min(buffer.count, local.dataOffset &+ Int(clamping: local.compressedSize)) : buffer.count
      let data = UnsafeRawBufferPointer(
        rebasing: buffer[local.dataOffset..<max(local.dataOffset, end)])
      scanPickle("\(local.name) (local header)", data, fileOffset: local.dataOffset, role: .other)
      recovered += 1
    }
    if recovered > 0 {
      notes.append(
        "\(recovered) pickle\(recovered == 1 ? "" : "s") read from local headers of the damaged archive; torch.load cannot open it"
      )
    }
  }

  // MARK: the report

  func report() -> ScanReport {
    let undecoded = Set(pickles.filter { !$0.decoded }.map(\.name))
    var globals: [ScanGlobal] = []
    for key in order {
      guard let pair = keys[key] else { continue }
      let found = occurrences[key] ?? []
      // Calls seen in the opcodes (also when decoding failed), then BUILDs from the graph.
      var calledBy: [String] = []
      for o in found where Scan.callOpcodes.contains(o.opcode) && !calledBy.contains(o.opcode) {
        calledBy.append(o.opcode)
      }
      for op in analysis.calledBy[key] ?? [] where !calledBy.contains(op) { calledBy.append(op) }
      var wraps = analysis.wraps[key] ?? []
      if GlobalClassifier.isPartial(pair.module + "." + pair.name),
        found.contains(where: { undecoded.contains($0.pickle) })
      {
        wraps.append(ScanResolver.undetermined)
      }
      globals.append(
        ScanGlobal(
          module: pair.module, name: pair.name, classification: .unknown, reason: "",
          occurrences: found, origin: GlobalOrigin.of(module: pair.module), calledBy: calledBy,
          via: analysis.via[key] ?? [], wraps: wraps))
    }
    var notes = self.notes
    for (name, ops) in unsupportedByWeightsOnly.sorted(by: { $0.key < $1.key }) {
      notes.append(
        "\(name) uses \(ops.joined(separator: ", ")), which torch.load(weights_only=True) does not implement: it refuses the file whatever add_safe_globals allows"
      )
    }
    var report = ScanReport(
      file: path, format: format, verdict: .allowed, complete: errors.isEmpty, errors: errors,
      pickles: analysis.ordered(pickles), globals: globals, zipFindings: findings, notes: notes,
      addSafeGlobals: [],
      impliedSafeGlobals: impliedSafeGlobals, appearance: globals.map(\.displayName))
    ScanResolver.resolve(&report, allow: ScanAllowlist())
    return report
  }

  /// Opcodes that call the global they use.
  static let callOpcodes: Set<String> = ["REDUCE", "NEWOBJ", "NEWOBJ_EX", "OBJ", "INST"]

  /// The `numpy.dtypes` class a dtype code makes: `f8` is `Float64DType` (numpy 1.25 and later).
  static func numpyDTypeClass(_ code: String) -> String? {
    let kinds: [Character: String] = [
      "f": "Float", "i": "Int", "u": "UInt", "c": "Complex", "b": "Bool", "O": "Object", "U": "Str",
      "S": "Bytes",
      "V": "Void", "M": "DateTime", "m": "TimeDelta",
    ]
    guard let first = code.first, let kind = kinds[first] else { return nil }
    let digits = code.dropFirst()
    switch kind {
    case "Bool", "Object", "Str", "Bytes", "Void": return kind + "DType"
    case "DateTime", "TimeDelta": return kind + "64DType"
    case "Complex":
      guard let bytes = Int(digits), bytes == 8 || bytes == 16 || bytes == 32 else { return nil }
      return "Complex\(bytes * 8)DType"
    default:
      guard let bytes = Int(digits), [1, 2, 4, 8, 16].contains(bytes) else { return nil }
      return kind + "\(bytes * 8)DType"
    }
  }

  /// `argparse.Namespace`; builtins by their bare name (`slice`), as torch's own message spells
  /// them; nil for names Python could not import (`__torch__` classes, odd characters).
  static func pythonExpression(module: String, name: String) -> String? {
    guard module != "__torch__", !module.hasPrefix("__torch__.") else { return nil }
    let parts = (module + "." + name).split(separator: ".", omittingEmptySubsequences: false)
    for part in parts {
      guard let first = part.unicodeScalars.first, first == "_" || first.properties.isXIDStart,
        part.unicodeScalars.allSatisfy({ $0 == "_" || $0.properties.isXIDContinue })
      else { return nil }
    }
    return module == "builtins" ? name : module + "." + name
  }
}

/// A file mapped read-only into memory, so that large stored entries are never copied.
private final class ScanMappedFile {
  private let base: UnsafeMutableRawPointer?
  private let length: Int

  init(path: String) throws(CheckpointError) {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw CheckpointError(file: path, "cannot open the file for reading") }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
      throw CheckpointError(file: path, "cannot read the file's size")
    }
    length = Int(info.st_size)
    guard length > 0 else {
      base = nil
      return
    }
    guard let mapped = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
      throw CheckpointError(file: path, "cannot map the file into memory")
    }
    base = mapped
  }

  deinit {
    if let base { munmap(base, length) }
  }

  func withBytes<E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> Void) throws(E) {
    try body(UnsafeRawBufferPointer(start: base, count: base == nil ? 0 : length))
  }
}
