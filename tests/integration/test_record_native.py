"""bpfspy record on native programs: the BPF sampler, targets, both writers (issue 2)."""
import json
import os
import signal
import subprocess
import time

import pytest

from helpers import Profile, read_collapsed, run_bpfspy, speedscope_check


def test_split_75_25_with_full_stacks(c_progs, tmp_path):
    out = tmp_path / "split.json"
    p = run_bpfspy(["record", "-r", "1000", "-o", out, "--", c_progs["split"], "300"], check=True)
    assert "samples" in p.stderr and "wrote" in p.stderr
    prof = Profile.read(out)
    a = prof.share_of("hot_a")
    b = prof.share_of("hot_b")
    assert prof.total() > 0.3, f"too little sampled time: {prof.total()}s"
    assert abs(a - 0.75) <= 0.05, f"hot_a share {a:.3f}"
    assert abs(b - 0.25) <= 0.05, f"hot_b share {b:.3f}"
    # full stacks from main: main -> hot_a -> spin, root first
    for frames in prof.stacks_containing("hot_a"):
        names = [f["name"] for f in frames]
        assert "main" in names and names.index("main") < names.index("hot_a"), names
        if names[-1] == "spin":
            assert names[-2] == "hot_a"


def test_exit_status_of_launched_command(tmp_path):
    out = tmp_path / "false.json"
    p = run_bpfspy(["record", "-o", out, "--", "sh", "-c", "exit 7"])
    assert p.returncode == 7, p.stderr
    assert out.exists()


def test_collapsed_matches_speedscope_counts(c_progs, tmp_path):
    out = tmp_path / "split.txt"
    run_bpfspy(["record", "-r", "500", "-f", "collapsed", "-o", out, "--", c_progs["split"], "150"], check=True)
    stacks = read_collapsed(out)
    assert sum(stacks.values()) > 100
    total = sum(stacks.values())
    a = sum(c for s, c in stacks.items() if "hot_a" in s.split(";")) / total
    assert abs(a - 0.75) <= 0.06, a
    for s in stacks:
        assert s.split(";")[0] != "", s


def _spinner(c_progs):
    return subprocess.Popen([c_progs["split"], "100000"], stdout=subprocess.DEVNULL)


def test_pid_target(c_progs, tmp_path):
    proc = _spinner(c_progs)
    try:
        out = tmp_path / "pid.json"
        run_bpfspy(["record", "-p", proc.pid, "-d", "2", "-o", out], check=True)
        prof = Profile.read(out)
        assert any(f"pid {proc.pid}" in n for n in prof.profile_names()), prof.profile_names()
        assert prof.share_of("hot_a") > 0.6
    finally:
        proc.kill()
        proc.wait()


def test_all_processes(c_progs, tmp_path):
    proc = _spinner(c_progs)
    try:
        out = tmp_path / "all.json"
        run_bpfspy(["record", "-a", "-d", "2", "-o", out], check=True)
        prof = Profile.read(out)
        names = prof.profile_names()
        assert any(f"pid {proc.pid}" in n for n in names), names
        assert not any(f"pid {os.getpid()}" in n and "bpfspy" in n for n in names)
    finally:
        proc.kill()
        proc.wait()


def test_fork_and_exec_children_are_followed(c_progs, tmp_path):
    out = tmp_path / "fork.json"
    run_bpfspy(["record", "-r", "500", "-o", out, "--", c_progs["forkexec"], c_progs["split"], "150"], check=True)
    prof = Profile.read(out)
    pids = {n.split("(pid ")[1].split(")")[0] for n in prof.profile_names()}
    assert len(pids) >= 2, prof.profile_names()
    assert prof.share_of("hot_a") > 0.2          # the exec'd child
    assert prof.share_of("parent_work") > 0.2    # the parent


def test_no_subprocesses(c_progs, tmp_path):
    out = tmp_path / "nosub.json"
    run_bpfspy(["record", "--no-subprocesses", "-r", "500", "-o", out, "--", c_progs["forkexec"],
                c_progs["split"], "100"], check=True)
    prof = Profile.read(out)
    pids = {n.split("(pid ")[1].split(")")[0] for n in prof.profile_names()}
    assert len(pids) == 1, prof.profile_names()
    assert prof.share_of("hot_a") == 0


def test_sigint_during_all_writes_complete_file(c_progs, tmp_path):
    spinner = _spinner(c_progs)
    out = tmp_path / "int.json"
    try:
        rec = subprocess.Popen([os.environ.get("BPFSPY", "build/bpfspy"), "record", "-a", "-o", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(2.5)
        rec.send_signal(signal.SIGINT)
        _, err = rec.communicate(timeout=60)
        assert rec.returncode == 0, err
        doc = json.loads(out.read_text())
        assert sum(sum(p["weights"]) for p in doc["profiles"]) > 0
        assert any(f"pid {spinner.pid}" in p["name"] for p in doc["profiles"])
    finally:
        spinner.kill()
        spinner.wait()


def test_sigterm_during_launch_writes_file(c_progs, tmp_path):
    out = tmp_path / "term.json"
    rec = subprocess.Popen([os.environ.get("BPFSPY", "build/bpfspy"), "record", "-o", str(out), "--",
                            c_progs["split"], "100000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    rec.send_signal(signal.SIGTERM)
    _, err = rec.communicate(timeout=60)
    doc = json.loads(out.read_text())
    assert sum(sum(p["weights"]) for p in doc["profiles"]) > 0, err


@pytest.mark.e2e
def test_speedscope_check_accepts_both_formats(c_progs, tmp_path):
    js = tmp_path / "e2e.json"
    txt = tmp_path / "e2e.txt"
    run_bpfspy(["record", "-r", "500", "-o", js, "--", c_progs["forkexec"], c_progs["split"], "60"], check=True)
    run_bpfspy(["record", "-r", "500", "-f", "collapsed", "-o", txt, "--", c_progs["split"], "60"], check=True)
    r = speedscope_check(js, "--expect-format", "speedscope json")
    assert r.returncode == 0, r.stdout + r.stderr
    r = speedscope_check(txt, "--expect-format", "collapsed stack")
    assert r.returncode == 0, r.stdout + r.stderr


def test_device_outputs_are_written_in_place(c_progs, tmp_path):
    """A device node (like /dev/null) is written in place, never replaced; -o /dev/stdout streams.
    The test uses its own null device: a broken build must not take the host's /dev/null."""
    import stat
    null = tmp_path / "null"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    run_bpfspy(["record", "-q", "-o", null, "--", c_progs["split"], "5"], check=True)
    assert stat.S_ISCHR(os.stat(null).st_mode), "the device node was replaced by a file"
    p = run_bpfspy(["record", "-q", "-r", "500", "-f", "collapsed", "-o", "/dev/stdout", "--", c_progs["split"], "40"],
                   check=True)
    assert "hot_a" in p.stdout
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True)
    run_bpfspy(["record", "-q", "-r", "500", "-f", "collapsed", "-o", fifo, "--", c_progs["split"], "40"], check=True)
    out, _ = reader.communicate(timeout=30)
    assert "hot_a" in out and stat.S_ISFIFO(os.stat(fifo).st_mode)


TREE = """
import os, subprocess, sys, time
depth = int(sys.argv[1])
if depth < 2:
    child = subprocess.Popen([sys.executable, __file__, str(depth + 1)])
def spin_at_depth_0(): [i * i for i in range(10**8)]
def spin_at_depth_1(): [i * i for i in range(10**8)]
def spin_at_depth_2(): [i * i for i in range(10**8)]
{0: lambda: time.sleep(60), 1: spin_at_depth_1, 2: spin_at_depth_2}[depth]()
"""


def test_pid_follows_the_children_it_already_has(tmp_path):
    """-p PARENT: its child and grandchild, started before bpfspy, are profiled too (and with --no-subprocesses not)."""
    script = tmp_path / "tree.py"
    script.write_text(TREE)
    parent = subprocess.Popen(["/usr/bin/python3", script, "0"])
    try:
        deadline = time.time() + 20  # until the grandchild runs
        while time.time() < deadline and not subprocess.run(["pgrep", "-f", f"{script} 2"],
                                                            capture_output=True).stdout.strip():
            time.sleep(0.1)
        time.sleep(0.5)
        for flags, want in (([], True), (["--no-subprocesses"], False)):
            out = tmp_path / f"tree{len(flags)}.txt"
            run_bpfspy(["record", "-p", parent.pid, "-d", "2", "-r", "200", "-f", "collapsed", "-o", out, *flags],
                       check=True)
            stacks = read_collapsed(out)
            for name in ("spin_at_depth_1", "spin_at_depth_2"):
                n = sum(c for s, c in stacks.items() if name in s)
                assert (n > 50) == want, f"{name}: {n} samples with {flags or 'defaults'}\n{stacks}"
    finally:
        subprocess.run(["pkill", "-f", str(script)])
        parent.wait()
