// ScanOpcodeScannerTests.swift: the opcode scanner (the fallback when decoding fails) against the
// decoder on every fixture pickle, and on hand-written pickles that break the decoder.

import Foundation
import PTInspectTestSupport
import Pickle
import Testing

@testable import PTInspectCore

@Suite struct ScanOpcodeScannerTests {
  /// Every `.pkl` entry of the zip fixtures, plus the bare and legacy pickles.
  static func fixturePickles() throws -> [(String, [UInt8])] {
    var out: [(String, [UInt8])] = []
    let names = [
      "cifar_cnn_p4.pt", "training_checkpoint.pt", "lightning.ckpt", "dtypes.pt", "quantized.pt",
      "sparse.pt",
      "meta.pt", "whole_model.pt", "scripted.pt", "views.pt", "hostile/os_system.pt",
    ]
    for name in names {
      let archive = try ZipFile(source: FileSource(path: Fixtures.path(name)))
      for e in archive.entries where e.name.hasSuffix("pkl") {
        out.append(("\(name):\(e.name)", try archive.read(e, limit: 1 << 24)))
      }
    }
    return out
  }

  @Test func agreesWithTheDecoderOnEveryFixturePickle() throws {
    let pickles = try Self.fixturePickles()
    #expect(pickles.count > 30)
    for (name, bytes) in pickles {
      let graph = try PickleDecoder().decode(bytes)
      let scan = OpcodeScanner.scan(bytes)
      #expect(scan.error == nil, "\(name)")
      #expect(scan.endOffset == graph.endOffset, "\(name)")
      #expect(scan.protocolVersion == graph.protocolVersion, "\(name)")
      let named = scan.references.filter { [.global, .stackGlobal, .inst].contains($0.opcode) }
      #expect(named.map(\.offset) == graph.globals.map(\.offset), "\(name)")
      #expect(
        named.map { "\($0.module ?? "?").\($0.name ?? "?")" }
          == graph.globals.map(\.global.qualifiedName), "\(name)")
      // Every REDUCE/NEWOBJ the decoder records with a global callable, the scanner names too.
      var calls: [Int] = []
      for node in graph.nodes {
        if case .object(let o) = node, o.kind != .inst, graph.global(o.callable) != nil {
          calls.append(o.offset)
        }
      }
      let called = scan.references.filter {
        [.reduce, .newObj, .newObjEx, .obj].contains($0.opcode)
      }.map(\.offset)
      #expect(called.sorted() == calls.sorted(), "\(name)")
      var pids = 0
      for node in graph.nodes { if case .persistentID = node { pids += 1 } }
      #expect(scan.persistentIDOffsets.count == pids, "\(name)")
    }
  }

  @Test func stackGlobalOperandsThroughTheMemo() {
    // SHORT_BINUNICODE 'os' MEMOIZE, SHORT_BINUNICODE 'system' MEMOIZE, STACK_GLOBAL, POP,
    // BINGET 0, BINGET 1, STACK_GLOBAL, STOP: the second one's operands come from the memo.
    let bytes: [UInt8] =
      [0x80, 0x04, 0x8C, 2] + Array("os".utf8) + [0x94, 0x8C, 6] + Array("system".utf8)
      + [0x94, 0x93, 0x30, 0x68, 0, 0x68, 1, 0x93, 0x2E]
    let scan = OpcodeScanner.scan(bytes)
    #expect(scan.error == nil)
    #expect(scan.references.map(\.offset) == [16, 22])
    #expect(
      scan.references.allSatisfy {
        $0.module == "os" && $0.name == "system" && $0.opcode == .stackGlobal
      })
  }

  @Test func computedStackGlobalIsUnresolved() {
    // EMPTY_DICT, SHORT_BINUNICODE 'x', STACK_GLOBAL: the module is not a string.
    let bytes: [UInt8] = [0x80, 0x04, 0x7D, 0x8C, 1, 0x78, 0x93, 0x2E]
    let scan = OpcodeScanner.scan(bytes)
    #expect(
      scan.references == [ScannedReference(module: nil, name: nil, opcode: .stackGlobal, offset: 6)]
    )
    #expect(throws: PickleError.self) { try PickleDecoder().decode(bytes) }
  }

  @Test func stopsAtTheFirstByteLevelErrorWithTheGlobalsBeforeIt() {
    // GLOBAL posix system, then an unknown opcode 0xFF: the decoder fails, the scan keeps the global.
    let bytes: [UInt8] =
      [0x80, 0x02] + Array("cposix\nsystem\n".utf8) + [0xFF, 0x63] + Array("os\nsystem\n".utf8)
    let scan = OpcodeScanner.scan(bytes)
    #expect(scan.error == .unknownOpcode(0xFF, offset: 16))
    #expect(
      scan.references == [
        ScannedReference(module: "posix", name: "system", opcode: .global, offset: 2)
      ])
    #expect(scan.endOffset == 16)
  }

  @Test func toleratesStackMisuseTheDecoderRejects() {
    // APPEND on an empty stack, then GLOBAL + EMPTY_TUPLE + REDUCE: the decoder stops at APPEND;
    // the scan goes on and still names the call.
    let bytes: [UInt8] = [0x80, 0x02, 0x61] + Array("cbuiltins\nexec\n".utf8) + [0x29, 0x52, 0x2E]
    #expect(throws: PickleError.stackUnderflow(opcode: "APPEND", offset: 2)) {
      try PickleDecoder().decode(bytes)
    }
    let scan = OpcodeScanner.scan(bytes)
    #expect(scan.error == nil)
    #expect(scan.references.map(\.opcode) == [.global, .reduce])
    #expect(scan.references.map(\.offset) == [3, 19])
  }

  @Test(
    arguments: [
      // (bytes, expected error)
      (
        [0x80, 0x02, 0x58, 0xFF, 0xFF, 0xFF, 0xFF, 0x41],
        PickleError.truncated(opcode: "BINUNICODE", offset: 2, needed: 4_294_967_295, remaining: 1)
      ),
      (
        [0x80, 0x02, 0x54, 0xFF, 0xFF, 0xFF, 0xFF],
        .invalidArgument(opcode: "BINSTRING", offset: 2, reason: "negative length -1")
      ),
      (
        [0x80, 0x02, 0x63, 0x6F, 0x73],
        .truncated(opcode: "GLOBAL", offset: 2, needed: 3, remaining: 2)
      ),
      (
        [0x80, 0x06, 0x4E, 0x2E],
        .invalidArgument(opcode: "PROTO", offset: 0, reason: "unsupported protocol 6")
      ),
      ([0x80, 0x02, 0x4E], .missingStop(offset: 3)),
      (
        [0x80, 0x04, 0x8D, 0, 0, 0, 0, 0, 0, 0, 0x80],
        .truncated(opcode: "BINUNICODE8", offset: 2, needed: Int.max, remaining: 0)
      ),
    ] as [([UInt8], PickleError)])
  func byteLevelErrors(_ bytes: [UInt8], _ error: PickleError) {
    #expect(OpcodeScanner.scan(bytes).error == error)
  }

  @Test func scansFromAnOffset() {
    let first: [UInt8] = [0x80, 0x02, 0x4E, 0x2E]
    let second: [UInt8] = [0x80, 0x02] + Array("cos\nsystem\n".utf8) + [0x2E]
    let scan = OpcodeScanner.scan(first + second, at: 4)
    #expect(scan.references.map(\.offset) == [6])
    #expect(scan.endOffset == 4 + second.count)
    #expect(
      OpcodeScanner.scan(first + second, at: 99).error
        == .missingStop(offset: first.count + second.count))
  }
}
