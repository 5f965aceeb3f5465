// ScanNestedTests.swift: the analysis beyond names on hand-made pickles: nested pickles (decoded,
// undecodable, past the depth limit), functools.partial when the pickle does not decode, the
// user's allowlist and the scan config file.

import Foundation
import Testing

@testable import PTInspectCore

@Suite struct ScanNestedTests {
  static func global(_ m: String, _ n: String) -> [UInt8] { Array("c\(m)\n\(n)\n".utf8) }
  static func bytes(_ b: [UInt8]) -> [UInt8] {
    b.count < 256
      ? [0x43, UInt8(b.count)] + b
      : [0x42] + (0..<4).map { UInt8(truncatingIfNeeded: b.count >> (8 * $0)) } + b
  }
  static func str(_ s: String) -> [UInt8] {
    let u = Array(s.utf8)
    return [0x58] + (0..<4).map { UInt8(truncatingIfNeeded: u.count >> (8 * $0)) } + u
  }
  /// `m.n(arg)` as a protocol-3 pickle.
  static func call(_ m: String, _ n: String, _ arg: [UInt8], stop: Bool = true) -> [UInt8] {
    [0x80, 0x03] + global(m, n) + arg + [0x85, 0x52] + (stop ? [0x2E] : [])
  }

  func scan(_ bytes: [UInt8]) throws -> ScanReport {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "ptinspect-nested-\(UUID().uuidString).pkl")
    try Data(bytes).write(to: url)
    defer { try? FileManager.default.removeItem(at: url) }
    return try SecurityScanner.scan(url.path)
  }

  @Test func nestedPayloadIsScanned() throws {
    let inner = Self.call("posix", "system", Self.str("touch ptinspect-pwned-unit"))
    let r = try scan(Self.call("pickle", "loads", Self.bytes(inner)))
    #expect(r.verdict == .dangerous)
    let nested = r.globals.first { $0.via == ["pickle.loads"] }
    #expect(nested?.qualifiedName == "posix.system")
    #expect(nested?.displayName == "pickle.loads -> posix.system")
    // REDUCE follows PROTO, the GLOBAL, SHORT_BINBYTES with the payload, and TUPLE1.
    let reduceAt = 2 + Self.global("pickle", "loads").count + 2 + inner.count + 1
    #expect(nested?.occurrences.first?.pickle == "pickle -> pickle.loads@\(reduceAt)")
    #expect(r.pickles.count == 2)
    #expect(r.pickles[1].fileOffset == nil)
    let loader = r.globals.first { $0.qualifiedName == "pickle.loads" }
    #expect(loader?.reason.hasSuffix("the pickle it loads holds dangerous posix.system") == true)
  }

  @Test func undecodableNestedPayloadStillListsItsGlobals() throws {
    let inner = Self.call("posix", "system", Self.str("x"), stop: false)
    let r = try scan(Self.call("pickle", "loads", Self.bytes(inner)))
    #expect(r.complete)  // the file itself reads; the nested failure is a note
    #expect(r.globals.contains { $0.displayName == "pickle.loads -> posix.system" })
    #expect(r.notes.contains { $0.contains("a loader would run what comes before it") })
  }

  @Test func depthIsBounded() throws {
    var payload = Self.call("posix", "system", Self.str("x"))
    for _ in 0..<(NestedPickleLimits.maxDepth + 2) {
      payload = Self.call("pickle", "loads", Self.bytes(payload))
    }
    let r = try scan(payload)
    #expect(r.verdict == .dangerous)
    #expect(r.globals.allSatisfy { $0.via.count <= NestedPickleLimits.maxDepth })
    #expect(r.notes.contains { $0.contains("nested pickles past depth 4") })
  }

  @Test func partialInAnUndecodablePickleIsDangerous() throws {
    // partial(len) and no STOP: the opcode scan names partial; what it wraps is not known.
    let bytes: [UInt8] =
      [0x80, 0x02] + Self.global("functools", "partial") + Self.global("builtins", "len") + [
        0x85, 0x52,
      ]
    let r = try scan(bytes)
    let partial = r.globals.first { $0.qualifiedName == "functools.partial" }
    #expect(partial?.classification == .dangerous)
    #expect(partial?.reason.contains("did not decode") == true)
  }

  @Test func partialOfAReviewedCallableIsUnknown() throws {
    let bytes: [UInt8] =
      [0x80, 0x02] + Self.global("functools", "partial") + Self.global("collections", "deque")
      + [0x85, 0x52, 0x2E]
    let r = try scan(bytes)
    let partial = r.globals.first { $0.qualifiedName == "functools.partial" }
    #expect(partial?.classification == .unknown)
    #expect(partial?.wraps == ["collections.deque"])
    #expect(r.addSafeGlobals == ["collections.deque"])
    #expect(r.advice.map(\.global) == ["functools.partial"])
  }

  @Test func userAllowlist() throws {
    let bytes: [UInt8] =
      [0x80, 0x02] + Self.global("mymodels.nets", "Net") + [0x29, 0x81]
      + Self.global(
        "posix", "system") + [0x86, 0x2E]
    let r = try scan(bytes)
    #expect(r.verdict == .dangerous)
    let allowed = r.allowing(
      ScanAllowlist(["mymodels.nets.Net", "posix.system"], source: "--allow"))
    let net = allowed.globals.first { $0.qualifiedName == "mymodels.nets.Net" }
    #expect(net?.classification == .allowed)
    #expect(net?.allowedByUser == true)
    #expect(net?.reason.hasPrefix("allowed by the user (--allow); otherwise unknown: ") == true)
    #expect(allowed.verdict == .dangerous)  // posix.system is never accepted
    #expect(allowed.notes.contains { $0.hasPrefix("allowing posix.system was ignored") })
    #expect(allowed.addSafeGlobals == [])  // a dangerous file gets no add_safe_globals line
    let prefix = r.allowing(ScanAllowlist(["mymodels.*"], source: "cfg"))
    #expect(prefix.globals.first { $0.qualifiedName == "mymodels.nets.Net" }?.allowedByUser == true)
  }

  @Test func configFile() throws {
    #expect(
      try ScanConfig.parse(
        "[scan]\nallow = [\"a.b\", \"torchvision.*\"]\n", name: ".ptinspect.toml")
        == ["a.b", "torchvision.*"])
    #expect(
      try ScanConfig.parse(
        "[tool.ptinspect.scan]\nallow = [\"__builtin__.set\"]\n", name: "pyproject.toml")
        == ["builtins.set"])
    #expect(try ScanConfig.parse("[budget]\nmax-params = 5\n", name: ".ptinspect.toml") == [])
    #expect(throws: ScanConfigError.self) {
      try ScanConfig.parse("[scan]\nallowed = [\"a.b\"]\n", name: ".ptinspect.toml")
    }
    #expect(throws: ScanConfigError.self) {
      try ScanConfig.parse("[scan]\nallow = \"a.b\"\n", name: ".ptinspect.toml")
    }
    #expect(throws: ScanConfigError.self) { try ScanConfig.validated("system") }
    #expect(throws: ScanConfigError.self) { try ScanConfig.validated("a.*.b") }
  }
}
