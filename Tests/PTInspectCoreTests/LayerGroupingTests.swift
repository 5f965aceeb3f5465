// LayerGroupingTests.swift: layers grouped and rows collapsed over names' UTF-8 bytes agree with
// what String comparison and Character splitting give.

import Testing

@testable import PTInspectCore

@Suite struct LayerGroupingTests {
  /// A checkpoint whose model tensors have `names`, each a 2x3 float32 weight or bias.
  func checkpoint(_ names: [String], modelPrefix: String = "") -> Checkpoint {
    var c = Checkpoint(path: "t.pt", format: .torchZip, fileBytes: 0)
    c.modelPrefix = modelPrefix
    c.tensors = names.map {
      TensorRecord(
        name: modelPrefix + $0, dtype: .float32, shape: [2, 3], stride: [3, 1], storage: nil,
        storageOffset: 0, requiresGrad: nil, kind: .parameter, kindIsExact: false,
        role: $0.hasSuffix("bias") ? .bias : .weight, section: .model)
    }
    return c
  }

  /// A module's tensors need not come in a run, and a module named twice with different bytes
  /// but equal as Strings (`é` composed or not) is one module, named as it first appears.
  @Test func modulesAsStringsGroupThem() {
    let layers = LayerInference.layers(
      of: checkpoint(
        ["fc.weight", "caf\u{E9}.weight", "fc.bias", "cafe\u{301}.bias"], modelPrefix: "model."))
    #expect(layers.map(\.name) == ["fc", "caf\u{E9}"])
    #expect(layers.map(\.tensors) == [["weight", "bias"], ["weight", "bias"]])
  }

  /// The tensor names within a layer keep their own bytes.
  @Test func tensorNamesKeepTheirBytes() {
    let layers = LayerInference.layers(of: checkpoint(["a.w\u{E9}", "b.we\u{301}"]))
    #expect(layers.map(\.tensors) == [["w\u{E9}"], ["we\u{301}"]])
    #expect(layers[0].tensors[0].utf8.count != layers[1].tensors[0].utf8.count)
  }

  /// Block numbers read from bytes are those `Int` and `splitTrailingNumber` give.
  @Test func blockNumbersFromBytes() {
    for part in [
      "3", "+3", "-3", "0", "007", "-", "+", "", "layer_3", "layer3", "_12", "blocks_1234567890",
      "blocks_123456789", "99999999999999999999", "-9223372036854775808", "9223372036854775808",
      "a_b_7", "x_",
    ] {
      let fromBytes = NameBytes.blockNumber(ascii: ArraySlice(Array(part.utf8)))
      let fromText = NameBytes.blockNumber(Substring(part))
      #expect(fromBytes?.stemBytes == fromText?.stemBytes, "\(part)")
      #expect(fromBytes?.number == fromText?.number, "\(part)")
    }
  }

  /// Ids for names as bytes: equal bytes one id; once a name is not ASCII, names equal as
  /// Strings one id too.
  @Test func nameIDs() {
    var ids = NameIDs()
    func id(_ s: String) -> (Int, Bool) {
      var s = s
      return s.withUTF8 { ids.id(of: $0) }
    }
    #expect(id("a") == (0, true))
    #expect(id("b") == (1, true))
    #expect(id("a") == (0, false))
    #expect(id("caf\u{E9}") == (2, true))
    #expect(id("cafe\u{301}") == (2, false))
    #expect(ids.id(of: "cafe\u{301}") == 2)
    #expect(ids.id(of: "b") == 1)
    #expect(ids.id(of: "c") == nil)
  }

  /// The rows at a depth are the same whether the source is made once or per depth.
  @Test func rowsAtEveryDepth() throws {
    let layers = LayerInference.layers(
      of: checkpoint(
        (0..<4).flatMap {
          ["blocks.\($0).fc.weight", "blocks.\($0).fc.bias", "blocks.\($0).g.weight"]
        }
          + ["head.weight"]))
    let source = LayerRowSource(layers)
    for depth in [nil, 1, 2, 3] {
      #expect(
        source.rows(depth: depth, collapse: true)
          == LayerRows.rows(layers, depth: depth, collapse: true))
    }
    #expect(source.rows(depth: nil, collapse: true).first?.name == "blocks.[0-3] x4")
    #expect(source.deepest == 3)
  }
}
