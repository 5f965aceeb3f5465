// ByteSource.swift: a sized, random-access run of bytes read by range. Every reader reads
// through one: a local file (pread, and a read-only mapping for large in-place reads), or bytes
// in memory (tests, fuzzing, a byte range of another source), or a remote file read by HTTP
// range requests (`HTTPSource`). Nothing below the executable opens a path except `FileSource`.

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// A failure reading a byte source: the source cannot be opened, or a range cannot be read.
public struct ByteSourceError: Error, Equatable, Sendable, CustomStringConvertible {
  /// One lower-case line without the source's name (`cannot read 64 bytes at offset 12`).
  public var message: String
  /// True when the source does not exist (no such file).
  public var isMissing = false
  /// A read failure: `message` says what failed (`no such file`, `read past the end at offset N`); `isMissing` when the file does not exist.
  package init(_ message: String, isMissing: Bool = false) {
    self.message = message
    self.isMissing = isMissing
  }
  /// The message, as part of the one-line error the tool prints.
  public var description: String { message }
}

/// A sized, random-access run of bytes.
public protocol ByteSource: AnyObject, Sendable {
  /// How the source is named in messages: the path as given.
  var name: String { get }
  /// Its length in bytes.
  var size: Int64 { get }
  /// Exactly `count` bytes starting at `offset`; an error when the range is not inside the source.
  func read(at offset: Int64, count: Int) throws(ByteSourceError) -> [UInt8]
  /// Exactly `buffer.count` bytes starting at `offset`, copied into `buffer` (a caller's
  /// reusable buffer: a local file reads them with `pread`, no mapping and no allocation).
  func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(ByteSourceError)
  /// Calls `body` with bytes `offset..<offset+count` in one contiguous buffer, valid only during
  /// the call: the source's own memory when it has the bytes mapped, else a copy.
  func withBytes<R>(
    at offset: Int64, count: Int, _ body: (UnsafeRawBufferPointer) throws -> R
  ) throws -> R
  /// A hint that bytes `offset..<offset+count` will not be needed again (mapped pages may go).
  func release(at offset: Int64, count: Int)
  /// A hint that bytes `offset..<offset+count` are about to be read, in pieces: a remote
  /// source fetches them in one request.
  func prefetch(at offset: Int64, count: Int)
  /// Read over a network, by range (no mapping; each miss is a request).
  var isRemote: Bool { get }
}

extension ByteSource {
  /// Tells the source that the bytes in `offset..<offset+count` are not needed again (a mapped file lets the pages go); by default nothing happens.
  public func release(at offset: Int64, count: Int) {}
  public func prefetch(at offset: Int64, count: Int) {}
  public var isRemote: Bool { false }

  /// Copies the bytes out of `withBytes`.
  public func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer)
    throws(ByteSourceError)
  {
    do {
      try withBytes(at: offset, count: buffer.count) { buffer.copyMemory(from: $0) }
    } catch let error as ByteSourceError {
      throw error
    } catch {
      throw ByteSourceError("cannot read \(buffer.count) bytes at offset \(offset): \(error)")
    }
  }

  /// Checks that `offset..<offset+count` lies inside the source.
  func checkRange(_ offset: Int64, _ count: Int) throws(ByteSourceError) {
    guard offset >= 0, count >= 0, offset <= size, Int64(count) <= size - offset else {
      throw ByteSourceError(
        "cannot read \(count) bytes at offset \(offset): the file has \(size) bytes")
    }
  }

  /// Up to `count` bytes at `offset`, fewer when the source ends first.
  public func readPrefix(at offset: Int64 = 0, upTo count: Int) throws(ByteSourceError) -> [UInt8] {
    let available = max(0, size - max(0, offset))
    return try read(at: offset, count: Int(min(Int64(count), available)))
  }
}

/// Bytes in memory.
public final class MemorySource: ByteSource {
  /// The name errors use: `<memory>` unless given.
  public let name: String
  let bytes: [UInt8]
  /// The number of bytes held.
  public var size: Int64 { Int64(bytes.count) }

  /// A source over `bytes` (a checkpoint already in memory, a test's hand-made bytes), named `name` in errors.
  public init(_ bytes: [UInt8], name: String = "<memory>") {
    self.bytes = bytes
    self.name = name
  }

  /// A copy of `count` bytes from `offset`; reading past the end throws.
  public func read(at offset: Int64, count: Int) throws(ByteSourceError) -> [UInt8] {
    try checkRange(offset, count)
    return Array(bytes[Int(offset)..<Int(offset) + count])
  }

  /// Calls `body` with the bytes of `offset..<offset+count` in place, without copying; past the end throws.
  public func withBytes<R>(
    at offset: Int64, count: Int, _ body: (UnsafeRawBufferPointer) throws -> R
  ) throws -> R {
    try checkRange(offset, count)
    return try bytes.withUnsafeBytes { all in
      try body(UnsafeRawBufferPointer(rebasing: all[Int(offset)..<Int(offset) + count]))
    }
  }
}

/// A checkpoint that is not a seekable file: standard input (`-`) or a pipe (`/dev/stdin`,
/// `<(...)`), read into memory up to a cap.
public enum StreamInput {
  /// The most a stream is read into memory.
  public static let limit = 4 << 30

  /// Whether `path` names standard input or a pipe, socket or character device.
  public static func isStream(_ path: String) -> Bool {
    if path == "-" { return true }
    var st = stat()
    guard stat(path, &st) == 0 else { return false }
    let kind = st.st_mode & S_IFMT
    return kind == S_IFIFO || kind == S_IFCHR || kind == S_IFSOCK
  }

  /// Reads the stream at `path` (`-`: standard input) into memory, named `<stdin>` for `-`.
  public static func load(_ path: String, limit: Int = StreamInput.limit) throws(ByteSourceError)
    -> MemorySource
  {
    let stdin = path == "-"
    if stdin && isatty(STDIN_FILENO) != 0 {
      throw ByteSourceError(
        "standard input is a terminal: pipe a checkpoint into it (ptinspect - < model.pt)")
    }
    let fd = stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
      throw ByteSourceError(
        "cannot open the file for reading: \(String(cString: strerror(errno)).lowercased())")
    }
    defer { if !stdin { close(fd) } }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
      let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n < 0 {
        if errno == EINTR { continue }
        throw ByteSourceError(
          "cannot read the stream: \(String(cString: strerror(errno)).lowercased())")
      }
      if n == 0 { break }
      guard bytes.count + n <= limit else {
        throw ByteSourceError(
          "the stream holds more than \(Format.bytes(Int64(limit))), the most read into memory: save it to a file and name the file"
        )
      }
      bytes.append(contentsOf: chunk[0..<n])
    }
    return MemorySource(bytes, name: stdin ? "<stdin>" : path)
  }
}

/// A local file, opened read-only. Small reads use `pread`; `withBytes` serves large ranges from
/// one read-only mapping of the whole file, made on first use (measured faster than copying
/// for tensor data: no copy, and pages are released as reading moves on).
public final class FileSource: ByteSource, @unchecked Sendable {
  // Immutable after init except `mapping`, which is set once under `lock`.
  /// The path, as errors name the file.
  public let name: String
  /// The file's size in bytes when it was opened.
  public let size: Int64
  private let fd: Int32
  private let lock = Lock()
  private var mapping: UnsafeRawBufferPointer?
  private var mappingFailed = false
  /// Reads at least this long go through the mapping.
  static let mapThreshold = 1 << 20
  static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

  /// Opens `path`. Errors are the file's problem in one line (`no such file`).
  public init(path: String) throws(ByteSourceError) {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
      let code = errno
      guard code != ENOENT else { throw ByteSourceError("no such file", isMissing: true) }
      throw ByteSourceError(
        "cannot open the file for reading: \(String(cString: strerror(code)).lowercased())")
    }
    var st = stat()
    guard fstat(fd, &st) == 0 else {
      close(fd)
      throw ByteSourceError("cannot read the file's size")
    }
    if (st.st_mode & S_IFMT) == S_IFDIR {
      close(fd)
      throw ByteSourceError("is a directory")
    }
    self.fd = fd
    self.name = path
    self.size = Int64(st.st_size)
  }

  deinit {
    if let base = mapping?.baseAddress {
      munmap(UnsafeMutableRawPointer(mutating: base), mapping?.count ?? 0)
    }
    close(fd)
  }

  /// A copy of `count` bytes from `offset` (pread, or the mapping for large ranges); past the end throws.
  public func read(at offset: Int64, count: Int) throws(ByteSourceError) -> [UInt8] {
    try checkRange(offset, count)
    var out = [UInt8](repeating: 0, count: count)
    let result = out.withUnsafeMutableBytes { raw in
      Result { () throws(ByteSourceError) in try read(at: offset, into: raw) }
    }
    try result.get()
    return out
  }

  /// `pread` into `buffer` until it is full; past the end throws.
  public func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer)
    throws(ByteSourceError)
  {
    let count = buffer.count
    try checkRange(offset, count)
    guard let start = buffer.baseAddress else { return }
    var filled = 0
    while filled < count {
      let n = pread(fd, start + filled, count - filled, off_t(offset) + off_t(filled))
      if n < 0 {
        if errno == EINTR { continue }
        throw ByteSourceError(
          "cannot read \(count) bytes at offset \(offset): \(String(cString: strerror(errno)).lowercased())"
        )
      }
      if n == 0 {
        throw ByteSourceError(
          "cannot read \(count) bytes at offset \(offset): the file ends after \(Int64(filled) + offset)"
        )
      }
      filled += n
    }
  }

  /// Calls `body` with the bytes of `offset..<offset+count` in the file's read-only mapping, without copying; past the end throws.
  public func withBytes<R>(
    at offset: Int64, count: Int, _ body: (UnsafeRawBufferPointer) throws -> R
  ) throws -> R {
    try checkRange(offset, count)
    if count >= Self.mapThreshold, let all = mapped() {
      return try body(UnsafeRawBufferPointer(rebasing: all[Int(offset)..<Int(offset) + count]))
    }
    return try read(at: offset, count: count).withUnsafeBytes(body)
  }

  /// The whole file mapped read-only, or nil when it cannot be mapped.
  private func mapped() -> UnsafeRawBufferPointer? {
    lock.lock()
    defer { lock.unlock() }
    if let mapping { return mapping }
    guard !mappingFailed, size > 0 else { return nil }
    guard let p = mmap(nil, Int(size), PROT_READ, MAP_SHARED, fd, 0),
      p != UnsafeMutableRawPointer(bitPattern: -1)
    else {
      mappingFailed = true
      return nil
    }
    mapping = UnsafeRawBufferPointer(start: p, count: Int(size))
    return mapping
  }

  /// Drops the mapped pages of a byte range from this process (they stay in the page cache).
  /// The range is widened to 2 MB boundaries: a page fault maps the cached pages around it (the
  /// kernel's fault-around, whole large folios), which would otherwise stay resident.
  public func release(at offset: Int64, count: Int) {
    lock.lock()
    let all = mapping
    lock.unlock()
    guard count > 0, let all, let base = all.baseAddress else { return }
    let window = 1 << 21
    let page = Self.pageSize
    let first = Swift.max(0, Int(offset) & ~(window - 1))
    let end = Swift.min(
      (all.count + page - 1) & ~(page - 1), (Int(offset) + count + window - 1) & ~(window - 1))
    guard end > first else { return }
    _ = madvise(UnsafeMutableRawPointer(mutating: base + first), end - first, MADV_DONTNEED)
  }
}

/// Bytes `offset..<offset+count` of another source, as a source of their own (a `.distcp`
/// member, a zip entry stored in place).
package final class SliceSource: ByteSource {
  package let name: String
  let base: any ByteSource
  let offset: Int64
  package let size: Int64

  package init(_ base: any ByteSource, offset: Int64, count: Int64, name: String? = nil) {
    self.base = base
    self.offset = offset
    self.size = count
    self.name = name ?? base.name
  }

  package func read(at offset: Int64, count: Int) throws(ByteSourceError) -> [UInt8] {
    try checkRange(offset, count)
    return try base.read(at: self.offset + offset, count: count)
  }

  package func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer)
    throws(ByteSourceError)
  {
    try checkRange(offset, buffer.count)
    try base.read(at: self.offset + offset, into: buffer)
  }

  package func withBytes<R>(
    at offset: Int64, count: Int, _ body: (UnsafeRawBufferPointer) throws -> R
  ) throws -> R {
    try checkRange(offset, count)
    return try base.withBytes(at: self.offset + offset, count: count, body)
  }

  package func release(at offset: Int64, count: Int) {
    base.release(at: self.offset + offset, count: count)
  }

  public func prefetch(at offset: Int64, count: Int) {
    base.prefetch(at: self.offset + offset, count: count)
  }

  public var isRemote: Bool { base.isRemote }
}
