// SystemSupport.swift: the few things Foundation gave that FoundationEssentials does not, in
// plain C library calls: printf-style number formatting, a lock, writing to a file descriptor,
// a detached thread, sleeping, the home folder. (The text encodings are in TextEncoding.swift.)
// With them the release binary links FoundationEssentials only (no ICU, no full Foundation).

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// `value` formatted by one C conversion (`"%.1f"`, `"%.4g"`, `"%.3e"`), exactly as printf
/// writes it in the C locale (what `String(format:)` gave).
package func cFormat(_ conversion: String, _ value: Double) -> String {
  var buffer = [CChar](repeating: 0, count: 64)
  let count = withVaList([value]) { vsnprintf(&buffer, buffer.count, conversion, $0) }
  if count >= buffer.count {  // wider than 64 bytes (a huge %f): measure, then write
    buffer = [CChar](repeating: 0, count: Int(count) + 1)
    _ = withVaList([value]) { vsnprintf(&buffer, buffer.count, conversion, $0) }
  }
  return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// A mutual-exclusion lock (a pthread mutex), for state that `Locked` does not wrap.
package final class Lock: @unchecked Sendable {
  private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

  package init() { pthread_mutex_init(mutex, nil) }

  deinit {
    pthread_mutex_destroy(mutex)
    mutex.deallocate()
  }

  package func lock() { pthread_mutex_lock(mutex) }
  package func unlock() { pthread_mutex_unlock(mutex) }

  /// Runs `body` holding the lock.
  package func withLock<T>(_ body: () throws -> T) rethrows -> T {
    lock()
    defer { unlock() }
    return try body()
  }
}

/// Writes all of `bytes` to the file descriptor `fd` (standard output or error), retrying short
/// writes and interruptions; gives up silently on any other error (a closed pipe).
package func writeAll(_ fd: Int32, _ bytes: some Collection<UInt8>) {
  var rest = Array(bytes)[...]
  while !rest.isEmpty {
    let written = rest.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    if written < 0 {
      if errno == EINTR { continue }
      return
    }
    rest = rest.dropFirst(written)
  }
}

/// Runs `body` on a new detached thread (what `Thread.detachNewThread` did).
package func detachThread(_ body: @escaping @Sendable () -> Void) {
  final class Box: @unchecked Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
  }
  let box = Unmanaged.passRetained(Box(body)).toOpaque()
  #if canImport(Darwin)
    var thread: pthread_t?
  #else
    var thread = pthread_t()
  #endif
  let started = pthread_create(
    &thread, nil,
    { context in
      #if !canImport(Darwin)
        guard let context else { return nil }
      #endif
      Unmanaged<Box>.fromOpaque(context).takeRetainedValue().body()
      return nil
    }, box)
  guard started == 0 else {  // no thread to be had: run it here rather than not at all
    Unmanaged<Box>.fromOpaque(box).takeRetainedValue().body()
    return
  }
  #if canImport(Darwin)
    if let thread { pthread_detach(thread) }
  #else
    pthread_detach(thread)
  #endif
}

/// Sleeps for `seconds` (what `Thread.sleep(forTimeInterval:)` did); at most a day at a time.
package func sleep(seconds: Double) {
  guard seconds > 0 else { return }
  let clamped = min(seconds, 86_400)
  var request = timespec(
    tv_sec: Int(clamped), tv_nsec: Int((clamped - clamped.rounded(.down)) * 1_000_000_000))
  var remaining = timespec()
  while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}

/// The user's home folder from the password database (what `NSHomeDirectory()` gave when
/// `HOME` is unset), or `/`.
package func homeDirectory() -> String {
  guard let entry = getpwuid(getuid()), let dir = entry.pointee.pw_dir else { return "/" }
  return String(cString: dir)
}

/// Writes `text` to standard error.
package func writeStandardError(_ text: String) { writeAll(2, Array(text.utf8)) }

#if canImport(FoundationEssentials)
  // The two String methods from Foundation that the library uses, which FoundationEssentials
  // lacks; internal, so they never meet Foundation's in a module that imports both.
  extension StringProtocol {
    /// The range of the first occurrence of `target` (compared by characters), or nil.
    func range(of target: String) -> Range<Index>? {
      guard !target.isEmpty else { return nil }
      var i = startIndex
      while i != endIndex {
        if self[i...].hasPrefix(target) { return i..<index(i, offsetBy: target.count) }
        i = index(after: i)
      }
      return nil
    }

    /// `self` with every occurrence of `target` replaced by `replacement`.
    func replacingOccurrences(of target: String, with replacement: String) -> String {
      var out = ""
      var rest = self[...]
      while let r = rest.range(of: target) {
        out += rest[..<r.lowerBound]
        out += replacement
        rest = rest[r.upperBound...]
      }
      return out + rest
    }

  }
#endif

extension StringProtocol {
  /// `self` without the spaces and tabs at either end (Foundation's
  /// `trimmingCharacters(in: .whitespaces)` for the ASCII text it is used on).
  func trimmingSpaces() -> String {
    let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
    return String(drop(while: blank).reversed().drop(while: blank).reversed())
  }
}
