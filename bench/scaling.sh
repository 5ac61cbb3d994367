#!/bin/sh
# Data-parallel step time for 1, 2, ... devices (docs/SCALING.md): the same training with
# --devices 0:0, then 0:0,0:1, ... up to every device `cltrain devices` lists; prints the
# last epoch's time per step, the gradient sum's share of it and the bytes per device;
# then, with an MPI build and mpirun, the same over 1 and 2 ranks (one device each, by
# local rank; over loopback here): the sum's MPI part (MPI_Allgather) and the bytes each
# rank sends per step. RANKS: the rank counts (default "1 2").
# Usage: bench/scaling.sh [DATA_DIR] [MODEL] [INPUT] [BATCH]
# (defaults: data/catdog-mini/train model1 64x64 32). BUILD: meson build dir (build).
# Two devices on one CPU: POCL_DEVICES="pthread pthread" bench/scaling.sh
set -e
DATA=${1:-data/catdog-mini/train}
MODEL=${2:-model1}
INPUT=${3:-64x64}
BATCH=${4:-32}
CLT=${BUILD:-build}/src/cltrain
n=$("$CLT" devices --json | grep -c '"id"')
tmp=$(mktemp -d /tmp/cltrain-scaling-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
printf '%-8s %-16s %12s %12s %14s\n' devices list "ms/step" "sum ms/step" "grad MB/dev"
list=""
i=0
while [ $i -lt "$n" ]; do
  list=${list:+$list,}0:$i
  i=$((i + 1))
  "$CLT" train --data "$DATA" --model "$MODEL" --input "$INPUT" --batch-size "$BATCH" \
    --epochs 3 --seed 1 --workers 2 --devices "$list" --out "$tmp/m.safetensors" \
    >"$tmp/out.txt" 2>&1
  # the last epoch's progress line: "7/7 [====] - 1s 137ms/step - loss: ..."
  step=$(tr '\r' '\n' <"$tmp/out.txt" | grep -o '[0-9.]*ms/step' | tail -1 | sed 's|ms/step||')
  sum=$(grep -o 'Gradient sum over [0-9]* devices*: [0-9.]* ms' "$tmp/out.txt" | awk '{print $(NF-1)}')
  mb=$(grep -o '[0-9.]* MB of gradients' "$tmp/out.txt" | awk '{print $1}')
  printf '%-8s %-16s %12s %12s %14s\n' "$i" "$list" "$step" "${sum:--}" "${mb:--}"
done
# MPI ranks: mpirun -np R, one device per rank (its local rank's)
ldd "$CLT" 2>/dev/null | grep -q libmpi || { echo "(no MPI rows: this build has no MPI)"; exit 0; }
command -v mpirun >/dev/null || { echo "(no MPI rows: no mpirun)"; exit 0; }
MPIRUN="mpirun --oversubscribe"
[ "$(id -u)" -eq 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"
printf '\n%-8s %12s %12s %12s %14s\n' ranks "ms/step" "sum ms/step" "MPI ms/step" "MB sent/rank"
for r in ${RANKS:-1 2}; do
  $MPIRUN -np "$r" "$CLT" train --data "$DATA" --model "$MODEL" --input "$INPUT" \
    --batch-size "$BATCH" --epochs 3 --seed 1 --workers 2 --out "$tmp/m.safetensors" \
    >"$tmp/out.txt" 2>&1
  step=$(tr '\r' '\n' <"$tmp/out.txt" | grep -o '[0-9.]*ms/step' | tail -1 | sed 's|ms/step||')
  sum=$(grep -o 'Gradient sum over [0-9]* devices*: [0-9.]* ms' "$tmp/out.txt" | awk '{print $(NF-1)}')
  mpi=$(grep -o 'MPI gradient sum over [0-9]* ranks: [0-9.]* ms' "$tmp/out.txt" | awk '{print $(NF-1)}')
  mb=$(grep -o '[0-9.]* MB sent per step' "$tmp/out.txt" | awk '{print $1}')
  printf '%-8s %12s %12s %12s %14s\n' "$r" "$step" "${sum:--}" "${mpi:--}" "${mb:--}"
done
