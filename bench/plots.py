"""The benchmark's pictures (PNG, Debian's python3-matplotlib): grouped bars
of a figure by rate, one bar per profiler, median with the min-max spread as
error bars. Every function returns False, drawing nothing, when matplotlib
is not installed: the tables do not depend on it."""


def grouped_bars(path, title, ylabel, rates, series, goals=(), zero_line=False):
    """series: [(name, {rate: {"median", "min", "max"}})]; goals: [(rate, value)] drawn dashed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(8, 4.5))
    width = 0.8 / max(1, len(series))
    for i, (name, by_rate) in enumerate(series):
        xs, ys, lo, hi = [], [], [], []
        for k, rate in enumerate(rates):
            s = by_rate.get(rate)
            if not s:
                continue
            xs.append(k + (i - (len(series) - 1) / 2) * width)
            ys.append(s["median"])
            lo.append(s["median"] - s["min"])
            hi.append(s["max"] - s["median"])
        ax.bar(xs, ys, width, yerr=[lo, hi], capsize=3, label=name)
    for rate, value in goals:
        if rate in rates:
            k = rates.index(rate)
            ax.hlines(value, k - 0.45, k + 0.45, colors="black", linestyles="dashed")
    if zero_line:
        ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xticks(range(len(rates)), [f"{r // 1000} kHz" if r >= 1000 else f"{r} Hz" for r in rates])
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize="medium")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def case_plots(stem, case):
    """A case's slowdown (target CPU time when measured, else wall time) and bpfspy's own CPU, by rate.
    Returns [(caption, path)] of the PNGs written."""
    rows = [r for r in case.get("rows", []) if r.get("summary")]
    rates = sorted({r["rate"] for r in rows})
    if not rows or not rates:
        return []
    name = f"{case['workload']} on {case['interpreter']}"
    written = []
    key = "cpu_slowdown_pct" if any(r["summary"].get("cpu_slowdown_pct") for r in rows) else "slowdown_pct"
    series = tool_series(rows, key)
    what = "target CPU time" if key == "cpu_slowdown_pct" else "wall time"
    path = f"{stem}-{case['workload']}-{case['interpreter']}-slowdown.png"
    if series and grouped_bars(path, f"{name}: slowdown ({what}), median and min-max", "slowdown (%)", rates, series,
                               zero_line=True):
        written.append((f"{name}: slowdown", path))
    series = tool_series(rows, "cpu_ms_per_s")
    path = f"{stem}-{case['workload']}-{case['interpreter']}-cost.png"
    if series and grouped_bars(path, f"{name}: the profiler's own CPU, median and min-max", "ms of CPU per second",
                               rates, series):
        written.append((f"{name}: profiler cost", path))
    return written


def tool_series(rows, key):
    series = {}
    for r in rows:
        s = r["summary"].get(key)
        if s:
            series.setdefault(r["tool"], {})[r["rate"]] = s
    return list(series.items())
