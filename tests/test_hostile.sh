#!/usr/bin/env bash
# Hostile end-to-end tests of the cltrain program: outputs that would overwrite inputs or
# each other, failures found late, signals, wrong successes, long input, big batches, and
# messages that must name the option, class or tensor at fault.
# Usage: test_hostile.sh CLTRAIN CLDEVICES DATA_DIR
set -u
CLT=$1
CLD=$2
SRC=$3/catdog-mini
. "$(dirname "$0")/lib.sh"
ct_need_device "$CLD"
T=$(mktemp -d /tmp/cltrain-hostile-XXXXXX)
trap 'chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT

# A private copy of the data: the tests try to write into it.
cp -r "$SRC" "$T/data"
D=$T/data
COMMON=(--model model1 --input 48x48 --batch-size 16 --lr 1e-3 --seed 7 --workers 2)
no_tmp() { find "$T" -name '*.tmp.*' | grep -q . && bad "$1: temp files left: $(find "$T" -name '*.tmp.*')" || ok; }

# A model to work with.
"$CLT" train --data "$D/train" "${COMMON[@]}" --epochs 1 --out "$T/m.safetensors" >/dev/null 2>&1 \
  || bad "base model"

# ---- 1. never overwrite an input -------------------------------------------------
IMG=$D/train/cats/cat.1.jpg
sum_before=$(md5sum <"$IMG")
expect_early "--out inside --data" "inside the --data folder" \
  "$CLT" train --data "$D/train" "${COMMON[@]}" --epochs 1 --out "$IMG"
expect_early "--out new file inside --data" "inside the --data folder" \
  "$CLT" train --data "$D/train" "${COMMON[@]}" --epochs 1 --out "$D/train/cats/new.safetensors"
expect_early "--history inside --validation" "inside the --validation folder" \
  "$CLT" train --data "$D/train" --validation "$D/validation" "${COMMON[@]}" --epochs 1 \
  --history "$D/validation/h.csv"
expect_early "--plot inside --test" "inside the --test folder" \
  "$CLT" train --data "$D/train" --test "$D/test" "${COMMON[@]}" --epochs 1 --plot "$D/test/p.svg"
expect_early "--checkpoint-dir inside --data" "checkpoint-dir.*inside the --data folder" \
  "$CLT" train --data "$D/train" "${COMMON[@]}" --epochs 1 --checkpoint-dir "$D/train/ck/deeper"
[ -e "$D/train/ck" ] && bad "a refused --checkpoint-dir was still created in the data" || ok
ln -s "$IMG" "$T/link.safetensors"
expect_early "--out symlink to an input image" "inside the --data folder|input" \
  "$CLT" train --data "$D/train" "${COMMON[@]}" --epochs 1 --out "$T/link.safetensors"
cp "$T/m.safetensors" "$T/init.safetensors"
expect_early "--out same file as --init" "--init" \
  "$CLT" train --data "$D/train" "${COMMON[@]}" --epochs 1 --init "$T/init.safetensors" \
  --out "$T/./init.safetensors"
expect_early "preview --out is its image" "IMAGE|input" \
  "$CLT" preview "$IMG" --out "$IMG"
[ "$(md5sum <"$IMG")" = "$sum_before" ] && ok || bad "an input image was modified"
# read-only targets: refused up front, replaced with --force
cp "$T/m.safetensors" "$T/ro.safetensors"
chmod a-w "$T/ro.safetensors"
expect_early "read-only --out" "read-only.*--force" \
  "$CLT" train --data "$D/train" "${COMMON[@]}" --epochs 1 --out "$T/ro.safetensors"
"$CLT" train --data "$D/train" "${COMMON[@]}" --epochs 1 --steps-per-epoch 1 --seed 9 --force \
  --out "$T/ro.safetensors" >/dev/null 2>&1 && ! cmp -s "$T/ro.safetensors" "$T/m.safetensors" \
  && ok || bad "--force did not replace a read-only --out"
echo x >"$T/ro.png"
chmod a-w "$T/ro.png"
expect_early "preview read-only --out" "read-only" "$CLT" preview "$IMG" --out "$T/ro.png"
"$CLT" preview "$IMG" --out "$T/ro.png" --force >/dev/null 2>&1 \
  && [ "$(head -c 4 "$T/ro.png" | tail -c 3)" = "PNG" ] && ok || bad "preview --force"

# ---- 2. two outputs on one path -----------------------------------------------------
expect_early "--out = --history" "--out .* and --history .* same file" \
  "$CLT" train --data "$D/train" "${COMMON[@]}" --epochs 1 --out "$T/x" --history "$T/x"
expect_early "--history = --plot (other spelling)" "--history .* and --plot .* same file" \
  "$CLT" train --data "$D/train" "${COMMON[@]}" --epochs 1 --history "$T/y" --plot "$T/../$(basename "$T")/y"
expect_early "--out = checkpoint file" "--out .* and --checkpoint-dir .* same file" \
  "$CLT" train --data "$D/train" "${COMMON[@]}" --epochs 1 --checkpoint-dir "$T/ckx" \
  --out "$T/ckx/checkpoint.safetensors"

# ---- 3. late failures: found early, or reported at the end with the model kept --------
expect_early "--out empty" "--out" "$CLT" train --data "$D/train" "${COMMON[@]}" --epochs 1 --out ""
expect_early "--history empty" "--history" "$CLT" train --data "$D/train" "${COMMON[@]}" --epochs 1 --history ""
echo file >"$T/afile"
expect_early "--checkpoint-dir under a file" "--checkpoint-dir" \
  "$CLT" train --data "$D/train" "${COMMON[@]}" --epochs 1 --checkpoint-dir "$T/afile/ck"
expect_early "--checkpoint-dir empty" "--checkpoint-dir" \
  "$CLT" train --data "$D/train" "${COMMON[@]}" --epochs 1 --checkpoint-dir ""
expect_early "--monitor bogus" "--monitor bogus" \
  "$CLT" train --data "$D/train" "${COMMON[@]}" --epochs 1 --monitor bogus
expect_early "--monitor val_ without validation" "--monitor val_loss" \
  "$CLT" train --data "$D/train" "${COMMON[@]}" --epochs 1 --monitor val_loss
expect_early "--out into a missing folder" "--out.*does not exist" \
  "$CLT" train --data "$D/train" "${COMMON[@]}" --epochs 1 --out "$T/nope/m.safetensors"
# the history file turns into a folder after epoch 1: a warning, training goes on, the
# model is written, and the exit status says --history was not written
"$CLT" train --data "$D/train" "${COMMON[@]}" --epochs 4 --out "$T/late.safetensors" \
  --history "$T/late.csv" >"$T/late.txt" 2>&1 &
pid=$!
for _ in $(seq 1 600); do [ -f "$T/late.csv" ] && break; sleep 0.05; done
rm -f "$T/late.csv"
mkdir "$T/late.csv"
wait $pid
rc=$?
[ $rc -ne 0 ] && ok || bad "failed history write: exit 0"
[ -s "$T/late.safetensors" ] && ok || bad "failed history write: model not written"
grep -q "Epoch 4/4" "$T/late.txt" && ok || bad "failed history write stopped the training"
grep -qE "not written.*--history" "$T/late.txt" && ok || { bad "end message does not name --history"; tail -5 "$T/late.txt"; }
no_tmp "history failure"

# ---- 4. signals ------------------------------------------------------------------------
# start a long run, wait for its first checkpoint, signal it mid-epoch 2
sig_run() { # sig_run SIGNAL NAME [extra kills]
  local sig=$1 name=$2 twice=${3:-0}
  rm -rf "$T/ck_$name" "$T/$name.safetensors"
  "$CLT" train --data "$D/train" "${COMMON[@]}" --epochs 200 --checkpoint-dir "$T/ck_$name" \
    --out "$T/$name.safetensors" --history "$T/$name.csv" >"$T/$name.txt" 2>&1 &
  local pid=$!
  for _ in $(seq 1 1200); do [ -f "$T/ck_$name/checkpoint.safetensors" ] && break; sleep 0.05; done
  sleep 0.4
  kill -"$sig" $pid
  [ "$twice" = 1 ] && { sleep 0.02; kill -"$sig" $pid 2>/dev/null; }
  wait $pid
  echo $?
}
rc=$(sig_run INT int)
[ "$rc" = 130 ] && ok || { bad "SIGINT: exit $rc, expected 130"; cat "$T/int.txt"; }
grep -q "Interrupted by SIGINT at epoch [0-9]* step [0-9]*" "$T/int.txt" && ok || bad "SIGINT message"
grep -q -- "--resume" "$T/int.txt" && grep -q "end of epoch [0-9]" "$T/int.txt" && ok \
  || bad "SIGINT message does not say how to --resume from which epoch"
[ -s "$T/int.safetensors" ] && ok || bad "SIGINT: no model written"
python3 - "$T/int.safetensors" <<'EOF' && ok || bad "SIGINT: model metadata lacks interrupted"
import json, struct, sys
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
m = json.loads(b[8:8 + n])['__metadata__']
assert m['interrupted'].startswith('epoch '), m
EOF
"$CLT" evaluate --model "$T/int.safetensors" --data "$D/test" >/dev/null 2>&1 && ok \
  || bad "the interrupted model does not load"
no_tmp "SIGINT"
"$CLT" train --data "$D/train" "${COMMON[@]}" --epochs 3 --checkpoint-dir "$T/ck_int" --resume \
  --out "$T/int.safetensors" >"$T/int2.txt" 2>&1 && grep -q "Resumed from" "$T/int2.txt" && ok \
  || { bad "resume after SIGINT"; tail -3 "$T/int2.txt"; }
rc=$(sig_run TERM term)
[ "$rc" = 143 ] && ok || { bad "SIGTERM: exit $rc, expected 143"; cat "$T/term.txt"; }
[ -s "$T/term.safetensors" ] && grep -q "Interrupted by SIGTERM" "$T/term.txt" && ok || bad "SIGTERM: model or message"
no_tmp "SIGTERM"
rc=$(sig_run INT twice 1)
[ "$rc" = 130 ] && ok || bad "second SIGINT: exit $rc, expected 130"
no_tmp "second SIGINT"
# a signal before any epoch finished: the model is written, the message says no checkpoint
rm -rf "$T/ck_early"
"$CLT" train --data "$D/train" "${COMMON[@]}" --epochs 200 --checkpoint-dir "$T/ck_early" \
  --out "$T/early.safetensors" >"$T/early.txt" 2>&1 &
pid=$!
for _ in $(seq 1 1200); do grep -q "Epoch 1/" "$T/early.txt" && break; sleep 0.05; done
kill -INT $pid
wait $pid
rc=$?
[ $rc = 130 ] && grep -qE "no checkpoint|end of epoch" "$T/early.txt" && ok || { bad "early SIGINT (exit $rc)"; cat "$T/early.txt"; }
no_tmp "early SIGINT"

# ---- 5. wrong successes -------------------------------------------------------------------
mkdir -p "$T/badcls/cats" "$T/badcls/dogs"
cp "$D"/train/dogs/* "$T/badcls/dogs/"
for i in 1 2 3; do echo "not an image" >"$T/badcls/cats/c$i.jpg"; done
expect_fail "class without a readable image" "class 'cats'" \
  "$CLT" train --data "$T/badcls" "${COMMON[@]}" --epochs 1
mkdir -p "$T/junkimgs"
echo junk >"$T/junkimgs/a.jpg"
echo junk >"$T/junkimgs/b.png"
expect_fail "predict with every input skipped" "none of the 2" \
  "$CLT" predict --model "$T/m.safetensors" "$T/junkimgs"
mkdir -p "$T/noimgs"
expect_fail "predict with no image" "no .*image" "$CLT" predict --model "$T/m.safetensors" "$T/noimgs"
# a model whose first tensor holds NaN
python3 - "$T/m.safetensors" "$T/nan.safetensors" <<'EOF' || bad "could not make the NaN model"
import json, struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
name = sorted(k for k in h if k != '__metadata__')[0]
off = 8 + n + h[name]['data_offsets'][0] + 4 * 3
b[off:off + 4] = struct.pack('<f', float('nan'))
open(sys.argv[2], 'wb').write(b)
print(name, file=open(sys.argv[2] + '.name', 'w'))
EOF
tname=$(cat "$T/nan.safetensors.name")
expect_fail "evaluate a NaN model" "$tname.*(NaN|non-finite)" \
  "$CLT" evaluate --model "$T/nan.safetensors" --data "$D/test"
expect_fail "--init from a NaN model" "$tname.*(NaN|non-finite)" \
  "$CLT" train --data "$D/train" "${COMMON[@]}" --epochs 1 --init "$T/nan.safetensors"
grep -qiE "checkpoint|--lr" "$T/err.txt" && bad "--init NaN message blames lr or a checkpoint" || ok

# ---- 6. long input is never truncated -------------------------------------------------
spec="conv4:3:relu"
while [ ${#spec} -lt 2300 ]; do spec="$spec,relu"; done
spec="$spec,flatten,dense1"
"$CLT" train --data "$D/train" --model "$spec" --input 16x16 --batch-size 8 --workers 2 --epochs 1 \
  --steps-per-epoch 1 --out "$T/long.safetensors" >"$T/long.txt" 2>&1 || { bad "long spec train"; tail -3 "$T/long.txt"; }
"$CLT" evaluate --model "$T/long.safetensors" --data "$D/test" >"$T/long_ev.txt" 2>&1 \
  && ok || { bad "a model with a ${#spec}-character spec does not load"; tail -3 "$T/long_ev.txt"; }
long=$T/$(printf 'd%.0s' $(seq 1 250))/$(printf 'e%.0s' $(seq 1 250))
long=$long/$(printf 'f%.0s' $(seq 1 250))/$(printf 'g%.0s' $(seq 1 250))
mkdir -p "$long"
"$CLT" train --data "$D/train" "${COMMON[@]}" --epochs 1 --steps-per-epoch 1 --checkpoint-dir "$long" \
  --out "$long/m.safetensors" >/dev/null 2>&1 && [ -s "$long/m.safetensors" ] && [ -s "$long/checkpoint.safetensors" ] \
  && ok || bad "long output paths"

# ---- 7. batches capped at the data size ---------------------------------------------------
if command -v /usr/bin/time >/dev/null; then
  /usr/bin/time -f "%M" -o "$T/rss" "$CLT" evaluate --model "$T/m.safetensors" --data "$D/test" \
    --batch-size 65536 >/dev/null 2>&1 && [ "$(tail -1 "$T/rss")" -lt 1000000 ] && ok \
    || bad "evaluate --batch-size 65536: $(tail -1 "$T/rss") KiB"
  /usr/bin/time -f "%M" -o "$T/rss" "$CLT" train --data "$D/train" --model model1 --input 48x48 \
    --batch-size 65536 --workers 2 --epochs 1 >/dev/null 2>&1 && [ "$(tail -1 "$T/rss")" -lt 1500000 ] && ok \
    || bad "train --batch-size 65536: $(tail -1 "$T/rss") KiB"
fi

# ---- 8. messages name what differs -------------------------------------------------------------
mkdir -p "$T/birds/cats" "$T/birds/birds"
cp "$D"/test/cats/* "$T/birds/cats/"
cp "$D"/test/dogs/* "$T/birds/birds/"
expect_fail "evaluate class mismatch" "'dogs'.*'birds'|'birds'.*'dogs'" \
  "$CLT" evaluate --model "$T/m.safetensors" --data "$T/birds"
expect_fail "validation class mismatch" "'dogs'.*'birds'|'birds'.*'dogs'" \
  "$CLT" train --data "$D/train" --validation "$T/birds" "${COMMON[@]}" --epochs 1
python3 - "$T/m.safetensors" "$T/badinput.safetensors" <<'EOF' || bad "could not make the bad-input model"
import json, struct, sys
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
h['__metadata__']['input'] = '48x48x7'
hs = json.dumps(h, separators=(',', ':')).encode()
hs += b' ' * ((8 - len(hs) % 8) % 8)
open(sys.argv[2], 'wb').write(struct.pack('<Q', len(hs)) + hs + b[8 + n:])
EOF
expect_fail "bad input metadata" "metadata 'input'" \
  "$CLT" evaluate --model "$T/badinput.safetensors" --data "$D/test"

# ---- 9. already fixed, kept fixed --------------------------------------------------------------
mkdir -p "$T/loops"
cp "$D"/test/cats/cat.420*.jpg "$T/loops/"
nimg=$(ls "$T/loops" | wc -l)
ln -s . "$T/loops/a"
ln -s . "$T/loops/b"
timeout 120 "$CLT" predict --model "$T/m.safetensors" "$T/loops" >"$T/loops.txt" 2>/dev/null \
  && [ "$(grep -c ': cats\|: dogs' "$T/loops.txt")" -eq "$nimg" ] \
  && [ "$(sort "$T/loops.txt" | cut -d: -f1 | uniq -d | wc -l)" -eq 0 ] && ok \
  || bad "predict on a folder with symlinks to . ($(wc -l <"$T/loops.txt") lines for $nimg images)"
# header bytes scrambled past the SOI/APP0 marker, so libjpeg parses them: a clean error
# naming the file (and, under valgrind, no use of uninitialised memory in the decoder)
mkdir -p "$T/scr"
for seed in 1 2 3; do
  python3 - "$D/test/cats/cat.4201.jpg" "$T/scr/s$seed.jpg" "$seed" <<'EOF'
import random, sys
b = bytearray(open(sys.argv[1], 'rb').read())
r = random.Random(int(sys.argv[3]))
for i in range(20, 600):
    b[i] = r.randrange(256)
open(sys.argv[2], 'wb').write(b)
EOF
  expect_fail "scrambled JPEG header $seed" "s$seed.jpg" "$CLT" predict --model "$T/m.safetensors" "$T/scr/s$seed.jpg"
  # (not on a sanitizer build: valgrind cannot run AddressSanitizer's binaries)
  if command -v valgrind >/dev/null && ! ldd "$CLT" 2>/dev/null | grep -q libasan; then
    valgrind -q --error-exitcode=99 "$CLT" preview "$T/scr/s$seed.jpg" --out "$T/scr/g.png" >/dev/null 2>"$T/vg.txt"
    rc=$?
    [ $rc -ne 0 ] && [ $rc -ne 99 ] && grep -q "s$seed.jpg" "$T/vg.txt" && ok \
      || { bad "scrambled JPEG $seed under valgrind (exit $rc)"; head "$T/vg.txt"; }
  fi
done

# --resume refuses a changed run: another resize filter, the data swapped at the same count,
# a hand-edited checkpoint state
RS=(--data "$T/rdata" --model 'conv4:3:relu,pool2,flatten,dense1' --input 24x24 --batch-size 32
    --seed 3 --workers 1 --checkpoint-dir "$T/rck")
mkdir -p "$T/rdata/cats" "$T/rdata/dogs"
cp "$D"/train/cats/*.jpg "$T/rdata/cats/" && cp "$D"/train/dogs/*.jpg "$T/rdata/dogs/"
"$CLT" train "${RS[@]}" --epochs 1 >/dev/null 2>&1 || bad "resume base run"
expect_fail "resume with another --resize" "other settings" "$CLT" train "${RS[@]}" --epochs 2 \
  --resize bilinear --resume
# same names and count, other images: move one cat's bytes onto another's name
a=$(ls "$T/rdata/cats" | head -1); b=$(ls "$T/rdata/dogs" | head -1)
cp "$T/rdata/cats/$a" "$T/rdata/keep.jpg"; cp "$T/rdata/dogs/$b" "$T/rdata/cats/$a"
expect_fail "resume with swapped data" "other settings" "$CLT" train "${RS[@]}" --epochs 2 --resume
cp "$T/rdata/keep.jpg" "$T/rdata/cats/$a"; rm -f "$T/rdata/keep.jpg"
python3 - "$T/rck/checkpoint.safetensors" <<'PYEOF'
import json, struct, sys
p = sys.argv[1]
b = open(p, "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
st = json.loads(h["__metadata__"]["state"])
st["epochs_done"] = -5
h["__metadata__"]["state"] = json.dumps(st)
hb = json.dumps(h).encode()
hb += b" " * (-len(hb) % 8)
open(p, "wb").write(struct.pack("<Q", len(hb)) + hb + b[8 + n:])
PYEOF
expect_fail "resume from a checkpoint with epochs_done -5" "epochs_done" "$CLT" train "${RS[@]}" \
  --epochs 2 --resume
grep -q "Epoch -4" "$T/out.txt" && bad "printed Epoch -4" || ok

# an over-long cache folder is not cut short (another folder) but not used, with a warning
long=$T/$(printf 'c%.0s' $(seq 1 4100))
CLTRAIN_CACHE_DIR=$long "$CLT" selftest >"$T/lc.txt" 2>&1 && grep -q "more than the .* allowed" "$T/lc.txt" \
  && ok || { bad "over-long CLTRAIN_CACHE_DIR"; tail -3 "$T/lc.txt"; }

no_tmp "all"
echo "hostile: $checks checks, $fails failed"
[ $fails -eq 0 ]
