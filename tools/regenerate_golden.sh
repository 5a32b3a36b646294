#!/bin/bash
# Rewrites the writers' golden files (tests/unit/writers/golden/) from the current build, for an
# intended change of output; review the result with `git diff tests/unit/writers/golden`.
# Usage: tools/regenerate_golden.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cmake --build "$build" --target unit_tests -j2
PYAT_UPDATE_GOLDEN=1 "$build/unit_tests" --gtest_filter='GoldenFiles.*'
git status --short tests/unit/writers/golden
