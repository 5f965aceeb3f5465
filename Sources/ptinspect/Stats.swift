// Stats.swift: the `stats` subcommand (placeholder until its issue lands).

import ArgumentParser

extension PTInspect {
  struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(shouldDisplay: false)
    func run() throws { throw ValidationError("'stats' is not available yet") }
  }
}
