#!/usr/bin/env python3
"""The profiler's own cost while attached to a CPU-bound Python process.

A Debian python3 spins (`while True: pass`) for the whole run; each profiler
attaches to it by PID for --duration seconds at 100 Hz and 1 kHz. The figure
is the profiler's own CPU time (user + system from its rusage, as os.wait4
reports it), with its peak RSS, and for bpfspy the BPF time of its sampling
program (kernel.bpf_stats_enabled). Repetitions are interleaved (every tool
once, then again), and the table gives the median with min-max.

This is issue 20's fixed-cost figure: the cost of one sample is small, so at
these rates it is start-up (loading BPF, reading symbol and unwind tables) and
wake-ups that count. The goal, on 2 CPUs: bpfspy --native at most 0.06 s at
100 Hz and 0.2 s at 1 kHz over 20 s (0.3 % and 1 % of a core).

Peers: Austin 3.7 (-p, -x duration, same interval; Python frames only, its
default mode), Tachyon (CPython 3.15's profiling.sampling attach, CPU mode,
all threads; it attaches only to a 3.15, so it gets its own python3.15 spinner),
perf record -g (frame pointers) and --call-graph dwarf (perf's
own CPU: the kernel-side sampling cost lands on the target, not on perf; and
perf only writes the samples, it names nothing until perf report).

Writes bench/results/attach-<time>.{md,json}, and attach-<time>.png (the cost
per tool and rate, with the spread) when matplotlib is installed.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import measure  # noqa: E402
import plots  # noqa: E402

SPIN = ["-c", "while True: pass"]
# issue 20's goals as a share of one core: 0.06 s and 0.2 s over 20 s
GOAL_CORE_SHARE = {("bpfspy --native", 100): 0.003, ("bpfspy --native", 1000): 0.01}


def tools(build, extras):
    """(name, argv builder, why not) per profiler."""
    bpfspy = os.path.join(build, "bpfspy")
    austin = os.path.join(extras, "root", "usr", "bin", "austin")
    python315 = os.path.join(extras, "root", "usr", "bin", "python3.15")

    def bpfspy_cmd(*mode):
        return lambda pid, rate, dur, out: [bpfspy, "record", *mode, "-p", str(pid), "-r", str(rate), "-d",
                                            str(dur), "-f", "raw", "-o", out]

    have_perf = shutil.which("perf") is not None
    tachyon = None if os.access(python315, os.X_OK) else "python3.15 not installed (make deps)"
    return [
        ("bpfspy", bpfspy_cmd(), None),
        ("bpfspy --native", bpfspy_cmd("--native"), None),
        ("austin", lambda pid, rate, dur, out: [austin, "-s", "-i", str(round(1e6 / rate)), "-x", str(round(dur)), "-p",
                                                str(pid), "-o", out],
         None if os.access(austin, os.X_OK) else "austin not installed (make deps)"),
        ("tachyon", lambda pid, rate, dur, out: [python315, "-m", "profiling.sampling", "attach", "--collapsed",
                                                 "--mode", "cpu", "-a", "-r", str(rate), "-d", str(round(dur)),
                                                 "-o", out, str(pid)], tachyon),
        ("perf -g", lambda pid, rate, dur, out: ["perf", "record", "-q", "-F", str(rate), "-g", "-p", str(pid), "-o",
                                                 out, "--", "sleep", str(dur)],
         None if have_perf else "perf not installed"),
        ("perf dwarf", lambda pid, rate, dur, out: ["perf", "record", "-q", "-F", str(rate), "--call-graph", "dwarf",
                                                    "-p", str(pid), "-o", out, "--", "sleep", str(dur)],
         None if have_perf else "perf not installed"),
    ]


def run_once(argv, tmp, watch):
    res, _ = measure.run_measured(argv, tmp, os.path.join(tmp, "run"), watch=watch, timeout=600)
    out = {"cpu_s": res["tree_cpu_s"], "maxrss_mb": res["tree_maxrss_kb"] / 1024, "exit": res["exit"],
           "wall_s": res["wall_s"]}
    if watch and res.get("sample_run_cnt"):
        out["bpf_us_per_sample"] = res["sample_run_time_ns"] / res["sample_run_cnt"] / 1000
        out["samples"] = res["sample_run_cnt"]
    if res["exit"] != 0:
        out["error"] = res["stderr_tail"].strip().splitlines()[-1:] or [f"exit {res['exit']}"]
    return out


def summary(values):
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def plot(path, rows, rates):
    series = {}
    for r in rows:
        if r.get("cpu"):
            series.setdefault(r["tool"], {})[r["rate"]] = r["cpu"]
    goals = [(rate, share * rows[0]["duration"]) for (_, rate), share in GOAL_CORE_SHARE.items()]
    return plots.grouped_bars(path, f"Attached {rows[0]['duration']} s to a CPU-bound python3 "
                              "(dashed: bpfspy --native goal)", "profiler's own CPU (s), median and min-max",
                              rates, list(series.items()), goals)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--extras", default="/opt/bpfspy-extras")
    ap.add_argument("--duration", type=int, default=20, help="seconds attached (default 20)")
    ap.add_argument("--reps", type=int, default=5, help="interleaved repetitions (default 5)")
    ap.add_argument("--rates", default="100,1000")
    ap.add_argument("--tools", help="comma-separated subset, e.g. 'bpfspy,bpfspy --native'")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)  # runs happen in a scratch directory
    if os.geteuid() != 0:
        sys.exit("attach_cost.py: run as root (BPF, perf events, attaching to a process)")
    rates = [int(r) for r in args.rates.split(",")]
    chosen = [t for t in tools(args.build, args.extras)
              if not args.tools or t[0] in [x.strip() for x in args.tools.split(",")]]
    results = {(name, rate): [] for name, _, why in chosen if not why for rate in rates}
    # every tool attaches to Debian's python3, but Tachyon reads only a 3.15
    spinners = {"debian": subprocess.Popen(["/usr/bin/python3", *SPIN])}
    if any(name == "tachyon" and not why for name, _, why in chosen):
        spinners["tachyon"] = subprocess.Popen([os.path.join(args.extras, "root", "usr", "bin", "python3.15"), *SPIN])
    time.sleep(1)
    try:
        with measure.BpfStats() as stats, tempfile.TemporaryDirectory() as tmp:
            for rep in range(args.reps):
                for rate in rates:
                    for name, cmd, why in chosen:
                        if why:
                            continue
                        print(f"[{rep + 1}/{args.reps}] {name} at {rate} Hz for {args.duration:g} s", flush=True)
                        out = os.path.join(tmp, "out")
                        results[(name, rate)].append(
                            run_once(cmd(spinners.get(name, spinners["debian"]).pid, rate, args.duration, out), tmp,
                                     watch=name.startswith("bpfspy") and stats.enabled))
                        if os.path.exists(out):
                            os.unlink(out)
    finally:
        for spinner in spinners.values():
            spinner.kill()
            spinner.wait()

    rows = []
    for name, _, why in chosen:
        for rate in rates:
            runs = results.get((name, rate), [])
            good = [r for r in runs if "error" not in r]
            row = {"tool": name, "rate": rate, "duration": args.duration, "why_not": why,
                   "errors": [r["error"] for r in runs if "error" in r],
                   "cpu": summary([r["cpu_s"] for r in good]),
                   "maxrss_mb": summary([r["maxrss_mb"] for r in good]),
                   "bpf_us": summary([r["bpf_us_per_sample"] for r in good if "bpf_us_per_sample" in r])}
            share = GOAL_CORE_SHARE.get((name, rate))
            goal = share * args.duration if share is not None else None
            if goal is not None and row["cpu"]:
                row["goal_s"] = goal
                row["goal_met"] = row["cpu"]["median"] <= goal
            rows.append(row)

    lines = [f"# Profiler cost attached {args.duration:g} s to a CPU-bound python3",
             "",
             f"{args.reps} interleaved repetitions; the profiler's own CPU (user + system, rusage), median "
             f"[min-max]; load average {measure.load_average():.2f} at the end. The target is Debian's python3 "
             "(3.11); Tachyon's is a python3.15 (it reads only 3.15).",
             "",
             "| profiler | rate | own CPU (s) | % of a core | peak RSS (MB) | BPF µs/sample | goal |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["why_not"] or not r["cpu"]:
            why = r["why_not"] or "; ".join(" ".join(e) for e in r["errors"][:1]) or "no run"
            lines.append(f"| {r['tool']} | {r['rate']} Hz | n/a: {why} | | | | |")
            continue
        c, m, b = r["cpu"], r["maxrss_mb"], r["bpf_us"]
        goal = ""
        if "goal_s" in r:
            goal = f"≤ {r['goal_s']:g} s: {'met' if r['goal_met'] else 'missed'}"
        lines.append(f"| {r['tool']} | {r['rate']} Hz | {c['median']:.3f} [{c['min']:.3f}-{c['max']:.3f}] | "
                     f"{100 * c['median'] / args.duration:.2f} % | {m['median']:.1f} | "
                     f"{b['median']:.1f} |" if b else
                     f"| {r['tool']} | {r['rate']} Hz | {c['median']:.3f} [{c['min']:.3f}-{c['max']:.3f}] | "
                     f"{100 * c['median'] / args.duration:.2f} % | {m['median']:.1f} | |")
        lines[-1] += f" {goal} |"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    os.makedirs(args.out, exist_ok=True)
    base = os.path.join(args.out, f"attach-{stamp}")
    if plot(base + ".png", rows, rates):
        lines += ["", f"![profiler cost by rate]({os.path.basename(base)}.png)"]
    text = "\n".join(lines) + "\n"
    with open(base + ".md", "w") as f:
        f.write(text)
    with open(base + ".json", "w") as f:
        json.dump({"rows": rows, "runs": {f"{k[0]}@{k[1]}": v for k, v in results.items()}}, f, indent=1)
    for ext in ("md", "json", "png"):
        if os.path.exists(f"{base}.{ext}"):
            shutil.copyfile(f"{base}.{ext}", os.path.join(args.out, f"attach-latest.{ext}"))
    print(text)
    print(f"wrote {base}.md, .json" + (", .png" if os.path.exists(base + ".png") else ""))


if __name__ == "__main__":
    main()
