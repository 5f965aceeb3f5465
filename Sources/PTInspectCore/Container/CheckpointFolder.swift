// CheckpointFolder.swift: folders and sharded-checkpoint indexes, found the same way by every
// command: a folder holding one index (`*.index.json`, hidden files left out) is one sharded
// checkpoint; the index's `weight_map` names the shard files, relative to the index.

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// A sharded checkpoint's index (`model.safetensors.index.json`, `pytorch_model.bin.index.json`).
package struct ShardIndex: Sendable {
  /// The index file.
  package var path: String
  /// Tensor name to shard file, in the index's order.
  package var weightMap: [(name: String, shard: String)]
  /// The `metadata` object (`total_size`), in order.
  package var metadata: [(key: String, value: JSONValue)]
  /// Entries of `weight_map` that are not strings (ignored).
  package var ignored: [String]
  package var fileBytes: Int64

  /// The shard file names, sorted, each once.
  package var shards: [String] { Set(weightMap.map(\.shard)).sorted() }

  /// Where a shard file is: beside the index.
  package func path(of shard: String) -> String {
    CheckpointFolder.join(CheckpointFolder.parent(of: path), shard)
  }

  /// Reads the index in `source`.
  package init(_ source: any ByteSource) throws(CheckpointError) {
    func fail(_ message: String) -> CheckpointError { CheckpointError(file: source.name, message) }
    path = source.name
    fileBytes = source.size
    let bytes: [UInt8]
    do {
      bytes = try source.read(at: 0, count: Int(source.size))
    } catch {
      throw CheckpointError(file: source.name, .source(error))
    }
    guard let root = (try? JSONReader().parse(bytes))?.object else {
      throw fail("a JSON file that does not parse as a JSON object")
    }
    guard let map = root.first(where: { $0.key == "weight_map" })?.value.object else {
      throw fail("a JSON file without a 'weight_map': not a sharded checkpoint index")
    }
    weightMap = []
    ignored = []
    for (name, value) in map {
      if let shard = value.string { weightMap.append((name, shard)) } else { ignored.append(name) }
    }
    metadata = root.first { $0.key == "metadata" }?.value.object ?? []
  }
}

/// Folders of checkpoints.
package enum CheckpointFolder {
  /// Extensions that mark a checkpoint: such files in a folder are reported when they fail.
  package static let checkpointExtensions: Set<String> = [
    "pt", "pth", "bin", "ckpt", "safetensors", "pkl", "pickle", "tar", "npy", "npz", "pt2",
  ]

  package static func isFolder(_ path: String) -> Bool {
    var status = stat()
    return stat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR
  }

  package static func join(_ folder: String, _ name: String) -> String {
    folder.isEmpty ? name : folder.hasSuffix("/") ? folder + name : folder + "/" + name
  }

  /// The folder part of a path ("" for a bare file name).
  package static func parent(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "" }
    return slash == path.startIndex ? "/" : String(path[..<slash])
  }

  /// The visible files and folders in a folder, sorted by name.
  static func names(in folder: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
      .filter { !$0.hasPrefix(".") }.sorted()
  }

  /// Whether a folder is a torch.distributed.checkpoint folder: a `.metadata` file beside
  /// `.distcp` files.
  package static func isDcp(_ folder: String) -> Bool {
    let metadata = join(folder, ".metadata")
    return FileManager.default.fileExists(atPath: metadata) && !isFolder(metadata)
      && names(in: folder).contains { $0.hasSuffix(".distcp") }
  }

  /// The sharded-checkpoint indexes in a folder (hidden files left out).
  package static func indexes(in folder: String) -> [String] {
    names(in: folder).filter { $0.hasSuffix(".index.json") }
  }

  /// What a folder stands for as one checkpoint.
  package enum Contents: Equatable {
    /// A sharded checkpoint: its one index.
    case index(String)
    /// A folder with one checkpoint file beside other files (a Hugging Face model folder:
    /// `config.json` and `model.safetensors`).
    case file(String)
  }

  /// The checkpoint a folder stands for: its one index, else its one checkpoint file; or why it
  /// stands for none.
  package static func checkpoint(in folder: String) throws(CheckpointError) -> Contents {
    if isDcp(folder) { return .file(join(folder, ".metadata")) }
    let found = indexes(in: folder)
    if found.count == 1, let only = found.first { return .index(join(folder, only)) }
    if found.isEmpty {
      let files = names(in: folder).map { join(folder, $0) }.filter {
        !isFolder($0) && !$0.hasSuffix(".json") && looksLikeCheckpoint($0)
      }
      if files.count == 1, let only = files.first { return .file(only) }
    }
    throw CheckpointError(
      file: folder,
      found.isEmpty
        ? "is a directory without a checkpoint index (*.index.json): name a checkpoint file"
        : "is a directory with \(found.count) checkpoint indexes (\(found.joined(separator: ", "))): name one"
    )
  }

  /// The shard file names an index lists, or none when it does not read.
  static func shards(listedIn index: String) -> Set<String> {
    guard let source = try? FileSource(path: index), let parsed = try? ShardIndex(source) else {
      return []
    }
    return Set(parsed.weightMap.map(\.shard))
  }

  /// The files inside a folder (subfolders only when `recursive`), leaving out hidden files and
  /// the shards of the folder's indexes (each index is one checkpoint). A subfolder holding one
  /// index is one checkpoint.
  package static func files(in folder: String, recursive: Bool) -> [String] {
    var listed = Set<String>()
    for index in indexes(in: folder) { listed.formUnion(shards(listedIn: join(folder, index))) }
    var files: [String] = []
    for name in names(in: folder) where !listed.contains(name) {
      let path = join(folder, name)
      if isFolder(path) {
        // A DCP folder (a training run's step directories) is one checkpoint.
        if isDcp(path) {
          files.append(path)
          continue
        }
        guard recursive else { continue }
        files += indexes(in: path).count == 1 ? [path] : self.files(in: path, recursive: true)
      } else {
        files.append(path)
      }
    }
    return files
  }

  /// A checkpoint extension, or a container's structure (zip, legacy torch stream, tar,
  /// safetensors, a pickle that opens with PROTO).
  package static func looksLikeCheckpoint(_ path: String) -> Bool {
    if isFolder(path) || path.hasSuffix(".index.json") { return true }
    let name = path.split(separator: "/").last.map(String.init) ?? path
    if let dot = name.lastIndex(of: "."),
      checkpointExtensions.contains(name[name.index(after: dot)...].lowercased())
    {
      return true
    }
    guard let source = try? FileSource(path: path), let kind = try? Containers.identify(source)
    else { return false }
    guard case .container(let reader) = kind else { return false }
    if reader == BarePickleReader.self {
      return (try? source.readPrefix(upTo: 1))?.first == 0x80
    }
    return true
  }
}
