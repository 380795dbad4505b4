"""Turning runs into the figures: every figure is a ratio or a percentage of
quantities measured in the same benchmark run, summarised as the median and
min-max over the interleaved repetitions."""
import statistics


def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def python_shares(stacks, keys=None, root=None):
    """Share of samples per innermost Python function key. With root, only
    samples under that function count; with keys, a sample counts for the
    innermost of those keys on its stack (the known leaves never nest)."""
    counts, total = {}, 0
    for frames, n in stacks:
        if root and root not in frames:
            continue
        pick = None
        for key in reversed(frames):
            if key and (keys is None or key in keys):
                pick = key
                break
        if keys is None and pick is None:
            continue  # no Python frame at all: not part of a Python share
        total += n
        if pick:
            counts[pick] = counts.get(pick, 0) + n
    return ({k: v / total for k, v in counts.items()} if total else {}), total


def accuracy_error(stacks, truth, root=None, designed=True):
    """Largest |share - truth| over the known functions, in percentage points.
    Designed truth: share among samples under root, by the known leaf on the
    stack. Reference truth: self share of Python samples (innermost frame),
    the same measure reference_truth() used."""
    if stacks is None:
        return None, {}
    if designed:
        shares, total = python_shares(stacks, keys=set(truth), root=root)
    else:
        shares, total = python_shares(stacks)
    if not total:
        return 100.0, {}
    errors = {k: 100 * (shares.get(k, 0.0) - v) for k, v in truth.items()}
    return max(abs(e) for e in errors.values()), {k: 100 * shares.get(k, 0.0) for k in truth}


def reference_truth(stacks, top=5):
    """Ground truth from a long high-rate reference run: the top functions by
    self share of Python samples."""
    shares, _ = python_shares(stacks)
    best = sorted(shares.items(), key=lambda kv: -kv[1])[:top]
    return dict(best)


def run_figures(run, baseline, rate, truth, root):
    """Per-run figures. baseline is the unprofiled run of the same repetition
    (its wall and CPU time); run carries the profiler's measurements."""
    f = {}
    target_wall = run.get("target", {}).get("wall_s") if run.get("target") else None
    if target_wall is not None:
        f["slowdown_pct"] = 100 * (target_wall / baseline["target"]["wall_s"] - 1)
    else:  # the profiler launched the workload itself: compare whole commands
        f["slowdown_pct"] = 100 * (run["wall_s"] / baseline["wall_s"] - 1)
    target_cpu = (run["target"]["user_s"] + run["target"]["sys_s"]) if run.get("target") else None
    base_cpu = (baseline["target"]["user_s"] + baseline["target"]["sys_s"]) if baseline.get("target") else None
    if target_cpu is not None and base_cpu:
        # the target tree's own CPU (rusage_wrap): unlike wall time, not moved by what else the VM runs
        f["cpu_slowdown_pct"] = 100 * (target_cpu / base_cpu - 1)
    f["cpu_from_baseline"] = target_cpu is None
    if target_cpu is None:
        target_cpu = baseline["target"]["user_s"] + baseline["target"]["sys_s"]
    parsed = run.get("parsed", {})
    if parsed.get("samples") is not None and target_cpu > 0:
        f["coverage_pct"] = 100 * (parsed["samples"] / rate) / target_cpu
    if truth is not None:
        f["accuracy_err_pp"], f["shares_pct"] = accuracy_error(parsed.get("stacks"), truth, root, designed=root is not None)
    if "lost" in parsed:
        taken = parsed.get("taken") or (parsed["samples"] + parsed["lost"])
        f["loss_pct"] = 100 * parsed["lost"] / taken if taken else 0.0
        f["lost"] = parsed["lost"]
    if run.get("target") and "bpf_run_time_ns" in run:
        own_cpu = max(0.0, run["tree_cpu_s"] - target_cpu)
        seconds = max(run["target"]["wall_s"], 1e-9)
        samples = max(parsed.get("taken") or parsed.get("samples") or 0, 1)
        bpf_per_run = run["bpf_run_time_ns"] / run["bpf_run_cnt"] if run["bpf_run_cnt"] else None
        # the poller misses the last ~100 ms; scale the per-run cost by all samples taken
        bpf_total_s = bpf_per_run * samples / 1e9 if bpf_per_run is not None else None
        f["cpu_ms_per_s"] = 1000 * own_cpu / seconds
        f["cpu_us_per_sample"] = 1e6 * own_cpu / samples
        f["bpf_us_per_sample"] = bpf_per_run / 1000 if bpf_per_run is not None else None
        f["bpf_ms_per_s"] = 1000 * bpf_total_s / seconds if bpf_total_s is not None else None
        # wait4's maxrss is the largest of the profiler and everything it
        # reaped (the workload, but also any helper it forked), so it cannot
        # be attributed: use bpfspy's own VmHWM, polled while it ran
        f["rss_mb"] = run.get("vm_hwm_kb", 0) / 1024 if run.get("vm_hwm_kb") else None
    return f


def unwind_figures(runs):
    """Median BPF ns per sample (perf_event programs only), peak RSS and share
    of complete stacks over the repetitions of one unwinding-benchmark cell."""
    ok = [r for r in runs if not r.get("error")]
    ns = [r["sample_run_time_ns"] / r["sample_run_cnt"] for r in ok if r.get("sample_run_cnt")]
    rss = [r["vm_hwm_kb"] / 1024 for r in ok if r.get("vm_hwm_kb")]
    complete = [100 * r["complete"] for r in ok if r.get("complete") is not None]
    return {"bpf_ns_per_sample": statistics.median(ns) if ns else None,
            "rss_mb": statistics.median(rss) if rss else None,
            "complete_pct": statistics.median(complete) if complete else None,
            "error": next((r["error"] for r in runs if r.get("error")), None)}


def unwind_row(runs):
    f = unwind_figures(runs)
    if f["error"]:
        return f"failed: {f['error']}"
    ns = f"{f['bpf_ns_per_sample']:,.0f} ns/sample" if f["bpf_ns_per_sample"] is not None else "BPF time n/a"
    rss = f"{f['rss_mb']:.1f} MB" if f["rss_mb"] is not None else "RSS n/a"
    done = f"{f['complete_pct']:.1f}% complete" if f["complete_pct"] is not None else "no stacks"
    return f"{ns}, {rss}, {done}"
