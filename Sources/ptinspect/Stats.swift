// Stats.swift: the `stats` subcommand: per-tensor value statistics, a per-layer rollup and
// totals, read straight from the file on all cores; `--check` fails on NaN or Inf.

import ArgumentParser
import PTInspectCore

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

extension StatsSort: ExpressibleByArgument {}

extension PTInspect {
  struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
      // Named here: deriving the name by reflection costs every run (performance-notes.md).
      commandName: "stats",
      abstract: "Show value statistics of every tensor: min, max, mean, std, zeros, NaN and Inf.",
      discussion: """
        Statistics are computed in float64 as torch does: NaN and Inf are counted and left out \
        of min, max, mean and std (the population standard deviation). Complex tensors are \
        described by their absolute values, quantized tensors by their dequantized values, \
        sparse tensors by their dense form. Exit codes: 0 success; 1 with --check when a \
        listed tensor holds NaN or Inf; 2 the file could not be read; 64 a usage error.
        """)

    @Argument(
      help: "A checkpoint file (.pt, .pth, .bin, .ckpt, .safetensors, an index, ...).",
      completion: .file())
    var file: String

    @Option(help: "Only tensors whose full name matches this glob (e.g. 'layer1.*.weight').")
    var filter: String?

    @Flag(help: "Exit 1 when any listed tensor holds NaN or Inf (for CI).")
    var check = false

    @Option(help: "Show only the first N tensor rows (after --sort); the totals cover all.")
    var top: Int?

    @Option(help: "Order of the tensor rows: file, name, size, absmax, std or zeros.")
    var sort: StatsSort = .file

    @Flag(
      help:
        "List every tensor (a file with more than \(StatsView.bigFile) tensors shows the first \(StatsView.shown) otherwise)."
    )
    var all = false

    @OptionGroup var output: OutputOptions

    @OptionGroup(title: "Remote checkpoints (URLs, s3://, hf://)") var remote: RemoteOptions

    func validate() throws {
      try output.refuseSARIF("stats")
      if let top, top < 1 { throw ValidationError("'--top' must be at least 1") }
    }

    func run() throws {
      output.silenceIfQuiet()
      let stats: StatsReport
      let checkpointBytes: Int64
      do {
        let checkpoint = try Checkpoint.open(file)
        checkpointBytes = checkpoint.fileBytes
        let bar = progressBar(.bytes)
        defer { bar?.clear() }
        var progress: (@Sendable (Int64, Int64) -> Void)?
        if let bar { progress = { done, total in bar.update(done, total) } }
        let engine = StatsEngine(environment: ProcessInfo.processInfo.environment)
        stats = try StatsReport(checkpoint, filter: filter, engine: engine, progress: progress)
      } catch {
        report(error)
        if output.format == .json || output.format == .jsonl {
          printJSON(
            InputError(CheckpointError(error, file: file)),
            layout: output.format == .json ? .pretty : .compact)
        }
        throw unreadable
      }
      switch output.format {
      case .json: printJSON(stats)
      case .jsonl: printJSON(stats, layout: .compact)
      case .markdown: print(stats.markdown(), terminator: "")
      case .table, .sarif:
        print(
          stats.table(
            style: output.style, view: StatsView(top: top, sort: sort, all: all),
            width: output.width),
          terminator: "")
        if let cost = stats.source {
          print("\n" + SummaryRenderer.costLine(cost, fileBytes: checkpointBytes))
        }
      }
      if let filter, stats.tensors.isEmpty {
        noMatch(file, filter)
        throw ExitCode.failure
      }
      if check && stats.hasNonFinite {
        let n = stats.totals.nonFiniteTensors.count
        writeStandardError(
          "ptinspect: \(file): \(n == 1 ? "1 tensor holds" : "\(n) tensors hold") NaN or Inf\n")
        throw ExitCode.failure
      }
    }
  }
}
