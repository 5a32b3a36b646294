"""twisted-theseus' example shape: an @inlineCallbacks func run by task.react, waiting on deferLater.

    @inlineCallbacks
    def func(reactor):
        yield task.deferLater(reactor, WAIT, ...)

Each round waits WAIT = 0.5 s and computes briefly; in --clock wall the wait belongs to
<module> -> react -> func, at the yield line (marked below).

Usage: python3.11 twisted_theseus.py SECONDS
"""
import sys
import time

from twisted.internet import defer, task

WAIT = 0.5


def compute():
    total = 0
    for i in range(20000):
        total += i * i
    return total


@defer.inlineCallbacks
def func(reactor):
    end = time.monotonic() + float(sys.argv[1])
    print("ready", flush=True)
    while time.monotonic() < end:
        yield task.deferLater(reactor, WAIT, compute)  # THE WAIT
        compute()


task.react(func)
