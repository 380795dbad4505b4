"""Shared helpers for bpfspy integration tests: run the real binary, read its output."""
import contextlib
import json
import os
import re
import shutil
import subprocess
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BPFSPY = os.environ.get("BPFSPY", str(ROOT / "build" / "bpfspy"))
# the tool of the same build as bpfspy (an ASan bpfspy is tested with an ASan tool)
TOP_PACKAGES = Path(os.environ.get("BPFSPY_BUILD", str(ROOT / "build"))) / "tools" / "speedscope_top_packages"
SHARED = Path(os.environ.get("SHARED", ROOT.parent / "shared"))
EXTRAS = Path(os.environ.get("EXTRAS", "/opt/bpfspy-extras"))
# the real speedscope app in headless Chromium (tests/e2e/speedscope-check, installed by make deps)
SPEEDSCOPE_CHECK = Path(os.environ.get("SPEEDSCOPE_CHECK", ROOT / "tests" / "e2e" / "speedscope-check" / "speedscope-check"))

PYENV = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions"


# the one list of interpreters, shared with the C tests (see its header)
MANIFEST = ROOT / "tests" / "interpreters.tsv"


def pyenv_newest(minor, rel):
    """rel under pyenv's newest 3.<minor>.<patch> that has it, or None (3.12.10 is newer than 3.12.9)."""
    found = []
    for d in PYENV.glob(f"3.{minor}.*"):
        m = re.fullmatch(rf"3\.{minor}\.(\d+)", d.name)
        if m and (d / rel).exists():
            found.append((int(m.group(1)), d / rel))
    return str(max(found)[1]) if found else None


def manifest():
    """[(label, minor, path or None, required)] from tests/interpreters.tsv, in its order."""
    rows = []
    for line in MANIFEST.read_text().splitlines():
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        label, minor, source, rel, required = fields
        if source == "pyenv":
            path = pyenv_newest(int(minor), rel)
        elif source == "extras":
            path = str(EXTRAS / rel)
        else:
            path = rel
        rows.append((label, int(minor), path, required == "yes"))
    return rows


def interpreters():
    """(label, path, required) for every CPython this suite targets."""
    out = [(label, path, required) for label, _, path, required in manifest()]
    # BPFSPY_TEST_PYTHONS=label,label narrows the matrices (make test-asan: one CPython per frame layout)
    only = os.environ.get("BPFSPY_TEST_PYTHONS")
    if only:
        out = [i for i in out if i[0] in only.split(",")]
    return out


def interpreter(label):
    """The path of the manifest's interpreter `label`: skips when an optional one is missing, fails for a required one."""
    for name, path, required in interpreters():
        if name == label:
            if path and os.access(path, os.X_OK):
                return path
            if required:
                pytest.fail(f"{label}: required interpreter missing ({path}); make deps installs it")
            pytest.skip(f"{label} is not installed")
    pytest.skip(f"{label} is not in this run's interpreters (BPFSPY_TEST_PYTHONS)")


def run_bpfspy(args, timeout=120, check=False, **kw):
    cmd = [BPFSPY] + [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def load_speedscope(path):
    with open(path) as f:
        return json.load(f)


class Profile:
    """A speedscope file reduced to weighted stacks of frame dicts, root first."""

    def __init__(self, doc):
        self.doc = doc
        self.frames = doc["shared"]["frames"]
        self.stacks = []  # (profile name, [frame dicts], weight)
        for prof in doc["profiles"]:
            assert prof["type"] == "sampled", prof["type"]
            for sample, weight in zip(prof["samples"], prof["weights"]):
                self.stacks.append((prof["name"], [self.frames[i] for i in sample], weight))

    @classmethod
    def read(cls, path):
        return cls(load_speedscope(path))

    def total(self, pred=lambda name: True):
        return sum(w for n, _, w in self.stacks if pred(n))

    def profile_names(self):
        return [p["name"] for p in self.doc["profiles"]]

    def share_of(self, func, pred=lambda name: True, leaf=False):
        """Fraction of weight whose stack contains (or, with leaf, ends in) a frame named func."""
        total = self.total(pred)
        hit = 0
        for n, frames, w in self.stacks:
            if not pred(n):
                continue
            names = [f["name"] for f in frames]
            if (leaf and names and names[-1] == func) or (not leaf and func in names):
                hit += w
        return hit / total if total else 0.0

    def stacks_containing(self, func):
        return [frames for _, frames, _ in self.stacks if any(f["name"] == func for f in frames)]


def read_collapsed(path):
    out = Counter()
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            stack, _, count = line.rpartition(" ")
            out[stack] += int(count)
    return out


def speedscope_check(path, *extra):
    if not SPEEDSCOPE_CHECK.exists():
        raise AssertionError(f"speedscope-check not found at {SPEEDSCOPE_CHECK}")
    p = subprocess.run([str(SPEEDSCOPE_CHECK), str(path), *extra], capture_output=True, text=True, timeout=600)
    return p


def build_c(src, out, *flags):
    # clang: gcc 12 drops the frame pointer of leaf functions despite -mno-omit-leaf-frame-pointer
    cc = shutil.which("clang") or shutil.which("cc")
    subprocess.run([cc, "-O1", "-g", "-fno-omit-frame-pointer", "-fno-optimize-sibling-calls", "-mno-omit-leaf-frame-pointer", *flags, "-o", str(out), str(src)], check=True)
    return out


def thread_state(pid, tid):
    """The /proc state letter of one thread, None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2]


# x86-64 syscalls time.sleep blocks in, by CPython version and libc: poll, select, nanosleep,
# clock_nanosleep, pselect6, ppoll
SLEEP_SYSCALLS = frozenset({7, 23, 35, 230, 270, 271})


def thread_syscall(pid, tid):
    """The number of the syscall a blocked thread is in, None while it runs (or once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/task/{tid}/syscall").read_text().split()
    except OSError:
        return None
    return int(fields[0]) if fields and fields[0].isdigit() else None


@contextlib.contextmanager
def blocked_python(param, script, text, threads_blocked=lambda pid: [pid], sleeping_in=None):
    """Runs script (written with text) under the interpreter param = (label, path, required) from
    interpreters(); the program prints "ready" and then blocks. Yields the process once the kernel
    says every thread threads_blocked(pid) names is sleeping, and, given sleeping_in (syscall
    numbers), sleeping in one of them: a thread that waits for the GIL after "ready" sleeps too,
    in a futex. Skips absent optional interpreters."""
    import pytest
    label, path, required = param
    if not path or not Path(path).exists():
        if required:
            pytest.fail(f"{label} is required but missing ({path}); run make deps")
        pytest.skip(f"{label}: interpreter not installed")
    script.write_text(text)
    proc = subprocess.Popen([path, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        deadline = time.time() + 10
        while time.time() < deadline and not all(
                thread_state(proc.pid, t) == "S" and (sleeping_in is None or thread_syscall(proc.pid, t) in sleeping_in)
                for t in threads_blocked(proc.pid)):
            time.sleep(0.05)
        yield proc
    finally:
        proc.kill()
        proc.wait()
