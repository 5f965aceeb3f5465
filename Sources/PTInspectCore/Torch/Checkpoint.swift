// Checkpoint.swift: a checkpoint as ptinspect knows it without reading tensor data, and how it
// is opened: identify the container, read its contents, decode the main pickle, interpret it,
// then one assembly step for every format (storage checks, model location, ties).

import Pickle

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// A global a pickle of the checkpoint names, with the pickle's name.
package struct NamedGlobal: Sendable, Equatable {
  package var pickle: String
  package var reference: GlobalReference
}

/// Everything ptinspect learns from a checkpoint without reading tensor data.
public struct Checkpoint: Sendable {
  /// The path it was opened from, as given.
  public var path: String
  /// The container, told from the bytes (`torch-zip`, `safetensors`, ...).
  public var format: ContainerFormat
  /// The file's size in bytes (all shards together, for a sharded checkpoint).
  public var fileBytes: Int64
  /// Every tensor, in the order the pickle holds them.
  public var tensors: [TensorRecord] = []
  /// Where the model's tensors sit in the file (`model_state_dict.`), "" at the root.
  public var modelPrefix = ""
  /// A prefix every model key carries and layer names drop (`module.`, `model.`), or "".
  public var strippedPrefix = ""
  /// The root object's top-level parts (model, optimizer state, values) and what each weighs.
  public var parts: [CheckpointPart] = []
  /// Values that are not tensors (epoch, hyper-parameters, arrays), rendered short.
  public var metadata: [MetadataItem] = []
  /// The modules of a whole-model pickle or TorchScript file, by dotted path: class and hyper-parameters.
  package var modules: [String: ModuleInfo] = [:]
  /// The paths of `modules`, in the order the file holds them.
  package var moduleOrder: [String] = []
  /// The storages the file carries for its tensors (those its tensors view, for a zip; every
  /// one the stream lists, for the legacy and tar containers), in file order.
  package var storages: [StorageRecord] = []
  /// Storages that quantizers' per-channel scales and zero points refer to, when they are not
  /// among `storages` (the data reader reads them like tensors).
  package var quantizerStorages: [StorageRecord] = []
  /// The files the storages are in, by `StorageID.file`: the checkpoint's own file first, then
  /// a sharded checkpoint's shards.
  package var files: [any ByteSource] = []
  /// The byte order of each of `files` (nil where the file holds no tensor data).
  package var fileByteOrders: [ByteOrder?] = []
  /// Every global each pickle names.
  package var globals: [NamedGlobal] = []
  /// Notes about the file: inferences, oddities, unsafe content.
  public var diagnostics: [Diagnostic] = []
  /// The zip's top folder (`sd/`, `archive/`), when a zip.
  public var archiveRoot: String?
  /// The main pickle's protocol (0-5), or 0 when there is no pickle (safetensors).
  public var pickleProtocol = 0
  /// The byte order of the tensor data, when the file says (legacy files, NumPy), or nil.
  public var byteOrder: ByteOrder?
  /// When a remote checkpoint's reading began (nil for a local one).
  public var remoteStart: Date?

  /// An empty checkpoint of `format` for `path`; `open` fills one in.
  package init(path: String, format: ContainerFormat, fileBytes: Int64) {
    self.path = path
    self.format = format
    self.fileBytes = fileBytes
  }

  /// The model's tensors.
  public var modelTensors: [TensorRecord] { tensors.filter { $0.section == .model } }

  /// A model tensor's name relative to the model (prefixes removed), as layers are named.
  public func layerName(_ t: TensorRecord) -> String {
    let start = layerNameStart(t.name)
    return start == t.name.startIndex ? t.name : String(t.name[start...])
  }

  /// Where the layer name starts in a tensor's full name: after the model prefix and the
  /// stripped prefix, when it has them.
  func layerNameStart(_ fullName: String) -> String.Index {
    // Compared as UTF-8 bytes: `Substring.hasPrefix` walks Characters, 20 times slower.
    var offset = 0
    if !modelPrefix.isEmpty, fullName.utf8HasPrefix(modelPrefix) { offset = modelPrefix.utf8.count }
    if !strippedPrefix.isEmpty, fullName.utf8HasPrefix(strippedPrefix, at: offset) {
      offset += strippedPrefix.utf8.count
    }
    return fullName.utf8.index(fullName.utf8.startIndex, offsetBy: offset)
  }
}

extension Checkpoint {
  /// Opens and interprets the checkpoint at `path` (a file, or a folder holding one sharded
  /// checkpoint index or one checkpoint file). Errors name the file and the problem.
  public static func open(_ path: String, options: OpenOptions = OpenOptions())
    throws(CheckpointError) -> Checkpoint
  {
    try open(path, options: options, allowIndex: true)
  }

  /// As above; a shard (`allowIndex` false) that is itself an index is an error, before any of
  /// its own shards is opened (an index that names itself would never end).
  static func open(_ path: String, options: OpenOptions, allowIndex: Bool)
    throws(CheckpointError) -> Checkpoint
  {
    if RemotePath.isRemote(path) {
      return try openRemote(path, options: options, allowIndex: allowIndex)
    }
    if CheckpointFolder.isFolder(path) {
      switch try CheckpointFolder.checkpoint(in: path) {
      case .index(let index):
        return try openIndex(try fileSource(index), as: path, options: options)
      case .file(let file): return try open(try fileSource(file), options: options)
      }
    }
    return try open(try fileSource(path), options: options, allowIndex: allowIndex)
  }

  /// Opens a remote checkpoint (a URL, `s3://`, `hf://`, a Hub repository), reporting what it
  /// cost. A network failure a format probe swallowed is the error, not the probe's verdict.
  static func openRemote(_ path: String, options: OpenOptions, allowIndex: Bool)
    throws(CheckpointError) -> Checkpoint
  {
    let settings = RemoteSettings.current
    let start = Date()
    let meter = TransferMeter()
    let file =
      try RemotePath.repositoryCheckpoint(path, settings: settings, meter: meter) ?? path
    let source = try RemotePath.source(file, settings: settings, meter: meter)
    var c: Checkpoint
    do {
      c =
        file != path && file.hasSuffix(".index.json")
        ? try openIndex(source, as: path, options: options)
        : try open(source, options: options, allowIndex: allowIndex)
    } catch {
      if let failure = source.failure { throw CheckpointError(file: file, .source(failure)) }
      throw error
    }
    if let failure = source.failure { throw CheckpointError(file: file, .source(failure)) }
    c.path = path
    c.remoteStart = start
    return c
  }

  /// What reading a remote checkpoint has cost so far (every file it reads), nil for a local one.
  public var sourceCost: SourceCost? {
    guard let start = remoteStart, let first = files.first as? HTTPSource else { return nil }
    let remote = files.compactMap { $0 as? HTTPSource }
    return SourceCost(
      url: first.target.url, bytesFetched: remote.reduce(0) { $0 + $1.meter.bytes },
      requests: remote.reduce(0) { $0 + $1.meter.requests }, etag: first.etag,
      seconds: Date().timeIntervalSince(start))
  }

  /// The file at `path` (local or remote) as a byte source.
  static func source(_ path: String) throws(CheckpointError) -> any ByteSource {
    guard RemotePath.isRemote(path) else { return try fileSource(path) }
    let settings = RemoteSettings.current
    let meter = TransferMeter()
    let file = try RemotePath.repositoryCheckpoint(path, settings: settings, meter: meter) ?? path
    return try RemotePath.source(file, settings: settings, meter: meter)
  }

  /// The local file at `path` as a byte source; standard input (`-`) and pipes are read into
  /// memory (`StreamInput`).
  static func fileSource(_ path: String) throws(CheckpointError) -> any ByteSource {
    do {
      if StreamInput.isStream(path) { return try StreamInput.load(path) }
      return try FileSource(path: path)
    } catch {
      throw CheckpointError(file: path, .source(error))
    }
  }

  /// Opens and interprets the checkpoint in `source`.
  public static func open(_ source: any ByteSource, options: OpenOptions = OpenOptions())
    throws(CheckpointError) -> Checkpoint
  {
    try open(source, options: options, allowIndex: true)
  }

  static func open(_ source: any ByteSource, options: OpenOptions, allowIndex: Bool)
    throws(CheckpointError) -> Checkpoint
  {
    switch try Containers.identify(source) {
    case .index where !allowIndex: throw CheckpointError(file: source.name, "itself an index")
    case .notCheckpoint(let m): throw CheckpointError(file: source.name, .notCheckpoint(m))
    case .unsupported(let m): throw CheckpointError(file: source.name, .unsupported(m))
    case .index: return try openIndex(source, as: source.name, options: options)
    case .container(let reader):
      return try assemble(
        reader.read(source, mode: .strict, options: options), source: source, options: options)
    }
  }

  /// Decodes a pickle of the container (unless the reader already did).
  static func decode(_ p: PickleSource, source: any ByteSource, options: OpenOptions)
    throws(CheckpointError) -> PickleGraph
  {
    if let graph = p.graph { return graph }
    defer { release(p, source) }
    do {
      return try p.withBytes(in: source) {
        try PickleDecoder(limits: options.pickleLimits).decode($0)
      }
    } catch let e as PickleError {
      throw CheckpointError(file: source.name, .pickle(context: p.context, e))
    } catch {
      throw CheckpointError(error, file: source.name)
    }
  }

  /// A large pickle is read from the file's mapping; its pages are let go once decoded.
  static func release(_ p: PickleSource, _ source: any ByteSource) {
    if case .range(let offset, let count) = p.bytes {
      source.release(at: offset, count: Int(count))
    }
  }

  /// Interprets a decoded pickle, its errors named by the pickle.
  static func interpret(_ interpreter: TorchInterpreter, _ p: PickleSource, file: String)
    throws(CheckpointError) -> InterpretedPickle
  {
    do {
      return try interpreter.interpret()
    } catch {
      throw CheckpointError(file: file, .interpretation(context: p.context, error))
    }
  }

  /// The main pickle, decoded and interpreted, and what the rest of the assembly needs of it.
  struct MainPickle {
    var interpreted: InterpretedPickle
    /// The decoded graph; nil when the state-dict fast path read the pickle (its root a dict
    /// whose every entry is a tensor).
    var graph: PickleGraph?
    var globals: [GlobalReference]
    var protocolVersion: Int
  }

  /// Reads the main pickle: a zip's state dict through the fast path (`StateDictReader`), any
  /// other pickle, or one the fast path declines, through the decoder and the interpreter.
  static func readMain(
    _ p: PickleSource, _ contents: ContainerContents, source: any ByteSource,
    options: OpenOptions
  ) throws(CheckpointError) -> MainPickle {
    if options.stateDictFastPath, p.graph == nil, contents.format == .torchZip,
      contents.persistentTensors.isEmpty,
      let fast = try? p.withBytes(
        in: source, { StateDictReader.read($0, limits: options.pickleLimits) })
    {
      release(p, source)
      var interpreted = InterpretedPickle()
      interpreted.tensorParts = fast.tensors.map(\.name)
      interpreted.tensors = fast.tensors
      return MainPickle(
        interpreted: interpreted, graph: nil, globals: fast.globals,
        protocolVersion: fast.protocolVersion)
    }
    let graph = try decode(p, source: source, options: options)
    var interpreter = TorchInterpreter(graph: graph)
    interpreter.persistentTensors = contents.persistentTensors
    return MainPickle(
      interpreted: try interpret(interpreter, p, file: source.name), graph: graph,
      globals: graph.globals, protocolVersion: graph.protocolVersion)
  }

  /// The one assembly step: the main pickle interpreted, TorchScript's constants and code read,
  /// every storage checked, the model located and ties marked.
  static func assemble(
    _ contents: consuming ContainerContents, source: any ByteSource, options: OpenOptions
  ) throws(CheckpointError) -> Checkpoint {
    var c = Checkpoint(path: source.name, format: contents.format, fileBytes: contents.fileBytes)
    c.files = [source] + contents.companions
    c.fileByteOrders = [contents.byteOrder] + contents.companions.map { _ in contents.byteOrder }
    c.metadata = contents.metadata
    c.diagnostics = contents.diagnostics
    c.archiveRoot = contents.archiveRoot
    c.byteOrder = contents.byteOrder
    if contents.mainPickle == nil {
      // A header-only container (safetensors, NumPy): its tensors come from the header; the
      // pickles of object arrays are decoded for the globals they name, never interpreted.
      c.tensors = contents.headerTensors
      for p in contents.pickles {
        guard let graph = try? decode(p, source: source, options: options) else { continue }
        c.globals += graph.globals.map { NamedGlobal(pickle: p.name, reference: $0) }
      }
      c.storages = contents.storageOrder.compactMap { contents.storages[$0] }
      if contents.format == .dcp { return c.withDcpSections() }
      c.markSharedTensors()
      if contents.format == .pt2, let programs = c.pt2Parts() {
        c.parts = programs
        return c
      }
      c.parts = [
        CheckpointPart(
          name: "", role: .model, tensors: c.tensors.count,
          elements: c.tensors.reduce(0) { $0 &+ $1.numel },
          bytes: c.tensors.reduce(0) { $0 &+ $1.bytes }, value: nil)
      ]
      return c
    }
    guard let main = contents.mainPickle else { return c }
    let read = try readMain(main, contents, source: source, options: options)
    let graph = read.graph
    c.pickleProtocol = read.protocolVersion
    var interpreted = read.interpreted
    for p in contents.pickles where p.role != .constants {
      let globals = p.role == .main ? read.globals : p.graph?.globals ?? []
      c.globals += globals.map { NamedGlobal(pickle: p.name, reference: $0) }
    }
    if contents.format == .torchscript {
      try addConstants(contents, into: &interpreted, checkpoint: &c, options: options)
      if let zip = contents.zip {
        ScriptCode.classify(&interpreted, zip: zip, root: contents.archiveRoot ?? "")
      }
    }
    if contents.format == .pickle {
      if interpreted.tensors.contains(where: { $0.storage != nil }) {
        c.diagnostics.append(
          Diagnostic(
            .warning,
            "a bare pickle: its tensors' storages are not in this file, so their sizes are not checked"
          ))
      }
    } else {
      try c.checkStorages(interpreted.tensors, contents)
    }
    let persistentTensors = contents.persistentTensors
    let format = contents.format
    // The container's directory and records are not needed from here on: let them go before
    // the model is located (the peak of a large file's memory).
    _ = consume contents
    if interpreted.tensors.isEmpty, format == .torchZip || format == .torchscript {
      c.diagnostics.append(Diagnostic(.warning, "the file holds no tensors"))
    }
    for note in interpreted.notes { c.diagnostics.append(Diagnostic(.warning, note)) }
    c.modules = interpreted.modules
    c.moduleOrder = interpreted.moduleOrder
    c.tensors = interpreted.tensors
    // The checkpoint owns the records now: drop the walk's copy so updating them does not copy
    // the whole array.
    interpreted.tensors = []
    ModelLocator.locate(
      &c, interpreted: interpreted, graph: graph, persistentTensors: persistentTensors)
    c.markSharedTensors()
    return c
  }

  /// TorchScript's `constants.pkl`: its tensors join the checkpoint as `CONSTANTS.c<n>`.
  static func addConstants(
    _ contents: ContainerContents, into interpreted: inout InterpretedPickle,
    checkpoint c: inout Checkpoint, options: OpenOptions
  ) throws(CheckpointError) {
    guard let constants = contents.pickles.first(where: { $0.role == .constants }),
      let source = c.files.first
    else { return }
    let graph = try decode(constants, source: source, options: options)
    c.globals += graph.globals.map { NamedGlobal(pickle: constants.name, reference: $0) }
    var interpreter = TorchInterpreter(graph: graph)
    interpreter.storageFolder = "constants"
    let part = try interpret(interpreter, constants, file: source.name)
    for t in part.tensors {
      var constant = t
      constant.name = "CONSTANTS.c" + t.name
      constant.section = .other
      interpreted.tensors.append(constant)
      interpreted.tensorParts.append("CONSTANTS")
    }
  }
}
