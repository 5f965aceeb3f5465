// Diff.swift: the `diff` subcommand (placeholder until its issue lands).

import ArgumentParser

extension PTInspect {
  struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(shouldDisplay: false)
    func run() throws { throw ValidationError("'diff' is not available yet") }
  }
}
