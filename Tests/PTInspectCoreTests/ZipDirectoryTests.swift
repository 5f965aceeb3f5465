// ZipDirectoryTests.swift: the zip layer's directory reader on torch's own archives (no findings) and on archives
// built byte by byte with each trick a loader and a scanner can disagree on.

import Foundation
import PTInspectTestSupport
import Testing

@testable import PTInspectCore

/// Builds stored zip archives byte by byte, with knobs for every trick.
struct TrickZip {
  struct Entry {
    var name: String
    var data: [UInt8]
    var flags: UInt16 = 0
    var method: UInt16 = 0
    /// What the local header says instead, when it disagrees.
    var localName: String?
    var localFlags: UInt16?
    var localSize: UInt32?
    /// Left out of the central directory (a hidden entry).
    var hidden = false
    /// Points its central record at entry N's local header instead of its own.
    var sharesLocalHeaderOf: Int?
  }
  var entries: [Entry] = []
  var prefix: [UInt8] = []
  var suffix: [UInt8] = []
  var comment: [UInt8] = []
  var countAdjustment = 0
  var gapAfterEntry: [Int: [UInt8]] = [:]

  static func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
  static func le32(_ v: UInt32) -> [UInt8] {
    (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) }
  }

  func bytes() -> [UInt8] {
    var out: [UInt8] = []
    var offsets: [Int] = []
    for (i, e) in entries.enumerated() {
      offsets.append(out.count)
      let name = Array((e.localName ?? e.name).utf8)
      let size = e.localSize ?? UInt32(e.data.count)
      out +=
        [0x50, 0x4B, 0x03, 0x04] + Self.le16(20) + Self.le16(e.localFlags ?? e.flags)
        + Self.le16(e.method)
      out += Self.le16(0) + Self.le16(0) + Self.le32(0) + Self.le32(size) + Self.le32(size)
      out += Self.le16(UInt16(name.count)) + Self.le16(0) + name + e.data
      out += gapAfterEntry[i] ?? []
    }
    let directoryStart = out.count
    var listed = 0
    for (i, e) in entries.enumerated() where !e.hidden {
      let name = Array(e.name.utf8)
      let offset = offsets[e.sharesLocalHeaderOf ?? i]
      out +=
        [0x50, 0x4B, 0x01, 0x02] + Self.le16(20) + Self.le16(20) + Self.le16(e.flags)
        + Self.le16(e.method)
      out +=
        Self.le16(0) + Self.le16(0) + Self.le32(0) + Self.le32(UInt32(e.data.count))
        + Self.le32(UInt32(e.data.count))
      out +=
        Self.le16(UInt16(name.count)) + Self.le16(0) + Self.le16(0) + Self.le16(0) + Self.le16(0)
        + Self.le32(0)
      out += Self.le32(UInt32(offset)) + name
      listed += 1
    }
    let count = UInt16(listed + countAdjustment)
    let directorySize = out.count - directoryStart
    out +=
      [0x50, 0x4B, 0x05, 0x06] + Self.le16(0) + Self.le16(0) + Self.le16(count) + Self.le16(count)
    out += Self.le32(UInt32(directorySize)) + Self.le32(UInt32(directoryStart))
    out += Self.le16(UInt16(comment.count)) + comment
    return prefix + out + suffix
  }

  /// Writes the archive to a fresh temporary file and returns its path.
  func write(_ name: String = "trick.pt") throws -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "ptinspect-scan-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let url = folder.appendingPathComponent(name)
    try Data(bytes()).write(to: url)
    return url.path
  }
}

/// A small dangerous pickle: `posix.system('echo')`.
let systemPickle: [UInt8] =
  [0x80, 0x02] + Array("cposix\nsystem\nX\u{04}\0\0\0echo".utf8) + [0x85, 0x52, 0x2E]
/// A harmless pickle: `{}`.
let emptyDictPickle: [UInt8] = [0x80, 0x02, 0x7D, 0x2E]

func parse(_ bytes: [UInt8]) throws -> ZipDirectory {
  try bytes.withUnsafeBytes { buffer in try ZipDirectory.parse(buffer) }
}

@Suite struct ZipDirectoryTests {
  @Test(arguments: [
    "cifar_cnn.pt", "cifar_cnn_p4.pt", "training_checkpoint.pt", "scripted.pt", "dtypes.pt",
    "tied.pt",
    "lightning.ckpt", "whole_model.pt", "quantized.pt", "sparse.pt", "meta.pt", "views.pt",
    "sharded_bin/pytorch_model-00001-of-00002.bin", "hostile/os_system.pt", "hostile/zip_bomb.pt",
  ])
  func torchArchivesHaveNoFindings(_ name: String) throws {
    let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(name)))
    let zip = try parse([UInt8](data))
    #expect(zip.findings == [], "\(name)")
    let source = try FileSource(path: Fixtures.path(name))
    let libzip = try ZipArchive(source: source)
    #expect(zip.entries.map(\.name) == (0..<libzip.count).map { libzip.name(at: $0) ?? "" })
    #expect(zip.entries.allSatisfy { $0.local != nil })
    // The quick read (end records and central directory only, as the summary reads) finds
    // the same entries with the same sizes, CRCs and local header offsets.
    let quick = try ZipDirectory.read(source, thorough: false)
    #expect(quick.entries.map { ($0.local == nil) } == zip.entries.map { _ in true })
    var stripped = zip.entries
    for i in stripped.indices { stripped[i].local = nil }
    #expect(quick.entries == stripped)
    if name != "hostile/zip_bomb.pt" {
      // torch writes zip64 end records always, and local headers with flag 0x0808 and zero sizes
      // (0x0800 and no data descriptor for an empty record).
      #expect(zip.isZip64)
      #expect(
        zip.entries.allSatisfy {
          ($0.flags == 0x0808 && $0.local?.size == 0) || ($0.flags == 0x0800 && $0.size == 0)
        })
    }
  }

  @Test func cleanBuiltArchive() throws {
    let zip = try parse(
      TrickZip(entries: [.init(name: "a/data.pkl", data: emptyDictPickle)]).bytes())
    #expect(zip.findings == [])
    #expect(zip.entries.count == 1)
    #expect(zip.entries.first?.local?.dataOffset == 30 + 10)
  }

  static let tricks: [(String, TrickZip, [ZipFinding])] = [
    (
      "prefix and suffix",
      TrickZip(
        entries: [.init(name: "a/data.pkl", data: emptyDictPickle)],
        prefix: Array(repeating: 0x41, count: 10),
        suffix: [1, 2, 3]),
      [
        ZipFinding(
          kind: .dataAfterArchive, entry: nil,
          message: "3 bytes follow the end of the zip archive"),
        ZipFinding(
          kind: .dataBeforeArchive, entry: nil,
          message: "10 bytes come before the zip archive (its offsets are shifted by that much)"),
      ]
    ),
    (
      "local name differs",
      TrickZip(entries: [.init(name: "a/data.pkl", data: systemPickle, localName: "a/data.txt")]),
      [
        ZipFinding(
          kind: .localCentralMismatch, entry: "a/data.pkl",
          message:
            "'a/data.pkl': the local header says name 'a/data.txt', the central directory 'a/data.pkl'"
        )
      ]
    ),
    (
      "local size differs",
      TrickZip(entries: [.init(name: "a/data.pkl", data: emptyDictPickle, localSize: 2)]),
      [
        ZipFinding(
          kind: .localCentralMismatch, entry: "a/data.pkl",
          message: "'a/data.pkl': the local header says size 2, the central directory 4"),
        ZipFinding(
          kind: .localCentralMismatch, entry: "a/data.pkl",
          message: "'a/data.pkl': the local header says compressed size 2, the central directory 4"),
      ]
    ),
    (
      "encryption flag in the central directory",
      TrickZip(entries: [.init(name: "a/data.pkl", data: systemPickle, flags: 1)]),
      [
        ZipFinding(
          kind: .encrypted, entry: "a/data.pkl",
          message:
            "'a/data.pkl' has an encryption flag set (0x0001): some readers skip it, some ignore the flag"
        )
      ]
    ),
    (
      "odd flag bits",
      TrickZip(entries: [.init(name: "a/data.pkl", data: emptyDictPickle, flags: 0x0810 | 0x4000)]),
      [
        ZipFinding(
          kind: .flagBits, entry: "a/data.pkl",
          message: "'a/data.pkl' has unusual flag bits 0x4010")
      ]
    ),
    (
      "duplicate names",
      TrickZip(entries: [
        .init(name: "a/data.pkl", data: emptyDictPickle),
        .init(name: "a/data.pkl", data: systemPickle),
      ]),
      [
        ZipFinding(
          kind: .duplicateName, entry: "a/data.pkl",
          message:
            "'a/data.pkl' appears 2 times in the central directory: loaders disagree on which copy they read"
        )
      ]
    ),
    (
      "hidden entry",
      TrickZip(entries: [
        .init(name: "a/data.pkl", data: emptyDictPickle),
        .init(name: "a/evil.pkl", data: systemPickle, hidden: true),
      ]),
      [
        ZipFinding(
          kind: .hiddenEntry, entry: "a/evil.pkl",
          message:
            "a local header for 'a/evil.pkl' lies between entries, but the central directory does not list it"
        )
      ]
    ),
    (
      "unaccounted bytes",
      TrickZip(
        entries: [.init(name: "a/data.pkl", data: emptyDictPickle)],
        gapAfterEntry: [0: Array(repeating: 0, count: 40)]),
      [
        ZipFinding(
          kind: .unaccountedBytes, entry: nil, message: "40 bytes at offset 44 belong to no entry"
        )
      ]
    ),
    (
      "shared local header",
      TrickZip(entries: [
        .init(name: "a/data.pkl", data: emptyDictPickle),
        .init(name: "a/other.pkl", data: emptyDictPickle, sharesLocalHeaderOf: 0),
      ]),
      [
        ZipFinding(
          kind: .localCentralMismatch, entry: "a/other.pkl",
          message:
            "'a/other.pkl': the local header says name 'a/data.pkl', the central directory 'a/other.pkl'"
        ),
        ZipFinding(
          kind: .overlappingEntries, entry: "a/other.pkl",
          message: "'a/other.pkl' overlaps the bytes of 'a/data.pkl'"),
        ZipFinding(
          kind: .hiddenEntry, entry: "a/other.pkl",
          message:
            "a local header for 'a/other.pkl' lies between entries, but the central directory does not list it"
        ),
      ]
    ),
    (
      "entry count",
      TrickZip(entries: [.init(name: "a/data.pkl", data: emptyDictPickle)], countAdjustment: 2),
      [
        ZipFinding(
          kind: .entryCountMismatch, entry: nil,
          message: "the end record counts 3 entries, the central directory holds 1")
      ]
    ),
    (
      "comment and method",
      TrickZip(
        entries: [.init(name: "a/data.pkl", data: emptyDictPickle, method: 12)],
        comment: Array("hi".utf8)),
      [
        ZipFinding(
          kind: .comment, entry: nil,
          message: "the archive carries a 2-byte comment (torch writes none)"),
        ZipFinding(
          kind: .compressionMethod, entry: "a/data.pkl",
          message: "'a/data.pkl' uses compression method 12 (torch writes 0, zip tools 8)"),
      ]
    ),
  ]

  @Test(arguments: tricks.indices)
  func trick(_ i: Int) throws {
    let (label, archive, findings) = Self.tricks[i]
    let zip = try parse(archive.bytes())
    #expect(zip.findings == findings, "\(label)")
  }

  @Test func noEndRecordIsAnError() throws {
    let bytes = TrickZip(entries: [.init(name: "a/data.pkl", data: systemPickle)]).bytes()
    let cut = Array(bytes.prefix(bytes.count - 30))
    #expect(
      throws: ZipDirectoryError(
        message:
          "truncated or corrupt zip archive: the central directory at its end is missing (was the file cut short?)"
      )
    ) { try parse(cut) }
    let headers = cut.withUnsafeBytes { ZipDirectory.recoverLocalHeaders($0) }
    #expect(headers.map(\.name) == ["a/data.pkl"])
    #expect(headers.first?.dataOffset == 40)
  }

  @Test func lyingDirectoryNeverReadsOutOfBounds() throws {
    // The end record claims a central directory far larger than the file.
    var bytes = TrickZip(entries: [.init(name: "a/data.pkl", data: emptyDictPickle)]).bytes()
    let end = bytes.count - 22
    bytes.replaceSubrange(end + 12..<end + 16, with: TrickZip.le32(0x7FFF_FFFF))
    #expect(throws: ZipDirectoryError.self) { try parse(bytes) }
    // A central record whose local header offset is past the end of the file.
    var far = TrickZip(entries: [.init(name: "a/data.pkl", data: emptyDictPickle)]).bytes()
    let record = far.count - 22 - 56
    far.replaceSubrange(record + 42..<record + 46, with: TrickZip.le32(0xFFFF_FF00))
    let zip = try parse(far)
    #expect(zip.findings.first?.kind == .badLocalHeader)
  }
}
