// ReportJSON.swift: the one JSON encoder for every report (summary, tensors, diff, scan, stats,
// budget), in both layouts: pretty (`--format json`) and compact one-line (`--format jsonl`).
// Foundation's encoder spends most of a large report's time in dynamic casts and key sorting;
// this one builds a small tree and writes it, and the high-volume rows write themselves.
// The contract it keeps:
// - keys are sorted (Swift's String order: byte order for ASCII keys) in both layouts;
// - an absent value is `null`, never a missing key: the keyed container's `encodeIfPresent`
//   writes `null`, so synthesized Codable keeps every key;
// - NaN, +Inf and -Inf are `null` (JSON has no literal for them);
// - doubles with an integral value below 1e15 keep a `.0` (`2.0`), integers never have one;
// - `/` is not escaped; control characters, `"` and `\` are.
// An error thrown while encoding is thrown to the caller; nothing is written in its place.

/// How a JSON document is laid out.
public enum JSONLayout: Sendable, Equatable {
  /// Two-space indent, one member per line, `"key" : value`, `[]` and `{}` when empty.
  case pretty
  /// One line without spaces: `{"a":1,"b":[1,2]}` (`--format jsonl`).
  case compact
}

/// Encodes any `Encodable` as JSON with sorted keys, `null` for absent and non-finite values.
public enum ReportJSON {
  /// `value` as one JSON document (without a trailing newline).
  public static func encode<T: Encodable>(_ value: T, layout: JSONLayout = .pretty) throws
    -> String
  {
    var w = JSONWriter(layout: layout, capacity: 1 << 16, sink: nil)
    try write(value, to: &w, rawRows: true)
    return String(decoding: w.bytes, as: UTF8.self)
  }

  /// Writes `value` and a newline through `sink` in chunks of about 64 KiB as it goes, so a large
  /// report never sits in memory as one string. A failure may come after some chunks went out.
  public static func stream<T: Encodable>(
    _ value: T, layout: JSONLayout = .pretty, to sink: @escaping ([UInt8]) -> Void
  ) throws {
    var w = JSONWriter(layout: layout, capacity: 1 << 17, sink: sink)
    try write(value, to: &w, rawRows: true)
    w.bytes.append(0x0A)
    w.flush()
  }

  /// With `rawRows` false every value goes through its Codable conformance, also the rows that
  /// write themselves (what the tests compare the rows with).
  static func write<T: Encodable>(_ value: T, to w: inout JSONWriter, rawRows: Bool) throws {
    try node(value, [], rawRows: rawRows).write(to: &w)
  }
}

/// The output buffer, the layout and the current depth. Containers are written through it, so a
/// row that writes itself (`JSONRawWritable`) lands at the right indent in either layout.
struct JSONWriter {
  var bytes: [UInt8] = []
  let pretty: Bool
  /// Spaces before a member of the container being written (pretty layout).
  private(set) var indent = 0
  private let sink: (([UInt8]) -> Void)?

  init(layout: JSONLayout, capacity: Int, sink: (([UInt8]) -> Void)?) {
    pretty = layout == .pretty
    bytes.reserveCapacity(capacity)
    self.sink = sink
  }

  /// `{` or `[`: members that follow are one level deeper.
  mutating func open(_ bracket: UInt8) {
    bytes.append(bracket)
    indent += 2
  }

  /// Before a member: a comma unless it is the first, then, pretty, a new line at the indent.
  mutating func member(first: Bool) {
    if !first { bytes.append(0x2C) }
    if pretty { newline() }
  }

  /// `}` or `]`, on its own line (pretty) unless the container is empty.
  mutating func close(_ bracket: UInt8, empty: Bool) {
    indent -= 2
    if pretty && !empty { newline() }
    bytes.append(bracket)
  }

  /// A newline and the indent.
  private mutating func newline() {
    bytes.append(0x0A)
    for _ in 0..<indent { bytes.append(0x20) }
  }

  /// `count` bytes at `start`. Most runs a report writes are a few bytes (keys, numbers,
  /// punctuation), for which appending byte by byte costs a tenth of a bulk append's set-up.
  @inline(__always)
  mutating func append(_ start: UnsafePointer<UInt8>, count: Int) {
    if count <= 24 {
      for k in 0..<count { bytes.append(start[k]) }
    } else {
      bytes.append(contentsOf: UnsafeBufferPointer(start: start, count: count))
    }
  }

  /// Bytes known at compile time.
  mutating func append(_ s: StaticString) {
    append(s.utf8Start, count: s.utf8CodeUnitCount)
  }

  /// A key, quoted, and its colon: `"key" : ` or `"key":`.
  mutating func key(_ key: String) {
    string(key)
    colon()
  }

  mutating func colon() { append(pretty ? " : " : ":") }

  mutating func null() { append("null") }

  mutating func bool(_ value: Bool) { append(value ? "true" : "false") }

  /// An integer's digits, written in place (no String).
  mutating func int(_ value: Int64) {
    if value < 0 { bytes.append(0x2D) }
    var magnitude = value.magnitude
    if magnitude < 10 { return bytes.append(0x30 &+ UInt8(magnitude)) }
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
      var i = digits.count
      while magnitude > 0 {
        i -= 1
        digits[i] = 0x30 &+ UInt8(magnitude % 10)
        magnitude /= 10
      }
      if let base = digits.baseAddress { append(base + i, count: digits.count - i) }
    }
  }

  /// `s` as a JSON string literal: one pass over its UTF-8 bytes, runs that need no escaping
  /// copied whole.
  mutating func string(_ s: String) {
    var text = s
    text.withUTF8 { utf8 in
      bytes.append(0x22)
      var run = 0
      for i in 0..<utf8.count {
        let byte = utf8[i]
        guard byte < 0x20 || byte == 0x22 || byte == 0x5C else { continue }
        if run < i, let base = utf8.baseAddress { append(base + run, count: i - run) }
        run = i + 1
        switch byte {
        case 0x22: bytes.append(contentsOf: [0x5C, 0x22])
        case 0x5C: bytes.append(contentsOf: [0x5C, 0x5C])
        case 0x0A: bytes.append(contentsOf: [0x5C, 0x6E])
        case 0x0D: bytes.append(contentsOf: [0x5C, 0x72])
        case 0x09: bytes.append(contentsOf: [0x5C, 0x74])
        default:
          let hex: StaticString = "0123456789abcdef"
          let digits = hex.utf8Start
          bytes.append(contentsOf: [
            0x5C, 0x75, 0x30, 0x30, digits[Int(byte >> 4)], digits[Int(byte & 0xF)],
          ])
        }
      }
      if run < utf8.count, let base = utf8.baseAddress {
        append(base + run, count: utf8.count - run)
      }
      bytes.append(0x22)
    }
  }

  /// Hands the bytes so far to the sink once there are 64 KiB of them.
  mutating func flushIfFull() {
    if sink != nil, bytes.count >= 1 << 16 { flush() }
  }

  mutating func flush() {
    guard let sink else { return }
    sink(bytes)
    bytes.removeAll(keepingCapacity: true)
  }
}

/// A node of the tree the encoder builds; containers are filled through nested containers,
/// so nodes are references.
final class JSONBox {
  enum Kind { case null, scalar, string, array, object, raw }
  var kind: Kind = .null
  var text = ""
  var items: [JSONBox] = []
  var keys: [String] = []
  /// A row that writes itself (`.raw`), written only when the tree is written.
  var raw: (any JSONRawWritable)?

  static func scalar(_ text: String) -> JSONBox {
    let b = JSONBox()
    b.kind = .scalar
    b.text = text
    return b
  }

  static func string(_ text: String) -> JSONBox {
    let b = JSONBox()
    b.kind = .string
    b.text = text
    return b
  }

  static func bool(_ value: Bool) -> JSONBox { .scalar(value ? "true" : "false") }

  /// A double: null when NaN or infinite, `2.0` when integral (below 1e15), else Swift's shortest
  /// round-tripping form (`0.1`, `1e-05`, `1e+20`).
  static func number(_ d: Double) -> JSONBox {
    guard d.isFinite else { return JSONBox() }
    if d == d.rounded(), abs(d) < 1e15 { return .scalar(String(Int64(d)) + ".0") }
    return .scalar("\(d)")
  }

  /// A float, in its own shortest form (`0.1`, not the double `0.10000000149011612`).
  static func number(_ f: Float) -> JSONBox {
    guard f.isFinite else { return JSONBox() }
    if f == f.rounded(), abs(f) < 1e15 { return .scalar(String(Int64(f)) + ".0") }
    return .scalar("\(f)")
  }

  // Synthesized Codable sets each key once, so no duplicate check.
  func set(_ key: String, _ value: JSONBox) {
    keys.append(key)
    items.append(value)
  }

  /// Gives this node `b`'s content (a single-value container filling its node).
  func take(_ b: JSONBox) {
    kind = b.kind
    text = b.text
    items = b.items
    keys = b.keys
    raw = b.raw
  }

  func write(to w: inout JSONWriter) throws {
    switch kind {
    case .null: w.null()
    case .scalar: w.bytes.append(contentsOf: text.utf8)
    case .string: w.string(text)
    case .raw: try raw?.writeJSON(to: &w)
    case .array:
      w.open(0x5B)
      for (i, item) in items.enumerated() {
        w.member(first: i == 0)
        try item.write(to: &w)
        w.flushIfFull()
      }
      w.close(0x5D, empty: items.isEmpty)
    case .object:
      w.open(0x7B)
      let order = keys.indices.sorted { keys[$0] < keys[$1] }
      for (n, i) in order.enumerated() {
        w.member(first: n == 0)
        w.key(keys[i])
        try items[i].write(to: &w)
      }
      w.close(0x7D, empty: items.isEmpty)
    }
  }
}

struct TreeEncoder: Encoder {
  let box: JSONBox
  var codingPath: [any CodingKey]
  /// Whether rows that write themselves do (false: through their Codable conformance).
  let rawRows: Bool
  var userInfo: [CodingUserInfoKey: Any] { [:] }

  func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
    if box.kind != .object {
      box.kind = .object
      box.items = []
      box.keys = []
    }
    return KeyedEncodingContainer(
      KeyedContainer<Key>(box: box, codingPath: codingPath, rawRows: rawRows))
  }

  func unkeyedContainer() -> any UnkeyedEncodingContainer {
    if box.kind != .array {
      box.kind = .array
      box.items = []
    }
    return UnkeyedContainer(box: box, codingPath: codingPath, rawRows: rawRows)
  }

  func singleValueContainer() -> any SingleValueEncodingContainer {
    SingleContainer(box: box, codingPath: codingPath, rawRows: rawRows)
  }
}

/// Encodes one value into a fresh node.
func node<T: Encodable>(_ value: T, _ path: [any CodingKey], rawRows: Bool) throws -> JSONBox {
  // Metadata comparisons, not dynamic casts: this runs for every array element.
  if T.self == Int64.self { return .scalar(String(unsafeBitCast(value, to: Int64.self))) }
  if T.self == String.self, let s = value as? String { return .string(s) }
  if T.self == Int.self { return .scalar(String(unsafeBitCast(value, to: Int.self))) }
  if T.self == Double.self { return .number(unsafeBitCast(value, to: Double.self)) }
  if T.self == Bool.self { return .bool(unsafeBitCast(value, to: Bool.self)) }
  if rawRows, let fast = value as? any JSONRawWritable {
    let b = JSONBox()
    b.kind = .raw
    b.raw = fast
    return b
  }
  let child = JSONBox()
  try value.encode(to: TreeEncoder(box: child, codingPath: path, rawRows: rawRows))
  return child
}

struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
  let box: JSONBox
  var codingPath: [any CodingKey]
  let rawRows: Bool

  mutating func encodeNil(forKey key: Key) throws { box.set(key.stringValue, JSONBox()) }
  mutating func encode(_ value: Bool, forKey key: Key) throws {
    box.set(key.stringValue, .bool(value))
  }
  mutating func encode(_ value: String, forKey key: Key) throws {
    box.set(key.stringValue, .string(value))
  }
  mutating func encode(_ value: Double, forKey key: Key) throws {
    box.set(key.stringValue, .number(value))
  }
  mutating func encode(_ value: Float, forKey key: Key) throws {
    box.set(key.stringValue, .number(value))
  }
  mutating func encode(_ value: Int, forKey key: Key) throws {
    box.set(key.stringValue, .scalar(String(value)))
  }
  mutating func encode(_ value: Int8, forKey key: Key) throws {
    box.set(key.stringValue, .scalar(String(value)))
  }
  mutating func encode(_ value: Int16, forKey key: Key) throws {
    box.set(key.stringValue, .scalar(String(value)))
  }
  mutating func encode(_ value: Int32, forKey key: Key) throws {
    box.set(key.stringValue, .scalar(String(value)))
  }
  mutating func encode(_ value: Int64, forKey key: Key) throws {
    box.set(key.stringValue, .scalar(String(value)))
  }
  mutating func encode(_ value: UInt, forKey key: Key) throws {
    box.set(key.stringValue, .scalar(String(value)))
  }
  mutating func encode(_ value: UInt8, forKey key: Key) throws {
    box.set(key.stringValue, .scalar(String(value)))
  }
  mutating func encode(_ value: UInt16, forKey key: Key) throws {
    box.set(key.stringValue, .scalar(String(value)))
  }
  mutating func encode(_ value: UInt32, forKey key: Key) throws {
    box.set(key.stringValue, .scalar(String(value)))
  }
  mutating func encode(_ value: UInt64, forKey key: Key) throws {
    box.set(key.stringValue, .scalar(String(value)))
  }
  mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
    box.set(key.stringValue, try node(value, codingPath + [key], rawRows: rawRows))
  }

  // Synthesized Codable calls these for optional properties; the default leaves the key out when
  // the value is nil. Here a nil is written as null, so a report's keys never depend on its data.
  mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws {
    guard let value else { return try encodeNil(forKey: key) }
    try encode(value, forKey: key)
  }
  mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws {
    guard let value else { return try encodeNil(forKey: key) }
    try encode(value, forKey: key)
  }
  mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws {
    guard let value else { return try encodeNil(forKey: key) }
    try encode(value, forKey: key)
  }
  mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws {
    guard let value else { return try encodeNil(forKey: key) }
    try encode(value, forKey: key)
  }
  mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws {
    guard let value else { return try encodeNil(forKey: key) }
    try encode(value, forKey: key)
  }
  mutating func encodeIfPresent(_ value: Int8?, forKey key: Key) throws {
    guard let value else { return try encodeNil(forKey: key) }
    try encode(value, forKey: key)
  }
  mutating func encodeIfPresent(_ value: Int16?, forKey key: Key) throws {
    guard let value else { return try encodeNil(forKey: key) }
    try encode(value, forKey: key)
  }
  mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws {
    guard let value else { return try encodeNil(forKey: key) }
    try encode(value, forKey: key)
  }
  mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws {
    guard let value else { return try encodeNil(forKey: key) }
    try encode(value, forKey: key)
  }
  mutating func encodeIfPresent(_ value: UInt?, forKey key: Key) throws {
    guard let value else { return try encodeNil(forKey: key) }
    try encode(value, forKey: key)
  }
  mutating func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws {
    guard let value else { return try encodeNil(forKey: key) }
    try encode(value, forKey: key)
  }
  mutating func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws {
    guard let value else { return try encodeNil(forKey: key) }
    try encode(value, forKey: key)
  }
  mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws {
    guard let value else { return try encodeNil(forKey: key) }
    try encode(value, forKey: key)
  }
  mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws {
    guard let value else { return try encodeNil(forKey: key) }
    try encode(value, forKey: key)
  }
  mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
    guard let value else { return try encodeNil(forKey: key) }
    try encode(value, forKey: key)
  }

  mutating func nestedContainer<NestedKey: CodingKey>(
    keyedBy keyType: NestedKey.Type, forKey key: Key
  )
    -> KeyedEncodingContainer<NestedKey>
  {
    let child = JSONBox()
    box.set(key.stringValue, child)
    return TreeEncoder(box: child, codingPath: codingPath + [key], rawRows: rawRows)
      .container(keyedBy: keyType)
  }
  mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
    let child = JSONBox()
    box.set(key.stringValue, child)
    return TreeEncoder(box: child, codingPath: codingPath + [key], rawRows: rawRows)
      .unkeyedContainer()
  }
  mutating func superEncoder() -> any Encoder {
    let child = JSONBox()
    box.set("super", child)
    return TreeEncoder(box: child, codingPath: codingPath, rawRows: rawRows)
  }
  mutating func superEncoder(forKey key: Key) -> any Encoder {
    let child = JSONBox()
    box.set(key.stringValue, child)
    return TreeEncoder(box: child, codingPath: codingPath + [key], rawRows: rawRows)
  }
}

struct UnkeyedContainer: UnkeyedEncodingContainer {
  let box: JSONBox
  var codingPath: [any CodingKey]
  let rawRows: Bool
  var count: Int { box.items.count }

  mutating func encodeNil() throws { box.items.append(JSONBox()) }
  mutating func encode(_ value: Bool) throws { box.items.append(.bool(value)) }
  mutating func encode(_ value: String) throws { box.items.append(.string(value)) }
  mutating func encode(_ value: Double) throws { box.items.append(.number(value)) }
  mutating func encode(_ value: Float) throws { box.items.append(.number(value)) }
  mutating func encode(_ value: Int) throws { box.items.append(.scalar(String(value))) }
  mutating func encode(_ value: Int64) throws { box.items.append(.scalar(String(value))) }
  mutating func encode<T: Encodable>(_ value: T) throws {
    box.items.append(try node(value, codingPath, rawRows: rawRows))
  }
  mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
    -> KeyedEncodingContainer<NestedKey>
  {
    let child = JSONBox()
    box.items.append(child)
    return TreeEncoder(box: child, codingPath: codingPath, rawRows: rawRows)
      .container(keyedBy: keyType)
  }
  mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
    let child = JSONBox()
    box.items.append(child)
    return TreeEncoder(box: child, codingPath: codingPath, rawRows: rawRows).unkeyedContainer()
  }
  mutating func superEncoder() -> any Encoder {
    let child = JSONBox()
    box.items.append(child)
    return TreeEncoder(box: child, codingPath: codingPath, rawRows: rawRows)
  }
}

struct SingleContainer: SingleValueEncodingContainer {
  let box: JSONBox
  var codingPath: [any CodingKey]
  let rawRows: Bool

  mutating func encodeNil() throws { box.take(JSONBox()) }
  mutating func encode(_ value: Bool) throws { box.take(.bool(value)) }
  mutating func encode(_ value: String) throws { box.take(.string(value)) }
  mutating func encode(_ value: Double) throws { box.take(.number(value)) }
  mutating func encode(_ value: Float) throws { box.take(.number(value)) }
  mutating func encode(_ value: Int) throws { box.take(.scalar(String(value))) }
  mutating func encode(_ value: Int64) throws { box.take(.scalar(String(value))) }
  mutating func encode(_ value: UInt64) throws { box.take(.scalar(String(value))) }
  mutating func encode<T: Encodable>(_ value: T) throws {
    box.take(try node(value, codingPath, rawRows: rawRows))
  }
}

/// A type that writes its own JSON through a `JSONWriter`, in either layout: the report's
/// high-volume rows, which the generic encoder would handle far slower. What it writes must equal
/// its Codable encoding (ReportJSONTests checks each).
protocol JSONRawWritable {
  func writeJSON(to w: inout JSONWriter) throws
}

/// Writes an object's members from pairs given in sorted key order.
struct JSONObjectWriter {
  private var first = true
  init(_ w: inout JSONWriter) { w.open(0x7B) }

  mutating func key(_ key: StaticString, _ w: inout JSONWriter) {
    w.member(first: first)
    first = false
    w.bytes.append(0x22)
    w.append(key)
    w.bytes.append(0x22)
    w.colon()
  }
  mutating func string(_ key: StaticString, _ value: String?, _ w: inout JSONWriter) {
    self.key(key, &w)
    if let value { w.string(value) } else { w.null() }
  }
  mutating func int(_ key: StaticString, _ value: Int64, _ w: inout JSONWriter) {
    self.key(key, &w)
    w.int(value)
  }
  mutating func bool(_ key: StaticString, _ value: Bool?, _ w: inout JSONWriter) {
    self.key(key, &w)
    if let value { w.bool(value) } else { w.null() }
  }
  mutating func ints(_ key: StaticString, _ values: [Int64], _ w: inout JSONWriter) {
    self.key(key, &w)
    w.open(0x5B)
    for (i, v) in values.enumerated() {
      w.member(first: i == 0)
      w.int(v)
    }
    w.close(0x5D, empty: values.isEmpty)
  }
  mutating func strings(_ key: StaticString, _ values: [String], _ w: inout JSONWriter) {
    self.key(key, &w)
    w.open(0x5B)
    for (i, v) in values.enumerated() {
      w.member(first: i == 0)
      w.string(v)
    }
    w.close(0x5D, empty: values.isEmpty)
  }
  /// Any other value (nil as null), through the generic encoder.
  mutating func value<T: Encodable>(_ key: StaticString, _ value: T?, _ w: inout JSONWriter) throws
  {
    self.key(key, &w)
    guard let value else { return w.null() }
    try node(value, [], rawRows: true).write(to: &w)
  }
  func end(_ w: inout JSONWriter) { w.close(0x7D, empty: first) }
}
