// PickleTestSupport.swift: a Python-like rendering of decoded values, for readable assertions.

import Pickle

extension PickleGraph {
  /// `repr`-like text of a value; depth-limited (tests only use shallow values).
  func text(_ v: PickleValue, depth: Int = 0) -> String {
    if depth > 40 { return "..." }
    switch v {
    case .none: return "None"
    case .bool(let b): return b ? "True" : "False"
    case .int(let i): return String(i)
    case .bigInt(let bytes):
      return "bigint(" + bytes.map { String($0, radix: 16) }.joined(separator: " ") + ")"
    case .float(let f): return "\(f)"
    case .string(let s): return "'\(s)'"
    case .bytes(let b): return "b'" + b.map { String($0, radix: 16) }.joined(separator: " ") + "'"
    case .node(let i):
      func list(_ items: [PickleValue]) -> String {
        items.map { text($0, depth: depth + 1) }.joined(separator: ", ")
      }
      switch nodes[i] {
      case .list(let items): return "[" + list(items) + "]"
      case .tuple(let items):
        return items.count == 1 ? "(" + list(items) + ",)" : "(" + list(items) + ")"
      case .dict(let entries, let state):
        let body = entries.map {
          text($0.key, depth: depth + 1) + ": " + text($0.value, depth: depth + 1)
        }
        return "{" + body.joined(separator: ", ") + "}"
          + (state.map { " state=" + text($0, depth: depth + 1) } ?? "")
      case .set(let items): return "set(" + list(items) + ")"
      case .frozenSet(let items): return "frozenset(" + list(items) + ")"
      case .global(let g): return g.qualifiedName
      case .object(let o):
        var s =
          "\(o.kind.rawValue)(" + text(o.callable, depth: depth + 1) + ", "
          + text(o.args, depth: depth + 1)
        if let k = o.kwargs { s += ", kwargs=" + text(k, depth: depth + 1) }
        if let st = o.state { s += ", state=" + text(st, depth: depth + 1) }
        if !o.listItems.isEmpty { s += ", items=[" + list(o.listItems) + "]" }
        if !o.dictItems.isEmpty {
          s +=
            ", dict={"
            + o.dictItems.map {
              text($0.key, depth: depth + 1) + ": " + text($0.value, depth: depth + 1)
            }.joined(separator: ", ") + "}"
        }
        return s + ")"
      case .persistentID(let pid): return "pid(" + text(pid, depth: depth + 1) + ")"
      case .extensionCode(let c): return "ext(\(c))"
      }
    }
  }
}

/// Decodes bytes and renders the root.
func decodeText(_ bytes: [UInt8], limits: PickleLimits = PickleLimits()) throws(PickleError)
  -> String
{
  let g = try PickleDecoder(limits: limits).decode(bytes)
  return g.text(g.root)
}

/// Bytes from a mix of opcode characters and raw values: `b("K", 5, ".")`.
func b(_ parts: Any...) -> [UInt8] {
  var out: [UInt8] = []
  for p in parts {
    switch p {
    case let s as String: out += Array(s.utf8)
    case let i as Int: out.append(UInt8(truncatingIfNeeded: i))
    case let a as [UInt8]: out += a
    case let a as [Int]: out += a.map { UInt8(truncatingIfNeeded: $0) }
    case let u as UInt8: out.append(u)
    default: break
    }
  }
  return out
}

/// Little-endian bytes of `value` in `width` bytes.
func le(_ value: UInt64, _ width: Int) -> [UInt8] {
  (0..<width).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
}
