// PickleAnalysis.swift: what the scan learns from a decoded pickle beyond the globals it names:
// which globals are called while loading (REDUCE/NEWOBJ/OBJ/INST, and BUILD, which runs a
// class's __setstate__), what each functools.partial wraps, and the pickles nested inside as
// bytes handed to pickle.loads-like calls, which are decoded and scanned in turn (to a depth and
// size limit). Nothing is imported or run: the nested bytes are only decoded, like the file's own.

import Pickle

/// Limits for nested pickles.
package enum NestedPickleLimits {
  /// Loader calls followed inside one another: `pickle.loads(... pickle.loads(...))`.
  package static let maxDepth = 4
  /// Nested pickles decoded in one file.
  package static let maxPickles = 256
  /// Bytes of nested pickles decoded in one file.
  package static let maxBytes = 64 << 20
}

/// Per-file state of the analysis, kept by `Scan` (keys are `Scan.add`'s).
struct ScanAnalysis {
  var via: [String: [String]] = [:]
  var calledBy: [String: [String]] = [:]
  var wraps: [String: [String]] = [:]
  /// `key NUL wrapped` pairs already in `wraps` (a hostile file may hold many partials).
  var wrapSeen = Set<String>()
  var nestedPickles = 0
  var nestedBytes = 0
  var limitNoted = false
  /// Names of the nested pickles' records.
  var nestedNames = Set<String>()

  /// The records with each nested pickle after the pickle that holds it (a file's own pickle is
  /// recorded after its analysis, the nested ones during it).
  func ordered(_ records: [ScannedPickle]) -> [ScannedPickle] {
    guard !nestedNames.isEmpty else { return records }
    var out: [ScannedPickle] = []
    for r in records where !nestedNames.contains(r.name) {
      out.append(r)
      out += records.filter { nestedNames.contains($0.name) && $0.name.hasPrefix(r.name + " -> ") }
    }
    return out
  }

  mutating func call(_ key: String, _ opcode: String) {
    if !(calledBy[key] ?? []).contains(opcode) { calledBy[key, default: []].append(opcode) }
  }
}

/// Calls that unpickle the bytes they are given (normalised `module.name`).
enum PickleLoaders {
  static let names: Set<String> = [
    "pickle.loads", "pickle._loads", "_pickle.loads", "pickle.load", "pickle._load",
    "_pickle.load", "dill.loads", "dill._dill.loads", "dill.load", "cloudpickle.loads",
    "cloudpickle.load", "cloudpickle.cloudpickle.loads", "numpy.loads", "numpy.core.numeric.loads",
    "numpy.ma.core.loads", "numpy.load", "torch.load", "torch.serialization.load",
    "torch.serialization._load", "torch.serialization._legacy_load",
    "torch.storage._load_from_bytes", "joblib.load", "pandas.read_pickle",
    "torch.utils._config_module.ConfigModule.load_config",
    "torch.utils.data.datapipes.utils.decoder.basichandlers", "lib2to3.pgen2.grammar.Grammar.loads",
  ]
  /// Wrappers whose argument the loader reads: `torch.load(io.BytesIO(b'...'))`.
  static let byteWrappers: Set<String> = [
    "io.BytesIO", "_io.BytesIO", "builtins.bytearray", "builtins.bytes", "builtins.memoryview",
  ]
}

extension Scan {
  /// The key `add` files a global under.
  static func key(module: String, name: String, via: [String]) -> String {
    (via.isEmpty ? "" : via.joined(separator: " -> ") + " -> ") + module + "\n" + name
  }

  /// Records calls, BUILDs, partials and nested pickles of a decoded pickle. `via` is the chain of
  /// loader calls the pickle sits in (empty for the file's own pickles).
  mutating func analyze(_ graph: PickleGraph, pickle: String, via: [String], depth: Int) {
    // Each global node is named once: a state dict calls the same one per tensor.
    var names: [Int: (qualified: String, key: String)] = [:]
    func named(_ value: PickleValue) -> (qualified: String, key: String)? {
      guard let g = graph.global(value) else { return nil }
      if let i = value.nodeIndex, let known = names[i] { return known }
      let (key, pair) = globalKey(module: g.module, name: g.name, via: via)
      let result = (pair.module + "." + pair.name, key)
      if let i = value.nodeIndex { names[i] = result }
      return result
    }
    func qualified(_ value: PickleValue) -> String? { named(value)?.qualified }
    func keyOf(_ value: PickleValue) -> String? { named(value)?.key }
    // Partial globals, by node index: how each one is used.
    var partialNodes = Set<Int>()
    for (i, node) in graph.nodes.enumerated() {
      if case .global(let g) = node {
        let (m, n) = GlobalClassifier.normalize(module: g.module, name: g.name)
        if GlobalClassifier.isPartial(m + "." + n) { partialNodes.insert(i) }
      }
    }
    var partialAsValue = Set<Int>()
    // Argument tuples of copyreg.__newobj__(partial, func, ...): the partial is built there.
    var exempt = Set<Int>()
    for node in graph.nodes {
      guard case .object(let o) = node else { continue }
      let callableKey = keyOf(o.callable)
      let callableName = qualified(o.callable)
      let args = graph.sequence(o.args) ?? []
      let opcode: String
      switch o.kind {
      case .reduce: opcode = "REDUCE"
      case .newObj: opcode = "NEWOBJ"
      case .newObjEx: opcode = "NEWOBJ_EX"
      case .obj: opcode = "OBJ"
      case .inst: opcode = "INST"
      }
      if let callableKey { analysis.call(callableKey, opcode) }
      let isNewObj = callableName.map { $0.hasPrefix("copyreg.__newobj") } ?? false
      if o.state != nil {
        // BUILD runs the __setstate__ of the object's class: the class called, or the class
        // copyreg rebuilds.
        var cls = o.callable
        if let name = callableName, name == "copyreg._reconstructor" || isNewObj,
          let first = args.first
        {
          cls = first
        }
        if let k = keyOf(cls) { analysis.call(k, "BUILD") }
      }
      if !partialNodes.isEmpty {
        var held = o.listItems + o.dictItems.flatMap { [$0.key, $0.value] }
        if let s = o.state { held.append(s) }
        if let k = o.kwargs { held.append(k) }
        for v in held {
          if let i = v.nodeIndex, partialNodes.contains(i) { partialAsValue.insert(i) }
        }
        var partialKey: String?
        var built: [PickleValue] = []
        if let i = o.callable.nodeIndex, partialNodes.contains(i) {
          partialKey = callableKey
          built = args
        } else if isNewObj, let first = args.first, let i = first.nodeIndex,
          partialNodes.contains(i)
        {
          partialKey = keyOf(first)
          built = Array(args.dropFirst())
          if let t = o.args.nodeIndex { exempt.insert(t) }
        }
        if let partialKey {
          // partial(func, *args), and BUILD's state (func, args, kwds, dict): a loader ends up
          // calling either func.
          var funcs = built.first.map { [$0] } ?? []
          var rest = Array(built.dropFirst())
          if case .tuple(let items)? = o.state.flatMap({ graph.node($0) }), let f = items.first {
            funcs.append(f)
            if items.count > 1, let more = graph.sequence(items[1]) { rest += more }
          }
          recordPartial(
            partialKey, funcs: funcs, args: rest, graph: graph, pickle: pickle, via: via,
            depth: depth, offset: o.offset)
        }
      }
      // A loader called with bytes: scan them as a pickle.
      if let name = callableName, PickleLoaders.names.contains(name) {
        var candidates = args
        if let kwargs = o.kwargs, let node = graph.node(kwargs) { candidates += dictValues(node) }
        for arg in candidates {
          guard let payload = bytesValue(arg, graph) else { continue }
          scanNested(
            payload, pickle: "\(pickle) -> \(name)@\(o.offset)", via: via + [name], depth: depth + 1
          )
        }
      }
    }
    if !partialNodes.isEmpty {
      for (i, node) in graph.nodes.enumerated() where !exempt.contains(i) {
        noteValues(of: node, partials: partialNodes, into: &partialAsValue)
      }
    }
    for i in partialAsValue.sorted() {
      if let k = keyOf(.node(i)) { appendWrap(k, "<handed to another call as a value>") }
    }
  }

  private func dictValues(_ node: PickleNode) -> [PickleValue] {
    if case .dict(let items, _) = node { return items.map(\.value) }
    return []
  }

  private func noteValues(of node: PickleNode, partials: Set<Int>, into out: inout Set<Int>) {
    var values: [PickleValue] = []
    switch node {
    case .list(let items), .tuple(let items), .set(let items), .frozenSet(let items):
      values = items
    case .dict(let items, let state):
      values = items.flatMap { [$0.key, $0.value] }
      if let state { values.append(state) }
    case .persistentID(let id):
      values = [id]
    default:
      break
    }
    for v in values { if let i = v.nodeIndex, partials.contains(i) { out.insert(i) } }
  }

  private mutating func appendWrap(_ key: String, _ wrapped: String) {
    if analysis.wrapSeen.insert(key + "\u{0}" + wrapped).inserted {
      analysis.wraps[key, default: []].append(wrapped)
    }
  }

  /// One partial construction: what it wraps, and nested pickles in `partial(pickle.loads, b)`.
  private mutating func recordPartial(
    _ key: String, funcs: [PickleValue], args: [PickleValue], graph: PickleGraph, pickle: String,
    via: [String], depth: Int, offset: Int
  ) {
    if funcs.isEmpty { appendWrap(key, "<nothing>") }
    for value in funcs {
      appendWrap(key, describeCallable(value, graph))
      guard let g = graph.global(value) else { continue }
      let (m, n) = GlobalClassifier.normalize(module: g.module, name: g.name)
      guard PickleLoaders.names.contains(m + "." + n) else { continue }
      for arg in args {
        guard let payload = bytesValue(arg, graph) else { continue }
        scanNested(
          payload, pickle: "\(pickle) -> functools.partial(\(m).\(n))@\(offset)",
          via: via + [m + "." + n], depth: depth + 1)
      }
    }
  }

  /// What a partial wraps, as a name the report can look up.
  private func describeCallable(_ value: PickleValue, _ graph: PickleGraph) -> String {
    if let g = graph.global(value) {
      let (m, n) = GlobalClassifier.normalize(module: g.module, name: g.name)
      return m + "." + n
    }
    if let o = graph.object(value) {
      if let g = graph.global(o.callable) {
        let (m, n) = GlobalClassifier.normalize(module: g.module, name: g.name)
        return "<result of \(m).\(n)>"
      }
      return "<result of a computed call>"
    }
    return "<not callable>"
  }

  /// Literal bytes in a value: BINBYTES, `_codecs.encode(str, 'latin1')` (protocol 2),
  /// `io.BytesIO(...)`, `bytearray(...)`; a str is taken as Latin-1 (Python 2 pickles).
  func bytesValue(_ value: PickleValue, _ graph: PickleGraph, depth: Int = 0) -> [UInt8]? {
    switch value {
    case .bytes(let b): return b
    case .string(let s):
      var out: [UInt8] = []
      out.reserveCapacity(s.unicodeScalars.count)
      for u in s.unicodeScalars {
        guard u.value < 256 else { return nil }
        out.append(UInt8(u.value))
      }
      return out
    default:
      break
    }
    guard depth < 4, let o = graph.object(value), let g = graph.global(o.callable) else {
      return nil
    }
    let (m, n) = GlobalClassifier.normalize(module: g.module, name: g.name)
    let name = m + "." + n
    let args = graph.sequence(o.args) ?? []
    guard
      name == "_codecs.encode" || name == "codecs.encode"
        || PickleLoaders.byteWrappers.contains(name),
      let first = args.first
    else { return nil }
    return bytesValue(first, graph, depth: depth + 1)
  }

  /// Decodes and scans bytes a loader call would unpickle.
  mutating func scanNested(_ payload: [UInt8], pickle name: String, via: [String], depth: Int) {
    guard depth <= NestedPickleLimits.maxDepth,
      analysis.nestedPickles < NestedPickleLimits.maxPickles,
      analysis.nestedBytes + payload.count <= NestedPickleLimits.maxBytes
    else {
      if !analysis.limitNoted {
        analysis.limitNoted = true
        notes.append(
          "\(name): nested pickles past depth \(NestedPickleLimits.maxDepth), \(NestedPickleLimits.maxPickles) pickles or \(NestedPickleLimits.maxBytes >> 20) MiB are not scanned (the loader call is dangerous anyway)"
        )
      }
      return
    }
    analysis.nestedPickles += 1
    analysis.nestedNames.insert(name)
    analysis.nestedBytes += payload.count
    payload.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
      let opcodes = OpcodeScanner.scan(buffer)
      var record = ScannedPickle(
        name: name, fileOffset: nil, bytes: opcodes.endOffset,
        protocolVersion: opcodes.protocolVersion,
        decoded: false, error: nil, references: 0)
      var references = 0
      func found(_ module: String?, _ globalName: String?, _ opcode: String, _ offset: Int) {
        references += 1
        add(
          module: module, name: globalName,
          occurrence: ScanOccurrence(pickle: name, offset: offset, opcode: opcode), via: via)
      }
      do {
        let graph = try PickleDecoder(limits: options.pickleLimits).decode(buffer)
        record.decoded = true
        record.bytes = graph.endOffset
        record.protocolVersion = graph.protocolVersion
        for g in graph.globals { found(g.global.module, g.global.name, g.opcode.name, g.offset) }
        var computedCalls = 0
        for node in graph.nodes {
          switch node {
          case .object(let o) where o.kind != .inst:
            if let g = graph.global(o.callable) {
              let opcode =
                o.kind == .reduce
                ? "REDUCE"
                : o.kind == .newObj
                  ? "NEWOBJ"
                  : o.kind == .newObjEx ? "NEWOBJ_EX" : "OBJ"
              found(g.module, g.name, opcode, o.offset)
            } else if graph.object(o.callable) != nil {
              computedCalls += 1
            }
          case .persistentID(let id):
            for item in graph.sequence(id) ?? [] {
              if let g = graph.global(item) { found(g.module, g.name, "BINPERSID", -1) }
            }
          default:
            break
          }
        }
        if computedCalls > 0 {
          notes.append(
            "\(name): \(computedCalls) call\(computedCalls == 1 ? "" : "s") of a value computed while loading (not a named global): a gadget-chain pattern"
          )
        }
        record.references = references
        pickles.append(record)
        analyze(graph, pickle: name, via: via, depth: depth)
      } catch {
        for r in opcodes.references { found(r.module, r.name, r.opcode.name, r.offset) }
        let message = (error as? PickleError)?.description ?? "\(error)"
        record.error = message
        record.references = references
        pickles.append(record)
        if references > 0 || opcodes.protocolVersion > 0 {
          notes.append(
            "\(name): \(message) (a loader would run what comes before it; the scan lists the globals there)"
          )
        }
      }
    }
  }
}
