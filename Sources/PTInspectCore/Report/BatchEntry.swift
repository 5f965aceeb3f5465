// BatchEntry.swift: machine output over several inputs. Every input is one entry: its report,
// or, when it could not be read, an error entry naming the file, the one-line message and its
// kind. `--format json` prints one document (`{"schemaVersion", "files": [...]}`) for every
// command that takes several inputs; `--format jsonl` prints one entry per line.

/// An input that could not be read, as machine output reports it.
public struct InputError: Sendable, Codable, Equatable {
  public var schemaVersion = reportSchemaVersion
  public var file: String
  /// The one line standard error prints after the file name.
  public var error: String
  /// `io`, `zip`, `pickle`, `interpretation`, `container`, `not-a-checkpoint`, `unsupported`.
  public var errorKind: String

  public init(_ e: CheckpointError) {
    file = e.file
    error = e.message
    errorKind = e.kind
  }

  public init(file: String, error: String, errorKind: String) {
    self.file = file
    self.error = error
    self.errorKind = errorKind
  }

  /// The entry in Markdown: a heading and the message.
  public var markdown: String {
    "### ptinspect: `\(file)`\n\n**error** (\(errorKind)): \(Format.printable(error))\n"
  }
}

/// One input's entry: its report, or why it could not be read.
public enum BatchEntry<Report: Encodable & Sendable>: Encodable, Sendable {
  case report(Report)
  case error(InputError)

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.singleValueContainer()
    switch self {
    case .report(let r): try c.encode(r)
    case .error(let e): try c.encode(e)
    }
  }
}

/// `--format json` over several inputs: one document, the entries in input order.
public struct BatchDocument<Report: Encodable & Sendable>: Encodable, Sendable {
  public var schemaVersion = reportSchemaVersion
  public var files: [BatchEntry<Report>]
  public init(_ files: [BatchEntry<Report>]) { self.files = files }
}
