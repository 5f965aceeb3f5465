// CheckpointTests.swift: ptinspect's reading of every fixture against what torch reported when
// it made the fixture (Fixtures/*.expected.json).

import Foundation
import PTInspectTestSupport
import Pickle
import Testing

@testable import PTInspectCore

/// Fixtures whose tensors ptinspect lists exactly as torch does.
let torchMadeFixtures = [
  "cifar_cnn.pt", "cifar_cnn_p4.pt", "training_checkpoint.pt", "lightning.ckpt",
  "ema_checkpoint.pt",
  "tied.pt", "dtypes.pt", "views.pt", "view_bloat.pt", "layers.pt", "legacy_cnn.pt", "legacy_p4.pt",
  "whole_model.pt", "whole_model_legacy.pt", "scripted.pt", "quantized.pt", "sparse.pt", "meta.pt",
  "small_cnn.safetensors", "pre16_style.pth", "sharded/model.safetensors.index.json",
  "sharded_bin/pytorch_model.bin.index.json", "legacy_tar.pt", "diff/base.pt", "diff/fp16.pt",
  "diff/dataparallel.pt",
]

@Suite struct AgainstTorchTests {
  @Test(arguments: torchMadeFixtures)
  func tensorsMatchTorch(_ fixture: String) throws {
    let expected = try Fixtures.expected(fixture)
    let c = try Checkpoint.open(Fixtures.path(fixture))
    #expect(c.format.rawValue == expected["format"] as? String)
    let want = try #require(expected["tensors"] as? [[String: Any]])
    let byName = Dictionary(
      c.tensors.map {
        (c.format == .safetensorsIndex || c.format == .torchIndex ? $0.name : $0.name, $0)
      }, uniquingKeysWith: { a, _ in a })
    #expect(c.tensors.count == want.count, "\(fixture): tensor count")
    // Order: the pickle's own order, as torch.load walks it (safetensors headers have none).
    if c.format != .safetensors && c.format != .safetensorsIndex && c.format != .torchIndex {
      #expect(
        c.tensors.map(\.name) == want.compactMap { $0["name"] as? String },
        "\(fixture): names in order")
    }
    for w in want {
      let name = try #require(w["name"] as? String)
      guard let t = byName[name] else {
        Issue.record("\(fixture): tensor \(name) missing")
        continue
      }
      #expect(t.dtype.rawValue == w["dtype"] as? String, "\(fixture): \(name) dtype")
      #expect(
        t.shape == (w["shape"] as? [NSNumber])?.map(\.int64Value), "\(fixture): \(name) shape")
      #expect(t.numel == (w["numel"] as? NSNumber)?.int64Value, "\(fixture): \(name) numel")
      if let stride = w["stride"] as? [NSNumber] {
        #expect(t.stride == stride.map(\.int64Value), "\(fixture): \(name) stride")
      }
      if let offset = (w["storageOffset"] as? NSNumber)?.int64Value {
        #expect(t.storageOffset == offset, "\(fixture): \(name) storage offset")
      }
      if let bytes = (w["storageBytes"] as? NSNumber)?.int64Value, let s = t.storage,
        c.format != .safetensors,
        c.format != .safetensorsIndex
      {
        #expect(s.declaredBytes == bytes, "\(fixture): \(name) storage bytes")
      }
      if let kind = w["kind"] as? String {
        #expect(t.kind.rawValue == kind, "\(fixture): \(name) kind")
      }
      if let rg = w["requiresGrad"] as? Bool, t.kindIsExact, c.format != .torchscript {
        #expect(t.requiresGrad == rg, "\(fixture): \(name) requires_grad")
      }
    }
    // Tensors sharing a storage in torch share a storage key here.
    for group in expected["sharedStorage"] as? [[String]] ?? [] {
      let keys = Set(group.compactMap { byName[$0]?.storage.map { $0.folder + "/" + $0.key } })
      #expect(keys.count == 1, "\(fixture): \(group) should share one storage")
    }
    // The model totals torch computed from the live module.
    if let model = expected["model"] as? [String: Any] {
      let report = SummaryReport(c)
      #expect(
        report.totals.parameters == (model["parameters"] as? NSNumber)?.int64Value,
        "\(fixture): parameters")
      #expect(
        report.totals.buffers == (model["buffers"] as? NSNumber)?.int64Value, "\(fixture): buffers")
      #expect(
        report.totals.tensors == (model["tensors"] as? NSNumber)?.intValue,
        "\(fixture): model tensors")
      if let prefix = model["prefix"] as? String {
        // torch's prefix includes a wrapper prefix every key carries, which ptinspect strips.
        #expect(c.modelPrefix + c.strippedPrefix == prefix, "\(fixture): model prefix")
      }
      if let trainable = report.totals.trainable {
        #expect(trainable == (model["trainable"] as? NSNumber)?.int64Value, "\(fixture): trainable")
      }
    }
  }
}

@Suite struct ReferenceModelTests {
  /// The README's demo: every number the CIFAR tutorial gets right, and the BatchNorm part it misses.
  @Test func cifarTotals() throws {
    let r = SummaryReport(try Checkpoint.open(Fixtures.path("cifar_cnn.pt")))
    #expect(r.totals.parameters == 5_852_234)
    #expect(r.totals.buffers == 899)
    #expect(r.totals.runningStats == 896)
    #expect(r.totals.numBatchesTracked == 3)
    #expect(r.totals.weights == 5_849_376)
    #expect(r.totals.biases == 2_858)
    #expect(r.totals.elements == 5_853_133)
    #expect(r.totals.byLayerType == ["Conv2d": 1_126_080, "Linear": 4_725_258, "BatchNorm2d": 896])
    // "6 conv + 3 FC", the tutorial's sum:
    #expect(
      (r.totals.byLayerType["Conv2d"] ?? 0) + (r.totals.byLayerType["Linear"] ?? 0) == 5_851_338)
    #expect(r.totals.parametersExact == false)
    #expect(r.totals.trainable == nil)
    #expect(r.totals.byDtype == ["float32": 23_412_520, "int64": 24])
  }

  @Test func cifarLayers() throws {
    let layers = LayerInference.layers(of: try Checkpoint.open(Fixtures.path("cifar_cnn.pt")))
    let rows = layers.map {
      "\($0.name) \($0.type) \($0.description) \($0.parameters) \($0.buffers)"
    }
    #expect(
      rows == [
        "0 Conv2d Conv2d(3, 32, kernel_size=(3, 3)) 896 0",
        "2 Conv2d Conv2d(32, 64, kernel_size=(3, 3)) 18496 0",
        "5 BatchNorm2d BatchNorm2d(64) 128 129",
        "6 Conv2d Conv2d(64, 128, kernel_size=(3, 3)) 73856 0",
        "8 Conv2d Conv2d(128, 128, kernel_size=(3, 3)) 147584 0",
        "11 BatchNorm2d BatchNorm2d(128) 256 257",
        "12 Conv2d Conv2d(128, 256, kernel_size=(3, 3)) 295168 0",
        "14 Conv2d Conv2d(256, 256, kernel_size=(3, 3)) 590080 0",
        "17 BatchNorm2d BatchNorm2d(256) 512 513",
        "19 Linear Linear(in_features=4096, out_features=1024, bias=True) 4195328 0",
        "21 Linear Linear(in_features=1024, out_features=512, bias=True) 524800 0",
        "23 Linear Linear(in_features=512, out_features=10, bias=True) 5130 0",
      ])
    #expect(layers[0].formula == "((3*3*3)+1)*32 = 896")
    #expect(layers[9].formula == "(4096*1024)+1024 = 4195328")
    #expect(layers[2].formula == "2*C = 2*64 = 128")
  }
}

@Suite struct LayerInferenceTests {
  /// What the shapes and names of layers.pt tell, against the modules torch made it from.
  @Test func layerKinds() throws {
    let layers = LayerInference.layers(of: try Checkpoint.open(Fixtures.path("layers.pt")))
    let types = Dictionary(layers.map { ($0.name, $0.type) }, uniquingKeysWith: { a, _ in a })
    let expected: [String: String] = [
      "conv1d": "Conv1d", "conv3d": "Conv3d", "deconv": "ConvTranspose2d", "depthwise": "Conv2d",
      "grouped": "Conv2d", "gn": "GroupNorm", "ln": "LayerNorm", "bn1d": "BatchNorm1d",
      "bn3d": "BatchNorm3d",
      "inorm": "InstanceNorm", "lstm": "LSTM", "gru": "GRU", "rnn": "RNN",
      "attn": "MultiheadAttention",
      "emb": "Embedding", "prelu": "PReLU", "fc": "Linear", "fc_nobias": "Linear",
      "blocks.0.fc1": "Linear", "blocks.0.norm": "LayerNorm",
      "encoder.layers.0.self_attn": "MultiheadAttention",
      "encoder.layers.1.norm2": "LayerNorm",
    ]
    for (name, type) in expected { #expect(types[name] == type, "\(name)") }
    let byName = Dictionary(layers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    #expect(byName["lstm"]?.description == "LSTM(16, 32, num_layers=2, bidirectional=True)")
    #expect(byName["gru"]?.description == "GRU(16, 24)")
    #expect(byName["attn"]?.parameters == 4_224)
    #expect(
      byName["attn"]?.tensors == [
        "in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias",
      ])
    #expect(byName["deconv"]?.description == "ConvTranspose2d(8, 4, kernel_size=(3, 3))")
    #expect(byName["conv3d"]?.description == "Conv3d(2, 4, kernel_size=(3, 3, 3))")
    #expect(
      byName["fc_nobias"]?.description == "Linear(in_features=16, out_features=4, bias=False)")
    #expect(byName["gn"]?.description == "GroupNorm(?, 16)")
  }

  @Test func repeatedBlocksCollapse() throws {
    let layers = LayerInference.layers(of: try Checkpoint.open(Fixtures.path("layers.pt")))
    let rows = LayerRows.rows(layers, depth: nil, collapse: true)
    let names = rows.map(\.name)
    #expect(names.contains("blocks.[0-5] x6"))
    #expect(names.contains("encoder.layers.[0-1] x2"))
    #expect(!names.contains("blocks.3.fc1"))
    let group = try #require(rows.first { $0.name == "blocks.[0-5] x6" })
    #expect(group.parameters == 6 * (544 + 528 + 32))
    #expect(LayerRows.rows(layers, depth: nil, collapse: false).count == layers.count)
  }

  @Test func depthRollsUp() throws {
    let layers = LayerInference.layers(of: try Checkpoint.open(Fixtures.path("whole_model.pt")))
    let rows = LayerRows.rows(layers, depth: 1, collapse: true)
    #expect(rows.map(\.name) == ["features", "classifier"])
    #expect(rows.map(\.parameters) == [17_896, 74_570])
    #expect(rows[0].description == "6 Conv2d, 3 BatchNorm2d")
  }

  @Test func wholeModelUsesClassNames() throws {
    let layers = LayerInference.layers(of: try Checkpoint.open(Fixtures.path("whole_model.pt")))
    #expect(
      layers.first?.description == "Conv2d(3, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    )
    #expect(layers.first?.inferred == [])
  }
}

@Suite struct AnatomyTests {
  @Test func trainingCheckpoint() throws {
    let c = try Checkpoint.open(Fixtures.path("training_checkpoint.pt"))
    #expect(c.modelPrefix == "model_state_dict.")
    let r = SummaryReport(c)
    #expect(r.anatomy.optimizer == "Adam/AdamW (exp_avg, exp_avg_sq)")
    #expect(r.anatomy.parts.map(\.role).prefix(4) == [.value, .value, .model, .optimizer])
    #expect(
      r.anatomy.verdict.hasPrefix(
        "this file is 4.3x the model: Adam/AdamW (exp_avg, exp_avg_sq) 2.0x"))
    let meta = Dictionary(c.metadata.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
    #expect(meta["epoch"] == "7")
    #expect(meta["loss"] == "0.25")
    #expect(meta["best_acc"] == "0.875")
    #expect(meta["seen"] == "{1, 2, 3}")
    #expect(meta["window"] == "slice(1, 5, None)")
    #expect(meta["size"] == "torch.Size([3, 32, 32])")
    #expect(
      meta["args"] == "{'lr': 0.001, 'batch_size': 64, 'arch': 'tiny_cnn', 'betas': (0.9, 0.999)}")
    #expect(
      c.tensors.contains {
        $0.name == "optimizer_state_dict.state.0.exp_avg" && $0.section == .optimizer
      })
  }

  @Test func lightningPrefix() throws {
    let c = try Checkpoint.open(Fixtures.path("lightning.ckpt"))
    #expect(c.modelPrefix == "state_dict.")
    #expect(c.strippedPrefix == "model.")
    #expect(LayerInference.layers(of: c).first?.name == "0")
  }

  @Test func emaIsNotTheModel() throws {
    let c = try Checkpoint.open(Fixtures.path("ema_checkpoint.pt"))
    #expect(c.modelPrefix == "model.")
    #expect(c.parts.first { $0.name == "ema" }?.role == .ema)
  }

  @Test func tiedWeightsCountOnce() throws {
    let c = try Checkpoint.open(Fixtures.path("tied.pt"))
    #expect(c.tensors.first { $0.name == "head.weight" }?.sharedWith == "emb.weight")
    let r = SummaryReport(c)
    #expect(r.totals.parameters == 1_904)
    #expect(r.totals.sharedTensors == 1)
  }

  @Test func savedViewBloat() throws {
    let r = SummaryReport(try Checkpoint.open(Fixtures.path("view_bloat.pt")))
    #expect(r.anatomy.unviewedStorageBytes == 399_960)
    #expect(
      r.diagnostics.contains {
        $0.message.hasPrefix("the file carries 399960 storage bytes no tensor views")
      })
  }

  @Test func overlappingViews() throws {
    let c = try Checkpoint.open(Fixtures.path("views.pt"))
    #expect(c.diagnostics.contains { $0.message.contains("view overlapping bytes of one storage") })
  }
}

@Suite struct ErrorMessageTests {
  static let cases: [(String, String)] = [
    ("broken/empty.pt", "empty file (0 bytes)"),
    (
      "broken/not_a_zip.pt",
      "not a PyTorch checkpoint: unrecognised content (first bytes 68 65 6c 6c 6f 0a)"
    ),
    (
      "broken/truncated_zip.pt",
      "truncated or corrupt zip archive: the central directory at its end is missing (was the file cut short?)"
    ),
    (
      "broken/no_data_pkl.pt",
      "not a PyTorch checkpoint: no data.pkl among the 2 zip entries (x/version, x/data/0)"
    ),
    (
      "broken/truncated_pickle.pt",
      "archive/data.pkl: truncated pickle: input ends at offset 1561 before STOP"
    ),
    ("broken/unknown_opcode.pt", "archive/data.pkl: unknown pickle opcode 0xff at offset 2"),
    (
      "broken/missing_storage.pt",
      "tensor '0.bias' needs storage record 'archive/data/1', which is missing"
    ),
    (
      "broken/short_storage.pt",
      "tensor '0.weight' needs 108 bytes of storage '0' (offset 0, shape [1, 3, 3, 3], stride [27, 9, 3, 1]), but 'archive/data/0' holds 4"
    ),
    ("broken/lfs_pointer.pt", "this is a Git LFS pointer, not the checkpoint: run git lfs pull"),
    ("broken/html_error.pt", "this is an HTML or XML page, not a checkpoint (a failed download?)"),
    (
      "hostile/huge_shape.pt",
      "tensor '0.weight' has a shape [4611686018427387904, 3, 3, 3] and stride [27, 9, 3, 1] that overflow"
    ),
    (
      "hostile/huge_string.pt",
      "huge_string/data.pkl: truncated pickle: BINUNICODE at offset 2 needs 4294967295 bytes, 1017 remain"
    ),
    (
      "hostile/memo_out_of_range.pt",
      "memo_out_of_range/data.pkl: corrupt pickle: BINGET at offset 2 reads memo key 200, which was never set"
    ),
    (
      "hostile/zip_bomb.pt",
      "zip entry bomb/data.pkl expands 203842 bytes to 209715200: refused as a zip bomb"
    ),
    (
      "hostile/truncated_zip.pt",
      "truncated or corrupt zip archive: the central directory at its end is missing (was the file cut short?)"
    ),
    ("diff", "is a directory without a checkpoint index (*.index.json): name a checkpoint file"),
    (
      "containers/packaged.pt", "torch.package archive: ptinspect does not read torch.package files"
    ),
    ("does-not-exist.pt", "no such file"),
  ]

  @Test(arguments: cases.indices)
  func message(_ i: Int) {
    let (fixture, message) = Self.cases[i]
    let path = Fixtures.path(fixture)
    do {
      _ = try Checkpoint.open(path)
      Issue.record("\(fixture) opened without an error")
    } catch {
      #expect(error.description == "\(path): \(message)")
    }
  }

  @Test func deeplyNestedListsGiveAResult() throws {
    let c = try Checkpoint.open(Fixtures.path("hostile/nested_lists.pt"))
    #expect(c.tensors.isEmpty)
    #expect(c.diagnostics.contains { $0.message == "the file holds no tensors" })
  }
}

@Suite struct TruncationTests {
  /// Every prefix of every fixture's pickle throws a PickleError: never a trap, never a result.
  @Test(arguments: [
    "cifar_cnn.pt", "training_checkpoint.pt", "whole_model.pt", "scripted.pt", "cifar_cnn_p4.pt",
    "tied.pt", "dtypes.pt", "quantized.pt", "sparse.pt", "lightning.ckpt",
  ])
  func everyPrefixFails(_ fixture: String) throws {
    let archive = try ZipFile(source: FileSource(path: Fixtures.path(fixture)))
    let entry = try #require(archive.entries.first { $0.name.hasSuffix("/data.pkl") })
    let bytes = try archive.read(entry, limit: 1 << 24)
    let step = max(1, bytes.count / 3000)
    var lengths = Array(stride(from: 0, to: bytes.count, by: step))
    lengths += Array(max(0, bytes.count - 64)..<bytes.count)
    for n in lengths {
      do throws(PickleError) {
        _ = try PickleDecoder().decode(Array(bytes[..<n]))
        Issue.record("\(fixture): a \(n)-byte prefix decoded")
      } catch {
        #expect(error.offset <= n)
      }
    }
    #expect(throws: Never.self) { _ = try PickleDecoder().decode(bytes) }
  }
}

@Suite struct ContainerTests {
  @Test func liteInterpreterArchiveReadsAsTorchScript() throws {
    let c = try Checkpoint.open(Fixtures.path("containers/mobile.ptl"))
    #expect(c.format == .torchscript)
    #expect(c.tensors.map(\.name) == ["0.weight", "0.bias"])
    #expect(c.tensors.allSatisfy { $0.kindIsExact && $0.kind == .parameter })
    #expect(
      c.diagnostics.contains { $0.message.hasPrefix("a PyTorch Mobile (lite interpreter) archive") }
    )
  }

  @Test func tarStorageView() throws {
    let c = try Checkpoint.open(Fixtures.path("legacy_tar.pt"))
    let view = try #require(c.tensors.first { $0.name == "view_of_first" })
    #expect(view.storage?.key == "900")
    #expect(view.storage?.count == 107)
    // The view starts 4 bytes (one float) into the storage it views.
    let base = try #require(c.storages.first { $0.key == "0" })
    let record = try #require(c.storages.first { $0.key == "900" })
    guard case .range(let start, _) = base.location, case .range(let at, _) = record.location
    else {
      Issue.record("tar storages are not byte ranges")
      return
    }
    #expect(at == start + 4)
    #expect(c.modelPrefix == "")
  }

  @Test func shardedIndexMergesShards() throws {
    let c = try Checkpoint.open(Fixtures.path("sharded"))
    #expect(c.format == .safetensorsIndex)
    #expect(
      c.parts.map(\.name) == [
        "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
      ])
    #expect(c.tensors.allSatisfy { ($0.storage?.file ?? 0) >= 1 })
    #expect(c.files.dropFirst().allSatisfy { $0.name.hasSuffix(".safetensors") })
    #expect(SummaryReport(c).totals.parameters == 92_466)
  }

  @Test func missingShardIsNamed() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "ptinspect-shards-\(getpid())")
    try? FileManager.default.removeItem(at: dir)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    try FileManager.default.copyItem(
      atPath: Fixtures.path("sharded/model.safetensors.index.json"),
      toPath: dir.appendingPathComponent("model.safetensors.index.json").path)
    try FileManager.default.copyItem(
      atPath: Fixtures.path("sharded/model-00001-of-00002.safetensors"),
      toPath: dir.appendingPathComponent("model-00001-of-00002.safetensors").path)
    do {
      _ = try Checkpoint.open(dir.path)
      Issue.record("opened with a shard missing")
    } catch {
      #expect(
        error.message == "shard 'model-00002-of-00002.safetensors' listed in the index is missing")
    }
  }
}

@Suite struct TensorRecordLayoutTests {
  /// A record is copied on its way to every report: its rare fields live out of line, so the
  /// inline part stays small (it was 528 bytes with them inline).
  @Test func recordIsSmall() {
    #expect(MemoryLayout<TensorRecord>.size <= 200)
  }

  /// Setting a rare field on a copy leaves the original as it was, and emptying every rare
  /// field drops the box.
  @Test func rareFieldsAreValues() {
    var a = TensorRecord(
      name: "w", dtype: .float32, shape: [2], stride: [1], storage: nil, storageOffset: 0,
      requiresGrad: nil, kind: .parameter, kindIsExact: false, role: .weight, section: .model)
    var b = a
    b.sharedWith = "v"
    b.layout = .sparse("sparse_coo")
    #expect(a.sharedWith == nil)
    #expect(a.layout == .strided)
    #expect(b.sharedWith == "v")
    #expect(b.layout == .sparse("sparse_coo"))
    a.detail = "d"
    #expect(b.detail == nil)
    #expect(a.detail == "d")
    b.sharedWith = nil
    b.layout = .strided
    #expect(b.sharedWith == nil && b.layout == .strided && b.components.isEmpty)
  }
}
