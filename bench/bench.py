#!/usr/bin/python3
"""make bench / make bench-quick: bpfspy against Austin, Tachyon and perf.

For each case (workload x interpreter) and each repetition, every profiler at
every rate runs once, plus one unprofiled baseline; the order is reversed on
every other repetition (A B C, C B A) so that machine drift cancels in the
medians, and slowdowns are taken against the baseline of the same repetition.
Results go to bench/results/bench-<mode>-<time>.{json,md}; the table is printed.
See bench/README.md for what each figure means.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import figures  # noqa: E402
import measure  # noqa: E402
import profilers  # noqa: E402
import plots  # noqa: E402
import report  # noqa: E402


@dataclass
class Interpreter:
    label: str
    path: str
    version: tuple = ()
    has_numpy: bool = False


@dataclass
class Workload:
    name: str
    kind: str  # "script", "module" or "shell"
    args: tuple
    needs_numpy: bool = False
    truth: dict = None  # designed shares; None = from a reference run
    root: str = None  # only samples under this function count for accuracy
    min_version: tuple = ()  # interpreters older than this skip it

    def target(self, py):
        if self.kind == "shell":
            return ["/bin/sh", *self.args, py.path]
        return [py.path, *self.args]


def calltree_truth():
    sys.path.insert(0, os.path.join(HERE, "workloads"))
    import calltree
    return {profilers.frame_key(k, "calltree.py"): v for k, v in calltree.SHARES.items()}


def workloads(quick, scale=None):
    w = os.path.join(HERE, "workloads")
    # bench-quick: about 1 s of CPU instead of 2; --scale 18: calltree ~11 s on Debian's 3.11
    scale = str(scale) if scale else ("0.5" if quick else "1")
    return {
        "calltree": Workload("calltree", "script", (f"{w}/calltree.py", scale), truth=calltree_truth(),
                             root=profilers.frame_key("run_tree", "calltree.py")),
        "pytest": Workload("pytest", "module", ("-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                                                os.path.join(ROOT, "examples/pytest-startup")), needs_numpy=True),
        "lombscargle": Workload("lombscargle", "script", (f"{w}/lombscargle.py",), needs_numpy=True),
        "threads": Workload("threads", "script", (f"{w}/threads_mix.py",)),
        "forkexec": Workload("forkexec", "shell", (f"{w}/forkexec.sh",)),
        "sleeps": Workload("sleeps", "script", (f"{w}/sleeps.py", scale)),
        # --async-aware's cost: asyncio tasks' stacks read per sample (CPython 3.14+)
        "asyncio": Workload("asyncio", "script", (f"{w}/asyncio_tree.py", scale), min_version=(3, 14)),
    }


def probe_interpreter(label, path):
    if not os.access(path, os.X_OK):
        return None
    out = subprocess.run([path, "-c", "import sys\ntry:\n import numpy, astropy, pytest; n=1\nexcept ImportError: n=0\n"
                          "print(sys.version_info[0], sys.version_info[1], n)"], capture_output=True, text=True)
    major, minor, numpy = out.stdout.split()
    return Interpreter(label, path, (int(major), int(minor)), numpy == "1")


def plan(quick, extras):
    """The matrix: interpreters, workloads, rates, repetitions."""
    interps = [("python3.11 (Debian)", "/usr/bin/python3")]
    if not quick:
        interps += [("python3.12 (pyenv)", "/root/.pyenv/versions/3.12.1/bin/python3.12"),
                    ("python3.15", f"{extras}/root/usr/bin/python3.15")]
    found = [probe_interpreter(label, path) for label, path in interps]
    missing = [label for (label, _), i in zip(interps, found) if i is None]
    names = ["calltree", "pytest"] if quick else ["calltree", "pytest", "lombscargle", "threads", "forkexec", "sleeps",
                                                  "asyncio"]
    rates = [100, 1000] if quick else [100, 1000, 10000]
    return [i for i in found if i], names, rates, (2 if quick else 3), missing


def run_one(tool, rate, workload, py, tmp, wrap_binary, tag):
    out = os.path.join(tmp, f"{tag}.out")
    target = workload.target(py)
    wrapper_file = os.path.join(tmp, f"{tag}.rusage.json")
    if tool.wraps_target:
        target = [wrap_binary, wrapper_file, *target]
    argv = tool.command(rate, target, out)
    run, stderr = measure.run_measured(argv, ROOT, os.path.join(tmp, tag), watch=tool.watch)
    run["target"] = measure.read_wrapper_file(wrapper_file) if tool.wraps_target else None
    run["parsed"] = {}
    try:
        run["parsed"] = tool.parse(out, stderr)
    except (OSError, ValueError) as e:
        run["error"] = f"{tool.name}: no output ({e})"
    if run["exit"] != 0:
        last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
        run["error"] = f"{tool.name} exited {run['exit']}: {last[:200]}"
    for path in (out, wrapper_file):
        if os.path.exists(path):
            os.unlink(path)
    return run


def reference_stacks(bpfspy, workload, py, tmp, wrap):
    """A long high-rate bpfspy run: the ground truth where none is designed in."""
    ref = run_one(bpfspy, 10000, workload, py, tmp, wrap, "reference")
    return ref.get("parsed", {}).get("stacks") or []


def output_benchmark(build, tmp, bpfspy_binary, wrap):
    """Figure 6: record pytest --collect-only at 1 kHz as speedscope, then let
    write_bench replay its samples up to 1 M and time each writer."""
    recorded = os.path.join(tmp, "recorded.speedscope.json")
    target = [wrap, os.path.join(tmp, "w.json"), "/usr/bin/python3", "-m", "pytest", "--collect-only", "-q",
              "-p", "no:cacheprovider", os.path.join(ROOT, "examples/pytest-startup")]
    subprocess.run([bpfspy_binary, "record", "-q", "-r", "1000", "-o", recorded, "--", *target],
                   cwd=ROOT, capture_output=True)
    out = subprocess.run([os.path.join(build, "bench/write_bench"), recorded, tmp], capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": (out.stderr or "write_bench failed").strip()[-300:]}
    return json.loads(out.stdout)


UNWIND_DEPTHS = (20, 80, 200)
UNWIND_RATES = (100, 1000)
UNWIND_MODES = (("default", []), ("default, --unwind snapshot (frame pointers)", ["--unwind", "snapshot"]),
                ("--native", ["--native"]), ("--native --unwind snapshot (stack copies)", ["--native", "--unwind", "snapshot"]))
UNWIND_WORK = "2500000000"  # spin iterations: about 2 s of CPU


def unwind_benchmark(build, tmp, bpfspy_binary, reps):
    """BPF time per sample of each unwinding mode on native stacks of 20, 80
    and 200 frames (bench/workloads/deep_native.c, no frame pointers), with
    bpfspy's peak RSS and the share of samples whose stack reached main."""
    program = os.path.join(build, "bench/deep_native")
    rows = []
    for depth in UNWIND_DEPTHS:
        for rate in UNWIND_RATES:
            for label, flags in UNWIND_MODES:
                runs = []
                for rep in range(reps):
                    out = os.path.join(tmp, "unwind.txt")
                    argv = [bpfspy_binary, "record", "-q", "-r", str(rate), "-f", "collapsed", "-o", out, *flags,
                            "--", program, str(depth), UNWIND_WORK]
                    run, stderr = measure.run_measured(argv, ROOT, os.path.join(tmp, "unwind"), watch=True)
                    run["complete"] = complete_share(out, depth)
                    if run["exit"] != 0:
                        run["error"] = stderr.strip().splitlines()[-1][:200] if stderr.strip() else "failed"
                    runs.append(run)
                    if os.path.exists(out):
                        os.unlink(out)
                print(f"bench: unwinding {depth} frames at {rate} Hz, {label}: "
                      f"{figures.unwind_row(runs)}", file=sys.stderr)
                rows.append({"depth": depth, "rate": rate, "mode": label, "runs": runs})
    return rows


def complete_share(collapsed, depth):
    """Share of samples whose stack holds main and every recurse level."""
    total = complete = 0
    try:
        with open(collapsed) as f:
            for line in f:
                stack, _, count = line.rstrip("\n").rpartition(" ")
                frames = stack.split(";")
                total += int(count)
                if "main" in frames and frames.count("recurse") >= depth - 1:
                    complete += int(count)
    except (OSError, ValueError):
        return None
    return complete / total if total else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the bench-quick subset (<3 min)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--extras", default="/opt/bpfspy-extras")
    ap.add_argument("--reps", type=int, help="interleaved repetitions (default 2 quick, 3 full)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--workloads", help="comma-separated subset of the plan's workloads, e.g. sleeps")
    ap.add_argument("--no-writers", action="store_true", help="skip the output-writer benchmark")
    ap.add_argument("--no-unwind", action="store_true", help="skip the unwinding-depth benchmark")
    ap.add_argument("--unwind-only", action="store_true", help="only the unwinding-depth benchmark")
    ap.add_argument("--scale", type=float, help="size of calltree, sleeps and asyncio (calltree on Debian's 3.11: 0.6 s of CPU per unit)")
    ap.add_argument("--rates", help="comma-separated sampling rates instead of the plan's, e.g. 100,1000")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    bpfspy_bin = os.path.join(build, "bpfspy")
    wrap = os.path.join(build, "bench/rusage_wrap")
    help_text = subprocess.run([bpfspy_bin, "record", "--help"], capture_output=True, text=True).stdout

    interps, names, rates, reps, missing = plan(args.quick, args.extras)
    reps = args.reps or reps
    if args.workloads:
        wanted = args.workloads.split(",")
        unknown = [n for n in wanted if n not in names]
        if unknown:
            sys.exit(f"bench: unknown workload {', '.join(unknown)} (this plan has {', '.join(names)})")
        names = wanted
    all_workloads = workloads(args.quick, args.scale)
    if args.rates:
        rates = [int(r) for r in args.rates.split(",")]
    baseline = profilers.Baseline()
    tools = [profilers.Bpfspy(bpfspy_bin, help_text), profilers.Bpfspy(bpfspy_bin, help_text, "native"),
             profilers.Austin(f"{args.extras}/root/usr/bin/austin"),
             profilers.Tachyon(f"{args.extras}/root/usr/bin/python3.15"), profilers.Perf(),
             profilers.Perf("fp")]
    idle = profilers.Bpfspy(bpfspy_bin, help_text, "idle")  # wall-clock mode: only the threaded mix
    async_aware = profilers.Bpfspy(bpfspy_bin, help_text, "async-aware")  # only the asyncio workload

    started = time.time()
    results = {"mode": "quick" if args.quick else "full", "started": time.strftime("%Y-%m-%d %H:%M:%S"),
               "host": {"cpus": os.cpu_count(), "kernel": os.uname().release, "load_before": measure.load_average()},
               "rates": rates, "reps": reps, "unwind_only": args.unwind_only, "missing_interpreters": missing, "cases": []}
    tmp = tempfile.mkdtemp(prefix="bpfspy-bench-")
    try:
        with measure.BpfStats() as stats:
            results["bpf_stats"] = stats.enabled
            for py in ([] if args.unwind_only else interps):
                for name in names:
                    w = all_workloads[name]
                    case = {"workload": name, "interpreter": py.label, "version": list(py.version), "rows": []}
                    results["cases"].append(case)
                    if w.needs_numpy and not py.has_numpy:
                        case["skipped"] = "needs numpy/astropy/pytest: Debian python3 only"
                        continue
                    if w.min_version and py.version < w.min_version:
                        case["skipped"] = f"needs CPython {'.'.join(map(str, w.min_version))}+"
                        continue
                    run_case(case, w, py, tools, idle, baseline, rates, reps, tmp, wrap, bpfspy_bin, async_aware)
            if not args.no_unwind:
                print("bench: unwinding depth (deep_native)...", file=sys.stderr)
                results["unwind"] = unwind_benchmark(build, tmp, bpfspy_bin, 1 if args.quick else 2)
            if not args.no_writers and not args.unwind_only:
                print("bench: output writers (1 M samples)...", file=sys.stderr)
                results["output"] = output_benchmark(build, tmp, bpfspy_bin, wrap)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results["host"]["load_after"] = measure.load_average()
    results["duration_s"] = time.time() - started

    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, f"bench-{results['mode']}-{time.strftime('%Y%m%d-%H%M%S')}")
    for case in results["cases"]:
        case["plots"] = [(caption, os.path.basename(path)) for caption, path in plots.case_plots(stem, case)]
    markdown = report.markdown(results)
    with open(stem + ".json", "w") as f:
        json.dump(results, f, indent=1)
    with open(stem + ".md", "w") as f:
        f.write(markdown)
    for latest, src in (("latest.md", stem + ".md"), ("latest.json", stem + ".json")):
        shutil.copyfile(src, os.path.join(args.out, latest))
    print(markdown)
    print(f"bench: wrote {stem}.md and .json in {results['duration_s']:.0f} s", file=sys.stderr)


def run_case(case, w, py, tools, idle, baseline, rates, reps, tmp, wrap, bpfspy_bin, async_aware):
    label = f"{w.name} on {py.label}"
    print(f"bench: {label}...", file=sys.stderr)
    variants = []  # (tool, rate) pairs that can run, in schedule order
    # sleeps measures one thing: what --idle's context-switch hook costs 100k short sleeps
    case_tools = [idle] if w.name == "sleeps" else tools + ([idle] if w.name == "threads" else [])
    if w.name == "asyncio":  # what --async-aware adds to bpfspy's own cost
        case_tools = [tools[0], async_aware]
    case_rates = [100] if w.name == "sleeps" else rates
    for tool in case_tools:
        why = tool.unsupported(py, w)
        for rate in case_rates:
            row = {"tool": tool.name, "rate": rate, "runs": [], "figures": []}
            if why:
                row["why_not"] = why
            else:
                variants.append((tool, rate, row))
            case["rows"].append(row)
    # warm-up: page cache and .pyc files, so the first measured run is not special
    run_one(baseline, 0, w, py, tmp, wrap, "warmup")
    truth = w.truth
    if truth is None and w.name != "sleeps":  # only the --idle cost is measured there
        truth = figures.reference_truth(reference_stacks(profilers.Bpfspy(bpfspy_bin, ""), w, py, tmp, wrap))
        case["reference_truth_pct"] = {k: 100 * v for k, v in truth.items()}
    baselines = []
    for rep in range(reps):
        order = [(baseline, 0, None)] + variants
        if rep % 2:
            order.reverse()
        base_run = None
        pending = []
        for tool, rate, row in order:
            run = run_one(tool, rate, w, py, tmp, wrap, f"r{rep}")
            if row is None:
                base_run = run
                baselines.append(run)
            else:
                pending.append((row, run, rate))
        for row, run, rate in pending:
            row["runs"].append(strip_stacks(run))
            if run.get("error"):
                row.setdefault("errors", []).append(run["error"])
                continue
            # the idle mode weighs samples in wall time: no CPU coverage or share truth
            is_idle = row["tool"].endswith("--idle")
            figs = figures.run_figures(run, base_run, rate, None if is_idle else truth, w.root)
            if is_idle:
                figs.pop("coverage_pct", None)
            row["figures"].append(figs)
    case["baseline"] = {
        "wall_s": figures.summary([b["target"]["wall_s"] for b in baselines if b.get("target")]),
        "cpu_s": figures.summary([b["target"]["user_s"] + b["target"]["sys_s"] for b in baselines if b.get("target")]),
    }
    for row in case["rows"]:
        row["summary"] = {key: figures.summary([f.get(key) for f in row["figures"]])
                          for key in ("slowdown_pct", "cpu_slowdown_pct", "coverage_pct", "accuracy_err_pp", "loss_pct", "cpu_ms_per_s",
                                      "cpu_us_per_sample", "bpf_us_per_sample", "bpf_ms_per_s", "rss_mb")}
        row["cpu_from_baseline"] = any(f.get("cpu_from_baseline") for f in row["figures"])
        row["lost_total"] = sum(f.get("lost", 0) for f in row["figures"])


def strip_stacks(run):
    """Keep the JSON small: drop the stacks, keep the counts."""
    parsed = {k: v for k, v in run.get("parsed", {}).items() if k != "stacks"}
    return {**{k: v for k, v in run.items() if k != "parsed"}, "parsed": parsed}


if __name__ == "__main__":
    main()
