// LayerRows.swift: the layer table's rows: rolled up to a depth, with repeated blocks
// (`layers.0` .. `layers.11` of the same shape) collapsed into one group. Names are grouped and
// compared as UTF-8 bytes (`NameBytes`), made once however many depths are asked for.

/// A row of the layer table.
package struct LayerRow: Sendable, Equatable {
  package var name: String
  package var type: String
  package var description: String
  package var parameters: Int64
  package var buffers: Int64
  package var bytes: Int64
  /// Indented rows under a collapsed group hold per-block numbers.
  package var isBlockMember = false
  /// For a collapsed group: how many blocks.
  package var repeatCount = 1
  package var formula = ""
  package var inferred: [String] = []
  package var shared: [String] = []
  /// The shapes fit more than one type: shown with a `?`.
  package var isGuess = false

  /// The type as the table shows it: a guess carries a `?` unless it names its candidates.
  package var displayType: String { isGuess && !type.contains(" or ") ? type + "?" : type }
}

package enum LayerRows {
  /// Rows for `layers`, rolled up to `depth` name components (nil: no roll-up), with repeats
  /// collapsed unless `collapse` is false. Rolled-up rows carry their members' formulas only
  /// when `formulas` is true (`--explain` shows them; a table of 20,000 layers should not build
  /// them to count its lines).
  package static func rows(_ layers: [Layer], depth: Int?, collapse: Bool, formulas: Bool = true)
    -> [LayerRow]
  {
    LayerRowSource(layers, formulas: formulas).rows(depth: depth, collapse: collapse)
  }
}

/// The rows of one list of layers, at any depth: a row per layer and the names' bytes are made
/// once, and each `rows(depth:collapse:)` rolls them up and collapses repeats (the summary's
/// height fitting asks for several depths).
struct LayerRowSource {
  private let rows: [LayerRow]
  private let names: NameBytes
  private let formulas: Bool

  init(_ layers: [Layer], formulas: Bool = true) {
    rows = layers.map {
      LayerRow(
        name: $0.name, type: $0.type, description: $0.description, parameters: $0.parameters,
        buffers: $0.buffers, bytes: $0.bytes, formula: $0.formula, inferred: $0.inferred,
        shared: $0.shared, isGuess: $0.isGuess)
    }
    names = NameBytes(rows)
    self.formulas = formulas
  }

  /// The most name components a layer has.
  var deepest: Int { names.deepest }

  /// The rows rolled up to `depth` name components (nil: no roll-up), with repeats collapsed
  /// unless `collapse` is false.
  func rows(depth: Int?, collapse: Bool) -> [LayerRow] {
    var rows = self.rows
    var names = self.names
    if let depth { (rows, names) = rollUp(rows, names, depth: max(1, depth)) }
    return collapse ? collapseRepeats(rows, names) : rows
  }

  /// The rows grouped by their first `depth` name components, and the groups' names.
  private func rollUp(_ rows: [LayerRow], _ names: NameBytes, depth: Int) -> (
    [LayerRow], NameBytes
  ) {
    // Each row's group, numbered in order of first appearance. Rows of one group usually come
    // in a run, so the ids are asked only when the key changes.
    var ids = NameIDs()
    var keys: [Range<Int>] = []
    var group = [Int](repeating: 0, count: rows.count)
    names.withBytes { bytes in
      var last: (key: Range<Int>, id: Int)?
      for i in rows.indices {
        let key = names.leadingComponents(i, depth)
        if let last, bytes.slice(last.key).bytesEqual(bytes.slice(key)) {
          group[i] = last.id
          continue
        }
        let (n, isNew) = ids.id(of: bytes.slice(key))
        if isNew { keys.append(key) }
        group[i] = n
        last = (key, n)
      }
    }
    // The members of each group, in row order: a counting sort of the row numbers.
    var start = [Int](repeating: 0, count: keys.count + 1)
    for g in group { start[g + 1] += 1 }
    for g in keys.indices { start[g + 1] += start[g] }
    var next = start
    var members = [Int](repeating: 0, count: rows.count)
    for (i, g) in group.enumerated() {
      members[next[g]] = i
      next[g] += 1
    }
    var out: [LayerRow] = []
    out.reserveCapacity(keys.count)
    var outNames: [Int] = []
    outNames.reserveCapacity(keys.count)
    for (g, key) in keys.enumerated() {
      let these = members[start[g]..<start[g + 1]]
      let first = members[start[g]]
      outNames.append(first)
      // A group of one row named as the group is that row (the key is a prefix of the name).
      if these.count == 1, names.range(first).count == key.count {
        out.append(rows[first])
        continue
      }
      // Types in order of first appearance, with their counts: a group holds few types.
      var types: [(type: String, count: Int)] = []
      var total = (Int64(0), Int64(0), Int64(0))
      for m in these {
        if let t = types.firstIndex(where: { $0.type == rows[m].type }) {
          types[t].count += 1
        } else {
          types.append((rows[m].type, 1))
        }
        total.0 &+= rows[m].parameters
        total.1 &+= rows[m].buffers
        total.2 &+= rows[m].bytes
      }
      out.append(
        LayerRow(
          name: names.string(key), type: "\(these.count) layers",
          description: types.map { "\($0.count) \($0.type)" }.joined(separator: ", "),
          parameters: total.0, buffers: total.1, bytes: total.2,
          formula: formulas
            ? these.map { "\(rows[$0].name): \(rows[$0].formula)" }.joined(separator: "; ") : ""))
    }
    return (out, names.rolledUp(keys, firstMembers: outNames))
  }

  /// The block `prefix.N` (or `prefix.stem_N`) holds the rows named so or below.
  private func collapseRepeats(_ rows: [LayerRow], _ names: NameBytes) -> [LayerRow] {
    var out: [LayerRow] = []
    var i = 0
    while i < rows.count {
      if let (group, next) = repeatGroup(rows, names, at: i) {
        out += group
        i = next
      } else {
        out.append(rows[i])
        i += 1
      }
    }
    return out
  }

  private func repeatGroup(_ rows: [LayerRow], _ names: NameBytes, at start: Int) -> (
    [LayerRow], Int
  )? {
    let parts = names.components(start, of: rows[start].name)
    for k in parts.indices {
      guard let (stemBytes, first) = parts[k].block else { continue }
      // `prefix.stem`, to which a block's number is added.
      var stem: [UInt8] = []
      for part in parts[..<k] {
        stem += names.bytes(part.range)
        stem.append(UInt8(ascii: "."))
      }
      stem += names.bytes(parts[k].range).prefix(stemBytes)
      func blockName(_ n: Int) -> [UInt8] { stem + String(n).utf8 }
      let base = blockName(first)
      let firstBlock = names.block(from: start, named: base)
      guard !firstBlock.isEmpty else { continue }
      var count = 1
      var index = firstBlock.upperBound
      while index < rows.count {
        let name = blockName(first + count)
        let next = names.block(from: index, named: name)
        guard !next.isEmpty,
          sameBlock(rows, names, firstBlock, base: base.count, next, base: name.count)
        else { break }
        count += 1
        index = next.upperBound
      }
      guard count >= 2 else { continue }
      let label = String(decoding: stem, as: UTF8.self) + "[\(first)-\(first + count - 1)]"
      let baseName = String(decoding: base, as: UTF8.self)
      var per = (Int64(0), Int64(0), Int64(0))
      for i in firstBlock {
        per.0 &+= rows[i].parameters
        per.1 &+= rows[i].buffers
        per.2 &+= rows[i].bytes
      }
      let n = Int64(count)
      if firstBlock.count == 1 && rows[start].name == baseName {
        var row = rows[start]
        row.name = label + " x\(count)"
        row.parameters = per.0 &* n
        row.buffers = per.1 &* n
        row.bytes = per.2 &* n
        row.repeatCount = count
        return ([row], index)
      }
      var group = [
        LayerRow(
          name: label + " x\(count)", type: "\(firstBlock.count) layers each",
          description: "\(count) identical blocks", parameters: per.0 &* n, buffers: per.1 &* n,
          bytes: per.2 &* n, repeatCount: count)
      ]
      for i in firstBlock {
        var row = rows[i]
        row.name =
          "  " + (row.name == baseName ? "(block)" : String(row.name.dropFirst(baseName.count)))
        row.isBlockMember = true
        group.append(row)
      }
      return (group, index)
    }
    return nil
  }

  /// Two blocks repeat each other when their rows match one for one: the same name below the
  /// block, type, description, parameters and buffers.
  private func sameBlock(
    _ rows: [LayerRow], _ names: NameBytes, _ a: Range<Int>, base aBase: Int, _ b: Range<Int>,
    base bBase: Int
  ) -> Bool {
    guard a.count == b.count else { return false }
    for (i, j) in zip(a, b) {
      guard rows[i].parameters == rows[j].parameters, rows[i].buffers == rows[j].buffers,
        rows[i].type == rows[j].type, rows[i].description == rows[j].description,
        names.sameTail(i, after: aBase, j, after: bBase)
      else { return false }
    }
    return true
  }
}

/// The rows' names as UTF-8: a range per row into bytes shared by every depth (a rolled-up row
/// is named by the first components of its first member's name).
struct NameBytes {
  private var buffer: [UInt8] = []
  private var ranges: [Range<Int>] = []
  /// Whether each name is all ASCII; a rolled-up row's as its first member's.
  private var ascii: [Bool] = []
  /// The most components a name has.
  private(set) var deepest = 1

  init(_ rows: [LayerRow]) {
    ranges.reserveCapacity(rows.count)
    ascii.reserveCapacity(rows.count)
    for row in rows {
      var name = row.name
      let from = buffer.count
      var dots = 0
      var high: UInt8 = 0
      name.withUTF8 { bytes in
        buffer.append(contentsOf: bytes)
        for b in bytes {
          if b == UInt8(ascii: ".") { dots += 1 }
          high |= b
        }
      }
      ranges.append(from..<buffer.count)
      ascii.append(high < 0x80)
      deepest = max(deepest, dots + 1)
    }
  }

  private init(buffer: [UInt8], ranges: [Range<Int>], ascii: [Bool]) {
    self.buffer = buffer
    self.ranges = ranges
    self.ascii = ascii
  }

  /// The names of rolled-up rows: `keys`, each a range of the name of the row `firstMembers`
  /// gives.
  func rolledUp(_ keys: [Range<Int>], firstMembers: [Int]) -> NameBytes {
    NameBytes(buffer: buffer, ranges: keys, ascii: firstMembers.map { ascii[$0] })
  }

  var count: Int { ranges.count }

  /// Where row `i`'s name is.
  func range(_ i: Int) -> Range<Int> { ranges[i] }

  func bytes(_ range: Range<Int>) -> ArraySlice<UInt8> { buffer[range] }

  func string(_ range: Range<Int>) -> String { String(decoding: buffer[range], as: UTF8.self) }

  func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
    buffer.withUnsafeBufferPointer(body)
  }

  /// The first `depth` dot-separated components of row `i`'s name (all of it when it has fewer).
  func leadingComponents(_ i: Int, _ depth: Int) -> Range<Int> {
    var dots = 0
    for j in ranges[i] where buffer[j] == UInt8(ascii: ".") {
      dots += 1
      if dots == depth { return ranges[i].lowerBound..<j }
    }
    return ranges[i]
  }

  /// The rows from `index` on that make up block `name`: row by row, while a row is `name` or
  /// under it (`name.` and more).
  func block(from index: Int, named name: [UInt8]) -> Range<Int> {
    withBytes { bytes in
      name.withUnsafeBufferPointer { block in
        var j = index
        while j < ranges.count {
          let r = ranges[j]
          guard r.count >= block.count,
            bytes.slice(r.lowerBound..<(r.lowerBound + block.count)).bytesEqual(block),
            r.count == block.count || bytes[r.lowerBound + block.count] == UInt8(ascii: ".")
          else { break }
          j += 1
        }
        return index..<j
      }
    }
  }

  /// Whether rows `i` and `j` have the same name after their first `a` and `b` bytes.
  func sameTail(_ i: Int, after a: Int, _ j: Int, after b: Int) -> Bool {
    withBytes { bytes in
      let x = ranges[i]
      let y = ranges[j]
      return bytes.slice(min(x.lowerBound + a, x.upperBound)..<x.upperBound).bytesEqual(
        bytes.slice(min(y.lowerBound + b, y.upperBound)..<y.upperBound))
    }
  }

  /// Row `i`'s name split at dots, empty components left out (as `split(separator:)`), each
  /// with its block number if it has one (`blockNumber`). `name` is the row's name.
  func components(_ i: Int, of name: String) -> [(
    range: Range<Int>, block: (stemBytes: Int, number: Int)?
  )] {
    let whole = ranges[i]
    guard ascii[i] else {
      // Characters are not bytes: split as Characters, as it always was.
      return name.split(separator: ".").map { part in
        let from = whole.lowerBound + name.utf8.distance(from: name.startIndex, to: part.startIndex)
        return (from..<(from + part.utf8.count), Self.blockNumber(part))
      }
    }
    var parts: [(range: Range<Int>, block: (stemBytes: Int, number: Int)?)] = []
    var from = whole.lowerBound
    for j in whole.lowerBound...whole.upperBound
    where j == whole.upperBound || buffer[j] == UInt8(ascii: ".") {
      if j > from { parts.append((from..<j, Self.blockNumber(ascii: buffer[from..<j]))) }
      from = j + 1
    }
    return parts
  }

  /// A name component that numbers a block: `3`, or a stem ending in `_` and a number
  /// (`encoder_layer_3`, `blocks_3`), as torchvision names blocks it adds one by one. The stem is
  /// given by its length in UTF-8 bytes (it starts the component).
  static func blockNumber(_ part: Substring) -> (stemBytes: Int, number: Int)? {
    if let n = Int(part) { return (0, n) }
    let (stem, number) = splitTrailingNumber(part, maxDigits: 9)
    guard stem.hasSuffix("_"), let n = number else { return nil }
    return (stem.utf8.count, n)
  }

  /// `blockNumber` of an ASCII component, read from its bytes (where characters are bytes).
  static func blockNumber(ascii part: ArraySlice<UInt8>) -> (stemBytes: Int, number: Int)? {
    func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
    // `Int(part)`: an optional sign, then digits, within Int's range.
    let negative = part.first == UInt8(ascii: "-")
    let sign = negative || part.first == UInt8(ascii: "+") ? 1 : 0
    if part.count > sign && part.dropFirst(sign).allSatisfy(isDigit) {
      var n = 0
      var overflow = false
      for b in part.dropFirst(sign) where !overflow {
        let d = Int(b - UInt8(ascii: "0"))
        (n, overflow) = n.multipliedReportingOverflow(by: 10)
        if !overflow {
          (n, overflow) =
            negative ? n.subtractingReportingOverflow(d) : n.addingReportingOverflow(d)
        }
      }
      if !overflow { return (0, n) }
    }
    // A stem ending in `_`, and a number.
    let (stemBytes, number) = splitTrailingNumber(ascii: part, maxDigits: 9)
    guard let number, stemBytes > 0, part[part.startIndex + stemBytes - 1] == UInt8(ascii: "_")
    else {
      return nil
    }
    return (stemBytes, number)
  }
}
