"""One asyncio task looping `await site_a(); await site_b(); await site_c()`, which sleep 0.1, 0.2
and 0.3 s at asyncio.sleep: in --clock wall the three sleep sites weigh 1:2:3.

Usage: python3 asyncio_sleep_sites.py SECONDS
Prints "ready <pid>" once the task runs; at the end "site_a 2.01 s" ... (the time measured in
each site, the ground truth) and "rounds N".
"""
import asyncio
import os
import sys
import time

spent = {"site_a": 0.0, "site_b": 0.0, "site_c": 0.0}


async def site_a():
    start = time.monotonic()
    await asyncio.sleep(0.1)
    spent["site_a"] += time.monotonic() - start


async def site_b():
    start = time.monotonic()
    await asyncio.sleep(0.2)
    spent["site_b"] += time.monotonic() - start


async def site_c():
    start = time.monotonic()
    await asyncio.sleep(0.3)
    spent["site_c"] += time.monotonic() - start


async def sleeper_loop(deadline):
    rounds = 0
    while time.monotonic() < deadline:
        await site_a()
        await site_b()
        await site_c()
        rounds += 1
    return rounds


async def main(seconds):
    task = asyncio.ensure_future(sleeper_loop(time.monotonic() + seconds))
    await asyncio.sleep(0)
    print(f"ready {os.getpid()}", flush=True)
    rounds = await task
    for name, s in spent.items():
        print(f"{name} {s:.3f} s", flush=True)
    print(f"rounds {rounds}", flush=True)


asyncio.run(main(float(sys.argv[1])))
