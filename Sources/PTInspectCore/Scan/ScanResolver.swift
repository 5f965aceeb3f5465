// ScanResolver.swift: turns a scan's rows into verdicts: each global by its name and origin
// (GlobalClassifier), each functools.partial by what it wraps, each pickle loader by the worst
// global in the pickle it loads, then the user's allowlist; then the advice: the
// add_safe_globals line (reviewed data types and user-allowed globals only) and, for every other
// unknown global, what to check instead. A pure function of the rows, so that a report can be
// resolved again with the user's allowlist (`ScanReport.allowing`).

/// Globals a team has reviewed and accepts: `--allow NAME` (repeatable) and the `allow` list of
/// the config file. `prefix.*` accepts every global under a prefix.
package struct ScanAllowlist: Sendable, Equatable {
  /// Each accepted name, with where it comes from (`--allow`, or the config file's path).
  package var entries: [(name: String, source: String)] = []
  package init() {}
  package init(_ names: [String], source: String) {
    entries = names.map { ($0, source) }
  }
  package var isEmpty: Bool { entries.isEmpty }
  package mutating func add(_ names: [String], source: String) {
    for n in names where !entries.contains(where: { $0.name == n }) { entries.append((n, source)) }
  }
  /// Where the allowing entry for a qualified name comes from, or nil.
  package func source(of qualified: String) -> String? {
    for e in entries {
      if e.name == qualified { return e.source }
      if e.name.hasSuffix(".*"), qualified.hasPrefix(e.name.dropLast()) { return e.source }
    }
    return nil
  }
  package static func == (a: ScanAllowlist, b: ScanAllowlist) -> Bool {
    a.entries.map(\.name) == b.entries.map(\.name)
      && a.entries.map(\.source) == b.entries.map(\.source)
  }
}

extension ScanReport {
  /// The report with the user's allowlist applied: the globals it names become allowed ("allowed
  /// by the user"), except those no allowlist makes safe (os, posix, nt, sys, subprocess, eval,
  /// exec, ...; a partial wrapping a dangerous callable; a loader of a dangerous pickle).
  package func allowing(_ allow: ScanAllowlist) -> ScanReport {
    guard !allow.isEmpty else { return self }
    var copy = self
    ScanResolver.resolve(&copy, allow: allow)
    var refused: [String] = []
    for g in copy.globals where !g.allowedByUser && g.classification != .allowed {
      if allow.source(of: g.qualifiedName) != nil, !refused.contains(g.qualifiedName) {
        refused.append(g.qualifiedName)
      }
    }
    for name in refused {
      copy.notes.append(
        "allowing \(name) was ignored: no allowlist makes it safe (it runs commands or code, or what it wraps or loads is dangerous)"
      )
    }
    return copy
  }
}

enum ScanResolver {
  /// A partial seen in a pickle that did not decode: what it wraps is not known.
  static let undetermined = "<undetermined: the pickle did not decode>"
  static let handedOn = "<handed to another call as a value>"

  /// Globals no allowlist makes safe: torch refuses os, posix, nt and sys even when allowed,
  /// and these run commands or code by design.
  static func neverAllowed(_ g: ScanGlobal) -> Bool {
    if g.module == ScanGlobal.computed { return true }
    let top = g.module.split(separator: ".").first.map(String.init) ?? g.module
    if [
      "os", "posix", "nt", "sys", "subprocess", "_posixsubprocess", "pty", "runpy", "marshal",
      "ctypes", "_ctypes", "pickle", "_pickle", "importlib",
    ].contains(top) {
      return true
    }
    let q = g.qualifiedName
    if [
      "builtins.eval", "builtins.exec", "builtins.execfile", "builtins.compile",
      "builtins.__import__", "builtins.getattr", "builtins.setattr", "builtins.delattr",
      "builtins.open", "builtins.breakpoint", "builtins.apply", "builtins.globals", "builtins.vars",
    ].contains(q) {
      return true
    }
    return g.name.split(separator: ".").contains {
      $0.hasPrefix("__") && $0.hasSuffix("__") && $0.count > 4
        && !GlobalClassifier.harmlessDunders.contains(String($0))
    }
  }

  static func resolve(_ r: inout ScanReport, allow: ScanAllowlist) {
    var rows = r.globals
    let base = rows.map { g in
      g.module == ScanGlobal.computed
        ? GlobalClassifier.unresolved : GlobalClassifier.classify(module: g.module, name: g.name)
    }
    var index: [String: Int] = [:]
    for (i, g) in rows.enumerated() where index[g.displayName] == nil { index[g.displayName] = i }
    // Each row's verdict depends on the rows it wraps or loads: iterate to a fixed point (the
    // verdicts only rise, so this ends).
    var verdicts = base.map(\.verdict)
    var reasons = base.map(\.reason)
    var byUser = [Bool](repeating: false, count: rows.count)
    for _ in 0...rows.count {
      var changed = false
      // The dangerous globals inside each loader chain (`pickle.loads`, `pickle.loads -> dill.loads`).
      var inside: [String: [String]] = [:]
      for (j, g) in rows.enumerated() where verdicts[j] == .dangerous && !g.via.isEmpty {
        for k in 1...g.via.count {
          let chain = g.via.prefix(k).joined(separator: " -> ")
          if inside[chain].map({ $0.count < 4 && !$0.contains(g.qualifiedName) }) ?? true {
            inside[chain, default: []].append(g.qualifiedName)
          }
        }
      }
      for i in rows.indices {
        let (v, why, user) = verdict(
          of: i, rows: rows, base: base[i], verdicts: verdicts, reasons: reasons, index: index,
          inside: inside, allow: allow)
        if v != verdicts[i] || why != reasons[i] || user != byUser[i] {
          verdicts[i] = v
          reasons[i] = why
          byUser[i] = user
          changed = true
        }
      }
      if !changed { break }
    }
    var reviewed = Set<String>()
    for i in rows.indices where base[i].reviewed { reviewed.insert(rows[i].displayName) }
    for i in rows.indices {
      rows[i].classification = verdicts[i]
      rows[i].reason = reasons[i]
      rows[i].allowedByUser = byUser[i]
    }
    // Dangerous first, then unknown, then allowed; within each, in order of first appearance.
    var first: [String: Int] = [:]
    for (i, name) in r.appearance.enumerated() where first[name] == nil { first[name] = i }
    rows = rows.enumerated().sorted {
      let a = $0.element
      let b = $1.element
      if a.classification != b.classification { return a.classification > b.classification }
      let ia = first[a.displayName] ?? Int.max
      let ib = first[b.displayName] ?? Int.max
      return ia != ib ? ia < ib : $0.offset < $1.offset
    }.map(\.element)
    r.globals = rows
    r.verdict = rows.map(\.classification).max() ?? .allowed
    advise(&r, reviewed: reviewed)
  }

  /// One row's verdict and reason, given the others'.
  static func verdict(
    of i: Int, rows: [ScanGlobal], base: GlobalClassification, verdicts: [GlobalVerdict],
    reasons: [String], index: [String: Int], inside: [String: [String]], allow: ScanAllowlist
  ) -> (GlobalVerdict, String, Bool) {
    let g = rows[i]
    var v = base.verdict
    var why = base.reason
    // Rises that no allowlist undoes.
    var forced = false
    if GlobalClassifier.isPartial(g.qualifiedName), base.verdict != .dangerous {
      var dangerous: [String] = []
      var shown: [String] = []
      for w in g.wraps {
        switch w {
        case undetermined, handedOn:
          dangerous.append(w)
        case "<not callable>", "<nothing>", "<result of a computed call>":
          shown.append(w)
        default:
          var name = w
          if w.hasPrefix("<result of "), w.hasSuffix(">") {
            name = String(w.dropFirst(11).dropLast())
          }
          let key = (g.via + [name]).joined(separator: " -> ")
          if let j = index[key], verdicts[j] == .dangerous {
            dangerous.append("\(w) (\(reasons[j]))")
          } else {
            shown.append(w)
          }
        }
      }
      if !dangerous.isEmpty {
        v = .dangerous
        why =
          "functools.partial wrapping " + dangerous.prefix(3).joined(separator: ", ")
          + (dangerous.count > 3 ? " and \(dangerous.count - 3) more" : "")
        forced = true
      } else if shown.isEmpty {
        v = .unknown
        why = "functools.partial, never built here: it wraps nothing"
      } else {
        v = .unknown
        let listed =
          shown.prefix(3).joined(separator: ", ")
          + (shown.count > 3 ? " and \(shown.count - 3) more" : "")
        why = "functools.partial wrapping \(listed): harmless unless what it wraps is"
      }
    }
    if PickleLoaders.names.contains(g.qualifiedName) {
      let worst = inside[(g.via + [g.qualifiedName]).joined(separator: " -> ")] ?? []
      if !worst.isEmpty {
        v = .dangerous
        let shown = worst.prefix(3).joined(separator: ", ") + (worst.count > 3 ? ", ..." : "")
        why = base.reason + "; the pickle it loads holds dangerous \(shown)"
        forced = true
      }
    }
    if v != .allowed, !forced, let source = allow.source(of: g.qualifiedName), !neverAllowed(g) {
      return (.allowed, "allowed by the user (\(source)); otherwise \(v.rawValue): \(why)", true)
    }
    return (v, why, false)
  }

  /// Whether a user-allowed row was only unknown before (a dangerous one, even accepted, is never
  /// put in an add_safe_globals line).
  static func wasUnknown(_ g: ScanGlobal) -> Bool {
    g.allowedByUser && g.reason.contains("); otherwise unknown: ")
  }

  /// The add_safe_globals list (reviewed data types, and user-allowed globals that were only
  /// unknown, that torch refuses by default) and, for every other unknown global, what to check instead.
  static func advise(_ r: inout ScanReport, reviewed: Set<String>) {
    var safe: [String] = []
    var advice: [ScanAdvice] = []
    let script = r.format == "torchscript"
    for g in r.globals {
      let suggestible =
        g.via.isEmpty && !script
        && ((g.classification == .unknown && reviewed.contains(g.displayName))
          || (wasUnknown(g) && !GlobalClassifier.allowed.contains(g.qualifiedName)))
      if suggestible, let expression = Scan.pythonExpression(module: g.module, name: g.name) {
        safe.append(expression)
        continue
      }
      guard g.classification == .unknown else { continue }
      advice.append(ScanAdvice(global: g.displayName, check: check(g, torchScript: script)))
    }
    if !safe.isEmpty {
      for name in r.impliedSafeGlobals where !safe.contains(name) { safe.append(name) }
    }
    // A dangerous file is not to be loaded at all: no line allowing part of it.
    r.addSafeGlobals = r.verdict == .dangerous ? [] : safe
    r.advice = advice
  }

  /// What to check about an unknown global that is not suggested for allowing.
  static func check(_ g: ScanGlobal, torchScript: Bool) -> String {
    let calls =
      g.calledBy.isEmpty
      ? "referenced, not called while loading"
      : "runs while loading: \(g.calledBy.joined(separator: ", "))"
    if !g.via.isEmpty {
      return
        "inside a pickle the file loads with \(g.via.last ?? "a loader"): never allow it; check that loader call instead"
    }
    if torchScript || g.origin == .torchScript {
      return
        "TorchScript: load the archive with torch.jit.load, which compiles its code/ folder; review that code rather than allowing names"
    }
    if GlobalClassifier.isPartial(g.qualifiedName) {
      let wrapped =
        g.wraps.isEmpty
        ? "nothing"
        : g.wraps.prefix(3).joined(separator: ", ")
          + (g.wraps.count > 3 ? " and \(g.wraps.count - 3) more" : "")
      return
        "wraps \(wrapped): check those; a partial is never suggested for allowing, since allowing it lets a file wrap any allowed callable"
    }
    if Scan.pythonExpression(module: g.module, name: g.name) == nil {
      return
        "not an importable Python name: no allowlist can name it; check why the file refers to it"
    }
    switch g.origin {
    case .script:
      return
        "a class from the script that saved the file (\(calls)): review its code, or re-save the weights alone (model.state_dict()) and load them into your own copy"
    case .torch where g.module.hasPrefix("torch.nn.modules") && g.calledBy.isEmpty:
      return
        "an nn.Module class named but not called by name while loading: check what uses it (a persistent id, a partial, another call); module classes are not suggested for allowing"
    case .torch where g.module.hasPrefix("torch.nn.modules"):
      return
        "a whole nn.Module was saved (\(calls)): build the model from code and load a state_dict instead; module classes are not suggested for allowing"
    case .torch:
      return
        "torch code outside the weights_only allowlist (\(calls)): check what it does with the file's arguments"
    case .numpy:
      return
        "numpy code outside the reviewed data types (\(calls)): check what it does with the file's arguments"
    default:
      return
        "third-party code from \(g.module) (\(calls)): review it before trusting the file; once reviewed, accept it with --allow NAME (or \(g.module).*) or the config file's allow list"
    }
  }
}
