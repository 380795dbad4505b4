#!/usr/bin/python3
"""Soak test: `bpfspy record -a --native -i` for SECONDS under heavy process churn.

Runs bpfspy on the whole host, runs churn.py (about RATE short processes a
second) while watching bpfspy's memory once a second, stops bpfspy with SIGINT
and asserts:
  - bpfspy did not crash and exited 0 after SIGINT, with a complete JSON file;
  - its RSS is flat after the warm-up (first 20 % of the run): least-squares
    slope under --max-rss-slope KB/min (see RSS_SLOPE_WHY);
  - its open file descriptors do not grow after the warm-up;
  - it reported lost samples, and under 0.1 % of those taken;
  - every churn process that lived >= 20 ms has a profile with weight;
  - speedscope-check imports the file.
Prints a report and exits 1 if any assertion failed.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import checks  # noqa: E402
from procwatch import ProcWatch, fd_count, slope_per_minute  # noqa: E402

HERE = Path(__file__).resolve().parent
WARMUP_FRACTION = 0.2
# What "flat" allows. bpfspy keeps the profile in memory until it writes it,
# and with -a -i every context switch on the host adds to it, so memory in
# proportion to the output is by design: allowed is 1 MB/min of noise plus
# twice the output's average rate (the in-memory profile is more compact
# than its JSON). Growth beyond that is state that is not the profile: caches
# that never stop filling, or per-process state kept after the process ended
# (at ~1000 processes a minute, 1 KB each is already 1 MB/min).
RSS_NOISE_KB_PER_MIN = 1024
RSS_PER_OUTPUT_RATE = 2.0
FD_GROWTH_ALLOWED = 16  # fds of processes alive at the moment (/proc/PID/mem, ...) come and go


def log(msg):
    print(f"soak: {msg}", flush=True)


def wait_attached(pid, timeout):
    """bpfspy opens one perf event per CPU once its BPF programs are loaded and attached."""
    ncpu = os.cpu_count()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            links = []
        if sum(1 for l in links if l == "anon_inode:[perf_event]") >= ncpu:
            time.sleep(0.5)  # the first ring-buffer drain
            return True
        time.sleep(0.05)
    return False


class Soak:
    def __init__(self, a):
        self.a = a
        self.out_dir = Path(a.out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.profile = self.out_dir / "soak.speedscope.json"
        self.stderr_path = self.out_dir / "bpfspy.stderr"
        self.churn_log = self.out_dir / "churn.jsonl"
        self.failures = []
        self.lines = []  # the report

    def fail(self, what):
        self.failures.append(what)

    def say(self, line=""):
        self.lines.append(line)

    # ---- the run ----

    def record(self):
        a = self.a
        cmd = [a.bpfspy, "record", "-a", "--native", "-i", "-v", "-r", str(a.sample_rate), "-o", str(self.profile)]
        log(" ".join(cmd))
        self.profile.unlink(missing_ok=True)
        with open(self.stderr_path, "w") as err:
            bp = subprocess.Popen(cmd, stdout=err, stderr=err)
        if not wait_attached(bp.pid, 60):
            bp.kill()
            bp.wait()
            self.fail("bpfspy did not attach within 60 s")
            return None
        self.fds_at_start = fd_count(bp.pid)
        watch = ProcWatch(bp.pid)
        watch.start()
        self.t_start = time.monotonic()
        churn = subprocess.Popen([sys.executable, str(HERE / "churn.py"), "--seconds", str(a.seconds),
                                  "--rate", str(a.rate), "--helper", a.helper, "--log", str(self.churn_log)])
        crashed = False
        next_note = self.t_start + max(10.0, a.seconds / 10)
        while churn.poll() is None:
            if bp.poll() is not None:
                crashed = True
                churn.terminate()
                churn.wait()
                break
            if time.monotonic() >= next_note and watch.samples:
                t, rss, fds, cpu = watch.samples[-1]
                log(f"{t - self.t_start:5.0f}s  bpfspy RSS {rss / 1024:.1f} MB, {fds} fds, {cpu:.1f} CPU s")
                next_note += max(10.0, a.seconds / 10)
            time.sleep(0.2)
        self.churn_rc = churn.returncode
        self.t_churn_end = time.monotonic()
        if crashed:
            watch.stop()
            self.fail(f"bpfspy ended during the run ({describe_status(bp.returncode)})")
            self.rc, self.stop_seconds = bp.returncode, None
            return watch
        time.sleep(1.0)  # the last exits and off-CPU ends reach the ring buffer
        t_sigint = time.monotonic()
        bp.send_signal(signal.SIGINT)
        try:
            self.rc = bp.wait(timeout=a.stop_timeout)
        except subprocess.TimeoutExpired:
            bp.kill()
            self.rc = bp.wait()
            self.fail(f"bpfspy still running {a.stop_timeout} s after SIGINT (killed)")
        self.stop_seconds = time.monotonic() - t_sigint
        watch.stop()
        self.t_sigint = t_sigint
        return watch

    # ---- the checks ----

    def check_exit(self):
        self.say(f"bpfspy exit: {describe_status(self.rc)}" +
                 (f", {self.stop_seconds:.1f} s after SIGINT" if self.stop_seconds is not None else ""))
        if self.rc != 0:
            self.fail(f"bpfspy exit status {describe_status(self.rc)} (expected 0)")
        stderr = self.stderr_path.read_text(errors="replace")
        for line in stderr.splitlines():
            if line.startswith("bpfspy:") and "debug:" not in line:
                self.say("  " + line)
        if any(w in stderr for w in ("AddressSanitizer", "runtime error", "Segmentation", "Aborted")):
            self.fail("bpfspy stderr reports a crash or sanitizer error")
        return stderr

    def rss_limit(self):
        """KB/min allowed after the warm-up (see RSS_NOISE_KB_PER_MIN)."""
        if self.a.max_rss_slope is not None:
            return self.a.max_rss_slope, "given"
        minutes = (self.t_churn_end - self.t_start) / 60
        out_kb = self.profile.stat().st_size / 1024 if self.profile.exists() else 0
        out_rate = out_kb / minutes if minutes > 0 else 0
        limit = RSS_NOISE_KB_PER_MIN + RSS_PER_OUTPUT_RATE * out_rate
        return limit, f"1 MB/min + {RSS_PER_OUTPUT_RATE:g} x output rate {out_rate / 1024:.1f} MB/min"

    def check_memory(self, watch):
        samples = watch.samples
        if not samples:
            self.fail("no RSS samples")
            return
        run_end = getattr(self, "t_sigint", self.t_churn_end)
        warm_end = self.t_start + WARMUP_FRACTION * (run_end - self.t_start)
        steady = [s for s in samples if warm_end <= s[0] <= run_end]
        rss = slope_per_minute([(t, kb) for t, kb, _, _ in steady])
        rss0, rss1 = samples[0][1], steady[-1][1] if steady else samples[-1][1]
        fds_warm = max((f for t, _, f, _ in samples if t <= warm_end), default=0)
        fds_max = max((f for _, _, f, _ in steady), default=0)
        cpu = samples[-1][3] - samples[0][3]
        span = samples[-1][0] - samples[0][0]
        limit, why = self.rss_limit()
        per_proc = ""
        if rss is not None and self.a.rate > 0:
            per_proc = f" = {rss / (self.a.rate * 60):.1f} KB per churn process started (others ran too)"
        self.say(f"RSS: {rss0 / 1024:.1f} MB at start, {rss1 / 1024:.1f} MB at end, max "
                 f"{max(s[1] for s in samples) / 1024:.1f} MB; slope after warm-up "
                 + (f"{rss:+.0f} KB/min{per_proc}" if rss is not None else "n/a")
                 + f" over {len(steady)} samples")
        self.say(f"  RSS limit {limit:.0f} KB/min ({why})")
        self.say(f"fds: {self.fds_at_start} at start, max {fds_warm} in warm-up, max {fds_max} after "
                 f"(limit +{FD_GROWTH_ALLOWED})")
        if span > 0:
            self.say(f"bpfspy CPU: {cpu:.1f} s in {span:.0f} s ({100 * cpu / span:.1f}% of one core)")
        if rss is None or len(steady) < 5:
            self.fail("too few RSS samples after the warm-up to fit a slope")
        elif rss > limit:
            self.fail(f"RSS grows {rss:.0f} KB/min after the warm-up (limit {limit:.0f})")
        if fds_max > fds_warm + FD_GROWTH_ALLOWED:
            self.fail(f"open fds grew from {fds_warm} (warm-up) to {fds_max}")

    def check_loss(self, stderr):
        s = checks.parse_summary(stderr)
        if s is None:
            self.fail("no summary line (`N samples from P processes ... L lost`) on stderr")
            return
        taken = s["samples"] + s["lost"]
        pct = 100.0 * s["lost"] / taken if taken else 0.0
        self.say(f"samples: {s['samples']} from {s['processes']} processes ({s['threads']} threads), "
                 f"{s['lost']} lost = {pct:.4f}% (limit {self.a.max_lost_pct:g}%)")
        if "process_events_lost" in s:
            self.say(f"BPF: {s['bpf_samples']} samples taken, {s['code_lost']} code objects lost, "
                     f"{s['process_events_lost']} process events lost")
        if pct >= self.a.max_lost_pct:
            self.fail(f"lost samples {pct:.4f}% >= {self.a.max_lost_pct}%")

    def check_processes(self):
        try:
            with open(self.profile) as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            self.fail(f"output {self.profile} is missing or not complete JSON: {e}")
            return
        size = self.profile.stat().st_size
        self.say(f"output: {self.profile} {size / 1e6:.1f} MB, {len(doc.get('profiles', []))} profiles")
        records = checks.read_churn_log(self.churn_log)
        profiled = checks.profiled_processes(doc)
        ms = self.a.min_lifetime_ms
        found, missed, reused = checks.match_processes(records, profiled, ms)
        short_seen, short_total = checks.short_lived_seen(records, profiled, ms)

        started = Counter(r["kind"] for r in records)
        long_ = Counter(r["kind"] for r in records if r["lifetime_ms"] >= ms)
        got = Counter(r["kind"] for r in found)
        miss = Counter(r["kind"] for r in missed)
        killed = Counter(r["kind"] for r in records if r["killed"])
        self.say(f"processes (churn exit {self.churn_rc}): {len(records)} started, "
                 f"{sum(long_.values())} lived >= {ms:g} ms, {len(found)} found, {len(missed)} missed")
        self.say(f"  {'kind':<22}{'started':>8}{'killed':>8}{'>=' + format(ms, 'g') + 'ms':>8}"
                 f"{'found':>8}{'missed':>8}")
        for kind in sorted(started):
            self.say(f"  {kind:<22}{started[kind]:>8}{killed[kind]:>8}{long_[kind]:>8}{got[kind]:>8}"
                     f"{miss[kind]:>8}")
        self.say(f"  shorter than {ms:g} ms (not asserted): {short_seen} of {short_total} found")
        if reused:
            self.say(f"  {len(reused)} pids were used twice by the churn (pid_max wrap); counted by pid")
        for r in missed[:40]:
            self.say(f"  MISSED pid {r['pid']} {r['kind']} lived {r['lifetime_ms']:.1f} ms status {r['status']}"
                     f"{' killed' if r['killed'] else ''}; in profile as {r['seen_as'] or 'nothing'}"
                     f" weight {r['seen_weight']}")
        over = checks.longer_than_lived(records, profiled)
        self.say(f"  processes whose recorded time exceeds threads x lifetime (not asserted): {len(over)}")
        for r, weight_ms, bound_ms in over[:10]:
            self.say(f"    pid {r['pid']} {r['kind']} lived {r['lifetime_ms']:.1f} ms, recorded {weight_ms:.1f} ms "
                     f"(bound {bound_ms:.1f} ms)")
        if missed:
            self.fail(f"{len(missed)} processes that lived >= {ms:g} ms are not in the profile")
        if not records:
            self.fail("the churn logged no processes")

    def check_speedscope(self):
        if not self.profile.exists():
            return
        cmd = [self.a.speedscope_check, str(self.profile), "--timeout", str(self.a.check_timeout_ms)]
        t0 = time.monotonic()
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=self.a.check_timeout_ms / 1000 + 300)
            rc, out = p.returncode, (p.stdout.strip() or p.stderr.strip())
        except subprocess.TimeoutExpired:
            rc, out = "timeout", ""
        self.say(f"speedscope-check: exit {rc} in {time.monotonic() - t0:.0f} s: {out[:300]}")
        if rc != 0:
            self.fail(f"speedscope-check failed (exit {rc})")

    def run(self):
        log(f"{self.a.seconds:g} s, ~{self.a.rate:g} processes/s (~{self.a.seconds * self.a.rate:.0f} processes)")
        watch = self.record()
        if watch is not None:
            stderr = self.check_exit()
            self.check_memory(watch)
            self.check_loss(stderr)
            self.check_processes()
            self.check_speedscope()
        print("\n==== soak report ====")
        print("\n".join(self.lines))
        print("RESULT: " + ("PASS" if not self.failures else "FAIL"))
        for f in self.failures:
            print(f"  FAIL: {f}")
        print(f"(files in {self.out_dir})")
        return 0 if not self.failures else 1


def describe_status(rc):
    if rc is None:
        return "none"
    if rc < 0:
        return f"killed by {signal.Signals(-rc).name}"
    return str(rc)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bpfspy", required=True)
    ap.add_argument("--helper", required=True, help="the built soak_proc")
    ap.add_argument("--speedscope-check", required=True)
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--rate", type=float, default=17, help="processes started per second")
    ap.add_argument("--sample-rate", type=int, default=100, help="bpfspy's samples per second per CPU")
    ap.add_argument("--out-dir", default="build/soak/run")
    ap.add_argument("--min-lifetime-ms", type=float, default=20)
    ap.add_argument("--max-lost-pct", type=float, default=0.1)
    ap.add_argument("--max-rss-slope", type=float, default=None,
                    help="KB per minute after the warm-up (default: 1 MB/min + twice the output's rate)")
    ap.add_argument("--stop-timeout", type=float, default=600, help="seconds bpfspy may take after SIGINT")
    ap.add_argument("--check-timeout-ms", type=int, default=600000)
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("soak: must run as root (bpfspy record -a)", file=sys.stderr)
        return 2
    return Soak(a).run()


if __name__ == "__main__":
    sys.exit(main())
