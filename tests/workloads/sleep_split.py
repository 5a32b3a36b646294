"""Known on-CPU / off-CPU split for --clock wall.

Each round: compute() burns ~BUSY seconds of CPU, then nap() sleeps 3x as long.
With --clock wall nap() carries ~3x the weight of compute(); with --clock cpu nap() ~0.
Prints "ready <pid>" once running; runs until killed or for --seconds.
"""
import argparse
import os
import time

BUSY = 0.05


def compute():
    end = time.thread_time() + BUSY
    total = 0
    while time.thread_time() < end:
        for i in range(1000):
            total += i
    return total


def nap():
    time.sleep(3 * BUSY)


def rounds(deadline):
    while deadline is None or time.monotonic() < deadline:
        compute()
        nap()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float)
    args = parser.parse_args()
    print(f"ready {os.getpid()}", flush=True)
    rounds(time.monotonic() + args.seconds if args.seconds else None)


if __name__ == "__main__":
    main()
