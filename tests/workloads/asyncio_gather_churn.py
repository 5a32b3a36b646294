"""churn_parent() loops `await asyncio.gather(*[short_child() for _ in range(200)])`: 200 tasks
created per round, each living about 2 ms (short_spin burns 2 ms of CPU, no await), then done.

Usage: python3 asyncio_gather_churn.py SECONDS
Prints "ready <pid>"; at the end "rounds N children M", and the children's mean lifetime in ms
(creation to completion is the gather's; here: first step to return) as "child_ms 2.05".
"""
import asyncio
import os
import sys
import time

CHILDREN = 200
lifetimes = []


def short_spin(seconds):
    end = time.thread_time() + seconds
    x = 0
    while time.thread_time() < end:
        x += 1
    return x


async def short_child():
    start = time.monotonic()
    short_spin(0.002)
    lifetimes.append(time.monotonic() - start)


async def churn_parent(deadline):
    rounds = 0
    while time.monotonic() < deadline:
        await asyncio.gather(*[short_child() for _ in range(CHILDREN)])
        rounds += 1
    return rounds


async def main(seconds):
    task = asyncio.ensure_future(churn_parent(time.monotonic() + seconds))
    await asyncio.sleep(0)
    print(f"ready {os.getpid()}", flush=True)
    rounds = await task
    print(f"rounds {rounds} children {len(lifetimes)}", flush=True)
    print(f"child_ms {1000 * sum(lifetimes) / max(1, len(lifetimes)):.3f}", flush=True)


asyncio.run(main(float(sys.argv[1])))
