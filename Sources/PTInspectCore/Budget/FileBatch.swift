// FileBatch.swift: many checkpoints at once. Folders expand to the checkpoints inside them; each
// file is opened on its own thread, spread over all cores; results come back in input order.

import Dispatch

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

/// One file to read, and whether a failure to read it is worth reporting.
package struct BatchInput: Sendable, Equatable {
  package var path: String
  /// Named on the command line, or found in a folder and looking like a checkpoint (by its
  /// extension or its first bytes). Other files found in folders are skipped quietly when they
  /// cannot be read.
  package var reportErrors: Bool
  /// The folder argument the file was found in; nil when named on the command line.
  package var folder: String?
  package init(path: String, reportErrors: Bool, folder: String? = nil) {
    self.path = path
    self.reportErrors = reportErrors
    self.folder = folder
  }
}

/// The outcome for one input.
package enum BatchOutcome<Value: Sendable>: Sendable {
  case success(Value)
  case failure(CheckpointError)
  /// A file in a folder that is not a checkpoint.
  case skipped
}

package enum FileBatch {
  /// Expands folders to the files inside (sorted by name, hidden files left out; subfolders
  /// only when `recursive`). A folder holding one sharded-checkpoint index (`*.index.json`) is
  /// one checkpoint, as `Checkpoint.open` reads it; with several indexes, each index is one
  /// checkpoint and the shards they list are not read again. Other paths are kept as given.
  package static func expand(_ paths: [String], recursive: Bool) -> [BatchInput] {
    var inputs: [BatchInput] = []
    for path in paths {
      guard CheckpointFolder.isFolder(path) else {
        inputs.append(BatchInput(path: path, reportErrors: true))
        continue
      }
      if CheckpointFolder.indexes(in: path).count == 1 || CheckpointFolder.isDcp(path) {
        inputs.append(BatchInput(path: path, reportErrors: true, folder: path))
        continue
      }
      for file in CheckpointFolder.files(in: path, recursive: recursive) {
        inputs.append(
          BatchInput(
            path: file, reportErrors: CheckpointFolder.looksLikeCheckpoint(file), folder: path))
      }
    }
    return inputs
  }

  /// Folder arguments in which no file was read or reported (every file was skipped, or the
  /// folder is empty): each is an error, so an empty folder never passes quietly.
  package static func emptyFolders(_ paths: [String], inputs: [BatchInput], counted: Set<Int>)
    -> [CheckpointError]
  {
    var errors: [CheckpointError] = []
    for path in paths where CheckpointFolder.isFolder(path) {
      let found = inputs.indices.contains { inputs[$0].folder == path && counted.contains($0) }
      if !found { errors.append(CheckpointError(file: path, "no checkpoint files in the folder")) }
    }
    return errors
  }

  /// Runs `work` on every input, spread over all cores (one file per thread at a time), and
  /// hands each outcome to `emit` in input order, as soon as it and all before it are done.
  /// `progress` is told the number of finished inputs. `emit` and `progress` are called one at
  /// a time.
  package static func run<Value: Sendable>(
    _ inputs: [BatchInput], threads: Int = ProcessInfo.processInfo.activeProcessorCount,
    work: @escaping @Sendable (String) throws(CheckpointError) -> Value,
    progress: (@Sendable (_ done: Int, _ total: Int) -> Void)? = nil,
    emit:
      @escaping @Sendable (_ index: Int, _ input: BatchInput, _ outcome: BatchOutcome<Value>) ->
      Void
  ) {
    let state = BatchState<Value>(count: inputs.count)
    let workers = max(1, min(threads, inputs.count))
    DispatchQueue.concurrentPerform(iterations: workers) { _ in
      while let i = state.claim() {
        let input = inputs[i]
        let outcome: BatchOutcome<Value>
        do throws(CheckpointError) {
          outcome = .success(try work(input.path))
        } catch {
          outcome = input.reportErrors ? .failure(error) : .skipped
        }
        state.finish(i, outcome) { done, ready in
          for (j, o) in ready { emit(j, inputs[j], o) }
          progress?(done, inputs.count)
        }
      }
    }
  }
}

/// The shared state of a batch: the next input to claim, finished outcomes not yet emitted.
final class BatchState<Value: Sendable>: @unchecked Sendable {
  let lock = Lock()
  let count: Int
  var next = 0
  var done = 0
  var emitted = 0
  var results: [Int: BatchOutcome<Value>] = [:]

  init(count: Int) { self.count = count }

  func claim() -> Int? {
    lock.lock()
    defer { lock.unlock() }
    guard next < count else { return nil }
    next += 1
    return next - 1
  }

  /// Stores an outcome and, under the lock, reports progress and the outcomes now ready in order.
  func finish(
    _ i: Int, _ outcome: BatchOutcome<Value>, _ deliver: (Int, [(Int, BatchOutcome<Value>)]) -> Void
  ) {
    lock.lock()
    defer { lock.unlock() }
    results[i] = outcome
    done += 1
    var ready: [(Int, BatchOutcome<Value>)] = []
    while let o = results.removeValue(forKey: emitted) {
      ready.append((emitted, o))
      emitted += 1
    }
    deliver(done, ready)
  }
}
