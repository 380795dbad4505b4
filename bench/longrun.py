#!/usr/bin/python3
"""make bench / bench-quick: bpfspy left running stays flat.

--mode top: `bpfspy top` is left running against a CPU-bound Python process
whose stack changes at nearly every sample (workloads/stack_churn.py) at
1 kHz in its plain, non-terminal mode, one refresh per second. CPU per
refresh and RSS must stay flat, as a refresh costs what the interval brought
and no sample is kept.

--mode record-all: `bpfspy record -a` (every process of the host) on a busy
host: the same CPU-bound Python process, plus two lanes that start
short-lived Pythons and coreutils without pause (workloads/forkexec.sh in a
loop: new processes, new symbol and unwind tables all the time). A recording
keeps what it sampled, so its RSS grows with the distinct stacks; the soak
shows by how much, and that the CPU per second stays flat.

Once a second bpfspy's CPU time (utime + stime from /proc/PID/stat, all its
threads) and RSS (VmRSS) are read. The figures compare the first window after
a few seconds of start-up and the last one (a minute each, or a third of a
shorter run). Results go to bench/results/<mode>-longrun-<time>.{json,md};
the table is printed.
"""
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TICK = os.sysconf("SC_CLK_TCK")
WARMUP_S = 5  # loading BPF and reading the interpreter's symbols: not a refresh's cost


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14, 15)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def read_tables(stream, seen):
    """Reads top's plain output (one table per refresh) so it never blocks on a full pipe: refreshes, samples."""
    for line in stream:
        if line.startswith("Collecting samples"):
            seen["refreshes"] += 1
        elif line.startswith("Total Samples "):
            seen["samples"] = int(line.split()[2])


def window_figures(points, first, seconds):
    """CPU ms per refresh interval and µs per sample over the window, and the RSS at its end."""
    if first:
        ts = [p for p in points if WARMUP_S <= p["t"] <= WARMUP_S + seconds]
    else:
        ts = [p for p in points if p["t"] >= points[-1]["t"] - seconds]
    deltas = [(b["cpu"] - a["cpu"]) * 1000 / (b["t"] - a["t"]) for a, b in zip(ts, ts[1:]) if b["t"] > a["t"]]
    samples = ts[-1]["samples"] - ts[0]["samples"]
    return {"cpu_ms_per_s": statistics.mean(deltas) if deltas else 0.0,
            "cpu_us_per_sample": (ts[-1]["cpu"] - ts[0]["cpu"]) * 1e6 / samples if samples > 0 else 0.0,
            "rss_mib": ts[-1]["rss"] / 1024,
            "from_s": ts[0]["t"], "to_s": ts[-1]["t"]}


def read_summary(stream, seen):
    """record's closing lines on stderr: 'N samples from P processes ... ; L lost'."""
    for line in stream:
        m = re.search(r"(\d+) samples from (\d+) process.*; (\d+) lost", line)
        if m:
            seen["samples"], seen["processes"], seen["lost"] = (int(g) for g in m.groups())


def busy_host(python):
    """The record-all load: the CPU-bound churn, and two lanes of short-lived processes without pause."""
    churn = subprocess.Popen([python, os.path.join(HERE, "workloads", "stack_churn.py")], stdout=subprocess.DEVNULL)
    lanes = subprocess.Popen(["sh", "-c", f'while :; do sh "{HERE}/workloads/forkexec.sh" "{python}" 20; done'],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    return churn, lanes


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--mode", choices=("top", "record-all"), default="top")
    ap.add_argument("--duration", type=float, default=600, help="seconds (default 600)")
    ap.add_argument("--rate", type=int, default=None, help="Hz (default: 1000 for top, 100 for record-all)")
    ap.add_argument("--native", action="store_true", help="record-all: with --native")
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)  # runs happen in a scratch directory
    bpfspy = os.path.join(args.build, "bpfspy")
    rate = args.rate or (1000 if args.mode == "top" else 100)
    tag = f"{args.mode}-longrun"

    seen = {"refreshes": 0, "samples": 0}
    with tempfile.TemporaryDirectory() as tmp:
        if args.mode == "top":
            workload = subprocess.Popen([args.python, os.path.join(HERE, "workloads", "stack_churn.py")],
                                        stdout=subprocess.DEVNULL)
            lanes = None
            tool = subprocess.Popen([bpfspy, "top", "-r", str(rate), "--delay", "1", "-p", str(workload.pid)],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            reader = threading.Thread(target=read_tables, args=(tool.stdout, seen), daemon=True)
        else:
            workload, lanes = busy_host(args.python)
            # no -d: the soak ends it with SIGINT, so that writing the file is outside the last window
            tool = subprocess.Popen([bpfspy, "record", "-a", "-r", str(rate), *(["--native"] if args.native else []),
                                     "-f", "raw", "-o", os.path.join(tmp, "all.raw")],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            reader = threading.Thread(target=read_summary, args=(tool.stderr, seen), daemon=True)
        reader.start()
        points = []
        start = time.monotonic()
        try:
            while time.monotonic() - start < args.duration and tool.poll() is None:
                time.sleep(1.0)
                points.append({"t": time.monotonic() - start, "cpu": cpu_seconds(tool.pid), "rss": rss_kib(tool.pid),
                               **seen})
        except FileNotFoundError:  # record ended between poll() and the read
            pass
        finally:
            if args.mode == "top":
                tool.terminate()
            else:
                tool.send_signal(signal.SIGINT)
            tool.wait(timeout=120)
            reader.join(timeout=5)
            workload.kill()
            workload.wait()
            if lanes:
                os.killpg(lanes.pid, signal.SIGKILL)
                lanes.wait()
    if len(points) < 3 * WARMUP_S:
        sys.exit(f"{tag}: bpfspy ended after {len(points)} s (exit {tool.returncode})")

    window = min(60.0, (points[-1]["t"] - WARMUP_S) / 3)
    first, last = window_figures(points, True, window), window_figures(points, False, window)
    result = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "mode": args.mode, "native": args.native,
              "duration_s": points[-1]["t"], "rate_hz": rate,
              "window_s": window, "refreshes": points[-1]["refreshes"], "samples": points[-1]["samples"], "first": first, "last": last,
              "cpu_ratio": last["cpu_ms_per_s"] / first["cpu_ms_per_s"] if first["cpu_ms_per_s"] else None,
              "rss_growth_mib": last["rss_mib"] - first["rss_mib"],
              "rss_max_mib": max(p["rss"] for p in points) / 1024, "points": points}
    if args.mode == "record-all":
        result.update(samples=seen.get("samples", 0), processes=seen.get("processes", 0), lost=seen.get("lost", 0))
        md = record_all_table(result, seen, window)
    else:
        md = top_table(result, window)
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, f"{tag}-{time.strftime('%Y%m%d-%H%M%S')}")
    with open(stem + ".json", "w") as f:
        json.dump(result, f, indent=1)
    with open(stem + ".md", "w") as f:
        f.write(md)
    print(md)
    print(f"{tag}: wrote {stem}.md and .json", file=sys.stderr)


def record_all_table(result, seen, window):
    first, last = result["first"], result["last"]
    ratio = f"{result['cpu_ratio']:.2f}" if result["cpu_ratio"] is not None else "n/a"
    mode = " --native" if result["native"] else ""
    return "\n".join([
        f"## bpfspy record -a{mode}, {result['duration_s']:.0f} s at {result['rate_hz']} Hz on a busy host",
        "",
        f"A CPU-bound Python process and two lanes of short-lived processes without pause; "
        f"{seen.get('samples', 0)} samples from {seen.get('processes', 0)} processes, {seen.get('lost', 0)} lost; "
        f"windows of {window:.0f} s.",
        "",
        "| window | bpfspy CPU per second | RSS at its end |",
        "|---|---|---|",
        f"| first ({first['from_s']:.0f}-{first['to_s']:.0f} s) | {first['cpu_ms_per_s']:.1f} ms | "
        f"{first['rss_mib']:.1f} MiB |",
        f"| last ({last['from_s']:.0f}-{last['to_s']:.0f} s) | {last['cpu_ms_per_s']:.1f} ms | "
        f"{last['rss_mib']:.1f} MiB |",
        "",
        f"CPU per second, last / first: {ratio}; RSS growth: {result['rss_growth_mib']:+.1f} MiB, "
        f"peak {result['rss_max_mib']:.1f} MiB.",
        "",
    ])


def top_table(result, window):
    first, last = result["first"], result["last"]
    args_rate = result["rate_hz"]
    ratio = f"{result['cpu_ratio']:.2f}" if result["cpu_ratio"] is not None else "n/a"
    return "\n".join([
        f"## bpfspy top, {result['duration_s']:.0f} s at {args_rate} Hz against a CPU-bound Python process",
        "",
        f"{result['refreshes']} refreshes (1 s each), {result['samples']} samples "
        f"({result['samples'] / result['duration_s']:.0f}/s: the target gets less than a CPU on a loaded machine); "
        f"windows of {window:.0f} s.",
        "",
        "| window | bpfspy CPU per refresh | per sample | RSS at its end |",
        "|---|---|---|---|",
        f"| first ({first['from_s']:.0f}-{first['to_s']:.0f} s) | {first['cpu_ms_per_s']:.1f} ms | "
        f"{first['cpu_us_per_sample']:.1f} µs | {first['rss_mib']:.1f} MiB |",
        f"| last ({last['from_s']:.0f}-{last['to_s']:.0f} s) | {last['cpu_ms_per_s']:.1f} ms | "
        f"{last['cpu_us_per_sample']:.1f} µs | {last['rss_mib']:.1f} MiB |",
        "",
        f"CPU per refresh, last / first: {ratio}; RSS growth: {result['rss_growth_mib']:+.1f} MiB.",
        "",
    ])


if __name__ == "__main__":
    main()
