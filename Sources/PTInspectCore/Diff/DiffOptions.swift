// DiffOptions.swift: what `ptinspect diff` compares and what counts as a change.

/// Options of a checkpoint comparison.
public struct DiffOptions: Sendable {
  /// Compare tensor contents as well as structure, with the magnitudes of the differences.
  public var values = false
  /// Compare the structure only (`--structure-only`): without it (and without `values`), the
  /// contents are still compared for equality, by CRC-32 where the zip has it, else by bytes.
  public var structureOnly = false
  /// Absolute tolerance: an element differs when |a - b| > atol + rtol * |b| (numpy's allclose).
  public var atol: Double = 0
  /// Relative tolerance, against the second file's value (numpy's allclose).
  public var rtol: Double = 0
  /// Prefixes removed from the names of either side wherever a name carries them.
  public var stripPrefixes: [String] = []
  /// Detect a prefix (`module.`, `_orig_mod.`, `model.`) every key of one side carries and the other lacks.
  public var autoStrip = true
  /// Compare only tensors whose name (or a dotted ancestor of it) matches one of these globs.
  public var filters: [String] = []
  /// Leave out tensors whose name (or a dotted ancestor of it) matches one of these globs.
  public var excludes: [String] = []
  /// Tensors that must not change: any difference under these globs breaks an expectation.
  public var expectUnchanged: [String] = []
  /// List dtype changes but do not count them as differences (a conversion that was meant).
  public var ignoreDType = false
  /// Compare every tensor of the files (optimizer state, EMA copies), not just the model.
  public var allTensors = false
  /// Worker threads for the value comparison; nil for one per core.
  public var threads: Int?
  /// Elements per unit of parallel work: larger tensors are split into ranges of this size.
  public var jobElements: Int64 = 1 << 22

  /// The defaults: structure only, exact comparison, prefixes detected, the model's tensors only.
  public init() {}

  /// Whether any tolerance is set (otherwise any difference at all counts).
  public var hasTolerance: Bool { atol > 0 || rtol > 0 }
}
