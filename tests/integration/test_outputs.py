# SPDX-License-Identifier: MIT
"""Flame graph SVG, pprof and `bpfspy convert`, each checked by its real consumer.

One recording of tests/integration/progs/split.c (hot_a 75 %, hot_b 25 %)
writes all four formats at once (-f given four times); the speedscope and
collapsed files are the reference the other formats are compared with.
"""
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from helpers import Profile, read_collapsed, run_bpfspy

ROOT = Path(__file__).resolve().parents[2]
E2E = ROOT / "tests" / "e2e"
SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def recording(c_progs, tmp_path_factory):
    d = tmp_path_factory.mktemp("outputs")
    out = d / "split.json"
    p = run_bpfspy(["record", "-r", "499", "-f", "speedscope", "-f", "collapsed", "-f", "pprof",
                    "-f", "flamegraph", "-o", out, "--", c_progs["split"], "300"], check=True)
    paths = {"speedscope": out, "collapsed": d / "split.txt", "pprof": d / "split.pb.gz",
             "flamegraph": d / "split.svg"}
    for fmt, path in paths.items():
        assert path.exists(), f"{fmt}: {path} missing\n{p.stderr}"
        assert f"wrote {path} ({fmt})" in p.stderr
    return paths


def go_pprof(*args):
    go = shutil.which("go")
    if not go:
        pytest.skip("go not installed (apt-get install golang-go)")
    env = dict(os.environ, HOME=os.environ.get("HOME", "/root"), PPROF_TMPDIR="/tmp")
    p = subprocess.run([go, "tool", "pprof", *args], capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr
    return p.stdout


def pprof_top(path):
    """{function: (flat%, cum%)} from go tool pprof -top."""
    rows = {}
    for line in go_pprof("-top", "-nodecount=100", str(path)).splitlines():
        m = re.match(r"\s*\S+\s+([\d.]+)%\s+[\d.]+%\s+\S+\s+([\d.]+)%\s+(.+)$", line)
        if m:
            rows[m.group(3).strip()] = (float(m.group(1)), float(m.group(2)))
    return rows


def test_pprof_top_agrees_with_speedscope(recording):
    prof = Profile.read(recording["speedscope"])
    top = pprof_top(recording["pprof"])
    first = next(iter(top))
    assert first == "hot_a", top  # the biggest flat share is listed first
    for func in ("hot_a", "hot_b", "main"):
        flat, cum = top[func]
        assert flat == pytest.approx(100 * prof.share_of(func, leaf=True), abs=0.006)
        assert cum == pytest.approx(100 * prof.share_of(func), abs=0.006)
    assert 0.6 < top["hot_a"][0] / 100 < 0.9


def test_pprof_traces_carry_stacks_and_thread_labels(recording):
    text = go_pprof("-traces", "-sample_index=samples", str(recording["pprof"]))
    collapsed = read_collapsed(recording["collapsed"])
    traces = [t for t in text.split("-----------+") if re.search(r"^\s+\d+\s+\S", t, re.M)]
    got = {}
    for t in traces:
        assert re.search(r"pid:\s+\d+", t) and re.search(r"tid:\s+\d+", t), t
        assert re.search(r"process_name:\s+split", t), t
        lines = [l for l in t.splitlines() if l.strip() and not l.startswith("-") and ":" not in l.split()[0]]
        count = int(lines[0].split()[0])
        frames = [lines[0].split(None, 1)[1].strip()] + [l.strip() for l in lines[1:]]
        got[";".join(reversed(frames))] = got.get(";".join(reversed(frames)), 0) + count
    assert got == dict(collapsed)


def test_pprof_header(recording):
    raw = go_pprof("-raw", str(recording["pprof"]))
    assert "PeriodType: cpu nanoseconds" in raw
    assert "Period: 2004008" in raw  # 1e9 / 499 Hz
    assert re.search(r"Samples:\s*\nsamples/count cpu/nanoseconds", raw)
    assert re.search(r"Duration: [\d.]+", raw)


def test_pprof_mappings_carry_build_ids(recording, c_progs):
    raw = go_pprof("-raw", str(recording["pprof"]))
    notes = subprocess.run(["readelf", "-n", str(c_progs["split"])], capture_output=True, text=True).stdout
    build_id = re.search(r"Build ID: ([0-9a-f]+)", notes).group(1)
    mapping = [l for l in raw.split("Mappings", 1)[1].splitlines() if str(c_progs["split"]) in l]
    assert mapping and build_id in mapping[0], mapping


def test_convert_to_collapsed_equals_direct_collapsed(recording, tmp_path):
    out = tmp_path / "converted.txt"
    run_bpfspy(["convert", recording["speedscope"], "-f", "collapsed", "-o", out], check=True)
    assert read_collapsed(out) == read_collapsed(recording["collapsed"])


def test_convert_to_every_format(recording, tmp_path):
    for fmt, name in [("flamegraph", "c.svg"), ("pprof", "c.pb.gz"), ("speedscope", "c.json")]:
        run_bpfspy(["convert", recording["speedscope"], "-f", fmt, "-o", tmp_path / name], check=True)
    assert pprof_top(tmp_path / "c.pb.gz") == pprof_top(recording["pprof"])
    assert Profile.read(tmp_path / "c.json").stacks == Profile.read(recording["speedscope"]).stacks
    ET.parse(tmp_path / "c.svg")


def test_convert_refuses_bad_input(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"shared": {"frames": []}, "profiles": [{"type": "evented"}]}')
    p = run_bpfspy(["convert", bad, "-f", "pprof", "-o", tmp_path / "x.pb.gz"])
    assert p.returncode == 1
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("bpfspy: ") and "evented" in p.stderr
    assert not (tmp_path / "x.pb.gz").exists()
    p = run_bpfspy(["convert", bad, "-f", "nope"])
    assert p.returncode == 2 and "unknown format 'nope'" in p.stderr


def svg_frames(path):
    root = ET.parse(path).getroot()
    out = []
    for g in root.iter(SVG_NS + "g"):
        if "f" in (g.get("class") or "").split():
            title = g.find(SVG_NS + "title").text.split("\n")
            out.append((title[0], int(g.get("data-v")), g.get("class")))
    return out


def hot_a_samples(collapsed):
    return sum(c for stack, c in collapsed.items() if stack.split(";")[-1] == "hot_a")


def test_flamegraph_svg_matches_collapsed(recording):
    collapsed = read_collapsed(recording["collapsed"])
    frames = svg_frames(recording["flamegraph"])
    by_name = {}
    for name, v, cls in frames:
        by_name[name] = by_name.get(name, 0) + v
    assert by_name["all"] == sum(collapsed.values())
    assert by_name["hot_a"] == hot_a_samples(collapsed)
    assert all(cls == "f native" for name, _, cls in frames if name in ("hot_a", "hot_b", "main"))


@pytest.mark.e2e
def test_flamegraph_in_chromium(recording):
    """Hover, click-to-zoom and search in headless Chromium; writes build/e2e/flamegraph.png."""
    if not (E2E / "node_modules" / "playwright-core").exists():
        pytest.skip("run `make e2e-outputs` (npm install in tests/e2e) first")
    png = Path(os.environ.get("BPFSPY_E2E_PNG", ROOT / "build" / "e2e" / "flamegraph.png"))
    p = subprocess.run(["node", str(E2E / "flamegraph.mjs"), str(recording["flamegraph"]), "hot_a", "hot_a",
                        str(png)], capture_output=True, text=True, timeout=300)
    report = json.loads(p.stdout.strip().splitlines()[-1])
    assert p.returncode == 0, report

    collapsed = read_collapsed(recording["collapsed"])
    n, total = hot_a_samples(collapsed), sum(collapsed.values())
    share = f"{100 * n / total:.2f}%"
    assert report["tooltip"][0] == "hot_a"
    assert report["tooltip"][1].endswith("/split")
    assert report["tooltip"][2] == f"{n} samples ({share})"
    assert report["widthBefore"] == pytest.approx(1180 * n / total, abs=0.01)
    assert report["widthAfter"] == pytest.approx(1180) and report["xAfter"] == pytest.approx(10)
    assert report["widthReset"] == pytest.approx(report["widthBefore"])
    assert report["matched"] == f"Matched: {share}"
    assert report["highlighted"] >= 1
    assert report["pageErrors"] == [] and report["externalRequests"] == []
    assert "499 Hz" in report["subtitle"] and "split" in report["title"]
    assert png.stat().st_size > 1000
