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
  /// `jsonl`: one compact JSON object per line, one line per file. `sarif`: SARIF 2.1.0, for
  /// `scan` only (the other commands refuse it).
  case table, json, markdown, jsonl, sarif
}

extension ColorMode: ExpressibleByArgument {}

extension TensorSort: ExpressibleByArgument {}

struct OutputOptions: ParsableArguments {
  @Option(
    help:
      "Output format: table, json, markdown or jsonl (one JSON object per line per file); scan also takes sarif."
  )
  var format: OutputFormat = .table

  @Option(help: "Colour: auto (on a terminal, unless NO_COLOR is set), always or never.")
  var color: ColorMode = .auto

  @Flag(
    name: [.customShort("q"), .long], help: "Print nothing on standard output: the exit code only.")
  var quiet = false

  var style: TerminalStyle {
    TerminalStyle.resolve(
      color, isTerminal: isatty(STDOUT_FILENO) != 0,
      environment: ProcessInfo.processInfo.environment)
  }

  /// The width tables fit (`TerminalSize`).
  var width: Int { TerminalSize.current.columns }

  /// Refuses `sarif` (exit 64) for the commands that do not write it.
  func refuseSARIF(_ command: String) throws {
    if format == .sarif {
      throw ValidationError(
        "'--format sarif' is for scan only; \(command) writes table, json, markdown or jsonl")
    }
  }

  /// With `--quiet`, standard output goes to /dev/null from here on (errors still go to
  /// standard error); call first in `run`.
  func silenceIfQuiet() {
    guard quiet else { return }
    let null = open("/dev/null", O_WRONLY)
    if null >= 0 {
      dup2(null, STDOUT_FILENO)
      close(null)
    }
  }
}

/// The terminal's size: the one place that asks the terminal (`ioctl(TIOCGWINSZ)` on standard
/// output); else `COLUMNS` / `LINES`; else 100 columns and 45 lines.
struct TerminalSize {
  var columns: Int
  var lines: Int

  static let current: TerminalSize = {
    let env = ProcessInfo.processInfo.environment
    var size = winsize()
    let asked = ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0
    let columns =
      asked && size.ws_col > 0 ? Int(size.ws_col) : env["COLUMNS"].flatMap { Int($0) } ?? 100
    let lines =
      asked && size.ws_row > 0 ? Int(size.ws_row) : env["LINES"].flatMap { Int($0) } ?? 45
    return TerminalSize(columns: max(40, columns), lines: max(10, lines))
  }()
}

/// Machine output over the inputs of one run: `--format jsonl` prints each entry as it comes;
/// `--format json` prints one document at the end when there are several inputs, else the one
/// entry as it is. Table and Markdown are left to the command.
final class BatchPrinter<Report: Encodable & Sendable>: Sendable {
  let format: OutputFormat
  let several: Bool
  private let entries = Locked<[BatchEntry<Report>]>([])

  init(_ format: OutputFormat, several: Bool) {
    self.format = format
    self.several = several
  }

  func add(_ entry: BatchEntry<Report>) {
    switch format {
    case .jsonl: printJSON(entry, layout: .compact)
    case .json:
      if several { entries.withLock { $0.append(entry) } } else { printJSON(entry) }
    case .table, .markdown, .sarif: break
    }
  }

  func add(_ error: CheckpointError) {
    add(.error(InputError(error)))
    if format == .markdown { print(InputError(error).markdown, terminator: "") }
  }

  /// Prints the document (`--format json` over several inputs).
  func finish() {
    if format == .json && several { printJSON(BatchDocument(entries.current)) }
  }
}

/// Whether a run's arguments are several inputs (machine output is then one document): more
/// than one argument, or a folder of checkpoints (not a sharded checkpoint's folder).
func severalInputs(_ paths: [String], recursive: Bool) -> Bool {
  paths.count > 1
    || FileBatch.expand(paths, recursive: recursive).contains {
      $0.folder != nil && $0.folder != $0.path
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

/// What a one-input run keeps until the process exits rather than free: a summary of a large
/// checkpoint is tens of thousands of strings and arrays (the records, the rows, the layers),
/// and freeing them one by one (54 M instructions for 20,000 tensors, a third of what writing
/// their JSON takes) is work the exit, which hands all the memory back at once, makes
/// pointless. Runs over several inputs keep nothing, so their memory stays bounded by one input
/// at a time. Values added here are never freed (nothing reads them).
private let keptUntilExit = Locked<[any Sendable]>([])

/// Keeps `value` alive until the process exits (`keptUntilExit`).
func keepUntilExit(_ value: any Sendable) {
  keptUntilExit.withLock { $0.append(value) }
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
      try output.refuseSARIF("summary")
      if files.isEmpty { throw ValidationError("give at least one checkpoint file") }
      if let depth, depth < 1 { throw ValidationError("'--depth' must be at least 1") }
    }

    func run() throws {
      output.silenceIfQuiet()
      var layout = LayerTableOptions(
        depth: depth, collapse: !expand, explain: explain, memory: memory)
      layout.width = output.width
      layout.height = TerminalSize.current.lines
      let options = layout
      let format = output.format
      let style = output.style
      // Several files as a table: one row per file, unless a per-file detail is asked for.
      let compact =
        format == .table && !(explain || memory || expand || depth != nil)
        && (files.count > 1 || FileBatch.expand(files, recursive: recursive).count > 1)
      let several = severalInputs(files, recursive: recursive)
      let machine = BatchPrinter<SummaryReport>(format, several: several)
      let rows = Locked<[SummaryRow]>([])
      let printed = Locked(0)
      let failed = BatchRunner.run(
        files, recursive: recursive, progressBar: progressBar(.files),
        report: {
          report($0)
          machine.add($0)
        },
        work: { (path: String) throws(CheckpointError) -> SummaryReport in
          let checkpoint = try Checkpoint.open(path)
          if !several { keepUntilExit(checkpoint) }
          return SummaryReport(checkpoint)
        },
        emit: { input, outcome in
          switch outcome {
          case .skipped: return
          case .failure(let error):
            report(error)
            machine.add(error)
            if compact { rows.withLock { $0.append(SummaryRow(error)) } }
          case .success(let report):
            if !several { keepUntilExit(report) }
            if compact { return rows.withLock { $0.append(SummaryRow(report)) } }
            machine.add(.report(report))
            switch format {
            case .json, .jsonl, .sarif: break
            case .markdown:
              print(SummaryRenderer.markdown(report, options: options), terminator: "")
            case .table:
              if printed.current > 0 { print() }
              print(SummaryRenderer.table(report, options: options, style: style), terminator: "")
            }
            printed.withLock { $0 += 1 }
          }
        })
      machine.finish()
      if compact {
        print(
          SummaryListRenderer.table(rows.current, style: style, width: output.width),
          terminator: "")
      }
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

    func validate() throws { try output.refuseSARIF("tensors") }

    func run() throws {
      output.silenceIfQuiet()
      let tensorsReport: TensorsReport
      do {
        let checkpoint = try Checkpoint.open(file)
        keepUntilExit(checkpoint)
        tensorsReport = TensorsReport(checkpoint, filter: filter, sort: sort)
        keepUntilExit(tensorsReport)
      } catch {
        report(error)
        if output.format == .json || output.format == .jsonl {
          printJSON(InputError(error), layout: output.format == .json ? .pretty : .compact)
        }
        throw unreadable
      }
      switch output.format {
      case .json: printJSON(tensorsReport)
      case .jsonl: printJSON(tensorsReport, layout: .compact)
      case .markdown: print(tensorsReport.markdown(), terminator: "")
      case .table, .sarif:
        print(tensorsReport.table(style: output.style, width: output.width), terminator: "")
      }
      if let filter, tensorsReport.tensors.isEmpty {
        noMatch(file, filter)
        throw ExitCode.failure
      }
    }
  }
}

/// The line on standard error when `--filter` matches no tensor (exit 1).
func noMatch(_ file: String, _ filter: String) {
  writeStandardError("ptinspect: \(file): --filter '\(filter)' matches no tensor\n")
}
