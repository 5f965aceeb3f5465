// Examples.swift: the examples every `--help` ends with (and the manual pages' EXAMPLES
// sections, which scripts/install takes from `--help`), and the top-level list by task.

import ArgumentParser

/// One example: a command line and what it is for.
struct Example {
  var command: String
  var purpose: String
}

enum Examples {
  /// Each subcommand's examples, by command name: 2-4 each, at least one CI gate, one JSON pipe
  /// to jq, one folder.
  static let byCommand: [String: [Example]] = [
    "summary": [
      Example(command: "ptinspect model.pt", purpose: "layers, parameter counts, anatomy"),
      Example(
        command: "ptinspect summary --memory --explain model.pt",
        purpose: "memory at each precision; how each count follows from the shapes"),
      Example(
        command: "ptinspect summary --recursive checkpoints/",
        purpose: "one row per checkpoint in a folder and its subfolders"),
      Example(
        command: "ptinspect model.pt --format json | jq '.totals.parameters'",
        purpose: "the parameter count, for a script"),
    ],
    "tensors": [
      Example(command: "ptinspect tensors model.pt --sort size", purpose: "largest tensors last"),
      Example(
        command: "ptinspect tensors model.pt --filter 'layer1.*.weight'",
        purpose: "only the tensors whose names match a glob"),
      Example(
        command: "ptinspect tensors model.pt --format json | jq -r '.tensors[] | .name'",
        purpose: "every tensor name, one a line"),
    ],
    "diff": [
      Example(
        command: "ptinspect diff before.pt after.pt",
        purpose: "tensors added, removed, reshaped, retyped"),
      Example(
        command: "ptinspect diff --values --atol 1e-6 model.pt model.safetensors",
        purpose: "a conversion kept the values (exit 1 if not)"),
      Example(
        command: "ptinspect diff base.pt tuned.pt --expect-unchanged 'encoder.*'",
        purpose: "CI gate: frozen layers did not move"),
      Example(
        command: "ptinspect diff a.pt b.pt --format json | jq '.differences'",
        purpose: "the number of differences, for a script"),
    ],
    "budget": [
      Example(
        command: "ptinspect budget --max-params 25M --max-file-bytes 100MB model.pt",
        purpose: "CI gate: exit 1 when over budget"),
      Example(
        command: "ptinspect budget --baseline main/ --max-growth 5% checkpoints/",
        purpose: "each file of a folder against the same name in the baseline folder"),
      Example(
        command: "ptinspect budget --max-params 25M model.pt --format json | jq '.rules'",
        purpose: "each rule's actual value, limit and margin"),
    ],
    "scan": [
      Example(
        command: "ptinspect scan downloaded.pt",
        purpose: "would torch.load run code? (exit 1 if dangerous)"),
      Example(
        command: "ptinspect scan --strict checkpoints/*.pt",
        purpose: "CI gate: anything not on torch's allowlist fails"),
      Example(
        command:
          "ptinspect scan model.pt --format json | jq -r '.globals[] | select(.classification != \"allowed\") | .module + \".\" + .name'",
        purpose: "the globals torch.load(weights_only=True) would refuse"),
    ],
    "stats": [
      Example(command: "ptinspect stats model.pt", purpose: "min, max, mean, std per tensor"),
      Example(
        command: "ptinspect stats --check model.pt",
        purpose: "CI gate: exit 1 when a tensor holds NaN or Inf"),
      Example(
        command: "ptinspect stats model.pt --format json | jq '.totals.nonFiniteTensors'",
        purpose: "the tensors holding NaN or Inf"),
    ],
  ]

  /// The top-level list, by task: the task and the command that does it.
  static let byTask: [(task: String, examples: [Example])] = [
    (
      "Look inside",
      [
        Example(command: "ptinspect model.pt", purpose: "layers, parameter counts, anatomy"),
        Example(command: "ptinspect tensors model.pt", purpose: "every tensor"),
        Example(command: "ptinspect stats model.pt", purpose: "value statistics"),
      ]
    ),
    (
      "Compare",
      [
        Example(command: "ptinspect diff before.pt after.pt", purpose: "what changed"),
        Example(
          command: "ptinspect diff --values model.pt model.safetensors",
          purpose: "and whether the values did"),
      ]
    ),
    (
      "Gate in CI (exit 1 on a finding)",
      [
        Example(command: "ptinspect budget --max-params 25M model.pt", purpose: "size budgets"),
        Example(command: "ptinspect scan --strict model.pt", purpose: "no code in the pickle"),
        Example(command: "ptinspect stats --check model.pt", purpose: "no NaN or Inf"),
      ]
    ),
    (
      "Script it",
      [
        Example(
          command: "ptinspect model.pt --format json | jq '.totals'", purpose: "one JSON object"),
        Example(
          command: "ptinspect summary --format jsonl checkpoints/",
          purpose: "one line per file of a folder"),
      ]
    ),
  ]

  /// The EXAMPLES section for the command named `name`, or the top-level one for nil.
  static func section(for name: String?) -> String {
    if let name {
      guard let examples = byCommand[name] else { return "" }
      return "EXAMPLES:\n" + lines(examples)
    }
    return "EXAMPLES (by task):\n"
      + byTask.map { "  \($0.task):\n" + lines($0.examples, indent: "  ") }.joined(separator: "\n")
  }

  private static func lines(_ examples: [Example], indent: String = "") -> String {
    examples.map { "\(indent)  \($0.command)\n\(indent)        \($0.purpose)\n" }.joined()
  }
}
