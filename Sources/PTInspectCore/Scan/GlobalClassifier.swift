// GlobalClassifier.swift: sorts the globals a pickle names into allowed (what torch.load with
// weights_only=True accepts by default), dangerous (can run code or touch the system: the
// denylist, and any standard-library global outside the reviewed data types of
// ReviewedGlobals.swift, by the module list of StdlibModules.swift) and unknown (third-party code
// not known either way). Nothing is imported or resolved: the decision is made on the names
// alone. ScanResolver.swift adds what needs the whole pickle (partials, nested pickles, --allow).

/// How safe a global is to let an unpickler resolve.
public enum GlobalVerdict: String, Sendable, Codable, Comparable, CaseIterable {
  /// On torch's default `weights_only` allowlist.
  case allowed
  /// Neither allowlisted nor known to be dangerous: torch.load(weights_only=True) refuses it.
  case unknown
  /// Can run code, import modules, open files or sockets, or start processes.
  case dangerous

  private var rank: Int {
    switch self {
    case .allowed: 0
    case .unknown: 1
    case .dangerous: 2
    }
  }
  /// Orders verdicts from safest to worst: allowed, unknown, dangerous.
  public static func < (a: GlobalVerdict, b: GlobalVerdict) -> Bool { a.rank < b.rank }
}

/// Where a global's code comes from: what decides how far it can be trusted without review.
public enum GlobalOrigin: String, Sendable, Codable, CaseIterable {
  /// CPython's standard library (any of 3.8-3.14, Python 2 names included).
  case standardLibrary = "standard-library"
  case torch
  case numpy
  /// `__main__`: the script that saved the file.
  case script
  /// `__torch__`: TorchScript classes compiled from the archive's own code.
  case torchScript = "torchscript"
  /// Any other installed package.
  case thirdParty = "third-party"
  /// A STACK_GLOBAL whose operands are computed while loading.
  case unresolved

  /// The origin of a (normalised) module name.
  public static func of(module: String) -> GlobalOrigin {
    let top = module.split(separator: ".", maxSplits: 1).first.map(String.init) ?? module
    if module == ScanGlobal.computed { return .unresolved }
    if StdlibModules.names.contains(top) || StdlibModules.python2Names.contains(top) {
      return .standardLibrary
    }
    switch top {
    case "torch": return .torch
    case "numpy": return .numpy
    case "__main__": return .script
    case "__torch__": return .torchScript
    default: return .thirdParty
    }
  }
}

/// A verdict and the reason for it, in a few words.
package struct GlobalClassification: Sendable, Equatable {
  package var verdict: GlobalVerdict
  package var reason: String
  /// On a reviewed list of plain data types (ReviewedGlobals): the only unknown globals the scan
  /// ever suggests allowing.
  package var reviewed: Bool
  package init(_ verdict: GlobalVerdict, _ reason: String, reviewed: Bool = false) {
    self.verdict = verdict
    self.reason = reason
    self.reviewed = reviewed
  }
}

/// Classifies `module.name` pairs as pickles spell them.
package enum GlobalClassifier {
  /// Maps Python 2 spellings to Python 3 ones as torch does before it looks a global up
  /// (`torch/_utils.py` IMPORT_MAPPING and NAME_MAPPING, applied by `_read_global_instruction` in
  /// `torch/_weights_only_unpickler.py`), plus `cPickle`, which CPython's `_compat_pickle` maps.
  /// Other Python 2 names are mapped as pickle's `fix_imports` maps them (`_compat_pickle`).
  package static func normalize(module: String, name: String) -> (module: String, name: String) {
    if let mapped = nameMapping[module + "\n" + name] { return mapped }
    if let mapped = StdlibModules.nameMapping[module + "\n" + name],
      let newline = mapped.firstIndex(of: "\n")
    {
      return (String(mapped[..<newline]), String(mapped[mapped.index(after: newline)...]))
    }
    if let mapped = importMapping[module] ?? StdlibModules.importMapping[module] {
      return (mapped, name)
    }
    return (module, name)
  }

  /// The verdict for a global, after normalising its spelling.
  ///
  /// In order: the denylist (dangerous); torch's allowlist (allowed); the reviewed data types
  /// (unknown, and suggested for allowing); `functools.partial` (unknown here: the scan judges
  /// each one by the callable it wraps); a name that walks attributes into the standard library
  /// (`GLOBAL torch os.system`) is judged as that standard-library global; any other
  /// standard-library global is dangerous (code outside the reviewed set); the rest is unknown.
  package static func classify(module: String, name: String) -> GlobalClassification {
    let (m, n) = normalize(module: module, name: name)
    let qualified = m + "." + n
    if let reason = dangerousReason(module: m, name: n) {
      return GlobalClassification(.dangerous, reason)
    }
    if allowed.contains(qualified) {
      return GlobalClassification(.allowed, allowedReason(module: m, name: n))
    }
    if let reason = ReviewedGlobals.reason(qualified) {
      return GlobalClassification(.unknown, reason, reviewed: true)
    }
    if isPartial(qualified) {
      return GlobalClassification(.unknown, partialReason)
    }
    let origin = GlobalOrigin.of(module: m)
    if origin != .standardLibrary, let walked = walkIntoStandardLibrary(module: m, name: n),
      walked.verdict == .dangerous
    {
      return walked
    }
    if origin == .standardLibrary {
      return GlobalClassification(.dangerous, outsideReviewedSet)
    }
    return GlobalClassification(.unknown, unknownReason(module: m, name: n))
  }

  /// The reason for a standard-library global that is neither denylisted nor reviewed.
  package static let outsideReviewedSet =
    "standard-library code outside the reviewed set; loading runs it"

  /// `functools.partial` on its own: harmless; what it wraps decides.
  static let partialReason = "functools.partial: judged by the callable it wraps"

  /// `functools.partial` and its C implementation.
  static func isPartial(_ qualified: String) -> Bool {
    qualified == "functools.partial" || qualified == "_functools.partial"
  }

  /// `GLOBAL torch os.system`: an attribute walk from a third-party module into a
  /// standard-library module it imported. Judged as the global it reaches (`os.system`).
  static func walkIntoStandardLibrary(module: String, name: String) -> GlobalClassification? {
    let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    guard parts.count >= 2 else { return nil }
    for i in 0..<(parts.count - 1) where StdlibModules.names.contains(parts[i]) {
      let inner = classify(
        module: parts[i], name: parts[(i + 1)...].joined(separator: "."))
      guard inner.verdict == .dangerous else { continue }
      return GlobalClassification(
        .dangerous,
        "walks attributes into the standard-library module \(parts[i]): \(inner.reason)")
    }
    return nil
  }

  /// A STACK_GLOBAL whose module and name are computed while loading cannot be checked at all.
  package static let unresolved = GlobalClassification(
    .dangerous, "STACK_GLOBAL with operands computed at load time: cannot be checked")

  /// The one-line warning the summary shows when a file names a dangerous global, or nil.
  package static func summaryWarning(_ globals: [(module: String, name: String)]) -> String? {
    var seen = Set<String>()
    var names: [String] = []
    for g in globals where seen.insert(g.module + "\n" + g.name).inserted {
      guard classify(module: g.module, name: g.name).verdict == .dangerous else { continue }
      let (m, n) = normalize(module: g.module, name: g.name)
      let shown = Format.printable(m + "." + n, limit: 160)
      if !names.contains(shown) { names.append(shown) }
    }
    guard let first = names.first else { return nil }
    let shown =
      names.count == 1 ? "global \(first)" : "globals " + names.prefix(3).joined(separator: ", ")
    let more = names.count > 3 ? " and \(names.count - 3) more" : ""
    return
      "references dangerous \(shown)\(more): loading it with torch.load(weights_only=False) runs code; run ptinspect scan"
  }

  // MARK: names

  static let importMapping: [String: String] = [
    "__builtin__": "builtins", "copy_reg": "copyreg", "Queue": "queue", "repr": "reprlib",
    "_abcoll": "collections.abc", "UserDict": "collections", "UserList": "collections",
    "UserString": "collections", "whichdb": "dbm", "StringIO": "io", "cStringIO": "io",
    "cPickle": "pickle",
  ]

  static let nameMapping: [String: (module: String, name: String)] = [
    "__builtin__\nxrange": ("builtins", "range"), "__builtin__\nreduce": ("functools", "reduce"),
    "__builtin__\nintern": ("sys", "intern"), "__builtin__\nunichr": ("builtins", "chr"),
    "__builtin__\nunicode": ("builtins", "str"), "__builtin__\nlong": ("builtins", "int"),
    "itertools\nizip": ("builtins", "zip"), "itertools\nimap": ("builtins", "map"),
    "itertools\nifilter": ("builtins", "filter"),
    "itertools\nifilterfalse": ("itertools", "filterfalse"),
    "itertools\nizip_longest": ("itertools", "zip_longest"),
    "UserDict\nIterableUserDict": ("collections", "UserDict"),
    "UserList\nUserList": ("collections", "UserList"),
    "UserString\nUserString": ("collections", "UserString"),
    "__builtin__\nbasestring": ("builtins", "str"),
    "exceptions\nStandardError": ("builtins", "Exception"),
    "UserDict\nUserDict": ("collections", "UserDict"),
  ]

  /// torch 2.15's default allowlist: the 144 keys of `_get_allowed_globals()` in
  /// `torch/_weights_only_unpickler.py` (the rebuild functions of `_tensor_rebuild_functions()`,
  /// `torch._tensor_classes`, `torch._storage_classes`, every dtype and qscheme), listed with
  /// `sorted(_get_allowed_globals())` under torch 2.15.0. See pytorch-formats.md section 3.3.
  static let allowed: Set<String> = {
    var names: Set<String> = [
      "collections.OrderedDict", "collections.Counter", "torch.nn.parameter.Parameter",
      "torch.serialization._get_layout", "torch.Size", "torch.Tensor", "torch.device",
      "_codecs.encode", "builtins.bytearray", "builtins.set", "builtins.complex",
      "torch._tensor._rebuild_from_type_v2", "torch.storage.TypedStorage",
      "torch.storage.UntypedStorage",
    ]
    for f in [
      "_rebuild_parameter", "_rebuild_parameter_with_state", "_rebuild_qtensor", "_rebuild_tensor",
      "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_sparse_tensor",
      "_rebuild_meta_tensor_no_storage", "_rebuild_wrapper_subclass",
      "_rebuild_device_tensor_from_numpy", "_rebuild_device_tensor_from_cpu_tensor",
    ] {
      names.insert("torch._utils." + f)
    }
    let dtypes = [
      "bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32",
      "float64", "complex32", "complex64", "complex128", "bcomplex32", "qint8", "quint8", "qint32",
      "quint4x2", "quint2x4", "bits1x8", "bits2x4", "bits4x2", "bits8", "bits16", "uint16",
      "uint32",
      "uint64", "float8_e5m2", "float8_e4m3fn", "float8_e5m2fnuz", "float8_e4m3fnuz",
      "float8_e8m0fnu", "float4_e2m1fn_x2",
    ]
    for d in dtypes { names.insert("torch." + d) }
    for i in 1...7 {
      names.insert("torch.uint\(i)")
      names.insert("torch.int\(i)")
    }
    for q in [
      "per_tensor_affine", "per_tensor_symmetric", "per_channel_affine", "per_channel_symmetric",
      "per_channel_affine_float_qparams",
    ] {
      names.insert("torch." + q)
    }
    // torch._tensor_classes: dense CPU and CUDA, and sparse CPU and CUDA tensor types.
    let dense = [
      "Double", "Float", "BFloat16", "Half", "Long", "Int", "Short", "Char", "Byte", "Bool",
    ]
    let sparse = ["Double", "Float", "BFloat16", "Half", "Long", "Int", "Short", "Char", "Byte"]
    for t in dense {
      names.insert("torch.\(t)Tensor")
      names.insert("torch.cuda.\(t)Tensor")
    }
    for t in sparse {
      names.insert("torch.sparse.\(t)Tensor")
      names.insert("torch.cuda.sparse.\(t)Tensor")
    }
    // torch._storage_classes: legacy typed storages (CPU and CUDA) and quantized ones.
    for s in dense + ["ComplexDouble", "ComplexFloat"] {
      names.insert("torch.\(s)Storage")
      names.insert("torch.cuda.\(s)Storage")
    }
    for q in ["QInt32", "QInt8", "QUInt2x4", "QUInt4x2", "QUInt8"] {
      names.insert("torch.\(q)Storage")
    }
    return names
  }()

  // MARK: dangerous

  /// Whole modules (and their submodules) that run code, import, spawn, open files or sockets.
  static let dangerousModules: [String: String] = [
    "os": "operating-system access (os.system, os.popen, file writes)",
    "posix": "operating-system access (os.system on Linux and macOS)",
    "nt": "operating-system access (os.system on Windows)",
    "subprocess": "starts processes", "_posixsubprocess": "starts processes",
    "pty": "starts processes on a pseudo-terminal", "multiprocessing": "starts processes",
    "_multiprocessing": "starts processes", "sys": "interpreter internals (sys.modules, settrace)",
    "socket": "opens network connections", "_socket": "opens network connections",
    "ssl": "opens network connections", "asyncio": "starts processes and network connections",
    "aiohttp": "opens network connections", "requests": "makes network requests",
    "httplib": "makes network requests", "http.client": "makes network requests",
    "http.server": "serves the file system over the network", "urllib": "makes network requests",
    "urllib2": "makes network requests", "urllib3": "makes network requests",
    "xmlrpc": "makes network calls", "ftplib": "opens network connections",
    "smtplib": "opens network connections", "telnetlib": "opens network connections",
    "imaplib": "opens connections and runs commands (IMAP4_stream)",
    "poplib": "opens network connections", "nntplib": "opens network connections",
    "webbrowser": "starts a browser process", "shutil": "copies, moves and deletes files",
    "tempfile": "creates files", "runpy": "runs Python modules and files",
    "importlib": "imports modules", "imp": "imports modules", "pkgutil": "imports modules",
    "zipimport": "imports modules from archives",
    "code": "runs Python source (InteractiveInterpreter)",
    "codeop": "compiles Python source", "timeit": "runs Python source (timeit.Timer)",
    "trace": "runs Python source (trace.Trace.run)", "pdb": "runs Python source (debugger)",
    "bdb": "runs Python source (debugger)", "cProfile": "runs Python source (cProfile.run)",
    "profile": "runs Python source (profile.run)", "doctest": "runs Python source (debug_script)",
    "pydoc": "starts a pager process and imports modules", "idlelib": "runs Python source",
    "lib2to3": "imports and runs fixers", "_pyrepl": "runs Python source",
    "ctypes": "calls native code", "_ctypes": "calls native code", "cffi": "calls native code",
    "pickle": "a pickle loader inside the pickle", "_pickle": "a pickle loader inside the pickle",
    "marshal": "loads code objects", "dill": "a pickle loader that restores code",
    "cloudpickle": "a pickle loader that restores code", "shelve": "a pickle-backed store",
    "jsonpickle": "decodes arbitrary objects", "pip": "installs packages",
    "ensurepip": "installs packages", "venv": "creates environments and runs pip",
    "distutils": "runs commands (spawn)", "setuptools": "runs setup scripts and commands",
    "_osx_support": "runs commands", "_aix_support": "runs commands",
    "logging.config": "evaluates configuration (logging.config.listen, fileConfig)",
    "logging.handlers": "opens files and sockets", "_thread": "starts threads running any callable",
    "numpy.f2py": "compiles and imports code", "numpy.distutils": "runs commands",
    "numpy.testing._private.utils": "runs Python source (runstring)",
    "numpy.ctypeslib": "loads native libraries", "numpy.lib.npyio": "loads pickles and files",
    "pandas.io": "reads and writes files, including pickles",
    "pandas.core.computation": "evaluates expressions (pandas.eval)",
    "torch.hub": "downloads and runs code", "torch.package": "imports code from packages",
    "torch.utils.cpp_extension": "compiles and loads native code",
    "torch.utils.collect_env": "runs commands (torch.utils.collect_env.run)",
    "torch.utils.bottleneck": "runs Python source", "torch.testing._internal": "runs commands",
    "torch._inductor.codecache": "compiles and loads code (compile_file)",
    "torch.jit.unsupported_tensor_ops": "runs Python source (execWrapper)",
    "yaml": "constructs arbitrary objects", "IPython": "runs Python source and commands",
  ]

  /// Single names in otherwise ordinary modules. A name matches itself and its attributes.
  static let dangerousNames: [String: String] = [
    "builtins.eval": "evaluates Python source", "builtins.exec": "runs Python source",
    "builtins.execfile": "runs a Python file", "builtins.compile": "compiles Python source",
    "builtins.open": "opens files", "builtins.file": "opens files",
    "builtins.getattr": "reaches any attribute (how gadget chains get to os.system)",
    "builtins.setattr": "changes any attribute", "builtins.delattr": "deletes any attribute",
    "builtins.__import__": "imports modules", "builtins.apply": "calls any callable",
    "builtins.breakpoint": "starts the debugger",
    "builtins.globals": "reaches the interpreter's globals",
    "builtins.locals": "reaches the interpreter's locals", "builtins.vars": "reaches any namespace",
    "builtins.help": "starts a pager process",
    "io.open": "opens files", "_io.open": "opens files", "io.FileIO": "opens files",
    "_io.FileIO": "opens files", "io.open_code": "opens files", "codecs.open": "opens files",
    "logging.FileHandler": "opens files", "operator.attrgetter": "reaches any attribute",
    "operator.methodcaller": "calls any method", "operator.itemgetter": "reaches any item",
    "_operator.attrgetter": "reaches any attribute", "_operator.methodcaller": "calls any method",
    "_operator.itemgetter": "reaches any item",
    "functools.reduce": "calls any callable",
    "_functools.reduce": "calls any callable", "types.CodeType": "builds code objects",
    "types.FunctionType": "builds functions from code", "types.LambdaType": "builds functions",
    "types.MethodType": "binds any callable",
    "threading.Thread": "starts a thread running any callable",
    "threading.Timer": "runs any callable later", "platform.popen": "runs commands",
    "platform._syscmd_ver": "runs commands", "platform._syscmd_file": "runs commands",
    "uuid._get_command_stdout": "runs commands", "uuid._popen": "runs commands",
    "sqlite3.connect": "creates database files",
    "numpy.load": "loads pickles (allow_pickle)", "numpy.loads": "loads pickles",
    "numpy.core.numeric.loads": "loads pickles", "numpy.ma.core.loads": "loads pickles",
    "numpy.loadtxt": "reads files",
    "numpy.genfromtxt": "reads files", "numpy.fromfile": "reads files",
    "numpy.save": "writes files",
    "numpy.savez": "writes files", "numpy.savez_compressed": "writes files",
    "numpy.savetxt": "writes files", "numpy.memmap": "creates and maps files",
    "pandas.eval": "evaluates expressions", "pandas.read_pickle": "loads pickles",
    "joblib.load": "loads pickles",
    "torch.load": "a torch.load inside the pickle (weights_only can be off)",
    "torch.serialization.load": "a torch.load inside the pickle (weights_only can be off)",
    "torch.serialization._load": "a torch.load inside the pickle",
    "torch.serialization._legacy_load": "a torch.load inside the pickle",
    "torch.jit.load": "loads TorchScript",
    "torch.storage._load_from_bytes": "a torch.load inside the pickle (weights_only off)",
    "torch.ops.load_library": "loads native code",
    "torch._dynamo.guards.GuardBuilder": "evaluates guard source (GuardBuilder.get)",
    "torch.fx.experimental.symbolic_shapes.ShapeEnv":
      "evaluates guard source (evaluate_guards_expression)",
    "torch.fx.graph_module.reduce_graph_module": "runs Python source stored in the pickle",
    "torch.fx.graph_module.reduce_package_graph_module": "runs Python source from a package",
    "torch.fx.graph_module.reduce_deploy_graph_module": "runs Python source stored in the pickle",
    "torch.fx.graph_module._exec_with_source": "runs Python source",
    "torch.utils._config_module.ConfigModule": "loads pickled config (load_config)",
    "torch.utils.data.datapipes.utils.decoder.basichandlers": "loads pickles",
  ]

  /// Name prefixes, per module, that are dangerous (pandas readers and writers).
  static let dangerousNamePrefixes: [(module: String, prefix: String, reason: String)] = [
    ("pandas", "read_", "reads files, URLs or pickles"),
    ("pandas", "to_", "writes files"),
  ]

  /// Dunder attributes that are harmless in a global's name (copyreg's reconstruction helpers).
  static let harmlessDunders: Set<String> = ["__newobj__", "__newobj_ex__", "__init__", "__new__"]

  static func dangerousReason(module: String, name: String) -> String? {
    // Every leading dotted prefix of `module.name`, longest first: `numpy.load`, then `numpy`.
    // Checking the joined name catches `GLOBAL torch hub.load`, which resolves attribute by
    // attribute to the same function as `GLOBAL torch.hub load`.
    var prefix = module + "." + name
    while true {
      if let reason = dangerousNames[prefix] ?? dangerousModules[prefix] { return reason }
      guard let dot = prefix.lastIndex(of: ".") else { break }
      prefix = String(prefix[..<dot])
    }
    for rule in dangerousNamePrefixes where module == rule.module && name.hasPrefix(rule.prefix) {
      return rule.reason
    }
    // A dotted name walks attributes: `numpy.__builtins__`, `x.__globals__`, `Foo.__subclasses__`
    // reach eval and __import__ through an innocent-looking module.
    for part in name.split(separator: ".", omittingEmptySubsequences: false) {
      if part.hasPrefix("__"), part.hasSuffix("__"), part.count > 4,
        !harmlessDunders.contains(String(part))
      {
        return "reaches the dunder attribute \(part) (a way to get at eval, exec or __import__)"
      }
    }
    if module.isEmpty || name.isEmpty {
      return "an empty module or name: not a real global"
    }
    return nil
  }

  // MARK: reasons for the others

  static func allowedReason(module: String, name: String) -> String {
    if module == "torch._utils" || module == "torch._tensor" { return "tensor rebuild function" }
    if name.hasSuffix("Storage") { return "storage class" }
    if name.hasSuffix("Tensor") { return "tensor class" }
    if module == "torch", name.hasPrefix("per_") { return "quantization scheme" }
    if module == "torch", name.first?.isLowercase == true, name != "device" { return "dtype" }
    return "weights_only allowlist"
  }

  static func unknownReason(module: String, name: String) -> String {
    if module == "__main__" { return "a class from the script that saved the file" }
    if module == "__torch__" || module.hasPrefix("__torch__.") {
      return "TorchScript class: torch.jit.load compiles it from the archive's code"
    }
    if module == "torch.jit._pickle" { return "TorchScript pickler helper" }
    if module.hasPrefix("numpy") {
      switch name {
      case "_reconstruct", "ndarray": return "numpy array"
      case "scalar": return "numpy scalar"
      case "dtype": return "numpy dtype"
      default: return "numpy object"
      }
    }
    if module.hasPrefix("torch.nn.modules") { return "nn.Module class (a whole model was saved)" }
    if module == "torch" || module.hasPrefix("torch.") {
      return "torch object outside the allowlist"
    }
    return "third-party code, not on torch's weights_only allowlist"
  }
}
