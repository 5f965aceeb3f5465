// PickleValue.swift: the decoded value graph. Containers live in an arena and are referred to by
// index, so neither building nor freeing a deeply nested graph recurses.

/// A decoded pickle value: a scalar held inline, or a reference to a node in its `PickleGraph`.
public enum PickleValue: Sendable, Equatable, Hashable {
  case none
  case bool(Bool)
  case int(Int64)
  /// An integer wider than 64 bits: little-endian two's-complement bytes, as LONG1 holds them.
  case bigInt([UInt8])
  case float(Double)
  case string(String)
  case bytes([UInt8])
  /// A container, call, global or persistent id, stored at this index of `PickleGraph.nodes`.
  case node(Int)

  /// The string, if this is one.
  public var stringValue: String? {
    if case .string(let s) = self { return s }
    return nil
  }

  /// The integer, if this is one that fits in 64 bits (bools count as 0 and 1, as in Python).
  public var intValue: Int64? {
    switch self {
    case .int(let v): return v
    case .bool(let b): return b ? 1 : 0
    default: return nil
    }
  }

  /// The node index, if this refers to a node.
  public var nodeIndex: Int? {
    if case .node(let i) = self { return i }
    return nil
  }
}

/// How an object node came to be: which opcode built it.
public enum ObjectKind: String, Sendable {
  /// `callable(*args)`, from REDUCE.
  case reduce
  /// `cls.__new__(cls, *args)`, from NEWOBJ.
  case newObj
  /// `cls.__new__(cls, *args, **kwargs)`, from NEWOBJ_EX.
  case newObjEx
  /// Protocol-0 instantiation, from INST.
  case inst
  /// Protocol-1 instantiation, from OBJ.
  case obj
}

/// A call or instantiation that the decoder recorded and never performed.
public struct PickleObject: Sendable {
  /// The opcode that built it.
  public var kind: ObjectKind
  /// The callable or class: usually a `.global` node.
  public var callable: PickleValue
  /// The positional arguments: usually a `.tuple` node.
  public var args: PickleValue
  /// Keyword arguments (NEWOBJ_EX only).
  public var kwargs: PickleValue?
  /// The state given by BUILD, if any.
  public var state: PickleValue?
  /// Items added by APPEND/APPENDS/ADDITEMS (a list subclass, say).
  public var listItems: [PickleValue] = []
  /// Items added by SETITEM/SETITEMS (an OrderedDict, say), in order.
  public var dictItems: [PickleEntry] = []
  /// Byte offset of the opcode that built it.
  public var offset: Int
}

/// One key/value pair of a dictionary, in insertion order.
public struct PickleEntry: Sendable, Equatable {
  public var key: PickleValue
  public var value: PickleValue
  public init(key: PickleValue, value: PickleValue) {
    self.key = key
    self.value = value
  }
}

/// A module-level name the pickle refers to. It is never imported or called.
public struct PickleGlobal: Sendable, Equatable, Hashable {
  public var module: String
  public var name: String
  public init(module: String, name: String) {
    self.module = module
    self.name = name
  }
  /// `module.name`.
  public var qualifiedName: String { module + "." + name }
}

/// A reference box for a `PickleObject`. The decoder fills it while decoding and never after,
/// so sharing the finished graph between threads is safe.
public final class PickleObjectBox: @unchecked Sendable {
  public internal(set) var object: PickleObject
  init(_ object: PickleObject) { self.object = object }

  // The object's fields, read through the box.
  public var kind: ObjectKind { object.kind }
  public var callable: PickleValue { object.callable }
  public var args: PickleValue { object.args }
  public var kwargs: PickleValue? { object.kwargs }
  public var state: PickleValue? { object.state }
  public var listItems: [PickleValue] { object.listItems }
  public var dictItems: [PickleEntry] { object.dictItems }
  public var offset: Int { object.offset }
}

/// A node of the graph: a container, a global, a recorded call, or a persistent id.
public enum PickleNode: Sendable {
  case list([PickleValue])
  case tuple([PickleValue])
  /// A dict: its items in order, and any attributes set on it by BUILD.
  case dict([PickleEntry], state: PickleValue?)
  case set([PickleValue])
  case frozenSet([PickleValue])
  case global(PickleGlobal)
  /// Boxed: an object record is large, and nodes are many (the arena stays small).
  case object(PickleObjectBox)
  /// What BINPERSID/PERSID would hand to `persistent_load`: the id itself, unresolved.
  case persistentID(PickleValue)
  /// An EXT1/EXT2/EXT4 copyreg extension code (process-local; never resolved).
  case extensionCode(Int)
}

extension PickleNode {
  /// What a value is, for messages: `a list`, `an int`, `the global os.system`.
  static func describe(_ value: PickleValue, in nodes: [PickleNode]) -> String {
    switch value {
    case .none: return "None"
    case .bool: return "a bool"
    case .int, .bigInt: return "an int"
    case .float: return "a float"
    case .string: return "a string"
    case .bytes: return "bytes"
    case .node(let i):
      guard i >= 0, i < nodes.count else { return "a value" }
      switch nodes[i] {
      case .list: return "a list"
      case .tuple: return "a tuple"
      case .dict: return "a dict"
      case .set: return "a set"
      case .frozenSet: return "a frozenset"
      case .global(let g): return "the global \(g.qualifiedName)"
      case .object: return "an object"
      case .persistentID: return "a persistent id"
      case .extensionCode: return "an extension"
      }
    }
  }

  // Each take moves the payload out in its own statement, so that no copy of the node is alive
  // while the caller appends to it: the array stays uniquely owned and grows in place.

  /// A list's items, leaving the node empty; nil (node unchanged) when it is not a list.
  mutating func takeList() -> [PickleValue]? {
    guard case .list(let items) = self else { return nil }
    self = .extensionCode(0)
    return items
  }

  /// A set's items, leaving the node empty; nil (node unchanged) when it is not a set.
  mutating func takeSet() -> [PickleValue]? {
    guard case .set(let items) = self else { return nil }
    self = .extensionCode(0)
    return items
  }

  /// A dict's entries and state, leaving the node empty; nil (unchanged) when it is not a dict.
  mutating func takeDict() -> ([PickleEntry], PickleValue?)? {
    guard case .dict(let items, let state) = self else { return nil }
    self = .extensionCode(0)
    return (items, state)
  }
}

/// A reference to a global, with where it occurs, for security reports.
public struct GlobalReference: Sendable, Equatable {
  public var global: PickleGlobal
  /// The opcode that named it: GLOBAL, STACK_GLOBAL or INST.
  public var opcode: Opcode
  public var offset: Int
  public init(global: PickleGlobal, opcode: Opcode, offset: Int) {
    self.global = global
    self.opcode = opcode
    self.offset = offset
  }
}

/// The result of decoding one pickle.
public struct PickleGraph: Sendable {
  /// Every container, global, call and persistent id, referred to by `.node(index)`.
  public internal(set) var nodes: [PickleNode]
  /// The value STOP returned.
  public internal(set) var root: PickleValue
  /// Every global named, in order of appearance.
  public internal(set) var globals: [GlobalReference]
  /// The protocol from PROTO, or 0 when there was none.
  public internal(set) var protocolVersion: Int
  /// The offset just past STOP: where a following pickle (legacy stream) begins.
  public internal(set) var endOffset: Int
  /// Elements the decoder wrote into containers, counting those a reallocation moved: the
  /// measure of its work the linearity tests check, since times are no test.
  package internal(set) var containerElementMoves: Int

  /// What a value is, for messages: `a list`, `an int`, `the global os.system`.
  public func describe(_ value: PickleValue) -> String { PickleNode.describe(value, in: nodes) }

  /// The node a value refers to, or nil for a scalar.
  public func node(_ value: PickleValue) -> PickleNode? {
    guard case .node(let i) = value else { return nil }
    return nodes[i]
  }

  /// The global a value refers to, if it is one.
  public func global(_ value: PickleValue) -> PickleGlobal? {
    if case .global(let g)? = node(value) { return g }
    return nil
  }

  /// The items of a tuple or list value.
  public func sequence(_ value: PickleValue) -> [PickleValue]? {
    switch node(value) {
    case .tuple(let items)?, .list(let items)?: return items
    default: return nil
    }
  }

  /// The object node a value refers to, if it is one.
  public func object(_ value: PickleValue) -> PickleObject? {
    if case .object(let o)? = node(value) { return o.object }
    return nil
  }
}
