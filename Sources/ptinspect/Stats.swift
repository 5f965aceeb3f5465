// Stats.swift: the `stats` subcommand: per-tensor value statistics, a per-layer rollup and
// totals, read straight from the file on all cores; `--check` fails on NaN or Inf.

import ArgumentParser
import Foundation
import PTInspectCore

extension PTInspect {
  struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Show value statistics of every tensor: min, max, mean, std, zeros, NaN and Inf.",
      discussion: """
        Statistics are computed in float64 as torch does: NaN and Inf are counted and left out \
        of min, max, mean and std (the population standard deviation). Complex tensors are \
        described by their absolute values, quantized tensors by their dequantized values, \
        sparse tensors by their dense form. Exit codes: 0 success; 1 with --check when a \
        listed tensor holds NaN or Inf; 2 the file could not be read; 64 a usage error.
        """)

    @Argument(help: "A checkpoint file (.pt, .pth, .bin, .ckpt, .safetensors, an index, ...).")
    var file: String

    @Option(help: "Only tensors whose full name matches this glob (e.g. 'layer1.*.weight').")
    var filter: String?

    @Flag(help: "Exit 1 when any listed tensor holds NaN or Inf (for CI).")
    var check = false

    @OptionGroup var output: OutputOptions

    func run() throws {
      let stats: StatsReport
      do {
        let checkpoint = try Checkpoint.open(file)
        let bar = ProgressBar.onTerminal()
        defer { bar?.finish() }
        var progress: (@Sendable (Int64, Int64) -> Void)?
        if let bar { progress = { done, total in bar.update(done, total) } }
        var engine = StatsEngine()
        // For benchmarks: PTINSPECT_THREADS=1 measures one core.
        if let n = ProcessInfo.processInfo.environment["PTINSPECT_THREADS"].flatMap(Int.init), n > 0
        {
          engine.threads = n
        }
        stats = try StatsReport(checkpoint, filter: filter, engine: engine, progress: progress)
      } catch {
        report(error)
        throw unreadable
      }
      switch output.format {
      case .json: printJSON(stats)
      case .jsonl: printJSON(stats, layout: .compact)
      case .markdown: print(stats.markdown(), terminator: "")
      case .table: print(stats.table(style: output.style), terminator: "")
      }
      if check && stats.hasNonFinite {
        let n = stats.totals.nonFiniteTensors.count
        FileHandle.standardError.write(
          Data(
            "ptinspect: \(file): \(n == 1 ? "1 tensor holds" : "\(n) tensors hold") NaN or Inf\n"
              .utf8))
        throw ExitCode.failure
      }
    }
  }
}

/// A progress bar on standard error, drawn only when it is a terminal and the work has taken
/// more than half a second; updated at most ten times a second from any thread.
final class ProgressBar: @unchecked Sendable {
  private let lock = NSLock()
  private let start = Date()
  private var lastDraw = Date.distantPast
  private var drawn = false

  /// A bar when standard error is a terminal (and TERM is not dumb), else nil.
  static func onTerminal() -> ProgressBar? {
    guard isatty(STDERR_FILENO) != 0, ProcessInfo.processInfo.environment["TERM"] != "dumb" else {
      return nil
    }
    return ProgressBar()
  }

  func update(_ done: Int64, _ total: Int64) {
    lock.lock()
    defer { lock.unlock() }
    let now = Date()
    let elapsed = now.timeIntervalSince(start)
    guard elapsed > 0.5, now.timeIntervalSince(lastDraw) > 0.1, total > 0 else { return }
    lastDraw = now
    drawn = true
    let fraction = min(1, Double(done) / Double(total))
    let width = 30
    let filled = Int(fraction * Double(width))
    let rate = Double(done) / elapsed
    let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
    let line = String(
      format: "\r[%@] %3.0f%%  %@ of %@  %@/s ", bar, fraction * 100, Format.bytes(done),
      Format.bytes(total),
      Format.bytes(Int64(rate)))
    FileHandle.standardError.write(Data(line.utf8))
  }

  /// Clears the bar's line.
  func finish() {
    lock.lock()
    defer { lock.unlock() }
    if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
  }
}
