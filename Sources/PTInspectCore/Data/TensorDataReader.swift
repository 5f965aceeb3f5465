// TensorDataReader.swift: reads tensor values from a checkpoint that `Checkpoint.open` has
// interpreted. The layer under `ptinspect stats` and `ptinspect diff`.
//
// API (small and stable; everything else in Data/ is internal or built on this):
//
//   let reader = try TensorDataReader(checkpoint)    // maps the file once; share it freely
//   reader.unreadableReason(t) -> String?             // nil when t's values can be read; else why
//                                                     // not ("meta tensor: no data", sparse, bits8)
//   reader.valueCount(t) -> Int64                     // doubles forEachChunk yields: numel
//                                                     // (2 x numel for float4_e2m1fn_x2)
//   try reader.forEachChunk(t, range: 0..<t.numel, chunkElements: 65_536) {
//     (values: UnsafeBufferPointer<Double>) in ... }   // values in C (row-major) order, exact:
//                                                     // dtype decoded, views (offset, strides,
//                                                     // stride 0) honoured, big-endian swapped,
//                                                     // complex as |z|, quantized dequantized
//   try reader.forEachRawChunk(t, range:, chunkElements:) {
//     (bytes: UnsafeRawBufferPointer) in ... }         // the elements' bytes as stored, in C
//                                                     // order (file byte order: isBigEndian)
//   try reader.rawBytes(t, limit:) -> [UInt8]         // the same, all at once (for small tensors)
//   try reader.location(of: t) -> DataLocation        // where t's storage bytes are in the file
//   reader.isBigEndian                                // the file's tensor byte order
//
// Storage locations come typed from the container layer (`Checkpoint.storages`); sharded
// checkpoints name each storage's shard file in its id. Sparse tensors have no values of their own: read their
// `components` (`<name>.indices`, `<name>.values`, ...) like any tensor.
//
// Thread safety: a reader is immutable after init. Any number of threads may call it at once:
// stored data is read through the checkpoint's byte sources (a local file serves large ranges
// from one read-only mapping; no shared cursor). Compressed zip entries (torch never writes
// them; re-zipped files may) are inflated through a private libzip handle per call. `range`s are in elements; the body's buffer is only
// valid during the call. Errors are `CheckpointError` (`<file>: <message>`).
//
// Memory: chunks are decoded into one `chunkElements` buffer per call; pages of the mapping are
// released (`MADV_DONTNEED`) every 4 MB read, so resident memory stays bounded whatever the
// file's size. Compressed entries are the exception: inflated whole (up to `maxInflatedBytes`).
// The hot paths of `stats` and `diff --values` (contiguous tensors of a local file) do not touch
// the mapping: `storedSpan(t)` reads elements with `pread` into buffers each worker owns and
// reuses (measured faster: no page faults and no page release).
//
// A file truncated by another process while it is read raises SIGBUS (as with any mapped
// file); ptinspect does not guard against concurrent writers.

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// Where a storage's bytes are, as the data reader reads them.
package enum DataLocation: Sendable, Equatable {
  /// Bytes `offset..<offset+count` of the file: stored zip entries, the legacy stream,
  /// safetensors. Read in place.
  case file(offset: Int64, count: Int64)
  /// A zip entry that must be inflated (compressed): read whole.
  case zipEntry(name: String, count: Int64)
}

/// Reads the values of a checkpoint's tensors. See the file header for the API summary.
package final class TensorDataReader: Sendable {
  /// The checkpoint being read.
  package let checkpoint: Checkpoint
  /// True when the file (any shard, for a sharded checkpoint) stores tensor data big-endian
  /// (`byteorder` record, legacy sys_info).
  package let isBigEndian: Bool
  /// Largest compressed zip entry ptinspect inflates into memory.
  package static let maxInflatedBytes: Int64 = 1 << 30
  /// Release mapped pages after each chunk (keeps resident memory bounded).
  let releasesPages: Bool
  /// Storage locations by storage id.
  let locations: [StorageID: DataLocation]
  /// The zip entries of compressed storages, by storage id.
  let compressed: [StorageID: ZipEntry]
  /// Storages whose byte order is their own (NumPy arrays), by storage id.
  let byteOrders: [StorageID: ByteOrder]

  /// Finds where every storage's bytes are (a stored zip entry's data starts after its local
  /// header, read here once).
  package init(_ checkpoint: Checkpoint, releasesPages: Bool = true) throws(CheckpointError) {
    self.checkpoint = checkpoint
    self.releasesPages = releasesPages
    isBigEndian = checkpoint.fileByteOrders.contains(.big)
    var locations: [StorageID: DataLocation] = [:]
    var compressed: [StorageID: ZipEntry] = [:]
    var byteOrders: [StorageID: ByteOrder] = [:]
    for record in [checkpoint.storages, checkpoint.quantizerStorages].joined() {
      let id = record.id
      if let order = record.byteOrder { byteOrders[id] = order }
      switch record.location {
      case .range(let offset, let count):
        locations[id] = .file(offset: offset, count: count)
      case .zipEntry(let entry):
        guard id.file < checkpoint.files.count else { continue }
        let source = checkpoint.files[id.file]
        if ZipFile.isStored(entry), entry.size == entry.compressedSize,
          let zip = try? ZipFile.dataOffset(of: entry, in: source),
          zip + Int64(clamping: entry.size) <= source.size
        {
          locations[id] = .file(offset: zip, count: Int64(clamping: entry.size))
        } else {
          locations[id] = .zipEntry(name: entry.normalizedName, count: Int64(clamping: entry.size))
          compressed[id] = entry
        }
      }
    }
    self.locations = locations
    self.compressed = compressed
    self.byteOrders = byteOrders
  }

  func fail(_ message: String) -> CheckpointError {
    CheckpointError(file: checkpoint.path, message)
  }

  /// The file `t`'s storage is in.
  func source(_ id: StorageID) -> (any ByteSource)? {
    id.file < checkpoint.files.count ? checkpoint.files[id.file] : nil
  }

  /// Whether `t`'s storage is stored big-endian.
  func isBigEndian(_ t: TensorRecord) -> Bool {
    guard let s = t.storage else { return false }
    if let order = byteOrders[s.id] { return order == .big }
    return s.file < checkpoint.fileByteOrders.count && checkpoint.fileByteOrders[s.file] == .big
  }

  /// Why the values of `t` cannot be read, or nil when they can.
  package func unreadableReason(_ t: TensorRecord) -> String? {
    if !t.components.isEmpty {
      return "\(t.layout) layout: values are in its components ("
        + t.components.map { "'\($0.name)'" }.joined(separator: ", ") + ")"
    }
    if !t.chunks.isEmpty { return ValueDecoder.unsupportedReason(t.dtype) }
    switch t.layout {
    case .strided: break
    case .meta: return "meta tensor: no data"
    case .wrapperSubclass, .sparse, .nested, .subclass, .unknown:
      return "\(t.layout) layout: values not read"
    }
    guard t.storage != nil else { return "no data in the file" }
    if checkpoint.format == .pickle { return "a bare pickle: tensor data is not in this file" }
    if let reason = ValueDecoder.unsupportedReason(t.dtype) { return reason }
    if t.storageExtent == nil { return "negative or overflowing strides" }
    if t.dtype.isQuantized {
      guard let q = t.quantization else { return "quantized without quantizer params" }
      switch q.scheme {
      case "per_tensor_affine":
        if q.scale == nil || q.zeroPoint == nil {
          return "per-tensor quantizer without scale or zero point"
        }
      case "per_channel_affine", "per_channel_affine_float_qparams":
        if q.channelScales == nil || q.channelZeroPoints == nil || q.axis == nil {
          return "per-channel quantizer without scales, zero points or axis"
        }
      default:
        return "quantization scheme \(q.scheme) is not decoded"
      }
    }
    return nil
  }

  /// Doubles `forEachChunk` yields for the whole tensor: its numel, twice that for
  /// `float4_e2m1fn_x2` (two values per element).
  package func valueCount(_ t: TensorRecord) -> Int64 {
    t.numel &* Int64(ValueDecoder.valuesPerElement(t.dtype))
  }

  /// Where the storage `t` views is.
  package func location(of t: TensorRecord) throws(CheckpointError) -> DataLocation {
    guard let s = t.storage else { throw fail("tensor '\(t.name)' has no data in the file") }
    return try location(of: s, tensor: t.name)
  }

  func location(of s: StorageRef, tensor: String) throws(CheckpointError) -> DataLocation {
    guard let l = locations[s.id] else {
      throw fail("tensor '\(tensor)': storage '\(s.key)' is not in this file")
    }
    return l
  }

  /// Walks elements `range` of `t` (all by default), at most `chunk` at a time: `body` gets the
  /// plan, the storage's first byte, and the chunk's first element and count. Pages are let go
  /// as the walk moves on.
  func walk(
    _ t: TensorRecord, range: Range<Int64>?, chunk: Int, plan given: ReadPlan? = nil,
    _ body: (ReadPlan, UnsafeRawPointer, Int64, Int) throws -> Void
  ) throws {
    let plan = try given ?? ReadPlan(self, t)
    let elements = range ?? 0..<t.numel
    guard elements.lowerBound >= 0, elements.upperBound <= t.numel else {
      throw fail("tensor '\(t.name)': elements \(elements) are outside its \(t.numel)")
    }
    guard !elements.isEmpty else { return }
    let chunk = max(1, chunk)
    if plan.isContiguous, case .file(let fileOffset, _) = plan.location,
      let source = source(plan.storage), source.isRemote
    {
      return try walkRemote(
        plan, source: source, at: fileOffset, elements: elements, chunk: chunk, body)
    }
    try withStorage(plan) { storage in
      var start = elements.lowerBound
      var pending = start
      while start < elements.upperBound {
        let n = Int(min(Int64(chunk), elements.upperBound - start))
        try body(plan, storage, start, n)
        start += Int64(n)
        release(plan, storage, through: start, pending: &pending)
      }
      release(plan, storage, through: start, pending: &pending, final: true)
    }
  }

  /// A contiguous tensor of a remote file, fetched by windows of about 8 MB (one range request
  /// each, let go once walked): only the elements asked for are fetched, and memory stays
  /// bounded whatever the storage's size.
  private func walkRemote(
    _ plan: ReadPlan, source: any ByteSource, at fileOffset: Int64, elements: Range<Int64>,
    chunk: Int, _ body: (ReadPlan, UnsafeRawPointer, Int64, Int) throws -> Void
  ) throws {
    let item = Int64(plan.itemSize)
    let window = max(Int64(chunk), (Int64(8 << 20) / item) / Int64(chunk) * Int64(chunk))
    var start = elements.lowerBound
    while start < elements.upperBound {
      let end = min(elements.upperBound, start + window)
      let first = (plan.offset + start) * item
      let count = Int((end - start) * item)
      try source.withBytes(at: fileOffset + first, count: count) { raw in
        guard let base = raw.baseAddress,
          // `body` finds storage element e at storage + e * itemSize.
          let storage = UnsafeRawPointer(bitPattern: Int(bitPattern: base) - Int(first))
        else { return }
        var s = start
        while s < end {
          let n = Int(min(Int64(chunk), end - s))
          try body(plan, storage, s, n)
          s += Int64(n)
        }
      }
      source.release(at: fileOffset + first, count: count)
      start = end
    }
  }

  /// Calls `body` with the values of `t` (elements `range`, all by default), at most
  /// `chunkElements` elements at a time, in C order. See the file header.
  package func forEachChunk(
    _ t: TensorRecord, range: Range<Int64>? = nil, chunkElements: Int = 65_536,
    _ body: (UnsafeBufferPointer<Double>) throws -> Void
  ) throws {
    if !t.chunks.isEmpty {
      let (reader, whole) = try assembled(t)
      return try reader.forEachChunk(whole, range: range, chunkElements: chunkElements, body)
    }
    let per = ValueDecoder.valuesPerElement(t.dtype)
    let channels = try channelParameters(t)
    let buffer = UnsafeMutablePointer<Double>.allocate(capacity: max(1, chunkElements) * per)
    defer { buffer.deallocate() }
    try walk(t, range: range, chunk: chunkElements) { plan, storage, start, n in
      var filled = 0
      plan.walk(from: start, count: n) { index, count, stride in
        plan.decoder.decode(
          storage + Int(index) &* plan.itemSize, strideBytes: Int(stride) &* plan.itemSize,
          count: count, into: buffer + filled &* per)
        filled &+= count
      }
      if let channels { channels.apply(buffer, firstElement: start, count: n) }
      try body(UnsafeBufferPointer(start: buffer, count: n * per))
    }
  }

  /// Calls `body` with the stored bytes of `t`'s elements (`range`, all by default) in C order,
  /// at most `chunkElements` elements at a time: slices of the file for contiguous tensors,
  /// gathered copies for views. Bytes are in the file's order (`isBigEndian`).
  package func forEachRawChunk(
    _ t: TensorRecord, range: Range<Int64>? = nil, chunkElements: Int = 1 << 20,
    _ body: (UnsafeRawBufferPointer) throws -> Void
  ) throws {
    if !t.chunks.isEmpty {
      let (reader, whole) = try assembled(t)
      return try reader.forEachRawChunk(whole, range: range, chunkElements: chunkElements, body)
    }
    let item = t.dtype.itemSize
    let buffer = UnsafeMutableRawPointer.allocate(
      byteCount: max(1, chunkElements) * item, alignment: 16)
    defer { buffer.deallocate() }
    try walk(t, range: range, chunk: chunkElements) { plan, storage, start, n in
      if plan.isContiguous {
        try body(
          UnsafeRawBufferPointer(start: storage + Int(plan.offset + start) * item, count: n * item))
        return
      }
      var filled = 0
      plan.walk(from: start, count: n) { index, count, stride in
        for i in 0..<count {
          (buffer + (filled + i) * item).copyMemory(
            from: storage + Int(index + Int64(i) * stride) * item, byteCount: item)
        }
        filled += count
      }
      try body(UnsafeRawBufferPointer(start: buffer, count: n * item))
    }
  }

  /// The stored bytes of `t`'s elements in C order (see `forEachRawChunk`), refusing tensors
  /// larger than `limit` bytes.
  package func rawBytes(_ t: TensorRecord, limit: Int64 = 1 << 30) throws -> [UInt8] {
    guard t.bytes <= limit else {
      throw fail("tensor '\(t.name)' is \(t.bytes) bytes, over the limit of \(limit)")
    }
    var out: [UInt8] = []
    out.reserveCapacity(Int(t.bytes))
    try forEachRawChunk(t) { out.append(contentsOf: $0) }
    return out
  }

  /// The fast path of the statistics engine: for a contiguous, little-endian float32, bfloat16
  /// or float16 tensor stored in place, calls `body` with runs of its stored elements (pointer,
  /// count) and returns true; returns false (calling nothing) for any other tensor. With a
  /// `buffer`, a tensor of a local file is read into it (`pread`, `buffer.count / itemSize`
  /// elements at a time: make that a multiple of 4,096 so runs start where blocks do); without
  /// one, or for a remote file, runs come from the source's memory (the mapping).
  func forEachStoredRun(
    _ t: TensorRecord, range: Range<Int64>, runElements: Int = 1 << 18,
    buffer: UnsafeMutableRawBufferPointer? = nil,
    _ body: (UnsafeRawPointer, Int) throws -> Void
  ) throws -> Bool {
    guard t.chunks.isEmpty, !isBigEndian(t), [.float32, .bfloat16, .float16].contains(t.dtype),
      unreadableReason(t) == nil
    else {
      return false
    }
    let plan = try ReadPlan(self, t)
    guard plan.isContiguous, case .file = plan.location, range.lowerBound >= 0,
      range.upperBound <= t.numel
    else {
      return false
    }
    if let buffer, let span = storedSpan(plan) {
      try span.forEachBlock(range, buffer: buffer) { p, _, n in try body(p, n) }
      return true
    }
    try walk(t, range: range, chunk: runElements, plan: plan) { plan, storage, start, n in
      try body(storage + Int(plan.offset + start) * plan.itemSize, n)
    }
    return true
  }

  /// Where a contiguous tensor's stored elements are in a local file, to be read into a
  /// caller's buffers; nil for views, compressed entries, tensors in chunks and remote files.
  func storedSpan(_ t: TensorRecord) throws -> StoredSpan? {
    guard t.chunks.isEmpty, unreadableReason(t) == nil else { return nil }
    return storedSpan(try ReadPlan(self, t))
  }

  func storedSpan(_ plan: ReadPlan) -> StoredSpan? {
    guard plan.isContiguous, case .file(let offset, _) = plan.location,
      let source = source(plan.storage), !source.isRemote
    else { return nil }
    return StoredSpan(
      source: source, start: offset + plan.offset * Int64(plan.itemSize),
      itemSize: plan.itemSize, file: checkpoint.path)
  }

  // MARK: storage access

  /// Runs `body` with a pointer to the first byte of the plan's storage.
  func withStorage(_ plan: ReadPlan, _ body: (UnsafeRawPointer) throws -> Void) throws {
    switch plan.location {
    case .file(let offset, _):
      guard let source = source(plan.storage) else { return }
      try source.withBytes(at: offset, count: Int(plan.neededBytes)) { raw in
        guard let base = raw.baseAddress else { return }
        try body(base)
      }
    case .zipEntry(let name, _):
      let bytes = try inflate(plan.storage, name: name, needed: plan.neededBytes)
      try bytes.withUnsafeBytes { raw in
        guard let base = raw.baseAddress else { return }
        try body(base)
      }
    }
  }

  /// Reads a compressed zip entry whole through libzip.
  func inflate(_ id: StorageID, name: String, needed: Int64) throws(CheckpointError) -> [UInt8] {
    guard let entry = compressed[id], let source = source(id) else {
      throw fail("storage record '\(name)' is missing")
    }
    guard Int64(clamping: entry.size) >= needed else {
      throw fail("storage record '\(name)' holds \(entry.size) bytes, \(needed) are needed")
    }
    do {
      return try ZipFile.inflate(entry, from: source, limit: UInt64(Self.maxInflatedBytes))
    } catch {
      throw CheckpointError(error, file: checkpoint.path)
    }
  }

  /// Lets the pages of elements `pending..<end` go once they span 4 MB (or at the end), so read
  /// data does not stay resident. Views release the whole span they can reach, once.
  func release(
    _ plan: ReadPlan, _ storage: UnsafeRawPointer, through end: Int64, pending: inout Int64,
    final: Bool = false
  ) {
    guard releasesPages, case .file(let fileOffset, _) = plan.location, end > pending,
      let source = source(plan.storage)
    else { return }
    let item = Int64(plan.itemSize)
    if plan.isContiguous {
      guard final || (end - pending) * item >= 1 << 22 else { return }
      let low = plan.offset + pending
      source.release(at: fileOffset + low * item, count: Int((end - pending) * item))
    } else {
      guard final else { return }
      source.release(
        at: fileOffset + plan.offset * item, count: Int((plan.extent - plan.offset) * item))
    }
    pending = end
  }

  // MARK: quantizer parameters

  /// Per-channel scales and zero points of `t`, read from their own tensors; nil otherwise.
  func channelParameters(_ t: TensorRecord) throws -> ChannelParameters? {
    guard t.dtype.isQuantized, let q = t.quantization, q.scheme.hasPrefix("per_channel"),
      let scales = q.channelScales, let zeroPoints = q.channelZeroPoints, let axis = q.axis
    else { return nil }
    guard axis >= 0, Int(axis) < t.shape.count else {
      throw fail(
        "tensor '\(t.name)': quantization axis \(axis) is outside its \(t.shape.count) dimensions")
    }
    let channels = t.shape[Int(axis)]
    func values(_ p: QuantizerTensor, _ what: String) throws -> [Double] {
      let record = TensorRecord(
        name: t.name + " (\(what))", dtype: p.dtype, shape: p.shape, stride: p.stride,
        storage: p.storage,
        storageOffset: p.storageOffset, requiresGrad: nil, kind: .buffer, kindIsExact: false,
        role: .buffer,
        section: .other, layout: .strided, quantization: nil, sharedWith: nil, moduleClass: nil)
      guard record.numel == channels, !p.dtype.isQuantized, unreadableReason(record) == nil else {
        throw fail("tensor '\(t.name)': \(what) do not match its \(channels) channels")
      }
      var out: [Double] = []
      try forEachChunk(record) { out.append(contentsOf: $0) }
      return out
    }
    let inner = t.shape[(Int(axis) + 1)...].reduce(Int64(1), *)
    return ChannelParameters(
      scales: try values(scales, "scales"), zeroPoints: try values(zeroPoints, "zero points"),
      inner: inner, floatZeroPoints: q.scheme == "per_channel_affine_float_qparams")
  }
}

/// A contiguous tensor's stored elements in a local file, read with `pread` into buffers the
/// caller owns and reuses (measured faster than touching the mapping: no page faults, no page
/// release, and resident memory is the buffers alone).
struct StoredSpan {
  let source: any ByteSource
  /// File offset of element 0.
  let start: Int64
  let itemSize: Int
  /// The checkpoint's path, for errors.
  let file: String

  /// Reads elements `first..<first+count` into `buffer` (`count * itemSize` bytes).
  func read(_ first: Int64, count: Int, into buffer: UnsafeMutableRawPointer)
    throws(CheckpointError)
  {
    do {
      try source.read(
        at: start + first * Int64(itemSize),
        into: UnsafeMutableRawBufferPointer(start: buffer, count: count * itemSize))
    } catch {
      throw CheckpointError(error, file: file)
    }
  }

  /// Reads elements `range` into `buffer`, `buffer.count / itemSize` at a time, calling `body`
  /// with each piece: its first byte, first element and count.
  func forEachBlock(
    _ range: Range<Int64>, buffer: UnsafeMutableRawBufferPointer,
    _ body: (UnsafeRawPointer, Int64, Int) throws -> Void
  ) throws {
    guard let base = buffer.baseAddress else { return }
    let per = Int64(Swift.max(1, buffer.count / itemSize))
    var first = range.lowerBound
    while first < range.upperBound {
      let n = Int(Swift.min(per, range.upperBound - first))
      try read(first, count: n, into: base)
      try body(base, first, n)
      first += Int64(n)
    }
  }
}

/// Per-channel dequantization: channel `c` of element `i` is `(i / inner) % channels`.
struct ChannelParameters {
  var scales: [Double]
  var zeroPoints: [Double]
  var inner: Int64
  var floatZeroPoints: Bool

  func apply(_ values: UnsafeMutablePointer<Double>, firstElement: Int64, count: Int) {
    let channels = Int64(scales.count)
    guard channels > 0, inner > 0 else { return }
    for i in 0..<count {
      let c = Int(((firstElement + Int64(i)) / inner) % channels)
      // torch: (q - zero_point) * scale in double, stored as float; float qparams: q * scale + zp.
      values[i] =
        floatZeroPoints
        ? Double(Float(values[i] * scales[c] + zeroPoints[c]))
        : Double(Float((values[i] - zeroPoints[c]) * scales[c]))
    }
  }
}

/// How to walk one tensor's elements in its storage.
struct ReadPlan {
  var location: DataLocation
  /// The storage it reads.
  var storage: StorageID
  var decoder: ValueDecoder
  var itemSize: Int
  /// Storage offset in elements.
  var offset: Int64
  /// One past the last storage element the view reaches.
  var extent: Int64
  var neededBytes: Int64
  /// Dimensions after dropping size-1 ones and merging contiguous neighbours.
  var sizes: [Int64]
  var strides: [Int64]
  var isContiguous: Bool

  init(_ reader: TensorDataReader, _ t: TensorRecord) throws {
    if let reason = reader.unreadableReason(t) {
      throw reader.fail("tensor '\(t.name)': \(reason)")
    }
    location = try reader.location(of: t)
    storage = t.storage?.id ?? StorageID(folder: "", key: "")
    itemSize = t.dtype.itemSize
    offset = t.storageOffset
    guard let extent = t.storageExtent else {
      throw reader.fail("tensor '\(t.name)': strides overflow")
    }
    self.extent = extent
    let (needed, overflow) = extent.multipliedReportingOverflow(by: Int64(itemSize))
    neededBytes = needed
    let available: Int64
    switch location {
    case .file(let start, let count):
      let size = reader.source(storage)?.size ?? 0
      guard start >= 0, count >= 0, start <= size - count else {
        throw reader.fail("tensor '\(t.name)': its storage runs past the end of the file")
      }
      available = count
    case .zipEntry(_, let count):
      available = count < 0 ? Int64.max : count
    }
    guard !overflow, t.numel == 0 || needed <= available else {
      throw reader.fail(
        "tensor '\(t.name)' needs \(overflow ? "more than \(Int64.max)" : String(needed)) bytes of its storage, which holds \(available)"
      )
    }
    var q = ValueDecoder.Dequantization.none
    if t.dtype.isQuantized, let qp = t.quantization {
      if qp.scheme == "per_tensor_affine", let s = qp.scale, let z = qp.zeroPoint {
        q = .perTensor(scale: Float(s), zeroPoint: z)
      } else {
        q = .perChannel
      }
    }
    decoder = ValueDecoder(dtype: t.dtype, swap: reader.isBigEndian(t), dequantization: q)
    var sizes: [Int64] = []
    var strides: [Int64] = []
    for (size, stride) in zip(t.shape, t.stride) where size != 1 {
      if let last = sizes.last, let lastStride = strides.last, lastStride == stride &* size {
        sizes[sizes.count - 1] = last &* size
        strides[strides.count - 1] = stride
      } else {
        sizes.append(size)
        strides.append(stride)
      }
    }
    self.sizes = sizes
    self.strides = strides
    isContiguous = sizes.count == 0 || (sizes.count == 1 && strides[0] == 1)
  }

  /// Calls `run(storageIndex, count, stride)` for the storage runs holding elements
  /// `start..<start+count` in C order.
  @inline(__always)
  func walk(from start: Int64, count: Int, _ run: (Int64, Int, Int64) -> Void) {
    if sizes.isEmpty {
      run(offset, count, 0)  // a scalar (or all dimensions 1): one element
      return
    }
    if sizes.count == 1 {
      run(offset + start * strides[0], count, strides[0])
      return
    }
    var index = [Int64](repeating: 0, count: sizes.count)
    var rest = start
    for d in sizes.indices.reversed() {
      index[d] = rest % sizes[d]
      rest /= sizes[d]
    }
    let last = sizes.count - 1
    var remaining = count
    while remaining > 0 {
      var position = offset
      for d in sizes.indices { position += index[d] * strides[d] }
      let n = Int(min(Int64(remaining), sizes[last] - index[last]))
      run(position, n, strides[last])
      remaining -= n
      index[last] += Int64(n)
      var d = last
      while d > 0 && index[d] == sizes[d] {
        index[d] = 0
        d -= 1
        index[d] += 1
      }
    }
  }
}
