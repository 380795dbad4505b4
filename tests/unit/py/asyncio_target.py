# A task tree for test_py_asyncio.c: main task -> "parent" -> "child-1", "child-2",
# the children parked in asyncio.sleep. Prints "ready" and each task as name=id
# (a Task's id() is its address), then blocks.
import asyncio
import sys

started = []


async def child():
    started.append(asyncio.current_task())
    if len(started) == 2:
        tasks = list(asyncio.all_tasks())
        print("ready " + " ".join(f"{t.get_name()}={id(t):x}" for t in tasks), flush=True)
    await asyncio.sleep(1000)


async def parent():
    async with asyncio.TaskGroup() as tg:
        tg.create_task(child(), name="child-1")
        tg.create_task(child(), name="child-2")


async def main():
    await asyncio.create_task(parent(), name="parent")


asyncio.run(main())
