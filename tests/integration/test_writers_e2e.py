# SPDX-License-Identifier: MIT
"""The speedscope and collapsed writers, checked by the real speedscope app.

The unit test binary test_write_speedscope writes a fixed multi-process,
multi-thread profile (2000 samples at 97 Hz, 5 threads in 3 processes) when
BPFSPY_WRITE_DEMO_DIR is set; speedscope-check then loads each file in
headless Chromium. Expected numbers come from the fixture's definition in
tests/unit/test_write_fixture.h, not from the files.
"""
import json
import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SAMPLES = 2000
RATE_HZ = 97
PROFILE_NAMES = [
    "python3 (pid 100) MainThread",
    "python3 (pid 100) tid 101",
    "python3 (pid 100) worker",
    "gcc (pid 200) tid 200",
    'odd;name (pid 300) t"1',
]


def build_dir():
    if os.environ.get("BPFSPY_BUILD"):
        return pathlib.Path(os.environ["BPFSPY_BUILD"])
    if os.environ.get("BPFSPY"):
        return pathlib.Path(os.environ["BPFSPY"]).resolve().parent
    return REPO / "build"


def speedscope_check_tool():
    tool = pathlib.Path(os.environ.get("SPEEDSCOPE_CHECK", REPO / "tests" / "e2e" / "speedscope-check" / "speedscope-check"))
    assert tool.exists(), f"speedscope-check not found at {tool}"
    return tool


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    build = build_dir()
    binary = build / "tests" / "test_write_speedscope"
    if not binary.exists():
        # unit test binaries are not part of `make e2e`; build just this one
        subprocess.run(["make", "-C", str(REPO), f"BUILD={build}", f"{build}/tests/test_write_speedscope"],
                       check=True, stdout=subprocess.DEVNULL)
    out = tmp_path_factory.mktemp("writers")
    env = dict(os.environ, BPFSPY_WRITE_DEMO_DIR=str(out))
    for name in ("test_write_speedscope", "test_write_chrometrace", "test_write_gecko"):
        binary = build / "tests" / name
        if not binary.exists():
            subprocess.run(["make", "-C", str(REPO), f"BUILD={build}", str(binary)], check=True,
                           stdout=subprocess.DEVNULL)
        subprocess.run([str(binary)], cwd=REPO / "tests" / "unit", env=env, check=True,
                       stdout=subprocess.DEVNULL)
    return out


def run_check(path, *args):
    proc = subprocess.run([str(speedscope_check_tool()), str(path), *args],
                          capture_output=True, text=True, timeout=300)
    report = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else {}
    assert proc.returncode == 0, f"speedscope-check failed: {report.get('error')} {proc.stderr[-2000:]}"
    return report


@pytest.mark.e2e
def test_speedscope_file_loads_strictly_with_one_profile_per_thread(demo_dir):
    report = run_check(demo_dir / "demo.speedscope.json", "--expect-format", "speedscope json", "--strict")
    assert report["profileCount"] == len(PROFILE_NAMES)
    assert [p["name"] for p in report["profiles"]] == PROFILE_NAMES
    assert all(p["unit"] == "seconds" for p in report["profiles"])
    total = sum(p["totalWeight"] for p in report["profiles"])
    assert total == pytest.approx(SAMPLES / RATE_HZ, rel=1e-9)


@pytest.mark.e2e
def test_nanosecond_speedscope_file_loads_strictly(demo_dir):
    report = run_check(demo_dir / "demo-ns.speedscope.json", "--expect-format", "speedscope json", "--strict")
    assert report["profileCount"] == len(PROFILE_NAMES)
    assert all(p["unit"] == "nanoseconds" for p in report["profiles"])


@pytest.mark.e2e
def test_nasty_names_load_strictly(demo_dir):
    report = run_check(demo_dir / "demo-nasty.speedscope.json", "--expect-format", "speedscope json", "--strict")
    assert report["profileCount"] == 1
    assert report["profiles"][0]["totalWeight"] == pytest.approx(10 / 100)


@pytest.mark.e2e
def test_collapsed_file_loads_as_collapsed_stacks(demo_dir):
    report = run_check(demo_dir / "demo.collapsed.txt", "--expect-format", "collapsed stack")
    assert report["profileCount"] == 1
    # integer sample counts: the whole profile, nothing lost to parsing
    assert report["profiles"][0]["totalWeight"] == SAMPLES
    assert report["fileStats"]["skippedLines"] == 0


# speedscope's Trace Event importer names a profile "comm (pid N), thread (tid T)" and sorts by pid, tid
TRACE_PROFILE_NAMES = sorted(
    [(100, 100, "python3 (pid 100), MainThread (tid 100)"), (100, 101, "python3 (pid 100, tid 101)"),
     (100, 103, "python3 (pid 100), worker (tid 103)"), (200, 200, "gcc (pid 200, tid 200)"),
     (300, 301, 'odd;name (pid 300), t"1 (tid 301)')])


@pytest.mark.e2e
def test_chrometrace_file_loads_with_one_profile_per_thread(demo_dir):
    report = run_check(demo_dir / "demo.trace.json", "--expect-format", "trace event", "--strict")
    assert [p["name"] for p in report["profiles"]] == [n for _, _, n in TRACE_PROFILE_NAMES]
    # every thread's samples, one period each, on the microsecond clock
    total_us = sum(p["totalWeight"] for p in report["profiles"])
    assert total_us == pytest.approx(SAMPLES * 1e6 / RATE_HZ, rel=1e-4)


@pytest.mark.e2e
def test_gecko_file_loads_in_the_firefox_importer(demo_dir):
    report = run_check(demo_dir / "demo.gecko.json", "--expect-format", "firefox")
    # speedscope's Firefox importer shows one thread: the first GeckoMain (python3's main thread)
    assert report["profileCount"] == 1
    assert report["profiles"][0]["frames"] > 0
