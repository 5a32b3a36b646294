"""Several threads with known names and known stacks, for every CPython from 3.8.

Usage: python3 named_threads.py
The main thread runs cost_split's loop (heavy() 3x light()); "sleeper-alpha" sleeps in nap(),
"waiter-beta" blocks in wait_for_event(); "spawner" starts a "short-N" thread every 0.3 s that
lives 0.6 s in short_task(). Prints "thread NAME TID" for the long-lived threads, then
"ready <pid>"; runs until killed.
"""
import os
import threading
import time

UNIT = 20000


def spin(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


def heavy():
    return spin(3 * UNIT)


def light():
    return spin(UNIT)


def nap():
    while True:
        time.sleep(0.05)


def wait_for_event(event):
    event.wait()


def short_task():
    time.sleep(0.6)


def spawn_short_threads():
    n = 0
    while True:
        n += 1
        threading.Thread(target=short_task, name="short-%d" % n, daemon=True).start()
        time.sleep(0.3)


def main():
    never = threading.Event()
    started = []
    for name, target, args in (("sleeper-alpha", nap, ()), ("waiter-beta", wait_for_event, (never,)),
                               ("spawner", spawn_short_threads, ())):
        t = threading.Thread(target=target, args=args, name=name, daemon=True)
        t.start()
        started.append(t)
    while any(t.native_id is None for t in started):
        time.sleep(0.01)
    print("thread MainThread %d" % threading.get_native_id())
    for t in started:
        print("thread %s %d" % (t.name, t.native_id))
    print("ready %d" % os.getpid(), flush=True)
    while True:
        heavy()
        light()


if __name__ == "__main__":
    main()
