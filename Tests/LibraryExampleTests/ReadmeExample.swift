// ReadmeExample.swift: the README's library example ("Using the library"), compiled here so it
// cannot rot. ReadmeExampleTests checks that the README shows these lines word for word.

import PTInspectCore

/// The README example's body, as the README shows it (between the markers), run from the
/// repository root.
func readmeExample() throws {
  // README example begins
  let checkpoint = try Checkpoint.open("Fixtures/diff/base.pt")  // headers only, no tensor data
  for tensor in checkpoint.modelTensors {
    print(tensor.name, tensor.dtype, tensor.shape)  // 0.weight float32 [8, 3, 3, 3]
  }
  let report = SummaryReport(checkpoint)  // what `ptinspect FILE` shows, as values
  print(report.totals.parameters, "parameters in", report.layers.count, "layers")
  let tuned = try Checkpoint.open("Fixtures/diff/finetuned.pt")
  let diff = try CheckpointDiff.compare(checkpoint, tuned)  // DiffOptions(): values, tolerances
  print(diff.differences, "differences:", diff.verdict)
  // README example ends
}
