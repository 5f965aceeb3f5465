// SummaryReport.swift: the summary as data (Codable, schemaVersion 1). Renderers turn it into a
// table, Markdown or JSON; nothing here prints.

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// The JSON schema version. Fields are added, never renamed or removed.
public let reportSchemaVersion = 1

/// One tensor as the JSON report and the tensors listing show it.
public struct TensorEntry: Sendable, Codable, Equatable {
  /// The full dotted name from the file's root.
  public var name: String
  /// The dtype as stored.
  public var dtype: String
  /// The shape.
  public var shape: [Int64]
  /// The strides, in elements.
  public var stride: [Int64]
  /// Elements.
  public var numel: Int64
  /// Bytes its view covers.
  public var bytes: Int64
  /// The storage key (`0`), or null for tensors without data.
  public var storage: String?
  /// Offset into the storage, in elements.
  public var storageOffset: Int64
  /// `parameter` or `buffer`.
  public var kind: String
  /// Whether `kind` is read from the file (true) or inferred from the name and dtype (false).
  public var kindExact: Bool
  /// `weight`, `bias`, `running_mean`, `running_var`, `num_batches_tracked`, `buffer` or `other`.
  public var role: String
  /// `model`, `optimizer` or `other`.
  public var section: String
  /// The first tensor it is tied to, or nil.
  public var sharedWith: String?
  /// `strided`, `meta`, `sparse_coo`, ...
  public var layout: String
  /// One line on a nested, subclass or unknown tensor's structure, else null.
  public var layoutDetail: String?
  /// The tensors a sparse, nested or subclass tensor is stored as (`<name>.values`,
  /// `<name>.qdata`, ...), each with its own dtype, shape and bytes; null for ordinary tensors.
  public var components: [TensorEntry]?
  /// Whether its strides are those of a contiguous tensor.
  public var contiguous: Bool
  /// `requires_grad` when the file records it, or nil.
  public var requiresGrad: Bool?
  /// The storage's device (`cpu`, `cuda:0`), or nil without storage.
  public var device: String?
  /// Scale and zero point(s) of a quantized tensor, or nil.
  public var quantization: Quantization?
  /// The chunks a sharded tensor is stored in (DCP), or null for tensors stored whole.
  public var chunks: [ChunkEntry]?
}

extension TensorEntry {
  /// The JSON row of `t` (borrowed: the record is read in place, never copied). Through the
  /// memberwise initializer (why this one is in an extension): assigned field by field, the row
  /// would be built aside and then copied, all its fields retained and released once more.
  package init(_ t: borrowing TensorRecord) {
    self.init(
      name: t.name, dtype: t.dtype.rawValue, shape: t.shape, stride: t.stride, numel: t.numel,
      bytes: t.bytes, storage: t.storage?.key, storageOffset: t.storageOffset,
      kind: t.kind.rawValue, kindExact: t.kindIsExact, role: t.role.rawValue,
      section: t.section.rawValue, sharedWith: t.sharedWith, layout: t.layout.description,
      layoutDetail: t.detail,
      components: t.components.isEmpty ? nil : t.components.map(TensorEntry.init),
      contiguous: t.isContiguous, requiresGrad: t.requiresGrad, device: t.storage?.device,
      quantization: t.quantization, chunks: t.chunks.isEmpty ? nil : t.chunks.map(ChunkEntry.init))
  }
}

/// One stored chunk of a sharded tensor: its place in the full tensor and its bytes' place.
public struct ChunkEntry: Sendable, Codable, Equatable {
  /// Where the chunk starts in the full tensor, per dimension.
  public var offsets: [Int64]
  /// The chunk's size, per dimension.
  public var sizes: [Int64]
  /// The file holding its bytes.
  public var file: String
  /// Where its bytes start in that file.
  public var byteOffset: Int64
  /// How many bytes it has.
  public var byteLength: Int64

  init(_ c: TensorChunk) {
    offsets = c.offsets
    sizes = c.sizes
    file = c.file
    byteOffset = c.byteOffset
    byteLength = c.byteLength
  }
}

/// Model totals, with tied tensors counted once.
public struct Totals: Sendable, Codable, Equatable {
  /// Model tensors (tied ones once).
  public var tensors = 0
  /// Parameter elements: what a model's parameter count is.
  public var parameters: Int64 = 0
  /// Buffer elements (running statistics, `num_batches_tracked`, other buffers).
  public var buffers: Int64 = 0
  /// Elements of weight tensors.
  public var weights: Int64 = 0
  /// Elements of bias tensors.
  public var biases: Int64 = 0
  /// Parameters that are neither weights nor biases (class tokens, scales).
  public var otherParameters: Int64 = 0
  /// running_mean and running_var elements.
  public var runningStats: Int64 = 0
  /// Elements of `num_batches_tracked` (one per BatchNorm).
  public var numBatchesTracked: Int64 = 0
  /// Elements of other buffers.
  public var otherBuffers: Int64 = 0
  /// All elements: parameters and buffers.
  public var elements: Int64 = 0
  /// Bytes of the model's tensors as stored.
  public var bytes: Int64 = 0
  /// Bytes by dtype, as stored.
  public var byDtype: [String: Int64] = [:]
  /// Parameters by layer type (`Conv2d`, `BatchNorm2d`).
  public var byLayerType: [String: Int64] = [:]
  /// True when the file marks parameters and buffers; false when inferred from names and dtypes.
  public var parametersExact = true
  /// Parameters with requires_grad, when the file tells (whole models); else null.
  public var trainable: Int64?
  /// Parameter elements with `requires_grad` false, when the file records it; else nil.
  public var frozen: Int64?
  /// Tensors that alias an earlier one (tied weights), not counted again.
  public var sharedTensors = 0
}

/// Where the file's bytes go.
public struct Anatomy: Sendable, Codable, Equatable {
  /// The checkpoint's top-level parts and what each weighs.
  public var parts: [CheckpointPart]
  /// The file's size.
  public var fileBytes: Int64
  /// Logical bytes of the model's tensors (tied counted once).
  public var modelBytes: Int64
  /// Bytes of optimizer state.
  public var optimizerBytes: Int64
  /// Bytes of other tensors (EMA copies, extra state).
  public var otherBytes: Int64
  /// Bytes of all storage records (what the file carries for tensors).
  public var storageBytes: Int64
  /// Storage bytes no tensor views (saved views drag their whole storage).
  public var unviewedStorageBytes: Int64
  /// file size / model bytes, when the model has bytes.
  public var fileToModelRatio: Double?
  /// The optimizer's kind guessed from its state (`Adam/AdamW: exp_avg, exp_avg_sq`).
  public var optimizer: String?
  /// One line: why the file is the size it is.
  public var verdict: String
}

/// Everything the summary shows.
public struct SummaryReport: Sendable, Codable {
  /// The JSON schema version (`reportSchemaVersion`).
  public var schemaVersion = reportSchemaVersion
  /// The file, as given.
  public var file: String
  /// The container (`torch-zip`, `safetensors`, ...).
  public var format: String
  /// The file's size in bytes.
  public var fileBytes: Int64
  /// The zip's top folder, or nil for other containers.
  public var archiveRoot: String?
  /// The main pickle's protocol, or 0 without a pickle.
  public var pickleProtocol: Int
  /// The byte order of the tensor data when the file says, or nil.
  public var byteOrder: ByteOrder?
  /// Where the model lives in the file (`model_state_dict.`), "" at the root.
  public var modelPrefix: String
  /// A prefix every model key carries, dropped from layer names (`module.`), or "".
  public var strippedPrefix: String
  /// Every tensor, in file order.
  public var tensors: [TensorEntry]
  /// The model's layers, in file order, with their counts.
  public var layers: [Layer]
  /// The model's totals.
  public var totals: Totals
  /// Where the file's bytes go: model, optimizer, other, container.
  public var anatomy: Anatomy
  /// Values that are not tensors (epoch, hyper-parameters).
  public var metadata: [MetadataItem]
  /// Notes about the file: inferences, oddities, unsafe content.
  public var diagnostics: [Diagnostic]
  /// Memory by dtype, dtype projections, an Adam training estimate and the file's anatomy.
  public var memory: MemoryReport
  /// What reading a remote checkpoint cost (`url`, `bytesFetched`, `requests`, `etag`,
  /// `seconds`); null for a local file.
  public var source: SourceCost?

  /// The summary of `c`: what `ptinspect FILE` shows, as values (layers inferred, totals, anatomy, memory).
  public init(_ c: Checkpoint) {
    file = c.path
    source = c.sourceCost
    format = c.format.rawValue
    fileBytes = c.fileBytes
    archiveRoot = c.archiveRoot
    pickleProtocol = c.pickleProtocol
    byteOrder = c.byteOrder
    modelPrefix = c.modelPrefix
    strippedPrefix = c.strippedPrefix
    // One pass over the records makes the rows and the sums, each record read once, as the
    // closure's argument. (Read again through the array, a buffer or a pointer, each record
    // would be copied whole, all its fields retained and released, before any call that is not
    // inlined: the compiler cannot see that the call leaves the memory alone.)
    var sums = RecordSums()
    tensors = c.tensors.map { t in
      let row = TensorEntry(t)
      sums.add(t, row)
      return row
    }
    layers = LayerInference.layers(of: c)
    metadata = c.metadata
    diagnostics = c.diagnostics
    // The summary is not a scanner, but it says when the pickle names a global that runs code.
    if let warning = GlobalClassifier.summaryWarning(
      c.globals.map { ($0.reference.global.module, $0.reference.global.name) })
    {
      diagnostics.append(Diagnostic(.warning, warning))
    }
    totals = sums.totals(layers: layers)
    if !totals.parametersExact && totals.tensors > 0 {
      diagnostics.append(
        Diagnostic(
          .info,
          "parameters and buffers inferred from names and dtypes: a state dict does not mark them; trainable vs frozen cannot be known"
        ))
    }
    anatomy = Self.anatomy(c, sums)
    memory = MemoryReport(c, totals: totals, layers: layers, anatomy: anatomy, sums: sums)
  }

  /// Formats whose bytes besides the tensors are a header, not a pickle and a container.
  static func headerOnly(_ f: ContainerFormat) -> Bool {
    f == .safetensors || f == .safetensorsIndex || f == .npy
  }

  static func anatomy(_ c: Checkpoint, _ sums: RecordSums) -> Anatomy {
    let modelBytes = sums.modelBytes
    let optimizerBytes = sums.optimizerBytes
    let otherBytes = sums.otherBytes
    let optimizerLeaves = sums.optimizerLeaves
    let storageBytes = c.storages.reduce(Int64(0)) { $0 &+ $1.recordBytes }
    let viewed = c.storages.reduce(Int64(0)) { $0 &+ min($1.usedBytes, $1.recordBytes) }
    let unviewed = c.format == .safetensors ? 0 : max(0, storageBytes - viewed)
    var optimizer: String?
    if optimizerLeaves.contains("exp_avg") && optimizerLeaves.contains("exp_avg_sq") {
      optimizer = "Adam/AdamW (exp_avg, exp_avg_sq)"
    } else if optimizerLeaves.contains("momentum_buffer") {
      optimizer = "SGD with momentum (momentum_buffer)"
    } else if optimizerLeaves.contains("square_avg") {
      optimizer = "RMSprop/Adadelta (square_avg)"
    } else if optimizerLeaves.contains("sum") {
      optimizer = "Adagrad (sum)"
    } else if optimizerBytes > 0 {
      optimizer = "optimizer state"
    }
    let ratio = modelBytes > 0 ? Double(c.fileBytes) / Double(modelBytes) : nil
    var verdict: String
    if let ratio {
      verdict = "this file is \(cFormat("%.1f", ratio))x the model"
      var reasons: [String] = []
      if optimizerBytes > modelBytes / 20 {
        reasons.append(
          "\(optimizer ?? "optimizer state") \(cFormat("%.1f", Double(optimizerBytes) / Double(modelBytes)))x"
        )
      }
      if otherBytes > modelBytes / 20 {
        let emaLike = c.parts.contains { $0.role == .ema }
        reasons.append(
          "\(emaLike ? "EMA copy and other tensors" : "other tensors") \(cFormat("%.1f", Double(otherBytes) / Double(modelBytes)))x"
        )
      }
      if unviewed > modelBytes / 20 { reasons.append("storage no tensor views \(unviewed) bytes") }
      if reasons.isEmpty {
        verdict +=
          ": model tensors and \(Format.count(c.fileBytes - storageBytes)) bytes of "
          + (Self.headerOnly(c.format) ? "header" : "pickle and container")
      } else {
        verdict += ": " + reasons.joined(separator: ", ")
      }
    } else {
      verdict = "the file holds no model tensors"
    }
    return Anatomy(
      parts: c.parts, fileBytes: c.fileBytes, modelBytes: modelBytes,
      optimizerBytes: optimizerBytes,
      otherBytes: otherBytes, storageBytes: storageBytes, unviewedStorageBytes: unviewed,
      fileToModelRatio: ratio, optimizer: optimizer, verdict: verdict)
  }
}

/// What the summary adds up over the records, in the one pass that makes the rows: the model's
/// totals, the optimizer's and other tensors' bytes, the model's bytes by dtype and its
/// parameters' bytes. Tied tensors (`sharedWith`) count once, where they are first.
struct RecordSums {
  var modelTensors = 0
  var sharedTensors = 0
  var elements: Int64 = 0
  var modelBytes: Int64 = 0
  var parameters: Int64 = 0
  var weights: Int64 = 0
  var biases: Int64 = 0
  var otherParameters: Int64 = 0
  var buffers: Int64 = 0
  var runningStats: Int64 = 0
  var numBatchesTracked: Int64 = 0
  var otherBuffers: Int64 = 0
  /// Whether every model tensor's kind is read from the file.
  var exact = true
  /// Whether every parameter's `requires_grad` is known (from the file, kind exact).
  var grads = true
  var trainable: Int64 = 0
  var frozen: Int64 = 0
  /// As stored: a composite tensor's bytes are its components' (int8 data, float32 scales).
  var storedByDtype = DTypeSums()
  /// By the tensors' own dtypes (a composite tensor under its own), for the memory section.
  var byDtype = DTypeSums()
  var parameterBytes: Int64 = 0
  var bufferBytes: Int64 = 0
  /// Parameters with `requires_grad` not false, elements and bytes.
  var notFrozen: Int64 = 0
  var notFrozenBytes: Int64 = 0
  var optimizerBytes: Int64 = 0
  var otherBytes: Int64 = 0
  /// The last name components of the optimizer's tensors (`exp_avg`).
  var optimizerLeaves = Set<String>()

  /// Adds record `t`, whose row is `row` (its numbers computed once there).
  mutating func add(_ t: borrowing TensorRecord, _ row: borrowing TensorEntry) {
    if t.section == .model { modelTensors += 1 }
    guard row.sharedWith == nil else {
      if t.section == .model { sharedTensors += 1 }
      return
    }
    let n = row.numel
    let bytes = row.bytes
    switch t.section {
    case .optimizer:
      optimizerBytes &+= bytes
      optimizerLeaves.insert(lastComponent(row.name))
      return
    case .other:
      otherBytes &+= bytes
      return
    case .model: break
    }
    elements &+= n
    modelBytes &+= bytes
    if row.components == nil {
      storedByDtype.add(t.dtype, elements: n, bytes: bytes)
    } else {
      for view in t.components {
        storedByDtype.add(view.dtype, elements: view.numel, bytes: view.bytes)
      }
    }
    byDtype.add(t.dtype, elements: n, bytes: bytes)
    if !t.kindIsExact { exact = false }
    switch t.kind {
    case .parameter:
      parameters &+= n
      parameterBytes &+= bytes
      switch t.role {
      case .weight: weights &+= n
      case .bias: biases &+= n
      default: otherParameters &+= n
      }
      if let rg = t.requiresGrad, t.kindIsExact {
        if rg { trainable &+= n } else { frozen &+= n }
      } else {
        grads = false
      }
      if t.requiresGrad != false {
        notFrozen &+= n
        notFrozenBytes &+= bytes
      }
    case .buffer:
      buffers &+= n
      bufferBytes &+= bytes
      switch t.role {
      case .runningMean, .runningVar: runningStats &+= n
      case .numBatchesTracked: numBatchesTracked &+= n
      default: otherBuffers &+= n
      }
    }
  }

  /// The model's totals, with its layers' parameters by type.
  func totals(layers: [Layer]) -> Totals {
    var totals = Totals()
    totals.tensors = modelTensors
    totals.sharedTensors = sharedTensors
    totals.elements = elements
    totals.bytes = modelBytes
    totals.parameters = parameters
    totals.weights = weights
    totals.biases = biases
    totals.otherParameters = otherParameters
    totals.buffers = buffers
    totals.runningStats = runningStats
    totals.numBatchesTracked = numBatchesTracked
    totals.otherBuffers = otherBuffers
    for d in storedByDtype.sums { totals.byDtype[d.dtype.rawValue, default: 0] &+= d.bytes }
    totals.parametersExact = exact && modelTensors > 0
    if grads && exact && modelTensors > 0 {
      totals.trainable = trainable
      totals.frozen = frozen
    }
    // Layers of a type come in runs (the blocks of a model): each run is added once.
    var runType: String?
    var runParameters: Int64 = 0
    for i in layers.indices {
      if layers[i].type != runType {
        if let runType { totals.byLayerType[runType, default: 0] &+= runParameters }
        runType = layers[i].type
        runParameters = 0
      }
      runParameters &+= layers[i].parameters
    }
    if let runType { totals.byLayerType[runType, default: 0] &+= runParameters }
    return totals
  }
}

// The summary's and the listing's rows write themselves: the same JSON as their Codable
// conformance (ReportJSONTests checks it), much faster. A new field goes in both.
extension TensorEntry: JSONRawWritable {
  func writeJSON(to out: inout JSONWriter) throws {
    var w = JSONObjectWriter(&out)
    w.int("bytes", bytes, &out)
    try w.value("chunks", chunks, &out)
    try w.value("components", components, &out)
    w.bool("contiguous", contiguous, &out)
    w.string("device", device, &out)
    w.string("dtype", dtype, &out)
    w.string("kind", kind, &out)
    w.bool("kindExact", kindExact, &out)
    w.string("layout", layout, &out)
    w.string("layoutDetail", layoutDetail, &out)
    w.string("name", name, &out)
    w.int("numel", numel, &out)
    try w.value("quantization", quantization, &out)
    w.bool("requiresGrad", requiresGrad, &out)
    w.string("role", role, &out)
    w.string("section", section, &out)
    w.ints("shape", shape, &out)
    w.string("sharedWith", sharedWith, &out)
    w.string("storage", storage, &out)
    w.int("storageOffset", storageOffset, &out)
    w.ints("stride", stride, &out)
    w.end(&out)
  }
}
