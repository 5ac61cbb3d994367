#!/usr/bin/env bash
# Runs the whole cltrain test suite and ends with the plain summary line
#   tests: N passed, N failed, N skipped
# Usage: tools/run_tests.sh [BUILD_DIR [extra meson setup options...]]
# Builds BUILD_DIR (default: build) first if needed. Tests that need an OpenCL device
# report skipped (exit 77) on a machine without one.
set -u
cd "$(dirname "$0")/.."
builddir=${1:-build}
shift || true
if [ ! -f "$builddir/build.ninja" ]; then
  meson setup "$builddir" "$@" || { echo "tests: 0 passed, 1 failed"; exit 1; }
fi
if ! meson compile -C "$builddir"; then
  echo "build failed"
  echo "tests: 0 passed, 1 failed"
  exit 1
fi
# CLTRAIN_TEST_SUITES="ops layers" runs only those meson suites (CI's GPU-limits leg).
suites=()
for s in ${CLTRAIN_TEST_SUITES:-}; do suites+=(--suite "$s"); done
meson test -C "$builddir" --print-errorlogs --num-processes 1 "${suites[@]}"
rc=$?
log="$builddir/meson-logs/testlog.json"
passed=$(grep -c '"result": "OK"' "$log" 2>/dev/null)
skipped=$(grep -c '"result": "SKIP"' "$log" 2>/dev/null)
total=$(grep -c '"result"' "$log" 2>/dev/null)
failed=$((total - passed - skipped))
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "tests: ${passed:-0} passed, ${failed} failed, ${skipped:-0} skipped"
[ "$failed" -eq 0 ]
