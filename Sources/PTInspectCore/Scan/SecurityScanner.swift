// SecurityScanner.swift: finds every pickle in a file and every global each one names or calls,
// without interpreting tensors (a file whose tensors are broken is still scanned) and without
// executing anything. Each pickle is decoded with PickleDecoder; when that fails, the opcode scan
// still lists the globals up to the first error.

import Pickle

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// Limits for a scan.
public typealias ScanOptions = OpenOptions

/// Scans checkpoint files for the globals their pickles reference.
public enum SecurityScanner {
  /// The files to scan for `path`: the shards of a sharded checkpoint index (or of a folder
  /// holding one), a folder's one checkpoint file, else `path` itself.
  public static func expand(_ path: String) throws(CheckpointError) -> [String] {
    var indexPath = path
    // A stream can be read once: it is scanned as it is.
    if StreamInput.isStream(path) { return [path] }
    if CheckpointFolder.isFolder(path) {
      switch try CheckpointFolder.checkpoint(in: path) {
      case .index(let index): indexPath = index
      case .file(let file): return [file]
      }
    } else {
      let source = try Checkpoint.source(path)
      guard case .index = try Containers.identify(source) else { return [path] }
    }
    let index: ShardIndex
    do {
      index = try ShardIndex(try Checkpoint.source(indexPath))
    } catch {
      throw CheckpointError(
        file: indexPath, "a JSON file that is not a sharded checkpoint index (no 'weight_map')")
    }
    guard !index.shards.isEmpty else {
      throw CheckpointError(file: indexPath, "the index lists no shards")
    }
    return index.shards.map { index.path(of: $0) }
  }

  /// Scans one file. Throws when nothing in it can be read at all (missing, empty, not a
  /// checkpoint); a file read in part gives a report with `complete == false`.
  public static func scan(_ path: String, options: ScanOptions = ScanOptions())
    throws(CheckpointError) -> ScanReport
  {
    if CheckpointFolder.isFolder(path) {
      throw CheckpointError(file: path, "a sharded checkpoint index: scan the shard files it lists")
    }
    let start = Date()
    let source = try Checkpoint.source(path)
    var report = try scan(source, options: options)
    report.fileBytes = source.size
    if let http = source as? HTTPSource {
      report.source = SourceCost(
        url: http.target.url, bytesFetched: http.meter.bytes, requests: http.meter.requests,
        etag: http.etag, seconds: Date().timeIntervalSince(start))
    }
    return report
  }

  /// Scans the file in `source`: the same container contents the summary reads, read leniently.
  public static func scan(_ source: any ByteSource, options: ScanOptions = ScanOptions())
    throws(CheckpointError) -> ScanReport
  {
    let contents: ContainerContents
    switch try Containers.identify(source) {
    case .index:
      throw CheckpointError(
        file: source.name, "a sharded checkpoint index: scan the shard files it lists")
    case .unsupported(let message):
      throw CheckpointError(file: source.name, .unsupported(message))
    case .container(let reader):
      contents = try reader.read(source, mode: .lenient, options: options)
    case .notCheckpoint(let message):
      contents = try unrecognised(source, message: message, options: options)
    }
    var scan = Scan(path: source.name, options: options)
    scan.format = contents.format.rawValue
    scan.findings = contents.findings
    scan.errors = contents.errors
    scan.notes = contents.notes
    for p in contents.pickles {
      let weightsOnly: Bool
      switch contents.format {
      case .torchLegacy: weightsOnly = p.role != .other
      case .torchZip, .pickle: weightsOnly = p.role == .main
      // DCP: .metadata by pickle.load, the .distcp archives by torch.load(weights_only=True).
      case .dcp: weightsOnly = p.name != ".metadata"
      default: weightsOnly = false
      }
      let role: Scan.Role = p.role == .other ? .other : .loaded
      switch p.bytes {
      case .owned(let bytes):
        bytes.withUnsafeBytes { buffer in
          scan.scanPickle(p.name, buffer, fileOffset: nil, role: role, weightsOnly: weightsOnly)
        }
      case .range(let offset, let count):
        let base = p.base ?? offset
        do {
          try source.withBytes(at: base, count: Int(offset - base + count)) { buffer in
            scan.scanPickle(
              p.name, buffer, at: Int(offset - base), fileOffset: Int(offset), role: role,
              weightsOnly: weightsOnly, decoded: p.graph)
          }
        } catch {
          scan.errors.append("\(p.name): cannot read its bytes: \(error)")
        }
      }
    }
    var report = scan.report()
    if contents.format == .dcp {
      // .metadata is read by pickle.load, not weights_only: its reviewed data types (the DCP
      // dataclasses, the checkpoint's path) build plain values there, so they are allowed.
      report.addSafeGlobals = []
      report.advice = []
      for i in report.globals.indices where report.globals[i].classification == .unknown {
        let g = report.globals[i]
        guard ReviewedGlobals.reason(g.qualifiedName) != nil,
          g.occurrences.allSatisfy({ $0.pickle == ".metadata" })
        else { continue }
        report.globals[i].classification = .allowed
        report.globals[i].reason = "DCP .metadata (pickle.load): " + g.reason
      }
      report.verdict = report.globals.map(\.classification).max() ?? .allowed
      if report.globals.contains(where: { $0.reason.hasPrefix("DCP .metadata") }) {
        report.notes.append(
          "the DCP dataclasses of .metadata are not on torch's weights_only allowlist: they are reviewed data types (fields only), allowed here because pickle.load, not weights_only, reads .metadata"
        )
      }
    }
    if contents.format == .npy || contents.format == .npz {
      // np.load runs these pickles, not torch.load: torch's allowlist does not apply.
      report.addSafeGlobals = []
      if !contents.pickles.isEmpty {
        report.notes.append(
          "np.load(allow_pickle=True) runs the object arrays' pickles; with allow_pickle=False (its default) np.load refuses them"
        )
      }
    }
    return report
  }

  /// A file no container claims: a zip with data before it (Python's zipfile, and tools built
  /// on it, still read it), or a pickle that opens with an unusual opcode (torch.load unpickles
  /// any file that is not a zip; only a complete one naming a global is taken as such).
  static func unrecognised(_ source: any ByteSource, message: String, options: ScanOptions)
    throws(CheckpointError) -> ContainerContents
  {
    if let zip = try? ZipDirectory.read(source, thorough: false), !zip.entries.isEmpty {
      return TorchZipReader.lenient(source, options: options)
    }
    let isPickle =
      (try? source.withBytes(at: 0, count: Int(source.size)) { buffer in
        let probe = OpcodeScanner.scan(buffer)
        return probe.error == nil && !probe.references.isEmpty
      }) ?? false
    guard isPickle else { throw CheckpointError(file: source.name, .notCheckpoint(message)) }
    return try BarePickleReader.read(source, mode: .lenient, options: options)
  }
}

/// The state of one file's scan.
struct Scan {
  let path: String
  let options: ScanOptions
  var format = "pickle"
  var pickles: [ScannedPickle] = []
  /// Each global's occurrences, by its position in `order`.
  var occurrences: [[ScanOccurrence]] = []
  /// Each global's position in `order`, by its key.
  var positions: [String: Int] = [:]
  var keys: [String: (module: String, name: String)] = [:]
  /// Keys of globals met before, by their spelling in the pickle (module, then name).
  var keyCache: [String: [String: (key: String, pair: (module: String, name: String))]] = [:]
  var order: [String] = []
  /// The globals `add` filed last, by their spelling in the pickle, with their keys.
  var recentGlobals: [(module: String, name: String, position: Int)] = []
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
    role: Role = .loaded, weightsOnly: Bool = false, decoded: PickleGraph? = nil
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
      // The container reader may have decoded it already (to find where the next part starts).
      let graph: PickleGraph
      if let decoded {
        graph = decoded
      } else {
        graph = try PickleDecoder(limits: options.pickleLimits).decode(buffer, at: start)
      }
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

  /// The row key of a global as a pickle spells it (module and name nil: one computed at load
  /// time) and its normalised module and name. The same global recurs (a REDUCE per tensor): outside nested
  /// pickles its spelling is normalised once.
  mutating func globalKey(module: String?, name: String?, via: [String])
    -> (key: String, pair: (module: String, name: String))
  {
    guard let module, let name else {
      return (Scan.key(module: "", name: "", via: via), (ScanGlobal.computed, ScanGlobal.computed))
    }
    if via.isEmpty, let known = keyCache[module]?[name] { return known }
    let pair = GlobalClassifier.normalize(module: module, name: name)
    let key = Scan.key(module: pair.module, name: pair.name, via: via)
    if via.isEmpty { keyCache[module, default: [:]][name] = (key, pair) }
    return (key, pair)
  }

  /// Files an occurrence under its global; `via` is the chain of loader calls a nested pickle
  /// sits in (a global nested in `pickle.loads` is a row of its own).
  mutating func add(
    module: String?, name: String?, occurrence: ScanOccurrence, via: [String] = []
  ) {
    // A pickle names a few globals many times over (a storage class and a rebuild function per
    // tensor): the last few are found by comparing their strings, which are mostly the same
    // buffers, with no hashing.
    if via.isEmpty, let module, let name,
      let hit = recentGlobals.firstIndex(where: { $0.module == module && $0.name == name })
    {
      occurrences[recentGlobals[hit].position].append(occurrence)
      return
    }
    let (key, pair) = globalKey(module: module, name: name, via: via)
    let position: Int
    if let known = positions[key] {
      position = known
    } else {
      position = order.count
      positions[key] = position
      keys[key] = pair
      order.append(key)
      occurrences.append([])
      if !via.isEmpty { analysis.via[key] = via }
    }
    if via.isEmpty, let module, let name {
      if recentGlobals.count == 8 { recentGlobals.removeFirst() }
      recentGlobals.append((module, name, position))
    }
    occurrences[position].append(occurrence)
  }

  /// The opcodes `torch/_weights_only_unpickler.py` (torch 2.15) implements; any other one
  /// fails with "Unsupported operand".
  static let weightsOnlyOpcodes: Set<Opcode> = [
    .proto, .stop, .global, .newObj, .reduce, .build, .append, .appends, .setItem, .setItems, .mark,
    .tuple, .tuple1, .tuple2, .tuple3, .none, .newTrue, .newFalse, .emptyTuple, .emptyList,
    .emptyDict, .emptySet, .binInt, .binInt1, .binInt2, .long1, .binFloat, .binUnicode,
    .shortBinString, .binPersID, .binGet, .longBinGet, .binPut, .longBinPut,
  ]

  // MARK: the report

  func report() -> ScanReport {
    let undecoded = Set(pickles.filter { !$0.decoded }.map(\.name))
    var globals: [ScanGlobal] = []
    for (position, key) in order.enumerated() {
      guard let pair = keys[key] else { continue }
      let found = occurrences[position]
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
