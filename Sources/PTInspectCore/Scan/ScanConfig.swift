// ScanConfig.swift: the globals a team has reviewed and accepts, kept in the repository like the
// budget: an `allow` list in a `[scan]` table of `.ptinspect.toml`, or in `[tool.ptinspect.scan]`
// of `pyproject.toml`.
//
//     [tool.ptinspect.scan]
//     allow = ["mymodels.nets.Net", "torchvision.models.*"]

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// A bad scan config file or `--allow` value.
package struct ScanConfigError: Error, Sendable, CustomStringConvertible {
  package var message: String
  package init(_ message: String) { self.message = message }
  package var description: String { message }
}

/// Reads the scan's allowlist from the command line and the config file.
package enum ScanConfig {
  /// The first of `.ptinspect.toml` and `pyproject.toml` in `directory` that has a scan table.
  package static func discover(in directory: String) -> String? {
    for name in BudgetFile.names {
      let path = directory == "." ? name : directory + "/" + name
      guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
      if name == "pyproject.toml" ? text.contains("tool.ptinspect.scan") : text.contains("scan") {
        return path
      }
    }
    return nil
  }

  /// The `allow` list of a config file's scan table (empty when it has none).
  package static func parse(_ text: String, name: String) throws(ScanConfigError) -> [String] {
    var reader = TOMLSubset(text)
    let entries: [TOMLEntry]
    do {
      entries = try reader.parse()
    } catch {
      throw ScanConfigError("\(name):\(error.line): \(error.message)")
    }
    let prefix = name.hasSuffix("pyproject.toml") ? ["tool", "ptinspect", "scan"] : ["scan"]
    let table = prefix.joined(separator: ".")
    var allow: [String] = []
    for entry in entries where entry.path.starts(with: prefix) {
      let rest = Array(entry.path.dropFirst(prefix.count))
      guard rest == ["allow"] else {
        throw ScanConfigError(
          "\(name):\(entry.line): unknown key '\(rest.joined(separator: "."))' in [\(table)] (known: allow)"
        )
      }
      guard case .array(let items) = entry.value else {
        throw ScanConfigError(
          "\(name):\(entry.line): allow must be a list of \"module.name\" strings")
      }
      for item in items {
        guard case .string(let s) = item else {
          throw ScanConfigError(
            "\(name):\(entry.line): allow must be a list of \"module.name\" strings")
        }
        do {
          allow.append(try validated(s))
        } catch {
          throw ScanConfigError("\(name):\(entry.line): \(error.message)")
        }
      }
    }
    return allow
  }

  /// A global as `--allow` and the config take it: `module.name`, or `prefix.*`.
  package static func validated(_ text: String) throws(ScanConfigError) -> String {
    let s = text.trimmingSpaces()
    guard s.contains("."), !s.hasPrefix("."), !s.hasSuffix("."), !s.contains(" "),
      s == "*" || !s.dropLast(2).contains("*")
    else {
      throw ScanConfigError(
        "'\(text)' is not a global: write module.name (mymodels.nets.Net) or a prefix with .* (torchvision.models.*)"
      )
    }
    if s.hasSuffix(".*") { return s }
    let (m, n) = split(s)
    let normalized = GlobalClassifier.normalize(module: m, name: n)
    return normalized.module + "." + normalized.name
  }

  static func split(_ s: String) -> (String, String) {
    guard let dot = s.lastIndex(of: ".") else { return (s, "") }
    return (String(s[..<dot]), String(s[s.index(after: dot)...]))
  }

  /// The allowlist: `--allow` values, then the config file's (`config`, or the one found in
  /// `directory` unless `noConfig`).
  package static func allowlist(
    flags: [String], config: String?, noConfig: Bool, directory: String = "."
  ) throws(ScanConfigError) -> ScanAllowlist {
    var list = ScanAllowlist()
    var names: [String] = []
    for f in flags {
      do {
        names.append(try validated(f))
      } catch {
        throw ScanConfigError("--allow: \(error.message)")
      }
    }
    list.add(names, source: "--allow")
    guard !noConfig, let path = config ?? discover(in: directory) else { return list }
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
      throw ScanConfigError(
        FileManager.default.fileExists(atPath: path)
          ? "\(path): cannot read the config file" : "\(path): no such config file")
    }
    list.add(try parse(text, name: path), source: path)
    return list
  }
}
