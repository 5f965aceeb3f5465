// StatsReport.swift: `ptinspect stats` as data (Encodable, schemaVersion 1) and its renderings:
// a table per tensor with the totals, a per-layer rollup and Markdown (JSON: ReportJSON).

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// Statistics of one tensor's values.
public struct TensorStatsEntry: Sendable, Encodable, Equatable {
  /// The tensor's full name, as `Checkpoint.tensors` names it.
  public var name: String
  /// Its dtype as stored (`float32`).
  public var dtype: String
  /// Its number of elements.
  public var numel: Int64
  /// Nil when the values could not be read (`skipped` says why).
  public var statistics: ValueStatistics?
  /// The tensor this one is tied to (same storage and view): its statistics are copied.
  public var sharedWith: String?
  /// Why the values were not read (meta tensor, raw-bits dtype, ...); nil when they were.
  public var skipped: String?

  enum CodingKeys: String, CodingKey {
    case name, dtype, numel, min, max, mean, std, zeros, zeroFraction, nan, inf, sharedWith, skipped
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(name, forKey: .name)
    try c.encode(dtype, forKey: .dtype)
    try c.encode(numel, forKey: .numel)
    try StatsJSON.encode(statistics, into: &c)
    try c.encode(sharedWith, forKey: .sharedWith)
    try c.encode(skipped, forKey: .skipped)
  }

  /// A row: a tensor's statistics, or why it was skipped (`skipped`, with `statistics` nil).
  package init(
    name: String, dtype: String, numel: Int64, statistics: ValueStatistics?, sharedWith: String?,
    skipped: String?
  ) {
    self.name = name
    self.dtype = dtype
    self.numel = numel
    self.statistics = statistics
    self.sharedWith = sharedWith
    self.skipped = skipped
  }
}

/// Statistics of a layer's tensors taken together (tied tensors counted in their first layer).
public struct LayerStatsEntry: Sendable, Encodable, Equatable {
  /// Module path (`features.3`), `(root)` for top-level tensors.
  public var name: String
  /// Inferred or recorded layer type (`Conv2d`).
  public var type: String
  /// Tensors whose values were read.
  public var tensors: Int
  /// The statistics of all their values taken together.
  public var statistics: ValueStatistics

  enum CodingKeys: String, CodingKey {
    case name, type, tensors, numel, min, max, mean, std, zeros, zeroFraction, nan, inf
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(name, forKey: .name)
    try c.encode(type, forKey: .type)
    try c.encode(tensors, forKey: .tensors)
    try c.encode(statistics.count, forKey: .numel)
    try StatsJSON.encode(statistics, into: &c)
  }

  /// A layer's row: `tensors` tensors of the layer `name` of type `type`, taken together.
  package init(name: String, type: String, tensors: Int, statistics: ValueStatistics) {
    self.name = name
    self.type = type
    self.tensors = tensors
    self.statistics = statistics
  }
}

/// Statistics of every listed tensor taken together (tied tensors once).
public struct StatsTotals: Sendable, Encodable, Equatable {
  /// Tensors listed (after `--filter`).
  public var tensors: Int
  /// Tensors whose values were read (tied duplicates and skipped ones excluded).
  public var read: Int
  /// Tensors skipped because their values cannot be read.
  public var skipped: Int
  /// Bytes of tensor data read.
  public var bytes: Int64
  /// The statistics of every listed tensor taken together (tied tensors once).
  public var statistics: ValueStatistics
  /// Tensors holding NaN or Inf, in file order.
  public var nonFiniteTensors: [String]

  enum CodingKeys: String, CodingKey {
    case tensors, read, skipped, bytes, numel, min, max, mean, std, zeros, zeroFraction, nan, inf,
      nonFiniteTensors
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(tensors, forKey: .tensors)
    try c.encode(read, forKey: .read)
    try c.encode(skipped, forKey: .skipped)
    try c.encode(bytes, forKey: .bytes)
    try c.encode(statistics.count, forKey: .numel)
    try StatsJSON.encode(statistics, into: &c)
    try c.encode(nonFiniteTensors, forKey: .nonFiniteTensors)
  }

  /// The totals: `tensors` listed, `read` of them read, `skipped` without values, `bytes` read, their statistics taken together, and the tensors holding NaN or Inf.
  package init(
    tensors: Int, read: Int, skipped: Int, bytes: Int64, statistics: ValueStatistics,
    nonFiniteTensors: [String]
  ) {
    self.tensors = tensors
    self.read = read
    self.skipped = skipped
    self.bytes = bytes
    self.statistics = statistics
    self.nonFiniteTensors = nonFiniteTensors
  }
}

/// The shared statistic keys: `min`, `max`, `mean`, `std` (null when no finite value),
/// `zeros`, `zeroFraction`, `nan`, `inf`.
enum StatsJSON {
  static func encode<K: CodingKey>(_ s: ValueStatistics?, into c: inout KeyedEncodingContainer<K>)
    throws
  {
    func key(_ name: String) -> K? { K(stringValue: name) }
    for (name, value) in [
      ("min", s?.min), ("max", s?.max), ("mean", s?.mean), ("std", s?.std),
    ] {
      guard let k = key(name) else { continue }
      try c.encode(value, forKey: k)
    }
    for (name, value) in [("zeros", s?.zeros), ("nan", s?.nan), ("inf", s?.inf)] {
      guard let k = key(name) else { continue }
      try c.encode(value, forKey: k)
    }
    if let k = key("zeroFraction") { try c.encode(s?.zeroFraction, forKey: k) }
  }
}

/// The order of the tensor rows in `stats` tables.
public enum StatsSort: String, Sendable, CaseIterable {
  /// As the file lists them.
  case file
  case name
  /// Most elements first.
  case size
  /// Largest |value| first.
  case absmax
  /// Largest standard deviation first.
  case std
  /// Largest share of zeros first.
  case zeros
}

/// Which tensor rows a `stats` table shows.
public struct StatsView: Sendable {
  /// Files with more tensors than this show the first `shown` rows unless `all`.
  public static let bigFile = 60
  public static let shown = 25
  public var top: Int?
  public var sort: StatsSort
  public var all: Bool
  public init(top: Int? = nil, sort: StatsSort = .file, all: Bool = false) {
    self.top = top
    self.sort = sort
    self.all = all
  }
}

/// The `stats` report: per tensor, per layer and in total.
public struct StatsReport: Sendable, Encodable {
  /// The JSON schema version (`reportSchemaVersion`).
  public var schemaVersion = reportSchemaVersion
  /// The file, as given.
  public var file: String
  /// The container (`ContainerFormat` raw value).
  public var format: String
  /// The `--filter` glob, or nil for every tensor.
  public var filter: String?
  /// One row per listed tensor, in file order.
  public var tensors: [TensorStatsEntry]
  /// Every layer's listed model tensors together (weights, biases and buffers).
  public var layers: [LayerStatsEntry]
  /// The same rollup of parameters only (weights, biases, ...), without running statistics.
  public var layerParameters: [LayerStatsEntry] = []
  /// The rollup of buffers only (BatchNorm's running_mean/var, ...), kept apart from weights.
  public var layerBuffers: [LayerStatsEntry] = []
  /// Every listed tensor taken together.
  public var totals: StatsTotals
  /// What is worth a look, first: NaN/Inf, all-zero or constant tensors and layers, values far
  /// outside the usual scale, a negative or huge running_var, identical weights.
  public var findings: [StatsFinding] = []
  /// What reading a remote checkpoint cost (its tensor data included); null for a local file.
  public var source: SourceCost?

  /// Reads every tensor of `c` whose name matches `filter` and computes its statistics.
  public init(
    _ c: Checkpoint, filter: String? = nil, engine: StatsEngine = StatsEngine(),
    progress: (@Sendable (_ done: Int64, _ total: Int64) -> Void)? = nil
  ) throws {
    let reader = try TensorDataReader(c)
    try self.init(c, reader: reader, filter: filter, engine: engine, progress: progress)
  }

  /// As above, with a reader the caller already holds.
  package init(
    _ c: Checkpoint, reader: TensorDataReader, filter: String? = nil,
    engine: StatsEngine = StatsEngine(),
    progress: (@Sendable (_ done: Int64, _ total: Int64) -> Void)? = nil
  ) throws {
    file = c.path
    format = c.format.rawValue
    self.filter = filter
    let selected = c.tensors.filter { filter == nil || Glob.matches(filter ?? "", $0.name) }
    let names = Set(selected.map(\.name))
    // A tied tensor copies its original's statistics when the original is listed too.
    let computed = selected.filter { t in t.sharedWith.map { !names.contains($0) } ?? true }
    let outcomes = try engine.run(reader, tensors: computed, progress: progress)
    source = c.sourceCost
    var byName: [String: TensorStatsOutcome] = [:]
    for (t, o) in zip(computed, outcomes) { byName[t.name] = o }
    var entries: [TensorStatsEntry] = []
    var total = ValueStatistics()
    var read = 0
    var skipped = 0
    var bytes: Int64 = 0
    var nonFinite: [String] = []
    for t in selected {
      let isCopy = t.sharedWith.map { names.contains($0) } ?? false
      let outcome = byName[isCopy ? (t.sharedWith ?? t.name) : t.name]
      var entry = TensorStatsEntry(
        name: t.name, dtype: t.dtype.rawValue, numel: t.numel, statistics: nil,
        sharedWith: t.sharedWith,
        skipped: nil)
      switch outcome {
      case .statistics(let s)?:
        entry.statistics = s
        if s.hasNonFinite { nonFinite.append(t.name) }
        if !isCopy {
          total.merge(s)
          read += 1
          bytes &+= t.components.isEmpty ? t.bytes : (t.components.last?.bytes ?? 0)
        }
      case .skipped(let reason)?:
        entry.skipped = reason
        if !isCopy { skipped += 1 }
      case nil:
        entry.skipped = "not read"
      }
      entries.append(entry)
    }
    tensors = entries
    totals = StatsTotals(
      tensors: selected.count, read: read, skipped: skipped, bytes: bytes, statistics: total,
      nonFiniteTensors: nonFinite)
    layers = StatsReport.rollup(c, selected: selected, names: names, entries: entries)
    layerParameters = StatsReport.rollup(
      c, selected: selected, names: names, entries: entries, only: .parameter)
    layerBuffers = StatsReport.rollup(
      c, selected: selected, names: names, entries: entries, only: .buffer)
    findings = StatsFindings.find(selected, entries, layers: layerParameters)
  }

  /// Layers as `LayerInference` names them, each with the merged statistics of its listed,
  /// read, untied tensors.
  static func rollup(
    _ c: Checkpoint, selected: [TensorRecord], names: Set<String>, entries: [TensorStatsEntry],
    only kind: TensorKind? = nil
  ) -> [LayerStatsEntry] {
    let inferred = LayerInference.layers(of: c)
    var layerOf: [String: Int] = [:]
    for (i, l) in inferred.enumerated() {
      for leaf in l.tensors { layerOf[l.name == "(root)" ? leaf : l.name + "." + leaf] = i }
    }
    var merged: [Int: (tensors: Int, statistics: ValueStatistics)] = [:]
    for (t, e) in zip(selected, entries)
    where t.section == .model && (kind.map { t.kind == $0 } ?? true) {
      guard let s = e.statistics, let i = layerOf[c.layerName(t)] else { continue }
      if let original = t.sharedWith, names.contains(original) { continue }
      var m = merged[i] ?? (0, ValueStatistics())
      m.tensors += 1
      m.statistics.merge(s)
      merged[i] = m
    }
    return inferred.indices.compactMap { i in
      merged[i].map {
        LayerStatsEntry(
          name: inferred[i].name, type: inferred[i].type, tensors: $0.tensors,
          statistics: $0.statistics)
      }
    }
  }

  /// Whether any listed tensor holds NaN or Inf (what `--check` fails on).
  public var hasNonFinite: Bool { !totals.nonFiniteTensors.isEmpty }

  // MARK: rendering

  /// A statistic as a table shows it: 5 significant digits, `-` when absent.
  static func number(_ x: Double?) -> String {
    guard let x, x.isFinite else { return "-" }
    if x == 0 { return "0" }
    return cFormat("%.5g", x)
  }

  /// The share of zeros: `-` for none, `100%` for all, else one decimal (never rounded to 0 or 100).
  static func zeros(_ s: ValueStatistics) -> String {
    if s.zeros == 0 { return "-" }
    if s.zeros == s.count { return "100%" }
    let pct = s.zeroFraction * 100
    if pct < 0.1 { return "<0.1%" }
    if pct > 99.9 { return ">99.9%" }
    return cFormat("%.1f%%", pct)
  }

  static func count(_ n: Int64) -> String { n == 0 ? "-" : Format.count(n) }

  static func cells(_ s: ValueStatistics) -> [String] {
    [
      number(s.min), number(s.max), number(s.mean), number(s.std), zeros(s), count(s.nan),
      count(s.inf),
    ]
  }

  static let statHeaders = ["Min", "Max", "Mean", "Std", "Zeros", "NaN", "Inf"]
  static let statAlignments: [Alignment] = Array(repeating: .right, count: 7)

  /// The tensor rows a table shows, in order: `view.sort`, then the first `view.top` (or, for
  /// a big file without `view.all`, the first `StatsView.bigFile`).
  func shownTensors(_ view: StatsView) -> (rows: [TensorStatsEntry], cut: Bool) {
    var rows = tensors
    func key(_ e: TensorStatsEntry) -> Double {
      guard let s = e.statistics else { return -1 }
      switch view.sort {
      case .file, .name: return 0
      case .size: return Double(e.numel)
      case .absmax: return StatsFindings.absMax(s) ?? -1
      case .std: return s.std ?? -1
      case .zeros: return s.zeroFraction
      }
    }
    switch view.sort {
    case .file: break
    case .name: rows.sort { $0.name < $1.name }
    default:
      let keys = Dictionary(rows.map { ($0.name, key($0)) }, uniquingKeysWith: { a, _ in a })
      rows = rows.enumerated().sorted {
        let (a, b) = (keys[$0.element.name] ?? 0, keys[$1.element.name] ?? 0)
        return a != b ? a > b : $0.offset < $1.offset
      }.map(\.element)
    }
    let limit = view.top ?? (view.all || rows.count <= StatsView.bigFile ? nil : StatsView.shown)
    guard let limit, rows.count > limit else { return (rows, false) }
    return (Array(rows.prefix(limit)), true)
  }

  func tensorTable(_ view: StatsView = StatsView(all: true)) -> (
    table: TextTable, flagged: Set<Int>, total: [String]
  ) {
    var table = TextTable(
      headers: ["Tensor", "Dtype", "Numel"] + Self.statHeaders,
      alignments: [.left, .left, .right] + Self.statAlignments)
    // Narrow terminals: names cut in the middle, then Dtype, Numel, Zeros, Inf, NaN and Mean
    // left out, in that order (the findings name NaN and Inf anyway).
    table.shrinkable = [0]
    table.elideMiddle = [0]
    table.minimumWidths = [0: 32]
    table.droppable = [1, 2, 7, 9, 8, 5]
    var flagged: Set<Int> = []
    for (i, e) in shownTensors(view).rows.enumerated() {
      if let s = e.statistics {
        table.add([e.name, e.dtype, Format.count(e.numel)] + Self.cells(s))
        if s.hasNonFinite { flagged.insert(i) }
      } else {
        // Skipped: the notes say why.
        table.add([e.name, e.dtype, Format.count(e.numel)] + Array(repeating: "-", count: 7))
      }
    }
    let t = totals
    let total =
      ["Total", t.read == 1 ? "1 tensor" : "\(t.read) tensors", Format.count(t.statistics.count)]
      + Self.cells(t.statistics)
    return (table, flagged, total)
  }

  func layerTable(_ rows: [LayerStatsEntry], title: String = "Layer") -> TextTable {
    var table = TextTable(
      headers: [title, "Type", "Tensors", "Numel"] + Self.statHeaders,
      alignments: [.left, .left, .right, .right] + Self.statAlignments)
    // As the tensor table, Tensors, Numel and Type left out first.
    table.shrinkable = [0, 1]
    table.elideMiddle = [0]
    table.droppable = [2, 3, 1, 8, 10, 9, 6]
    for l in rows {
      table.add(
        [l.name, l.type, String(l.tensors), Format.count(l.statistics.count)]
          + Self.cells(l.statistics))
    }
    return table
  }

  var headline: String {
    var parts = [format, "\(tensors.count) tensor\(tensors.count == 1 ? "" : "s")"]
    if let filter { parts.append("filter '\(filter)'") }
    parts.append(
      "\(Format.count(totals.statistics.count)) values, \(Format.bytes(totals.bytes)) read")
    return "\(file): " + parts.joined(separator: ", ")
  }

  var notes: [String] {
    var out: [String] = []
    let nonFinite = tensors.filter { $0.statistics?.hasNonFinite ?? false }
    if !nonFinite.isEmpty {
      let list = nonFinite.prefix(10).map { e -> String in
        let s = e.statistics ?? ValueStatistics()
        return "\(e.name) (\(Format.count(s.nan)) NaN, \(Format.count(s.inf)) Inf)"
      }
      out.append(
        "\(nonFinite.count) tensor\(nonFinite.count == 1 ? "" : "s") \(nonFinite.count == 1 ? "holds" : "hold") NaN or Inf: "
          + list.joined(separator: ", ")
          + (nonFinite.count > 10 ? ", ..." : ""))
    }
    let skipped = tensors.filter { $0.statistics == nil }
    if !skipped.isEmpty {
      out.append(
        "skipped: "
          + skipped.prefix(10).map { "\($0.name) (\($0.skipped ?? ""))" }.joined(separator: ", ")
          + (skipped.count > 10 ? ", and \(skipped.count - 10) more" : ""))
    }
    let tied = tensors.filter { $0.sharedWith != nil }.count
    if tied > 0 {
      out.append("\(tied) tied tensor\(tied == 1 ? "" : "s") counted once in the totals")
    }
    out.append(
      "min, max, mean and std leave out NaN and Inf; std is the population standard deviation")
    return out
  }

  /// The findings as lines: `none` when there are none; each wrapped at `width` under its
  /// message.
  func findingLines(width: Int = .max) -> [String] {
    findings.isEmpty
      ? [
        Format.wrapped(
          "Findings: none (no NaN/Inf, all-zero or constant weights, outliers or copies)",
          width: width)
      ]
      : ["Findings (\(findings.count))"]
        + findings.prefix(30).map { Format.tagged("  \($0.kind):", $0.message, width: width) }
        + (findings.count > 30
          ? [
            Format.wrapped(
              "  ... and \(findings.count - 30) more (--format json lists all)", width: width,
              indent: 4)
          ] : [])
  }

  /// The report as tables for a terminal: the findings, per tensor with the totals, then per
  /// layer (weights and biases), and the layers' running statistics apart; tables fitted to
  /// `width` columns, longer lines wrapped.
  public func table(
    style: TerminalStyle = .plain, view: StatsView = StatsView(), width: Int = .max
  ) -> String {
    let (table, flagged, total) = tensorTable(view)
    let cut = shownTensors(view).cut
    var withTotal = table
    withTotal.add(total)
    let fitted = withTotal.fit(style: style, width: width)
    let rendered = fitted.text.split(separator: "\n", omittingEmptySubsequences: false).map(
      String.init)
    var lines = [style.bold(Format.wrapped(headline, width: width)), ""]
    for (i, line) in findingLines(width: width).enumerated() {
      lines.append(i == 0 ? style.bold(line) : findings.isEmpty ? line : style.yellow(line))
    }
    lines.append("")
    // rendered[0] is the header, rendered[i + 1] is row i; the last line is the total.
    for (i, line) in rendered.enumerated() {
      if i == rendered.count - 1 {
        lines.append(String(repeating: "-", count: rendered.map(\.count).max() ?? 0))
        lines.append(style.bold(line))
      } else if i > 0, flagged.contains(i - 1) {
        lines.append(style.red(line))
      } else {
        lines.append(line)
      }
    }
    if let note = withTotal.droppedNote(fitted.dropped, width: width) {
      lines.append(style.dim(note))
    }
    if cut {
      lines.append(
        style.dim(
          Format.wrapped(
            "(\(Format.count(Int64(shownTensors(view).rows.count))) of \(Format.count(Int64(tensors.count))) tensors shown; the total covers all; --all lists every tensor, --top N and --sort choose)",
            width: width, indent: 1)))
    }
    if !layerParameters.isEmpty {
      lines.append("")
      lines.append(layerTable(layerParameters).render(style: style, width: width))
    }
    if !layerBuffers.isEmpty {
      lines.append("")
      lines.append(
        layerTable(layerBuffers, title: "Buffers of").render(style: style, width: width))
    }
    lines.append("")
    for (i, note) in notes.enumerated() {
      let text = Format.wrapped(note, width: width)
      lines.append(i == 0 && hasNonFinite ? style.red(text) : style.dim(text))
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// The report as GitHub-flavoured Markdown.
  public func markdown() -> String {
    let (table, _, total) = tensorTable()
    var withTotal = table
    withTotal.add(total.enumerated().map { $0.offset == 0 ? "**Total**" : $0.element })
    var out = "### ptinspect stats: `\(file)`\n\n"
    out +=
      findingLines().enumerated().map {
        $0.offset == 0 ? "**\($0.element)**" : "-" + $0.element.dropFirst(1)
      }
      .joined(separator: "\n") + "\n\n"
    out += withTotal.markdown() + "\n"
    if !layerParameters.isEmpty {
      out += "\n#### Layers\n\n" + layerTable(layerParameters).markdown() + "\n"
    }
    if !layerBuffers.isEmpty {
      out +=
        "\n#### Running statistics and other buffers\n\n"
        + layerTable(layerBuffers, title: "Buffers of").markdown() + "\n"
    }
    out += "\n" + notes.map { "- " + $0 }.joined(separator: "\n") + "\n"
    return out
  }
}
