#!/bin/sh
# Runs fuzz targets one after another (never two at once), each for SECONDS (default 600)
# at nice 19 over its committed seeds (read-only) and a growing corpus in
# build-fuzz/corpus_<target>; the log of each is build-fuzz/run_<target>.log and a crash
# leaves build-fuzz/crash-<sha1>. Usage: tools/fuzz_run.sh [SECONDS] [target ...]
cd "$(dirname "$0")/.."
SECS=${1:-600}
[ $# -gt 0 ] && shift
for t in ${*:-model tune spec ckpt_state}; do
  mkdir -p build-fuzz/corpus_$t
  echo "$(date -u +%H:%M:%S) fuzz_$t for ${SECS}s"
  nice -n 19 ./build-fuzz/fuzz_$t -max_total_time="$SECS" -rss_limit_mb=2048 -max_len=4096 \
    -print_final_stats=1 -artifact_prefix=build-fuzz/ build-fuzz/corpus_$t tests/fuzz_corpus_$t \
    >build-fuzz/run_$t.log 2>&1
  echo "$(date -u +%H:%M:%S) fuzz_$t exit $?: $(grep -E '^#[0-9]+' build-fuzz/run_$t.log | tail -1)"
done
