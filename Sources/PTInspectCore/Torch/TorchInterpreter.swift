// TorchInterpreter.swift: turns a decoded pickle graph into tensor records, by recognising
// torch's rebuild functions structurally. Nothing is imported, called or evaluated.

import Pickle

/// A checkpoint that cannot be interpreted: the pickle decoded, but its content is not what
/// torch writes.
public struct InterpretError: Error, Equatable, Sendable, CustomStringConvertible {
  /// What is not as torch writes it, one sentence.
  public var message: String
  /// An error saying `message`.
  package init(_ message: String) { self.message = message }
  /// The message.
  public var description: String { message }
}

/// A non-tensor value found in the checkpoint, shown as checkpoint metadata.
public struct MetadataItem: Sendable, Codable, Equatable {
  /// Dotted path from the root.
  public var name: String
  /// Python-like type name: `int`, `float`, `str`, `dict`, `numpy.float64`, ...
  public var type: String
  /// A short Python-like rendering, cut at about 120 characters.
  public var value: String
}

/// What a module object (whole-model pickle or TorchScript) says about itself.
package struct ModuleInfo: Sendable, Equatable {
  /// Module path relative to the model root (`features.0`), "" for the root.
  package var path: String
  /// The class's qualified name (`torch.nn.modules.conv.Conv2d`).
  package var className: String
  /// Scalar hyper-parameters from the object state (`kernel_size`: `(3, 3)`), in order.
  package var attributes: [(name: String, value: String)]

  package static func == (a: ModuleInfo, b: ModuleInfo) -> Bool {
    a.path == b.path && a.className == b.className
      && a.attributes.map(\.name) == b.attributes.map(\.name)
      && a.attributes.map(\.value) == b.attributes.map(\.value)
  }
}

/// The tensors and other content of one decoded pickle.
package struct InterpretedPickle: Sendable {
  package var tensors: [TensorRecord] = []
  /// For each tensor, the root-dict key it sits under ("" when the root is not a dict).
  package var tensorParts: [String] = []
  /// Module objects met while walking, keyed by their dotted path from the root.
  package var modules: [String: ModuleInfo] = [:]
  /// Module paths in the order met.
  package var moduleOrder: [String] = []
  /// Root-dict keys in order, with their values (empty when the root is not a dict).
  package var rootEntries: [PickleEntry] = []
  package var notes: [String] = []
}

extension InterpretedPickle {
  /// Records a module met on the walk (the first time, its place in the order).
  mutating func add(_ info: ModuleInfo) {
    if modules.updateValue(info, forKey: info.path) == nil { moduleOrder.append(info.path) }
  }
}

/// Walks a pickle graph and recognises tensors.
package struct TorchInterpreter {
  package let graph: PickleGraph
  /// Records folder for storage keys (`data`, or `constants` for TorchScript constants).
  package var storageFolder: String
  /// Most nodes the walk may visit (bounds DAGs whose paths multiply).
  package var maxVisits = 20_000_000
  /// Tensors the legacy tar container defines outside the pickle, by persistent id.
  package var persistentTensors: [String: TensorFacts] = [:]

  package init(graph: PickleGraph, storageFolder: String = "data") {
    self.graph = graph
    self.storageFolder = storageFolder
  }

  // MARK: small accessors

  func string(_ v: PickleValue) -> String? {
    if case .string(let s) = v { return s }
    return nil
  }

  func int(_ v: PickleValue) -> Int64? { v.intValue }

  func bool(_ v: PickleValue) -> Bool? {
    switch v {
    case .bool(let b): return b
    case .int(let i): return i != 0
    default: return nil
    }
  }

  /// A tuple/list of ints, also through `torch.Size((...))`.
  func ints(_ v: PickleValue) -> [Int64]? {
    if let items = graph.sequence(v) {
      var out: [Int64] = []
      out.reserveCapacity(items.count)
      for item in items {
        guard let i = int(item) else { return nil }
        out.append(i)
      }
      return out
    }
    if let o = graph.object(v), let g = graph.global(o.callable), g.name == "Size",
      let args = graph.sequence(o.args), args.count == 1
    {
      return ints(args[0])
    }
    if case .bigInt = v { return nil }
    return nil
  }

  /// The class an object was made from, through a legacy `('module', cls, ...)` persistent id.
  func className(_ callable: PickleValue) -> String? {
    if let g = graph.global(callable) { return normalized(g).qualifiedName }
    if case .persistentID(let pid)? = graph.node(callable), let items = graph.sequence(pid),
      items.count >= 2, string(items[0]) == "module", let g = graph.global(items[1])
    {
      return normalized(g).qualifiedName
    }
    return nil
  }

  /// Python 2 module spellings as Python 3 names them.
  func normalized(_ g: PickleGlobal) -> PickleGlobal {
    if g.module.utf8.first != UInt8(ascii: "_") && g.module.utf8.first != UInt8(ascii: "c") {
      return g
    }
    switch g.module {
    case "__builtin__": return PickleGlobal(module: "builtins", name: g.name)
    case "copy_reg": return PickleGlobal(module: "copyreg", name: g.name)
    default: return g
    }
  }

  // MARK: storages

  /// A `('storage', class, key, location, count[, view])` persistent id.
  func storage(_ v: PickleValue) throws(InterpretError) -> StorageRef {
    guard case .persistentID(let pid)? = graph.node(v) else {
      throw InterpretError("expected a storage persistent id, found \(kindName(v))")
    }
    guard let items = graph.sequence(pid), items.count >= 5, string(items[0]) == "storage" else {
      throw InterpretError("malformed storage persistent id")
    }
    guard let cls = graph.global(items[1]) else {
      throw InterpretError("storage persistent id without a storage class")
    }
    let key: String
    if let s = string(items[2]) {
      key = s
    } else if let i = int(items[2]) {
      key = String(i)
    } else {
      throw InterpretError("storage persistent id with a non-string key")
    }
    guard let count = int(items[4]), count >= 0 else {
      throw InterpretError("storage '\(key)' has an invalid element count")
    }
    guard let dtype = Self.storageDType(className: cls.name) else {
      throw InterpretError("storage '\(key)' has unknown class \(cls.qualifiedName)")
    }
    return StorageRef(
      key: key, storageClass: cls.name, dtype: dtype, device: string(items[3]) ?? "?",
      count: count, folder: storageFolder)
  }

  /// The element type of a storage class (`FloatStorage`): `.some(nil)` for an untyped (byte)
  /// storage, nil when the name is no storage class.
  static func storageDType(className: String) -> DType?? {
    if className == "UntypedStorage" || className == "_UntypedStorage" { return .some(nil) }
    return DType(storageClass: className).map { .some($0) }
  }

  /// What a value is, for messages, with an object's class (`a torch.Size object`).
  func kindName(_ v: PickleValue) -> String {
    if case .object(let o)? = graph.node(v) { return "a \(className(o.callable) ?? "call") object" }
    return graph.describe(v)
  }

  // MARK: tensors

  /// The tensor a value rebuilds, if it is a tensor; nil for anything else.
  package func tensor(_ v: PickleValue) throws(InterpretError) -> TensorFacts? {
    if !persistentTensors.isEmpty, case .persistentID(let pid)? = graph.node(v) {
      if let key = string(pid) ?? int(pid).map({ String($0) }) { return persistentTensors[key] }
      return nil
    }
    guard let o = graph.object(v) else { return nil }
    if let state = o.state, o.kind == .newObj || o.kind == .reduce,
      let parts = graph.sequence(state),
      parts.count >= 4, let cls = className(o.callable), cls.hasPrefix("torch."),
      cls.hasSuffix("Tensor")
    {
      // Pre-1.0 tensors: an empty FloatTensor, then BUILD (storage, offset, size, stride).
      return try dense(
        storage: parts[0], offset: parts[1], size: parts[2], stride: parts[3], requiresGrad: nil,
        dtype: nil, name: "legacy tensor")
    }
    guard let g = graph.global(o.callable) else { return nil }
    return try call(normalized(g), args: graph.sequence(o.args) ?? [], depth: 0)
  }

  func call(_ g: PickleGlobal, args: [PickleValue], depth: Int) throws(InterpretError)
    -> TensorFacts?
  {
    guard depth < 8 else { throw InterpretError("tensor rebuild calls nested too deep") }
    let fn = g.name
    func need(_ n: Int) throws(InterpretError) {
      guard args.count >= n else {
        throw InterpretError("\(fn) has \(args.count) arguments, expected \(n)")
      }
    }
    switch (g.module, fn) {
    case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"),
      ("fastai.torch_core", "_fa_rebuild_tensor"):
      try need(4)
      return try dense(
        storage: args[0], offset: args[1], size: args[2], stride: args[3],
        requiresGrad: args.count > 4 ? bool(args[4]) : nil, dtype: nil, name: fn)
    case ("torch._utils", "_rebuild_tensor_v3"):
      try need(7)
      guard let dg = graph.global(args[6]), let dtype = DType(torchName: dg.name) else {
        throw InterpretError("_rebuild_tensor_v3 without a known dtype")
      }
      return try dense(
        storage: args[0], offset: args[1], size: args[2], stride: args[3],
        requiresGrad: bool(args[4]), dtype: dtype, name: fn)
    case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
      try need(2)
      guard var inner = try tensor(args[0]) else {
        throw InterpretError("\(fn) does not wrap a tensor")
      }
      inner.requiresGrad = bool(args[1])
      inner.isParameter = true
      return inner
    case ("torch.nn.parameter", "Parameter"):
      guard let first = args.first, var inner = try tensor(first) else { return nil }
      inner.requiresGrad = args.count > 1 ? bool(args[1]) ?? true : true
      inner.isParameter = true
      return inner
    case ("torch._tensor", "_rebuild_from_type_v2"), ("fastai.torch_core", "_rebuild_from_type"):
      try need(3)
      guard let fg = graph.global(args[0]).map(normalized) else { return nil }
      let innerArgs = graph.sequence(args[2]) ?? []
      let state = args.count > 3 ? stateEntries(args[3]) : []
      if fg.module == "torch.nested._internal.nested_tensor", fg.name == "_rebuild_njt" {
        return try jagged(innerArgs, state: state)
      }
      guard var inner = try call(fg, args: innerArgs, depth: depth + 1) else {
        return try unknownRebuild(fg, arguments: innerArgs + state.map(\.value), depth: depth)
      }
      if let t = graph.global(args[1]), t.name == "Parameter" { inner.isParameter = true }
      if !state.isEmpty, inner.layout == .wrapperSubclass {
        return try subclass(inner, className: className(args[1]), state: state, depth: depth)
      }
      return inner
    case ("torch._utils", "_rebuild_nested_tensor"):
      try need(4)
      return try nested(args, depth: depth)
    case ("torch._utils", "_rebuild_qtensor"):
      try need(5)
      var facts = try dense(
        storage: args[0], offset: args[1], size: args[2], stride: args[3],
        requiresGrad: args.count > 5 ? bool(args[5]) : nil, dtype: nil, name: fn)
      facts.quantization = quantization(args[4])
      return facts
    case ("torch._utils", "_rebuild_meta_tensor_no_storage"):
      try need(3)
      guard let dg = graph.global(args[0]), let dtype = DType(torchName: dg.name),
        let size = ints(args[1]), let stride = ints(args[2])
      else { throw InterpretError("malformed _rebuild_meta_tensor_no_storage arguments") }
      return TensorFacts(
        dtype: dtype, shape: size, stride: stride, storage: nil, offset: 0,
        requiresGrad: args.count > 3 ? bool(args[3]) : nil, layout: .meta)
    case ("torch._utils", "_rebuild_wrapper_subclass"):
      try need(5)
      guard let dg = graph.global(args[1]), let dtype = DType(torchName: dg.name),
        let size = ints(args[2]), let stride = ints(args[3])
      else { throw InterpretError("malformed _rebuild_wrapper_subclass arguments") }
      return TensorFacts(
        dtype: dtype, shape: size, stride: stride, storage: nil, offset: int(args[4]) ?? 0,
        requiresGrad: args.count > 7 ? bool(args[7]) : nil, layout: .wrapperSubclass)
    case ("torch._utils", "_rebuild_sparse_tensor"):
      try need(2)
      return try sparse(layout: args[0], data: args[1], depth: depth)
    case ("torch._utils", "_rebuild_device_tensor_from_cpu_tensor"):
      try need(1)
      return try tensor(args[0])
    default:
      // Another of torch's rebuild functions (`_rebuild_xla_tensor`, a future one): listed with
      // what its arguments hold, never dropped.
      guard g.module.hasPrefix("torch"), fn.hasPrefix("_rebuild") else { return nil }
      return try unknownRebuild(g, arguments: args, depth: depth)
    }
  }

  // MARK: composite tensors

  /// The attributes a `_rebuild_from_type_v2` state sets: a dict, or `(dict, slots)`.
  func stateEntries(_ v: PickleValue) -> [PickleEntry] {
    if let entries = dictEntries(v) { return entries }
    guard let parts = graph.sequence(v) else { return [] }
    return parts.flatMap { dictEntries($0) ?? [] }
  }

  /// The tensors among named values, in order.
  func tensorEntries(_ entries: [PickleEntry], depth: Int) throws(InterpretError)
    -> [(String, TensorFacts)]
  {
    var out: [(String, TensorFacts)] = []
    for e in entries {
      if let f = try tensorValue(e.value, depth: depth) { out.append((keyName(e.key), f)) }
    }
    return out
  }

  /// A value that is a tensor, through rebuild calls at any depth below `depth`.
  func tensorValue(_ v: PickleValue, depth: Int) throws(InterpretError) -> TensorFacts? {
    guard let o = graph.object(v), let g = graph.global(o.callable) else { return try tensor(v) }
    return try call(normalized(g), args: graph.sequence(o.args) ?? [], depth: depth + 1)
  }

  /// `_rebuild_nested_tensor(values, sizes, strides, storage_offsets)`: a strided nested tensor,
  /// its values one flat buffer and its per-tensor sizes, strides and offsets three more.
  func nested(_ args: [PickleValue], depth: Int) throws(InterpretError) -> TensorFacts {
    var components: [(String, TensorFacts)] = []
    for (i, n) in ["values", "sizes", "strides", "offsets"].enumerated() {
      guard let f = try tensorValue(args[i], depth: depth) else {
        throw InterpretError("_rebuild_nested_tensor: \(n) is not a tensor")
      }
      components.append((n, f))
    }
    let values = components[0].1
    let sizes = components[1].1.shape
    var facts = TensorFacts(
      dtype: values.dtype, shape: values.shape, stride: values.stride, storage: nil, offset: 0,
      requiresGrad: values.requiresGrad, layout: .nested("nested_strided"))
    facts.components = components
    facts.detail =
      "\(sizes.first ?? 0) tensors of \(sizes.count > 1 ? sizes[1] : 0) dims in one "
      + "\(Format.count(values.shape.first ?? 0))-element buffer"
    return facts
  }

  /// `_rebuild_njt({values, offsets, lengths, _ragged_idx, ...})`: a jagged nested tensor, its
  /// rows packed in `values` and delimited by `offsets`.
  func jagged(_ args: [PickleValue], state: [PickleEntry]) throws(InterpretError)
    -> TensorFacts
  {
    let kwargs = args.first.flatMap(dictEntries) ?? []
    // `_metadata_cache` holds min/max sequence lengths as tensors too: stored bytes.
    let cache = kwargs.first { keyName($0.key) == "_metadata_cache" }.flatMap {
      dictEntries($0.value)
    }
    let parts = try tensorEntries(kwargs + (cache ?? []), depth: 0)
    guard let values = parts.first(where: { $0.0 == "values" })?.1 else {
      throw InterpretError("_rebuild_njt without a values tensor")
    }
    let raggedIndex = kwargs.first { keyName($0.key) == "_ragged_idx" }.flatMap { int($0.value) }
    let offsets = parts.first { $0.0 == "offsets" }?.1.shape.first ?? 1
    var facts = TensorFacts(
      dtype: values.dtype, shape: values.shape, stride: values.stride, storage: nil, offset: 0,
      requiresGrad: nil, layout: .nested("jagged"))
    if let r = kwargs.first(where: { keyName($0.key) == "requires_grad" }) {
      facts.requiresGrad = bool(r.value)
    }
    facts.components = parts
    let tail = values.shape.dropFirst().map(String.init)
    facts.detail =
      "\(max(0, offsets - 1)) tensors of shape (j\(tail.map { ", " + $0 }.joined()))"
      + (raggedIndex.map { ", ragged in dim \($0)" } ?? "")
    return facts
  }

  /// A wrapper subclass (torchao's `Int8Tensor`, `Float8Tensor`, ...) whose state holds the
  /// tensors it is stored as: listed with those components, its logical shape and dtype kept.
  func subclass(
    _ wrapper: TensorFacts, className: String?, state: [PickleEntry], depth: Int
  ) throws(InterpretError) -> TensorFacts {
    var facts = wrapper
    let parts = try tensorEntries(state, depth: depth)
    guard !parts.isEmpty else { return wrapper }
    let cls = className ?? "?"
    facts.layout = .subclass(cls)
    facts.components = parts
    var attributes: [String] = []
    for e in state where !parts.contains(where: { $0.0 == keyName(e.key) }) {
      if let text = scalarText(e.value), text != "None" {
        attributes.append("\(keyName(e.key))=\(text)")
      }
    }
    facts.detail = attributes.isEmpty ? nil : attributes.joined(separator: ", ")
    let scale = parts.first { $0.0 == "scale" || $0.0.hasSuffix("_scale") }?.1
    let zero = parts.first { $0.0 == "zero_point" || $0.0.hasSuffix("zero_point") }?.1
    var q = Quantization(scheme: lastComponent(cls))
    q.tensorClass = cls
    q.blockSize = state.first { keyName($0.key) == "block_size" }.flatMap { ints($0.value) }
    q.scaleDtype = scale?.dtype.rawValue
    q.zeroPointDtype = zero?.dtype.rawValue
    if cls.hasPrefix("torchao.") || scale != nil { facts.quantization = q }
    return facts
  }

  /// A rebuild ptinspect does not know: listed under its function's name with the tensors its
  /// arguments hold (searched two levels down), never dropped.
  func unknownRebuild(_ g: PickleGlobal, arguments: [PickleValue], depth: Int)
    throws(InterpretError) -> TensorFacts
  {
    var found: [(String, TensorFacts)] = []
    func search(_ v: PickleValue, _ label: String, _ level: Int) throws(InterpretError) {
      if let f = try? tensorValue(v, depth: depth) {
        found.append((label, f))
        return
      }
      guard level < 2, found.count < 64 else { return }
      if let entries = dictEntries(v) {
        for e in entries { try search(e.value, keyName(e.key), level + 1) }
      } else if let items = graph.sequence(v) {
        for (i, item) in items.enumerated() { try search(item, "\(label)\(i)", level + 1) }
      }
    }
    for (i, a) in arguments.enumerated() { try search(a, "arg\(i)", 0) }
    let first = found.first?.1
    var facts = TensorFacts(
      dtype: first?.dtype ?? .uint8, shape: [], stride: [], storage: nil, offset: 0,
      requiresGrad: nil, layout: .unknown(g.qualifiedName))
    facts.components = found
    return facts
  }

  func dense(
    storage sv: PickleValue, offset ov: PickleValue, size sz: PickleValue, stride st: PickleValue,
    requiresGrad: Bool?, dtype explicit: DType?, name fn: String
  ) throws(InterpretError) -> TensorFacts {
    let ref = try storage(sv)
    guard let offset = int(ov), offset >= 0 else {
      throw InterpretError("\(fn) has an invalid storage offset")
    }
    guard let size = ints(sz) else { throw InterpretError("\(fn) has an invalid size") }
    guard let stride = ints(st), stride.count == size.count else {
      throw InterpretError("\(fn) has an invalid stride for size \(size)")
    }
    guard size.allSatisfy({ $0 >= 0 }) else {
      throw InterpretError("\(fn) has a negative dimension in size \(size)")
    }
    guard let dtype = explicit ?? ref.dtype else {
      throw InterpretError("\(fn) on an untyped storage without a dtype")
    }
    return TensorFacts(
      dtype: dtype, shape: size, stride: stride, storage: ref, offset: offset,
      requiresGrad: requiresGrad, layout: .strided)
  }

  /// `_rebuild_sparse_tensor(layout, data)`: COO data is (indices, values, size[, coalesced]);
  /// compressed layouts are (compressed_indices, plain_indices, values, size).
  func sparse(layout lv: PickleValue, data dv: PickleValue, depth: Int) throws(InterpretError)
    -> TensorFacts
  {
    var layout = "sparse"
    if let o = graph.object(lv), let a = graph.sequence(o.args), let first = a.first,
      let s = string(first)
    {
      layout = s.hasPrefix("torch.") ? String(s.dropFirst(6)) : s
    } else if let g = graph.global(lv) {
      layout = g.name
    }
    guard let data = graph.sequence(dv) else {
      throw InterpretError("_rebuild_sparse_tensor without data")
    }
    let names: [String]
    switch layout {
    case "sparse_coo": names = ["indices", "values"]
    case "sparse_csc", "sparse_bsc": names = ["ccol_indices", "row_indices", "values"]
    default: names = ["crow_indices", "col_indices", "values"]
    }
    guard data.count > names.count, let size = ints(data[names.count]) else {
      throw InterpretError("_rebuild_sparse_tensor (\(layout)) with malformed data")
    }
    var components: [(String, TensorFacts)] = []
    for (i, n) in names.enumerated() {
      guard let facts = try tensor(data[i]) else {
        throw InterpretError("_rebuild_sparse_tensor (\(layout)): \(n) is not a tensor")
      }
      components.append((n, facts))
    }
    guard let values = components.last?.1 else {
      throw InterpretError("sparse tensor without values")
    }
    var facts = TensorFacts(
      dtype: values.dtype, shape: size, stride: [], storage: nil, offset: 0, requiresGrad: nil,
      layout: .sparse(layout))
    facts.components = components
    return facts
  }

  func quantization(_ v: PickleValue) -> Quantization? {
    guard let items = graph.sequence(v), let first = items.first, let g = graph.global(first) else {
      return nil
    }
    var q = Quantization(scheme: g.name)
    if g.name.hasPrefix("per_tensor") {
      if items.count > 1, case .float(let s) = items[1] { q.scale = s }
      if items.count > 2 { q.zeroPoint = int(items[2]) }
    } else if items.count > 3 {
      q.axis = int(items[3])
      // (scheme, scales tensor, zero points tensor, axis): keep where the tensors' values are.
      func quantizerTensor(_ v: PickleValue) -> QuantizerTensor? {
        guard let f = (try? tensor(v)) ?? nil, let s = f.storage else { return nil }
        return QuantizerTensor(
          dtype: f.dtype, shape: f.shape, stride: f.stride, storage: s, storageOffset: f.offset)
      }
      q.channelScales = quantizerTensor(items[1])
      q.channelZeroPoints = quantizerTensor(items[2])
    }
    return q
  }
}

extension Quantization {
  init(scheme: String) {
    self.init(scheme: scheme, scale: nil, zeroPoint: nil, axis: nil)
  }
}

/// A recognised tensor, before it is given a name and a place in the checkpoint.
package struct TensorFacts: Sendable {
  package var dtype: DType
  package var shape: [Int64]
  package var stride: [Int64]
  package var storage: StorageRef?
  package var offset: Int64
  package var requiresGrad: Bool?
  package var layout: TensorLayout
  package var quantization: Quantization? = nil
  /// True when the file wraps it as an `nn.Parameter`.
  package var isParameter = false
  /// The dense tensors a sparse, nested or subclass tensor is stored as, by name.
  package var components: [(String, TensorFacts)] = []
  /// One line on a composite tensor's structure (`2 tensors of shape (j, 3), ragged in dim 1`).
  package var detail: String? = nil
}
