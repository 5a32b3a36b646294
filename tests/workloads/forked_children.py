"""Forked children with known CPU time: each child burns a set amount of CPU (not wall) time and
reports how much it used, so a profiler's samples per child can be checked on a loaded host.

Usage: python3 forked_children.py [--wait-for-signal] [--children N]
Prints "ready <pid>"; with --wait-for-signal, forks only once SIGUSR1 arrives (attach first).
Each child prints "child <pid> cpu <seconds>" (all the CPU it used) when done; the parent waits for
all and exits.
Children alternate between 0.3 s (shorter than any periodic rescan) and 1.5 s of CPU.
"""
import argparse
import os
import signal
import sys
import time


def spin(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


def burn(cpu_seconds):
    start = time.process_time()
    while time.process_time() - start < cpu_seconds:
        spin(2000)
    return time.process_time() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--wait-for-signal", action="store_true")
    parser.add_argument("--children", type=int, default=4)
    args = parser.parse_args()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    print(f"ready {os.getpid()}", flush=True)
    if args.wait_for_signal:
        signal.sigwait({signal.SIGUSR1})
    kids = []
    for k in range(args.children):
        pid = os.fork()
        if pid == 0:
            burn(0.3 if k % 2 == 0 else 1.5)
            # The child's whole CPU time (its counters start at the fork), what its samples are due.
            print(f"child {os.getpid()} cpu {time.process_time():.4f}", flush=True)
            os._exit(0)
        kids.append(pid)
    for pid in kids:
        os.waitpid(pid, 0)
    sys.exit(0)


if __name__ == "__main__":
    main()
