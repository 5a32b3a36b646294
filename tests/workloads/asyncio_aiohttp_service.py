"""An aiohttp service (Debian's python3-aiohttp, /usr/bin/python3.11) whose handler awaits a
simulated backend and then computes:

  GET /report   handle_report(): await fetch_from_backend() (asyncio.sleep(BACKEND_S)), then
                render_report() (RENDER_S of CPU, in render_spin)
  GET /stats    the ground truth since start, as "requests N backend_s X render_s Y handler_s Z"
                (seconds summed over requests: awaiting the backend, rendering, whole handler)
  GET /echo     a tiny reply (bench/asyncio_throughput)

Usage: python3.11 asyncio_aiohttp_service.py PORT [--uvloop] [--backend-ms 20] [--render-ms 2]
                                              [--exit-after SECONDS]
Prints "ready <pid> <port> <loop class>" once listening. Runs until killed, or with --exit-after
serves that long, prints the /stats line ("stats requests N backend_s X ...") and exits: run under
the tracer, the stats cover exactly the requests the tracer saw complete.
"""
import argparse
import asyncio
import os
import time

from aiohttp import web

stats = {"requests": 0, "backend_s": 0.0, "render_s": 0.0, "handler_s": 0.0}
config = {"backend_s": 0.020, "render_s": 0.002}


def render_spin(seconds):
    end = time.thread_time() + seconds
    x = 0
    while time.thread_time() < end:
        x += 1
    return x


async def fetch_from_backend():
    start = time.monotonic()
    await asyncio.sleep(config["backend_s"])
    stats["backend_s"] += time.monotonic() - start
    return b"rows"


def render_report(rows):
    start = time.monotonic()
    render_spin(config["render_s"])
    stats["render_s"] += time.monotonic() - start
    return rows.decode() + " rendered\n"


async def handle_report(request):
    start = time.monotonic()
    rows = await fetch_from_backend()
    body = render_report(rows)
    stats["requests"] += 1
    stats["handler_s"] += time.monotonic() - start
    return web.Response(text=body)


async def handle_stats(request):
    return web.Response(text=stats_line() + "\n")


async def handle_echo(request):
    return web.Response(text="echo\n")


def stats_line():
    return " ".join(f"{k} {v}" for k, v in stats.items())


async def serve(port, exit_after):
    app = web.Application()
    app.router.add_get("/report", handle_report)
    app.router.add_get("/stats", handle_stats)
    app.router.add_get("/echo", handle_echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print(f"ready {os.getpid()} {port} {type(asyncio.get_running_loop()).__name__}", flush=True)
    if exit_after is None:
        await asyncio.Event().wait()
    await asyncio.sleep(exit_after)
    print(f"stats {stats_line()}", flush=True)
    await runner.cleanup()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument("--backend-ms", type=float, default=20)
    parser.add_argument("--render-ms", type=float, default=2)
    parser.add_argument("--exit-after", type=float)
    args = parser.parse_args()
    config["backend_s"] = args.backend_ms / 1000
    config["render_s"] = args.render_ms / 1000
    if args.uvloop:
        import uvloop
        uvloop.install()
    asyncio.run(serve(args.port, args.exit_after))


main()
