// Checkpoint+Sharded.swift: sharded checkpoints (`model.safetensors.index.json`,
// `pytorch_model.bin.index.json`, or a directory holding one), read as one model.

import Foundation
import Pickle

extension Checkpoint {
  static func openIndex(_ path: String, sniff: Sniffer, options: OpenOptions)
    throws(CheckpointError)
    -> Checkpoint
  {
    func fail(_ message: String) -> CheckpointError { CheckpointError(file: path, message) }
    var indexPath = path
    if sniff.kind == .directory {
      let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
      let indexes = names.filter { $0.hasSuffix(".index.json") }.sorted()
      guard indexes.count == 1, let only = indexes.first else {
        throw fail(
          indexes.isEmpty
            ? "is a directory without a checkpoint index (*.index.json): name a checkpoint file"
            : "is a directory with \(indexes.count) checkpoint indexes (\(indexes.joined(separator: ", "))): name one"
        )
      }
      indexPath = (path as NSString).appendingPathComponent(only)
    }
    guard let data = FileManager.default.contents(atPath: indexPath),
      let object = try? JSONSerialization.jsonObject(with: data),
      let root = object as? [String: Any]
    else { throw fail("a JSON file that does not parse as a JSON object") }
    guard let weightMap = root["weight_map"] as? [String: Any] else {
      throw fail("a JSON file without a 'weight_map': not a sharded checkpoint index")
    }
    var diagnostics: [Diagnostic] = []
    var mapped: [String: String] = [:]
    for (name, value) in weightMap {
      guard let file = value as? String else {
        diagnostics.append(
          Diagnostic(.warning, "the index maps '\(name)' to a non-string value; ignored"))
        continue
      }
      mapped[name] = file
    }
    let shards = Set(mapped.values).sorted()
    guard !shards.isEmpty else { throw fail("the index lists no shards") }
    let folder = (indexPath as NSString).deletingLastPathComponent
    var tensors: [TensorRecord] = []
    var storages: [StorageInfo] = []
    var seenIn: [String: String] = [:]
    var fileBytes = Int64(data.count)
    var metadata: [MetadataItem] = []
    var globals: [(pickle: String, reference: GlobalReference)] = []
    var isSafetensors = true
    for shard in shards {
      let shardPath = (folder as NSString).appendingPathComponent(shard)
      guard FileManager.default.fileExists(atPath: shardPath) else {
        throw fail("shard '\(shard)' listed in the index is missing")
      }
      let part = try Checkpoint.open(shardPath, options: options)
      if part.format == .safetensorsIndex || part.format == .torchIndex {
        throw fail("shard '\(shard)' is itself an index")
      }
      if part.format != .safetensors { isSafetensors = false }
      fileBytes += part.fileBytes
      globals += part.globals.map { (pickle: shard + ":" + $0.pickle, reference: $0.reference) }
      for d in part.diagnostics where d.severity != .info {
        diagnostics.append(Diagnostic(d.severity, "\(shard): \(d.message)"))
      }
      for s in part.storages {
        var info = s
        info.key = shard + ":" + s.key
        info.record = shard + ":" + s.record
        info.id = shard + ":" + s.id
        storages.append(info)
      }
      for var t in part.modelTensors {
        let name = part.layerName(t)
        if let other = seenIn[name] {
          diagnostics.append(
            Diagnostic(
              .warning, "tensor '\(name)' is in both '\(other)' and '\(shard)'; the first is used"))
          continue
        }
        seenIn[name] = shard
        if mapped[name] == nil {
          diagnostics.append(
            Diagnostic(.warning, "tensor '\(name)' in '\(shard)' is not in the index"))
        } else if mapped[name] != shard {
          diagnostics.append(
            Diagnostic(
              .warning,
              "tensor '\(name)' is in '\(shard)' but the index maps it to '\(mapped[name] ?? "")'"))
        }
        t.name = name
        // Storage keys repeat across shards ("0" in each); qualify them with the shard.
        func qualify(_ ref: StorageRef?) -> StorageRef? {
          guard var r = ref else { return nil }
          r.folder = shard + ":" + r.folder
          r.file = shardPath
          return r
        }
        t.storage = qualify(t.storage)
        t.components = t.components.map {
          var c = $0
          c.storage = qualify(c.storage)
          return c
        }
        tensors.append(t)
      }
      metadata += part.metadata.map {
        MetadataItem(name: shard + ":" + $0.name, type: $0.type, value: $0.value)
      }
    }
    let missing = mapped.keys.filter { seenIn[$0] == nil }.sorted()
    if let first = missing.first {
      throw fail(
        "tensor '\(first)' is listed in the index (shard '\(mapped[first] ?? "")') but is in no shard"
          + (missing.count > 1 ? " (and \(missing.count - 1) more)" : ""))
    }
    if let meta = root["metadata"] as? [String: Any] {
      for (k, v) in meta.sorted(by: { $0.key < $1.key }) {
        metadata.append(
          MetadataItem(name: "metadata." + k, type: v is NSNumber ? "int" : "str", value: "\(v)"))
      }
      if let total = (meta["total_size"] as? NSNumber)?.int64Value {
        let bytes = tensors.reduce(Int64(0)) { $0 &+ $1.bytes }
        if total != bytes {
          diagnostics.append(
            Diagnostic(
              .info, "the index's total_size is \(total) bytes; the shards' tensors hold \(bytes)"))
        }
      }
    }
    var c = Checkpoint(
      path: path, format: isSafetensors ? .safetensorsIndex : .torchIndex, fileBytes: fileBytes,
      tensors: tensors, modelPrefix: "", strippedPrefix: "", parts: [], metadata: metadata,
      modules: [:],
      moduleOrder: [], storages: storages, globals: globals, diagnostics: diagnostics,
      archiveRoot: nil,
      pickleProtocol: 0, byteOrder: nil)
    c.parts = shards.map { shard in
      let ts = tensors.filter { seenIn[$0.name] == shard }
      return CheckpointPart(
        name: shard, role: "shard", tensors: ts.count, elements: ts.reduce(0) { $0 &+ $1.numel },
        bytes: ts.reduce(0) { $0 &+ $1.bytes }, value: nil)
    }
    c.markSharedTensors()
    return c
  }
}
