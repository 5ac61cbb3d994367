#!/usr/bin/env bash
# `cltrain export` (ONNX): bad input first (clear message, non-zero exit, no file left),
# then tests/onnx_check.py: tiny models of every layer type exported and run in
# onnxruntime against cltrain predict.
# Usage: test_onnx.sh CLTRAIN CLDEVICES DATA_DIR
# Skipped (77) without an OpenCL device, without ONNX support in the build, or without
# Python's numpy, onnx and onnxruntime.
set -u
CLT=$1
CLD=$2
DATA=$3
. "$(dirname "$0")/lib.sh"
ct_need_device "$CLD"
T=$(mktemp -d /tmp/cltrain-onnx-XXXXXX)
trap 'rm -rf "$T"' EXIT

if "$CLT" export --model "$T/none" --out "$T/x.onnx" 2>&1 | grep -q "without ONNX support"; then
  echo "SKIP: this build has no ONNX export (protobuf-c / onnx.proto missing)"
  exit 77
fi
PY=${PYTHON:-python3}
if ! "$PY" -c 'import numpy, onnx, onnxruntime' 2>/dev/null; then
  echo "SKIP: numpy, onnx and onnxruntime are needed (pip install numpy onnx onnxruntime)"
  exit 77
fi

# refused NAME PATTERN ARGS...: `cltrain export ARGS` fails, its message matches PATTERN,
# and no .onnx or temp file is left.
refused() {
  local name=$1 pat=$2
  shift 2
  if "$CLT" export "$@" >"$T/out.txt" 2>"$T/err.txt"; then bad "$name: exit 0, expected an error"
  elif ! grep -qiE -- "$pat" "$T/err.txt"; then bad "$name: no '$pat' in: $(cat "$T/err.txt")"
  elif ls "$T" | grep -qE '\.onnx|\.tmp\.'; then bad "$name: a file was left: $(ls "$T")"
  else ok
  fi
}

M="$T/m.safetensors"
"$CLT" train --data "$DATA/catdog-mini/train" --model "conv4:3:relu,pool2,flatten,dense1" \
  --input 16x16 --epochs 1 --steps-per-epoch 1 --batch-size 8 --deterministic --out "$M" \
  --quiet >/dev/null 2>&1 || bad "training the small model"
refused "no --out" "--out" --model "$M"
refused "no --model" "--model" --out "$T/a.onnx"
refused "unknown option" "unknown option '--bogus'" --model "$M" --out "$T/a.onnx" --bogus
refused "missing model" "$T/missing" --model "$T/missing" --out "$T/a.onnx"
printf 'not a model' >"$T/junk.safetensors"
refused "not a model" "junk.safetensors" --model "$T/junk.safetensors" --out "$T/a.onnx"
refused "out folder missing" "does not exist" --model "$M" --out "$T/no/such/a.onnx"
refused "out is a folder" "folder" --model "$M" --out "$T"
refused "out is the model" "is the --model file" --model "$M" --out "$M"
refused "dump without images" "needs image files" --model "$M" --out "$T/a.onnx" --dump-input "$T/d.f32"
refused "unreadable image" "$T/nothing.png" --model "$M" --out "$T/a.onnx" --dump-input "$T/d.f32" "$T/nothing.png"
rm -f "$T/d.f32" "$T/d.f32.probs"
"$CLT" export --model "$M" --out "$T/a.onnx" >"$T/out.txt" 2>&1 \
  && grep -q "output 'probabilities' \[N, 2\]" "$T/out.txt" && [ -s "$T/a.onnx" ] && ok \
  || { bad "export of the small model"; cat "$T/out.txt"; }
"$CLT" export --help | grep -q "Usage: cltrain export" && ok || bad "export --help"

"$PY" "$(dirname "$0")/onnx_check.py" "$CLT" "$DATA" || bad "onnx_check.py"
echo "test_onnx: $checks checks, $fails failed"
[ "$fails" -eq 0 ]
