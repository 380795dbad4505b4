# SPDX-License-Identifier: MIT
"""Timelines: `record -f chrometrace` (Trace Event Format) and `-f gecko` (Firefox Profiler).

Three recordings, each made once per module:
- sequential: a launched shell runs two Python processes one after the other
  (`prog.py A` spins in work_a, then `prog.py B`, which bash execs, spins in
  work_b), written as chrometrace, gecko and speedscope from one run;
- xdist: pytest-xdist with two workers running four CPU-bound tests;
- idle: with --idle, a program that sleeps 0.5 s, then spins 0.5 s.
The files are checked for structure (tracks, nesting, lifetimes, order on the
one clock, agreement with the speedscope file), and the e2e tests load them
in the real speedscope app.

Times: chrometrace ts/dur are microseconds, gecko times milliseconds, both
from the recording's start. Tolerances allow for a loaded or ASan-slow host:
the workloads are ~1 s of CPU each and the asserts compare with ranges.
"""
import json
import os
import re
import subprocess
from collections import defaultdict
from types import SimpleNamespace

import pytest

from helpers import SPEEDSCOPE_CHECK, run_bpfspy

PY3 = "/usr/bin/python3"  # Debian's: has pytest and pytest-xdist; never a pyenv shim
TOL_US = 1000.0  # 1 ms, in trace microseconds
EPS_US = 0.01  # rounding of ts/dur written with ns precision
OFF_CPU_LEAVES = {"[sleep]", "[futex]", "[I/O]", "[poll]", "[wait]", "[preempted]", "[off-cpu]"}

SPIN = '''
import time


def spin(seconds):
    end = time.process_time() + seconds
    n = 0
    while time.process_time() < end:
        n += 1
    return n
'''

SEQUENTIAL_PROG = SPIN + '''

def work_a():
    return spin(1.0)


def work_b():
    return spin(1.0)


if __name__ == "__main__":
    import sys
    func = {"A": work_a, "B": work_b}[sys.argv[1]]
    wall, cpu = time.monotonic(), time.process_time()
    func()
    print(f"{func.__name__} wall={time.monotonic() - wall:.4f} cpu={time.process_time() - cpu:.4f}", flush=True)
'''

XDIST_TESTS = SPIN + ''.join(f'''

def test_spin_{i}():
    assert spin(0.6)
''' for i in range(1, 5))

IDLE_PROG = SPIN + '''

def nap():
    time.sleep(0.5)


def busy():
    return spin(0.5)


nap()
busy()
'''


# ---------------------------------------------------------------- readers

class Trace:
    """A chrometrace file: X slices, i instants and M metadata, indexed by track."""

    def __init__(self, path):
        with open(path) as f:
            self.doc = json.load(f)
        events = self.doc["traceEvents"]
        self.slices = [e for e in events if e["ph"] == "X"]
        self.instants = [e for e in events if e["ph"] == "i"]
        self.meta = [e for e in events if e["ph"] == "M"]
        self.tracks = defaultdict(list)  # (pid, tid) -> X events
        self.by_pid = defaultdict(list)
        for e in self.slices:
            self.tracks[(e["pid"], e["tid"])].append(e)
            self.by_pid[e["pid"]].append(e)

    def meta_named(self, name):
        return [e for e in self.meta if e["name"] == name]

    def process_name(self, pid):
        names = [e["args"]["name"] for e in self.meta_named("process_name") if e["pid"] == pid]
        assert len(names) == 1, (pid, names)
        return names[0]

    def lifecycle(self, pid):
        """[(ts, 'start'|'exec'|'exit', comm)] of one process, in time order."""
        return sorted((e["ts"], e["name"], e["args"]["comm"]) for e in self.instants if e["pid"] == pid)

    def exit_ts(self, pid):
        exits = [ts for ts, name, _ in self.lifecycle(pid) if name == "exit"]
        assert len(exits) <= 1, (pid, exits)
        return exits[0] if exits else None

    def python_exec_ts(self, pid):
        """When the process became python3 (its last exec into python3), else None."""
        execs = [ts for ts, name, comm in self.lifecycle(pid) if name == "exec" and comm == "python3"]
        return execs[-1] if execs else None

    def python_slices(self, pid):
        """The pid's slices from its exec into python3 on (bash before that, for a tail exec)."""
        t0 = self.python_exec_ts(pid)
        return [e for e in self.by_pid[pid] if t0 is None or e["ts"] >= t0 - TOL_US]

    def pids_with_frame(self, prefix):
        return sorted({e["pid"] for e in self.slices if e["name"].startswith(prefix)})


def end(e):
    return e["ts"] + e["dur"]


def nest(slices):
    """Walk one thread's slices as a tree: [(slice, [ancestor names])].

    Fails on two slices that overlap without one containing the other."""
    out, stack = [], []
    for e in sorted(slices, key=lambda e: (e["ts"], -e["dur"])):
        assert e["dur"] >= 0, e
        while stack and end(stack[-1]) <= e["ts"] + EPS_US:
            stack.pop()
        if stack:
            assert end(e) <= end(stack[-1]) + EPS_US, f"{e} overlaps {stack[-1]} without nesting in it"
        out.append((e, [s["name"] for s in stack]))
        stack.append(e)
    return out


class Gecko:
    def __init__(self, path):
        with open(path) as f:
            self.doc = json.load(f)
        self.meta = self.doc["profile"]["meta"]
        self.threads = self.doc["profile"]["threads"]

    def thread(self, pid, tid):
        found = [t for t in self.threads if t["pid"] == pid and t["tid"] == tid]
        assert len(found) == 1, (pid, tid, [(t["pid"], t["tid"]) for t in self.threads])
        return found[0]

    @staticmethod
    def stack_names(t, stack):
        """Frame location strings of one stack index, root first."""
        names = []
        while stack is not None:
            prefix, frame = t["stackTable"]["data"][stack]
            names.append(t["stringTable"][t["frameTable"]["data"][frame][0]])
            stack = prefix
        return names[::-1]

    def sample_times_with(self, t, prefix):
        return [time for stack, time, _ in t["samples"]["data"]
                if stack is not None and any(n.startswith(prefix) for n in self.stack_names(t, stack))]

    @staticmethod
    def markers(t):
        st = t["stringTable"]
        return [dict(name=st[m[0]], start=m[1], end=m[2], phase=m[3], category=m[4]) for m in t["markers"]["data"]]


def speedscope_sample_counts(doc):
    """(pid, tid) -> samples, from a speedscope file of bpfspy (weights in seconds)."""
    rate = doc["bpfspy"]["rate_hz"]
    out = {}
    for prof, th in zip(doc["profiles"], doc["bpfspy"]["threads"]):
        assert f"(pid {th['pid']})" in prof["name"], (prof["name"], th)
        assert prof["unit"] == "seconds"
        out[(th["pid"], th["tid"])] = round(sum(prof["weights"]) * rate)
    return out


def speedscope_weight_with(doc, pid, func):
    """Seconds of one process's samples whose stack holds a frame named func."""
    frames = doc["shared"]["frames"]
    total = 0.0
    for prof, th in zip(doc["profiles"], doc["bpfspy"]["threads"]):
        if th["pid"] != pid:
            continue
        for sample, weight in zip(prof["samples"], prof["weights"]):
            if any(frames[i]["name"] == func for i in sample):
                total += weight
    return total


# ---------------------------------------------------------------- recordings

def record(args, cwd, env=None):
    p = run_bpfspy(["record", *args], timeout=300, cwd=cwd, env=env)
    assert p.returncode == 0, f"bpfspy record exited {p.returncode}\nstdout:\n{p.stdout[-3000:]}\nstderr:\n{p.stderr}"
    m = re.search(r"from (\d+) process(?:es)? \((\d+) threads?\)", p.stderr)
    assert m, p.stderr
    written = dict((fmt, path) for path, fmt in re.findall(r"^bpfspy: wrote (\S+) \((\w+)\)$", p.stderr, re.M))
    return p, int(m.group(1)), int(m.group(2)), written


@pytest.fixture(scope="module")
def sequential(tmp_path_factory):
    d = tmp_path_factory.mktemp("timeline_seq")
    prog = d / "prog.py"
    prog.write_text(SEQUENTIAL_PROG)
    out = d / "out.json"
    p, nproc, nthreads, written = record(
        ["-f", "chrometrace", "-f", "gecko", "-f", "speedscope", "-o", out, "--",
         "bash", "-c", f"{PY3} {prog} A; {PY3} {prog} B"], cwd=d)
    assert written == {"chrometrace": str(d / "out.trace.json"), "gecko": str(d / "out.gecko.json"),
                       "speedscope": str(out)}, p.stderr
    with open(out) as f:
        speedscope = json.load(f)
    measured = {func: (float(wall), float(cpu))
                for func, wall, cpu in re.findall(r"^(work_\w) wall=(\S+) cpu=(\S+)$", p.stdout, re.M)}
    assert sorted(measured) == ["work_a", "work_b"], p.stdout[-3000:]
    rec = SimpleNamespace(name="sequential", stderr=p.stderr, processes=nproc, threads=nthreads, measured=measured,
                          trace_path=d / "out.trace.json", gecko_path=d / "out.gecko.json",
                          trace=Trace(d / "out.trace.json"), gecko=Gecko(d / "out.gecko.json"),
                          speedscope=speedscope)
    [rec.pid_a] = rec.trace.pids_with_frame("work_a (")
    [rec.pid_b] = rec.trace.pids_with_frame("work_b (")
    assert rec.pid_a != rec.pid_b
    return rec


@pytest.fixture(scope="module")
def xdist(tmp_path_factory):
    d = tmp_path_factory.mktemp("timeline_xdist")
    tests = d / "test_spin.py"
    tests.write_text(XDIST_TESTS)
    out = d / "out.json"
    p, nproc, nthreads, written = record(
        ["-f", "chrometrace", "-f", "gecko", "-o", out, "--",
         PY3, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "-q", tests], cwd=d,
        # this run's own pytest(-xdist) variables are not the inner pytest's business
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")})
    assert written == {"chrometrace": str(out), "gecko": str(d / "out.gecko.json")}, p.stderr
    assert "4 passed" in p.stdout, p.stdout[-3000:]
    return SimpleNamespace(name="xdist", stderr=p.stderr, processes=nproc, threads=nthreads,
                           trace_path=out, gecko_path=d / "out.gecko.json",
                           trace=Trace(out), gecko=Gecko(d / "out.gecko.json"))


@pytest.fixture(scope="module")
def idle(tmp_path_factory):
    d = tmp_path_factory.mktemp("timeline_idle")
    prog = d / "sleep_then_spin.py"
    prog.write_text(IDLE_PROG)
    out = d / "idle.trace.json"
    p, nproc, nthreads, written = record(["-i", "-f", "chrometrace", "-f", "gecko", "-o", out, "--", PY3, prog],
                                         cwd=d)
    assert written == {"chrometrace": str(out), "gecko": str(d / "idle.gecko.json")}, p.stderr
    trace = Trace(out)
    [pid] = trace.pids_with_frame("nap (")
    return SimpleNamespace(name="idle", stderr=p.stderr, processes=nproc, threads=nthreads,
                           trace_path=out, gecko_path=d / "idle.gecko.json",
                           trace=trace, gecko=Gecko(d / "idle.gecko.json"), pid=pid)


@pytest.fixture(params=["sequential", "xdist", "idle"])
def any_recording(request):
    return request.getfixturevalue(request.param)


@pytest.fixture(params=["sequential", "xdist"])
def browser_recording(request):
    return request.getfixturevalue(request.param)


# ---------------------------------------------------------------- chrometrace

def test_chrometrace_one_track_per_sampled_thread(any_recording):
    rec = any_recording
    tr = rec.trace
    other = tr.doc["otherData"]
    assert tr.doc["displayTimeUnit"] == "ms"
    assert other["exporter"].startswith("bpfspy") and other["rate_hz"] == 100
    for key in ("command", "unit", "start_realtime_ns", "duration_ns", "origin_monotonic_ns"):
        assert key in other, other
    assert tr.tracks, "no X slices"
    # the summary line counts the same threads and processes as the file has tracks
    assert len(tr.tracks) == rec.threads, (sorted(tr.tracks), rec.stderr)
    assert len(tr.by_pid) == rec.processes, (sorted(tr.by_pid), rec.stderr)
    # every sampled process is named once; every track has its sort index, no track without slices
    assert {e["pid"] for e in tr.meta_named("process_name")} == set(tr.by_pid)
    for pid in tr.by_pid:
        tr.process_name(pid)
    sorted_threads = [(e["pid"], e["tid"]) for e in tr.meta_named("thread_sort_index")]
    assert sorted(sorted_threads) == sorted(tr.tracks)
    assert {(e["pid"], e["tid"]) for e in tr.meta_named("thread_name")} <= set(tr.tracks)
    # processes are sorted in the order they were first sampled
    index = {e["pid"]: e["args"]["sort_index"] for e in tr.meta_named("process_sort_index")}
    assert set(index) == set(tr.by_pid)
    first_ts = {pid: min(e["ts"] for e in xs) for pid, xs in tr.by_pid.items()}
    assert sorted(index, key=index.get) == sorted(first_ts, key=first_ts.get), (index, first_ts)
    for e in tr.slices:
        assert e["cat"] in ("python", "native", "kernel", "marker"), e
        assert e["ts"] >= 0 and e["dur"] > 0, e
        assert e["ts"] <= other["duration_ns"] / 1e3 + TOL_US, e
    for e in tr.instants:
        assert e["s"] == "p" and e["cat"] == "process" and e["tid"] == e["pid"], e
        assert e["name"] in ("start", "exec", "exit"), e
    # a Python process's main thread is named
    for pid in tr.by_pid:
        if tr.process_name(pid) == "python3" and any(e["cat"] == "python" for e in tr.by_pid[pid]):
            assert [e["args"]["name"] for e in tr.meta_named("thread_name")
                    if (e["pid"], e["tid"]) == (pid, pid)] == ["MainThread"]


def test_chrometrace_slices_nest_per_thread(any_recording):
    """Slices of one thread never overlap unless nested, and frames nest as they were called."""
    rec = any_recording
    nested = {track: nest(xs) for track, xs in rec.trace.tracks.items()}
    inner = {
        "sequential": [("spin (", ("work_a (", "work_b (")), ("work_a (", ("<module> (",)),
                       ("work_b (", ("<module> (",))],
        "xdist": [("spin (", ("test_spin_",))],
        "idle": [("spin (", ("busy (",)), ("[sleep]", ("nap (",))],
    }[rec.name]
    for child, parents in inner:
        seen = 0
        for track, walk in nested.items():
            for e, ancestors in walk:
                if e["name"].startswith(child):
                    seen += 1
                    assert any(a.startswith(parents) for a in ancestors), (track, e, ancestors)
        assert seen, f"no {child} slice"


def test_chrometrace_processes_run_in_order(sequential):
    """One clock for all processes: A's slices all end before B's python3 starts."""
    tr = sequential.trace
    a, b = sequential.pid_a, sequential.pid_b
    a_exit = tr.exit_ts(a)
    b_exec = tr.python_exec_ts(b)
    assert a_exit is not None and b_exec is not None, (tr.lifecycle(a), tr.lifecycle(b))
    assert a_exit <= b_exec, (tr.lifecycle(a), tr.lifecycle(b))
    b_slices = tr.python_slices(b)
    b_first = min(e["ts"] for e in b_slices)
    # the slice that runs past A's exit is test_chrometrace_slices_end_by_process_exit's business
    a_last = max(min(end(e), a_exit) for e in tr.by_pid[a])
    assert a_last <= b_first + TOL_US, (a_last, b_first)
    work_a_last = max(end(e) for e in tr.by_pid[a] if e["name"].startswith("work_a ("))
    work_b_first = min(e["ts"] for e in b_slices if e["name"].startswith("work_b ("))
    assert work_a_last < work_b_first
    # B is the shell, which execs into python3 for the last command: its bash slices precede A
    assert tr.lifecycle(b)[0][1:] == ("exec", "bash"), tr.lifecycle(b)
    assert [n for _, n, _ in tr.lifecycle(a)] == ["start", "exec", "exit"], tr.lifecycle(a)
    assert all(e["cat"] != "python" for e in tr.by_pid[b] if e["ts"] < b_exec)


def test_chrometrace_slices_begin_after_process_start(any_recording):
    """No slice before its process's start (fork) instant (1 ms tolerance).

    A process without one existed before the recording: the launched command
    is forked by bpfspy before sampling starts, and its first samples (waiting
    to exec, with --idle) come before its exec instant, rightly.
    """
    tr = any_recording.trace
    for pid, xs in tr.by_pid.items():
        life = tr.lifecycle(pid)
        assert any(name in ("start", "exec") for _, name, _ in life), \
            f"pid {pid} has slices but no start or exec instant: {life}"
        starts = [ts for ts, name, _ in life if name == "start"]
        if not starts:
            continue
        first = min(xs, key=lambda e: e["ts"])
        assert first["ts"] >= starts[0] - TOL_US, (life, first)


def test_chrometrace_slices_do_not_span_exec(any_recording):
    """A slice of the old program ends by the exec that replaces it (1 ms tolerance)."""
    tr = any_recording.trace
    spanning = []
    for pid, xs in tr.by_pid.items():
        for ts, name, comm in tr.lifecycle(pid):
            if name != "exec":
                continue
            across = [e for e in xs if e["ts"] < ts - TOL_US and end(e) > ts + TOL_US]
            if across:
                worst = max(across, key=end)
                spanning.append(f"pid {pid}: exec into {comm} at {ts}, {len(across)} slices of the old program "
                                f"run on, e.g. {worst['name']!r} ts {worst['ts']} dur {worst['dur']} ends "
                                f"{end(worst) - ts:.3f} us after the exec")
    assert not spanning, "\n".join(spanning)


def test_chrometrace_slices_end_by_process_exit(any_recording):
    """Every slice ends by its process's exit instant (1 ms tolerance)."""
    tr = any_recording.trace
    late = []
    for pid, xs in tr.by_pid.items():
        exit_ts = tr.exit_ts(pid)
        assert exit_ts is not None, f"pid {pid} exited during the recording but has no exit instant"
        worst = max(xs, key=end)
        if end(worst) > exit_ts + TOL_US:
            late.append(f"pid {pid}: exit at {exit_ts}, slice {worst['name']!r} ts {worst['ts']} "
                        f"dur {worst['dur']} ends {end(worst) - exit_ts:.3f} us after it")
    assert not late, "\n".join(late)


def test_chrometrace_work_slice_matches_speedscope_cpu(sequential):
    """The work_a (work_b) slice lasts as long as the call: its wall time, within 30 %.

    A call's slice goes on through the moments its thread was preempted, so on a
    busy host (an ASan bpfspy and the spinner sharing two CPUs) it lasts the
    call's wall time, which the program measures and prints: then the slice
    is held to that, and to at least the CPU time.
    """
    tr, doc = sequential.trace, sequential.speedscope
    for pid, func in ((sequential.pid_a, "work_a"), (sequential.pid_b, "work_b")):
        wall, cpu = sequential.measured[func]
        slices = [e for e in tr.by_pid[pid] if e["name"].startswith(func + " (")]
        seconds = sum(e["dur"] for e in slices) / 1e6
        sampled_cpu = speedscope_weight_with(doc, pid, func)
        why = dict(func=func, slices=len(slices), slice_s=seconds, speedscope_cpu_s=sampled_cpu, wall_s=wall,
                   cpu_s=cpu)
        # (how many of the CPU's ticks were sampled is test_python's business: a host loaded
        # enough to throttle perf interrupts samples fewer; the slice is about time)
        assert seconds >= 0.7 * sampled_cpu, why
        assert seconds == pytest.approx(wall, rel=0.30), why
        if wall <= 1.15 * cpu:  # the process had a CPU to itself
            assert seconds == pytest.approx(cpu, rel=0.30), why


# ---------------------------------------------------------------- gecko

def test_gecko_threads_match_chrometrace(any_recording):
    rec = any_recording
    tr, g = rec.trace, rec.gecko
    doc = g.doc
    assert doc["systemHost"]["name"] == "Firefox"
    assert g.meta["version"] == 36
    assert g.meta["interval"] == pytest.approx(1000.0 / tr.doc["otherData"]["rate_hz"])
    assert g.meta["startTime"] == pytest.approx(tr.doc["otherData"]["start_realtime_ns"] / 1e6, abs=1.0)
    last_sample = max(s[1] for t in g.threads for s in t["samples"]["data"] if s[0] is not None)
    assert last_sample <= doc["duration"] <= tr.doc["otherData"]["duration_ns"] / 1e6 + g.meta["interval"] + 1.0
    for key in ("libs", "threads", "processes", "pausedRanges", "sources"):
        assert key in doc["profile"], key
    assert sorted((t["pid"], t["tid"]) for t in g.threads) == sorted(tr.tracks)
    thread_names = {(e["pid"], e["tid"]): e["args"]["name"] for e in tr.meta_named("thread_name")}
    for (pid, tid) in tr.tracks:
        t = g.thread(pid, tid)
        assert t["processName"] == f"{tr.process_name(pid)} (pid {pid})", t["processName"]
        if tid == pid:
            assert t["name"] == "GeckoMain"
            # the lifecycle instants, as phase-0 markers of the main thread, on the same clock
            got = sorted((m["start"], m["name"]) for m in g.markers(t) if m["phase"] == 0)
            want = [(ts / 1e3, name) for ts, name, _ in tr.lifecycle(pid)]
            assert [n for _, n in got] == [n for _, n in want], (got, want)
            for (gt, _), (wt, _) in zip(got, want):
                assert gt == pytest.approx(wt, abs=0.01)
            exit_ts = tr.exit_ts(pid)
            if exit_ts is not None:
                assert t["unregisterTime"] == pytest.approx(exit_ts / 1e3, abs=0.01)
        else:
            assert t["name"] == thread_names.get((pid, tid), f"tid {tid}")
            assert not [m for m in g.markers(t) if m["phase"] == 0]


def test_gecko_tables_are_consistent(any_recording):
    g = any_recording.gecko
    ncat = len(g.meta["categories"])
    for t in g.threads:
        where = f"{t['processName']} tid {t['tid']}"
        assert t["samples"]["schema"] == {"stack": 0, "time": 1, "eventDelay": 2}
        assert t["stackTable"]["schema"] == {"prefix": 0, "frame": 1}
        schema = t["frameTable"]["schema"]
        assert (schema["location"], schema["line"], schema["category"]) == (0, 4, 6)
        assert t["markers"]["schema"] == {"name": 0, "startTime": 1, "endTime": 2, "phase": 3, "category": 4,
                                          "data": 5}
        strings, frames, stacks = t["stringTable"], t["frameTable"]["data"], t["stackTable"]["data"]
        for i, (prefix, frame) in enumerate(stacks):
            assert prefix is None or 0 <= prefix < i, (where, i, prefix)
            assert 0 <= frame < len(frames), (where, i, frame)
        for f in frames:
            assert 0 <= f[0] < len(strings), (where, f)
            assert f[4] is None or (isinstance(f[4], int) and f[4] > 0), (where, f)
            assert 0 <= f[6] < ncat, (where, f)
        times = [s[1] for s in t["samples"]["data"]]
        back = [(i, a, b) for i, (a, b) in enumerate(zip(times, times[1:])) if b < a]
        assert not back, f"{where}: sample times go back {len(back)} times, e.g. samples[{back[0][0]}:+2] " \
            f"{t['samples']['data'][back[0][0]:back[0][0] + 2]}"
        assert any(s[0] is not None for s in t["samples"]["data"]), where
        for stack, _, _ in t["samples"]["data"]:
            assert stack is None or 0 <= stack < len(stacks), (where, stack)
        seen = [s[1] for s in t["samples"]["data"] if s[0] is not None]
        assert t["registerTime"] <= seen[0] + 0.01, (where, t["registerTime"], seen[0])
        if t["unregisterTime"] is not None:
            assert seen[-1] <= t["unregisterTime"] + 1.0, (where, t["unregisterTime"], seen[-1])
        for m in t["markers"]["data"]:
            assert 0 <= m[0] < len(strings) and 0 <= m[4] < ncat, (where, m)
            if m[3] == 0:
                assert m[2] is None and strings[m[0]] in ("start", "exec", "exit"), (where, m)
            else:
                assert m[3] == 1 and m[2] >= m[1], (where, m)


def test_gecko_processes_run_in_order(sequential):
    g = sequential.gecko
    ta = g.thread(sequential.pid_a, sequential.pid_a)
    tb = g.thread(sequential.pid_b, sequential.pid_b)
    a_times = g.sample_times_with(ta, "work_a (")
    b_times = g.sample_times_with(tb, "work_b (")
    assert len(a_times) >= 30 and len(b_times) >= 30, (len(a_times), len(b_times))
    assert max(a_times) < min(b_times)
    assert not g.sample_times_with(ta, "work_b (") and not g.sample_times_with(tb, "work_a (")


def test_gecko_sample_counts_match_speedscope(sequential):
    g = sequential.gecko
    counts = speedscope_sample_counts(sequential.speedscope)
    assert sorted(counts) == sorted((t["pid"], t["tid"]) for t in g.threads)
    for (pid, tid), want in counts.items():
        data = g.thread(pid, tid)["samples"]["data"]
        got = sum(1 for s in data if s[0] is not None)
        assert abs(got - want) <= 2, (pid, tid, got, want, len(data))


# ---------------------------------------------------------------- pytest-xdist

def test_xdist_workers_run_in_parallel(xdist):
    tr = xdist.trace
    python = [pid for pid, xs in tr.by_pid.items() if any(e["cat"] == "python" for e in xs)]
    busy = {}
    for pid in python:
        tests = [e for e in tr.tracks[(pid, pid)] if e["name"].startswith("test_spin_")]
        if tests:
            busy[pid] = (min(e["ts"] for e in tests), max(end(e) for e in tests),
                         {e["name"].split(" (")[0] for e in tests})
    nonpython = {pid: tr.process_name(pid) for pid in tr.by_pid if pid not in python}
    # the controller and both workers; a python3 process without any Python frame is a miss
    assert len(python) >= 3, (python, nonpython)
    assert len(busy) == 2, busy
    assert set().union(*(names for _, _, names in busy.values())) == {f"test_spin_{i}" for i in range(1, 5)}
    (s1, e1, _), (s2, e2, _) = busy.values()
    overlap = min(e1, e2) - max(s1, s2)
    assert overlap > 0, busy
    # the controller is the launched command (exec, no start); it started the workers and outlives them
    [controller] = [pid for pid in python if tr.lifecycle(pid)[0][1] == "exec"]
    assert controller not in busy
    for pid in busy:
        assert [n for _, n, _ in tr.lifecycle(pid)] == ["start", "exec", "exit"], tr.lifecycle(pid)
        assert tr.lifecycle(pid)[0][0] > tr.lifecycle(controller)[0][0]
        assert tr.exit_ts(pid) < tr.exit_ts(controller)


# ---------------------------------------------------------------- --idle

def test_idle_sleep_before_spin(idle):
    tr, g, pid = idle.trace, idle.gecko, idle.pid
    xs = tr.tracks[(pid, pid)]
    for e in xs:
        if e["cat"] == "marker":
            # an unwind that stops short (python3 has no frame pointers) is said so, never hidden
            assert e["name"] in OFF_CPU_LEAVES | {"[native truncated]"}, e
    sleeps = [e for e in xs if e["name"] == "[sleep]"]
    assert sleeps, sorted({e["name"] for e in xs})
    sleep = max(sleeps, key=lambda e: e["dur"])
    assert 0.4e6 <= sleep["dur"] <= 0.7e6, sleep
    spins = [e for e in xs if e["name"].startswith("spin (")]
    assert spins
    assert end(sleep) <= min(e["ts"] for e in spins) + TOL_US, (sleep, min(e["ts"] for e in spins))

    t = g.thread(pid, pid)
    off_cpu = [m for m in g.markers(t) if m["phase"] == 1]
    for m in off_cpu:
        assert m["name"].endswith(" (bpfspy)") and m["name"][:-len(" (bpfspy)")] in OFF_CPU_LEAVES, m
    naps = [m for m in off_cpu if m["name"] == "[sleep] (bpfspy)"]
    assert naps, off_cpu
    nap = max(naps, key=lambda m: m["end"] - m["start"])
    assert 400 <= nap["end"] - nap["start"] <= 700, nap
    assert nap["start"] == pytest.approx(sleep["ts"] / 1e3, abs=1.0), (nap, sleep)
    assert nap["end"] <= min(g.sample_times_with(t, "spin (")) + 1.0


# ---------------------------------------------------------------- speedscope app

@pytest.fixture
def check_tool():
    """speedscope-check; requested before the recording, so that a missing tool skips before recording."""
    assert SPEEDSCOPE_CHECK.exists(), f"speedscope-check not found at {SPEEDSCOPE_CHECK}"
    return SPEEDSCOPE_CHECK


def browser_check(tool, path, *args):
    proc = subprocess.run([str(tool), str(path), *args], capture_output=True, text=True, timeout=300)
    lines = proc.stdout.strip().splitlines()
    report = json.loads(lines[-1]) if lines else {}
    assert proc.returncode == 0 and report.get("ok"), \
        f"speedscope-check {path}: exit {proc.returncode} {report.get('error')} {proc.stderr[-2000:]}"
    return report


@pytest.mark.e2e
def test_speedscope_imports_chrometrace(check_tool, browser_recording):
    rec = browser_recording
    tr = rec.trace
    report = browser_check(check_tool, rec.trace_path, "--expect-format", "trace event", "--strict")
    names = [p["name"] for p in report["profiles"]]
    assert report["profileCount"] == len(tr.tracks), names
    # "python3 (pid 7), MainThread (tid 7)", or "python3 (pid 7, tid 9)" for a thread without a name
    for pid, tid in tr.tracks:
        assert len([n for n in names if re.search(rf"\bpid {pid}\b", n) and re.search(rf"\btid {tid}\b", n)]) == 1, \
            (pid, tid, names)
    python = [pid for pid, xs in tr.by_pid.items() if any(e["cat"] == "python" for e in xs)]
    if rec.name == "sequential":
        assert sorted(python) == sorted([rec.pid_a, rec.pid_b])
    for pid in python:
        assert any(f"python3 (pid {pid})" in n for n in names), (pid, names)


@pytest.mark.e2e
def test_speedscope_imports_gecko(check_tool, browser_recording):
    # speedscope shows the first GeckoMain thread only
    report = browser_check(check_tool, browser_recording.gecko_path, "--expect-format", "firefox", "--strict")
    assert report["profileCount"] == 1, report["profiles"]
