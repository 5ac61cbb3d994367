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
# --plot x.png is a PNG; a build without cairo refuses it before training, saying what to install
if "$CLT" train --data "$DATA/train" "${COMMON[@]}" --epochs 1 --steps-per-epoch 1 \
  --out "$T/p.safetensors" --plot "$T/p.png" >"$T/png.txt" 2>&1; then
  [ "$(head -c 8 "$T/p.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] && ok || bad "--plot p.png is not a PNG"
else
  grep -q "libcairo2-dev" "$T/png.txt" && ! grep -q "Found" "$T/png.txt" && [ ! -e "$T/p.png" ] \
    && echo "note: built without cairo, --plot .png refused" && ok || { bad "--plot .png"; cat "$T/png.txt"; }
fi
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
# optimizer and schedule options: refused before any image is decoded, naming the option
OPT=(--data "$DATA/train" "${COMMON[@]}" --epochs 3 --out "$T/opt.safetensors")
expect_fail "unknown optimizer" "--optimizer adagrad: expected adam, adamw, sgd or rmsprop" \
  "$CLT" train "${OPT[@]}" --optimizer adagrad
expect_fail "rho with adam" "--rho" "$CLT" train "${OPT[@]}" --rho 0.9
expect_fail "negative momentum" "--momentum -0.5" "$CLT" train "${OPT[@]}" --optimizer sgd --momentum -0.5
expect_fail "momentum 1" "--momentum 1" "$CLT" train "${OPT[@]}" --optimizer sgd --momentum 1
expect_fail "nesterov without momentum" "--nesterov needs --momentum" \
  "$CLT" train "${OPT[@]}" --optimizer sgd --nesterov
expect_fail "weight decay with sgd" "--weight-decay" "$CLT" train "${OPT[@]}" --optimizer sgd --weight-decay 0.1
expect_fail "unknown schedule" "--lr-schedule linear: expected constant, cosine" \
  "$CLT" train "${OPT[@]}" --lr-schedule linear
expect_fail "warmup too long" "--warmup-epochs 3: .*less than --epochs 3" \
  "$CLT" train "${OPT[@]}" --warmup-epochs 3
expect_fail "malformed plateau" "--reduce-lr-on-plateau '0.5'" \
  "$CLT" train "${OPT[@]}" --reduce-lr-on-plateau 0.5
expect_fail "plateau factor" "FACTOR 2 must be in \(0, 1\)" "$CLT" train "${OPT[@]}" --reduce-lr-on-plateau 2:3
grep -q "Found" "$T/out.txt" && bad "an optimizer error came after the data scan" || ok
[ -e "$T/opt.safetensors" ] && bad "output written after an optimizer error" || ok
"$CLT" train "${OPT[@]}" --epochs 2 --steps-per-epoch 2 --optimizer rmsprop --momentum 0.5 \
  --lr-schedule step --lr-decay-epochs 1 --lr-decay-rate 0.5 --history "$T/opt.csv" >/dev/null 2>&1 \
  && head -1 "$T/opt.csv" | grep -q ",learning_rate$" && [ "$(sed -n 3p "$T/opt.csv" | cut -d, -f7)" = 0.0005 ] \
  && ok || bad "rmsprop with a step schedule: history learning_rate"
head -c 1000 "$T/m.safetensors" >"$T/trunc.safetensors"
expect_fail "truncated model" "trunc.safetensors" "$CLT" evaluate --model "$T/trunc.safetensors" --data "$DATA/test"
echo "not a model" >"$T/junk.safetensors"
expect_fail "junk model" "junk.safetensors" "$CLT" predict --model "$T/junk.safetensors" "$DATA/test"
expect_fail "missing model" "nope.safetensors" "$CLT" evaluate --model "$T/nope.safetensors" --data "$DATA/test"
mkdir -p "$T/empty/cats" "$T/empty/dogs"
expect_fail "empty dataset" "empty|no image" "$CLT" train --data "$T/empty" "${COMMON[@]}" --epochs 1
ls "$T" | grep -q '\.tmp' && bad "temp files left behind after failures" || ok

# 5. command-line conventions
# --opt=value, as well as --opt value
"$CLT" train --data="$DATA/train" --model=model1 --input=48x48 --batch-size=16 --workers=2 \
  --epochs=1 --steps-per-epoch=1 --out="$T/eq.safetensors" >"$T/eq.txt" 2>&1 \
  && [ -s "$T/eq.safetensors" ] && ok || { bad "--opt=value"; cat "$T/eq.txt"; }
"$CLT" evaluate --model="$T/m.safetensors" --data="$DATA/test" --json >/dev/null 2>&1 && ok \
  || bad "evaluate --opt=value"
# -- ends the options: a file named --help.png is an image, not a request for help
cp "$T/grid.png" "$T/--help.png"
(cd "$T" && "$CLT" predict --model m.safetensors -- --help.png) >"$T/dd.txt" 2>"$T/dd.err" \
  && grep -qE '^--help\.png: (cats|dogs) \(' "$T/dd.txt" && ok || { bad "predict -- --help.png"; cat "$T/dd.txt" "$T/dd.err"; }
(cd "$T" && "$CLT" preview --out=dd.jpg -- --help.png) >/dev/null 2>&1 && [ -s "$T/dd.jpg" ] && ok \
  || bad "preview -- --help.png"
# -h and -V on every command (and cldevices); help CMD is CMD --help
for c in train evaluate predict preview bench tune devices selftest; do
  v=$("$CLT" $c -V 2>&1) && echo "$v" | grep -qE '^cltrain [0-9]+\.[0-9]+' && ok || bad "$c -V: $v"
  "$CLT" $c -h 2>&1 | grep -q -- "--version" && ok || bad "$c -h lacks --version"
  [ "$("$CLT" help $c 2>&1)" = "$("$CLT" $c --help 2>&1)" ] && ok || bad "help $c differs from $c --help"
done
"$CLD" -V | grep -qE '^cldevices \(cltrain\) [0-9]' && ok || bad "cldevices -V"
"$CLT" --version | grep -qE '^cltrain [0-9]' && "$CLT" -V | grep -qE '^cltrain [0-9]' && ok || bad "cltrain -V"
"$CLT" help train | grep -q -- "--early-stopping" && ok || bad "help train is not train's help"
expect_fail "help unknown command" "unknown command 'nope'" "$CLT" help nope
# option errors: unknown, abbreviated, missing value, value of a flag
expect_fail "abbreviation" "--val'; did you mean --validation or --validation-split" \
  "$CLT" train --data "$DATA/train" --val "$DATA/validation"
expect_fail "missing value at the end" "--out needs a value" "$CLT" train --data "$DATA/train" --out
expect_fail "missing value before an option" "--out needs a value.*--quiet" \
  "$CLT" train --data "$DATA/train" --out --quiet
expect_fail "flag with a value" "--quiet takes no value" "$CLT" train --data "$DATA/train" --quiet=yes
expect_fail "one-dash long option" "two dashes: --epochs" "$CLT" train --data "$DATA/train" -epochs 1
expect_fail "unexpected operand" "unexpected argument 'extra'" "$CLT" train --data "$DATA/train" extra
grep -q "see cltrain train --help" "$T/err.txt" && ok || bad "option errors do not point at --help"

# train without --out: written to ./model.safetensors, said before training starts
mkdir -p "$T/dflt"
(cd "$T/dflt" && "$CLT" train --data "$DATA/train" "${COMMON[@]}" --epochs 1 --steps-per-epoch 1) \
  >"$T/dflt.txt" 2>&1 && [ -s "$T/dflt/model.safetensors" ] && ok || { bad "default --out"; cat "$T/dflt.txt"; }
head -1 "$T/dflt.txt" | grep -q "model.safetensors" && ok || bad "default --out not announced first"
mkdir -p "$T/dflt2/model.safetensors"
in_dir() { local d=$1; shift; (cd "$d" && "$@"); }
expect_fail "default --out is a folder" "default --out model.safetensors is a folder" \
  in_dir "$T/dflt2" "$CLT" train --data "$DATA/train" "${COMMON[@]}" --epochs 1
grep -q "Found" "$T/out.txt" && bad "default --out refused only after the data scan" || ok

# the model summary fits 80 columns, with Keras's three counts
sed -n '/^Model: /,/^Output: /p' "$T/train.txt" >"$T/summary.txt"
[ "$(wc -l <"$T/summary.txt")" -ge 10 ] && ok || bad "no model summary found"
w=$(awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' "$T/summary.txt")
[ "$w" -le 80 ] && ok || { bad "summary is $w columns wide"; cat "$T/summary.txt"; }
grep -qE '^Total params: [0-9,]+ ' "$T/summary.txt" && grep -qE '^Trainable params: [0-9,]+ ' "$T/summary.txt" \
  && grep -qE '^Non-trainable params: 0 ' "$T/summary.txt" && ok || bad "summary counts"
[ "$(grep -c 'input (Input)' "$T/summary.txt")" -eq 1 ] && ok || bad "the input is not one row"

# the progress line on an 80-column terminal: no line (between \r and \n) wider than 80
if command -v script >/dev/null 2>&1; then
  script -qec "stty cols 80 2>/dev/null; COLUMNS=80 '$CLT' train --data '$DATA/train' ${COMMON[*]} \
    --epochs 1 --out '$T/tty.safetensors' --validation '$DATA/validation'" /dev/null </dev/null \
    >"$T/tty.txt" 2>&1
  grep -q "ETA" "$T/tty.txt" && ok || { bad "no progress line under script"; tail -5 "$T/tty.txt"; }
  w=$(tr '\r' '\n' <"$T/tty.txt" | grep -E 'ETA|- loss:|val_' | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }')
  [ "$w" -le 80 ] && ok || { bad "progress lines $w columns wide at 80"; tr '\r' '\n' <"$T/tty.txt" | grep -E 'ETA|loss'; }
  grep -q "val_accuracy" "$T/tty.txt" && ok || bad "the end-of-epoch line lost its validation figures"
else
  echo "note: no script(1), progress width on a terminal not checked"
fi

# predict --csv quotes a path with a comma and a quote (RFC 4180)
Q="$T/we,ird \"q\""
mkdir -p "$Q"
cp "$DATA/test/cats/$(ls "$DATA/test/cats" | head -1)" "$Q/a,b \"c\".jpg"
"$CLT" predict --csv --model "$T/m.safetensors" "$Q" >"$T/q.csv" 2>/dev/null || bad "predict --csv of odd names"
if command -v python3 >/dev/null 2>&1; then
  python3 - "$T/q.csv" "$Q/a,b \"c\".jpg" <<'PYEOF' && ok || bad "predict --csv is not RFC 4180 CSV"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline='')))
assert rows[0] == ['file', 'class', 'p_cats', 'p_dogs'], rows[0]
assert len(rows) == 2 and rows[1][0] == sys.argv[2] and len(rows[1]) == 4, rows
PYEOF
else
  echo "note: no python3, CSV quoting not parsed back"
fi

# preview: JPEG for .jpg, refused other names before decoding anything
IMG1="$DATA/train/cats/$(ls "$DATA/train/cats" | head -1)"
"$CLT" preview "$IMG1" --out "$T/grid.jpg" >/dev/null 2>&1 \
  && [ "$(head -c 2 "$T/grid.jpg" | od -An -tx1 | tr -d ' \n')" = ffd8 ] && ok || bad "preview .jpg is not JPEG"
"$CLT" preview "$IMG1" --out "$T/grid.JPEG" >/dev/null 2>&1 \
  && [ "$(head -c 2 "$T/grid.JPEG" | od -An -tx1 | tr -d ' \n')" = ffd8 ] && ok || bad "preview .JPEG"
expect_fail "preview .bmp" "grid.bmp.*\.png, \.jpg or \.jpeg" "$CLT" preview "$T/junk.safetensors" --out "$T/grid.bmp"
[ -e "$T/grid.bmp" ] && bad "preview .bmp left a file" || ok
# --plot: other types refused before training, with what is allowed
expect_fail "--plot .bmp" "--plot .*x.bmp.*\.svg, \.png or \.pdf" \
  "$CLT" train --data "$DATA/train" "${COMMON[@]}" --epochs 1 --plot "$T/x.bmp" --out "$T/x.safetensors"
grep -q "Found" "$T/out.txt" && bad "--plot .bmp refused after the data scan" || ok
[ -e "$T/x.safetensors" ] && bad "--plot .bmp left a model" || ok

# N. the classification report (evaluate, train --test), predict --top, --class-weight
grep -q "precision    recall  f1-score   support" "$T/train.txt" \
  && grep -q "Confusion matrix (rows: true class, columns: predicted)" "$T/train.txt" \
  && ok || bad "train --test prints no classification report"
grep -qE "^ *weighted avg +[0-9.]+ +[0-9.]+ +[0-9.]+ +50$" "$T/ev.txt" && ok || { bad "evaluate report"; cat "$T/ev.txt"; }
grep -q "Top-5" "$T/ev.txt" && bad "top-5 line with 2 classes" || ok
# the report's counts agree with predict's classes, image by image (and with scikit-learn's
# classification_report on those predictions when it is installed)
"$CLT" evaluate --model "$T/m.safetensors" --data "$DATA/test" --json >"$T/ev.json" 2>/dev/null || bad "evaluate --json"
"$CLT" predict --csv --model "$T/m.safetensors" "$DATA/test" >"$T/all.csv" 2>/dev/null || bad "predict test"
python3 - "$T/ev.json" "$T/all.csv" <<'PY' && ok || bad "evaluate's report disagrees with predict"
import csv, json, sys
d = json.load(open(sys.argv[1]))
r = d["classification_report"]
names = r["class_names"]
rows = list(csv.DictReader(open(sys.argv[2])))
yt = [names.index(row["file"].split("/")[-2]) for row in rows]
yp = [names.index(row["class"]) for row in rows]
k = len(names)
cm = [[sum(1 for a, b in zip(yt, yp) if a == t and b == p) for p in range(k)] for t in range(k)]
assert cm == r["confusion_matrix"], (cm, r["confusion_matrix"])
assert d["samples"] == len(rows) == 50
acc = sum(a == b for a, b in zip(yt, yp)) / len(rows)
assert abs(acc - r["report"]["accuracy"]) < 1e-12 and abs(acc - d["accuracy"]) < 1e-6
for c in range(k):
    tp = cm[c][c]; pred = sum(cm[t][c] for t in range(k)); sup = sum(cm[c])
    p = tp / pred if pred else 0.0
    rc = tp / sup if sup else 0.0
    e = r["report"][names[c]]
    assert abs(e["precision"] - p) < 1e-12 and abs(e["recall"] - rc) < 1e-12 and e["support"] == sup
try:
    from sklearn.metrics import classification_report
except ImportError:
    sys.exit(0)
want = classification_report(yt, yp, labels=list(range(k)), target_names=names, output_dict=True,
                             zero_division=0.0)
for key in names + ["macro avg", "weighted avg"]:
    for m in ("precision", "recall", "f1-score", "support"):
        assert abs(want[key][m] - r["report"][key][m]) < 1e-12, (key, m)
PY
"$CLT" predict --top 2 --model "$T/m.safetensors" "$DATA/test/cats" >"$T/top.txt" 2>/dev/null \
  && [ "$(grep -cE ': (cats|dogs) \([0-9.]+\), (cats|dogs) \([0-9.]+\)$' "$T/top.txt")" -eq 25 ] \
  && ok || { bad "predict --top 2"; head -3 "$T/top.txt"; }
"$CLT" predict --top 2 --csv --model "$T/m.safetensors" "$DATA/test/cats" >"$T/top.csv" 2>/dev/null \
  && head -1 "$T/top.csv" | grep -q "^file,top1,p1,top2,p2$" && [ "$(wc -l <"$T/top.csv")" -eq 26 ] \
  && ok || { bad "predict --top 2 --csv"; head -3 "$T/top.csv"; }
expect_fail "predict --top 3 of 2 classes" "--top 3.*2 classes" \
  "$CLT" predict --top 3 --model "$T/m.safetensors" "$DATA/test/cats"
expect_fail "predict --top 0" "--top" "$CLT" predict --top 0 --model "$T/m.safetensors" "$DATA/test/cats"
# more than 5 classes: top-5 accuracy (6 classes made of copies of the sample images)
for c in a b c d e f; do
  mkdir -p "$T/six/$c"
  for f in $(ls "$DATA/train/cats" | head -3); do cp "$DATA/train/cats/$f" "$T/six/$c/"; done
done
"$CLT" train --data "$T/six" "${COMMON[@]}" --epochs 1 --test "$T/six" --out "$T/six.safetensors" \
  >"$T/six.txt" 2>&1 && grep -qE "^Top-5 accuracy: [0-9.]+ \([0-9]+ of 18\)$" "$T/six.txt" \
  && ok || { bad "top-5 accuracy with 6 classes"; tail -20 "$T/six.txt"; }
"$CLT" evaluate --model "$T/six.safetensors" --data "$T/six" --json 2>/dev/null | python3 -c '
import json, sys; d = json.load(sys.stdin)["classification_report"]
assert 0 <= d["top_5_accuracy"] <= 1 and len(d["confusion_matrix"]) == 6' && ok || bad "evaluate --json top_5_accuracy"
# --class-weight: shown at the start, refused when wrong before any image is decoded
"$CLT" train --data "$DATA/train" "${COMMON[@]}" --epochs 1 --steps-per-epoch 1 \
  --class-weight balanced --out "$T/cw.safetensors" >"$T/cw.txt" 2>&1 \
  && grep -q "Class weights (training loss only, as Keras's class_weight): cats: 1, dogs: 1" "$T/cw.txt" \
  && ok || { bad "--class-weight balanced"; cat "$T/cw.txt"; }
for spec in "mice:2" "cats:0" "cats:nan" "cats" "cats:2,,dogs:1"; do
  expect_fail "--class-weight $spec" "--class-weight.*(mice|cats|empty)" \
    "$CLT" train --data "$DATA/train" "${COMMON[@]}" --epochs 1 --class-weight "$spec" --out "$T/x.safetensors"
  grep -q "Decoded" "$T/out.txt" "$T/err.txt" && bad "--class-weight $spec refused after decoding" || ok
  [ -e "$T/x.safetensors" ] && bad "--class-weight $spec left a model" || ok
done
# recorded in the checkpoint: a resume with other weights is refused
"$CLT" train --data "$DATA/train" "${COMMON[@]}" --epochs 1 --steps-per-epoch 1 --class-weight cats:2 \
  --checkpoint-dir "$T/ck_cw" --out "$T/cw2.safetensors" >/dev/null 2>&1 || bad "train --class-weight cats:2"
expect_fail "resume with other class weights" "class weights.*cats:2,dogs:1.*cats:3,dogs:1" \
  "$CLT" train --data "$DATA/train" "${COMMON[@]}" --epochs 2 --steps-per-epoch 1 --class-weight cats:3 \
  --checkpoint-dir "$T/ck_cw" --resume --out "$T/cw3.safetensors"
[ -e "$T/cw3.safetensors" ] && bad "refused resume left a model" || ok

echo "cli: $checks checks, $fails failed"
[ $fails -eq 0 ]
