// OpcodeScanner.swift: a genops-style walk over a pickle's opcodes that lists the globals it
// names, without building values. It is the fallback when the decoder fails: it reports every
// global up to the first byte-level error, where the real unpickler would stop too.
//
// It tracks a lenient shadow stack (strings and globals only) so that STACK_GLOBAL operands and
// REDUCE/NEWOBJ/OBJ callables can be named, as pickletools-based scanners do. Stack misuse that
// the decoder rejects (underflow, a missing mark) is tolerated here: listing more is the safe side.
// This file imports nothing but Pickle, so the fuzz harness can compile it with the decoder.

import Pickle

/// A global the opcode scanner saw, and how it was used.
package struct ScannedReference: Sendable, Equatable {
  /// The module, or nil when STACK_GLOBAL's operands are not plain strings in the pickle.
  package var module: String?
  /// The name, or nil when STACK_GLOBAL's operands are not plain strings in the pickle.
  package var name: String?
  /// GLOBAL, STACK_GLOBAL or INST where the global is named; REDUCE, NEWOBJ, NEWOBJ_EX or OBJ
  /// where it is called.
  package var opcode: Opcode
  /// Byte offset of that opcode in the buffer.
  package var offset: Int
}

/// What one opcode walk found.
package struct OpcodeScanResult: Sendable {
  /// Every global named or called, in order of appearance.
  package var references: [ScannedReference] = []
  /// Offsets of the PERSID and BINPERSID opcodes, in order.
  package var persistentIDOffsets: [Int] = []
  /// Opcodes present, as a 256-bit set indexed by opcode byte.
  package var opcodesSeen = OpcodeSet()
  /// The protocol from PROTO, or 0.
  package var protocolVersion = 0
  /// Just past STOP, or the offset of the failing opcode.
  package var endOffset: Int
  /// The first byte-level error (truncation, unknown opcode, bad argument), or nil after STOP.
  package var error: PickleError?
  /// How many opcodes were read.
  package var opcodeCount = 0
}

/// A set of opcode bytes.
package struct OpcodeSet: Sendable, Equatable {
  private var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
  /// An empty set.
  package init() {}
  /// Adds an opcode byte.
  package mutating func insert(_ byte: UInt8) {
    let bit = UInt64(1) << UInt64(byte & 63)
    switch byte >> 6 {
    case 0: words.0 |= bit
    case 1: words.1 |= bit
    case 2: words.2 |= bit
    default: words.3 |= bit
    }
  }
  /// Whether the set holds an opcode byte.
  package func contains(_ byte: UInt8) -> Bool {
    let bit = UInt64(1) << UInt64(byte & 63)
    switch byte >> 6 {
    case 0: return words.0 & bit != 0
    case 1: return words.1 & bit != 0
    case 2: return words.2 & bit != 0
    default: return words.3 & bit != 0
    }
  }
  package static func == (a: OpcodeSet, b: OpcodeSet) -> Bool {
    a.words == b.words
  }
  /// The opcodes in the set, in byte order.
  package var opcodes: [Opcode] {
    Opcode.allCases.filter { contains($0.rawValue) }.sorted { $0.rawValue < $1.rawValue }
  }
}

/// Walks pickle opcodes without building values.
package enum OpcodeScanner {
  /// Strings longer than this are not kept on the shadow stack (no module or name is that long).
  static let maxTrackedString = 1024

  /// Scans the pickle that starts at `start` in `buffer`, up to its STOP or the first error.
  package static func scan(_ buffer: UnsafeRawBufferPointer, at start: Int = 0) -> OpcodeScanResult
  {
    var walker = Walker(buffer: buffer, position: max(0, min(start, buffer.count)))
    return walker.run()
  }

  /// Scans the pickle at the start of `bytes`.
  package static func scan(_ bytes: [UInt8], at start: Int = 0) -> OpcodeScanResult {
    bytes.withUnsafeBytes { scan($0, at: start) }
  }
}

private enum Shadow {
  case string(String)
  /// A binary string's bytes, in the pickle's buffer: made a String only where STACK_GLOBAL
  /// names a global by it (most strings are never looked at).
  case bytes(UnsafeRawBufferPointer)
  /// Index into the references list of the global this value is.
  case global(Int)
  case other
  case mark
}

/// The walk's memo: an array while keys stay close to the number stored (Python numbers them
/// 0, 1, 2, ...), a dictionary for the keys beyond.
private struct ShadowMemo {
  var dense: [Shadow?] = []
  var sparse: [UInt64: Shadow] = [:]
  /// Distinct keys stored (MEMOIZE's next key).
  var count = 0

  subscript(key: UInt64) -> Shadow? {
    if key < UInt64(dense.count), let value = dense[Int(key)] { return value }
    return sparse[key]
  }

  mutating func put(_ key: UInt64, _ value: Shadow) {
    if key < UInt64(dense.count) {
      // A key the array grew past may have been stored in the dictionary before.
      if dense[Int(key)] == nil, sparse.removeValue(forKey: key) == nil { count += 1 }
      dense[Int(key)] = value
    } else if key < UInt64(dense.count + 65_536), key <= UInt64(2 * count + 1024),
      sparse.isEmpty || sparse[key] == nil
    {
      dense.append(contentsOf: repeatElement(nil, count: Int(key) - dense.count + 1))
      dense[Int(key)] = value
      count += 1
    } else {
      if sparse.updateValue(value, forKey: key) == nil { count += 1 }
    }
  }
}

private struct Walker {
  let buffer: UnsafeRawBufferPointer
  var position: Int
  var result: OpcodeScanResult
  var stack: [Shadow] = []
  var memo = ShadowMemo()

  init(buffer: UnsafeRawBufferPointer, position: Int) {
    self.buffer = buffer
    self.position = position
    self.result = OpcodeScanResult(endOffset: position)
  }

  mutating func run() -> OpcodeScanResult {
    while true {
      let offset = position
      result.endOffset = offset
      guard offset < buffer.count else {
        result.error = .missingStop(offset: offset)
        return result
      }
      let byte = buffer[offset]
      guard let op = Opcode(rawValue: byte) else {
        result.error = .unknownOpcode(byte, offset: offset)
        return result
      }
      position += 1
      result.opcodeCount += 1
      result.opcodesSeen.insert(byte)
      do {
        let argument = try readArgument(op, offset: offset)
        if op == .stop {
          result.endOffset = position
          return result
        }
        try apply(op, argument, offset: offset)
      } catch {
        result.error = error
        return result
      }
    }
  }

  // MARK: arguments

  enum Argument {
    case none
    case int(UInt64)
    case text(UnsafeRawBufferPointer)
    case pair(UnsafeRawBufferPointer, UnsafeRawBufferPointer)
    case data(UnsafeRawBufferPointer)
  }

  var remaining: Int { buffer.count - position }

  mutating func take(_ count: UInt64, _ op: Opcode, _ offset: Int) throws(PickleError)
    -> UnsafeRawBufferPointer
  {
    guard count <= UInt64(remaining) else {
      throw .truncated(
        opcode: op.name, offset: offset, needed: Int(clamping: count), remaining: remaining)
    }
    let start = position
    position += Int(count)
    return UnsafeRawBufferPointer(rebasing: buffer[start..<position])
  }

  mutating func unsigned(_ width: Int, _ op: Opcode, _ offset: Int) throws(PickleError) -> UInt64 {
    let raw = try take(UInt64(width), op, offset)
    var value: UInt64 = 0
    for i in (0..<width).reversed() { value = value << 8 | UInt64(raw[i]) }
    return value
  }

  mutating func line(_ op: Opcode, _ offset: Int) throws(PickleError) -> UnsafeRawBufferPointer {
    let rest = UnsafeRawBufferPointer(rebasing: buffer[position...])
    guard let newline = rest.firstIndex(of: 0x0A) else {
      throw .truncated(opcode: op.name, offset: offset, needed: remaining + 1, remaining: remaining)
    }
    position += newline + 1
    return UnsafeRawBufferPointer(rebasing: rest[..<newline])
  }

  mutating func signedLength(_ op: Opcode, _ offset: Int) throws(PickleError) -> UInt64 {
    let n = Int32(bitPattern: UInt32(try unsigned(4, op, offset)))
    guard n >= 0 else {
      throw .invalidArgument(opcode: op.name, offset: offset, reason: "negative length \(n)")
    }
    return UInt64(n)
  }

  mutating func readArgument(_ op: Opcode, offset: Int) throws(PickleError) -> Argument {
    switch op.info.argument {
    case .none: return .none
    case .uint1: return .int(try unsigned(1, op, offset))
    case .uint2: return .int(try unsigned(2, op, offset))
    case .int4, .uint4: return .int(try unsigned(4, op, offset))
    case .uint8: return .int(try unsigned(8, op, offset))
    case .float8: return .data(try take(8, op, offset))
    case .decimalnlShort, .decimalnlLong, .floatnl, .stringnl, .stringnlNoescape, .unicodestringnl:
      return .text(try line(op, offset))
    case .stringnlNoescapePair:
      let a = try line(op, offset)
      return .pair(a, try line(op, offset))
    case .long1, .string1, .bytes1, .unicodestring1:
      return .data(try take(try unsigned(1, op, offset), op, offset))
    case .long4, .string4:
      return .data(try take(try signedLength(op, offset), op, offset))
    case .bytes4, .unicodestring4:
      return .data(try take(try unsigned(4, op, offset), op, offset))
    case .unicodestring8, .bytes8, .bytearray8:
      return .data(try take(try unsigned(8, op, offset), op, offset))
    }
  }

  // MARK: the shadow stack

  mutating func push(_ value: Shadow) { stack.append(value) }

  mutating func pop() -> Shadow {
    guard let last = stack.last, case .mark = last else { return stack.popLast() ?? .other }
    return .other  // never pop through a mark: the real unpickler would fail here
  }

  mutating func popMark() -> [Shadow] {
    guard let mark = stack.lastIndex(where: { if case .mark = $0 { true } else { false } }) else {
      let all = stack
      stack.removeAll()
      return all
    }
    let items = Array(stack[(mark + 1)...])
    stack.removeSubrange(mark...)
    return items
  }

  var top: Shadow {
    guard let last = stack.last, case .mark = last else { return stack.last ?? .other }
    return .other
  }

  func string(_ raw: UnsafeRawBufferPointer) -> Shadow {
    raw.count <= OpcodeScanner.maxTrackedString ? .bytes(raw) : .other
  }

  /// The text of a string value.
  func text(_ v: Shadow) -> String? {
    switch v {
    case .string(let s): return s
    case .bytes(let raw): return String(decoding: raw, as: UTF8.self)
    default: return nil
    }
  }

  mutating func named(_ module: String?, _ name: String?, _ op: Opcode, _ offset: Int) -> Shadow {
    result.references.append(
      ScannedReference(module: module, name: name, opcode: op, offset: offset))
    return .global(result.references.count - 1)
  }

  mutating func called(_ callable: Shadow, _ op: Opcode, _ offset: Int) {
    guard case .global(let i) = callable else { return }
    let g = result.references[i]
    result.references.append(
      ScannedReference(module: g.module, name: g.name, opcode: op, offset: offset))
  }

  mutating func memoPut(_ key: UInt64) {
    // The memo is bounded by the input: at most one entry per PUT opcode.
    memo.put(key, top)
  }

  func decimalKey(_ raw: UnsafeRawBufferPointer) -> UInt64? {
    let digits = raw.filter { $0 != 0x20 && $0 != 0x0D && $0 != 0x09 }
    return UInt64(String(decoding: digits, as: UTF8.self))
  }

  mutating func apply(_ op: Opcode, _ argument: Argument, offset: Int) throws(PickleError) {
    switch op {
    case .proto:
      if case .int(let p) = argument {
        guard p <= 5 else {
          throw .invalidArgument(
            opcode: op.name, offset: offset, reason: "unsupported protocol \(p)")
        }
        result.protocolVersion = Int(p)
      }
    case .frame, .stop, .readonlyBuffer:
      break
    case .mark:
      push(.mark)
    case .pop:
      if let last = stack.last, case .mark = last { stack.removeLast() } else { _ = pop() }
    case .popMark:
      _ = popMark()
    case .dup:
      push(top)
    case .string, .binString, .shortBinString, .unicode, .binUnicode, .shortBinUnicode,
      .binUnicode8:
      switch argument {
      case .text(let raw), .data(let raw):
        var s = string(raw)
        if op == .string, let quoted = text(s), quoted.count >= 2 {
          s = .string(String(quoted.dropFirst().dropLast()))
        }
        push(s)
      default: push(.other)
      }
    case .global, .inst:
      guard case .pair(let m, let n) = argument else { return }
      let module = String(decoding: m, as: UTF8.self)
      let name = String(decoding: n, as: UTF8.self)
      if op == .inst { _ = popMark() }
      push(named(module, name, op, offset))
    case .stackGlobal:
      let name = pop()
      let module = pop()
      if let m = text(module), let n = text(name) {
        push(named(m, n, op, offset))
      } else {
        push(named(nil, nil, op, offset))
      }
    case .reduce, .newObj:
      _ = pop()
      let callable = pop()
      called(callable, op, offset)
      push(.other)
    case .newObjEx:
      _ = pop()
      _ = pop()
      let callable = pop()
      called(callable, op, offset)
      push(.other)
    case .obj:
      let items = popMark()
      if let first = items.first { called(first, op, offset) }
      push(.other)
    case .persID:
      result.persistentIDOffsets.append(offset)
      push(.other)
    case .binPersID:
      result.persistentIDOffsets.append(offset)
      _ = pop()
      push(.other)
    case .get, .binGet, .longBinGet:
      var key: UInt64?
      switch argument {
      case .int(let k): key = k
      case .text(let raw): key = decimalKey(raw)
      default: break
      }
      push(key.flatMap { memo[$0] } ?? .other)
    case .put, .binPut, .longBinPut:
      switch argument {
      case .int(let k): memoPut(k)
      case .text(let raw): if let k = decimalKey(raw) { memoPut(k) }
      default: break
      }
    case .memoize:
      memoPut(UInt64(memo.count))
    case .append, .build:
      _ = pop()
    case .setItem:
      _ = pop()
      _ = pop()
    case .appends, .setItems, .addItems:
      _ = popMark()
    case .tuple, .list, .dict, .frozenSet:
      _ = popMark()
      push(.other)
    case .tuple1:
      _ = pop()
      push(.other)
    case .tuple2:
      _ = pop()
      _ = pop()
      push(.other)
    case .tuple3:
      _ = pop()
      _ = pop()
      _ = pop()
      push(.other)
    case .float, .int, .binInt, .binInt1, .long, .binInt2, .none, .binFloat, .emptyDict, .emptyList,
      .emptyTuple, .newTrue, .newFalse, .long1, .long4, .binBytes, .shortBinBytes, .binBytes8,
      .emptySet, .byteArray8, .ext1, .ext2, .ext4, .nextBuffer:
      push(.other)
    }
  }
}
