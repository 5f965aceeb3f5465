// Scan.swift: the `scan` subcommand (placeholder until its issue lands).

import ArgumentParser

extension PTInspect {
  struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(shouldDisplay: false)
    func run() throws { throw ValidationError("'scan' is not available yet") }
  }
}
