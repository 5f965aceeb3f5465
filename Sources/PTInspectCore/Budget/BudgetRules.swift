// BudgetRules.swift: budget rules as written (on the command line or in a budget file), parsed
// once into limits, and checked against a checkpoint's summary.

/// What a budget rule limits.
package enum BudgetMetric: String, Sendable, Codable {
  /// Parameters of the model (tied tensors counted once), as the summary totals them.
  case parameters
  /// Bytes of the model's tensors (parameters and buffers, tied tensors counted once).
  case bytes
  /// The checkpoint file's size on disk.
  case fileBytes
}

/// One rule: what it checks, and how the user wrote it.
package struct BudgetRule: Sendable, Equatable {
  package enum Check: Sendable, Equatable {
    /// The whole model (or file) at most `limit`.
    case total(BudgetMetric, limit: Int64)
    /// Model tensors whose name matches `pattern` at most `limit`.
    case group(pattern: String, BudgetMetric, limit: Int64)
    /// At most this growth over the baseline.
    case growth(BudgetMetric, Growth)
  }

  package var check: Check
  /// The rule as the user wrote it: `max-params 5.8M`, `budget encoder.*=20M`.
  package var text: String

  package init(_ check: Check, text: String) {
    self.check = check
    self.text = text
  }
}

/// The keys a budget takes, as the command line (`--max-params`) and budget files spell them.
package enum BudgetKey: String, Sendable, CaseIterable {
  case maxParams = "max-params"
  case maxBytes = "max-bytes"
  case maxFileBytes = "max-file-bytes"
  case maxGrowth = "max-growth"
  case maxBytesGrowth = "max-bytes-growth"
  case baseline
}

/// A set of budget rules. Later sources override earlier ones key by key (`merge`).
package struct BudgetSpec: Sendable, Equatable {
  package var maxParams: BudgetRule?
  package var maxBytes: BudgetRule?
  package var maxFileBytes: BudgetRule?
  /// Group budgets (`encoder.*=20M`), in the order given.
  package var groups: [BudgetRule] = []
  package var maxGrowth: BudgetRule?
  package var maxBytesGrowth: BudgetRule?
  /// The baseline checkpoint (a file, or a folder holding files of the same names).
  package var baseline: String?

  package init() {}

  /// The rules in the order they are reported.
  package var rules: [BudgetRule] {
    [maxParams, maxBytes, maxFileBytes].compactMap { $0 } + groups
      + [maxGrowth, maxBytesGrowth].compactMap { $0 }
  }

  /// Whether growth rules are present (they need a baseline).
  package var hasGrowthRules: Bool { maxGrowth != nil || maxBytesGrowth != nil }

  /// Sets `key` from its written value (`5.8M`, `25MB`, `5%`).
  package mutating func set(_ key: BudgetKey, _ value: String) throws(BudgetRuleError) {
    let text = "\(key.rawValue) \(value.strippedBlanks())"
    switch key {
    case .maxParams:
      maxParams = BudgetRule(.total(.parameters, limit: try Quantity.count(value)), text: text)
    case .maxBytes:
      maxBytes = BudgetRule(.total(.bytes, limit: try Quantity.bytes(value)), text: text)
    case .maxFileBytes:
      maxFileBytes = BudgetRule(.total(.fileBytes, limit: try Quantity.bytes(value)), text: text)
    case .maxGrowth:
      maxGrowth = BudgetRule(
        .growth(.parameters, try Quantity.growth(value, kind: .count)), text: text)
    case .maxBytesGrowth:
      maxBytesGrowth = BudgetRule(
        .growth(.bytes, try Quantity.growth(value, kind: .bytes)), text: text)
    case .baseline:
      let path = value.strippedBlanks()
      if path.isEmpty { throw BudgetRuleError("the baseline path is empty") }
      baseline = path
    }
  }

  /// Adds a group budget written `GLOB=N` (`encoder.*=20M` parameters, `encoder.*=40MB` bytes).
  package mutating func addGroup(_ written: String) throws(BudgetRuleError) {
    guard let eq = written.lastIndex(of: "=") else {
      throw BudgetRuleError("'\(written)' is not GLOB=N (e.g. 'encoder.*=20M')")
    }
    try addGroup(
      pattern: String(written[..<eq]), value: String(written[written.index(after: eq)...]))
  }

  /// Adds a group budget: tensors matching `pattern` at most `value` (a count, or bytes when it
  /// has a byte unit). A pattern already present is replaced.
  package mutating func addGroup(pattern: String, value: String) throws(BudgetRuleError) {
    let pattern = pattern.strippedBlanks()
    let value = value.strippedBlanks()
    if pattern.isEmpty { throw BudgetRuleError("'\(pattern)=\(value)' has an empty pattern") }
    if value.isEmpty { throw BudgetRuleError("'\(pattern)=' has no limit (e.g. '\(pattern)=20M')") }
    let (limit, kind) = try Quantity.countOrBytes(value)
    let rule = BudgetRule(
      .group(pattern: pattern, kind == .bytes ? .bytes : .parameters, limit: limit),
      text: "budget \(pattern)=\(value)")
    if let i = groups.firstIndex(where: { $0.groupPattern == pattern }) {
      groups[i] = rule
    } else {
      groups.append(rule)
    }
  }

  /// `other` on top of this spec: its keys replace these, its groups replace groups with the
  /// same pattern.
  package mutating func merge(_ other: BudgetSpec) {
    maxParams = other.maxParams ?? maxParams
    maxBytes = other.maxBytes ?? maxBytes
    maxFileBytes = other.maxFileBytes ?? maxFileBytes
    maxGrowth = other.maxGrowth ?? maxGrowth
    maxBytesGrowth = other.maxBytesGrowth ?? maxBytesGrowth
    baseline = other.baseline ?? baseline
    for g in other.groups {
      if let i = groups.firstIndex(where: { $0.groupPattern == g.groupPattern }) {
        groups[i] = g
      } else {
        groups.append(g)
      }
    }
  }

  /// Rules that cannot work together: growth without a baseline, a baseline without growth
  /// rules, or no rules at all.
  package func validate() throws(BudgetRuleError) {
    if rules.isEmpty {
      throw BudgetRuleError(
        "no budget rules: give --max-params, --max-bytes, --max-file-bytes, --budget GLOB=N or --max-growth with --baseline, or a budget file (.ptinspect.toml, or [tool.ptinspect.budget] in pyproject.toml)"
      )
    }
    if hasGrowthRules && baseline == nil {
      let key = maxGrowth != nil ? "max-growth" : "max-bytes-growth"
      throw BudgetRuleError("'\(key)' needs a baseline checkpoint (--baseline OLD)")
    }
    if baseline != nil && !hasGrowthRules {
      throw BudgetRuleError(
        "a baseline needs a growth rule (--max-growth 5% or --max-bytes-growth 5%)")
    }
  }
}

extension BudgetRule {
  var groupPattern: String? {
    if case .group(let pattern, _, _) = check { return pattern }
    return nil
  }
}

// MARK: checking

/// One rule checked against one checkpoint.
package struct BudgetCheck: Sendable, Codable, Equatable {
  /// The rule as written (`max-params 5.8M`).
  package var rule: String
  /// `parameters`, `bytes` or `fileBytes`.
  package var metric: BudgetMetric
  /// The measured value; for growth rules, the growth over the baseline (may be negative).
  package var actual: Int64
  /// The limit; for growth rules, the allowed growth in the metric's unit.
  package var limit: Int64
  /// limit - actual: room left when positive, the excess when negative.
  package var margin: Int64
  package var pass: Bool
  /// For growth rules: the baseline's value.
  package var baseline: Int64?
  /// For group rules: how many model tensors the pattern matches.
  package var matched: Int?
  /// Why a rule failed beyond its numbers (`matches no model tensor`).
  package var note: String?

}

/// A budget verdict, as the JSON spells it.
package enum BudgetVerdict: String, Sendable, Codable, Equatable {
  /// Within every budget.
  case pass
  /// Over at least one budget.
  case fail
  /// The file could not be read.
  case error
}

/// The budget verdict for one checkpoint (schemaVersion 1).
package struct BudgetReport: Sendable, Codable, Equatable {
  package var schemaVersion = reportSchemaVersion
  package var file: String
  package var verdict: BudgetVerdict
  package var rules: [BudgetCheck]
  /// The baseline checkpoint the growth rules compare with.
  package var baselineFile: String?
  /// The budget file the rules came from, if any.
  package var config: String?
  /// Why the file could not be read (verdict `error`).
  package var error: String?
  /// The kind of failure (`CheckpointError.kind`: `io`, `zip`, `pickle`, ...), with `error`.
  package var errorKind: String?
  /// Notes (`no baseline for x.pt: growth not checked`).
  package var notes: [String] = []
  /// What reading a remote checkpoint cost (`url`, `bytesFetched`, `requests`, `etag`,
  /// `seconds`); null for a local file.
  package var source: SourceCost? = nil

  package init(
    file: String, verdict: BudgetVerdict, rules: [BudgetCheck], baselineFile: String? = nil,
    config: String? = nil, error: String? = nil, notes: [String] = []
  ) {
    self.file = file
    self.verdict = verdict
    self.rules = rules
    self.baselineFile = baselineFile
    self.config = config
    self.error = error
    self.notes = notes
  }

  /// A file that could not be read.
  package static func unreadable(
    _ file: String, _ error: String, kind: String? = nil, config: String? = nil
  ) -> BudgetReport {
    var r = BudgetReport(file: file, verdict: .error, rules: [], config: config, error: error)
    r.errorKind = kind
    return r
  }

  package var passed: Bool { verdict == .pass }
  package var failedRules: [BudgetCheck] { rules.filter { !$0.pass } }
}

/// The baseline's numbers the growth rules compare with.
package struct BudgetBaseline: Sendable, Equatable {
  package var file: String
  package var parameters: Int64
  package var bytes: Int64
  package init(file: String, parameters: Int64, bytes: Int64) {
    self.file = file
    self.parameters = parameters
    self.bytes = bytes
  }
  package init(_ report: SummaryReport) {
    self.init(file: report.file, parameters: report.totals.parameters, bytes: report.totals.bytes)
  }
}

/// Checks budget rules against checkpoints.
package enum BudgetEvaluator {
  /// Checks every rule of `spec` against the checkpoint `c` (whose summary is `report`).
  /// Growth rules need `baseline`; without one they are left out and a note says so.
  package static func evaluate(
    _ spec: BudgetSpec, checkpoint c: Checkpoint, report: SummaryReport, baseline: BudgetBaseline?,
    config: String? = nil
  ) -> BudgetReport {
    var checks: [BudgetCheck] = []
    var notes: [String] = []
    for rule in spec.rules {
      switch rule.check {
      case .total(let metric, let limit):
        let actual: Int64
        switch metric {
        case .parameters: actual = report.totals.parameters
        case .bytes: actual = report.totals.bytes
        case .fileBytes: actual = report.fileBytes
        }
        checks.append(check(rule, metric, actual: actual, limit: limit))
      case .group(let pattern, let metric, let limit):
        let (actual, matched) = groupTotal(c, pattern: pattern, metric: metric)
        var result = check(rule, metric, actual: actual, limit: limit)
        result.matched = matched
        if matched == 0 {
          result.pass = false
          result.note = "'\(pattern)' matches no model tensor"
        }
        checks.append(result)
      case .growth(let metric, let growth):
        guard let baseline else {
          notes.append("no baseline for this file: '\(rule.text)' not checked")
          continue
        }
        let old = metric == .bytes ? baseline.bytes : baseline.parameters
        let new = metric == .bytes ? report.totals.bytes : report.totals.parameters
        let allowed: Int64
        switch growth {
        case .absolute(let n): allowed = n
        case .percent(let p):
          let share = (Double(old) * p / 100).rounded(.down)
          allowed = share < 9.2e18 ? Int64(share) : Int64.max
        }
        var result = check(
          BudgetRule(rule.check, text: rule.text + " vs " + baseline.file), metric,
          actual: new &- old,
          limit: allowed)
        result.baseline = old
        checks.append(result)
      }
    }
    let verdict: BudgetVerdict = checks.allSatisfy(\.pass) ? .pass : .fail
    return BudgetReport(
      file: report.file, verdict: verdict, rules: checks,
      baselineFile: spec.hasGrowthRules ? baseline?.file : nil, config: config, notes: notes)
  }

  static func check(_ rule: BudgetRule, _ metric: BudgetMetric, actual: Int64, limit: Int64)
    -> BudgetCheck
  {
    BudgetCheck(
      rule: rule.text, metric: metric, actual: actual, limit: limit, margin: limit &- actual,
      pass: actual <= limit, baseline: nil, matched: nil, note: nil)
  }

  /// Parameters (or bytes) of the model tensors whose name relative to the model matches
  /// `pattern`, tied tensors counted once, and how many tensors matched.
  package static func groupTotal(_ c: Checkpoint, pattern: String, metric: BudgetMetric) -> (
    Int64, Int
  ) {
    var total: Int64 = 0
    var matched = 0
    for t in c.modelTensors {
      let name = c.layerName(t)
      guard nameMatches(pattern, name) else { continue }
      matched += 1
      if t.sharedWith != nil { continue }
      switch metric {
      case .parameters: if t.kind == .parameter { total &+= t.numel }
      case .bytes, .fileBytes: total &+= t.bytes
      }
    }
    return (total, matched)
  }

  /// A glob (`encoder.*`, `layer?.weight`) matches the whole name; a plain name (`encoder`)
  /// matches that module and everything below it.
  package static func nameMatches(_ pattern: String, _ name: String) -> Bool {
    if pattern.contains(where: { $0 == "*" || $0 == "?" || $0 == "[" }) {
      return Glob.matches(pattern, name)
    }
    return name == pattern || name.hasPrefix(pattern + ".")
  }
}
