// PickleDecoder.swift: a stack machine that decodes a pickle into a `PickleGraph` without
// importing, calling or evaluating anything. Iterative: input nesting depth never grows the
// native stack.

/// Bounds the decoder checks before it allocates.
public struct PickleLimits: Sendable {
  /// Longest string, bytes or bytearray value.
  public var maxValueBytes: UInt64 = 1 << 31
  /// Most nodes (containers, calls, globals, ids) one pickle may create.
  public var maxNodes: Int = 64_000_000
  /// Largest memo key accepted by PUT/BINPUT/LONG_BINPUT.
  public var maxMemoKey: UInt64 = 1 << 32
  /// Longest LONG/LONG1/LONG4 integer, in bytes.
  public var maxBigIntBytes: UInt64 = 1 << 16

  public init() {}
}

/// Decodes pickles into value graphs. It never executes anything: globals stay names, calls
/// stay records, persistent ids stay values.
public struct PickleDecoder: Sendable {
  public var limits: PickleLimits

  public init(limits: PickleLimits = PickleLimits()) {
    self.limits = limits
  }

  /// Decodes the pickle that starts at `offset` in `bytes`, stopping after its STOP.
  public func decode(_ bytes: [UInt8], at offset: Int = 0) throws(PickleError) -> PickleGraph {
    do {
      return try bytes.withUnsafeBytes { buffer in
        try decode(buffer, at: offset)
      }
    } catch let error as PickleError {
      throw error
    } catch {
      preconditionFailure("only PickleError is thrown")
    }
  }

  /// Decodes the pickle that starts at `offset` in `buffer`, stopping after its STOP.
  public func decode(_ buffer: UnsafeRawBufferPointer, at offset: Int = 0) throws(PickleError)
    -> PickleGraph
  {
    var machine = Machine(reader: ByteReader(buffer, position: offset), limits: limits)
    return try machine.run()
  }
}

/// The decoder's state for one pickle.
private struct Machine {
  var reader: ByteReader
  let limits: PickleLimits
  var stack: [PickleValue] = []
  /// Stack heights at each open MARK (pickle's "metastack").
  var marks: [Int] = []
  var memo: [PickleValue?] = []
  var sparseMemo: [Int: PickleValue] = [:]
  var memoCount = 0
  /// Node 0 is the empty tuple, shared by every EMPTY_TUPLE (tuples are immutable).
  var nodes: [PickleNode] = [.tuple([])]
  var globals: [GlobalReference] = []
  var proto = 0

  var op: Opcode = .stop
  var offset = 0
  /// Elements written into containers by DICT, APPEND(S), ADDITEMS and SETITEM(S), plus those a
  /// reallocation moved: the count tests use to check that the work is linear.
  var containerElementMoves = 0

  init(reader: ByteReader, limits: PickleLimits) {
    self.reader = reader
    self.limits = limits
  }

  mutating func run() throws(PickleError) -> PickleGraph {
    while true {
      offset = reader.position
      guard !reader.isAtEnd else { throw .missingStop(offset: offset) }
      let byte = reader.bytes[offset]
      guard let opcode = Opcode(rawValue: byte) else {
        throw .unknownOpcode(byte, offset: offset)
      }
      op = opcode
      reader.position += 1
      if opcode == .stop {
        let root = try pop()
        return PickleGraph(
          nodes: nodes, root: root, globals: globals, protocolVersion: proto,
          endOffset: reader.position, containerElementMoves: containerElementMoves)
      }
      try step(opcode)
    }
  }

  // MARK: stack helpers

  var base: Int { marks.last ?? 0 }

  mutating func push(_ value: PickleValue) { stack.append(value) }

  mutating func pop() throws(PickleError) -> PickleValue {
    guard stack.count > base else { throw .stackUnderflow(opcode: op.name, offset: offset) }
    return stack.removeLast()
  }

  func top() throws(PickleError) -> PickleValue {
    guard stack.count > base, let last = stack.last else {
      throw .stackUnderflow(opcode: op.name, offset: offset)
    }
    return last
  }

  /// Closes the last mark and returns where its items start: they are `stack[start...]`, for
  /// the caller to read in place and then drop with `stack.removeSubrange(start...)`.
  mutating func closeMark() throws(PickleError) -> Int {
    guard let mark = marks.popLast() else { throw .markNotFound(opcode: op.name, offset: offset) }
    return mark
  }

  /// The items above the last mark, as a new array (LIST, TUPLE, FROZENSET, INST, OBJ).
  mutating func popMark() throws(PickleError) -> [PickleValue] {
    let start = try closeMark()
    let items = Array(stack[start...])
    stack.removeSubrange(start...)
    return items
  }

  /// Closes the last mark of a DICT or SETITEMS, checking its items pair up.
  mutating func closePairs() throws(PickleError) -> Int {
    let start = try closeMark()
    let count = stack.count - start
    guard count % 2 == 0 else { throw invalid("odd number of items (\(count))") }
    return start
  }

  /// Appends `stack[start...]` to `entries` as key/value pairs.
  mutating func appendPairs(from start: Int, to entries: inout [PickleEntry]) {
    let old = (count: entries.count, buffer: bufferAddress(entries))
    for i in stride(from: start, to: stack.count, by: 2) {
      entries.append(PickleEntry(key: stack[i], value: stack[i + 1]))
    }
    countMoves(added: (stack.count - start) / 2, old, bufferAddress(entries))
  }

  /// Appends `stack[start...]` to `items`.
  mutating func appendValues(from start: Int, to items: inout [PickleValue]) {
    let old = (count: items.count, buffer: bufferAddress(items))
    items.append(contentsOf: stack[start...])
    countMoves(added: stack.count - start, old, bufferAddress(items))
  }

  /// Counts an append's element moves: the elements added, and the old ones when the array
  /// moved to a new buffer (it grew, or it was shared and copied on write: the copy that made
  /// batched SETITEMS quadratic once).
  mutating func countMoves(
    added: Int, _ old: (count: Int, buffer: UnsafeRawPointer?), _ buffer: UnsafeRawPointer?
  ) {
    containerElementMoves += added + (buffer == old.buffer ? 0 : old.count)
  }

  mutating func addNode(_ node: PickleNode) throws(PickleError) -> PickleValue {
    guard nodes.count < limits.maxNodes else {
      throw .limitExceeded(
        opcode: op.name, offset: offset, what: "node count", value: UInt64(nodes.count + 1),
        limit: UInt64(limits.maxNodes))
    }
    nodes.append(node)
    return .node(nodes.count - 1)
  }

  /// Mutates a node in place; the node is moved out first so its arrays stay uniquely owned.
  mutating func update(
    _ value: PickleValue, _ body: (inout PickleNode) throws(PickleError) -> Void
  ) throws(PickleError) {
    let index = try nodeIndex(value)
    var node = takeNode(at: index)
    defer { nodes[index] = node }
    try body(&node)
  }

  /// The node a value refers to, for the opcodes that change a container or object.
  func nodeIndex(_ value: PickleValue) throws(PickleError) -> Int {
    guard case .node(let index) = value else {
      throw .wrongType(opcode: op.name, offset: offset, reason: "target is \(describe(value))")
    }
    return index
  }

  /// Moves a node out of the graph, leaving a placeholder, so the arrays it holds are uniquely
  /// owned while they change; the caller puts it back with `nodes[index] = node`.
  mutating func takeNode(at index: Int) -> PickleNode {
    var node = PickleNode.extensionCode(0)
    swap(&node, &nodes[index])
    return node
  }

  func describe(_ value: PickleValue) -> String { PickleNode.describe(value, in: nodes) }

  // MARK: memo

  mutating func memoPut(_ key: UInt64, _ value: PickleValue) throws(PickleError) {
    guard key <= limits.maxMemoKey else {
      throw .limitExceeded(
        opcode: op.name, offset: offset, what: "memo key", value: key, limit: limits.maxMemoKey)
    }
    let k = Int(key)
    if k < memo.count {
      if memo[k] == nil { memoCount += 1 }
      memo[k] = value
    } else if k < memo.count + 65_536, k <= 2 * memoCount + 1024 {
      // Dense while keys stay close to the number stored (Python numbers them 0, 1, 2, ...):
      // spread-out keys would otherwise grow the array 64K entries per 5-byte LONG_BINPUT.
      memo.append(contentsOf: repeatElement(nil, count: k - memo.count + 1))
      memo[k] = value
      memoCount += 1
    } else {
      if sparseMemo.updateValue(value, forKey: k) == nil { memoCount += 1 }
    }
  }

  // Mutating, so that a BINGET does not copy the machine to call it.
  mutating func memoGet(_ key: UInt64) throws(PickleError) -> PickleValue {
    if key < UInt64(memo.count), let value = memo[Int(key)] { return value }
    if key <= UInt64(Int.max), let value = sparseMemo[Int(key)] { return value }
    throw .memoKeyNotFound(key: Int(clamping: key), opcode: op.name, offset: offset)
  }

  // MARK: arguments

  mutating func u(_ width: Int) throws(PickleError) -> UInt64 {
    try reader.unsigned(width, opcode: op, offset: offset)
  }

  mutating func sized(_ count: UInt64) throws(PickleError) -> UnsafeRawBufferPointer {
    guard count <= limits.maxValueBytes else {
      // A length beyond the input is truncation, whatever the limit says.
      if count > UInt64(reader.remaining) {
        throw .truncated(
          opcode: op.name, offset: offset, needed: Int(clamping: count),
          remaining: reader.remaining)
      }
      throw .limitExceeded(
        opcode: op.name, offset: offset, what: "length", value: count, limit: limits.maxValueBytes)
    }
    return try reader.take(count, opcode: op, offset: offset)
  }

  mutating func textLine() throws(PickleError) -> String {
    let raw = try reader.line(opcode: op, offset: offset)
    return String(decoding: raw, as: UTF8.self)
  }

  func invalid(_ reason: String) -> PickleError {
    .invalidArgument(opcode: op.name, offset: offset, reason: reason)
  }

  mutating func decimalLine() throws(PickleError) -> PickleValue {
    var text = try textLine()
    if op == .long, text.hasSuffix("L") { text.removeLast() }
    if op == .int {
      if text == "00" { return .bool(false) }
      if text == "01" { return .bool(true) }
    }
    let trimmed = text.trimmingSpaces()
    if let v = Int64(trimmed) { return .int(v) }
    // CPython refuses int() of more than 4300 digits (sys.int_max_str_digits), so pickle.load
    // fails on such a LONG too; the limit also keeps the conversion below from taking minutes.
    guard trimmed.utf8.count <= 4301 else {
      throw .limitExceeded(
        opcode: op.name, offset: offset, what: "integer digits", value: UInt64(trimmed.utf8.count),
        limit: 4300)
    }
    guard let bytes = bigIntBytes(decimal: trimmed) else {
      throw invalid("'\(text.prefix(40))' is not an integer")
    }
    guard UInt64(bytes.count) <= limits.maxBigIntBytes else {
      throw .limitExceeded(
        opcode: op.name, offset: offset, what: "integer width", value: UInt64(bytes.count),
        limit: limits.maxBigIntBytes)
    }
    return .bigInt(bytes)
  }

  mutating func memoKeyLine() throws(PickleError) -> UInt64 {
    let text = try textLine().trimmingSpaces()
    guard let key = UInt64(text) else {
      if text.hasPrefix("-") { throw invalid("negative memo key \(text)") }
      throw invalid("'\(text.prefix(40))' is not a memo key")
    }
    return key
  }

  func longValue(_ raw: UnsafeRawBufferPointer) -> PickleValue {
    if raw.isEmpty { return .int(0) }
    if raw.count <= 8 {
      var value: UInt64 = 0
      for i in (0..<raw.count).reversed() { value = value << 8 | UInt64(raw[i]) }
      let shift = UInt64(64 - 8 * raw.count)
      // Sign-extend from the top bit of the last byte.
      return .int(Int64(bitPattern: value << shift) >> Int64(shift))
    }
    return .bigInt(Array(raw))
  }

  // MARK: the opcodes

  mutating func step(_ opcode: Opcode) throws(PickleError) {
    switch opcode {
    case .mark:
      marks.append(stack.count)
    case .stop:
      break  // handled by run()
    case .pop:
      if stack.count > base { stack.removeLast() } else { _ = try popMark() }
    case .popMark:
      _ = try popMark()
    case .dup:
      push(try top())
    case .float:
      let text = try textLine().trimmingSpaces()
      guard let v = Double(text) else { throw invalid("'\(text.prefix(40))' is not a float") }
      push(.float(v))
    case .int, .long:
      push(try decimalLine())
    case .binInt:
      push(.int(Int64(Int32(bitPattern: UInt32(try u(4))))))
    case .binInt1:
      push(.int(Int64(try u(1))))
    case .binInt2:
      push(.int(Int64(try u(2))))
    case .long1:
      let n = try u(1)
      push(longValue(try sized(n)))
    case .long4:
      let n = Int32(bitPattern: UInt32(try u(4)))
      guard n >= 0 else { throw invalid("negative length \(n)") }
      guard UInt64(n) <= limits.maxBigIntBytes || UInt64(n) > UInt64(reader.remaining) else {
        throw .limitExceeded(
          opcode: op.name, offset: offset, what: "integer width", value: UInt64(n),
          limit: limits.maxBigIntBytes)
      }
      push(longValue(try sized(UInt64(n))))
    case .none:
      push(.none)
    case .newTrue:
      push(.bool(true))
    case .newFalse:
      push(.bool(false))
    case .persID:
      let id = try textLine()
      push(try addNode(.persistentID(.string(id))))
    case .binPersID:
      let id = try pop()
      push(try addNode(.persistentID(id)))
    case .reduce, .newObj:
      let args = try pop()
      let callable = try pop()
      let kind: ObjectKind = opcode == .reduce ? .reduce : .newObj
      push(
        try addNode(
          .object(
            PickleObjectBox(
              PickleObject(kind: kind, callable: callable, args: args, offset: offset)))))
    case .newObjEx:
      let kwargs = try pop()
      let args = try pop()
      let callable = try pop()
      push(
        try addNode(
          .object(
            PickleObjectBox(
              PickleObject(
                kind: .newObjEx, callable: callable, args: args, kwargs: kwargs, offset: offset)))))
    case .string:
      push(.string(try quotedString()))
    case .binString:
      let n = Int32(bitPattern: UInt32(try u(4)))
      guard n >= 0 else { throw invalid("negative length \(n)") }
      push(.string(legacyString(try sized(UInt64(n)))))
    case .shortBinString:
      push(.string(legacyString(try sized(try u(1)))))
    case .unicode:
      push(.string(rawUnicodeEscape(try reader.line(opcode: op, offset: offset))))
    case .binUnicode:
      push(.string(String(decoding: try sized(try u(4)), as: UTF8.self)))
    case .shortBinUnicode:
      push(.string(String(decoding: try sized(try u(1)), as: UTF8.self)))
    case .binUnicode8:
      push(.string(String(decoding: try sized(try u(8)), as: UTF8.self)))
    case .binBytes:
      push(.bytes(Array(try sized(try u(4)))))
    case .shortBinBytes:
      push(.bytes(Array(try sized(try u(1)))))
    case .binBytes8, .byteArray8:
      push(.bytes(Array(try sized(try u(8)))))
    case .binFloat:
      // BINFLOAT is big-endian, unlike every integer argument (pickletools `float8`).
      let raw = try reader.take(8, opcode: op, offset: offset)
      var bits: UInt64 = 0
      for b in raw { bits = bits << 8 | UInt64(b) }
      push(.float(Double(bitPattern: bits)))
    case .append:
      try addItems(from: try topItems(1), pairs: false)
    case .appends, .addItems:
      try addItems(from: try closeMark(), pairs: false)
    case .setItem:
      try addItems(from: try topItems(2), pairs: true)
    case .setItems:
      try addItems(from: try closePairs(), pairs: true)
    case .build:
      let state = try pop()
      try build(try top(), state: state)
    case .global:
      let module = try textLine()
      let name = try textLine()
      push(try addGlobal(module: module, name: name))
    case .stackGlobal:
      let name = try pop()
      let module = try pop()
      guard case .string(let n) = name, case .string(let m) = module else {
        throw .wrongType(opcode: op.name, offset: offset, reason: "module and name must be strings")
      }
      push(try addGlobal(module: m, name: n))
    case .inst:
      let module = try textLine()
      let name = try textLine()
      let args = try popMark()
      let cls = try addGlobal(module: module, name: name)
      let tuple = try addNode(.tuple(args))
      push(
        try addNode(
          .object(
            PickleObjectBox(PickleObject(kind: .inst, callable: cls, args: tuple, offset: offset))))
      )
    case .obj:
      var args = try popMark()
      guard !args.isEmpty else { throw .stackUnderflow(opcode: op.name, offset: offset) }
      let cls = args.removeFirst()
      let tuple = try addNode(.tuple(args))
      push(
        try addNode(
          .object(
            PickleObjectBox(PickleObject(kind: .obj, callable: cls, args: tuple, offset: offset)))))
    case .dict:
      let start = try closePairs()
      var entries: [PickleEntry] = []
      entries.reserveCapacity((stack.count - start) / 2)
      appendPairs(from: start, to: &entries)
      stack.removeSubrange(start...)
      push(try addNode(.dict(entries, state: nil)))
    case .list:
      push(try addNode(.list(try popMark())))
    case .tuple:
      let items = try popMark()
      push(items.isEmpty ? .node(0) : try addNode(.tuple(items)))
    case .frozenSet:
      push(try addNode(.frozenSet(try popMark())))
    case .emptyDict:
      push(try addNode(.dict([], state: nil)))
    case .emptyList:
      push(try addNode(.list([])))
    case .emptyTuple:
      push(.node(0))
    case .emptySet:
      push(try addNode(.set([])))
    case .tuple1:
      let a = try pop()
      push(try addNode(.tuple([a])))
    case .tuple2:
      let b = try pop()
      let a = try pop()
      push(try addNode(.tuple([a, b])))
    case .tuple3:
      let c = try pop()
      let b = try pop()
      let a = try pop()
      push(try addNode(.tuple([a, b, c])))
    case .get:
      push(try memoGet(try memoKeyLine()))
    case .binGet:
      push(try memoGet(try u(1)))
    case .longBinGet:
      push(try memoGet(try u(4)))
    case .put:
      try memoPut(try memoKeyLine(), try top())
    case .binPut:
      try memoPut(try u(1), try top())
    case .longBinPut:
      try memoPut(try u(4), try top())
    case .memoize:
      try memoPut(UInt64(memoCount), try top())
    case .proto:
      let p = try u(1)
      guard p <= 5 else { throw invalid("unsupported protocol \(p)") }
      proto = Int(p)
    case .frame:
      let length = try u(8)
      // Frames are a buffering hint; a frame longer than the input means the file was cut.
      guard length <= UInt64(reader.remaining) else {
        throw .truncated(
          opcode: op.name, offset: offset, needed: Int(clamping: length),
          remaining: reader.remaining)
      }
    case .ext1:
      push(try addNode(.extensionCode(Int(try u(1)))))
    case .ext2:
      push(try addNode(.extensionCode(Int(try u(2)))))
    case .ext4:
      push(try addNode(.extensionCode(Int(Int32(bitPattern: UInt32(try u(4)))))))
    case .nextBuffer:
      throw .unsupported(
        opcode: op.name, offset: offset, reason: "out-of-band buffers cannot occur in a file")
    case .readonlyBuffer:
      _ = try top()
    }
  }

  mutating func addGlobal(module: String, name: String) throws(PickleError) -> PickleValue {
    let global = PickleGlobal(module: module, name: name)
    globals.append(GlobalReference(global: global, opcode: op, offset: offset))
    return try addNode(.global(global))
  }

  // APPEND(S)/ADDITEMS/SETITEM(S) add to a container already on the stack, 1,000 items a batch
  // in torch's files. The items are read where they are on the stack, and the container's array
  // is taken out of its node (so it is uniquely owned and grows in place) and put back: nothing
  // is copied per batch.

  /// Where the items of APPEND (one value) or SETITEM (one pair) start on the stack.
  func topItems(_ count: Int) throws(PickleError) -> Int {
    guard stack.count - base >= count else {
      throw .stackUnderflow(opcode: op.name, offset: offset)
    }
    return stack.count - count
  }

  /// Adds `stack[start...]` to the container just below them (as key/value pairs when `pairs`),
  /// then drops them from the stack.
  mutating func addItems(from start: Int, pairs: Bool) throws(PickleError) {
    guard start > base else { throw .stackUnderflow(opcode: op.name, offset: offset) }
    let target = stack[start - 1]
    let index = try nodeIndex(target)
    // Not `update`: appending reads the stack and counts moves, which its closure cannot.
    var node = takeNode(at: index)
    let isSet = op == .addItems
    var added = true
    if case .object(let box) = node, !isSet {
      if pairs {
        appendPairs(from: start, to: &box.object.dictItems)
      } else {
        appendValues(from: start, to: &box.object.listItems)
      }
    } else if pairs, let (taken, state) = node.takeDict() {
      var entries = consume taken
      appendPairs(from: start, to: &entries)
      node = .dict(entries, state: state)
    } else if !pairs, var items = isSet ? node.takeSet() : node.takeList() {
      appendValues(from: start, to: &items)
      node = isSet ? .set(items) : .list(items)
    } else {
      added = false
    }
    nodes[index] = node
    guard added else {
      let what = pairs ? "cannot set items on" : "cannot add items to"
      throw .wrongType(opcode: op.name, offset: offset, reason: "\(what) \(describe(target))")
    }
    stack.removeSubrange(start...)
  }

  mutating func build(_ target: PickleValue, state: PickleValue) throws(PickleError) {
    let opName = op.name
    let off = offset
    let what = describe(target)
    try update(target) { (node: inout PickleNode) throws(PickleError) in
      switch node {
      case .dict(let items, _):
        node = .dict(items, state: state)
      case .object(let box):
        box.object.state = state
      default:
        throw .wrongType(opcode: opName, offset: off, reason: "cannot set the state of \(what)")
      }
    }
  }

  // MARK: protocol-0 strings

  /// Python 2 `str` bytes: UTF-8 when valid (torch loads with encoding='utf-8'), else latin-1.
  func legacyString(_ raw: UnsafeRawBufferPointer) -> String {
    if let s = String(validating: raw, as: UTF8.self) { return s }
    return String(String.UnicodeScalarView(raw.map { Unicode.Scalar($0) }))
  }

  /// STRING: a quoted Python literal with backslash escapes.
  mutating func quotedString() throws(PickleError) -> String {
    let raw = Array(try reader.line(opcode: op, offset: offset))
    guard raw.count >= 2, let q = raw.first, q == 0x27 || q == 0x22, raw.last == q else {
      throw invalid("the STRING argument must be quoted")
    }
    var out: [UInt8] = []
    var i = 1
    let end = raw.count - 1
    while i < end {
      let c = raw[i]
      guard c == 0x5C, i + 1 < end else {
        out.append(c)
        i += 1
        continue
      }
      let e = raw[i + 1]
      i += 2
      switch e {
      case UInt8(ascii: "n"): out.append(0x0A)
      case UInt8(ascii: "t"): out.append(0x09)
      case UInt8(ascii: "r"): out.append(0x0D)
      case UInt8(ascii: "a"): out.append(0x07)
      case UInt8(ascii: "b"): out.append(0x08)
      case UInt8(ascii: "f"): out.append(0x0C)
      case UInt8(ascii: "v"): out.append(0x0B)
      case UInt8(ascii: "x"):
        guard i + 2 <= end,
          let v = UInt8(String(decoding: raw[i..<i + 2], as: UTF8.self), radix: 16)
        else { throw invalid("bad \\x escape") }
        out.append(v)
        i += 2
      case UInt8(ascii: "0")...UInt8(ascii: "7"):
        var v = Int(e - 0x30)
        var n = 1
        while n < 3, i < end, (0x30...0x37).contains(raw[i]) {
          v = v * 8 + Int(raw[i] - 0x30)
          i += 1
          n += 1
        }
        out.append(UInt8(truncatingIfNeeded: v))
      default: out.append(e)
      }
    }
    return out.withUnsafeBytes { legacyString($0) }
  }

  /// UNICODE: raw-unicode-escape, where only \uXXXX and \UXXXXXXXX are escapes.
  func rawUnicodeEscape(_ raw: UnsafeRawBufferPointer) -> String {
    var scalars = String.UnicodeScalarView()
    var i = 0
    while i < raw.count {
      if raw[i] == 0x5C, i + 1 < raw.count, raw[i + 1] == 0x75 || raw[i + 1] == 0x55 {
        let width = raw[i + 1] == 0x75 ? 4 : 8
        if i + 2 + width <= raw.count,
          let v = UInt32(
            String(
              decoding: UnsafeRawBufferPointer(rebasing: raw[i + 2..<i + 2 + width]), as: UTF8.self),
            radix: 16),
          let scalar = Unicode.Scalar(v)
        {
          scalars.append(scalar)
          i += 2 + width
          continue
        }
      }
      scalars.append(Unicode.Scalar(raw[i]))
      i += 1
    }
    return String(scalars)
  }

  /// Two's-complement little-endian bytes of a decimal integer too wide for Int64.
  func bigIntBytes(decimal text: String) -> [UInt8]? {
    var digits = Substring(text)
    var negative = false
    if digits.first == "-" || digits.first == "+" {
      negative = digits.first == "-"
      digits = digits.dropFirst()
    }
    guard !digits.isEmpty, digits.count <= Int(limits.maxBigIntBytes) * 3,
      digits.allSatisfy({ $0.isASCII && $0.isNumber })
    else { return nil }
    // Base 2^64 limbs, 18 decimal digits at a time: 144 times fewer steps than a byte per digit.
    var limbs: [UInt64] = [0]
    func absorb(_ value: UInt64, scale: UInt64) {
      var carry = value
      for i in limbs.indices {
        let (high, low) = limbs[i].multipliedFullWidth(by: scale)
        let (sum, overflow) = low.addingReportingOverflow(carry)
        limbs[i] = sum
        carry = high &+ (overflow ? 1 : 0)
      }
      if carry > 0 { limbs.append(carry) }
    }
    var chunk: UInt64 = 0
    var scale: UInt64 = 1
    for ch in digits.utf8 {
      chunk = chunk * 10 + UInt64(ch - 0x30)
      scale *= 10
      if scale == 1_000_000_000_000_000_000 {
        absorb(chunk, scale: scale)
        chunk = 0
        scale = 1
      }
    }
    if scale > 1 { absorb(chunk, scale: scale) }
    var magnitude: [UInt8] = []
    for limb in limbs {
      for k in 0..<8 { magnitude.append(UInt8(truncatingIfNeeded: limb >> (8 * UInt64(k)))) }
    }
    while magnitude.count > 1, magnitude.last == 0 { magnitude.removeLast() }
    magnitude.append(0)  // room for the sign bit
    if negative {
      var carry = 1
      for i in magnitude.indices {
        let v = Int(~magnitude[i]) + carry
        magnitude[i] = UInt8(v & 0xFF)
        carry = v >> 8
      }
    }
    return magnitude
  }
}

/// Where an array's elements are, to tell whether an append moved them.
private func bufferAddress<T>(_ array: [T]) -> UnsafeRawPointer? {
  array.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
}

extension String {
  func trimmingSpaces() -> String {
    var s = Substring(self)
    while let f = s.first, f == " " || f == "\r" || f == "\t" { s = s.dropFirst() }
    while let l = s.last, l == " " || l == "\r" || l == "\t" { s = s.dropLast() }
    return String(s)
  }
}
