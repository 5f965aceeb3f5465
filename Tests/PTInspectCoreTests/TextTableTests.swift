// TextTableTests.swift: the one mechanism every table fits a width with: text columns shrink
// (to a soft floor, then a hard one, the widest first), numbers take their compact form, then
// low-priority columns are left out whole and named; and the wrapping of notes and warnings.

import Testing

@testable import PTInspectCore

@Suite struct TextTableTests {
  /// A table with one long name column, a text column and four numbers.
  static func table() -> TextTable {
    var t = TextTable(
      headers: ["Name", "Kind", "Numel", "Stride", "Offset", "Bytes"],
      alignments: [.left, .left, .right, .right, .right, .right])
    t.shrinkable = [0, 1]
    t.elideMiddle = [0]
    t.droppable = [3, 4]
    t.add(
      [
        "encoder.layers.3.self_attn.q_proj.weight", "parameter", "1,048,576", "[1024, 1]", "0",
        "4,194,304",
      ], compact: [5: "4.0 MiB"])
    t.add(
      ["encoder.layers.3.self_attn.q_proj.bias", "parameter", "1,024", "[1]", "0", "4,096"],
      compact: [5: "4.0 KiB"])
    return t
  }

  static func lines(_ text: String) -> [Substring] { text.split(separator: "\n") }

  @Test("as wide as it is when there is room; .max never fits")
  func natural() {
    let t = Self.table()
    #expect(t.render() == t.render(width: 200))
    #expect(Self.lines(t.render())[1].hasPrefix("encoder.layers.3.self_attn.q_proj.weight  "))
    #expect(t.fit(width: 200).dropped.isEmpty)
  }

  @Test("text shrinks first, names cut in the middle keeping their end")
  func textFirst() {
    let t = Self.table()
    let (text, dropped) = t.fit(width: 76)
    #expect(dropped.isEmpty)
    #expect(Self.lines(text).allSatisfy { $0.count <= 76 })
    // The dotted name loses whole components, never its layer index nor q_proj.
    #expect(text.contains("\n...3...q_proj.weight      parameter"))
    #expect(text.contains("\n...3...q_proj.bias        parameter"))
    #expect(text.contains("4,194,304"))
  }

  @Test("then numbers take their compact form, then columns are left out in their order")
  func compactThenDrop() {
    let t = Self.table()
    let compact = t.fit(width: 74)
    #expect(compact.dropped.isEmpty)
    #expect(compact.text.contains("4.0 MiB") && !compact.text.contains("4,194,304"))
    // One column fewer: the full numbers again when they fit.
    let one = t.fit(width: 73)
    #expect(one.dropped == ["Stride"])
    #expect(one.text.contains("4,194,304"))
    #expect(t.fit(width: 64).dropped == ["Stride"])
    #expect(t.fit(width: 64).text.contains("4.0 MiB"))
    let both = t.fit(width: 50)
    #expect(both.dropped == ["Stride", "Offset"])
    #expect(Self.lines(both.text).allSatisfy { $0.count <= 50 })
    #expect(!both.text.contains("[1024, 1]"))
    // A number is never cut.
    #expect(both.text.contains("1,048,576"))
    #expect(
      t.render(width: 50).hasSuffix(
        "\n(columns Stride, Offset left out to fit 50\n columns: COLUMNS=92 or --format json for all)"
      ))
  }

  @Test("cutBeforeDropping narrows text to the hard floor before leaving a column out")
  func cutBeforeDropping() {
    var t = Self.table()
    #expect(t.fit(width: 62).dropped == ["Stride", "Offset"])
    t.cutBeforeDropping = true
    let (text, dropped) = t.fit(width: 62)
    #expect(dropped.isEmpty)
    #expect(Self.lines(text).allSatisfy { $0.count <= 62 })
    #expect(text.contains("parameter"))
  }

  @Test("minimumWidths: at first only the cells wider than the floor are cut")
  func minimumWidths() {
    var t = TextTable(headers: ["Layer", "Description"], alignments: [.left, .left])
    t.shrinkable = [1, 0]
    t.elideMiddle = [0]
    t.minimumWidths = [0: 24]
    t.add(["encoder.layers.encoder_layer_[0-11] x12", "12 identical blocks"])
    t.add(["  .self_attention", "MultiheadAttention(768)"])
    let text = t.render(width: 51)
    #expect(text.contains("\n...ncoder_layer_[0-11] x12  12 identical blocks\n"))
    #expect(text.hasSuffix("\n  .self_attention           MultiheadAttention(768)"))
  }

  @Test("wrap keeps leading spaces and indents what follows; tagged hangs under the message")
  func wrapping() {
    #expect(
      Format.wrap("  head: one two three four five six", width: 20, indent: 4) == [
        "  head: one two", "    three four five", "    six",
      ])
    #expect(
      Format.tagged("note:", "a b c d e f g h i j k l m n o p", width: 22)
        == "note: a b c d e f g h\n      i j k l m n o p")
    // A word longer than the line stays whole: a warning is never cut.
    let long = String(repeating: "x", count: 40)
    #expect(
      Format.tagged("warning:", long + " end", width: 30)
        == "warning:\n         \(long)\n         end")
    // Styling applies to the tag only.
    let red = Format.tagged("error:", "bad", width: 30) { "<" + $0 + ">" }
    #expect(red == "<error:> bad")
  }
}
