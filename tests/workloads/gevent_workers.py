"""gevent greenlets with known work: "worker" greenlets compute in crunch() and yield in
gevent.sleep(1-3 ms, random: a fixed period would beat against the sampling timer); one "waiter"
greenlet only waits (gevent.sleep(0.5) in idle_wait()).

Usage: python3.11 gevent_workers.py
Prints "ready <pid>" once the greenlets run; runs until killed.
"""
import os
import random

import gevent


def crunch(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


def worker_loop():
    while True:
        crunch(20000)
        gevent.sleep(random.uniform(0.001, 0.003))


def idle_wait():
    gevent.sleep(0.5)


def waiter_loop():
    while True:
        idle_wait()


def main():
    workers = [gevent.spawn(worker_loop) for _ in range(4)]
    waiter = gevent.spawn(waiter_loop)
    gevent.sleep(0.05)
    print("ready %d" % os.getpid(), flush=True)
    gevent.joinall(workers + [waiter])


if __name__ == "__main__":
    main()
