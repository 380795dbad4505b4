# SPDX-License-Identifier: MIT
"""`bpfspy dump --native` (py-spy's `dump -n`): a blocked thread's native stack,
unwound from the registers it saved entering the kernel, merged with its Python
frames, on every CPython (issue 17).

The reference is py-spy's `dump --native`: the wait syscall's libc wrapper
(clock_nanosleep for time.sleep) is the innermost frame, the C function of
the module that called it (time.sleep / time_sleep) above it, then the Python
frames, and the program's entry at the root. A thread running on a CPU as it
is read keeps its Python frames and says why (bpfspy does not pause it).
"""
import json
import re

import pytest

from helpers import SLEEP_SYSCALLS, blocked_python, interpreters, run_bpfspy

PROGRAM = '''\
import threading, time

def sleeping_here():
    time.sleep(1000)

def spinning_here():
    while True:
        pass

threading.Thread(target=spinning_here, name="spinner", daemon=True).start()
print("ready", flush=True)
sleeping_here()
'''
# the wait syscall a sleeping CPython is in, by libc wrapper name
WAITS = re.compile(r"clock_nanosleep|nanosleep|__select|select|poll")


@pytest.fixture(params=[pytest.param(i, id=i[0]) for i in interpreters()])
def program(request, tmp_path):
    # the spinner holds the GIL: after "ready" the main thread first waits for it, then sleeps
    with blocked_python(request.param, tmp_path / "prog.py", PROGRAM, sleeping_in=SLEEP_SYSCALLS) as proc:
        yield proc


def main_thread(doc, pid):
    [t] = [t for t in doc["threads"] if t["tid"] == pid]
    return t


def test_sleeping_thread_shows_the_wait_syscall_under_its_python_frames(program):
    doc = json.loads(run_bpfspy(["dump", "-p", program.pid, "--native", "--json"], timeout=60, check=True).stdout)
    frames = main_thread(doc, program.pid)["frames"]  # most recent call last
    names = [f["name"] for f in frames]
    assert "sleeping_here" in names and "<module>" in names, names
    python = [i for i, f in enumerate(frames) if not f["native"]]
    native = [i for i, f in enumerate(frames) if f["native"]]
    assert native, names
    # the innermost frames are native, the wait syscall's wrapper among them, below the last Python frame
    inner = frames[max(python) + 1:]
    assert inner and all(f["native"] for f in inner), names
    assert any(WAITS.search(f["name"]) for f in inner), names
    assert any(f["file"] and "libc" in f["file"] for f in inner), inner
    # the root is the program's entry (or libc's start), native too
    assert frames[0]["native"] and min(native) < min(python), names
    assert any(n in ("_start", "__libc_start_main", "__libc_start_call_main", "Py_BytesMain", "main")
               for n in names[:min(python)]), names


def test_text_output_marks_native_frames(program):
    out = run_bpfspy(["dump", "-p", program.pid, "-n"], timeout=60, check=True).stdout
    block = out.split(f"Thread {program.pid} ", 1)[1].split("\nThread ", 1)[0]
    lines = block.splitlines()
    sleep_at = next(i for i, l in enumerate(lines) if l.endswith("in sleeping_here"))
    below = [l for l in lines[sleep_at + 1:] if l.startswith("  [native] ")]
    assert below and any(WAITS.search(l) for l in below), block


def test_running_thread_keeps_its_python_frames_with_a_note(program):
    doc = json.loads(run_bpfspy(["dump", "-p", program.pid, "--native", "--json"], timeout=60, check=True).stdout)
    others = [t for t in doc["threads"] if t["tid"] != program.pid]
    assert len(others) == 1
    spinner = others[0]
    names = [f["name"] for f in spinner["frames"]]
    assert "spinning_here" in names, spinner
    # on a CPU as it was read: Python frames only, and the reason; else (preempted) a full merged stack
    if spinner.get("native_note"):
        assert not any(f.get("native") for f in spinner["frames"]), spinner
    else:
        assert any(f.get("native") for f in spinner["frames"]), spinner


def test_without_native_nothing_changes(program):
    doc = json.loads(run_bpfspy(["dump", "-p", program.pid, "--json"], timeout=60, check=True).stdout)
    frames = main_thread(doc, program.pid)["frames"]
    assert frames and all("native" not in f for f in frames)
    assert [f["name"] for f in frames][-1] == "sleeping_here"
