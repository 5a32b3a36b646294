"""A task that blocks the event loop 150 ms once a second beside tasks taking 10 ms steps.

  "staller"   hog_loop(): every second, 150 ms of CPU without an await (hog_spin), then sleeps
  "ticker-1", "ticker-2"  tick_loop(): 10 ms of CPU (tick_spin), then `await asyncio.sleep(0.02)`
No other loop iteration comes near 100 ms: the only iterations over a 100 ms threshold are the
stalls, which may also run the tickers' steps that fell due with it (150-170 ms).

Usage: python3 asyncio_loop_blocking.py SECONDS
Prints "ready <pid>", then "blocked <ms>" for each stall as measured by hog_loop, and after each
loop iteration over 100 ms "iteration <ms>" (from the selector's return to its next call: the
time the loop did not poll; measured 150.2-164.0 ms), the ground truth for the blocking report.
"""
import asyncio
import os
import sys
import time


def hog_spin(seconds):
    end = time.monotonic() + seconds
    x = 0
    while time.monotonic() < end:
        x += 1
    return x


def tick_spin(seconds):
    end = time.monotonic() + seconds
    x = 0
    while time.monotonic() < end:
        x += 1
    return x


async def hog_loop(deadline):
    await asyncio.sleep(0.5)
    while time.monotonic() < deadline:
        start = time.monotonic()
        hog_spin(0.150)
        print(f"blocked {(time.monotonic() - start) * 1000:.1f}", flush=True)
        await asyncio.sleep(0.85)


async def tick_loop(deadline):
    while time.monotonic() < deadline:
        tick_spin(0.010)
        await asyncio.sleep(0.02)


def time_iterations(loop):
    """Wraps the loop's selector.select (an attribute of selector loops 3.8-3.13) to time iterations."""
    select = loop._selector.select
    returned = [None]

    def timed_select(timeout=None):
        now = time.monotonic()
        if returned[0] is not None and now - returned[0] > 0.1:
            print(f"iteration {(now - returned[0]) * 1000:.1f}", flush=True)
        events = select(timeout)
        returned[0] = time.monotonic()
        return events

    loop._selector.select = timed_select


async def main(seconds):
    time_iterations(asyncio.get_running_loop())
    deadline = time.monotonic() + seconds
    tasks = [asyncio.ensure_future(hog_loop(deadline)), asyncio.ensure_future(tick_loop(deadline)),
             asyncio.ensure_future(tick_loop(deadline))]
    for task, name in zip(tasks, ("staller", "ticker-1", "ticker-2")):
        task.set_name(name)
    await asyncio.sleep(0)
    print(f"ready {os.getpid()}", flush=True)
    await asyncio.gather(*tasks)


asyncio.run(main(float(sys.argv[1])))
