// ZipDirectory.swift: the zip central directory parsed in pure Swift from a mapped file, for one
// fact libzip 1.7.3 does not expose: where each entry's data starts in the file. Stored (method 0)
// entries are then read straight from the mapping, without a copy.

/// One central-directory record, with the file offset of its data when it can be located.
struct ZipDirectoryRecord: Sendable, Equatable {
  var method: UInt16
  var compressedSize: UInt64
  var size: UInt64
  var localHeaderOffset: UInt64
  /// First byte of the entry's data in the file (after the local header), nil when the local
  /// header is missing or its sizes run past the end of the file.
  var dataOffset: UInt64?
}

/// A zip archive's central directory, read from the end-of-central-directory records (classic
/// and zip64) with every offset and length checked against the file's size.
enum ZipDirectory {
  // Signatures, read little-endian (APPNOTE.TXT 4.3.7, 4.3.12, 4.3.14, 4.3.15, 4.3.16).
  static let eocdSignature: UInt32 = 0x0605_4b50
  static let zip64LocatorSignature: UInt32 = 0x0706_4b50
  static let zip64EOCDSignature: UInt32 = 0x0606_4b50
  static let centralSignature: UInt32 = 0x0201_4b50
  static let localSignature: UInt32 = 0x0403_4b50

  /// Records by name (`\` turned into `/`, as `ZipArchive` names them; the first of duplicate
  /// names wins). Nil when the directory cannot be parsed: callers then fall back to libzip.
  static func parse(_ file: UnsafeRawBufferPointer) -> [String: ZipDirectoryRecord]? {
    let n = file.count
    guard n >= 22 else { return nil }
    // The EOCD is the last 22 bytes plus a comment of at most 65,535 bytes.
    var eocd = -1
    var p = n - 22
    let lowest = max(0, n - 22 - 65_535)
    while p >= lowest {
      if u32(file, p) == eocdSignature {
        eocd = p
        break
      }
      p -= 1
    }
    guard eocd >= 0 else { return nil }
    var entries = UInt64(u16(file, eocd + 10))
    var cdSize = UInt64(u32(file, eocd + 12))
    var cdOffset = UInt64(u32(file, eocd + 16))
    if eocd >= 20, u32(file, eocd - 20) == zip64LocatorSignature {
      let record = u64(file, eocd - 20 + 8)
      guard record <= UInt64(n - 56), u32(file, Int(record)) == zip64EOCDSignature else {
        return nil
      }
      let r = Int(record)
      entries = u64(file, r + 32)
      cdSize = u64(file, r + 40)
      cdOffset = u64(file, r + 48)
    }
    guard cdOffset <= UInt64(n), cdSize <= UInt64(n) - cdOffset else { return nil }
    // Each record takes at least 46 bytes: a larger count is a lie, not an allocation to make.
    guard entries <= cdSize / 46 + 1 else { return nil }
    var records: [String: ZipDirectoryRecord] = [:]
    records.reserveCapacity(Int(entries))
    var q = Int(cdOffset)
    let end = Int(cdOffset + cdSize)
    for _ in 0..<entries {
      guard q + 46 <= end, u32(file, q) == centralSignature else { return nil }
      let method = u16(file, q + 10)
      var compressed = UInt64(u32(file, q + 20))
      var size = UInt64(u32(file, q + 24))
      let nameLength = Int(u16(file, q + 28))
      let extraLength = Int(u16(file, q + 30))
      let commentLength = Int(u16(file, q + 32))
      var local = UInt64(u32(file, q + 42))
      let nameStart = q + 46
      let extraStart = nameStart + nameLength
      let next = extraStart + extraLength + commentLength
      guard next <= end else { return nil }
      // The zip64 extra (id 1) holds, in order, only the fields whose 32-bit slot is 0xFFFFFFFF.
      var e = extraStart
      while e + 4 <= extraStart + extraLength {
        let id = u16(file, e)
        let length = Int(u16(file, e + 2))
        let body = e + 4
        guard body + length <= extraStart + extraLength else { break }
        if id == 1 {
          var f = body
          if size == 0xFFFF_FFFF, f + 8 <= body + length {
            size = u64(file, f)
            f += 8
          }
          if compressed == 0xFFFF_FFFF, f + 8 <= body + length {
            compressed = u64(file, f)
            f += 8
          }
          if local == 0xFFFF_FFFF, f + 8 <= body + length { local = u64(file, f) }
        }
        e = body + length
      }
      let name = String(
        decoding: UnsafeRawBufferPointer(rebasing: file[nameStart..<extraStart]), as: UTF8.self
      ).replacingOccurrences(of: "\\", with: "/")
      if records[name] == nil {
        records[name] = ZipDirectoryRecord(
          method: method, compressedSize: compressed, size: size, localHeaderOffset: local,
          dataOffset: dataOffset(file, local: local, compressedSize: compressed))
      }
      q = next
    }
    return records
  }

  /// Data offset = local header offset + 30 + the local name and extra lengths (which differ
  /// from the central ones: torch pads the local extra with an `FB` block to align the data).
  static func dataOffset(_ file: UnsafeRawBufferPointer, local: UInt64, compressedSize: UInt64)
    -> UInt64?
  {
    let n = UInt64(file.count)
    guard local <= n, n - local >= 30, u32(file, Int(local)) == localSignature else { return nil }
    let l = Int(local)
    let start = local + 30 + UInt64(u16(file, l + 26)) + UInt64(u16(file, l + 28))
    guard start <= n, compressedSize <= n - start else { return nil }
    return start
  }

  @inline(__always) static func u16(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt16 {
    UInt16(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt16.self))
  }
  @inline(__always) static func u32(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
    UInt32(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt32.self))
  }
  @inline(__always) static func u64(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt64 {
    UInt64(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt64.self))
  }
}
