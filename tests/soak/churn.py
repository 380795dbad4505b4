#!/usr/bin/python3
"""Process churn for the soak test: start and end many short processes.

Starts processes at RATE per second (Poisson arrivals) for SECONDS, a weighted
mix of KINDS: Python and native, single and multi-threaded, exec'ing, killed
with SIGKILL while running, exiting right after dlopen of new libraries.

Every process is logged, one JSON object per line, when it is reaped:
  {"pid", "kind", "comms", "start", "end", "lifetime_ms", "status", "killed"}
start/end are CLOCK_MONOTONIC seconds: start just before posix_spawn, end when
wait4 returned. "comms" are the names the profiler may show for the process
(an exec'ing process has two).

    churn.py --seconds 60 --rate 17 --helper build/soak/soak_proc --log churn.jsonl
"""
import argparse
import glob
import heapq
import json
import os
import random
import signal
import sys
import threading
import time

PY = "/usr/bin/python3"
PY312 = next(iter(sorted(glob.glob(os.path.expanduser(os.environ.get("PYENV_ROOT", "~/.pyenv")) + "/versions/3.12.*/bin/python3.12"))), "/usr/bin/python3")
SH = "/bin/sh"
SLEEP = "/bin/sleep"
MAX_ALIVE = 48  # beyond this the machine is not keeping up: wait rather than pile up

PY_SPIN = """
import time
def spin(ms):
    end = time.monotonic() + ms / 1e3
    while time.monotonic() < end:
        pass
spin({ms})
"""

PY_THREADS = """
import threading, time
def spin(ms):
    end = time.monotonic() + ms / 1e3
    while time.monotonic() < end:
        pass
ts = [threading.Thread(target=spin, args=({ms},)) for _ in range({n})]
ts.append(threading.Thread(target=time.sleep, args=({ms} / 2e3,)))
for t in ts:
    t.start()
spin({ms} / 2)
for t in ts:
    t.join()
"""

# new executable mappings, then gone before any cleanup
PY_DLOPEN = """
import ctypes, os
ctypes.CDLL("libz.so.1")
ctypes.CDLL("libbz2.so.1")
os._exit(0)
"""

DLOPEN_LIBS = ["libz.so.1", "libbz2.so.1", "liblzma.so.5", "libcjson.so.1"]


class Kind:
    """One sort of process: how often, its argv, and when (if ever) to SIGKILL it."""

    def __init__(self, name, weight, comms, argv, kill_ms=None):
        self.name, self.weight, self.comms = name, weight, comms
        self.argv = argv  # rng -> argv list
        self.kill_ms = kill_ms  # rng -> ms after start, or None


def kinds(helper):
    spin_ms = lambda r: r.randint(20, 200)
    py312 = [PY312] if os.access(PY312, os.X_OK) else [PY]
    py312_comm = os.path.basename(py312[0])
    return [
        Kind("py_spin", 18, ["python3"], lambda r: [PY, "-c", PY_SPIN.format(ms=spin_ms(r))]),
        Kind("py_threads", 9, ["python3"],
             lambda r: [PY, "-c", PY_THREADS.format(ms=spin_ms(r), n=r.randint(1, 4))]),
        Kind("py312_spin", 5, [py312_comm], lambda r: py312 + ["-c", PY_SPIN.format(ms=spin_ms(r))]),
        Kind("py_dlopen_exit", 8, ["python3"], lambda r: [PY, "-c", PY_DLOPEN]),
        Kind("py_killed", 4, ["python3"], lambda r: [PY, "-c", PY_SPIN.format(ms=10000)],
             kill_ms=lambda r: r.randint(30, 150)),
        Kind("c_spin", 14, ["soak_proc"], lambda r: [helper, "spin", str(spin_ms(r))]),
        Kind("c_threads", 8, ["soak_proc"],
             lambda r: [helper, "spin", str(spin_ms(r)), str(r.randint(1, 6))]),
        Kind("c_exec_c", 6, ["soak_proc"],
             lambda r: [helper, "exec", str(r.randint(1, 20)), helper, "spin", str(spin_ms(r))]),
        Kind("c_exec_py", 5, ["soak_proc", "python3"],
             lambda r: [helper, "exec", str(r.randint(1, 20)), PY, "-c", PY_SPIN.format(ms=spin_ms(r))]),
        Kind("c_killed", 4, ["soak_proc"], lambda r: [helper, "spin", "10000", str(r.randint(0, 3))],
             kill_ms=lambda r: r.randint(10, 150)),
        Kind("c_dlopen_exit", 8, ["soak_proc"], lambda r: [helper, "dlopen", "0"] + DLOPEN_LIBS),
        Kind("c_sleep_dlopen_exit", 4, ["soak_proc"],
             lambda r: [helper, "dlopen", str(r.randint(20, 60))] + DLOPEN_LIBS),
        Kind("sleep", 4, ["sleep"], lambda r: [SLEEP, "%.3f" % (r.randint(20, 100) / 1e3)]),
        Kind("sh_children", 3, ["sh"],
             lambda r: [SH, "-c", "%s spin %d; true" % (helper, r.randint(5, 40))]),
    ]


class Churn:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.kinds = kinds(os.path.abspath(args.helper))
        self.weights = [k.weight for k in self.kinds]
        self.lock = threading.Lock()
        self.alive = {}  # pid -> record, until reaped
        self.kills = []  # heap of (time, pid, pidfd)
        self.started = 0
        self.spawn_errors = 0
        self.log = open(args.log, "w", buffering=1)
        self.devnull = os.open(os.devnull, os.O_RDWR)
        self.errfd = os.open(args.log + ".stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)

    def spawn(self, argv, kind=None):
        actions = [(os.POSIX_SPAWN_DUP2, self.devnull, 0), (os.POSIX_SPAWN_DUP2, self.devnull, 1),
                   (os.POSIX_SPAWN_DUP2, self.errfd, 2)]
        with self.lock:  # the reaper must find the record of any pid it gets
            start = time.monotonic()
            pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
            if kind:
                self.alive[pid] = {"pid": pid, "kind": kind.name, "comms": kind.comms, "start": start,
                                   "killed": False}
        return pid

    def reaper(self):
        """Reap every child the moment it ends; the sentinel keeps wait4 blocking."""
        while True:
            try:
                pid, status, _ = os.wait4(-1, 0)
            except ChildProcessError:
                return
            end = time.monotonic()
            if pid == self.sentinel:
                return
            with self.lock:
                rec = self.alive.pop(pid, None)
            if rec is None:
                continue
            rec["end"] = end
            rec["lifetime_ms"] = round((end - rec["start"]) * 1e3, 3)
            rec["status"] = status
            self.log.write(json.dumps(rec) + "\n")

    def do_kills(self, now):
        while self.kills and self.kills[0][0] <= now:
            _, pid, pidfd = heapq.heappop(self.kills)
            with self.lock:  # marked first: the reaper may log it the moment it dies
                rec = self.alive.get(pid)
                if rec:
                    rec["killed"] = True
            try:  # a pidfd never signals a recycled pid
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            except ProcessLookupError:
                if rec:
                    rec["killed"] = False  # it had ended on its own
            os.close(pidfd)

    def start_one(self):
        kind = self.rng.choices(self.kinds, self.weights)[0]
        argv = kind.argv(self.rng)
        try:
            pid = self.spawn(argv, kind)
        except OSError as e:
            self.spawn_errors += 1
            print(f"churn: cannot start {argv[0]}: {e}", file=sys.stderr)
            return
        self.started += 1
        if kind.kill_ms:
            pidfd = os.pidfd_open(pid)
            heapq.heappush(self.kills, (time.monotonic() + kind.kill_ms(self.rng) / 1e3, pid, pidfd))

    def run(self):
        self.sentinel = self.spawn([SLEEP, "1000000"])
        reaper = threading.Thread(target=self.reaper, name="reaper")
        reaper.start()
        t0 = time.monotonic()
        deadline = t0 + self.args.seconds
        next_start = t0
        throttled = 0
        while True:
            now = time.monotonic()
            self.do_kills(now)
            if now >= deadline:
                break
            if now >= next_start:
                with self.lock:
                    busy = len(self.alive) >= MAX_ALIVE
                if busy:
                    throttled += 1
                else:
                    self.start_one()
                next_start += self.rng.expovariate(self.args.rate)
            wake = min([next_start, deadline] + [k[0] for k in self.kills[:1]])
            time.sleep(max(0.0, min(wake - time.monotonic(), 0.05)))
        # let the last processes end (killed ones on their schedule)
        while True:
            self.do_kills(time.monotonic())
            with self.lock:
                left = len(self.alive)
            if not left:
                break
            time.sleep(0.005)
        os.kill(self.sentinel, signal.SIGKILL)
        reaper.join()
        self.log.close()
        print(f"churn: started {self.started} processes in {time.monotonic() - t0:.1f}s "
              f"({self.spawn_errors} spawn errors, {throttled} starts delayed at {MAX_ALIVE} alive)",
              file=sys.stderr)
        return 1 if self.spawn_errors else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--rate", type=float, default=17.0, help="processes started per second")
    ap.add_argument("--helper", required=True, help="the built soak_proc")
    ap.add_argument("--log", required=True)
    ap.add_argument("--seed", type=int, default=10)
    return Churn(ap.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())
