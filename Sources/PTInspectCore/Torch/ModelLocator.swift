// ModelLocator.swift: finds the model's own state inside a checkpoint dict and labels the rest
// (optimizer state, EMA copies, schedulers, plain values) as checkpoint anatomy.

import Pickle

/// What a top-level part of a checkpoint is.
public enum PartRole: String, Sendable, Codable {
  case model, ema, optimizer, scheduler
  /// Other tensors.
  case tensors
  /// A value without tensors.
  case value
  /// A shard file of a sharded checkpoint.
  case shard
}

/// One top-level part of a checkpoint: what it is and what it weighs.
public struct CheckpointPart: Sendable, Codable, Equatable {
  /// The root-dict key (the shard's file name, for a sharded checkpoint), or "" when the root
  /// object is itself the state.
  public var name: String
  /// What the part is: the model, optimizer state, an EMA copy, a value, ...
  public var role: PartRole
  /// Its tensors.
  public var tensors: Int
  /// Their elements.
  public var elements: Int64
  /// Their bytes as stored (tied tensors once).
  public var bytes: Int64
  /// For parts without tensors: a short rendering of the value.
  public var value: String?
}

extension Checkpoint {
  /// Prefixes wrappers put before every key: DataParallel/DDP, torch.compile, Lightning and
  /// Hugging Face base models.
  static let wrapperPrefixes = ["module.", "_orig_mod.", "model."]

  /// Drops from layer names a wrapper prefix every model key carries (`module.`), once.
  mutating func stripCommonPrefix() {
    // Compared as UTF-8 bytes in place: no layer name is built.
    let model = modelPrefix
    func layerNameStarts(with prefix: String, _ t: TensorRecord) -> Bool {
      let start = model.isEmpty || !t.name.utf8HasPrefix(model) ? 0 : model.utf8.count
      return t.name.utf8HasPrefix(prefix, at: start)
    }
    guard tensors.contains(where: { $0.section == .model }) else { return }
    for prefix in Self.wrapperPrefixes {
      if tensors.allSatisfy({ $0.section != .model || layerNameStarts(with: prefix, $0) }) {
        strippedPrefix = prefix
        diagnostics.append(
          Diagnostic(
            .info, "every model key starts with '\(prefix)'; layer names are shown without it"))
        return
      }
    }
  }
}

enum ModelLocator {
  static let modelKeys = [
    "state_dict", "model_state_dict", "model", "module", "net", "network", "model_state",
    "state", "weights", "params", "generator", "student", "backbone",
  ]
  static let emaKeys = [
    "ema", "model_ema", "ema_state_dict", "ema_model", "state_dict_ema", "shadow", "params_ema",
    "ema_state",
  ]
  static let optimizerKeys = [
    "optimizer", "optimizer_state_dict", "optimizer_states", "optim", "opt", "optimizer_state",
  ]
  static let schedulerKeys = [
    "scheduler", "lr_scheduler", "lr_schedulers", "scheduler_state_dict", "sched",
  ]

  static func locate(
    _ c: inout Checkpoint, interpreted: InterpretedPickle, graph: PickleGraph?,
    persistentTensors: [String: TensorFacts] = [:]
  ) {
    // Without a graph, the state-dict fast path read the pickle: a dict whose every entry is a
    // tensor, the model with nothing beside it, as a root that is not a dict is.
    var interpreter = graph.map { TorchInterpreter(graph: $0) }
    interpreter?.persistentTensors = persistentTensors
    let isDictRoot =
      interpreter.map { !interpreted.rootEntries.isEmpty || $0.dictEntries($0.graph.root) != nil }
      ?? false
    // Root keys that are tensors themselves (a state dict), from the walk's own names; compared
    // in place, by index (the records are not copied). Only root entries are looked up in it.
    var tensorKeys = Set<String>()
    let tensorParts = interpreted.tensorParts
    if !interpreted.rootEntries.isEmpty {
      for i in c.tensors.indices where c.tensors[i].name == tensorParts[i] {
        tensorKeys.insert(tensorParts[i])
      }
    }
    let rootIsModel =
      !isDictRoot
      || (!interpreted.rootEntries.isEmpty
        && tensorKeys.count * 2 >= interpreted.rootEntries.count)
    // A state dict at the root is one part, the model, whatever its keys.
    func part(_ i: Int) -> String { rootIsModel ? "" : tensorParts[i] }
    // Tensor statistics per part, in root order: a part's tensors come in a run, so a run is
    // added up before its one dictionary update.
    var stats: [String: (tensors: Int, elements: Int64, bytes: Int64)] = [:]
    var i = 0
    while i < c.tensors.count {
      let key = part(i)
      var s = stats[key] ?? (0, 0, 0)
      while i < c.tensors.count, part(i) == key {
        s.tensors += 1
        s.elements &+= c.tensors[i].numel
        s.bytes &+= c.tensors[i].bytes
        i += 1
      }
      stats[key] = s
    }
    var roles: [String: PartRole] = [:]
    var modelPart: String?
    if rootIsModel {
      modelPart = ""
      roles[""] = .model
    } else if let interpreter {
      let keys = interpreted.rootEntries.map { interpreter.keyName($0.key) }
      for (entry, key) in zip(interpreted.rootEntries, keys) {
        if isOptimizer(entry.value, interpreter: interpreter) || optimizerKeys.contains(key) {
          roles[key] = .optimizer
        } else if schedulerKeys.contains(key) {
          roles[key] = .scheduler
        } else if emaKeys.contains(key) {
          roles[key] = .ema
        }
      }
      let withTensors = keys.filter { (stats[$0]?.tensors ?? 0) > 0 }
      modelPart =
        modelKeys.first { withTensors.contains($0) && roles[$0] == nil }
        ?? withTensors.filter { roles[$0] == nil }.max {
          (stats[$0]?.elements ?? 0) < (stats[$1]?.elements ?? 0)
        }
        ?? withTensors.first { roles[$0] == .ema }
      if let m = modelPart {
        roles[m] = .model
        if !modelKeys.contains(m) && !emaKeys.contains(m) {
          c.diagnostics.append(
            Diagnostic(.info, "took '\(m)', the largest tensor part, as the model"))
        }
      }
    }
    for i in c.tensors.indices {
      // A model at the root holds every tensor: no lookup per tensor.
      switch rootIsModel ? .model : roles[part(i)] {
      case .model?: c.tensors[i].section = .model
      case .optimizer?: c.tensors[i].section = .optimizer
      default: c.tensors[i].section = .other
      }
    }
    if let m = modelPart {
      c.modelPrefix = m.isEmpty ? "" : m + "."
      c.stripCommonPrefix()
    } else if !c.tensors.isEmpty {
      c.diagnostics.append(
        Diagnostic(.warning, "found no model state among the checkpoint's tensors"))
    }
    // Anatomy: every root key with its weight.
    if rootIsModel {
      let s = stats[""] ?? (0, 0, 0)
      c.parts.append(
        CheckpointPart(
          name: "", role: .model, tensors: s.tensors, elements: s.elements, bytes: s.bytes,
          value: nil))
    }
    if isDictRoot, let interpreter, let graph {
      for entry in interpreted.rootEntries {
        let key = interpreter.keyName(entry.key)
        if key == "_metadata" { continue }
        if rootIsModel {
          if !tensorKeys.contains(key) && !containsTensor(entry.value, interpreter: interpreter) {
            let rendering = ValueRenderer(graph: graph).render(entry.value)
            c.metadata.append(MetadataItem(name: key, type: rendering.type, value: rendering.value))
          }
          continue
        }
        let s = stats[key] ?? (0, 0, 0)
        if s.tensors == 0 {
          let rendering = ValueRenderer(graph: graph).render(entry.value)
          c.parts.append(
            CheckpointPart(
              name: key, role: roles[key] ?? .value, tensors: 0, elements: 0, bytes: 0,
              value: rendering.value))
          c.metadata.append(MetadataItem(name: key, type: rendering.type, value: rendering.value))
        } else {
          c.parts.append(
            CheckpointPart(
              name: key, role: roles[key] ?? .tensors, tensors: s.tensors, elements: s.elements,
              bytes: s.bytes, value: nil))
        }
      }
    }
  }

  /// Whether a value holds a tensor anywhere below it (a bounded, iterative search).
  static func containsTensor(_ v: PickleValue, interpreter: TorchInterpreter) -> Bool {
    var stack = [v]
    var seen = Set<Int>()
    while let x = stack.popLast(), seen.count < 100_000 {
      if (try? interpreter.tensor(x)) != nil { return true }
      guard case .node(let i) = x, seen.insert(i).inserted else { continue }
      if let entries = interpreter.dictEntries(x) { stack += entries.map(\.value) }
      switch interpreter.graph.node(x) {
      case .list(let items)?, .tuple(let items)?: stack += items
      case .object(let o)?: stack += [o.args] + (o.state.map { [$0] } ?? []) + o.listItems
      default: break
      }
    }
    return false
  }

  /// An optimizer state dict: `{'state': ..., 'param_groups': [...]}`, or a list of them.
  static func isOptimizer(_ v: PickleValue, interpreter: TorchInterpreter) -> Bool {
    // Iterative and bounded: a hostile value nests sequences 100,000 deep.
    var v = v
    for _ in 0..<64 {
      if let entries = interpreter.dictEntries(v) {
        let keys = Set(entries.map { interpreter.keyName($0.key) })
        return keys.contains("state") && keys.contains("param_groups")
      }
      guard let items = interpreter.graph.sequence(v), let first = items.first else { return false }
      v = first
    }
    return false
  }
}

/// Short Python-like renderings of non-tensor values, bounded in depth and length.
struct ValueRenderer {
  let graph: PickleGraph
  let interpreter: TorchInterpreter
  let limit = 120

  init(graph: PickleGraph) {
    self.graph = graph
    self.interpreter = TorchInterpreter(graph: graph)
  }

  func render(_ v: PickleValue) -> (type: String, value: String) {
    var text = repr(v, depth: 0)
    if text.count > limit { text = String(text.prefix(limit - 3)) + "..." }
    return (typeName(v), text)
  }

  func typeName(_ v: PickleValue) -> String {
    switch v {
    case .none: return "NoneType"
    case .bool: return "bool"
    case .int, .bigInt: return "int"
    case .float: return "float"
    case .string: return "str"
    case .bytes: return "bytes"
    case .node:
      switch graph.node(v) {
      case .list?: return "list"
      case .tuple?: return "tuple"
      case .dict?: return "dict"
      case .set?: return "set"
      case .frozenSet?: return "frozenset"
      case .global(let g)?: return g.qualifiedName
      case .object(let o)?:
        let cls = interpreter.className(o.callable) ?? "object"
        if cls.hasSuffix("multiarray.scalar"), let dtype = numpyDType(o.object) {
          return "numpy.\(dtype)"
        }
        if cls.hasSuffix("multiarray._reconstruct") { return "numpy.ndarray" }
        if cls == "collections.OrderedDict" { return "OrderedDict" }
        if cls == "builtins.set" { return "set" }
        return cls
      case .persistentID?: return "persistent id"
      default: return "object"
      }
    }
  }

  func repr(_ v: PickleValue, depth: Int) -> String {
    if depth > 3 { return "..." }
    switch v {
    case .none: return "None"
    case .bool(let b): return b ? "True" : "False"
    case .int(let i): return String(i)
    case .bigInt(let bytes): return "<\(bytes.count * 8)-bit int>"
    case .float(let f): return pythonFloat(f)
    case .string(let s): return "'" + (s.count > limit ? String(s.prefix(limit)) : s) + "'"
    case .bytes(let b): return "<\(b.count) bytes>"
    case .node:
      if let entries = interpreter.dictEntries(v) {
        let inner = entries.prefix(8).map {
          repr($0.key, depth: depth + 1) + ": " + repr($0.value, depth: depth + 1)
        }
        return "{" + inner.joined(separator: ", ") + (entries.count > 8 ? ", ..." : "") + "}"
      }
      switch graph.node(v) {
      case .list(let items)?: return "[" + seq(items, depth) + "]"
      case .tuple(let items)?:
        return items.count == 1 ? "(" + seq(items, depth) + ",)" : "(" + seq(items, depth) + ")"
      case .set(let items)?, .frozenSet(let items)?:
        return items.isEmpty ? "set()" : "{" + seq(items, depth) + "}"
      case .global(let g)?: return g.qualifiedName
      case .object(let o)?: return object(o.object, depth: depth)
      default: return "<\(typeName(v))>"
      }
    }
  }

  func seq(_ items: [PickleValue], _ depth: Int) -> String {
    items.prefix(8).map { repr($0, depth: depth + 1) }.joined(separator: ", ")
      + (items.count > 8 ? ", ..." : "")
  }

  func object(_ o: PickleObject, depth: Int) -> String {
    let cls = interpreter.className(o.callable) ?? "object"
    let args = graph.sequence(o.args) ?? []
    switch cls {
    case "builtins.set", "builtins.frozenset":
      if let first = args.first, let items = graph.sequence(first) {
        return items.isEmpty ? "set()" : "{" + seq(items, depth) + "}"
      }
    case "torch.Size":
      if let first = args.first, let dims = interpreter.ints(first) {
        return "torch.Size([" + dims.map(String.init).joined(separator: ", ") + "])"
      }
    case "torch.device":
      let parts = args.map { repr($0, depth: depth + 1) }
      return "device(" + parts.joined(separator: ", ") + ")"
    case "builtins.slice":
      return "slice(" + args.map { repr($0, depth: depth + 1) }.joined(separator: ", ") + ")"
    case "_codecs.encode":
      if let first = args.first, case .string(let s) = first {
        return "<\(s.unicodeScalars.count) bytes>"
      }
    default:
      if cls.hasSuffix("multiarray.scalar"), let dtype = numpyDType(o), args.count > 1,
        case .bytes(let raw) = bytesValue(args[1]), let value = numpyScalar(dtype, raw)
      {
        return value
      }
      if cls.hasSuffix("multiarray._reconstruct"), let state = o.state,
        let items = graph.sequence(state),
        items.count >= 3, let shape = interpreter.ints(items[1])
      {
        let dtype = graph.object(items[2]).flatMap { numpyDTypeCode($0) } ?? "?"
        return "array(shape=(\(shape.map(String.init).joined(separator: ", "))), dtype=\(dtype))"
      }
    }
    if let state = o.state, let entries = interpreter.dictEntries(state) {
      let short = cls.split(separator: ".").last.map(String.init) ?? cls
      return short + "("
        + entries.prefix(6).map {
          interpreter.keyName($0.key) + "=" + repr($0.value, depth: depth + 1)
        }.joined(separator: ", ") + (entries.count > 6 ? ", ..." : "") + ")"
    }
    return cls + "(" + seq(args, depth) + ")"
  }

  func bytesValue(_ v: PickleValue) -> PickleValue {
    // Protocol 2 stores bytes as _codecs.encode(latin-1 text, 'latin1').
    if let o = graph.object(v), interpreter.className(o.callable) == "_codecs.encode",
      let args = graph.sequence(o.args), let first = args.first, case .string(let s) = first
    {
      return .bytes(s.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) })
    }
    return v
  }

  /// `numpy.dtype('f8', ...)` as an argument of `numpy.core.multiarray.scalar`.
  func numpyDType(_ o: PickleObject) -> String? {
    guard let args = graph.sequence(o.args), let first = args.first, let d = graph.object(first)
    else { return nil }
    return numpyDTypeCode(d).map(numpyName)
  }

  func numpyDTypeCode(_ d: PickleObject) -> String? {
    guard interpreter.className(d.callable)?.hasSuffix("dtype") == true,
      let a = graph.sequence(d.args),
      let first = a.first, case .string(let code) = first
    else { return nil }
    return code
  }

  func numpyName(_ code: String) -> String {
    switch code {
    case "f8": "float64"
    case "f4": "float32"
    case "f2": "float16"
    case "i8": "int64"
    case "i4": "int32"
    case "i2": "int16"
    case "i1": "int8"
    case "u1": "uint8"
    case "b1": "bool"
    default: code
    }
  }

  func numpyScalar(_ dtype: String, _ raw: [UInt8]) -> String? {
    func le(_ n: Int) -> UInt64? {
      guard raw.count == n else { return nil }
      return raw.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }
    switch dtype {
    case "float64": return le(8).map { pythonFloat(Double(bitPattern: $0)) }
    case "float32": return le(4).map { pythonFloat(Double(Float(bitPattern: UInt32($0)))) }
    case "int64": return le(8).map { String(Int64(bitPattern: $0)) }
    case "int32": return le(4).map { String(Int32(bitPattern: UInt32($0))) }
    case "bool": return le(1).map { $0 != 0 ? "True" : "False" }
    default: return nil
    }
  }
}
