// StatsFindings.swift: what `ptinspect stats` calls out before any table: NaN/Inf, tensors and
// layers that are all zeros or constant, values far outside the model's usual scale, a
// running_var that is negative or huge, weights identical to another tensor's.

/// One thing worth a look in the values.
public struct StatsFinding: Sendable, Codable, Equatable {
  /// `nan-inf`, `all-zero`, `constant`, `out-of-scale`, `running-var`, `identical`.
  public var kind: String
  /// The tensor, or the layer for a layer finding.
  public var name: String
  /// `tensor` or `layer`.
  public var scope: String
  public var message: String
}

enum StatsFindings {
  /// A weight whose largest |value| is this many times the median of the model's weights.
  static let scaleFactor = 100.0
  /// A running_var above this is huge (BatchNorm keeps a variance of its inputs).
  static let hugeVariance = 1e4

  static func absMax(_ s: ValueStatistics) -> Double? {
    guard let lo = s.min, let hi = s.max else { return nil }
    return Swift.max(Swift.abs(lo), Swift.abs(hi))
  }

  /// The findings for the listed tensors (`records` and `entries` in the same order) and the
  /// weight rollups of the layers.
  static func find(
    _ records: [TensorRecord], _ entries: [TensorStatsEntry], layers: [LayerStatsEntry]
  ) -> [StatsFinding] {
    var out: [StatsFinding] = []
    func add(_ kind: String, _ name: String, _ message: String, scope: String = "tensor") {
      out.append(StatsFinding(kind: kind, name: name, scope: scope, message: message))
    }
    // Weights of 2 or more dimensions: their scale is what "usual" means.
    var scales: [Double] = []
    for (t, e) in zip(records, entries) where t.shape.count >= 2 && e.sharedWith == nil {
      if let s = e.statistics, let m = absMax(s), m > 0 { scales.append(m) }
    }
    scales.sort()
    let median = scales.isEmpty ? nil : scales[scales.count / 2]
    var seen: [String: (name: String, storage: StorageID?)] = [:]
    for (t, e) in zip(records, entries) {
      guard let s = e.statistics, s.count > 0 else { continue }
      let n = Format.count(s.count)
      if s.hasNonFinite {
        add(
          "nan-inf", e.name,
          "\(e.name): \(Format.count(s.nan + s.inf)) of \(n) values not finite (nan \(Format.count(s.nan)), inf \(Format.count(s.inf)))"
        )
      }
      if t.role == .runningVar {
        if let lo = s.min, lo < 0 {
          add("running-var", e.name, "\(e.name): negative variance (min \(StatsReport.number(lo)))")
        } else if let hi = s.max, hi > hugeVariance {
          add("running-var", e.name, "\(e.name): huge variance (max \(StatsReport.number(hi)))")
        }
        continue
      }
      // Matrices and kernels only: a zero bias or a constant norm weight is how layers start.
      guard t.shape.count >= 2, s.count > 1, e.sharedWith == nil else { continue }
      if s.zeros == s.count {
        add("all-zero", e.name, "\(e.name): all \(n) values are 0")
      } else if let lo = s.min, let hi = s.max, lo == hi, s.finiteCount == s.count {
        add("constant", e.name, "\(e.name): all \(n) values are \(StatsReport.number(lo))")
      } else if let median, let m = absMax(s), m > scaleFactor * median {
        add(
          "out-of-scale", e.name,
          "\(e.name): max |value| \(StatsReport.number(m)) is \(Int(m / median))x the model's median \(StatsReport.number(median))"
        )
      }
      // The same statistics to the last bit: almost surely the same values.
      if s.count >= 16, let mean = s.mean, let std = s.std, let lo = s.min, let hi = s.max {
        let key =
          "\(e.dtype)|\(s.count)|\(mean.bitPattern)|\(std.bitPattern)|\(lo)|\(hi)|\(s.zeros)"
        if let first = seen[key] {
          // Two views of one storage (a transpose) are the same values by construction.
          if first.storage == nil || first.storage != t.storage?.id {
            add(
              "identical", e.name,
              "\(e.name): the same values as \(first.name) (every statistic equal; not tied in the file)"
            )
          }
        } else {
          seen[key] = (e.name, t.storage?.id)
        }
      }
    }
    for l in layers where l.statistics.count > 1 && l.statistics.zeros == l.statistics.count {
      add("all-zero", l.name, "layer \(l.name) (\(l.type)): every weight is 0", scope: "layer")
    }
    return out
  }
}
