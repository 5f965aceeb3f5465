// ReviewedGlobals.swift: the short, reviewed lists of globals outside torch's weights_only
// allowlist that build plain data when a pickle calls them: the only standard-library globals
// the scan does not call dangerous, and the only unknown globals it ever suggests allowing with
// torch.serialization.add_safe_globals. Each entry says why it is safe. A global that takes
// another callable (defaultdict's factory, copyreg's class argument) is safe only because that
// callable is a global of its own, which the scan classifies on its own.

enum ReviewedGlobals {
  /// The reason a global is on a reviewed list, or nil.
  static func reason(_ qualified: String) -> String? {
    if let reason = standardLibrary[qualified] ?? thirdParty[qualified] { return reason }
    // numpy 1.25+ dtype classes: `numpy.dtypes.Float64DType`, made by numpy.dtype(...) + BUILD.
    if qualified.hasPrefix("numpy.dtypes."), qualified.hasSuffix("DType"),
      !qualified.dropFirst(13).contains(".")
    {
      return "numpy dtype class"
    }
    return nil
  }

  static let dateTime = "a date, time or duration value"
  static let path = "a path as text: building it touches no file"

  /// Standard-library globals that only build values.
  static let standardLibrary: [String: String] = [
    "collections.defaultdict":
      "a dict with a default factory (the factory is a global of its own, checked on its own)",
    "collections.deque": "a double-ended queue of values",
    "collections.UserDict": "a dict wrapper", "collections.UserList": "a list wrapper",
    "collections.UserString": "a string wrapper",
    "datetime.datetime": dateTime, "datetime.date": dateTime, "datetime.time": dateTime,
    "datetime.timedelta": dateTime, "datetime.timezone": dateTime,
    "decimal.Decimal": "a decimal number", "fractions.Fraction": "a fraction",
    "argparse.Namespace": "command-line arguments object",
    "types.SimpleNamespace": "an object holding attributes only",
    "uuid.UUID": "a UUID value",
    "array.array": "a typed array of numbers",
    "array._array_reconstructor": "rebuilds a typed array of numbers",
    "pathlib.PurePath": path, "pathlib.PurePosixPath": path, "pathlib.PureWindowsPath": path,
    "pathlib.Path": path, "pathlib.PosixPath": path, "pathlib.WindowsPath": path,
    // Python 3.13 moved the classes into pathlib._local; their pickles name it.
    "pathlib._local.PurePath": path, "pathlib._local.PurePosixPath": path,
    "pathlib._local.PureWindowsPath": path, "pathlib._local.Path": path,
    "pathlib._local.PosixPath": path, "pathlib._local.WindowsPath": path,
    "copyreg._reconstructor":
      "protocol 0/1 object reconstruction (the class is a global of its own, checked on its own)",
    "copyreg.__newobj__":
      "protocol 0/1 object reconstruction (the class is a global of its own, checked on its own)",
    "copyreg.__newobj_ex__":
      "protocol 0/1 object reconstruction (the class is a global of its own, checked on its own)",
    "builtins.frozenset": "a frozen set of values", "builtins.slice": "a slice of indices",
    "builtins.range": "a range of integers", "builtins.bytes": "a bytes value",
    "builtins.list": "a list of values", "builtins.tuple": "a tuple of values",
    "builtins.dict": "a dict of values", "builtins.int": "an integer", "builtins.float": "a float",
    "builtins.str": "a string", "builtins.bool": "a boolean",
    "builtins.object": "the base class (object reconstruction)",
    "builtins.Ellipsis": "the ... constant", "builtins.NotImplemented": "a constant",
  ]

  /// Third-party globals that only build values (numpy arrays, dtypes and scalars).
  static let thirdParty: [String: String] = {
    var names: [String: String] = [
      "numpy.ndarray": "numpy array", "numpy.dtype": "numpy dtype",
      "numpy.random._pickle.__randomstate_ctor": "numpy random generator state",
      "numpy.random._pickle.__generator_ctor": "numpy random generator state",
      "numpy.random._pickle.__bit_generator_ctor": "numpy random generator state",
    ]
    // torch.distributed.checkpoint's .metadata: dataclasses of fields (the tensors' dtypes,
    // sizes, chunks and byte ranges), built by NEWOBJ + BUILD, running no code of the file's.
    for name in [
      "Metadata", "TensorStorageMetadata", "TensorProperties", "ChunkStorageMetadata",
      "BytesStorageMetadata", "MetadataIndex", "StorageMeta", "_MEM_FORMAT_ENCODING",
    ] {
      names["torch.distributed.checkpoint.metadata." + name] =
        "torch.distributed.checkpoint metadata dataclass (fields only)"
    }
    names["torch.distributed.checkpoint.filesystem._StorageInfo"] =
      "torch.distributed.checkpoint metadata dataclass (fields only)"
    for module in ["numpy.core.multiarray", "numpy._core.multiarray"] {
      names[module + "._reconstruct"] = "numpy array"
      names[module + ".scalar"] = "numpy scalar"
    }
    return names
  }()
}
