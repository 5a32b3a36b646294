"""@inlineCallbacks calls with known counts for --mode trace: main -> outer -> middle (N times) ->
leaf (twice each), every leaf waiting a reactor turn (deferLater 0), so each generator is resumed
by the reactor, not by its caller. Prints "ready", waits for SIGUSR1, prints its "edge CALLER
CALLEE N" lines, runs under task.react, exits.

Usage: python3.11 twisted_calls.py [N]   (default 50)
       python3.11 twisted_calls.py N --count-defer-calls
The second form does not wait: it runs the same scripted part under a profile hook and prints
"defer FUNCTION N" for every function of Twisted's defer.py it called, the counts a tracer of the
first form must find.
"""
import atexit
import collections
import signal
import sys

from twisted.internet import defer, task

N = int(sys.argv[1]) if len(sys.argv) > 1 else 50
COUNT = "--count-defer-calls" in sys.argv


@defer.inlineCallbacks
def leaf(reactor, i):
    yield task.deferLater(reactor, 0, lambda: None)
    return i


@defer.inlineCallbacks
def middle(reactor, i):
    a = yield leaf(reactor, i)
    b = yield leaf(reactor, i + 1)
    return a + b


@defer.inlineCallbacks
def outer(reactor, n):
    total = 0
    for i in range(n):
        total += yield middle(reactor, i)
    return total


def main(reactor):
    return outer(reactor, N)


if COUNT:
    calls = collections.Counter()

    def count(frame, event, arg):
        code = frame.f_code
        # Calls of plain functions only ("call" also reports a generator resuming).
        if event == "call" and code.co_filename == defer.__file__ and not code.co_flags & 0x20:
            calls[code.co_qualname] += 1

    def report():
        sys.setprofile(None)
        for name, n in sorted(calls.items()):
            print(f"defer {name} {n}", flush=True)

    atexit.register(report)
    sys.setprofile(count)
else:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    print("ready", flush=True)
    signal.sigwait({signal.SIGUSR1})
    print(f"edge main outer 1\nedge outer middle {N}\nedge middle leaf {2 * N}", flush=True)
task.react(main)
