#!/usr/bin/env bash
# Data-parallel training over several devices in one process (docs/SCALING.md), on two PoCL
# devices (POCL_DEVICES="pthread pthread", set by tests/meson.build):
#  1. the library against one device (test_multidev_tool fit: 1, 2 and 3 replicas, step
#     losses, weights, per-epoch parameter identity, determinism, checkpoints 2 -> 1, 1 -> 2);
#  2. cltrain train --devices: the split printed, a parameter hash per epoch, the model
#     within 1e-4 of one device's, CLTRAIN_DEVICES and `all` the same run, one listed device
#     the one-device run byte for byte; batchnorm per device (differs from one device) and
#     with --sync-bn (within 1e-4 of one device);
#  3. --resume with another device count (2 -> 1 and 1 -> 2);
#  4. bad lists, a share a device cannot hold and shares that fit alone but not together
#     (CPU devices share the host's memory): exit status, a message naming the option and
#     the device, no model and no checkpoint file left.
# Skipped (77) when fewer than two devices show up.
# Usage: test_multidev.sh CLTRAIN TEST_MULTIDEV_TOOL DATA_DIR
set -u
CLT=$1
TOOL=$2
DATA=$3
. "$(dirname "$0")/lib.sh"
export POCL_DEVICES="${POCL_DEVICES:-pthread pthread}"
unset CLTRAIN_DEVICE CLTRAIN_DEVICES
n=$("$CLT" devices --json 2>/dev/null | grep -c '"id"')
if [ "$n" -lt 2 ]; then
  echo "SKIP: $n OpenCL device(s) with POCL_DEVICES=\"$POCL_DEVICES\"; two are needed"
  exit 77
fi
T=$(mktemp -d /tmp/cltrain-md-XXXXXX)
trap 'rm -rf "$T"' EXIT

# 1. the library
"$TOOL" fit "$DATA" >"$T/tool.txt" 2>&1
rc=$?
cat "$T/tool.txt"
[ $rc -eq 0 ] && ok || bad "test_multidev_tool fit: exit $rc"

# 2. the command line: 100 images at batch 15 (split 8 + 7, a last batch of 10), dropout
R=(--data "$DATA/catdog-mini/train" --model 'conv6:3:relu,pool2,flatten,dropout0.3,dense8:relu,dense1'
   --input 20x20 --batch-size 15 --seed 3 --workers 2 --augment seed --epochs 2)
"$CLT" train "${R[@]}" --out "$T/one.safetensors" >"$T/one.txt" 2>&1 || { bad "one device"; cat "$T/one.txt"; }
"$CLT" train "${R[@]}" --devices 0:0,0:1 --out "$T/two.safetensors" >"$T/two.txt" 2>&1 \
  || { bad "--devices 0:0,0:1"; cat "$T/two.txt"; }
grep -q "Data-parallel over 2 devices: the global batch of 15 is split 8 + 7" "$T/two.txt" && ok \
  || bad "the split is not printed"
[ "$(grep -c 'Epoch [12]: parameters of the 2 replicas identical, hash' "$T/two.txt")" -eq 2 ] && ok \
  || { bad "no parameter hash line per epoch"; cat "$T/two.txt"; }
"$TOOL" compare "$T/one.safetensors" "$T/two.safetensors" 1e-4 && ok || bad "2 devices vs 1: weights"
CLTRAIN_DEVICES=0:0,0:1 "$CLT" train "${R[@]}" --out "$T/env.safetensors" >/dev/null 2>&1 \
  || bad "CLTRAIN_DEVICES"
cmp -s "$T/two.safetensors" "$T/env.safetensors" && ok || bad "CLTRAIN_DEVICES gives another run"
"$CLT" train "${R[@]}" --devices all --out "$T/all.safetensors" >/dev/null 2>&1 || bad "--devices all"
[ "$n" -eq 2 ] && { cmp -s "$T/two.safetensors" "$T/all.safetensors" && ok || bad "--devices all differs"; }
"$CLT" train "${R[@]}" --devices 0:0 --out "$T/single.safetensors" >/dev/null 2>&1 || bad "--devices 0:0"
cmp -s "$T/one.safetensors" "$T/single.safetensors" && ok || bad "--devices 0:0 is not the one-device run"

# batchnorm: each device normalises over its own share (docs/SCALING.md); the replicas stay equal
"$CLT" train "${R[@]}" --model 'conv6:3,batchnorm:relu,pool2,flatten,dense1' --devices 0:0,0:1 \
  --out "$T/bn.safetensors" >"$T/bn.txt" 2>&1 || { bad "batchnorm on 2 devices"; cat "$T/bn.txt"; }
[ "$(grep -c 'Epoch [12]: parameters of the 2 replicas identical' "$T/bn.txt")" -eq 2 ] && ok \
  || bad "batchnorm: no parameter hash line per epoch"

# --sync-bn: batchnorm statistics over the global batch, as on one device (SGD: the bias before
# a batchnorm has only rounding noise for a gradient, which Adam would blow up)
S=(--model 'conv6:3,batchnorm:relu,pool2,flatten,dense8,batchnorm:relu,dense1' --optimizer sgd --lr 0.05)
"$CLT" train "${R[@]}" "${S[@]}" --out "$T/bn1.safetensors" >/dev/null 2>&1 || bad "batchnorm, one device"
"$CLT" train "${R[@]}" "${S[@]}" --devices 0:0,0:1 --sync-bn --out "$T/bns.safetensors" >"$T/bns.txt" 2>&1 \
  || { bad "--sync-bn"; cat "$T/bns.txt"; }
grep -q "batchnorm statistics over the global batch (--sync-bn)" "$T/bns.txt" && ok || bad "--sync-bn not said"
"$TOOL" compare "$T/bn1.safetensors" "$T/bns.safetensors" 1e-4 && ok || bad "--sync-bn vs one device"
"$CLT" train "${R[@]}" "${S[@]}" --devices 0:0,0:1 --out "$T/bnd.safetensors" >/dev/null 2>&1 \
  || bad "batchnorm per device, SGD"
"$TOOL" compare "$T/bn1.safetensors" "$T/bnd.safetensors" 1e-3 >"$T/bnd.txt"
rc=$?
[ $rc -eq 1 ] && grep -q "max |difference|" "$T/bnd.txt" && ok \
  || { bad "per-device batchnorm should differ from one device (compare exit $rc)"; cat "$T/bnd.txt"; }

# 3. resume with another device count, at the same global batch
for k in 2to1 1to2; do
  if [ $k = 2to1 ]; then A=(--devices 0:0,0:1); B=(); else A=(); B=(--devices 0:0,0:1); fi
  "$CLT" train "${R[@]}" "${A[@]}" --epochs 1 --checkpoint-dir "$T/ck_$k" --out "$T/a_$k.safetensors" \
    >/dev/null 2>&1 || bad "$k: first epoch"
  "$CLT" train "${R[@]}" "${B[@]}" --checkpoint-dir "$T/ck_$k" --resume --out "$T/b_$k.safetensors" \
    >"$T/r_$k.txt" 2>&1 || { bad "$k: resume"; cat "$T/r_$k.txt"; }
  grep -q "Resumed from" "$T/r_$k.txt" && ok || bad "$k: did not resume"
  "$TOOL" compare "$T/one.safetensors" "$T/b_$k.safetensors" 1e-4 && ok || bad "$k: weights"
done

# 4. bad input: exit status, message, nothing written
expect_refused() { # NAME RC PATTERN CMD...: that exit status, the message, no file left
  local name=$1 want=$2 pat=$3
  shift 3
  rm -rf "$T/bad" && mkdir "$T/bad"
  "$@" --out "$T/bad/m.safetensors" --checkpoint-dir "$T/bad/ck" >"$T/bad.out" 2>"$T/bad.err"
  local rc=$?
  if [ $rc -ne "$want" ]; then
    bad "$name: exit $rc, expected $want"; cat "$T/bad.err"
  elif ! grep -qE -- "$pat" "$T/bad.err"; then
    bad "$name: the message does not match '$pat':"; cat "$T/bad.err"
  elif [ -e "$T/bad/m.safetensors" ] || [ -e "$T/bad/ck/checkpoint.safetensors" ] \
       || ls "$T/bad" "$T/bad/ck" 2>/dev/null | grep -q '\.tmp'; then
    bad "$name: left a file"; ls -laR "$T/bad"
  else
    ok
  fi
}
B=(--data "$DATA/catdog-mini/train" --model 'conv4:3:relu,flatten,dense1' --input 16x16 --batch-size 8 --epochs 1)
expect_refused "no such device" 2 "--devices 0:0,0:9: device 0:9 does not exist" "$CLT" train "${B[@]}" --devices 0:0,0:9
expect_refused "listed twice" 2 "--devices 0:1,0:1: device 0:1 is listed twice" "$CLT" train "${B[@]}" --devices 0:1,0:1
expect_refused "bad token" 2 "--devices 0:0,gpu: 'gpu' is no device" "$CLT" train "${B[@]}" --devices 0:0,gpu
expect_refused "empty entry" 2 "--devices 0:0,: '' is no device" "$CLT" train "${B[@]}" --devices 0:0,
expect_refused "--device and --devices" 2 "not both" "$CLT" train "${B[@]}" --device 0:0 --devices 0:0,0:1
expect_refused "env listed twice" 2 "CLTRAIN_DEVICES 0:0,0:0: device 0:0 is listed twice" \
  env CLTRAIN_DEVICES=0:0,0:0 "$CLT" train "${B[@]}"
expect_refused "batch below the device count" 2 "--batch-size 1 is smaller than the 2 devices of --devices 0:0,0:1" \
  "$CLT" train "${B[@]}" --devices 0:0,0:1 --batch-size 1
expect_refused "--sync-bn on one device" 2 "--sync-bn reduces batchnorm statistics across devices: it needs --devices" \
  "$CLT" train "${B[@]}" --sync-bn
# A share too big for its device, and shares that fit one by one but not together: the
# CPU devices share the host's memory, so their buffers are counted together (two
# replicas each under the limit were OOM-killed before). Bounded by an address-space
# limit, so the test neither depends on the machine's memory nor allocates much of it;
# at 1.5 GB (1098 MiB for buffers) one replica at 40 needs under 880 MiB, so two need
# more than the limit and one alone fits with a fifth to spare. Not under
# AddressSanitizer, which cannot run under ulimit -v.
if ct_asan_build "$CLT"; then
  echo "SKIP (3 checks): device memory under ulimit -v on an AddressSanitizer build"
else
  M=(--data "$DATA/catdog-mini/train" --model 'conv16:3:relu,flatten,dense1' --input 256x256 --epochs 1)
  limited() { (ulimit -v 1500000; "$@"); }
  expect_refused "share too big" 1 "--devices: device 0:0 cannot hold its share of 80 of the --batch-size 160 samples \(try --batch-size 80" \
    limited "$CLT" train "${M[@]}" --batch-size 160 --devices 0:0,0:1
  limited "$CLT" train "${M[@]}" --batch-size 40 --device 0:1 --out "$T/alone.safetensors" --checkpoint-dir "$T/alone_ck" >"$T/alone.txt" 2>&1 \
    && ok || { bad "one replica's share should fit alone under the limit (the next check means nothing)"; cat "$T/alone.txt"; }
  expect_refused "shares too big together" 1 "--devices: device 0:1 cannot hold its share of 40 of the --batch-size 80 samples \(try --batch-size 40.*CPU devices share the host's memory" \
    limited "$CLT" train "${M[@]}" --batch-size 80 --devices 0:0,0:1
fi

echo "multidev: $checks checks, $fails failed"
[ $fails -eq 0 ]
