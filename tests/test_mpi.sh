#!/usr/bin/env bash
# Data-parallel training over MPI ranks (docs/SCALING.md), `mpirun --oversubscribe -np 2` on
# one machine, two PoCL devices (POCL_DEVICES="pthread pthread", set by tests/meson.build):
#  1. step losses: 1 rank vs 2 (test_multidev_tool steps), the first 20 within 1e-5 relative;
#  2. cltrain train: 2 ranks vs one device (weights within 1e-4), 2 ranks the same bits as
#     --devices 0:0,0:1 in one process, 2 ranks x 2 devices (4 replicas), rank 0 alone
#     prints and writes; validation sharded over the ranks (the history within 1e-5), --test
#     too (the same report);
#     --sync-bn across ranks as one device;
#  3. --resume with another rank count (2 -> 1 and 1 -> 2);
#  4. faults: ranks with other options (named, exit 2, nothing written); a rank killed
#     mid-run (the job ends within 60 s naming it, the checkpoint intact); a rank that
#     hangs (the watchdog, CLTRAIN_MPI_TIMEOUT, ends the others).
# A build without MPI: started under mpirun (or with OMPI_COMM_WORLD_SIZE=2 when there is
# no mpirun) it is refused with exit 2 and how to get MPI; the rest is skipped.
# Skipped (77) without mpirun in an MPI build.
# Usage: test_mpi.sh CLTRAIN TEST_MULTIDEV_TOOL DATA_DIR
set -u
CLT=$1 TOOL=$2 DATA=$3
. "$(dirname "$0")/lib.sh"
export POCL_DEVICES="${POCL_DEVICES:-pthread pthread}"
unset CLTRAIN_DEVICE CLTRAIN_DEVICES CLTRAIN_MPI_TIMEOUT
T=$(mktemp -d /tmp/cltrain-mpi-XXXXXX)
trap 'rm -rf "$T"' EXIT
B=(--data "$DATA/catdog-mini/train" --model 'conv4:3:relu,flatten,dense1' --input 16x16 --batch-size 8 --epochs 1)

has_mpi=0
ldd "$CLT" 2>/dev/null | grep -q 'libmpi' && has_mpi=1
MPIRUN=()
if command -v mpirun >/dev/null; then
  MPIRUN=(mpirun --oversubscribe)
  [ "$(id -u)" -eq 0 ] && MPIRUN+=(--allow-run-as-root)
fi

if [ $has_mpi -eq 0 ]; then # the refusal of a build without MPI, then nothing more to test
  if [ ${#MPIRUN[@]} -gt 0 ]; then L=("${MPIRUN[@]}" -np 2); else L=(env OMPI_COMM_WORLD_SIZE=2); fi
  "${L[@]}" "$CLT" train "${B[@]}" --out "$T/m.safetensors" >"$T/no.out" 2>"$T/no.err"
  rc=$?
  [ $rc -eq 2 ] && grep -q "this build has no MPI: install Open MPI (Debian: sudo apt-get install openmpi-bin libopenmpi-dev" "$T/no.err" \
    && grep -q -- "-Dmpi=enabled" "$T/no.err" && [ ! -e "$T/m.safetensors" ] && ok \
    || { bad "a build without MPI under ${L[*]}: exit $rc"; cat "$T/no.err"; }
  echo "mpi (build without MPI): $checks checks, $fails failed"
  [ $fails -eq 0 ]
  exit
fi
if [ ${#MPIRUN[@]} -eq 0 ]; then
  echo "SKIP: no mpirun (Debian: openmpi-bin)"
  exit 77
fi
# Open MPI's own allocations at exit are no leak of ours (the non-MPI tests check those)
case "${ASAN_OPTIONS:-}" in *detect_leaks=1*) export ASAN_OPTIONS="${ASAN_OPTIONS/detect_leaks=1/detect_leaks=0}" ;; esac
M2=("${MPIRUN[@]}" -np 2)
# containers often forbid the cross-process copies (ptrace) of Open MPI's shared memory
export OMPI_MCA_btl_vader_single_copy_mechanism=none

# 1. per-step losses, 1 rank vs 2 ranks
"$TOOL" steps "$DATA" "$T/s1.txt" >"$T/s1.log" 2>&1 || { bad "steps, 1 rank"; cat "$T/s1.log"; }
"${M2[@]}" "$TOOL" steps "$DATA" "$T/s2.txt" >"$T/s2.log" 2>&1 || { bad "steps, 2 ranks"; cat "$T/s2.log"; }
if [ -s "$T/s1.txt" ] && [ "$(wc -l <"$T/s2.txt" 2>/dev/null)" -eq 20 ]; then
  paste "$T/s1.txt" "$T/s2.txt" | awk '{ d = $1 - $2; if (d < 0) d = -d; r = d / ($1 < 0 ? -$1 : $1);
      if (r > w) w = r } END { printf "2 ranks vs 1: first 20 step losses within %.2e relative\n", w;
      exit !(NR == 20 && w <= 1e-5) }' && ok || bad "step losses of 2 ranks differ from 1"
else
  bad "no step losses written"
fi

# 2. the command line: 200 images at batch 15 (split 8 + 7), dropout, augmentation
R=(--data "$DATA/catdog-mini/train" --model 'conv6:3:relu,pool2,flatten,dropout0.3,dense8:relu,dense1'
   --input 20x20 --batch-size 15 --seed 3 --workers 1 --augment seed --epochs 2)
"$CLT" train "${R[@]}" --out "$T/one.safetensors" >"$T/one.txt" 2>&1 || { bad "one device"; cat "$T/one.txt"; }
"${M2[@]}" "$CLT" train "${R[@]}" --out "$T/two.safetensors" --history "$T/two.csv" >"$T/two.txt" 2>&1 \
  || { bad "2 ranks"; cat "$T/two.txt"; }
grep -q "Data-parallel over 2 replicas (2 MPI ranks x 1 device): the global batch of 15 is split 8 + 7" "$T/two.txt" \
  && ok || { bad "2 ranks: the split is not printed"; cat "$T/two.txt"; }
[ "$(grep -c 'Epoch [12]: parameters of the 2 replicas identical, hash' "$T/two.txt")" -eq 2 ] && ok \
  || bad "2 ranks: not one parameter hash line per epoch (rank 0 alone prints)"
[ "$(grep -c '^Epoch 1/2' "$T/two.txt")" -eq 1 ] && ok || bad "2 ranks: more than one rank printed progress"
grep -q "MPI gradient sum over 2 ranks: .* ms per step" "$T/two.txt" && ok || bad "2 ranks: no allreduce figures"
"$TOOL" compare "$T/one.safetensors" "$T/two.safetensors" 1e-4 && ok || bad "2 ranks vs 1 device: weights"
"$CLT" train "${R[@]}" --devices 0:0,0:1 --out "$T/dev2.safetensors" >/dev/null 2>&1 || bad "--devices 0:0,0:1"
cmp -s "$T/dev2.safetensors" "$T/two.safetensors" && ok || bad "2 ranks are not the bits of 2 devices in one process"
"${M2[@]}" "$CLT" train "${R[@]}" --devices 0:0,0:1 --out "$T/four.safetensors" >"$T/four.txt" 2>&1 \
  || { bad "2 ranks x 2 devices"; cat "$T/four.txt"; }
grep -q "Data-parallel over 4 replicas (2 MPI ranks x 2 devices): the global batch of 15 is split 4 + 4 + 4 + 3" \
  "$T/four.txt" && ok || bad "2 ranks x 2 devices: the split is not printed"
"$TOOL" compare "$T/one.safetensors" "$T/four.safetensors" 1e-4 && ok || bad "2 ranks x 2 devices vs 1: weights"

# validation sharded over the ranks and reduced: the same history as one device
V=(--validation-split 0.2 --epochs 2 --test "$DATA/catdog-mini/test")
"$CLT" train "${R[@]}" "${V[@]}" --out "$T/v1.safetensors" --history "$T/v1.csv" >"$T/v1.txt" 2>&1 \
  || bad "validation, 1 device"
"${M2[@]}" "$CLT" train "${R[@]}" "${V[@]}" --out "$T/v2.safetensors" --history "$T/v2.csv" >"$T/v2.txt" 2>&1 \
  || { bad "validation, 2 ranks"; cat "$T/v2.txt"; }
if [ -s "$T/v1.csv" ] && [ -s "$T/v2.csv" ]; then
  # every number of every row (epoch, loss, accuracy, val_loss, val_accuracy, ...; not the time)
  paste -d, "$T/v1.csv" "$T/v2.csv" | awk -F, -v n="$(head -1 "$T/v1.csv" | awk -F, '{print NF}')" '
    NR == 1 { for (i = 1; i <= n; i++) if ($i ~ /loss|acc/) c[i] = 1; next }
    { for (i in c) { a = $i; b = $(i + n); d = a - b; if (d < 0) d = -d; s = a < 0 ? -a : a;
        if (s > 0 && d / s > w) w = d / s } }
    END { printf "validation over 2 ranks: history within %.2e relative\n", w; exit !(NR == 3 && w <= 1e-5) }' \
    && ok || { bad "2 ranks: another history with validation"; cat "$T/v1.csv" "$T/v2.csv"; }
else
  bad "validation: no history written"
fi

# --test sharded too: the same figures and class report
grep -A8 '^Test:' "$T/v1.txt" >"$T/t1.txt"
grep -A8 '^Test:' "$T/v2.txt" >"$T/t2.txt"
[ -s "$T/t1.txt" ] && cmp -s "$T/t1.txt" "$T/t2.txt" && ok \
  || { bad "--test over 2 ranks: another result"; cat "$T/t1.txt" "$T/t2.txt"; }

# --sync-bn across ranks: as one device (SGD, see test_multidev.sh)
S=(--model 'conv6:3,batchnorm:relu,pool2,flatten,dense8,batchnorm:relu,dense1' --optimizer sgd --lr 0.05)
"$CLT" train "${R[@]}" "${S[@]}" --out "$T/bn1.safetensors" >/dev/null 2>&1 || bad "batchnorm, one device"
"${M2[@]}" "$CLT" train "${R[@]}" "${S[@]}" --sync-bn --out "$T/bns.safetensors" >"$T/bns.txt" 2>&1 \
  || { bad "--sync-bn over 2 ranks"; cat "$T/bns.txt"; }
"$TOOL" compare "$T/bn1.safetensors" "$T/bns.safetensors" 1e-4 && ok || bad "--sync-bn over 2 ranks vs one device"
"${M2[@]}" "$CLT" train "${R[@]}" "${S[@]}" --out "$T/bnd.safetensors" >/dev/null 2>&1 || bad "batchnorm per rank"
"$TOOL" compare "$T/bn1.safetensors" "$T/bnd.safetensors" 1e-3 >/dev/null
[ $? -eq 1 ] && ok || bad "per-rank batchnorm should differ from one device"

# 3. resume with another rank count, at the same global batch
for k in 2to1 1to2; do
  if [ $k = 2to1 ]; then A=("${M2[@]}"); Z=(); else A=(); Z=("${M2[@]}"); fi
  "${A[@]}" "$CLT" train "${R[@]}" --epochs 1 --checkpoint-dir "$T/ck_$k" --out "$T/a_$k.safetensors" \
    >/dev/null 2>&1 || bad "$k: first epoch"
  "${Z[@]}" "$CLT" train "${R[@]}" --checkpoint-dir "$T/ck_$k" --resume --out "$T/b_$k.safetensors" \
    >"$T/r_$k.txt" 2>&1 || { bad "$k: resume"; cat "$T/r_$k.txt"; }
  grep -q "Resumed from" "$T/r_$k.txt" && ok || bad "$k: did not resume"
  "$TOOL" compare "$T/one.safetensors" "$T/b_$k.safetensors" 1e-4 && ok || bad "$k: weights"
done

# 4. faults
rm -rf "$T/bad" && mkdir "$T/bad"
"${MPIRUN[@]}" -np 1 "$CLT" train "${B[@]}" --lr 0.01 --out "$T/bad/m.safetensors" : \
  -np 1 "$CLT" train "${B[@]}" --lr 0.02 --out "$T/bad/m.safetensors" >"$T/bad.out" 2>"$T/bad.err"
rc=$?
[ $rc -eq 2 ] && grep -q "rank 1 was started with other options than rank 0: option --lr differs (rank 0 has --lr 0.01)" \
  "$T/bad.err" && [ -z "$(ls -A "$T/bad")" ] && ok || { bad "other options on rank 1: exit $rc"; cat "$T/bad.err"; }

rm -rf "$T/bad" && mkdir "$T/bad"
"${M2[@]}" "$CLT" train "${B[@]}" --batch-size 1 --out "$T/bad/m.safetensors" >"$T/bad.out" 2>"$T/bad.err"
rc=$?
[ $rc -eq 2 ] && grep -q "batch-size 1 is smaller than the 2 replicas (2 MPI ranks x 1 device): give every replica" \
  "$T/bad.err" && [ -z "$(ls -A "$T/bad")" ] && ok || { bad "a batch below the ranks: exit $rc"; cat "$T/bad.err"; }

# a rank killed mid-run: the job ends within 60 s, the launcher names the rank, no temp file
# and the last checkpoint intact
K=(--data "$DATA/catdog-mini/train" --model 'conv6:3:relu,pool2,flatten,dense1' --input 20x20
   --batch-size 15 --workers 1 --epochs 100000 --checkpoint-dir "$T/kck" --out "$T/kill.safetensors")
pick_rank1() { # PID: the pid of rank 1 among its children and grandchildren (timeout, mpirun)
  local p
  for p in $(pgrep -P "$1") $(for c in $(pgrep -P "$1"); do pgrep -P "$c"; done); do
    grep -qz "OMPI_COMM_WORLD_RANK=1" "/proc/$p/environ" 2>/dev/null && { echo "$p"; return; }
  done
}
wait_file() { local i; for i in $(seq 1 300); do [ -e "$1" ] && return 0; sleep 0.1; done; return 1; }
timeout -s KILL 90 "${M2[@]}" "$CLT" train "${K[@]}" >"$T/kill.out" 2>"$T/kill.err" &
mp=$!
wait_file "$T/kck/checkpoint.safetensors" || bad "killed rank: no checkpoint within 30 s"
victim=$(pick_rank1 $mp)
t0=$SECONDS
[ -n "$victim" ] && kill -9 "$victim"
wait $mp
rc=$?
took=$((SECONDS - t0))
[ -n "$victim" ] && [ $rc -ne 0 ] && [ $took -le 60 ] && grep -q "rank 1 .*exited on signal 9" "$T/kill.err" && ok \
  || { bad "a killed rank: exit $rc after $took s"; cat "$T/kill.err"; }
echo "a killed rank: the job ended after $took s (exit $rc)"
ls "$T/kck" | grep -q tmp && bad "killed rank: a temp file left" || ok
[ ! -e "$T/kill.safetensors" ] && ok || bad "killed rank: a model was written"
"$TOOL" compare "$T/kck/checkpoint.safetensors" "$T/kck/checkpoint.safetensors" 0 >/dev/null 2>&1 \
  && ok || bad "killed rank: the checkpoint does not load"

# a rank that hangs (stopped): the watchdog ends the others
rm -rf "$T/kck"
CLTRAIN_MPI_TIMEOUT=3 timeout -s KILL 60 "${M2[@]}" -x CLTRAIN_MPI_TIMEOUT "$CLT" train "${K[@]}" >"$T/hang.out" 2>"$T/hang.err" &
mp=$!
wait_file "$T/kck/checkpoint.safetensors" || bad "hung rank: no checkpoint within 30 s"
victim=$(pick_rank1 $mp)
t0=$SECONDS
[ -n "$victim" ] && kill -STOP "$victim"
wait $mp
rc=$?
took=$((SECONDS - t0))
[ -n "$victim" ] && kill -9 "$victim" 2>/dev/null
[ $rc -ne 0 ] && [ $took -le 30 ] && grep -q "rank 0 of 2 waited more than 3 s in" "$T/hang.err" && ok \
  || { bad "a hung rank: exit $rc after $took s"; cat "$T/hang.err"; }

echo "mpi: $checks checks, $fails failed"
[ $fails -eq 0 ]
