// ModernFormatsTests.swift: torch.distributed.checkpoint folders and torch.export `.pt2`
// archives written by torch itself, against torch's own answers (Fixtures/dcp/*.expected.json,
// Fixtures/pt2/*.expected.json from scripts/make_modern_fixtures.py).

import Foundation
import PTInspectTestSupport
import Testing

@testable import PTInspectCore

/// A byte source that records every range read.
final class RangeRecordingSource: ByteSource, @unchecked Sendable {
  let base: any ByteSource
  private let lock = NSLock()
  private(set) var ranges: [Range<Int64>] = []
  var name: String { base.name }
  var size: Int64 { base.size }
  var bytesRead: Int64 { lock.withLock { ranges.reduce(0) { $0 + Int64($1.count) } } }

  init(_ base: any ByteSource) { self.base = base }

  private func note(_ offset: Int64, _ count: Int) {
    lock.withLock { ranges.append(offset..<offset + Int64(count)) }
  }

  func read(at offset: Int64, count: Int) throws(ByteSourceError) -> [UInt8] {
    note(offset, count)
    return try base.read(at: offset, count: count)
  }

  func withBytes<R>(at offset: Int64, count: Int, _ body: (UnsafeRawBufferPointer) throws -> R)
    throws -> R
  {
    note(offset, count)
    return try base.withBytes(at: offset, count: count, body)
  }
}

/// A torch answer's statistics.
struct TorchAnswer {
  var min: Double
  var max: Double
  var mean: Double

  init?(_ any: Any?) {
    guard let d = any as? [String: Any], let mn = d["min"] as? Double, let mx = d["max"] as? Double,
      let mean = d["mean"] as? Double
    else { return nil }
    (min, max, self.mean) = (mn, mx, mean)
  }

  /// Checks `values` against torch's numbers: min and max exact at float32 (the fixtures'
  /// dtype; Foundation's JSON parser on Linux can miss a double's last digit), the mean close.
  func check(_ values: [Double], _ what: String) {
    #expect(values.min().map { Float($0) } == Float(min), "\(what) min")
    #expect(values.max().map { Float($0) } == Float(max), "\(what) max")
    let mean = values.reduce(0, +) / Double(Swift.max(values.count, 1))
    #expect(abs(mean - self.mean) <= 1e-7 * Swift.max(1, abs(self.mean)), "\(what) mean")
  }
}

func allValues(_ reader: TensorDataReader, _ t: TensorRecord) throws -> [Double] {
  var values: [Double] = []
  try reader.forEachChunk(t) { values += $0 }
  return values
}

@Suite struct DcpTests {
  static let folders = ["plain", "fqn", "safetensors", "gloo"]

  @Test(arguments: folders)
  func tensorsChunksAndValuesMatchTorch(_ folder: String) throws {
    let c = try Checkpoint.open(Fixtures.path("dcp/" + folder))
    #expect(c.format == .dcp)
    let root = try Fixtures.expected("dcp/" + folder)
    let entries = root["entries"] as? [[String: Any]] ?? []
    let tensors = entries.filter { $0["kind"] as? String == "tensor" }
    #expect(c.tensors.map(\.name) == tensors.map { $0["name"] as? String ?? "" })
    let reader = try TensorDataReader(c)
    for (t, e) in zip(c.tensors, tensors) {
      #expect(t.dtype.rawValue == e["dtype"] as? String, "\(t.name)")
      #expect(t.shape == (e["shape"] as? [Int] ?? []).map(Int64.init), "\(t.name)")
      #expect(t.requiresGrad == e["requiresGrad"] as? Bool, "\(t.name)")
      #expect(!t.kindIsExact, "\(t.name): parameters are inferred")
      let chunks = e["chunks"] as? [[String: Any]] ?? []
      #expect(
        t.chunks.map(\.offsets) == chunks.map { ($0["offsets"] as? [Int] ?? []).map(Int64.init) })
      #expect(t.chunks.map(\.sizes) == chunks.map { ($0["sizes"] as? [Int] ?? []).map(Int64.init) })
      let storage = e["storage"] as? [[String: Any]] ?? []
      for (chunk, s) in zip(t.chunks, storage) {
        #expect(chunk.file == s["file"] as? String, "\(t.name)")
        #expect(chunk.byteOffset == Int64(s["byteOffset"] as? Int ?? -1), "\(t.name)")
        #expect(chunk.byteLength == Int64(s["length"] as? Int ?? -1), "\(t.name)")
      }
      if let want = TorchAnswer(e["stats"]) { want.check(try allValues(reader, t), t.name) }
    }
    let values = entries.filter { $0["kind"] as? String == "bytes" }.map { $0["name"] as? String }
    #expect(values.allSatisfy { v in c.metadata.contains { $0.name == v } })
  }

  @Test func shardedAcrossTwoRanks() throws {
    let c = try Checkpoint.open(Fixtures.path("dcp/gloo"))
    let embed = try #require(c.tensors.first { $0.name == "model.embed.weight" })
    #expect(embed.chunks.map(\.sizes) == [[4, 4], [3, 4]])
    #expect(Set(embed.chunks.map(\.file)) == ["__0_0.distcp", "__1_0.distcp"])
    #expect(c.files.count == 3, ".metadata and two .distcp files")
    #expect(
      c.diagnostics.contains {
        $0.message
          == "a torch.distributed.checkpoint folder: 4 tensors in 2 .distcp files, 4 of them sharded (up to 2 chunks, each held by one rank), listed from .metadata alone; parameters and buffers are inferred from names"
      })
  }

  @Test func sectionsAsForATrainingCheckpoint() throws {
    for folder in ["plain", "fqn"] {
      let c = try Checkpoint.open(Fixtures.path("dcp/" + folder))
      #expect(c.parts.map(\.name) == ["model", "optim", "step"], "\(folder)")
      #expect(c.parts.map(\.role) == [.model, .optimizer, .value], "\(folder)")
      #expect(c.modelTensors.count == 6, "\(folder)")
      #expect(c.tensors.filter { $0.section == .optimizer }.count == 18, "\(folder)")
      #expect(c.modelPrefix == "model.")
    }
    let fqn = try Checkpoint.open(Fixtures.path("dcp/fqn"))
    #expect(fqn.tensors.contains { $0.name == "optim.state.0.weight.exp_avg" })
  }

  @Test func aDistcpFileNamesItsFolder() throws {
    let c = try Checkpoint.open(Fixtures.path("dcp/gloo/__1_0.distcp"))
    #expect(c.format == .dcp)
    #expect(c.tensors.count == 4)
    #expect(
      c.diagnostics.contains {
        $0.message
          == "'__1_0.distcp' is one file of a torch.distributed.checkpoint folder: read as the folder, from its .metadata"
      })
  }

  /// The summary reads `.metadata` and not one `.distcp` byte; reading values reads them.
  @Test func summaryReadsNoDistcpByte() throws {
    let recorder = Locked<[RangeRecordingSource]>([])
    let metadata = RangeRecordingSource(try FileSource(path: Fixtures.path("dcp/gloo/.metadata")))
    let contents = try DcpReader.read(metadata, mode: .strict, options: OpenOptions()) {
      (path: String) throws(ByteSourceError) -> any ByteSource in
      let s = RangeRecordingSource(try FileSource(path: path))
      recorder.withLock { $0.append(s) }
      return s
    }
    let c = try Checkpoint.assemble(contents, source: metadata, options: OpenOptions())
    _ = SummaryReport(c)
    let companions = recorder.withLock { $0 }
    #expect(companions.count == 2)
    #expect(companions.map(\.bytesRead) == [0, 0])
    #expect(metadata.bytesRead <= metadata.size + 512)
    let reader = try TensorDataReader(c)
    _ = try allValues(reader, c.tensors[0])
    #expect(companions.allSatisfy { $0.bytesRead > 0 })
  }

  static let hostile = [
    (
      "dcp/hostile/chunk_outside",
      ".metadata: tensor 'model.embed.weight': chunk 1 (offsets [6, 0], sizes [3, 4]) lies outside its shape [7, 4]"
    ),
    (
      "dcp/hostile/chunk_missing",
      ".metadata: tensor 'model.embed.weight': its chunks hold 16 of its 28 elements"
    ),
    (
      "dcp/hostile/range_past_eof",
      ".metadata: tensor 'model.proj.weight': chunk 0 is bytes 1641..<103218 of '__0_0.distcp', which has 6372 bytes"
    ),
    (
      "pt2/hostile_missing_weight.pt2",
      "tied/data/weights/model_weights_config.json: 'emb.weight' names 'weight_99', which the archive does not hold"
    ),
  ]

  @Test(arguments: hostile)
  func hostileInputsAreOneLine(_ name: String, _ message: String) {
    do {
      _ = try Checkpoint.open(Fixtures.path(name))
      Issue.record("\(name) opened")
    } catch {
      #expect(error.message == message)
    }
  }

  @Test func scanDecodesMetadataAndEveryDistcpPickle() throws {
    let r = try SecurityScanner.scan(Fixtures.path("dcp/plain/.metadata"))
    #expect(r.format == "dcp")
    #expect(r.complete, "\(r.errors)")
    // .metadata and the 37 torch.save archives (24 tensors, 13 values) laid in the .distcp files.
    #expect(r.pickles.count == 38)
    #expect(r.pickles.first?.name == ".metadata")
    #expect(r.verdict == .allowed)
    #expect(
      r.notes.contains(
        "torch.distributed.checkpoint.load reads .metadata with a plain pickle.load: weights_only does not protect it"
      ))
    #expect(
      r.globals.contains { $0.qualifiedName == "torch.distributed.checkpoint.metadata.Metadata" })
    #expect(r.addSafeGlobals.isEmpty)
  }

  /// A folder holding `bytes` as `.metadata` beside an empty `__0_0.distcp`.
  static func folder(metadata bytes: [UInt8]) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "ptinspect-dcp-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    try Data(bytes).write(to: dir.appendingPathComponent(".metadata"))
    try Data().write(to: dir.appendingPathComponent("__0_0.distcp"))
    return dir
  }

  /// A `.metadata` that names the DCP module, then calls posix.system: the summary refuses it
  /// in one line, the scan calls it dangerous.
  @Test func hostileMetadataIsRefusedAndDangerous() throws {
    let module = Array("torch.distributed.checkpoint.metadata".utf8)
    let bytes: [UInt8] =
      [0x80, 0x04, 0x8C, UInt8(module.count)] + module + [0x94, 0x30]
      + Array("cposix\nsystem\n".utf8) + [0x8C, 0x02] + Array("ls".utf8) + [0x85, 0x52, 0x2E]
    let dir = try Self.folder(metadata: bytes)
    defer { try? FileManager.default.removeItem(at: dir) }
    do {
      _ = try Checkpoint.open(dir.path)
      Issue.record("opened")
    } catch {
      #expect(
        error.message == ".metadata: the pickle is not a torch.distributed.checkpoint Metadata")
    }
    let files = try SecurityScanner.expand(dir.path)
    #expect(files.map(lastPathComponent) == [".metadata"])
    let r = try SecurityScanner.scan(try #require(files.first))
    #expect(r.format == "dcp")
    #expect(r.verdict == .dangerous)
    #expect(r.globals.first?.qualifiedName == "posix.system")
  }

  @Test func diffAgainstTheConsolidatedFile() throws {
    let a = try Checkpoint.open(Fixtures.path("dcp/plain"))
    let b = try Checkpoint.open(Fixtures.path("dcp/plain_consolidated.pt"))
    let ra = try TensorDataReader(a)
    let rb = try TensorDataReader(b)
    for t in a.modelTensors {
      let other = try #require(b.tensors.first { $0.name == a.layerName(t) })
      #expect(try allValues(ra, t) == allValues(rb, other), "\(t.name)")
      #expect(try ra.rawBytes(t) == rb.rawBytes(other), "\(t.name)")
    }
  }

  @Test func aFolderOfStepDirectoriesIsABatch() throws {
    let runs = FileManager.default.temporaryDirectory.appendingPathComponent(
      "ptinspect-dcp-runs-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: runs) }
    try FileManager.default.createDirectory(at: runs, withIntermediateDirectories: true)
    for step in ["step-100", "step-200"] {
      try FileManager.default.copyItem(
        atPath: Fixtures.path("dcp/gloo"), toPath: runs.appendingPathComponent(step).path)
    }
    let inputs = FileBatch.expand([runs.path], recursive: false)
    #expect(inputs.map { lastPathComponent($0.path) } == ["step-100", "step-200"])
    #expect(FileBatch.expand([Fixtures.path("dcp/gloo")], recursive: false).count == 1)
  }
}

@Suite struct Pt2Tests {
  struct Spec {
    var name: String
    var kind: String
    var persistent: Bool?
    var dtype: String
    var shape: [Int64]
    var stride: [Int64]
    var stats: TorchAnswer?
  }

  static func specs(_ file: String) throws -> [String: [Spec]] {
    let root = try Fixtures.expected("pt2/" + file)
    var out: [String: [Spec]] = [:]
    func ints(_ v: Any?) -> [Int64] { (v as? [Int] ?? []).map(Int64.init) }
    for (program, list) in root["programs"] as? [String: [[String: Any]]] ?? [:] {
      var specs: [Spec] = []
      for d in list {
        let name = d["name"] as? String ?? ""
        let kind = d["kind"] as? String ?? ""
        let dtype = d["dtype"] as? String ?? ""
        specs.append(
          Spec(
            name: name, kind: kind, persistent: d["persistent"] as? Bool, dtype: dtype,
            shape: ints(d["shape"]), stride: ints(d["stride"]), stats: TorchAnswer(d["stats"])))
      }
      out[program] = specs
    }
    return out
  }

  @Test(arguments: ["tied.pt2", "two_programs.pt2"])
  func programsMatchTorch(_ file: String) throws {
    let c = try Checkpoint.open(Fixtures.path("pt2/" + file))
    #expect(c.format == .pt2)
    let programs = try Self.specs(file)
    let reader = try TensorDataReader(c)
    var count = 0
    for (program, specs) in programs {
      for s in specs {
        let name = programs.count > 1 ? program + "." + s.name : s.name
        let t = try #require(c.tensors.first { $0.name == name }, "\(file): \(name)")
        count += 1
        #expect(t.dtype.rawValue == s.dtype, "\(name)")
        #expect(t.shape == s.shape && t.stride == s.stride, "\(name)")
        #expect(t.kindIsExact, "\(name)")
        switch s.kind {
        case "parameter": #expect(t.kind == .parameter && t.section == .model, "\(name)")
        case "buffer": #expect(t.kind == .buffer && t.section == .model, "\(name)")
        default: #expect(t.kind == .buffer && t.section == .other, "\(name): a constant")
        }
        if let stats = s.stats { stats.check(try allValues(reader, t), name) }
      }
    }
    #expect(c.tensors.count == count)
  }

  @Test func onePartPerProgram() throws {
    let c = try Checkpoint.open(Fixtures.path("pt2/two_programs.pt2"))
    #expect(c.parts.map(\.name) == ["small", "tied"])
    #expect(c.parts.map(\.tensors) == [2, 8], "tied: 9 tensors, head.weight counted once")
    let one = try Checkpoint.open(Fixtures.path("pt2/tied.pt2"))
    #expect(one.parts.map(\.name) == [""])
  }

  @Test func tiedWeightsShareTheirEntry() throws {
    let c = try Checkpoint.open(Fixtures.path("pt2/tied.pt2"))
    let head = try #require(c.tensors.first { $0.name == "head.weight" })
    #expect(head.sharedWith == "emb.weight")
    #expect(
      c.metadata.contains {
        $0.name == "program.model"
          && $0.value == "4 parameters, 4 buffers (1 non-persistent), 1 constants"
      })
  }

  /// The summary reads the zip directory and the JSON entries: no byte of a weight, constant
  /// or sample input.
  @Test func summaryReadsOnlyTheJSONEntries() throws {
    let file = try FileSource(path: Fixtures.path("pt2/two_programs.pt2"))
    let source = RangeRecordingSource(file)
    let c = try Checkpoint.open(source)
    _ = SummaryReport(c)
    let zip = try ZipFile(source: file, thorough: false)
    var data: [Range<Int64>] = []
    for e in zip.entries where !e.normalizedName.hasSuffix(".json") && e.size > 8 {
      let at = try zip.dataOffset(of: e)
      data.append(at..<at + Int64(e.size))
    }
    #expect(data.count == 10)
    // Identifying reads the first 512 bytes; the zip layer reads the directory with the file's
    // last 64 KiB (here the whole file, once to identify the archive, once to read it). Every
    // other read must miss the data entries.
    let tail = Int64(min(file.size, 1 << 16))
    let reads = source.ranges.dropFirst().filter {
      !($0.upperBound == file.size && Int64($0.count) == tail)
    }
    #expect(source.ranges.first == 0..<512)
    #expect(source.ranges.count - reads.count == 3)
    for r in reads {
      #expect(!data.contains { $0.overlaps(r) }, "read \(r)")
    }
    let json = zip.entries.filter { $0.normalizedName.hasSuffix(".json") }.reduce(0) {
      $0 + Int64($1.size)
    }
    // The JSON entries, their local headers and the few-byte `byteorder`/`archive_version`.
    #expect(reads.reduce(0) { $0 + Int64($1.count) } < json + 8192)
  }

  @Test func aotInductorPackageIsListed() throws {
    let c = try Checkpoint.open(Fixtures.path("pt2/aoti.pt2"))
    #expect(c.format == .pt2)
    #expect(c.tensors.isEmpty)
    #expect(
      c.diagnostics.contains {
        $0.message.hasPrefix("an AOTInductor package (model): compiled code")
      })
    let names = Set(c.metadata.map(\.name))
    #expect(
      names.isSuperset(of: [
        "aotinductor.model.constant.fc.weight", "aotinductor.model.compiled",
        "aotinductor.model.AOTI_DEVICE_KEY", "aotinductor.model.AOTI_CPU_ISA",
        "aotinductor.model.AOTI_PLATFORM",
      ]))
    #expect(
      c.metadata.first { $0.name == "aotinductor.model.constant.fc.weight" }?.value
        == "float32 {2, 3} stride {3, 1}, 64 bytes in the compiled code")
  }

  @Test func wrapperConstantsFromText() {
    let text = """
          constants_info_[0].name = "fc_weight";
          constants_info_[0].dtype = cached_torch_dtype_bfloat16;
          constants_info_[0].data_size = 12;
          constants_info_[0].shape = {2, 3};
          constants_info_[0].stride = {3, 1};
          constants_info_[0].original_fqn = "fc.weight";
          constants_info_[1].name = "b";
      """
    let c = Pt2Reader.wrapperConstants(text)
    #expect(c.map(\.fqn) == ["fc.weight", "b"])
    #expect(c.first?.dtype == "bfloat16")
    #expect(c.first?.bytes == "12")
  }

  @Test func scanCoversSampleInputs() throws {
    let r = try SecurityScanner.scan(Fixtures.path("pt2/two_programs.pt2"))
    #expect(r.complete)
    #expect(
      r.pickles.map(\.name).sorted() == [
        "two_programs/data/sample_inputs/small.pt:archive/data.pkl",
        "two_programs/data/sample_inputs/tied.pt:archive/data.pkl",
      ])
    #expect(r.verdict == .allowed)
  }
}
