// TensorRecord.swift: what ptinspect knows about one tensor, without reading its data.

/// Whether a tensor is a learnable parameter or a buffer.
public enum TensorKind: String, Sendable, Codable {
  case parameter, buffer
}

/// What a tensor is for within its layer.
public enum TensorRole: String, Sendable, Codable {
  case weight, bias
  case runningMean = "running_mean"
  case runningVar = "running_var"
  case numBatchesTracked = "num_batches_tracked"
  /// Any other buffer (position ids, masks, quantization state).
  case buffer
  /// Any other parameter (a class token, a scale).
  case other
}

/// Which part of a checkpoint a tensor belongs to.
public enum Section: String, Sendable, Codable {
  case model, optimizer, other
}

/// How a tensor's elements are stored, named as the JSON `layout` field names it.
public enum TensorLayout: Sendable, Hashable, CustomStringConvertible {
  /// Dense, with strides.
  case strided
  /// A meta tensor: shape and dtype, no data.
  case meta
  /// A tensor subclass saved without data (`_rebuild_wrapper_subclass`).
  case wrapperSubclass
  /// A sparse layout (`sparse_coo`, `sparse_csr`, `sparse_csc`, `sparse_bsr`, `sparse_bsc`), as
  /// the file names it.
  case sparse(String)
  /// A nested tensor: `nested_strided` (`torch.nested.nested_tensor`) or `jagged`.
  case nested(String)
  /// A tensor subclass stored as the tensors of its state (torchao's `Int8Tensor`), by its
  /// qualified class name.
  case subclass(String)
  /// Rebuilt by a torch function ptinspect does not know, by its qualified name.
  case unknown(String)

  /// The JSON `layout` value: `strided`, `meta`, `sparse_coo`, ...
  public var description: String {
    switch self {
    case .strided: "strided"
    case .meta: "meta"
    case .wrapperSubclass: "wrapper subclass (no data)"
    case .sparse(let name), .nested(let name): name
    case .subclass(let cls): "subclass \(lastComponent(cls))"
    case .unknown(let fn): "unknown (\(fn))"
    }
  }
}

/// A storage as a persistent id describes it: `('storage', class, key, location, count)`.
public struct StorageRef: Sendable, Hashable {
  /// The key naming its record (`data/<key>` in a zip).
  public var key: String
  /// The storage class as written (`FloatStorage`, `UntypedStorage`).
  public var storageClass: String
  /// The element type of a typed storage; nil for an untyped (byte) storage.
  public var dtype: DType?
  /// The device tag (`cpu`, `cuda:0`).
  public var device: String
  /// The element count the id declares, in storage units (bytes for untyped storages).
  public var count: Int64
  /// The folder of records it lives in: `data`, or `constants` for TorchScript constants.
  public var folder: String
  /// The file of the checkpoint holding it (`Checkpoint.files`): 0 for the file itself, the
  /// shard's number for a sharded checkpoint.
  public var file = 0

  /// Its identity within the checkpoint.
  public var id: StorageID { StorageID(file: file, folder: folder, key: key) }

  /// The storage's size in bytes as declared.
  public var declaredBytes: Int64 {
    let (product, overflow) = count.multipliedReportingOverflow(by: Int64(dtype?.itemSize ?? 1))
    return overflow ? Int64.max : product
  }

  /// A storage reference as a persistent id declares it.
  package init(
    key: String, storageClass: String, dtype: DType?, device: String, count: Int64,
    folder: String = "data"
  ) {
    self.key = key
    self.storageClass = storageClass
    self.dtype = dtype
    self.device = device
    self.count = count
    self.folder = folder
  }
}

/// Quantization parameters of a quantized tensor.
public struct Quantization: Sendable, Equatable, Codable {
  /// `per_tensor_affine`, `per_channel_affine`, ...
  public var scheme: String
  /// The scale of a per-tensor scheme, or nil.
  public var scale: Double?
  /// The zero point of a per-tensor scheme, or nil.
  public var zeroPoint: Int64?
  /// The channel axis of a per-channel scheme, or nil.
  public var axis: Int64?
  /// A tensor subclass's qualified class (`torchao.quantization.Int8Tensor`), else null.
  public var tensorClass: String? = nil
  /// A subclass's `block_size` (`[1, 128]`: one scale per row of 128), else null.
  public var blockSize: [Int64]? = nil
  /// The dtype its scales and zero points are stored in, when they are tensors.
  public var scaleDtype: String? = nil
  /// The dtype its zero points are stored in, when they are tensors.
  public var zeroPointDtype: String? = nil
  /// Per-channel schemes: the scales tensor the quantizer params carry (not in the JSON).
  public var channelScales: QuantizerTensor? = nil
  /// Per-channel schemes: the zero points tensor the quantizer params carry (not in the JSON).
  public var channelZeroPoints: QuantizerTensor? = nil

  enum CodingKeys: String, CodingKey {
    case scheme, scale, zeroPoint, axis, tensorClass, blockSize, scaleDtype, zeroPointDtype
  }
}

/// A small tensor inside quantizer params (per-channel scales or zero points): where its
/// values are, so they can be read like any tensor.
public struct QuantizerTensor: Sendable, Equatable {
  /// The element type.
  public var dtype: DType
  /// The shape.
  public var shape: [Int64]
  /// The strides, in elements.
  public var stride: [Int64]
  /// The storage holding its values.
  public var storage: StorageRef
  /// Offset into the storage, in elements of `dtype`.
  public var storageOffset: Int64

  /// A small tensor of `dtype` and `shape` at `storageOffset` elements into `storage`.
  package init(
    dtype: DType, shape: [Int64], stride: [Int64], storage: StorageRef, storageOffset: Int64
  ) {
    self.dtype = dtype
    self.shape = shape
    self.stride = stride
    self.storage = storage
    self.storageOffset = storageOffset
  }
}

/// One tensor of a checkpoint: where it lives and what it is, never its values.
public struct TensorRecord: Sendable {
  /// The full dotted path from the file's root object.
  public var name: String
  /// The element type as stored (`float32`, `bfloat16`, `qint8`, ...).
  public var dtype: DType
  /// The shape (empty for a scalar).
  public var shape: [Int64]
  /// The strides, in elements (torch's `stride()`).
  public var stride: [Int64]
  /// The storage it views; nil for tensors saved without data (meta tensors).
  public var storage: StorageRef?
  /// Offset into the storage, in elements of `dtype`.
  public var storageOffset: Int64
  /// `requires_grad` when the file records it (whole models, parameters saved with state), or nil.
  public var requiresGrad: Bool?
  /// Parameter or buffer; see `kindIsExact`.
  public var kind: TensorKind
  /// True when the file says parameter or buffer (whole models, TorchScript); false when
  /// ptinspect inferred it from the name and dtype (plain state dicts).
  public var kindIsExact: Bool
  /// What it is for in its layer (weight, bias, running statistics, ...).
  public var role: TensorRole
  /// Which part of the checkpoint it belongs to: the model, optimizer state, or other.
  public var section: Section
  /// What most tensors leave empty (a layout other than strided, quantization, a tie, a module
  /// class, components, chunks, a detail), out of line: a record is copied many times on the
  /// way to a report, and these fields would make it 528 bytes instead of under 200. Shared and
  /// immutable: a change replaces the box.
  final class Rare: Sendable {
    let layout: TensorLayout
    let quantization: Quantization?
    let sharedWith: String?
    let moduleClass: String?
    let components: [TensorRecord]
    let chunks: [TensorChunk]
    let detail: String?

    init(
      layout: TensorLayout = .strided, quantization: Quantization? = nil,
      sharedWith: String? = nil, moduleClass: String? = nil, components: [TensorRecord] = [],
      chunks: [TensorChunk] = [], detail: String? = nil
    ) {
      self.layout = layout
      self.quantization = quantization
      self.sharedWith = sharedWith
      self.moduleClass = moduleClass
      self.components = components
      self.chunks = chunks
      self.detail = detail
    }

    /// Whether it holds nothing a strided tensor would not: then no box is kept.
    var isEmpty: Bool {
      if case .strided = layout {
        return quantization == nil && sharedWith == nil && moduleClass == nil
          && components.isEmpty && chunks.isEmpty && detail == nil
      }
      return false
    }
  }

  /// The rare fields, nil when all are empty.
  private var rare: Rare?

  /// Replaces the rare fields with `change` applied to a copy of them.
  private mutating func updateRare(
    _ change: (
      inout TensorLayout, inout Quantization?, inout String?, inout String?, inout [TensorRecord],
      inout [TensorChunk], inout String?
    ) -> Void
  ) {
    var layout = rare?.layout ?? .strided
    var quantization = rare?.quantization
    var sharedWith = rare?.sharedWith
    var moduleClass = rare?.moduleClass
    var components = rare?.components ?? []
    var chunks = rare?.chunks ?? []
    var detail = rare?.detail
    change(&layout, &quantization, &sharedWith, &moduleClass, &components, &chunks, &detail)
    let box = Rare(
      layout: layout, quantization: quantization, sharedWith: sharedWith,
      moduleClass: moduleClass, components: components, chunks: chunks, detail: detail)
    rare = box.isEmpty ? nil : box
  }

  /// How its elements are stored: strided, meta, sparse, or a wrapper subclass.
  public var layout: TensorLayout {
    get { rare?.layout ?? .strided }
    set { updateRare { layout, _, _, _, _, _, _ in layout = newValue } }
  }
  /// Scale and zero point(s) of a quantized tensor, or nil.
  public var quantization: Quantization? {
    get { rare?.quantization }
    set { updateRare { _, quantization, _, _, _, _, _ in quantization = newValue } }
  }
  /// The first earlier tensor with the same storage, offset, shape, stride and dtype (tied).
  public var sharedWith: String? {
    get { rare?.sharedWith }
    set { updateRare { _, _, sharedWith, _, _, _, _ in sharedWith = newValue } }
  }
  /// The class of the module that owns it, when the file names it (whole models, TorchScript).
  public var moduleClass: String? {
    get { rare?.moduleClass }
    set { updateRare { _, _, _, moduleClass, _, _, _ in moduleClass = newValue } }
  }
  /// The dense tensors a sparse, nested or subclass tensor is stored as (`indices`, `values`,
  /// `qdata`, `scale`, ...), named `<name>.<component>`; empty for ordinary tensors.
  public var components: [TensorRecord] {
    get { rare?.components ?? [] }
    set { updateRare { _, _, _, _, components, _, _ in components = newValue } }
  }
  /// The pieces a sharded tensor is stored as (a DCP folder's chunks, each in its own range),
  /// reassembled when its values are read; empty for tensors stored whole.
  public var chunks: [TensorChunk] {
    get { rare?.chunks ?? [] }
    set { updateRare { _, _, _, _, _, chunks, _ in chunks = newValue } }
  }
  /// One line on a composite tensor's structure, or nil.
  public var detail: String? {
    get { rare?.detail }
    set { updateRare { _, _, _, _, _, _, detail in detail = newValue } }
  }

  /// A record of every field; those after `section` are the rare ones most tensors leave empty.
  package init(
    name: String, dtype: DType, shape: [Int64], stride: [Int64], storage: StorageRef?,
    storageOffset: Int64, requiresGrad: Bool?, kind: TensorKind, kindIsExact: Bool,
    role: TensorRole, section: Section, layout: TensorLayout = .strided,
    quantization: Quantization? = nil, sharedWith: String? = nil, moduleClass: String? = nil,
    components: [TensorRecord] = [], chunks: [TensorChunk] = [], detail: String? = nil
  ) {
    self.name = name
    self.dtype = dtype
    self.shape = shape
    self.stride = stride
    self.storage = storage
    self.storageOffset = storageOffset
    self.requiresGrad = requiresGrad
    self.kind = kind
    self.kindIsExact = kindIsExact
    self.role = role
    self.section = section
    // Most records have none of the rare fields: no box is made for them.
    if case .strided = layout, quantization == nil, sharedWith == nil, moduleClass == nil,
      components.isEmpty, chunks.isEmpty, detail == nil
    {
      rare = nil
      return
    }
    let box = Rare(
      layout: layout, quantization: quantization, sharedWith: sharedWith,
      moduleClass: moduleClass, components: components, chunks: chunks, detail: detail)
    rare = box.isEmpty ? nil : box
  }

  /// This tensor and its components: every view that needs storage bytes.
  public var storageViews: [TensorRecord] { components.isEmpty ? [self] : components }

  /// Number of elements: the product of the shape (1 for a scalar); for a tensor rebuilt by an
  /// unknown function, the elements of the tensors found in its arguments.
  public var numel: Int64 {
    if case .unknown = layout { return components.reduce(0) { $0 &+ $1.numel } }
    var n: Int64 = 1
    for d in shape {
      let (p, overflow) = n.multipliedReportingOverflow(by: d)
      if overflow { return Int64.max }
      n = p
    }
    return n
  }

  /// Logical bytes: elements times element size (for sparse tensors, their components' bytes).
  public var bytes: Int64 {
    if !components.isEmpty { return components.reduce(0) { $0 &+ $1.bytes } }
    let (p, overflow) = numel.multipliedReportingOverflow(by: Int64(dtype.itemSize))
    return overflow ? Int64.max : p
  }

  /// The number of storage elements this view reaches: offset + sum((size - 1) * stride) + 1,
  /// or nil when the arithmetic overflows or a stride is negative.
  public var storageExtent: Int64? {
    if numel == 0 { return 0 }
    var last = storageOffset
    for (size, stride) in zip(shape, stride) {
      guard size > 0, stride >= 0 else { return nil }
      let (step, o1) = (size - 1).multipliedReportingOverflow(by: stride)
      let (sum, o2) = last.addingReportingOverflow(step)
      if o1 || o2 { return nil }
      last = sum
    }
    let (end, o) = last.addingReportingOverflow(1)
    return o ? nil : end
  }

  /// Bytes of its storage this view reaches (extent times element size), or nil when that
  /// overflows.
  public var requiredStorageBytes: Int64? {
    guard let extent = storageExtent else { return nil }
    let (bytes, overflow) = extent.multipliedReportingOverflow(by: Int64(dtype.itemSize))
    return overflow ? nil : bytes
  }

  /// Whether the strides are those of a C-contiguous tensor of this shape.
  public var isContiguous: Bool {
    var expected: Int64 = 1
    for (size, stride) in zip(shape, stride).reversed() where size != 1 {
      if stride != expected { return false }
      expected &*= size
    }
    return true
  }
}

/// One stored piece of a sharded tensor: where it sits in the full tensor and the storage
/// holding its bytes (a torch.save archive or a safetensors file's tensor).
public struct TensorChunk: Sendable, Equatable {
  /// Where the chunk starts in the full tensor, per dimension.
  public var offsets: [Int64]
  /// The chunk's size, per dimension.
  public var sizes: [Int64]
  /// The storage holding its bytes.
  public var storage: StorageRef
  /// The file holding it (`__0_0.distcp`, the `.pt2` entry) and its byte range there.
  public var file: String
  /// Where its bytes start in `file`.
  public var byteOffset: Int64
  /// How many bytes it has.
  public var byteLength: Int64

  package init(
    offsets: [Int64], sizes: [Int64], storage: StorageRef, file: String, byteOffset: Int64,
    byteLength: Int64
  ) {
    self.offsets = offsets
    self.sizes = sizes
    self.storage = storage
    self.file = file
    self.byteOffset = byteOffset
    self.byteLength = byteLength
  }
}

/// A name component split before the ASCII digits it ends in: `layer` and 10 for `layer10`,
/// `` and 3 for `3`; the number is nil without trailing digits or with more than `maxDigits`.
func splitTrailingNumber(_ text: Substring, maxDigits: Int) -> (stem: Substring, number: Int?) {
  let digits = text.reversed().prefix { $0.isASCII && $0.isNumber }.count
  let number = digits > 0 && digits <= maxDigits ? Int(text.suffix(digits)) : nil
  return (text.dropLast(digits), number)
}

/// The text after the last dot of a dotted name (`weight` of `layer1.0.conv1.weight`).
func lastComponent(_ name: String) -> String {
  // Over contiguous UTF-8 where the string has it (native strings do): the dot is ASCII, so
  // the bytes after it are whole characters.
  let fast = name.utf8.withContiguousStorageIfAvailable { utf8 -> String? in
    guard let dot = utf8.lastIndex(of: UInt8(ascii: ".")) else { return nil }
    return String(decoding: UnsafeBufferPointer(rebasing: utf8[(dot + 1)...]), as: UTF8.self)
  }
  if let fast { return fast ?? name }
  guard let dot = name.utf8.lastIndex(of: UInt8(ascii: ".")) else { return name }
  return String(name[name.index(after: dot)...])
}
