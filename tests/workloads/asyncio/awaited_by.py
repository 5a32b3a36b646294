# Tasks awaiting tasks in every way asyncio offers, all parked, for the awaited-by live test:
# A awaits task B awaits task C; a gather parent with two parked children and one finished; a
# TaskGroup parent (3.11+) with two children; a shield; wait_for; wait(); a pure-Python task
# awaiting a C task. Once every leaf is parked it prints `ids NAME=id(object) ...` (CPython's id()
# is the object's address) and `ready`, then parks forever (the test kills it).
import asyncio
import sys

ids = {}
leaves = []  # one future per parked leaf: set once it reached its await
forever = None


async def leaf(name):
    ids[name] = id(asyncio.current_task())
    fut = leaves[len([k for k in ids if k.startswith("leaf:")])]
    ids["leaf:" + name] = 0
    fut.set_result(None)
    await forever.wait()


def spawn(coro, name):
    task = asyncio.get_running_loop().create_task(coro)
    ids[name] = id(task)
    return task


async def a():
    await spawn(b(), "B")


async def b():
    await spawn(leaf("C"), "C_task")


async def gather_parent():
    done = spawn(asyncio.sleep(0), "G3")
    await done  # finished: its callbacks are cleared; only the _GatheringFuture's _children keep it
    fut = asyncio.gather(spawn(leaf("G1"), "G1_task"), spawn(leaf("G2"), "G2_task"), done)
    ids["gather_future"] = id(fut)
    await fut


async def task_group_parent():
    async with asyncio.TaskGroup() as tg:
        ids["T1_task"] = id(tg.create_task(leaf("T1")))
        ids["T2_task"] = id(tg.create_task(leaf("T2")))


async def shield_parent():
    await asyncio.shield(spawn(leaf("SI"), "SI_task"))


async def wait_for_parent():
    await asyncio.wait_for(spawn(leaf("WI"), "WI_task"), timeout=3600)


async def wait_parent():
    await asyncio.wait([spawn(leaf("XI"), "XI_task")])


async def python_task_parent():
    await spawn(leaf("PC"), "PC_task")


async def main():
    global forever
    forever = asyncio.Event()
    loop = asyncio.get_running_loop()
    has_task_group = hasattr(asyncio, "TaskGroup")
    count = 7 + (2 if has_task_group else 0)
    leaves.extend(loop.create_future() for _ in range(count))
    ids["main"] = id(asyncio.current_task())
    spawn(a(), "A")
    spawn(gather_parent(), "P")
    if has_task_group:
        spawn(task_group_parent(), "T")
    spawn(shield_parent(), "SP")
    spawn(wait_for_parent(), "WP")
    spawn(wait_parent(), "XP")
    # A pure-Python task (asyncio.tasks._PyTask) awaiting a C task: its wakeup is a bound method.
    python_task = asyncio.tasks._PyTask(python_task_parent())
    ids["PP"] = id(python_task)
    await asyncio.gather(*leaves)
    print("ids " + " ".join(f"{k}={v}" for k, v in ids.items() if not k.startswith("leaf:")), flush=True)
    print("ready", flush=True)
    await forever.wait()


asyncio.run(main())
