"""Code-object churn: fresh functions compiled, called a few times and freed, in a loop.

Every generated function is named churn_<n> and compiled from a file named gen_<n> (its first line
is line 1), so a name in a profile is right only when its number matches its file's. A freed code
object's memory is reused at once by the next one (pymalloc hands back the block just freed), which
is the case a profiler must never name wrongly.

Usage: python3 code_churn.py [--seconds S] [--profile-hook LIB]
Prints "ready <pid>" once running; runs until killed, or for S seconds. With --profile-hook (the
tests' usdt_profile_hook library), every call also fires CPython's function__entry/return probes
with the code object's own text, as builds --with-dtrace do.
"""
import argparse
import ctypes
import os
import time


def churn_once(n):
    source = (
        f"def churn_{n}(k):\n"
        f"    total = 0\n"
        f"    for i in range(k):\n"
        f"        total += i * {n % 7 + 1}\n"
        f"    return total\n"
    )
    namespace = {}
    exec(compile(source, f"gen_{n}", "exec"), namespace)
    function = namespace[f"churn_{n}"]
    for _ in range(3):
        function(200)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--profile-hook")
    args = parser.parse_args()
    if args.profile_hook:
        ctypes.PyDLL(args.profile_hook).pyat_install_profile_hook()
    print(f"ready {os.getpid()}", flush=True)
    deadline = time.monotonic() + args.seconds if args.seconds else None
    n = 0
    while deadline is None or time.monotonic() < deadline:
        churn_once(n)
        n += 1


if __name__ == "__main__":
    main()
