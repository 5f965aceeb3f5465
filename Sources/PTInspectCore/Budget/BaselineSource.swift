// BaselineSource.swift: where the growth rules find their baseline (`--baseline`): one earlier
// checkpoint, read once, or a folder of them matched to each checkpoint by file name.

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// The baseline the growth rules compare with.
package enum BaselineSource: Sendable {
  /// No baseline given.
  case none
  /// One checkpoint, read up front: every file is compared with it.
  case checkpoint(BudgetBaseline)
  /// A folder: each file is compared with the checkpoint of the same file name in it, if any.
  case folder(String)

  /// Reads `path`: a folder is kept to be matched per file; a checkpoint is read now. Errors
  /// say `baseline:`.
  package init(_ path: String?) throws(CheckpointError) {
    guard let path else {
      self = .none
      return
    }
    if CheckpointFolder.isFolder(path) {
      self = .folder(path)
    } else {
      self = .checkpoint(try Self.read(path))
    }
  }

  /// The baseline for the checkpoint at `path`: nil without one, or when the folder holds no
  /// file of that name.
  package func baseline(for path: String) throws(CheckpointError) -> BudgetBaseline? {
    switch self {
    case .none: return nil
    case .checkpoint(let baseline): return baseline
    case .folder(let folder):
      let candidate = folder + "/" + (path.split(separator: "/").last.map(String.init) ?? path)
      guard FileManager.default.fileExists(atPath: candidate) else { return nil }
      return try Self.read(candidate)
    }
  }

  static func read(_ path: String) throws(CheckpointError) -> BudgetBaseline {
    do throws(CheckpointError) {
      return BudgetBaseline(SummaryReport(try Checkpoint.open(path)))
    } catch {
      throw CheckpointError(file: error.file, "baseline: " + error.message)
    }
  }
}
