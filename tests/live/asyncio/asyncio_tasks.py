"""Known asyncio tasks for the task reader's live test: every task parks at a known await, then
the program prints 'ready' (with the addresses the test checks against) and waits forever.

  parent    awaits gather(child-1, child-2)
  child-N   child -> mid -> leaf_sleep -> asyncio.sleep
  waiter    waiter -> Event.wait
  awaiter   awaits the task `target` directly (target: target_fn -> asyncio.sleep)
  (no name) anon -> asyncio.sleep         (named Task-N by asyncio; 3.12+: never asked its name)
  pytask    an asyncio.tasks._PyTask: py_sleeper -> asyncio.sleep
  spinner   runs on a second loop in a second thread, never suspends (the running task there)
"""
import asyncio
import threading

spinning = threading.Event()
spinner_task = []


async def leaf_sleep():
    await asyncio.sleep(3600)


async def mid():
    await leaf_sleep()


async def child():
    await mid()


async def parent(children):
    await asyncio.gather(*children)


async def waiter(event):
    await event.wait()


async def target_fn():
    await asyncio.sleep(3600)


async def awaiter(task):
    await task


async def anon():
    await asyncio.sleep(3600)


async def py_sleeper():
    await asyncio.sleep(3600)


async def spinner():
    spinner_task.append(asyncio.current_task())
    spinning.set()
    n = 0
    while True:
        n += 1


def spin_thread():
    loop = asyncio.new_event_loop()
    loop.run_until_complete(loop.create_task(spinner(), name="spinner"))


async def main():
    children = [asyncio.create_task(child(), name=f"child-{i}") for i in (1, 2)]
    tasks = {c.get_name(): c for c in children}
    tasks["parent"] = asyncio.create_task(parent(children), name="parent")
    event = asyncio.Event()
    tasks["waiter"] = asyncio.create_task(waiter(event), name="waiter")
    target = asyncio.create_task(target_fn(), name="target")
    tasks["target"] = target
    tasks["awaiter"] = asyncio.create_task(awaiter(target), name="awaiter")
    anonymous = asyncio.ensure_future(anon())
    # A pure-Python task: its fields are instance attributes.
    tasks["pytask"] = asyncio.tasks._PyTask(py_sleeper(), name="pytask")
    # Let every task run to its await (each needs at most a few loop iterations).
    for _ in range(10):
        await asyncio.sleep(0)
    threading.Thread(target=spin_thread, daemon=True).start()
    spinning.wait()
    lines = [f"{name} {id(t):x}" for name, t in tasks.items()]
    lines.append(f"anon {id(anonymous):x}")
    lines.append(f"main {id(asyncio.current_task()):x}")
    lines.append(f"spinner {id(spinner_task[0]):x}")
    print("\n".join(lines) + "\nready", flush=True)
    await asyncio.sleep(3600)


asyncio.run(main())
