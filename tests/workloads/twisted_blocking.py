"""A Twisted reactor blocked by one slow callback now and then (Debian python3.11 + Twisted).

Every 0.7 s a callLater runs stall_reactor(), a 300 ms CPU loop (measured and printed:
"blocked MS"); meanwhile a LoopingCall ticks every 20 ms and an inlineCallbacks handler
waits on deferLater, so the reactor also has plenty of short iterations.

Usage: python3.11 twisted_blocking.py SECONDS
"""
import sys
import time

from twisted.internet import defer, reactor, task


def spin_for(seconds):
    end = time.monotonic() + seconds
    x = 0
    while time.monotonic() < end:
        x += 1
    return x


def stall_reactor():
    start = time.monotonic()
    spin_for(0.3)
    print(f"blocked {(time.monotonic() - start) * 1000:.1f}", flush=True)
    reactor.callLater(0.7, stall_reactor)


def tick():
    spin_for(0.001)


@defer.inlineCallbacks
def poll_forever():
    while True:
        yield task.deferLater(reactor, 0.05, lambda: None)
        spin_for(0.002)


def main():
    duration = float(sys.argv[1])
    task.LoopingCall(tick).start(0.02)
    poll_forever()
    reactor.callLater(0.7, stall_reactor)
    reactor.callLater(duration, reactor.stop)
    print("ready", flush=True)
    reactor.run()


main()
