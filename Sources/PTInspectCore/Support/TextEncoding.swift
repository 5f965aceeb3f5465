// TextEncoding.swift: the text encodings Foundation gave the remote layer and the SARIF log and
// FoundationEssentials does not: percent-encoding and decoding (RFC 3986), whitespace trimming
// as Foundation's character sets define it, and HTTP dates (RFC 7231: IMF-fixdate, RFC 850 and
// asctime) for Retry-After; and a byte-wise UTF-8 prefix test.

/// Which bytes `percentEncoded` keeps as they are; every other byte of the UTF-8 becomes `%XX`.
package enum PercentEncoding {
  /// The RFC 3986 unreserved characters (ASCII letters and digits, `-._~`), and `/` when
  /// `keepSlash`: what Foundation's `.alphanumerics` restricted to ASCII plus those gave.
  case unreserved(keepSlash: Bool)
  /// Foundation's `.urlPathAllowed` without `:` (a relative path that cannot read as a scheme).
  case pathWithoutColon

  func keeps(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
      UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
      UInt8(ascii: "_"), UInt8(ascii: "~"):
      return true
    case UInt8(ascii: "/"):
      if case .unreserved(let keepSlash) = self { return keepSlash }
      return true
    default:
      guard case .pathWithoutColon = self else { return false }
      return Array("!$&'()*+,=@".utf8).contains(byte)
    }
  }
}

/// Foundation's two whitespace character sets.
package enum Whitespace: Sendable {
  /// Unicode spaces (Zs) and tabs.
  case whitespaces
  /// Those, Unicode line and paragraph separators, U+000A to U+000D and U+0085.
  case whitespacesAndNewlines
}

extension StringProtocol {
  /// `self` percent-encoded byte by byte (upper-case hex), keeping what `kept` keeps: the text
  /// Foundation's `addingPercentEncoding(withAllowedCharacters:)` wrote with those sets.
  package func percentEncoded(keeping kept: PercentEncoding) -> String {
    let hex = Array("0123456789ABCDEF".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(utf8.count)
    for byte in utf8 {
      if kept.keeps(byte) {
        out.append(byte)
      } else {
        out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
      }
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// `self` with every `%XX` decoded, or nil when a `%` is not followed by two hex digits or
  /// the bytes are not UTF-8 (as Foundation's `removingPercentEncoding`).
  package var percentDecoded: String? {
    var out: [UInt8] = []
    var bytes = utf8.makeIterator()
    func hexValue(_ b: UInt8?) -> UInt8? {
      switch b {
      case .some(let b) where b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"):
        return b - UInt8(ascii: "0")
      case .some(let b) where b >= UInt8(ascii: "a") && b <= UInt8(ascii: "f"):
        return b - UInt8(ascii: "a") + 10
      case .some(let b) where b >= UInt8(ascii: "A") && b <= UInt8(ascii: "F"):
        return b - UInt8(ascii: "A") + 10
      default: return nil
      }
    }
    while let byte = bytes.next() {
      guard byte == UInt8(ascii: "%") else {
        out.append(byte)
        continue
      }
      guard let high = hexValue(bytes.next()), let low = hexValue(bytes.next()) else { return nil }
      out.append(high << 4 | low)
    }
    return String(validating: out, as: UTF8.self)
  }

  /// `self` without the characters of `set` at either end, compared by Unicode scalar (as
  /// Foundation's `trimmingCharacters(in:)` with `.whitespaces` or `.whitespacesAndNewlines`).
  package func trimming(_ set: Whitespace) -> String {
    switch set {
    case .whitespaces: trimmingScalars(where: Self.isWhitespace)
    case .whitespacesAndNewlines: trimmingScalars { Self.isWhitespace($0) || Self.isNewline($0) }
    }
  }

  private static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
    s == "\t" || s.properties.generalCategory == .spaceSeparator
  }

  private static func isNewline(_ s: Unicode.Scalar) -> Bool {
    (0x0A...0x0D).contains(s.value) || s.value == 0x85
      || s.properties.generalCategory == .lineSeparator
      || s.properties.generalCategory == .paragraphSeparator
  }

  private func trimmingScalars(where trimmed: (Unicode.Scalar) -> Bool) -> String {
    let scalars = unicodeScalars
    guard let first = scalars.firstIndex(where: { !trimmed($0) }),
      let last = scalars.lastIndex(where: { !trimmed($0) })
    else { return "" }
    return String(String.UnicodeScalarView(scalars[first...last]))
  }
}

/// HTTP dates (RFC 7231 section 7.1.1.1), as seconds since 1970.
package enum HTTPDate {
  private static let months = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
  ]

  /// The time of `text` in any of the three forms a recipient must accept, or nil:
  /// IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`, RFC 850 `Sunday, 06-Nov-94 08:49:37 GMT`
  /// (a two-digit year is 1970-2069) and asctime `Sun Nov  6 08:49:37 1994`. The day name is
  /// not checked against the date; the zone must be GMT (or UTC, UT, Z); a single-digit day is
  /// accepted in every form.
  package static func parse(_ text: String) -> Double? {
    let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
    var day: Int?
    var month: Int?
    var year: Int?
    var time: (hour: Int, minute: Int, second: Int)?
    if words.count == 6, words[0].hasSuffix(",") {  // IMF-fixdate
      guard isZone(words[5]) else { return nil }
      (day, month, year, time) = (
        Int(words[1]), monthNumber(words[2]), Int(words[3]), clock(words[4])
      )
      if words[3].count != 4 { return nil }
    } else if words.count == 4, words[0].hasSuffix(",") {  // RFC 850
      guard isZone(words[3]) else { return nil }
      let parts = words[1].split(separator: "-", omittingEmptySubsequences: false)
      guard parts.count == 3, parts[2].count == 2, let yy = Int(parts[2]) else { return nil }
      (day, month, year, time) = (
        Int(parts[0]), monthNumber(String(parts[1])), yy < 70 ? 2000 + yy : 1900 + yy,
        clock(words[2])
      )
    } else if words.count == 5, !words[0].hasSuffix(",") {  // asctime
      (day, month, year, time) = (
        Int(words[2]), monthNumber(words[1]), Int(words[4]), clock(words[3])
      )
      if words[4].count != 4 { return nil }
    }
    guard let day, let month, let year, let time,
      day >= 1, day <= daysIn(month: month, year: year), time.hour <= 23, time.minute <= 59,
      time.second <= 60
    else { return nil }
    return Double(
      daysSince1970(year: year, month: month, day: day) * 86_400 + time.hour * 3600
        + time.minute * 60 + time.second)
  }

  private static func daysIn(month: Int, year: Int) -> Int {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
  }

  private static func isZone(_ word: String) -> Bool {
    ["gmt", "utc", "ut", "z"].contains(word.lowercased())
  }

  private static func monthNumber(_ word: String) -> Int? {
    months.firstIndex(of: word.lowercased()).map { $0 + 1 }
  }

  /// `HH:MM:SS` with two digits each.
  private static func clock(_ word: String) -> (hour: Int, minute: Int, second: Int)? {
    let parts = word.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count == 3, parts.allSatisfy({ $0.count == 2 }),
      let h = Int(parts[0]), let m = Int(parts[1]), let s = Int(parts[2])
    else { return nil }
    return (h, m, s)
  }

  /// Days from 1970-01-01 to the date in the proleptic Gregorian calendar.
  static func daysSince1970(year: Int, month: Int, day: Int) -> Int {
    // Howard Hinnant's days_from_civil.
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yearOfEra = y - era * 400
    let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    return era * 146_097 + dayOfEra - 719_468
  }
}

extension String {
  /// Whether this string's UTF-8 bytes from byte `offset` on begin with `prefix`'s: one byte
  /// comparison over contiguous storage (native strings), not a Character-wise walk.
  func utf8HasPrefix(_ prefix: String, at offset: Int = 0) -> Bool {
    let fast = utf8.withContiguousStorageIfAvailable { name in
      prefix.utf8.withContiguousStorageIfAvailable { p in
        offset >= 0 && name.count - offset >= p.count
          && UnsafeBufferPointer(rebasing: name[offset..<offset + p.count]).elementsEqual(p)
      }
    }
    if let fast, let result = fast { return result }
    return utf8.dropFirst(offset).starts(with: prefix.utf8)
  }
}
