"""convert streams: a 1 M-sample speedscope file converts in memory close to its own size.

The reader walks samples and weights in place (tests issue: convert needed
22x the input, 4.3 GB for a 191 MB file). Peak RSS is measured from the
convert process's own rusage, in a fresh parent so nothing else counts.
"""
import json
import random
import subprocess
import sys

import pytest

from helpers import BPFSPY

SAMPLES = 1_000_000


@pytest.fixture(scope="module")
def big_profile(tmp_path_factory):
    """py-spy's layout: one entry per sample, 1/rate-second weights, import-chain-deep stacks."""
    path = tmp_path_factory.mktemp("big") / "big.speedscope.json"
    rng = random.Random(7)
    frames = [{"name": f"f{i}", "file": f"/site-packages/pkg{i % 40}/mod{i}.py", "line": i % 500 + 1}
              for i in range(3000)]
    stacks = [",".join(str(rng.randrange(3000)) for _ in range(rng.randint(10, 40))) for _ in range(5000)]
    with open(path, "w") as f:
        f.write('{"$schema":"https://www.speedscope.app/file-format-schema.json","shared":{"frames":')
        json.dump(frames, f)
        f.write('},"profiles":[{"type":"sampled","name":"Process 1 Thread 1","unit":"seconds",'
                f'"startValue":0,"endValue":{SAMPLES / 100},"samples":[')
        f.write(",".join("[" + stacks[rng.randrange(len(stacks))] + "]" for _ in range(SAMPLES)))
        f.write('],"weights":[' + ",".join(["0.01"] * SAMPLES) + "]}],")
        f.write('"name":"big","exporter":"py-spy@0.4.0"}')
    return path


def peak_rss_bytes(cmd):
    probe = ("import resource, subprocess, sys\n"
             "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)\n"
             "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
             "sys.stderr.write(r.stderr)\n")
    p = subprocess.run([sys.executable, "-c", probe, *map(str, cmd)], capture_output=True, text=True, timeout=600)
    rc, kib = p.stdout.split()
    return int(rc), int(kib) * 1024, p.stderr


@pytest.mark.parametrize("fmt", ["collapsed", "pprof", "flamegraph"])
def test_convert_peak_memory_within_three_times_the_file(big_profile, tmp_path, fmt):
    size = big_profile.stat().st_size
    rc, rss, err = peak_rss_bytes([BPFSPY, "convert", big_profile, "-f", fmt, "-o", tmp_path / f"out.{fmt}"])
    assert rc == 0, err
    assert rss <= 3 * size, f"convert -f {fmt}: peak RSS {rss / 1e6:.0f} MB for a {size / 1e6:.0f} MB file"
