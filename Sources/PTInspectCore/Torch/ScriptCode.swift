// ScriptCode.swift: TorchScript declares each module's parameters and buffers in its generated
// code (`__parameters__ = ["weight", "bias", ]`); reading those lines gives the exact split.

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

enum ScriptCode {
  static func classify(_ interpreted: inout InterpretedPickle, zip: ZipFile, root: String) {
    var declared: [String: (parameters: Set<String>, buffers: Set<String>)] = [:]
    for t in interpreted.tensors {
      guard let cls = t.moduleClass, declared[cls] == nil else { continue }
      declared[cls] = declarations(of: cls, zip: zip, root: root)
    }
    for i in interpreted.tensors.indices {
      guard let cls = interpreted.tensors[i].moduleClass, let d = declared[cls] else { continue }
      let leaf = lastComponent(interpreted.tensors[i].name)
      if d.parameters.contains(leaf) {
        interpreted.tensors[i].kind = .parameter
        interpreted.tensors[i].kindIsExact = true
      } else if d.buffers.contains(leaf) {
        interpreted.tensors[i].kind = .buffer
        interpreted.tensors[i].kindIsExact = true
      }
      interpreted.tensors[i].role = TorchInterpreter.role(
        leaf: leaf, kind: interpreted.tensors[i].kind)
    }
  }

  /// `__torch__.a.b.Cls` lives in `code/__torch__/a/b.py`.
  static func declarations(of cls: String, zip: ZipFile, root: String)
    -> (parameters: Set<String>, buffers: Set<String>)
  {
    var parts = cls.split(separator: ".").map(String.init)
    guard parts.count >= 2, let name = parts.popLast() else { return ([], []) }
    let file = root + "code/" + parts.joined(separator: "/") + ".py"
    guard let entry = zip.entry(named: file),
      let raw = try? zip.read(entry, limit: 64 << 20)
    else {
      return ([], [])
    }
    let text = String(decoding: raw, as: UTF8.self)
    guard let start = text.range(of: "class \(name)(") else { return ([], []) }
    let body = text[start.upperBound...]
    let end = body.range(of: "\nclass ")?.lowerBound ?? body.endIndex
    let section = body[..<end]
    return (
      names(after: "__parameters__ = [", in: section), names(after: "__buffers__ = [", in: section)
    )
  }

  static func names(after marker: String, in text: Substring) -> Set<String> {
    guard let r = text.range(of: marker), let close = text[r.upperBound...].firstIndex(of: "]")
    else { return [] }
    return Set(
      text[r.upperBound..<close].split(separator: ",").map {
        let quoteOrSpace: Set<Character> = [" ", "\"", "'", "\n"]
        return String(
          $0.drop { quoteOrSpace.contains($0) }.reversed().drop { quoteOrSpace.contains($0) }
            .reversed())
      }.filter { !$0.isEmpty })
  }
}
