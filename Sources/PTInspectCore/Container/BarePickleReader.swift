// BarePickleReader.swift: a file that is one pickle (`pickle.dump` output, a `data.pkl` taken
// out of its zip), perhaps followed by more pickles.

import Pickle

enum BarePickleReader: ContainerReader {
  /// First opcodes of protocol 0 and 1 pickles torch and pickle.dump write: MARK, EMPTY_DICT,
  /// EMPTY_LIST, GLOBAL.
  static let protocol0Starts: Set<UInt8> = [0x28, 0x7D, 0x5D, 0x63]

  static func probe(_ h: [UInt8], source: any ByteSource) -> Bool {
    guard let first = h.first else { return false }
    if first == 0x80 { return h.count > 1 && h[1] <= 5 }
    return protocol0Starts.contains(first)
  }

  static func read(_ source: any ByteSource, mode: ReadMode, options: OpenOptions)
    throws(CheckpointError) -> ContainerContents
  {
    var contents = ContainerContents(format: .pickle, fileBytes: source.size)
    contents.pickles.append(
      PickleSource(
        name: "pickle", role: .main, bytes: .range(offset: 0, count: source.size), context: nil))
    guard mode == .lenient else { return contents }
    // pickle.load and torch.load read only the first pickle; more that follow are listed too.
    let decoder = PickleDecoder(limits: options.pickleLimits)
    let size = source.size
    _ = try? source.withBytes(at: 0, count: Int(size)) { buffer in
      guard var offset = try? decoder.decode(buffer).endOffset else { return }
      var n = 1
      while offset < buffer.count {
        guard buffer[offset] == 0x80, offset + 1 < buffer.count, buffer[offset + 1] <= 5,
          n < options.maxStreamPickles
        else {
          contents.notes.append(
            "\(buffer.count - offset) bytes follow the pickle's STOP at offset \(offset)")
          return
        }
        n += 1
        let next = try? decoder.decode(buffer, at: offset).endOffset
        contents.pickles.append(
          PickleSource(
            name: "pickle \(n)", role: .other,
            bytes: .range(offset: Int64(offset), count: size - Int64(offset)),
            context: "pickle \(n)", base: 0))
        guard let next else { return }
        offset = next
      }
    }
    return contents
  }
}
