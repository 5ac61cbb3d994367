#!/usr/bin/env bash
# End-to-end tests of the cltrain program on the bundled sample set: train, evaluate,
# predict, preview, resume after a kill (bit-identical), and bad input of every kind
# (clear message, non-zero exit, no partial output files).
# Usage: test_cli.sh CLTRAIN CLDEVICES DATA_DIR
set -u
CLT=$1
CLD=$2
DATA=$3/catdog-mini
. "$(dirname "$0")/lib.sh"
ct_need_device "$CLD"
T=$(mktemp -d /tmp/cltrain-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT

# Small and quick: Model 1 at 48x48, batch 16.
COMMON=(--model model1 --input 48x48 --batch-size 16 --lr 1e-3 --seed 7 --workers 2)

# expect_fail NAME PATTERN CMD...: non-zero exit and stderr mentions PATTERN.
expect_fail() {
  local name=$1 pat=$2
  shift 2
  "$@" >"$T/out.txt" 2>"$T/err.txt"
  local rc=$?
  if [ $rc -eq 0 ]; then
    bad "$name: exit 0, expected an error"
  elif ! grep -qiE -- "$pat" "$T/err.txt"; then
    bad "$name: message does not mention '$pat':"
    cat "$T/err.txt"
  else
    ok
  fi
}

# 1. train with validation, test, history, plot; then evaluate and predict
"$CLT" train --data "$DATA/train" --validation "$DATA/validation" --test "$DATA/test" \
  "${COMMON[@]}" --epochs 2 --augment seed --out "$T/m.safetensors" --history "$T/h.csv" \
  --plot "$T/h.svg" >"$T/train.txt" 2>&1 || { bad "train failed"; cat "$T/train.txt"; }
grep -q "Found 200 images belonging to 2 classes." "$T/train.txt" && ok || bad "Found line"
grep -q "Epoch 2/2" "$T/train.txt" && ok || bad "progress lines"
grep -qE "Test: loss: [0-9.]+ accuracy: [0-9.]+" "$T/train.txt" && ok || bad "test accuracy line"
[ -s "$T/m.safetensors" ] && ok || bad "model file"
[ "$(wc -l <"$T/h.csv")" -eq 3 ] && head -1 "$T/h.csv" | grep -q "epoch,loss,accuracy,val_loss,val_accuracy,seconds" \
  && ok || bad "history csv"
grep -q "<svg" "$T/h.svg" && ok || bad "svg plot"
ls "$T" | grep -q '\.tmp' && bad "temp files left behind" || ok

"$CLT" evaluate --model "$T/m.safetensors" --data "$DATA/test" >"$T/ev.txt" 2>&1 \
  && grep -qE "^loss: [0-9.]+ accuracy: [0-9.]+$" "$T/ev.txt" && ok || { bad "evaluate"; cat "$T/ev.txt"; }
"$CLT" evaluate --model "$T/m.safetensors" --data "$DATA/test" --json 2>/dev/null \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); assert 0<=d["accuracy"]<=1' 2>/dev/null \
  && ok || bad "evaluate --json is not JSON with accuracy"
# evaluate must agree with the test figure printed by train (same weights, same data)
ta=$(sed -n 's/^Test: loss: \([0-9.]*\) accuracy: \([0-9.]*\).*/\2/p' "$T/train.txt")
ea=$(sed -n 's/^loss: [0-9.]* accuracy: \([0-9.]*\)$/\1/p' "$T/ev.txt")
[ -n "$ta" ] && [ "$ta" = "$ea" ] && ok || bad "train's test accuracy ($ta) != evaluate's ($ea)"

"$CLT" predict --model "$T/m.safetensors" "$DATA/test/cats" >"$T/pred.txt" 2>/dev/null \
  && [ "$(grep -cE ': (cats|dogs) \(' "$T/pred.txt")" -eq 25 ] && ok || { bad "predict"; head "$T/pred.txt"; }
"$CLT" predict --csv --model "$T/m.safetensors" "$DATA/test/dogs/$(ls "$DATA/test/dogs" | head -1)" \
  >"$T/pred.csv" 2>/dev/null && head -1 "$T/pred.csv" | grep -q "^file,class,p_cats,p_dogs$" \
  && [ "$(wc -l <"$T/pred.csv")" -eq 2 ] && ok || bad "predict --csv"

"$CLT" preview "$DATA/train/cats/$(ls "$DATA/train/cats" | head -1)" --out "$T/grid.png" --n 4 \
  >/dev/null 2>&1 && [ "$(head -c 4 "$T/grid.png" | tail -c 3)" = "PNG" ] && ok || bad "preview"

# 2. --init from a saved model, and a model of another architecture
"$CLT" train --data "$DATA/train" "${COMMON[@]}" --epochs 1 --init "$T/m.safetensors" \
  --steps-per-epoch 2 --out "$T/m2.safetensors" >/dev/null 2>&1 && ok || bad "--init same architecture"
expect_fail "init other architecture" "layers\.|shape|architecture" \
  "$CLT" train --data "$DATA/train" --model model2 --input 48x48 --batch-size 16 --epochs 1 \
  --init "$T/m.safetensors" --out "$T/x.safetensors"
[ -e "$T/x.safetensors" ] && bad "partial output after failed --init" || ok

# 3. resume after a kill: bit-identical to an uninterrupted run
R=(--data "$DATA/train" --validation "$DATA/validation" "${COMMON[@]}" --epochs 3 --augment seed)
"$CLT" train "${R[@]}" --checkpoint-dir "$T/ck_a" --out "$T/a.safetensors" >/dev/null 2>&1 || bad "run A"
"$CLT" train "${R[@]}" --checkpoint-dir "$T/ck_b" --out "$T/b.safetensors" >"$T/b1.txt" 2>&1 &
pid=$!
# wait for the first checkpoint, then kill mid-epoch 2
for _ in $(seq 1 600); do
  [ -f "$T/ck_b/checkpoint.safetensors" ] && break
  sleep 0.1
done
sleep 0.3
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
[ -f "$T/ck_b/checkpoint.safetensors" ] && ok || bad "no checkpoint written"
"$CLT" train "${R[@]}" --checkpoint-dir "$T/ck_b" --out "$T/b.safetensors" --resume >"$T/b2.txt" 2>&1 \
  || { bad "resume failed"; cat "$T/b2.txt"; }
grep -q "Resumed from" "$T/b2.txt" && ok || bad "resume did not say it resumed"
cmp -s "$T/a.safetensors" "$T/b.safetensors" && ok || bad "resumed model differs from uninterrupted run"
expect_fail "resume with other settings" "other settings" \
  "$CLT" train --data "$DATA/train" --model model1 --input 48x48 --batch-size 8 --epochs 4 \
  --checkpoint-dir "$T/ck_b" --resume

# 4. bad input: clear message, non-zero exit, nothing left behind
expect_fail "missing folder" "no-such-folder" "$CLT" train --data "$T/no-such-folder" "${COMMON[@]}" --epochs 1
expect_fail "spec typo" "conv32:3:relu,pool2,flaten|flaten" \
  "$CLT" train --data "$DATA/train" --model "conv32:3:relu,pool2,flaten,dense1" --input 48x48 --epochs 1
expect_fail "unknown preset-like word" "modle2" "$CLT" train --data "$DATA/train" --model modle2 --epochs 1
expect_fail "input too small" "layer|shape|fit" \
  "$CLT" train --data "$DATA/train" --model model2 --input 16x16 --epochs 1
# (batches are capped at the 200 images, so the input is made big enough for 200 not to fit)
expect_fail "batch too big" "batch-size" \
  "$CLT" train --data "$DATA/train" --model model2 --input 2048x2048 --batch-size 65536 --epochs 1
expect_fail "unwritable output" "writable|exist" \
  "$CLT" train --data "$DATA/train" "${COMMON[@]}" --epochs 1 --out /proc/nope/m.safetensors
expect_fail "unknown device" "9:9" "$CLT" train --data "$DATA/train" "${COMMON[@]}" --device 9:9
expect_fail "bad number" "--epochs" "$CLT" train --data "$DATA/train" --epochs zero
expect_fail "bad bench number" "--steps" "$CLT" bench step --steps 5x
for r in 0 -1 nan 1/0 x; do # refused before any decoding, no model written
  expect_fail "bad --rescale $r" "--rescale" \
    "$CLT" train --data "$DATA/train" "${COMMON[@]}" --epochs 1 --rescale "$r" --out "$T/rescale.safetensors"
done
[ -e "$T/rescale.safetensors" ] && bad "--rescale refused but a model was written" || ok
"$CLT" train --help | grep -q -- "--deterministic" && ok || bad "train --help lacks --deterministic"
expect_fail "bad deterministic combination" "--epochs" "$CLT" train --data "$DATA/train" --deterministic --epochs 0
expect_fail "unknown option" "--epoch" "$CLT" train --data "$DATA/train" --epoch 3
head -c 1000 "$T/m.safetensors" >"$T/trunc.safetensors"
expect_fail "truncated model" "trunc.safetensors" "$CLT" evaluate --model "$T/trunc.safetensors" --data "$DATA/test"
echo "not a model" >"$T/junk.safetensors"
expect_fail "junk model" "junk.safetensors" "$CLT" predict --model "$T/junk.safetensors" "$DATA/test"
expect_fail "missing model" "nope.safetensors" "$CLT" evaluate --model "$T/nope.safetensors" --data "$DATA/test"
mkdir -p "$T/empty/cats" "$T/empty/dogs"
expect_fail "empty dataset" "empty|no image" "$CLT" train --data "$T/empty" "${COMMON[@]}" --epochs 1
ls "$T" | grep -q '\.tmp' && bad "temp files left behind after failures" || ok

echo "cli: $checks checks, $fails failed"
[ $fails -eq 0 ]
