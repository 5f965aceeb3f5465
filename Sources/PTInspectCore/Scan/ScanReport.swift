// ScanReport.swift: what `ptinspect scan` found in one file, as data (Codable, schemaVersion 1).
// ScanRenderer turns it into a table or Markdown, ReportJSON into JSON.

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// One place a global is named or used.
public struct ScanOccurrence: Sendable, Codable, Equatable {
  /// The pickle: a zip entry name (`archive/data.pkl`), a legacy stream part (`main`), `pickle`.
  public var pickle: String
  /// Byte offset of the opcode in the pickle's stream: the entry's data for zip entries, the
  /// file for legacy streams and bare pickles.
  public var offset: Int
  /// GLOBAL, STACK_GLOBAL or INST where it is named; REDUCE, NEWOBJ, NEWOBJ_EX or OBJ where it is
  /// called; BINPERSID or PERSID where it is the class in a persistent id.
  public var opcode: String

}

/// One distinct global, its verdict and every place it occurs.
public struct ScanGlobal: Sendable, Codable, Equatable {
  /// The module, with Python 2 spellings normalised (`__builtin__` is `builtins`).
  public var module: String
  /// The global's name within its module.
  public var name: String
  /// `allowed`, `unknown` or `dangerous`.
  public var classification: GlobalVerdict
  /// Why it is classified so, one sentence.
  public var reason: String
  /// Where the pickles name it.
  public var occurrences: [ScanOccurrence]
  /// Where its code comes from: `standard-library`, `torch`, `numpy`, `script` (`__main__`),
  /// `torchscript`, `third-party` or `unresolved`.
  public var origin: GlobalOrigin = .thirdParty
  /// The opcodes that call it while loading, each once: REDUCE, NEWOBJ, NEWOBJ_EX, OBJ, INST
  /// (it is called), BUILD (its `__setstate__` runs on an object it made). Empty for a mere
  /// reference, such as a class passed as an argument.
  public var calledBy: [String] = []
  /// The pickle-loading calls it is nested in, outermost first (`["pickle.loads"]` for the
  /// `posix.system` inside the bytes handed to `pickle.loads`); empty in the file's own pickles.
  public var via: [String] = []
  /// For `functools.partial`: the callables it wraps (`module.name`, or `<...>` when the wrapped
  /// value is not a named global).
  public var wraps: [String] = []
  /// Allowed because the user said so (`--allow` or the config file's `allow` list).
  public var allowedByUser = false

  /// A global `module.name` classified as `classification` for `reason`, named at `occurrences`.
  package init(
    module: String, name: String, classification: GlobalVerdict, reason: String,
    occurrences: [ScanOccurrence], origin: GlobalOrigin = .thirdParty, calledBy: [String] = [],
    via: [String] = [], wraps: [String] = [], allowedByUser: Bool = false
  ) {
    self.module = module
    self.name = name
    self.classification = classification
    self.reason = reason
    self.occurrences = occurrences
    self.origin = origin
    self.calledBy = calledBy
    self.via = via
    self.wraps = wraps
    self.allowedByUser = allowedByUser
  }

  /// `module.name`, or a placeholder for a STACK_GLOBAL computed at load time.
  public var qualifiedName: String {
    module == ScanGlobal.computed ? "<computed at load time>" : module + "." + name
  }

  /// The name with the loaders it is nested in: `pickle.loads -> posix.system`.
  public var displayName: String {
    (via + [qualifiedName]).joined(separator: " -> ")
  }

  /// The module and name of a STACK_GLOBAL whose operands the pickle computes.
  public static let computed = "<computed>"
}

/// What to check about one unknown global the scan does not suggest allowing.
public struct ScanAdvice: Sendable, Codable, Equatable {
  /// The global's display name (`pickle.loads -> m.f` when nested).
  public var global: String
  /// What to check instead of allowing it.
  public var check: String
}

/// One pickle that was scanned.
public struct ScannedPickle: Sendable, Codable, Equatable {
  /// The pickle's name (`archive/data.pkl`, `legacy stream, pickle 2`).
  public var name: String
  /// Where the pickle's first byte is in the file, when it is stored there as is.
  public var fileOffset: Int?
  /// The pickle's length in bytes, up to and including STOP (or to where reading stopped).
  public var bytes: Int
  /// Its pickle protocol (0-5).
  public var protocolVersion: Int
  /// Whether the decoder read it to its STOP. When false, the globals come from the opcode scan
  /// up to the first error, and `error` says what went wrong.
  public var decoded: Bool
  /// Why it could not be decoded to the end, or nil.
  public var error: String?
  /// How many global references it holds.
  public var references: Int
}

/// Everything `ptinspect scan` reports about one file.
public struct ScanReport: Sendable, Codable {
  /// The JSON schema version (`reportSchemaVersion`).
  public var schemaVersion = reportSchemaVersion
  /// The file, as given.
  public var file: String
  /// `torch-zip`, `torchscript`, `zip` (another zip), `torch-legacy`, `torch-tar`, `pickle`,
  /// `safetensors`.
  public var format: String
  /// The worst classification among the globals: `dangerous`, `unknown` or `allowed` (also when
  /// there are none).
  public var verdict: GlobalVerdict
  /// False when part of the file could not be read; `errors` says which.
  public var complete: Bool
  /// The parts that could not be read, one line each.
  public var errors: [String]
  /// Every pickle found in the file.
  public var pickles: [ScannedPickle]
  /// Every distinct global: dangerous first, then unknown, then allowed.
  public var globals: [ScanGlobal]
  /// Tricks found in the zip structure (overlapping entries, gaps, comments, ...).
  public var zipFindings: [ZipFinding]
  /// Notes for the reader, one sentence each.
  public var notes: [String]
  /// The unknown globals on a reviewed list of plain data types (numpy arrays, dtypes and
  /// scalars, `argparse.Namespace`, ...) or allowed by the user, as Python expressions, for
  /// `torch.serialization.add_safe_globals`. No other global is ever suggested.
  public var addSafeGlobals: [String]
  /// For every other unknown global: what to check instead of allowing it.
  public var advice: [ScanAdvice] = []
  /// What reading a remote file cost (`url`, `bytesFetched`, `requests`, `etag`, `seconds`);
  /// null for a local file.
  public var source: SourceCost? = nil
  /// The file's size in bytes (for the cost line; not encoded).
  var fileBytes: Int64 = 0
  /// `numpy.dtypes` classes that `numpy.dtype(...)` calls create (not encoded).
  var impliedSafeGlobals: [String] = []
  /// Display names in order of first appearance (not encoded): ties in the sort keep it.
  var appearance: [String] = []

  /// Counts of distinct globals by classification.
  public func count(_ verdict: GlobalVerdict) -> Int {
    globals.filter { $0.classification == verdict }.count
  }

  /// The call that would run the file's pickles: `np.load(allow_pickle=True)` for NumPy files,
  /// `torch.load(weights_only=False)` otherwise.
  public var unsafeLoad: String {
    format == "npy" || format == "npz"
      ? "np.load(allow_pickle=True)"
      : format == "dcp"
        ? "torch.distributed.checkpoint.load (pickle.load of .metadata)"
        : "torch.load(weights_only=False)"
  }

  /// The `torch.serialization.add_safe_globals([...])` line, or nil when nothing is unknown.
  public var addSafeGlobalsLine: String? {
    addSafeGlobals.isEmpty
      ? nil
      : "torch.serialization.add_safe_globals([" + addSafeGlobals.joined(separator: ", ") + "])"
  }

  /// The `import ...` line the `add_safe_globals` line needs, or nil when it needs none.
  public var addSafeGlobalsImports: String? {
    var modules: [String] = []
    for expression in addSafeGlobals {
      guard let dot = expression.lastIndex(of: ".") else { continue }  // a builtin
      var module = String(expression[..<dot])
      // `m.Outer.Inner`: import the module part, as the global's module names it.
      if let g = globals.first(where: { $0.module + "." + $0.name == expression }) {
        module = g.module
      }
      if !modules.contains(module) { modules.append(module) }
    }
    return modules.isEmpty ? nil : "import " + modules.joined(separator: ", ")
  }

  /// 2 when the file could not be read completely; 1 when a global is dangerous (or, when
  /// `strict`, when any global is not allowed or the zip has findings); else 0.
  public func exitCode(strict: Bool) -> Int32 {
    if !complete { return 2 }
    if verdict == .dangerous { return 1 }
    if strict && (verdict != .allowed || !zipFindings.isEmpty) { return 1 }
    return 0
  }

  enum CodingKeys: String, CodingKey {
    case schemaVersion, file, format, verdict, complete, errors, pickles, globals, zipFindings
    case notes, addSafeGlobals, advice, source
  }
}
