// ScanTests.swift: SecurityScanner on the torch-made fixtures, the hostile ones, and archives
// built byte by byte; plus regressions for the decoder bugs the hostile inputs and fuzzing found.

import Foundation
import PTInspectTestSupport
import Pickle
import Testing

@testable import PTInspectCore

@Suite struct ScanTests {
  func scan(_ name: String) throws -> ScanReport { try SecurityScanner.scan(Fixtures.path(name)) }

  @Test func osSystemEveryOccurrence() throws {
    let r = try scan("hostile/os_system.pt")
    #expect(r.format == "torch-zip")
    #expect(r.verdict == .dangerous)
    #expect(r.complete)
    #expect(r.exitCode(strict: false) == 1)
    let p = "os_system/data.pkl"
    // Offsets checked against pickletools.genops on the same bytes.
    #expect(
      r.globals == [
        ScanGlobal(
          module: "posix", name: "system", classification: .dangerous,
          reason: "operating-system access (os.system on Linux and macOS)",
          occurrences: [
            .init(pickle: p, offset: 175, opcode: "GLOBAL"),
            .init(pickle: p, offset: 211, opcode: "REDUCE"),
          ], origin: .standardLibrary, calledBy: ["REDUCE"]),
        ScanGlobal(
          module: "torch._utils", name: "_rebuild_tensor_v2", classification: .allowed,
          reason: "tensor rebuild function",
          occurrences: [
            .init(pickle: p, offset: 14, opcode: "GLOBAL"),
            .init(pickle: p, offset: 158, opcode: "REDUCE"),
          ], origin: .torch, calledBy: ["REDUCE"]),
        ScanGlobal(
          module: "torch", name: "FloatStorage", classification: .allowed, reason: "storage class",
          occurrences: [
            .init(pickle: p, offset: 65, opcode: "GLOBAL"),
            .init(pickle: p, offset: 110, opcode: "BINPERSID"),
          ], origin: .torch),
        ScanGlobal(
          module: "collections", name: "OrderedDict", classification: .allowed,
          reason: "weights_only allowlist",
          occurrences: [
            .init(pickle: p, offset: 124, opcode: "GLOBAL"),
            .init(pickle: p, offset: 152, opcode: "REDUCE"),
          ], origin: .standardLibrary, calledBy: ["REDUCE"]),
      ])
    #expect(
      r.pickles == [
        ScannedPickle(
          name: p, fileOffset: 64, bytes: 216, protocolVersion: 2, decoded: true, error: nil,
          references: 8)
      ])
    #expect(r.addSafeGlobals == [])
    #expect(r.zipFindings == [])
  }

  @Test func trainingCheckpointUnknowns() throws {
    let r = try scan("training_checkpoint.pt")
    #expect(r.verdict == .unknown)
    #expect(r.exitCode(strict: false) == 0)
    #expect(r.exitCode(strict: true) == 1)
    // Checked with torch 2.15: after these two lines, torch.load(weights_only=True) loads the file.
    // numpy.dtype('f8') and ('f4') make numpy.dtypes classes that BUILD then needs allowed too.
    #expect(
      r.addSafeGlobals == [
        "numpy._core.multiarray.scalar", "numpy.dtype", "numpy._core.multiarray._reconstruct",
        "numpy.ndarray", "slice",
        "numpy.dtypes.Float64DType", "numpy.dtypes.Float32DType",
      ])
    #expect(r.addSafeGlobalsImports == "import numpy._core.multiarray, numpy, numpy.dtypes")
    #expect(
      r.addSafeGlobalsLine
        == "torch.serialization.add_safe_globals([numpy._core.multiarray.scalar, numpy.dtype, numpy._core.multiarray._reconstruct, numpy.ndarray, slice, numpy.dtypes.Float64DType, numpy.dtypes.Float32DType])"
    )
    // 103 float and 4 long storages: one GLOBAL each, plus one BINPERSID per storage use.
    let storages = r.globals.filter { $0.name.hasSuffix("Storage") }
    #expect(storages.map(\.qualifiedName) == ["torch.FloatStorage", "torch.LongStorage"])
    #expect(storages.map { $0.occurrences.filter { $0.opcode == "BINPERSID" }.count } == [102, 3])
  }

  /// `sorted(torch.serialization.get_unsafe_globals_in_checkpoint(f))` under torch 2.15.0.
  static let torchUnsafeGlobals: [(String, [String])] = [
    (
      "training_checkpoint.pt",
      [
        "builtins.slice", "numpy._core.multiarray._reconstruct", "numpy._core.multiarray.scalar",
        "numpy.dtype",
        "numpy.ndarray",
      ]
    ),
    (
      "whole_model.pt",
      [
        "__main__.SmallCNN", "torch.nn.modules.activation.ReLU",
        "torch.nn.modules.batchnorm.BatchNorm2d",
        "torch.nn.modules.container.Sequential", "torch.nn.modules.conv.Conv2d",
        "torch.nn.modules.flatten.Flatten",
        "torch.nn.modules.linear.Linear", "torch.nn.modules.pooling.MaxPool2d",
      ]
    ),
    ("cifar_cnn.pt", []), ("lightning.ckpt", []), ("ema_checkpoint.pt", []), ("dtypes.pt", []),
    ("quantized.pt", []),
    ("sparse.pt", []), ("meta.pt", []), ("views.pt", []), ("tied.pt", []),
    ("hostile/os_system.pt", ["posix.system"]),
    ("hostile/huge_shape.pt", []),
  ]

  @Test(arguments: torchUnsafeGlobals.indices)
  func sameNonAllowedGlobalsAsTorch(_ i: Int) throws {
    let (name, unsafe) = Self.torchUnsafeGlobals[i]
    let r = try scan(name)
    #expect(
      r.globals.filter { $0.classification != .allowed }.map(\.qualifiedName).sorted() == unsafe,
      "\(name)")
  }

  @Test func legacyStreamHasFivePickles() throws {
    let r = try scan("legacy_cnn.pt")
    #expect(r.format == "torch-legacy")
    #expect(
      r.pickles.map(\.name) == [
        "magic number", "protocol version", "sys_info", "main", "storage keys",
      ])
    #expect(
      r.pickles.map(\.fileOffset) == [
        0, 15, 21, 21 + r.pickles[2].bytes, 21 + r.pickles[2].bytes + r.pickles[3].bytes,
      ])
    #expect(r.pickles.filter { !$0.decoded }.isEmpty)
    #expect(r.verdict == .allowed)
    // Offsets in a legacy stream are file offsets.
    let main = r.pickles[3]
    let firstMain =
      r.globals.flatMap(\.occurrences).filter { $0.pickle == "main" }.map(\.offset).min() ?? 0
    #expect(firstMain > main.fileOffset ?? 0)
  }

  @Test func legacyTarEveryRecordPickle() throws {
    let r = try scan("legacy_tar.pt")
    #expect(r.format == "torch-tar")
    #expect(r.complete)
    let expected = try Fixtures.expected("legacy_tar.pt")
    let tensors = (expected["tensors"] as? [Any])?.count ?? -1
    // One header pickle per tensor record (the fixture has no shared storages: one per storage).
    #expect(r.pickles.filter { $0.name.hasPrefix("tensors record") }.count == tensors)
    #expect(r.pickles.filter { $0.name.hasPrefix("storages record") }.count == 9)
    #expect(r.pickles.prefix(3).map(\.name) == ["sys_info", "pickle", "tensors"])
    #expect(
      Set(r.globals.map(\.qualifiedName)) == [
        "torch.FloatTensor", "torch.LongTensor", "torch.FloatStorage", "torch.LongStorage",
      ])
    #expect(r.verdict == .allowed)
  }

  @Test func wholeModelLegacyClassesInPersistentIDs() throws {
    let r = try scan("whole_model_legacy.pt")
    #expect(r.verdict == .unknown)
    let model = r.globals.first { $0.module == "__main__" }
    #expect(model?.occurrences.contains { $0.opcode == "BINPERSID" } == true)
  }

  @Test func torchScriptScansEveryPickle() throws {
    let r = try scan("scripted.pt")
    #expect(r.format == "torchscript")
    #expect(r.pickles.count == 21)
    #expect(r.pickles.filter { $0.name.hasSuffix(".debug_pkl") }.count == 19)
    #expect(r.verdict == .unknown)
    #expect(r.addSafeGlobals == [])
    #expect(r.zipFindings == [])
  }

  @Test func protocolFourNote() throws {
    let r = try scan("cifar_cnn_p4.pt")
    #expect(r.verdict == .allowed)
    #expect(
      r.notes == [
        "cifar_cnn_p4/data.pkl uses SHORT_BINUNICODE, STACK_GLOBAL, MEMOIZE, FRAME, which torch.load(weights_only=True) does not implement: it refuses the file whatever add_safe_globals allows"
      ])
  }

  @Test func safetensorsHasNoPickle() throws {
    let r = try scan("small_cnn.safetensors")
    #expect(r.format == "safetensors")
    #expect(
      r.pickles.isEmpty && r.globals.isEmpty && r.verdict == .allowed
        && r.exitCode(strict: true) == 0)
  }

  @Test func shardedIndexExpandsToShards() throws {
    let shards = try SecurityScanner.expand(
      Fixtures.path("sharded_bin/pytorch_model.bin.index.json"))
    #expect(
      shards.map { ($0 as NSString).lastPathComponent } == [
        "pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin",
      ])
    #expect(try SecurityScanner.expand(Fixtures.path("sharded")).count == 2)
    #expect(try SecurityScanner.expand(Fixtures.path("tied.pt")) == [Fixtures.path("tied.pt")])
  }

  // MARK: hostile fixtures

  @Test func brokenTensorsAreStillScanned() throws {
    let r = try scan("hostile/huge_shape.pt")
    #expect(r.complete && r.verdict == .allowed && r.exitCode(strict: false) == 0)
  }

  @Test(arguments: [
    (
      "hostile/memo_out_of_range.pt",
      "memo_out_of_range/data.pkl: corrupt pickle: BINGET at offset 2 reads memo key 200, which was never set"
    ),
    (
      "hostile/huge_string.pt",
      "huge_string/data.pkl: truncated pickle: BINUNICODE at offset 2 needs 4294967295 bytes, 1017 remain"
    ),
    (
      "hostile/zip_bomb.pt",
      "zip entry bomb/data.pkl expands 203842 bytes to 209715200: refused as a zip bomb"
    ),
    (
      "hostile/truncated_zip.pt",
      "truncated or corrupt zip archive: the central directory at its end is missing (was the file cut short?)"
    ),
  ])
  func unreadableParts(_ name: String, _ error: String) throws {
    let r = try scan(name)
    #expect(!r.complete)
    #expect(r.errors == [error])
    #expect(r.exitCode(strict: false) == 2)
  }

  @Test func truncatedZipStillShowsItsPayload() throws {
    let r = try scan("hostile/truncated_zip.pt")
    #expect(r.globals.first?.qualifiedName == "posix.system")
    #expect(r.pickles.map(\.name) == ["os_system/data.pkl (local header)"])
    #expect(
      r.notes == [
        "1 pickle read from local headers of the damaged archive; torch.load cannot open it"
      ])
  }

  @Test func nestedListsHaveNoGlobals() throws {
    for name in ["hostile/nested_lists.pkl", "hostile/nested_lists.pt"] {
      let r = try scan(name)
      #expect(r.complete && r.globals.isEmpty && r.pickles.count == 1, "\(name)")
    }
  }

  @Test func touchMarkerEveryVector() throws {
    let r = try scan("hostile/touch_marker.pkl")
    #expect(r.format == "pickle")
    #expect(
      r.globals.map(\.qualifiedName) == [
        "posix.system", "subprocess.call", "builtins.exec", "os.system", "builtins.eval",
      ])
    #expect(r.globals.allSatisfy { $0.classification == .dangerous })
    let opcodes = Set(r.globals.flatMap(\.occurrences).map(\.opcode))
    #expect(opcodes == ["GLOBAL", "REDUCE", "INST", "STACK_GLOBAL", "OBJ"])
  }

  @Test func zipTricksFixture() throws {
    let r = try scan("hostile/zip_tricks.pt")
    #expect(r.format == "torch-zip")
    #expect(
      r.zipFindings.map(\.kind) == [
        .dataAfterArchive, .dataBeforeArchive, .localCentralMismatch,
        .localCentralMismatch, .encrypted,
        .duplicateName, .pickleInNonPklEntry,
      ])
    #expect(
      r.pickles.map(\.name) == [
        "zip_tricks/data.pkl", "zip_tricks/extra/notes.txt", "zip_tricks/data.pkl",
      ])
    #expect(r.verdict == .dangerous)
    #expect(r.exitCode(strict: false) == 1)
  }

  // MARK: archives built byte by byte

  @Test func encryptionFlagDoesNotHideAStoredPickle() throws {
    let path = try TrickZip(entries: [.init(name: "a/data.pkl", data: systemPickle, flags: 1)])
      .write()
    let r = try SecurityScanner.scan(path)
    #expect(r.verdict == .dangerous)
    #expect(r.zipFindings.map(\.kind) == [.encrypted])
  }

  @Test func centralNameIsWhatCounts() throws {
    let path = try TrickZip(entries: [
      .init(name: "a/data.pkl", data: systemPickle, localName: "a/readme.md")
    ]).write()
    let r = try SecurityScanner.scan(path)
    #expect(r.pickles.map(\.name) == ["a/data.pkl"])
    #expect(r.verdict == .dangerous)
  }

  @Test func storageRecordsAreOnlyPicklesWhenWholeWithAGlobal() throws {
    let path = try TrickZip(entries: [
      .init(name: "a/data.pkl", data: emptyDictPickle),
      // Tensor bytes that happen to start like a pickle.
      .init(name: "a/data/0", data: [0x80, 0x02, 0x00, 0x3F, 0x00, 0x00, 0x80, 0x3F]),
      // A complete pickle that is not all of the record.
      .init(name: "a/data/1", data: systemPickle + [0, 0, 0, 0]),
      // A whole pickle naming a global.
      .init(name: "a/data/2", data: systemPickle),
      // A non-.pkl entry that starts like a pickle and is not one: flagged, and its error is a note.
      .init(name: "a/version", data: [0x80, 0x03, 0xFF]),
    ]).write()
    let r = try SecurityScanner.scan(path)
    #expect(r.zipFindings.map(\.entry) == ["a/data/2", "a/version"])
    #expect(r.zipFindings.allSatisfy { $0.kind == .pickleInNonPklEntry })
    #expect(r.pickles.map(\.name) == ["a/data.pkl", "a/data/2", "a/version"])
    #expect(r.complete)
    #expect(
      r.notes == [
        "a/version: unknown pickle opcode 0xff at offset 2 (the scan lists the globals before it)"
      ])
    #expect(r.verdict == .dangerous)
  }

  @Test func protocolZeroPickleWithAnOddFirstOpcode() throws {
    // STRING, POP, then GLOBAL os system + REDUCE: pickle.load runs it; the sniffer calls the file
    // "not a checkpoint", the scan still reads it as a pickle.
    let bytes = Array("S'x'\n0cos\nsystem\n(S'echo'\ntR.".utf8)
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "ptinspect-scan-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let path = folder.appendingPathComponent("odd.bin").path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    let r = try SecurityScanner.scan(path)
    #expect(r.globals.map(\.qualifiedName) == ["os.system"])
    #expect(r.verdict == .dangerous)
  }

  @Test func trailingPicklesAreScannedToo() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "ptinspect-scan-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let path = folder.appendingPathComponent("two.pkl").path
    try Data(emptyDictPickle + systemPickle + [1, 2]).write(to: URL(fileURLWithPath: path))
    let r = try SecurityScanner.scan(path)
    #expect(r.pickles.map(\.name) == ["pickle", "pickle 2"])
    #expect(
      r.globals.first?.occurrences.first
        == ScanOccurrence(pickle: "pickle 2", offset: 6, opcode: "GLOBAL"))
    #expect(r.notes == ["2 bytes follow the pickle's STOP at offset \(4 + systemPickle.count)"])
  }

  @Test func namesFromTheFileCannotDriveTheTerminal() throws {
    // STACK_GLOBAL 'os' 'sys<ESC>[31mtem<RLO>': escape sequences and bidi overrides are shown, not sent.
    let name = Array("sys\u{1B}[31mtem\u{202E}".utf8)
    let bytes: [UInt8] =
      [0x80, 0x04, 0x8C, 2] + Array("os".utf8) + [0x8C, UInt8(name.count)] + name + [0x93, 0x2E]
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "ptinspect-scan-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let path = folder.appendingPathComponent("escape.pkl").path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    let r = try SecurityScanner.scan(path)
    #expect(r.globals.first?.name == "sys\u{1B}[31mtem\u{202E}")
    #expect(r.verdict == .dangerous)
    for text in [ScanRenderer.table(r), ScanRenderer.markdown(r)] {
      #expect(!text.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x202E })
      #expect(text.contains("os.sys\\u{1B}[31mtem\\u{202E}"))
    }
    #expect(
      GlobalClassifier.summaryWarning([("os", "sys\u{1B}")])?.contains("os.sys\\u{1B}:") == true)
  }

  @Test func unreadableFilesThrow() {
    #expect(throws: CheckpointError(file: Fixtures.path("broken/empty.pt"), "empty file (0 bytes)"))
    {
      try SecurityScanner.scan(Fixtures.path("broken/empty.pt"))
    }
    #expect(throws: CheckpointError(file: Fixtures.path("nope.pt"), "no such file")) {
      try SecurityScanner.scan(Fixtures.path("nope.pt"))
    }
  }

  // MARK: decoder regressions found while hardening

  @Test func longDecimalIntegersAreBounded() throws {
    // 196,000 digits took minutes (a quadratic conversion); CPython refuses over 4300 digits.
    let bytes: [UInt8] =
      [0x80, 0x02, 0x4C] + Array(repeating: 0x39, count: 196_000) + [0x4C, 0x0A, 0x2E]
    #expect(
      throws: PickleError.limitExceeded(
        opcode: "LONG", offset: 2, what: "integer digits", value: 196_000, limit: 4300)
    ) { try PickleDecoder().decode(bytes) }
    // 4300 digits still decode, to the same bytes as before the faster conversion.
    let digits = "1" + String(repeating: "0", count: 4299) + "L\n."
    let ok: [UInt8] = [0x80, 0x02, 0x4C] + Array(digits.utf8)
    guard case .bigInt(let raw) = try PickleDecoder().decode(ok).root else {
      Issue.record("not a big int")
      return
    }
    #expect(raw.count == 1787)
    #expect(raw.last == 0)
    let two70: [UInt8] = [0x80, 0x02, 0x4C] + Array("-1180591620717411303424L\n.".utf8)
    #expect(
      try PickleDecoder().decode(two70).root == .bigInt([0, 0, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF]))
  }

  @Test func deeplyNestedStateDictValueOpens() throws {
    // An OrderedDict whose value nests tuples 100,000 deep: ModelLocator.isOptimizer recursed
    // into the first item and overflowed the stack.
    let bytes: [UInt8] =
      [0x80, 0x02] + Array("ccollections\nOrderedDict\n)RX\u{01}\0\0\0a)".utf8)
      + Array(repeating: 0x85, count: 100_000) + [0x73, 0x2E]
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "ptinspect-scan-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let path = folder.appendingPathComponent("nested_state.pkl").path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    let c = try Checkpoint.open(path)
    #expect(c.tensors.isEmpty)
    // The walk stops at a 4,096-character path instead of copying ever longer paths (the fuzzer's
    // out-of-memory input .fuzz/artifacts/container/oom-5951fe4a..., 50,000 levels, took 2.8 GB
    // under ASan).
    #expect(
      c.diagnostics.contains(
        Diagnostic(.warning, "values nested deeper than a 4,096-character path were not followed")))
    #expect(
      try SecurityScanner.scan(path).globals.map(\.qualifiedName) == ["collections.OrderedDict"])
  }

  @Test func spreadOutMemoKeysStaySparse() throws {
    // LONG_BINPUT keys 65,535 apart grew the dense memo by 64K entries per 5-byte opcode:
    // 20,000 of them asked for about 30 GB. They now go to the sparse memo.
    var bytes: [UInt8] = [0x80, 0x02, 0x4E]
    for i in 1..<20_000 {
      let key = UInt32(i) * 65_535
      bytes += [0x72] + (0..<4).map { UInt8(truncatingIfNeeded: key >> (8 * $0)) }
    }
    bytes +=
      [0x6A] + (0..<4).map { UInt8(truncatingIfNeeded: (UInt32(19_999) * 65_535) >> (8 * $0)) } + [
        0x2E
      ]
    let graph = try PickleDecoder().decode(bytes)
    #expect(graph.root == PickleValue.none)
  }
}
