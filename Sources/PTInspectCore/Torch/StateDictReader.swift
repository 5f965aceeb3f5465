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

/// A value on the reader's stack: only what a state dict's pickle holds. Every case is plain
/// data: a string is a range of the pickle's bytes, anything bigger an index into one of the
/// machine's tables. Pushing, popping and memoizing a value copy a few words and count no
/// references, and nothing on the stack has to be freed.
private enum Value {
  case none
  case bool(Bool)
  case int(Int64)
  /// `count` bytes of the pickle from `start`, UTF-8: a String is made only where the records
  /// need one (names, storage keys), decoded as the general decoder decodes it.
  case string(start: Int, count: Int)
  /// `Machine.globals[index]`.
  case global(Int)
  /// `Machine.tuples[index]`: a tuple of other values (`()` is tuple 0).
  case tuple(Int)
  /// `Machine.intTuples[index]`: a tuple of ints only (a size, a stride), without a value per
  /// item; it becomes the record's array as it is.
  case ints(Int)
  /// `Machine.storages[index]`: a tuple that is a well-formed storage persistent id,
  /// `('storage', class, key, location, count)`, recognised when the tuple closes. Anything but
  /// BINPERSID treats it as the tuple it is (none of them accepts a tuple of strings).
  case storageID(Int)
  /// What BINPERSID made of a storage id: `Machine.storages[index]`.
  case storage(Int)
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

/// A dense tensor as a rebuild call describes it: all a state dict's records need, by the
/// indices of its size, stride and storage in the machine's tables.
private struct Dense {
  var dtype: DType
  var shape: Int
  var stride: Int
  var storage: Int
  var offset: Int64
  var requiresGrad: Bool?
  /// Wrapped by `_rebuild_parameter`.
  var isParameter = false
}

private struct Machine {
  /// The opcode of every byte value (nil for none), looked up once per opcode: the enum's own
  /// `init(rawValue:)` lives in another module and is a call.
  static let opcodes: [Opcode?] = (0...255).map { Opcode(rawValue: UInt8($0)) }

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
  var tuples: [[Value]] = [[]]
  var intTuples: [[Int64]] = [[]]
  /// The int tuples made last, by a hash of their items (`tuple(from:)`).
  var recentInts = [Int?](repeating: nil, count: 64)
  var storages: [StorageRef] = []
  var tensors: [Dense] = []
  var dicts: [[(key: Value, value: Value)]] = []
  /// The last location string made (`cpu`), by where its bytes start: torch.save memoizes it,
  /// so every storage id after the first names the same bytes.
  var device: (start: Int, text: String) = (-1, "")
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

  /// Where the next `count` bytes start, nil past the end or over the decoder's value limit.
  mutating func take(_ count: UInt64) -> Int? {
    guard count <= UInt64(bytes.count - position), count <= limits.maxValueBytes else {
      return nil
    }
    defer { position += Int(count) }
    return position
  }

  /// The bytes up to the next newline, which is consumed, as a string.
  mutating func line() -> String? {
    let rest = UnsafeRawBufferPointer(rebasing: bytes[position...])
    guard let newline = rest.firstIndex(of: 0x0A) else { return nil }
    position += newline + 1
    return String(decoding: rest[..<newline], as: UTF8.self)
  }

  /// The string of `count` bytes from `start`, decoded as the general decoder decodes one.
  func text(_ start: Int, _ count: Int) -> String {
    String(
      decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<(start + count)]), as: UTF8.self)
  }

  /// Whether `v` is the string `literal` (ASCII), compared as bytes.
  func isString(_ v: Value, _ literal: StaticString) -> Bool {
    guard case .string(let start, let count) = v, count == literal.utf8CodeUnitCount else {
      return false
    }
    let text = literal.utf8Start
    for i in 0..<count where bytes[start + i] != text[i] { return false }
    return true
  }

  // MARK: the stack

  var base: Int { marks.last ?? 0 }

  mutating func pop() -> Value? {
    stack.count > base ? stack.removeLast() : nil
  }

  /// The tuple of `stack[start...]`, which leave the stack: `.storageID` for a storage id,
  /// `.ints` when every item is an int (sizes and strides, most tuples of a state dict).
  mutating func tuple(from start: Int) -> Value {
    defer { stack.removeSubrange(start...) }
    if let ref = storage(from: start) {
      storages.append(ref)
      return .storageID(storages.count - 1)
    }
    // Tensors of a model share a few shapes: a tuple equal to a recent one is that one (no
    // array made, and the records share it).
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for i in start..<stack.count {
      guard case .int(let v) = stack[i] else {
        tuples.append(Array(stack[start...]))
        return .tuple(tuples.count - 1)
      }
      hash = (hash ^ UInt64(bitPattern: v)) &* 0x100_0000_01b3
    }
    let slot = Int(truncatingIfNeeded: hash >> 58)
    if let seen = recentInts[slot], intTuples[seen].count == stack.count - start,
      intTuples[seen].indices.allSatisfy({ stack[start + $0].int == intTuples[seen][$0] })
    {
      return .ints(seen)
    }
    var ints: [Int64] = []
    ints.reserveCapacity(stack.count - start)
    for i in start..<stack.count {
      if case .int(let v) = stack[i] { ints.append(v) }
    }
    intTuples.append(ints)
    recentInts[slot] = intTuples.count - 1
    return .ints(intTuples.count - 1)
  }

  /// The index in `intTuples` of a tuple of ints (a size or a stride), as
  /// `TorchInterpreter.ints` reads one: bools count as ints.
  mutating func ints(_ v: Value) -> Int? {
    switch v {
    case .ints(let i): return i
    case .tuple(0): return 0
    case .tuple(let t):
      var out: [Int64] = []
      out.reserveCapacity(tuples[t].count)
      for item in tuples[t] {
        guard let i = item.int else { return nil }
        out.append(i)
      }
      intTuples.append(out)
      return intTuples.count - 1
    default: return nil
    }
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
    let opcodes = Self.opcodes
    while position < bytes.count {
      let offset = position
      guard let op = opcodes[Int(bytes[position])] else { return nil }
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
        guard let n = unsigned(op == .binUnicode ? 4 : 1), let start = take(n) else { return nil }
        ok = push(.string(start: start, count: Int(n)))
      case .binInt1, .binInt2:
        guard let v = unsigned(op == .binInt1 ? 1 : 2) else { return nil }
        ok = push(.int(Int64(v)))
      case .binInt:
        guard let v = unsigned(4) else { return nil }
        ok = push(.int(Int64(Int32(truncatingIfNeeded: v))))
      case .long1:
        // Up to 8 bytes, little-endian two's complement (a wider one declines).
        guard let n = unsigned(1), n <= 8, let start = take(n) else { return nil }
        var value: UInt64 = 0
        for i in (start..<(start + Int(n))).reversed() { value = value << 8 | UInt64(bytes[i]) }
        let shift = UInt64(64 - 8 * Int(n))
        ok = push(.int(n == 0 ? 0 : Int64(bitPattern: value << shift) >> Int64(shift)))
      case .newTrue, .newFalse:
        ok = push(.bool(op == .newTrue))
      case .none:
        ok = push(.none)
      case .emptyTuple:
        ok = push(.tuple(0))
      case .emptyDict:
        ok = push(newDict(), node: true)
      case .tuple:
        guard let start = marks.popLast() else { return nil }
        // TUPLE, BINPUT, REDUCE, as torch.save writes every call: the call is made from the
        // items where they are, with no tuple built.
        if start > base, case .global(let g) = stack[start - 1],
          let (memoKey, next) = reduceAhead(),
          let value = reduce(g, from: start)
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
        // The call's arguments go on the stack, where the fused path finds them.
        let start = stack.count
        switch args {
        case .tuple(let t): stack.append(contentsOf: tuples[t])
        case .ints(let t): for v in intTuples[t] { stack.append(.int(v)) }
        default: return nil
        }
        let value = reduce(g, from: start)
        stack.removeSubrange(start...)
        guard let value else { return nil }
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

  /// The items `stack[start...]` as a `('storage', class, key, location, count, ...)`
  /// persistent id, checked as `TorchInterpreter.storage` checks it.
  mutating func storage(from s: Int) -> StorageRef? {
    guard stack.count - s >= 5, isString(stack[s], "storage"),
      case .global(let g) = stack[s + 1], case .storage(let dtype) = known[g]
    else { return nil }
    let key: String
    switch stack[s + 2] {
    case .string(let start, let count): key = text(start, count)
    case .int(let i): key = String(i)
    case .bool(let b): key = b ? "1" : "0"
    default: return nil
    }
    guard let count = stack[s + 4].int, count >= 0 else { return nil }
    var location = "?"
    if case .string(let start, let n) = stack[s + 3] {
      if device.start != start { device = (start, text(start, n)) }
      location = device.text
    }
    return StorageRef(
      key: key, storageClass: globals[g].global.name, dtype: dtype, device: location,
      count: count, folder: folder)
  }

  /// A REDUCE the reader knows: `OrderedDict()`, a tensor rebuild, a parameter around one.
  /// `callable(*args)` for the global `g` and the arguments `stack[a...]`.
  mutating func reduce(_ g: Int, from a: Int) -> Value? {
    let count = stack.count - a
    switch known[g] {
    case .orderedDict:
      return count == 0 ? newDict() : nil
    case .rebuildTensor:
      // As TorchInterpreter.dense.
      guard count >= 4, case .storage(let ref) = stack[a], let offset = stack[a + 1].int,
        offset >= 0, let size = ints(stack[a + 2]), let stride = ints(stack[a + 3]),
        intTuples[stride].count == intTuples[size].count,
        intTuples[size].allSatisfy({ $0 >= 0 }), let dtype = storages[ref].dtype
      else { return nil }
      tensors.append(
        Dense(
          dtype: dtype, shape: size, stride: stride, storage: ref, offset: offset,
          requiresGrad: count > 4 ? stack[a + 4].bool : nil))
      return .tensor(tensors.count - 1)
    case .rebuildParameter:
      guard count >= 2, case .tensor(let t) = stack[a] else { return nil }
      var inner = tensors[t]
      inner.requiresGrad = stack[a + 1].bool
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
    tuples = []
    var records: [TensorRecord] = []
    records.reserveCapacity(entries.count)
    for (key, value) in entries {
      guard case .string(let start, let count) = key, !isString(key, "_metadata"),
        case .tensor(let i) = value
      else { return nil }
      // As TorchInterpreter.record makes a strided tensor's record.
      let name = text(start, count)
      let t = tensors[i]
      let c = TorchInterpreter.classify(
        name: name, dtype: t.dtype, isParameter: t.isParameter, owner: .container)
      records.append(
        TensorRecord(
          name: name, dtype: t.dtype, shape: intTuples[t.shape], stride: intTuples[t.stride],
          storage: storages[t.storage], storageOffset: t.offset, requiresGrad: t.requiresGrad,
          kind: c.kind, kindIsExact: c.exact, role: c.role, section: .model))
    }
    return StateDictReader.Result(tensors: records, globals: globals, protocolVersion: proto)
  }
}
