"""`bpfspy top` in a real terminal (tmux): header, rows, keys, terminal restored (issue 7)."""
import os
import re
import shlex
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from helpers import BPFSPY, run_bpfspy

PYTHON = "/usr/bin/python3"
PROMPT = "READY$"

HOT_PROG = '''\
import sys, time

def hot():
    x = 0
    for i in range(20000):
        x += i * i  # HOT_LINE
    return x

def warm():
    x = 0
    for i in range(4000):
        x += i
    return x

def main(seconds):
    end = time.time() + seconds
    while time.time() < end:
        hot()
        warm()

main(float(sys.argv[1]))
'''

ROW = re.compile(r"^\s*([\d.]+)%\s+([\d.]+)%\s+([\d.]+)s\s+([\d.]+)s\s+(.+?)\s*$")


class Tmux:
    """One tmux server of our own, one pane running a plain bash."""

    def __init__(self, tmp_path, width=150, height=45):
        self.sock = f"bpfspy-top-{uuid.uuid4().hex[:8]}"
        self.tmp_path = tmp_path
        self._tmux("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height),
                   f"env PS1='{PROMPT} ' TERM=xterm bash --norc --noprofile")
        self.wait_for(lambda: any(l.startswith(PROMPT) for l in self.lines()), 10, "the shell prompt")

    def _tmux(self, *args):
        return subprocess.run(["tmux", "-L", self.sock, "-f", "/dev/null", *args],
                              capture_output=True, text=True, timeout=20, check=True).stdout

    def send(self, *keys):
        self._tmux("send-keys", "-t", "t", *keys)

    def run(self, argv):
        self.send(" ".join(shlex.quote(str(a)) for a in argv), "Enter")

    def lines(self):
        return self._tmux("capture-pane", "-p", "-t", "t").splitlines()

    def display(self, fmt):
        return self._tmux("display-message", "-p", "-t", "t", fmt).strip()

    def wait_for(self, pred, timeout, what):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if pred():
                return
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; pane:\n" + "\n".join(self.lines()))

    def kill(self):
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True)


@pytest.fixture
def tmux(tmp_path):
    t = Tmux(tmp_path)
    yield t
    t.kill()


@pytest.fixture
def hot_prog(tmp_path):
    path = tmp_path / "hot.py"
    path.write_text(HOT_PROG)
    return path


def line_of(text, marker):
    return next(i for i, l in enumerate(text.splitlines(), 1) if marker in l)


def rows(lines):
    out = []
    for l in lines:
        m = ROW.match(l)
        if m:
            out.append((float(m.group(1)), float(m.group(2)), float(m.group(3)), float(m.group(4)), m.group(5)))
    return out


def view_ready(t, min_samples=150):
    for l in t.lines():
        m = re.match(r"Total Samples (\d+)", l)
        if m and int(m.group(1)) >= min_samples:
            return True
    return False


def assert_terminal_restored(t):
    t.wait_for(lambda: t.display("#{alternate_on}") == "0", 10, "the normal screen")
    assert t.display("#{cursor_flag}") == "1", "cursor left hidden"
    t.wait_for(lambda: [l for l in t.lines() if l.strip()][-1].strip() == PROMPT, 10,
               "an empty shell prompt after bpfspy")


def test_live_view_header_rows_and_keys(tmux, hot_prog):
    tmux.run([BPFSPY, "top", "--", PYTHON, hot_prog, "60"])
    tmux.wait_for(lambda: view_ready(tmux), 30, "a view with samples")
    assert tmux.display("#{alternate_on}") == "1"
    assert tmux.display("#{cursor_flag}") == "0"
    time.sleep(1.2)  # one more refresh so the hot loop dominates the interval and the times
    lines = tmux.lines()
    ver = subprocess.run([PYTHON, "-c", "import platform; print(platform.python_version())"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert lines[0] == f"Collecting samples from '{PYTHON} {hot_prog} 60' (python v{ver})", lines
    assert re.fullmatch(r"Total Samples \d+", lines[1]), lines
    m = re.fullmatch(r"GIL: ([\d.]+)%, Active: ([\d.]+)%, Threads: (\d+)", lines[2])
    assert m, lines
    assert int(m.group(3)) == 1
    # one busy thread: on CPU whenever the (shared, loaded) machine lets it run
    assert 5 < float(m.group(2)) <= 100, lines[2]
    assert float(m.group(1)) > 50, lines[2]  # it runs Python: it holds the GIL
    assert lines[4] == "  %Own   %Total  OwnTime  TotalTime  Function (filename)", lines[4]
    r = rows(lines)
    assert r and r[0][4] == "hot (hot.py)", lines
    assert [x[2] for x in r] == sorted((x[2] for x in r), reverse=True), "rows not sorted by OwnTime"
    assert any(x[4] == "main (hot.py)" and x[1] > 90 for x in r), lines

    tmux.send("l")
    tmux.wait_for(lambda: "Function (filename:line)" in "\n".join(tmux.lines()), 5, "line mode")
    time.sleep(0.3)
    r = rows(tmux.lines())
    hot_rows = [x for x in r if x[4].startswith("hot (hot.py:")]
    assert hot_rows, tmux.lines()
    assert r[0][4] == f"hot (hot.py:{line_of(HOT_PROG, 'HOT_LINE')})" or r[0][4].startswith("hot (hot.py:"), r[0]
    assert all(re.fullmatch(r".+ \(.+:\d+\)", x[4]) or "<frozen" in x[4] for x in r), r

    tmux.send("4")
    tmux.wait_for(lambda: "sorted by TotalTime" in "\n".join(tmux.lines()), 5, "sorting by TotalTime")
    r = rows(tmux.lines())
    totals = [x[3] for x in r]
    assert totals == sorted(totals, reverse=True), r
    assert r[0][4].startswith(("<module> (hot.py:", "main (hot.py:")), r[0]

    tmux.send("l")
    tmux.wait_for(lambda: "Function (filename)" in "\n".join(tmux.lines()), 5, "function mode again")
    tmux.send("q")
    assert_terminal_restored(tmux)
    out = subprocess.run(["pgrep", "-f", str(hot_prog)], capture_output=True, text=True).stdout
    assert not out.strip(), "q left the launched command running"


def test_ctrl_c_restores_terminal(tmux, hot_prog):
    tmux.run([BPFSPY, "top", "--", PYTHON, hot_prog, "60"])
    tmux.wait_for(lambda: view_ready(tmux, 20), 30, "a view with samples")
    tmux.send("C-c")
    assert_terminal_restored(tmux)


def test_sigterm_restores_terminal(tmux, hot_prog):
    tmux.run([BPFSPY, "top", "-p", "1"])
    tmux.wait_for(lambda: tmux.display("#{alternate_on}") == "1", 20, "the live view")
    pid = tmux.display("#{pane_pid}")
    top_pid = subprocess.run(["pgrep", "-P", pid, "-f", "bpfspy top"], capture_output=True, text=True).stdout.split()
    assert top_pid
    os.kill(int(top_pid[0]), 15)
    assert_terminal_restored(tmux)


def test_command_exit_keeps_table_until_a_key(tmux, hot_prog):
    tmux.run([BPFSPY, "top", "--", PYTHON, hot_prog, "2.5"])
    tmux.wait_for(lambda: "the command exited with status 0" in "\n".join(tmux.lines()), 30, "the end status")
    assert tmux.display("#{alternate_on}") == "1", "the final table must stay on screen"
    assert rows(tmux.lines())[0][4] == "hot (hot.py)"
    time.sleep(1.5)
    assert tmux.display("#{alternate_on}") == "1"
    tmux.send("x")
    assert_terminal_restored(tmux)


def test_once_prints_final_table_on_normal_screen(tmux, hot_prog):
    tmux.run([BPFSPY, "top", "--once", "--", PYTHON, hot_prog, "2"])
    tmux.wait_for(lambda: tmux.display("#{alternate_on}") == "1", 20, "the live view")
    tmux.wait_for(lambda: "the command exited with status 0" in "\n".join(tmux.lines()), 30, "the final table")
    assert_terminal_restored(tmux)
    text = "\n".join(tmux.lines())
    assert "Collecting samples from" in text and "hot (hot.py)" in text, text
    assert "the command exited with status 0" in text


def test_narrow_terminal_truncates_never_wraps(tmp_path, hot_prog):
    t = Tmux(tmp_path, width=40, height=12)
    try:
        t.run([BPFSPY, "top", "--", PYTHON, hot_prog, "60"])
        t.wait_for(lambda: view_ready(t, 20), 30, "a view with samples")
        lines = t.lines()
        assert len(lines) == 12
        assert lines[0] == "Collecting samples from '/usr/bin/python"[:40], lines  # cut at 40 columns
        assert lines[4].startswith("  %Own   %Total  OwnTime"), lines
        assert "sorted by" in lines[-1]
        t.send("q")
        assert_terminal_restored(t)
    finally:
        t.kill()


def test_not_a_tty_prints_plain_snapshots(hot_prog):
    p = run_bpfspy(["top", "--", PYTHON, hot_prog, "2.5"], timeout=60)
    assert p.returncode == 0, p.stderr
    assert "\033" not in p.stdout
    snapshots = ["Collecting samples" + s for s in p.stdout.split("Collecting samples")[1:]]
    assert len(snapshots) >= 2, p.stdout
    final = snapshots[-1].splitlines()
    assert final[4] == "  %Own   %Total  OwnTime  TotalTime  Function (filename)"
    assert rows(final)[0][4] == "hot (hot.py)", final


def test_exit_status_of_command_is_returned(tmp_path):
    p = run_bpfspy(["top", "--", PYTHON, "-c", "import sys; sys.exit(3)"], timeout=60)
    assert p.returncode == 3, p.stderr


@pytest.mark.parametrize("args, code, message", [
    ([], 2, "nothing to watch"),
    (["-p", "999999999"], 2, "no process with PID 999999999"),
    (["-p", "4000000"], 1, "no process with PID 4000000"),
    (["-r", "0", "--", "true"], 2, "invalid rate"),
    (["--bogus"], 2, "unknown or incomplete option"),
])
def test_bad_input(args, code, message):
    p = run_bpfspy(["top", *args], timeout=30)
    assert p.returncode == code, p.stderr
    assert p.stderr.startswith("bpfspy: ") and message in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr


SLEEPY_PROG = '''\
import time

def a():
    time.sleep(0.5)

def b():
    for _ in range(5):
        a()

b()
'''


def final_rows(stdout):
    return rows(("Collecting samples" + stdout.split("Collecting samples")[-1]).splitlines())


def test_idle_counts_sleep_as_wall_time(tmp_path):
    prog = tmp_path / "sleepy.py"
    prog.write_text(SLEEPY_PROG)
    p = run_bpfspy(["top", "-i", "--", PYTHON, prog], timeout=60)
    assert p.returncode == 0, p.stderr
    r = {x[4]: x for x in final_rows(p.stdout)}
    assert 2.0 < r["a (sleepy.py)"][2] < 3.5, r  # OwnTime: five 0.5 s sleeps
    assert r["b (sleepy.py)"][2] < 0.2 and r["b (sleepy.py)"][3] > 2.0, r
    without = run_bpfspy(["top", "--", PYTHON, prog], timeout=60)
    assert all(x[2] < 0.5 for x in final_rows(without.stdout)), "on-CPU top counted sleep"


def test_native_shows_native_frames(hot_prog):
    p = run_bpfspy(["top", "-n", "--", PYTHON, hot_prog, "2"], timeout=60)
    assert p.returncode == 0, p.stderr
    labels = [x[4] for x in final_rows(p.stdout)]
    assert "hot (hot.py)" in labels, labels
    assert any(re.search(r"\((python3[.\d]*|libpython[^)]*|libc[^)]*)\)$", l) for l in labels), labels
    plain = run_bpfspy(["top", "--", PYTHON, hot_prog, "1"], timeout=60)
    assert all(l.endswith(".py)") or "<frozen" in l or "(<string>)" in l
               for l in (x[4] for x in final_rows(plain.stdout))), plain.stdout


def test_pid_target_that_becomes_a_zombie_ends_top(tmp_path):
    """The target exits but its parent never reaps it: top must notice (kill(pid, 0) still succeeds on a zombie)."""
    pidfile = tmp_path / "pid"
    parent = subprocess.Popen(["sh", "-c", f'{PYTHON} -c "import time; time.sleep(1.5)" & echo $! > {pidfile}; '
                               "exec sleep 60"])
    try:
        deadline = time.time() + 10
        while time.time() < deadline and not (pidfile.exists() and pidfile.read_text().strip()):
            time.sleep(0.05)
        target = int(pidfile.read_text())
        p = run_bpfspy(["top", "-p", target], timeout=20)  # raises TimeoutExpired if top never ends
        assert p.returncode == 0, p.stderr
        assert open(f"/proc/{target}/stat").read().split()[2] == "Z"
    finally:
        parent.kill()
        parent.wait()


FORKING_PARENT = '''\
import os, sys, time

child = os.fork()
if child == 0:
    end = time.time() + float(sys.argv[2])
    while time.time() < end:
        sum(i * i for i in range(1000))
    os._exit(0)
with open(sys.argv[1], "w") as f:
    f.write(str(child))
time.sleep(120)  # never waits: the child stays a zombie
'''


def test_pid_child_of_a_python_parent_that_never_reaps_ends_top(tmp_path):
    """A Python parent forks a busy Python child and never waits for it: top -p CHILD ends soon after it exits."""
    prog, pidfile = tmp_path / "parent.py", tmp_path / "pid"
    prog.write_text(FORKING_PARENT)
    parent = subprocess.Popen([PYTHON, prog, pidfile, "3"])
    try:
        deadline = time.time() + 10
        while time.time() < deadline and not (pidfile.exists() and pidfile.read_text().strip()):
            time.sleep(0.05)
        child = int(pidfile.read_text())
        top = subprocess.Popen([BPFSPY, "top", "-p", str(child)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
        zombie_at = None
        deadline = time.time() + 30
        while top.poll() is None and time.time() < deadline:
            if zombie_at is None and open(f"/proc/{child}/stat").read().rsplit(")", 1)[1].split()[0] == "Z":
                zombie_at = time.monotonic()
            time.sleep(0.02)
        ended_at = time.monotonic()
        if top.poll() is None:
            top.kill()
        elif zombie_at is None and open(f"/proc/{child}/stat").read().rsplit(")", 1)[1].split()[0] == "Z":
            # top ended within one 20 ms poll of its target's exit; the loop never saw the zombie alive
            zombie_at = ended_at
        out, err = top.communicate()
        assert zombie_at is not None, "top ended while the child was still running, or the child never exited"
        took = ended_at - zombie_at
        print(f"top -p ended {took:.2f} s after its target became a zombie")
        assert top.returncode == 0, err
        assert took < 10, f"top -p ran {took:.1f} s past its target's exit"
        assert "Collecting samples" in out, out
    finally:
        parent.kill()
        parent.wait()
