// LibraryFixtureTests.swift: checkpoints written by transformers, timm, torchvision, Lightning
// and torchao (Fixtures/libraries, scripts/make_library_fixtures.py), against those libraries'
// own answers: names, dtypes, shapes, ties, totals and the torch.nn class of every layer.

import Foundation
import PTInspectTestSupport
import Testing

@testable import PTInspectCore

/// Architectures saved as a state dict (`.pt`) and with `safetensors.torch.save_model`.
let libraryArchitectures = [
  "timm_resnet_bottleneck", "timm_resnet_basic", "timm_vit", "timm_convnext", "timm_efficientnet",
  "tv_vit_12_blocks", "tv_mobilenet_v2", "tv_densenet", "tv_regnet", "tv_swin", "tv_shufflenet_v2",
  "dcgan_generator",
]

/// Every library-made checkpoint with an `.expected.json` listing its tensors.
let libraryCheckpoints =
  libraryArchitectures.flatMap { ["architectures/\($0).pt", "architectures/\($0).safetensors"] }
  + [
    "llama_bin_sharded/pytorch_model.bin.index.json",
    "mixtral_bin_sharded/pytorch_model.bin.index.json",
    "llama_safetensors_sharded/model.safetensors.index.json", "gpt2_single/model.safetensors",
    "lightning_fit.ckpt", "torch/legacy_protocol1.pt",
    // Header lengths whose first byte is a pickle opcode: 0x80 (PROTO) in one shard of five,
    // 0x28 (MARK) in a RegNet saved with safetensors.torch.save_file.
    "gpt2_sharded_proto_byte/model.safetensors.index.json", "regnet_mark_byte.safetensors",
    "gpt2_bin_sharded/pytorch_model.bin.index.json",
  ]

@Suite struct LibraryFixtureTests {
  static func open(_ fixture: String) throws -> (Checkpoint, [String: Any]) {
    let name = "libraries/" + fixture
    return (try Checkpoint.open(Fixtures.path(name)), try Fixtures.expected(name))
  }

  /// The model's tensors by their name within the model (what `state_dict()` calls them).
  static func modelTensors(_ c: Checkpoint) -> [String: TensorRecord] {
    var out: [String: TensorRecord] = [:]
    for t in c.tensors where t.section == .model {
      out[String(t.name.dropFirst(c.modelPrefix.count))] = t
    }
    return out
  }

  @Test(arguments: libraryCheckpoints)
  func tensorsMatchTheLibrary(_ fixture: String) throws {
    let (c, expected) = try Self.open(fixture)
    let want = try #require(expected["tensors"] as? [[String: Any]])
    let have = Self.modelTensors(c)
    #expect(have.count == want.count, "\(fixture): tensor count")
    for w in want {
      let name = try #require(w["name"] as? String)
      guard let t = have[name] else {
        Issue.record("\(fixture): tensor \(name) missing")
        continue
      }
      #expect(t.dtype.rawValue == w["dtype"] as? String, "\(fixture): \(name) dtype")
      #expect(
        t.shape == (w["shape"] as? [NSNumber])?.map(\.int64Value), "\(fixture): \(name) shape")
    }
    for group in expected["tied"] as? [[String]] ?? [] {
      // A tied group is counted once: every name but one (the first in the file) is marked as
      // sharing that one's data.
      let owners = group.filter { have[$0]?.sharedWith == nil }
      #expect(owners.count == 1, "\(fixture): \(group) are tied; counted once")
      for name in group where !owners.contains(name) {
        #expect(owners.contains(have[name]?.sharedWith ?? ""), "\(fixture): \(name)")
      }
    }
    let totals = SummaryReport(c).totals
    let params = try #require((expected["parameters"] as? NSNumber)?.int64Value)
    let buffers = try #require((expected["buffers"] as? NSNumber)?.int64Value)
    #expect(totals.parameters + totals.buffers == params + buffers, "\(fixture): elements")
    #expect(totals.buffers == buffers, "\(fixture): buffers")
  }

  /// The layer-type test: every module that owns tensors is inferred as torch's own torch.nn
  /// class, or, where the shapes cannot tell, the row names that class among its candidates.
  @Test(arguments: libraryCheckpoints)
  func layerTypesMatchTorch(_ fixture: String) throws {
    let (c, expected) = try Self.open(fixture)
    let modules = try #require(expected["modules"] as? [String: [String: Any]])
    let layers = Dictionary(
      LayerInference.layers(of: c).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    var checked = 0
    for (path, info) in modules {
      guard let cls = info["torchNN"] as? String else { continue }
      // A MultiheadAttention's out_proj is folded into its parent's row.
      if path.hasSuffix("out_proj"),
        modules[String(path.dropLast(9))]?["torchNN"] as? String
          == "MultiheadAttention"
      {
        continue
      }
      let name = String((c.strippedPrefix + path).dropFirst(c.strippedPrefix.count))
      guard let layer = layers[path.isEmpty ? "(root)" : name] ?? layers[path] else {
        Issue.record("\(fixture): no layer row for module '\(path)' (\(cls))")
        continue
      }
      checked += 1
      if layer.isGuess {
        #expect(
          layer.typeCandidates.contains(cls),
          "\(fixture): '\(path)' is \(cls); the row's candidates are \(layer.typeCandidates)")
      } else {
        #expect(
          layer.type == cls,
          "\(fixture): '\(path)' is \(cls), inferred as \(layer.type) (\(layer.inferred))")
      }
    }
    #expect(checked > 0, "\(fixture): no torch.nn module checked")
  }

  /// The order of tensors in the file does not change the inferred types: a safetensors file
  /// (sorted by name) gives the .pt file's types (ResNet's `fc` sorts before `layer1`).
  @Test(arguments: libraryArchitectures)
  func typesDoNotDependOnFileOrder(_ stem: String) throws {
    let (pt, _) = try Self.open("architectures/\(stem).pt")
    let (st, _) = try Self.open("architectures/\(stem).safetensors")
    let a = Dictionary(
      LayerInference.layers(of: pt).map { ($0.name, $0.type) }, uniquingKeysWith: { x, _ in x })
    let b = Dictionary(
      LayerInference.layers(of: st).map { ($0.name, $0.type) }, uniquingKeysWith: { x, _ in x })
    for (name, type) in b { #expect(a[name] == type, "\(stem): \(name)") }
  }

  @Test func llamaBinIndexShards() throws {
    let (c, expected) = try Self.open("llama_bin_sharded/pytorch_model.bin.index.json")
    #expect(c.files.count - 1 == (expected["shards"] as? NSNumber)?.intValue)
    #expect(Self.modelTensors(c)["model.embed_tokens.weight"] != nil)
  }

  @Test(arguments: ["int8_weight_only", "float8_weight_only", "intx_weight_only"])
  func torchaoSubclassesListTheirStoredParts(_ stem: String) throws {
    let (c, expected) = try Self.open("torchao/\(stem).pt")
    let want = try #require(expected["tensors"] as? [[String: Any]])
    let have = Self.modelTensors(c)
    for w in want {
      let name = try #require(w["name"] as? String)
      let t = try #require(have[name], "\(stem): \(name)")
      #expect(t.shape == (w["shape"] as? [NSNumber])?.map(\.int64Value))
      #expect(t.dtype.rawValue == w["dtype"] as? String)
      #expect(t.bytes == (w["storedBytes"] as? NSNumber)?.int64Value, "\(stem): \(name) bytes")
      let parts = w["components"] as? [String: [String: Any]] ?? [:]
      guard !parts.isEmpty else { continue }
      #expect(t.quantization?.scheme == w["class"] as? String)
      #expect(t.quantization?.blockSize == (w["blockSize"] as? [NSNumber])?.map(\.int64Value))
      #expect(Set(t.components.map { lastComponent($0.name) }) == Set(parts.keys))
      for comp in t.components {
        let p = try #require(parts[lastComponent(comp.name)])
        #expect(comp.dtype.rawValue == p["dtype"] as? String, "\(comp.name)")
        #expect(comp.shape == (p["shape"] as? [NSNumber])?.map(\.int64Value), "\(comp.name)")
      }
    }
    // The anatomy counts what the file stores, not the logical bf16 size.
    let report = SummaryReport(c)
    #expect(report.anatomy.modelBytes <= report.anatomy.storageBytes)
  }

  @Test func nestedTensorsAreListedWithTheirComponents() throws {
    let c = try Checkpoint.open(Fixtures.path("libraries/torch/nested.pt"))
    let expected = try Fixtures.expected("libraries/torch/nested.pt")
    let want = try #require(expected["tensors"] as? [String: [String: Any]])
    let have = Self.modelTensors(c)
    #expect(have.count == 3)
    for name in ["strided", "jagged"] {
      let t = try #require(have[name])
      let w = try #require(want[name])
      #expect(t.layout.description == w["layout"] as? String)
      #expect(t.numel == (w["elements"] as? NSNumber)?.int64Value)
      let values = try #require(t.components.first { $0.name == name + ".values" })
      #expect(values.shape == (w["values"] as? [NSNumber])?.map(\.int64Value))
      #expect(t.bytes == t.components.reduce(0) { $0 + $1.bytes })
      #expect(t.detail?.hasPrefix("\((w["tensors"] as? NSNumber)?.intValue ?? -1) tensors") == true)
    }
    #expect(
      have["strided"]?.components.map { lastComponent($0.name) } == [
        "values", "sizes", "strides", "offsets",
      ])
  }

  @Test func protocolZeroLegacyStreamIsRefusedAsTorchRefusesIt() throws {
    let path = Fixtures.path("libraries/torch/legacy_protocol0.pt")
    #expect {
      try Checkpoint.open(path)
    } throws: { error in
      "\(error)".hasSuffix(
        "legacy stream saved with pickle protocol 0: storage ids are written as text, which torch.load cannot read either"
      )
    }
  }
}

/// Hand-made pickles for the composite-tensor rules.
@Suite struct CompositeTensorRuleTests {
  static func global(_ module: String, _ name: String) -> [UInt8] {
    [0x63] + Array("\(module)\n\(name)\n".utf8)
  }
  static func unicode(_ s: String) -> [UInt8] {
    let b = Array(s.utf8)
    return [0x58, UInt8(b.count), 0, 0, 0] + b
  }
  /// `_rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', 4), 0, (4,), (1,), False, {})`.
  static let denseTensor: [UInt8] =
    global("torch._utils", "_rebuild_tensor_v2") + [0x28]
    + [0x28] + unicode("storage") + global("torch", "FloatStorage") + unicode("0") + unicode("cpu")
    + [0x4B, 4, 0x74, 0x51]  // count 4, TUPLE, BINPERSID
    + [0x4B, 0, 0x4B, 4, 0x85, 0x4B, 1, 0x85, 0x89]  // offset, (4,), (1,), False
    + global("collections", "OrderedDict") + [0x29, 0x52]  // OrderedDict()
    + [0x74, 0x52]  // TUPLE, REDUCE

  /// `{'x': <rebuild>(<dense tensor>, 'xla:0')}` as a bare pickle.
  static func wrapped(in rebuild: (String, String)) -> [UInt8] {
    [0x80, 0x02, 0x7D] + unicode("x") + global(rebuild.0, rebuild.1) + [0x28] + denseTensor
      + unicode("xla:0") + [0x74, 0x52, 0x73, 0x2E]
  }

  @Test func anUnknownRebuildIsListedWithItsTensorsAndAWarning() throws {
    let source = MemorySource(
      Self.wrapped(in: ("torch._utils", "_rebuild_xla_tensor")), name: "xla.pkl")
    let c = try Checkpoint.open(source)
    let t = try #require(c.tensors.first { $0.name == "x" })
    #expect(t.layout == .unknown("torch._utils._rebuild_xla_tensor"))
    #expect(t.components.map(\.name) == ["x.arg0"])
    #expect(t.numel == 4)
    #expect(t.dtype == .float32)
    #expect(
      c.diagnostics.contains {
        $0.severity == .warning
          && $0.message
            == "'x' is rebuilt by torch._utils._rebuild_xla_tensor, which ptinspect does not know: listed with the 1 tensor(s) its arguments hold"
      })
  }

  /// A call outside torch is no tensor, but the tensors among its arguments are still listed.
  @Test func tensorsInsideAnUnknownCallAreListed() throws {
    let source = MemorySource(Self.wrapped(in: ("mylib", "_rebuild_thing")), name: "other.pkl")
    let c = try Checkpoint.open(source)
    #expect(c.tensors.map(\.name) == ["x.arg0"])
    #expect(c.tensors.first?.layout == .strided)
  }
}
