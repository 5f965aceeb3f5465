// Containers.swift: which container a file is, told by structure, never by extension: each
// format's reader probes the first bytes and the source, the most specific check first.

import Pickle

/// How strictly a container is read.
package enum ReadMode: Sendable {
  /// For the summary: the first problem is an error.
  case strict
  /// For the scan: as much as can be read, with the problems as `errors` and `notes`.
  case lenient
}

/// Limits applied while reading a checkpoint.
public struct OpenOptions: Sendable {
  /// Largest pickle ptinspect will read into memory.
  public var maxPickleBytes: UInt64 = 1 << 30
  /// Largest compressed entry that is inflated into memory (stored entries are read in place).
  public var maxInflatedBytes: UInt64 = 1 << 30
  /// Most pickles read from one bare pickle stream (lenient reads).
  public var maxStreamPickles = 1000
  /// The decoder's limits (memo size, nesting, container lengths) that keep hostile pickles bounded.
  public var pickleLimits = PickleLimits()
  /// Whether a zip's state dict is read by the fast path (`StateDictReader`); false reads every
  /// pickle through the decoder and the interpreter (the tests compare the two).
  package var stateDictFastPath = true
  /// The defaults: 1 GiB for a pickle or an inflated entry, 1,000 pickles per stream.
  public init() {}
}

/// One container format: a probe and a reader.
protocol ContainerReader {
  /// Whether the file is in this format, from its first bytes (`head`, up to 512) and, where
  /// the format needs it, more of the source.
  static func probe(_ head: [UInt8], source: any ByteSource) -> Bool
  /// Reads the container's contents. Strict reads throw on the first problem; lenient reads
  /// return what they could read, with `errors`.
  static func read(_ source: any ByteSource, mode: ReadMode, options: OpenOptions)
    throws(CheckpointError) -> ContainerContents
}

/// A container's bytes break its format (a reader's own error, made a checkpoint error by its
/// caller).
struct FormatError: Error {
  var message: String
  init(_ message: String) { self.message = message }
}

/// What a file is.
enum ContainerKind {
  case container(any ContainerReader.Type)
  /// A sharded-checkpoint index (JSON).
  case index
  /// A known format ptinspect does not read.
  case unsupported(String)
  /// Not a checkpoint (empty, an LFS pointer, an HTML page, unrecognised bytes).
  case notCheckpoint(String)
}

enum Containers {
  /// The readers, most specific probe first: a DCP `.metadata` pickle (or a `.distcp` beside
  /// one) first; a zip of `.npy` members and a `.pt2` archive before other zips; a
  /// safetensors header length can begin with a byte that is also a pickle opcode (0x80 PROTO,
  /// 0x28 MARK), so safetensors, whose check is structural, comes before the pickles.
  static let readers: [any ContainerReader.Type] = [
    DcpReader.self, NpzReader.self, Pt2Reader.self, TorchZipReader.self, TarReader.self,
    SafetensorsReader.self,
    NumpyReader.self, LegacyStreamReader.self, BarePickleReader.self,
  ]

  /// Reads up to 512 bytes from the start of `source`.
  static func head(_ source: any ByteSource) throws(CheckpointError) -> [UInt8] {
    do {
      return try source.readPrefix(upTo: 512)
    } catch {
      throw CheckpointError(file: source.name, .source(error))
    }
  }

  /// What `source` holds.
  static func identify(_ source: any ByteSource) throws(CheckpointError) -> ContainerKind {
    let h = try head(source)
    if h.isEmpty { return .notCheckpoint("empty file (0 bytes)") }
    if h.starts(with: Array("version https://git-lfs".utf8)) {
      return .notCheckpoint("this is a Git LFS pointer, not the checkpoint: run git lfs pull")
    }
    let text = String(decoding: h.prefix(64), as: UTF8.self).lowercased()
    let trimmed = text.drop { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" }
    if trimmed.hasPrefix("<!doctype html") || trimmed.hasPrefix("<html")
      || trimmed.hasPrefix("<?xml")
    {
      return .notCheckpoint("this is an HTML or XML page, not a checkpoint (a failed download?)")
    }
    for reader in readers where reader.probe(h, source: source) { return .container(reader) }
    if trimmed.hasPrefix("{") { return .index }
    if h.starts(with: Array("PTMF".utf8)) || (h.count > 8 && Array(h[4..<8]) == Array("PTMF".utf8))
    {
      return .unsupported("PyTorch Mobile flatbuffer (.ptl): ptinspect does not read it")
    }
    if h[0] == 0x08 {
      let all = String(decoding: h, as: UTF8.self)
      if all.contains("pytorch") || all.contains("onnx") {
        return .unsupported(
          "an ONNX model, not a PyTorch checkpoint: ptinspect does not read ONNX")
      }
    }
    let shown = h.prefix(8).map { hexByte($0) }.joined(separator: " ")
    return .notCheckpoint("not a PyTorch checkpoint: unrecognised content (first bytes \(shown))")
  }

  /// The contents of the container `source` holds; sharded indexes and non-checkpoints throw.
  static func read(_ source: any ByteSource, mode: ReadMode, options: OpenOptions)
    throws(CheckpointError) -> ContainerContents
  {
    switch try identify(source) {
    case .container(let reader): return try reader.read(source, mode: mode, options: options)
    case .index: throw CheckpointError(file: source.name, "a sharded checkpoint index")
    case .unsupported(let m): throw CheckpointError(file: source.name, .unsupported(m))
    case .notCheckpoint(let m): throw CheckpointError(file: source.name, .notCheckpoint(m))
    }
  }
}

extension Containers {
  /// Calls `body` with the whole file in one buffer (mapped, for a local file): for the stream
  /// formats, whose pickles must be decoded to find where the next part starts.
  static func withWholeFile<R>(
    _ source: any ByteSource, _ body: (UnsafeRawBufferPointer) throws(CheckpointError) -> R
  ) throws(CheckpointError) -> R {
    do {
      return try source.withBytes(at: 0, count: Int(source.size)) { buffer in try body(buffer) }
    } catch let error as CheckpointError {
      throw error
    } catch {
      throw CheckpointError(
        file: source.name, .source(error as? ByteSourceError ?? ByteSourceError("\(error)")))
    }
  }
}

/// `0x4f` as `4f`.
func hexByte(_ b: UInt8) -> String {
  let digits = Array("0123456789abcdef")
  return String([digits[Int(b >> 4)], digits[Int(b & 0xF)]])
}

/// Little-endian unsigned integer of `width` bytes at `at`.
func littleEndian(_ bytes: some RandomAccessCollection<UInt8>, at: Int, width: Int) -> UInt64 {
  var v: UInt64 = 0
  let start = bytes.index(bytes.startIndex, offsetBy: at)
  for i in (0..<width).reversed() { v = v << 8 | UInt64(bytes[bytes.index(start, offsetBy: i)]) }
  return v
}
