// PickleError.swift: every way decoding can fail, each with the byte offset of the opcode.

/// A failure to decode a pickle. Every case carries the offset of the opcode that failed.
public enum PickleError: Error, Equatable, Sendable, CustomStringConvertible {
  /// An opcode or its argument runs past the end of the input.
  case truncated(opcode: String, offset: Int, needed: Int, remaining: Int)
  /// The input ended, at an opcode boundary, before any STOP.
  case missingStop(offset: Int)
  /// A byte that is no pickle opcode.
  case unknownOpcode(UInt8, offset: Int)
  /// An opcode needed more values than the stack (above the last mark) holds.
  case stackUnderflow(opcode: String, offset: Int)
  /// An opcode that pops to a mark found none.
  case markNotFound(opcode: String, offset: Int)
  /// A GET with a key nothing was PUT under.
  case memoKeyNotFound(key: Int, opcode: String, offset: Int)
  /// An inline argument that does not parse.
  case invalidArgument(opcode: String, offset: Int, reason: String)
  /// An opcode applied to a value it cannot act on (APPEND to a tuple, say).
  case wrongType(opcode: String, offset: Int, reason: String)
  /// A size or count above the decoder's limits, refused before allocating.
  case limitExceeded(opcode: String, offset: Int, what: String, value: UInt64, limit: UInt64)
  /// A valid opcode that has no meaning in a file (out-of-band buffers).
  case unsupported(opcode: String, offset: Int, reason: String)

  /// The offset of the failing opcode within the input.
  public var offset: Int {
    switch self {
    case .truncated(_, let offset, _, _), .missingStop(let offset), .unknownOpcode(_, let offset),
      .stackUnderflow(_, let offset), .markNotFound(_, let offset),
      .memoKeyNotFound(_, _, let offset), .invalidArgument(_, let offset, _),
      .wrongType(_, let offset, _), .limitExceeded(_, let offset, _, _, _),
      .unsupported(_, let offset, _):
      offset
    }
  }

  public var description: String {
    switch self {
    case .truncated(let op, let offset, let needed, let remaining):
      "truncated pickle: \(op) at offset \(offset) needs \(needed) bytes, \(remaining) remain"
    case .missingStop(let offset):
      "truncated pickle: input ends at offset \(offset) before STOP"
    case .unknownOpcode(let byte, let offset):
      "unknown pickle opcode 0x\(hex(byte)) at offset \(offset)"
    case .stackUnderflow(let op, let offset):
      "corrupt pickle: \(op) at offset \(offset) pops from an empty stack"
    case .markNotFound(let op, let offset):
      "corrupt pickle: \(op) at offset \(offset) finds no MARK"
    case .memoKeyNotFound(let key, let op, let offset):
      "corrupt pickle: \(op) at offset \(offset) reads memo key \(key), which was never set"
    case .invalidArgument(let op, let offset, let reason):
      "corrupt pickle: \(op) at offset \(offset): \(reason)"
    case .wrongType(let op, let offset, let reason):
      "corrupt pickle: \(op) at offset \(offset): \(reason)"
    case .limitExceeded(let op, let offset, let what, let value, let limit):
      "pickle limit exceeded: \(op) at offset \(offset): \(what) \(value) is over the limit of \(limit)"
    case .unsupported(let op, let offset, let reason):
      "unsupported pickle: \(op) at offset \(offset): \(reason)"
    }
  }
}

private func hex(_ byte: UInt8) -> String {
  let digits = Array("0123456789abcdef")
  return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
}
