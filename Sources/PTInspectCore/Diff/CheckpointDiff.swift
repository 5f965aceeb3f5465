// CheckpointDiff.swift: compares two checkpoints: names (with prefix stripping), structure from
// the headers alone, contents when asked, a per-layer rollup, totals and `--expect-unchanged`.

/// A tensor taken into a comparison, under the name it is compared by.
package struct DiffEntry: Sendable {
  /// The comparison name: relative to the model, with stripped prefixes removed.
  package var name: String
  package var tensor: TensorRecord
  /// Whether it belongs to the model (layers are built from model tensors only).
  package var isModel: Bool
}

/// A tensor present on both sides with the same shape: its contents can be compared.
package struct DiffPair: Sendable {
  package var name: String
  package var before: TensorRecord
  package var after: TensorRecord
}

/// What changed about one tensor. The report spells it with the names joined by `+`
/// (`shape+dtype`, `dtype+values`), always in the order of `spelled`.
package struct TensorChanges: OptionSet, Sendable, Hashable, CustomStringConvertible {
  package let rawValue: UInt8
  package init(rawValue: UInt8) { self.rawValue = rawValue }

  package static let added = TensorChanges(rawValue: 1 << 0)
  package static let removed = TensorChanges(rawValue: 1 << 1)
  package static let shape = TensorChanges(rawValue: 1 << 2)
  package static let dtype = TensorChanges(rawValue: 1 << 3)
  /// Values beyond the tolerance.
  package static let values = TensorChanges(rawValue: 1 << 4)
  /// Values that differ within the tolerance (listed, not counted).
  package static let close = TensorChanges(rawValue: 1 << 5)

  /// Each change with its name, in the order the names are joined.
  static let spelled: [(change: TensorChanges, name: String)] = [
    (.added, "added"), (.removed, "removed"), (.shape, "shape"), (.dtype, "dtype"),
    (.values, "values"), (.close, "close"),
  ]

  /// `shape+dtype`; empty for no change.
  package var description: String {
    Self.spelled.filter { contains($0.change) }.map(\.name).joined(separator: "+")
  }
}

/// Compares two opened checkpoints.
public enum CheckpointDiff {
  /// Prefixes wrappers put before every key: DataParallel/DDP, torch.compile, Lightning.
  public static let knownPrefixes = Checkpoint.wrapperPrefixes

  /// Reports progress of the value comparison: bytes read so far and in all.
  public typealias Progress = @Sendable (_ done: Int64, _ total: Int64) -> Void

  /// Compares `a` (before) with `b` (after). Reading tensor contents (with `--values` or
  /// `--expect-unchanged`) can fail; errors name the file.
  public static func compare(
    _ a: Checkpoint, _ b: Checkpoint, options: DiffOptions = DiffOptions(),
    progress: Progress? = nil
  ) throws(CheckpointError) -> DiffReport {
    var notes: [String] = []
    var (left, right, strips) = names(a, b, options: options, notes: &notes)
    left = select(left, options: options)
    right = select(right, options: options)
    if !options.filters.isEmpty && left.isEmpty && right.isEmpty {
      notes.append(
        "no tensor matches the filter \(options.filters.map { "'\($0)'" }.joined(separator: ", "))")
    }

    var structure = Structure(left: left, right: right)
    let contents = try Contents(
      structure.pairs, a, b, options: options, progress: progress, changes: &structure.changes)
    // Without --values: are the contents the same? (The pairs --expect-unchanged covers were
    // compared above.)
    var contentCheck: ContentCheckSummary?
    if !options.values && !options.structureOnly {
      let rest = structure.pairs.filter { !NameGlob.matchesAny(options.expectUnchanged, $0.name) }
      contentCheck = try ContentCheck.run(
        rest, a, b, options: options, progress: progress, changes: &structure.changes)
    }
    notes += valueNotes(options, contentCheck)

    // With --ignore-dtype, a tensor whose only change is its dtype is listed but not counted.
    let counted = structure.changes.filter { !(options.ignoreDType && $0.value == .dtype) }
    let differences = counted.count
    let layers = layerChanges(a, b, left: left, right: right, changes: structure.changes)
    let totals = DiffTotals(
      before: counts(left), after: counts(right),
      difference: difference(counts(right), counts(left)))
    let expectations = expectations(
      options.expectUnchanged, entries: left + right, counted: counted,
      unverified: contents.unverified)
    let broken = expectations.filter { !$0.kept }
    let finding = options.expectUnchanged.isEmpty ? differences > 0 : !broken.isEmpty
    let rows = rows(structure, close: Set(contents.close.map(\.name)))
    let unchanged = left.filter { structure.rightIndex[$0.name] != nil && counted[$0.name] == nil }
      .count
    let total = structure.leftNames.union(right.map(\.name)).count
    let verdict = verdict(
      structure, contents, contentCheck, differences: differences, total: total,
      expectations: expectations, options: options)

    return DiffReport(
      before: DiffSide(
        file: a.path, format: a.format.rawValue, modelPrefix: a.modelPrefix, tensors: left.count),
      after: DiffSide(
        file: b.path, format: b.format.rawValue, modelPrefix: b.modelPrefix, tensors: right.count),
      valuesCompared: contents.compared, atol: options.atol, rtol: options.rtol,
      filter: options.filters, exclude: options.excludes, prefixStripped: strips,
      added: structure.added, removed: structure.removed, shapeChanged: structure.shapeChanged,
      dtypeChanged: structure.dtypeChanged, changed: contents.changed,
      withinTolerance: contents.close, tensors: rows, unchanged: unchanged,
      values: contents.summary, layers: layers, totals: totals, expectations: expectations,
      differences: differences, finding: finding, notes: notes, verdict: verdict,
      contents: contentCheck)
  }

  static func entry(_ e: DiffEntry) -> DiffTensor {
    DiffTensor(
      name: e.name, dtype: e.tensor.dtype.rawValue, shape: e.tensor.shape, numel: e.tensor.numel,
      bytes: e.tensor.bytes, kind: e.tensor.kind.rawValue)
  }

  // MARK: structure

  /// Structure: names, shapes, dtypes, from the headers alone.
  struct Structure {
    var left: [DiffEntry]
    var right: [DiffEntry]
    var added: [DiffTensor] = []
    var removed: [DiffTensor] = []
    var shapeChanged: [ShapeChange] = []
    var dtypeChanged: [DTypeChange] = []
    /// Every tensor that differs, by comparison name.
    var changes: [String: TensorChanges] = [:]
    /// Tensors on both sides with the same shape: their contents can be compared.
    var pairs: [DiffPair] = []
    /// Where each name stands on the right.
    var rightIndex: [String: Int] = [:]
    var leftNames: Set<String>

    init(left: [DiffEntry], right: [DiffEntry]) {
      self.left = left
      self.right = right
      leftNames = Set(left.map(\.name))
      for (i, e) in right.enumerated() { rightIndex[e.name] = i }
      for e in left {
        guard let j = rightIndex[e.name] else {
          removed.append(entry(e))
          changes[e.name, default: []].insert(.removed)
          continue
        }
        let t = e.tensor
        let u = right[j].tensor
        if t.shape != u.shape {
          shapeChanged.append(
            ShapeChange(
              name: e.name, shapeBefore: t.shape, shapeAfter: u.shape,
              dtypeBefore: t.dtype.rawValue, dtypeAfter: u.dtype.rawValue, numelBefore: t.numel,
              numelAfter: u.numel))
          changes[e.name, default: []].insert(.shape)
        }
        if t.dtype != u.dtype {
          dtypeChanged.append(
            DTypeChange(
              name: e.name, before: t.dtype.rawValue, after: u.dtype.rawValue, shape: t.shape))
          changes[e.name, default: []].insert(.dtype)
        }
        if t.shape == u.shape { pairs.append(DiffPair(name: e.name, before: t, after: u)) }
      }
      for e in right where !leftNames.contains(e.name) {
        added.append(entry(e))
        changes[e.name, default: []].insert(.added)
      }
    }
  }

  // MARK: contents

  /// Contents: every pair with --values; with --expect-unchanged alone, the pairs it covers.
  struct Contents {
    /// Whether any contents were compared.
    var compared: Bool
    var changed: [ValueChange] = []
    /// Values that differ within the tolerance.
    var close: [ValueChange] = []
    var summary = ValueSummary(
      compared: 0, identical: 0, equal: 0, withinTolerance: 0, changed: 0, bytesRead: 0,
      skipped: [], nonFinite: [])
    /// Tensors whose contents could not be read, with the reason.
    var unverified: [String: String] = [:]

    /// Compares the contents of `pairs` (those options ask for) and marks changed values in
    /// `changes`.
    init(
      _ pairs: [DiffPair], _ a: Checkpoint, _ b: Checkpoint, options: DiffOptions,
      progress: Progress?, changes: inout [String: TensorChanges]
    ) throws(CheckpointError) {
      let valuePairs =
        options.values
        ? pairs : pairs.filter { NameGlob.matchesAny(options.expectUnchanged, $0.name) }
      let compareValues = options.values || !options.expectUnchanged.isEmpty
      compared = compareValues && !valuePairs.isEmpty
      guard compared else { return }
      let outcome = try ValueComparator.compare(
        valuePairs, a, b, options: options, progress: progress)
      summary.bytesRead = outcome.bytesRead
      for (pair, result) in zip(valuePairs, outcome.results) {
        switch result {
        case .skipped(let reason):
          summary.skipped.append(SkippedTensor(name: pair.name, reason: reason))
          unverified[pair.name] = reason
        case .compared(let stats):
          add(pair, stats, changes: &changes)
        }
      }
    }

    /// Counts one compared pair.
    mutating func add(
      _ pair: DiffPair, _ stats: ValueStats, changes: inout [String: TensorChanges]
    ) {
      summary.compared += 1
      if stats.nanBefore + stats.nanAfter + stats.infBefore + stats.infAfter > 0 {
        summary.nonFinite.append(
          NonFiniteCount(
            name: pair.name, nanBefore: stats.nanBefore, nanAfter: stats.nanAfter,
            infBefore: stats.infBefore, infAfter: stats.infAfter))
      }
      let change = ValueChange(
        name: pair.name, dtypeBefore: pair.before.dtype.rawValue,
        dtypeAfter: pair.after.dtype.rawValue, shape: pair.before.shape, stats: stats)
      if stats.isChanged {
        summary.changed += 1
        changed.append(change)
        changes[pair.name, default: []].insert(.values)
      } else if stats.bitIdentical == true {
        summary.identical += 1
      } else if stats.elementsDifferent == 0 {
        summary.equal += 1
      } else {
        summary.withinTolerance += 1
        close.append(change)
      }
    }
  }

  /// What the notes say about comparing values.
  static func valueNotes(_ options: DiffOptions, _ check: ContentCheckSummary?) -> [String] {
    var notes: [String] = []
    if let check {
      var how: [String] = []
      if check.byCRC > 0 {
        how.append("\(Format.count(Int64(check.byCRC))) by the zip's CRC-32 (no data read)")
      }
      if check.byBytes > 0 {
        how.append(
          "\(Format.count(Int64(check.byBytes))) byte for byte (\(Format.bytes(check.bytesRead)) read)"
        )
      }
      if !how.isEmpty {
        notes.append(
          "contents compared for equality: " + how.joined(separator: ", ")
            + "; --values measures the differences")
      }
    } else if !options.values {
      notes.append(
        options.expectUnchanged.isEmpty
          ? "values not compared: add --values to compare contents"
          : "values compared only under --expect-unchanged; add --values to compare every tensor")
    }
    if options.values || !options.expectUnchanged.isEmpty {
      notes.append(
        options.hasTolerance
          ? "an element counts as changed when |a - b| > atol + rtol * |b| (atol \(options.atol), rtol \(options.rtol); numpy's allclose)"
          : "any difference in value counts as a change (set --atol/--rtol for a tolerance)")
    }
    return notes
  }

  // MARK: expectations

  /// Expectations: each `--expect-unchanged` pattern, the tensors it covers and those that
  /// changed (or could not be verified).
  static func expectations(
    _ patterns: [String], entries: [DiffEntry], counted: [String: TensorChanges],
    unverified: [String: String]
  ) -> [ExpectationResult] {
    patterns.map { pattern in
      var covered: [String] = []
      var seen = Set<String>()
      for e in entries where NameGlob.matches(pattern, e.name) && seen.insert(e.name).inserted {
        covered.append(e.name)
      }
      var violations: [ExpectationViolation] = []
      for name in covered {
        if let c = counted[name] {
          violations.append(ExpectationViolation(name: name, change: c.description))
        } else if let reason = unverified[name] {
          violations.append(ExpectationViolation(name: name, change: "unverified (\(reason))"))
        }
      }
      return ExpectationResult(
        pattern: pattern, tensors: covered.count, kept: !covered.isEmpty && violations.isEmpty,
        violations: violations)
    }
  }

  // MARK: rows

  /// One row per tensor that differs (or is `close`): the before file's order, then the added.
  static func rows(_ s: Structure, close: Set<String>) -> [TensorDifference] {
    func look(_ t: TensorRecord) -> TensorLook {
      TensorLook(dtype: t.dtype.rawValue, shape: t.shape)
    }
    var rows: [TensorDifference] = []
    for e in s.left {
      var c = s.changes[e.name] ?? []
      if close.contains(e.name) { c.insert(.close) }
      guard !c.isEmpty else { continue }
      rows.append(
        TensorDifference(
          name: e.name, change: c.description, before: look(e.tensor),
          after: s.rightIndex[e.name].map { look(s.right[$0].tensor) }))
    }
    for e in s.right where !s.leftNames.contains(e.name) {
      rows.append(
        TensorDifference(
          name: e.name, change: TensorChanges.added.description, before: nil,
          after: look(e.tensor)))
    }
    return rows
  }

  // MARK: verdict

  /// The one-sentence verdict: what differs, what was not compared, and the expectations.
  static func verdict(
    _ s: Structure, _ contents: Contents, _ check: ContentCheckSummary?, differences: Int,
    total: Int, expectations: [ExpectationResult], options: DiffOptions
  ) -> String {
    func count(_ n: Int) -> String { Format.count(Int64(n)) }
    var verdict: String
    if differences == 0 {
      let ignoring = options.ignoreDType && !s.dtypeChanged.isEmpty
      let same =
        ["names", "shapes"] + (ignoring ? [] : ["dtypes"])
        + (options.values ? ["values"] : check != nil ? ["contents"] : [])
      let list = same.dropLast().joined(separator: ", ") + " and " + (same.last ?? "")
      verdict =
        (options.values || check != nil ? "no differences: " : "same structure: ")
        + "\(count(total)) tensors with the same \(list)"
      if ignoring {
        verdict += " (\(count(s.dtypeChanged.count)) with another dtype, ignored)"
      }
    } else {
      var parts: [String] = []
      if !s.added.isEmpty { parts.append("\(count(s.added.count)) added") }
      if !s.removed.isEmpty { parts.append("\(count(s.removed.count)) removed") }
      if !s.shapeChanged.isEmpty {
        parts.append("\(count(s.shapeChanged.count)) with another shape")
      }
      if !s.dtypeChanged.isEmpty {
        parts.append(
          "\(count(s.dtypeChanged.count)) with another dtype"
            + (options.ignoreDType ? " (ignored)" : ""))
      }
      if !contents.changed.isEmpty {
        parts.append("\(count(contents.changed.count)) with changed values")
      }
      if let check, !check.changed.isEmpty {
        parts.append("\(count(check.changed.count)) with other contents")
      }
      verdict =
        "\(count(differences)) of \(count(total)) tensors differ: "
        + parts.joined(separator: ", ")
    }
    let skipped = contents.summary.skipped.count + (check?.skipped.count ?? 0)
    if skipped > 0 {
      verdict += "; \(count(skipped)) not compared (no readable values)"
    }
    if contents.summary.withinTolerance > 0 {
      verdict += "; \(count(contents.summary.withinTolerance)) with values within the tolerance"
    }
    if !options.values && total > 0 && check == nil {
      verdict +=
        options.expectUnchanged.isEmpty
        ? " (values not compared)" : " (values compared under --expect-unchanged only)"
    }
    guard !expectations.isEmpty else { return verdict }
    let broken = expectations.filter { !$0.kept }
    guard !broken.isEmpty else {
      return
        "expectations kept (\(expectations.map { "'\($0.pattern)'" }.joined(separator: ", ")) unchanged); "
        + verdict
    }
    let shown = broken.map { r in
      r.tensors == 0
        ? "'\(r.pattern)' matches no tensor" : "'\(r.pattern)': \(r.violations.count) changed"
    }
    return "EXPECTATION BROKEN (\(shown.joined(separator: "; "))); " + verdict
  }

  // MARK: names

  static let sideNames = ["before", "after"]

  /// The tensors of each side under their comparison names, and the prefixes stripped.
  static func names(_ a: Checkpoint, _ b: Checkpoint, options: DiffOptions, notes: inout [String])
    -> (left: [DiffEntry], right: [DiffEntry], strips: [PrefixStrip])
  {
    var sides = [entries(a, options: options), entries(b, options: options)]
    var strips = stripGiven(options.stripPrefixes, &sides, notes: &notes)
    if options.autoStrip { strips += stripDetected(&sides) }
    for side in 0..<2 { sides[side] = keepingFirst(sides[side], side: side, notes: &notes) }
    return (sides[0], sides[1], strips)
  }

  /// The tensors of one side (the model's, or all with `allTensors`), model tensors named
  /// relative to the model.
  static func entries(_ c: Checkpoint, options: DiffOptions) -> [DiffEntry] {
    let chosen = options.allTensors ? c.tensors : c.modelTensors
    return chosen.map { t in
      let model = t.section == .model
      var name = Substring(t.name)
      if model && name.hasPrefix(c.modelPrefix) { name = name.dropFirst(c.modelPrefix.count) }
      return DiffEntry(name: String(name), tensor: t, isModel: model)
    }
  }

  /// Removes `prefix` from the names that carry it (model tensors only, or all); how many.
  static func strip(_ prefix: String, from entries: inout [DiffEntry], modelOnly: Bool) -> Int {
    var n = 0
    for i in entries.indices
    where (!modelOnly || entries[i].isModel) && entries[i].name.hasPrefix(prefix) {
      entries[i].name.removeFirst(prefix.count)
      n += 1
    }
    return n
  }

  /// `--strip-prefix`: each prefix removed from every name of either side that carries it.
  static func stripGiven(
    _ prefixes: [String], _ sides: inout [[DiffEntry]], notes: inout [String]
  ) -> [PrefixStrip] {
    var strips: [PrefixStrip] = []
    for prefix in prefixes where !prefix.isEmpty {
      var any = false
      for side in 0..<2 {
        let n = strip(prefix, from: &sides[side], modelOnly: false)
        if n > 0 {
          strips.append(
            PrefixStrip(side: sideNames[side], prefix: prefix, automatic: false, tensors: n))
          any = true
        }
      }
      if !any { notes.append("--strip-prefix '\(prefix)' matches no tensor name on either side") }
    }
    return strips
  }

  /// Strips a prefix every model key of one side carries when that gives more common names.
  static func stripDetected(_ sides: inout [[DiffEntry]]) -> [PrefixStrip] {
    func modelNames(_ side: Int) -> [String] { sides[side].filter(\.isModel).map(\.name) }
    func commonCount(_ x: [String], _ y: [String]) -> Int { Set(x).intersection(y).count }
    var strips: [PrefixStrip] = []
    var rounds = 0
    var progress = true
    while progress && rounds < 8 {
      progress = false
      rounds += 1
      for side in 0..<2 {
        let mine = modelNames(side)
        let theirs = modelNames(1 - side)
        guard !mine.isEmpty, !theirs.isEmpty else { continue }
        var candidates = knownPrefixes
        if let first = mine.first, let dot = first.firstIndex(of: ".") {
          let component = String(first[...dot])
          if !candidates.contains(component) { candidates.append(component) }
        }
        for prefix in candidates
        where mine.allSatisfy({ $0.hasPrefix(prefix) })
          && !theirs.allSatisfy({ $0.hasPrefix(prefix) })
        {
          let stripped = mine.map { String($0.dropFirst(prefix.count)) }
          guard commonCount(stripped, theirs) > commonCount(mine, theirs) else { continue }
          let n = strip(prefix, from: &sides[side], modelOnly: true)
          strips.append(
            PrefixStrip(side: sideNames[side], prefix: prefix, automatic: true, tensors: n))
          progress = true
          break
        }
      }
    }
    return strips
  }

  /// Stripping can make two names equal: keeps the first, with a note.
  static func keepingFirst(_ entries: [DiffEntry], side: Int, notes: inout [String])
    -> [DiffEntry]
  {
    var seen = Set<String>()
    var duplicates: [String] = []
    let kept = entries.filter { e in
      if seen.insert(e.name).inserted { return true }
      duplicates.append(e.name)
      return false
    }
    if !duplicates.isEmpty {
      notes.append(
        "\(sideNames[side]): \(duplicates.count) name(s) occur twice after prefix stripping (first kept): "
          + duplicates.prefix(3).joined(separator: ", "))
    }
    return kept
  }

  /// Applies `--filter` and `--exclude`.
  static func select(_ entries: [DiffEntry], options: DiffOptions) -> [DiffEntry] {
    entries.filter { e in
      (options.filters.isEmpty || NameGlob.matchesAny(options.filters, e.name))
        && !NameGlob.matchesAny(options.excludes, e.name)
    }
  }

  // MARK: totals

  static func counts(_ entries: [DiffEntry]) -> DiffCounts {
    var c = DiffCounts()
    for e in entries {
      c.tensors += 1
      guard e.tensor.sharedWith == nil else { continue }
      c.bytes &+= e.tensor.bytes
      switch e.tensor.kind {
      case .parameter: c.parameters &+= e.tensor.numel
      case .buffer: c.buffers &+= e.tensor.numel
      }
    }
    return c
  }

  static func difference(_ x: DiffCounts, _ y: DiffCounts) -> DiffCounts {
    var d = DiffCounts()
    d.tensors = x.tensors &- y.tensors
    d.parameters = x.parameters &- y.parameters
    d.buffers = x.buffers &- y.buffers
    d.bytes = x.bytes &- y.bytes
    return d
  }

  // MARK: layers

  /// A layer under its comparison name, with its tensors' leaf and comparison names.
  struct NamedLayer {
    var layer: Layer
    var tensors: [(leaf: String, name: String)]
  }

  /// Layers of one side, renamed as the comparison names their tensors, keeping those with at
  /// least one selected tensor.
  static func namedLayers(_ c: Checkpoint, entries: [DiffEntry]) -> (
    order: [String], layers: [String: NamedLayer]
  ) {
    var byTensor: [String: String] = [:]
    let selected = Dictionary(
      entries.filter(\.isModel).map { ($0.tensor.name, $0.name) }, uniquingKeysWith: { x, _ in x })
    for t in c.modelTensors {
      if let name = selected[t.name], byTensor[c.layerName(t)] == nil {
        byTensor[c.layerName(t)] = name
      }
    }
    var order: [String] = []
    var result: [String: NamedLayer] = [:]
    for layer in LayerInference.layers(of: c) {
      var tensors: [(leaf: String, name: String)] = []
      var layerName: String?
      for leaf in layer.tensors {
        let full = layer.name == "(root)" ? leaf : layer.name + "." + leaf
        guard let name = byTensor[full] else { continue }
        tensors.append((leaf, name))
        if layerName == nil {
          layerName =
            name == leaf
            ? "(root)" : name.hasSuffix("." + leaf) ? String(name.dropLast(leaf.count + 1)) : name
        }
      }
      guard let layerName, result[layerName] == nil else { continue }
      order.append(layerName)
      result[layerName] = NamedLayer(layer: layer, tensors: tensors)
    }
    return (order, result)
  }

  static func layerChanges(
    _ a: Checkpoint, _ b: Checkpoint, left: [DiffEntry], right: [DiffEntry],
    changes: [String: TensorChanges]
  ) -> [LayerChange] {
    let (orderA, layersA) = namedLayers(a, entries: left)
    let (orderB, layersB) = namedLayers(b, entries: right)
    var order = orderA
    let known = Set(orderA)
    order += orderB.filter { !known.contains($0) }
    var result: [LayerChange] = []
    for name in order {
      let x = layersA[name]
      let y = layersB[name]
      var leaves: [(leaf: String, name: String)] = x?.tensors ?? []
      let seen = Set(leaves.map(\.leaf))
      leaves += (y?.tensors ?? []).filter { !seen.contains($0.leaf) }
      let tensorChanges = leaves.compactMap { l in
        changes[l.name].map { LayerTensorChange(name: l.leaf, change: $0.description) }
      }
      let describedDifferently = x?.layer.description != y?.layer.description
      let countsDiffer =
        x?.layer.parameters != y?.layer.parameters || x?.layer.buffers != y?.layer.buffers
      guard describedDifferently || countsDiffer || !tensorChanges.isEmpty else { continue }
      result.append(
        LayerChange(
          name: name, before: x?.layer.description, after: y?.layer.description,
          parametersBefore: x?.layer.parameters ?? 0, parametersAfter: y?.layer.parameters ?? 0,
          buffersBefore: x?.layer.buffers ?? 0, buffersAfter: y?.layer.buffers ?? 0,
          tensors: tensorChanges))
    }
    return result
  }
}
