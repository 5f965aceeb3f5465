// IDTable.swift: small integer ids whose keys stay with the caller (bytes of tensor names,
// flattened shapes), so that looking one up builds no String and no key value, over the shared
// IndexTable and ByteHasher; and ByteIDs and NameIDs, ids for names given as bytes (by exact
// bytes, or equal as Strings).

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Ids 0, 1, 2, ... by the hash of their key (`ByteHasher`), over the one hash table
/// (`IndexTable`). Keys can share a hash: the caller confirms each candidate id with `matches`.
struct IDTable {
  private var table = IndexTable()
  /// How many ids there are.
  private(set) var count = 0

  /// The id whose key hashes to `hash` and `matches`, or nil.
  func find(_ hash: Int, matches: (Int) -> Bool) -> Int? {
    table.first(hash: hash, where: matches)
  }

  /// Adds the next id (`count`) for a key hashing to `hash` and returns it; the key must not be
  /// in the table yet.
  mutating func insert(_ hash: Int) -> Int {
    let id = count
    table.add(id, hash: hash)
    count += 1
    return id
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

  private static func hash(_ name: UnsafeBufferPointer<UInt8>) -> Int {
    var hash = ByteHasher()
    hash.combine(UnsafeRawBufferPointer(name))
    return hash.finalize()
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
