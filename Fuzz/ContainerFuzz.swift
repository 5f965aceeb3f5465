// ContainerFuzz.swift: libFuzzer harness for the container layer. Each input is an in-memory
// byte source read the ways the commands read files: Checkpoint.open with the summary and
// tensors reports, SecurityScanner.scan with its renderers, and the tensor data reader over
// every tensor. Built by scripts/fuzz from Sources/Pickle and Sources/PTInspectCore as one
// module, linked with libzip. A DCP `.metadata` (any input opening with PROTO) is also read
// with the input itself standing for every `.distcp` file it names, and its tensors read back.

@_cdecl("LLVMFuzzerTestOneInput")
public func containerFuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let source = MemorySource(Array(UnsafeBufferPointer(start: data, count: size)), name: "fuzz.pt")
  if size > 0, data[0] == 0x80 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for mode in [ReadMode.strict, .lenient] {
      let contents = try? DcpReader.read(source, mode: mode, options: OpenOptions()) { name in
        MemorySource(bytes, name: name)
      }
      guard mode == .strict, let contents,
        let checkpoint = try? Checkpoint.assemble(contents, source: source, options: OpenOptions()),
        let reader = try? TensorDataReader(checkpoint)
      else { continue }
      for t in checkpoint.tensors.prefix(64)
      where reader.unreadableReason(t) == nil && t.bytes < 1 << 20 {
        try? reader.forEachChunk(t) { _ in }
      }
    }
  }
  if let checkpoint = try? Checkpoint.open(source) {
    let summary = SummaryReport(checkpoint)
    _ = try? ReportJSON.encode(summary)
    _ = SummaryRenderer.table(summary, options: LayerTableOptions(explain: true, memory: true))
    _ = SummaryRenderer.markdown(summary)
    _ = TensorsReport(checkpoint, filter: nil, sort: .size).table()
    if let reader = try? TensorDataReader(checkpoint) {
      for t in checkpoint.tensors.prefix(64) where reader.unreadableReason(t) == nil {
        try? reader.forEachChunk(t, range: 0..<min(t.numel, 4096)) { _ in }
      }
    }
  }
  if let scan = try? SecurityScanner.scan(source) {
    _ = try? ReportJSON.encode(scan)
    _ = ScanRenderer.table(scan, strict: true)
    _ = ScanRenderer.markdown(scan)
    precondition(scan.complete == scan.errors.isEmpty, "complete must mean no errors")
  }
  return 0
}
