"""The seed's speedscope_top_packages workflow on a real bpfspy recording of pytest startup."""
import re
import subprocess
from pathlib import Path

import pytest

from helpers import ROOT, TOP_PACKAGES, run_bpfspy

TOOL = TOP_PACKAGES
TREE = ROOT / "examples" / "pytest-startup"


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    out = tmp_path_factory.mktemp("tp") / "pytest.json"
    p = run_bpfspy(["record", "-r", "200", "-o", out, "--", "/usr/bin/python3", "-m", "pytest", "--collect-only",
                    "-q", "-p", "no:cacheprovider", TREE], timeout=300, check=True)
    samples = int(re.search(r"bpfspy: (\d+) samples", p.stderr).group(1))
    return out, samples


def tool(*args):
    return subprocess.run([str(TOOL), *map(str, args)], capture_output=True, text=True, timeout=120)


def test_counts_samples_not_entries(recording):
    out, samples = recording
    r = tool(out, "-p", "numpy")
    assert r.returncode == 0, r.stderr
    total = int(re.search(r"\| total_samples \|\s+(\d+) \|", r.stdout).group(1))
    assert total == samples


def test_seed_command_lines_give_seed_table_shapes(recording):
    out, _ = recording
    # 4) package summary
    r = tool(out, "-p", "numpy", "astropy", "_pytest", "pluggy")
    assert r.returncode == 0, r.stderr
    assert "| metric        |   value |" in r.stdout
    assert re.search(r"^\| package\s+\|\s+samples \| pct\s+\| top_files\s+\|$", r.stdout, re.M)
    assert re.search(r"^\| _pytest\s+\|\s+\d+ \| \d+\.\d% +\| .*<frozen importlib\._bootstrap> \(\d+\)", r.stdout, re.M)
    # 5) sample stacks filtered to <module> frames
    r = tool(out, "-p", "astropy", "--sample-stacks", "--max-examples", "2", "--name-filter", "<module>")
    assert r.returncode == 0, r.stderr
    assert "Sample stacks for package: astropy" in r.stdout
    assert re.search(r"^\| # \| pct total \| pct package \| stack\s+\|$", r.stdout, re.M)
    rows = re.findall(r"^\| ([12]) \| [\d.]+%\s+\| [\d.]+%\s+\| <module> \(", r.stdout, re.M)
    assert rows[:1] == ["1"]
    # 6) unique stacks by a substring
    r = tool(out, "-p", "astropy", "numpy", "--sample-stacks", "--max-examples", "5", "--name-filter", "<module>",
             "--filter-uniq", "astropy/__init__.py")
    assert r.returncode == 0, r.stderr
    assert "Sample stacks for package: numpy" in r.stdout
