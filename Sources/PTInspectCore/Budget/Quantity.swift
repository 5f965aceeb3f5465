// Quantity.swift: the numbers budgets are written in. Counts take K/M/B/G/T suffixes (steps of
// 1000; `B` is a billion), byte sizes take KB/MB/GB/TB (steps of 1000) or KiB/MiB/GiB/TiB (steps
// of 1024). `5.8M`, `6_000_000`, `6,000,000`, `25MB` and `1.5GiB` all parse; every problem has one
// exact message.

/// A budget rule, number or budget file that cannot be used: one line saying what is wrong.
package struct BudgetRuleError: Error, Equatable, Sendable, CustomStringConvertible {
  package var message: String
  package init(_ message: String) { self.message = message }
  package var description: String { message }
}

/// What a number measures.
package enum QuantityKind: String, Sendable, Codable {
  /// Parameters or elements.
  case count
  /// Bytes.
  case bytes
}

/// A growth limit against a baseline: a share of the baseline or an absolute amount.
package enum Growth: Sendable, Equatable {
  /// At most this percentage of the baseline's value (`5%`).
  case percent(Double)
  /// At most this much more than the baseline (`+1M`, `+2MB`).
  case absolute(Int64)
}

/// Parses counts, byte sizes and growth limits.
package enum Quantity {
  /// Count suffixes (steps of 1000). `B` is a billion (as model names say: 7B).
  static let countUnits: [String: UInt64] = [
    "": 1, "K": 1_000, "M": 1_000_000, "B": 1_000_000_000, "G": 1_000_000_000,
    "T": 1_000_000_000_000,
  ]
  /// Byte units: decimal (KB = 1000) and binary (KiB = 1024).
  static let byteUnits: [String: UInt64] = [
    "": 1, "B": 1, "KB": 1_000, "MB": 1_000_000, "GB": 1_000_000_000, "TB": 1_000_000_000_000,
    "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40,
  ]

  /// A parameter count: `5.8M`, `6_000_000`, `6,000,000`, `1.5B`, `20K`.
  package static func count(_ text: String) throws(BudgetRuleError) -> Int64 {
    let n = try number(text)
    let unit = n.unit.uppercased()
    if let multiplier = countUnits[unit] { return try scale(n, multiplier, text) }
    if byteUnits[unit] != nil { throw BudgetRuleError("'\(text)' is a byte size, not a count") }
    throw BudgetRuleError("'\(text)' is not a number: unknown unit '\(n.unit)'")
  }

  /// A byte size: `25MB` (25,000,000), `1.5GiB` (1,610,612,736), `4096`, `512B`.
  package static func bytes(_ text: String) throws(BudgetRuleError) -> Int64 {
    let n = try number(text)
    let unit = n.unit.uppercased()
    if let multiplier = byteUnits[unit] { return try scale(n, multiplier, text) }
    if countUnits[unit] != nil {
      throw BudgetRuleError(
        "'\(text)' is not a byte size: write \(n.digits)\(unit)B (10^\(decimalPower(unit)) bytes) or \(n.digits)\(unit)iB (2^\(binaryPower(unit)) bytes)"
      )
    }
    throw BudgetRuleError("'\(text)' is not a number: unknown unit '\(n.unit)'")
  }

  /// A count or a byte size, told apart by the unit: `20M` is a count, `20MB` and `20MiB` are
  /// bytes. `B` alone is a billion (a count).
  package static func countOrBytes(_ text: String) throws(BudgetRuleError) -> (
    value: Int64, kind: QuantityKind
  ) {
    let n = try number(text)
    let unit = n.unit.uppercased()
    if let multiplier = countUnits[unit] { return (try scale(n, multiplier, text), .count) }
    if let multiplier = byteUnits[unit] { return (try scale(n, multiplier, text), .bytes) }
    throw BudgetRuleError("'\(text)' is not a number: unknown unit '\(n.unit)'")
  }

  /// A growth limit: `5%` of the baseline, or an absolute amount (`+1M` parameters, `+2MB` bytes)
  /// read as `kind`. A leading `+` is optional.
  package static func growth(_ text: String, kind: QuantityKind) throws(BudgetRuleError) -> Growth {
    let trimmed = text.strippedBlanks()
    if trimmed.hasSuffix("%") {
      var body = String(trimmed.dropLast()).strippedBlanks()
      if body.hasPrefix("+") { body.removeFirst() }
      if body.hasPrefix("-") {
        throw BudgetRuleError("'\(text)' is negative: a limit must be 0 or more")
      }
      let n = try number(body, original: text)
      guard n.unit.isEmpty else {
        throw BudgetRuleError("'\(text)' is not a percentage: unexpected '\(n.unit)' before '%'")
      }
      guard let value = Double(n.digits) else {
        throw BudgetRuleError("'\(text)' is not a percentage")
      }
      return .percent(value)
    }
    return .absolute(kind == .count ? try count(text) : try bytes(text))
  }

  // MARK: parsing

  /// A number as written: its digits without separators (`5.8`) and its unit (`M`).
  struct Written {
    var integer: String
    var fraction: String
    var unit: String
    var digits: String { fraction.isEmpty ? integer : integer + "." + fraction }
  }

  static func number(_ text: String, original: String? = nil) throws(BudgetRuleError) -> Written {
    let shown = original ?? text
    var s = Substring(text.strippedBlanks())
    if s.isEmpty { throw BudgetRuleError("'\(shown)' is not a number: empty value") }
    if s.hasPrefix("-") {
      throw BudgetRuleError("'\(shown)' is negative: a limit must be 0 or more")
    }
    if s.hasPrefix("+") { s = s.dropFirst() }
    guard let first = s.first, first.isDigit09 else {
      throw BudgetRuleError(
        "'\(shown)' is not a number: it must start with a digit (e.g. 5.8M, 6_000_000, 25MB)")
    }
    var integer = ""
    var fraction = ""
    var inFraction = false
    var previous: Character = " "
    var index = s.startIndex
    while index < s.endIndex {
      let c = s[index]
      let next = s.index(after: index) < s.endIndex ? s[s.index(after: index)] : " "
      if c.isDigit09 {
        if inFraction { fraction.append(c) } else { integer.append(c) }
      } else if c == "_" || c == "," {
        guard previous.isDigit09, next.isDigit09 else {
          throw BudgetRuleError("'\(shown)' is not a number: misplaced '\(c)'")
        }
      } else if c == "." {
        guard !inFraction, previous.isDigit09, next.isDigit09 else {
          throw BudgetRuleError("'\(shown)' is not a number: misplaced '.'")
        }
        inFraction = true
      } else {
        break
      }
      previous = c
      index = s.index(after: index)
    }
    let unit = String(s[index...]).strippedBlanks()
    return Written(integer: integer, fraction: fraction, unit: unit)
  }

  /// The written number times `multiplier`, rounded to a whole number (half up). A number
  /// without a unit must be whole.
  static func scale(_ n: Written, _ multiplier: UInt64, _ text: String) throws(BudgetRuleError)
    -> Int64
  {
    let tooLarge = BudgetRuleError("'\(text)' is too large")
    let fraction = String(n.fraction.reversed().drop { $0 == "0" }.reversed())
    if multiplier == 1 && !fraction.isEmpty {
      throw BudgetRuleError("'\(text)' is not a whole number")
    }
    let digits = (n.integer + fraction).drop { $0 == "0" }
    guard digits.count <= 19, let mantissa = UInt64(digits.isEmpty ? "0" : String(digits)) else {
      throw tooLarge
    }
    guard fraction.count <= 19 else { throw tooLarge }
    var divisor: UInt64 = 1
    for _ in 0..<fraction.count { divisor *= 10 }
    let product = mantissa.multipliedFullWidth(by: multiplier)
    guard product.high < divisor else { throw tooLarge }
    let (quotient, remainder) = divisor.dividingFullWidth(product)
    let rounded = remainder >= divisor - remainder ? quotient &+ 1 : quotient
    guard rounded >= quotient, rounded <= UInt64(Int64.max) else { throw tooLarge }
    return Int64(rounded)
  }

  static func decimalPower(_ unit: String) -> Int {
    switch unit {
    case "K": 3
    case "M": 6
    case "G", "B": 9
    default: 12
    }
  }

  static func binaryPower(_ unit: String) -> Int {
    switch unit {
    case "K": 10
    case "M": 20
    case "G", "B": 30
    default: 40
    }
  }
}

extension Character {
  var isDigit09: Bool { isASCII && isNumber }
}

extension String {
  func strippedBlanks() -> String {
    var s = Substring(self)
    while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
    while let l = s.last, l == " " || l == "\t" { s.removeLast() }
    return String(s)
  }
}
