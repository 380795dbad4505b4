#!/usr/bin/python3
"""make bench / bench-quick: `bpfspy top` over a long run stays flat.

`top` is left running against a CPU-bound Python process whose stack
changes at nearly every sample (workloads/stack_churn.py) at 1 kHz in its plain, non-terminal mode, one refresh per
second. Once per refresh interval bpfspy's CPU time (utime + stime from
/proc/PID/stat, all its threads) and RSS (VmRSS) are read. The figures
compare the first window after a few seconds of start-up and the last one
(a minute each, or a third of a shorter run): CPU per refresh and RSS must stay flat, as a refresh costs what the
interval brought and no sample is kept. Results go to
bench/results/top-longrun-<time>.{json,md}; the table is printed.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--duration", type=float, default=600, help="seconds of top (default 600)")
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    bpfspy = os.path.join(args.build, "bpfspy")

    workload = subprocess.Popen([args.python, os.path.join(HERE, "workloads", "stack_churn.py")],
                                stdout=subprocess.DEVNULL)
    top = subprocess.Popen([bpfspy, "top", "-r", str(args.rate), "--delay", "1", "-p", str(workload.pid)],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    seen = {"refreshes": 0, "samples": 0}
    reader = threading.Thread(target=read_tables, args=(top.stdout, seen), daemon=True)
    reader.start()
    points = []
    start = time.monotonic()
    try:
        while time.monotonic() - start < args.duration and top.poll() is None:
            time.sleep(1.0)
            points.append({"t": time.monotonic() - start, "cpu": cpu_seconds(top.pid), "rss": rss_kib(top.pid),
                           **seen})
    finally:
        top.terminate()
        top.wait()
        workload.kill()
        workload.wait()
    if len(points) < 3 * WARMUP_S:
        sys.exit(f"top-longrun: top ended after {len(points)} s (exit {top.returncode})")

    window = min(60.0, (points[-1]["t"] - WARMUP_S) / 3)
    first, last = window_figures(points, True, window), window_figures(points, False, window)
    result = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "duration_s": points[-1]["t"], "rate_hz": args.rate,
              "window_s": window, "refreshes": points[-1]["refreshes"], "samples": points[-1]["samples"], "first": first, "last": last,
              "cpu_ratio": last["cpu_ms_per_s"] / first["cpu_ms_per_s"] if first["cpu_ms_per_s"] else None,
              "rss_growth_mib": last["rss_mib"] - first["rss_mib"], "points": points}
    ratio = f"{result['cpu_ratio']:.2f}" if result["cpu_ratio"] is not None else "n/a"
    md = "\n".join([
        f"## bpfspy top, {result['duration_s']:.0f} s at {args.rate} Hz against a CPU-bound Python process",
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
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, f"top-longrun-{time.strftime('%Y%m%d-%H%M%S')}")
    with open(stem + ".json", "w") as f:
        json.dump(result, f, indent=1)
    with open(stem + ".md", "w") as f:
        f.write(md)
    print(md)
    print(f"top-longrun: wrote {stem}.md and .json", file=sys.stderr)


if __name__ == "__main__":
    main()
