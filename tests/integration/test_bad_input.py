"""Each bad input gives one clear line on stderr and a non-zero exit, never a crash."""
import os
import shutil
import subprocess

import pytest

from helpers import BPFSPY, run_bpfspy


def one_line(p):
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("bpfspy: "), lines[0]
    return lines[0]


def test_not_root(tmp_path):
    setpriv = shutil.which("setpriv")
    if not setpriv:
        pytest.fail("setpriv (util-linux) is needed for this test")
    os.chmod(tmp_path, 0o777)
    p = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                        BPFSPY, "record", "-o", str(tmp_path / "x.json"), "--", "true"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    line = one_line(p)
    assert "must run as root" in line and "sudo" in line


def test_root_without_bpf_capabilities(tmp_path):
    capsh = shutil.which("capsh")
    if not capsh:
        pytest.fail("capsh (libcap2-bin) is needed for this test")
    p = subprocess.run([capsh, "--drop=cap_bpf,cap_perfmon,cap_sys_admin", "--",
                        "-c", f"exec {BPFSPY} record -o {tmp_path / 'x.json'} -- true"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    line = one_line(p)
    assert "without CAP_BPF and CAP_PERFMON" in line


def test_missing_btf(tmp_path):
    p = run_bpfspy(["record", "--btf", "/nonexistent/vmlinux", "-o", tmp_path / "x.json", "--", "true"])
    assert p.returncode == 1
    assert "kernel BTF not found at /nonexistent/vmlinux" in one_line(p)


def test_unknown_pid(tmp_path):
    p = run_bpfspy(["record", "-p", "4194000", "-o", tmp_path / "x.json"])
    assert p.returncode == 1
    assert "no process with PID 4194000" in one_line(p)


def test_kernel_thread_pid(tmp_path):
    p = run_bpfspy(["record", "-p", "2", "-o", tmp_path / "x.json"])
    assert p.returncode == 1
    assert "PID 2 is a kernel thread" in one_line(p)


def test_unwritable_output_path():
    p = run_bpfspy(["record", "-o", "/nonexistent-dir/out.json", "--", "true"])
    assert p.returncode == 1
    line = one_line(p)
    assert "/nonexistent-dir" in line


def test_command_not_found(tmp_path):
    p = run_bpfspy(["record", "-o", tmp_path / "x.json", "--", "/no/such/program"])
    assert p.returncode == 127
    assert "cannot run /no/such/program: no such file" in one_line(p)


@pytest.mark.parametrize("args,needle", [
    (["-r", "0"], "invalid rate '0'"),
    (["-r", "abc"], "invalid rate 'abc'"),
    (["-r", "1000000"], "invalid rate '1000000'"),
    (["-d", "0"], "invalid duration '0'"),
    (["-d", "-3"], "invalid duration '-3'"),
    (["-f", "xml"], "unknown format 'xml'"),
    (["--max-depth", "0"], "invalid --max-depth '0'"),
    (["-p", "abc"], "invalid PID 'abc'"),
    (["--bogus"], "unknown or incomplete option '--bogus'"),
])
def test_bad_option_values(args, needle, tmp_path):
    p = run_bpfspy(["record", *args, "-o", tmp_path / "x.json", "--", "true"])
    assert p.returncode == 2
    assert needle in one_line(p)


def test_no_target():
    p = run_bpfspy(["record", "-o", "/tmp/x.json"])
    assert p.returncode == 2
    assert "nothing to profile" in one_line(p)


def test_help_teaches():
    p = run_bpfspy(["record", "--help"])
    assert p.returncode == 0
    for word in ["--pid", "--all", "--rate", "--duration", "--format", "speedscope", "collapsed", "Examples"]:
        assert word in p.stdout
