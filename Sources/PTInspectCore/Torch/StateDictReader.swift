// StateDictReader.swift: the fast path for what most checkpoints are, a state dict (a dict or
// OrderedDict of names to tensors) that `torch.save` wrote with pickle protocol 2. It decodes
// the pickle and recognises its tensors in one pass, with no value graph to build, walk and
// free. Anything else it declines (nil), and that pickle takes the general path: PickleDecoder,
// then TorchInterpreter. What it accepts it reads exactly as that path would (the tests compare
// both on every fixture); nothing is ever imported, called or evaluated.

import Pickle

/// Reads a pickle that is a flat state dict straight into tensor records.
enum StateDictReader {
  /// What the general path would have made of the pickle.
  struct Result {
    /// The root dict's tensors, in order, named by their keys.
    var tensors: [TensorRecord]
    /// Every global the pickle names, as the decoder lists them.
    var globals: [GlobalReference]
    /// The protocol from PROTO, or 0.
    var protocolVersion: Int
  }

  /// The state dict in `bytes`, or nil when the pickle is anything else: another root, a value
  /// that is not a tensor, an opcode torch.save does not write for one, a malformed argument.
  /// The general path then reads it, and gives any error its exact message.
  static func read(
    _ bytes: UnsafeRawBufferPointer, storageFolder: String = "data",
    limits: PickleLimits = PickleLimits()
  ) -> Result? {
    var machine = Machine(bytes: bytes, folder: storageFolder, limits: limits)
    return machine.run()
  }
}

/// A value on the reader's stack: only what a state dict's pickle holds.
private enum Value {
  case none
  case bool(Bool)
  case int(Int64)
  case string(String)
  /// `Machine.globals[index]`.
  case global(Int)
  case tuple([Value])
  /// A tuple of ints only (a size, a stride): its ints, without a value per item.
  case ints([Int64])
  /// A tuple that is a well-formed storage persistent id, `('storage', class, key, location,
  /// count)`: made when the tuple closes, so no array of items is built. Anything but BINPERSID
  /// treats it as the tuple it is (none of them accepts a tuple of strings).
  indirect case storageID(StorageRef)
  /// What BINPERSID made of a storage id.
  indirect case storage(StorageRef)
  /// `Machine.tensors[index]`.
  case tensor(Int)
  /// `Machine.dicts[index]`: a dict, or an `OrderedDict()`.
  case dict(Int)
  /// A tuple the memo was asked to keep. torch.save never refers back to one, so it is not
  /// kept: a BINGET of it declines the pickle.
  case forgotten

  /// As `PickleValue.intValue`: bools count as 0 and 1.
  var int: Int64? {
    switch self {
    case .int(let v): return v
    case .bool(let b): return b ? 1 : 0
    default: return nil
    }
  }

  /// As `TorchInterpreter.bool`.
  var bool: Bool? {
    switch self {
    case .bool(let b): return b
    case .int(let i): return i != 0
    default: return nil
    }
  }

  /// A tuple of ints (a size or a stride), as `TorchInterpreter.ints` reads one.
  var ints: [Int64]? {
    if case .ints(let values) = self { return values }
    guard case .tuple(let items) = self else { return nil }
    var out: [Int64] = []
    out.reserveCapacity(items.count)
    for item in items {
      guard let i = item.int else { return nil }
      out.append(i)
    }
    return out
  }
}

/// What a global is to the reader.
private enum KnownGlobal {
  case orderedDict
  /// `_rebuild_tensor_v2`, `_rebuild_tensor`: a dense tensor.
  case rebuildTensor
  /// `_rebuild_parameter(_with_state)`: an `nn.Parameter` around a tensor.
  case rebuildParameter
  /// A storage class: its dtype, nil for an untyped storage.
  case storage(DType?)
  case other

  init(_ g: PickleGlobal) {
    switch (g.module, g.name) {
    case ("collections", "OrderedDict"): self = .orderedDict
    case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"):
      self = .rebuildTensor
    case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
      self = .rebuildParameter
    default: self = TorchInterpreter.storageDType(className: g.name).map { .storage($0) } ?? .other
    }
  }
}

/// A dense tensor as a rebuild call describes it: all a state dict's records need.
private struct Dense {
  var dtype: DType
  var shape: [Int64]
  var stride: [Int64]
  var storage: StorageRef
  var offset: Int64
  var requiresGrad: Bool?
  /// Wrapped by `_rebuild_parameter`.
  var isParameter = false
}

private struct Machine {
  let bytes: UnsafeRawBufferPointer
  let folder: String
  let limits: PickleLimits
  var position = 0
  var stack: [Value] = []
  /// Stack heights at each open MARK.
  var marks: [Int] = []
  var memo: [Value] = []
  var globals: [GlobalReference] = []
  var known: [KnownGlobal] = []
  var tensors: [Dense] = []
  var dicts: [[(key: Value, value: Value)]] = []
  var proto = 0
  /// The nodes the general decoder would have made, bounded by the same limit.
  var nodes = 1

  init(bytes: UnsafeRawBufferPointer, folder: String, limits: PickleLimits) {
    self.bytes = bytes
    self.folder = folder
    self.limits = limits
  }

  // MARK: reading

  /// The next `width` bytes as a little-endian unsigned integer, nil past the end.
  mutating func unsigned(_ width: Int) -> UInt64? {
    guard width <= bytes.count - position else { return nil }
    var value: UInt64 = 0
    for i in (0..<width).reversed() { value = value << 8 | UInt64(bytes[position + i]) }
    position += width
    return value
  }

  /// The next `count` bytes, nil past the end or over the decoder's value limit.
  mutating func take(_ count: UInt64) -> UnsafeRawBufferPointer? {
    guard count <= UInt64(bytes.count - position), count <= limits.maxValueBytes else {
      return nil
    }
    let start = position
    position += Int(count)
    return UnsafeRawBufferPointer(rebasing: bytes[start..<position])
  }

  /// The bytes up to the next newline, which is consumed, as a string.
  mutating func line() -> String? {
    let rest = UnsafeRawBufferPointer(rebasing: bytes[position...])
    guard let newline = rest.firstIndex(of: 0x0A) else { return nil }
    position += newline + 1
    return String(decoding: rest[..<newline], as: UTF8.self)
  }

  // MARK: the stack

  var base: Int { marks.last ?? 0 }

  mutating func pop() -> Value? {
    stack.count > base ? stack.removeLast() : nil
  }

  /// The tuple of `stack[start...]`, which leave the stack: `.ints` when every item is an
  /// int (sizes and strides, most tuples of a state dict).
  mutating func tuple(from start: Int) -> Value {
    if let ref = storage(stack[start...]) {
      stack.removeSubrange(start...)
      return .storageID(ref)
    }
    var ints: [Int64] = []
    ints.reserveCapacity(stack.count - start)
    for i in start..<stack.count {
      guard case .int(let v) = stack[i] else {
        let items = Array(stack[start...])
        stack.removeLast(stack.count - start)
        return .tuple(items)
      }
      ints.append(v)
    }
    stack.removeLast(stack.count - start)
    return .ints(ints)
  }

  mutating func push(_ v: Value, node: Bool = false) -> Bool {
    if node {
      nodes += 1
      if nodes > limits.maxNodes { return false }
    }
    stack.append(v)
    return true
  }

  mutating func memoPut(_ key: UInt64) -> Bool {
    guard stack.count > base, let top = stack.last else { return false }
    let value: Value
    switch top {
    case .tuple, .ints: value = .forgotten
    default: value = top
    }
    // Python numbers the memo 0, 1, 2, ...; the decoder keeps other numberings.
    if key == UInt64(memo.count) {
      memo.append(value)
    } else if key < UInt64(memo.count) {
      memo[Int(key)] = value
    } else {
      return false
    }
    return true
  }

  mutating func memoGet(_ key: UInt64) -> Bool {
    guard key < UInt64(memo.count) else { return false }
    let value = memo[Int(key)]
    if case .forgotten = value { return false }
    stack.append(value)
    return true
  }

  mutating func newDict() -> Value {
    dicts.append([])
    return .dict(dicts.count - 1)
  }

  // MARK: the opcodes

  mutating func run() -> StateDictReader.Result? {
    while position < bytes.count {
      let offset = position
      guard let op = Opcode(rawValue: bytes[position]) else { return nil }
      position += 1
      var ok: Bool
      switch op {
      case .proto:
        guard let p = unsigned(1), p <= 5 else { return nil }
        proto = Int(p)
        ok = true
      case .global:
        guard let module = line(), let name = line() else { return nil }
        let g = PickleGlobal(module: module, name: name)
        globals.append(GlobalReference(global: g, opcode: .global, offset: offset))
        known.append(KnownGlobal(g))
        ok = push(.global(globals.count - 1), node: true)
      case .binPut:
        ok = unsigned(1).map { memoPut($0) } ?? false
      case .longBinPut:
        ok = unsigned(4).map { memoPut($0) } ?? false
      case .binGet:
        ok = unsigned(1).map { memoGet($0) } ?? false
      case .longBinGet:
        ok = unsigned(4).map { memoGet($0) } ?? false
      case .mark:
        marks.append(stack.count)
        ok = true
      case .binUnicode, .shortBinUnicode:
        guard let n = unsigned(op == .binUnicode ? 4 : 1), let raw = take(n) else { return nil }
        ok = push(.string(String(decoding: raw, as: UTF8.self)))
      case .binInt1, .binInt2:
        guard let v = unsigned(op == .binInt1 ? 1 : 2) else { return nil }
        ok = push(.int(Int64(v)))
      case .binInt:
        guard let v = unsigned(4) else { return nil }
        ok = push(.int(Int64(Int32(truncatingIfNeeded: v))))
      case .long1:
        // Up to 8 bytes, little-endian two's complement (a wider one declines).
        guard let n = unsigned(1), n <= 8, let raw = take(n) else { return nil }
        var value: UInt64 = 0
        for i in (0..<raw.count).reversed() { value = value << 8 | UInt64(raw[i]) }
        let shift = UInt64(64 - 8 * raw.count)
        ok = push(.int(n == 0 ? 0 : Int64(bitPattern: value << shift) >> Int64(shift)))
      case .newTrue, .newFalse:
        ok = push(.bool(op == .newTrue))
      case .none:
        ok = push(.none)
      case .emptyTuple:
        ok = push(.tuple([]))
      case .emptyDict:
        ok = push(newDict(), node: true)
      case .tuple:
        guard let start = marks.popLast() else { return nil }
        // TUPLE, BINPUT, REDUCE, as torch.save writes every call: the call is made from the
        // items where they are, with no tuple built.
        if start > base, case .global(let g) = stack[start - 1],
          let (memoKey, next) = reduceAhead(),
          let value = reduce(g, stack[start...])
        {
          if let memoKey {
            guard memoKey <= UInt64(memo.count) else { return nil }
            if memoKey == UInt64(memo.count) {
              memo.append(.forgotten)
            } else {
              memo[Int(memoKey)] = .forgotten
            }
          }
          nodes += 1
          stack.removeSubrange((start - 1)...)
          position = next
          ok = push(value, node: true)
          break
        }
        ok = push(tuple(from: start), node: true)
      case .tuple1, .tuple2, .tuple3:
        let n = Int(op.rawValue - Opcode.tuple1.rawValue) + 1
        guard stack.count - base >= n else { return nil }
        ok = push(tuple(from: stack.count - n), node: true)
      case .binPersID:
        guard let id = pop(), case .storageID(let ref) = id else { return nil }
        ok = push(.storage(ref), node: true)
      case .reduce:
        guard let args = pop(), let callable = pop(), case .global(let g) = callable else {
          return nil
        }
        let items: [Value]
        switch args {
        case .tuple(let a): items = a
        case .ints(let a): items = a.map { .int($0) }
        default: return nil
        }
        guard let value = reduce(g, items[...]) else { return nil }
        ok = push(value, node: true)
      case .setItem:
        guard stack.count - base >= 2 else { return nil }
        ok = setItems(from: stack.count - 2)
      case .setItems:
        guard let start = marks.popLast(), (stack.count - start) % 2 == 0 else { return nil }
        ok = setItems(from: start)
      case .build:
        // A dict's state (`_metadata` on a module's state dict) is not part of its items, and
        // the general path does not walk it either.
        guard let state = pop(), case .dict = state, stack.count > base,
          case .dict = stack[stack.count - 1]
        else { return nil }
        ok = true
      case .stop:
        guard let root = pop() else { return nil }
        return finish(root)
      default:
        return nil
      }
      if !ok { return nil }
    }
    return nil
  }

  /// Where the REDUCE is that follows a TUPLE, as torch.save writes calls (an optional
  /// BINPUT/LONG_BINPUT between them): the memo key, and the position after the REDUCE.
  func reduceAhead() -> (memoKey: UInt64?, next: Int)? {
    var p = position
    var key: UInt64?
    guard p < bytes.count else { return nil }
    if bytes[p] == Opcode.binPut.rawValue, p + 1 < bytes.count {
      key = UInt64(bytes[p + 1])
      p += 2
    } else if bytes[p] == Opcode.longBinPut.rawValue, p + 4 < bytes.count {
      key = UInt64(bytes.loadUnaligned(fromByteOffset: p + 1, as: UInt32.self).littleEndian)
      p += 5
    }
    guard p < bytes.count, bytes[p] == Opcode.reduce.rawValue else { return nil }
    return (key, p + 1)
  }

  /// A `('storage', class, key, location, count, ...)` persistent id, checked as
  /// `TorchInterpreter.storage` checks it.
  func storage(_ items: ArraySlice<Value>) -> StorageRef? {
    let i = items.startIndex
    guard items.count >= 5, case .string("storage") = items[i],
      case .global(let g) = items[i + 1], case .storage(let dtype) = known[g]
    else { return nil }
    let key: String
    switch items[i + 2] {
    case .string(let s): key = s
    case .int(let i): key = String(i)
    case .bool(let b): key = b ? "1" : "0"
    default: return nil
    }
    guard let count = items[i + 4].int, count >= 0 else { return nil }
    let device: String
    if case .string(let d) = items[i + 3] { device = d } else { device = "?" }
    return StorageRef(
      key: key, storageClass: globals[g].global.name, dtype: dtype, device: device, count: count,
      folder: folder)
  }

  /// A REDUCE the reader knows: `OrderedDict()`, a tensor rebuild, a parameter around one.
  /// `callable(*args)` for the global `g` and the arguments `args`.
  mutating func reduce(_ g: Int, _ args: ArraySlice<Value>) -> Value? {
    let a = args.startIndex
    switch known[g] {
    case .orderedDict:
      return args.isEmpty ? newDict() : nil
    case .rebuildTensor:
      // As TorchInterpreter.dense.
      guard args.count >= 4, case .storage(let ref) = args[a], let offset = args[a + 1].int,
        offset >= 0, let size = args[a + 2].ints, let stride = args[a + 3].ints,
        stride.count == size.count, size.allSatisfy({ $0 >= 0 }), let dtype = ref.dtype
      else { return nil }
      tensors.append(
        Dense(
          dtype: dtype, shape: size, stride: stride, storage: ref, offset: offset,
          requiresGrad: args.count > 4 ? args[a + 4].bool : nil))
      return .tensor(tensors.count - 1)
    case .rebuildParameter:
      guard args.count >= 2, case .tensor(let t) = args[a] else { return nil }
      var inner = tensors[t]
      inner.requiresGrad = args[a + 1].bool
      inner.isParameter = true
      tensors.append(inner)
      return .tensor(tensors.count - 1)
    case .storage, .other:
      return nil
    }
  }

  /// SETITEM(S): the pairs `stack[start...]` join the dict just below them. The root is the
  /// first dict made (torch.save writes it first): a pair that `finish` would decline there,
  /// or a tensor in another dict (a nested state dict), declines at once, not after the rest of
  /// the pickle.
  mutating func setItems(from start: Int) -> Bool {
    guard start > base, case .dict(let d) = stack[start - 1] else { return false }
    for i in stride(from: start, to: stack.count, by: 2) {
      if d == 0 {
        guard case .string = stack[i], case .tensor = stack[i + 1] else { return false }
      } else if case .tensor = stack[i + 1] {
        return false
      }
      dicts[d].append((stack[i], stack[i + 1]))
    }
    stack.removeSubrange(start...)
    return true
  }

  /// STOP: a dict whose every entry is a string key and a tensor, as the records the general
  /// path's walk makes of it.
  mutating func finish(_ root: Value) -> StateDictReader.Result? {
    guard case .dict(let d) = root, !dicts[d].isEmpty else { return nil }
    let entries = dicts[d]
    // What decoding needed goes before the records are made: the peak of a large file.
    dicts = []
    memo = []
    stack = []
    var records: [TensorRecord] = []
    records.reserveCapacity(entries.count)
    for (key, value) in entries {
      guard case .string(let name) = key, name != "_metadata", case .tensor(let i) = value else {
        return nil
      }
      // As TorchInterpreter.record makes a strided tensor's record.
      let t = tensors[i]
      let c = TorchInterpreter.classify(
        name: name, dtype: t.dtype, isParameter: t.isParameter, owner: .container)
      records.append(
        TensorRecord(
          name: name, dtype: t.dtype, shape: t.shape, stride: t.stride, storage: t.storage,
          storageOffset: t.offset, requiresGrad: t.requiresGrad, kind: c.kind,
          kindIsExact: c.exact, role: c.role, section: .model))
    }
    return StateDictReader.Result(tensors: records, globals: globals, protocolVersion: proto)
  }
}
