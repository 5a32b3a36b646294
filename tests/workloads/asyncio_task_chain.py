"""Task chain_a awaits task chain_b, which awaits task chain_c, which spins (chain_spin) in 5 ms
slices with `await asyncio.sleep(0)` between them: chain_c's CPU samples read chain_a;chain_b;chain_c.

Usage: python3 asyncio_task_chain.py SECONDS
Prints "ready <pid>"; at the end "chain_c cpu 3.912" (its CPU seconds).
"""
import asyncio
import os
import sys
import time

cpu = 0.0


def chain_spin(seconds):
    end = time.thread_time() + seconds
    x = 0
    while time.thread_time() < end:
        x += 1
    return x


async def chain_c(deadline):
    global cpu
    while time.monotonic() < deadline:
        start = time.thread_time()
        chain_spin(0.005)
        cpu += time.thread_time() - start
        await asyncio.sleep(0)


async def chain_b(deadline):
    await asyncio.ensure_future(chain_c(deadline))


async def chain_a(deadline):
    await asyncio.ensure_future(chain_b(deadline))


async def main(seconds):
    task = asyncio.ensure_future(chain_a(time.monotonic() + seconds))
    await asyncio.sleep(0)
    print(f"ready {os.getpid()}", flush=True)
    await task
    print(f"chain_c cpu {cpu:.3f}", flush=True)


asyncio.run(main(float(sys.argv[1])))
