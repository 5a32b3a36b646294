"""Known call counts for --mode trace: plain calls, a method, __init__, a generator, a key function
called from C (sorted), recursion, and one gc.collect() (a [gc] call). Prints "ready", waits for SIGUSR1 (sent once the tracer is
attached; with `now`, launched under the tracer, it does not wait), runs, prints "count NAME N" and
"edge CALLER CALLEE N" lines of what it called, exits.

Usage: python3.11 call_counts.py [ROUNDS] [now]   (default 200 rounds)
"""
import gc
import signal
import sys

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 200


def leaf(x):
    return x + 1


def middle(n):
    total = 0
    for i in range(n):
        total += leaf(i)
    return total


def countdown(n):
    if n > 0:
        return countdown(n - 1)
    return 0


def numbers(n):
    for i in range(n):
        yield leaf(i)


class Point:
    def __init__(self):
        self.v = leaf(1)

    def norm(self):
        return middle(3)


def collect_garbage():
    return gc.collect()  # one collection: a [gc] call of this function


def top():
    for _ in range(ROUNDS):
        middle(10)
        Point().norm()
        sum(numbers(5))
        sorted([3, 1, 2], key=leaf)
        countdown(4)
    collect_garbage()


if sys.argv[2:] != ["now"]:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    print("ready", flush=True)
    signal.sigwait({signal.SIGUSR1})
top()
R = ROUNDS
for name, n in [("leaf", R * (10 + 1 + 3 + 5 + 3)), ("middle", 2 * R), ("Point.__init__", R),
                ("Point.norm", R), ("numbers", R), ("countdown", 5 * R), ("top", 1), ("collect_garbage", 1)]:
    print(f"count {name} {n}")
for caller, callee, n in [("middle", "leaf", 13 * R), ("Point.__init__", "leaf", R), ("numbers", "leaf", 5 * R),
                          ("top", "leaf", 3 * R), ("top", "middle", R), ("Point.norm", "middle", R),
                          ("top", "Point.__init__", R), ("top", "Point.norm", R), ("top", "numbers", R),
                          ("top", "countdown", R), ("countdown", "countdown", 4 * R), ("<module>", "top", 1),
                          ("top", "collect_garbage", 1), ("collect_garbage", "[gc]", 1)]:
    print(f"edge {caller} {callee} {n}")
sys.stdout.flush()
