#!/usr/bin/env python3
"""Write Fixtures/numpy/ with NumPy itself (np.save, np.savez, np.savez_compressed,
np.lib.format.write_array for header versions 2 and 3), and numpy's own answers beside each
file (<name>.expected.json: every array's name, dtype descr, shape, Fortran order and values).

    python3 scripts/make_numpy_fixtures.py        (numpy 2.x; nothing else)

The object-array fixtures are pickles NumPy writes with allow_pickle=True; hostile_* ones hold
a global (os.system) the stand-in class only names: nothing is run to write them, and nothing
must ever np.load them with allow_pickle=True.
"""

import json
import os
import sys
import zipfile

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures", "numpy")


def describe(name, a):
    return {
        "name": name,
        "descr": np.lib.format.dtype_to_descr(a.dtype),
        "shape": list(a.shape),
        "fortran_order": bool(a.flags.f_contiguous and not a.flags.c_contiguous),
        "values": None if a.dtype.hasobject or a.dtype.kind in "USVMm" else
        [float(x) if a.dtype.kind == "f" else (bool(x) if a.dtype.kind == "b" else
                                                 int(x)) for x in a.ravel(order="C")]
        if a.dtype.kind != "c" else [abs(complex(x)) for x in a.ravel(order="C")],
    }


def expect(path, arrays):
    with open(path + ".expected.json", "w") as f:
        json.dump({"numpy": np.__version__, "arrays": [describe(n, a) for n, a in arrays]}, f,
                  indent=1, sort_keys=True)
        f.write("\n")


class Evil:
    """Pickles as a call of os.system; never called."""

    def __reduce__(self):
        return (os.system, ("echo ptinspect-hostile",))


def main():
    os.makedirs(OUT, exist_ok=True)
    p = lambda n: os.path.join(OUT, n)
    rng = np.random.default_rng(0)
    arrays = {
        "weights.npy": rng.standard_normal((3, 4)).astype("<f4"),
        "fortran_i64.npy": np.asfortranarray(np.arange(6, dtype="<i8").reshape(2, 3)),
        "bigendian_f8.npy": np.array([1.5, -2.25, 3.0, 1e10, -0.0], dtype=">f8"),
        "scalar_f2.npy": np.array(0.5, dtype="<f2"),
        "bool.npy": np.array([True, False, True]),
        "complex64.npy": np.array([3 + 4j, 1j], dtype="<c8"),
        "uint16.npy": np.array([[1, 65535]], dtype="<u2"),
        "strings.npy": np.array(["ab", "cde"]),
    }
    for name, a in arrays.items():
        np.save(p(name), a)
        expect(p(name), [("array", a)])
    for version in [(2, 0), (3, 0)]:
        name = f"header_v{version[0]}.npy"
        a = np.arange(5, dtype="<i4")
        with open(p(name), "wb") as f:
            np.lib.format.write_array(f, a, version=version)
        expect(p(name), [("array", a)])
    members = {"embeddings": rng.standard_normal((4, 2)).astype("<f4"),
               "ids": np.arange(4, dtype="<i8"),
               "mask": np.array([[True, False]])}
    np.savez(p("arrays.npz"), **members)
    expect(p("arrays.npz"), list(members.items()))
    np.savez_compressed(p("compressed.npz"), **members)
    expect(p("compressed.npz"), list(members.items()))
    benign = np.array([{"lr": 0.1}, [1, 2], "text", None], dtype=object)
    np.save(p("object_benign.npy"), benign, allow_pickle=True)
    expect(p("object_benign.npy"), [("array", benign)])
    np.savez(p("hostile_object.npz"), ok=np.arange(3, dtype="<f4"),
             payload=np.array([Evil()], dtype=object), allow_pickle=True)
    expect(p("hostile_object.npz"), [("ok", np.arange(3, dtype="<f4")),
                                     ("payload", np.array([None], dtype=object))])
    np.save(p("hostile_object.npy"), np.array([Evil()], dtype=object), allow_pickle=True)
    expect(p("hostile_object.npy"), [("array", np.array([None], dtype=object))])
    # A header that says more data follows than the file holds.
    with open(p("weights.npy"), "rb") as f:
        data = f.read()
    with open(p("lying_header.npy"), "wb") as f:
        f.write(data[:-8])
    for name in sorted(os.listdir(OUT)):
        if name.endswith((".npy", ".npz")):
            print(f"{name}: {os.path.getsize(p(name))} bytes")


if __name__ == "__main__":
    sys.exit(main())
