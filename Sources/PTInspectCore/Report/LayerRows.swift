// LayerRows.swift: the layer table's rows: rolled up to a depth, with repeated blocks
// (`layers.0` .. `layers.11` of the same shape) collapsed into one group.

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
    var rows = layers.map {
      LayerRow(
        name: $0.name, type: $0.type, description: $0.description, parameters: $0.parameters,
        buffers: $0.buffers, bytes: $0.bytes, formula: $0.formula, inferred: $0.inferred,
        shared: $0.shared, isGuess: $0.isGuess)
    }
    if let depth { rows = rollUp(rows, depth: max(1, depth), formulas: formulas) }
    return collapse ? collapseRepeats(rows) : rows
  }

  /// The first `depth` dot-separated components of `name` (all of it when it has fewer).
  static func leadingComponents(_ name: String, _ depth: Int) -> Substring {
    // Scanned over the contiguous UTF-8 bytes (iterating `utf8.indices` costs 20 times more).
    let end = name.utf8.withContiguousStorageIfAvailable { bytes -> Int? in
      var dots = 0
      for (i, b) in bytes.enumerated() where b == UInt8(ascii: ".") {
        dots += 1
        if dots == depth { return i }
      }
      return nil
    }
    guard let end else {
      var dots = 0
      for i in name.utf8.indices where name.utf8[i] == UInt8(ascii: ".") {
        dots += 1
        if dots == depth { return name[..<i] }
      }
      return name[...]
    }
    guard let end else { return name[...] }
    return name[..<name.utf8.index(name.utf8.startIndex, offsetBy: end)]
  }

  static func rollUp(_ rows: [LayerRow], depth: Int, formulas: Bool = true) -> [LayerRow] {
    // Each row's group, numbered in order of first appearance. Rows of one group usually come
    // in a run, so the dictionary is asked only when the key changes.
    var slot: [Substring: Int] = [:]
    var keys: [Substring] = []
    var group = [Int](repeating: 0, count: rows.count)
    var last: (key: Substring, slot: Int)?
    for i in rows.indices {
      let key = leadingComponents(rows[i].name, depth)
      if let last, last.key == key {
        group[i] = last.slot
        continue
      }
      let n: Int
      if let known = slot[key] {
        n = known
      } else {
        n = keys.count
        slot[key] = n
        keys.append(key)
      }
      group[i] = n
      last = (key, n)
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
    for (g, key) in keys.enumerated() {
      let these = members[start[g]..<start[g + 1]]
      // A group of one row named as the group is that row (the key is a prefix of the name).
      if these.count == 1, let only = these.first, rows[only].name.utf8.count == key.utf8.count {
        out.append(rows[only])
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
          name: String(key), type: "\(these.count) layers",
          description: types.map { "\($0.count) \($0.type)" }.joined(separator: ", "),
          parameters: total.0, buffers: total.1, bytes: total.2,
          formula: formulas
            ? these.map { "\(rows[$0].name): \(rows[$0].formula)" }.joined(separator: "; ") : ""))
    }
    return out
  }

  /// A name component that numbers a block: `3`, or a stem ending in `_` and a number
  /// (`encoder_layer_3`, `blocks_3`), as torchvision names blocks it adds one by one.
  static func blockNumber(_ part: Substring) -> (stem: Substring, number: Int)? {
    if let n = Int(part) { return ("", n) }
    let (stem, number) = splitTrailingNumber(part, maxDigits: 9)
    guard stem.hasSuffix("_"), let n = number else { return nil }
    return (stem, n)
  }

  /// The block `prefix.N` (or `prefix.stem_N`) holds the rows named so or below.
  static func collapseRepeats(_ rows: [LayerRow]) -> [LayerRow] {
    var out: [LayerRow] = []
    var i = 0
    while i < rows.count {
      if let (group, next) = repeatGroup(rows, at: i) {
        out += group
        i = next
      } else {
        out.append(rows[i])
        i += 1
      }
    }
    return out
  }

  /// Whether `name` is `block` or under it (`block.` and more), compared as bytes.
  static func isInBlock(_ name: String, _ block: String) -> Bool {
    let n = name.utf8
    let b = block.utf8
    guard n.starts(with: b) else { return false }
    return n.count == b.count || n[n.index(n.startIndex, offsetBy: b.count)] == UInt8(ascii: ".")
  }

  /// The rows from `index` on that make up block `name`: the range of their indices.
  static func blockRange(_ rows: [LayerRow], from index: Int, name: String) -> Range<Int> {
    var j = index
    while j < rows.count, isInBlock(rows[j].name, name) { j += 1 }
    return index..<j
  }

  /// Two blocks repeat each other when their rows match one for one: the same name below the
  /// block, type, description, parameters and buffers.
  static func sameBlock(
    _ rows: [LayerRow], _ a: Range<Int>, base aBase: Int, _ b: Range<Int>, base bBase: Int
  ) -> Bool {
    guard a.count == b.count else { return false }
    for (i, j) in zip(a, b) {
      let x = rows[i]
      let y = rows[j]
      guard x.parameters == y.parameters, x.buffers == y.buffers, x.type == y.type,
        x.description == y.description,
        x.name.utf8.dropFirst(aBase).elementsEqual(y.name.utf8.dropFirst(bBase))
      else { return false }
    }
    return true
  }

  static func repeatGroup(_ rows: [LayerRow], at start: Int) -> ([LayerRow], Int)? {
    let parts = rows[start].name.split(separator: ".")
    for k in parts.indices {
      guard let (stem, first) = blockNumber(parts[k]) else { continue }
      let prefix = parts[..<k].joined(separator: ".")
      func blockName(_ n: Int) -> String {
        (prefix.isEmpty ? "" : prefix + ".") + stem + String(n)
      }
      let base = blockName(first)
      let firstBlock = blockRange(rows, from: start, name: base)
      guard !firstBlock.isEmpty else { continue }
      var count = 1
      var index = firstBlock.upperBound
      while index < rows.count {
        let name = blockName(first + count)
        let next = blockRange(rows, from: index, name: name)
        guard !next.isEmpty,
          sameBlock(rows, firstBlock, base: base.utf8.count, next, base: name.utf8.count)
        else { break }
        count += 1
        index = next.upperBound
      }
      guard count >= 2 else { continue }
      let label = (prefix.isEmpty ? "" : prefix + ".") + stem + "[\(first)-\(first + count - 1)]"
      var per = (Int64(0), Int64(0), Int64(0))
      for i in firstBlock {
        per.0 &+= rows[i].parameters
        per.1 &+= rows[i].buffers
        per.2 &+= rows[i].bytes
      }
      let n = Int64(count)
      if firstBlock.count == 1 && rows[start].name == base {
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
        row.name = "  " + (row.name == base ? "(block)" : String(row.name.dropFirst(base.count)))
        row.isBlockMember = true
        group.append(row)
      }
      return (group, index)
    }
    return nil
  }
}
