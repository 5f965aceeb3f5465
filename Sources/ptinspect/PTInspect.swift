// PTInspect.swift: the command line. It parses arguments, calls PTInspectCore and prints; it
// holds no logic of its own.

import ArgumentParser
import PTInspectCore

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

/// The entry point: process-wide settings, then the command line.
@main
enum Main {
  static func main() {
    // libzip (used for compressed zip entries) converts every entry's DOS time with mktime, and
    // glibc re-reads the time zone on each call unless TZ is set: 3.5x faster on large archives
    // (libzip-notes.md). Only an unset TZ is set; the library never touches the environment.
    setenv("TZ", "UTC", 0)
    let arguments = Array(CommandLine.arguments.dropFirst())
    if let typo = mistypedSubcommand(arguments) { PTInspect.exit(withError: typo) }
    do {
      var command = try PTInspect.parseAsRoot(arguments)
      try command.run()
    } catch {
      // --help (and `help NAME`) ends with the command's examples.
      let help =
        arguments.first == "help" || arguments.contains("--help") || arguments.contains("-h")
      if help, PTInspect.exitCode(for: error) == .success {
        print(PTInspect.fullMessage(for: error))
        print()
        print(Examples.section(for: helpedCommand(arguments)), terminator: "")
        PTInspect.exit()
      }
      PTInspect.exit(withError: error)
    }
  }

  /// The subcommands' names, in the order `--help` lists them.
  static let subcommandNames = PTInspect.configuration.subcommands.map {
    $0.configuration.commandName ?? ""
  }

  /// The subcommand a help request is about: the first argument naming one, or nil (the top
  /// level).
  static func helpedCommand(_ arguments: [String]) -> String? {
    arguments.first { subcommandNames.contains($0) }
  }

  /// A usage error (exit 64) when the first argument is not a subcommand, not a file or folder,
  /// and looks like a mistyped subcommand (`ptinspect stat model.pt`). Anything else, a real
  /// file named like a subcommand included, goes on to the default summary.
  static func mistypedSubcommand(_ arguments: [String]) -> ValidationError? {
    guard let first = arguments.first, !first.hasPrefix("-"), first != "help",
      !subcommandNames.contains(first), access(first, F_OK) != 0,
      let name = closestName(to: first, among: subcommandNames)
    else { return nil }
    return ValidationError(
      "'\(first)' is not a subcommand, nor a file or folder; did you mean 'ptinspect \(name)'?")
  }
}

/// The release version (CHANGELOG.md); `--version` adds the git commit (scripts/build-info).
let ptinspectVersion = "0.1.0"

struct PTInspect: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ptinspect",
    abstract: "Look inside PyTorch checkpoints without Python: tensors, layers, parameter counts.",
    discussion: """
      Exit codes: 0 success, 1 a finding, 2 an input could not be read, 64 a usage error.
      Every command takes --format table|json|markdown|jsonl; `ptinspect help COMMAND` shows a \
      command's options and examples.
      """,
    version: "ptinspect \(ptinspectVersion) (commit \(buildCommit))",
    subcommands: [Summary.self, Tensors.self, Diff.self, Budget.self, Scan.self, Stats.self],
    defaultSubcommand: Summary.self)
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
  /// `jsonl`: one compact JSON object per line, one line per file.
  case table, json, markdown, jsonl
}

extension ColorMode: ExpressibleByArgument {}

extension TensorSort: ExpressibleByArgument {}

struct OutputOptions: ParsableArguments {
  @Option(
    help: "Output format: table, json, markdown or jsonl (one JSON object per line per file).")
  var format: OutputFormat = .table

  @Option(help: "Colour: auto (on a terminal, unless NO_COLOR is set), always or never.")
  var color: ColorMode = .auto

  var style: TerminalStyle {
    TerminalStyle.resolve(
      color, isTerminal: isatty(STDOUT_FILENO) != 0,
      environment: ProcessInfo.processInfo.environment)
  }
}

/// Prints a report as JSON and a newline to standard output, streamed in chunks: pretty
/// (`--format json`) or on one line (`--format jsonl`). A report that cannot be encoded is a
/// bug: the error goes to standard error and the process exits 70 (EX_SOFTWARE).
func printJSON<T: Encodable>(_ value: T, layout: JSONLayout = .pretty) {
  fflush(nil)  // what `print` buffered goes first
  do {
    try ReportJSON.stream(value, layout: layout) { writeAll(STDOUT_FILENO, $0) }
  } catch {
    let message = "ptinspect: cannot encode the report as JSON: \(error)\n"
    writeStandardError(message)
    exit(70)
  }
}

/// Prints a one-line error for an unreadable input to standard error.
func report(_ error: Error) {
  writeStandardError("ptinspect: \(error)\n")
}

/// A progress bar on standard error, or nil when standard error is not a terminal (or TERM is
/// dumb).
func progressBar(_ unit: ProgressBar.Unit) -> ProgressBar? {
  ProgressBar(
    unit, isTerminal: isatty(STDERR_FILENO) != 0,
    environment: ProcessInfo.processInfo.environment
  ) { writeStandardError($0) }
}

/// Exit code 2: an input could not be read.
let unreadable = ExitCode(2)

extension PTInspect {
  struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(
      // Named here: deriving the name by reflection costs every run (performance-notes.md).
      commandName: "summary",
      abstract: "Show the layer table, parameter and buffer totals, and the checkpoint's anatomy.")

    @Argument(
      help: "Checkpoint files (.pt, .pth, .bin, .ckpt, .safetensors, ...) or folders of them.",
      completion: .file())
    var files: [String]

    @OptionGroup var output: OutputOptions

    @OptionGroup(title: "Remote checkpoints (URLs, s3://, hf://)") var remote: RemoteOptions

    @Option(help: "Roll the module tree up to N levels.")
    var depth: Int?

    @Flag(help: "Show how each layer's parameter count follows from its shapes.")
    var explain = false

    @Flag(help: "List every layer instead of collapsing repeated blocks.")
    var expand = false

    @Flag(
      help:
        "Show memory: bytes by dtype, fp32/fp16/int8/int4 sizes, training with Adam, file anatomy.")
    var memory = false

    @Flag(help: "Look for checkpoints in subfolders of the folders given.")
    var recursive = false

    func validate() throws {
      if files.isEmpty { throw ValidationError("give at least one checkpoint file") }
      if let depth, depth < 1 { throw ValidationError("'--depth' must be at least 1") }
    }

    func run() throws {
      let options = LayerTableOptions(
        depth: depth, collapse: !expand, explain: explain, memory: memory)
      let format = output.format
      let style = output.style
      // Several files as a table: one row per file, unless a per-file detail is asked for.
      let compact =
        format == .table && !(explain || memory || expand || depth != nil)
        && (files.count > 1 || FileBatch.expand(files, recursive: recursive).count > 1)
      let rows = Locked<[SummaryRow]>([])
      let printed = Locked(0)
      let failed = BatchRunner.run(
        files, recursive: recursive, progressBar: progressBar(.files), report: { report($0) },
        work: { (path: String) throws(CheckpointError) -> SummaryReport in
          SummaryReport(try Checkpoint.open(path))
        },
        emit: { input, outcome in
          switch outcome {
          case .skipped: return
          case .failure(let error):
            report(error)
            if compact {
              rows.withLock { $0.append(SummaryRow(file: input.path, error: error.message)) }
            }
          case .success(let report):
            if compact { return rows.withLock { $0.append(SummaryRow(report)) } }
            switch format {
            case .json: printJSON(report)
            case .jsonl: printJSON(report, layout: .compact)
            case .markdown:
              print(SummaryRenderer.markdown(report, options: options), terminator: "")
            case .table:
              if printed.current > 0 { print() }
              print(SummaryRenderer.table(report, options: options, style: style), terminator: "")
            }
            printed.withLock { $0 += 1 }
          }
        })
      if compact { print(SummaryListRenderer.table(rows.current, style: style), terminator: "") }
      if failed { throw unreadable }
    }
  }

  struct Tensors: ParsableCommand {
    static let configuration = CommandConfiguration(
      // Named here: deriving the name by reflection costs every run (performance-notes.md).
      commandName: "tensors",
      abstract: "List every tensor with dtype, shape, stride, storage and offset.")

    @Argument(help: "A checkpoint file.", completion: .file())
    var file: String

    @Option(help: "Only tensors whose full name matches this glob (e.g. 'layer1.*.weight').")
    var filter: String?

    @Option(help: "Order: file, name, size, numel, dtype or storage.")
    var sort: TensorSort = .file

    @OptionGroup var output: OutputOptions

    @OptionGroup(title: "Remote checkpoints (URLs, s3://, hf://)") var remote: RemoteOptions

    func run() throws {
      do {
        let report = TensorsReport(try Checkpoint.open(file), filter: filter, sort: sort)
        switch output.format {
        case .json: printJSON(report)
        case .jsonl: printJSON(report, layout: .compact)
        case .markdown: print(report.markdown(), terminator: "")
        case .table: print(report.table(style: output.style), terminator: "")
        }
      } catch {
        report(error)
        throw unreadable
      }
    }
  }
}
