"""Three tasks that stay parked and two CPU tasks, all named and alive for the whole run:

  "parked-event"  parked_on_event()   awaits an asyncio.Event never set
  "parked-sleep"  parked_in_sleep()   awaits asyncio.sleep(3600)
  "parked-future" parked_on_future()  awaits a bare Future never resolved
  "cpu-1", "cpu-2" cpu_task()         burn 10 ms (cpu_burn), `await asyncio.sleep(0)`, repeat
The main task awaits a gather of the five (it is never charged itself: the children carry the
time). In --clock wall each of the five weighs its lifetime: the CPU tasks share one core, so
each is on CPU about half the time and ready (waiting for the loop) the rest.

Usage: python3 asyncio_parked_tasks.py SECONDS
Prints "ready <pid>"; at the end "lifetime <name> <s>" per task and "cpu <name> <s>".
"""
import asyncio
import os
import sys
import time

cpu = {}


def cpu_burn(seconds):
    end = time.thread_time() + seconds
    x = 0
    while time.thread_time() < end:
        x += 1
    return x


async def parked_on_event(event):
    await event.wait()


async def parked_in_sleep():
    await asyncio.sleep(3600)


async def parked_on_future(future):
    await future


async def cpu_task(name, deadline):
    while time.monotonic() < deadline:
        start = time.thread_time()
        cpu_burn(0.010)
        cpu[name] = cpu.get(name, 0.0) + time.thread_time() - start
        await asyncio.sleep(0)


def create_named(coro, name):
    task = asyncio.ensure_future(coro)
    task.set_name(name)
    return task


async def main(seconds):
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + seconds
    born = time.monotonic()
    parked = [
        create_named(parked_on_event(asyncio.Event()), "parked-event"),
        create_named(parked_in_sleep(), "parked-sleep"),
        create_named(parked_on_future(loop.create_future()), "parked-future"),
    ]
    workers = [create_named(cpu_task(n, deadline), n) for n in ("cpu-1", "cpu-2")]
    await asyncio.sleep(0)
    print(f"ready {os.getpid()}", flush=True)
    await asyncio.gather(*workers)
    end = time.monotonic()
    for t in parked + workers:
        print(f"lifetime {t.get_name()} {end - born:.3f}", flush=True)
    for name in sorted(cpu):
        print(f"cpu {name} {cpu[name]:.3f}", flush=True)
    for t in parked:
        t.cancel()
    await asyncio.gather(*parked, return_exceptions=True)


asyncio.run(main(float(sys.argv[1])))
