// BudgetFile.swift: budget rules kept in the repository, in TOML: a `[budget]` table in
// `.ptinspect.toml`, or a `[tool.ptinspect.budget]` table in `pyproject.toml`.
//
//     [tool.ptinspect.budget]
//     max-params = "6M"
//     max-bytes = "25MB"
//     max-growth = "5%"
//     baseline = "checkpoints/release.pt"
//
//     [tool.ptinspect.budget.groups]
//     "features.*" = "1.2M"
//     "classifier.*" = "5M"

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// The budget file: found in the current folder (`names`, in order) and parsed into a
/// `BudgetSpec`.
package enum BudgetFile {
  /// The names looked for in the current directory, in this order.
  package static let names = [".ptinspect.toml", "pyproject.toml"]
  /// Keys of the budget table besides the rule keys.
  static let groupsKey = "groups"

  /// The text of the budget file at `path`; the error says whether it is missing or unreadable.
  package static func text(at path: String) throws(CheckpointError) -> String {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
      let exists = FileManager.default.fileExists(atPath: path)
      throw CheckpointError(
        file: path, exists ? "cannot read the budget file" : "no such budget file")
    }
    return text
  }

  /// The budget file in `directory`: the first of `names` that exists and has a budget table,
  /// or nil. A pyproject.toml without `[tool.ptinspect.budget]` is not a budget file.
  package static func discover(in directory: String) -> String? {
    for name in names {
      let path = directory == "." ? name : directory + "/" + name
      guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
      if name == "pyproject.toml" && !text.contains("tool.ptinspect") { continue }
      if (try? parse(text, name: path)) != nil { return path }
      // A file that mentions a budget table but does not parse is still the budget file: the
      // caller reports its error rather than skipping it.
      if text.contains("budget") { return path }
    }
    return nil
  }

  /// The table a file keeps its budget in: `[tool.ptinspect.budget]` when present, else
  /// `[budget]`.
  static func table(of entries: [TOMLEntry], tables: [(path: [String], line: Int)]) -> [String]? {
    let candidates = [["tool", "ptinspect", "budget"], ["budget"]]
    for prefix in candidates {
      if entries.contains(where: { $0.path.starts(with: prefix) })
        || tables.contains(where: { $0.path.starts(with: prefix) })
      {
        return prefix
      }
    }
    return nil
  }

  /// Parses a budget file's text. `name` is the file's path: messages start with it, and a
  /// relative `baseline` is taken relative to the file's folder.
  package static func parse(_ text: String, name: String) throws(BudgetRuleError) -> BudgetSpec {
    var reader = TOMLSubset(text)
    let entries: [TOMLEntry]
    do {
      entries = try reader.parse()
    } catch {
      throw BudgetRuleError("\(name):\(error.line): \(error.message)")
    }
    let isPyproject = name.hasSuffix("pyproject.toml")
    guard let prefix = table(of: entries, tables: reader.tables) else {
      throw BudgetRuleError(
        "\(name): no \(isPyproject ? "[tool.ptinspect.budget]" : "[budget]") table")
    }
    let tableName = prefix.joined(separator: ".")
    var spec = BudgetSpec()
    for entry in entries where entry.path.starts(with: prefix) {
      let rest = Array(entry.path.dropFirst(prefix.count))
      func fail(_ message: String) -> BudgetRuleError {
        BudgetRuleError("\(name):\(entry.line): \(message)")
      }
      guard let first = rest.first else {
        throw fail("'\(tableName)' must be a table, not a value")
      }
      let keyName = first.replacingOccurrences(of: "_", with: "-")
      if keyName == groupsKey {
        guard rest.count == 2 else {
          throw fail(
            rest.count == 1
              ? "'groups' must be a table of \"GLOB\" = \"N\" (e.g. [\(tableName).groups] \"encoder.*\" = \"20M\")"
              : "group patterns with dots must be quoted: \"\(rest.dropFirst().joined(separator: "."))\" = ..."
          )
        }
        let written = try ruleText(of: entry.value, key: "groups.\"\(rest[1])\"", fail)
        do {
          try spec.addGroup(pattern: rest[1], value: written)
        } catch {
          throw fail("groups.\"\(rest[1])\": \(error.message)")
        }
        continue
      }
      guard let key = BudgetKey(rawValue: keyName) else {
        let known = BudgetKey.allCases.map(\.rawValue) + [groupsKey]
        throw fail(
          "unknown key '\(rest.joined(separator: "."))' in [\(tableName)] (known: \(known.joined(separator: ", ")))"
        )
      }
      guard rest.count == 1 else {
        throw fail("'\(key.rawValue)' takes a value, not a table")
      }
      let written = try ruleText(of: entry.value, key: key.rawValue, fail)
      do {
        try spec.set(key, written)
      } catch {
        throw fail("\(key.rawValue): \(error.message)")
      }
      if key == .baseline, let baseline = spec.baseline, !baseline.hasPrefix("/"),
        let slash = name.lastIndex(of: "/")
      {
        spec.baseline = String(name[..<slash]) + "/" + baseline
      }
    }
    return spec
  }

  /// A value as rule text: strings as written, integers in digits.
  static func ruleText(
    of value: TOMLValue, key: String, _ fail: (String) -> BudgetRuleError
  ) throws(BudgetRuleError) -> String {
    switch value {
    case .string(let s): return s
    case .integer(let n): return String(n)
    case .float(let d):
      throw fail("\(key) = \(d): write a string such as \"\(d)M\", \"\(d)MB\" or \"\(d)%\"")
    default:
      throw fail("\(key) must be a string or an integer, not \(value.written)")
    }
  }
}
