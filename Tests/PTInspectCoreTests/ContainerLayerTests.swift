// ContainerLayerTests.swift: the byte sources, container identification by structure, one
// folder discovery, typed errors, the JSON header reader, and that the summary reads headers
// and pickles only, never tensor data.

import Foundation
import PTInspectTestSupport
import Testing

@testable import PTInspectCore

/// A source that counts what is read through it.
final class CountingSource: ByteSource, @unchecked Sendable {
  let base: any ByteSource
  private let lock = NSLock()
  private(set) var bytesRead: Int64 = 0
  private(set) var reads = 0
  var name: String { base.name }
  var size: Int64 { base.size }

  init(_ base: any ByteSource) { self.base = base }

  private func count(_ n: Int) {
    lock.lock()
    bytesRead += Int64(n)
    reads += 1
    lock.unlock()
  }

  func read(at offset: Int64, count: Int) throws(ByteSourceError) -> [UInt8] {
    self.count(count)
    return try base.read(at: offset, count: count)
  }

  func withBytes<R>(at offset: Int64, count: Int, _ body: (UnsafeRawBufferPointer) throws -> R)
    throws -> R
  {
    self.count(count)
    return try base.withBytes(at: offset, count: count, body)
  }
}

func fileBytes(_ name: String) throws -> [UInt8] {
  [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(name))))
}

/// A safetensors file with one float32 tensor `w` of 2 elements, its header padded with spaces
/// to `headerLength` bytes.
func safetensors(headerLength: Int) -> [UInt8] {
  var header = Array(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#.utf8)
  header += Array(repeating: 0x20, count: headerLength - header.count)
  var length = UInt64(headerLength)
  var out: [UInt8] = []
  for _ in 0..<8 {
    out.append(UInt8(length & 0xFF))
    length >>= 8
  }
  return out + header + [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40]
}

@Suite struct ByteSourceTests {
  @Test func memoryFileAndSliceReadTheSameBytes() throws {
    let bytes = try fileBytes("cifar_cnn_p4.pt")
    let file = try FileSource(path: Fixtures.path("cifar_cnn_p4.pt"))
    let memory = MemorySource(bytes)
    #expect(file.size == Int64(bytes.count) && memory.size == file.size)
    for (offset, count) in [(0, 16), (1000, 300), (Int64(bytes.count) - 5, 5)] as [(Int64, Int)] {
      let want = Array(bytes[Int(offset)..<Int(offset) + count])
      #expect(try file.read(at: offset, count: count) == want)
      #expect(try memory.read(at: offset, count: count) == want)
      #expect(try file.withBytes(at: offset, count: count) { Array($0) } == want)
    }
    // Large ranges come from the mapping.
    let big = Int(file.size) - 10
    #expect(try file.withBytes(at: 10, count: big) { Array($0) } == Array(bytes[10...]))
    let slice = SliceSource(memory, offset: 100, count: 50)
    #expect(try slice.read(at: 10, count: 5) == Array(bytes[110..<115]))
    #expect(throws: ByteSourceError("cannot read 6 bytes at offset 45: the file has 50 bytes")) {
      try slice.read(at: 45, count: 6)
    }
  }

  @Test func missingFilesAndFoldersAreErrors() throws {
    #expect(throws: ByteSourceError("no such file", isMissing: true)) {
      try FileSource(path: Fixtures.path("does-not-exist.pt"))
    }
    #expect(throws: ByteSourceError("is a directory")) {
      try FileSource(path: Fixtures.path("sharded"))
    }
  }
}

@Suite struct IdentificationTests {
  /// A header length whose low byte is a pickle opcode (0x80 PROTO, 0x28 MARK) is still
  /// safetensors: the check is structural, and it comes before the pickle readers'.
  @Test(arguments: [0x180, 0x128, 0x200, 0x17D, 0x15D, 0x163])
  func safetensorsWhoseLengthLooksLikeAPickle(_ length: Int) throws {
    let source = MemorySource(safetensors(headerLength: length), name: "x.safetensors")
    guard case .container(let reader) = try Containers.identify(source) else {
      Issue.record("\(length): not identified")
      return
    }
    #expect(ObjectIdentifier(reader) == ObjectIdentifier(SafetensorsReader.self))
    let c = try Checkpoint.open(source)
    #expect(c.format == .safetensors)
    #expect(c.tensors.map(\.name) == ["w"])
    let reader2 = try TensorDataReader(c)
    var values: [Double] = []
    try reader2.forEachChunk(try #require(c.tensors.first)) { values += $0 }
    #expect(values == [1, 2])
  }

  @Test func aPickleIsNotTakenForSafetensors() throws {
    // PROTO 2, EMPTY_DICT, STOP, padded: byte 8 is not '{'.
    let source = MemorySource([0x80, 0x02, 0x7D, 0x2E], name: "p.pkl")
    let c = try Checkpoint.open(source)
    #expect(c.format == .pickle)
  }

  @Test(arguments: [
    "cifar_cnn.pt", "legacy_cnn.pt", "legacy_tar.pt", "small_cnn.safetensors", "scripted.pt",
    "pre16_style.pth", "quantized.pt", "views.pt",
  ])
  func openingFromMemoryEqualsOpeningTheFile(_ name: String) throws {
    let fromFile = SummaryReport(try Checkpoint.open(Fixtures.path(name)))
    let memory = MemorySource(try fileBytes(name), name: Fixtures.path(name))
    let fromMemory = SummaryReport(try Checkpoint.open(memory))
    #expect(try ReportJSON.encode(fromMemory) == ReportJSON.encode(fromFile), "\(name)")
  }

  @Test(arguments: ["cifar_cnn.pt", "legacy_cnn.pt", "legacy_tar.pt", "scripted.pt"])
  func scanningFromMemoryEqualsScanningTheFile(_ name: String) throws {
    let fromFile = try SecurityScanner.scan(Fixtures.path(name))
    let memory = MemorySource(try fileBytes(name), name: Fixtures.path(name))
    let fromMemory = try SecurityScanner.scan(memory)
    #expect(fromMemory.globals == fromFile.globals && fromMemory.pickles == fromFile.pickles)
  }
}

@Suite struct HeaderOnlyTests {
  /// The summary reads the zip's end records, its central directory and data.pkl: for the
  /// 23 MB reference CNN, kilobytes.
  @Test func summaryReadsNoTensorData() throws {
    let source = CountingSource(try FileSource(path: Fixtures.path("cifar_cnn.pt")))
    let c = try Checkpoint.open(source)
    #expect(SummaryReport(c).totals.parameters == 5_852_234)
    let pickle = try #require(
      ZipFile(source: source.base).entries.first { $0.name.hasSuffix("/data.pkl") }?.size)
    #expect(source.bytesRead < 70_000 + Int64(pickle) * 2, "read \(source.bytesRead) bytes")
    #expect(source.bytesRead < source.size / 100)
  }

  @Test func safetensorsSummaryReadsTheHeaderOnly() throws {
    let source = CountingSource(try FileSource(path: Fixtures.path("small_cnn.safetensors")))
    _ = try Checkpoint.open(source)
    let header = try fileBytes("small_cnn.safetensors").prefix(8).reversed().reduce(0) {
      $0 << 8 | Int64($1)
    }
    // The first 512 bytes (identification), the header's tail (probe), the length and header.
    #expect(source.bytesRead <= 512 + 64 + 8 + header)
  }
}

@Suite struct FolderTests {
  /// A stray hidden index (an editor backup, macOS's `._` files) is left out everywhere.
  @Test func hiddenIndexesAreIgnoredByEveryCommand() throws {
    let folder = NSTemporaryDirectory() + "ptinspect-folder-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    for name in try FileManager.default.contentsOfDirectory(atPath: Fixtures.path("sharded"))
    where !name.hasSuffix(".expected.json") {
      try FileManager.default.copyItem(
        atPath: Fixtures.path("sharded/" + name), toPath: folder + "/" + name)
    }
    try FileManager.default.copyItem(
      atPath: folder + "/model.safetensors.index.json",
      toPath: folder + "/.backup.index.json")
    #expect(try Checkpoint.open(folder).format == .safetensorsIndex)
    #expect(try SecurityScanner.expand(folder).count == 2)
    #expect(FileBatch.expand([folder], recursive: false).map(\.path) == [folder])
  }

  /// A Hugging Face model folder without an index (`config.json` beside one
  /// `model.safetensors`) is that checkpoint, for every command.
  @Test func aFolderWithOneCheckpointFileIsThatCheckpoint() throws {
    let folder = NSTemporaryDirectory() + "ptinspect-hf-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    try Data(#"{"model_type": "cnn"}"#.utf8).write(
      to: URL(fileURLWithPath: folder + "/config.json"))
    try FileManager.default.copyItem(
      atPath: Fixtures.path("small_cnn.safetensors"), toPath: folder + "/model.safetensors")
    let c = try Checkpoint.open(folder)
    #expect(c.format == .safetensors && c.path == folder + "/model.safetensors")
    #expect(try SecurityScanner.expand(folder) == [folder + "/model.safetensors"])
  }
}

@Suite struct TypedErrorTests {
  @Test(arguments: [
    ("broken/empty.pt", "not-a-checkpoint"), ("broken/truncated_pickle.pt", "pickle"),
    ("hostile/zip_bomb.pt", "zip"), ("broken/missing_storage.pt", "container"),
    ("does-not-exist.pt", "io"), ("containers/packaged.pt", "unsupported"),
    ("broken/truncated_zip.pt", "container"),
  ])
  func kinds(_ name: String, _ kind: String) {
    do {
      _ = try Checkpoint.open(Fixtures.path(name))
      Issue.record("\(name) opened")
    } catch {
      #expect(error.kind == kind, "\(name): \(error)")
    }
  }
}

@Suite struct JSONReaderTests {
  @Test func keepsOrderAndIntegers() throws {
    let v = try JSONReader().parse(
      Array(#"{"b": [1, -2, 3.5e2], "a": {"x": "\u00e9\n\"q\""}, "c": true, "d": null}"#.utf8))
    #expect(v.object?.map(\.key) == ["b", "a", "c", "d"])
    #expect(v["b"]?.array?.map(\.integer) == [1, -2, nil])
    #expect(v["a"]?["x"]?.string == "\u{e9}\n\"q\"")
    #expect(v["c"] == .bool(true) && v["d"] == .null)
    #expect(try JSONReader().parse(Array(#""\ud83d\ude00""#.utf8)).string == "\u{1F600}")
  }

  @Test(arguments: [
    ("{\"a\": }", "invalid value at offset 6"), ("[1, 2", "unexpected end of JSON at offset 5"),
    ("{\"a\" 1}", "expected ':' at offset 5"),
    ("{} x", "unexpected text after the JSON value at offset 3"),
    ("\"a\u{1}\"", "control character in a string at offset 3"),
  ])
  func errorsNameTheOffset(_ text: String, _ message: String) {
    #expect(throws: Error.self) { try JSONReader().parse(Array(text.utf8)) }
    do {
      _ = try JSONReader().parse(Array(text.utf8))
    } catch {
      #expect(error.description == message)
    }
  }

  @Test func depthIsBounded() {
    let deep = Array(repeating: UInt8(ascii: "["), count: 100_000)
    #expect(throws: JSONReaderError.self) { try JSONReader().parse(deep) }
  }
}

@Suite struct ShardedIndexTests {
  /// Llama- and Mixtral-style shards keep `model.` in their keys, as the index names them: the
  /// index is matched before any prefix is stripped (stripping per shard made every such index
  /// fail with "listed in the index but is in no shard").
  @Test func indexNamesAreMatchedBeforePrefixStripping() throws {
    let c = try Checkpoint.open(Fixtures.path("sharded_llama_bin"))
    #expect(c.format == .torchIndex)
    #expect(
      c.tensors.map(\.name) == [
        "model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
        "model.layers.0.input_layernorm.weight", "model.norm.weight", "lm_head.weight",
      ])
    #expect(c.strippedPrefix == "")
    #expect(!c.diagnostics.contains { $0.message.contains("not in the index") })
    #expect(SummaryReport(c).totals.parameters == 336)
  }
}
