// DiffReport.swift: the comparison of two checkpoints as data (Codable, schemaVersion 1).
// `before` is the first file, `after` the second. Renderers turn it into a table or Markdown.

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// One side of a comparison.
public struct DiffSide: Sendable, Codable, Equatable {
  /// The file, as given.
  public var file: String
  /// Its container (`ContainerFormat` raw value).
  public var format: String
  /// Where the model lives in the file (`state_dict.`), dropped from every model tensor's name.
  public var modelPrefix: String
  /// Tensors taken into the comparison (after `--filter`/`--exclude`).
  public var tensors: Int
  /// What reading it cost when it is remote (`url`, `bytesFetched`, `requests`, `etag`,
  /// `seconds`, value reads included); null for a local file.
  public var source: SourceCost? = nil
  /// The file's size (for the cost line; not encoded).
  package var fileBytes: Int64 = 0

  enum CodingKeys: String, CodingKey { case file, format, modelPrefix, tensors, source }
}

/// A prefix removed from the names of one side.
public struct PrefixStrip: Sendable, Codable, Equatable {
  /// `before` (the first file) or `after` (the second).
  public var side: String
  /// The prefix removed (`module.`).
  public var prefix: String
  /// True when ptinspect detected it; false when `--strip-prefix` asked for it.
  public var automatic: Bool
  /// Names that lost the prefix.
  public var tensors: Int

}

/// A tensor only one side has.
public struct DiffTensor: Sendable, Codable, Equatable {
  /// The tensor's name, relative to the model.
  public var name: String
  /// Its dtype.
  public var dtype: String
  /// Its shape.
  public var shape: [Int64]
  /// Its number of elements.
  public var numel: Int64
  /// Its bytes as stored.
  public var bytes: Int64
  /// `parameter` or `buffer`.
  public var kind: String
}

/// A tensor whose shape differs.
public struct ShapeChange: Sendable, Codable, Equatable {
  /// The tensor's name, relative to the model.
  public var name: String
  /// The shape in the first file.
  public var shapeBefore: [Int64]
  /// The shape in the second file.
  public var shapeAfter: [Int64]
  /// The dtype in the first file.
  public var dtypeBefore: String
  /// The dtype in the second file.
  public var dtypeAfter: String
  /// Elements in the first file.
  public var numelBefore: Int64
  /// Elements in the second file.
  public var numelAfter: Int64

}

/// A tensor whose dtype differs.
public struct DTypeChange: Sendable, Codable, Equatable {
  /// The tensor's name, relative to the model.
  public var name: String
  /// The dtype in the first file.
  public var before: String
  /// The dtype in the second file.
  public var after: String
  /// The shape, or the shape before when the shape changed too.
  public var shape: [Int64]
}

/// What comparing two tensors' contents found. Statistics are in float64 over the pairs where
/// both elements are finite; NaN and Inf are counted, never propagated.
public struct ValueStats: Sendable, Codable, Equatable {
  /// Elements compared.
  public var numel: Int64
  /// Elements whose difference exceeds the tolerance (any difference without one).
  public var elementsChanged: Int64
  /// Elements whose values differ at all (a != b; a NaN against a NaN counts as equal).
  public var elementsDifferent: Int64
  /// max |a - b|.
  public var maxAbsDiff: Double
  /// max |a - b| / |a| over elements with a != 0; null when every a is 0.
  public var maxRelDiff: Double?
  /// sqrt(mean((a - b)^2)).
  public var rmsDiff: Double
  /// a . b / (|a| |b|) of the flattened tensors; null when either norm is 0.
  public var cosine: Double?
  /// Whether the stored bytes are the same (only when the dtypes match; null otherwise).
  public var bitIdentical: Bool?
  /// NaN values in the first file.
  public var nanBefore: Int64
  /// NaN values in the second file.
  public var nanAfter: Int64
  /// ±Inf values in the first file.
  public var infBefore: Int64
  /// ±Inf values in the second file.
  public var infAfter: Int64
  /// Pairs where a NaN or Inf on one side meets something else on the other.
  public var nonFiniteMismatches: Int64

  /// The statistics of one comparison (the value comparator fills them in).
  package init(
    numel: Int64, elementsChanged: Int64, elementsDifferent: Int64, maxAbsDiff: Double,
    maxRelDiff: Double?,
    rmsDiff: Double, cosine: Double?, bitIdentical: Bool?, nanBefore: Int64 = 0,
    nanAfter: Int64 = 0,
    infBefore: Int64 = 0, infAfter: Int64 = 0, nonFiniteMismatches: Int64 = 0
  ) {
    self.numel = numel
    self.elementsChanged = elementsChanged
    self.elementsDifferent = elementsDifferent
    self.maxAbsDiff = maxAbsDiff
    self.maxRelDiff = maxRelDiff
    self.rmsDiff = rmsDiff
    self.cosine = cosine
    self.bitIdentical = bitIdentical
    self.nanBefore = nanBefore
    self.nanAfter = nanAfter
    self.infBefore = infBefore
    self.infAfter = infAfter
    self.nonFiniteMismatches = nonFiniteMismatches
  }

  /// Whether the contents count as changed: an element beyond the tolerance, or a NaN/Inf mismatch.
  public var isChanged: Bool { elementsChanged > 0 || nonFiniteMismatches > 0 }
}

/// A tensor whose contents differ (possibly also its dtype), with the statistics.
public struct ValueChange: Sendable, Codable, Equatable {
  /// The tensor's name, relative to the model.
  public var name: String
  /// The dtype in the first file.
  public var dtypeBefore: String
  /// The dtype in the second file.
  public var dtypeAfter: String
  /// The shape (the same on both sides).
  public var shape: [Int64]
  /// How the values differ.
  public var stats: ValueStats

  enum CodingKeys: String, CodingKey {
    case name, dtypeBefore, dtypeAfter, shape, numel, elementsChanged, elementsDifferent, maxAbsDiff
    case maxRelDiff, rmsDiff, cosine, bitIdentical, nanBefore, nanAfter, infBefore, infAfter
    case nonFiniteMismatches
  }

  /// A tensor whose values differ as `stats` says.
  package init(
    name: String, dtypeBefore: String, dtypeAfter: String, shape: [Int64], stats: ValueStats
  ) {
    self.name = name
    self.dtypeBefore = dtypeBefore
    self.dtypeAfter = dtypeAfter
    self.shape = shape
    self.stats = stats
  }

  // The statistics sit flat in the entry (`"maxAbsDiff"` next to `"name"`); nulls are written.
  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(name, forKey: .name)
    try c.encode(dtypeBefore, forKey: .dtypeBefore)
    try c.encode(dtypeAfter, forKey: .dtypeAfter)
    try c.encode(shape, forKey: .shape)
    try c.encode(stats.numel, forKey: .numel)
    try c.encode(stats.elementsChanged, forKey: .elementsChanged)
    try c.encode(stats.elementsDifferent, forKey: .elementsDifferent)
    try c.encode(stats.maxAbsDiff, forKey: .maxAbsDiff)
    try c.encode(stats.maxRelDiff, forKey: .maxRelDiff)
    try c.encode(stats.rmsDiff, forKey: .rmsDiff)
    try c.encode(stats.cosine, forKey: .cosine)
    try c.encode(stats.bitIdentical, forKey: .bitIdentical)
    try c.encode(stats.nanBefore, forKey: .nanBefore)
    try c.encode(stats.nanAfter, forKey: .nanAfter)
    try c.encode(stats.infBefore, forKey: .infBefore)
    try c.encode(stats.infAfter, forKey: .infAfter)
    try c.encode(stats.nonFiniteMismatches, forKey: .nonFiniteMismatches)
  }

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    name = try c.decode(String.self, forKey: .name)
    dtypeBefore = try c.decode(String.self, forKey: .dtypeBefore)
    dtypeAfter = try c.decode(String.self, forKey: .dtypeAfter)
    shape = try c.decode([Int64].self, forKey: .shape)
    stats = ValueStats(
      numel: try c.decode(Int64.self, forKey: .numel),
      elementsChanged: try c.decode(Int64.self, forKey: .elementsChanged),
      elementsDifferent: try c.decode(Int64.self, forKey: .elementsDifferent),
      maxAbsDiff: try c.decode(Double.self, forKey: .maxAbsDiff),
      maxRelDiff: try c.decodeIfPresent(Double.self, forKey: .maxRelDiff),
      rmsDiff: try c.decode(Double.self, forKey: .rmsDiff),
      cosine: try c.decodeIfPresent(Double.self, forKey: .cosine),
      bitIdentical: try c.decodeIfPresent(Bool.self, forKey: .bitIdentical),
      nanBefore: try c.decode(Int64.self, forKey: .nanBefore),
      nanAfter: try c.decode(Int64.self, forKey: .nanAfter),
      infBefore: try c.decode(Int64.self, forKey: .infBefore),
      infAfter: try c.decode(Int64.self, forKey: .infAfter),
      nonFiniteMismatches: try c.decode(Int64.self, forKey: .nonFiniteMismatches))
  }
}

/// A tensor the value comparison left out, and why.
public struct SkippedTensor: Sendable, Codable, Equatable {
  /// The tensor's name, relative to the model.
  public var name: String
  /// Why its values were not compared (no data, an unsupported dtype).
  public var reason: String

}

/// NaN and Inf counts of one compared tensor that has any.
public struct NonFiniteCount: Sendable, Codable, Equatable {
  /// The tensor's name, relative to the model.
  public var name: String
  /// NaN values in the first file.
  public var nanBefore: Int64
  /// NaN values in the second file.
  public var nanAfter: Int64
  /// ±Inf values in the first file.
  public var infBefore: Int64
  /// ±Inf values in the second file.
  public var infAfter: Int64
}

/// What the value comparison did overall.
public struct ValueSummary: Sendable, Codable, Equatable {
  /// Tensors present on both sides with the same shape whose contents were compared.
  public var compared: Int
  /// Same dtype and the same bytes.
  public var identical: Int
  /// Equal values, but not the same bytes (another dtype, -0 against +0, NaN payloads).
  public var equal: Int
  /// Different values, all within the tolerance.
  public var withinTolerance: Int
  /// Beyond the tolerance (the `changed` list).
  public var changed: Int
  /// Tensor bytes read from both files.
  public var bytesRead: Int64
  /// Tensors present on both sides whose values could not be compared, and why.
  public var skipped: [SkippedTensor]
  /// Every compared tensor holding NaN or Inf on either side, changed or not.
  public var nonFinite: [NonFiniteCount]
}

/// A dtype and shape, one side of a tensor.
public struct TensorLook: Sendable, Codable, Equatable {
  /// The dtype.
  public var dtype: String
  /// The shape.
  public var shape: [Int64]
}

/// One tensor that differs in any way, in file order: the rows of the table.
public struct TensorDifference: Sendable, Codable, Equatable {
  /// The tensor's name, relative to the model.
  public var name: String
  /// `added`, `removed`, `shape`, `dtype`, `values`, or several joined by `+`; `close` marks
  /// values that differ within the tolerance.
  public var change: String
  /// Null when added.
  public var before: TensorLook?
  /// Null when removed.
  public var after: TensorLook?

}

/// One tensor's change within a layer.
public struct LayerTensorChange: Sendable, Codable, Equatable {
  /// The name within the layer (`weight`, `running_mean`).
  public var name: String
  /// `added`, `removed`, `shape`, `dtype`, `values`, or several joined by `+`.
  public var change: String

}

/// A layer that differs between the files.
public struct LayerChange: Sendable, Codable, Equatable {
  /// Module path (`features.3`), `(root)` for tensors at the top.
  public var name: String
  /// How PyTorch would print it before, or null when the layer is new.
  public var before: String?
  /// How PyTorch would print it after, or null when the layer is gone.
  public var after: String?
  /// Parameter elements in the first file.
  public var parametersBefore: Int64
  /// Parameter elements in the second file.
  public var parametersAfter: Int64
  /// `parametersAfter - parametersBefore`.
  public var parameterDifference: Int64
  /// Buffer elements in the first file.
  public var buffersBefore: Int64
  /// Buffer elements in the second file.
  public var buffersAfter: Int64
  /// Its tensors that changed.
  public var tensors: [LayerTensorChange]

  /// A layer's change (the comparison builds these).
  package init(
    name: String, before: String?, after: String?, parametersBefore: Int64, parametersAfter: Int64,
    buffersBefore: Int64, buffersAfter: Int64, tensors: [LayerTensorChange]
  ) {
    self.name = name
    self.before = before
    self.after = after
    self.parametersBefore = parametersBefore
    self.parametersAfter = parametersAfter
    self.parameterDifference = parametersAfter &- parametersBefore
    self.buffersBefore = buffersBefore
    self.buffersAfter = buffersAfter
    self.tensors = tensors
  }
}

/// Tensor, parameter, buffer and byte counts of one side (or their difference).
public struct DiffCounts: Sendable, Codable, Equatable {
  /// Tensors.
  public var tensors: Int64 = 0
  /// Parameter elements.
  public var parameters: Int64 = 0
  /// Buffer elements.
  public var buffers: Int64 = 0
  /// Bytes as stored.
  public var bytes: Int64 = 0
  /// All counts zero.
  package init() {}
}

/// Totals before, after, and after minus before.
public struct DiffTotals: Sendable, Codable, Equatable {
  /// The first file's counts.
  public var before: DiffCounts
  /// The second file's counts.
  public var after: DiffCounts
  /// The second's minus the first's.
  public var difference: DiffCounts
}

/// A tensor that broke an `--expect-unchanged` expectation.
public struct ExpectationViolation: Sendable, Codable, Equatable {
  /// The tensor's name, relative to the model.
  public var name: String
  /// `added`, `removed`, `shape`, `dtype`, `values`, or several joined by `+`.
  public var change: String

}

/// The outcome of one `--expect-unchanged` pattern.
public struct ExpectationResult: Sendable, Codable, Equatable {
  /// The glob given to `--expect-unchanged`.
  public var pattern: String
  /// Tensors (on either side) the pattern covers.
  public var tensors: Int
  /// True when nothing it covers changed and it covers at least one tensor.
  public var kept: Bool
  /// The tensors it covers that changed.
  public var violations: [ExpectationViolation]
}

/// Everything `ptinspect diff` found.
public struct DiffReport: Sendable, Codable {
  /// The JSON schema version (`reportSchemaVersion`).
  public var schemaVersion = reportSchemaVersion
  /// The first file (before).
  public var before: DiffSide
  /// The second file (after).
  public var after: DiffSide
  /// Whether contents were compared (`--values`); with `--expect-unchanged` alone, only the
  /// covered tensors are.
  public var valuesCompared: Bool
  /// The absolute tolerance: an element changed when `|a - b| > atol + rtol * |b|`.
  public var atol: Double
  /// The relative tolerance, against the second file's value.
  public var rtol: Double
  /// The `--filter` globs (empty: every tensor).
  public var filter: [String]
  /// The `--exclude` globs.
  public var exclude: [String]
  /// Prefixes removed from either side's names.
  public var prefixStripped: [PrefixStrip]
  /// Tensors only the second file has.
  public var added: [DiffTensor]
  /// Tensors only the first file has.
  public var removed: [DiffTensor]
  /// Tensors whose shape changed.
  public var shapeChanged: [ShapeChange]
  /// Tensors whose dtype changed (same shape).
  public var dtypeChanged: [DTypeChange]
  /// Tensors whose values differ beyond the tolerance (with `values`).
  public var changed: [ValueChange]
  /// Tensors whose values differ, but all within the tolerance (`--atol`/`--rtol`), with the
  /// statistics; not counted as differences.
  public var withinTolerance: [ValueChange]
  /// Every tensor that differs (or is within the tolerance, change `close`), in file order (the before file's, then the tensors added).
  public var tensors: [TensorDifference]
  /// Tensors on both sides in which nothing was found to differ.
  public var unchanged: Int
  /// What the value comparison did (all zero when no contents were compared).
  public var values: ValueSummary
  /// Layers that differ.
  public var layers: [LayerChange]
  /// Counts before, after and their difference.
  public var totals: DiffTotals
  /// The outcome of each `--expect-unchanged` pattern.
  public var expectations: [ExpectationResult]
  /// Tensors that differ in any way (added, removed, shape, dtype or values).
  public var differences: Int
  /// Whether the exit code reports a finding: any difference, or, with `--expect-unchanged`,
  /// a broken expectation only.
  public var finding: Bool
  /// Notes for the reader (prefixes stripped, filters matching nothing), one sentence each.
  public var notes: [String]
  /// One line: what the comparison found.
  public var verdict: String
  /// Without `--values` (and without `--structure-only`): how the contents were compared for
  /// equality, and which differ; null otherwise.
  public var contents: ContentCheckSummary? = nil
}
