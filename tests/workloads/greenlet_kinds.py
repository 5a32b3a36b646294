"""Bare greenlets of two kinds taking turns on one thread, with known lifetimes and a known block.

Usage: python3.11 greenlet_kinds.py [--block-ms N]
- "alpha" greenlets run alpha_work(): compute ~2 ms, then park in alpha_wait() (switch to main).
- "beta" greenlets run beta_work(): compute ~2 ms, then park in beta_wait().
- main drives them round-robin; every 0.5 s one beta is thrown GreenletExit (greenlet.throw)
  and replaced, and one short-lived "gamma" greenlet is created, run to completion and dropped.
- with --block-ms N, once after start-up a "blocker" greenlet spins N ms without switching
  (in blocker_spin()), once; it prints "blocked <ms>" with the time it measured.
Prints "ready <pid>" once running; runs until killed.
"""
import argparse
import os
import time

import greenlet

MAIN = greenlet.getcurrent()


def spin_for(seconds):
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


def alpha_wait():
    MAIN.switch()


def alpha_work():
    while True:
        spin_for(0.002)
        alpha_wait()


def beta_wait():
    MAIN.switch()


def beta_work():
    while True:
        spin_for(0.002)
        beta_wait()


def gamma_work():
    return spin_for(0.001)


def blocker_spin(ms):
    start = time.perf_counter()
    spin_for(ms / 1000.0)
    print("blocked %.1f" % ((time.perf_counter() - start) * 1000.0), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--block-ms", type=float)
    parser.add_argument("--block-after", type=float, default=1.5)
    args = parser.parse_args()
    alphas = [greenlet.greenlet(alpha_work) for _ in range(3)]
    betas = [greenlet.greenlet(beta_work) for _ in range(3)]
    print("ready %d" % os.getpid(), flush=True)
    started = time.monotonic()
    next_churn = started + 0.5
    blocked = args.block_ms is None
    while True:
        for g in alphas + betas:
            g.switch()
        now = time.monotonic()
        if now >= next_churn:
            next_churn = now + 0.5
            old = betas.pop(0)
            try:
                old.throw(greenlet.GreenletExit)
            except greenlet.GreenletExit:
                pass
            betas.append(greenlet.greenlet(beta_work))
            greenlet.greenlet(gamma_work).switch()
        if not blocked and now - started >= args.block_after:
            blocked = True
            greenlet.greenlet(blocker_spin).switch(args.block_ms)


if __name__ == "__main__":
    main()
