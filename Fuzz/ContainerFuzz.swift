// ContainerFuzz.swift: libFuzzer harness for the container readers. Each input is written to a
// file (in /dev/shm when it exists) and read the ways the commands read files: Checkpoint.open
// with the summary and tensors reports, and SecurityScanner.scan with its renderers. Built by
// scripts/fuzz from Sources/Pickle and Sources/PTInspectCore as one module, linked with libzip.

import Foundation

private let inputPath: String = {
  let folder =
    FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
  return (folder as NSString).appendingPathComponent("ptinspect-fuzz-\(getpid()).pt")
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func containerFuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  guard FileManager.default.createFile(atPath: inputPath, contents: Data(bytes: data, count: size))
  else {
    return 0
  }
  if let checkpoint = try? Checkpoint.open(inputPath) {
    let summary = SummaryReport(checkpoint)
    _ = summary.json()
    _ = SummaryRenderer.table(summary, options: LayerTableOptions(explain: true, memory: true))
    _ = SummaryRenderer.markdown(summary)
    _ = TensorsReport(checkpoint, filter: nil, sort: .size).table()
  }
  if let scan = try? SecurityScanner.scan(inputPath) {
    _ = scan.json()
    _ = ScanRenderer.table(scan, strict: true)
    _ = ScanRenderer.markdown(scan)
    precondition(scan.complete == scan.errors.isEmpty, "complete must mean no errors")
  }
  return 0
}
