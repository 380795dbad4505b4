"""Where the BPF programs' kernel struct offsets come from: the minimal BTF the
build cut for this kernel, or the kernel's whole BTF (another kernel, or
--btf). Either way the offsets must be right: the thread-state match reads
task->thread.fsbase, the process events read task->tgid, exit_code."""
import os
from pathlib import Path

import pytest

from helpers import BPFSPY, read_collapsed, run_bpfspy

BUILD = Path(os.environ.get("BPFSPY_BUILD", Path(BPFSPY).parent))
PROGRAM = """
import os, subprocess, sys
def spin():
    end = sum(range(30000000))
    return end
spin()
subprocess.run([sys.executable, "-c", "import sys; sys.exit(3)"])
"""


def built_for_this_kernel():
    """The identity the build wrote next to its minimal BTF, as the kernel reports it now."""
    ident = BUILD / "sampler.min.btf.kernel"
    if not ident.exists() or not ident.read_text():
        return False
    release, size, _build_id = ident.read_text().split("\n")[:3]
    return release == os.uname().release and int(size) == os.stat("/sys/kernel/btf/vmlinux").st_size


@pytest.mark.parametrize("btf", ["default", "whole"])
def test_python_frames_and_process_events_with_either_btf(tmp_path, btf):
    out = tmp_path / "out.txt"
    args = ["record", "-v", "-r", "500", "-f", "raw", "-o", out]
    if btf == "whole":
        args += ["--btf", "/sys/kernel/btf/vmlinux"]
    p = run_bpfspy(args + ["--", "/usr/bin/python3", "-c", PROGRAM])
    assert p.returncode == 0, p.stderr
    if btf == "whole":
        assert "kernel types from /sys/kernel/btf/vmlinux" in p.stderr, p.stderr
    elif built_for_this_kernel():
        assert "kernel types from the minimal BTF built for this kernel" in p.stderr, p.stderr
    else:
        assert "bpfspy was built on another kernel" in p.stderr, p.stderr
    stacks = read_collapsed(out)
    spin = sum(n for stack, n in stacks.items() if any(f.startswith("spin") for f in stack.split(";")))
    assert spin >= 50, f"{spin} samples in spin(): the thread state was not found\n{p.stderr}"
    # the child python was followed through fork/exec (task->tgid read right) and its exit seen
    assert "2 processes" in p.stderr, p.stderr
