// TorchInterpreter+Walk.swift: the iterative, cycle-safe walk that names every tensor with its
// dotted path from the root object.

import Pickle

extension TorchInterpreter {
  /// How a tensor reached through the walk is to be classified.
  enum Owner {
    /// Reached through plain containers: kind to be inferred.
    case container
    /// In a module's `_parameters` (whole-model pickles).
    case parameters(moduleClass: String)
    /// In a module's `_buffers`.
    case buffers(moduleClass: String)
    /// An attribute of a TorchScript module (parameter or buffer, told by its code).
    case scriptAttribute(moduleClass: String)
  }

  enum Work {
    case visit(PickleValue, name: String, part: String, owner: Owner)
    case leave(Int)
  }

  /// Walks the whole graph from its root.
  package func interpret() throws(InterpretError) -> InterpretedPickle {
    var out = InterpretedPickle()
    var work: [Work] = []
    let root = graph.root
    if let entries = dictEntries(root) {
      out.rootEntries = entries
      for entry in entries.reversed() where keyName(entry.key) != "_metadata" {
        let key = keyName(entry.key)
        work.append(.visit(entry.value, name: key, part: key, owner: .container))
      }
    } else {
      work.append(.visit(root, name: "", part: "", owner: .container))
    }
    var onPath = Set<Int>()
    var visits = 0
    var cycles = 0
    var tooDeep = 0
    while let item = work.popLast() {
      switch item {
      case .leave(let node):
        onPath.remove(node)
        continue
      case .visit(let value, let name, let part, let owner):
        visits += 1
        guard visits <= maxVisits else {
          throw InterpretError("the object graph has more than \(maxVisits) references")
        }
        if let facts = try tensor(value) {
          if case .unknown(let fn) = facts.layout {
            out.notes.append(
              "'\(name)' is rebuilt by \(fn), which ptinspect does not know: listed with the "
                + "\(facts.components.count) tensor(s) its arguments hold")
          }
          out.tensors.append(Self.record(facts, name: name, owner: owner))
          out.tensorParts.append(part)
          continue
        }
        guard case .node(let index) = value else { continue }
        // A path grows with depth and each level copies it: past this length, hostile nesting
        // (tuples 1,000,000 deep) would take quadratic time.
        if name.utf8.count > 4096 {
          tooDeep += 1
          continue
        }
        if onPath.contains(index) {
          cycles += 1
          continue
        }
        let children = try self.children(of: value, name: name, owner: owner, into: &out)
        guard !children.isEmpty else { continue }
        onPath.insert(index)
        work.append(.leave(index))
        for (childName, child, childOwner) in children.reversed() {
          work.append(.visit(child, name: childName, part: part, owner: childOwner))
        }
      }
    }
    if tooDeep > 0 {
      out.notes.append("values nested deeper than a 4,096-character path were not followed")
    }
    if cycles > 0 {
      out.notes.append(
        "the object graph refers back to itself \(cycles) time(s); cycles not followed")
    }
    return out
  }

  func join(_ prefix: String, _ key: String) -> String { Self.join(prefix, key) }

  static func join(_ prefix: String, _ key: String) -> String {
    prefix.isEmpty ? key : prefix + "." + key
  }

  /// A dict key as a path component.
  func keyName(_ key: PickleValue) -> String {
    switch key {
    case .string(let s): return s
    case .int(let i): return String(i)
    case .bool(let b): return b ? "True" : "False"
    case .float(let f): return String(f)
    case .none: return "None"
    default: return "<\(kindName(key))>"
    }
  }

  /// Entries of a dict, an OrderedDict/defaultdict/Counter call, or a TorchScript typed dict.
  func dictEntries(_ v: PickleValue) -> [PickleEntry]? {
    switch graph.node(v) {
    case .dict(let entries, _)?:
      return entries
    case .object(let o)?:
      guard let cls = className(o.callable) else { return nil }
      switch cls {
      case "collections.OrderedDict", "collections.defaultdict", "collections.Counter",
        "builtins.dict":
        var entries = o.dictItems
        // Python 2 era: OrderedDict([[k, v], ...]) as the REDUCE argument.
        if cls == "collections.OrderedDict", let args = graph.sequence(o.args),
          let first = args.first,
          let pairs = graph.sequence(first)
        {
          var fromArgs: [PickleEntry] = []
          for pair in pairs {
            guard let kv = graph.sequence(pair), kv.count == 2 else { continue }
            fromArgs.append(PickleEntry(key: kv[0], value: kv[1]))
          }
          entries = fromArgs + entries
        }
        return entries
      case "torch.jit._pickle.restore_type_tag":
        if let args = graph.sequence(o.args), let first = args.first { return dictEntries(first) }
        return nil
      default:
        return nil
      }
    default:
      return nil
    }
  }

  /// The children to walk below a node, with their names; records modules on the way.
  func children(
    of value: PickleValue, name: String, owner: Owner, into out: inout InterpretedPickle
  ) throws(InterpretError) -> [(String, PickleValue, Owner)] {
    if let entries = dictEntries(value) {
      return entries.compactMap { entry in
        let key = keyName(entry.key)
        return key == "_metadata" ? nil : (join(name, key), entry.value, .container)
      }
    }
    switch graph.node(value) {
    case .list(let items)?, .tuple(let items)?, .set(let items)?, .frozenSet(let items)?:
      return items.enumerated().map { (join(name, String($0.offset)), $0.element, owner) }
    case .object(let o)?:
      let cls = className(o.callable) ?? "?"
      if let state = o.state, let attributes = dictEntries(state) {
        if attributes.contains(where: {
          keyName($0.key) == "_modules" || keyName($0.key) == "_parameters"
        }) {
          return module(name: name, className: cls, attributes: attributes, into: &out)
        }
        if cls.hasPrefix("__torch__.") {
          return scriptModule(name: name, className: cls, attributes: attributes, into: &out)
        }
        return attributes.map { (join(name, keyName($0.key)), $0.value, owner) }
      }
      if cls.hasPrefix("torch.jit._pickle."), let args = graph.sequence(o.args),
        let first = args.first
      {
        return [(name, first, owner)]
      }
      var result: [(String, PickleValue, Owner)] = []
      // The arguments of a call ptinspect does not know may hold tensors: walked, so that none
      // is dropped (`x.arg0`).
      if let args = graph.sequence(o.args), !args.isEmpty, o.kind == .reduce || o.kind == .newObj {
        for (i, a) in args.enumerated() where graph.node(a) != nil {
          result.append((join(name, "arg\(i)"), a, owner))
        }
      }
      if let state = o.state { result.append((name, state, owner)) }
      for (i, item) in o.listItems.enumerated() {
        result.append((join(name, String(i)), item, owner))
      }
      for entry in o.dictItems {
        result.append((join(name, keyName(entry.key)), entry.value, owner))
      }
      return result
    default:
      return []
    }
  }

  /// A `torch.nn.Module` pickled whole: parameters, buffers and submodules, named as
  /// `state_dict()` names them.
  func module(
    name: String, className: String, attributes: [PickleEntry], into out: inout InterpretedPickle
  ) -> [(String, PickleValue, Owner)] {
    var result: [(String, PickleValue, Owner)] = []
    var info = ModuleInfo(path: name, className: className, attributes: [])
    for entry in attributes {
      let key = keyName(entry.key)
      switch key {
      case "_parameters":
        for p in dictEntries(entry.value) ?? [] where p.value != .none {
          result.append((join(name, keyName(p.key)), p.value, .parameters(moduleClass: className)))
        }
      case "_buffers":
        for b in dictEntries(entry.value) ?? [] where b.value != .none {
          result.append((join(name, keyName(b.key)), b.value, .buffers(moduleClass: className)))
        }
      case "_modules":
        for m in dictEntries(entry.value) ?? [] where m.value != .none {
          result.append((join(name, keyName(m.key)), m.value, .container))
        }
      default:
        if !key.hasPrefix("_"), key != "training", let text = scalarText(entry.value) {
          info.attributes.append((key, text))
        }
      }
    }
    out.add(info)
    return result
  }

  /// A TorchScript module object: attributes in slot order, tensors among them.
  func scriptModule(
    name: String, className: String, attributes: [PickleEntry], into out: inout InterpretedPickle
  ) -> [(String, PickleValue, Owner)] {
    var result: [(String, PickleValue, Owner)] = []
    var info = ModuleInfo(path: name, className: className, attributes: [])
    for entry in attributes {
      let key = keyName(entry.key)
      if key == "training" || key == "_is_full_backward_hook" { continue }
      if graph.object(entry.value) != nil || graph.node(entry.value) != nil {
        result.append((join(name, key), entry.value, .scriptAttribute(moduleClass: className)))
      } else if let text = scalarText(entry.value) {
        info.attributes.append((key, text))
      }
    }
    out.add(info)
    return result
  }

  /// A short rendering of a scalar or a small tuple of scalars, for module hyper-parameters.
  func scalarText(_ v: PickleValue) -> String? {
    switch v {
    case .none: return "None"
    case .bool(let b): return b ? "True" : "False"
    case .int(let i): return String(i)
    case .float(let f): return pythonFloat(f)
    case .string(let s): return "'\(s)'"
    default:
      guard let items = graph.sequence(v), items.count <= 8 else { return nil }
      var parts: [String] = []
      for item in items {
        guard case .int(let i) = item else { return nil }
        parts.append(String(i))
      }
      return parts.count == 1 ? "(\(parts[0]),)" : "(" + parts.joined(separator: ", ") + ")"
    }
  }

  /// The record of a tensor the walk found under `name`.
  static func record(_ f: TensorFacts, name: String, owner: Owner) -> TensorRecord {
    let c = classify(name: name, dtype: f.dtype, isParameter: f.isParameter, owner: owner)
    return TensorRecord(
      name: name, dtype: f.dtype, shape: f.shape, stride: f.stride, storage: f.storage,
      storageOffset: f.offset, requiresGrad: f.requiresGrad, kind: c.kind, kindIsExact: c.exact,
      role: c.role, section: .model, layout: f.layout, quantization: f.quantization,
      sharedWith: nil, moduleClass: c.moduleClass,
      components: f.components.map { record($0.1, name: join(name, $0.0), owner: owner) },
      detail: f.detail)
  }

  /// Parameter or buffer, whether the file says so, and the role, of a tensor named `name`
  /// (the walk's records and the state-dict fast path's share it).
  static func classify(name: String, dtype: DType, isParameter: Bool, owner: Owner) -> (
    kind: TensorKind, exact: Bool, role: TensorRole, moduleClass: String?
  ) {
    var kind: TensorKind
    var exact: Bool
    var moduleClass: String?
    switch owner {
    case .container:
      (kind, exact) = isParameter ? (.parameter, true) : (.parameter, false)
    case .parameters(let cls):
      (kind, exact, moduleClass) = (.parameter, true, cls)
    case .buffers(let cls):
      (kind, exact, moduleClass) = (.buffer, true, cls)
    case .scriptAttribute(let cls):
      (kind, exact, moduleClass) = (.parameter, false, cls)
    }
    let leaf = lastComponent(name)
    if !exact, Self.inferredBuffer(leaf: leaf, dtype: dtype) { kind = .buffer }
    return (kind, exact, Self.role(leaf: leaf, kind: kind), moduleClass)
  }

  /// Names torch modules register as buffers, and the non-float dtypes only buffers have.
  static func inferredBuffer(leaf: String, dtype: DType) -> Bool {
    if !(dtype.isFloatingPoint || dtype.isComplex || dtype.isQuantized) { return true }
    switch leaf {
    case "running_mean", "running_var", "num_batches_tracked", "position_ids", "inv_freq",
      "relative_position_index", "attn_mask", "causal_mask", "masked_bias", "token_type_ids",
      "anchor_grid", "anchors":
      return true
    default:
      return false
    }
  }

  static func role(leaf: String, kind: TensorKind) -> TensorRole {
    switch leaf {
    case "running_mean": return .runningMean
    case "running_var": return .runningVar
    case "num_batches_tracked": return .numBatchesTracked
    default: break
    }
    if kind == .buffer { return .buffer }
    // Compared as UTF-8 bytes: the affixes are ASCII, and Character-wise hasSuffix is slow.
    let name = leaf.utf8
    func ends(_ suffix: StaticString) -> Bool {
      let s = UnsafeBufferPointer(start: suffix.utf8Start, count: suffix.utf8CodeUnitCount)
      return name.count >= s.count && name.suffix(s.count).elementsEqual(s)
    }
    func starts(_ prefix: StaticString) -> Bool {
      name.starts(
        with: UnsafeBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount))
    }
    if leaf == "weight" || ends("_weight") || starts("weight_") { return .weight }
    if leaf == "bias" || ends("_bias") || starts("bias_") { return .bias }
    return .other
  }
}

/// Python's `repr` of a float: shortest round-trip digits, `.0` on integral values.
func pythonFloat(_ f: Double) -> String {
  if f.isNaN { return "nan" }
  if f.isInfinite { return f < 0 ? "-inf" : "inf" }
  var s = "\(f)"
  if s.hasSuffix(".0") == false, !s.contains("."), !s.contains("e") { s += ".0" }
  return s
}
