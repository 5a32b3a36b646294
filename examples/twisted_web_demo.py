"""A small Twisted web service with a known hot path, for the quickstart and the benchmark.

GET /report -> build_report() -> checksum_rows() (about 3x the CPU work) and format_rows().
GET /slow   -> an inlineCallbacks handler that waits 50 ms on deferLater, then formats rows.
GET /async  -> the /report page built through three inlineCallbacks functions: a handler awaiting
               fetch_rows (waits one reactor turn on deferLater, then checksum_rows) and
               render_rows (format_rows): seven generator steps a request, no sleep.

Usage: python3.11 twisted_web_demo.py [PORT]   (default 8080, env PORT also works)
"""
import os
import sys

from twisted.internet import defer, reactor, task
from twisted.web import resource, server

ROWS = 200


def checksum_rows(n):
    total = 0
    for i in range(3 * n * 20):
        total = (total * 31 + i) & 0xFFFFFFFF
    return total


def format_rows(n):
    total = 0
    for i in range(n * 20):
        total = (total * 17 + i) & 0xFFFFFFFF
    return total


def build_report():
    return b"checksum %d format %d\n" % (checksum_rows(ROWS), format_rows(ROWS))


class Report(resource.Resource):
    isLeaf = True

    def render_GET(self, request):
        return build_report()


class Slow(resource.Resource):
    isLeaf = True

    @defer.inlineCallbacks
    def handle(self, request):
        yield task.deferLater(reactor, 0.05, lambda: None)
        request.write(b"slow %d\n" % format_rows(ROWS))
        request.finish()

    def render_GET(self, request):
        self.handle(request)
        return server.NOT_DONE_YET


@defer.inlineCallbacks
def fetch_rows():
    yield task.deferLater(reactor, 0, lambda: None)
    return checksum_rows(ROWS)


@defer.inlineCallbacks
def render_rows(checksum):
    yield defer.succeed(None)
    return b"checksum %d format %d\n" % (checksum, format_rows(ROWS))


class Async(resource.Resource):
    isLeaf = True

    @defer.inlineCallbacks
    def handle(self, request):
        checksum = yield fetch_rows()
        body = yield render_rows(checksum)
        request.write(body)
        request.finish()

    def render_GET(self, request):
        self.handle(request)
        return server.NOT_DONE_YET


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("PORT", "8080"))
    root = resource.Resource()
    root.putChild(b"report", Report())
    root.putChild(b"slow", Slow())
    root.putChild(b"async", Async())
    reactor.listenTCP(port, server.Site(root), interface="127.0.0.1")
    print(f"listening on http://127.0.0.1:{port} (pid {os.getpid()})", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
