"""Running one profiled (or unprofiled) command and measuring it.

The harness launches the profiler itself and reaps it with os.wait4, so the
rusage it gets is the profiler's plus that of every descendant it waited for.
The workload's own share comes from bench/rusage_wrap (placed between the
profiler and the workload where the profiler allows it); the difference is the
profiler's cost. While a bpfspy run is in flight a poller thread reads
/proc/PID/fdinfo of its BPF programs (run_time_ns, run_cnt: the counters
`bpftool prog show` prints) and /proc/PID/status VmHWM, because both vanish
when the process exits.
"""
import json
import os
import re
import subprocess
import threading
import time

BPF_STATS = "/proc/sys/kernel/bpf_stats_enabled"
PROG_TYPE_PERF_EVENT = "7"  # enum bpf_prog_type, as fdinfo prints it


class BpfStats:
    """Turns kernel.bpf_stats_enabled on for the benchmark and restores it."""

    def __init__(self):
        self.previous = None

    def __enter__(self):
        try:
            with open(BPF_STATS) as f:
                self.previous = f.read().strip()
            with open(BPF_STATS, "w") as f:
                f.write("1")
        except OSError:
            self.previous = None  # not root or no such sysctl: BPF time is n/a
        return self

    @property
    def enabled(self):
        return self.previous is not None

    def __exit__(self, *exc):
        if self.previous is not None:
            with open(BPF_STATS, "w") as f:
                f.write(self.previous)


class ProcessWatcher(threading.Thread):
    """Polls a live process for its BPF program counters and peak RSS."""

    def __init__(self, pid, interval=0.1):
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.stop = threading.Event()
        self.progs = {}  # prog_id -> (run_time_ns, run_cnt), the latest seen
        self.sampling_progs = set()  # prog_ids of perf_event programs: the samplers
        self.vm_hwm_kb = 0

    def run(self):
        while not self.stop.is_set():
            self.poll()
            self.stop.wait(self.interval)

    def poll(self):
        try:
            with open(f"/proc/{self.pid}/status") as f:
                m = re.search(r"^VmHWM:\s+(\d+)", f.read(), re.M)
                if m:
                    self.vm_hwm_kb = max(self.vm_hwm_kb, int(m.group(1)))
            fds = os.listdir(f"/proc/{self.pid}/fd")
        except OSError:
            return
        for fd in fds:
            try:
                with open(f"/proc/{self.pid}/fdinfo/{fd}") as f:
                    info = f.read()
            except OSError:
                continue
            if "prog_type:" not in info:
                continue
            fields = dict(re.findall(r"^(\w+):\s+(\S+)", info, re.M))
            if "run_time_ns" in fields:
                prog = fields.get("prog_id", fd)
                self.progs[prog] = (int(fields["run_time_ns"]), int(fields["run_cnt"]))
                if fields.get("prog_type") == PROG_TYPE_PERF_EVENT:
                    self.sampling_progs.add(prog)

    def bpf_totals(self):
        return (sum(t for t, _ in self.progs.values()), sum(c for _, c in self.progs.values()))

    def sampling_totals(self):
        """Run time and count of the perf_event programs alone: the cost of one sample."""
        runs = [self.progs[p] for p in self.sampling_progs]
        return (sum(t for t, _ in runs), sum(c for _, c in runs))


def read_wrapper_file(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def run_measured(argv, workdir, out_prefix, watch=False, timeout=300, env=None):
    """Runs argv to completion. Returns a dict with wall time, rusage of the
    whole tree (self + reaped children), exit status, the stderr text, and
    (watch=True) the BPF counters and VmHWM seen while it ran."""
    stdout_path, stderr_path = out_prefix + ".stdout", out_prefix + ".stderr"
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        start = time.monotonic()
        proc = subprocess.Popen(argv, cwd=workdir, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        watcher = ProcessWatcher(proc.pid) if watch else None
        if watcher:
            watcher.start()
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, ru = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if watcher:
        watcher.stop.set()
        watcher.join()
    with open(stderr_path, errors="replace") as f:
        stderr = f.read()
    result = {
        "argv": argv,
        "exit": proc.returncode,
        "wall_s": wall,
        "tree_cpu_s": ru.ru_utime + ru.ru_stime,
        "tree_maxrss_kb": ru.ru_maxrss,
        "stderr_tail": stderr[-2000:],
    }
    if watcher:
        result["bpf_run_time_ns"], result["bpf_run_cnt"] = watcher.bpf_totals()
        result["vm_hwm_kb"] = watcher.vm_hwm_kb
        result["sample_run_time_ns"], result["sample_run_cnt"] = watcher.sampling_totals()
    for path in (stdout_path, stderr_path):
        os.unlink(path)
    return result, stderr


def load_average():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])
