// ScanExitCode.swift: the exit code of `scan` over several files, where the worst code wins.

/// Folds the exit codes of several scans: 2 when a file (or part of one) could not be read,
/// else 1 when any scan found something (`ScanReport.exitCode(strict:)`), else 0.
package struct ScanExitCode: Sendable, Equatable {
  package private(set) var code: Int32 = 0

  package init() {}

  /// Takes in one scanned file.
  package mutating func add(_ report: ScanReport, strict: Bool) {
    code = max(code, report.exitCode(strict: strict))
  }

  /// Takes in a file or argument that could not be scanned at all.
  package mutating func addUnreadable() {
    code = max(code, 2)
  }
}
