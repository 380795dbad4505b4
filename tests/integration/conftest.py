import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import helpers  # noqa: E402

PROGS = Path(__file__).parent / "progs"


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: runs the real speedscope app (speedscope-check)")


@pytest.fixture(scope="session")
def c_progs(tmp_path_factory):
    d = tmp_path_factory.mktemp("progs")
    return {
        "split": helpers.build_c(PROGS / "split.c", d / "split"),
        "forkexec": helpers.build_c(PROGS / "forkexec.c", d / "forkexec"),
    }


@pytest.fixture(scope="session", autouse=True)
def need_root():
    if os.geteuid() != 0:
        pytest.exit("integration tests load BPF programs: run them as root", returncode=1)
    if not Path(helpers.BPFSPY).exists():
        pytest.exit(f"{helpers.BPFSPY} not built", returncode=1)
