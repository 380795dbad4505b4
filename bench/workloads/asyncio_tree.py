# asyncio under --async-aware (CPython 3.14+): 8 leaf tasks three TaskGroup
# levels deep, each doing fixed CPU work in chunks with a short sleep between,
# so every sample runs a task whose awaiting tasks bpfspy reads. Compare
# bpfspy with and without --async-aware: the difference is its cost.
import asyncio
import sys

SCALE = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
CHUNKS = int(40 * SCALE)


def burn(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


async def leaf():
    for _ in range(CHUNKS):
        burn(60_000)
        await asyncio.sleep(0.0005)


async def mid():
    async with asyncio.TaskGroup() as tg:
        for name in ("x", "y"):
            tg.create_task(leaf(), name=name)


async def root():
    async with asyncio.TaskGroup() as tg:
        for name in ("1", "2"):
            tg.create_task(mid(), name=name)


async def main():
    async with asyncio.TaskGroup() as tg:
        for name in ("A", "B"):
            tg.create_task(root(), name=name)


asyncio.run(main())
