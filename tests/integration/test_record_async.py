"""`bpfspy record --async-aware`: CPU time of asyncio tasks attributed to the task that ran it,
under the tasks awaiting it, on CPython 3.14 and 3.15 (issue 22)."""
import pytest

from asyncio_tree import PROGRAM, leaf_names
from helpers import blocked_python, interpreter, read_collapsed, run_bpfspy

ASYNC_LABELS = ["3.14", "3.15"]


def record(path, tmp_path, *flags):
    script = tmp_path / "tree.py"
    script.write_text(PROGRAM.replace("MODE", "cpu"))
    out = tmp_path / "out.txt"
    run_bpfspy(["record", *flags, "-d", "30", "-f", "collapsed", "-o", out, "--", path, script], check=True)
    return read_collapsed(out)


def expected_tasks(leaf):
    """The task markers root first: the main task, then A, A.1, A.1.x for leaf A.1.x."""
    parts = leaf.split(".")
    return ["Task-1"] + [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


@pytest.mark.parametrize("label", ASYNC_LABELS)
def test_cpu_work_is_attributed_to_its_task(label, tmp_path):
    stacks = record(interpreter(label), tmp_path, "--async-aware")
    burners = {"burn_" + n.replace(".", "_"): n for n in leaf_names()}
    total = right = 0
    seen = set()
    for stack, count in stacks.items():
        frames = stack.split(";")
        names = [f.split(" (")[0] for f in frames]
        burn = [n for n in names if n in burners]
        if not burn:
            continue
        total += count
        leaf = burners[burn[0]]
        tasks = [f[len("[task "):-1] for f in frames if f.startswith("[task ")]
        # the leaf task's own coroutine sits right under its marker, the event loop nowhere
        marker = frames.index(f"[task {leaf}]") if f"[task {leaf}]" in frames else -1
        if (tasks == expected_tasks(leaf) and marker >= 0 and names[marker + 1] == "leaf"
                and "BaseEventLoop._run_once" not in names):
            right += count
            seen.add(leaf)
    assert total > 50, f"too few samples in the CPU work: {total}"
    assert right / total >= 0.90, f"{right}/{total} CPU samples under the right task chain"
    assert seen == set(leaf_names()), seen


@pytest.mark.parametrize("label", ["3.14"])
def test_without_the_flag_stacks_are_the_event_loop(label, tmp_path):
    stacks = record(interpreter(label), tmp_path)
    burning = [s for s in stacks if "burn_" in s]
    assert burning and all("[task " not in s for s in stacks)
    assert all("_run_once" in s for s in burning)


@pytest.mark.parametrize("label", ASYNC_LABELS)
def test_idle_loop_time_goes_to_where_each_task_awaits(label, tmp_path):
    path = interpreter(label)
    script = tmp_path / "tree.py"
    out = tmp_path / "out.txt"
    with blocked_python((label, path, True), script, PROGRAM.replace("MODE", "sleep")) as proc:
        run_bpfspy(["record", "--async-aware", "--idle", "-p", proc.pid, "-d", "2", "-f", "collapsed", "-o", out],
                   check=True)
    stacks = read_collapsed(out)
    total = sum(stacks.values())
    per_leaf = {}
    for stack, ns in stacks.items():
        frames = stack.split(";")
        tasks = [f[len("[task "):-1] for f in frames if f.startswith("[task ")]
        names = [f.split(" (")[0] for f in frames]
        # the thread sleeps in epoll the whole time: its time belongs to the tasks, each where it awaits
        assert names[-3:] == ["leaf", "sleep", "[await]"], stack
        assert tasks == expected_tasks(tasks[-1]), stack
        per_leaf[tasks[-1]] = per_leaf.get(tasks[-1], 0) + ns
    assert set(per_leaf) == set(leaf_names())
    # shared equally: the thread's total stays its wall time
    for leaf, ns in per_leaf.items():
        assert abs(ns - total / len(per_leaf)) <= total * 0.01, (leaf, ns, total)
