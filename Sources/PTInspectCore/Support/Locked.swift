// Locked.swift: a value shared between threads, read and changed under a lock.

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// A value that closures on several threads share (the batch runner's `emit`, a worker's
/// progress): every access holds the lock.
package final class Locked<Value>: @unchecked Sendable {
  private let lock = Lock()
  private var value: Value

  package init(_ value: Value) { self.value = value }

  /// Runs `body` on the value under the lock and returns what it returns.
  @discardableResult
  package func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
    lock.lock()
    defer { lock.unlock() }
    return try body(&value)
  }

  /// A copy of the value.
  package var current: Value { withLock { $0 } }
}
