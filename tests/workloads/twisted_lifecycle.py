"""A scripted Deferred chain with known lifecycle events, for --deferred-log.

Prints "ready", waits for SIGUSR1 (sent once the tracer logs the lifecycle; with `now`, it does
not wait: launched under the tracer), then runs the chain below without a reactor, prints
"ids NAME=0x... ..." (the Deferreds' addresses, as the log names them) and exits. d3 is never
fired: it must show as pending.

Usage: python3.11 twisted_lifecycle.py [now]
"""
import signal
import sys
import time

from twisted.internet import defer


def double(x):
    return x * 2


def fail_on(x):
    raise ValueError(x)


def recover(failure):
    return -1


def returns_deferred(x):
    global d5
    d5 = defer.Deferred()
    return d5


def slow(x):
    end = time.monotonic() + 0.05
    while time.monotonic() < end:
        pass
    return x


if sys.argv[1:] != ["now"]:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    print("ready", flush=True)
    signal.sigwait({signal.SIGUSR1})

d1 = defer.Deferred()
d1.addCallback(double)
d2 = defer.Deferred()
d1.chainDeferred(d2)
d2.addCallback(fail_on)
d2.addErrback(recover)
d1.callback(21)

d3 = defer.Deferred()  # leaked: never fired

d4 = defer.Deferred()
d4.addCallback(returns_deferred)
d4.addCallback(slow)
d4.callback(1)
d5.callback(7)

d6 = defer.Deferred()
d6.addCallbacks(double, recover)
d6.errback(ValueError("boom"))

names = dict(d1=d1, d2=d2, d3=d3, d4=d4, d5=d5, d6=d6)
print("ids " + " ".join(f"{k}={hex(id(v))}" for k, v in names.items()), flush=True)
