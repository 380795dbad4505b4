"""Python thread names from threading's own table (issue 17, item 5), for every CPython.

py-spy is the reference: it reads ``threading._active`` (ident -> Thread) and
each Thread's ``_name``; its ``--threads`` root frame is ``thread (0xTID): NAME``
when it knows the name, and its ``dump --json`` key is ``thread_name``.
Names longer than the kernel's 15-byte comm must arrive whole.
"""
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from helpers import interpreters, read_collapsed, run_bpfspy

LONG_1 = "worker-with-a-long-name-1"
LONG_2 = "worker-with-a-long-name-2"
SLEEPER = "sleeper-naïve-名前"
CPU_NAMES = {"MainThread", LONG_1, LONG_2}

# Two CPU-bound named threads and a CPU-bound main thread. The second worker
# is a Thread subclass whose instance dict is materialised (3.11+ keep
# attributes outside a dict until then), the third sleeps under a non-ASCII name.
PROGRAM = '''\
import sys, threading, time

def spin(seconds):
    end = time.time() + seconds
    x = 0
    while time.time() < end:
        x += 1

class Worker(threading.Thread):
    def run(self):
        spin(float(sys.argv[1]))

a = threading.Thread(target=spin, args=(float(sys.argv[1]),), name="%s", daemon=True)
b = Worker(name="%s", daemon=True)
b.extra = 1
vars(b)["more"] = 2
c = threading.Thread(target=time.sleep, args=(1000,), name="%s", daemon=True)
for t in (a, b, c):
    t.start()
print("ready", flush=True)
spin(float(sys.argv[1]))
''' % (LONG_1, LONG_2, SLEEPER)


def _params():
    return [pytest.param(i, id=i[0]) for i in interpreters()]


@pytest.fixture(params=_params())
def python(request):
    label, path, required = request.param
    if not path or not Path(path).exists():
        if required:
            pytest.fail(f"{label} is required but missing ({path}); run make deps")
        pytest.skip(f"{label}: interpreter not installed")
    return path


@pytest.fixture
def script(tmp_path):
    p = tmp_path / "named_threads.py"
    p.write_text(PROGRAM)
    return p


@pytest.fixture
def running(python, script):
    """The program, all threads started; stopped at the end."""
    proc = subprocess.Popen([python, str(script), "60"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def os_names(pid):
    return {int(t): Path(f"/proc/{pid}/task/{t}/comm").read_text().strip() for t in os.listdir(f"/proc/{pid}/task")}


def test_dump_text_and_json_carry_full_names(running):
    pid = running.pid
    text = run_bpfspy(["dump", "-p", pid], check=True).stdout
    titles = dict(re.findall(r'^Thread (\d+) "([^"]*)"', text, re.M))
    assert sorted(titles.values()) == sorted(CPU_NAMES | {SLEEPER}), text
    assert titles[str(pid)] == "MainThread"

    doc = json.loads(run_bpfspy(["dump", "-p", pid, "--json"], check=True).stdout)
    names = {t["tid"]: t["name"] for t in doc["threads"]}
    assert sorted(names.values()) == sorted(CPU_NAMES | {SLEEPER}), doc
    # py-spy's key carries the same name
    assert all(t["thread_name"] == t["name"] for t in doc["threads"])
    # each name sits on the OS thread that runs it: the sleeper is the thread in time.sleep
    sleeper = next(t for t in doc["threads"] if t["name"] == SLEEPER)
    assert sleeper["tid"] in os_names(pid) and sleeper["tid"] != pid
    assert sleeper["frames"] and sleeper["frames"][-1]["name"] in ("sleep", "run", "Thread.run"), sleeper


def go_pprof_raw(path):
    go = shutil.which("go")
    if not go:
        pytest.skip("go not installed (apt-get install golang-go)")
    env = dict(os.environ, HOME=os.environ.get("HOME", "/root"), PPROF_TMPDIR="/tmp")
    p = subprocess.run([go, "tool", "pprof", "-raw", str(path)], capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr
    return p.stdout


def written(stderr, fmt):
    m = re.search(r"wrote (\S+) \(%s\)" % fmt, stderr)
    assert m, stderr
    return Path(m.group(1))


def names_ok(names):
    """The three CPU-bound threads, named in full; the sleeper too if it was caught starting."""
    return CPU_NAMES <= set(names) <= CPU_NAMES | {SLEEPER}


def check_outputs(stderr, pid):
    """Every output of one recording names the three CPU-bound threads in full."""
    doc = json.loads(written(stderr, "speedscope").read_text())
    profile_names = [p["name"] for p in doc["profiles"] if f"(pid {pid})" in p["name"]]
    assert names_ok(n.split(f"(pid {pid}) ", 1)[1] for n in profile_names), profile_names

    # collapsed -t: py-spy's root frame, with the name after it
    roots = {stack.split(";", 1)[0] for stack in read_collapsed(written(stderr, "collapsed"))}
    named = {}
    for root in roots:
        m = re.fullmatch(r"thread \(0x([0-9A-F]+)\)(?:: (.*))?", root)
        assert m, root
        named[int(m.group(1), 16)] = m.group(2)
    assert names_ok(named.values()), roots
    assert named[pid] == "MainThread"

    # pprof: the thread_name label of the samples
    raw = go_pprof_raw(written(stderr, "pprof"))
    assert names_ok(re.findall(r"thread_name:\[([^\]]*)\]", raw)), raw[:2000]

    # chrometrace: thread_name metadata of the process's tracks
    trace = json.loads(written(stderr, "chrometrace").read_text())
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    meta = {e["tid"]: e["args"]["name"] for e in events
            if e.get("ph") == "M" and e.get("name") == "thread_name" and e.get("pid") == pid}
    assert names_ok(meta.values()), meta
    assert meta[pid] == "MainThread"
    return named


def test_attached_recording_outputs_carry_full_names(running, tmp_path):
    # --idle: three threads share one GIL, and CPython before 3.12 can leave one waiting for a whole
    # second and a half on a loaded machine; idle samples name every thread whoever holds the GIL.
    p = run_bpfspy(["record", "-p", running.pid, "-d", "1.5", "-t", "--idle", "-f", "speedscope", "-f", "collapsed",
                    "-f", "pprof", "-f", "chrometrace", "-o", tmp_path / "rec.json"], check=True)
    named = check_outputs(p.stderr, running.pid)
    # bpfspy convert carries them over from the speedscope file
    conv = run_bpfspy(["convert", tmp_path / "rec.json", "-f", "chrometrace", "-o", tmp_path / "conv.trace.json"],
                      check=True)
    trace = json.loads((tmp_path / "conv.trace.json").read_text())
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    assert names_ok(e["args"]["name"] for e in events
                    if e.get("ph") == "M" and e.get("name") == "thread_name" and e.get("pid") == running.pid), conv.stderr
    # the workers' names are threading's, not the OS's (cut to 15 bytes by 3.14+, else the process name)
    os_of = os_names(running.pid)
    for tid, name in named.items():
        if name != "MainThread":
            assert os_of.get(tid) != name


def test_launched_recording_names_threads_started_later(python, script, tmp_path):
    """Launched: detection comes before threading exists; the names arrive with the threads' samples."""
    p = run_bpfspy(["record", "-t", "-f", "speedscope", "-f", "collapsed", "-f", "pprof", "-f", "chrometrace",
                    "-o", tmp_path / "rec.json", "--", python, script, "1.5"], check=True)
    pids = {int(m) for m in re.findall(r"\(pid (\d+)\)", written(p.stderr, "speedscope").read_text())}
    assert len(pids) == 1, pids
    check_outputs(p.stderr, pids.pop())


SHORT_LIVED = """\
import threading, time
end = time.time() + 1.5  # past start-up, when the reader drains once a second
while time.time() < end:
    pass
def spin():
    end = time.time() + 0.4
    while time.time() < end:
        pass
threads = [threading.Thread(target=spin, name=f"short-lived-{i}") for i in range(3)]
for t in threads:
    t.start()
for t in threads:
    t.join()
"""


def test_short_lived_threads_started_late_keep_their_names(python, tmp_path):
    """A thread that lives less than the reader's second, started once start-up is over: BPF wakes the
    reader at a Python thread's first sample, so its name is read while it still lives."""
    script = tmp_path / "short.py"
    script.write_text(SHORT_LIVED)
    out = tmp_path / "short.txt"
    run_bpfspy(["record", "-t", "-f", "raw", "-o", out, "--", python, script], check=True)
    roots = {line.split(";", 1)[0] for line in out.read_text().splitlines()}
    named = {r.split(": ", 1)[1] for r in roots if ": " in r}
    assert {"short-lived-0", "short-lived-1", "short-lived-2"} <= named, roots


def test_gecko_uses_the_names(running, tmp_path):
    """Firefox Profiler: the main thread is GeckoMain by its convention, the others carry their names."""
    p = run_bpfspy(["record", "-p", running.pid, "-d", "1", "-f", "gecko", "-o", tmp_path / "rec.json"], check=True)
    doc = json.loads(written(p.stderr, "gecko").read_text())
    names = {t["tid"]: t["name"] for t in doc["profile"]["threads"] if t["pid"] == running.pid}
    assert names.pop(running.pid) == "GeckoMain"
    assert names_ok(set(names.values()) | {"MainThread"}), names


def test_names_without_threading_stay_main_thread(python, tmp_path):
    """A program that never imports threading: the main thread is still MainThread, nothing breaks."""
    p = run_bpfspy(["record", "-f", "speedscope", "-o", tmp_path / "rec.json", "--", python, "-S", "-c",
                    "import time\nend = time.time() + 0.5\nwhile time.time() < end: pass"], check=True)
    doc = json.loads((tmp_path / "rec.json").read_text())
    assert [n["name"].split(") ", 1)[1] for n in doc["profiles"]] == ["MainThread"], doc["profiles"]


CHURN = '''\
import sys, threading, time

def spin(seconds):
    end = time.time() + seconds
    while time.time() < end:
        pass

def run():
    print(threading.get_native_id(), threading.current_thread().name, flush=True)
    spin(0.3)

print("ready", flush=True)
end = time.time() + float(sys.argv[1])
i = 0
while time.time() < end:
    # one thread at a time: glibc gives each new thread the finished one's stack, so the same ident
    t = threading.Thread(target=run, name="gen-%d" % i)
    t.start()
    t.join()
    i += 1
'''


def test_reused_idents_get_the_new_threads_names(python, tmp_path):
    """threading idents (pthread_t) are reused by the next thread: each thread still gets its own name.

    The thread's samples are handled a little after they were taken, when its ident may already
    belong to the next thread: the table entry's _native_id must agree."""
    script = tmp_path / "churn.py"
    script.write_text(CHURN)
    proc = subprocess.Popen([python, str(script), "4"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        p = run_bpfspy(["record", "-p", proc.pid, "-d", "2.5", "-f", "speedscope", "-o", tmp_path / "rec.json"],
                       check=True)
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    # each thread's "native_id name" line (a line not of that shape is shown, not guessed at)
    truth = dict(re.findall(r"^(\d+) (gen-\d+)$", out, re.M))
    assert len(truth) >= 4, out
    doc = json.loads((tmp_path / "rec.json").read_text())
    workers = [t for t in doc["bpfspy"]["threads"] if t["pid"] == proc.pid and t["tid"] != proc.pid]
    assert len(workers) >= 4, doc["bpfspy"]["threads"]
    # never another thread's name; a thread caught only while leaving threading's table may go unnamed
    wrong = [(t["tid"], t.get("thread"), truth[str(t["tid"])]) for t in workers
             if t.get("thread") and str(t["tid"]) in truth and t.get("thread") != truth[str(t["tid"])]]
    assert sum(str(t["tid"]) in truth for t in workers) >= len(workers) - 1, (out, workers)
    assert not wrong, wrong
    # threads live 0.3 s: all are named but maybe the ones the recording's start or end cut short
    named = [t for t in workers if t.get("thread")]
    assert len(named) >= len(workers) - 2, workers
