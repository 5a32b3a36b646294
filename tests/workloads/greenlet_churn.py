"""Many short-lived greenlets: each is created, switched into, parks once, is resumed and ends.

Usage: python3.11 greenlet_churn.py
Prints "ready <pid>", then "created N" every 10,000 greenlets; runs until killed.
"""
import os

import greenlet

MAIN = greenlet.getcurrent()


def short_life(n):
    MAIN.switch()  # park once
    return n * 2


def main():
    print("ready %d" % os.getpid(), flush=True)
    n = 0
    while True:
        g = greenlet.greenlet(short_life)
        g.switch(n)  # runs until it parks
        g.switch()   # resumes it; it ends
        n += 1
        if n % 10000 == 0:
            print("created %d" % n, flush=True)


if __name__ == "__main__":
    main()
