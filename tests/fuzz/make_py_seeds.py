#!/usr/bin/env python3
"""Writes seed corpora for the CPython fuzz harnesses from real interpreters.

    tests/fuzz/make_py_seeds.py PYTHON...      (default: every interpreter found)

Run it with any python3; it runs each PYTHON as a child to dump that
interpreter's own objects, so the seeds are byte-for-byte what bpfspy reads
from a live process:

  corpus/py_linetable/     line tables of a few real functions (input format
                           of fuzz_py_linetable.c: minor, kind, lasti, firstlineno, table)
  corpus/py_strings/       str objects (ASCII, Latin-1, UCS-2, UCS-4) as raw memory
  corpus/py_code_objects/  a code object with its strings and line table
                           copied into one image, pointers rebased (fuzz_py_code_objects.c)
  corpus/py_debug_offsets/ the first PY_DEBUG_OFFSETS_MAX bytes of .PyRuntime (3.13+)
"""
import glob
import hashlib
import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
DEBUG_OFFSETS_MAX = 0x400  # PY_DEBUG_OFFSETS_MAX in user/python/py_layout.h
IMAGE_BASE = 0x100000      # must match fuzz_py_code_objects.c

# Runs inside the target interpreter: prints one line per seed, "kind hex".
DUMPER = r'''
import ctypes, struct, sys, sysconfig

def raw(obj):
    return ctypes.string_at(id(obj), sys.getsizeof(obj))

def sample(a, b=2):
    x = a + b
    for i in range(3):
        x += i
    try:
        x = x // b
    except ZeroDivisionError:
        x = -1
    return x

def ünïcödé_函数():
    return "💥"

class Klass:
    def method(self):
        return [i * i for i in range(2)]

codes = [sample.__code__, ünïcödé_函数.__code__, Klass.method.__code__, raw.__code__]
minor = sys.version_info[1]
ft = 1 if sysconfig.get_config_var("Py_GIL_DISABLED") else 0
for co in codes:
    table = co.co_linetable if minor >= 10 else co.co_lnotab
    print("linetable", minor, co.co_firstlineno, len(co.co_code), table.hex())
for s in ["sample", "/usr/lib/python3/é.py", "函数_name", "💥emoji\U0010ffff"]:
    s = "".join(list(s))  # a fresh compact object, not a shared constant
    print("string", minor, ft, raw(s).hex())

# A code object and what it points to, as one image the harness maps at BASE, after
# the layout (u16 offsets) found by looking for known values in the object's header.
BASE = %d
HEADER = 0x200
for co in codes[:2]:
    co = co.replace(co_firstlineno=31337)
    head = bytearray(ctypes.string_at(id(co), HEADER))
    image = bytearray(head)
    def append(obj):
        global image
        while len(image) %% 16:
            image.append(0)
        addr = BASE + len(image)
        image += raw(obj)
        return addr
    table = co.co_linetable if minor >= 10 else co.co_lnotab
    qualname = getattr(co, "co_qualname", None)
    fields = {"type": type(co), "filename": co.co_filename, "name": co.co_name,
              "qualname": qualname, "linetable": table}
    moves, offsets = {id(type(co)): 0x7eadbeef0000}, {}
    for obj in fields.values():
        if obj is not None and id(obj) not in moves:
            moves[id(obj)] = append(obj)
    for off in range(0, HEADER - 7, 8):
        (v,) = struct.unpack_from("<Q", head, off)
        for key, obj in fields.items():
            if obj is not None and v == id(obj) and key not in offsets:
                offsets[key] = off
        if v in moves:
            struct.pack_into("<Q", image, off, moves[v])
    offsets["firstlineno"] = next(o for o in range(0, HEADER - 3, 4)
                                  if struct.unpack_from("<i", head, o)[0] == 31337)
    rt = raw(table)
    offsets["bytes_size"] = next(o for o in range(0, 32, 8) if struct.unpack_from("<Q", rt, o)[0] == len(table))
    offsets["bytes_data"] = sys.getsizeof(b"") - 1
    layout = struct.pack("<8H", *[offsets.get(k, 0xffff) for k in
                         ["type", "filename", "name", "qualname", "linetable", "firstlineno",
                          "bytes_size", "bytes_data"]])
    print("code", minor, ft, (layout + image).hex())
'''


def interpreters():
    found = [p for p in sorted(glob.glob("/root/.pyenv/versions/3.*/bin/python3.*[0-9]"))
             if int(p.rsplit(".", 1)[1]) >= 8]  # bpfspy supports 3.8+
    found += ["/usr/bin/python3.11", "/opt/bpfspy-extras/root/usr/bin/python3.14",
              "/opt/bpfspy-extras/root/usr/bin/python3.15"]
    return [p for p in found if os.access(p, os.X_OK)]


def write_seed(name, data):
    d = CORPUS / name
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


def linetable_seed(minor, firstlineno, code_len, table):
    # enum py_lasti_kind of the version; lasti mid-function
    kind = 1 if minor <= 9 else 2 if minor == 10 else 3
    lasti = code_len // 2 if kind == 1 else code_len // 4
    return struct.pack("<BBqi", minor, kind, lasti, firstlineno) + table


def pyruntime_seed(python):
    """The .PyRuntime section of python or its libpython, cut to what bpfspy reads."""
    candidates = [python]
    ldd = subprocess.run(["ldd", python], capture_output=True, text=True).stdout
    candidates += [l.split("=>")[1].split()[0] for l in ldd.splitlines() if "libpython" in l and "=>" in l]
    for elf in candidates:
        with tempfile.NamedTemporaryFile() as out:
            r = subprocess.run(["objcopy", "-O", "binary", "--only-section=.PyRuntime", elf, out.name],
                               capture_output=True)
            data = Path(out.name).read_bytes()
            if r.returncode == 0 and data.startswith(b"xdebugpy"):
                return data[:DEBUG_OFFSETS_MAX]
    return None


def main(pythons):
    for py in pythons:
        out = subprocess.run([py, "-c", DUMPER % IMAGE_BASE], capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{py}: {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
            continue
        for line in out.stdout.splitlines():
            kind, *f = line.split()
            if kind == "linetable":
                minor, first, code_len, table = int(f[0]), int(f[1]), int(f[2]), bytes.fromhex(f[3] if len(f) > 3 else "")
                write_seed("py_linetable", linetable_seed(minor, first, code_len, table))
            elif kind == "string":
                write_seed("py_strings", bytes([int(f[0]) | int(f[1]) << 7]) + bytes.fromhex(f[2]))
            elif kind == "code":
                write_seed("py_code_objects", bytes([int(f[0]) | int(f[1]) << 7, 1]) + bytes.fromhex(f[2]))
        runtime = pyruntime_seed(py)
        if runtime:
            write_seed("py_debug_offsets", runtime)
        print(f"{py}: ok{' (+.PyRuntime)' if runtime else ''}")


if __name__ == "__main__":
    main(sys.argv[1:] or interpreters())
