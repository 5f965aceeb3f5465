// NameFilter.swift: how the `--filter`-style options match tensor names. There are two
// semantics, on purpose:
//
// - `Glob`: the whole name against a shell glob. `tensors --filter` and `stats --filter` use it
//   on the full tensor name (`layer1.*.weight`).
// - `NameGlob`: the name or any of its dotted ancestors against a glob. `diff --filter`,
//   `--exclude` and `--expect-unchanged` use it on the model-relative name, so `backbone`
//   covers `backbone.0.weight`.
//
// (`budget --budget GLOB=N` has a third rule, `BudgetEvaluator.nameMatches`: a glob matches
// the whole name, a plain name matches itself and everything below it.)

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Shell-style globs (`*`, `?`, `[...]`), where `*` also matches dots.
package enum Glob {
  package static func matches(_ pattern: String, _ name: String) -> Bool {
    fnmatch(pattern, name, 0) == 0
  }
}

/// Glob matching on dotted tensor names: a pattern matches a name when it matches the whole name
/// or one of its dotted ancestors, so `backbone` and `backbone.*` both cover `backbone.0.weight`.
package enum NameGlob {
  package static func matches(_ pattern: String, _ name: String) -> Bool {
    if Glob.matches(pattern, name) { return true }
    var prefix = Substring(name)
    while let dot = prefix.lastIndex(of: ".") {
      prefix = prefix[..<dot]
      if Glob.matches(pattern, String(prefix)) { return true }
    }
    return false
  }

  /// Whether any of `patterns` matches `name`.
  package static func matchesAny(_ patterns: [String], _ name: String) -> Bool {
    patterns.contains { matches($0, name) }
  }
}
