// ZipFile.swift: one zip archive over a byte source: its directory (read by ZipDirectory), its
// entries read in place when stored, inflated through libzip when compressed.

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// A zip archive: its directory and its entries' bytes. Safe to share between threads (libzip,
/// opened only for compressed entries, is opened per call).
package final class ZipFile: Sendable {
  package let source: any ByteSource
  package let directory: ZipDirectory

  /// Reads the directory of the archive in `source` (see `ZipDirectory.read`).
  package init(source: any ByteSource, thorough: Bool = false) throws {
    self.source = source
    self.directory = try ZipDirectory.read(source, thorough: thorough)
  }

  package var entries: [ZipEntry] { directory.entries }

  /// The first entry with this name, or with the name its parts make joined (see
  /// `ZipDirectory.entry(named:_:_:_:)`).
  package func entry(
    named name: String, _ second: String = "", _ third: String = "", _ fourth: String = ""
  ) -> ZipEntry? {
    directory.entry(named: name, second, third, fourth)
  }

  /// Where the entry's data starts in the file: after its local header, name and extra field.
  package func dataOffset(of entry: ZipEntry) throws -> Int64 {
    try Self.dataOffset(of: entry, in: source)
  }

  /// Where the entry's data starts in `source`, from the local header.
  package static func dataOffset(of entry: ZipEntry, in source: any ByteSource) throws -> Int64 {
    if let local = entry.local { return Int64(local.dataOffset) }
    let at = Int64(clamping: entry.localHeaderOffset)
    let header = try source.readPrefix(at: at, upTo: 30)
    guard header.count == 30, header[0] == 0x50, header[1] == 0x4B, header[2] == 3, header[3] == 4
    else {
      throw ZipError.read(
        name: entry.name, reason: "no local header at offset \(entry.localHeaderOffset)")
    }
    let nameLength = Int64(header[26]) | Int64(header[27]) << 8
    let extraLength = Int64(header[28]) | Int64(header[29]) << 8
    return at + 30 + nameLength + extraLength
  }

  /// Whether the entry is stored as is, so its bytes (`compressedSize` of them, as torch's
  /// reader takes them) can be read in place.
  package static func isStored(_ entry: ZipEntry) -> Bool { entry.method == 0 }

  /// Reads a whole entry, refusing before allocating if it is larger than `limit` or looks like
  /// a zip bomb.
  package func read(_ entry: ZipEntry, limit: UInt64) throws -> [UInt8] {
    try Self.checkWhole(entry, limit: limit)
    return try read(entry, offset: 0, count: Int(entry.size))
  }

  /// Refuses, before anything is allocated, an entry larger than `limit` or one that looks like
  /// a zip bomb.
  static func checkWhole(_ entry: ZipEntry, limit: UInt64) throws(ZipError) {
    guard entry.size <= limit else {
      throw .entryTooLarge(name: entry.name, size: entry.size, limit: limit)
    }
    // Real pickles compress a few times at most; a large entry that expands over 200x is a bomb
    // (deflate reaches about 1032:1 on runs of one byte).
    if entry.method != 0, entry.size > 16 << 20, entry.size / max(entry.compressedSize, 1) > 200 {
      throw .compressionBomb(
        name: entry.name, size: entry.size, compressedSize: entry.compressedSize)
    }
  }

  /// Reads `count` bytes of an entry's data starting `offset` bytes into it.
  package func read(_ entry: ZipEntry, offset: UInt64, count: Int) throws -> [UInt8] {
    if offset == 0, entry.local == nil {
      // The local header, its name and extra field (torch pads to 64 bytes), then the data: one
      // request for a remote file.
      source.prefetch(
        at: Int64(clamping: entry.localHeaderOffset),
        count: 30 + entry.name.utf8.count + 128
          + Int(clamping: min(entry.compressedSize, UInt64(count))))
    }
    if Self.isStored(entry) {
      guard offset + UInt64(count) <= entry.compressedSize else {
        throw ZipError.read(
          name: entry.name,
          reason: "ends after \(entry.compressedSize) of \(offset + UInt64(count)) bytes")
      }
      let start = try dataOffset(of: entry)
      do {
        return try source.read(at: start + Int64(offset), count: count)
      } catch {
        throw ZipError.read(name: entry.name, reason: error.message)
      }
    }
    return try Self.inflate(entry, from: source, offset: offset, count: count)
  }

  /// Inflates `count` bytes of a compressed entry of the archive in `source` through libzip.
  package static func inflate(
    _ entry: ZipEntry, from source: any ByteSource, offset: UInt64 = 0, count: Int
  ) throws -> [UInt8] {
    let archive = try ZipArchive(source: source)
    guard archive.name(at: entry.index) == entry.normalizedName else {
      throw ZipError.read(
        name: entry.name, reason: "libzip lists the archive's entries differently")
    }
    return try archive.read(
      index: entry.index, name: entry.normalizedName, offset: offset, count: count)
  }

  /// Inflates a whole compressed entry, refusing entries larger than `limit` and zip bombs.
  package static func inflate(_ entry: ZipEntry, from source: any ByteSource, limit: UInt64)
    throws -> [UInt8]
  {
    try checkWhole(entry, limit: limit)
    return try inflate(entry, from: source, count: Int(entry.size))
  }
}
