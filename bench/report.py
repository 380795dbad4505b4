"""The markdown report: one table per case, the output-writer figures, the
goals (met / missed, with the figure), and how noisy the machine was."""

import figures

COLUMNS = [
    ("slowdown_pct", "slowdown", "{:+.1f} %"),
    ("cpu_slowdown_pct", "CPU slowdown", "{:+.2f} %"),
    ("coverage_pct", "coverage", "{:.1f} %"),
    ("accuracy_err_pp", "accuracy err", "{:.1f} pp"),
    ("loss_pct", "lost", "{:.2f} %"),
    ("cpu_ms_per_s", "own CPU", "{:.1f} ms/s"),
    ("cpu_us_per_sample", "CPU/sample", "{:.0f} µs"),
    ("bpf_us_per_sample", "BPF/sample", "{:.1f} µs"),
    ("rss_mb", "peak RSS", "{:.1f} MB"),
]
BPFSPY_ONLY = {"loss_pct", "cpu_ms_per_s", "cpu_us_per_sample", "bpf_us_per_sample", "rss_mb"}


def cell(summary, fmt):
    if not summary:
        return None
    med = fmt.format(summary["median"])
    if summary["n"] < 2:
        return med
    lo, hi = fmt.format(summary["min"]).split(" ")[0], fmt.format(summary["max"]).split(" ")[0]
    return f"{med} ({lo}…{hi})"


def why_empty(row, key):
    if row.get("why_not"):  # said once, in the first column
        return row["why_not"] if key == COLUMNS[0][0] else "–"
    if row.get("errors") and not row["figures"]:
        return "failed: " + row["errors"][0]
    tool = row["tool"]
    if key in BPFSPY_ONLY and not tool.startswith("bpfspy"):
        return "-"  # measured for bpfspy only
    if key == "accuracy_err_pp" and tool == "perf":
        return "n/a: no Python frames"
    if key == "coverage_pct" and tool.endswith("--idle"):
        return "n/a: wall-clock weights"
    if key.startswith("bpf_"):
        return "n/a: bpf stats off"
    return "n/a"


def case_table(case):
    lines = [f"### {case['workload']} on {case['interpreter']}", ""]
    if case.get("skipped"):
        return lines + [f"skipped: {case['skipped']}", ""]
    base = case["baseline"]
    if base.get("wall_s"):
        w, c = base["wall_s"], base["cpu_s"]
        spread = 100 * (w["max"] - w["min"]) / w["median"] if w["median"] else 0
        lines.append(f"Unprofiled: wall {w['median']:.2f} s ({w['min']:.2f}…{w['max']:.2f}, spread {spread:.0f} %), "
                     f"CPU {c['median']:.2f} s.")
    if case.get("reference_truth_pct"):
        top = ", ".join(f"{k} {v:.1f}%" for k, v in case["reference_truth_pct"].items())
        lines.append(f"Accuracy reference (bpfspy 10 kHz, self share): {top}.")
    lines += ["", "| profiler | rate | " + " | ".join(title for _, title, _ in COLUMNS) + " |",
              "|---|---:|" + "---:|" * len(COLUMNS)]
    for row in case["rows"]:
        cells = []
        for key, _, fmt in COLUMNS:
            text = cell(row.get("summary", {}).get(key), fmt)
            if text and key == "coverage_pct" and row.get("cpu_from_baseline"):
                text += " †"
            cells.append(text or why_empty(row, key))
        lines.append(f"| {row['tool']} | {rate_text(row['rate'])} | " + " | ".join(cells) + " |")
    if case.get("plots"):
        lines.append("")
        lines += [f"![{caption}]({path})" for caption, path in case["plots"]]
    return lines + [""]


def rate_text(rate):
    return f"{rate // 1000} kHz" if rate >= 1000 else f"{rate} Hz"


def output_section(out):
    lines = ["### Output writers (figure 6)", ""]
    if not out or out.get("error"):
        return lines + [f"not measured: {(out or {}).get('error', 'no data')}", ""]
    scale = 1e6 / out["samples"]
    lines += [f"{out['samples']:,} samples replayed from a 1 kHz pytest recording "
              f"({out['stacks']:,} distinct stacks, {out['frames']:,} frames); per 1 M samples:", "",
              "| format | write time | size |", "|---|---:|---:|"]
    for name, f in out["formats"].items():
        status = "" if f["ok"] else " (failed)"
        lines.append(f"| {name}{status} | {f['seconds'] * scale:.3f} s | {f['bytes'] * scale / 1e6:.1f} MB |")
    return lines + [""]


def unwind_section(rows):
    lines = ["### Native unwinding by depth", ""]
    if not rows:
        return lines + ["not measured", ""]
    lines += ["`bench/workloads/deep_native.c` (built without frame pointers) recursing to a stack of N frames. "
              "BPF time is the perf_event program's own run time per run (`kernel.bpf_stats_enabled`); "
              "complete = samples whose stack holds `main` and every level. Cells: BPF ns per sample / "
              "bpfspy peak RSS / complete.", "",
              "| frames | rate | " + " | ".join(label for label in dict.fromkeys(r["mode"] for r in rows)) + " |",
              "|---|---|" + "---:|" * len(dict.fromkeys(r["mode"] for r in rows))]
    cells = {}
    for r in rows:
        f = figures.unwind_figures(r["runs"])
        if f["error"]:
            text = "failed"
        else:
            ns = f"{f['bpf_ns_per_sample']:,.0f} ns" if f["bpf_ns_per_sample"] is not None else "n/a"
            rss = f"{f['rss_mb']:.0f} MB" if f["rss_mb"] is not None else "n/a"
            done = f"{f['complete_pct']:.0f}%" if f["complete_pct"] is not None else "n/a"
            text = f"{ns} / {rss} / {done}"
        cells.setdefault((r["depth"], r["rate"]), []).append(text)
    for (depth, rate), texts in cells.items():
        lines.append(f"| {depth} | {rate_text(rate)} | " + " | ".join(texts) + " |")
    return lines + [""]


def bpfspy_rows(results, rate, tool="bpfspy"):
    for case in results["cases"]:
        for row in case.get("rows", []):
            if row["tool"] == tool and row["rate"] == rate and row.get("figures"):
                yield case, row


def worst(results, rate, key, pick):
    # the sleeps case measures --idle's own cost and has its own goal
    found = [(row["summary"][key]["median"], case["workload"] + "/" + case["interpreter"].split()[0])
             for case, row in bpfspy_rows(results, rate) if row["summary"].get(key) and case["workload"] != "sleeps"]
    return pick(found) if found else None


def goals(results):
    rates = results["rates"]
    out = []

    def goal(text, ok, figure):
        out.append(f"| {text} | {'met' if ok else 'MISSED'} | {figure} |" if ok is not None
                   else f"| {text} | not measured | {figure} |")

    for rate, limit in ((100, 0.5), (1000, 3.0)):
        # judged on the target's CPU time where the wrapper measured it, on wall time otherwise
        w = worst(results, rate, "cpu_slowdown_pct", max) if rate in rates else None
        what = "CPU"
        if w is None and rate in rates:
            w, what = worst(results, rate, "slowdown_pct", max), "wall"
        goal(f"slowdown ≤{limit} % at {rate_text(rate)}", None if w is None else w[0] <= limit,
             f"worst {w[0]:+.2f} % of target {what} time ({w[1]})" if w else f"no {rate_text(rate)} runs")
    noise = [(100 * (b["max"] - b["min"]) / b["median"], case["workload"] + "/" + case["interpreter"].split()[0])
             for case in results["cases"] for b in [case.get("baseline", {}).get("cpu_s")] if b and b["median"]]
    if noise:
        n = max(noise)
        out.append(f"| resolving 1 % needs the unprofiled runs' CPU time to agree within ~1 % | "
                   f"{'ok' if n[0] <= 1 else 'TOO NOISY'} | their spread: up to {n[0]:.1f} % ({n[1]}) |")
    w = worst(results, 100, "coverage_pct", min) if 100 in rates else None
    goal("coverage ≥99 % at 100 Hz", None if w is None else w[0] >= 99, f"lowest {w[0]:.1f} % ({w[1]})" if w else "-")
    lost = [row["lost_total"] for _, row in bpfspy_rows(results, 1000)]
    goal("0 lost samples at 1 kHz", None if not lost else sum(lost) == 0,
         f"{sum(lost)} lost over {len(lost)} cases" if lost else "-")
    ten = [(case, row) for case, row in bpfspy_rows(results, 10000) if case["workload"] == "threads"]
    if ten:
        cov = min(row["summary"]["coverage_pct"]["median"] for _, row in ten if row["summary"].get("coverage_pct"))
        lost = sum(row["lost_total"] for _, row in ten)
        goal("10 kHz sustained on 2 CPUs (threads: coverage ≥95 %, 0 lost)", cov >= 95 and lost == 0,
             f"coverage {cov:.1f} %, {lost} lost")
    else:
        goal("10 kHz sustained on 2 CPUs", None, "needs the threads workload at 10 kHz (make bench)")
    naps = [(row["summary"]["slowdown_pct"]["median"], case["interpreter"].split()[0])
            for case in results["cases"] if case["workload"] == "sleeps"
            for row in case.get("rows", []) if row["tool"].endswith("--idle") and row["summary"].get("slowdown_pct")]
    if naps:
        w = max(naps)
        goal("--idle on 100k short sleeps ≤5 % slowdown", w[0] <= 5, f"worst {w[0]:+.2f} % ({w[1]})")
    else:
        goal("--idle on 100k short sleeps ≤5 % slowdown", None, "needs the sleeps workload (make bench)")
    rss = [row["summary"]["rss_mb"]["max"] for r in rates for _, row in bpfspy_rows(results, r)
           if row["summary"].get("rss_mb")]
    goal("profiler RSS ≤50 MB", None if not rss else max(rss) <= 50, f"max {max(rss):.1f} MB" if rss else "-")
    fm = (results.get("output") or {}).get("formats", {})
    if "speedscope" in fm:
        t = fm["speedscope"]["seconds"] * 1e6 / results["output"]["samples"]
        goal("1 M samples as speedscope ≤1 s", t <= 1.0, f"{t:.3f} s")
    else:
        goal("1 M samples as speedscope ≤1 s", None, "write_bench did not run")
    if "chrometrace" in fm and "speedscope" in fm:
        n = results["output"]["samples"]
        t = fm["chrometrace"]["seconds"] * 1e6 / n
        ratio = fm["chrometrace"]["bytes"] / max(1, fm["speedscope"]["bytes"])
        goal("1 M samples as chrometrace ≤1 s", t <= 1.0, f"{t:.3f} s, {ratio:.2f}× the speedscope file")
    return ["### Goals", "", "| goal | status | figure |", "|---|---|---|"] + out + [""]


def markdown(results):
    host = results["host"]
    lines = [f"## bpfspy benchmark ({results['mode']}, {results['started']})", "",
             f"{host['cpus']} CPUs, kernel {host['kernel']}, load {host['load_before']:.1f} before / "
             f"{host['load_after']:.1f} after; {results['reps']} interleaved repetitions; "
             f"{results['duration_s'] / 60:.1f} min. Cells: median (min…max).",
             "† coverage against the unprofiled runs' CPU time (the profiler launches the workload itself)."
             + ("" if results.get("bpf_stats") else " BPF run time not measured (kernel.bpf_stats_enabled not writable)."),
             ""]
    if results.get("missing_interpreters"):
        lines += ["Interpreters not found: " + ", ".join(results["missing_interpreters"]), ""]
    lines += goals(results)
    for case in results["cases"]:
        lines += case_table(case)
    if "unwind" in results:
        lines += unwind_section(results["unwind"])
    if not results.get("unwind_only"):
        lines += output_section(results.get("output"))
    return "\n".join(lines)
