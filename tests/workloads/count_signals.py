"""Counts the SIGINT, SIGTERM and SIGHUP it gets, to see which signals reach a launched command.

Prints "ready", runs Python code until the first of them, then 0.5 s more (a second copy would
come by then), prints "got SIGINT=N SIGTERM=N SIGHUP=N" (also into FILE with --report FILE: its
terminal may be gone) and exits 0. With --ignore: ignores them all and runs until killed.

Usage: python3.11 count_signals.py [--ignore] [--report FILE]
"""
import os
import signal
import sys
import time

counts = {"SIGINT": 0, "SIGTERM": 0, "SIGHUP": 0}


def count(signum, frame):
    counts[signal.Signals(signum).name] += 1


for name in counts:
    signal.signal(getattr(signal, name), signal.SIG_IGN if "--ignore" in sys.argv else count)
report = sys.argv[sys.argv.index("--report") + 1] if "--report" in sys.argv else None
print("ready", flush=True)  # the test reads the whole line before it hangs up


def spin():
    total = 0
    for i in range(10000):
        total += i
    return total


while not any(counts.values()):
    spin()
end = time.monotonic() + 0.5
while time.monotonic() < end:
    spin()
line = "got " + " ".join(f"{k}={v}" for k, v in counts.items())
if report:
    with open(report, "w") as f:
        f.write(line + "\n")
try:
    print(line, flush=True)
except OSError:  # the terminal hung up
    pass
os._exit(0)  # no flush at exit into a terminal that may be gone
