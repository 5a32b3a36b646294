"""Known cost split: heavy() does 3x the work of light(), both called from work_loop().

Usage: python3 cost_split.py [--seconds S] [--exit-code N]
Prints "ready <pid>" once running; runs until killed, or for S seconds then exits with N.
"""
import argparse
import os
import sys
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


def work_loop(deadline):
    while deadline is None or time.monotonic() < deadline:
        heavy()
        light()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--exit-code", type=int, default=0)
    args = parser.parse_args()
    print(f"ready {os.getpid()}", flush=True)
    deadline = time.monotonic() + args.seconds if args.seconds else None
    work_loop(deadline)
    sys.exit(args.exit_code)


if __name__ == "__main__":
    main()
