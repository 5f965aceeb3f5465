// MemoryReport.swift: what the model takes in memory: bytes by dtype as stored, what the
// parameters would take in other dtypes, a training estimate with Adam, the largest layer, and
// where the file's bytes go. All numbers are bytes; the table shows binary units (1 KiB = 1024).

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// Bytes of the model's tensors of one dtype, as stored (tied tensors counted once).
public struct DtypeBytes: Sendable, Codable, Equatable {
  /// The dtype as stored.
  public var dtype: String
  /// Tensors of that dtype.
  public var tensors: Int
  /// Their elements.
  public var elements: Int64
  /// Their bytes.
  public var bytes: Int64
}

/// What the parameters would take in another dtype.
public struct MemoryProjection: Sendable, Codable, Equatable {
  /// `float32`, `float16/bfloat16`, `int8`, `int4`.
  public var dtype: String
  /// Bits per parameter at this precision (32, 16, 8, 4).
  public var bitsPerParameter: Int
  /// The model's bytes at this precision.
  public var bytes: Int64
  /// True for int8 and int4: weight-only quantization also needs scales and zero points, and
  /// usually keeps some layers in higher precision.
  public var estimate: Bool
}

/// Memory to train the model with Adam, without activations.
public struct TrainingEstimate: Sendable, Codable, Equatable {
  /// `stored` (everything in the stored dtype) or `mixed` (fp16/bf16 compute, fp32 master and moments).
  public var precision: String
  /// fp32 master weights (mixed precision only; 0 otherwise).
  public var masterWeights: Int64
  /// Bytes of the weights.
  public var weights: Int64
  /// Bytes of their gradients.
  public var gradients: Int64
  /// Adam's exp_avg and exp_avg_sq.
  public var optimizerState: Int64
  /// Buffers as stored (running statistics).
  public var buffers: Int64
  /// Weights, gradients and optimizer state together.
  public var total: Int64
  /// How the total is computed.
  public var formula: String
}

/// The layer with the most bytes.
public struct LargestLayer: Sendable, Codable, Equatable {
  /// The layer's module path.
  public var name: String
  /// Its type (`Linear`).
  public var type: String
  /// Its parameter elements.
  public var parameters: Int64
  /// Its bytes.
  public var bytes: Int64
  /// bytes / the model's bytes.
  public var shareOfModel: Double
}

/// One part of the checkpoint file and its share of the file.
public struct AnatomyShare: Sendable, Codable, Equatable {
  /// `model`, `optimizer`, `ema`, `other tensors`, `unviewed storage`, `container and pickle`.
  public var part: String
  /// Its bytes.
  public var bytes: Int64
  /// bytes / file size.
  public var shareOfFile: Double
}

/// Tensors, elements and bytes added up by dtype, in the order the dtypes first come. A model
/// has a few dtypes: a search from the last one found beats hashing each tensor's.
struct DTypeSums {
  struct Sum {
    let dtype: DType
    var tensors = 0
    var elements: Int64 = 0
    var bytes: Int64 = 0
  }
  private(set) var sums: [Sum] = []
  private var last = 0

  mutating func add(_ dtype: DType, elements: Int64, bytes: Int64) {
    if last >= sums.count || sums[last].dtype != dtype {
      last = sums.firstIndex { $0.dtype == dtype } ?? sums.count
      if last == sums.count { sums.append(Sum(dtype: dtype)) }
    }
    sums[last].tensors += 1
    sums[last].elements &+= elements
    sums[last].bytes &+= bytes
  }
}

/// The summary's memory section.
public struct MemoryReport: Sendable, Codable, Equatable {
  /// Bytes of the model's tensors as stored (parameters and buffers, tied counted once).
  public var storedBytes: Int64
  /// The model's bytes by dtype as stored.
  public var byDtype: [DtypeBytes]
  /// The model's parameter elements.
  public var parameters: Int64
  /// Parameters that would train (requires_grad when the file tells; else all of them).
  public var trainableParameters: Int64
  /// Bytes of the parameters as stored.
  public var parameterBytes: Int64
  /// Bytes of buffers.
  public var bufferBytes: Int64
  /// The parameters in float32, float16/bfloat16, int8 and int4 (the last two estimates).
  public var projections: [MemoryProjection]
  /// Training with Adam: in the stored dtype, and in mixed precision.
  public var training: [TrainingEstimate]
  /// The layer with the most bytes, or nil without layers.
  public var largestLayer: LargestLayer?
  /// Where the file's bytes go, with each part's share of the file.
  public var anatomy: [AnatomyShare]

  /// The memory report of `c` from the summary's totals, layers, anatomy and sums.
  init(_ c: Checkpoint, totals: Totals, layers: [Layer], anatomy a: Anatomy, sums: RecordSums) {
    let parameterBytes = sums.parameterBytes
    let bufferBytes = sums.bufferBytes
    // Without `requires_grad` from the file, every parameter would train.
    let gradsKnown = totals.trainable != nil
    let trainable = gradsKnown ? sums.notFrozen : sums.parameters
    let trainableBytes = gradsKnown ? sums.notFrozenBytes : sums.parameterBytes
    storedBytes = totals.bytes
    byDtype = sums.byDtype.sums.map {
      DtypeBytes(
        dtype: $0.dtype.rawValue, tensors: $0.tensors, elements: $0.elements, bytes: $0.bytes)
    }
    .sorted { ($0.bytes, $1.dtype) > ($1.bytes, $0.dtype) }
    parameters = totals.parameters
    trainableParameters = trainable
    self.parameterBytes = parameterBytes
    self.bufferBytes = bufferBytes
    let p = totals.parameters
    projections = [
      MemoryProjection(dtype: "float32", bitsPerParameter: 32, bytes: p &* 4, estimate: false),
      MemoryProjection(
        dtype: "float16/bfloat16", bitsPerParameter: 16, bytes: p &* 2, estimate: false),
      MemoryProjection(dtype: "int8", bitsPerParameter: 8, bytes: p, estimate: true),
      MemoryProjection(dtype: "int4", bitsPerParameter: 4, bytes: p / 2 + p % 2, estimate: true),
    ]
    let stored = TrainingEstimate(
      precision: "stored", masterWeights: 0, weights: parameterBytes, gradients: trainableBytes,
      optimizerState: trainableBytes &* 2, buffers: bufferBytes,
      total: parameterBytes &+ trainableBytes &* 3 &+ bufferBytes,
      formula:
        "weights + gradients + exp_avg + exp_avg_sq, each in the stored dtype (4x the parameter bytes), + buffers"
    )
    let mixed = TrainingEstimate(
      precision: "mixed", masterWeights: trainable &* 4, weights: p &* 2, gradients: trainable &* 2,
      optimizerState: trainable &* 8, buffers: bufferBytes,
      total: trainable &* 14 &+ p &* 2 &+ bufferBytes,
      formula:
        "16 bytes per parameter: fp32 master weights 4 + fp16/bf16 weights 2 + fp16/bf16 gradients 2 + fp32 exp_avg 4 + fp32 exp_avg_sq 4, + buffers"
    )
    training = [stored, mixed]
    if let big = layers.max(by: { ($0.bytes, $0.parameters) < ($1.bytes, $1.parameters) }),
      big.bytes > 0
    {
      largestLayer = LargestLayer(
        name: big.name, type: big.type, parameters: big.parameters, bytes: big.bytes,
        shareOfModel: totals.bytes > 0 ? Double(big.bytes) / Double(totals.bytes) : 0)
    }
    let ema = c.parts.filter { $0.role == .ema }.reduce(Int64(0)) { $0 &+ $1.bytes }
    let other = max(0, a.otherBytes - ema)
    let known =
      a.modelBytes &+ a.optimizerBytes &+ min(ema, a.otherBytes) &+ other &+ a.unviewedStorageBytes
    let parts: [(String, Int64)] = [
      ("model", a.modelBytes), ("optimizer", a.optimizerBytes), ("ema", min(ema, a.otherBytes)),
      ("other tensors", other), ("unviewed storage", a.unviewedStorageBytes),
      ("container and pickle", max(0, a.fileBytes - known)),
    ]
    anatomy = parts.map { name, bytes in
      AnatomyShare(
        part: name, bytes: bytes,
        shareOfFile: a.fileBytes > 0 ? Double(bytes) / Double(a.fileBytes) : 0)
    }
  }
}

/// The memory section as a table (under `summary --memory`) and as Markdown.
package enum MemoryRenderer {
  static func percent(_ share: Double) -> String {
    if share == 0 { return "-" }
    if share < 0.0001 { return "<0.01%" }
    return cFormat("%.2f%%", share * 100)
  }

  static func rows(_ m: MemoryReport) -> TextTable {
    var t = TextTable(headers: ["Memory", "Bytes", "Detail"], alignments: [.left, .right, .left])
    var stored = m.byDtype.prefix(4).map {
      "\($0.dtype) \(Format.bytes($0.bytes)) (\(Format.count($0.elements)) elements)"
    }
    if m.byDtype.count > 4 {
      stored.append(
        "\(m.byDtype.count - 4) more dtypes \(Format.bytes(m.byDtype.dropFirst(4).reduce(0) { $0 &+ $1.bytes }))"
      )
    }
    t.add(["as stored", Format.bytes(m.storedBytes), stored.joined(separator: ", ")])
    for p in m.projections {
      let width =
        p.bitsPerParameter == 4
        ? "half a byte" : "\(p.bitsPerParameter / 8) byte\(p.bitsPerParameter == 8 ? "" : "s")"
      t.add([
        "parameters in \(p.dtype)", (p.estimate ? "~" : "") + Format.bytes(p.bytes),
        "\(Format.count(m.parameters)) x \(width)"
          + (p.estimate ? "; estimate: no scales or zero points" : ""),
      ])
    }
    for e in m.training {
      let detail: String
      if e.precision == "stored" {
        detail =
          "weights \(Format.bytes(e.weights)) + gradients \(Format.bytes(e.gradients)) + Adam moments \(Format.bytes(e.optimizerState)) + buffers \(Format.bytes(e.buffers))"
      } else {
        detail =
          "fp32 master \(Format.bytes(e.masterWeights)) + fp16/bf16 weights \(Format.bytes(e.weights)) + gradients \(Format.bytes(e.gradients)) + fp32 moments \(Format.bytes(e.optimizerState)) + buffers \(Format.bytes(e.buffers))"
      }
      t.add([
        e.precision == "stored" ? "Adam, stored dtype" : "Adam, mixed precision",
        Format.bytes(e.total), detail,
      ])
    }
    if let l = m.largestLayer {
      t.add([
        "largest layer", Format.bytes(l.bytes),
        "\(l.name) (\(l.type)): \(Format.count(l.parameters)) parameters, \(percent(l.shareOfModel)) of the model",
      ])
    }
    return t
  }

  static func anatomyTable(_ m: MemoryReport) -> TextTable {
    var t = TextTable(
      headers: ["In the file", "Bytes", "Share"], alignments: [.left, .right, .right])
    for a in m.anatomy where a.bytes > 0 || a.part == "model" {
      t.add([a.part == "ema" ? "EMA copy" : a.part, Format.bytes(a.bytes), percent(a.shareOfFile)])
    }
    return t
  }

  static let footnote = [
    "Adam: activations not included. Stored dtype: weights + gradients + exp_avg + exp_avg_sq, 4x the parameter bytes.",
    "Mixed precision: 16 bytes per trainable parameter (fp32 master 4 + fp16/bf16 weights 2 + gradients 2 + fp32 moments 8).",
    "int8/int4: weight-only estimates without quantization scales. 1 KiB = 1024 bytes.",
  ]

  /// The memory block for a terminal.
  package static func table(_ m: MemoryReport, style: TerminalStyle = .plain) -> String {
    [
      rows(m).render(style: style), "", anatomyTable(m).render(style: style),
    ].joined(separator: "\n") + "\n" + footnote.map { style.dim($0) }.joined(separator: "\n")
  }

  /// The memory block as Markdown.
  package static func markdown(_ m: MemoryReport) -> String {
    [rows(m).markdown(), "", anatomyTable(m).markdown(), ""].joined(separator: "\n") + "\n"
      + footnote.map { "_\($0)_" }.joined(separator: "\n")
  }
}
