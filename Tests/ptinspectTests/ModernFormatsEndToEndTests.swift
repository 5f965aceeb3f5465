// ModernFormatsEndToEndTests.swift: the built binary on DCP folders and `.pt2` archives: printed
// output against golden files, exit codes, and the one-line errors of hostile inputs.

import Foundation
import PTInspectTestSupport
import Testing

@Suite struct ModernFormatsEndToEndTests {
  static let golden: [(args: [String], golden: String)] = [
    (["Fixtures/dcp/gloo"], "summary-dcp-gloo.txt"),
    (["Fixtures/dcp/plain"], "summary-dcp-plain.txt"),
    (["tensors", "--format", "json", "Fixtures/dcp/gloo"], "tensors-dcp-gloo.json"),
    (["stats", "Fixtures/dcp/gloo"], "stats-dcp-gloo.txt"),
    (["scan", "Fixtures/dcp/gloo"], "scan-dcp-gloo.txt"),
    (["Fixtures/pt2/tied.pt2"], "summary-pt2-tied.txt"),
    (["summary", "--format", "markdown", "Fixtures/pt2/two_programs.pt2"], "summary-pt2-two.md"),
    (["Fixtures/pt2/aoti.pt2"], "summary-pt2-aoti.txt"),
  ]

  @Test(arguments: golden.indices)
  func printed(_ i: Int) throws {
    let (args, golden) = Self.golden[i]
    let r = try runPTInspect(args)
    #expect(r.status == 0, "\(args): \(r.stderr)")
    #expect(r.stderr == "")
    assertGolden(r.stdout, named: golden)
  }

  static let hostile: [(String, String)] = [
    (
      "Fixtures/dcp/hostile/chunk_outside",
      "ptinspect: Fixtures/dcp/hostile/chunk_outside/.metadata: .metadata: tensor 'model.embed.weight': chunk 1 (offsets [6, 0], sizes [3, 4]) lies outside its shape [7, 4]\n"
    ),
    (
      "Fixtures/dcp/hostile/range_past_eof",
      "ptinspect: Fixtures/dcp/hostile/range_past_eof/.metadata: .metadata: tensor 'model.proj.weight': chunk 0 is bytes 1641..<103218 of '__0_0.distcp', which has 6372 bytes\n"
    ),
    (
      "Fixtures/pt2/hostile_missing_weight.pt2",
      "ptinspect: Fixtures/pt2/hostile_missing_weight.pt2: tied/data/weights/model_weights_config.json: 'emb.weight' names 'weight_99', which the archive does not hold\n"
    ),
  ]

  @Test(arguments: hostile)
  func hostileIsOneLineExit2(_ path: String, _ line: String) throws {
    for command in ["summary", "stats", "tensors"] {
      let r = try runPTInspect([command, path])
      #expect(r.status == 2, "\(command) \(path)")
      #expect(r.stderr == line, "\(command) \(path)")
    }
    let scan = try runPTInspect(["scan", path])
    #expect(scan.status == 2, "scan \(path)")
  }

  @Test func diffAgainstConsolidated() throws {
    let r = try runPTInspect([
      "diff", "--values", "Fixtures/dcp/plain", "Fixtures/dcp/plain_consolidated.pt",
    ])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(
      r.stdout.contains(
        "verdict: no differences: 6 tensors with the same names, shapes, dtypes and values"))
  }

  @Test func aBatchOfFormats() throws {
    let r = try runPTInspect([
      "Fixtures/dcp/gloo", "Fixtures/pt2/tied.pt2", "Fixtures/numpy/weights.npy",
    ])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("Total                        3 files"))
  }
}
