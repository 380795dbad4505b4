"""Dump line tables and the interpreter's own offset -> line mapping.

For every code object (recursively through co_consts) of a few stdlib modules,
prints two lines:
    C <co_firstlineno> <line table bytes as hex, or '-' if empty>
    O <offset_bytes>:<line or -1> ...
The line table is co_lnotab (3.8/3.9) or co_linetable (3.10+). The mapping
comes from co_lines() (3.10+) or dis.findlinestarts (3.8/3.9): the interpreter
itself, never bpfspy's decoder. Runs on Python 3.8 and later.
"""
import dis
import importlib
import sys

MODULES = ["json.decoder", "argparse", "dis", "inspect", "asyncio.base_events", "typing",
           "email.message", "collections"]
MAX_CODE_OBJECTS = 4000


def code_objects(code):
    yield code
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            yield from code_objects(const)


def offsets_to_lines(co):
    if hasattr(co, "co_lines"):
        for start, end, line in co.co_lines():
            for off in range(start, end, 2):
                yield off, -1 if line is None else line
        return
    starts = list(dis.findlinestarts(co))
    i, line = 0, None
    for off in range(0, len(co.co_code), 2):
        while i < len(starts) and starts[i][0] <= off:
            line = starts[i][1]
            i += 1
        if line is not None:
            yield off, line


def line_table(co):
    return co.co_linetable if sys.version_info >= (3, 10) else co.co_lnotab


def main():
    out = sys.stdout
    count = 0
    for name in MODULES:
        mod = importlib.import_module(name)
        with open(mod.__file__, encoding="utf-8") as f:
            top = compile(f.read(), mod.__file__, "exec")
        for co in code_objects(top):
            table = line_table(co)
            out.write("C %d %s\n" % (co.co_firstlineno, table.hex() or "-"))
            out.write("O %s\n" % " ".join("%d:%d" % p for p in offsets_to_lines(co)))
            count += 1
            if count >= MAX_CODE_OBJECTS:
                return


main()
