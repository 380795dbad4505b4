# SPDX-License-Identifier: MIT
"""Build-ids are normalized while the target runs, not re-read when a file is written.

The target is a copy of the interpreter that replaces its own binary on disk
(as a package upgrade does) before it burns CPU: a build-id read by path at
write time would be the new file's. The pprof written at the end of the
recording, and the one `bpfspy convert` writes from the speedscope file in
another directory after the copy is deleted, must both name the running
file's build-id, and every other mapping's must equal `readelf -n` of its file.
"""
import os
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from helpers import interpreter, run_bpfspy

REPLACE_ITSELF_THEN_SPIN = """
    import hashlib, os, shutil, sys, time
    exe = sys.argv[1]
    shutil.copy("/bin/true", exe + ".new")
    os.rename(exe + ".new", exe)  # another file takes the path of the running binary
    t = time.time()
    while time.time() - t < 2.5:
        hashlib.sha256(b"x" * 200000).digest()
        sum(i * i for i in range(20000))
"""


def readelf_build_id(path):
    notes = subprocess.run(["readelf", "-n", str(path)], capture_output=True, text=True).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", notes)
    return m.group(1) if m else None


def pprof_mappings(path):
    """{file: build-id or None} from the Mappings of `go tool pprof -raw`."""
    go = shutil.which("go")
    if not go:
        pytest.skip("go not installed (apt-get install golang-go)")
    env = dict(os.environ, HOME=os.environ.get("HOME", "/root"), PPROF_TMPDIR="/tmp")
    p = subprocess.run([go, "tool", "pprof", "-raw", str(path)], capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr
    raw = p.stdout
    out = {}
    for line in raw.split("Mappings", 1)[1].splitlines():
        m = re.match(r"\s*\d+: \S+ (\S+)(?: ([0-9a-f]+))? \[", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def check_mappings(mappings, copy, running_id):
    """The copy's build-id is the running file's; every other file's is readelf's. Returns how many were compared."""
    assert mappings.get(str(copy)) == running_id, mappings
    compared = 1
    for file, build_id in mappings.items():
        if file == str(copy) or not os.path.isfile(file):
            continue
        assert build_id == readelf_build_id(file), (file, build_id)
        compared += 1
    return compared


@pytest.mark.parametrize("label", ["debian-3.11", "3.14"])
def test_build_ids_of_a_replaced_and_deleted_binary(label, tmp_path):
    python = interpreter(label)
    copy = tmp_path / "bin" / "python-copy"
    copy.parent.mkdir()
    shutil.copy(python, copy)
    running_id = readelf_build_id(copy)
    assert running_id and running_id != readelf_build_id("/bin/true")
    script = tmp_path / "workload.py"
    script.write_text(textwrap.dedent(REPLACE_ITSELF_THEN_SPIN))
    rec = tmp_path / "rec.json"
    # the copy finds its standard library through PYTHONHOME, not next to itself
    env = dict(os.environ, PYTHONHOME=str(Path(python).parents[1]))
    p = run_bpfspy(["record", "--native", "-r", "499", "-f", "speedscope", "-f", "pprof", "-o", rec,
                    "--", copy, script, copy], timeout=300, env=env)
    assert p.returncode == 0, p.stderr
    assert readelf_build_id(copy) == readelf_build_id("/bin/true")  # the workload did replace it

    recorded = pprof_mappings(tmp_path / "rec.pb.gz")
    n = check_mappings(recorded, copy, running_id)

    # later, elsewhere: the binary gone, only the speedscope file left
    copy.unlink()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.move(rec, elsewhere / "rec.json")
    run_bpfspy(["convert", elsewhere / "rec.json", "-f", "pprof", "-o", elsewhere / "conv.pb.gz"], check=True)
    converted = pprof_mappings(elsewhere / "conv.pb.gz")
    assert converted == recorded
    print(f"{label}: {len(recorded)} mappings, {n} build-ids equal to readelf -n, "
          f"{copy.name} {running_id}")
