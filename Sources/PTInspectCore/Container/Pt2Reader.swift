// Pt2Reader.swift: torch.export `.pt2` archives (torch.export.save, package_pt2): an
// uncompressed zip, every entry under `<stem>/`: `archive_format` ("pt2"), `models/<name>.json`
// (the program: its signature marks each input parameter, buffer or constant),
// `data/weights/<name>_weights_config.json` and `data/constants/<name>_constants_config.json`
// (each tensor's ScalarType, sizes, strides, storage offset and the `weight_N`/`tensor_N`
// entry holding its bytes: raw little-endian, or a torch.save pickle when `use_pickle`).
// The listing reads the JSON entries only. AOTInductor packages hold compiled code instead of
// a weights config: listed with what their `*_metadata.json` and `*.wrapper.cpp` say.

import Pickle

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

enum Pt2Reader: ContainerReader {
  /// A zip that does not open with `data.pkl` or an `.npy` member, whose directory holds an
  /// `archive_format` entry.
  static func probe(_ head: [UInt8], source: any ByteSource) -> Bool {
    guard head.count >= 30, head.starts(with: [0x50, 0x4B, 0x03, 0x04]) else { return false }
    let length = Int(littleEndian(head, at: 26, width: 2))
    guard 30 + length <= head.count else { return false }
    let first = String(decoding: head[30..<30 + length], as: UTF8.self)
    if first.hasSuffix("data.pkl") || first.hasSuffix(".npy") { return false }
    guard let zip = try? ZipFile(source: source, thorough: false) else { return false }
    return zip.entries.contains { isArchiveFormat($0.normalizedName) }
  }

  static func isArchiveFormat(_ name: String) -> Bool {
    name == "archive_format"
      || (name.hasSuffix("/archive_format") && name.split(separator: "/").count == 2)
  }

  /// torch.export's serialized ScalarType numbers.
  static let scalarTypes: [Int64: DType] = [
    1: .uint8, 2: .int8, 3: .int16, 4: .int32, 5: .int64, 6: .float16, 7: .float32, 8: .float64,
    9: .complex32, 10: .complex64, 11: .complex128, 12: .bool, 13: .bfloat16, 28: .uint16,
    29: .float8_e4m3fn, 30: .float8_e5m2, 31: .float8_e4m3fnuz, 32: .float8_e5m2fnuz,
    33: .float8_e8m0fnu, 34: .uint32, 35: .uint64,
  ]

  static func read(_ source: any ByteSource, mode: ReadMode, options: OpenOptions)
    throws(CheckpointError) -> ContainerContents
  {
    var (zip, contents) = try TorchZipReader.contents(source, format: .pt2, mode: mode)
    contents.byteOrder = .little
    let root =
      zip.entries.first { isArchiveFormat($0.normalizedName) }.map {
        String($0.normalizedName.dropLast("archive_format".count))
      } ?? ""
    contents.archiveRoot = root.isEmpty ? nil : root
    if let entry = zip.entry(named: root + "byteorder"), entry.size <= 16,
      let raw = try? zip.read(entry, limit: 16)
    {
      let text = String(decoding: raw, as: UTF8.self).filter { !$0.isWhitespace }
      contents.byteOrder = ByteOrder(rawValue: text) ?? .little
    }
    contents.storageNaming = .zipRecords(root: root)
    do throws(CheckpointError) {
      try readPrograms(zip, root: root, into: &contents, options: options)
    } catch {
      if mode == .strict { throw error }
      contents.errors.append(error.message)
    }
    if mode == .lenient { addPickles(zip, root: root, into: &contents, options: options) }
    return contents
  }

  static func json(_ zip: ZipFile, _ entry: ZipEntry) throws(CheckpointError) -> JSONValue {
    let bytes: [UInt8]
    do {
      bytes = try zip.read(entry, limit: 1 << 28)
    } catch {
      throw CheckpointError(error, file: zip.source.name)
    }
    do {
      return try JSONReader().parse(bytes)
    } catch {
      throw CheckpointError(file: zip.source.name, "\(entry.normalizedName): \(error.description)")
    }
  }

  static func readPrograms(
    _ zip: ZipFile, root: String, into contents: inout ContainerContents, options: OpenOptions
  ) throws(CheckpointError) {
    func fail(_ m: String) -> CheckpointError { CheckpointError(file: zip.source.name, m) }
    let models = zip.entries.map(\.normalizedName).filter {
      $0.hasPrefix(root + "models/") && $0.hasSuffix(".json")
    }.sorted()
    let programs = models.map { String($0.dropFirst((root + "models/").count).dropLast(5)) }
    let aoti = zip.entries.filter { $0.normalizedName.hasPrefix(root + "data/aotinductor/") }
    if !aoti.isEmpty { try listAOTInductor(zip, aoti, root: root, into: &contents) }
    if programs.isEmpty, aoti.isEmpty {
      throw fail("a torch.export archive (.pt2) without programs (no models/*.json)")
    }
    for program in programs {
      guard let modelEntry = zip.entry(named: root + "models/" + program + ".json") else {
        continue
      }
      let model = try json(zip, modelEntry)
      // The signature: which inputs are parameters, buffers (persistent or not), constants.
      var kinds: [String: (kind: String, persistent: Bool?)] = [:]
      for spec in model["graph_module"]?["signature"]?["input_specs"]?.array ?? [] {
        guard let (kind, body) = spec.object?.first else { continue }
        let nameKey = [
          "parameter": "parameter_name", "buffer": "buffer_name",
          "tensor_constant": "tensor_constant_name", "custom_obj": "custom_obj_name",
        ][kind]
        guard let nameKey, let name = body[nameKey]?.string else { continue }
        kinds[name] = (
          kind, body["persistent"].flatMap { if case .bool(let b) = $0 { b } else { nil } }
        )
      }
      let prefix = programs.count > 1 ? program + "." : ""
      var counts = (params: 0, buffers: 0, nonPersistent: 0, constants: 0)
      for (folder, config) in [
        ("data/weights/", "_weights_config.json"), ("data/constants/", "_constants_config.json"),
      ] {
        guard let entry = zip.entry(named: root + folder + program + config) else { continue }
        let value = try json(zip, entry)
        guard let items = value["config"]?.object else {
          throw fail("\(entry.normalizedName): no 'config' object")
        }
        for (fqn, item) in items {
          let signature = kinds[fqn]
          var t = try tensor(
            fqn, item, name: prefix + fqn, folder: String(folder.dropLast()), zip: zip, root: root,
            configName: entry.normalizedName, into: &contents)
          switch signature?.kind {
          case "parameter":
            t.kind = .parameter
            counts.params += 1
          case "buffer":
            t.kind = .buffer
            counts.buffers += 1
            if signature?.persistent == false { counts.nonPersistent += 1 }
          default:
            t.kind = item["is_param"] == .bool(true) ? .parameter : .buffer
            if folder == "data/constants/" {
              t.section = .other
              counts.constants += 1
            }
          }
          t.kindIsExact = signature != nil
          t.role = TorchInterpreter.role(leaf: lastComponent(fqn), kind: t.kind)
          contents.headerTensors.append(t)
        }
      }
      contents.metadata.append(
        MetadataItem(
          name: "program." + program, type: "ExportedProgram",
          value:
            "\(counts.params) parameters, \(counts.buffers) buffers (\(counts.nonPersistent) non-persistent), \(counts.constants) constants"
        ))
    }
    if let entry = zip.entry(named: root + "archive_version"), entry.size < 64,
      let raw = try? zip.read(entry, limit: 64)
    {
      contents.metadata.append(
        MetadataItem(
          name: "archive_version", type: "str", value: "'\(String(decoding: raw, as: UTF8.self))'"))
    }
  }

  /// One tensor of a weights or constants config, its entry checked.
  static func tensor(
    _ fqn: String, _ item: JSONValue, name: String, folder: String, zip: ZipFile, root: String,
    configName: String, into contents: inout ContainerContents
  ) throws(CheckpointError) -> TensorRecord {
    func fail(_ m: String) -> CheckpointError {
      CheckpointError(file: zip.source.name, "\(configName): '\(fqn)' \(m)")
    }
    guard let meta = item["tensor_meta"], let path = item["path_name"]?.string,
      let code = meta["dtype"]?.integer
    else { throw fail("lacks path_name or tensor_meta") }
    guard let dtype = scalarTypes[code] else { throw fail("has unknown ScalarType \(code)") }
    if let layout = meta["layout"]?.integer, layout != 7 {
      throw fail("has layout \(layout), not strided (7)")
    }
    func ints(_ v: JSONValue?) -> [Int64]? {
      guard let a = v?.array else { return nil }
      let out = a.compactMap { $0["as_int"]?.integer }
      return out.count == a.count ? out : nil
    }
    guard let shape = ints(meta["sizes"]), let stride = ints(meta["strides"]),
      stride.count == shape.count, shape.allSatisfy({ $0 >= 0 })
    else { throw fail("has symbolic or invalid sizes or strides") }
    let offset = meta["storage_offset"]?["as_int"]?.integer ?? 0
    guard !path.contains("/"), let entry = zip.entry(named: root + folder + "/" + path) else {
      throw fail("names '\(path)', which the archive does not hold")
    }
    let usePickle = item["use_pickle"] == .bool(true)
    var ref = StorageRef(
      key: path, storageClass: "pt2", dtype: dtype,
      device: meta["device"]?["type"]?.string ?? "cpu",
      count: Int64(clamping: entry.size) / Int64(dtype.itemSize), folder: folder)
    var t = TensorRecord(
      name: name, dtype: dtype, shape: shape, stride: stride, storage: ref,
      storageOffset: offset,
      requiresGrad: meta["requires_grad"].flatMap {
        if case .bool(let b) = $0 { b } else { nil }
      }, kind: .parameter, kindIsExact: true, role: .other, section: .model, layout: .strided,
      quantization: nil, sharedWith: nil, moduleClass: nil)
    let bytes = Int64(clamping: entry.size)
    if usePickle {
      // A torch.save of the tensor: read like a DCP chunk, the whole tensor in one.
      guard ZipFile.isStored(entry), let at = try? zip.dataOffset(of: entry) else {
        throw fail("is a pickled weight in a compressed entry, which is not read")
      }
      ref.folder = "torch-save"
      t.storage = nil
      t.stride = contiguousStride(shape)
      t.storageOffset = 0
      t.chunks = [
        TensorChunk(
          offsets: shape.map { _ in 0 }, sizes: shape, storage: ref, file: entry.normalizedName,
          byteOffset: at, byteLength: bytes)
      ]
      contents.add(
        StorageRecord(
          id: ref.id, location: .range(offset: at, count: bytes), dtype: "untyped",
          declaredBytes: bytes, recordBytes: bytes, usedBytes: bytes,
          holderText: "'\(entry.normalizedName)'"))
      return t
    }
    guard let needed = t.requiredStorageBytes else {
      throw fail("has a shape \(shape) and stride \(stride) that overflow")
    }
    guard needed <= bytes else {
      throw fail(
        "needs \(needed) bytes (offset \(offset), shape \(shape), stride \(stride)), but '\(entry.normalizedName)' holds \(bytes)"
      )
    }
    if var existing = contents.storages[ref.id] {
      existing.usedBytes = max(existing.usedBytes, needed)
      contents.storages[ref.id] = existing
    } else {
      contents.add(
        StorageRecord(
          id: ref.id, location: .zipEntry(entry), dtype: dtype.rawValue, declaredBytes: bytes,
          recordBytes: bytes, usedBytes: needed, holderText: ""))
    }
    return t
  }

  /// An AOTInductor package: its compiled models, what their metadata says, and the constants
  /// its generated wrapper names (their bytes are inside the compiled `.so`: not read).
  static func listAOTInductor(
    _ zip: ZipFile, _ entries: [ZipEntry], root: String, into contents: inout ContainerContents
  ) throws(CheckpointError) {
    var models = Set<String>()
    var described: [String: [String]] = [:]
    for e in entries {
      let rest = e.normalizedName.dropFirst((root + "data/aotinductor/").count)
      let parts = rest.split(separator: "/")
      guard parts.count >= 2 else { continue }
      let model = String(parts[0])
      models.insert(model)
      let file = String(parts.last ?? "")
      if file.hasSuffix(".wrapper.so") || file.hasSuffix(".so") {
        described[model, default: []].append("compiled wrapper '\(file)' (\(e.size) bytes)")
        contents.metadata.append(
          MetadataItem(
            name: "aotinductor.\(model).compiled", type: "bytes",
            value: "'\(file)' (\(e.size) bytes of compiled code holding the weights)"))
      }
      if file.hasSuffix("wrapper_metadata.json") {
        let m = try json(zip, e)
        let isa = m["AOTI_CPU_ISA"]?.string ?? ""
        described[model, default: []].insert(
          "device \(m["AOTI_DEVICE_KEY"]?.string ?? "?"), platform \(m["AOTI_PLATFORM"]?.string ?? "?") \(m["AOTI_MACHINE"]?.string ?? "")"
            + (isa.isEmpty ? "" : ", CPU ISA \(isa)"), at: 0)
        for (k, v) in m.object ?? [] {
          contents.metadata.append(
            MetadataItem(name: "aotinductor.\(model).\(k)", type: "str", value: "'\(v.text)'"))
        }
      }
      if file.hasSuffix(".wrapper.cpp"), e.size < 1 << 26,
        let raw = try? zip.read(e, limit: 1 << 26)
      {
        let constants = wrapperConstants(String(decoding: raw, as: UTF8.self))
        described[model, default: []].append(
          "\(constants.count) constant\(constants.count == 1 ? "" : "s") named in its wrapper"
            + (constants.isEmpty
              ? ""
              : ": "
                + constants.prefix(8).map { "\($0.fqn) \($0.dtype) \($0.shape)" }.joined(
                  separator: ", ")
                + (constants.count > 8 ? ", ..." : "")))
        for c in constants {
          contents.metadata.append(
            MetadataItem(
              name: "aotinductor.\(model).constant.\(c.fqn)", type: "tensor",
              value:
                "\(c.dtype) \(c.shape) stride \(c.stride), \(c.bytes) bytes in the compiled code"))
        }
      }
    }
    for model in models.sorted() {
      contents.diagnostics.append(
        Diagnostic(
          .info,
          "AOTInductor model '\(model)': " + (described[model] ?? []).joined(separator: "; ")))
    }
    contents.diagnostics.append(
      Diagnostic(
        .warning,
        "an AOTInductor package (\(models.sorted().joined(separator: ", "))): compiled code for torch._inductor.aoti_load_package, its weights inside the compiled .so; models, device, platform, ISA and the constants its wrapper names are listed, no tensor values are read"
      ))
  }

  /// The constants a `.wrapper.cpp` names: `constants_info_[i].original_fqn = "fc.weight";`,
  /// with its dtype, shape, stride and data_size.
  static func wrapperConstants(_ text: String) -> [(
    fqn: String, dtype: String, shape: String, stride: String, bytes: String
  )] {
    var fields: [Int: [String: String]] = [:]
    for line in text.split(separator: "\n") where line.contains("constants_info_[") {
      let l = line.trimmingSpaces()
      guard let open = l.firstIndex(of: "["), let close = l.firstIndex(of: "]"),
        let index = Int(l[l.index(after: open)..<close]), let eq = l.range(of: " = ")
      else { continue }
      let key = l[l.index(after: close)..<eq.lowerBound].drop { $0 == "." }
      var value = String(l[eq.upperBound...])
      if value.hasSuffix(";") { value.removeLast() }
      fields[index, default: [:]][String(key)] = value.replacingOccurrences(of: "\"", with: "")
    }
    return fields.keys.sorted().compactMap { i in
      let f = fields[i] ?? [:]
      guard let fqn = f["original_fqn"] ?? f["name"] else { return nil }
      let dtype = (f["dtype"] ?? "?").replacingOccurrences(of: "cached_torch_dtype_", with: "")
      return (fqn, dtype, f["shape"] ?? "?", f["stride"] ?? "?", f["data_size"] ?? "?")
    }
  }

  /// Scans: `sample_inputs/*.pt` and pickled weights are torch.save archives; other `.pkl`
  /// entries are pickles too.
  static func addPickles(
    _ zip: ZipFile, root: String, into contents: inout ContainerContents, options: OpenOptions
  ) {
    for e in zip.entries {
      let name = e.normalizedName
      let nested =
        name.hasPrefix(root + "data/sample_inputs/")
        || ((name.hasPrefix(root + "data/weights/") || name.hasPrefix(root + "data/constants/"))
          && !name.hasSuffix(".json"))
      if nested, ZipFile.isStored(e), let at = try? zip.dataOffset(of: e) {
        let count = Int64(clamping: e.size)
        guard count >= 4, at + count <= zip.source.size,
          (try? zip.source.read(at: at, count: 4)) == [0x50, 0x4B, 0x03, 0x04]
        else { continue }
        contents.embed(
          SliceSource(zip.source, offset: at, count: count), as: name, options: options)
      } else if TorchZipReader.isPickleName(name),
        let bytes = try? TorchZipReader.pickleBytes(zip, e, limit: options.maxPickleBytes)
      {
        contents.pickles.append(PickleSource(name: name, role: .other, bytes: bytes, context: name))
      }
    }
    contents.notes.append(
      "a torch.export archive: its programs are JSON; torch.export.load reads sample inputs and pickled weights with torch.load"
    )
  }
}
