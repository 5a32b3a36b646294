"""A Python program that burns CPU a while, then replaces itself (os.execv) with another program.

Usage: python3 exec_into.py SECONDS PROGRAM [ARGS...]   burn SECONDS of CPU in before_exec(), exec
       python3 exec_into.py after SECONDS               burn SECONDS of CPU in after_exec(), exit
Prints "ready <pid>" first. CPU time, not wall time: the samples due do not depend on the load.
"""
import os
import sys
import time


def burn(seconds):
    start = time.process_time()
    total = 0
    while time.process_time() - start < seconds:
        for i in range(2000):
            total += i
    return total


def before_exec(seconds):
    return burn(seconds)


def after_exec(seconds):
    return burn(seconds)


print(f"ready {os.getpid()}", flush=True)
if sys.argv[1] == "after":
    after_exec(float(sys.argv[2]))
else:
    before_exec(float(sys.argv[1]))
    os.execv(sys.argv[2], sys.argv[2:])
