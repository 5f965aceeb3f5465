// ScanCorpusTests.swift: the scan corpus end to end on the built binary: every hostile file
// (public bypasses of pickle scanners and standard-library gadgets, Fixtures/hostile/corpus.tsv)
// exits 1 and every benign file (Fixtures/benign/corpus.tsv, real ones in benign/real) exits 0; the
// advice never allows a gadget; nested pickles, functools.partial and --allow / the config file.

import Foundation
import PTInspectTestSupport
import Testing

/// The reasons and locations these tests read, on a terminal wide enough for every column.
private func runWide(_ arguments: [String], directory: String? = nil) throws -> RunResult {
  try runPTInspect(arguments, environment: ["COLUMNS": "1000"], directory: directory)
}

@Suite struct ScanCorpusTests {
  static let hostile = (try? HostileTests.corpus("hostile")) ?? []
  /// The benign stand-ins, and real files written by torchvision, timm, Lightning, numpy and
  /// transformers (Fixtures/benign/real, scripts/make_library_fixtures.py).
  static let benign =
    ((try? HostileTests.corpus("benign")) ?? []) + ((try? HostileTests.corpus("benign/real")) ?? [])

  @Test func corpusIsLargeEnough() {
    #expect(Self.hostile.count >= 30)
    #expect(Self.benign.count >= 23)
    #expect(Self.benign.filter { $0.hasPrefix("benign/real/") }.count >= 8)
  }

  @Test(arguments: hostile)
  func hostileFileExitsOne(_ file: String) throws {
    let r = try runPTInspect(["scan", Fixtures.relative(file)])
    #expect(r.status == 1, "\(file): \(r.stdout.suffix(600)) \(r.stderr)")
    #expect(r.stdout.contains("verdict: DANGEROUS"), "\(file)")
    // Never a line allowing anything in a dangerous file.
    #expect(!r.stdout.contains("add_safe_globals(["), "\(file)")
    let json = try runPTInspect(["scan", "--format", "json", Fixtures.relative(file)])
    let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
    #expect((object?["addSafeGlobals"] as? [String]) == [], "\(file)")
  }

  @Test(arguments: benign)
  func benignFileExitsZero(_ file: String) throws {
    let r = try runPTInspect(["scan", Fixtures.relative(file)])
    #expect(r.status == 0, "\(file): \(r.stdout.suffix(900)) \(r.stderr)")
    #expect(!r.stdout.contains("dangerous "), "\(file)")
  }

  @Test func assertPythonOkIsNeverSuggested() throws {
    let file = Fixtures.relative("hostile/scan_assert_python_ok.pkl")
    for format in ["table", "markdown", "json"] {
      let r = try runWide(["scan", "--format", format, file])
      #expect(r.status == 1)
      #expect(!r.stdout.contains("add_safe_globals([test"), "\(format)")
      #expect(r.stdout.contains("standard-library code outside the reviewed set; loading runs it"))
    }
    // A team may accept it after review, but it is still never put in an add_safe_globals line.
    let allowed = try runWide([
      "scan", "--allow", "test.support.script_helper.assert_python_ok", file,
    ])
    #expect(allowed.status == 0)
    #expect(allowed.stdout.contains("allowed by the user (--allow); otherwise dangerous"))
    #expect(!allowed.stdout.contains("add_safe_globals(["))
  }

  @Test func nestedPicklesAreListedWithTheirChain() throws {
    let r = try runWide(["scan", Fixtures.relative("hostile/scan_nested_three_deep.pkl")])
    #expect(r.status == 1)
    #expect(
      r.stdout.contains(
        "pickle._loads -> cloudpickle.loads -> dill.loads -> posix.system"))
    #expect(
      r.stdout.contains("pickle -> pickle._loads@121 -> cloudpickle.loads@98 -> dill.loads@71"))
    #expect(r.stdout.contains("the pickle it loads holds dangerous posix.system"))
    for (file, chain) in [
      ("scan_nested_pickle_loads.pkl", "pickle.loads -> posix.system"),
      ("scan_nested_codecs.pkl", "_pickle.loads -> posix.system"),
      ("scan_nested_torch_load.pkl", "torch.load -> posix.system"),
      ("scan_nested_numpy_loads.pkl", "numpy.loads -> posix.system"),
      ("scan_nested_load_from_bytes.pt", "torch.storage._load_from_bytes -> posix.system"),
      (
        "scan_nested_config_module.pkl",
        "torch.utils._config_module.ConfigModule.load_config -> posix.system"
      ),
    ] {
      let out = try runWide(["scan", Fixtures.relative("hostile/" + file)]).stdout
      #expect(out.contains(chain), "\(file)")
    }
  }

  @Test func partialIsJudgedByWhatItWraps() throws {
    let vit = try runWide(["scan", Fixtures.relative("benign/whole_model_vit_like.pt")])
    #expect(vit.status == 0)
    #expect(
      vit.stdout.contains(
        "functools.partial wrapping torch.nn.modules.normalization.LayerNorm: harmless unless what it wraps is"
      ))
    let system = try runWide(["scan", Fixtures.relative("hostile/scan_partial_system.pkl")])
    #expect(system.status == 1)
    #expect(system.stdout.contains("functools.partial wrapping posix.system"))
    let swap = try runWide(["scan", Fixtures.relative("hostile/scan_partial_state_swap.pkl")])
    #expect(swap.stdout.contains("subprocess.getoutput (starts processes)"))
  }

  @Test func allowFlagAndConfigFile() throws {
    let vit = Fixtures.relative("benign/whole_model_vit_like.pt")
    let strict = try runWide(["scan", "--strict", vit])
    #expect(strict.status == 1)
    // Accepting the model's classes makes --strict pass; the report says who allowed them.
    let allowed = try runWide([
      "scan", "--strict", "--allow", "torch.nn.modules.*", "--allow", "torchvision.models.*",
      "--allow", "functools.partial", vit,
    ])
    #expect(allowed.status == 0, "\(allowed.stdout)")
    #expect(allowed.stdout.contains("allowed by the user (--allow); otherwise unknown"))
    #expect(allowed.stdout.contains("or allowed by you"))
    #expect(allowed.stdout.contains("torch.nn.modules.linear.Linear"))
    // Never: os.system, a partial of it, a loader of a dangerous pickle.
    for (file, name) in [
      ("hostile/os_system.pt", "posix.system"),
      ("hostile/scan_partial_system.pkl", "functools.partial"),
      ("hostile/scan_nested_pickle_loads.pkl", "pickle.loads"),
    ] {
      let r = try runWide(["scan", "--allow", name, Fixtures.relative(file)])
      #expect(r.status == 1, "\(file)")
      #expect(r.stdout.contains("allowing \(name) was ignored"), "\(file)")
    }
    // The config file, found in the current folder.
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "ptinspect-allow-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try """
    [tool.ptinspect.scan]
    allow = ["torch.nn.modules.*", "torchvision.models.*", "functools.partial"]
    """.write(
      to: folder.appendingPathComponent("pyproject.toml"), atomically: true, encoding: .utf8)
    let fromConfig = try runWide(
      ["scan", "--strict", Fixtures.path("benign/whole_model_vit_like.pt")], directory: folder.path)
    #expect(fromConfig.status == 0, "\(fromConfig.stdout)")
    #expect(fromConfig.stdout.contains("allowed by the user (pyproject.toml); otherwise unknown"))
    let ignored = try runWide(
      ["scan", "--strict", "--no-config", Fixtures.path("benign/whole_model_vit_like.pt")],
      directory: folder.path)
    #expect(ignored.status == 1)
    // Bad values are usage errors.
    let bad = try runWide(["scan", "--allow", "system", vit])
    #expect(bad.status == 64)
    #expect(bad.stderr.contains("is not a global"))
  }
}
