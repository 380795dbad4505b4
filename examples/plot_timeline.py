#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Draws a bpfspy chrometrace file as one picture: a row per thread, grouped
by process in the order they ran, each row showing its calls at the depth you
choose (default: the Python function right under the interpreter's entry).

    sudo bpfspy record -f chrometrace -o run.trace.json -- python3 -m pytest -n 2
    python3 examples/plot_timeline.py run.trace.json run.png [--depth N] [--match TEXT]

Needs matplotlib (Debian: python3-matplotlib). Perfetto (ui.perfetto.dev),
chrome://tracing and speedscope open the same file interactively.
"""
import argparse
import collections
import json
import os


def load(path):
    with open(path) as f:
        doc = json.load(f)
    events = doc["traceEvents"] if isinstance(doc, dict) else doc
    names, sort, slices, instants = {}, {}, collections.defaultdict(list), []
    for e in events:
        ph = e.get("ph")
        if ph == "M" and e["name"] in ("process_name", "thread_name"):
            names[(e["name"], e["pid"], e["tid"])] = e["args"]["name"]
        elif ph == "M" and e["name"] == "process_sort_index":
            sort[e["pid"]] = e["args"]["sort_index"]
        elif ph == "X":
            slices[(e["pid"], e["tid"])].append((e["ts"], e["dur"], e["name"]))
        elif ph == "i":
            instants.append((e["pid"], e["ts"], e["name"]))
    return names, sort, slices, instants


def with_depth(slices):
    """(start, duration, name, depth) for one thread's slices."""
    out, stack = [], []
    for ts, dur, name in sorted(slices, key=lambda s: (s[0], -s[1])):
        while stack and stack[-1] <= ts:
            stack.pop()
        out.append((ts, dur, name, len(stack)))
        stack.append(ts + dur)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("trace")
    ap.add_argument("png")
    ap.add_argument("--depth", type=int, default=None,
                    help="slice depth to draw (default: the first Python frame's depth in each thread)")
    ap.add_argument("--match", default="", help="only threads whose process name contains TEXT")
    ap.add_argument("--calls", default=None,
                    help="draw the calls whose name contains TEXT, at any depth (e.g. a test file's name), instead")
    args = ap.parse_args()

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names, sort, slices, instants = load(args.trace)
    rows = sorted(slices, key=lambda k: (sort.get(k[0], 0), k[1]))
    rows = [k for k in rows if args.match in names.get(("process_name", k[0], k[0]), "")]
    colors, palette = {}, plt.get_cmap("tab20").colors
    fig, ax = plt.subplots(figsize=(12, 0.45 * len(rows) + 1.2))
    for y, key in enumerate(rows):
        drawn = with_depth(slices[key])
        first = min(ts for ts, _, _, _ in drawn)
        last = max(ts + dur for ts, dur, _, _ in drawn)
        ax.broken_barh([(first / 1e3, (last - first) / 1e3)], (y - 0.06, 0.12), facecolors="0.75")
        if args.calls is not None:  # the outermost matching calls
            matching, end = [], -1
            for ts, dur, n, _ in sorted((s for s in drawn if args.calls in s[2]), key=lambda s: (s[0], -s[1])):
                if ts >= end:
                    matching.append((ts, dur, n, 0))
                    end = ts + dur
            drawn = matching
        depth = 0 if args.calls is not None else args.depth
        if depth is None:  # the outermost Python call: "name (file)" with a path
            python = [d for _, _, n, d in drawn if " (/" in n or " (<" in n]
            depth = min(python) + 1 if python else 0
        for ts, dur, name, d in drawn:
            if d != depth:
                continue
            short = name.split(" (")[0]
            color = colors.setdefault(short, palette[len(colors) % len(palette)])
            ax.broken_barh([(ts / 1e3, dur / 1e3)], (y - 0.4, 0.8), facecolors=color)
            if dur / 1e3 > 40:
                ax.text((ts + dur / 2) / 1e3, y, short, ha="center", va="center", fontsize=7, clip_on=True)
    for pid, ts, name in instants:
        for y, key in enumerate(rows):
            if key[0] == pid and key[1] == pid and name in ("exec", "exit"):
                ax.plot([ts / 1e3], [y], marker="|", color="black", markersize=12)
    label = []
    for pid, tid in rows:
        process = names.get(("process_name", pid, pid), "?")
        thread = names.get(("thread_name", pid, tid))
        label.append(f"{process} {pid}" + (f" / {thread}" if thread else f" / {tid}"))
    ax.set_yticks(range(len(rows)), label, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("ms since the recording started (grey: first to last sample; | = exec, exit)")
    ax.set_title(os.path.basename(args.trace))
    fig.tight_layout()
    fig.savefig(args.png, dpi=110)


if __name__ == "__main__":
    main()
