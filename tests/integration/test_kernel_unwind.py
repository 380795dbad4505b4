"""The in-kernel CFI unwinder (--unwind kernel, the default).

The snapshot unwinder (user space, over a copy of the stack) is its oracle:
`--unwind compare` runs both on every sample and the summary says how many
stacks agree frame for frame. Default mode needs no frame pointers any more:
a C program built with -fomit-frame-pointer shows its whole call chain.
"""
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from helpers import interpreter, read_collapsed, run_bpfspy

DEEP_NATIVE = Path(__file__).resolve().parents[2] / "bench/workloads/deep_native.c"

# 40 levels of Python re-entering C through map(): ~26 KiB of C stack, more
# than the default 16 KiB snapshot holds.
REENTRY = """
def rec(n):
    return sum(map(rec, [n - 1])) if n else sum(range(2 * 10**8))
rec(40)
"""


# the frame layouts that matter to an unwinder: stripped and static, pyenv's shared libpython, the newest
INTERPRETERS = ["debian-3.11", "pyenv-3.12", "3.15"]


def summary_value(stderr, pattern):
    m = re.search(pattern, stderr)
    assert m, f"no match for {pattern!r} in:\n{stderr}"
    return [float(g) for g in m.groups()]


@pytest.mark.parametrize("label", INTERPRETERS)
def test_kernel_and_snapshot_unwinders_agree(tmp_path, label):
    python = interpreter(label)
    out = tmp_path / "out.txt"
    # 64 KiB copies: the oracle sees whole stacks, also in the process's first
    # milliseconds, before its tables are installed (longer under ASan)
    p = run_bpfspy(["record", "--native", "--unwind", "compare", "--stack-size", "65536", "-f", "collapsed",
                    "-o", out, "--", python, "-c", REENTRY], timeout=180, check=True)
    agree, compared = summary_value(p.stderr, r"agree on ([\d.]+)% of (\d+) stacks")
    reached, = summary_value(p.stderr, r"([\d.]+)% reached main/_start/clone")
    assert compared >= 50, p.stderr
    # Both unwinders read the same rows; a difference is a bug in one of them.
    assert agree >= 99.0, p.stderr
    # The first samples of a process can precede its tables: the 64 KiB copy
    # finishes the walk then.
    assert reached >= 95.0, p.stderr
    stacks = read_collapsed(out)
    deep = sum(c for s, c in stacks.items() if s.split(";").count("rec (<string>:3)") >= 40)
    assert deep >= 0.9 * sum(c for s, c in stacks.items() if "rec (<string>:3)" in s), stacks.most_common(3)


def test_nested_import_chain_reaches_start(tmp_path):
    """24 modules each importing the next, the last one spinning: every
    import level is ~8 C frames and a large eval frame, far beyond what a
    16 KiB stack copy holds; the kernel unwinder walks all of it."""
    depth = 24
    for i in range(1, depth):
        (tmp_path / f"chain_{i}.py").write_text(f"import chain_{i + 1}\n")
    (tmp_path / f"chain_{depth}.py").write_text(
        "import time\nend = time.time() + 4\nwhile time.time() < end:\n    sum(range(10000))\n")
    (tmp_path / "main.py").write_text("import chain_1\n")
    out = tmp_path / "out.txt"
    p = run_bpfspy(["record", "--native", "-f", "collapsed", "-o", out, "--", "/usr/bin/python3",
                    tmp_path / "main.py"], timeout=180, check=True)
    stacks = read_collapsed(out)
    spinning = {s: c for s, c in stacks.items() if f"chain_{depth}.py" in s}
    total = sum(spinning.values())
    assert total >= 200, p.stderr
    whole = sum(c for s, c in spinning.items()
                if s.startswith("_start;") and all(f"chain_{i}.py" in s for i in range(1, depth + 1)))
    cut = sum(c for s, c in spinning.items() if "[native truncated]" in s or "[no unwind table]" in s)
    # Samples taken before bpfspy installed the process's tables come from a
    # 16 KiB copy and are cut: 0-2 in a release build (>= 99.5 % whole), up to
    # ~0.1 s of them under ASan on a loaded CI machine (94.5 % of a 2 s run).
    # With 16 KiB copies alone, 0 % are whole here.
    assert whole >= 0.9 * total, (p.stderr, sorted(spinning.items(), key=lambda kv: kv[1])[:3])
    assert whole + cut == total, p.stderr


def test_no_frame_pointers_needed_in_default_mode(tmp_path):
    cc = shutil.which("gcc") or shutil.which("cc")
    exe = tmp_path / "deep_native"
    # make bench's unwinding workload: 31 levels of recursion over a spin, no frame pointers
    subprocess.run([cc, "-O2", "-fomit-frame-pointer", "-o", exe, DEEP_NATIVE], check=True)
    out = tmp_path / "out.txt"
    p = run_bpfspy(["record", "-f", "collapsed", "-o", out, "--", exe, "31", "2000000000"], check=True)
    stacks = read_collapsed(out)
    total = sum(stacks.values())
    from_main = sum(c for s, c in stacks.items() if "main;" in s and s.count("recurse") >= 30 and s.endswith("spin"))
    assert total >= 50, p.stderr
    # all but the samples taken before bpfspy installed the process's tables
    assert from_main >= 0.99 * total, (p.stderr, stacks.most_common(4))
    assert "reached the program's entry" in p.stderr, p.stderr


def test_snapshot_mode_still_available(tmp_path):
    out = tmp_path / "out.txt"
    p = run_bpfspy(["record", "--native", "--unwind", "snapshot", "-f", "collapsed", "-o", out,
                    "--", "/usr/bin/python3", "-c", "sum(range(3 * 10**7))"], check=True)
    assert "unwound in the kernel" not in p.stderr, p.stderr
    assert sum(read_collapsed(out).values()) > 0


def test_bad_unwind_mode_is_one_clear_line():
    p = run_bpfspy(["record", "--unwind", "sideways", "--", "true"])
    assert p.returncode == 2 or p.returncode == 1, p
    assert "invalid --unwind 'sideways'" in p.stderr, p.stderr


def test_python_process_tables_only_when_a_sample_needs_them(tmp_path):
    """Without --native a sample with Python frames shows only them: attached to a process busy in Python,
    bpfspy builds no unwind tables for it (the interpreter's are tens of ms of its start-up); with --native
    it does, and a launched interpreter, whose start-up is all native samples, gets them at once."""
    python = interpreter("debian-3.11")
    busy = subprocess.Popen([python, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        out = tmp_path / "out.txt"
        default = run_bpfspy(["record", "-v", "-p", busy.pid, "-d", "1", "-f", "raw", "-o", out], check=True)
        assert "unwind tables:" not in default.stderr, default.stderr
        # CPU-time samples of 1 s at 100 Hz: the spinner shares the CPUs with whatever else runs
        assert sum(read_collapsed(out).values()) >= 20, default.stderr
        native = run_bpfspy(["record", "-v", "--native", "-p", busy.pid, "-d", "1", "-f", "raw", "-o", out],
                            check=True)
        [installs] = summary_value(native.stderr, r"unwind tables: (\d+) installs")
        assert installs >= 1, native.stderr
    finally:
        busy.kill()
        busy.wait()
    # long enough for a sanitizer build to install them before the process ends (how complete the
    # start-up stacks are is test_nested_import_chain_reaches_start's business)
    launched = run_bpfspy(["record", "-v", "-f", "raw", "-o", out, "--", python, "-c",
                           "import json, decimal; sum(range(10**8))"], check=True)
    [installs] = summary_value(launched.stderr, r"unwind tables: (\d+) installs")
    assert installs >= 1, launched.stderr
