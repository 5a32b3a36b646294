#!/usr/bin/env bash
# Installs, builds and runs every test: unit, then live (real BPF; needs root, never skips).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "tools/run_tests.sh: the live tests load BPF programs: run as root (sudo)" >&2; exit 1
fi
bash tools/setup.sh
status=0
ctest --test-dir build --output-on-failure -L unit || status=1
ctest --test-dir build --output-on-failure -L live || status=1
if [ "$status" -eq 0 ]; then echo "run_tests: all tests passed"; else echo "run_tests: FAILURES (see above)"; fi
exit "$status"
