"""The asyncio program the --async tests profile: a TaskGroup of named tasks nested three levels
(A, A.1, A.1.x, ...) under the main task. MODE "sleep": every leaf parks in asyncio.sleep; MODE
"cpu": every leaf alternates CPU work in a function of its own (burn_A_1_x) with short sleeps for
3 seconds, then the program exits."""

ROOTS = ["A", "B"]
MIDS = ["1", "2"]
LEAVES = ["x", "y"]

PROGRAM = '''\
import asyncio, sys, time

MODE_ = "MODE"
ROOTS = %r
MIDS = %r
LEAVES = %r
started = 0
total = len(ROOTS) * len(MIDS) * len(LEAVES)

def make_burner(task_name):
    # one function per leaf task, so a sample's leaf frame says which task ran it
    fname = "burn_" + task_name.replace(".", "_")
    ns = {}
    exec(f"def {fname}(n):\\n    s = 0\\n    for i in range(n):\\n        s += i * i\\n    return s\\n", ns)
    return ns[fname]

async def leaf(name):
    global started
    started += 1
    if started == total:
        print("ready", flush=True)
    if MODE_ == "sleep":
        await asyncio.sleep(1000)
    burn = make_burner(name)
    end = time.monotonic() + 3
    while time.monotonic() < end:
        burn(200000)
        await asyncio.sleep(0.001)

async def mid(name):
    async with asyncio.TaskGroup() as tg:
        for l in LEAVES:
            tg.create_task(leaf(f"{name}.{l}"), name=f"{name}.{l}")

async def root(name):
    async with asyncio.TaskGroup() as tg:
        for m in MIDS:
            tg.create_task(mid(f"{name}.{m}"), name=f"{name}.{m}")

async def main():
    async with asyncio.TaskGroup() as tg:
        for r in ROOTS:
            tg.create_task(root(r), name=r)

asyncio.run(main())
''' % (ROOTS, MIDS, LEAVES)


def task_names():
    out = []
    for r in ROOTS:
        out.append(r)
        for m in MIDS:
            out.append(f"{r}.{m}")
            out += [f"{r}.{m}.{l}" for l in LEAVES]
    return out


def leaf_names():
    return [n for n in task_names() if n.count(".") == 2]
