// IDTable.swift: a hash table of small integer ids whose keys stay with the caller (bytes of
// tensor names, flattened shapes), so that looking one up builds no String and no key value;
// FNV-1a to hash them; and ByteIDs and NameIDs, ids for names given as bytes (by exact bytes, or
// equal as Strings).

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Ids 0, 1, 2, ... by a 64-bit hash of their key, with open addressing. The caller hashes its key
/// (`FNV1a`) and, since keys can share a hash, confirms each candidate id with `matches`.
struct IDTable {
  /// Per slot, an id or -1; a power of two of them, at most half of them used.
  private var slots = [Int](repeating: -1, count: 64)
  /// Each id's hash.
  private var hashes: [UInt64] = []

  /// How many ids there are.
  var count: Int { hashes.count }

  /// The id whose key hashes to `hash` and `matches`, or nil.
  func find(_ hash: UInt64, matches: (Int) -> Bool) -> Int? {
    var s = slot(hash)
    while slots[s] >= 0 {
      let id = slots[s]
      if hashes[id] == hash && matches(id) { return id }
      s = (s + 1) & (slots.count - 1)
    }
    return nil
  }

  /// Adds the next id (`count`) for a key hashing to `hash` and returns it; the key must not be
  /// in the table yet.
  mutating func insert(_ hash: UInt64) -> Int {
    let id = hashes.count
    hashes.append(hash)
    if 2 * hashes.count > slots.count {
      slots = [Int](repeating: -1, count: 2 * slots.count)
      for other in hashes.indices { place(other) }
    } else {
      place(id)
    }
    return id
  }

  private mutating func place(_ id: Int) {
    var s = slot(hashes[id])
    while slots[s] >= 0 { s = (s + 1) & (slots.count - 1) }
    slots[s] = id
  }

  /// The first slot to try: the hash's top bits after a multiplicative mix.
  private func slot(_ hash: UInt64) -> Int {
    Int(
      truncatingIfNeeded: (hash &* 0x9E37_79B9_7F4A_7C15)
        >> UInt64(64 - slots.count.trailingZeroBitCount))
  }
}

/// The 64-bit FNV-1a hash, fed bytes and numbers.
struct FNV1a {
  private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

  mutating func combine(_ bytes: UnsafeBufferPointer<UInt8>) {
    for b in bytes { combine(b) }
  }

  mutating func combine(_ byte: UInt8) {
    value = (value ^ UInt64(byte)) &* 0x100_0000_01b3
  }

  /// A number as one step (not byte by byte): the mix after each is left to `IDTable`.
  mutating func combine(_ number: Int64) {
    value = (value ^ UInt64(bitPattern: number)) &* 0x100_0000_01b3
  }
}

/// Ids 0, 1, 2, ... for byte strings (names as UTF-8), in order of first appearance: the bytes
/// are hashed and kept, no String is made.
struct ByteIDs {
  private var table = IDTable()
  /// The byte strings one after another: id n's is `bytes[start[n]..<start[n + 1]]`.
  private var bytes: [UInt8] = []
  private var start = [0]

  /// How many there are.
  var count: Int { table.count }

  /// The id of `name`, and whether it was added now.
  mutating func id(of name: UnsafeBufferPointer<UInt8>) -> (id: Int, isNew: Bool) {
    let hash = Self.hash(name)
    if let known = table.find(hash, matches: { isName($0, name) }) { return (known, false) }
    bytes.append(contentsOf: name)
    start.append(bytes.count)
    return (table.insert(hash), true)
  }

  /// The id of `name`, or nil.
  func find(_ name: UnsafeBufferPointer<UInt8>) -> Int? {
    table.find(Self.hash(name), matches: { isName($0, name) })
  }

  /// Whether id `n` is exactly the bytes `name`.
  func isName(_ n: Int, _ name: UnsafeBufferPointer<UInt8>) -> Bool {
    bytes.withUnsafeBufferPointer { $0.slice(start[n]..<start[n + 1]).bytesEqual(name) }
  }

  /// Id `n`'s bytes as a String.
  func string(_ n: Int) -> String {
    String(decoding: bytes[start[n]..<start[n + 1]], as: UTF8.self)
  }

  private static func hash(_ name: UnsafeBufferPointer<UInt8>) -> UInt64 {
    var hash = FNV1a()
    hash.combine(name)
    return hash.value
  }
}

/// Ids 0, 1, 2, ... for names given as UTF-8, in order of first appearance, where names equal as
/// Strings share an id even when their bytes differ (`é` composed or not), as they would as
/// dictionary keys: once a name is not ASCII, a name the bytes do not find is looked up as a
/// String.
struct NameIDs {
  private var exact = ByteIDs()
  private var byString: [String: Int]?

  /// The id of `name`, and whether it was added now.
  mutating func id(of name: UnsafeBufferPointer<UInt8>) -> (id: Int, isNew: Bool) {
    if byString == nil {
      var high: UInt8 = 0
      for b in name { high |= b }
      // While every name is ASCII, the bytes decide.
      guard high >= 0x80 else { return exact.id(of: name) }
      // Every name so far is ASCII, so no two are equal as Strings.
      byString = Dictionary(
        uniqueKeysWithValues: (0..<exact.count).map { (exact.string($0), $0) })
    }
    if let known = exact.find(name) { return (known, false) }
    let s = String(decoding: name, as: UTF8.self)
    if let known = byString?[s] { return (known, false) }
    byString?[s] = exact.count
    return exact.id(of: name)
  }

  /// The id of `name`, or nil.
  func id(of name: String) -> Int? {
    if let byString { return byString[name] }
    var name = name
    return name.withUTF8 { exact.find($0) }
  }

  /// Whether id `n`'s name is exactly the bytes `name`.
  func isName(_ n: Int, _ name: UnsafeBufferPointer<UInt8>) -> Bool { exact.isName(n, name) }
}

extension UnsafeBufferPointer<UInt8> {
  /// The bytes at `range`.
  func slice(_ range: Range<Int>) -> UnsafeBufferPointer<UInt8> {
    UnsafeBufferPointer(rebasing: self[range])
  }

  /// Whether both hold the same bytes.
  func bytesEqual(_ other: UnsafeBufferPointer<UInt8>) -> Bool {
    guard count == other.count else { return false }
    guard count > 0, let mine = baseAddress, let theirs = other.baseAddress else { return true }
    return memcmp(mine, theirs, count) == 0
  }
}
