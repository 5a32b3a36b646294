#!/usr/bin/env bash
# Benchmark (not a test): --mode trace's event path. tests' usdt_call_tree stand-in makes CALLS
# calls of an empty function in each of THREADS threads, every call firing function__entry and
# function__return: how many events a second reach the tracer, how many are lost (ring buffer
# full), and the tracer's own CPU per million events.
# Usage: sudo bench/trace_rate.sh    env: CALLS (per thread, 300000), THREADS ("1 2")
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/pyasynctrace ] && [ -x build/usdt_call_tree ] || { echo "bench: build first (tools/setup.sh)" >&2; exit 1; }
calls="${CALLS:-300000}"
for threads in ${THREADS:-1 2}; do
    out=$(build/pyasynctrace --mode trace -o /tmp/pyat-trace-bench.folded -- \
        build/usdt_call_tree burst "$calls" "$threads" 2>&1 >/dev/null)
    hits=$(sed -n 's/.*: \([0-9]*\) probe hits (\([0-9]*\) a second).*/\1 \2/p' <<<"$out")
    lost=$(sed -n 's/.*warning: \([0-9]*\) events were lost.*/\1/p' <<<"$out"); lost=${lost:-0}
    cpu=$(sed -n 's/.*the tracer used \([0-9.]*\) s of CPU.*/\1/p' <<<"$out")
    read -r n rate <<<"$hits"
    awk -v t="$threads" -v n="$n" -v r="$rate" -v l="$lost" -v c="$cpu" 'BEGIN {
        printf "%d thread(s): %d events, %d events/s reached the tracer, %d lost; tracer CPU %.2f s = %.2f s per million events\n",
               t, n, r, l, c, c / (n / 1e6) }'
done
