"""Imports Twisted's defer module late, on cue: for the holds made as a program imports it.

Prints "ready", waits for SIGUSR1 (with `now`: does not wait), imports twisted.internet.defer,
prints "imported", runs a short Deferred chain and about 0.2 s of Python work, prints "done" and
exits 0.

Usage: python3.11 twisted_late_import.py [now]
"""
import signal
import sys
import time

if sys.argv[1:] != ["now"]:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    print("ready", flush=True)
    signal.sigwait({signal.SIGUSR1})

from twisted.internet import defer  # noqa: E402

print("imported", flush=True)


def double(x):
    return x * 2


d = defer.Deferred()
d.addCallback(double)
d.callback(21)

end = time.monotonic() + 0.2
n = 0
while time.monotonic() < end:
    n += 1
print("done", flush=True)
