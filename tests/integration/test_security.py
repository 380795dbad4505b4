"""Under sudo, bpfspy grants nothing the invoking user did not have (issue: security and data safety).

Each test runs bpfspy through the real sudo as a real unprivileged user whose
sudoers entry allows only bpfspy and the top-packages tool. The user and the
sudoers entry are created for the session and removed afterwards.
"""
import os
import pwd
import secrets
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from helpers import BPFSPY, ROOT, TOP_PACKAGES, Profile



@pytest.fixture(scope="module")
def user():
    if not shutil.which("sudo") or not shutil.which("useradd"):
        pytest.skip("needs sudo and useradd (make deps installs sudo)")
    name = "bpfspyt" + secrets.token_hex(3)
    subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], check=True)
    sudoers = Path(f"/etc/sudoers.d/{name}")
    sudoers.write_text(f"{name} ALL=(root) NOPASSWD: {BPFSPY}, {TOP_PACKAGES}\n")
    sudoers.chmod(0o440)
    home = Path(pwd.getpwnam(name).pw_dir)
    # the user must reach the binaries, as any user of an installed bpfspy can
    try:
        yield name, home
    finally:
        sudoers.unlink()
        subprocess.run(["userdel", "-r", "-f", name], stderr=subprocess.DEVNULL)


def as_user(user, args, cwd=None, timeout=60, **kw):
    """`sudo bpfspy ARGS` typed by the user (sudo -u runs it as them; their sudo runs bpfspy as root)."""
    name, home = user
    cmd = ["sudo", "-u", name, "--", "sudo", "-n", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd or home, **kw)


def one_error_line(p):
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("bpfspy: "), p.stderr
    return lines[0]


@pytest.fixture
def root_file(tmp_path):
    path = Path("/etc") / ("bpfspy-test-" + secrets.token_hex(4))
    path.write_text("root's own\n")
    yield path
    path.unlink(missing_ok=True)


def test_sudo_record_onto_root_owned_file_fails_and_leaves_it(user, root_file):
    p = as_user(user, [BPFSPY, "record", "-o", root_file, "--", "/usr/bin/true"])
    assert p.returncode == 1, p.stderr
    assert "no permission" in one_error_line(p)
    assert root_file.read_text() == "root's own\n"
    st = root_file.stat()
    assert st.st_uid == 0 and [n for n in os.listdir("/etc") if n.startswith("." + root_file.name)] == []


def test_sudo_record_into_private_root_directory_fails(user):
    target = Path("/root") / ("bpfspy-test-" + secrets.token_hex(4) + ".json")
    p = as_user(user, [BPFSPY, "record", "-o", target, "--", "/usr/bin/true"])
    assert p.returncode == 1, p.stderr
    assert str(target) in one_error_line(p)
    assert not target.exists()


def test_sudo_record_default_name_in_root_owned_cwd_fails(user, tmp_path):
    cwd = tmp_path / "rootdir"
    cwd.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(cwd, 0o755)  # the user may enter it, not write it
    p = as_user(user, [BPFSPY, "record", "--", "/usr/bin/true"], cwd=cwd)
    assert p.returncode == 1, p.stderr
    assert "no permission" in one_error_line(p)
    assert os.listdir(cwd) == []


def test_sudo_record_in_home_belongs_to_the_user(user):
    name, home = user
    out = home / "mine.json"
    p = as_user(user, [BPFSPY, "record", "-o", out, "--", "/usr/bin/true"])
    assert p.returncode == 0, p.stderr
    st = out.stat()
    assert st.st_uid == pwd.getpwnam(name).pw_uid
    Profile.read(out)


def test_sudo_convert_cannot_write_as_root(user, tmp_path):
    name, home = user
    src = home / "in.json"
    p = as_user(user, [BPFSPY, "record", "-o", src, "--", "/usr/bin/true"])
    assert p.returncode == 0, p.stderr
    target = Path("/etc/cron.d") / ("bpfspy-test-" + secrets.token_hex(4))
    p = as_user(user, [BPFSPY, "convert", src, "-f", "collapsed", "-o", target])
    assert p.returncode == 1, p.stderr
    assert not target.exists()
    assert "no permission" in one_error_line(p)


def test_sudo_top_packages_reads_only_what_the_user_can(user, tmp_path):
    secret = Path("/root") / ("bpfspy-test-" + secrets.token_hex(4) + ".json")
    secret.write_text('{"shared": {"frames": []}, "profiles": []}')
    try:
        p = as_user(user, [TOP_PACKAGES, secret, "-p", "x"])
        assert p.returncode != 0, p.stdout
        assert "Permission denied" in p.stderr, p.stderr
    finally:
        secret.unlink()


def test_sudo_record_does_not_write_through_another_users_symlink_in_dev_shm(user, tmp_path):
    victim_dir = tmp_path / "other"
    victim_dir.mkdir()
    os.chmod(tmp_path, 0o755)
    victim = victim_dir / "fifo-or-file"
    victim.write_text("theirs\n")
    os.chown(victim_dir, 65534, 65534)
    os.chown(victim, 65534, 65534)
    os.chmod(victim, 0o666)
    link = Path("/dev/shm") / ("bpfspy-test-" + secrets.token_hex(4))
    link.symlink_to(victim)
    os.lchown(link, 65534, 65534)
    try:
        p = as_user(user, [BPFSPY, "record", "-o", link, "--", "/usr/bin/true"])
        assert p.returncode == 1, p.stderr
        assert "symbolic link" in one_error_line(p)
        assert victim.read_text() == "theirs\n"
        assert link.is_symlink()
    finally:
        link.unlink()


def test_dev_stdout_redirected_to_a_file_is_written_in_place_and_never_replaced(tmp_path):
    """In a private mount namespace with its own /dev, so a regression cannot replace the host's /dev/stdout."""
    out = tmp_path / "collapsed.txt"
    script = f"""
set -e
mount --make-rprivate /
mount -t tmpfs -o size=1m tmpfs /dev
mknod -m 666 /dev/null c 1 3
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
{BPFSPY} record -f collapsed -o /dev/stdout -- /usr/bin/python3 -c 'sum(range(3000000))' > {out}
test -L /dev/stdout
ls -A /dev > {tmp_path}/dev-listing
"""
    p = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    lines = out.read_text().splitlines()
    assert lines and all(l.rsplit(" ", 1)[1].isdigit() for l in lines), lines[:3]
    assert sorted((tmp_path / "dev-listing").read_text().split()) == ["fd", "null", "stderr", "stdout"]


def test_fifo_without_reader_keeps_the_recording(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    rescue = tmp_path / "rescue"
    rescue.mkdir()
    p = subprocess.run([BPFSPY, "record", "-o", fifo, "--", "/usr/bin/true"], capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, TMPDIR=str(rescue)))
    assert p.returncode == 1, p.stderr
    assert "no process is reading" in p.stderr
    saved = rescue / "bpfspy-rescued.json"
    assert f"saved to {saved}" in p.stderr
    Profile.read(saved)


def test_fifo_as_btf_is_refused_not_hung(tmp_path):
    fifo = tmp_path / "btf"
    os.mkfifo(fifo)
    p = subprocess.run([BPFSPY, "record", "--btf", fifo, "-o", tmp_path / "x.json", "--", "/usr/bin/true"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert "not a regular file" in one_error_line(p)


def test_garbage_btf_is_explained(tmp_path):
    bad = tmp_path / "btf"
    bad.write_bytes(os.urandom(4096))
    p = subprocess.run([BPFSPY, "record", "--btf", bad, "-o", tmp_path / "x.json", "--", "/usr/bin/true"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert "is not a BTF file" in one_error_line(p)


def test_proc_as_output_is_explained(tmp_path):
    p = subprocess.run([BPFSPY, "record", "-o", "/proc/version", "--", "/usr/bin/true"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 1
    assert "kernel file system" in one_error_line(p)


def test_pid_beyond_the_kernel_limit_is_explained(tmp_path):
    p = subprocess.run([BPFSPY, "record", "-p", "9999999", "-o", tmp_path / "x.json"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode != 0
    assert "no process with PID 9999999" in one_error_line(p)


def test_thread_id_is_resolved_to_its_process(tmp_path):
    prog = "import threading, time\nt = threading.Thread(target=lambda: sum(range(10**9)), daemon=True)\n" \
           "t.start()\ntime.sleep(60)\n"
    target = subprocess.Popen(["/usr/bin/python3", "-c", prog])
    try:
        deadline = time.time() + 10
        tids = []
        while time.time() < deadline and not tids:
            tids = [int(t) for t in os.listdir(f"/proc/{target.pid}/task") if int(t) != target.pid]
            time.sleep(0.05)
        out = tmp_path / "x.json"
        p = subprocess.run([BPFSPY, "record", "-p", str(tids[0]), "-d", "1", "-o", out], capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        assert f"{tids[0]} is a thread of process {target.pid}" in p.stderr
        prof = Profile.read(out)
        assert prof.total() > 0, p.stderr
    finally:
        target.kill()
        target.wait()


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGQUIT])
def test_hangup_and_quit_keep_the_recording_and_end_the_command(tmp_path, sig):
    out = tmp_path / "x.json"
    marker = tmp_path / "pid"
    prog = f"import os, time\nopen({str(marker)!r}, 'w').write(str(os.getpid()))\nwhile True: pass\n"
    rec = subprocess.Popen([BPFSPY, "record", "-o", out, "--", "/usr/bin/python3", "-c", prog],
                           stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while time.time() < deadline and not (marker.exists() and marker.read_text()):
        time.sleep(0.05)
    time.sleep(1.0)
    child = int(marker.read_text())
    rec.send_signal(sig)
    _, err = rec.communicate(timeout=30)
    assert rec.returncode != 0, err
    assert Profile.read(out).total() > 0, err
    assert not Path(f"/proc/{child}").exists() or open(f"/proc/{child}/stat").read().split()[2] == "Z", \
        "the launched command outlived the recording"


def test_duration_ends_the_launched_command(tmp_path):
    out = tmp_path / "x.json"
    start = time.monotonic()
    p = subprocess.run([BPFSPY, "record", "-d", "2", "-o", out, "--", "/usr/bin/python3", "-c",
                        "import time; time.sleep(60)"], capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - start
    assert elapsed < 15, f"-d 2 took {elapsed:.1f}s: the command was not ended"
    # the command ends by SIGINT (KeyboardInterrupt): bpfspy exits with its status, as py-spy does
    assert p.returncode == 128 + signal.SIGINT, p.stderr
    Profile.read(out)
