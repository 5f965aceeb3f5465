// EndToEndTests.swift: the built binary, run as a user runs it: printed output against golden
// files, exact error lines, exit codes.

import Foundation
import PTInspectTestSupport
import Testing

@Suite struct SummaryGoldenTests {
  static let cases: [(args: [String], golden: String)] = [
    (["Fixtures/cifar_cnn.pt"], "summary-cifar_cnn.txt"),
    (["summary", "--format", "json", "Fixtures/cifar_cnn.pt"], "summary-cifar_cnn.json"),
    (["summary", "--format", "markdown", "Fixtures/cifar_cnn.pt"], "summary-cifar_cnn.md"),
    (["summary", "--explain", "Fixtures/layers.pt"], "summary-layers-explain.txt"),
    (["summary", "--expand", "Fixtures/layers.pt"], "summary-layers-expand.txt"),
    (["summary", "--depth", "1", "Fixtures/whole_model.pt"], "summary-whole_model-depth1.txt"),
    (["Fixtures/training_checkpoint.pt"], "summary-training_checkpoint.txt"),
    (["Fixtures/tied.pt"], "summary-tied.txt"),
    (["Fixtures/scripted.pt"], "summary-scripted.txt"),
    (["Fixtures/sharded"], "summary-sharded.txt"),
    (["tensors", "Fixtures/views.pt"], "tensors-views.txt"),
    (
      ["tensors", "--filter", "*.running_*", "--sort", "name", "Fixtures/cifar_cnn.pt"],
      "tensors-cifar-filter.txt"
    ),
    (["tensors", "--format", "json", "Fixtures/sparse.pt"], "tensors-sparse.json"),
    // Library-made files (Fixtures/libraries): composite tensors, layer types, collapsing.
    (["tensors", "Fixtures/libraries/torch/nested.pt"], "tensors-nested.txt"),
    (
      ["tensors", "--format", "json", "Fixtures/libraries/torchao/int8_weight_only.pt"],
      "tensors-torchao-int8.json"
    ),
    (["Fixtures/libraries/torchao/float8_weight_only.pt"], "summary-torchao-float8.txt"),
    (["Fixtures/libraries/architectures/tv_vit_12_blocks.pt"], "summary-tv_vit.txt"),
    (
      ["Fixtures/libraries/architectures/timm_resnet_basic.safetensors"],
      "summary-timm_resnet_basic-safetensors.txt"
    ),
    (
      ["--explain", "Fixtures/libraries/architectures/dcgan_generator.pt"],
      "summary-dcgan-explain.txt"
    ),
    (["Fixtures/libraries/mixtral_bin_sharded"], "summary-mixtral-bin.txt"),
  ]

  @Test(arguments: cases.indices)
  func golden(_ i: Int) throws {
    let (args, golden) = Self.cases[i]
    let r = try runPTInspect(args)
    #expect(r.status == 0, "\(args): \(r.stderr)")
    #expect(r.stderr == "")
    assertGolden(r.stdout, named: golden)
  }
}

@Suite struct ExitCodeTests {
  /// Every unreadable input: one line on stderr naming the file and the problem, exit 2.
  static let unreadable: [(String, String)] = [
    (
      "Fixtures/broken/not_a_zip.pt",
      "not a PyTorch checkpoint: unrecognised content (first bytes 68 65 6c 6c 6f 0a)"
    ),
    ("Fixtures/broken/empty.pt", "empty file (0 bytes)"),
    (
      "Fixtures/broken/truncated_zip.pt",
      "truncated or corrupt zip archive: the central directory at its end is missing (was the file cut short?)"
    ),
    (
      "Fixtures/broken/no_data_pkl.pt",
      "not a PyTorch checkpoint: no data.pkl among the 2 zip entries (x/version, x/data/0)"
    ),
    (
      "Fixtures/broken/truncated_pickle.pt",
      "archive/data.pkl: truncated pickle: input ends at offset 1561 before STOP"
    ),
    (
      "Fixtures/broken/unknown_opcode.pt",
      "archive/data.pkl: unknown pickle opcode 0xff at offset 2"
    ),
    (
      "Fixtures/broken/missing_storage.pt",
      "tensor '0.bias' needs storage record 'archive/data/1', which is missing"
    ),
    (
      "Fixtures/broken/short_storage.pt",
      "tensor '0.weight' needs 108 bytes of storage '0' (offset 0, shape [1, 3, 3, 3], stride [27, 9, 3, 1]), but 'archive/data/0' holds 4"
    ),
    (
      "Fixtures/broken/lfs_pointer.pt",
      "this is a Git LFS pointer, not the checkpoint: run git lfs pull"
    ),
    (
      "Fixtures/broken/html_error.pt",
      "this is an HTML or XML page, not a checkpoint (a failed download?)"
    ),
    ("nope.pt", "no such file"),
  ]

  @Test(arguments: unreadable.indices)
  func unreadableInput(_ i: Int) throws {
    let (file, message) = Self.unreadable[i]
    for command in [["summary"], ["tensors"], ["summary", "--format", "json"]] {
      let r = try runPTInspect(command + [file])
      #expect(r.status == 2, "\(command) \(file)")
      #expect(r.stderr == "ptinspect: \(file): \(message)\n")
      #expect(r.stdout == "")
    }
  }

  @Test func successIsZero() throws {
    let r = try runPTInspect(["Fixtures/cifar_cnn.pt"])
    #expect(r.status == 0)
    #expect(r.stdout.contains("5,852,234"))
  }

  @Test(arguments: [
    ["--bogus", "Fixtures/cifar_cnn.pt"], ["summary", "--depth", "0", "Fixtures/cifar_cnn.pt"],
    ["tensors"],
    ["tensors", "--sort", "colour", "Fixtures/cifar_cnn.pt"],
    ["summary", "--format", "yaml", "Fixtures/cifar_cnn.pt"],
  ])
  func usageErrorIs64(_ args: [String]) throws {
    let r = try runPTInspect(args)
    #expect(r.status == 64, "\(args)")
    #expect(r.stderr.hasPrefix("Error: "))
  }

  @Test func oneBadFileAmongGoodOnes() throws {
    let r = try runPTInspect([
      "summary", "Fixtures/tied.pt", "Fixtures/broken/empty.pt", "Fixtures/cifar_cnn.pt",
    ])
    #expect(r.status == 2)
    #expect(r.stderr.contains("ptinspect: Fixtures/broken/empty.pt: empty file (0 bytes)"))
    #expect(r.stdout.contains("Fixtures/tied.pt"))
    #expect(r.stdout.contains("Fixtures/cifar_cnn.pt"))
  }
}

@Suite struct JSONContractTests {
  /// schemaVersion 1: these keys exist and keep their meaning; fields may be added, never removed.
  @Test func summaryKeys() throws {
    let r = try runPTInspect(["--format", "json", "Fixtures/cifar_cnn.pt"])
    let json = try #require(
      try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    #expect(json["schemaVersion"] as? Int == 1)
    #expect(json["file"] as? String == "Fixtures/cifar_cnn.pt")
    #expect(json["format"] as? String == "torch-zip")
    #expect(json["fileBytes"] as? Int == 23_423_182)
    let tensor = try #require((json["tensors"] as? [[String: Any]])?.first)
    for key in [
      "name", "dtype", "shape", "stride", "numel", "bytes", "storage", "storageOffset", "kind",
      "role", "section", "sharedWith",
    ] {
      #expect(tensor.keys.contains(key), "tensors[].\(key)")
    }
    #expect(tensor["name"] as? String == "0.weight")
    #expect(tensor["shape"] as? [Int] == [32, 3, 3, 3])
    #expect(tensor["stride"] as? [Int] == [27, 9, 3, 1])
    #expect(tensor["storage"] as? String == "0")
    #expect(tensor["kind"] as? String == "parameter")
    #expect(tensor["role"] as? String == "weight")
    #expect(tensor["section"] as? String == "model")
    #expect(tensor["sharedWith"] is NSNull)
    let layer = try #require((json["layers"] as? [[String: Any]])?.first)
    #expect(layer["name"] as? String == "0")
    #expect(layer["type"] as? String == "Conv2d")
    #expect(layer["description"] as? String == "Conv2d(3, 32, kernel_size=(3, 3))")
    #expect(layer["parameters"] as? Int == 896)
    #expect(layer["buffers"] as? Int == 0)
    #expect(layer["bytes"] as? Int == 3584)
    let totals = try #require(json["totals"] as? [String: Any])
    #expect(totals["tensors"] as? Int == 33)
    #expect(totals["parameters"] as? Int == 5_852_234)
    #expect(totals["buffers"] as? Int == 899)
    #expect(totals["runningStats"] as? Int == 896)
    #expect(totals["elements"] as? Int == 5_853_133)
    #expect(totals["weights"] as? Int == 5_849_376)
    #expect(totals["biases"] as? Int == 2_858)
    #expect((totals["byDtype"] as? [String: Int])?["float32"] == 23_412_520)
    #expect(json["diagnostics"] is [[String: Any]])
  }
}
