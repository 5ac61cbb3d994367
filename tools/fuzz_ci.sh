#!/bin/sh
# The short fuzz pass for CI: builds the libFuzzer targets (tools/fuzz_build.sh) and runs each
# for FUZZ_SECONDS (default 20) over a scratch copy of its seed corpus, one at a time.
# Exits 1 on any crash, sanitizer report, timeout (> 10 s for one input) or out-of-memory
# (the reproducer is left in build-fuzz/ci/), 77 when clang with libFuzzer is missing.
# Prints each target's time. Long runs and the figures: docs/FUZZING.md.
cd "$(dirname "$0")/.."
CC=${CC:-clang}
SECS=${FUZZ_SECONDS:-20}
if ! command -v "$CC" >/dev/null 2>&1; then
  echo "fuzz_ci: $CC not found (install clang with libFuzzer, or set CC): skipped"
  exit 77
fi
probe=$(mktemp -d)
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' >"$probe/p.c"
if ! "$CC" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
  rm -rf "$probe"
  echo "fuzz_ci: $CC cannot build with -fsanitize=fuzzer,address,undefined (libFuzzer missing): skipped"
  exit 77
fi
rm -rf "$probe"

t0=$(date +%s)
if ! nice -n 19 tools/fuzz_build.sh >build-fuzz-ci-build.log 2>&1; then
  cat build-fuzz-ci-build.log
  echo "fuzz_ci: build failed"
  exit 1
fi
rm -f build-fuzz-ci-build.log
echo "fuzz_ci: built the targets in $(($(date +%s) - t0)) s"

fail=0
for t in decode model ckpt_state spec tune; do
  seeds=tests/fuzz_corpus_$t
  [ "$t" = decode ] && seeds=tests/fuzz_corpus
  work=build-fuzz/ci/$t
  rm -rf "$work"
  mkdir -p "$work/corpus"
  s=$(date +%s)
  nice -n 19 ./build-fuzz/fuzz_$t -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
    -max_len=4096 -error_exitcode=1 -timeout_exitcode=1 -artifact_prefix="$work/" \
    "$work/corpus" "$seeds" >"$work/log" 2>&1
  rc=$?
  stats=$(grep -E '^#[0-9]+' "$work/log" | tail -1 | sed 's/ *lim:.*//')
  if [ $rc -ne 0 ]; then
    fail=1
    tail -40 "$work/log"
    echo "fuzz_ci: fuzz_$t FAILED (exit $rc) after $(($(date +%s) - s)) s; reproducer: $(ls "$work"/crash-* "$work"/timeout-* "$work"/oom-* 2>/dev/null | head -1)"
  else
    echo "fuzz_ci: fuzz_$t ok in $(($(date +%s) - s)) s ($stats)"
  fi
done
echo "fuzz_ci: total $(($(date +%s) - t0)) s"
exit $fail
