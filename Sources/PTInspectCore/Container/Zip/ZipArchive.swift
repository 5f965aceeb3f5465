// ZipArchive.swift: the only file that talks to libzip. It opens an archive read-only through a
// byte source (libzip's `zip_source_function` callbacks) and inflates single entries, with sizes
// checked before anything is allocated. Stored entries never need it: `ZipFile` reads them in
// place.

internal import CZip
import Glibc

/// A failure reading a zip archive.
public enum ZipError: Error, Equatable, Sendable, CustomStringConvertible {
  /// libzip could not open the archive: its `ZIP_ER_*` code and its own text.
  case open(code: Int32, reason: String)
  /// An entry is larger than the caller allowed.
  case entryTooLarge(name: String, size: UInt64, limit: UInt64)
  /// An entry's declared size is implausible for its compressed size (a zip bomb).
  case compressionBomb(name: String, size: UInt64, compressedSize: UInt64)
  /// Reading an entry failed.
  case read(name: String, reason: String)

  /// The problem, one sentence, as part of the one-line error the tool prints.
  public var description: String {
    switch self {
    case .open(_, let reason): reason
    case .entryTooLarge(let name, let size, let limit):
      "zip entry \(name) is \(size) bytes, over the limit of \(limit)"
    case .compressionBomb(let name, let size, let compressed):
      "zip entry \(name) expands \(compressed) bytes to \(size): refused as a zip bomb"
    case .read(let name, let reason): "cannot read zip entry \(name): \(reason)"
    }
  }
}

/// The byte source behind an open archive, handed to libzip's callbacks.
private final class SourceContext {
  let source: any ByteSource
  var position: Int64 = 0
  var error = zip_error_t()

  init(_ source: any ByteSource) {
    self.source = source
    zip_error_init(&error)
  }

  deinit { zip_error_fini(&error) }
}

/// libzip's source callback over a `ByteSource` (`ZIP_SOURCE_SUPPORTS_SEEKABLE`).
private func sourceCallback(
  _ userdata: UnsafeMutableRawPointer?, _ data: UnsafeMutableRawPointer?, _ length: zip_uint64_t,
  _ command: zip_source_cmd_t
) -> zip_int64_t {
  guard let userdata else { return -1 }
  let context = Unmanaged<SourceContext>.fromOpaque(userdata).takeUnretainedValue()
  switch command {
  case ZIP_SOURCE_OPEN:
    context.position = 0
    return 0
  case ZIP_SOURCE_READ:
    guard let data else { return -1 }
    let count = Int(min(Int64(length), max(0, context.source.size - context.position)))
    guard count > 0 else { return 0 }
    do {
      let bytes = try context.source.read(at: context.position, count: count)
      bytes.withUnsafeBytes { raw in
        if let base = raw.baseAddress { data.copyMemory(from: base, byteCount: count) }
      }
    } catch {
      zip_error_set(&context.error, ZIP_ER_READ, EIO)
      return -1
    }
    context.position += Int64(count)
    return zip_int64_t(count)
  case ZIP_SOURCE_CLOSE:
    return 0
  case ZIP_SOURCE_STAT:
    guard let data, length >= MemoryLayout<zip_stat_t>.size else { return -1 }
    let stat = data.assumingMemoryBound(to: zip_stat_t.self)
    zip_stat_init(stat)
    stat.pointee.size = zip_uint64_t(context.source.size)
    stat.pointee.valid |= zip_uint64_t(ZIP_STAT_SIZE)
    return 0
  case ZIP_SOURCE_ERROR:
    guard let data else { return -1 }
    return zip_error_to_data(&context.error, data, length)
  case ZIP_SOURCE_FREE:
    Unmanaged<SourceContext>.fromOpaque(userdata).release()
    return 0
  case ZIP_SOURCE_SEEK:
    guard let data else { return -1 }
    let target = zip_source_seek_compute_offset(
      zip_uint64_t(context.position), zip_uint64_t(context.source.size), data, length,
      &context.error)
    guard target >= 0 else { return -1 }
    context.position = Int64(target)
    return 0
  case ZIP_SOURCE_TELL:
    return zip_int64_t(context.position)
  case ZIP_SOURCE_SUPPORTS:
    let commands = [
      ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT, ZIP_SOURCE_ERROR,
      ZIP_SOURCE_FREE, ZIP_SOURCE_SEEK, ZIP_SOURCE_TELL, ZIP_SOURCE_SUPPORTS,
    ]
    return commands.reduce(zip_int64_t(0)) { $0 | (zip_int64_t(1) << zip_int64_t($1.rawValue)) }
  default:
    zip_error_set(&context.error, ZIP_ER_OPNOTSUPP, 0)
    return -1
  }
}

/// A zip archive opened read-only by libzip, for inflating entries. Not safe to share between
/// threads; open one per thread.
///
/// libzip converts every entry's DOS time with `mktime` while opening, and glibc re-reads the
/// time zone on each call unless `TZ` is set: the ptinspect executable sets `TZ=UTC` at start
/// when it is unset (3.5x faster on large archives, libzip-notes.md). The library itself never
/// changes the process's environment.
package final class ZipArchive {
  private let handle: OpaquePointer
  /// The number of entries libzip lists.
  package let count: Int

  /// Opens the archive in `source` and reads its central directory. The corresponding C
  /// functions are `zip_source_function_create` and `zip_open_from_source`.
  package init(source: any ByteSource) throws(ZipError) {
    let context = Unmanaged.passRetained(SourceContext(source))
    var error = zip_error_t()
    zip_error_init(&error)
    defer { zip_error_fini(&error) }
    guard let zipSource = zip_source_function_create(sourceCallback, context.toOpaque(), &error)
    else {
      context.release()
      throw .open(code: zip_error_code_zip(&error), reason: Self.message(&error))
    }
    guard let handle = zip_open_from_source(zipSource, ZIP_RDONLY, &error) else {
      // The source (and with it the context) is freed with it.
      zip_source_free(zipSource)
      throw .open(code: zip_error_code_zip(&error), reason: Self.message(&error))
    }
    self.handle = handle
    self.count = max(0, Int(zip_get_num_entries(handle, 0)))
  }

  deinit { zip_discard(handle) }

  /// The name libzip gives entry `index`, `\` turned into `/`.
  package func name(at index: Int) -> String? {
    guard let cName = zip_get_name(handle, zip_uint64_t(index), 0) else { return nil }
    return String(cString: cName).replacing("\\", with: "/")
  }

  /// Reads `count` bytes of entry `index` starting `offset` bytes into its data. The
  /// corresponding C functions are `zip_fopen_index`, `zip_fseek` and `zip_fread`.
  package func read(index: Int, name: String, offset: UInt64 = 0, count: Int) throws(ZipError)
    -> [UInt8]
  {
    guard let file = zip_fopen_index(handle, zip_uint64_t(index), 0) else {
      throw .read(name: name, reason: String(cString: zip_strerror(handle)).lowercased())
    }
    defer { zip_fclose(file) }
    if offset > 0, zip_fseek(file, zip_int64_t(offset), SEEK_SET) != 0 {
      throw .read(name: name, reason: String(cString: zip_file_strerror(file)).lowercased())
    }
    var buffer = [UInt8](repeating: 0, count: count)
    var filled = 0
    while filled < count {
      let n = buffer.withUnsafeMutableBytes { raw -> zip_int64_t in
        guard let base = raw.baseAddress else { return 0 }
        return zip_fread(file, base + filled, zip_uint64_t(count - filled))
      }
      if n < 0 {
        throw .read(name: name, reason: String(cString: zip_file_strerror(file)).lowercased())
      }
      if n == 0 {
        throw .read(name: name, reason: "ends after \(filled) of \(count) bytes")
      }
      filled += Int(n)
    }
    return buffer
  }

  private static func message(_ error: inout zip_error_t) -> String {
    let text = String(cString: zip_error_strerror(&error)).lowercased()
    switch zip_error_code_zip(&error) {
    case ZIP_ER_NOZIP: return "not a zip archive"
    case ZIP_ER_INCONS: return "corrupt zip archive (central directory inconsistent; truncated?)"
    case ZIP_ER_OPEN, ZIP_ER_READ, ZIP_ER_SEEK: return "cannot read: \(text)"
    default: return text
    }
  }
}
