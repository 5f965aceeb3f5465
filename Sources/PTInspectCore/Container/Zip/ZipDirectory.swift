// ZipDirectory.swift: the zip layer's own reader of a zip's structure, over a byte source: the
// end records (with zip64) and the central directory, and, for a thorough read (scan), every
// local header, so that the two can be compared and the bytes no entry accounts for found.
// Reads are bounds-checked; nothing is allocated in proportion to a declared size. libzip
// (ZipArchive.swift) is kept for inflating compressed entries.

/// Something odd about a zip archive's structure: a way to make loaders and scanners disagree.
public struct ZipFinding: Sendable, Codable, Equatable {
  /// A stable key, as the JSON `kind` field spells it.
  public enum Kind: String, Sendable, Codable {
    case localCentralMismatch = "local-central-mismatch"
    case duplicateName = "duplicate-name"
    case flagBits = "flag-bits"
    case encrypted
    case dataBeforeArchive = "data-before-archive"
    case dataAfterArchive = "data-after-archive"
    case directoryOffsetMismatch = "directory-offset-mismatch"
    case unaccountedBytes = "unaccounted-bytes"
    case hiddenEntry = "hidden-entry"
    case overlappingEntries = "overlapping-entries"
    case pickleInNonPklEntry = "pickle-in-non-pkl-entry"
    case badLocalHeader = "bad-local-header"
    case badCentralRecord = "bad-central-record"
    case badZip64Record = "bad-zip64-record"
    case entryOutOfBounds = "entry-out-of-bounds"
    case compressionMethod = "compression-method"
    case entryCountMismatch = "entry-count-mismatch"
    case comment
    case multiDisk = "multi-disk"
  }
  /// What kind of finding it is (the JSON `kind`).
  public var kind: Kind
  /// The entry concerned, when one is.
  public var entry: String?
  /// What was found, one sentence.
  public var message: String
  /// A finding of `kind` about `entry` (nil for the archive as a whole).
  package init(kind: Kind, entry: String?, message: String) {
    self.kind = kind
    self.entry = entry
    self.message = message
  }
}

/// What a local file header says.
package struct ZipLocalHeader: Sendable, Equatable {
  package var offset: Int
  package var name: String
  package var flags: UInt16
  package var method: UInt16
  package var crc: UInt32
  package var compressedSize: UInt64
  package var size: UInt64
  /// Where the entry's data starts: after the header, its name and its extra field.
  package var dataOffset: Int
}

/// One central-directory record, with its local header when that was read.
package struct ZipEntry: Sendable, Equatable {
  /// Position in the central directory (libzip's index).
  package var index: Int
  /// The name as stored (archives re-packed on Windows may use `\`; see `normalizedName`).
  package var name: String
  package var flags: UInt16
  /// 0 stored, 8 deflate, others as the zip specification numbers them.
  package var method: UInt16
  package var crc: UInt32
  package var compressedSize: UInt64
  /// Uncompressed size, from the central directory (torch's local headers hold zeros).
  package var size: UInt64
  /// Where the local header is, in the file (after correcting for data before the archive).
  package var localHeaderOffset: UInt64
  package var local: ZipLocalHeader?

  /// The name with `\` turned into `/`, as loaders look entries up.
  package var normalizedName: String {
    var name = name
    let hasBackslash = name.withUTF8 { $0.contains(0x5C) }
    return hasBackslash ? String(name.map { $0 == "\\" ? "/" : $0 }) : name
  }
}

/// The structure of a zip archive and everything odd about it.
package struct ZipDirectory: Sendable {
  /// The central directory's records, in its order.
  package private(set) var entries: [ZipEntry] = []
  package var findings: [ZipFinding] = []
  /// Bytes before the archive proper (a zip appended to something else).
  package var prefixBytes = 0
  package var isZip64 = false
  /// Whether every local header was read (a thorough read).
  package var isThorough = false
  /// The entries' names as loaders look them up, by position in `entries`.
  private var names = ZipNames()

  /// The first entry named `name` (`\` read as `/`), or `name` and the parts after it joined
  /// (`archive/`, `data`, `/`, `0`): found without joining them.
  package func entry(
    named name: String, _ second: String = "", _ third: String = "", _ fourth: String = ""
  ) -> ZipEntry? {
    names.first(named: name, second, third, fourth).map { entries[$0] }
  }

  /// The entries whose name (`\` read as `/`) ends in the bytes of `suffix`, in directory order.
  package func entries(endingWith suffix: String) -> [ZipEntry] {
    names.positions(endingWith: suffix).map { entries[$0] }
  }

  /// Appends a central-directory record; its name is found as loaders look it up.
  mutating func append(_ entry: ZipEntry) {
    var name = entry.normalizedName
    name.withUTF8 { names.append(UnsafeRawBufferPointer($0)) }
    entries.append(entry)
  }
}

extension UnsafeRawBufferPointer {
  /// Whether these bytes start with `prefix`'s.
  fileprivate func hasBytePrefix(_ prefix: UnsafeRawBufferPointer) -> Bool {
    guard prefix.count <= count else { return false }
    for i in 0..<prefix.count where self[i] != prefix[i] { return false }
    return true
  }
}

/// The entries' names as loaders look them up (`\` read as `/`): their bytes one after another
/// in one buffer, each found by a hash of its bytes computed once. Lookups build no String.
struct ZipNames: Sendable {
  private var bytes: [UInt8] = []
  /// Where each name ends in `bytes`; it starts where the one before ends.
  private var ends: [Int] = []
  private var table = IndexTable()

  /// Reserves room for `count` names of `bytes` bytes in all.
  mutating func reserve(count: Int, bytes total: Int) {
    bytes.reserveCapacity(total)
    ends.reserveCapacity(count)
    table = IndexTable(capacity: count)
  }

  /// Adds the next entry's name (normalized); it is found by name unless an earlier entry has
  /// the same one.
  mutating func append(_ name: UnsafeRawBufferPointer) {
    bytes.append(contentsOf: name)
    ends.append(bytes.count)
    let position = ends.count - 1
    let hash = withName(position) { name in
      var hasher = ByteHasher()
      hasher.combine(name)
      return hasher.finalize()
    }
    let isFirst =
      table.first(hash: hash) { earlier in
        withName(earlier) { a in
          withName(position) { b in a.count == b.count && a.hasBytePrefix(b) }
        }
      } == nil
    if isFirst { table.add(position, hash: hash) }
  }

  /// Calls `body` with the bytes of name `position`.
  func withName<R>(_ position: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    let start = position == 0 ? 0 : ends[position - 1]
    return bytes.withUnsafeBytes {
      body(UnsafeRawBufferPointer(rebasing: $0[start..<ends[position]]))
    }
  }

  /// The position of the first name that is the four parts joined (empty ones add nothing).
  func first(named a: String, _ b: String, _ c: String, _ d: String) -> Int? {
    var hasher = ByteHasher()
    hasher.combine(a)
    hasher.combine(b)
    hasher.combine(c)
    hasher.combine(d)
    return table.first(hash: hasher.finalize()) { position in
      withName(position) { name in
        guard let rest = Self.rest(of: name, after: a), let rest = Self.rest(of: rest, after: b),
          let rest = Self.rest(of: rest, after: c), let rest = Self.rest(of: rest, after: d)
        else { return false }
        return rest.isEmpty
      }
    }
  }

  /// The bytes of `name` after `part`, when `name` starts with it.
  private static func rest(of name: UnsafeRawBufferPointer, after part: String)
    -> UnsafeRawBufferPointer?
  {
    if part.isEmpty { return name }
    var part = part
    return part.withUTF8 { bytes in
      name.hasBytePrefix(UnsafeRawBufferPointer(bytes))
        ? UnsafeRawBufferPointer(rebasing: name[bytes.count...]) : nil
    }
  }

  /// The positions of the names that end in the bytes of `suffix`, in order.
  func positions(endingWith suffix: String) -> [Int] {
    let tail = Array(suffix.utf8)
    return ends.indices.filter { position in
      withName(position) { name in
        name.count >= tail.count
          && tail.withUnsafeBytes {
            UnsafeRawBufferPointer(rebasing: name[(name.count - tail.count)...]).hasBytePrefix($0)
          }
      }
    }
  }
}

/// The end-of-central-directory record is missing, or the central directory cannot be located.
package struct ZipDirectoryError: Error, Sendable, Equatable, CustomStringConvertible {
  package var message: String
  package var description: String { message }
}

extension ZipDirectory {
  /// Reads the archive's structure from `source`. A quick read takes the end records and the
  /// central directory only (a few reads at the end of the file); a thorough one (scan) reads
  /// every local header too and looks for bytes no entry accounts for. Throws only when no end
  /// record can be found or the central directory cannot be located; everything else becomes a
  /// finding.
  package static func read(_ source: any ByteSource, thorough: Bool) throws -> ZipDirectory {
    if thorough {
      return try source.withBytes(at: 0, count: Int(source.size)) { buffer in
        try parse(ZipBytes(whole: buffer), thorough: true)
      }
    }
    // The end record lies in the last 64 KiB + 22 bytes; the zip64 records just before it.
    let tailCount = Int(min(source.size, 65_557 + 76))
    let tailBase = source.size - Int64(tailCount)
    var bytes = ZipBytes(count: Int(source.size))
    bytes.add(base: Int(tailBase), try source.read(at: tailBase, count: tailCount))
    return try parse(bytes, thorough: false) { start, count in
      guard start >= 0, count >= 0, Int64(start) + Int64(count) <= source.size else { return }
      bytes.add(base: start, try source.read(at: Int64(start), count: count))
    } reread: {
      bytes
    }
  }

  /// Parses an archive held whole in `buffer` (tests, fuzzing).
  package static func parse(_ buffer: UnsafeRawBufferPointer) throws -> ZipDirectory {
    try parse(ZipBytes(whole: buffer), thorough: true)
  }

  static func parse(
    _ initial: ZipBytes, thorough: Bool,
    load: ((Int, Int) throws -> Void)? = nil, reread: (() -> ZipBytes)? = nil
  ) throws -> ZipDirectory {
    var zip = ZipDirectory()
    var bytes = initial
    guard let end = findEnd(bytes) else {
      throw ZipDirectoryError(
        message:
          "truncated or corrupt zip archive: the central directory at its end is missing (was the file cut short?)"
      )
    }
    let commentLength = Int(bytes.u16(end + 20) ?? 0)
    let archiveEnd = end + 22 + commentLength
    if archiveEnd < bytes.count {
      zip.findings.append(
        ZipFinding(
          kind: .dataAfterArchive, entry: nil,
          message: "\(bytes.count - archiveEnd) bytes follow the end of the zip archive"))
    }
    if commentLength > 0 {
      zip.findings.append(
        ZipFinding(
          kind: .comment, entry: nil,
          message: "the archive carries a \(commentLength)-byte comment (torch writes none)"))
    }
    var entryCount = UInt64(bytes.u16(end + 10) ?? 0)
    var directorySize = UInt64(bytes.u32(end + 12) ?? 0)
    var directoryOffset = UInt64(bytes.u32(end + 16) ?? 0)
    if (bytes.u16(end + 4) ?? 0) != 0 || (bytes.u16(end + 6) ?? 0) != 0 {
      zip.findings.append(
        ZipFinding(
          kind: .multiDisk, entry: nil, message: "the end record names a multi-disk archive"))
    }
    // Where the central directory must end: at the zip64 end record if there is one, else here.
    var directoryEnd = end
    if end >= 20, bytes.u32(end - 20) == locatorSignature, let at = bytes.u64(end - 12) {
      let located = Int(clamping: at)
      // The locator's offset is as written; data before the archive shifts the real record.
      let shift = end - 20 - 56 - located
      if let load {
        try load(located, 56)
        if shift > 0 { try load(located + shift, 56) }
        if let reread { bytes = reread() }
      }
      let record = bytes.u32(located) == end64Signature ? located : located + max(0, shift)
      if bytes.u32(record) == end64Signature, let count = bytes.u64(record + 32),
        let size = bytes.u64(record + 40), let offset = bytes.u64(record + 48)
      {
        zip.isZip64 = true
        entryCount = count
        directorySize = size
        directoryOffset = offset
        directoryEnd = record
      } else {
        zip.findings.append(
          ZipFinding(
            kind: .badZip64Record, entry: nil,
            message: "the zip64 locator points at offset \(at), where no zip64 end record is"))
      }
    }
    guard directorySize <= UInt64(directoryEnd) else {
      throw ZipDirectoryError(
        message:
          "corrupt zip archive: the central directory (\(directorySize) bytes) would start before the file"
      )
    }
    let directoryStart = directoryEnd - Int(directorySize)
    if let load {
      try load(directoryStart, Int(directorySize))
      if let reread { bytes = reread() }
    }
    // Data before the archive shifts every offset: Python's zipfile corrects for it, as we do.
    let shift = directoryStart - Int(clamping: directoryOffset)
    if shift > 0 {
      zip.prefixBytes = shift
      zip.findings.append(
        ZipFinding(
          kind: .dataBeforeArchive, entry: nil,
          message:
            "\(shift) bytes come before the zip archive (its offsets are shifted by that much)"))
    } else if shift < 0 {
      zip.findings.append(
        ZipFinding(
          kind: .directoryOffsetMismatch, entry: nil,
          message:
            "the end record puts the central directory at \(directoryOffset), but it ends at \(directoryEnd)"
        ))
    }
    zip.readDirectory(bytes, start: directoryStart, end: directoryEnd, shift: max(0, shift))
    if UInt64(zip.entries.count) != entryCount {
      zip.findings.append(
        ZipFinding(
          kind: .entryCountMismatch, entry: nil,
          message:
            "the end record counts \(entryCount) entries, the central directory holds \(zip.entries.count)"
        ))
    }
    if thorough {
      zip.isThorough = true
      zip.compareLocalHeaders(bytes)
      zip.findDuplicates()
      zip.findGaps(bytes, directoryStart: directoryStart)
    }
    return zip
  }

  static let localSignature: UInt32 = 0x0403_4B50
  static let centralSignature: UInt32 = 0x0201_4B50
  static let endSignature: UInt32 = 0x0605_4B50
  static let end64Signature: UInt32 = 0x0606_4B50
  static let locatorSignature: UInt32 = 0x0706_4B50
  static let descriptorSignature: UInt32 = 0x0807_4B50

  /// The last end record whose comment fits the file, searched in the last 64 KiB + 22 bytes.
  static func findEnd(_ bytes: ZipBytes) -> Int? {
    guard bytes.count >= 22 else { return nil }
    var i = bytes.count - 22
    let lowest = max(0, bytes.count - 22 - 65_535)
    while i >= lowest {
      if bytes.u32(i) == endSignature, let comment = bytes.u16(i + 20),
        i + 22 + Int(comment) <= bytes.count
      {
        return i
      }
      i -= 1
    }
    return nil
  }

  mutating func readDirectory(_ file: ZipBytes, start: Int, end: Int, shift: Int) {
    // The directory is held in one piece: its records are read from it, at offsets from `start`.
    let p =
      file.withSpan(start, end - start) { readRecords(ZipBytes(whole: $0), shift: shift) } ?? 0
    if p < end - start {
      findings.append(
        ZipFinding(
          kind: .badCentralRecord, entry: nil,
          message:
            "\(end - start - p) bytes of the central directory are not central-directory records"
        ))
    }
  }

  /// Reads the records of a central directory held whole in `bytes`; returns where they end.
  mutating func readRecords(_ bytes: ZipBytes, shift: Int) -> Int {
    let end = bytes.count
    entries.reserveCapacity(end / 46)
    names.reserve(count: end / 46, bytes: end)
    var p = 0
    while p + 46 <= end, bytes.u32(p) == ZipDirectory.centralSignature {
      guard let flags = bytes.u16(p + 8), let method = bytes.u16(p + 10),
        let crc = bytes.u32(p + 16),
        let c32 = bytes.u32(p + 20), let s32 = bytes.u32(p + 24),
        let nameLength = bytes.u16(p + 28),
        let extraLength = bytes.u16(p + 30), let commentLength = bytes.u16(p + 32),
        let o32 = bytes.u32(p + 42)
      else { break }
      let nameStart = p + 46
      let extraStart = nameStart + Int(nameLength)
      let next = extraStart + Int(extraLength) + Int(commentLength)
      guard next <= end, let name = bytes.text(nameStart, Int(nameLength)) else {
        findings.append(
          ZipFinding(
            kind: .badCentralRecord, entry: nil,
            message: "central-directory record \(entries.count) runs past the directory's end"))
        break
      }
      var size = UInt64(s32)
      var compressed = UInt64(c32)
      var offset = UInt64(o32)
      // The zip64 extra holds, in order, only the fields whose 32-bit slot is 0xFFFFFFFF.
      if let extra = ZipDirectory.zip64Extra(bytes, start: extraStart, length: Int(extraLength)) {
        var q = extra.start
        if s32 == 0xFFFF_FFFF, q + 8 <= extra.end, let v = bytes.u64(q) { size = v; q += 8 }
        if c32 == 0xFFFF_FFFF, q + 8 <= extra.end, let v = bytes.u64(q) { compressed = v; q += 8 }
        if o32 == 0xFFFF_FFFF, q + 8 <= extra.end, let v = bytes.u64(q) { offset = v; q += 8 }
      }
      let (shifted, overflow) = offset.addingReportingOverflow(UInt64(shift))
      let entry = ZipEntry(
        index: entries.count, name: name, flags: flags, method: method, crc: crc,
        compressedSize: compressed, size: size, localHeaderOffset: overflow ? offset : shifted,
        local: nil)
      append(entry)
      p = next
    }
    return p
  }

  static func zip64Extra(_ bytes: ZipBytes, start: Int, length: Int) -> (start: Int, end: Int)? {
    var q = start
    let end = start + length
    while q + 4 <= end, let id = bytes.u16(q), let size = bytes.u16(q + 2) {
      let body = q + 4
      guard body + Int(size) <= end else { return nil }
      if id == 0x0001 { return (body, body + Int(size)) }
      q = body + Int(size)
    }
    return nil
  }

  static func readLocal(_ bytes: ZipBytes, at offset: Int) -> ZipLocalHeader? {
    guard bytes.u32(offset) == localSignature, let flags = bytes.u16(offset + 6),
      let method = bytes.u16(offset + 8), let crc = bytes.u32(offset + 14),
      let c32 = bytes.u32(offset + 18), let s32 = bytes.u32(offset + 22),
      let nameLength = bytes.u16(offset + 26), let extraLength = bytes.u16(offset + 28),
      let name = bytes.text(offset + 30, Int(nameLength))
    else { return nil }
    let extraStart = offset + 30 + Int(nameLength)
    var size = UInt64(s32)
    var compressed = UInt64(c32)
    if s32 == 0xFFFF_FFFF || c32 == 0xFFFF_FFFF,
      let extra = zip64Extra(bytes, start: extraStart, length: Int(extraLength)),
      extra.end - extra.start >= 16,
      let s = bytes.u64(extra.start), let c = bytes.u64(extra.start + 8)
    {
      size = s
      compressed = c
    }
    return ZipLocalHeader(
      offset: offset, name: name, flags: flags, method: method, crc: crc,
      compressedSize: compressed,
      size: size, dataOffset: extraStart + Int(extraLength))
  }

  /// Flag bits torch and ordinary zip tools set: deflate options (1, 2), data descriptor (3),
  /// UTF-8 names (11).
  static let usualFlags: UInt16 = 0b0000_1000_0000_1110
  static let encryptionFlags: UInt16 = 0b0010_0000_0100_0001

  mutating func compareLocalHeaders(_ bytes: ZipBytes) {
    for i in entries.indices {
      let e = entries[i]
      guard e.localHeaderOffset <= UInt64(bytes.count),
        let local = ZipDirectory.readLocal(bytes, at: Int(e.localHeaderOffset))
      else {
        findings.append(
          ZipFinding(
            kind: .badLocalHeader, entry: e.name,
            message:
              "no local header at offset \(e.localHeaderOffset), where the central directory puts '\(e.name)'"
          ))
        continue
      }
      entries[i].local = local
      func mismatch(_ what: String, _ l: String, _ c: String) {
        findings.append(
          ZipFinding(
            kind: .localCentralMismatch, entry: e.name,
            message: "'\(e.name)': the local header says \(what) \(l), the central directory \(c)"))
      }
      if local.name != e.name { mismatch("name", "'\(local.name)'", "'\(e.name)'") }
      if local.method != e.method { mismatch("method", String(local.method), String(e.method)) }
      if local.flags != e.flags { mismatch("flags", hex(local.flags), hex(e.flags)) }
      // With bit 3 set the sizes and CRC may be zero here and follow the data (torch does this).
      let deferred =
        local.flags & 0x0008 != 0 && local.crc == 0 && local.size == 0 && local.compressedSize == 0
      if !deferred {
        if local.crc != e.crc { mismatch("CRC", hex32(local.crc), hex32(e.crc)) }
        if local.size != e.size { mismatch("size", String(local.size), String(e.size)) }
        if local.compressedSize != e.compressedSize {
          mismatch("compressed size", String(local.compressedSize), String(e.compressedSize))
        }
      }
      for flags in Set([e.flags, local.flags]) {
        if flags & ZipDirectory.encryptionFlags != 0 {
          findings.append(
            ZipFinding(
              kind: .encrypted, entry: e.name,
              message:
                "'\(e.name)' has an encryption flag set (\(hex(flags))): some readers skip it, some ignore the flag"
            ))
        } else if flags & ~ZipDirectory.usualFlags != 0 {
          findings.append(
            ZipFinding(
              kind: .flagBits, entry: e.name,
              message: "'\(e.name)' has unusual flag bits \(hex(flags & ~ZipDirectory.usualFlags))")
          )
        }
      }
      if e.method != 0 && e.method != 8 {
        findings.append(
          ZipFinding(
            kind: .compressionMethod, entry: e.name,
            message: "'\(e.name)' uses compression method \(e.method) (torch writes 0, zip tools 8)"
          ))
      }
      let (dataEnd, overflow) = UInt64(local.dataOffset).addingReportingOverflow(e.compressedSize)
      if overflow || dataEnd > UInt64(bytes.count) {
        findings.append(
          ZipFinding(
            kind: .entryOutOfBounds, entry: e.name,
            message:
              "'\(e.name)' declares \(e.compressedSize) bytes of data at offset \(local.dataOffset), past the end of the file (\(bytes.count) bytes)"
          ))
      }
    }
  }

  mutating func findDuplicates() {
    var counts: [String: Int] = [:]
    var order: [String] = []
    for e in entries {
      if counts[e.name] == nil { order.append(e.name) }
      counts[e.name, default: 0] += 1
    }
    for name in order where (counts[name] ?? 0) > 1 {
      findings.append(
        ZipFinding(
          kind: .duplicateName, entry: name,
          message:
            "'\(name)' appears \(counts[name] ?? 0) times in the central directory: loaders disagree on which copy they read"
        ))
    }
  }

  /// ZipBytes between entries, or between the last entry and the central directory, that no entry
  /// accounts for; and entries whose bytes overlap.
  mutating func findGaps(_ bytes: ZipBytes, directoryStart: Int) {
    var spans: [(start: Int, end: Int, name: String)] = []
    for e in entries {
      guard let local = e.local else { continue }
      var end = local.dataOffset &+ Int(clamping: e.compressedSize)
      if end < local.dataOffset || end > bytes.count { end = bytes.count }
      if local.flags & 0x0008 != 0 {
        // A data descriptor follows: an optional signature, the CRC, then 4+4 or 8+8 byte sizes.
        // Take the length after which the next record starts; else guess from the sizes.
        let base = bytes.u32(end) == ZipDirectory.descriptorSignature ? 16 : 12
        let zip64 =
          e.size >= 0xFFFF_FFFF || e.compressedSize >= 0xFFFF_FFFF
          || e.localHeaderOffset >= 0xFFFF_FFFF
        let fits = [base, base + 8].first { length in
          let next = end + length
          if next == directoryStart { return true }
          guard let signature = bytes.u32(next) else { return false }
          return signature == ZipDirectory.localSignature
            || signature == ZipDirectory.centralSignature
        }
        end = min(bytes.count, end + (fits ?? (zip64 ? base + 8 : base)))
      }
      spans.append((local.offset, end, e.name))
    }
    // By offset, then by central-directory order (the sort must be deterministic on ties).
    spans = spans.enumerated().sorted {
      $0.element.start != $1.element.start
        ? $0.element.start < $1.element.start : $0.offset < $1.offset
    }.map(\.element)
    var cursor = prefixBytes
    var furthest: String?
    for span in spans {
      if span.start < cursor, let furthest {
        findings.append(
          ZipFinding(
            kind: .overlappingEntries, entry: span.name,
            message: "'\(span.name)' overlaps the bytes of '\(furthest)'"))
      } else if span.start > cursor {
        reportGap(bytes, from: cursor, to: span.start)
      }
      if span.end > cursor {
        cursor = span.end
        furthest = span.name
      }
    }
    if directoryStart > cursor { reportGap(bytes, from: cursor, to: directoryStart) }
  }

  mutating func reportGap(_ bytes: ZipBytes, from start: Int, to end: Int) {
    // A local header in the gap is an entry the central directory does not list.
    var p = start
    var hidden: [String] = []
    while p + 30 <= end, hidden.count < 8 {
      if bytes.u32(p) == ZipDirectory.localSignature,
        let local = ZipDirectory.readLocal(bytes, at: p)
      {
        hidden.append(local.name)
        p = local.dataOffset
      } else {
        p += 1
      }
    }
    if hidden.isEmpty {
      findings.append(
        ZipFinding(
          kind: .unaccountedBytes, entry: nil,
          message: "\(end - start) bytes at offset \(start) belong to no entry"))
    } else {
      for name in hidden {
        findings.append(
          ZipFinding(
            kind: .hiddenEntry, entry: name,
            message:
              "a local header for '\(name)' lies between entries, but the central directory does not list it"
          ))
      }
    }
  }

  /// Local headers read from the start of a file whose end records are missing (a truncated zip).
  package static func recoverLocalHeaders(_ buffer: UnsafeRawBufferPointer, limit: Int = 100_000)
    -> [ZipLocalHeader]
  {
    let bytes = ZipBytes(buffer)
    var headers: [ZipLocalHeader] = []
    var p = 0
    while p + 30 <= bytes.count, headers.count < limit {
      guard bytes.u32(p) == localSignature, let local = readLocal(bytes, at: p) else {
        p += 1
        continue
      }
      headers.append(local)
      let deferred = local.flags & 0x0008 != 0 && local.compressedSize == 0
      p = deferred ? local.dataOffset : local.dataOffset &+ Int(clamping: local.compressedSize)
      if p < local.dataOffset { break }
    }
    return headers
  }
}

private func hex(_ v: UInt16) -> String {
  let digits = String(v, radix: 16)
  return "0x" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}

private func hex32(_ v: UInt32) -> String {
  let digits = String(v, radix: 16)
  return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}

/// Bounds-checked little-endian reads at file offsets, from the whole file or from a few
/// windows of it; every read outside what is held gives nil.
struct ZipBytes {
  private let whole: UnsafeRawBufferPointer?
  private var windows: [(base: Int, bytes: [UInt8])] = []
  /// The file's size.
  let count: Int

  init(whole buffer: UnsafeRawBufferPointer) {
    whole = buffer
    count = buffer.count
  }

  init(_ buffer: UnsafeRawBufferPointer) { self.init(whole: buffer) }

  init(count: Int) {
    whole = nil
    self.count = count
  }

  mutating func add(base: Int, _ bytes: [UInt8]) { windows.append((base, bytes)) }

  /// Calls `body` with `length` bytes at `at` when they are held.
  func withSpan<R>(_ at: Int, _ length: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
    guard at >= 0, length >= 0, at <= count - length else { return nil }
    if let whole { return body(UnsafeRawBufferPointer(rebasing: whole[at..<at + length])) }
    for w in windows where at >= w.base && at + length <= w.base + w.bytes.count {
      return w.bytes.withUnsafeBytes {
        body(UnsafeRawBufferPointer(rebasing: $0[at - w.base..<at - w.base + length]))
      }
    }
    return nil
  }

  private func le<T: FixedWidthInteger>(_ at: Int, as: T.Type) -> T? {
    withSpan(at, MemoryLayout<T>.size) { T(littleEndian: $0.loadUnaligned(as: T.self)) }
  }

  func u16(_ at: Int) -> UInt16? { le(at, as: UInt16.self) }
  func u32(_ at: Int) -> UInt32? { le(at, as: UInt32.self) }
  func u64(_ at: Int) -> UInt64? { le(at, as: UInt64.self) }
  func text(_ at: Int, _ length: Int) -> String? {
    withSpan(at, length) { String(decoding: $0, as: UTF8.self) }
  }
}
