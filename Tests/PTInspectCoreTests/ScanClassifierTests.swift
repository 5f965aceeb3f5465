// ScanClassifierTests.swift: the global classifier against torch 2.15's own allowlist and the
// gadgets users reported to scanner projects (prior-art.md).

import Pickle
import Testing

@testable import PTInspectCore

@Suite struct ScanClassifierTests {
  /// `sorted(torch._weights_only_unpickler._get_allowed_globals())` printed by torch 2.15.0.
  static let torchAllowlist: [String] = [
    "_codecs.encode", "builtins.bytearray", "builtins.complex", "builtins.set",
    "collections.Counter", "collections.OrderedDict", "torch.BFloat16Storage",
    "torch.BFloat16Tensor", "torch.BoolStorage", "torch.BoolTensor", "torch.ByteStorage",
    "torch.ByteTensor", "torch.CharStorage", "torch.CharTensor", "torch.ComplexDoubleStorage",
    "torch.ComplexFloatStorage", "torch.DoubleStorage", "torch.DoubleTensor", "torch.FloatStorage",
    "torch.FloatTensor", "torch.HalfStorage", "torch.HalfTensor", "torch.IntStorage",
    "torch.IntTensor", "torch.LongStorage", "torch.LongTensor", "torch.QInt32Storage",
    "torch.QInt8Storage", "torch.QUInt2x4Storage", "torch.QUInt4x2Storage", "torch.QUInt8Storage",
    "torch.ShortStorage", "torch.ShortTensor", "torch.Size", "torch.Tensor",
    "torch._tensor._rebuild_from_type_v2", "torch._utils._rebuild_device_tensor_from_cpu_tensor",
    "torch._utils._rebuild_device_tensor_from_numpy",
    "torch._utils._rebuild_meta_tensor_no_storage", "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state", "torch._utils._rebuild_qtensor",
    "torch._utils._rebuild_sparse_tensor", "torch._utils._rebuild_tensor",
    "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3",
    "torch._utils._rebuild_wrapper_subclass", "torch.bcomplex32", "torch.bfloat16", "torch.bits16",
    "torch.bits1x8", "torch.bits2x4", "torch.bits4x2", "torch.bits8", "torch.bool",
    "torch.complex128", "torch.complex32", "torch.complex64", "torch.cuda.BFloat16Storage",
    "torch.cuda.BFloat16Tensor", "torch.cuda.BoolStorage", "torch.cuda.BoolTensor",
    "torch.cuda.ByteStorage", "torch.cuda.ByteTensor", "torch.cuda.CharStorage",
    "torch.cuda.CharTensor", "torch.cuda.ComplexDoubleStorage", "torch.cuda.ComplexFloatStorage",
    "torch.cuda.DoubleStorage", "torch.cuda.DoubleTensor", "torch.cuda.FloatStorage",
    "torch.cuda.FloatTensor", "torch.cuda.HalfStorage", "torch.cuda.HalfTensor",
    "torch.cuda.IntStorage", "torch.cuda.IntTensor", "torch.cuda.LongStorage",
    "torch.cuda.LongTensor", "torch.cuda.ShortStorage", "torch.cuda.ShortTensor",
    "torch.cuda.sparse.BFloat16Tensor", "torch.cuda.sparse.ByteTensor",
    "torch.cuda.sparse.CharTensor", "torch.cuda.sparse.DoubleTensor",
    "torch.cuda.sparse.FloatTensor", "torch.cuda.sparse.HalfTensor", "torch.cuda.sparse.IntTensor",
    "torch.cuda.sparse.LongTensor", "torch.cuda.sparse.ShortTensor", "torch.device",
    "torch.float16", "torch.float32", "torch.float4_e2m1fn_x2", "torch.float64",
    "torch.float8_e4m3fn", "torch.float8_e4m3fnuz", "torch.float8_e5m2", "torch.float8_e5m2fnuz",
    "torch.float8_e8m0fnu", "torch.int1", "torch.int16", "torch.int2", "torch.int3", "torch.int32",
    "torch.int4", "torch.int5", "torch.int6", "torch.int64", "torch.int7", "torch.int8",
    "torch.nn.parameter.Parameter", "torch.per_channel_affine",
    "torch.per_channel_affine_float_qparams", "torch.per_channel_symmetric",
    "torch.per_tensor_affine", "torch.per_tensor_symmetric", "torch.qint32", "torch.qint8",
    "torch.quint2x4", "torch.quint4x2", "torch.quint8", "torch.serialization._get_layout",
    "torch.sparse.BFloat16Tensor", "torch.sparse.ByteTensor", "torch.sparse.CharTensor",
    "torch.sparse.DoubleTensor", "torch.sparse.FloatTensor", "torch.sparse.HalfTensor",
    "torch.sparse.IntTensor", "torch.sparse.LongTensor", "torch.sparse.ShortTensor",
    "torch.storage.TypedStorage", "torch.storage.UntypedStorage", "torch.uint1", "torch.uint16",
    "torch.uint2", "torch.uint3", "torch.uint32", "torch.uint4", "torch.uint5", "torch.uint6",
    "torch.uint64", "torch.uint7", "torch.uint8",
  ]

  @Test func allowlistIsTorchs() {
    #expect(Self.torchAllowlist.count == 144)
    #expect(GlobalClassifier.allowed == Set(Self.torchAllowlist))
    for name in Self.torchAllowlist {
      let dot = name.lastIndex(of: ".") ?? name.startIndex
      let c = GlobalClassifier.classify(
        module: String(name[..<dot]), name: String(name[name.index(after: dot)...]))
      #expect(c.verdict == .allowed, "\(name)")
    }
  }

  @Test(arguments: [
    // (module, name, verdict, reason)
    ("torch._utils", "_rebuild_tensor_v2", GlobalVerdict.allowed, "tensor rebuild function"),
    ("torch", "FloatStorage", .allowed, "storage class"),
    ("torch", "bfloat16", .allowed, "dtype"),
    ("torch", "per_channel_affine", .allowed, "quantization scheme"),
    ("__builtin__", "set", .allowed, "weights_only allowlist"),
    ("collections", "OrderedDict", .allowed, "weights_only allowlist"),
    ("posix", "system", .dangerous, "operating-system access (os.system on Linux and macOS)"),
    ("nt", "system", .dangerous, "operating-system access (os.system on Windows)"),
    ("os", "popen", .dangerous, "operating-system access (os.system, os.popen, file writes)"),
    ("os.path", "join", .dangerous, "operating-system access (os.system, os.popen, file writes)"),
    ("subprocess", "Popen", .dangerous, "starts processes"),
    ("__builtin__", "eval", .dangerous, "evaluates Python source"),
    ("builtins", "exec", .dangerous, "runs Python source"),
    ("builtins", "compile", .dangerous, "compiles Python source"),
    (
      "builtins", "getattr", .dangerous,
      "reaches any attribute (how gadget chains get to os.system)"
    ),
    ("builtins", "__import__", .dangerous, "imports modules"),
    ("__builtin__", "open", .dangerous, "opens files"),
    ("runpy", "_run_code", .dangerous, "runs Python modules and files"),
    ("importlib", "import_module", .dangerous, "imports modules"),
    ("pickle", "loads", .dangerous, "a pickle loader inside the pickle"),
    ("_pickle", "loads", .dangerous, "a pickle loader inside the pickle"),
    ("cPickle", "loads", .dangerous, "a pickle loader inside the pickle"),
    ("marshal", "loads", .dangerous, "loads code objects"),
    ("dill", "loads", .dangerous, "a pickle loader that restores code"),
    ("socket", "create_connection", .dangerous, "opens network connections"),
    ("shutil", "rmtree", .dangerous, "copies, moves and deletes files"),
    ("sys", "modules", .dangerous, "interpreter internals (sys.modules, settrace)"),
    ("pty", "spawn", .dangerous, "starts processes on a pseudo-terminal"),
    ("webbrowser", "open", .dangerous, "starts a browser process"),
    ("torch.utils.collect_env", "run", .dangerous, "runs commands (torch.utils.collect_env.run)"),
    ("multiprocessing.util", "spawnv_passfds", .dangerous, "starts processes"),
    ("pandas", "read_csv", .dangerous, "reads files, URLs or pickles"),
    ("pandas", "read_pickle", .dangerous, "loads pickles"),
    ("code", "InteractiveInterpreter", .dangerous, "runs Python source (InteractiveInterpreter)"),
    ("timeit", "timeit", .dangerous, "runs Python source (timeit.Timer)"),
    ("pdb", "run", .dangerous, "runs Python source (debugger)"),
    ("bdb", "Bdb", .dangerous, "runs Python source (debugger)"),
    ("cProfile", "run", .dangerous, "runs Python source (cProfile.run)"),
    ("ctypes", "CDLL", .dangerous, "calls native code"),
    ("functools", "partial", .unknown, "functools.partial: judged by the callable it wraps"),
    ("operator", "attrgetter", .dangerous, "reaches any attribute"),
    ("_operator", "methodcaller", .dangerous, "calls any method"),
    (
      "torch.serialization", "load", .dangerous,
      "a torch.load inside the pickle (weights_only can be off)"
    ),
    ("torch", "load", .dangerous, "a torch.load inside the pickle (weights_only can be off)"),
    (
      "torch._inductor.codecache", "compile_file", .dangerous,
      "compiles and loads code (compile_file)"
    ),
    (
      "torch.jit.unsupported_tensor_ops", "execWrapper", .dangerous,
      "runs Python source (execWrapper)"
    ),
    (
      "torch._dynamo.guards", "GuardBuilder.get", .dangerous,
      "evaluates guard source (GuardBuilder.get)"
    ),
    (
      "torch.fx.graph_module", "reduce_graph_module", .dangerous,
      "runs Python source stored in the pickle"
    ),
    // Attribute paths reach the same objects as module paths.
    ("torch", "hub.load", .dangerous, "downloads and runs code"),
    (
      "torch._dynamo", "guards.GuardBuilder.get", .dangerous,
      "evaluates guard source (GuardBuilder.get)"
    ),
    (
      "numpy", "__builtins__", .dangerous,
      "reaches the dunder attribute __builtins__ (a way to get at eval, exec or __import__)"
    ),
    (
      "torch.nn", "Module.__init__.__globals__", .dangerous,
      "reaches the dunder attribute __globals__ (a way to get at eval, exec or __import__)"
    ),
    ("", "system", .dangerous, "an empty module or name: not a real global"),
    ("numpy.core.multiarray", "_reconstruct", .unknown, "numpy array"),
    ("numpy._core.multiarray", "scalar", .unknown, "numpy scalar"),
    ("argparse", "Namespace", .unknown, "command-line arguments object"),
    ("__main__", "Net", .unknown, "a class from the script that saved the file"),
    (
      "__torch__.torch.nn.modules.conv", "Conv2d", .unknown,
      "TorchScript class: torch.jit.load compiles it from the archive's code"
    ),
    (
      "copy_reg", "_reconstructor", .unknown,
      "protocol 0/1 object reconstruction (the class is a global of its own, checked on its own)"
    ),
    (
      "copyreg", "__newobj__", .unknown,
      "protocol 0/1 object reconstruction (the class is a global of its own, checked on its own)"
    ),
    ("pathlib", "PosixPath", .unknown, "a path as text: building it touches no file"),
    ("pathlib._local", "PurePosixPath", .unknown, "a path as text: building it touches no file"),
    (
      "collections", "defaultdict", .unknown,
      "a dict with a default factory (the factory is a global of its own, checked on its own)"
    ),
    ("datetime", "datetime", .unknown, "a date, time or duration value"),
    ("numpy.dtypes", "Float32DType", .unknown, "numpy dtype class"),
    // Classified by origin: standard-library code outside the reviewed set.
    (
      "test.support.script_helper", "assert_python_ok", .dangerous,
      "standard-library code outside the reviewed set; loading runs it"
    ),
    ("cgi", "test", .dangerous, "standard-library code outside the reviewed set; loading runs it"),
    (
      "linecache", "getlines", .dangerous,
      "standard-library code outside the reviewed set; loading runs it"
    ),
    (
      "builtins", "print", .dangerous,
      "standard-library code outside the reviewed set; loading runs it"
    ),
    // fix_imports maps Python 2's commands to subprocess.
    ("commands", "getoutput", .dangerous, "starts processes"),
    (
      "popen2", "popen2", .dangerous,
      "standard-library code outside the reviewed set; loading runs it"
    ),
    (
      "Tkinter", "Tk", .dangerous,
      "standard-library code outside the reviewed set; loading runs it"
    ),
    (
      "collections", "OrderedDict.fromkeys", .dangerous,
      "standard-library code outside the reviewed set; loading runs it"
    ),
    (
      "torch", "os.system", .dangerous,
      "walks attributes into the standard-library module os: operating-system access (os.system, os.popen, file writes)"
    ),
    ("numpy", "loads", .dangerous, "loads pickles"),
    (
      "torch.storage", "_load_from_bytes", .dangerous,
      "a torch.load inside the pickle (weights_only off)"
    ),
    ("torch.nn.modules.linear", "Linear", .unknown, "nn.Module class (a whole model was saved)"),
    ("__builtin__", "slice", .unknown, "a slice of indices"),
    ("mymodels.code", "Net", .unknown, "third-party code, not on torch's weights_only allowlist"),
    (
      "timm.layers", "Mlp.random", .unknown,
      "third-party code, not on torch's weights_only allowlist"
    ),
  ])
  func classify(_ module: String, _ name: String, _ verdict: GlobalVerdict, _ reason: String) {
    let c = GlobalClassifier.classify(module: module, name: name)
    #expect(c.verdict == verdict, "\(module).\(name)")
    #expect(c.reason == reason, "\(module).\(name)")
  }

  @Test func standardLibraryTableCoversEveryVersion() {
    // 3.8-only, removed in 3.12 or 3.13, added in 3.11, 3.13 and 3.14, and the test package.
    for name in [
      "_dummy_thread", "distutils", "imp", "asyncore", "cgi", "lib2to3", "telnetlib", "tomllib",
      "_pyrepl", "annotationlib", "test", "os", "builtins", "_codecs", "idlelib",
    ] {
      #expect(GlobalOrigin.of(module: name) == .standardLibrary, "\(name)")
    }
    #expect(GlobalOrigin.of(module: "test.support.script_helper") == .standardLibrary)
    #expect(GlobalOrigin.of(module: "commands") == .standardLibrary)
    #expect(GlobalOrigin.of(module: "torch.nn") == .torch)
    #expect(GlobalOrigin.of(module: "numpy.core.multiarray") == .numpy)
    #expect(GlobalOrigin.of(module: "__main__") == .script)
    #expect(GlobalOrigin.of(module: "torchvision.models") == .thirdParty)
    #expect(GlobalOrigin.of(module: "testing") == .thirdParty)
  }

  @Test func onlyReviewedGlobalsAreMarkedReviewed() {
    for (m, n) in [
      ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"), ("argparse", "Namespace"),
      ("builtins", "slice"), ("collections", "deque"),
    ] {
      #expect(GlobalClassifier.classify(module: m, name: n).reviewed, "\(m).\(n)")
    }
    for (m, n) in [
      ("torch.nn.modules.linear", "Linear"), ("__main__", "Net"), ("functools", "partial"),
      ("test.support.script_helper", "assert_python_ok"), ("mymodels", "Net"),
    ] {
      #expect(!GlobalClassifier.classify(module: m, name: n).reviewed, "\(m).\(n)")
    }
    // Every reviewed standard-library entry names a standard-library module.
    for name in ReviewedGlobals.standardLibrary.keys {
      let module = String(name[..<name.lastIndex(of: ".")!])
      #expect(GlobalOrigin.of(module: module) == .standardLibrary, "\(name)")
    }
  }

  @Test func python2SpellingsAreNormalised() {
    #expect(GlobalClassifier.normalize(module: "__builtin__", name: "set") == ("builtins", "set"))
    #expect(
      GlobalClassifier.normalize(module: "copy_reg", name: "_reconstructor") == (
        "copyreg", "_reconstructor"
      ))
    #expect(
      GlobalClassifier.normalize(module: "__builtin__", name: "unicode") == ("builtins", "str"))
    #expect(
      GlobalClassifier.normalize(module: "__builtin__", name: "reduce") == ("functools", "reduce"))
    #expect(
      GlobalClassifier.normalize(module: "exceptions", name: "StandardError") == (
        "builtins", "Exception"
      ))
    #expect(GlobalClassifier.normalize(module: "torch", name: "Size") == ("torch", "Size"))
    // Normalising can make a name dangerous: __builtin__.reduce is functools.reduce.
    #expect(GlobalClassifier.classify(module: "__builtin__", name: "reduce").verdict == .dangerous)
  }

  @Test func verdictsAreOrdered() {
    #expect(GlobalVerdict.allowed < .unknown)
    #expect(GlobalVerdict.unknown < .dangerous)
    #expect([GlobalVerdict.unknown, .dangerous, .allowed].max() == .dangerous)
  }

  @Test func summaryWarning() {
    #expect(
      GlobalClassifier.summaryWarning([("collections", "OrderedDict"), ("argparse", "Namespace")])
        == nil)
    #expect(
      GlobalClassifier.summaryWarning([("posix", "system"), ("posix", "system")])
        == "references dangerous global posix.system: loading it with torch.load(weights_only=False) runs code; run ptinspect scan"
    )
    #expect(
      GlobalClassifier.summaryWarning([
        ("posix", "system"), ("__builtin__", "eval"), ("subprocess", "call"), ("runpy", "run_path"),
        ("torch", "Size"),
      ])
        == "references dangerous globals posix.system, builtins.eval, subprocess.call and 1 more: loading it with torch.load(weights_only=False) runs code; run ptinspect scan"
    )
  }

  @Test func pythonExpressions() {
    #expect(Scan.pythonExpression(module: "argparse", name: "Namespace") == "argparse.Namespace")
    #expect(Scan.pythonExpression(module: "builtins", name: "slice") == "slice")
    #expect(Scan.pythonExpression(module: "__torch__.foo", name: "Bar") == nil)
    #expect(Scan.pythonExpression(module: "a b", name: "c") == nil)
    #expect(Scan.pythonExpression(module: "m", name: "Outer.Inner") == "m.Outer.Inner")
    #expect(Scan.pythonExpression(module: "m", name: "1x") == nil)
  }

  @Test func numpyDTypeClasses() {
    let cases: [(String, String?)] = [
      ("f8", "Float64DType"), ("f4", "Float32DType"), ("f2", "Float16DType"), ("i8", "Int64DType"),
      ("u1", "UInt8DType"),
      ("b1", "BoolDType"), ("c16", "Complex128DType"), ("c8", "Complex64DType"),
      ("M8", "DateTime64DType"),
      ("O8", "ObjectDType"), ("U", "StrDType"), ("x4", nil), ("f3", nil), ("", nil),
    ]
    for (code, cls) in cases { #expect(Scan.numpyDTypeClass(code) == cls, "\(code)") }
  }
}
