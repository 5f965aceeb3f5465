// JSONOutput.swift: a small Codable encoder for reports. Foundation's JSONEncoder spends most of
// a large report's time in dynamic casts and key sorting; this one writes the same JSON (sorted
// keys, two-space indent, no escaped slashes) several times faster. Non-finite numbers are null.

/// Encodes any `Encodable` as pretty-printed JSON with sorted keys.
public enum JSONOutput {
  public static func encode<T: Encodable>(_ value: T) -> String {
    var out: [UInt8] = []
    out.reserveCapacity(1 << 16)
    write(value, into: &out, flush: nil)
    return String(decoding: out, as: UTF8.self)
  }

  /// Writes `value` and a newline through `sink` in chunks of about 64 KiB as it goes, so a large
  /// report never sits in memory as one string.
  public static func stream<T: Encodable>(_ value: T, to sink: @escaping ([UInt8]) -> Void) {
    var out: [UInt8] = []
    out.reserveCapacity(1 << 17)
    let flush: (inout [UInt8]) -> Void = { buffer in
      sink(buffer)
      buffer.removeAll(keepingCapacity: true)
    }
    write(value, into: &out, flush: flush)
    out.append(0x0A)
    flush(&out)
  }

  static func write<T: Encodable>(_ value: T, into out: inout [UInt8], flush: ((inout [UInt8]) -> Void)?) {
    let root = JSONBox()
    do {
      try value.encode(to: TreeEncoder(box: root, codingPath: []))
    } catch {
      out.append(contentsOf: "{}".utf8)
      return
    }
    root.write(into: &out, indent: 0, flush: flush)
  }

  /// A JSON string literal for `s`.
  public static func quote(_ s: String) -> String {
    var out: [UInt8] = []
    JSONBox.writeString(s, into: &out)
    return String(decoding: out, as: UTF8.self)
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
  /// A row that renders itself (`.raw`), written only when the tree is written.
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

  static func number(_ d: Double) -> JSONBox {
    guard d.isFinite else { return JSONBox() }
    if d == d.rounded(), abs(d) < 1e15 { return .scalar(String(Int64(d)) + ".0") }
    return .scalar("\(d)")
  }

  // Synthesized Codable sets each key once, so no duplicate check.
  func set(_ key: String, _ value: JSONBox) {
    keys.append(key)
    items.append(value)
  }

  static func writeString(_ s: String, into out: inout [UInt8]) {
    out.append(0x22)
    // Most strings need no escaping: append their bytes whole.
    if !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
      out.append(contentsOf: s.utf8)
      out.append(0x22)
      return
    }
    for byte in s.utf8 {
      switch byte {
      case 0x22: out.append(contentsOf: [0x5C, 0x22])
      case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
      case 0x0A: out.append(contentsOf: [0x5C, 0x6E])
      case 0x0D: out.append(contentsOf: [0x5C, 0x72])
      case 0x09: out.append(contentsOf: [0x5C, 0x74])
      case 0..<0x20:
        let hex = Array("0123456789abcdef".utf8)
        out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
      default: out.append(byte)
      }
    }
    out.append(0x22)
  }

  static func pad(_ indent: Int, into out: inout [UInt8]) {
    out.append(contentsOf: repeatElement(0x20, count: indent))
  }

  func write(into out: inout [UInt8], indent: Int, flush: ((inout [UInt8]) -> Void)? = nil) {
    switch kind {
    case .null: out.append(contentsOf: "null".utf8)
    case .scalar: out.append(contentsOf: text.utf8)
    case .string: JSONBox.writeString(text, into: &out)
    case .raw:
      // Render the row, then re-indent its lines to this depth.
      var bytes: [UInt8] = []
      raw?.writeJSON(into: &bytes)
      var start = 0
      while let nl = bytes[start...].firstIndex(of: 0x0A) {
        out.append(contentsOf: bytes[start...nl])
        JSONBox.pad(indent, into: &out)
        start = nl + 1
      }
      out.append(contentsOf: bytes[start...])
    case .array:
      if items.isEmpty {
        out.append(contentsOf: [0x5B, 0x5D])
        return
      }
      out.append(contentsOf: [0x5B, 0x0A])
      for (i, item) in items.enumerated() {
        JSONBox.pad(indent + 2, into: &out)
        item.write(into: &out, indent: indent + 2, flush: flush)
        if i < items.count - 1 { out.append(0x2C) }
        out.append(0x0A)
        if let flush, out.count >= 1 << 16 { flush(&out) }
      }
      JSONBox.pad(indent, into: &out)
      out.append(0x5D)
    case .object:
      if items.isEmpty {
        out.append(contentsOf: [0x7B, 0x7D])
        return
      }
      out.append(contentsOf: [0x7B, 0x0A])
      let order = keys.indices.sorted { keys[$0] < keys[$1] }
      for (n, i) in order.enumerated() {
        JSONBox.pad(indent + 2, into: &out)
        JSONBox.writeString(keys[i], into: &out)
        out.append(contentsOf: [0x20, 0x3A, 0x20])
        items[i].write(into: &out, indent: indent + 2, flush: flush)
        if n < order.count - 1 { out.append(0x2C) }
        out.append(0x0A)
      }
      JSONBox.pad(indent, into: &out)
      out.append(0x7D)
    }
  }
}

struct TreeEncoder: Encoder {
  let box: JSONBox
  var codingPath: [any CodingKey]
  var userInfo: [CodingUserInfoKey: Any] { [:] }

  func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
    if box.kind != .object {
      box.kind = .object
      box.items = []
      box.keys = []
    }
    return KeyedEncodingContainer(KeyedContainer<Key>(box: box, codingPath: codingPath))
  }

  func unkeyedContainer() -> any UnkeyedEncodingContainer {
    if box.kind != .array {
      box.kind = .array
      box.items = []
    }
    return UnkeyedContainer(box: box, codingPath: codingPath)
  }

  func singleValueContainer() -> any SingleValueEncodingContainer {
    SingleContainer(box: box, codingPath: codingPath)
  }
}

/// Encodes one value into a fresh node.
private func node<T: Encodable>(_ value: T, _ path: [any CodingKey]) throws -> JSONBox {
  // Metadata comparisons, not dynamic casts: this runs for every array element.
  if T.self == Int64.self { return .scalar(String(unsafeBitCast(value, to: Int64.self))) }
  if T.self == String.self, let s = value as? String { return .string(s) }
  if T.self == Int.self { return .scalar(String(unsafeBitCast(value, to: Int.self))) }
  if T.self == Double.self { return .number(unsafeBitCast(value, to: Double.self)) }
  if T.self == Bool.self { return .scalar(unsafeBitCast(value, to: Bool.self) ? "true" : "false") }
  if let fast = value as? any JSONRawWritable {
    let b = JSONBox()
    b.kind = .raw
    b.raw = fast
    return b
  }
  let child = JSONBox()
  try value.encode(to: TreeEncoder(box: child, codingPath: path))
  return child
}

struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
  let box: JSONBox
  var codingPath: [any CodingKey]

  mutating func encodeNil(forKey key: Key) throws { box.set(key.stringValue, JSONBox()) }
  mutating func encode(_ value: Bool, forKey key: Key) throws {
    box.set(key.stringValue, .scalar(value ? "true" : "false"))
  }
  mutating func encode(_ value: String, forKey key: Key) throws {
    box.set(key.stringValue, .string(value))
  }
  mutating func encode(_ value: Double, forKey key: Key) throws {
    box.set(key.stringValue, .number(value))
  }
  mutating func encode(_ value: Float, forKey key: Key) throws {
    box.set(key.stringValue, .number(Double(value)))
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
    box.set(key.stringValue, try node(value, codingPath + [key]))
  }
  mutating func nestedContainer<NestedKey: CodingKey>(
    keyedBy keyType: NestedKey.Type, forKey key: Key
  )
    -> KeyedEncodingContainer<NestedKey>
  {
    let child = JSONBox()
    box.set(key.stringValue, child)
    return TreeEncoder(box: child, codingPath: codingPath + [key]).container(keyedBy: keyType)
  }
  mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
    let child = JSONBox()
    box.set(key.stringValue, child)
    return TreeEncoder(box: child, codingPath: codingPath + [key]).unkeyedContainer()
  }
  mutating func superEncoder() -> any Encoder {
    let child = JSONBox()
    box.set("super", child)
    return TreeEncoder(box: child, codingPath: codingPath)
  }
  mutating func superEncoder(forKey key: Key) -> any Encoder {
    let child = JSONBox()
    box.set(key.stringValue, child)
    return TreeEncoder(box: child, codingPath: codingPath + [key])
  }
}

struct UnkeyedContainer: UnkeyedEncodingContainer {
  let box: JSONBox
  var codingPath: [any CodingKey]
  var count: Int { box.items.count }

  mutating func encodeNil() throws { box.items.append(JSONBox()) }
  mutating func encode(_ value: Bool) throws { box.items.append(.scalar(value ? "true" : "false")) }
  mutating func encode(_ value: String) throws { box.items.append(.string(value)) }
  mutating func encode(_ value: Double) throws { box.items.append(.number(value)) }
  mutating func encode(_ value: Int) throws { box.items.append(.scalar(String(value))) }
  mutating func encode(_ value: Int64) throws { box.items.append(.scalar(String(value))) }
  mutating func encode<T: Encodable>(_ value: T) throws {
    box.items.append(try node(value, codingPath))
  }
  mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
    -> KeyedEncodingContainer<NestedKey>
  {
    let child = JSONBox()
    box.items.append(child)
    return TreeEncoder(box: child, codingPath: codingPath).container(keyedBy: keyType)
  }
  mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
    let child = JSONBox()
    box.items.append(child)
    return TreeEncoder(box: child, codingPath: codingPath).unkeyedContainer()
  }
  mutating func superEncoder() -> any Encoder {
    let child = JSONBox()
    box.items.append(child)
    return TreeEncoder(box: child, codingPath: codingPath)
  }
}

struct SingleContainer: SingleValueEncodingContainer {
  let box: JSONBox
  var codingPath: [any CodingKey]

  private func take(_ b: JSONBox) {
    box.kind = b.kind
    box.text = b.text
    box.items = b.items
    box.keys = b.keys
  }
  mutating func encodeNil() throws { take(JSONBox()) }
  mutating func encode(_ value: Bool) throws { take(.scalar(value ? "true" : "false")) }
  mutating func encode(_ value: String) throws { take(.string(value)) }
  mutating func encode(_ value: Double) throws { take(.number(value)) }
  mutating func encode(_ value: Float) throws { take(.number(Double(value))) }
  mutating func encode(_ value: Int) throws { take(.scalar(String(value))) }
  mutating func encode(_ value: Int64) throws { take(.scalar(String(value))) }
  mutating func encode(_ value: UInt64) throws { take(.scalar(String(value))) }
  mutating func encode<T: Encodable>(_ value: T) throws { take(try node(value, codingPath)) }
}

/// A type that writes its own JSON (sorted keys, two-space indent from column 0): the report's
/// high-volume rows, which the generic encoder would handle far slower.
protocol JSONRawWritable {
  func writeJSON(into out: inout [UInt8])
}

/// Writes `{ "key" : value, ... }` from pairs given in sorted key order.
struct JSONObjectWriter {
  private var first = true
  init(_ out: inout [UInt8]) { out.append(contentsOf: [0x7B, 0x0A]) }

  mutating func key(_ key: StaticString, _ out: inout [UInt8]) {
    if !first { out.append(contentsOf: [0x2C, 0x0A]) }
    first = false
    out.append(contentsOf: [0x20, 0x20, 0x22])
    out.append(contentsOf: UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
    out.append(contentsOf: [0x22, 0x20, 0x3A, 0x20])
  }
  mutating func string(_ key: StaticString, _ value: String?, _ out: inout [UInt8]) {
    self.key(key, &out)
    if let value {
      JSONBox.writeString(value, into: &out)
    } else {
      out.append(contentsOf: "null".utf8)
    }
  }
  mutating func int(_ key: StaticString, _ value: Int64, _ out: inout [UInt8]) {
    self.key(key, &out)
    out.append(contentsOf: String(value).utf8)
  }
  mutating func bool(_ key: StaticString, _ value: Bool?, _ out: inout [UInt8]) {
    self.key(key, &out)
    out.append(contentsOf: (value.map { $0 ? "true" : "false" } ?? "null").utf8)
  }
  mutating func ints(_ key: StaticString, _ values: [Int64], _ out: inout [UInt8]) {
    self.key(key, &out)
    if values.isEmpty {
      out.append(contentsOf: [0x5B, 0x5D])
      return
    }
    out.append(contentsOf: [0x5B, 0x0A])
    for (i, v) in values.enumerated() {
      out.append(contentsOf: [0x20, 0x20, 0x20, 0x20])
      out.append(contentsOf: String(v).utf8)
      if i < values.count - 1 { out.append(0x2C) }
      out.append(0x0A)
    }
    out.append(contentsOf: [0x20, 0x20, 0x5D])
  }
  mutating func strings(_ key: StaticString, _ values: [String], _ out: inout [UInt8]) {
    self.key(key, &out)
    if values.isEmpty {
      out.append(contentsOf: [0x5B, 0x5D])
      return
    }
    out.append(contentsOf: [0x5B, 0x0A])
    for (i, v) in values.enumerated() {
      out.append(contentsOf: [0x20, 0x20, 0x20, 0x20])
      JSONBox.writeString(v, into: &out)
      if i < values.count - 1 { out.append(0x2C) }
      out.append(0x0A)
    }
    out.append(contentsOf: [0x20, 0x20, 0x5D])
  }
  /// Any other value, through the generic encoder, indented one level.
  mutating func value<T: Encodable>(_ key: StaticString, _ value: T, _ out: inout [UInt8]) {
    self.key(key, &out)
    let root = JSONBox()
    if (try? value.encode(to: TreeEncoder(box: root, codingPath: []))) == nil { root.kind = .null }
    root.write(into: &out, indent: 2)
  }
  func end(_ out: inout [UInt8]) { out.append(contentsOf: [0x0A, 0x7D]) }
}
