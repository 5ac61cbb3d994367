#!/usr/bin/env bash
# The GPU path on a lent NVIDIA machine, in one call (kept under 8 minutes).
#
#   tools/gpu_check.sh prepare   # HERE: build, and gather binaries, the libraries the device
#                                # machine lacks (ICD loader, CLBlast, libpng, libjpeg-turbo,
#                                # cJSON) and the training images into gpu-carry/ (git-ignored)
#   tools/gpu_check.sh run       # THERE, through the device tool with carry: ["gpu-carry"]
#
# `run` uses NVIDIA's OpenCL driver (libnvidia-opencl.so.1) through an .icd file in a
# temporary OCL_ICD_VENDORS folder, then runs cldevices, cltrain selftest, the training
# benchmark with --profile, and PyTorch CUDA (present there) on the same model. Everything it
# prints also goes to $OUT/gpu_check.log.
set -u
cd "$(dirname "$0")/.."
CARRY=gpu-carry

prepare() {
  set -e
  meson setup build-gpu --buildtype=release >/dev/null 2>&1 || true
  meson compile -C build-gpu
  rm -rf "$CARRY"
  mkdir -p "$CARRY/bin" "$CARRY/lib" "$CARRY/data"
  cp build-gpu/src/cltrain build-gpu/tools/cldevices "$CARRY/bin/"
  [ -f build-gpu/tools/bench_layers ] && cp build-gpu/tools/bench_layers "$CARRY/bin/"
  # Libraries not in a CUDA image: copy the real files under their sonames.
  for so in $(ldd build-gpu/src/cltrain | awk '/=>/ {print $3}'); do
    case "$(basename "$so")" in
      libOpenCL.so*|libclblast.so*|libpng16.so*|libturbojpeg.so*|libcjson.so*)
        cp -L "$so" "$CARRY/lib/$(basename "$so")" ;;
    esac
  done
  cp bench/peer_torch.py bench/model2_flops.py "$CARRY/"
  local src=../shared/data/catdog/train
  [ -d "$src" ] && cp -r "$src" "$CARRY/data/train"
  du -sh "$CARRY"
  echo "prepared $CARRY: now call the device tool with carry [\"$CARRY\"] and command 'tools/gpu_check.sh run'"
}

run() {
  local out=${OUT:-/tmp/gpu_check_out}
  mkdir -p "$out"
  exec > >(tee "$out/gpu_check.log") 2>&1
  echo "== 1. NVIDIA OpenCL driver"
  local lib=""
  for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/local/nvidia/lib64 /usr/local/nvidia/lib \
           /usr/lib /usr/local/cuda/lib64 /usr/local/cuda/compat; do
    for f in "$d"/libnvidia-opencl.so.1 "$d"/libnvidia-opencl.so.*; do
      [ -e "$f" ] && { lib=$f; break 2; }
    done
  done
  [ -n "$lib" ] || lib=$(ldconfig -p 2>/dev/null | awk '/libnvidia-opencl.so/ {print $NF; exit}')
  [ -n "$lib" ] || lib=$(find / -xdev -name 'libnvidia-opencl.so*' 2>/dev/null | head -n 1)
  if [ -z "$lib" ]; then
    echo "libnvidia-opencl.so.1 NOT FOUND: this machine's driver ships no OpenCL ICD."
    nvidia-smi 2>&1 | head -n 15
    ls /usr/local/nvidia/lib64 2>/dev/null | head -n 50
    return 3
  fi
  echo "found $lib"
  local vend
  vend=$(mktemp -d)
  echo "$lib" > "$vend/nvidia.icd"
  export OCL_ICD_VENDORS=$vend
  export LD_LIBRARY_PATH="$PWD/$CARRY/lib:$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export CLTRAIN_CACHE_DIR=/tmp/cltrain-cache
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
  local B=$CARRY/bin
  echo "== 2. cldevices"
  timeout 60 "$B/cldevices" || return 4
  timeout 60 "$B/cldevices" --json > "$out/cldevices.json"
  echo "== 3. selftest (cold, then warm: the second must be all from cache)"
  timeout 180 "$B/cltrain" selftest || echo "SELFTEST FAILED"
  timeout 60 "$B/cltrain" selftest | tail -n 2
  echo "== 4. model step, synthetic data, batch 64"
  timeout 120 "$B/cltrain" bench step --steps 50 || echo "bench step failed"
  [ -x "$B/bench_layers" ] && timeout 120 "$B/bench_layers"
  echo "== 5. training, Model 2, batch 64, 2000 images, seed augmentation, 3 epochs, --profile"
  timeout 240 "$B/cltrain" train --data "$CARRY/data/train" --model model2 --batch-size 64 \
    --lr 1e-4 --augment seed --epochs 3 --workers 12 --history "$out/gpu_history.csv" --profile \
    || echo "train failed"
  echo "== 6. PyTorch CUDA eager, same model"
  timeout 120 python3 "$CARRY/peer_torch.py" step --device cuda --steps 50
  timeout 180 python3 "$CARRY/peer_torch.py" epoch --device cuda --data "$CARRY/data/train" \
    --epochs 3 --workers 12
  echo "== done"
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: tools/gpu_check.sh prepare|run"; exit 2 ;;
esac
