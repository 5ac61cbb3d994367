#!/usr/bin/env bash
# A run whose conv workspace is refused (an allocation failure under memory pressure) runs
# the direct kernels and tunes for itself, but must leave the tuning file's entries as they
# were: the runs after it would otherwise read the direct kernel from the file and stay
# slow until the kernels change (src/tune/tune.c, ct_tune_items).
#  1. `cltrain tune` on a fresh cache writes the tuning file;
#  2. the same with the k-th clCreateBuffer failing (CLTRAIN_FAULT), for every k until one
#     of them is the workspace's (its warning: "runs the direct kernels"): that run must
#     say the file keeps its entry, and the file must be byte-identical afterwards;
#  3. a normal run after it reads the file without tuning anything.
# Usage: test_tune_keep.sh CLTRAIN CLDEVICES
set -u
CLT=$1
CLD=$2
if ! "$CLD" --json | grep -q '"id"'; then
  echo "SKIP: no OpenCL device"
  exit 77
fi
T=$(mktemp -d /tmp/cltrain-tunekeep-XXXXXX)
trap 'rm -rf "$T"' EXIT
unset CLTRAIN_FAULT CLTRAIN_FAULT_COUNT CLTRAIN_DETERMINISTIC CLTRAIN_CONV
export CLTRAIN_CACHE_DIR=$T/cache
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
A=(tune --model 'conv8:3:relu,pool2,conv8:3:relu,flatten,dense1' --input 24x24 --batch-size 4)
if ! "$CLT" "${A[@]}" >"$T/t0.txt" 2>&1; then bad "first tune"; cat "$T/t0.txt"; fi
f=
for g in "$CLTRAIN_CACHE_DIR"/tune-*.txt; do [ -f "$g" ] && f=$g && break; done
if [ -z "$f" ] || ! grep -q "conv.forward" "$f"; then
  bad "no tuning file with conv entries"; cat "$T/t0.txt"; exit 1
fi
cp "$f" "$T/before.txt"
found=0
for k in $(seq 1 40); do
  CLTRAIN_FAULT=clCreateBuffer:$k "$CLT" "${A[@]}" >"$T/k.txt" 2>&1
  if grep -q "runs the direct kernels" "$T/k.txt"; then
    found=1
    echo "clCreateBuffer #$k is a conv workspace"
    break
  fi
done
if [ $found -eq 0 ]; then
  bad "no clCreateBuffer among the first 40 was a conv workspace"
else
  if grep -q "the file keeps it" "$T/k.txt"; then
    ok "the run says the file keeps its entry"
  else
    bad "no 'the file keeps it' warning"; cat "$T/k.txt"
  fi
  if cmp -s "$f" "$T/before.txt"; then
    ok "tuning file unchanged by the run without a workspace"
  else
    bad "the run without a workspace rewrote the tuning file"; diff "$T/before.txt" "$f"
  fi
fi
"$CLT" "${A[@]}" >"$T/t2.txt" 2>&1 || bad "tune after"
if grep -qE "Tuning kernels|Tuned [0-9]+ op shapes|does not fit" "$T/t2.txt"; then
  bad "the run after tuned again"; cat "$T/t2.txt"
else
  ok "the run after reads the file as it was"
fi
echo "tune_keep: $fails failed"
[ $fails -eq 0 ]
