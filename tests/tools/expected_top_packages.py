"""Independent computation of speedscope_top_packages' package table.

Reads a speedscope file with the standard library only and prints, per
package given on the command line, one tab-separated line:
    package, samples, pct, top_files
preceded by a line "frames_count<TAB>N<TAB>total_samples<TAB>M".
Used by tests/tools/test_speedscope_top_packages.c as the expected values.
"""
import json
import os
import sys

path, packages = sys.argv[1], sys.argv[2:]
with open(path, encoding="utf-8") as fh:
    doc = json.load(fh)
frames = doc["shared"]["frames"]
samples = [s for prof in doc.get("profiles", []) for s in prof.get("samples", [])]
print(f"frames_count\t{len(frames)}\ttotal_samples\t{len(samples)}")
for pkg in packages:
    matched = 0
    per_file = {}
    for sample in samples:
        stack = [frames[i] for i in sample if isinstance(i, int) and 0 <= i < len(frames)]
        names = [f.get("name") for f in stack if f.get("name")]
        files = [f.get("file") for f in stack if f.get("file")]
        if pkg not in " ".join(names + files):
            continue
        matched += 1
        for f in files:
            per_file[f] = per_file.get(f, 0) + 1
    ranked = sorted(per_file.items(), key=lambda kv: -kv[1])[:3]
    top = ", ".join(f"{os.path.basename(f.rstrip('/'))} ({n})" for f, n in ranked)
    pct = 100.0 * matched / len(samples) if samples else 0.0
    print(f"{pkg}\t{matched}\t{pct:.1f}%\t{top}")
