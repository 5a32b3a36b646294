"""Twisted inlineCallbacks workload with known logical stacks (Debian python3.11 + python3-twisted).

    main (run by task.react) -> outer -> middle -> leaf, each an @inlineCallbacks function that
    yields the next; leaf first waits on deferLater, so everything below runs resumed by the
    reactor. CPU work at three points, in seconds of CPU per round:
      leaf_work   0.12  (in leaf, after its deferLater fired: resumed by the reactor)
      middle_work 0.06  (in middle, after leaf returned: resumed by leaf's completion)
      main_work   0.03  (in main, after a deferLater of its own)
    Logical stacks: <module> -> react -> main -> outer -> middle -> leaf -> leaf_work, and so on.

Usage: python3.11 twisted_chains.py SECONDS
"""
import sys
import time

from twisted.internet import defer, task


def spin(seconds):
    end = time.process_time() + seconds
    x = 0
    while time.process_time() < end:
        x += 1
    return x


def leaf_work():
    return spin(0.12)


def middle_work():
    return spin(0.06)


def main_work():
    return spin(0.03)


@defer.inlineCallbacks
def leaf(reactor):
    yield task.deferLater(reactor, 0.01, lambda: None)
    return leaf_work()


@defer.inlineCallbacks
def middle(reactor):
    value = yield leaf(reactor)
    middle_work()
    return value


@defer.inlineCallbacks
def outer(reactor):
    value = yield middle(reactor)
    return value


@defer.inlineCallbacks
def main(reactor):
    end = time.monotonic() + float(sys.argv[1])
    print("ready", flush=True)
    while time.monotonic() < end:
        yield outer(reactor)
        yield task.deferLater(reactor, 0.01, lambda: None)
        main_work()


task.react(main)
