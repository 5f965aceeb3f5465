// IDTable.swift: a hash table of small integer ids whose keys stay with the caller (bytes of
// tensor names, flattened shapes), so that looking one up builds no String and no key value.

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
