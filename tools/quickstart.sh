#!/usr/bin/env bash
# The demo: install and build, start the bundled Twisted web service, load it, profile it for
# 10 s, and say where the profiles went. Usage: sudo tools/quickstart.sh [OUTDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
out="${1:-pyasynctrace-demo}"
mkdir -p "$out"
port=$(/usr/bin/python3.11 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/bin/python3.11 examples/twisted_web_demo.py "$port" >"$out/service.log" 2>&1 &
service=$!
trap 'kill "$service" 2>/dev/null || true; kill "${load:-}" 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/report" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/report" >/dev/null || { echo "quickstart: the demo service did not start" >&2; exit 1; }
echo "quickstart: demo service PID $service on port $port; loading it with wrk and profiling for 10 s"
wrk -t1 -c4 -d13s "http://127.0.0.1:$port/report" >"$out/wrk.txt" 2>&1 &
load=$!
build/pyasynctrace -p "$service" -d 10 -o "$out/demo.callgrind" -o "$out/demo.svg" -o "$out/demo.folded"
wait "$load" || true
echo
echo "quickstart: callgrind profile: $out/demo.callgrind  (kcachegrind $out/demo.callgrind, or callgrind_annotate $out/demo.callgrind)"
echo "quickstart: flame graph:       $out/demo.svg  (open in a browser)"
echo "quickstart: folded stacks:     $out/demo.folded"
