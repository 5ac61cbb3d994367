#!/usr/bin/env bash
# Same command, same seed, same model (docs/ARCHITECTURE.md, "Determinism"):
#  1. two --deterministic runs with two empty cache folders give byte-identical model files
#     (no timing decides a kernel variant);
#  2. the variants a run used are in its model file and checkpoint, and --resume uses the
#     checkpoint's: a run killed with kill -9, its compile and tuning cache deleted, then
#     resumed, ends byte-identical to the uninterrupted run.
# Usage: test_determinism.sh CLTRAIN CLDEVICES DATA_DIR
set -u
CLT=$1
CLD=$2
DATA=$3/catdog-mini
. "$(dirname "$0")/lib.sh"
ct_need_device "$CLD"
T=$(mktemp -d /tmp/cltrain-det-XXXXXX)
trap 'rm -rf "$T"' EXIT

# Two convs (stride 1, 3x3: the shapes the tuner has most variants for) and two denses;
# 100 training images at batch 16 leave a partial last batch.
R=(--data "$DATA/train" --model 'conv8:3:relu,pool2,conv8:3:relu,pool2,flatten,dense8:relu,dense1'
   --input 32x32 --batch-size 16 --lr 1e-3 --seed 3 --workers 2 --augment seed)

# 1. --deterministic with two empty caches
for i in 1 2; do
  CLTRAIN_CACHE_DIR="$T/cache_d$i" "$CLT" train "${R[@]}" --epochs 2 --deterministic \
    --out "$T/d$i.safetensors" >"$T/d$i.txt" 2>&1 || { bad "deterministic run $i"; cat "$T/d$i.txt"; }
done
cmp -s "$T/d1.safetensors" "$T/d2.safetensors" && ok || bad "two --deterministic runs differ"
grep -q "Tuning kernels" "$T/d1.txt" && bad "--deterministic timed kernels" || ok
CLTRAIN_DETERMINISTIC=1 CLTRAIN_CACHE_DIR="$T/cache_d3" "$CLT" train "${R[@]}" --epochs 2 \
  --out "$T/d3.safetensors" >/dev/null 2>&1 || bad "CLTRAIN_DETERMINISTIC=1 run"
cmp -s "$T/d1.safetensors" "$T/d3.safetensors" && ok || bad "CLTRAIN_DETERMINISTIC=1 differs from --deterministic"
# the model file records the variants it was trained with
head -c 65536 "$T/d1.safetensors" | grep -q '"variants"' && ok || bad "no variants in the model metadata"

# 2. tuned run, killed, cache wiped, resumed
export CLTRAIN_CACHE_DIR="$T/cache_a"
"$CLT" train "${R[@]}" --epochs 3 --checkpoint-dir "$T/ck_a" --out "$T/a.safetensors" \
  >"$T/a.txt" 2>&1 || { bad "run A"; cat "$T/a.txt"; }
# the same cache: the second run reads the same tuning table as the first
"$CLT" train "${R[@]}" --epochs 3 --checkpoint-dir "$T/ck_b" --out "$T/b.safetensors" \
  >"$T/b1.txt" 2>&1 &
pid=$!
for _ in $(seq 1 900); do
  [ -f "$T/ck_b/checkpoint.safetensors" ] && break
  sleep 0.1
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
[ -f "$T/ck_b/checkpoint.safetensors" ] && ok || bad "no checkpoint written"
head -c 65536 "$T/ck_b/checkpoint.safetensors" | grep -q '"variants"' && ok \
  || bad "no variants in the checkpoint"
rm -rf "$T/cache_a"
export CLTRAIN_CACHE_DIR="$T/cache_fresh"
"$CLT" train "${R[@]}" --epochs 3 --checkpoint-dir "$T/ck_b" --out "$T/b.safetensors" --resume \
  >"$T/b2.txt" 2>&1 || { bad "resume failed"; cat "$T/b2.txt"; }
grep -q "Resumed from" "$T/b2.txt" && ok || bad "resume did not say it resumed"
grep -q "Tuning kernels" "$T/b2.txt" && bad "the resumed run timed kernels again" || ok
cmp -s "$T/a.safetensors" "$T/b.safetensors" && ok || bad "resumed model differs from the uninterrupted run"

echo "determinism: $checks checks, $fails failed"
[ $fails -eq 0 ]
