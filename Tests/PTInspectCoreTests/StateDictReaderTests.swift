// StateDictReaderTests.swift: the state-dict fast path reads what it accepts exactly as the
// decoder and the interpreter do, on every fixture, and declines everything else, rule by rule,
// on hand-made pickles.

import Foundation
import PTInspectTestSupport
import Pickle
import Testing

@testable import PTInspectCore

@Suite struct StateDictReaderTests {
  // MARK: every fixture, both paths

  /// Every file under Fixtures/ that opens.
  static let fixtures: [String] = {
    let root = Fixtures.path("")
    let files = FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []
    return files.sorted().filter { !$0.hasSuffix(".json") && !$0.hasSuffix(".txt") }
  }()

  /// What a user sees of a checkpoint: the summary and the tensor listing as JSON, and the
  /// globals a scan lists.
  static func rendering(_ path: String, fastPath: Bool) -> String? {
    var options = OpenOptions()
    options.stateDictFastPath = fastPath
    guard let c = try? Checkpoint.open(path, options: options) else { return nil }
    let summary = (try? ReportJSON.encode(SummaryReport(c))) ?? "?"
    let tensors = (try? ReportJSON.encode(TensorsReport(c, filter: nil, sort: .file))) ?? "?"
    let globals = c.globals.map { "\($0.pickle) \($0.reference)" }.joined(separator: "\n")
    return [summary, tensors, globals, "\(c.pickleProtocol)"].joined(separator: "\n")
  }

  @Test func everyFixtureReadsTheSameThroughBothPaths() throws {
    var compared = 0
    var fast = 0
    for name in Self.fixtures {
      let path = Fixtures.path(name)
      let general = Self.rendering(path, fastPath: false)
      #expect(Self.rendering(path, fastPath: true) == general, "\(name)")
      if general != nil { compared += 1 }
      if Self.acceptedByFastPath(path) { fast += 1 }
    }
    // Both kinds are there: files the fast path reads, and files it leaves to the general path.
    #expect(compared > 100)
    #expect(fast > 20)
    #expect(fast < compared)
  }

  /// Whether the fast path reads the main pickle of the zip at `path`.
  static func acceptedByFastPath(_ path: String) -> Bool {
    guard let source = try? FileSource(path: path),
      case .container(let reader)? = try? Containers.identify(source),
      let contents = try? reader.read(source, mode: .strict, options: OpenOptions()),
      contents.format == .torchZip, let main = contents.mainPickle
    else { return false }
    return (try? main.withBytes(in: source) { StateDictReader.read($0) }) != nil
  }

  @Test func theCifarStateDictIsReadByTheFastPath() throws {
    // A module's state_dict(): an OrderedDict with `_metadata` set by BUILD.
    #expect(Self.acceptedByFastPath(Fixtures.path("cifar_cnn.pt")))
    let c = try Checkpoint.open(Fixtures.path("cifar_cnn.pt"))
    #expect(SummaryReport(c).totals.parameters == 5_852_234)
    #expect(SummaryReport(c).totals.buffers == 899)
  }

  // MARK: hand-made pickles

  /// A protocol-2 pickle as torch.save writes a state dict: the root (`{}` or `OrderedDict()`),
  /// then one SETITEMS of `tensors`, each `_rebuild_tensor_v2(pid, offset, size, stride, False,
  /// OrderedDict())` over storage key `<i>` of FloatStorage, then `tail`, then STOP.
  static func stateDict(
    ordered: Bool = false, names: [String] = ["a.weight", "a.bias"], size: [UInt8] = [2, 3],
    stride: [UInt8] = [3, 1], offset: [UInt8] = [0x4B, 0], tail: [UInt8] = []
  ) -> [UInt8] {
    var out: [UInt8] = [0x80, 2]
    out += ordered ? global("collections", "OrderedDict") + [0x29, 0x52] : [0x7D]
    out += [0x71, 0, 0x28]  // BINPUT 0, MARK
    for (i, name) in names.enumerated() {
      out += unicode(name)
      out += tensor(key: i, memo: UInt8(i + 1), size: size, stride: stride, offset: offset)
    }
    return out + [0x75] + tail + [0x2E]  // SETITEMS, STOP
  }

  /// `_rebuild_tensor_v2(('storage', FloatStorage, '<key>', 'cpu', 6), offset, size, stride,
  /// False, OrderedDict())`, its args tuple memoized as `memo`.
  static func tensor(
    key: Int, memo: UInt8, size: [UInt8] = [2, 3], stride: [UInt8] = [3, 1],
    offset: [UInt8] = [0x4B, 0]
  ) -> [UInt8] {
    var out = global("torch._utils", "_rebuild_tensor_v2") + [0x28]  // MARK of the args
    out += [0x28] + unicode("storage") + global("torch", "FloatStorage")
    out += unicode(String(key)) + unicode("cpu") + [0x4B, 6, 0x74]  // count 6, TUPLE
    out += [0x51] + offset  // BINPERSID, the offset
    out += [0x28] + size.flatMap { [0x4B, $0] } + [0x74]  // size
    out += [0x28] + stride.flatMap { [0x4B, $0] } + [0x74]  // stride
    out += [0x89] + global("collections", "OrderedDict") + [0x29, 0x52]  // False, hooks
    return out + [0x74, 0x71, memo, 0x52]  // TUPLE, BINPUT, REDUCE
  }

  static func global(_ module: String, _ name: String) -> [UInt8] {
    [0x63] + Array((module + "\n" + name + "\n").utf8)
  }

  static func unicode(_ s: String) -> [UInt8] {
    let utf8 = Array(s.utf8)
    return [0x58] + withUnsafeBytes(of: UInt32(utf8.count).littleEndian) { Array($0) } + utf8
  }

  static func fast(_ bytes: [UInt8], limits: PickleLimits = PickleLimits())
    -> StateDictReader.Result?
  {
    bytes.withUnsafeBytes { StateDictReader.read($0, limits: limits) }
  }

  /// The general path's records for the same bytes.
  static func general(_ bytes: [UInt8]) throws -> [TensorRecord] {
    let graph = try PickleDecoder().decode(bytes)
    return try TorchInterpreter(graph: graph).interpret().tensors
  }

  static func describe(_ records: [TensorRecord]) -> [String] {
    records.map {
      "\($0.name) \($0.dtype) \($0.shape) \($0.stride) \($0.storageOffset) "
        + "\($0.storage?.key ?? "-") \($0.storage?.count ?? -1) \($0.storage?.device ?? "-") "
        + "\(String(describing: $0.requiresGrad)) \($0.kind) \($0.role) \($0.kindIsExact)"
    }
  }

  @Test(arguments: [false, true]) func readsAStateDictAsTheGeneralPathDoes(ordered: Bool) throws {
    let bytes = Self.stateDict(ordered: ordered)
    let result = try #require(Self.fast(bytes))
    #expect(Self.describe(result.tensors) == Self.describe(try Self.general(bytes)))
    #expect(
      Self.describe(result.tensors) == [
        "a.weight float32 [2, 3] [3, 1] 0 0 6 cpu Optional(false) parameter weight false",
        "a.bias float32 [2, 3] [3, 1] 0 1 6 cpu Optional(false) parameter bias false",
      ])
    #expect(result.protocolVersion == 2)
    #expect(result.globals == (try PickleDecoder().decode(bytes)).globals)
  }

  @Test func readsAModulesMetadataStateAsTheGeneralPathDoes() throws {
    // BUILD({'_metadata': {'': {'version': 1}}}) on the root, as state_dict() has it.
    let metadata: [UInt8] =
      [0x7D, 0x28] + Self.unicode("_metadata") + [0x7D] + Self.unicode("") + [0x7D]
      + Self.unicode("version") + [0x4B, 1, 0x73, 0x73, 0x75, 0x62]
    let bytes = Self.stateDict(ordered: true, tail: metadata)
    let result = try #require(Self.fast(bytes))
    #expect(Self.describe(result.tensors) == Self.describe(try Self.general(bytes)))
    #expect(result.tensors.count == 2)
  }

  @Test func readsAParameterAndARepeatedTensorAsTheGeneralPathDoes() throws {
    // {'p': _rebuild_parameter(t, True, OrderedDict()), 'q': the same parameter, from the memo}
    var bytes: [UInt8] = [0x80, 2, 0x7D, 0x71, 0, 0x28] + Self.unicode("p")
    bytes += Self.global("torch._utils", "_rebuild_parameter")
    bytes += Self.tensor(key: 0, memo: 1) + [0x88]
    bytes += Self.global("collections", "OrderedDict") + [0x29, 0x52]
    bytes += [0x87, 0x71, 2, 0x52, 0x71, 3]  // TUPLE3, BINPUT, REDUCE, BINPUT 3
    bytes += Self.unicode("q") + [0x68, 3, 0x75, 0x2E]  // BINGET 3, SETITEMS, STOP
    let result = try #require(Self.fast(bytes))
    #expect(Self.describe(result.tensors) == Self.describe(try Self.general(bytes)))
    #expect(
      Self.describe(result.tensors) == [
        "p float32 [2, 3] [3, 1] 0 0 6 cpu Optional(true) parameter other true",
        "q float32 [2, 3] [3, 1] 0 0 6 cpu Optional(true) parameter other true",
      ])
  }

  /// Pickles the fast path must leave to the general path, each breaking one of its rules.
  static let declined: [(String, [UInt8])] = {
    let ok = stateDict()
    func replacing(_ from: [UInt8], _ to: [UInt8]) -> [UInt8] {
      var out = ok
      if let r = out.firstRange(of: from) { out.replaceSubrange(r, with: to) }
      return out
    }
    return [
      ("no STOP", Array(ok.dropLast())),
      ("truncated", Array(ok.prefix(40))),
      ("an unknown opcode", [0x80, 2, 0xFF, 0x2E]),
      ("a list root", [0x80, 2, 0x5D, 0x2E]),
      ("an empty dict", [0x80, 2, 0x7D, 0x2E]),
      ("an int value", [0x80, 2, 0x7D, 0x58, 1, 0, 0, 0, 0x61, 0x4B, 1, 0x73, 0x2E]),
      ("an int key", replacing(unicode("a.weight"), [0x4B, 7])),
      ("a _metadata key", replacing(unicode("a.weight"), unicode("_metadata"))),
      ("a negative offset", stateDict(offset: [0x4A, 0xFF, 0xFF, 0xFF, 0xFF])),
      ("a stride of another length", stateDict(stride: [1])),
      (
        "an unknown storage class", replacing(Array("FloatStorage".utf8), Array("FloatStorag".utf8))
      ),
      ("an untyped storage", replacing(Array("FloatStorage".utf8), Array("UntypedStorage".utf8))),
      ("a persistent id that is not a storage", replacing(unicode("storage"), unicode("module"))),
      (
        "an unknown rebuild",
        replacing(Array("_rebuild_tensor_v2".utf8), Array("_rebuild_tensor_v9".utf8))
      ),
      ("a sparse memo key", replacing([0x71, 0, 0x28], [0x71, 9, 0x28])),
      (
        "a BINGET of a tuple",
        replacing([0x74, 0x71, 1, 0x52], [0x74, 0x71, 1, 0x30, 0x68, 1, 0x52])
      ),
      ("a protocol over 5", replacing([0x80, 2], [0x80, 6])),
      ("a BUILD on a tensor", replacing([0x71, 1, 0x52], [0x71, 1, 0x52, 0x7D, 0x62])),
      ("a wide LONG1 offset", stateDict(offset: [0x8A, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0])),
      // {'model': {'a': tensor}}: declined at the inner SETITEMS, before the rest is read.
      (
        "a nested state dict",
        [0x80, 2, 0x7D, 0x71, 0] + unicode("model") + [0x7D, 0x71, 1, 0x28] + unicode("a")
          + tensor(key: 0, memo: 2) + [0x75, 0x73, 0x2E]
      ),
    ]
  }()

  @Test(arguments: declined.map(\.0)) func declines(_ rule: String) throws {
    let bytes = try #require(Self.declined.first { $0.0 == rule }?.1)
    #expect(Self.fast(bytes) == nil)
  }

  @Test func declinesOverTheDecodersLimits() throws {
    var limits = PickleLimits()
    limits.maxNodes = 5
    #expect(Self.fast(Self.stateDict(), limits: limits) == nil)
    limits = PickleLimits()
    limits.maxValueBytes = 4
    #expect(Self.fast(Self.stateDict(), limits: limits) == nil)
    #expect(Self.fast(Self.stateDict()) != nil)
  }

  @Test func aDeclinedFileGetsTheGeneralPathsError() throws {
    // A negative offset: the fast path declines, the interpreter names the problem.
    let bytes = Self.stateDict(offset: [0x4A, 0xFF, 0xFF, 0xFF, 0xFF])
    #expect(throws: InterpretError("_rebuild_tensor_v2 has an invalid storage offset")) {
      try Self.general(bytes)
    }
  }
}
