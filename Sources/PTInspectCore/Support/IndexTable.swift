// IndexTable.swift: open addressing over the positions of a list its owner keeps (zip entry
// names, storage ids, layer inference's ids). The owner hashes a key once, from its bytes, and says whether a position
// holds it; the table keeps only positions and hashes, so a lookup builds no String and no key.

/// Hashes the bytes of a key given in parts (a name's folder and key, without joining them):
/// the bytes are read eight at a time into a word, each word folded into the state by a
/// 64x64->128-bit multiply. Keyed with random secrets drawn once a process, so crafted names
/// cannot be made to collide; several times cheaper than `Hasher` on short names. Nothing
/// ptinspect prints depends on the hash.
struct ByteHasher {
  private static let secrets: (UInt64, UInt64, UInt64) = {
    var random = SystemRandomNumberGenerator()
    return (random.next(), random.next() | 1, random.next())
  }()
  private var state: UInt64
  private var word: UInt64 = 0
  private var shift: UInt64 = 0
  private var length: UInt64 = 0

  init() { state = Self.secrets.0 }

  mutating func combine(_ bytes: UnsafeRawBufferPointer) {
    var i = 0
    // Whole words while none is part-filled; byte by byte otherwise and for the tail.
    while shift == 0, i + 8 <= bytes.count {
      word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))
      fold()
      i += 8
    }
    while i < bytes.count {
      word |= UInt64(bytes[i]) &<< shift
      shift &+= 8
      if shift == 64 { fold() }
      i += 1
    }
    length &+= UInt64(bytes.count)
  }

  mutating func combine(_ text: String) {
    if text.isEmpty { return }
    let done = text.utf8.withContiguousStorageIfAvailable { combine(UnsafeRawBufferPointer($0)) }
    if done == nil {
      var text = text
      text.withUTF8 { combine(UnsafeRawBufferPointer($0)) }
    }
  }

  mutating func combine(_ value: Int) {
    if shift > 0 { fold() }
    word = UInt64(UInt(bitPattern: value))
    fold()
  }

  private mutating func fold() {
    state = Self.mix(state ^ word, Self.secrets.1)
    word = 0
    shift = 0
  }

  private static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
    let product = a.multipliedFullWidth(by: b)
    return product.high ^ product.low
  }

  consuming func finalize() -> Int {
    let last = Self.mix(state ^ word ^ Self.secrets.2, length ^ Self.secrets.1)
    return Int(truncatingIfNeeded: Self.mix(last, Self.secrets.1))
  }
}

/// Finds the positions of a list by the hashes of their keys. The owner compares keys: a
/// lookup calls `matches` only for positions stored with the same hash bits.
struct IndexTable: Sendable {
  /// A position and its hash's low bits; position 0 marks an empty slot (positions are stored
  /// plus one).
  private struct Slot {
    var hash: UInt32
    var position: UInt32
  }
  private var slots: [Slot]
  private var count = 0

  /// A table that holds `capacity` positions before it grows.
  init(capacity: Int = 0) {
    var size = 8
    while size < 2 * capacity { size *= 2 }
    slots = Array(repeating: Slot(hash: 0, position: 0), count: size)
  }

  /// The first position stored under `hash` for which `matches` holds.
  func first(hash: Int, where matches: (Int) -> Bool) -> Int? {
    let mask = slots.count - 1
    let tag = UInt32(truncatingIfNeeded: hash)
    var i = Int(tag) & mask
    while slots[i].position != 0 {
      if slots[i].hash == tag, matches(Int(slots[i].position) - 1) {
        return Int(slots[i].position) - 1
      }
      i = (i + 1) & mask
    }
    return nil
  }

  /// Stores `position` under `hash`. The owner looks its key up first (`first(hash:where:)`):
  /// a key stored twice would be found by either position.
  mutating func add(_ position: Int, hash: Int) {
    if 2 * (count + 1) > slots.count { grow() }
    place(Slot(hash: UInt32(truncatingIfNeeded: hash), position: UInt32(position + 1)))
    count += 1
  }

  private mutating func place(_ slot: Slot) {
    let mask = slots.count - 1
    var i = Int(slot.hash) & mask
    while slots[i].position != 0 { i = (i + 1) & mask }
    slots[i] = slot
  }

  private mutating func grow() {
    let old = slots
    slots = Array(repeating: Slot(hash: 0, position: 0), count: old.count * 2)
    for slot in old where slot.position != 0 { place(slot) }
  }
}
