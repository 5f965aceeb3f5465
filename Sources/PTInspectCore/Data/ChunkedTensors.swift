// ChunkedTensors.swift: the values of a tensor stored in chunks (a DCP folder's shards, a
// `.pt2` weight saved as a pickle): each chunk read from its byte range (a torch.save archive,
// or a tensor of a safetensors `.distcp`) and placed into one buffer of the whole tensor, which
// is then read like any tensor.

extension TensorDataReader {
  /// `t` reassembled in memory: a reader over its bytes, and `t` as a contiguous tensor there.
  func assembled(_ t: TensorRecord) throws -> (TensorDataReader, TensorRecord) {
    guard t.bytes <= Self.maxInflatedBytes else {
      throw fail(
        "tensor '\(t.name)' is \(t.bytes) bytes in chunks, over the limit of \(Self.maxInflatedBytes)"
      )
    }
    let item = t.dtype.itemSize
    var whole = [UInt8](repeating: 0, count: Int(t.bytes))
    let fullStride = contiguousStride(t.shape)
    for chunk in t.chunks {
      let bytes = try chunkBytes(t, chunk)
      guard !chunk.sizes.contains(0) else { continue }
      // Rows of the chunk's last dimension, each a run of the whole tensor.
      let rank = chunk.sizes.count
      let run = (rank == 0 ? 1 : Int(chunk.sizes[rank - 1])) * item
      var index = [Int64](repeating: 0, count: max(0, rank - 1))
      var source = 0
      while source < bytes.count {
        var element: Int64 = 0
        for d in 0..<rank {
          element += (chunk.offsets[d] + (d < rank - 1 ? index[d] : 0)) * fullStride[d]
        }
        let at = Int(element) * item
        guard at >= 0, at + run <= whole.count, source + run <= bytes.count else {
          throw fail("tensor '\(t.name)': its chunk at \(chunk.offsets) does not fit its shape")
        }
        whole.replaceSubrange(at..<at + run, with: bytes[source..<source + run])
        source += run
        var d = rank - 2
        while d >= 0 {
          index[d] += 1
          if index[d] < chunk.sizes[d] { break }
          index[d] = 0
          d -= 1
        }
      }
    }
    var c = Checkpoint(path: checkpoint.path, format: checkpoint.format, fileBytes: t.bytes)
    c.files = [MemorySource(whole, name: checkpoint.path)]
    c.fileByteOrders = [.little]
    let ref = StorageRef(
      key: t.name, storageClass: "assembled", dtype: t.dtype, device: "cpu", count: t.numel,
      folder: "")
    c.storages = [
      StorageRecord(
        id: ref.id, location: .range(offset: 0, count: t.bytes), dtype: t.dtype.rawValue,
        declaredBytes: t.bytes, recordBytes: t.bytes, usedBytes: t.bytes, holderText: "chunks")
    ]
    var plain = t
    plain.chunks = []
    plain.storage = ref
    plain.storageOffset = 0
    plain.stride = fullStride
    c.tensors = [plain]
    return (try TensorDataReader(c, releasesPages: false), plain)
  }

  /// One chunk's elements in C order, read from its range: a torch.save archive holding one
  /// tensor, or the tensor of that name in a safetensors file.
  func chunkBytes(_ t: TensorRecord, _ chunk: TensorChunk) throws -> [UInt8] {
    let id = chunk.storage.id
    guard let record = checkpoint.storages.first(where: { $0.id == id }),
      case .range(let offset, let count) = record.location, let file = source(id)
    else { throw fail("tensor '\(t.name)': chunk at \(chunk.offsets) has no storage") }
    let place = "\(lastPathComponent(file.name)) bytes \(offset)..<\(offset + count)"
    guard offset >= 0, count >= 0, offset <= file.size, count <= file.size - offset else {
      throw fail(
        "tensor '\(t.name)': its chunk at \(chunk.offsets) is \(place), past the end of the file (\(file.size) bytes)"
      )
    }
    let magic = try file.read(at: offset, count: Int(min(count, 4)))
    let inner: Checkpoint
    let piece: TensorRecord?
    let options = OpenOptions()
    if magic == [0x50, 0x4B, 0x03, 0x04] {
      let slice = SliceSource(
        file, offset: offset, count: count, name: file.name + " (" + place + ")")
      inner = try Checkpoint.assemble(
        TorchZipReader.read(slice, mode: .strict, options: options), source: slice, options: options
      )
      piece = inner.tensors.count == 1 ? inner.tensors.first : nil
    } else {
      inner = try Checkpoint.assemble(
        SafetensorsReader.read(file, mode: .strict, options: options), source: file,
        options: options)
      let key = String(chunk.storage.key.prefix { $0 != "@" })
      piece = inner.tensors.first { $0.name == key }
    }
    guard let piece else {
      throw fail(
        "tensor '\(t.name)': \(place) does not hold one tensor for its chunk at \(chunk.offsets)")
    }
    guard piece.shape == chunk.sizes, piece.dtype == t.dtype else {
      throw fail(
        "tensor '\(t.name)': the chunk at \(chunk.offsets) in \(place) is \(piece.dtype) \(piece.shape), .metadata says \(t.dtype) \(chunk.sizes)"
      )
    }
    return try TensorDataReader(inner).rawBytes(piece)
  }
}
