// PickleDecoderTests.swift: every opcode on hand-written bytes, the memo's reference semantics,
// deep nesting, and the opcode table against CPython's pickletools.

import Foundation
import PTInspectTestSupport
import Pickle
import Testing

@Suite struct OpcodeTableTests {
  @Test func matchesPickletools() throws {
    let tsv = try String(contentsOfFile: Fixtures.path("pickle_opcodes.tsv"), encoding: .utf8)
    let rows = tsv.split(separator: "\n").dropFirst().map {
      $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
    }
    #expect(rows.count == 68)
    #expect(Opcode.allCases.count == 68)
    for row in rows {
      let code = try #require(UInt8(row[0], radix: 16))
      let op = try #require(Opcode(rawValue: code), "opcode \(row[1]) missing")
      #expect(op.info.name == row[1])
      #expect(op.info.proto == Int(row[2]))
      #expect(op.info.argument.rawValue == row[3], "argument of \(row[1])")
    }
  }
}

@Suite struct OpcodeTests {
  /// (name, bytes, expected rendering of the root).
  static let cases: [(String, [UInt8], String)] = [
    ("PROTO/NONE/STOP", b(0x80, 2, "N."), "None"),
    ("NEWTRUE/NEWFALSE/TUPLE2", b(0x80, 2, 0x88, 0x89, 0x86, "."), "(True, False)"),
    ("INT bools", b("I01\nI00\n", 0x86, "."), "(True, False)"),
    ("INT", b("I-42\n."), "-42"),
    ("INT wider than 64 bits", b("I18446744073709551616\n."), "bigint(0 0 0 0 0 0 0 0 1 0)"),
    ("BININT signed", b("J", le(0xFFFF_FFFE, 4), "."), "-2"),
    ("BININT1", b("K", 255, "."), "255"),
    ("BININT2", b("M", le(65535, 2), "."), "65535"),
    ("LONG", b("L-12345678901234L\n."), "-12345678901234"),
    ("LONG1 sign-extended", b(0x8A, 2, 0xFF, 0xFF, "."), "-1"),
    ("LONG1 empty is 0", b(0x8A, 0, "."), "0"),
    (
      "LONG1 legacy magic",
      b(0x8A, 10, [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19], "."),
      "bigint(6c fc 9c 46 f9 20 6a a8 50 19)"
    ),
    ("LONG4", b(0x8B, le(2, 4), 0x00, 0x80, "."), "-32768"),
    ("FLOAT", b("F2.5\n."), "2.5"),
    ("BINFLOAT big-endian", b("G", [0x40, 0x04, 0, 0, 0, 0, 0, 0], "."), "2.5"),
    ("STRING escapes", b("S'a\\nb\\x41\\'c'\n."), "'a\nbA'c'"),
    ("BINSTRING", b("T", le(2, 4), "hi."), "'hi'"),
    ("SHORT_BINSTRING latin-1", b("U", 1, 0xE9, "."), "'é'"),
    ("UNICODE raw-unicode-escape", b("Vcaf\\u00e9\n."), "'café'"),
    ("BINUNICODE", b("X", le(3, 4), "abc."), "'abc'"),
    ("SHORT_BINUNICODE", b(0x8C, 2, "hé".utf8.count > 2 ? "h" : "h", "i."), "'hi'"),
    ("BINUNICODE8", b(0x8D, le(1, 8), "z."), "'z'"),
    ("BINBYTES", b("B", le(2, 4), 1, 2, "."), "b'1 2'"),
    ("SHORT_BINBYTES", b("C", 1, 0xFF, "."), "b'ff'"),
    ("BINBYTES8", b(0x8E, le(1, 8), 7, "."), "b'7'"),
    ("BYTEARRAY8", b(0x96, le(1, 8), 9, "."), "b'9'"),
    ("EMPTY_LIST/APPEND", b("]K", 1, "a."), "[1]"),
    ("MARK/APPENDS", b("](K", 1, "K", 2, "e."), "[1, 2]"),
    ("LIST", b("(K", 1, "K", 2, "l."), "[1, 2]"),
    ("EMPTY_TUPLE", b(")."), "()"),
    ("TUPLE1", b("K", 1, 0x85, "."), "(1,)"),
    ("TUPLE3", b("K", 1, "K", 2, "K", 3, 0x87, "."), "(1, 2, 3)"),
    ("TUPLE", b("(K", 1, "K", 2, "t."), "(1, 2)"),
    ("EMPTY_DICT/SETITEM", b("}K", 1, "K", 2, "s."), "{1: 2}"),
    ("SETITEMS", b("}(K", 1, "K", 2, "K", 3, "K", 4, "u."), "{1: 2, 3: 4}"),
    ("DICT", b("(K", 1, "K", 2, "d."), "{1: 2}"),
    ("EMPTY_SET/ADDITEMS", b(0x8F, "(K", 1, 0x90, "."), "set(1)"),
    ("FROZENSET", b("(K", 1, "K", 2, 0x91, "."), "frozenset(1, 2)"),
    ("POP", b("K", 1, "K", 2, "0."), "1"),
    ("POP_MARK", b("K", 1, "(K", 2, "K", 3, "1."), "1"),
    ("POP of an empty frame pops the mark", b("K", 1, "(0."), "1"),
    ("DUP", b("K", 1, "2", 0x86, "."), "(1, 1)"),
    ("PUT/GET", b("K", 5, "p3\n0g3\n."), "5"),
    ("BINPUT/BINGET", b("K", 5, "q", 1, "0h", 1, "."), "5"),
    ("LONG_BINPUT/LONG_BINGET", b("K", 5, "r", le(70000, 4), "0j", le(70000, 4), "."), "5"),
    ("MEMOIZE", b(0x80, 4, "K", 5, 0x94, "0h", 0, "."), "5"),
    ("FRAME is skipped", b(0x80, 4, 0x95, le(2, 8), "N."), "None"),
    ("GLOBAL", b("cos\nsystem\n."), "os.system"),
    ("STACK_GLOBAL", b(0x8C, 2, "os", 0x8C, 6, "system", 0x93, "."), "os.system"),
    ("REDUCE", b("cos\nsystem\n(S'ls'\ntR."), "reduce(os.system, ('ls',))"),
    ("NEWOBJ", b("c__main__\nNet\n)", 0x81, "."), "newObj(__main__.Net, ())"),
    ("NEWOBJ_EX", b("c__main__\nNet\n)}", 0x92, "."), "newObjEx(__main__.Net, (), kwargs={})"),
    ("INST", b("(K", 1, "i__main__\nNet\n."), "inst(__main__.Net, (1,))"),
    ("OBJ", b("(c__main__\nNet\nK", 1, "o."), "obj(__main__.Net, (1,))"),
    (
      "BUILD on an object", b("c__main__\nNet\n)", 0x81, "}K", 1, "K", 2, "sb."),
      "newObj(__main__.Net, (), state={1: 2})"
    ),
    ("BUILD on a dict keeps items apart", b("}K", 1, "K", 2, "s}b."), "{1: 2} state={}"),
    (
      "SETITEMS on an OrderedDict call", b("ccollections\nOrderedDict\n)R(K", 1, "K", 2, "u."),
      "reduce(collections.OrderedDict, (), dict={1: 2})"
    ),
    ("PERSID", b("P0\n."), "pid('0')"),
    ("BINPERSID", b("(S'storage'\nK", 3, "tQ."), "pid(('storage', 3))"),
    ("EXT1", b(0x82, 7, "."), "ext(7)"),
    ("EXT2", b(0x83, le(300, 2), "."), "ext(300)"),
    ("EXT4", b(0x84, le(70000, 4), "."), "ext(70000)"),
    ("READONLY_BUFFER is a no-op", b("C", 1, 1, 0x98, "."), "b'1'"),
  ]

  @Test(arguments: cases.indices)
  func opcode(_ i: Int) throws {
    let (name, bytes, expected) = Self.cases[i]
    #expect(try decodeText(bytes) == expected, "\(name)")
  }

  @Test func everyOpcodeHasACase() {
    var seen = Set<UInt8>()
    for (_, bytes, _) in Self.cases { seen.formUnion(bytes) }
    // Every opcode byte appears in some case (as an opcode or, for a few, also as data).
    let missing = Opcode.allCases.filter { !seen.contains($0.rawValue) && $0 != .nextBuffer }
    #expect(missing.isEmpty, "no case for \(missing.map(\.name))")
  }

  @Test func endOffsetAllowsAnotherPickle() throws {
    let bytes = b(0x80, 2, "K", 1, ".", 0x80, 2, "K", 2, ".")
    let first = try PickleDecoder().decode(bytes)
    #expect(first.endOffset == 5)
    let second = try PickleDecoder().decode(bytes, at: first.endOffset)
    #expect(second.text(second.root) == "2")
    #expect(second.protocolVersion == 2)
  }

  @Test func globalsAreRecordedWithOffsets() throws {
    let g = try PickleDecoder().decode(
      b(0x80, 2, "cos\nsystem\n", 0x8C, 2, "io", 0x8C, 4, "open", 0x93, 0x86, "."))
    #expect(g.globals.map(\.global.qualifiedName) == ["os.system", "io.open"])
    #expect(g.globals.map(\.offset) == [2, 23])
    #expect(g.globals.map(\.opcode) == [.global, .stackGlobal])
  }
}

@Suite struct MemoTests {
  /// A dict memoised before it is filled must be seen filled when fetched again (the memo keeps
  /// references; candle and burn copy and see it empty).
  @Test func memoKeepsReferences() throws {
    let bytes = b(0x80, 2, "]", "}q", 0, "(X", le(1, 4), "aK", 1, "u", "a", "h", 0, "a.")
    #expect(try decodeText(bytes) == "[{'a': 1}, {'a': 1}]")
  }

  @Test func selfReferenceIsAGraphNotARecursion() throws {
    // l = []; l.append(l)
    let g = try PickleDecoder().decode(b("]q", 0, "h", 0, "a."))
    guard case .node(let i) = g.root, case .list(let items) = g.nodes[i] else {
      Issue.record("root is not a list")
      return
    }
    #expect(items == [.node(i)])
  }
}

@Suite struct DepthTests {
  /// 200,000 nested lists through APPEND: decoded without recursion.
  @Test func deepAppendNesting() throws {
    let n = 200_000
    var bytes: [UInt8] = [0x80, 2]
    bytes += [UInt8](repeating: 0x5D, count: n)
    bytes += [UInt8](repeating: 0x61, count: n - 1)
    bytes.append(0x2E)
    let g = try PickleDecoder().decode(bytes)
    var depth = 1
    var v = g.root
    while case .node(let i) = v, case .list(let items) = g.nodes[i], let first = items.first {
      depth += 1
      v = first
    }
    #expect(depth == n)
  }

  /// 200,000 nested marks and LISTs: the mark stack is data, not recursion.
  @Test func deepMarkNesting() throws {
    let n = 200_000
    let bytes = [UInt8](repeating: 0x28, count: n) + [UInt8](repeating: 0x6C, count: n) + [0x2E]
    let g = try PickleDecoder().decode(bytes)
    #expect(g.nodes.count == n + 1)
  }
}

@Suite struct PickleErrorTests {
  static let cases: [(String, [UInt8], String)] = [
    (
      "truncated argument", b("X", le(5, 4), "ab"),
      "truncated pickle: BINUNICODE at offset 0 needs 5 bytes, 2 remain"
    ),
    (
      "4 GiB string in a tiny input", b(0x80, 2, "X", le(0xFFFF_FFFF, 4), "abc"),
      "truncated pickle: BINUNICODE at offset 2 needs 4294967295 bytes, 3 remain"
    ),
    ("no STOP", b("K", 1), "truncated pickle: input ends at offset 2 before STOP"),
    ("unterminated line", b("I12"), "truncated pickle: INT at offset 0 needs 3 bytes, 2 remain"),
    ("unknown opcode", b(0x80, 2, 0xFF), "unknown pickle opcode 0xff at offset 2"),
    ("empty stack", b("."), "corrupt pickle: STOP at offset 0 pops from an empty stack"),
    (
      "pop below a mark", b("K", 1, "(a."),
      "corrupt pickle: APPEND at offset 3 pops from an empty stack"
    ),
    ("no mark", b("t."), "corrupt pickle: TUPLE at offset 0 finds no MARK"),
    (
      "memo key never set", b(0x80, 2, "h", 200, "."),
      "corrupt pickle: BINGET at offset 2 reads memo key 200, which was never set"
    ),
    ("bad integer", b("Iabc\n."), "corrupt pickle: INT at offset 0: 'abc' is not an integer"),
    ("bad float", b("Fx\n."), "corrupt pickle: FLOAT at offset 0: 'x' is not a float"),
    (
      "negative memo key", b("K", 1, "p-1\n."),
      "corrupt pickle: PUT at offset 2: negative memo key -1"
    ),
    (
      "odd SETITEMS", b("}(K", 1, "u."),
      "corrupt pickle: SETITEMS at offset 4: odd number of items (1)"
    ),
    (
      "APPEND to a tuple", b(")K", 1, "a."),
      "corrupt pickle: APPEND at offset 3: cannot add items to a tuple"
    ),
    (
      "SETITEM on a list", b("]K", 1, "K", 2, "s."),
      "corrupt pickle: SETITEM at offset 5: cannot set items on a list"
    ),
    ("BUILD on an int", b("K", 1, "}b."), "corrupt pickle: BUILD at offset 3: target is an int"),
    (
      "STACK_GLOBAL of ints", b("K", 1, "K", 2, 0x93, "."),
      "corrupt pickle: STACK_GLOBAL at offset 4: module and name must be strings"
    ),
    ("protocol 6", b(0x80, 6, "N."), "corrupt pickle: PROTO at offset 0: unsupported protocol 6"),
    (
      "negative BINSTRING", b("T", le(0xFFFF_FFFF, 4), "."),
      "corrupt pickle: BINSTRING at offset 0: negative length -1"
    ),
    (
      "FRAME past the end", b(0x80, 4, 0x95, le(100, 8), "N."),
      "truncated pickle: FRAME at offset 2 needs 100 bytes, 2 remain"
    ),
    (
      "NEXT_BUFFER", b(0x97, "."),
      "unsupported pickle: NEXT_BUFFER at offset 0: out-of-band buffers cannot occur in a file"
    ),
  ]

  @Test(arguments: cases.indices)
  func error(_ i: Int) {
    let (name, bytes, message) = Self.cases[i]
    do {
      _ = try PickleDecoder().decode(bytes)
      Issue.record("\(name): decoded without an error")
    } catch {
      #expect(error.description == message, "\(name)")
    }
  }

  @Test func limitIsCheckedBeforeAllocating() {
    var limits = PickleLimits()
    limits.maxValueBytes = 4
    let bytes = b("X", le(5, 4), "hello.")
    do {
      _ = try PickleDecoder(limits: limits).decode(bytes)
      Issue.record("decoded past the limit")
    } catch {
      #expect(
        error.description
          == "pickle limit exceeded: BINUNICODE at offset 0: length 5 is over the limit of 4")
      #expect(error.offset == 0)
    }
  }

  @Test func nodeLimit() {
    var limits = PickleLimits()
    limits.maxNodes = 3
    do {
      _ = try PickleDecoder(limits: limits).decode(b("]]]]]."))
      Issue.record("decoded past the node limit")
    } catch {
      #expect(
        error.description
          == "pickle limit exceeded: EMPTY_LIST at offset 2: node count 4 is over the limit of 3")
    }
  }
}
