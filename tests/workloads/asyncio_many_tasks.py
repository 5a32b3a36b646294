"""10,000 suspended tasks ("idle-0" ... "idle-9999", idle_task()) parked at one asyncio.Event for
the whole run, plus one "heartbeat" task (heartbeat_loop) waking every 100 ms: in --clock wall
each idle task weighs its lifetime.

Usage: python3 asyncio_many_tasks.py SECONDS [COUNT]
Prints "ready <pid>" once every task is parked; at the end "lifetime <min> <max>" (seconds, the
ground truth: every task was created before "ready" and released at the end).
"""
import asyncio
import os
import sys
import time


async def idle_task(event):
    await event.wait()


async def heartbeat_loop(deadline):
    while time.monotonic() < deadline:
        await asyncio.sleep(0.1)


async def main(seconds, count):
    event = asyncio.Event()
    born = {}
    tasks = []
    for i in range(count):
        task = asyncio.ensure_future(idle_task(event))
        task.set_name(f"idle-{i}")
        born[task] = time.monotonic()
        tasks.append(task)
    await asyncio.sleep(0)  # every task has run to its await
    heart = asyncio.ensure_future(heartbeat_loop(time.monotonic() + seconds))
    heart.set_name("heartbeat")
    print(f"ready {os.getpid()}", flush=True)
    await heart
    end = time.monotonic()
    event.set()
    await asyncio.gather(*tasks)
    lifetimes = [end - born[t] for t in tasks]
    print(f"lifetime {min(lifetimes):.3f} {max(lifetimes):.3f}", flush=True)


asyncio.run(main(float(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 10_000))
