#!/usr/bin/env python3
"""Writes Sources/PTInspectCore/Scan/StdlibModules.swift: the top-level module names of CPython's
standard library for Python 3.8 to 3.14, as `sys.stdlib_module_names` gives them, plus the
modules CPython ships that that list leaves out on purpose (the `test` package and the test
extension modules), plus the Python 2 names that pickle's `fix_imports` maps (`_compat_pickle`).

`sys.stdlib_module_names` exists from 3.10 on and only for the running interpreter, so the table
is built from this interpreter's list (it must be 3.10 or later) corrected by the documented
additions and removals of each other version (the "New modules" and "Removed" sections of
What's New in Python 3.9 ... 3.14, and the platform-specific names that only show on another OS are
in the list on every OS already). The union is kept: a name that was standard library in any of
those versions is a module an unpickler on that version imports from the standard library.

Run:  python3 scripts/gen_stdlib_modules.py   (rewrites the Swift file; commit both)
Nothing is imported but sys and _compat_pickle.
"""
import _compat_pickle
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Sources/PTInspectCore/Scan/StdlibModules.swift"

# Top-level names that appeared in a version, relative to the one before it.
ADDED = {
    "3.9": ["graphlib", "zoneinfo", "_zoneinfo", "_peg_parser", "_aix_support", "_bootsubprocess"],
    "3.10": [],
    "3.11": ["tomllib", "_tokenize", "_typing"],
    "3.12": ["_pydatetime", "_pylong", "_wmi", "_sha2"],
    "3.13": ["_pyrepl", "_colorize", "_interpchannels", "_interpqueues", "_interpreters",
             "_suggestions", "_sysconfig", "_apple_support", "_android_support", "_ios_support",
             "_opcode_metadata", "_pyrepl", "_pydecimal"],
    "3.14": ["annotationlib", "compression", "_zstd", "_remote_debugging", "_hmac",
             "_py_warnings", "_pyio", "_types", "_interpreters"],
}
# Top-level names that were removed in a version (so they exist in the versions before it).
REMOVED = {
    "3.9": ["_dummy_thread", "dummy_threading"],
    "3.10": ["formatter", "parser", "symbol", "_peg_parser"],
    "3.11": ["binhex"],
    "3.12": ["asynchat", "asyncore", "distutils", "imp", "smtpd"],
    "3.13": ["aifc", "audioop", "cgi", "cgitb", "chunk", "crypt", "imghdr", "mailcap", "msilib",
             "nis", "nntplib", "ossaudiodev", "pipes", "sndhdr", "spwd", "sunau", "telnetlib", "uu",
             "xdrlib", "lib2to3", "_crypt", "_msi", "_ossaudiodev", "tkinter.tix"],
    "3.14": [],
}
# Shipped with CPython but left out of sys.stdlib_module_names ("test modules are excluded").
SHIPPED_NOT_LISTED = [
    "test", "_testcapi", "_testinternalcapi", "_testbuffer", "_testimportmultiple",
    "_testmultiphase", "_testsinglephase", "_testclinic", "_testclinic_limited", "_testconsole",
    "_testlimitedcapi", "_testexternalinspection", "_xxtestfuzz", "_xxsubinterpreters",
    "_xxinterpchannels", "_xxinterpqueues", "xxlimited", "xxlimited_35", "xxsubtype", "_ctypes_test",
    "__hello__", "__phello__", "_testcapi_feature_macros", "_testinternalcapi",
]
# Python 2 standard-library modules with no Python 3 mapping: an unpickler on Python 3 fails to
# import them, but they are standard library (commands.getoutput was the classic payload).
PYTHON2_ONLY = [
    "commands", "popen2", "posixfile", "new", "sets", "dircache", "statvfs", "user", "md5", "sha",
    "mimetools", "rfc822", "htmllib", "sgmllib", "compiler", "exceptions", "thread", "dummy_thread",
    "cPickle", "cStringIO", "StringIO", "urllib2", "urlparse", "httplib", "SocketServer",
    "SimpleHTTPServer", "CGIHTTPServer", "BaseHTTPServer", "Cookie", "cookielib", "xmlrpclib",
    "SimpleXMLRPCServer", "DocXMLRPCServer", "robotparser", "anydbm", "dbhash", "dumbdbm", "gdbm",
    "whichdb", "ConfigParser", "Queue", "repr", "copy_reg", "__builtin__", "UserDict", "UserList",
    "UserString", "_winreg", "Tkinter", "tkMessageBox", "ttk", "Tix", "imputil", "ihooks",
    "rexec", "Bastion", "mutex", "multifile", "mhlib", "fpformat", "audiodev", "toaiff", "sunaudio",
    "linuxaudiodev", "cl", "sv", "gl", "al", "fl", "fm", "imgfile", "jpeg", "cd", "ic", "MacOS",
    "EasyDialogs", "future_builtins", "_abcoll", "markupbase", "HTMLParser", "htmlentitydefs",
    "email.MIMEText", "stringold", "strop",
]


def main():
    if sys.version_info < (3, 10):
        sys.exit("needs Python 3.10 or later (sys.stdlib_module_names)")
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    names = set(sys.stdlib_module_names)
    versions = ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14"]
    # The union over every version: this interpreter's list, every name added after it, every
    # name removed before or after it.
    for v in versions:
        names.update(n for n in ADDED.get(v, []) if "." not in n)
        names.update(n for n in REMOVED.get(v, []) if "." not in n)
    names.update(SHIPPED_NOT_LISTED)
    py2 = set(n.split(".")[0] for n in PYTHON2_ONLY) | set(_compat_pickle.IMPORT_MAPPING)
    py2 = {n.split(".")[0] for n in py2} - names

    def swift_set(items, indent="    "):
        out, line = [], indent
        for item in sorted(items):
            piece = f'"{item}", '
            if len(line) + len(piece) > 100:
                out.append(line.rstrip())
                line = indent
            line += piece
        if line.strip():
            out.append(line.rstrip())
        return "\n".join(out)

    def swift_map(pairs, indent="    "):
        return "\n".join(f'{indent}"{k}": "{v}",' for k, v in sorted(pairs.items()))

    name_map = {f"{m}\\n{n}": f"{m2}\\n{n2}" for (m, n), (m2, n2) in _compat_pickle.NAME_MAPPING.items()}
    text = f"""// StdlibModules.swift: GENERATED by scripts/gen_stdlib_modules.py (Python {here}); do not edit.
// The top-level module names of CPython's standard library, 3.8 to 3.14 (sys.stdlib_module_names
// of Python {here}, plus the documented additions and removals of each other version, plus the
// test modules CPython ships but leaves out of that list), and the Python 2 names pickle's
// fix_imports maps (_compat_pickle), so that a global from any of them is known to be standard
// library code.

enum StdlibModules {{
  /// Top-level names: `test` covers `test.support.script_helper`.
  static let names: Set<String> = [
{swift_set(names)}
  ]

  /// Python 2 standard-library names (`__builtin__`, `commands`, `urllib2`, ...).
  static let python2Names: Set<String> = [
{swift_set(py2)}
  ]

  /// `_compat_pickle.IMPORT_MAPPING`: Python 2 module -> Python 3 module, as `fix_imports` maps it.
  static let importMapping: [String: String] = [
{swift_map(_compat_pickle.IMPORT_MAPPING)}
  ]

  /// `_compat_pickle.NAME_MAPPING`: "module\\nname" -> "module\\nname".
  static let nameMapping: [String: String] = [
{swift_map(name_map)}
  ]
}}
"""
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)}: {len(names)} standard-library names, {len(py2)} Python 2 names",
          file=sys.stderr)


if __name__ == "__main__":
    main()
