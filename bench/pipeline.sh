#!/bin/sh
# Runs the Keras pipeline measurement and tools/bench_pipeline on the same folder and prints the
# table with the ratio. Usage: bench/pipeline.sh [DIR] [IMAGES]
# KERAS_PYTHON: a python with tensorflow-cpu (default python3). BUILD: meson build dir (build).
set -e
DIR=${1:-../shared/data/catdog/train}
N=${2:-384}
PY=${KERAS_PYTHON:-python3}
BUILD=${BUILD:-build}
here=$(dirname "$0")
rate=$("$PY" "$here/keras_pipeline.py" "$DIR" --images "$N" | awk '/^keras_images_per_s/ {print $2}')
"$BUILD/tools/bench_pipeline" "$DIR" --images "$N" ${rate:+--keras-rate "$rate"}
