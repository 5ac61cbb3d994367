#!/bin/sh
# Soak test: trains a tiny model for EPOCHS epochs (default 1000) with a checkpoint, the
# history CSV and the plot rewritten every epoch, and samples the process's resident memory
# (VmRSS in /proc/PID/status) and open file descriptors (/proc/PID/fd) every SAMPLE seconds
# into a CSV. Prints first/last/max and a verdict: flat when the last RSS is within 10 % of
# the RSS after epoch 10 and the descriptor count after epoch 10 stays within 2 (a file being
# written at the moment of a sample is one more).
# Usage: bench/soak.sh [EPOCHS]
#   env: CLTRAIN (default build/src/cltrain), SOAK_DIR (default bench/out/soak),
#        SOAK_IMAGES per class (default 32), SOAK_INPUT (default 16x16), SAMPLE (default 2),
#        SOAK_MODEL (default conv4:3:relu,pool2,flatten,dense1),
#        SOAK_MAX_SECONDS (default 0 = none: past it the run is stopped, SIGTERM, and judged
#        on the epochs done; the report says so)
# Runs at nice 19. Exit status: 0 flat, 1 not flat or the run failed.
set -u
cd "$(dirname "$0")/.."
EPOCHS=${1:-1000}
CLTRAIN=${CLTRAIN:-build/src/cltrain}
DIR=${SOAK_DIR:-bench/out/soak}
PER_CLASS=${SOAK_IMAGES:-32}
INPUT=${SOAK_INPUT:-16x16}
SAMPLE=${SAMPLE:-2}
MAXS=${SOAK_MAX_SECONDS:-0}
MODEL=${SOAK_MODEL:-conv4:3:relu,pool2,flatten,dense1}
[ -x "$CLTRAIN" ] || { echo "soak: $CLTRAIN not built (meson setup build && ninja -C build)"; exit 1; }

rm -rf "$DIR"
mkdir -p "$DIR/data" "$DIR/ck"
for c in cats dogs; do  # a small subset: the first PER_CLASS images of each class
  mkdir -p "$DIR/data/$c"
  ls data/catdog-mini/train/$c | sort | head -n "$PER_CLASS" |
    while read -r f; do cp "data/catdog-mini/train/$c/$f" "$DIR/data/$c/"; done
done

CSV=$DIR/soak.csv
echo "seconds,epoch,rss_kb,fds" >"$CSV"
start=$(date +%s)
nice -n 19 "$CLTRAIN" train --data "$DIR/data" --input "$INPUT" --model "$MODEL" \
  --epochs "$EPOCHS" --batch-size 32 --deterministic --checkpoint-dir "$DIR/ck" \
  --history "$DIR/history.csv" --plot "$DIR/history.svg" --out "$DIR/model.safetensors" \
  --quiet >"$DIR/train.log" 2>&1 &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
  fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
  ep=0
  [ -f "$DIR/history.csv" ] && ep=$(($(wc -l <"$DIR/history.csv") - 1))
  [ -n "$rss" ] && echo "$(($(date +%s) - start)),$ep,$rss,$fds" >>"$CSV"
  if [ "$MAXS" -gt 0 ] && [ $(($(date +%s) - start)) -ge "$MAXS" ]; then
    capped=1
    kill -TERM "$pid"
    break
  fi
  sleep "$SAMPLE"
done
wait "$pid"
rc=$?
if [ "${capped:-0}" = 1 ]; then
  echo "soak: stopped by SOAK_MAX_SECONDS=$MAXS (not a failure)"
  rc=0
fi
secs=$(($(date +%s) - start))
done_ep=0
[ -f "$DIR/history.csv" ] && done_ep=$(($(wc -l <"$DIR/history.csv") - 1))
echo "soak: cltrain exit $rc, $done_ep of $EPOCHS epochs in $secs s; samples in $CSV"
[ $rc -eq 0 ] || tail -5 "$DIR/train.log"
# rows after the header; the reference is the first sample taken once 10 epochs were done.
# A sample can land while a checkpoint or the history is being written (one more open file
# for a moment), so the descriptor verdict asks that every count after epoch 10 lies within
# 2 of each other (a leak of one per epoch grows by hundreds); every distinct count is printed.
awk -F, -v rc="$rc" 'NR > 1 {
    n++; if (n == 1) { r0 = $3; f0 = $4 }
    if (!ref && $2 >= 10) { ref = $3; fref = $4; eref = $2 }
    if ($3 > rmax) rmax = $3
    if (ref) { seen[$4]++; if (!fset) { fmin = fmax = $4; fset = 1 } if ($4 < fmin) fmin = $4; if ($4 > fmax) fmax = $4 }
    rl = $3; fl = $4; el = $2 }
  END {
    if (n == 0) { print "soak: no samples"; exit 1 }
    printf "soak: %d samples; RSS first %d KiB, after epoch %d %d KiB, last (epoch %d) %d KiB, max %d KiB\n", n, r0, eref, ref, el, rl, rmax
    if (!ref) { print "soak: verdict UNKNOWN (fewer than 10 epochs sampled)"; exit 1 }
    c = ""; for (k in seen) c = c " " k "(x" seen[k] ")"
    printf "soak: fds first %d, after epoch %d %d, last %d, min..max after epoch %d %d..%d; counts:%s\n", f0, eref, fref, fl, eref, fmin, fmax, c
    d = (rl - ref) / ref * 100
    rok = (d <= 10 && d >= -10); fok = (fmax - fmin <= 2)
    printf "soak: RSS change since epoch %d: %+.1f %% (%s); fds %s; verdict %s\n", eref, d,
      rok ? "within 10 %" : "OVER 10 %", fok ? "constant" : "CHANGED", (rok && fok && rc == 0) ? "FLAT" : "NOT FLAT"
    exit (rok && fok && rc == 0) ? 0 : 1 }' "$CSV"
