"""Objects built in a loop: from 3.13 on, CPython calls a class's __init__ through a shim frame of
its own (_Py_InitCleanup) once the call is specialised; profiles must show build -> Widget.__init__."""
import sys
import time


class Widget:
    def __init__(self, x):
        total = 0
        for i in range(200):
            total += i * x
        self.total = total


def build(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        Widget(3)


build(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0)
