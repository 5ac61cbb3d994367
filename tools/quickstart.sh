#!/usr/bin/env bash
# Quick start: installs what is missing, builds cltrain, and trains the original
# project's Model 2 on the bundled sample set (data/catdog-mini) on the default device.
# Extra arguments go to `cltrain train` (e.g. --epochs 10 --device 0:0).
set -eu
cd "$(dirname "$0")/.."
tools/install_deps.sh
[ -f build/build.ninja ] || meson setup build
meson compile -C build
mkdir -p out
./build/src/cltrain train \
  --data data/catdog-mini/train --validation data/catdog-mini/validation \
  --test data/catdog-mini/test \
  --model model2 --input 112x112 --batch-size 32 --lr 1e-4 --augment seed --epochs 5 \
  --seed 1 --out out/model2.safetensors --history out/history.csv --plot out/history.svg "$@"
