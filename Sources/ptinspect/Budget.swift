// Budget.swift: the `budget` subcommand: parameter and size budgets for CI, over many files
// (`BatchRunner`, shared with `summary`).

import ArgumentParser
import PTInspectCore

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

extension PTInspect {
  struct Budget: ParsableCommand {
    static let configuration = CommandConfiguration(
      // Named here: deriving the name by reflection costs every run (performance-notes.md).
      commandName: "budget",
      abstract: "Check parameter and size budgets: exit 1 when a checkpoint is over budget.",
      discussion: """
        Numbers: counts take K, M, B (billion), G, T (steps of 1000): 5.8M, 6_000_000, 1.5B. \
        Byte sizes take KB, MB, GB, TB (steps of 1000) or KiB, MiB, GiB, TiB (steps of 1024): \
        25MB, 1.5GiB.

        --max-bytes limits the model's tensor bytes (parameters and buffers, tied tensors once), \
        as the summary's Bytes line counts them; --max-file-bytes limits the file size.

        --budget 'GLOB=N' limits the model tensors whose names (relative to the model) match \
        GLOB; N is parameters, or bytes when it has a byte unit ('encoder.*=40MB'). A name \
        without * ? [ matches that module and everything below it.

        Budget file: .ptinspect.toml ([budget] table) or pyproject.toml \
        ([tool.ptinspect.budget] table) in the current folder, or --config FILE. Command-line \
        rules override the file's.

        Exit codes: 0 within budget, 1 over any budget, 2 an input could not be read, \
        64 a bad rule.
        """)

    @Argument(help: "Checkpoint files or folders of checkpoints.", completion: .file())
    var files: [String] = []

    @Option(
      name: .customLong("max-params"),
      help: ArgumentHelp("At most N parameters (5.8M, 6_000_000).", valueName: "n"))
    var maxParams: String?

    @Option(
      name: .customLong("max-bytes"),
      help: ArgumentHelp("At most N bytes of model tensors (25MB, 1.5GiB).", valueName: "n"))
    var maxBytes: String?

    @Option(
      name: .customLong("max-file-bytes"),
      help: ArgumentHelp("At most N bytes of file (30MB).", valueName: "n"))
    var maxFileBytes: String?

    @Option(
      name: .customLong("budget"),
      help: ArgumentHelp(
        "A budget for part of the model (repeatable): 'encoder.*=20M'.", valueName: "glob=n"))
    var budgets: [String] = []

    @Option(
      help: ArgumentHelp(
        "An earlier checkpoint (or a folder of them, matched by file name) to compare with.",
        valueName: "old"), completion: .file())
    var baseline: String?

    @Option(
      name: .customLong("max-growth"),
      help: ArgumentHelp(
        "Parameters may grow at most this much over the baseline: 5% or +1M.", valueName: "limit"))
    var maxGrowth: String?

    @Option(
      name: .customLong("max-bytes-growth"),
      help: ArgumentHelp(
        "Model bytes may grow at most this much over the baseline: 5% or +2MB.", valueName: "limit")
    )
    var maxBytesGrowth: String?

    @Option(
      help: ArgumentHelp(
        "A budget file (TOML): [budget] table, or [tool.ptinspect.budget] in pyproject.toml.",
        valueName: "file"), completion: .file())
    var config: String?

    @Flag(help: "Ignore .ptinspect.toml and pyproject.toml in the current folder.")
    var noConfig = false

    @Flag(help: "Look for checkpoints in subfolders of the folders given.")
    var recursive = false

    @OptionGroup var output: OutputOptions

    @OptionGroup(title: "Remote checkpoints (URLs, s3://, hf://)") var remote: RemoteOptions

    func validate() throws {
      try output.refuseSARIF("budget")
      if files.isEmpty { throw ValidationError("give at least one checkpoint file or folder") }
      if noConfig && config != nil {
        throw ValidationError("'--config' and '--no-config' cannot go together")
      }
      // Bad rules are usage errors (64), reported before any checkpoint is read.
      _ = try rules()
    }

    /// The rules from the budget file (if any) with the command line's on top, and the file's name.
    func rules() throws -> (BudgetSpec, String?) {
      var spec = BudgetSpec()
      var configPath: String?
      if !noConfig, let path = config ?? BudgetFile.discover(in: ".") {
        let text: String
        do {
          text = try BudgetFile.text(at: path)
        } catch {
          report(error)
          throw unreadable
        }
        do {
          spec = try BudgetFile.parse(text, name: path)
        } catch {
          throw ValidationError(error.message)
        }
        configPath = path
      }
      var cli = BudgetSpec()
      func set(_ key: BudgetKey, _ value: String?) throws {
        guard let value else { return }
        do {
          try cli.set(key, value)
        } catch {
          throw ValidationError("--\(key.rawValue): \(error.message)")
        }
      }
      try set(.maxParams, maxParams)
      try set(.maxBytes, maxBytes)
      try set(.maxFileBytes, maxFileBytes)
      try set(.maxGrowth, maxGrowth)
      try set(.maxBytesGrowth, maxBytesGrowth)
      try set(.baseline, baseline)
      for b in budgets {
        do {
          try cli.addGroup(b)
        } catch {
          throw ValidationError("--budget: \(error.message)")
        }
      }
      spec.merge(cli)
      do {
        try spec.validate()
      } catch {
        throw ValidationError(error.message)
      }
      return (spec, configPath)
    }

    func run() throws {
      output.silenceIfQuiet()
      let (spec, configPath) = try rules()
      // One baseline file is read once; a folder of baselines is matched by file name.
      let baselines: BaselineSource
      do {
        baselines = try BaselineSource(spec.baseline)
      } catch {
        report(error)
        throw unreadable
      }
      let format = output.format
      let style = output.style
      let collected = Locked<[BudgetReport]>([])
      let failed = BatchRunner.run(
        files, recursive: recursive, progressBar: progressBar(.files),
        report: { e in
          report(e)
          let result = BudgetReport.unreadable(e.file, e.message, kind: e.kind, config: configPath)
          if format == .jsonl { printJSON(result, layout: .compact) }
          collected.withLock { $0.append(result) }
        },
        work: { (path: String) throws(CheckpointError) -> BudgetReport in
          let c = try Checkpoint.open(path)
          var result = BudgetEvaluator.evaluate(
            spec, checkpoint: c, report: SummaryReport(c),
            baseline: try baselines.baseline(for: path),
            config: configPath)
          result.source = c.sourceCost
          return result
        },
        emit: { input, outcome in
          let result: BudgetReport
          switch outcome {
          case .skipped: return
          case .success(let r): result = r
          case .failure(let e):
            report(e)
            result = .unreadable(input.path, e.message, kind: e.kind, config: configPath)
          }
          if format == .jsonl { printJSON(result, layout: .compact) }
          collected.withLock { $0.append(result) }
        })
      let reports = collected.current
      switch format {
      case .jsonl: break
      case .json:
        if reports.count == 1, let only = reports.first {
          printJSON(only)
        } else {
          printJSON(BudgetBatchReport(reports))
        }
      case .markdown: print(BudgetRenderer.markdown(reports), terminator: "")
      case .table, .sarif:
        print(BudgetRenderer.table(reports, style: style, width: output.width), terminator: "")
      }
      if failed { throw unreadable }
      if reports.contains(where: { $0.verdict == .fail }) { throw ExitCode(1) }
    }
  }
}
