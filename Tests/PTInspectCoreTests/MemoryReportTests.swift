// MemoryReportTests.swift: the summary's memory section against torch's numbers
// (Fixtures/*.expected.json): bytes by dtype, dtype projections, the Adam estimate, the largest
// layer and the file's anatomy.

import Foundation
import PTInspectTestSupport
import Testing

@testable import PTInspectCore

func memoryReport(_ fixture: String) throws -> MemoryReport {
  SummaryReport(try Checkpoint.open(Fixtures.path(fixture))).memory
}

@Suite struct MemoryReportTests {
  @Test func cifarBytesByDtypeAndProjections() throws {
    let torch = try TorchNumbers("cifar_cnn.pt")
    let m = try memoryReport("cifar_cnn.pt")
    let p = torch.parameters
    #expect(m.parameters == p)
    #expect(m.storedBytes == torch.bytes())
    #expect(m.byDtype.map(\.dtype) == ["float32", "int64"])
    #expect(m.byDtype[0].bytes == torch.bytes { $0.dtype == "float32" })
    #expect(m.byDtype[0].elements == torch.numel { $0.dtype == "float32" })
    #expect(m.byDtype[1].bytes == 24)  // three num_batches_tracked
    #expect(m.byDtype[1].tensors == 3)
    #expect(m.parameterBytes == torch.bytes(where: TorchNumbers.isParameter))
    #expect(m.bufferBytes == torch.bytes { !TorchNumbers.isParameter($0) })
    #expect(m.projections.map(\.dtype) == ["float32", "float16/bfloat16", "int8", "int4"])
    #expect(m.projections.map(\.bytes) == [p * 4, p * 2, p, p / 2])
    #expect(m.projections.map(\.estimate) == [false, false, true, true])
  }

  @Test func adamEstimates() throws {
    let torch = try TorchNumbers("cifar_cnn.pt")
    let m = try memoryReport("cifar_cnn.pt")
    let p = torch.parameters
    let buffers = torch.bytes { !TorchNumbers.isParameter($0) }
    let stored = try #require(m.training.first { $0.precision == "stored" })
    // float32 weights + gradients + exp_avg + exp_avg_sq = 4 x 4 bytes per parameter.
    #expect(stored.weights == p * 4)
    #expect(stored.gradients == p * 4)
    #expect(stored.optimizerState == p * 8)
    #expect(stored.masterWeights == 0)
    #expect(stored.total == p * 16 + buffers)
    let mixed = try #require(m.training.first { $0.precision == "mixed" })
    #expect(mixed.masterWeights == p * 4)
    #expect(mixed.weights == p * 2)
    #expect(mixed.gradients == p * 2)
    #expect(mixed.optimizerState == p * 8)
    #expect(mixed.total == p * 16 + buffers)

    // fp16 weights: the stored-dtype estimate halves, mixed precision stays 16 bytes a parameter.
    let half = try TorchNumbers("diff/fp16.pt")
    let hm = try memoryReport("diff/fp16.pt")
    let hp = half.parameters
    let hbuffers = half.bytes { !TorchNumbers.isParameter($0) }
    #expect(hm.parameterBytes == hp * 2)
    #expect(hm.training[0].total == hp * 8 + hbuffers)
    #expect(hm.training[1].total == hp * 16 + hbuffers)
  }

  @Test func frozenParametersHaveNoGradients() throws {
    // whole_model.pt: features.0 has requires_grad False; torch reports 92,354 trainable.
    let torch = try TorchNumbers("whole_model.pt")
    let trainable = try #require((torch.model["trainable"] as? NSNumber)?.int64Value)
    #expect(trainable == 92_354)
    let m = try memoryReport("whole_model.pt")
    #expect(m.trainableParameters == trainable)
    #expect(m.training[0].weights == torch.parameters * 4)
    #expect(m.training[0].gradients == trainable * 4)
    #expect(m.training[1].masterWeights == trainable * 4)
    #expect(m.training[1].weights == torch.parameters * 2)
  }

  @Test func largestLayer() throws {
    let torch = try TorchNumbers("cifar_cnn.pt")
    let m = try memoryReport("cifar_cnn.pt")
    let l = try #require(m.largestLayer)
    #expect(l.name == "19")
    #expect(l.type == "Linear")
    #expect(l.parameters == torch.numel { $0.name.hasPrefix("19.") })
    #expect(l.parameters == 4_195_328)
    #expect(l.bytes == torch.bytes { $0.name.hasPrefix("19.") })
    #expect(abs(l.shareOfModel - Double(l.bytes) / Double(torch.bytes())) < 1e-12)
  }

  func part(_ m: MemoryReport, _ name: String) -> Int64? {
    m.anatomy.first { $0.part == name }?.bytes
  }

  @Test func anatomyOfATrainingCheckpoint() throws {
    let torch = try TorchNumbers("training_checkpoint.pt")
    let m = try memoryReport("training_checkpoint.pt")
    let fileBytes = Int64(
      try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("training_checkpoint.pt"))).count)
    #expect(part(m, "model") == torch.bytes { $0.name.hasPrefix("model_state_dict.") })
    #expect(part(m, "optimizer") == torch.bytes { $0.name.hasPrefix("optimizer_state_dict.") })
    #expect(part(m, "ema") == 0)
    #expect(m.anatomy.map(\.bytes).reduce(0, +) == fileBytes)
    #expect(abs(m.anatomy.map(\.shareOfFile).reduce(0, +) - 1) < 1e-9)
  }

  @Test func anatomyWithAnEMACopy() throws {
    let torch = try TorchNumbers("ema_checkpoint.pt")
    let m = try memoryReport("ema_checkpoint.pt")
    #expect(part(m, "model") == torch.bytes { $0.name.hasPrefix("model.") })
    #expect(part(m, "ema") == torch.bytes { $0.name.hasPrefix("ema.") })
    #expect(part(m, "optimizer") == torch.bytes { $0.name.hasPrefix("optimizer.") })
    #expect(part(m, "other tensors") == 0)
  }

  @Test func anatomyOfASavedView() throws {
    // view_bloat.pt saves big[:10]: 40 bytes of tensor drag a 400,000-byte storage along.
    let m = try memoryReport("view_bloat.pt")
    let model = try #require(part(m, "model"))
    let unviewed = try #require(part(m, "unviewed storage"))
    #expect(model == 40)
    #expect(unviewed == 399_960)
  }

  @Test func summaryJSONAlwaysHasMemory() throws {
    let json = try ReportJSON.encode(SummaryReport(try Checkpoint.open(Fixtures.path("tied.pt"))))
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    let memory = try #require(object["memory"] as? [String: Any])
    // Tied weights count once: 1,904 float32 parameters.
    #expect(memory["storedBytes"] as? Int == 1_904 * 4)
    #expect(memory["parameters"] as? Int == 1_904)
    let projections = try #require(memory["projections"] as? [[String: Any]])
    #expect(projections.map { $0["bytes"] as? Int } == [7_616, 3_808, 1_904, 952])
    #expect(projections.map { $0["estimate"] as? Bool } == [false, false, true, true])
    #expect((memory["training"] as? [[String: Any]])?.count == 2)
    #expect((memory["largestLayer"] as? [String: Any])?["name"] as? String == "emb")
  }
}
