"""Reliability: hostile targets and environments (the bad-input matrix) and data safety.

Each row says what a py-spy/perf user would expect: a clear single-line error
and a non-zero exit, or a working profile (with a note where something was
missing). Rows already covered by test_bad_input.py are not repeated here.
"""
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from helpers import BPFSPY, TOP_PACKAGES, Profile, build_c, run_bpfspy

PROGS = Path(__file__).parent / "progs"
ROOT = Path(__file__).resolve().parents[2]
PYTHON = "/usr/bin/python3"
BUSY_PY = "import time\nend = time.time() + {secs}\nwhile time.time() < end:\n    sum(range(1000))\n"


def error_line(p):
    """The one stderr line of a failed run, which must name bpfspy."""
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, f"expected one line, got:\n{p.stderr}"
    assert lines[0].startswith("bpfspy: "), lines[0]
    return lines[0]


def frame_names(path):
    return {f["name"] for f in Profile.read(path).frames}


def sample_count(path):
    """Samples, not weight: bpfspy's speedscope weights are seconds."""
    return sum(len(p["samples"]) for p in Profile.read(path).doc["profiles"])


def wait_for(pred, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


@pytest.fixture(scope="module")
def split_prog(tmp_path_factory):
    return build_c(PROGS / "split.c", tmp_path_factory.mktemp("rel") / "split")


@pytest.fixture
def spinner(split_prog):
    """Starts split (a native busy loop, hot_a/hot_b) from a given path; kills it afterwards."""
    procs = []

    def start(path=split_prog, wrap=()):
        p = subprocess.Popen([*wrap, str(path), "1000000"], stdout=subprocess.DEVNULL)
        procs.append(p)
        time.sleep(0.3)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()


# ---- targets -----------------------------------------------------------------


def test_zombie_pid(tmp_path):
    child = subprocess.Popen(["true"])
    assert wait_for(lambda: open(f"/proc/{child.pid}/stat").read().split(")")[1].split()[0] == "Z")
    try:
        p = run_bpfspy(["record", "-p", child.pid, "-d", "1", "-o", tmp_path / "x.json"])
        assert p.returncode == 1
        assert f"PID {child.pid} is a zombie" in error_line(p)
        assert not (tmp_path / "x.json").exists()
    finally:
        child.wait()


@pytest.mark.parametrize("lifetime", [0.0, 0.05, 0.3])
def test_pid_exits_during_startup(tmp_path, lifetime):
    """Gone before or while bpfspy attaches: an error naming the PID, or a (possibly empty) profile."""
    child = subprocess.Popen(["sleep", str(lifetime)])
    out = tmp_path / "x.json"
    try:
        p = run_bpfspy(["record", "-p", child.pid, "-d", "3", "-o", out], timeout=30)
    finally:
        child.wait()
    assert p.returncode in (0, 1), p.stderr
    assert "Traceback" not in p.stderr and "Sanitizer" not in p.stderr, p.stderr
    if p.returncode == 1:
        assert str(child.pid) in error_line(p)
        assert not out.exists()
    else:
        Profile.read(out)  # a valid profile
        assert "exited" in p.stderr


def test_non_python_pid_gives_native_stacks_and_a_note(tmp_path, spinner):
    target = spinner()
    out = tmp_path / "x.json"
    p = run_bpfspy(["record", "-p", target.pid, "-d", "1", "-o", out])
    assert p.returncode == 0, p.stderr
    assert {"hot_a", "main"} <= frame_names(out)
    # without --native, the user asked for Python stacks: say why there are none
    assert "not a Python process" in p.stderr or "no Python" in p.stderr, p.stderr


def test_stripped_binary(tmp_path, split_prog):
    stripped = tmp_path / "split-stripped"
    shutil.copy(split_prog, stripped)
    subprocess.run(["strip", "--strip-all", str(stripped)], check=True)
    out = tmp_path / "x.json"
    p = run_bpfspy(["record", "-o", out, "--", stripped, "30"], timeout=60)
    assert p.returncode == 0, p.stderr
    names = frame_names(out)
    assert sample_count(out) > 0
    # no symbols: frames are still there, named by module and offset, not dropped or crashed on
    assert any("split-stripped" in n for n in names), names


def test_binary_truncated_on_disk_while_running(tmp_path, split_prog, spinner):
    exe = tmp_path / "victim"
    shutil.copy(split_prog, exe)
    target = spinner(exe)
    # replace the file under the running process with a truncated copy, atomically
    truncated = tmp_path / "victim.trunc"
    truncated.write_bytes(exe.read_bytes()[:700])
    os.chmod(truncated, 0o755)
    os.rename(truncated, exe)
    out = tmp_path / "x.json"
    p = run_bpfspy(["record", "-p", target.pid, "-d", "1", "-o", out])
    assert p.returncode == 0, p.stderr
    assert sample_count(out) > 0
    assert "Sanitizer" not in p.stderr


def test_binary_corrupt_on_disk_while_running(tmp_path, split_prog, spinner):
    exe = tmp_path / "victim"
    shutil.copy(split_prog, exe)
    target = spinner(exe)
    data = bytearray(exe.read_bytes())
    for i in range(64, len(data), 7):  # keep the ELF magic, scribble over headers and sections
        data[i] ^= 0x5A
    junk = tmp_path / "victim.junk"
    junk.write_bytes(bytes(data))
    os.rename(junk, exe)
    out = tmp_path / "x.json"
    p = run_bpfspy(["record", "-p", target.pid, "-d", "1", "-o", out])
    assert p.returncode == 0, p.stderr
    assert sample_count(out) > 0


def test_deleted_executable(tmp_path, split_prog, spinner):
    exe = tmp_path / "gone"
    shutil.copy(split_prog, exe)
    target = spinner(exe)
    exe.unlink()
    out = tmp_path / "x.json"
    p = run_bpfspy(["record", "-p", target.pid, "-d", "1", "-o", out])
    assert p.returncode == 0, p.stderr
    # the file is still reachable through /proc/PID/exe and map_files: symbols must resolve
    assert "hot_a" in frame_names(out), sorted(frame_names(out))[:20]


def test_other_mount_namespace(tmp_path, split_prog):
    """The binary exists only inside the target's private mount namespace."""
    private = tmp_path / "private"
    private.mkdir()
    script = (f"mount -t tmpfs tmpfs {private} && cp {split_prog} {private}/nsprog && "
              f"exec {private}/nsprog 1000000")
    ns = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "--fork", "--kill-child",
                           "sh", "-c", script],
                          stdout=subprocess.DEVNULL)
    try:
        def child_pid():
            kids = Path(f"/proc/{ns.pid}/task/{ns.pid}/children").read_text().split()
            return int(kids[0]) if kids else None
        assert wait_for(lambda: child_pid() and "nsprog" in Path(f"/proc/{child_pid()}/comm").read_text())
        pid = child_pid()
        assert not (private / "nsprog").exists()  # invisible from our namespace
        out = tmp_path / "x.json"
        p = run_bpfspy(["record", "-p", pid, "-d", "1", "-o", out])
        assert p.returncode == 0, p.stderr
        assert "hot_a" in frame_names(out), sorted(frame_names(out))[:20]
    finally:
        # children first: once unshare is gone they are reparented and -P no longer finds them
        subprocess.run(["pkill", "-KILL", "-P", str(ns.pid)])
        ns.kill()
        ns.wait()


def test_thousand_threads(tmp_path):
    prog = tmp_path / "threads.py"
    prog.write_text(
        "import threading, time\n"
        "def work():\n"
        "    end = time.time() + 2\n"
        "    while time.time() < end:\n"
        "        sum(range(200))\n"
        "        time.sleep(0.001)\n"
        "ts = [threading.Thread(target=work) for _ in range(1000)]\n"
        "[t.start() for t in ts]\n"
        "[t.join() for t in ts]\n")
    out = tmp_path / "x.json"
    p = run_bpfspy(["record", "-o", out, "--", PYTHON, prog], timeout=120)
    assert p.returncode == 0, p.stderr
    prof = Profile.read(out)
    assert len(prof.profile_names()) >= 100, len(prof.profile_names())
    assert prof.share_of("work") > 0.5


def test_deep_recursion_truncates(tmp_path):
    out = tmp_path / "x.json"
    p = run_bpfspy(["record", "--max-depth", "1024", "-o", out, "--",
                    PYTHON, PROGS / "py" / "recursion.py", "10000", "3000000"], timeout=120)
    assert p.returncode == 0, p.stderr
    assert "some stacks truncated (see --max-depth)" in p.stderr
    deep = [frames for _, frames, _ in Profile.read(out).stacks if any(f["name"] == "rec" for f in frames)]
    assert deep
    assert any(f["name"] == "[truncated]" for frames in deep for f in frames)
    assert max(sum(f["name"] == "rec" for f in frames) for frames in deep) >= 1000


# ---- output --------------------------------------------------------------------


@pytest.fixture
def small_tmpfs(tmp_path):
    """A mount point; the test mounts what it needs. Always unmounted afterwards."""
    d = tmp_path / "mnt"
    d.mkdir()
    yield d
    subprocess.run(["umount", "-l", str(d)], stderr=subprocess.DEVNULL)


def test_read_only_output_directory(small_tmpfs, tmp_path):
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(small_tmpfs)], check=True)
    marker = tmp_path / "ran"
    p = run_bpfspy(["record", "-o", small_tmpfs / "x.json", "--", "touch", marker])
    assert p.returncode == 1
    line = error_line(p)
    assert str(small_tmpfs) in line and "read-only file system" in line.lower(), line
    assert not marker.exists(), "checked too late: the command ran before the output was refused"


def test_disk_full(small_tmpfs):
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(small_tmpfs)], check=True)
    filler = small_tmpfs / "filler"
    subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=4k"], stderr=subprocess.DEVNULL)
    filler.unlink()
    subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=4k", "count=15"], check=True,
                   stderr=subprocess.DEVNULL)  # leaves one 4k block: too small for the profile
    out = small_tmpfs / "x.json"
    rescue = small_tmpfs.parent / "rescue"
    rescue.mkdir()
    p = run_bpfspy(["record", "-r", "1000", "-o", out, "--", PYTHON, PROGS / "py" / "calltree.py"], timeout=120,
                   env=dict(os.environ, TMPDIR=str(rescue)))
    assert p.returncode == 1, p.stderr
    errors = [l for l in p.stderr.splitlines() if "No space left on device" in l]
    assert len(errors) == 1 and errors[0].startswith("bpfspy: ") and str(out) in errors[0], p.stderr
    assert sorted(os.listdir(small_tmpfs)) == ["filler"], "partial or temporary file left behind"
    # nothing sampled is lost: the same name in $TMPDIR, named on stderr, holds every sample
    saved = rescue / "x.json"
    assert f"the recording was saved to {saved}" in p.stderr, p.stderr
    taken = int(re.search(r"bpfspy: (\d+) samples from", p.stderr).group(1))
    assert taken > 0 and sample_count(saved) == taken, (taken, p.stderr)


# ---- speedscope_top_packages ---------------------------------------------------


@pytest.mark.parametrize("content,needle", [
    ("", "invalid JSON"),
    ('{"shared": {"frames": [', "invalid JSON"),
    ("\x00\xff garbage", "invalid JSON"),
    ('{"profiles": 5}', "no frames"),
    ('[1, 2, 3]', ""),
])
def test_top_packages_malformed_profile(tmp_path, content, needle):
    bad = tmp_path / "bad.json"
    bad.write_bytes(content.encode("utf-8", "surrogateescape"))
    p = subprocess.run([str(TOP_PACKAGES), str(bad), "-p", "a"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("speedscope_top_packages: "), p.stderr
    assert needle in lines[0]


@pytest.mark.parametrize("content,needle,total", [
    ('{"shared": {"frames": [{"name": "a"}]}, "profiles": [{"type": "sampled", '
     '"samples": [[0, 7], [0]], "weights": [1, 1]}]}', "not a frame index in 0..0", 2),
    ('{"shared": {"frames": [{"name": "a"}]}, "profiles": [{"type": "sampled", '
     '"samples": [[0]], "weights": []}]}', "fewer weights than samples", 1),
])
def test_top_packages_odd_samples_warn_and_keep_reference_tables(tmp_path, content, needle, total):
    """The reference script skips these silently; the tool keeps its tables and says what it skipped."""
    bad = tmp_path / "odd.json"
    bad.write_text(content)
    p = subprocess.run([str(TOP_PACKAGES), str(bad), "-p", "a"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("speedscope_top_packages: ") and needle in lines[0], p.stderr
    assert re.search(rf"\| total_samples \|\s+{total} \|", p.stdout), p.stdout


# ---- data safety -----------------------------------------------------------------


def test_output_goes_through_a_temp_file_in_the_same_directory(tmp_path):
    out = tmp_path / "x.json"
    trace = tmp_path / "strace.txt"
    p = subprocess.run(["strace", "-f", "-qq", "-e", "trace=openat,rename,renameat,renameat2,link,linkat",
                        "-o", str(trace), BPFSPY, "record", "-o", str(out), "--", "true"],
                       capture_output=True, text=True, timeout=60,
                       # LeakSanitizer (make test-asan) cannot run under ptrace; leaks are checked elsewhere
                       env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
    assert p.returncode == 0, p.stderr
    calls = [l for l in trace.read_text().splitlines() if str(tmp_path) in l]
    opened_final = [l for l in calls if "openat(" in l and f'"{out}"' in l and "O_CREAT" in l]
    assert not opened_final, opened_final
    renames = [l for l in calls if "rename" in l and f'"{out}"' in l and "= 0" in l]
    assert len(renames) == 1, calls
    assert f'"{tmp_path}/.' in renames[0], renames[0]  # from a hidden temp name in the same directory
    assert sorted(os.listdir(tmp_path)) == ["strace.txt", "x.json"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT])
def test_stop_signal_writes_what_was_sampled(tmp_path, spinner, sig):
    target = spinner()
    out = tmp_path / "x.json"
    before = bpf_programs()
    rec = subprocess.Popen([BPFSPY, "record", "-p", str(target.pid), "-o", str(out)],
                           stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: sampling_started(before), 60)
    time.sleep(2.0)
    rec.send_signal(sig)
    _, err = rec.communicate(timeout=30)
    # Ctrl-C is the normal way to end a -p recording; other signals say why in the status
    assert rec.returncode == (0 if sig == signal.SIGINT else 128 + sig), err
    taken = int(re.search(r"bpfspy: (\d+) samples from", err).group(1))
    assert taken >= 1, err  # 2 s at 100 Hz of one busy thread; few if the host is loaded
    assert sample_count(out) > 0
    assert target.poll() is None, "bpfspy must not kill a -p target"


def bpftool_json(*args):
    """bpftool's listing; it fails when an object goes away while it lists (another run tearing down): retry."""
    for _ in range(20):
        p = subprocess.run(["bpftool", "-j", *args], capture_output=True, text=True)
        if p.returncode == 0:
            return json.loads(p.stdout)
        time.sleep(0.05)
    raise AssertionError(f"bpftool {' '.join(args)} kept failing: {p.stderr}")


def bpf_programs():
    return {prog["id"]: prog.get("name", "") for prog in bpftool_json("prog", "show")}


def sampling_started(programs_before):
    """bpfspy's sampler program is loaded and attached (a perf_event link exists for it)."""
    ours = {i for i, n in bpf_programs().items() if i not in programs_before and n == "sample_stack"}
    return any(link.get("prog_id") in ours for link in bpftool_json("link", "show"))


def test_sigkill_leaves_no_partial_file_and_no_programs(tmp_path, spinner):
    target = spinner()
    out = tmp_path / "x.json"
    before = bpf_programs()
    rec = subprocess.Popen([BPFSPY, "record", "-p", str(target.pid), "-o", str(out)],
                           stderr=subprocess.DEVNULL)
    assert wait_for(lambda: any(n == "sample_stack" for i, n in bpf_programs().items() if i not in before))
    ours = {i for i, n in bpf_programs().items() if i not in before}
    time.sleep(0.5)
    rec.kill()
    rec.wait()
    assert not out.exists()
    leftovers = [n for n in os.listdir(tmp_path) if n != "x.json"]
    assert wait_for(lambda: not (ours & set(bpf_programs()))), "BPF programs outlived bpfspy"
    # a temp file may survive SIGKILL (nothing can remove it), but never under the final name
    assert all(n.startswith(".x.json.") for n in leftovers), leftovers


@pytest.fixture
def user_dir():
    """A directory nobody (uid 65534) can reach and write: files under sudo are created as that user."""
    d = Path(tempfile.mkdtemp(prefix="bpfspy-sudo-", dir="/tmp"))
    os.chmod(d, 0o777)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def run_as_sudo(args, tmp_path, **kw):
    env = dict(os.environ, SUDO_UID="65534", SUDO_GID="65534", SUDO_USER="nobody")
    os.chmod(tmp_path, 0o777)
    return subprocess.run([BPFSPY, *map(str, args)], capture_output=True, text=True, timeout=60, env=env,
                          preexec_fn=lambda: os.umask(0o022), **kw)


def test_sudo_output_owned_by_invoking_user(user_dir):
    out = user_dir / "x.json"
    p = run_as_sudo(["record", "-o", out, "--", "true"], user_dir)
    assert p.returncode == 0, p.stderr
    st = out.stat()
    assert (st.st_uid, st.st_gid) == (65534, 65534)
    assert stat.S_IMODE(st.st_mode) == 0o644


def test_planted_symlink_is_not_followed(user_dir):
    tmp_path = user_dir
    victim = tmp_path / "passwd-copy"
    shutil.copy("/etc/passwd", victim)
    original = victim.read_bytes()
    out = tmp_path / "x.json"
    out.symlink_to(victim)
    p = run_as_sudo(["record", "-o", out, "--", "true"], tmp_path)
    assert victim.read_bytes() == original
    assert victim.stat().st_uid == 0
    if p.returncode == 0:  # replaced the link itself by the profile
        assert not out.is_symlink()
        Profile.read(out)
    else:
        assert str(out) in error_line(p)
