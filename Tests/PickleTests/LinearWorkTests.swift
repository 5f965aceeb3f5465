// LinearWorkTests.swift: the decoder's work grows linearly with the items a container receives,
// checked by counting element moves (never by timing).

import Pickle
import Testing

@Suite struct LinearWorkTests {
  /// The containers torch fills in 1,000-item batches: a plain dict (`model.state_dict()`), an
  /// OrderedDict (a REDUCE object) and a list.
  enum Target: CaseIterable {
    case dict, orderedDict, list
  }

  /// A pickle whose root receives `count` items in batches of 1,000 (SETITEMS or APPENDS), each
  /// item a BININT, the last batch also one SETITEM or APPEND.
  static func pickle(_ target: Target, count: Int) -> [UInt8] {
    var out: [UInt8] = [0x80, 2]
    switch target {
    case .dict: out += [0x7D]  // EMPTY_DICT
    case .list: out += [0x5D]  // EMPTY_LIST
    case .orderedDict:
      out += Array("ccollections\nOrderedDict\n".utf8) + [0x29, 0x52]  // GLOBAL () REDUCE
    }
    let pairs = target != .list
    func item(_ i: Int) -> [UInt8] {
      let int: [UInt8] = [0x4A] + (0..<4).map { UInt8(truncatingIfNeeded: i >> (8 * $0)) }
      return pairs ? int + int : int
    }
    var i = 0
    while i < count - 1 {
      out.append(0x28)  // MARK
      for _ in 0..<min(1000, count - 1 - i) {
        out += item(i)
        i += 1
      }
      out.append(pairs ? 0x75 : 0x65)  // SETITEMS / APPENDS
    }
    out += item(i) + [pairs ? 0x73 : 0x61, 0x2E]  // SETITEM / APPEND, STOP
    return out
  }

  @Test(arguments: Target.allCases)
  func itemsAppendInPlace(_ target: Target) throws {
    var moves: [Int] = []
    for count in [16_000, 64_000] {
      let graph = try PickleDecoder().decode(Self.pickle(target, count: count))
      let items: Int
      switch graph.node(graph.root) {
      case .dict(let entries, _)?: items = entries.count
      case .list(let values)?: items = values.count
      case .object(let box)?: items = box.dictItems.count
      default: items = 0
      }
      #expect(items == count)
      // Each item is written once; growing by doubling moves fewer than twice as many again.
      // A copy of the whole array per batch (the quadratic trap) would move about count^2/2000.
      #expect(graph.containerElementMoves < 3 * count, "\(target) at \(count)")
      moves.append(graph.containerElementMoves)
    }
    // Four times the items, at most about four times the work (doubling's steps shift a little).
    #expect(moves[1] <= 5 * moves[0], "\(target): \(moves)")
  }
}
