// CheckpointError.swift: why an input could not be read, typed, and rendered once into the
// one-line message the tool prints (`model.pt: archive/data.pkl: unknown pickle opcode ...`).

import Pickle

/// A file that could not be read: the file, and why.
public struct CheckpointError: Error, Sendable, Equatable, CustomStringConvertible {
  /// Why, by layer: the bytes, the zip, a pickle, its interpretation, the container's own rules.
  public enum Reason: Sendable {
    /// The bytes could not be read (missing file, I/O error, a range past the end).
    case source(ByteSourceError)
    /// The zip layer refused an entry or failed to inflate it.
    case zip(ZipError)
    /// A pickle failed to decode; `context` names it (`archive/data.pkl`, `legacy stream, main
    /// pickle`), or is nil for a bare pickle.
    case pickle(context: String?, PickleError)
    /// A pickle decoded but its content is not what torch writes.
    case interpretation(context: String?, InterpretError)
    /// The container breaks its own rules (a storage missing or too small, a bad header).
    case container(String)
    /// Not a checkpoint at all (an empty file, an LFS pointer, an HTML page).
    case notCheckpoint(String)
    /// A known format ptinspect does not read.
    case unsupported(String)
  }

  /// The file that could not be read, as the caller named it.
  public var file: String
  /// Why, typed by layer, with byte offsets where there are some.
  public var reason: Reason

  /// An error for `file`, for `reason`.
  package init(file: String, _ reason: Reason) {
    self.file = file
    self.reason = reason
  }

  /// A failure of a layer below (the zip layer, a byte source) as a checkpoint error.
  package init(_ error: any Error, file: String) {
    switch error {
    case let e as CheckpointError: self = e
    case let e as ZipError: self.init(file: file, .zip(e))
    case let e as ZipDirectoryError: self.init(file: file, .container(e.message))
    case let e as ByteSourceError: self.init(file: file, .source(e))
    default: self.init(file: file, .container("\(error)"))
    }
  }

  /// A container error with this message.
  package init(file: String, _ message: String) {
    self.init(file: file, .container(message))
  }

  /// The problem in one line, without the file name.
  public var message: String {
    switch reason {
    case .source(let e): e.message
    case .zip(let e): e.description
    case .pickle(let context?, let e): "\(context): \(e.description)"
    case .pickle(nil, let e): e.description
    case .interpretation(let context?, let e): "\(context): \(e.message)"
    case .interpretation(nil, let e): e.message
    case .container(let m), .notCheckpoint(let m), .unsupported(let m): m
    }
  }

  /// A stable key for the kind of failure: `io`, `zip`, `pickle`, `interpretation`,
  /// `container`, `not-a-checkpoint`, `unsupported`.
  public var kind: String {
    switch reason {
    case .source: "io"
    case .zip: "zip"
    case .pickle: "pickle"
    case .interpretation: "interpretation"
    case .container: "container"
    case .notCheckpoint: "not-a-checkpoint"
    case .unsupported: "unsupported"
    }
  }

  /// The one-line message ptinspect prints: the file, then the problem.
  public var description: String { "\(file): \(message)" }

  /// The same failure with `prefix` put before its message (`baseline: ...`).
  public func prefixed(_ prefix: String) -> CheckpointError {
    CheckpointError(file: file, .container(prefix + message))
  }

  /// Errors are equal when they name the same file with the same message.
  public static func == (a: CheckpointError, b: CheckpointError) -> Bool {
    a.file == b.file && a.message == b.message
  }
}

/// A note about the file for the user: something odd, inferred or unsafe.
public struct Diagnostic: Sendable, Codable, Equatable {
  /// How much the note matters: `info` (an inference, a fact), `warning` (something odd or unsafe), `error` (a part that could not be read).
  public enum Severity: String, Sendable, Codable { case info, warning, error }
  /// How much it matters.
  public var severity: Severity
  /// The note, one sentence.
  public var message: String
  /// A note of `severity` saying `message`.
  package init(_ severity: Severity, _ message: String) {
    self.severity = severity
    self.message = message
  }
}
