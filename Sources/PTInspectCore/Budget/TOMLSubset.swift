// TOMLSubset.swift: a small TOML reader, enough for budget files and for reading past the rest
// of a pyproject.toml. It reads tables, dotted and quoted keys, basic and literal strings
// (single and multi-line), integers, floats, booleans, dates (kept as text), arrays and inline
// tables. Errors name the line.

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// A TOML value.
package indirect enum TOMLValue: Sendable, Equatable {
  case string(String)
  case integer(Int64)
  case float(Double)
  case bool(Bool)
  /// A date or time, kept as written.
  case datetime(String)
  case array([TOMLValue])
  case table([(key: String, value: TOMLValue)])

  package static func == (a: TOMLValue, b: TOMLValue) -> Bool {
    switch (a, b) {
    case (.string(let x), .string(let y)): x == y
    case (.integer(let x), .integer(let y)): x == y
    case (.float(let x), .float(let y)): x == y || (x.isNaN && y.isNaN)
    case (.bool(let x), .bool(let y)): x == y
    case (.datetime(let x), .datetime(let y)): x == y
    case (.array(let x), .array(let y)): x == y
    case (.table(let x), .table(let y)):
      x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    default: false
    }
  }

  /// How the value reads in a message: `"5.8M"`, `6000000`, `true`.
  package var written: String {
    switch self {
    case .string(let s): "\"\(s)\""
    case .integer(let n): String(n)
    case .float(let d): String(d)
    case .bool(let b): String(b)
    case .datetime(let s): s
    case .array: "an array"
    case .table: "a table"
    }
  }
}

/// A key/value pair with its full key path (table path + dotted key) and line.
package struct TOMLEntry: Sendable, Equatable {
  package var path: [String]
  package var value: TOMLValue
  package var line: Int
}

/// A TOML syntax error at a line.
package struct TOMLError: Error, Equatable, Sendable, CustomStringConvertible {
  package var line: Int
  package var message: String
  package var description: String { "line \(line): \(message)" }
}

/// Reads TOML text into entries. Inline tables are flattened into entries of their own, so
/// `groups = { "a.*" = "1M" }` and `[groups]` `"a.*" = "1M"` read the same.
package struct TOMLSubset {
  var s: [Unicode.Scalar]
  var i = 0
  var line = 1
  /// Table headers met so far, with the line that opened them.
  package private(set) var tables: [(path: [String], line: Int)] = []

  package init(_ text: String) { s = Array(text.unicodeScalars) }

  /// Every key/value pair in the text, in order.
  package mutating func parse() throws(TOMLError) -> [TOMLEntry] {
    var entries: [TOMLEntry] = []
    var table: [String] = []
    var arrayTableCounts: [String: Int] = [:]
    var seen = Set<[String]>()
    while true {
      skipBlankLines()
      guard let c = peek() else { break }
      if c == "[" {
        let headerLine = line
        i += 1
        let isArray = peek() == "["
        if isArray { i += 1 }
        skipSpaces()
        var path = try key()
        skipSpaces()
        try expect("]", "expected ']' to close the table header")
        // Inside an array of tables, [arr.sub] and [[arr.sub]] belong to its latest element.
        var resolved: [String] = []
        for (n, part) in path.enumerated() {
          resolved.append(part)
          let isLast = n == path.count - 1
          if !(isLast && isArray), let count = arrayTableCounts[resolved.joined(separator: "\u{0}")]
          {
            resolved.append("[\(count - 1)]")
          }
        }
        path = resolved
        if isArray {
          try expect("]", "expected ']]' to close the array-of-tables header")
          let joined = path.joined(separator: "\u{0}")
          let n = arrayTableCounts[joined, default: 0]
          arrayTableCounts[joined] = n + 1
          path.append("[\(n)]")
        }
        try endOfLine()
        table = path
        tables.append((path, headerLine))
        continue
      }
      let entryLine = line
      let k = try key()
      skipSpaces()
      try expect("=", "expected '=' after the key '\(k.joined(separator: "."))'")
      skipSpaces()
      let v = try value()
      try endOfLine()
      try add(table + k, v, entryLine, &entries, &seen)
    }
    return entries
  }

  func fail(_ message: String) -> TOMLError { TOMLError(line: line, message: message) }

  func peek(_ offset: Int = 0) -> Unicode.Scalar? { i + offset < s.count ? s[i + offset] : nil }

  func startsWith(_ text: String) -> Bool {
    var j = i
    for ch in text.unicodeScalars {
      guard j < s.count, s[j] == ch else { return false }
      j += 1
    }
    return true
  }

  mutating func expect(_ ch: Unicode.Scalar, _ message: String) throws(TOMLError) {
    guard peek() == ch else { throw fail(message) }
    i += 1
  }

  mutating func skipSpaces() {
    while let c = peek(), c == " " || c == "\t" { i += 1 }
  }

  mutating func skipComment() {
    if peek() == "#" {
      while let c = peek(), c != "\n" { i += 1 }
    }
  }

  /// Skips spaces, comments and newlines (between statements, and inside arrays).
  mutating func skipBlankLines() {
    while let c = peek() {
      if c == " " || c == "\t" || c == "\r" {
        i += 1
      } else if c == "\n" {
        i += 1
        line += 1
      } else if c == "#" {
        skipComment()
      } else {
        break
      }
    }
  }

  /// After a statement: spaces, an optional comment, then a newline or the end.
  mutating func endOfLine() throws(TOMLError) {
    skipSpaces()
    skipComment()
    if peek() == "\r" { i += 1 }
    guard let c = peek() else { return }
    guard c == "\n" else { throw fail("unexpected '\(c)' after the value") }
    i += 1
    line += 1
  }

  mutating func add(
    _ path: [String], _ v: TOMLValue, _ entryLine: Int, _ entries: inout [TOMLEntry],
    _ seen: inout Set<[String]>
  ) throws(TOMLError) {
    if case .table(let items) = v {
      if items.isEmpty { entries.append(TOMLEntry(path: path, value: v, line: entryLine)) }
      for item in items { try add(path + [item.key], item.value, entryLine, &entries, &seen) }
      return
    }
    guard seen.insert(path).inserted else {
      throw TOMLError(
        line: entryLine, message: "the key '\(path.joined(separator: "."))' is defined twice")
    }
    entries.append(TOMLEntry(path: path, value: v, line: entryLine))
  }

  // MARK: keys

  /// A dotted key: `a`, `a.b`, `"encoder.*"`, `tool.ptinspect.budget`.
  mutating func key() throws(TOMLError) -> [String] {
    var parts: [String] = []
    while true {
      skipSpaces()
      guard let c = peek() else { throw fail("expected a key") }
      if c == "\"" {
        i += 1
        parts.append(try basicString())
      } else if c == "'" {
        i += 1
        parts.append(try literalString())
      } else if isBare(c) {
        var k = ""
        while let b = peek(), isBare(b) {
          k.unicodeScalars.append(b)
          i += 1
        }
        parts.append(k)
      } else {
        throw fail("expected a key, found '\(c)'")
      }
      skipSpaces()
      guard peek() == "." else { return parts }
      i += 1
    }
  }

  func isBare(_ c: Unicode.Scalar) -> Bool {
    (c >= "A" && c <= "Z") || (c >= "a" && c <= "z") || (c >= "0" && c <= "9") || c == "_"
      || c == "-"
  }

  // MARK: values

  mutating func value() throws(TOMLError) -> TOMLValue {
    guard let c = peek() else { throw fail("expected a value after '='") }
    switch c {
    case "\"":
      if startsWith("\"\"\"") {
        i += 3
        return .string(try multilineBasicString())
      }
      i += 1
      return .string(try basicString())
    case "'":
      if startsWith("'''") {
        i += 3
        return .string(try multilineLiteralString())
      }
      i += 1
      return .string(try literalString())
    case "[":
      i += 1
      return try array()
    case "{":
      i += 1
      return try inlineTable()
    case "\n", "\r", "#":
      throw fail("expected a value after '='")
    default:
      return try scalar()
    }
  }

  mutating func array() throws(TOMLError) -> TOMLValue {
    var items: [TOMLValue] = []
    while true {
      skipBlankLines()
      guard let c = peek() else { throw fail("the array is not closed with ']'") }
      if c == "]" {
        i += 1
        return .array(items)
      }
      items.append(try value())
      skipBlankLines()
      if peek() == "," {
        i += 1
      } else if peek() == nil {
        throw fail("the array is not closed with ']'")
      } else if peek() != "]" {
        throw fail("expected ',' or ']' in the array")
      }
    }
  }

  mutating func inlineTable() throws(TOMLError) -> TOMLValue {
    var items: [(key: String, value: TOMLValue)] = []
    skipBlankLines()
    if peek() == "}" {
      i += 1
      return .table(items)
    }
    while true {
      skipBlankLines()
      let k = try key()
      skipSpaces()
      try expect("=", "expected '=' after the key '\(k.joined(separator: "."))'")
      skipSpaces()
      var v = try value()
      for part in k.dropFirst().reversed() { v = .table([(part, v)]) }
      items.append((k.first ?? "", v))
      skipBlankLines()
      guard let c = peek() else { throw fail("the inline table is not closed with '}'") }
      i += 1
      if c == "}" { return .table(items) }
      guard c == "," else { throw fail("expected ',' or '}' in the inline table") }
    }
  }

  mutating func basicString() throws(TOMLError) -> String {
    var out = String.UnicodeScalarView()
    while true {
      guard let c = peek(), c != "\n" else { throw fail("the string is not closed with '\"'") }
      i += 1
      if c == "\"" { return String(out) }
      if c == "\\" {
        out.append(try escape())
      } else {
        out.append(c)
      }
    }
  }

  mutating func literalString() throws(TOMLError) -> String {
    var out = String.UnicodeScalarView()
    while true {
      guard let c = peek(), c != "\n" else { throw fail("the string is not closed with \"'\"") }
      i += 1
      if c == "'" { return String(out) }
      out.append(c)
    }
  }

  /// A newline right after an opening `"""` or `'''` is not part of the string.
  mutating func skipNewlineAfterOpeningDelimiter() {
    if peek() == "\n" {
      i += 1
      line += 1
    } else if startsWith("\r\n") {
      i += 2
      line += 1
    }
  }

  /// At a closing triple `quote`: consumes it, and the up to two quotes that may end the content
  /// right before it (they belong to the string); true when the string is closed.
  mutating func closesMultiline(quote: Unicode.Scalar, into out: inout String.UnicodeScalarView)
    -> Bool
  {
    let q = String(quote)
    guard startsWith(q + q + q) else { return false }
    i += 3
    while peek() == quote {
      out.append(quote)
      i += 1
    }
    return true
  }

  mutating func multilineBasicString() throws(TOMLError) -> String {
    var out = String.UnicodeScalarView()
    skipNewlineAfterOpeningDelimiter()
    while true {
      guard let c = peek() else { throw fail("the string is not closed with '\"\"\"'") }
      if closesMultiline(quote: "\"", into: &out) { return String(out) }
      i += 1
      if c == "\n" { line += 1 }
      if c == "\\" {
        // A backslash at the end of a line trims the newline and the whitespace after it.
        var j = i
        while j < s.count, s[j] == " " || s[j] == "\t" || s[j] == "\r" { j += 1 }
        if j < s.count, s[j] == "\n" {
          i = j
          while let w = peek(), w == " " || w == "\t" || w == "\n" || w == "\r" {
            if w == "\n" { line += 1 }
            i += 1
          }
          continue
        }
        out.append(try escape())
      } else {
        out.append(c)
      }
    }
  }

  mutating func multilineLiteralString() throws(TOMLError) -> String {
    var out = String.UnicodeScalarView()
    skipNewlineAfterOpeningDelimiter()
    while true {
      guard let c = peek() else { throw fail("the string is not closed with \"'''\"") }
      if closesMultiline(quote: "'", into: &out) { return String(out) }
      i += 1
      if c == "\n" { line += 1 }
      out.append(c)
    }
  }

  mutating func escape() throws(TOMLError) -> Unicode.Scalar {
    guard let e = peek() else { throw fail("the string ends in an escape") }
    i += 1
    switch e {
    case "b": return "\u{08}"
    case "t": return "\t"
    case "n": return "\n"
    case "f": return "\u{0C}"
    case "r": return "\r"
    case "e": return "\u{1B}"
    case "\"": return "\""
    case "\\": return "\\"
    case "u", "U":
      let n = e == "u" ? 4 : 8
      var hex = ""
      for _ in 0..<n {
        guard let h = peek(), h.properties.isASCIIHexDigit else { throw fail("bad \\\(e) escape") }
        hex.unicodeScalars.append(h)
        i += 1
      }
      guard let code = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(code) else {
        throw fail("bad \\\(e) escape")
      }
      return scalar
    default:
      throw fail("unknown escape '\\\(e)' in a string")
    }
  }

  /// Integers, floats, booleans and dates: a bare token up to a delimiter.
  mutating func scalar() throws(TOMLError) -> TOMLValue {
    var token = ""
    while let c = peek(), c != " ", c != "\t", c != "\n", c != "\r", c != ",", c != "]", c != "}",
      c != "#"
    {
      token.unicodeScalars.append(c)
      i += 1
    }
    // A date and a time may be separated by one space: 1979-05-27 07:32:00.
    if token.count == 10, token.dropFirst(4).first == "-", peek() == " ", let d = peek(1),
      d.properties.numericType != nil
    {
      i += 1
      token += " "
      while let c = peek(), c != " ", c != "\t", c != "\n", c != "\r", c != ",", c != "]", c != "}",
        c != "#"
      {
        token.unicodeScalars.append(c)
        i += 1
      }
    }
    if token == "true" { return .bool(true) }
    if token == "false" { return .bool(false) }
    if let n = Self.integer(token) { return .integer(n) }
    if let d = Self.float(token) { return .float(d) }
    if token.count >= 8, token.contains(":") || token.dropFirst(4).first == "-" {
      return .datetime(token)
    }
    if token.isEmpty { throw fail("expected a value") }
    throw fail("'\(token)' is not a TOML value (quote strings: \"\(token)\")")
  }

  static func integer(_ token: String) -> Int64? {
    var t = Substring(token)
    var negative = false
    if t.hasPrefix("+") || t.hasPrefix("-") {
      negative = t.hasPrefix("-")
      t = t.dropFirst()
    }
    var radix = 10
    for (prefix, r) in [("0x", 16), ("0o", 8), ("0b", 2)] where t.hasPrefix(prefix) {
      radix = r
      t = t.dropFirst(2)
    }
    guard !t.isEmpty, t.first != "_", t.last != "_", !t.contains("__") else { return nil }
    let digits = t.replacingOccurrences(of: "_", with: "")
    if radix == 10 && digits.count > 1 && digits.hasPrefix("0") { return nil }
    guard let magnitude = UInt64(digits, radix: radix) else { return nil }
    if negative {
      return magnitude <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- magnitude) : nil
    }
    return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
  }

  static func float(_ token: String) -> Double? {
    switch token {
    case "inf", "+inf": return .infinity
    case "-inf": return -.infinity
    case "nan", "+nan", "-nan": return .nan
    default: break
    }
    guard !token.contains("__"), !token.hasPrefix("_"), !token.hasSuffix("_") else { return nil }
    let t = token.replacingOccurrences(of: "_", with: "")
    guard t.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }),
      t.allSatisfy({ $0.isNumber || "+-.eE".contains($0) })
    else { return nil }
    return Double(t)
  }
}
