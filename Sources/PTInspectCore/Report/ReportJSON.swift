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

  /// Writes `value` and a newline through `sink` in chunks of about 1 MiB as it goes, so a large
  /// report never sits in memory as one string. A failure may come after some chunks went out.
  public static func stream<T: Encodable>(
    _ value: T, layout: JSONLayout = .pretty, to sink: @escaping ([UInt8]) -> Void
  ) throws {
    var w = JSONWriter(layout: layout, capacity: JSONWriter.flushSize + (1 << 16), sink: sink)
    try write(value, to: &w, rawRows: true)
    w.append("\n")
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
/// The bytes live in one growable buffer of its own (no Array appends); a member's comma, newline
/// and indent are one copy from a precomputed run, and short runs are copied by words, not
/// through memcpy.
struct JSONWriter: ~Copyable {
  /// `count` bytes written, of room for `capacity`.
  private var base: UnsafeMutableRawPointer
  private(set) var count = 0
  private var capacity: Int
  let pretty: Bool
  /// Spaces before a member of the container being written (pretty layout).
  private(set) var indent = 0
  /// `,` `\n` and `runSpaces` spaces (and 16 more, read past by block copies): what goes before
  /// a member, taken whole.
  private let run: UnsafeMutableRawPointer
  private static let runSpaces = 254
  private let sink: (([UInt8]) -> Void)?
  /// The objects seen so far that write themselves by their keys, at their indent (at most
  /// `maxTemplates`).
  private var templates: [JSONTemplate] = []
  private static let maxTemplates = 16
  /// What `flushIfFull` hands to the sink at a time.
  static let flushSize = 1 << 20

  init(layout: JSONLayout, capacity: Int, sink: (([UInt8]) -> Void)?) {
    pretty = layout == .pretty
    self.capacity = max(capacity, 4096)
    base = .allocate(byteCount: self.capacity, alignment: 16)
    run = .allocate(byteCount: Self.runSpaces + 2 + 16, alignment: 16)
    run.initializeMemory(as: UInt8.self, repeating: 0x20, count: Self.runSpaces + 2 + 16)
    run.storeBytes(of: 0x2C, as: UInt8.self)
    run.storeBytes(of: 0x0A, toByteOffset: 1, as: UInt8.self)
    self.sink = sink
  }

  deinit {
    base.deallocate()
    run.deallocate()
    for t in templates { t.deallocate() }
  }

  /// The bytes written and not yet handed to the sink.
  var bytes: [UInt8] {
    Array(UnsafeRawBufferPointer(start: base, count: count))
  }

  /// Room for `n` more bytes: the unchecked `put`s below may then write that many.
  @inline(__always)
  mutating func reserve(_ n: Int) {
    if capacity &- count < n { grow(n) }
  }

  @inline(never)
  private mutating func grow(_ n: Int) {
    var newCapacity = capacity &* 2
    while newCapacity &- count < n { newCapacity &*= 2 }
    let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
    grown.copyMemory(from: base, byteCount: count)
    base.deallocate()
    base = grown
    capacity = newCapacity
  }

  /// One byte, within what was reserved.
  @inline(__always)
  mutating func put(_ byte: UInt8) {
    base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
    count &+= 1
  }

  /// Two, four bytes (in memory order: the low byte first), within what was reserved.
  @inline(__always)
  private mutating func put16(_ bytes: UInt16) {
    base.storeBytes(of: bytes, toByteOffset: count, as: UInt16.self)
    count &+= 2
  }

  @inline(__always)
  private mutating func put32(_ bytes: UInt32) {
    base.storeBytes(of: bytes, toByteOffset: count, as: UInt32.self)
    count &+= 4
  }

  /// `n` bytes at `start`, within what was reserved.
  @inline(__always)
  mutating func put(_ start: UnsafeRawPointer, _ n: Int) {
    Self.copy(base + count, start, n)
    count &+= n
  }

  /// Copies `n` bytes, reading and writing only those: words for short runs, memcpy for long.
  @inline(__always)
  private static func copy(_ to: UnsafeMutableRawPointer, _ from: UnsafeRawPointer, _ n: Int) {
    if n >= 8 {
      if n > 64 { return to.copyMemory(from: from, byteCount: n) }
      var i = 0
      while i &+ 8 < n {
        to.storeBytes(
          of: from.loadUnaligned(fromByteOffset: i, as: UInt64.self), toByteOffset: i,
          as: UInt64.self)
        i &+= 8
      }
      to.storeBytes(
        of: from.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self), toByteOffset: n &- 8,
        as: UInt64.self)
    } else if n >= 4 {
      let head = from.loadUnaligned(as: UInt32.self)
      let tail = from.loadUnaligned(fromByteOffset: n &- 4, as: UInt32.self)
      to.storeBytes(of: head, as: UInt32.self)
      to.storeBytes(of: tail, toByteOffset: n &- 4, as: UInt32.self)
    } else if n > 0 {
      let head = from.load(as: UInt8.self)
      let middle = from.load(fromByteOffset: n >> 1, as: UInt8.self)
      let tail = from.load(fromByteOffset: n &- 1, as: UInt8.self)
      to.storeBytes(of: head, as: UInt8.self)
      to.storeBytes(of: middle, toByteOffset: n >> 1, as: UInt8.self)
      to.storeBytes(of: tail, toByteOffset: n &- 1, as: UInt8.self)
    }
  }

  /// `count` bytes at `start`.
  @inline(__always)
  mutating func append(_ start: UnsafePointer<UInt8>, count n: Int) {
    reserve(n)
    put(start, n)
  }

  /// Bytes known at compile time.
  @inline(__always)
  mutating func append(_ s: StaticString) {
    append(s.utf8Start, count: s.utf8CodeUnitCount)
  }

  /// A string's bytes as they are (a number's text).
  mutating func appendVerbatim(_ s: String) {
    var text = s
    text.withUTF8 { utf8 in
      if let start = utf8.baseAddress { append(start, count: utf8.count) }
    }
  }

  /// `{` or `[`: members that follow are one level deeper.
  @inline(__always)
  mutating func open(_ bracket: UInt8) {
    reserve(1)
    put(bracket)
    indent &+= 2
  }

  /// The run before a member, within what was reserved (`indent` + 18 bytes): a comma unless
  /// it is the first, then, pretty, a new line at the indent.
  @inline(__always)
  private mutating func separator(first: Bool) {
    if pretty {
      if indent <= Self.runSpaces {
        // Copied in 16-byte blocks: the run has 16 bytes of spaces after its end, the buffer
        // the room reserved, and `count` moves by the run's length.
        let skip = first ? 1 : 0
        appendPadded(UnsafeRawPointer(run + skip), 2 &+ indent &- skip)
      } else {
        if !first { put(0x2C) }
        newline()
      }
    } else if !first {
      put(0x2C)
    }
  }

  /// Before a member: a comma unless it is the first, then, pretty, a new line at the indent.
  @inline(__always)
  mutating func member(first: Bool) {
    reserve(indent &+ 18)
    separator(first: first)
  }

  /// `}` or `]`, on its own line (pretty) unless the container is empty.
  @inline(__always)
  mutating func close(_ bracket: UInt8, empty: Bool) {
    indent &-= 2
    reserve(indent &+ 18)
    if pretty && !empty { separator(first: true) }
    put(bracket)
  }

  /// A newline and the indent, within what was reserved.
  private mutating func newline() {
    put(0x0A)
    (base + count).initializeMemory(as: UInt8.self, repeating: 0x20, count: indent)
    count &+= indent
  }

  /// The template of the objects whose first key is `key`, at the current indent.
  func template(first key: UnsafeRawPointer) -> JSONTemplate? {
    for t in templates where t.keys[0] == key && t.indent == indent { return t }
    return nil
  }

  /// Keeps a template for the objects with these keys (in their order) at the current indent.
  mutating func addTemplate(_ keys: [StaticString]) {
    guard !keys.isEmpty, templates.count < Self.maxTemplates,
      template(first: UnsafeRawPointer(keys[0].utf8Start)) == nil
    else { return }
    var bytes: [UInt8] = []
    var offsets = [0]
    for (i, key) in keys.enumerated() {
      if i > 0 { bytes.append(0x2C) }
      if pretty {
        bytes.append(0x0A)
        bytes += repeatElement(0x20, count: indent)
      }
      bytes.append(0x22)
      bytes += UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount)
      bytes += pretty ? [0x22, 0x20, 0x3A, 0x20] : [0x22, 0x3A]
      offsets.append(bytes.count)
    }
    templates.append(
      JSONTemplate(
        keys: keys.map { UnsafeRawPointer($0.utf8Start) }, indent: indent,
        offsets: offsets, bytes: bytes))
  }

  /// What goes before member `m` of an object written by `t`.
  @inline(__always)
  mutating func gap(_ t: JSONTemplate, _ m: Int) {
    let start = t.offsets[m]
    let n = t.offsets[m &+ 1] &- start
    reserve(n &+ 16)
    // The template's bytes are padded, the buffer has the room.
    appendPadded(UnsafeRawPointer(t.bytes + start), n)
  }

  /// Appends `n` bytes from `from` in 16-byte blocks: the source has at least 16 readable bytes
  /// past `n` and the buffer the room reserved for them (the extra bytes are written over later).
  private mutating func appendPadded(_ from: UnsafeRawPointer, _ n: Int) {
    let to = base + count
    var i = 0
    repeat {
      to.storeBytes(
        of: from.loadUnaligned(fromByteOffset: i, as: SIMD16<UInt8>.self), toByteOffset: i,
        as: SIMD16<UInt8>.self)
      i &+= 16
    } while i < n
    count &+= n
  }

  /// Before an object's member: `member(first:)`, then the key, quoted, and its colon.
  @inline(__always)
  mutating func memberKey(first: Bool, _ key: StaticString) {
    let n = key.utf8CodeUnitCount
    reserve(indent &+ n &+ 24)
    separator(first: first)
    put(0x22)
    put(key.utf8Start, n)
    if pretty { put32(0x203A_2022) } else { put16(0x3A22) }  // `" : ` or `":`
  }

  /// A key, quoted, and its colon: `"key" : ` or `"key":`.
  mutating func key(_ key: String) {
    string(key)
    colon()
  }

  mutating func colon() { append(pretty ? " : " : ":") }

  @inline(__always)
  mutating func null() {
    reserve(4)
    put32(0x6C6C_756E)  // null
  }

  @inline(__always)
  mutating func bool(_ value: Bool) {
    reserve(5)
    if value {
      put32(0x6575_7274)  // true
    } else {
      put32(0x736C_6166)  // fals
      put(0x65)
    }
  }

  /// An integer's digits, written in place (no String).
  mutating func int(_ value: Int64) {
    reserve(20)
    if value < 0 { put(0x2D) }
    var magnitude = value.magnitude
    if magnitude < 10 { return put(0x30 &+ UInt8(truncatingIfNeeded: magnitude)) }
    var digits = 2
    var rest = magnitude / 100
    while rest > 0 {
      digits &+= 1
      rest /= 10
    }
    var at = base + count + digits
    while magnitude > 0 {
      at -= 1
      let (q, r) = magnitude.quotientAndRemainder(dividingBy: 10)
      at.storeBytes(of: 0x30 &+ UInt8(truncatingIfNeeded: r), as: UInt8.self)
      magnitude = q
    }
    count &+= digits
  }

  /// `s` as a JSON string literal: a string that needs no escaping (found eight bytes at a time)
  /// is copied whole, else one pass copies the runs between escapes.
  /// (The string is only read, in place; the `var` copy a bridged string needs is out of line.)
  @inline(__always)
  mutating func string(_ s: String) {
    let done: Void? = s.utf8.withContiguousStorageIfAvailable { utf8 in
      quoted(UnsafeRawPointer(utf8.baseAddress), utf8.count)
    }
    if done == nil { foreignString(s) }
  }

  /// A string without contiguous UTF-8 (a bridged one), made native first.
  @inline(never)
  private mutating func foreignString(_ s: String) {
    var text = s
    text.withUTF8 { quoted(UnsafeRawPointer($0.baseAddress), $0.count) }
  }

  /// The `n` UTF-8 bytes at `start`, quoted and escaped.
  private mutating func quoted(_ start: UnsafeRawPointer?, _ n: Int) {
    reserve(n &+ 2)
    put(0x22)
    if let start, n > 0 {
      if Self.needsNoEscape(start, n) { put(start, n) } else { escape(start, n) }
    }
    put(0x22)
  }

  /// Whether the `n` (> 0) bytes at `start` hold no byte below 0x20, no `"` and no `\`: eight
  /// at a time (overlapping at the end), reading only those bytes.
  @inline(__always)
  private static func needsNoEscape(_ start: UnsafeRawPointer, _ n: Int) -> Bool {
    let ones: UInt64 = 0x0101_0101_0101_0101
    /// Whether a byte of `x` is below 0x20, `"` or `\` (exact: each term is).
    func special(_ x: UInt64) -> UInt64 {
      let quote = x ^ (ones &* 0x22)
      let slash = x ^ (ones &* 0x5C)
      let control = (x &- ones &* 0x20) & ~x
      return (control | (quote &- ones) & ~quote | (slash &- ones) & ~slash) & (ones &* 0x80)
    }
    if n >= 8 {
      var found: UInt64 = 0
      var i = 0
      while i &+ 8 < n {
        found |= special(start.loadUnaligned(fromByteOffset: i, as: UInt64.self))
        i &+= 8
      }
      found |= special(start.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self))
      return found == 0
    }
    var x: UInt64
    if n >= 4 {
      x =
        UInt64(start.loadUnaligned(as: UInt32.self))
        | UInt64(start.loadUnaligned(fromByteOffset: n &- 4, as: UInt32.self)) << 32
    } else {
      // The other bytes are spaces, which need no escape.
      x =
        0x2020_2020_2000_0000 | UInt64(start.load(as: UInt8.self))
        | UInt64(start.load(fromByteOffset: n >> 1, as: UInt8.self)) << 8
        | UInt64(start.load(fromByteOffset: n &- 1, as: UInt8.self)) << 16
    }
    return special(x) == 0
  }

  /// The `n` bytes at `start`, escaped: runs that need none copied whole.
  @inline(never)
  private mutating func escape(_ start: UnsafeRawPointer, _ n: Int) {
    let bytes = start.assumingMemoryBound(to: UInt8.self)
    var run = 0
    for i in 0..<n {
      let byte = bytes[i]
      guard byte < 0x20 || byte == 0x22 || byte == 0x5C else { continue }
      reserve(i &- run &+ 7)
      put(start + run, i &- run)
      run = i &+ 1
      put(0x5C)
      switch byte {
      case 0x22: put(0x22)
      case 0x5C: put(0x5C)
      case 0x0A: put(0x6E)
      case 0x0D: put(0x72)
      case 0x09: put(0x74)
      default:
        let hex: StaticString = "0123456789abcdef"
        let digits = hex.utf8Start
        put(0x75)
        put(0x30)
        put(0x30)
        put(digits[Int(byte >> 4)])
        put(digits[Int(byte & 0xF)])
      }
    }
    reserve(n &- run &+ 1)
    put(start + run, n &- run)
  }

  /// Hands the bytes so far to the sink once there are `flushSize` of them.
  @inline(__always)
  mutating func flushIfFull() {
    if count >= Self.flushSize { flush() }
  }

  mutating func flush() {
    guard let sink else { return }
    // Copied in 32-byte blocks, not by memcpy (whose `rep movsb` costs an instruction a byte).
    let n = count
    let from = UnsafeRawPointer(base)
    let chunk = [UInt8](unsafeUninitializedCapacity: n) { to, initialized in
      guard let to = to.baseAddress.map(UnsafeMutableRawPointer.init) else { return }
      var i = 0
      while i &+ 32 <= n {
        to.storeBytes(
          of: from.loadUnaligned(fromByteOffset: i, as: SIMD32<UInt8>.self), toByteOffset: i,
          as: SIMD32<UInt8>.self)
        i &+= 32
      }
      to.advanced(by: i).copyMemory(from: from + i, byteCount: n &- i)
      initialized = n
    }
    sink(chunk)
    count = 0
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
    case .scalar: w.appendVerbatim(text)
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
  // The types that write themselves (a cast to the protocol is slow for the others: it scans
  // every conformance the first time it meets a type).
  if rawRows,
    T.self == TensorEntry.self || T.self == Layer.self || T.self == SummaryReport.self
      || T.self == TensorsReport.self,
    let fast = value as? any JSONRawWritable
  {
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
/// its Codable encoding (ReportJSONTests checks each). A type that conforms goes in `node`'s list.
protocol JSONRawWritable {
  func writeJSON(to w: inout JSONWriter) throws
}

/// The fixed bytes of the objects that write themselves with the same keys at the same indent:
/// before each member its comma, newline, indent, quoted key and colon, in one run.
struct JSONTemplate {
  /// Each member's key (where its static text is: a key is recognised by its address).
  let keys: UnsafeMutablePointer<UnsafeRawPointer>
  let count: Int
  let indent: Int
  /// Member `m`'s run is `bytes[offsets[m]..<offsets[m + 1]]`; 16 bytes of padding follow.
  let offsets: UnsafeMutablePointer<Int>
  let bytes: UnsafeMutableRawPointer

  init(keys: [UnsafeRawPointer], indent: Int, offsets: [Int], bytes: [UInt8]) {
    count = keys.count
    self.indent = indent
    self.keys = .allocate(capacity: keys.count)
    self.keys.initialize(from: keys, count: keys.count)
    self.offsets = .allocate(capacity: offsets.count)
    self.offsets.initialize(from: offsets, count: offsets.count)
    self.bytes = .allocate(byteCount: bytes.count + 16, alignment: 16)
    self.bytes.initializeMemory(as: UInt8.self, repeating: 0x20, count: bytes.count + 16)
    self.bytes.copyMemory(from: bytes, byteCount: bytes.count)
  }

  func deallocate() {
    keys.deallocate()
    offsets.deallocate()
    bytes.deallocate()
  }
}

/// Writes an object's members from pairs given in sorted key order. The first object of a kind
/// (its first key) at an indent writes its keys one by one and leaves a template of them in the
/// writer; the next ones copy each member's run from it, as long as their keys are the same.
struct JSONObjectWriter {
  private var first = true
  /// The template being followed, and the next member in it.
  private var template: JSONTemplate?
  private var member = 0
  /// The keys so far, when this object makes a template.
  private var recorded: [StaticString]?

  @inline(__always)
  init(_ w: inout JSONWriter) { w.open(0x7B) }

  @inline(__always)
  mutating func key(_ key: StaticString, _ w: inout JSONWriter) {
    if let t = template, member < t.count, t.keys[member] == UnsafeRawPointer(key.utf8Start) {
      w.gap(t, member)
      member &+= 1
    } else {
      slowKey(key, &w)
    }
    first = false
  }

  @inline(never)
  private mutating func slowKey(_ key: StaticString, _ w: inout JSONWriter) {
    if first {
      if let t = w.template(first: UnsafeRawPointer(key.utf8Start)) {
        template = t
        member = 1
        return w.gap(t, 0)
      }
      recorded = [key]
    } else {
      template = nil
      recorded?.append(key)
    }
    w.memberKey(first: first, key)
  }

  @inline(__always)
  mutating func string(_ key: StaticString, _ value: String?, _ w: inout JSONWriter) {
    self.key(key, &w)
    if let value { w.string(value) } else { w.null() }
  }
  @inline(__always)
  mutating func int(_ key: StaticString, _ value: Int64, _ w: inout JSONWriter) {
    self.key(key, &w)
    w.int(value)
  }
  @inline(__always)
  mutating func bool(_ key: StaticString, _ value: Bool?, _ w: inout JSONWriter) {
    self.key(key, &w)
    if let value { w.bool(value) } else { w.null() }
  }
  mutating func ints(_ key: StaticString, _ values: [Int64], _ w: inout JSONWriter) {
    self.key(key, &w)
    w.open(0x5B)
    for i in values.indices {
      w.member(first: i == 0)
      w.int(values[i])
    }
    w.close(0x5D, empty: values.isEmpty)
  }
  mutating func strings(_ key: StaticString, _ values: [String], _ w: inout JSONWriter) {
    self.key(key, &w)
    w.open(0x5B)
    for i in values.indices {
      w.member(first: i == 0)
      w.string(values[i])
    }
    w.close(0x5D, empty: values.isEmpty)
  }
  /// Rows that write themselves, handed to the sink as the buffer fills.
  @inline(__always)
  mutating func rows<Row: JSONRawWritable>(
    _ key: StaticString, _ values: [Row], _ w: inout JSONWriter
  ) throws {
    self.key(key, &w)
    w.open(0x5B)
    for i in values.indices {
      w.member(first: i == 0)
      try values[i].writeJSON(to: &w)
      w.flushIfFull()
    }
    w.close(0x5D, empty: values.isEmpty)
  }
  /// Any other value (nil as null), through the generic encoder.
  @inline(__always)
  mutating func value<T: Encodable>(_ key: StaticString, _ value: T?, _ w: inout JSONWriter) throws
  {
    self.key(key, &w)
    if let value { try Self.encoded(value, &w) } else { w.null() }
  }

  @inline(never)
  private static func encoded<T: Encodable>(_ value: T, _ w: inout JSONWriter) throws {
    try node(value, [], rawRows: true).write(to: &w)
  }
  @inline(__always)
  func end(_ w: inout JSONWriter) {
    if let recorded { w.addTemplate(recorded) }
    w.close(0x7D, empty: first)
  }
}
