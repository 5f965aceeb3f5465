// TensorDataTests.swift: the tensor-data reading layer against values torch computed when it
// made the fixtures (Fixtures/*.expected.json, Fixtures/golden/stats-torch-reference.json).

import Foundation
import PTInspectTestSupport
import Testing

@testable import PTInspectCore

// Numbers are read with JSONDecoder: Foundation's JSONSerialization on Linux rounds some
// doubles in the last digit (0.11441884934902191 comes back as ...195), JSONDecoder does not.

/// A torch `stats` dict of an expected.json file.
struct TorchStats: Decodable {
  var min: Double?
  var max: Double?
  var mean: Double?
  var std: Double?
  var zeros: Int64
  var nan: Int64
  var inf: Int64
}

/// The parts of `X.expected.json` these tests read.
struct ExpectedTensors: Decodable {
  struct Tensor: Decodable {
    var name: String
    var stats: TorchStats?
  }
  var tensors: [Tensor]
}

/// A number, a string ("inf", "-inf") or null (NaN) in the reference tables.
enum ReferenceValue: Decodable {
  case number(Double), string(String), null
  init(from decoder: Decoder) throws {
    let c = try decoder.singleValueContainer()
    if c.decodeNil() {
      self = .null
    } else if let d = try? c.decode(Double.self) {
      self = .number(d)
    } else {
      self = .string(try c.decode(String.self))
    }
  }
}

/// Torch's answers for quantized, sparse and float8 values (Fixtures/golden/stats-torch-reference.py).
struct TorchReference: Decodable {
  struct Quantized: Decodable {
    var stats: TorchStats
    var values: [Double]
  }
  var float8: [String: [ReferenceValue]]
  var quantized: [String: Quantized]
  var sparse: [String: TorchStats]
}

func torchReference() throws -> TorchReference {
  let url = Fixtures.root.appendingPathComponent("Fixtures/golden/stats-torch-reference.json")
  return try JSONDecoder().decode(TorchReference.self, from: Data(contentsOf: url))
}

/// The tensors of `Fixtures/<name>.expected.json`, with exact numbers.
func expectedTensors(_ name: String) throws -> [ExpectedTensors.Tensor] {
  let url = URL(fileURLWithPath: Fixtures.path(name + ".expected.json"))
  return try JSONDecoder().decode(ExpectedTensors.self, from: Data(contentsOf: url)).tensors
}

/// All values of a tensor through `forEachChunk`, with a small chunk so chunking is exercised.
func values(_ reader: TensorDataReader, _ t: TensorRecord, chunk: Int = 5) throws -> [Double] {
  var out: [Double] = []
  try reader.forEachChunk(t, chunkElements: chunk) { out.append(contentsOf: $0) }
  return out
}

/// Statistics of one tensor read sequentially (no engine).
func statistics(_ reader: TensorDataReader, _ t: TensorRecord, chunk: Int = 65_536) throws
  -> ValueStatistics
{
  var s = ValueStatistics()
  try reader.forEachChunk(t, chunkElements: chunk) { s.add($0) }
  return s
}

/// Checks statistics against torch's: counts, min and max exactly; mean and std to 1e-12
/// relative to the tensor's magnitude (torch sums in another order).
func expectStats(
  _ s: ValueStatistics, _ want: TorchStats, _ what: String,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  #expect(s.zeros == want.zeros, "\(what): zeros", sourceLocation: sourceLocation)
  #expect(s.nan == want.nan, "\(what): nan", sourceLocation: sourceLocation)
  #expect(s.inf == want.inf, "\(what): inf", sourceLocation: sourceLocation)
  #expect(s.min == want.min, "\(what): min", sourceLocation: sourceLocation)
  #expect(s.max == want.max, "\(what): max", sourceLocation: sourceLocation)
  let scale = max(abs(want.min ?? 0), abs(want.max ?? 0), 1e-300)
  for (key, got, expected) in [("mean", s.mean, want.mean), ("std", s.std, want.std)] {
    guard let w = expected else {
      #expect(got == nil, "\(what): \(key) should be null", sourceLocation: sourceLocation)
      continue
    }
    guard let g = got else {
      Issue.record("\(what): \(key) is nil, torch says \(w)", sourceLocation: sourceLocation)
      continue
    }
    #expect(
      abs(g - w) <= 1e-12 * scale, "\(what): \(key) \(g) vs torch \(w)",
      sourceLocation: sourceLocation)
  }
}

@Suite struct TensorDataTests {
  @Test func everyDtypeMatchesTorch() throws {
    let c = try Checkpoint.open(Fixtures.path("dtypes.pt"))
    let reader = try TensorDataReader(c)
    let expected = try expectedTensors("dtypes.pt")
    #expect(expected.count == 21)
    for w in expected {
      let t = try #require(c.tensors.first { $0.name == w.name })
      #expect(reader.unreadableReason(t) == nil, "\(w.name)")
      expectStats(try statistics(reader, t), try #require(w.stats), w.name)
    }
  }

  @Test func exactValuesOfEveryDtype() throws {
    let c = try Checkpoint.open(Fixtures.path("dtypes.pt"))
    let reader = try TensorDataReader(c)
    func v(_ name: String) throws -> [Double] {
      try values(reader, try #require(c.tensors.first { $0.name == name }))
    }
    #expect(try v("float64") == [-1.5, 0.0, 2.25, 1e100, -1e-300, 3.0])
    let smallestHalf: Double = -0x1p-24  // -6e-8 rounds to the smallest float16 subnormal
    #expect(try v("float16") == [-1.5, 0, 2.25, 65504, smallestHalf, 3])
    let big = Double(Float(bitPattern: 0x7F62_0000))
    let small = Double(Float(bitPattern: 0xBA83_0000))
    #expect(try v("bfloat16") == [-1.5, 0, 2.25, big, small, 3])
    for f8 in ["float8_e5m2", "float8_e4m3fn", "float8_e5m2fnuz", "float8_e4m3fnuz"] {
      #expect(try v(f8) == [-2.0, -0.5, 0.0, 0.25, 1.0, 3.5], "\(f8)")
    }
    #expect(try v("float8_e8m0fnu") == [0.25, 0.5, 1, 2, 4, 8])
    let two63: Double = 0x1p63
    #expect(try v("int64") == [-two63, -1, 0, 1, 2, two63])
    #expect(try v("uint64") == [0, 1, 2, 4_294_967_296, two63, 2 * two63])
    #expect(try v("uint32") == [0, 1, 2, 65535, 65536, 4_294_967_295])
    #expect(try v("bool") == [1, 0, 1, 1, 0, 0])
    let magnitudes: [Double] = [(5.0).squareRoot(), 3, 0, 1.5, (7.25).squareRoot(), 4]
    for complex in ["complex32", "complex64", "complex128"] {
      #expect(try v(complex) == magnitudes, "\(complex)")
    }
    let f32 = try v("float32")
    #expect(f32[0] == -1.5 && f32[3] == .infinity && f32[4].isNaN && f32[5] == Double(Float(1e-3)))
  }

  @Test func float8DecodersMatchTorchForEveryByte() throws {
    let tables = try torchReference().float8
    #expect(tables.count == 5)
    for (name, want) in tables {
      let dtype = try #require(DType(rawValue: name))
      let got = try decodeEveryByte(dtype)
      #expect(got.count == 256)
      for (b, w) in want.enumerated() {
        switch w {
        case .number(let n):
          #expect(got[b] == n, "\(name) byte \(b): \(got[b]) vs torch \(n)")
        case .string(let s):
          #expect(got[b] == (s == "inf" ? .infinity : -.infinity), "\(name) byte \(b)")
        case .null:
          #expect(got[b].isNaN, "\(name) byte \(b) should be NaN")
        }
      }
    }
  }

  @Test func halfDecoderMatchesSwiftFloat16() throws {
    let got = try decodeEveryByte(.float16)
    #expect(got.count == 65_536)
    #if arch(x86_64) || arch(arm64)
      for bits in 0..<65_536 {
        let want = Double(Float(Float16(bitPattern: UInt16(bits))))
        #expect(
          got[bits] == want || (got[bits].isNaN && want.isNaN),
          "float16 0x\(String(bits, radix: 16))")
      }
    #endif
  }

  @Test func viewsAreReadExactly() throws {
    let c = try Checkpoint.open(Fixtures.path("views.pt"))
    let reader = try TensorDataReader(c)
    func v(_ name: String) throws -> [Double] {
      try values(reader, try #require(c.tensors.first { $0.name == name }), chunk: 4)
    }
    let base = (0..<24).map(Double.init)
    #expect(try v("base") == base)
    #expect(try v("slice") == [2, 3, 4])
    #expect(try v("matrix") == base)
    #expect(try v("transposed") == transposedValues)
    #expect(try v("strided") == stride(from: 0.0, to: 24, by: 3).map { $0 })
    #expect(try v("expanded") == [1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3])
    #expect(try v("scalar") == [3.5])
    #expect(try v("empty") == [])
    #expect(try v("tail_view") == [20, 21, 22, 23])
    for w in try expectedTensors("views.pt") {
      let t = try #require(c.tensors.first { $0.name == w.name })
      expectStats(try statistics(reader, t, chunk: 5), try #require(w.stats), w.name)
    }
  }

  @Test func rangesAndRawBytes() throws {
    let c = try Checkpoint.open(Fixtures.path("views.pt"))
    let reader = try TensorDataReader(c)
    let transposed = try #require(c.tensors.first { $0.name == "transposed" })
    var part: [Double] = []
    try reader.forEachChunk(transposed, range: 5..<11, chunkElements: 3) {
      part.append(contentsOf: $0)
    }
    #expect(part == [7, 13, 19, 2, 8, 14])
    let raw = try reader.rawBytes(transposed)
    let floats: [Double] = raw.withUnsafeBytes { b in
      (0..<raw.count / 4).map {
        Double(Float(bitPattern: b.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))
      }
    }
    #expect(floats == transposedValues)
    let slice = try #require(c.tensors.first { $0.name == "slice" })
    // 2.0, 3.0, 4.0 as little-endian float32.
    #expect(try reader.rawBytes(slice) == [0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64])
    #expect(throws: CheckpointError.self) { try reader.forEachChunk(slice, range: 2..<4) { _ in } }
    #expect(try reader.location(of: slice) == .file(offset: 1216, count: 96))
  }

  @Test func quantizedValuesAreDequantizedAsTorchDoes() throws {
    let c = try Checkpoint.open(Fixtures.path("quantized.pt"))
    let reader = try TensorDataReader(c)
    let reference = try torchReference().quantized
    #expect(reference.count == 3)
    for (name, want) in reference {
      let t = try #require(c.tensors.first { $0.name == name })
      #expect(try values(reader, t) == want.values, "\(name)")
      expectStats(try statistics(reader, t), want.stats, name)
    }
    let perChannel = try #require(c.tensors.first { $0.name == "per_channel_qint8" }?.quantization)
    #expect(
      perChannel.channelScales?.dtype == .float64 && perChannel.channelZeroPoints?.dtype == .int64)
    #expect(perChannel.channelScales?.storage.key == "2" && perChannel.axis == 0)
  }

  @Test func bigEndianFilesAreSwapped() throws {
    let big = try Checkpoint.open(Fixtures.path("golden/stats-bigendian-dtypes.pt"))
    let little = try Checkpoint.open(Fixtures.path("dtypes.pt"))
    let b = try TensorDataReader(big)
    let l = try TensorDataReader(little)
    #expect(b.isBigEndian && !l.isBigEndian)
    #expect(big.tensors.count == 21)
    for t in little.tensors {
      let u = try #require(big.tensors.first { $0.name == t.name })
      let (x, y) = (try values(l, t), try values(b, u))
      #expect(
        x.count == y.count && zip(x, y).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) },
        "\(t.name)")
    }
  }

  @Test(arguments: [
    "legacy_cnn.pt", "legacy_tar.pt", "small_cnn.safetensors", "cifar_cnn.pt", "scripted.pt",
    "tied.pt",
    "whole_model.pt", "whole_model_legacy.pt", "pre16_style.pth", "lightning.ckpt",
    "training_checkpoint.pt",
  ])
  func containersMatchTorch(_ fixture: String) throws {
    let c = try Checkpoint.open(Fixtures.path(fixture))
    let reader = try TensorDataReader(c)
    var checked = 0
    // cifar_cnn holds 23 MB: the first dozen tensors (every layer type) are enough here.
    for w in try expectedTensors(fixture).prefix(12) {
      guard let stats = w.stats, let t = c.tensors.first(where: { $0.name == w.name }) else {
        continue
      }
      expectStats(try statistics(reader, t), stats, "\(fixture): \(w.name)")
      checked += 1
    }
    #expect(checked >= 5, "\(fixture): checked \(checked) tensors")
  }

  @Test func shardedCheckpointsReadEachShard() throws {
    for (index, shardNames) in [
      (
        "sharded/model.safetensors.index.json",
        ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
      ),
      (
        "sharded_bin/pytorch_model.bin.index.json",
        ["pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"]
      ),
    ] {
      let c = try Checkpoint.open(Fixtures.path(index))
      let reader = try TensorDataReader(c)
      let folder = (index as NSString).deletingLastPathComponent
      var checked = 0
      for shard in shardNames {
        for w in try expectedTensors(folder + "/" + shard) {
          guard let stats = w.stats, let t = c.tensors.first(where: { $0.name == w.name }) else {
            continue
          }
          expectStats(try statistics(reader, t), stats, "\(index): \(w.name)")
          checked += 1
        }
      }
      #expect(checked == c.tensors.count, "\(index)")
    }
  }

  @Test func tensorsWithoutValuesSayWhy() throws {
    let meta = try Checkpoint.open(Fixtures.path("meta.pt"))
    let m = try TensorDataReader(meta)
    let weight = try #require(meta.tensors.first { $0.name == "meta_weight" })
    #expect(m.unreadableReason(weight) == "meta tensor: no data")
    #expect(
      throws: CheckpointError(
        file: Fixtures.path("meta.pt"), "tensor 'meta_weight': meta tensor: no data")
    ) {
      try m.forEachChunk(weight) { _ in }
    }
    let sparse = try Checkpoint.open(Fixtures.path("sparse.pt"))
    let s = try TensorDataReader(sparse)
    let coo = try #require(sparse.tensors.first { $0.name == "coo" })
    #expect(
      s.unreadableReason(coo)
        == "sparse_coo layout: values are in its components ('coo.indices', 'coo.values')")
    let values = try #require(coo.components.last)
    #expect(s.unreadableReason(values) == nil)
    #expect(try PTInspectCoreTests.values(s, values).count == 4)
  }

  @Test func compressedEntriesAreInflated() throws {
    // views.pt re-zipped with deflate: the storage record is inflated through libzip.
    let c = try Checkpoint.open(Fixtures.path("golden/stats-deflated-views.pt"))
    let reader = try TensorDataReader(c)
    let transposed = try #require(c.tensors.first { $0.name == "transposed" })
    #expect(try reader.location(of: transposed) == .zipEntry(name: "views/data/0", count: 96))
    #expect(try values(reader, transposed) == transposedValues)
    let outcomes = try StatsEngine().run(reader, tensors: c.tensors)
    for (w, o) in zip(try expectedTensors("views.pt"), outcomes) {
      guard case .statistics(let s) = o, let want = w.stats else {
        Issue.record("\(w.name): \(o)")
        continue
      }
      expectStats(s, want, "deflated \(w.name)")
    }
  }

  @Test func storedZipEntriesAreFoundWithoutLibzip() throws {
    // The data offset from the hand-parsed central directory gives the bytes libzip reads.
    let path = Fixtures.path("cifar_cnn.pt")
    let c = try Checkpoint.open(path)
    let reader = try TensorDataReader(c)
    let source = try FileSource(path: path)
    let archive = try ZipFile(source: source)
    let handle = try #require(FileHandle(forReadingAtPath: path))
    defer { try? handle.close() }
    for t in c.tensors.prefix(6) {
      guard case .file(let offset, let count) = try reader.location(of: t) else {
        Issue.record("\(t.name): not located in the file")
        continue
      }
      let entry = try #require(
        archive.entry(named: (c.archiveRoot ?? "") + "data/" + (t.storage?.key ?? "")))
      #expect(
        count == Int64(entry.size) && offset % 64 == 0, "\(t.name): torch aligns data to 64 bytes")
      try handle.seek(toOffset: UInt64(offset))
      let direct = try #require(try handle.read(upToCount: min(Int(count), 4096)))
      #expect(
        [UInt8](direct) == (try ZipFile.inflate(entry, from: source, count: direct.count)),
        "\(t.name): libzip reads the same bytes")
    }
  }
}

/// `arange(24).view(4, 6).t()` in C order.
let transposedValues: [Double] = (0..<6).flatMap { (col: Int) -> [Double] in
  (0..<4).map { (row: Int) -> Double in Double(row * 6 + col) }
}

/// Every bit pattern of a 1- or 2-byte dtype decoded, through a throwaway safetensors file.
func decodeEveryByte(_ dtype: DType) throws -> [Double] {
  let names: [DType: String] = [
    .float8_e5m2: "F8_E5M2", .float8_e4m3fn: "F8_E4M3", .float8_e5m2fnuz: "F8_E5M2FNUZ",
    .float8_e4m3fnuz: "F8_E4M3FNUZ", .float8_e8m0fnu: "F8_E8M0", .float16: "F16",
  ]
  let code = try #require(names[dtype])
  let n = dtype == .float16 ? 65_536 : 256
  var data = [UInt8]()
  for i in 0..<n {
    if dtype == .float16 {
      data += [UInt8(i & 0xFF), UInt8(i >> 8)]
    } else {
      data.append(UInt8(i))
    }
  }
  var header = Array(
    #"{"x":{"dtype":"\#(code)","shape":[\#(n)],"data_offsets":[0,\#(data.count)]}}"#.utf8)
  while header.count % 8 != 0 { header.append(0x20) }
  var file = withUnsafeBytes(of: UInt64(header.count).littleEndian) { [UInt8]($0) } + header + data
  file += []
  let url = FileManager.default.temporaryDirectory.appendingPathComponent(
    "ptinspect-\(code)-\(UUID().uuidString).safetensors")
  try Data(file).write(to: url)
  defer { try? FileManager.default.removeItem(at: url) }
  let c = try Checkpoint.open(url.path)
  let reader = try TensorDataReader(c)
  return try values(reader, try #require(c.tensors.first), chunk: 1000)
}
