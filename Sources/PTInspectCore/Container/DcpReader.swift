// DcpReader.swift: torch.distributed.checkpoint (DCP) folders: a `.metadata` pickle of
// `torch.distributed.checkpoint.metadata` dataclasses and `__<rank>_<n>.distcp` files. The
// listing comes from `.metadata` alone, read as data (the Pickle module never executes): each
// tensor's dtype, full shape, strides and chunks, and where each chunk's bytes are (a torch.save
// archive inside a `.distcp`, or a tensor of a safetensors `.distcp`). No `.distcp` byte is read
// for the summary; lenient reads (the scan) decode the pickles inside every `.distcp` too.

import Pickle

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// One chunk of a DCP tensor: its place in the full tensor and where its bytes are.
struct DcpChunk {
  var offsets: [Int64]
  var sizes: [Int64]
  /// The `.distcp` file (relative to the folder) and the byte range holding the chunk.
  var file: String
  var offset: Int64
  var length: Int64
}

enum DcpReader: ContainerReader {
  static let module = "torch.distributed.checkpoint.metadata"

  /// A `.metadata` pickle (PROTO, then the module of `Metadata` within its first bytes), or a
  /// `.distcp` file beside one.
  static func probe(_ head: [UInt8], source: any ByteSource) -> Bool {
    if source.name.hasSuffix(".distcp") {
      return FileManager.default.fileExists(atPath: metadataPath(beside: source.name))
    }
    guard head.first == 0x80 else { return false }
    return String(decoding: head.prefix(96), as: UTF8.self).contains(module)
  }

  static func metadataPath(beside file: String) -> String {
    CheckpointFolder.join(CheckpointFolder.parent(of: file), ".metadata")
  }

  /// Opens a file of the folder by path (a local file; tests count the bytes read).
  typealias Opener = @Sendable (String) throws(ByteSourceError) -> any ByteSource

  static func read(_ given: any ByteSource, mode: ReadMode, options: OpenOptions)
    throws(CheckpointError) -> ContainerContents
  {
    try read(given, mode: mode, options: options) { path throws(ByteSourceError) in
      try FileSource(path: path)
    }
  }

  static func read(
    _ given: any ByteSource, mode: ReadMode, options: OpenOptions, open: Opener
  ) throws(CheckpointError) -> ContainerContents {
    var source = given
    var diagnostics: [Diagnostic] = []
    if given.name.hasSuffix(".distcp") {
      let path = metadataPath(beside: given.name)
      do {
        source = try open(path)
      } catch {
        throw CheckpointError(file: path, .source(error))
      }
      diagnostics.append(
        Diagnostic(
          .info,
          "'\(lastPathComponent(given.name))' is one file of a torch.distributed.checkpoint folder: read as the folder, from its .metadata"
        ))
    }
    let name = source.name
    var contents = ContainerContents(format: .dcp, fileBytes: source.size)
    contents.diagnostics = diagnostics
    contents.storageNaming = .header
    contents.byteOrder = .little
    contents.notes.append(
      "torch.distributed.checkpoint.load reads .metadata with a plain pickle.load: weights_only does not protect it"
    )
    guard UInt64(max(0, source.size)) <= options.maxPickleBytes else {
      throw CheckpointError(
        file: name, ".metadata is \(source.size) bytes, over the pickle limit")
    }
    var pickle = PickleSource(
      name: ".metadata", role: .loaded, bytes: .range(offset: 0, count: source.size),
      context: ".metadata")
    let graph: PickleGraph
    do {
      graph = try Checkpoint.decode(pickle, source: source, options: options)
    } catch {
      if mode == .strict { throw error }
      contents.pickles.append(pickle)
      contents.errors.append(error.message)
      return contents
    }
    pickle.graph = graph
    contents.pickles.append(pickle)
    let folder = CheckpointFolder.parent(of: name)
    do throws(FormatError) {
      let metadata = try DcpMetadata(graph)
      try add(metadata, folder: folder, into: &contents, open: open)
      if mode == .lenient {
        addDistcpPickles(folder: folder, metadata, into: &contents, options, open: open)
      }
    } catch {
      if mode == .strict { throw CheckpointError(file: name, ".metadata: " + error.message) }
      contents.errors.append(".metadata: " + error.message)
    }
    return contents
  }

  /// The tensors (with their chunks and the chunks' byte ranges, checked against the files'
  /// sizes), the non-tensor entries as metadata, and the `.distcp` files as companions.
  static func add(
    _ m: DcpMetadata, folder: String, into contents: inout ContainerContents, open: Opener
  ) throws(FormatError) {
    var fileIndex: [String: Int] = [:]
    var tensors: [TensorRecord] = []
    for entry in m.entries {
      guard let t = entry.tensor else {
        contents.metadata.append(
          MetadataItem(
            name: entry.name, type: "bytes", value: entry.locations.first.map(describe) ?? "?"))
        continue
      }
      var record = t.record(name: entry.name)
      for (i, chunk) in t.chunks.enumerated() {
        guard
          let at = entry.locations.first(where: {
            $0.offsets == chunk.offsets || ($0.offsets.isEmpty && t.chunks.count == 1)
          })
        else {
          throw FormatError(
            "tensor '\(entry.name)': chunk \(i) at offsets \(chunk.offsets) has no storage entry")
        }
        let file: Int
        if let known = fileIndex[at.file] {
          file = known
        } else {
          guard !at.file.isEmpty, !at.file.contains("/"), at.file != "..", at.file != "." else {
            throw FormatError(
              "tensor '\(entry.name)': storage file '\(at.file)' is not a file name")
          }
          let path = CheckpointFolder.join(folder, at.file)
          let companion: any ByteSource
          do {
            companion = try open(path)
          } catch {
            throw FormatError(
              "tensor '\(entry.name)': its chunk is in '\(at.file)', which "
                + (error.isMissing ? "is missing" : "cannot be read: \(error.message)"))
          }
          contents.companions.append(companion)
          file = contents.companions.count
          fileIndex[at.file] = file
        }
        let size = contents.companions[file - 1].size
        guard at.offset >= 0, at.length >= 0, at.offset <= size, at.length <= size - at.offset
        else {
          throw FormatError(
            "tensor '\(entry.name)': chunk \(i) is bytes \(at.offset)..<\(at.offset &+ at.length) of '\(at.file)', which has \(size) bytes"
          )
        }
        let ref = StorageRef(
          key: "\(entry.name)@\(chunk.offsets)", storageClass: "distcp", dtype: t.dtype,
          device: "cpu", count: at.length / Int64(t.dtype.itemSize), folder: "distcp")
        var placed = ref
        placed.file = file
        record.chunks.append(
          TensorChunk(
            offsets: chunk.offsets, sizes: chunk.sizes, storage: placed, file: at.file,
            byteOffset: at.offset, byteLength: at.length))
        contents.add(
          StorageRecord(
            id: placed.id, location: .range(offset: at.offset, count: at.length), dtype: "untyped",
            declaredBytes: at.length, recordBytes: at.length, usedBytes: at.length,
            holderText: "'\(at.file)' bytes \(at.offset)..<\(at.offset + at.length)"))
      }
      tensors.append(record)
    }
    contents.headerTensors = tensors
    let ranks = Set(m.entries.flatMap { $0.locations.map(\.file) }).count
    let sharded = tensors.filter { $0.chunks.count > 1 }
    let most = sharded.map(\.chunks.count).max() ?? 1
    let shards =
      sharded.isEmpty
      ? "" : ", \(sharded.count) of them sharded (up to \(most) chunks, each held by one rank)"
    contents.metadata.append(
      MetadataItem(name: "__dcp__.version", type: "str", value: "'\(m.version)'"))
    // The checkpoint's size is the folder's: .metadata and every .distcp file it names.
    contents.fileBytes += contents.companions.reduce(0) { $0 + $1.size }
    contents.diagnostics.append(
      Diagnostic(
        .info,
        "a torch.distributed.checkpoint folder: \(tensors.count) tensors in \(ranks) .distcp file\(ranks == 1 ? "" : "s")\(shards), listed from .metadata alone; parameters and buffers are inferred from names"
      ))
  }

  static func describe(_ l: DcpMetadata.Location) -> String {
    "torch.save value, '\(l.file)' bytes \(l.offset)..<\(l.offset &+ l.length)"
  }

  /// The pickles inside the `.distcp` files: each chunk and value is a torch.save archive
  /// laid in its byte range (safetensors `.distcp` files hold none).
  static func addDistcpPickles(
    folder: String, _ m: DcpMetadata, into contents: inout ContainerContents,
    _ options: OpenOptions, open: Opener
  ) {
    var seen = Set<String>()
    var archives = 0
    for entry in m.entries {
      for l in entry.locations where seen.insert("\(l.file)@\(l.offset)").inserted {
        let path = CheckpointFolder.join(folder, l.file)
        guard let file = try? open(path), l.offset >= 0, l.length >= 0,
          l.offset <= file.size, l.length <= file.size - l.offset
        else {
          contents.errors.append(
            "'\(l.file)': bytes \(l.offset)..<\(l.offset &+ l.length) are not in the file")
          continue
        }
        let head = (try? file.read(at: l.offset, count: Int(min(l.length, 4)))) ?? []
        guard head == [0x50, 0x4B, 0x03, 0x04] else { continue }  // safetensors: no pickle
        archives += 1
        contents.embed(
          SliceSource(file, offset: l.offset, count: l.length, name: path),
          as: "\(l.file)@\(l.offset) (\(entry.name))", options: options, otherFile: true)
      }
    }
    if archives > 0 {
      contents.notes.append(
        "\(archives) torch.save archives inside the .distcp files were scanned: torch.distributed.checkpoint.load reads them with torch.load(weights_only=True)"
      )
    }
  }
}

extension ContainerContents {
  /// Adds the pickles of a torch.save archive embedded in a file (a `.distcp` range, a `.pt2`
  /// entry), read leniently, named `<name>:<entry>`, their offsets counted in the outer file.
  /// Pickles of another file than the one scanned are read into memory.
  mutating func embed(
    _ slice: SliceSource, as name: String, options: OpenOptions, otherFile: Bool = false
  ) {
    guard let inner = try? TorchZipReader.read(slice, mode: .lenient, options: options) else {
      errors.append("\(name): not a readable torch.save archive")
      return
    }
    for var p in inner.pickles {
      p.name = name + ":" + p.name
      p.context = p.name
      if case .range(let offset, let count) = p.bytes {
        if otherFile {
          guard let bytes = try? slice.read(at: offset, count: Int(count)) else {
            errors.append("\(p.name): cannot read its \(count) bytes")
            continue
          }
          p.bytes = .owned(bytes)
          p.base = nil
        } else {
          p.bytes = .range(offset: offset + slice.offset, count: count)
          p.base = (p.base ?? offset) + slice.offset
        }
      }
      if p.role == .main { p.role = .loaded }
      pickles.append(p)
    }
    errors += inner.errors.map { name + ": " + $0 }
    findings += inner.findings
  }
}

/// The `Metadata` dataclass of a `.metadata` pickle, read without executing it.
struct DcpMetadata {
  struct Location {
    var offsets: [Int64]
    var file: String
    var offset: Int64
    var length: Int64
  }
  struct Tensor {
    var dtype: DType
    var shape: [Int64]
    var stride: [Int64]
    var requiresGrad: Bool?
    var chunks: [(offsets: [Int64], sizes: [Int64])]

    func record(name: String) -> TensorRecord {
      let leaf = lastComponent(name)
      let kind: TensorKind =
        TorchInterpreter.inferredBuffer(leaf: leaf, dtype: dtype) ? .buffer : .parameter
      return TensorRecord(
        name: name, dtype: dtype, shape: shape, stride: stride, storage: nil, storageOffset: 0,
        requiresGrad: requiresGrad, kind: kind, kindIsExact: false,
        role: TorchInterpreter.role(leaf: leaf, kind: kind), section: .model, layout: .strided,
        quantization: nil, sharedWith: nil, moduleClass: nil)
    }
  }
  struct Entry {
    var name: String
    var tensor: Tensor?
    var locations: [Location]
  }

  var entries: [Entry] = []
  var version = ""
  let graph: PickleGraph

  init(_ graph: PickleGraph) throws(FormatError) {
    self.graph = graph
    guard let root = object(graph.root, "Metadata") else {
      throw FormatError("the pickle is not a torch.distributed.checkpoint Metadata")
    }
    version = root["version"].flatMap(\.stringValue) ?? ""
    var locations: [String: [Location]] = [:]
    for entry in dict(root["storage_data"]) {
      guard let index = object(entry.key, "MetadataIndex"),
        let info = object(entry.value, "_StorageInfo"),
        let fqn = index["fqn"]?.stringValue, let file = info["relative_path"]?.stringValue,
        let offset = info["offset"]?.intValue, let length = info["length"]?.intValue
      else { throw FormatError("a storage_data entry is not MetadataIndex -> _StorageInfo") }
      let at = index["offset"].flatMap { $0 == .none ? nil : size($0) } ?? []
      locations[fqn, default: []].append(
        Location(offsets: at, file: file, offset: offset, length: length))
    }
    for entry in dict(root["state_dict_metadata"]) {
      guard let name = entry.key.stringValue else {
        throw FormatError("a state_dict_metadata key is \(graph.describe(entry.key)), not a name")
      }
      let at = locations[name] ?? []
      if object(entry.value, "BytesStorageMetadata") != nil {
        entries.append(Entry(name: name, tensor: nil, locations: at))
        continue
      }
      guard let m = object(entry.value, "TensorStorageMetadata") else {
        throw FormatError("'\(name)' is \(graph.describe(entry.value)), not a storage metadata")
      }
      entries.append(Entry(name: name, tensor: try tensor(name, m), locations: at))
    }
  }

  /// The fields of a dataclass object of the given class (its state dict).
  func object(_ v: PickleValue, _ className: String) -> [String: PickleValue]? {
    guard let o = graph.object(v), let g = graph.global(o.callable), g.name == className,
      g.module.hasPrefix("torch.distributed.checkpoint")
    else { return nil }
    var fields: [String: PickleValue] = [:]
    for e in dict(o.state) { if let k = e.key.stringValue { fields[k] = e.value } }
    fields["__state__"] = o.state ?? PickleValue.none
    return fields
  }

  func dict(_ v: PickleValue?) -> [PickleEntry] {
    guard let v, case .dict(let items, _)? = graph.node(v) else { return [] }
    return items
  }

  /// A `torch.Size((...))` or a tuple of ints.
  func size(_ v: PickleValue) -> [Int64]? {
    if let o = graph.object(v), graph.global(o.callable)?.qualifiedName == "torch.Size",
      let args = graph.sequence(o.args), let inner = args.first
    {
      return size(inner)
    }
    guard let items = graph.sequence(v) else { return nil }
    let ints = items.compactMap(\.intValue)
    return ints.count == items.count ? ints : nil
  }

  func tensor(_ name: String, _ m: [String: PickleValue]) throws(FormatError) -> Tensor {
    func fail(_ what: String) -> FormatError { FormatError("tensor '\(name)': \(what)") }
    guard let props = m["properties"].flatMap({ graph.object($0) }),
      let state = props.state.flatMap({ graph.sequence($0) }), let first = state.first,
      let g = graph.global(first), g.module == "torch", let dtype = DType(torchName: g.name)
    else { throw fail("its TensorProperties do not name a torch dtype") }
    if state.count > 1, let layout = graph.object(state[1]),
      let args = graph.sequence(layout.args), let text = args.first?.stringValue,
      text != "torch.strided"
    {
      throw fail("layout \(text) is not read")
    }
    guard let shape = m["size"].flatMap(size), shape.allSatisfy({ $0 >= 0 }) else {
      throw fail("its size is not a torch.Size")
    }
    var stride = contiguousStride(shape)
    if state.count > 5, let s = size(state[5]), s.count == shape.count { stride = s }
    var t = Tensor(
      dtype: dtype, shape: shape, stride: stride,
      requiresGrad: state.count > 2 ? state[2] == .bool(true) : nil, chunks: [])
    guard let chunks = m["chunks"].flatMap({ graph.sequence($0) }) else {
      throw fail("its chunks are not a list")
    }
    var covered: Int64 = 0
    for (i, c) in chunks.enumerated() {
      guard let fields = object(c, "ChunkStorageMetadata"),
        let offsets = fields["offsets"].flatMap(size), let sizes = fields["sizes"].flatMap(size)
      else { throw fail("chunk \(i) is not a ChunkStorageMetadata") }
      guard offsets.count == shape.count, sizes.count == shape.count,
        DcpMetadata.inside(offsets, sizes, shape)
      else {
        throw fail(
          "chunk \(i) (offsets \(offsets), sizes \(sizes)) lies outside its shape \(shape)")
      }
      if let j = t.chunks.firstIndex(where: {
        DcpMetadata.overlap(offsets, sizes, $0.offsets, $0.sizes)
      }) {
        throw fail("chunk \(i) overlaps chunk \(j)")
      }
      covered &+= sizes.reduce(1, &*)
      t.chunks.append((offsets, sizes))
    }
    let numel = shape.reduce(Int64(1), &*)
    guard covered == numel else {
      throw fail("its chunks hold \(covered) of its \(numel) elements")
    }
    return t
  }
}

extension DcpMetadata {
  /// Whether the box `offsets`+`sizes` lies inside `shape`.
  static func inside(_ offsets: [Int64], _ sizes: [Int64], _ shape: [Int64]) -> Bool {
    for d in shape.indices {
      let o = offsets[d]
      let s = sizes[d]
      if o < 0 || s < 0 || o > shape[d] - s { return false }
    }
    return true
  }

  /// Whether two non-empty boxes share an element.
  static func overlap(_ o1: [Int64], _ s1: [Int64], _ o2: [Int64], _ s2: [Int64]) -> Bool {
    if s1.contains(0) || s2.contains(0) { return false }
    for d in o1.indices {
      let a = o1[d]
      let b = o2[d]
      if !(a < b + s2[d] && b < a + s1[d]) { return false }
    }
    return true
  }
}

/// C-contiguous strides of a shape.
func contiguousStride(_ shape: [Int64]) -> [Int64] {
  var stride = [Int64](repeating: 1, count: shape.count)
  var acc: Int64 = 1
  for i in shape.indices.reversed() {
    stride[i] = acc
    acc = acc &* max(shape[i], 1)
  }
  return stride
}

func lastPathComponent(_ path: String) -> String {
  path.split(separator: "/").last.map(String.init) ?? path
}
