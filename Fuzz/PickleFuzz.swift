// PickleFuzz.swift: libFuzzer harness for the pickle decoder and the opcode scanner.
// Built by scripts/fuzz with the sources of Sources/Pickle and OpcodeScanner.swift as one module.
// Every input is decoded as a stream of pickles (as the legacy reader does) and scanned; the
// harness checks the invariants both must keep on any input.

@_cdecl("LLVMFuzzerTestOneInput")
public func pickleFuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let buffer = UnsafeRawBufferPointer(start: data, count: size)
  var limits = PickleLimits()
  // Small enough that the limit paths are reached by fuzzed inputs.
  limits.maxNodes = 1 << 16
  limits.maxValueBytes = 1 << 20
  let decoder = PickleDecoder(limits: limits)
  var offset = 0
  var pickles = 0
  while offset < size, pickles < 8 {
    let scan = OpcodeScanner.scan(buffer, at: offset)
    precondition(scan.endOffset >= offset && scan.endOffset <= size, "scan end out of range")
    do {
      let graph = try decoder.decode(buffer, at: offset)
      precondition(graph.endOffset > offset && graph.endOffset <= size, "decode end out of range")
      // The decoder and the scanner must agree on where a pickle ends and which globals it names.
      precondition(scan.error == nil, "the scanner failed where the decoder succeeded")
      precondition(scan.endOffset == graph.endOffset, "scanner and decoder disagree on STOP")
      let named = scan.references.filter {
        $0.opcode == .global || $0.opcode == .inst || $0.opcode == .stackGlobal
      }
      precondition(named.count == graph.globals.count, "scanner and decoder disagree on globals")
      for (a, b) in zip(named, graph.globals) {
        precondition(a.offset == b.offset && a.opcode == b.opcode, "global offsets differ")
        // Names are compared where both sides decode the text the same way (plain ASCII).
        if let m = a.module, let n = a.name, a.opcode != .stackGlobal || isPlain(m + n) {
          precondition(m == b.global.module && n == b.global.name, "global names differ")
        }
      }
      // Walk every node and value so that a malformed graph would trap here.
      var touched = 0
      for node in graph.nodes {
        switch node {
        case .list(let items), .tuple(let items), .set(let items), .frozenSet(let items):
          for v in items {
            if case .node(let i) = v { precondition(i < graph.nodes.count) }; touched += 1
          }
        case .dict(let entries, let state):
          touched += entries.count
          if case .node(let i)? = state { precondition(i < graph.nodes.count) }
        case .object(let o):
          if case .node(let i) = o.callable { precondition(i < graph.nodes.count) }
          touched += o.listItems.count + o.dictItems.count
        case .global, .persistentID, .extensionCode:
          touched += 1
        }
      }
      _ = touched
      offset = graph.endOffset
    } catch {
      precondition(error.offset >= offset && error.offset <= size, "error offset out of range")
      _ = error.description
      break
    }
    pickles += 1
  }
  return 0
}

private func isPlain(_ s: String) -> Bool {
  s.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != 0x5C && $0 != 0x27 && $0 != 0x22 }
}
