"""A small gevent.pywsgi service for the greenlet view and the benchmark.

Usage: python3.11 gevent_web_demo.py [PORT]   (default 8081)
  GET /        render_page(): a bit of CPU work per request, then a cooperative gevent.sleep(0)
  GET /slow    waits 50 ms in fetch_backend() (gevent.sleep), like a call to a slow backend
  GET /block   hogs the hub for 300 ms in crunch_numbers() without yielding
Prints "ready <pid>" once listening.
"""
import os
import sys
import time

from gevent import monkey

monkey.patch_all()

import gevent  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402


def checksum(rows):
    total = 0
    for row in rows:
        for ch in row:
            total = (total * 31 + ord(ch)) & 0xFFFFFFFF
    return total


def render_page():
    rows = ["row %d of the report" % i for i in range(60)]
    gevent.sleep(0)
    return "checksum %d\n" % checksum(rows)


def fetch_backend():
    gevent.sleep(0.05)
    return "backend answered\n"


def crunch_numbers():
    end = time.perf_counter() + 0.3
    n = 0
    while time.perf_counter() < end:
        n += 1
    return "crunched %d\n" % n


ROUTES = {"/": render_page, "/slow": fetch_backend, "/block": crunch_numbers}


def application(environ, start_response):
    handler = ROUTES.get(environ.get("PATH_INFO", "/"))
    if handler is None:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    body = handler().encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8081
    server = WSGIServer(("127.0.0.1", port), application, log=None)
    server.start()
    print("ready %d" % os.getpid(), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
