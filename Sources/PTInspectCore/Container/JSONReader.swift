// JSONReader.swift: a small JSON parser for the headers containers carry (safetensors headers,
// sharded-checkpoint indexes): keys keep the file's order, numbers keep their integer value,
// depth and size are bounded, and an error names the byte offset.

/// A parsed JSON value. Objects keep their keys in file order.
package enum JSONValue: Sendable, Equatable {
  case null
  case bool(Bool)
  /// A number, with its exact value when it is an integer that fits 64 bits.
  case number(Double, integer: Int64?)
  case string(String)
  case array([JSONValue])
  case object([(key: String, value: JSONValue)])

  package static func == (a: JSONValue, b: JSONValue) -> Bool {
    switch (a, b) {
    case (.null, .null): true
    case (.bool(let x), .bool(let y)): x == y
    case (.number(let x, let i), .number(let y, let j)): x == y && i == j
    case (.string(let x), .string(let y)): x == y
    case (.array(let x), .array(let y)): x == y
    case (.object(let x), .object(let y)):
      x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    default: false
    }
  }

  /// The value of `key` in an object (the first, when repeated).
  package subscript(key: String) -> JSONValue? {
    guard case .object(let entries) = self else { return nil }
    return entries.first { $0.key == key }?.value
  }

  package var string: String? {
    if case .string(let s) = self { return s }
    return nil
  }

  package var integer: Int64? {
    if case .number(_, let i) = self { return i }
    return nil
  }

  package var array: [JSONValue]? {
    if case .array(let a) = self { return a }
    return nil
  }

  package var object: [(key: String, value: JSONValue)]? {
    if case .object(let o) = self { return o }
    return nil
  }

  /// The value as JSON text (compact), for showing header metadata.
  package var text: String {
    switch self {
    case .null: return "null"
    case .bool(let b): return b ? "true" : "false"
    case .number(let d, let i): return i.map(String.init) ?? "\(d)"
    case .string(let s): return s
    case .array(let a): return "[" + a.map(\.quotedText).joined(separator: ", ") + "]"
    case .object(let o):
      return "{" + o.map { "\"\($0.key)\": \($0.value.quotedText)" }.joined(separator: ", ") + "}"
    }
  }

  var quotedText: String {
    if case .string(let s) = self { return "\"\(s)\"" }
    return text
  }
}

/// Malformed JSON: what and where.
package struct JSONReaderError: Error, Sendable, Equatable, CustomStringConvertible {
  package var message: String
  package var offset: Int
  package var description: String { "\(message) at offset \(offset)" }
}

/// Parses JSON text.
package struct JSONReader {
  /// Deepest nesting accepted.
  package var maxDepth = 256

  package init() {}

  package func parse(_ bytes: [UInt8]) throws(JSONReaderError) -> JSONValue {
    try bytes.withUnsafeBufferPointer { (b) throws(JSONReaderError) -> JSONValue in
      var p = Parser(b: b, maxDepth: maxDepth)
      p.skipSpace()
      let v = try p.value(depth: 0)
      p.skipSpace()
      guard p.i == b.count else { throw p.fail("unexpected text after the JSON value") }
      return v
    }
  }

  struct Parser {
    let b: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    var i = 0

    init(b: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
      self.b = b
      self.maxDepth = maxDepth
    }

    func fail(_ message: String) -> JSONReaderError { JSONReaderError(message: message, offset: i) }

    mutating func skipSpace() {
      while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
    }

    mutating func literal(_ word: String, _ v: JSONValue) throws(JSONReaderError) -> JSONValue {
      for byte in word.utf8 {
        guard i < b.count, b[i] == byte else { throw fail("invalid literal") }
        i += 1
      }
      return v
    }

    mutating func value(depth: Int) throws(JSONReaderError) -> JSONValue {
      guard depth < maxDepth else { throw fail("JSON nested deeper than \(maxDepth)") }
      guard i < b.count else { throw fail("unexpected end of JSON") }
      switch b[i] {
      case UInt8(ascii: "{"):
        i += 1
        var entries: [(key: String, value: JSONValue)] = []
        skipSpace()
        if i < b.count, b[i] == UInt8(ascii: "}") {
          i += 1
          return .object(entries)
        }
        while true {
          skipSpace()
          guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw fail("expected a key") }
          let key = try string()
          skipSpace()
          guard i < b.count, b[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
          i += 1
          skipSpace()
          entries.append((key, try value(depth: depth + 1)))
          skipSpace()
          guard i < b.count else { throw fail("unexpected end of JSON") }
          if b[i] == UInt8(ascii: ",") {
            i += 1
          } else if b[i] == UInt8(ascii: "}") {
            i += 1
            return .object(entries)
          } else {
            throw fail("expected ',' or '}'")
          }
        }
      case UInt8(ascii: "["):
        i += 1
        var items: [JSONValue] = []
        skipSpace()
        if i < b.count, b[i] == UInt8(ascii: "]") {
          i += 1
          return .array(items)
        }
        while true {
          skipSpace()
          items.append(try value(depth: depth + 1))
          skipSpace()
          guard i < b.count else { throw fail("unexpected end of JSON") }
          if b[i] == UInt8(ascii: ",") {
            i += 1
          } else if b[i] == UInt8(ascii: "]") {
            i += 1
            return .array(items)
          } else {
            throw fail("expected ',' or ']'")
          }
        }
      case UInt8(ascii: "\""):
        return .string(try string())
      case UInt8(ascii: "t"): return try literal("true", .bool(true))
      case UInt8(ascii: "f"): return try literal("false", .bool(false))
      case UInt8(ascii: "n"): return try literal("null", .null)
      default:
        return try number()
      }
    }

    mutating func number() throws(JSONReaderError) -> JSONValue {
      let start = i
      if i < b.count, b[i] == UInt8(ascii: "-") { i += 1 }
      var integral = true
      while i < b.count {
        let c = b[i]
        if c >= 0x30 && c <= 0x39 {
          i += 1
        } else if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E")
          || c == UInt8(ascii: "+") || c == UInt8(ascii: "-")
        {
          integral = false
          i += 1
        } else {
          break
        }
      }
      let text = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
      guard i > start, let d = Double(text) else {
        i = start
        throw fail("invalid value")
      }
      return .number(d, integer: integral ? Int64(text) : nil)
    }

    mutating func string() throws(JSONReaderError) -> String {
      i += 1  // the opening quote
      var out: [UInt8] = []
      while i < b.count {
        let c = b[i]
        i += 1
        switch c {
        case UInt8(ascii: "\""):
          return String(decoding: out, as: UTF8.self)
        case UInt8(ascii: "\\"):
          guard i < b.count else { throw fail("unterminated string") }
          let e = b[i]
          i += 1
          switch e {
          case UInt8(ascii: "n"): out.append(0x0A)
          case UInt8(ascii: "t"): out.append(0x09)
          case UInt8(ascii: "r"): out.append(0x0D)
          case UInt8(ascii: "b"): out.append(0x08)
          case UInt8(ascii: "f"): out.append(0x0C)
          case UInt8(ascii: "u"):
            var scalar = try hex4()
            if (0xD800..<0xDC00).contains(scalar), i + 1 < b.count, b[i] == UInt8(ascii: "\\"),
              b[i + 1] == UInt8(ascii: "u")
            {
              i += 2
              let low = try hex4()
              scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low &- 0xDC00) & 0x3FF
            }
            out.append(contentsOf: String(Character(Unicode.Scalar(scalar) ?? "\u{FFFD}")).utf8)
          default: out.append(e)
          }
        case 0..<0x20:
          throw fail("control character in a string")
        default:
          out.append(c)
        }
      }
      throw fail("unterminated string")
    }

    mutating func hex4() throws(JSONReaderError) -> UInt32 {
      guard i + 4 <= b.count else { throw fail("truncated \\u escape") }
      var v: UInt32 = 0
      for _ in 0..<4 {
        let c = b[i]
        i += 1
        let d: UInt32
        switch c {
        case 0x30...0x39: d = UInt32(c - 0x30)
        case 0x41...0x46: d = UInt32(c - 0x41 + 10)
        case 0x61...0x66: d = UInt32(c - 0x61 + 10)
        default: throw fail("invalid \\u escape")
        }
        v = v << 4 | d
      }
      return v
    }
  }
}
