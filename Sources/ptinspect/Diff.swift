// Diff.swift: the `diff` subcommand: what differs between two checkpoints.

import ArgumentParser
import PTInspectCore

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

extension PTInspect {
  struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
      // Named here: deriving the name by reflection costs every run (performance-notes.md).
      commandName: "diff",
      abstract:
        "Compare two checkpoints: tensors added, removed, reshaped, retyped, and (with --values) changed.",
      discussion: """
        The structure (names, shapes, dtypes, layers, totals) comes from the headers alone. \
        The contents of tensors with the same shape and dtype are compared for equality: by the \
        zip's CRC-32s where they answer (no data read), else byte for byte; --structure-only \
        skips this. --values measures the differences of every tensor present on both sides \
        with the same shape, across dtypes and containers (a .pt against a .safetensors). A prefix every key of \
        one side carries and the other lacks (module., _orig_mod., model.) is stripped, and the \
        output says so.

        Exit codes: 0 no differences, 1 differences (with --expect-unchanged: an expectation \
        broken), 2 an input could not be read, 64 a usage error.
        """)

    @Argument(help: "The first checkpoint (before).", completion: .file())
    var before: String

    @Argument(help: "The second checkpoint (after).", completion: .file())
    var after: String

    @Flag(
      help:
        "Measure how the contents differ: max abs/rel difference, RMS, cosine, NaN/Inf (without it, contents are compared for equality only)."
    )
    var values = false

    @Flag(
      name: .customLong("structure-only"),
      help: "Compare names, shapes and dtypes only, from the headers; no contents.")
    var structureOnly = false

    @Option(
      help: "Absolute tolerance: an element changed when |a - b| > atol + rtol * |b| (default 0).")
    var atol: Double?

    @Option(help: "Relative tolerance, against the second file's value (default 0).")
    var rtol: Double?

    @Option(
      name: .customLong("strip-prefix"),
      help: ArgumentHelp(
        "Remove this prefix from names on either side (repeatable).", valueName: "prefix"))
    var stripPrefix: [String] = []

    @Flag(
      name: .customLong("no-auto-strip"),
      help: "Do not detect and strip a prefix (module., _orig_mod., model.).")
    var noAutoStrip = false

    @Option(
      help: ArgumentHelp(
        "Compare only tensors matching this glob or under it (repeatable).", valueName: "glob"))
    var filter: [String] = []

    @Option(
      help: ArgumentHelp(
        "Leave out tensors matching this glob or under it (repeatable).", valueName: "glob"))
    var exclude: [String] = []

    @Option(
      name: .customLong("expect-unchanged"),
      help: ArgumentHelp(
        "Tensors matching this glob (or under it) must not change; their contents are compared. The exit code then reports broken expectations only (repeatable).",
        valueName: "glob"))
    var expectUnchanged: [String] = []

    @Flag(
      name: .customLong("ignore-dtype"),
      help:
        "List dtype changes without counting them as differences (an intended fp16/bf16 conversion)."
    )
    var ignoreDType = false

    @Flag(
      help: "Compare every tensor of the files (optimizer state, EMA copies), not just the model.")
    var all = false

    @Option(help: "Worker threads for --values (default: one per core).")
    var threads: Int?

    @Flag(name: .customLong("no-progress"), help: "Never show the progress bar on standard error.")
    var noProgress = false

    @OptionGroup var output: OutputOptions

    @OptionGroup(title: "Remote checkpoints (URLs, s3://, hf://)") var remote: RemoteOptions

    func validate() throws {
      try output.refuseSARIF("diff")
      if values && structureOnly {
        throw ValidationError("'--values' and '--structure-only' cannot go together")
      }
      for (name, value) in [("--atol", atol), ("--rtol", rtol)] {
        if let value, !(value >= 0 && value.isFinite) {
          throw ValidationError("'\(name)' must be a finite number of at least 0")
        }
      }
      if let threads, threads < 1 { throw ValidationError("'--threads' must be at least 1") }
      if stripPrefix.contains("") {
        throw ValidationError("'--strip-prefix' needs a non-empty prefix")
      }
    }

    func run() throws {
      output.silenceIfQuiet()
      var opened: [Checkpoint] = []
      var failed = false
      for file in [before, after] {
        do {
          opened.append(try Checkpoint.open(file))
        } catch {
          report(error)
          failed = true
        }
      }
      guard !failed, opened.count == 2 else { throw unreadable }
      var options = DiffOptions()
      options.values = values
      options.structureOnly = structureOnly
      options.atol = atol ?? 0
      options.rtol = rtol ?? 0
      options.stripPrefixes = stripPrefix
      options.autoStrip = !noAutoStrip
      options.filters = filter
      options.excludes = exclude
      options.expectUnchanged = expectUnchanged
      options.allTensors = all
      options.ignoreDType = ignoreDType
      options.threads = threads
      // The bar draws only on a terminal, after half a second.
      let bar = noProgress ? nil : progressBar(.bytes)
      var progress: CheckpointDiff.Progress?
      if let bar { progress = { done, total in bar.update(done, total) } }
      var diffReport: DiffReport
      do {
        diffReport = try CheckpointDiff.compare(
          opened[0], opened[1], options: options, progress: progress)
        bar?.clear()
        // After the comparison: a remote side's cost includes the values it read.
        diffReport.before.source = opened[0].sourceCost
        diffReport.before.fileBytes = opened[0].fileBytes
        diffReport.after.source = opened[1].sourceCost
        diffReport.after.fileBytes = opened[1].fileBytes
      } catch {
        bar?.clear()
        report(error)
        throw unreadable
      }
      switch output.format {
      case .json: printJSON(diffReport)
      case .jsonl: printJSON(diffReport, layout: .compact)
      case .markdown: print(DiffRenderer.markdown(diffReport), terminator: "")
      case .table, .sarif:
        print(
          DiffRenderer.table(diffReport, style: output.style, width: output.width),
          terminator: "")
      }
      if diffReport.finding { throw ExitCode(1) }
    }
  }
}
