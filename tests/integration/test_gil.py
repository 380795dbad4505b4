# SPDX-License-Identifier: MIT
"""--gil on every CPython, launched and attached (issue 17).

A CPU-bound single-threaded program holds the GIL all the time it runs Python,
so `record --gil` must keep (almost) all of its samples. 3.12+ keep the GIL in
the interpreter; a launched process is detected before Py_Initialize has made
it, so BPF finds it through the sampled thread's own interpreter at each
sample (it used to drop every sample of a launched 3.14/3.15).
"""
import re
import subprocess
import time
from pathlib import Path

import pytest

from helpers import interpreters, run_bpfspy

SPIN = Path(__file__).parent / "progs" / "py" / "spin_forever.py"
CASES = [pytest.param(path, id=label) for label, path, _ in interpreters()]


def kept_share(stderr):
    """Samples kept / (kept + dropped by --gil), from bpfspy's summary."""
    kept = int(re.search(r"^bpfspy: (\d+) samples? from", stderr, re.M).group(1))
    m = re.search(r"--gil dropped (\d+) samples", stderr)
    dropped = int(m.group(1)) if m else 0
    assert kept + dropped > 50, stderr
    return kept / (kept + dropped)


def need(path):
    if not path or not Path(path).exists():
        pytest.skip(f"interpreter not installed: {path}")


@pytest.mark.parametrize("python", CASES)
def test_gil_keeps_a_launched_cpu_bound_run(python, tmp_path):
    need(python)
    out = tmp_path / "gil.txt"
    # spin_forever runs until -d ends it: start-up is a few % of the 2 s window
    p = run_bpfspy(["record", "--gil", "-r", "200", "-d", "2", "-f", "collapsed", "-o", out, "--", python, SPIN],
                   timeout=120)
    assert p.returncode in (0, 130, 143, -2), p.stderr
    share = kept_share(p.stderr)
    assert share >= 0.90, (share, p.stderr)
    assert "spin_forever" in out.read_text()


@pytest.mark.parametrize("python", CASES)
def test_gil_keeps_an_attached_cpu_bound_run(python, tmp_path):
    need(python)
    proc = subprocess.Popen([python, str(SPIN)])
    try:
        time.sleep(0.5)
        out = tmp_path / "gil.txt"
        p = run_bpfspy(["record", "--gil", "-r", "200", "-d", "1.5", "-p", proc.pid, "-f", "collapsed", "-o", out],
                       timeout=120, check=True)
        share = kept_share(p.stderr)
        assert share >= 0.90, (share, p.stderr)
        assert "spin_forever" in out.read_text()
    finally:
        proc.kill()
        proc.wait()
