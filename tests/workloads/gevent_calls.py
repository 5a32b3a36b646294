"""Greenlets that switch in the middle of their calls, for --mode trace: ALPHA greenlets run
alpha_step -> alpha_leaf, BETA greenlets beta_step -> beta_leaf, and every step yields to the hub
(gevent.sleep(0)) between two leaf calls, so calls of both kinds are open at every switch.
Prints "ready", waits for SIGUSR1, runs, prints "edge CALLER CALLEE N" lines, exits.

With --profile-hook LIB (tests/targets/usdt_profile_hook.c), every call also fires
function__entry / function__return from that library, as a CPython --with-dtrace <= 3.10 would.

Usage: python3.11 gevent_calls.py [STEPS] [--profile-hook LIB]   (default 100 steps per greenlet)
"""
import ctypes
import signal
import sys

import gevent

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 100
if "--profile-hook" in sys.argv:
    ctypes.PyDLL(sys.argv[sys.argv.index("--profile-hook") + 1]).pyat_install_profile_hook()
ALPHA, BETA = 3, 2


def alpha_leaf(x):
    return x * 3


def beta_leaf(x):
    return x * 5


def alpha_step(i):
    a = alpha_leaf(i)
    gevent.sleep(0)
    return a + alpha_leaf(i + 1)


def beta_step(i):
    b = beta_leaf(i)
    gevent.sleep(0)
    return b + beta_leaf(i + 1)


def alpha_worker():
    return sum(alpha_step(i) for i in range(STEPS))


def beta_worker():
    return sum(beta_step(i) for i in range(STEPS))


signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
print("ready", flush=True)
signal.sigwait({signal.SIGUSR1})
gevent.joinall([gevent.spawn(alpha_worker) for _ in range(ALPHA)] + [gevent.spawn(beta_worker) for _ in range(BETA)])
print(f"edge alpha_step alpha_leaf {2 * STEPS * ALPHA}")
print(f"edge beta_step beta_leaf {2 * STEPS * BETA}")
print(f"edge alpha_step beta_leaf 0")
print(f"edge beta_step alpha_leaf 0")
sys.stdout.flush()
