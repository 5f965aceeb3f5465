// ZipArchive.swift: the only file that talks to libzip. Read-only access to the central
// directory and to single entries, with sizes checked before anything is allocated.

internal import CZip
import Foundation

/// A failure reading a zip archive.
public enum ZipError: Error, Equatable, Sendable, CustomStringConvertible {
  /// libzip could not open the archive; `reason` is libzip's own text.
  case open(reason: String)
  /// An entry is larger than the caller allowed.
  case entryTooLarge(name: String, size: UInt64, limit: UInt64)
  /// An entry's declared size is implausible for its compressed size (a zip bomb).
  case compressionBomb(name: String, size: UInt64, compressedSize: UInt64)
  /// libzip failed while reading an entry.
  case read(name: String, reason: String)

  public var description: String {
    switch self {
    case .open(let reason): reason
    case .entryTooLarge(let name, let size, let limit):
      "zip entry \(name) is \(size) bytes, over the limit of \(limit)"
    case .compressionBomb(let name, let size, let compressed):
      "zip entry \(name) expands \(compressed) bytes to \(size): refused as a zip bomb"
    case .read(let name, let reason): "cannot read zip entry \(name): \(reason)"
    }
  }
}

/// One entry of the central directory.
public struct ZipEntry: Sendable, Equatable {
  /// Position in the central directory.
  public var index: Int
  /// The name, with `\` turned into `/` (archives re-packed on Windows).
  public var name: String
  /// Uncompressed size, from the central directory (torch's local headers hold zeros).
  public var size: UInt64
  public var compressedSize: UInt64
  /// 0 stored, 8 deflate, others as the zip specification numbers them.
  public var method: UInt16
  public var crc: UInt32
}

// libzip converts every entry's DOS time with mktime, and glibc re-reads the time zone on each
// call unless TZ is set: setting it makes large archives open 3.5x faster (libzip-notes.md).
private let timeZoneIsSet: Bool = {
  setenv("TZ", "UTC", 0)
  return true
}()

/// A zip archive opened read-only. Not safe to share between threads; open one per thread.
public final class ZipArchive {
  private let handle: OpaquePointer
  /// The central directory, in order.
  public let entries: [ZipEntry]
  private let byName: [String: Int]

  /// Opens the archive at `path` and reads its central directory. The corresponding C function
  /// is `zip_open`.
  public init(path: String) throws(ZipError) {
    _ = timeZoneIsSet
    var code: Int32 = 0
    guard let handle = zip_open(path, ZIP_RDONLY, &code) else {
      var error = zip_error_t()
      zip_error_init_with_code(&error, code)
      defer { zip_error_fini(&error) }
      throw .open(
        reason: ZipArchive.message(code: code, libzip: String(cString: zip_error_strerror(&error))))
    }
    self.handle = handle
    let count = max(0, Int(zip_get_num_entries(handle, 0)))
    var entries: [ZipEntry] = []
    entries.reserveCapacity(count)
    var byName: [String: Int] = [:]
    byName.reserveCapacity(count)
    var stat = zip_stat_t()
    for i in 0..<count {
      zip_stat_init(&stat)
      guard zip_stat_index(handle, zip_uint64_t(i), 0, &stat) == 0, let cName = stat.name else {
        continue
      }
      var name = String(cString: cName)
      if name.utf8.contains(0x5C) { name = name.replacingOccurrences(of: "\\", with: "/") }
      let entry = ZipEntry(
        index: i, name: name, size: stat.size, compressedSize: stat.comp_size,
        method: UInt16(truncatingIfNeeded: stat.comp_method), crc: stat.crc)
      if byName[name] == nil { byName[name] = entries.count }
      entries.append(entry)
    }
    self.entries = entries
    self.byName = byName
  }

  deinit { zip_discard(handle) }

  /// The first entry with this exact name.
  public func entry(named name: String) -> ZipEntry? {
    byName[name].map { entries[$0] }
  }

  /// Reads a whole entry, refusing before allocating if it is larger than `limit`.
  public func read(_ entry: ZipEntry, limit: UInt64) throws(ZipError) -> [UInt8] {
    guard entry.size <= limit else {
      throw .entryTooLarge(name: entry.name, size: entry.size, limit: limit)
    }
    // Real pickles compress a few times at most; a large entry that expands over 200x is a bomb
    // (deflate reaches about 1032:1 on runs of one byte).
    if entry.method != 0, entry.size > 16 << 20, entry.size / max(entry.compressedSize, 1) > 200 {
      throw .compressionBomb(
        name: entry.name, size: entry.size, compressedSize: entry.compressedSize)
    }
    return try read(entry, offset: 0, count: Int(entry.size))
  }

  /// Reads `count` bytes of an entry starting `offset` bytes into its data. The corresponding C
  /// functions are `zip_fopen_index`, `zip_fseek` and `zip_fread`.
  public func read(_ entry: ZipEntry, offset: UInt64, count: Int) throws(ZipError) -> [UInt8] {
    guard let file = zip_fopen_index(handle, zip_uint64_t(entry.index), 0) else {
      throw .read(name: entry.name, reason: lastError())
    }
    defer { zip_fclose(file) }
    if offset > 0, zip_fseek(file, zip_int64_t(offset), SEEK_SET) != 0 {
      throw .read(name: entry.name, reason: String(cString: zip_file_strerror(file)))
    }
    var buffer = [UInt8](repeating: 0, count: count)
    var filled = 0
    while filled < count {
      let n = buffer.withUnsafeMutableBytes { raw -> zip_int64_t in
        guard let base = raw.baseAddress else { return 0 }
        return zip_fread(file, base + filled, zip_uint64_t(count - filled))
      }
      if n < 0 { throw .read(name: entry.name, reason: String(cString: zip_file_strerror(file))) }
      if n == 0 {
        throw .read(name: entry.name, reason: "ends after \(filled) of \(count) bytes")
      }
      filled += Int(n)
    }
    return buffer
  }

  private func lastError() -> String {
    String(cString: zip_strerror(handle)).lowercased()
  }

  private static func message(code: Int32, libzip: String) -> String {
    switch code {
    case ZIP_ER_NOZIP: "not a zip archive"
    case ZIP_ER_NOENT: "no such file"
    case ZIP_ER_INCONS: "corrupt zip archive (central directory inconsistent; truncated?)"
    case ZIP_ER_OPEN, ZIP_ER_READ, ZIP_ER_SEEK: "cannot read: \(libzip.lowercased())"
    default: libzip.lowercased()
    }
  }
}
