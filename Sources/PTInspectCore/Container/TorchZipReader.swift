// TorchZipReader.swift: the zip container torch.save writes since 1.6 (and TorchScript's, and
// the lite interpreter's): `<root>/data.pkl`, `<root>/data/<key>` storage records, `byteorder`,
// TorchScript's `constants.pkl` and `code/`. The directory comes from the zip layer; stored
// entries are read in place, compressed ones inflated by libzip.

import Pickle

enum TorchZipReader: ContainerReader {
  static func probe(_ head: [UInt8], source: any ByteSource) -> Bool {
    head.starts(with: [0x50, 0x4B, 0x03, 0x04]) || head.starts(with: [0x50, 0x4B, 0x05, 0x06])
  }

  static func read(_ source: any ByteSource, mode: ReadMode, options: OpenOptions)
    throws(CheckpointError) -> ContainerContents
  {
    switch mode {
    case .strict: try strict(source, options: options)
    case .lenient: lenient(source, options: options)
    }
  }

  /// Opens the zip's directory, with its errors as checkpoint errors.
  static func open(_ source: any ByteSource, thorough: Bool) throws(CheckpointError) -> ZipFile {
    do {
      return try ZipFile(source: source, thorough: thorough)
    } catch {
      throw CheckpointError(error, file: source.name)
    }
  }

  /// The zip's directory, and contents of `format` holding it (with its findings, when lenient).
  static func contents(_ source: any ByteSource, format: ContainerFormat, mode: ReadMode)
    throws(CheckpointError) -> (ZipFile, ContainerContents)
  {
    let zip = try open(source, thorough: mode == .lenient)
    var contents = ContainerContents(format: format, fileBytes: source.size)
    contents.zip = zip
    contents.findings = mode == .lenient ? zip.directory.findings : []
    return (zip, contents)
  }

  /// A whole entry as pickle bytes: a range of the file when stored, inflated otherwise.
  static func pickleBytes(_ zip: ZipFile, _ entry: ZipEntry, limit: UInt64)
    throws(CheckpointError) -> PickleSource.Bytes
  {
    do {
      if ZipFile.isStored(entry) {
        let count = entry.compressedSize
        guard count <= limit else {
          throw ZipError.entryTooLarge(name: entry.normalizedName, size: count, limit: limit)
        }
        guard entry.local != nil || !zip.directory.isThorough else {
          throw CheckpointError(
            file: zip.source.name,
            "no local header at offset \(entry.localHeaderOffset): the entry cannot be read")
        }
        let start = try zip.dataOffset(of: entry)
        let available = max(0, zip.source.size - start)
        guard count <= UInt64(available) else {
          throw CheckpointError(
            file: zip.source.name, "truncated: \(count) bytes declared, \(available) in the file")
        }
        return .range(offset: start, count: Int64(count))
      }
      return .owned(try zip.read(entry, limit: limit))
    } catch {
      throw CheckpointError(error, file: zip.source.name)
    }
  }

  // MARK: strict (summary)

  /// For a remote file: one request for the records the summary reads (data.pkl, byteorder,
  /// constants.pkl) when they lie together, as torch writes them, with no tensor data between.
  static func prefetchRecords(_ entries: [ZipEntry?], of source: any ByteSource) {
    let wanted = entries.compactMap { $0 }
    guard source.isRemote, let first = wanted.map(\.localHeaderOffset).min() else { return }
    // A local header, its name and extra field (torch pads to 64 bytes), then the data.
    let ends = wanted.map {
      $0.localHeaderOffset &+ 30 &+ UInt64($0.name.utf8.count) &+ 128 &+ $0.compressedSize
    }
    let end = min(ends.max() ?? first, UInt64(source.size))
    let needed = zip(wanted, ends).reduce(UInt64(0)) { $0 &+ ($1.1 - $1.0.localHeaderOffset) }
    guard end > first, end - first <= needed + 4096 else { return }
    source.prefetch(at: Int64(first), count: Int(end - first))
  }

  static func strict(_ source: any ByteSource, options: OpenOptions) throws(CheckpointError)
    -> ContainerContents
  {
    func fail(_ reason: CheckpointError.Reason) -> CheckpointError {
      CheckpointError(file: source.name, reason)
    }
    let zip = try open(source, thorough: false)
    // The top folder differs from file to file (`sd/`, `archive/`, `resnet18-f37072fd/`). The
    // names' bytes pick the few candidates; their Strings are compared only then.
    let dataPickle = zip.directory.entries(endingWith: "data.pkl").filter {
      $0.normalizedName == "data.pkl" || $0.normalizedName.hasSuffix("/data.pkl")
    }.min { $0.normalizedName.count < $1.normalizedName.count }
    guard let dataPickle else { throw fail(verdict(zip.entries.map(\.normalizedName))) }
    let root = String(dataPickle.normalizedName.dropLast("data.pkl".count))
    let constants = zip.entry(named: root + "constants.pkl")
    var contents = ContainerContents(
      format: constants != nil ? .torchscript : .torchZip, fileBytes: source.size)
    contents.zip = zip
    contents.archiveRoot = root.isEmpty ? nil : root
    contents.storageNaming = .zipRecords(root: root)
    if constants != nil, zip.entry(named: root + "bytecode.pkl") != nil {
      contents.diagnostics.append(
        Diagnostic(
          .info,
          "a PyTorch Mobile (lite interpreter) archive: read as TorchScript; bytecode.pkl is not interpreted"
        ))
    }
    prefetchRecords([dataPickle, zip.entry(named: root + "byteorder"), constants], of: source)
    contents.pickles.append(
      PickleSource(
        name: dataPickle.normalizedName, role: .main,
        bytes: try pickleBytes(zip, dataPickle, limit: options.maxPickleBytes),
        context: dataPickle.normalizedName))
    if let constants {
      contents.pickles.append(
        PickleSource(
          name: constants.normalizedName, role: .constants,
          bytes: try pickleBytes(zip, constants, limit: options.maxPickleBytes),
          context: constants.normalizedName))
    }
    if let entry = zip.entry(named: root + "byteorder"), entry.size <= 16,
      let raw = try? zip.read(entry, limit: 16)
    {
      let text = String(decoding: raw, as: UTF8.self).filter { !$0.isWhitespace }
      contents.byteOrder = ByteOrder(rawValue: text)
      if contents.byteOrder == .big {
        contents.diagnostics.append(
          Diagnostic(.info, "tensor data is stored big-endian (byteorder record)"))
      }
    }
    return contents
  }

  /// Why a zip without `data.pkl` is not read: another format torch writes, or not torch's.
  static func verdict(_ names: [String]) -> CheckpointError.Reason {
    if names.contains(where: { $0.hasSuffix(".data/version") })
      && names.contains(where: { $0.hasSuffix(".pkl") })
    {
      return .unsupported("torch.package archive: ptinspect does not read torch.package files")
    }
    if names.contains(where: {
      $0.hasSuffix("archive_format") || $0.contains("/serialized_exported_program")
    }) {
      return .unsupported("torch.export program (.pt2): ptinspect does not read exported programs")
    }
    if names.contains(where: { $0.hasSuffix("bytecode.pkl") }) {
      return .unsupported(
        "PyTorch Mobile (lite interpreter) archive: ptinspect does not read .ptl files")
    }
    let shown = names.prefix(3).joined(separator: ", ")
    return .notCheckpoint(
      "not a PyTorch checkpoint: no data.pkl among the \(names.count) zip entries (\(shown))")
  }

  // MARK: lenient (scan)

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

  static func looksLikePickle(_ head: some Collection<UInt8>) -> Bool {
    let h = Array(head.prefix(2))
    return h.count >= 2 && h[0] == 0x80 && h[1] >= 2 && h[1] <= 5
  }

  /// Every pickle of the archive, every structural finding; what cannot be read goes to
  /// `errors` (a pickle a loader reads) or `notes`.
  static func lenient(_ source: any ByteSource, options: OpenOptions) -> ContainerContents {
    var contents = ContainerContents(format: .zip, fileBytes: source.size)
    let zip: ZipFile
    do {
      // A remote file: the central directory and the pickles, not every local header.
      zip = try ZipFile(source: source, thorough: !source.isRemote)
    } catch {
      contents.errors.append(CheckpointError(error, file: source.name).message)
      recoverFromLocalHeaders(source, into: &contents)
      return contents
    }
    contents.zip = zip
    contents.findings = zip.directory.findings
    let names = Set(zip.entries.map(\.name))
    let hasData = names.contains { $0 == "data.pkl" || $0.hasSuffix("/data.pkl") }
    let isScript =
      hasData && names.contains { $0 == "constants.pkl" || $0.hasSuffix("/constants.pkl") }
    contents.format = isScript ? .torchscript : hasData ? .torchZip : .zip
    if isScript {
      contents.notes.append(
        "a TorchScript archive: torch.jit.load reads it, resolving its __torch__ classes from the archive's code/ folder; torch.load(weights_only=True) refuses it whatever add_safe_globals allows"
      )
    }
    func walk(_ whole: UnsafeRawBufferPointer?) {
      func heads(_ entry: ZipEntry) -> [UInt8]? {
        let count = Int(min(entry.size, 16))
        if ZipFile.isStored(entry), let local = entry.local, let whole {
          guard local.dataOffset >= 0, local.dataOffset + count <= whole.count else { return nil }
          return Array(whole[local.dataOffset..<local.dataOffset + count])
        }
        return try? zip.read(entry, offset: 0, count: count)
      }
      for entry in zip.entries {
        let name = entry.name
        let isPickle = isPickleName(name)
        let topLevelData =
          name == "data.pkl"
          || (name.hasSuffix("/data.pkl") && name.dropLast(9).contains("/") == false)
        let role: PickleRole =
          topLevelData ? .main : name.hasSuffix("constants.pkl") && isScript ? .constants : .loaded
        if isPickle {
          do throws(CheckpointError) {
            let bytes = try pickleBytes(zip, entry, limit: options.maxInflatedBytes)
            contents.pickles.append(
              PickleSource(name: name, role: role, bytes: bytes, context: name))
          } catch {
            let message = error.message
            contents.errors.append(message.contains(name) ? message : "\(name): \(message)")
          }
          continue
        }
        // Another entry that holds a pickle: its head says so (read from the file's mapping for
        // stored entries: one read per entry would cost a system call per tensor).
        // Remote: a request per storage record would fetch the file piece by piece.
        if source.isRemote && isStorageRecord(name) { continue }
        guard let head = heads(entry), looksLikePickle(head),
          let bytes = try? pickleBytes(zip, entry, limit: options.maxInflatedBytes)
        else { continue }
        let found = PickleSource(name: name, role: .other, bytes: bytes, context: name)
        if isStorageRecord(name) {
          // Tensor bytes start with 0x80 0x02..0x05 by chance; only a whole pickle that fills the
          // record and names a global is one.
          let isPickle =
            (try? found.withBytes(in: source) { all in
              guard let graph = try? PickleDecoder(limits: options.pickleLimits).decode(all) else {
                return false
              }
              return graph.endOffset == all.count && !graph.globals.isEmpty
            }) ?? false
          guard isPickle else { continue }
        }
        contents.findings.append(
          ZipFinding(
            kind: .pickleInNonPklEntry, entry: name,
            message: "'\(name)' holds a pickle although its name does not end in .pkl"))
        contents.pickles.append(found)
      }
    }
    if source.isRemote {
      contents.notes.append(
        "a remote file: its central directory and pickles were read; local headers and storage records were not (download it for a full scan)"
      )
      walk(nil)
      return contents
    }
    do {
      try source.withBytes(at: 0, count: Int(source.size)) { walk($0) }
    } catch {
      walk(nil)
    }
    return contents
  }

  /// A zip without its end records: the pickles its local headers still hold.
  static func recoverFromLocalHeaders(
    _ source: any ByteSource, into contents: inout ContainerContents
  ) {
    let size = source.size
    let headers =
      (try? source.withBytes(at: 0, count: Int(size)) { ZipDirectory.recoverLocalHeaders($0) })
      ?? []
    var recovered = 0
    for local in headers where local.method == 0 && Int64(local.dataOffset) < size {
      let head = (try? source.readPrefix(at: Int64(local.dataOffset), upTo: 2)) ?? []
      guard isPickleName(local.name) || (looksLikePickle(head) && !isStorageRecord(local.name))
      else { continue }
      // The size may be deferred to a data descriptor: the pickle's own STOP ends it.
      let end =
        local.compressedSize > 0
        ? min(size, Int64(local.dataOffset) &+ Int64(clamping: local.compressedSize)) : size
      contents.pickles.append(
        PickleSource(
          name: "\(local.name) (local header)", role: .other,
          bytes: .range(
            offset: Int64(local.dataOffset), count: max(0, end - Int64(local.dataOffset))),
          context: "\(local.name) (local header)"))
      recovered += 1
    }
    if recovered > 0 {
      contents.notes.append(
        "\(recovered) pickle\(recovered == 1 ? "" : "s") read from local headers of the damaged archive; torch.load cannot open it"
      )
    }
  }
}
