// NumpyTests.swift: .npy and .npz files written by NumPy itself, against NumPy's own answers
// (Fixtures/numpy/*.expected.json from scripts/make_numpy_fixtures.py).

import Foundation
import PTInspectTestSupport
import Testing

@testable import PTInspectCore

@Suite struct NumpyTests {
  struct Expected {
    var name: String
    var descr: String
    var shape: [Int64]
    var fortran: Bool
    var values: [Double]?
  }

  static func expected(_ file: String) throws -> [Expected] {
    let root = try Fixtures.expected("numpy/" + file)
    return (root["arrays"] as? [[String: Any]] ?? []).map { a in
      Expected(
        name: a["name"] as? String ?? "", descr: a["descr"] as? String ?? "",
        shape: (a["shape"] as? [Int] ?? []).map(Int64.init),
        fortran: a["fortran_order"] as? Bool ?? false,
        values: (a["values"] as? [Any])?.map { v in
          (v as? Bool).map { $0 ? 1 : 0 } ?? (v as? NSNumber)?.doubleValue ?? .nan
        })
    }
  }

  static let numeric = [
    "weights.npy", "fortran_i64.npy", "bigendian_f8.npy", "scalar_f2.npy", "bool.npy",
    "complex64.npy", "uint16.npy", "header_v2.npy", "header_v3.npy", "arrays.npz",
    "compressed.npz",
  ]

  @Test(arguments: numeric)
  func arraysMatchNumpy(_ file: String) throws {
    let c = try Checkpoint.open(Fixtures.path("numpy/" + file))
    #expect(c.format == (file.hasSuffix(".npz") ? .npz : .npy))
    let want = try Self.expected(file)
    #expect(c.tensors.map(\.name) == want.map(\.name), "\(file)")
    let reader = try TensorDataReader(c)
    for (t, w) in zip(c.tensors, want) {
      #expect(t.shape == w.shape, "\(file) \(w.name)")
      #expect(w.fortran == (t.shape.count > 1 && !t.isContiguous), "\(file) \(w.name)")
      var values: [Double] = []
      try reader.forEachChunk(t) { values += $0 }
      // The expected values went through JSON as doubles: compare at the array's precision.
      let narrow = t.dtype == .float32 || t.dtype == .float16
      #expect(
        values.map { narrow ? Double(Float($0)) : $0 }
          == w.values?.map { narrow ? Double(Float($0)) : $0 }, "\(file) \(w.name): \(t.dtype)")
    }
  }

  @Test func stringsAreMetadataNotDropped() throws {
    let c = try Checkpoint.open(Fixtures.path("numpy/strings.npy"))
    #expect(c.tensors.isEmpty)
    #expect(c.metadata.map(\.value) == ["dtype <U3, shape (2)"])
    #expect(c.diagnostics.contains { $0.message.contains("no torch dtype") })
  }

  @Test func summaryReadsHeadersOnly() throws {
    let source = CountingSource(try FileSource(path: Fixtures.path("numpy/weights.npy")))
    let c = try Checkpoint.open(source)
    #expect(SummaryReport(c).totals.parameters == 12)
    #expect(source.bytesRead < 1024, "\(source.bytesRead)")
  }

  @Test func objectArraysAreScannedNotRead() throws {
    let benign = try SecurityScanner.scan(Fixtures.path("numpy/object_benign.npy"))
    #expect(benign.verdict != .dangerous)
    #expect(benign.pickles.map(\.name) == ["array"])
    let npy = try SecurityScanner.scan(Fixtures.path("numpy/hostile_object.npy"))
    #expect(npy.verdict == .dangerous && npy.exitCode(strict: false) == 1)
    let npz = try SecurityScanner.scan(Fixtures.path("numpy/hostile_object.npz"))
    #expect(npz.verdict == .dangerous)
    #expect(npz.globals.contains { $0.qualifiedName == "posix.system" })
    // The summary lists the numeric array, says what the object array is, and warns.
    let c = try Checkpoint.open(Fixtures.path("numpy/hostile_object.npz"))
    #expect(c.tensors.map(\.name) == ["ok"])
    let summary = SummaryReport(c)
    #expect(summary.diagnostics.contains { $0.message.contains("posix.system") })
  }

  @Test func aHeaderThatLiesIsAnError() {
    #expect(
      throws: CheckpointError(
        file: Fixtures.path("numpy/lying_header.npy"),
        "'array' needs 48 bytes after its header (<f4 (3, 4)), but 40 follow")
    ) { try Checkpoint.open(Fixtures.path("numpy/lying_header.npy")) }
  }

  @Test func handMadeHeaders() throws {
    func npy(_ header: String, version: UInt8 = 1, data: [UInt8] = []) -> [UInt8] {
      let text = Array(header.utf8)
      let length =
        version == 1
        ? [UInt8(text.count & 0xFF), UInt8(text.count >> 8)]
        : [UInt8(text.count & 0xFF), UInt8(text.count >> 8), 0, 0]
      return NumpyReader.magic + [version, 0] + length + text + data
    }
    let ok = MemorySource(
      npy("{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }\n", data: [1, 0, 2, 0]))
    #expect(try Checkpoint.open(ok).tensors.first?.shape == [2])
    let noShape = MemorySource(npy("{'descr': '<i2', 'fortran_order': False}\n"), name: "x.npy")
    #expect(
      throws: CheckpointError(file: "x.npy", ".npy header lacks descr, fortran_order or shape")
    ) {
      try Checkpoint.open(noShape)
    }
    let badVersion = MemorySource(npy("{}", version: 7), name: "v.npy")
    #expect(
      throws: CheckpointError(file: "v.npy", ".npy format version 7.0 is not one numpy writes")
    ) {
      try Checkpoint.open(badVersion)
    }
  }
}
