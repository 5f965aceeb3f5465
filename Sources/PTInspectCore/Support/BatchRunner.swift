// BatchRunner.swift: the many-files runner behind `summary` and `budget`: folders expanded to
// the checkpoints inside, every file read over all cores, outcomes in input order, a progress
// bar of files, and an error for each folder argument with no checkpoint in it.

/// Runs one piece of work on every checkpoint of a list of files and folders.
package enum BatchRunner {
  /// Expands `paths` (folders to the checkpoints inside), runs `work` on every file over all
  /// cores and passes each outcome to `emit` in input order. `progressBar`, if any, counts the
  /// files when there are several. `report` is told about each folder argument in which no
  /// checkpoint was found (failures to read a file come to `emit`). Returns true when any
  /// input could not be read or a folder held no checkpoint.
  package static func run<Value: Sendable>(
    _ paths: [String], recursive: Bool, progressBar: ProgressBar? = nil,
    report: @escaping @Sendable (CheckpointError) -> Void,
    work: @escaping @Sendable (String) throws(CheckpointError) -> Value,
    emit: @escaping @Sendable (BatchInput, BatchOutcome<Value>) -> Void
  ) -> Bool {
    let inputs = FileBatch.expand(paths, recursive: recursive)
    let bar = inputs.count > 1 ? progressBar : nil
    // Indexes of the inputs read or reported, and whether any failed.
    let counted = Locked(Set<Int>())
    let failed = Locked(false)
    FileBatch.run(
      inputs, work: work,
      progress: { done, total in bar?.update(Int64(done), Int64(total)) },
      emit: { index, input, outcome in
        bar?.clear()
        switch outcome {
        case .success: counted.withLock { _ = $0.insert(index) }
        case .failure:
          counted.withLock { _ = $0.insert(index) }
          failed.withLock { $0 = true }
        case .skipped: break
        }
        emit(input, outcome)
      })
    bar?.clear()
    let empty = FileBatch.emptyFolders(paths, inputs: inputs, counted: counted.current)
    for e in empty { report(e) }
    return failed.current || !empty.isEmpty
  }
}
