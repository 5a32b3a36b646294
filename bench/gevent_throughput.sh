#!/usr/bin/env bash
# Benchmark (not a test): the gevent.pywsgi demo service under wrk, untraced and traced with
# --clock cpu (no switch hook) and --clock wall (greenlet switch hook), plus the cost of one
# hooked greenlet switch measured on a switch loop.
# Usage: sudo bench/gevent_throughput.sh    env: DURATION (s, default 10), CONNECTIONS (8)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/pyasynctrace ] || { echo "bench: build first (tools/setup.sh)" >&2; exit 1; }
duration="${DURATION:-10}"; conns="${CONNECTIONS:-8}"
port=$(/usr/bin/python3.11 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/bin/python3.11 examples/gevent_web_demo.py "$port" >/dev/null 2>&1 &
service=$!
trap 'kill "$service" 2>/dev/null || true; kill "${tracer:-}" 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done
rps() { wrk -t1 -c"$conns" -d"${duration}s" -H "Connection: close" "http://127.0.0.1:$port/" | awk '/Requests\/sec/ {print $2}'; }
traced_rps() {  # $1: tracer arguments
  # shellcheck disable=SC2086
  build/pyasynctrace -p "$service" $1 -o /tmp/pyat-gevent-bench.folded 2>/tmp/pyat-gevent-bench.err &
  tracer=$!
  sleep 1
  local r; r=$(rps)
  kill -INT "$tracer"; wait "$tracer" || true; tracer=
  echo "$r"
}
base1=$(rps)
cpu=$(traced_rps "--clock cpu")
base2=$(rps)
wall=$(traced_rps "--clock wall")
switches=$(grep -o 'followed [0-9]* greenlet switches ([0-9]* a second' /tmp/pyat-gevent-bench.err || true)
base3=$(rps)
echo "untraced:            $base1 / $base2 / $base3 req/s"
echo "traced --clock cpu:  $cpu req/s"
echo "traced --clock wall: $wall req/s   ($switches)"
awk -v c="$cpu" -v a="$base1" -v b="$base2" 'BEGIN { printf "ratio cpu/untraced:  %.3f\n", c / ((a + b) / 2) }'
awk -v w="$wall" -v a="$base2" -v b="$base3" 'BEGIN { printf "ratio wall/untraced: %.3f\n", w / ((a + b) / 2) }'

# The price of one hooked switch: a tight switch loop, untraced and traced.
loop='
import greenlet, time
def other():
    while True: main.switch()
main = greenlet.getcurrent(); g = greenlet.greenlet(other); g.switch()
print("ready", flush=True)
import sys; sys.stdin.readline()
n = 200000; t = time.perf_counter()
for _ in range(n): g.switch()
print("%.1f" % ((time.perf_counter() - t) / (2 * n) * 1e9), flush=True)
'
switch_ns() {  # $1: "traced" or ""
  coproc LOOP { exec /usr/bin/python3.11 -c "$loop"; }
  local pid=$LOOP_PID out=${LOOP[0]} in=${LOOP[1]}
  read -r _ <&"$out"
  if [ -n "$1" ]; then
    build/pyasynctrace -q -p "$pid" --clock wall -o /tmp/pyat-switch-bench.folded 2>/dev/null &
    tracer=$!; sleep 1.5
  fi
  echo >&"$in"
  read -r ns <&"$out"
  if [ -n "$1" ]; then kill -INT "$tracer"; wait "$tracer" || true; tracer=; fi
  wait "$pid" 2>/dev/null || true
  echo "$ns"
}
plain=$(switch_ns "")
hooked=$(switch_ns traced)
echo "greenlet switch: $plain ns untraced, $hooked ns hooked -> $(awk -v a="$plain" -v b="$hooked" 'BEGIN { printf "%.2f", (b - a) / 1000 }') us per hooked switch"
