// Checkpoint.swift: opens a checkpoint file, finds its pickle, interprets it and checks every
// storage its tensors need, from the zip central directory alone (no tensor data is read).

import Foundation
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
}

/// A file that could not be read: one line naming the file and the problem.
public struct CheckpointError: Error, Equatable, Sendable, CustomStringConvertible {
  public var file: String
  public var message: String
  public init(file: String, _ message: String) {
    self.file = file
    self.message = message
  }
  public var description: String { "\(file): \(message)" }
}

/// A note about the file for the user: something odd, inferred or unsafe.
public struct Diagnostic: Sendable, Codable, Equatable {
  public enum Severity: String, Sendable, Codable { case info, warning, error }
  public var severity: Severity
  public var message: String
  public init(_ severity: Severity, _ message: String) {
    self.severity = severity
    self.message = message
  }
}

/// A storage record and what the tensors ask of it.
public struct StorageInfo: Sendable, Codable, Equatable {
  public var key: String
  /// The record holding it (`sd/data/0`).
  public var record: String
  public var dtype: String
  /// Bytes the persistent id declares.
  public var declaredBytes: Int64
  /// Bytes the record holds, from the central directory.
  public var recordBytes: Int64
  /// Bytes of the storage that at least one tensor views.
  public var usedBytes: Int64
  /// `folder/key`, unique within a checkpoint (TorchScript has `data/0` and `constants/0`).
  public var id: String = ""
}

/// Limits applied while opening a checkpoint.
public struct OpenOptions: Sendable {
  /// Largest pickle ptinspect will read into memory.
  public var maxPickleBytes: UInt64 = 1 << 30
  public var pickleLimits = PickleLimits()
  public init() {}
}

/// Everything ptinspect learns from a checkpoint without reading tensor data.
public struct Checkpoint: Sendable {
  public var path: String
  public var format: ContainerFormat
  public var fileBytes: Int64
  /// Every tensor, in the order the pickle holds them.
  public var tensors: [TensorRecord]
  /// Where the model's tensors sit in the file (`model_state_dict.`), "" at the root.
  public var modelPrefix: String
  /// A prefix every model key carries and layer names drop (`module.`, `model.`), or "".
  public var strippedPrefix: String
  public var parts: [CheckpointPart]
  public var metadata: [MetadataItem]
  public var modules: [String: ModuleInfo]
  public var moduleOrder: [String]
  public var storages: [StorageInfo]
  /// Every global each pickle names, with the pickle's record name.
  public var globals: [(pickle: String, reference: GlobalReference)]
  public var diagnostics: [Diagnostic]
  /// The zip's top folder (`sd/`, `archive/`), when a zip.
  public var archiveRoot: String?
  public var pickleProtocol: Int
  public var byteOrder: String?

  /// The model's tensors.
  public var modelTensors: [TensorRecord] { tensors.filter { $0.section == .model } }

  /// A model tensor's name relative to the model (prefixes removed), as layers are named.
  public func layerName(_ t: TensorRecord) -> String {
    var name = Substring(t.name)
    if name.hasPrefix(modelPrefix) { name = name.dropFirst(modelPrefix.count) }
    if name.hasPrefix(strippedPrefix) { name = name.dropFirst(strippedPrefix.count) }
    return String(name)
  }
}

extension Checkpoint {
  /// Opens and interprets the checkpoint at `path`. Errors name the file and the problem.
  public static func open(_ path: String, options: OpenOptions = OpenOptions())
    throws(CheckpointError)
    -> Checkpoint
  {
    let sniff = try Sniffer(path: path)
    switch sniff.kind {
    case .zip:
      return try openZip(path, fileBytes: sniff.fileBytes, options: options)
    case .unsupported(let message), .notCheckpoint(let message):
      throw CheckpointError(file: path, message)
    case .json, .directory:
      return try openIndex(path, sniff: sniff, options: options)
    case .legacy, .pickle, .tar, .safetensors:
      return try openOther(path, sniff: sniff, options: options)
    }
  }

  static func openZip(_ path: String, fileBytes: Int64, options: OpenOptions)
    throws(CheckpointError)
    -> Checkpoint
  {
    func fail(_ message: String) -> CheckpointError { CheckpointError(file: path, message) }
    let archive: ZipArchive
    do {
      archive = try ZipArchive(path: path)
    } catch {
      if case .open(let reason) = error, reason == "not a zip archive" {
        // It starts like a zip (the sniffer saw a local header) but has no central directory.
        throw fail(
          "truncated or corrupt zip archive: the central directory at its end is missing (was the file cut short?)"
        )
      }
      throw fail(error.description)
    }
    let names = archive.entries.map(\.name)
    // The top folder differs from file to file (`sd/`, `archive/`, `resnet18-f37072fd/`).
    let pickles = archive.entries.filter { $0.name == "data.pkl" || $0.name.hasSuffix("/data.pkl") }
    guard let dataPickle = pickles.min(by: { $0.name.count < $1.name.count }) else {
      if names.contains(where: { $0.hasSuffix(".data/version") })
        && names.contains(where: { $0.hasSuffix(".pkl") })
      {
        throw fail("torch.package archive: ptinspect does not read torch.package files")
      }
      if names.contains(where: {
        $0.hasSuffix("archive_format") || $0.contains("/serialized_exported_program")
      }) {
        throw fail("torch.export program (.pt2): ptinspect does not read exported programs")
      }
      if names.contains(where: { $0.hasSuffix("bytecode.pkl") }) {
        throw fail("PyTorch Mobile (lite interpreter) archive: ptinspect does not read .ptl files")
      }
      let shown = names.prefix(3).joined(separator: ", ")
      throw fail(
        "not a PyTorch checkpoint: no data.pkl among the \(names.count) zip entries (\(shown))")
    }
    let root = String(dataPickle.name.dropLast("data.pkl".count))
    let isScript = archive.entry(named: root + "constants.pkl") != nil
    var diagnostics: [Diagnostic] = []
    if isScript, archive.entry(named: root + "bytecode.pkl") != nil {
      diagnostics.append(
        Diagnostic(
          .info,
          "a PyTorch Mobile (lite interpreter) archive: read as TorchScript; bytecode.pkl is not interpreted"
        ))
    }
    let bytes: [UInt8]
    do {
      bytes = try archive.read(dataPickle, limit: options.maxPickleBytes)
    } catch {
      throw fail(error.description)
    }
    let graph: PickleGraph
    do {
      graph = try PickleDecoder(limits: options.pickleLimits).decode(bytes)
    } catch {
      throw fail("\(dataPickle.name): \(error.description)")
    }
    var interpreted: InterpretedPickle
    do {
      interpreted = try TorchInterpreter(graph: graph).interpret()
    } catch {
      throw fail("\(dataPickle.name): \(error.message)")
    }
    var globals = graph.globals.map { (pickle: dataPickle.name, reference: $0) }
    if isScript {
      if let constants = archive.entry(named: root + "constants.pkl") {
        do {
          let cbytes = try archive.read(constants, limit: options.maxPickleBytes)
          let cgraph = try PickleDecoder(limits: options.pickleLimits).decode(cbytes)
          globals += cgraph.globals.map { (pickle: constants.name, reference: $0) }
          var ci = TorchInterpreter(graph: cgraph)
          ci.storageFolder = "constants"
          let constantsPart = try ci.interpret()
          for (t, _) in zip(constantsPart.tensors, constantsPart.tensorParts) {
            var c = t
            c.name = "CONSTANTS.c" + t.name
            c.section = .other
            interpreted.tensors.append(c)
            interpreted.tensorParts.append("CONSTANTS")
          }
        } catch let e as PickleError {
          throw fail("\(constants.name): \(e.description)")
        } catch let e as InterpretError {
          throw fail("\(constants.name): \(e.message)")
        } catch let e as ZipError {
          throw fail(e.description)
        } catch {
          throw fail("\(constants.name): \(error)")
        }
      }
      ScriptCode.classify(&interpreted, archive: archive, root: root)
    }
    var byteOrder: String?
    if let entry = archive.entry(named: root + "byteorder"), entry.size <= 16,
      let raw = try? archive.read(entry, limit: 16)
    {
      byteOrder = String(decoding: raw, as: UTF8.self).trimmingCharacters(
        in: .whitespacesAndNewlines)
      if byteOrder == "big" {
        diagnostics.append(Diagnostic(.info, "tensor data is stored big-endian (byteorder record)"))
      }
    }
    // Every storage a tensor needs must exist and hold the tensor's extent.
    var storages: [String: StorageInfo] = [:]
    var storageOrder: [String] = []
    for t in interpreted.tensors.flatMap(\.storageViews) {
      guard let s = t.storage else { continue }
      let record = root + s.folder + "/" + s.key
      guard let entry = archive.entry(named: record) else {
        throw fail("tensor '\(t.name)' needs storage record '\(record)', which is missing")
      }
      let recordBytes = Int64(clamping: entry.size)
      guard let needed = t.requiredStorageBytes else {
        throw fail("tensor '\(t.name)' has a shape \(t.shape) and stride \(t.stride) that overflow")
      }
      let available = min(recordBytes, s.declaredBytes)
      if needed > available {
        throw fail(
          "tensor '\(t.name)' needs \(needed) bytes of storage '\(s.key)' (offset \(t.storageOffset), shape \(t.shape), stride \(t.stride)), but '\(record)' holds \(recordBytes)"
            + (s.declaredBytes < recordBytes ? " and its id declares \(s.declaredBytes)" : ""))
      }
      if s.declaredBytes > recordBytes {
        throw fail(
          "storage '\(s.key)' declares \(s.declaredBytes) bytes, but '\(record)' holds \(recordBytes)"
        )
      }
      let id = s.folder + "/" + s.key
      if var info = storages[id] {
        info.usedBytes = max(info.usedBytes, needed)
        storages[id] = info
      } else {
        storageOrder.append(id)
        storages[id] = StorageInfo(
          key: s.key, record: record, dtype: s.dtype?.rawValue ?? "untyped",
          declaredBytes: s.declaredBytes, recordBytes: recordBytes, usedBytes: needed, id: id)
      }
    }
    if interpreted.tensors.isEmpty {
      diagnostics.append(Diagnostic(.warning, "the file holds no tensors"))
    }
    for note in interpreted.notes { diagnostics.append(Diagnostic(.warning, note)) }
    var checkpoint = Checkpoint(
      path: path, format: isScript ? .torchscript : .torchZip, fileBytes: fileBytes,
      tensors: interpreted.tensors, modelPrefix: "", strippedPrefix: "", parts: [], metadata: [],
      modules: interpreted.modules, moduleOrder: interpreted.moduleOrder,
      storages: storageOrder.compactMap { storages[$0] }, globals: globals,
      diagnostics: diagnostics, archiveRoot: root.isEmpty ? nil : root,
      pickleProtocol: graph.protocolVersion, byteOrder: byteOrder)
    // The checkpoint owns the records now: drop the walk's copy so updating them does not
    // copy the whole array.
    interpreted.tensors = []
    ModelLocator.locate(&checkpoint, interpreted: interpreted, graph: graph)
    checkpoint.markSharedTensors()
    return checkpoint
  }
}
