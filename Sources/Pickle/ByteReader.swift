// ByteReader.swift: the one bounds-checked cursor every pickle argument is read through.

/// A cursor over raw bytes that throws instead of reading past the end.
struct ByteReader {
  let bytes: UnsafeRawBufferPointer
  var position: Int

  init(_ bytes: UnsafeRawBufferPointer, position: Int = 0) {
    self.bytes = bytes
    self.position = position
  }

  var remaining: Int { bytes.count - position }
  var isAtEnd: Bool { position >= bytes.count }

  /// Takes `count` bytes, or throws `truncated` naming `opcode` (which started at `offset`).
  mutating func take(_ count: UInt64, opcode: Opcode, offset: Int) throws(PickleError)
    -> UnsafeRawBufferPointer
  {
    guard count <= UInt64(remaining) else {
      throw .truncated(
        opcode: opcode.name, offset: offset, needed: Int(clamping: count), remaining: remaining)
    }
    let start = position
    position += Int(count)
    return UnsafeRawBufferPointer(rebasing: bytes[start..<position])
  }

  mutating func byte(opcode: Opcode, offset: Int) throws(PickleError) -> UInt8 {
    try take(1, opcode: opcode, offset: offset)[0]
  }

  /// Reads a little-endian unsigned integer of `width` bytes (1 to 8).
  mutating func unsigned(_ width: Int, opcode: Opcode, offset: Int) throws(PickleError) -> UInt64 {
    let raw = try take(UInt64(width), opcode: opcode, offset: offset)
    var value: UInt64 = 0
    for i in (0..<width).reversed() { value = value << 8 | UInt64(raw[i]) }
    return value
  }

  /// Reads up to and excluding the next newline, which is consumed.
  mutating func line(opcode: Opcode, offset: Int) throws(PickleError) -> UnsafeRawBufferPointer {
    let rest = UnsafeRawBufferPointer(rebasing: bytes[position...])
    guard let newline = rest.firstIndex(of: 0x0A) else {
      throw .truncated(
        opcode: opcode.name, offset: offset, needed: remaining + 1, remaining: remaining)
    }
    let text = UnsafeRawBufferPointer(rebasing: rest[..<newline])
    position += newline + 1
    return text
  }
}
