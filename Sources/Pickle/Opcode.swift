// Opcode.swift: the single table of pickle opcodes (protocols 0 to 5), after CPython's pickletools.

/// How an opcode's inline argument is encoded, named as in CPython's `pickletools`.
public enum ArgumentKind: String, Sendable, CaseIterable {
  case none = ""
  case uint1, uint2, int4, uint4, uint8
  case decimalnlShort = "decimalnl_short"
  case decimalnlLong = "decimalnl_long"
  case floatnl, float8, long1, long4
  case string1, string4, stringnl
  case stringnlNoescape = "stringnl_noescape"
  case stringnlNoescapePair = "stringnl_noescape_pair"
  case unicodestringnl, unicodestring1, unicodestring4, unicodestring8
  case bytes1, bytes4, bytes8, bytearray8
}

/// Every opcode of pickle protocols 0 to 5.
public enum Opcode: UInt8, Sendable, CaseIterable {
  case mark = 0x28, stop = 0x2E, pop = 0x30, popMark = 0x31, dup = 0x32
  case float = 0x46, int = 0x49, binInt = 0x4A, binInt1 = 0x4B, long = 0x4C, binInt2 = 0x4D
  case none = 0x4E, persID = 0x50, binPersID = 0x51, reduce = 0x52
  case string = 0x53, binString = 0x54, shortBinString = 0x55, unicode = 0x56, binUnicode = 0x58
  case append = 0x61, build = 0x62, global = 0x63, dict = 0x64, appends = 0x65
  case get = 0x67, binGet = 0x68, inst = 0x69, longBinGet = 0x6A, list = 0x6C, obj = 0x6F
  case put = 0x70, binPut = 0x71, longBinPut = 0x72, setItem = 0x73, tuple = 0x74
  case setItems = 0x75, emptyDict = 0x7D, emptyList = 0x5D, emptyTuple = 0x29, binFloat = 0x47
  case proto = 0x80, newObj = 0x81, ext1 = 0x82, ext2 = 0x83, ext4 = 0x84
  case tuple1 = 0x85, tuple2 = 0x86, tuple3 = 0x87, newTrue = 0x88, newFalse = 0x89
  case long1 = 0x8A, long4 = 0x8B, binBytes = 0x42, shortBinBytes = 0x43
  case shortBinUnicode = 0x8C, binUnicode8 = 0x8D, binBytes8 = 0x8E, emptySet = 0x8F
  case addItems = 0x90, frozenSet = 0x91, newObjEx = 0x92, stackGlobal = 0x93, memoize = 0x94
  case frame = 0x95, byteArray8 = 0x96, nextBuffer = 0x97, readonlyBuffer = 0x98

  /// The opcode's name as `pickletools` prints it, its protocol and its argument encoding.
  public var info: (name: String, proto: Int, argument: ArgumentKind) {
    switch self {
    case .mark: ("MARK", 0, .none)
    case .stop: ("STOP", 0, .none)
    case .pop: ("POP", 0, .none)
    case .popMark: ("POP_MARK", 1, .none)
    case .dup: ("DUP", 0, .none)
    case .float: ("FLOAT", 0, .floatnl)
    case .int: ("INT", 0, .decimalnlShort)
    case .binInt: ("BININT", 1, .int4)
    case .binInt1: ("BININT1", 1, .uint1)
    case .long: ("LONG", 0, .decimalnlLong)
    case .binInt2: ("BININT2", 1, .uint2)
    case .none: ("NONE", 0, .none)
    case .persID: ("PERSID", 0, .stringnlNoescape)
    case .binPersID: ("BINPERSID", 1, .none)
    case .reduce: ("REDUCE", 0, .none)
    case .string: ("STRING", 0, .stringnl)
    case .binString: ("BINSTRING", 1, .string4)
    case .shortBinString: ("SHORT_BINSTRING", 1, .string1)
    case .unicode: ("UNICODE", 0, .unicodestringnl)
    case .binUnicode: ("BINUNICODE", 1, .unicodestring4)
    case .append: ("APPEND", 0, .none)
    case .build: ("BUILD", 0, .none)
    case .global: ("GLOBAL", 0, .stringnlNoescapePair)
    case .dict: ("DICT", 0, .none)
    case .appends: ("APPENDS", 1, .none)
    case .get: ("GET", 0, .decimalnlShort)
    case .binGet: ("BINGET", 1, .uint1)
    case .inst: ("INST", 0, .stringnlNoescapePair)
    case .longBinGet: ("LONG_BINGET", 1, .uint4)
    case .list: ("LIST", 0, .none)
    case .obj: ("OBJ", 1, .none)
    case .put: ("PUT", 0, .decimalnlShort)
    case .binPut: ("BINPUT", 1, .uint1)
    case .longBinPut: ("LONG_BINPUT", 1, .uint4)
    case .setItem: ("SETITEM", 0, .none)
    case .tuple: ("TUPLE", 0, .none)
    case .setItems: ("SETITEMS", 1, .none)
    case .emptyDict: ("EMPTY_DICT", 1, .none)
    case .emptyList: ("EMPTY_LIST", 1, .none)
    case .emptyTuple: ("EMPTY_TUPLE", 1, .none)
    case .binFloat: ("BINFLOAT", 1, .float8)
    case .proto: ("PROTO", 2, .uint1)
    case .newObj: ("NEWOBJ", 2, .none)
    case .ext1: ("EXT1", 2, .uint1)
    case .ext2: ("EXT2", 2, .uint2)
    case .ext4: ("EXT4", 2, .int4)
    case .tuple1: ("TUPLE1", 2, .none)
    case .tuple2: ("TUPLE2", 2, .none)
    case .tuple3: ("TUPLE3", 2, .none)
    case .newTrue: ("NEWTRUE", 2, .none)
    case .newFalse: ("NEWFALSE", 2, .none)
    case .long1: ("LONG1", 2, .long1)
    case .long4: ("LONG4", 2, .long4)
    case .binBytes: ("BINBYTES", 3, .bytes4)
    case .shortBinBytes: ("SHORT_BINBYTES", 3, .bytes1)
    case .shortBinUnicode: ("SHORT_BINUNICODE", 4, .unicodestring1)
    case .binUnicode8: ("BINUNICODE8", 4, .unicodestring8)
    case .binBytes8: ("BINBYTES8", 4, .bytes8)
    case .emptySet: ("EMPTY_SET", 4, .none)
    case .addItems: ("ADDITEMS", 4, .none)
    case .frozenSet: ("FROZENSET", 4, .none)
    case .newObjEx: ("NEWOBJ_EX", 4, .none)
    case .stackGlobal: ("STACK_GLOBAL", 4, .none)
    case .memoize: ("MEMOIZE", 4, .none)
    case .frame: ("FRAME", 4, .uint8)
    case .byteArray8: ("BYTEARRAY8", 5, .bytearray8)
    case .nextBuffer: ("NEXT_BUFFER", 5, .none)
    case .readonlyBuffer: ("READONLY_BUFFER", 5, .none)
    }
  }

  /// The opcode's `pickletools` name, such as `BINUNICODE`.
  public var name: String { info.name }
}
