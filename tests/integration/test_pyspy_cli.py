"""py-spy's command line, verbatim (the seed's workflow): options, formats, entry counts.

The seed (a user's notes on profiling pytest start-up with py-spy) runs
    py-spy record --subprocesses [--nonblocking] -o FILE [--format speedscope|raw] -- python -m pytest ... --collect-only
then its own scripts/speedscope_top_packages.py over the file, which counts
samples as len(samples) of each profile and ignores weights. bpfspy must
take the same command lines and write files that script reads right.
"""
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from helpers import BPFSPY, ROOT, SPEEDSCOPE_CHECK, Profile, run_bpfspy

PYTHON = "/usr/bin/python3"
EXAMPLE = ROOT / "examples" / "pytest-startup"
E2E = ROOT / "tests" / "e2e"

# Every option of py-spy 0.4's record, top and dump (py-spy's src/config.rs), with a value where it
# takes one. Each must be accepted by bpfspy; none may be an error.
PYSPY_RECORD = [["-s"], ["--subprocesses"], ["--nonblocking"], ["-t"], ["--threads"], ["--full-filenames"],
                ["--hideprogress"], ["-F"], ["--function"], ["--nolineno"], ["-g"], ["--gil"], ["-i"], ["--idle"],
                ["-n"], ["--native"], ["-r", "200"], ["--rate", "200"], ["-d", "unlimited"], ["-d", "1"],
                ["--duration", "1"], ["-f", "raw"], ["-f", "speedscope"], ["-f", "flamegraph"],
                ["--format", "speedscope"], ["--capture"]]
PYSPY_TOP = [["-s"], ["--subprocesses"], ["--nonblocking"], ["--full-filenames"], ["-g"], ["--gil"], ["-i"],
             ["--idle"], ["-n"], ["--native"], ["-r", "200"], ["--rate", "200"]]
PYSPY_DUMP = [["-s"], ["--subprocesses"], ["--nonblocking"], ["--full-filenames"], ["-l"], ["--locals"],
              ["-j"], ["--json"], ["-n"], ["--native"]]


def reference_sample_count(path):
    """The seed's tool counts entries and ignores weights: sum(len(samples)) over profiles."""
    doc = json.loads(Path(path).read_text())
    return sum(len(p["samples"]) for p in doc["profiles"])


def printed_samples(stderr):
    return int(re.search(r"bpfspy: (\d+) samples from", stderr).group(1))


@pytest.mark.parametrize("flags", PYSPY_RECORD, ids=lambda f: " ".join(f))
def test_every_pyspy_record_option_is_accepted(flags, tmp_path):
    out = tmp_path / "out"
    if not any(f in ("-d", "--duration") for f in flags):
        flags = flags + ["-d", "0.5"]
    p = run_bpfspy(["record", *flags, "-o", out, "--", PYTHON, "-c", "sum(range(2000000))"], timeout=120)
    assert p.returncode == 0, p.stderr
    assert "unknown" not in p.stderr and out.exists()


@pytest.mark.parametrize("flags", PYSPY_TOP, ids=lambda f: " ".join(f))
def test_every_pyspy_top_option_is_accepted(flags):
    p = run_bpfspy(["top", "--once", *flags, "--", PYTHON, "-c", "sum(range(2000000))"], timeout=120)
    assert p.returncode == 0, p.stderr
    assert "unknown" not in p.stderr


@pytest.fixture(scope="module")
def sleeper():
    proc = subprocess.Popen([PYTHON, "-c", "import time\ndef waiting():\n    time.sleep(600)\nwaiting()\n"])
    time.sleep(1.0)
    yield proc
    proc.kill()
    proc.wait()


@pytest.mark.parametrize("flags", PYSPY_DUMP, ids=lambda f: " ".join(f))
def test_every_pyspy_dump_option_is_accepted(flags, sleeper):
    p = run_bpfspy(["dump", "-p", sleeper.pid, *flags], timeout=60)
    assert p.returncode == 0, p.stderr
    assert "waiting" in p.stdout, p.stdout


def test_hex_pid_as_pyspy_accepts(sleeper):
    p = run_bpfspy(["dump", "-p", hex(sleeper.pid)], timeout=60)
    assert p.returncode == 0, p.stderr
    assert "waiting" in p.stdout


@pytest.fixture
def python_on_path(tmp_path):
    """`python` resolvable as in the seed's virtualenv: a bin dir first on PATH."""
    bindir = tmp_path / "venv-bin"
    bindir.mkdir()
    (bindir / "python").symlink_to(PYTHON)
    return dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}")


def test_seed_command_lines_verbatim(tmp_path, python_on_path):
    pytest_cmd = ["--", "python", "-m", "pytest", str(EXAMPLE), "-q", "--collect-only", "-p", "no:cacheprovider"]
    # 1) flame graph: py-spy's default format, chosen here by the .svg name
    svg = tmp_path / "pytest_startup_collect_only.svg"
    p = subprocess.run([BPFSPY, "record", "--subprocesses", "-o", svg, *pytest_cmd], capture_output=True,
                       text=True, timeout=300, env=python_on_path)
    assert p.returncode == 0, p.stderr
    assert svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text()[:2000]
    # 2) speedscope JSON
    js = tmp_path / "pytest_startup_collect_only_speedscope.json"
    p = subprocess.run([BPFSPY, "record", "--subprocesses", "--nonblocking", "-o", js, "--format", "speedscope",
                        *pytest_cmd], capture_output=True, text=True, timeout=300, env=python_on_path)
    assert p.returncode == 0, p.stderr
    prof = Profile.read(js)
    assert any("_pytest" in (f.get("file") or "") for f in prof.frames)
    assert reference_sample_count(js) == printed_samples(p.stderr)
    c = subprocess.run([str(SPEEDSCOPE_CHECK), str(js)], capture_output=True, text=True, timeout=300)
    assert c.returncode == 0, c.stdout[-2000:] + c.stderr[-2000:]
    # 3) raw: collapsed lines, whatever the .json name says
    raw = tmp_path / "pytest_startup_collect_only_raw.json"
    p = subprocess.run([BPFSPY, "record", "--subprocesses", "-o", raw, "--format", "raw", *pytest_cmd],
                       capture_output=True, text=True, timeout=300, env=python_on_path)
    assert p.returncode == 0, p.stderr
    assert "writing collapsed format into" in p.stderr  # -f contradicts the name: said once
    lines = raw.read_text().splitlines()
    assert lines and all(re.fullmatch(r".+ \d+", l) for l in lines), lines[:3]


def test_svg_renders_in_chromium(tmp_path):
    svg = tmp_path / "out.svg"
    p = run_bpfspy(["record", "-o", svg, "--", PYTHON, "-c",
                    "def hot_a():\n    return sum(range(30000000))\nhot_a()\n"], timeout=120)
    assert p.returncode == 0, p.stderr
    if not (E2E / "node_modules" / "playwright-core").exists() or not Path("/usr/bin/chromium").exists():
        pytest.skip("needs tests/e2e's playwright-core and Debian's chromium (make deps)")
    r = subprocess.run(["node", str(E2E / "flamegraph.mjs"), str(svg), "hot_a", "hot_a"], capture_output=True,
                       text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("name,first", [("x.txt", None), ("x.folded", None), ("x.collapsed", None),
                                        ("x.svg", "<?xml"), ("x.json", "{"), ("x.pb.gz", b"\x1f\x8b")])
def test_format_from_output_name(tmp_path, name, first):
    out = tmp_path / name
    p = run_bpfspy(["record", "-o", out, "--", PYTHON, "-c", "sum(range(3000000))"], timeout=120)
    assert p.returncode == 0, p.stderr
    if isinstance(first, bytes):
        assert out.read_bytes().startswith(first)
    elif first:
        assert out.read_text().startswith(first)
    else:
        assert all(re.fullmatch(r".+ \d+", l) for l in out.read_text().splitlines())


def test_cpu_mode_one_entry_per_sample(tmp_path):
    out = tmp_path / "x.json"
    p = run_bpfspy(["record", "-r", "1000", "-o", out, "--", PYTHON, "-c", "sum(range(60000000))"], timeout=120)
    assert p.returncode == 0, p.stderr
    taken = printed_samples(p.stderr)
    assert taken > 100, p.stderr
    assert reference_sample_count(out) == taken


def test_idle_mode_entries_are_proportional_to_wall_time(tmp_path):
    out = tmp_path / "x.json"
    prog = "import time\nfor _ in range(4):\n    time.sleep(0.25)\n    sum(range(2000000))\n"
    p = run_bpfspy(["record", "-i", "-r", "100", "-o", out, "--", PYTHON, "-c", prog], timeout=120)
    assert p.returncode == 0, p.stderr
    doc = json.loads(out.read_text())
    main = [pr for pr in doc["profiles"] if pr["name"].startswith("python3")][0]
    wall_s = sum(main["weights"]) / 1e9
    entries = len(main["samples"])
    # entries x period = wall time, within 2 % (plus one partial entry per run)
    assert abs(entries * 0.01 - wall_s) <= 0.02 * wall_s + 0.01 * 20, (entries, wall_s)


def test_threads_flag_gives_thread_roots(tmp_path):
    out = tmp_path / "x.txt"
    # each thread outlives the reader's 200 ms drain interval: a name is read while its thread lives
    prog = ("import threading\ndef spin():\n    sum(range(60000000))\n"
            "ts = [threading.Thread(target=spin) for _ in range(2)]\n[t.start() for t in ts]\n[t.join() for t in ts]\n")
    p = run_bpfspy(["record", "-t", "-o", out, "--", PYTHON, "-c", prog], timeout=120)
    assert p.returncode == 0, p.stderr
    roots = {l.split(";", 1)[0] for l in out.read_text().splitlines()}
    # py-spy's root frame: "thread (0xTID)", with ": NAME" when threading names the thread
    assert len(roots) >= 2 and all(re.fullmatch(r"thread \(0x[0-9A-F]+\)(: .+)?", r) for r in roots), roots
    assert any(r.endswith("): Thread-1 (spin)") or r.endswith("): Thread-1") for r in roots), roots


def test_output_dash_is_stdout(tmp_path):
    p = run_bpfspy(["record", "-f", "collapsed", "-o", "-", "--", PYTHON, "-c", "sum(range(3000000))"],
                   timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout and all(re.fullmatch(r".+ \d+", l) for l in p.stdout.splitlines())
    assert not Path("-").exists()


def test_command_not_found_names_it_and_hints_at_sudo_path(tmp_path):
    env = dict(os.environ, PATH="/usr/sbin:/usr/bin:/sbin:/bin", SUDO_USER="someone")
    p = subprocess.run([BPFSPY, "record", "-o", tmp_path / "x.json", "--", "python-no-such", "-c", "1"],
                       capture_output=True, text=True, timeout=30, env=env)
    assert p.returncode == 127
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "command not found: python-no-such" in lines[0] and "sudo resets PATH" in lines[0]


def test_default_depth_keeps_deep_import_stacks_whole(tmp_path):
    """300 nested Python frames: more than the old default of 128, no [truncated] root at the default depth."""
    out = tmp_path / "x.txt"
    prog = "import sys\nsys.setrecursionlimit(5000)\ndef f(n):\n    return f(n - 1) if n else sum(range(30000000))\nf(300)\n"
    p = run_bpfspy(["record", "-o", out, "--", PYTHON, "-c", prog], timeout=120)
    assert p.returncode == 0, p.stderr
    text = out.read_text()
    assert "truncated" not in text
    assert max(l.count("f (<string>") for l in text.splitlines()) >= 300


def test_profile_clock_starts_when_sampling_starts(tmp_path):
    """duration_ns excludes loading BPF; start_realtime_ns has nanoseconds."""
    out = tmp_path / "x.json"
    p = run_bpfspy(["record", "-d", "1", "-o", out, "--", PYTHON, "-c", "import time; time.sleep(30)"], timeout=60)
    assert p.returncode == 128 + signal.SIGINT, p.stderr
    block = json.loads(out.read_text())["bpfspy"]
    assert 1.0e9 <= block["duration_ns"] <= 1.05e9, block["duration_ns"]
    assert block["start_realtime_ns"] % 1_000_000_000 != 0
    assert abs(block["start_realtime_ns"] / 1e9 - time.time()) < 60
