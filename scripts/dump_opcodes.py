#!/usr/bin/env python3
"""Write Fixtures/pickle_opcodes.tsv from pickletools.opcodes (stdlib only).

Run from the repository root with any Python 3: `python3 scripts/dump_opcodes.py`.
Columns: code (two lowercase hex digits), name, proto (first protocol with the
opcode), argument (pickletools ArgumentDescriptor name, empty when none).
"""

import pickletools
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "Fixtures" / "pickle_opcodes.tsv"


def main():
    lines = ["code\tname\tproto\targument"]
    for op in pickletools.opcodes:
        code = op.code.encode("latin-1")
        assert len(code) == 1
        lines.append(f"{code[0]:02x}\t{op.name}\t{op.proto}\t{op.arg.name if op.arg is not None else ''}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
