"""CPU-bound children under a gather parent and (3.11+) a TaskGroup parent, split 3:1.

gather_parent() loops `await asyncio.gather(gather_heavy_child(), gather_light_child())`;
taskgroup_parent() loops the same with tg_heavy_child() and tg_light_child() in a TaskGroup.
Each round the heavy child burns 6 slices of 5 ms of CPU and the light one 2 (3:1), with
`await asyncio.sleep(0)` after each slice, so the children interleave like real tasks.
Both parents run concurrently in one loop. Below 3.11 (no asyncio.TaskGroup) the TaskGroup part
is skipped and says so on stdout.

Usage: python3 asyncio_gather_split.py SECONDS
Prints "ready <pid>"; at the end each child's CPU seconds (thread time), the ground truth:
"cpu gather_heavy_child 1.503" ...
"""
import asyncio
import os
import sys
import time

SLICE = 0.005
HEAVY_SLICES = 6
LIGHT_SLICES = 2
cpu = {}


def burn_cpu(seconds):
    end = time.thread_time() + seconds
    x = 0
    while time.thread_time() < end:
        x += 1
    return x


async def work(name, slices):
    for _ in range(slices):
        start = time.thread_time()
        burn_cpu(SLICE)
        cpu[name] = cpu.get(name, 0.0) + time.thread_time() - start
        await asyncio.sleep(0)


async def gather_heavy_child():
    await work("gather_heavy_child", HEAVY_SLICES)


async def gather_light_child():
    await work("gather_light_child", LIGHT_SLICES)


async def tg_heavy_child():
    await work("tg_heavy_child", HEAVY_SLICES)


async def tg_light_child():
    await work("tg_light_child", LIGHT_SLICES)


async def gather_parent(deadline):
    while time.monotonic() < deadline:
        await asyncio.gather(gather_heavy_child(), gather_light_child())


async def taskgroup_parent(deadline):
    while time.monotonic() < deadline:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(tg_heavy_child())
            tg.create_task(tg_light_child())


async def main(seconds):
    deadline = time.monotonic() + seconds
    parents = [asyncio.ensure_future(gather_parent(deadline))]
    if hasattr(asyncio, "TaskGroup"):
        parents.append(asyncio.ensure_future(taskgroup_parent(deadline)))
    else:
        print(f"taskgroup skipped: Python {sys.version_info[0]}.{sys.version_info[1]} has no asyncio.TaskGroup",
              flush=True)
    await asyncio.sleep(0)
    print(f"ready {os.getpid()}", flush=True)
    await asyncio.gather(*parents)
    for name in sorted(cpu):
        print(f"cpu {name} {cpu[name]:.3f}", flush=True)


asyncio.run(main(float(sys.argv[1])))
