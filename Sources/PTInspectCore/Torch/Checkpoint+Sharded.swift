// Checkpoint+Sharded.swift: sharded checkpoints (`model.safetensors.index.json`,
// `pytorch_model.bin.index.json`, or a folder holding one), read as one model. Shards are
// found relative to the index, on disk or remote.

import Dispatch

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

extension Checkpoint {
  /// Opens the index in `source` and every shard it lists; `path` is how the checkpoint is
  /// named (the index, or the folder holding it).
  static func openIndex(_ source: any ByteSource, as path: String, options: OpenOptions)
    throws(CheckpointError) -> Checkpoint
  {
    func fail(_ message: String) -> CheckpointError { CheckpointError(file: path, message) }
    let index = try ShardIndex(source)
    var diagnostics = index.ignored.map {
      Diagnostic(.warning, "the index maps '\($0)' to a non-string value; ignored")
    }
    var mapped: [String: String] = [:]
    for (name, shard) in index.weightMap { mapped[name] = shard }
    let shards = index.shards
    guard !shards.isEmpty else { throw fail("the index lists no shards") }
    var c = Checkpoint(path: path, format: .safetensorsIndex, fileBytes: index.fileBytes)
    c.files = [source]
    c.fileByteOrders = [nil]
    var seenIn: [String: String] = [:]
    var isSafetensors = true
    // Remote shards are fetched concurrently (bounded); local ones are opened in turn.
    let opened =
      source.isRemote
      ? openConcurrently(
        shards.map(index.path(of:)), width: RemoteSettings.current.concurrency, options: options)
      : nil
    for (i, shard) in shards.enumerated() {
      let shardPath = index.path(of: shard)
      let part: Checkpoint
      do throws(CheckpointError) {
        if let result = opened?[i] {
          part = try result.get()
        } else {
          part = try Checkpoint.open(shardPath, options: options, allowIndex: false)
        }
      } catch {
        if case .source(let e) = error.reason, e.isMissing {
          throw fail("shard '\(shard)' listed in the index is missing")
        }
        if case .container("itself an index") = error.reason {
          throw fail("shard '\(shard)' is itself an index")
        }
        throw error
      }
      if part.format == .safetensorsIndex || part.format == .torchIndex {
        throw fail("shard '\(shard)' is itself an index")
      }
      if part.format != .safetensors { isSafetensors = false }
      let file = c.files.count
      c.files += part.files.prefix(1)
      c.fileByteOrders.append(part.byteOrder)
      c.fileBytes += part.fileBytes
      c.globals += part.globals.map {
        NamedGlobal(pickle: shard + ":" + $0.pickle, reference: $0.reference)
      }
      for d in part.diagnostics where d.severity != .info {
        diagnostics.append(Diagnostic(d.severity, "\(shard): \(d.message)"))
      }
      // Storage keys repeat across shards ("0" in each): each is qualified by its file.
      func qualify(_ ref: StorageRef?) -> StorageRef? {
        guard var r = ref else { return nil }
        r.file = file
        return r
      }
      for s in part.storages {
        var record = s
        record.id.file = file
        if case .zipEntry = s.location {} else { record.holderText = "'\(shard)': " + s.holder }
        c.storages.append(record)
      }
      for var s in part.quantizerStorages {
        s.id.file = file
        c.quantizerStorages.append(s)
      }
      for var t in part.modelTensors {
        // The index names tensors as the shard's keys spell them (`model.embed_tokens.weight`):
        // match before any prefix is stripped, and strip a common one once, for the whole model.
        let name =
          t.name.hasPrefix(part.modelPrefix)
          ? String(t.name.dropFirst(part.modelPrefix.count)) : t.name
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
        t.storage = qualify(t.storage)
        t.components = t.components.map {
          var component = $0
          component.storage = qualify(component.storage)
          return component
        }
        if var q = t.quantization {
          q.channelScales?.storage.file = file
          q.channelZeroPoints?.storage.file = file
          t.quantization = q
        }
        c.tensors.append(t)
      }
      c.metadata += part.metadata.map {
        MetadataItem(name: shard + ":" + $0.name, type: $0.type, value: $0.value)
      }
    }
    let missing = mapped.keys.filter { seenIn[$0] == nil }.sorted()
    if let first = missing.first {
      throw fail(
        "tensor '\(first)' is listed in the index (shard '\(mapped[first] ?? "")') but is in no shard"
          + (missing.count > 1 ? " (and \(missing.count - 1) more)" : ""))
    }
    for (key, value) in index.metadata.sorted(by: { $0.key < $1.key }) {
      let isNumber = if case .number = value { true } else { false }
      c.metadata.append(
        MetadataItem(name: "metadata." + key, type: isNumber ? "int" : "str", value: value.text))
    }
    c.format = isSafetensors ? .safetensorsIndex : .torchIndex
    c.diagnostics = diagnostics
    c.stripCommonPrefix()
    c.parts = shards.map { shard in
      let ts = c.tensors.filter { seenIn[$0.name] == shard }
      return CheckpointPart(
        name: shard, role: .shard, tensors: ts.count, elements: ts.reduce(0) { $0 &+ $1.numel },
        bytes: ts.reduce(0) { $0 &+ $1.bytes }, value: nil)
    }
    c.markSharedTensors()
    if let total = index.metadata.first(where: { $0.key == "total_size" })?.value.integer {
      // Tied tensors are stored once, as the index counts them.
      let bytes = c.tensors.reduce(Int64(0)) { $0 &+ ($1.sharedWith == nil ? $1.bytes : 0) }
      if total != bytes {
        c.diagnostics.append(
          Diagnostic(
            .info, "the index's total_size is \(total) bytes; the shards' tensors hold \(bytes)"))
      }
    }
    return c
  }
}

extension Checkpoint {
  /// Opens `paths` on up to `width` threads at once; the results in the order of `paths`.
  static func openConcurrently(_ paths: [String], width: Int, options: OpenOptions)
    -> [Result<Checkpoint, CheckpointError>]
  {
    let results = Locked<[Result<Checkpoint, CheckpointError>?]>(
      Array(repeating: nil, count: paths.count))
    let next = Locked(0)
    let group = DispatchGroup()
    for _ in 0..<max(1, min(width, paths.count)) {
      group.enter()
      detachThread {
        while true {
          let i = next.withLock { n -> Int in
            defer { n += 1 }
            return n
          }
          guard i < paths.count else { break }
          let result: Result<Checkpoint, CheckpointError>
          do throws(CheckpointError) {
            result = .success(try Checkpoint.open(paths[i], options: options, allowIndex: false))
          } catch {
            result = .failure(error)
          }
          results.withLock { $0[i] = result }
        }
        group.leave()
      }
    }
    group.wait()
    return results.current.map {
      $0 ?? .failure(CheckpointError(file: "", "internal: a shard was not opened"))
    }
  }
}
