// Budget.swift: the `budget` subcommand (placeholder until its issue lands).

import ArgumentParser

extension PTInspect {
  struct Budget: ParsableCommand {
    static let configuration = CommandConfiguration(shouldDisplay: false)
    func run() throws { throw ValidationError("'budget' is not available yet") }
  }
}
