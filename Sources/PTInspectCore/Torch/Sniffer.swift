// Sniffer.swift: tells the container from the file's first bytes, never from its extension.

import Foundation

struct Sniffer {
  enum Kind: Equatable {
    case zip, legacy, pickle, tar, safetensors, json, directory
    /// A file ptinspect recognises and does not read (torch.export, ONNX, ...).
    case unsupported(String)
    /// Not a checkpoint at all (LFS pointer, HTML page, empty file).
    case notCheckpoint(String)
  }

  let kind: Kind
  let fileBytes: Int64
  let head: [UInt8]

  init(path: String) throws(CheckpointError) {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      throw CheckpointError(file: path, "no such file")
    }
    if isDirectory.boolValue {
      self.kind = .directory
      self.fileBytes = 0
      self.head = []
      return
    }
    guard let handle = FileHandle(forReadingAtPath: path) else {
      throw CheckpointError(file: path, "cannot open the file for reading")
    }
    defer { try? handle.close() }
    let size = (try? handle.seekToEnd()).map { Int64($0) } ?? 0
    try? handle.seek(toOffset: 0)
    let head = [UInt8]((try? handle.read(upToCount: 512)) ?? Data())
    self.fileBytes = size
    self.head = head
    self.kind = Sniffer.classify(head, fileBytes: size)
  }

  static func classify(_ h: [UInt8], fileBytes: Int64) -> Kind {
    if h.isEmpty { return .notCheckpoint("empty file (0 bytes)") }
    func starts(_ s: String) -> Bool { h.starts(with: Array(s.utf8)) }
    if starts("PK\u{03}\u{04}") || starts("PK\u{05}\u{06}") { return .zip }
    if starts("version https://git-lfs") {
      return .notCheckpoint("this is a Git LFS pointer, not the checkpoint: run git lfs pull")
    }
    let text = String(decoding: h.prefix(64), as: UTF8.self).lowercased()
      .trimmingCharacters(in: .whitespacesAndNewlines)
    if text.hasPrefix("<!doctype html") || text.hasPrefix("<html") || text.hasPrefix("<?xml") {
      return .notCheckpoint("this is an HTML or XML page, not a checkpoint (a failed download?)")
    }
    if h.count >= 262, Array(h[257..<262]) == Array("ustar".utf8) { return .tar }
    if h[0] == 0x80, h.count > 1, h[1] <= 5 {
      // A legacy stream starts with the magic number as its first pickle.
      return h.count > 2 && containsMagic(h) ? .legacy : .pickle
    }
    if h[0] == 0x28 || h[0] == 0x7D || h[0] == 0x5D || h[0] == 0x63 { return .pickle }
    if h.count >= 10, h[8] == UInt8(ascii: "{") {
      let n = h.prefix(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
      if n > 1, n <= UInt64(max(fileBytes - 8, 0)) { return .safetensors }
    }
    if text.hasPrefix("{") { return .json }
    if starts("PTMF") || (h.count > 8 && Array(h[4..<8]) == Array("PTMF".utf8)) {
      return .unsupported("PyTorch Mobile flatbuffer (.ptl): ptinspect does not read it")
    }
    if h[0] == 0x08,
      String(decoding: h, as: UTF8.self).contains("pytorch")
        || String(decoding: h, as: UTF8.self).contains("onnx")
    {
      return .unsupported("an ONNX model, not a PyTorch checkpoint: ptinspect does not read ONNX")
    }
    let shown = h.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
    return .notCheckpoint("not a PyTorch checkpoint: unrecognised content (first bytes \(shown))")
  }

  /// The legacy magic number LONG1 10 bytes, right after PROTO (and an optional FRAME).
  static let magic: [UInt8] = [
    0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19,
  ]

  static func containsMagic(_ h: [UInt8]) -> Bool {
    var i = 2
    if h.count > 2, h[2] == 0x95 { i = 11 }  // FRAME + 8-byte length
    return h.count >= i + magic.count && Array(h[i..<i + magic.count]) == magic
  }
}
