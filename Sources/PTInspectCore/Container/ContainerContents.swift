// ContainerContents.swift: what a container reader finds in a file, the one value every
// pipeline (summary, scan, tensor data) starts from: the pickles, the storages with typed
// locations, the byte order, header metadata, zip findings and diagnostics.

import Pickle

/// The container a checkpoint came in, named as the JSON `format` field names it.
public enum ContainerFormat: String, Sendable, Codable {
  case torchZip = "torch-zip"
  case torchLegacy = "torch-legacy"
  case torchTar = "torch-tar"
  case torchscript
  case safetensors
  case safetensorsIndex = "safetensors-index"
  case torchIndex = "torch-index"
  case pickle
  /// A NumPy `.npy` array.
  case npy
  /// A NumPy `.npz` archive of arrays.
  case npz
  /// A torch.distributed.checkpoint folder (`.metadata` + `.distcp` files).
  case dcp
  /// A torch.export archive (`.pt2`), AOTInductor packages included.
  case pt2
  /// A zip that is not a torch checkpoint (scans only).
  case zip
}

/// The byte order of stored tensor data.
public enum ByteOrder: String, Sendable, Codable {
  case little, big
}

/// A storage's identity within a checkpoint: which file of it (0 for the file itself, 1... for
/// the shards of a sharded checkpoint), the folder of records (`data`, TorchScript's
/// `constants`, the tar container's `storages`, "" for safetensors) and the key.
public struct StorageID: Hashable, Sendable, CustomStringConvertible {
  /// The file of the checkpoint holding it: 0 for the file itself, a shard's number otherwise.
  public var file: Int
  /// Its folder of records: `data`, or `constants` for TorchScript constants.
  public var folder: String
  /// Its key within the folder (`data/<key>` in a zip).
  public var key: String

  /// The storage `key` in `folder` of file `file`.
  package init(file: Int = 0, folder: String, key: String) {
    self.file = file
    self.folder = folder
    self.key = key
  }

  /// `data/0`, as zip records are named below the archive's root.
  public var description: String { folder.isEmpty ? key : folder + "/" + key }

  /// A hash of the id's file and key, for `StorageNumbers`: the folder (`data`, or `constants`
  /// for a few) is left to the comparison of equal hashes.
  var bytesHash: Int {
    var hasher = ByteHasher()
    hasher.combine(file)
    hasher.combine(key)
    return hasher.finalize()
  }
}

/// Where a storage's bytes are, in the file its `StorageID.file` names.
package enum StorageLocation: Sendable, Equatable {
  /// Bytes `offset..<offset+count` of the file, stored as they are: the legacy stream, the tar
  /// container, safetensors.
  case range(offset: Int64, count: Int64)
  /// A zip entry: read in place when stored, inflated when compressed.
  case zipEntry(ZipEntry)

  /// Bytes the location holds.
  package var count: Int64 {
    switch self {
    case .range(_, let count): count
    case .zipEntry(let e): Int64(clamping: e.size)
    }
  }
}

/// A storage of the file and what its tensors ask of it.
package struct StorageRecord: Sendable, Equatable {
  package var id: StorageID
  package var location: StorageLocation
  /// `float32`, or `untyped`.
  package var dtype: String
  /// Bytes the persistent id declares.
  package var declaredBytes: Int64
  /// Bytes the record holds.
  package var recordBytes: Int64
  /// Bytes of the storage that at least one tensor views.
  package var usedBytes: Int64
  /// How messages name what holds it when it is not a zip entry: `the stream`, `the archive`.
  var holderText: String

  /// How messages name what holds it: `'archive/data/0'`, `the stream`, `the archive`.
  package var holder: String {
    if case .zipEntry(let e) = location { return "'\(e.normalizedName)'" }
    return holderText
  }
  /// The byte order of this storage's data, where it differs by storage (NumPy arrays carry
  /// their own); nil: the file's.
  package var byteOrder: ByteOrder? = nil

  /// The storage key (`0`).
  package var key: String { id.key }
}

/// What a pickle of the file is for.
package enum PickleRole: String, Sendable {
  /// The object torch.load returns (`data.pkl`, the legacy stream's main pickle, a bare pickle).
  case main
  /// TorchScript's `constants.pkl`.
  case constants
  /// Other pickles a loader reads too (the legacy stream's magic number, protocol version,
  /// sys_info and storage keys; the tar container's members and records).
  case loaded
  /// Pickles the loader does not read (TorchScript debug info, other `.pkl` entries, pickles
  /// found after a bare pickle's STOP).
  case other
}

/// One pickle of a container.
package struct PickleSource: Sendable {
  /// Where a pickle's bytes are.
  package enum Bytes: Sendable {
    /// Bytes `offset..<offset+count` of the file (the pickle starts at `offset`; what holds it
    /// may run on past its STOP).
    case range(offset: Int64, count: Int64)
    /// Bytes read out of the file (an inflated zip entry).
    case owned([UInt8])
  }

  /// How scans name it: the zip entry (`archive/data.pkl`), the legacy stream part (`main`),
  /// `pickle`.
  package var name: String
  package var role: PickleRole
  package var bytes: Bytes
  /// How error messages name it (`archive/data.pkl`, `legacy stream, main pickle`); nil for a
  /// bare pickle, whose errors need no context.
  package var context: String?
  /// The decoded graph, when the reader had to decode it to find where it ends.
  package var graph: PickleGraph? = nil
  /// Where the stream holding it starts in the file, which a scan's opcode offsets count from:
  /// the entry's data for zip entries, the member for tar members, 0 for the legacy stream and
  /// bare pickles. Defaults to the pickle's own start.
  package var base: Int64?

  package init(
    name: String, role: PickleRole, bytes: Bytes, context: String?, graph: PickleGraph? = nil,
    base: Int64? = nil
  ) {
    self.name = name
    self.role = role
    self.bytes = bytes
    self.context = context
    self.graph = graph
    self.base = base
  }

  /// Where its first byte is in the file, when it is stored there as is.
  package var fileOffset: Int64? {
    if case .range(let offset, _) = bytes { return offset }
    return nil
  }

  /// Calls `body` with the pickle's bytes, read through `source` when they are a range of it.
  package func withBytes<R>(
    in source: any ByteSource, _ body: (UnsafeRawBufferPointer) throws -> R
  ) throws -> R {
    switch bytes {
    case .range(let offset, let count):
      return try source.withBytes(at: offset, count: Int(count), body)
    case .owned(let array): return try array.withUnsafeBytes(body)
    }
  }
}

/// How messages name where a container keeps its storages.
package enum StorageNaming: Sendable {
  /// Zip records below the archive root (`archive/data/0`).
  case zipRecords(root: String)
  /// The legacy stream.
  case stream
  /// The tar container.
  case tarArchive
  /// A header that describes byte ranges (safetensors).
  case header
}

/// A tensor defined outside any pickle (the tar container's `tensors` member).
package typealias PersistentTensors = [String: TensorFacts]

/// Everything a container reader finds in a file, without reading tensor data.
package struct ContainerContents: Sendable {
  package var format: ContainerFormat
  package var fileBytes: Int64
  /// The pickles, the main one first where there is one.
  package var pickles: [PickleSource] = []
  /// Every storage record the container holds, by id (referenced or not).
  package var storages: [StorageID: StorageRecord] = [:]
  /// The ids of `storages` in the order the file lists them.
  package var storageOrder: [StorageID] = []
  package var storageNaming: StorageNaming = .header
  package var byteOrder: ByteOrder? = nil
  /// Header metadata (safetensors `__metadata__`), as checkpoint metadata.
  package var metadata: [MetadataItem] = []
  /// Tensors a header describes without a pickle (safetensors).
  package var headerTensors: [TensorRecord] = []
  /// Tensors defined outside the pickle, by persistent id (the tar container).
  package var persistentTensors: PersistentTensors = [:]
  /// The zip's top folder (`archive/`), when a zip.
  package var archiveRoot: String? = nil
  /// The zip archive, for readers that need more of its entries (TorchScript code).
  package var zip: ZipFile? = nil
  package var findings: [ZipFinding] = []
  package var diagnostics: [Diagnostic] = []
  /// Lenient reads: what could not be read (each one line); strict reads throw instead.
  package var errors: [String] = []
  /// Lenient reads: notes for the scan report.
  package var notes: [String] = []
  /// Other files the storages are in (`StorageID.file` 1, 2, ...): a DCP folder's `.distcp`
  /// files, opened, not read.
  package var companions: [any ByteSource] = []

  package init(format: ContainerFormat, fileBytes: Int64) {
    self.format = format
    self.fileBytes = fileBytes
  }

  /// The pickle torch.load returns, when there is one.
  package var mainPickle: PickleSource? { pickles.first { $0.role == .main } }
}

extension ContainerContents {
  /// Adds a storage record the file lists.
  package mutating func add(_ record: StorageRecord) {
    if storages.updateValue(record, forKey: record.id) == nil { storageOrder.append(record.id) }
  }

  /// The record holding storage `id`: one the reader listed, or the zip entry of that name
  /// (found by the parts of its name, `root` + `id.description`, not joined).
  package func record(for id: StorageID) -> StorageRecord? {
    if !storages.isEmpty, let r = storages[id] { return r }
    guard case .zipRecords(let root) = storageNaming, let zip,
      let entry = zip.entry(named: root, id.folder, id.folder.isEmpty ? "" : "/", id.key)
    else { return nil }
    let bytes = Int64(clamping: entry.size)
    return StorageRecord(
      id: id, location: .zipEntry(entry), dtype: "untyped", declaredBytes: bytes,
      recordBytes: bytes, usedBytes: 0, holderText: "")
  }
}
