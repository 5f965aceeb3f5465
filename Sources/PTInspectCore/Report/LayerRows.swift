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
  /// collapsed unless `collapse` is false.
  package static func rows(_ layers: [Layer], depth: Int?, collapse: Bool) -> [LayerRow] {
    var rows = layers.map {
      LayerRow(
        name: $0.name, type: $0.type, description: $0.description, parameters: $0.parameters,
        buffers: $0.buffers, bytes: $0.bytes, formula: $0.formula, inferred: $0.inferred,
        shared: $0.shared, isGuess: $0.isGuess)
    }
    if let depth { rows = rollUp(rows, depth: max(1, depth)) }
    return collapse ? collapseRepeats(rows) : rows
  }

  static func rollUp(_ rows: [LayerRow], depth: Int) -> [LayerRow] {
    var order: [String] = []
    var groups: [String: [LayerRow]] = [:]
    for r in rows {
      let key = r.name.split(separator: ".").prefix(depth).joined(separator: ".")
      if groups[key] == nil { order.append(key) }
      groups[key, default: []].append(r)
    }
    return order.compactMap { key in
      guard let members = groups[key] else { return nil }
      if members.count == 1, members[0].name == key { return members[0] }
      var counts: [String: Int] = [:]
      var typeOrder: [String] = []
      for m in members {
        if counts[m.type] == nil { typeOrder.append(m.type) }
        counts[m.type, default: 0] += 1
      }
      let summary = typeOrder.map { "\(counts[$0] ?? 0) \($0)" }.joined(separator: ", ")
      return LayerRow(
        name: key, type: "\(members.count) layers", description: summary,
        parameters: members.reduce(0) { $0 &+ $1.parameters },
        buffers: members.reduce(0) { $0 &+ $1.buffers },
        bytes: members.reduce(0) { $0 &+ $1.bytes },
        formula: members.map { "\($0.name): \($0.formula)" }.joined(separator: "; "))
    }
  }

  /// A name component that numbers a block: `3`, or a stem ending in `_` and a number
  /// (`encoder_layer_3`, `blocks_3`), as torchvision names blocks it adds one by one.
  static func blockNumber(_ part: String) -> (stem: String, number: Int)? {
    if let n = Int(part) { return ("", n) }
    let (stem, number) = splitTrailingNumber(Substring(part), maxDigits: 9)
    guard stem.hasSuffix("_"), let n = number else { return nil }
    return (String(stem), n)
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

  static func repeatGroup(_ rows: [LayerRow], at start: Int) -> ([LayerRow], Int)? {
    let parts = rows[start].name.split(separator: ".").map(String.init)
    for k in parts.indices {
      guard let (stem, first) = blockNumber(parts[k]) else { continue }
      let prefix = parts[..<k].joined(separator: ".")
      func blockName(_ n: Int) -> String {
        (prefix.isEmpty ? "" : prefix + ".") + stem + String(n)
      }
      func block(from index: Int, number n: Int) -> [LayerRow] {
        let name = blockName(n)
        var j = index
        var members: [LayerRow] = []
        while j < rows.count, rows[j].name == name || rows[j].name.hasPrefix(name + ".") {
          members.append(rows[j])
          j += 1
        }
        return members
      }
      func signature(_ members: [LayerRow], _ n: Int) -> [String] {
        let name = blockName(n)
        return members.map {
          String($0.name.dropFirst(name.count)) + "|" + $0.type + "|" + $0.description
            + "|\($0.parameters)|\($0.buffers)"
        }
      }
      let firstBlock = block(from: start, number: first)
      guard !firstBlock.isEmpty else { continue }
      let sig = signature(firstBlock, first)
      var count = 1
      var index = start + firstBlock.count
      while true {
        let nextBlock = block(from: index, number: first + count)
        guard !nextBlock.isEmpty, signature(nextBlock, first + count) == sig else { break }
        count += 1
        index += nextBlock.count
      }
      guard count >= 2 else { continue }
      let label = (prefix.isEmpty ? "" : prefix + ".") + stem + "[\(first)-\(first + count - 1)]"
      let per = firstBlock.reduce(into: (Int64(0), Int64(0), Int64(0))) {
        $0.0 &+= $1.parameters
        $0.1 &+= $1.buffers
        $0.2 &+= $1.bytes
      }
      let n = Int64(count)
      if firstBlock.count == 1 && firstBlock[0].name == blockName(first) {
        var row = firstBlock[0]
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
      let base = blockName(first)
      for m in firstBlock {
        var row = m
        row.name = "  " + (m.name == base ? "(block)" : String(m.name.dropFirst(base.count)))
        row.isBlockMember = true
        group.append(row)
      }
      return (group, index)
    }
    return nil
  }
}
