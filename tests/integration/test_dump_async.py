"""`bpfspy dump --async`: asyncio tasks and their await tree, checked against CPython's own
`python -m asyncio pstree` on the same live process (issue 22)."""
import json
import subprocess

import pytest

from asyncio_tree import PROGRAM, task_names
from helpers import blocked_python, interpreter, run_bpfspy

ASYNC_LABELS = ["3.14", "3.15"]


@pytest.fixture(params=ASYNC_LABELS)
def sleeping_tree(request, tmp_path):
    """A TaskGroup tree three levels deep, every leaf suspended in asyncio.sleep."""
    path = interpreter(request.param)
    script = tmp_path / "tree.py"
    with blocked_python((request.param, path, True), script, PROGRAM.replace("MODE", "sleep")) as proc:
        yield path, proc


def our_tree(text):
    """The lines of the await tree section of dump --async's text output."""
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("Await tree")) + 1
    out = []
    for l in lines[start:]:
        if not l.strip():
            break
        out.append(l)
    return out


def test_tree_matches_asyncio_pstree(sleeping_tree):
    path, proc = sleeping_tree
    ours = run_bpfspy(["dump", "-p", proc.pid, "--async"], check=True).stdout
    theirs = subprocess.run([path, "-m", "asyncio", "pstree", str(proc.pid)], capture_output=True, text=True,
                            timeout=60, check=True).stdout
    # every leaf is parked in asyncio.sleep: both reads see the same, suspended process
    assert our_tree(ours) == theirs.splitlines(), f"bpfspy:\n{ours}\npstree:\n{theirs}"
    for name in task_names():
        assert f'(T) {name}' in theirs


def test_json_lists_every_task_with_its_awaiters(sleeping_tree):
    _, proc = sleeping_tree
    doc = json.loads(run_bpfspy(["dump", "-p", proc.pid, "--async", "--json"], check=True).stdout)
    tasks = {t["id"]: t for t in doc["asyncio_tasks"]}
    by_name = {t["name"]: t for t in tasks.values()}
    assert set(task_names()) <= set(by_name)
    for name in task_names():
        t = by_name[name]
        assert t["state"] == "suspended" and t["tid"] == proc.pid
        # each task is awaited by the task one level up, through its TaskGroup
        parent = name.rpartition(".")[0] or None
        if parent:
            assert [tasks[i]["name"] for i in t["awaited_by"]] == [parent]
        frames = [f["name"] for f in t["frames"]]
        if name.count(".") == 2:
            assert frames[-2:] == ["leaf", "sleep"], frames
        else:
            assert frames[-2:] == ["TaskGroup.__aexit__", "TaskGroup._aexit"], frames


def test_before_3_14_is_a_clear_error(tmp_path):
    path = interpreter("debian-3.11")
    script = tmp_path / "tree.py"
    with blocked_python(("debian-3.11", path, True), script, PROGRAM.replace("MODE", "sleep")) as proc:
        p = run_bpfspy(["dump", "-p", proc.pid, "--async"])
    assert p.returncode != 0
    err = p.stderr.strip().splitlines()
    assert len(err) == 1 and "3.14" in err[0], p.stderr


SHARED = '''\
import asyncio

async def shared():
    await asyncio.sleep(1000)

async def waiter(t):
    await t

async def main():
    s = asyncio.create_task(shared(), name="shared")
    ws = [asyncio.create_task(waiter(s), name=f"w{i}") for i in range(3)]
    asyncio.get_running_loop().call_later(0.2, lambda: print("ready", flush=True))
    await asyncio.gather(*ws)

asyncio.run(main())
'''


@pytest.mark.parametrize("label", ASYNC_LABELS)
def test_task_awaited_by_several_matches_pstree(label, tmp_path):
    """One task awaited by three: its awaited_by is a set, each awaiter draws it under itself."""
    path = interpreter(label)
    with blocked_python((label, path, True), tmp_path / "shared.py", SHARED) as proc:
        ours = run_bpfspy(["dump", "-p", proc.pid, "--async"], check=True).stdout
        theirs = subprocess.run([path, "-m", "asyncio", "pstree", str(proc.pid)], capture_output=True, text=True,
                                timeout=60, check=True).stdout
    assert our_tree(ours) == theirs.splitlines(), f"bpfspy:\n{ours}\npstree:\n{theirs}"
    assert theirs.count("(T) shared") == 3


PLAIN = '''\
import time
print("ready", flush=True)
time.sleep(1000)
'''


def test_no_asyncio_imported_is_no_tasks_not_an_error(tmp_path):
    # 3.14 ships _asyncio as a shared object: without an import there is no section to read
    path = interpreter("3.14")
    with blocked_python(("3.14", path, True), tmp_path / "plain.py", PLAIN) as proc:
        p = run_bpfspy(["dump", "-p", proc.pid, "--async"], check=True)
        doc = json.loads(run_bpfspy(["dump", "-p", proc.pid, "--async", "--json"], check=True).stdout)
    assert "asyncio tasks: none (asyncio is not imported" in p.stdout
    assert doc["asyncio_tasks"] == [] and "not imported" in doc["asyncio_note"]


def test_record_async_aware_before_3_14_warns_once(tmp_path):
    path = interpreter("debian-3.11")
    script = tmp_path / "tree.py"
    script.write_text(PROGRAM.replace("MODE", "cpu"))
    p = run_bpfspy(["record", "--async-aware", "-d", "30", "-f", "collapsed", "-o", tmp_path / "out.txt", "--",
                    path, script], check=True)
    warnings = [l for l in p.stderr.splitlines() if "--async-aware" in l]
    assert len(warnings) == 1 and "3.14" in warnings[0], p.stderr
