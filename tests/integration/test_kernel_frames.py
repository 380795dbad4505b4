# SPDX-License-Identifier: MIT
"""--kernel: kernel frames under the user ones (py-spy has no such option; perf -g is the reference).

The BPF program with kernel stacks enabled must load (a verifier bound on
the sample buffer offset once stopped it: "Permission denied" for every
--kernel run), and a sleeping Python function's off-CPU time (--idle) must
carry the kernel path it sleeps in: the nanosleep syscall down to schedule().
"""
import re

from helpers import read_collapsed, run_bpfspy

SLEEPER = """
import time
def nap():
    time.sleep(0.5)
nap()
"""


def test_kernel_frames_load_and_show_where_a_sleep_waits(tmp_path):
    out = tmp_path / "kernel.txt"
    p = run_bpfspy(["record", "--kernel", "-i", "-f", "collapsed", "-o", out, "--", "/usr/bin/python3", "-c", SLEEPER],
                   timeout=120, check=True)
    stacks = read_collapsed(out)
    nap = {s: w for s, w in stacks.items() if ";nap (" in s and s.endswith("[sleep]")}
    assert nap, p.stderr
    total = sum(nap.values())
    assert total >= 0.4e9, (total, p.stderr)  # nanoseconds of the 0.5 s sleep
    in_kernel = sum(w for s, w in nap.items()
                    if re.search(r"nanosleep[^;]*_\[k\];.*schedule_\[k\]", s))
    assert in_kernel >= 0.9 * total, nap


def test_kernel_frames_without_idle_load(tmp_path):
    out = tmp_path / "kernel.txt"
    run_bpfspy(["record", "--kernel", "-d", "1", "-f", "collapsed", "-o", out, "--", "/usr/bin/python3", "-c",
                "import time\nt = time.time()\nwhile time.time() - t < 0.5: pass"], timeout=120, check=True)
    assert sum(read_collapsed(out).values()) > 0
