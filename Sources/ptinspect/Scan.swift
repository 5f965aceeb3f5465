// Scan.swift: the `scan` subcommand: every global each pickle of the file references, classified
// against torch's weights_only allowlist, plus zip tricks. Nothing is executed.

import ArgumentParser
import PTInspectCore

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

extension PTInspect {
  struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(
      // Named here: deriving the name by reflection costs every run (performance-notes.md).
      commandName: "scan",
      abstract: "List every global the file's pickles reference: allowed, unknown or dangerous.",
      discussion: """
        Nothing in the file is executed. Allowed globals are those torch.load(weights_only=True) \
        accepts by default; dangerous ones can run code or touch the system; unknown is everything \
        else. Exit codes: 0 nothing dangerous; 1 something dangerous (with --strict: anything not \
        allowed, or a zip trick); 2 a file, or part of one, could not be read (what was read is \
        still reported). With several files the worst code wins.
        """)

    @Argument(
      help:
        "Files or folders to scan (.pt, .pth, .bin, .ckpt, .pkl, ...; a sharded index scans its shards).",
      completion: .file())
    var files: [String]

    @Flag(help: "Look for checkpoints in subfolders of the folders given.")
    var recursive = false

    @Flag(help: "Exit 1 when any global is not on the allowlist, or the zip has findings.")
    var strict = false

    @Option(
      help: ArgumentHelp(
        "Accept a reviewed global (module.name, or prefix.*): reported as allowed by the user. Repeatable; os, sys, eval and the like are never accepted.",
        valueName: "global"))
    var allow: [String] = []

    @Option(
      help: ArgumentHelp(
        "A config file (TOML) with an allow list: [scan] table, or [tool.ptinspect.scan] in pyproject.toml.",
        valueName: "file"), completion: .file())
    var config: String?

    @Flag(help: "Ignore .ptinspect.toml and pyproject.toml in the current folder.")
    var noConfig = false

    @OptionGroup var output: OutputOptions

    @OptionGroup(title: "Remote checkpoints (URLs, s3://, hf://)") var remote: RemoteOptions

    func validate() throws {
      if files.isEmpty { throw ValidationError("give at least one file to scan") }
      if noConfig && config != nil {
        throw ValidationError("'--config' and '--no-config' cannot go together")
      }
      _ = try allowlist()
    }

    /// The --allow values and the config file's allow list (bad ones are usage errors).
    func allowlist() throws -> ScanAllowlist {
      do {
        return try ScanConfig.allowlist(flags: allow, config: config, noConfig: noConfig)
      } catch {
        throw ValidationError(error.message)
      }
    }

    func run() throws {
      output.silenceIfQuiet()
      let allowed = try allowlist()
      let format = output.format
      let machine = BatchPrinter<ScanReport>(
        format, several: severalInputs(files, recursive: recursive))
      var exit = ScanExitCode()
      var first = true
      var scans: [ScanReport] = []
      var unreadableFiles: [InputError] = []
      func failed(_ error: CheckpointError) {
        report(error)
        machine.add(error)
        unreadableFiles.append(InputError(error))
        if format == .table && machine.several {
          print("\(first ? "" : "\n")\(error.file): unreadable: \(error.message)")
        }
        first = false
        exit.addUnreadable()
      }
      let inputs = FileBatch.expand(files, recursive: recursive)
      var counted = Set<Int>()
      for (index, input) in inputs.enumerated() {
        let paths: [String]
        do {
          paths = try SecurityScanner.expand(input.path)
        } catch {
          if input.reportErrors { failed(error) }
          continue
        }
        for path in paths {
          let scan: ScanReport
          do {
            scan = try SecurityScanner.scan(path).allowing(allowed)
          } catch {
            if input.reportErrors {
              counted.insert(index)
              failed(error)
            }
            continue
          }
          counted.insert(index)
          machine.add(.report(scan))
          switch format {
          case .json, .jsonl: break
          case .sarif: scans.append(scan)
          case .markdown: print(ScanRenderer.markdown(scan), terminator: "")
          case .table:
            if !first { print() }
            print(
              ScanRenderer.table(
                scan, strict: strict, style: output.style, width: output.width),
              terminator: "")
          }
          first = false
          for message in scan.errors {
            report(CheckpointError(file: path, Format.printable(message)))
          }
          exit.add(scan, strict: strict)
        }
      }
      for e in FileBatch.emptyFolders(files, inputs: inputs, counted: counted) { failed(e) }
      machine.finish()
      if format == .sarif {
        printJSON(
          SARIFLog(
            scans: scans, unreadable: unreadableFiles,
            version: PTInspect.configuration.version))
      }
      if exit.code != 0 { throw ExitCode(exit.code) }
    }
  }
}
