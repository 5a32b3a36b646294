#!/usr/bin/env bash
# Benchmark (not a test): the demo Twisted service under wrk, untraced / traced / untraced,
# plus the tracer's CPU use and the average cost of one BPF program run.
# Usage: sudo bench/throughput.sh    env: DURATION (s, default 15), CONNECTIONS (8), PYAT_ARGS ("--clock wall"),
#        URL_PATH (/report: plain CPU work; /async: nested inlineCallbacks, Deferred-heavy)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/pyasynctrace ] || { echo "bench: build first (tools/setup.sh)" >&2; exit 1; }
duration="${DURATION:-15}"; conns="${CONNECTIONS:-8}"
port=$(/usr/bin/python3.11 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/bin/python3.11 examples/twisted_web_demo.py "$port" >/dev/null 2>&1 &
service=$!
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
trap 'kill "$service" 2>/dev/null || true; kill "${tracer:-}" 2>/dev/null || true; sysctl -qw kernel.bpf_stats_enabled="$old_stats"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/report" >/dev/null && break; sleep 0.1; done
path="${URL_PATH:-/report}"
rps() { wrk -t1 -c"$conns" -d"${duration}s" "http://127.0.0.1:$port$path" | awk '/Requests\/sec/ {print $2}'; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
before=$(rps)
sysctl -qw kernel.bpf_stats_enabled=1
# shellcheck disable=SC2086
build/pyasynctrace -q -p "$service" ${PYAT_ARGS:-} -o /tmp/pyat-bench.callgrind 2>/dev/null &
tracer=$!
sleep 1
t0=$(ticks "$tracer")
traced=$(rps)
t1=$(ticks "$tracer")
stats=$(bpftool prog show | awk '/name (on_cpu_sample|on_sched_switch|on_generator_st|on_poll_enter|on_poll_exit)/ {name=$4; t=0; c=0; for (i=1;i<=NF;i++) { if ($i=="run_time_ns") t=$(i+1); if ($i=="run_cnt") c=$(i+1) } if (c>0) printf "%s %d runs, %.0f ns/run; ", name, c, t/c }')
kill -INT "$tracer"; wait "$tracer" || true; tracer=
sysctl -qw kernel.bpf_stats_enabled="$old_stats"
after=$(rps)
hz=$(getconf CLK_TCK)
echo "GET $path"
echo "untraced before: $before req/s"
echo "traced (${PYAT_ARGS:-default}): $traced req/s"
echo "untraced after:  $after req/s"
awk -v t="$traced" -v a="$before" -v b="$after" 'BEGIN { printf "ratio traced/untraced: %.3f\n", t / ((a + b) / 2) }'
awk -v d="$(( t1 - t0 ))" -v hz="$hz" -v s="$duration" 'BEGIN { printf "tracer CPU: %.2f%% of one core\n", 100 * d / hz / s }'
echo "BPF programs: ${stats:-no runs recorded}"
