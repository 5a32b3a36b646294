#!/usr/bin/env bash
# Benchmark (not a test): the demo Twisted service under wrk, untraced against --clock cpu and
# against --clock wall (which also follows Deferred waits: one uprobe hit per inlineCallbacks
# generator step), interleaved ROUNDS times so that the shared machine's drift hits all three alike;
# prints each round and the median ratios.
# With DEFERRED_LOG=1 a fourth phase runs --deferred-log (every Python return hooked: a debugging
# mode whose cost this shows).
# Usage: sudo bench/twisted_overhead.sh    env: URL_PATH (/async), DURATION (s per phase, 8),
#        ROUNDS (3), CONNECTIONS (8), DEFERRED_LOG (0)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/pyasynctrace ] || { echo "bench: build first (tools/setup.sh)" >&2; exit 1; }
path="${URL_PATH:-/async}"; duration="${DURATION:-8}"; rounds="${ROUNDS:-3}"; conns="${CONNECTIONS:-8}"
port=$(/usr/bin/python3.11 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/bin/python3.11 examples/twisted_web_demo.py "$port" >/dev/null 2>&1 &
service=$!
trap 'kill "$service" 2>/dev/null || true; kill "${tracer:-}" 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port$path" >/dev/null && break; sleep 0.1; done
rps() { wrk -t1 -c"$conns" -d"${duration}s" "http://127.0.0.1:$port$path" | awk '/Requests\/sec/ {print $2}'; }
traced_rps() {
    build/pyasynctrace -q -p "$service" "$@" -o /tmp/pyat-bench.folded 2>/dev/null &
    tracer=$!
    sleep 1  # attached and hooked
    rps
    kill -INT "$tracer"; wait "$tracer" || true; tracer=
}
cpu_ratios=(); wall_ratios=(); log_ratios=()
echo "GET $path, $rounds rounds of ${duration}s phases, $conns connections"
for r in $(seq "$rounds"); do
    base=$(rps); cpu=$(traced_rps --clock cpu); wall=$(traced_rps --clock wall)
    log=; [ "${DEFERRED_LOG:-0}" = 1 ] && log=$(traced_rps --deferred-log -o /tmp/pyat-bench.jsonl)
    base2=$(rps)
    mean=$(awk -v a="$base" -v b="$base2" 'BEGIN { print (a + b) / 2 }')
    cpu_ratios+=("$(awk -v t="$cpu" -v m="$mean" 'BEGIN { printf "%.3f", t / m }')")
    wall_ratios+=("$(awk -v t="$wall" -v m="$mean" 'BEGIN { printf "%.3f", t / m }')")
    line="round $r: untraced $base / $base2 req/s, --clock cpu $cpu (${cpu_ratios[-1]}), --clock wall $wall (${wall_ratios[-1]})"
    if [ -n "$log" ]; then
        log_ratios+=("$(awk -v t="$log" -v m="$mean" 'BEGIN { printf "%.3f", t / m }')")
        line="$line, --deferred-log $log (${log_ratios[-1]})"
    fi
    echo "$line"
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "median ratio --clock cpu:  $(median "${cpu_ratios[@]}")"
echo "median ratio --clock wall: $(median "${wall_ratios[@]}") (with Deferred waits)"
[ ${#log_ratios[@]} -gt 0 ] && echo "median ratio --deferred-log: $(median "${log_ratios[@]}") (every Python return hooked)"
true
