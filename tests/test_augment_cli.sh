#!/usr/bin/env bash
# The augmentation options of `cltrain train` and `cltrain preview`: every bad value is
# refused before any image is decoded (non-zero exit, the message names the option and what is
# allowed, no output file), every option is accepted by preview, and `preview --transform`
# equals Keras's apply_transform (augment_preview_check.py; skipped without keras).
# No OpenCL device needed: train fails while parsing, preview runs on the CPU.
# Usage: test_augment_cli.sh CLTRAIN DATA_DIR
set -u
CLT=$1
IMG=$2/catdog-mini/train/cats/cat.1.jpg
DIR=$(dirname "$0")
. "$DIR/lib.sh"
T=$(mktemp -d /tmp/cltrain-augcli-XXXXXX)
trap 'rm -rf "$T"' EXIT

# refuse NAME PATTERN ARGS...: train and preview both fail with a message containing
# PATTERN, print nothing about decoding, and write no output file.
refuse() {
  local name=$1 pat=$2 cmd why
  shift 2
  local opts=("$@")
  for cmd in train preview; do
    if [ $cmd = train ]; then
      set -- train --data "$(dirname "$(dirname "$IMG")")" --out "$T/m.safetensors"
    else
      set -- preview "$IMG" --out "$T/p.png"
    fi
    why=
    "$CLT" "$@" "${opts[@]}" >"$T/out.txt" 2>"$T/err.txt" && why="exit 0"
    [ -n "$why" ] || grep -qF -- "$pat" "$T/err.txt" || why="message lacks '$pat'"
    [ -n "$why" ] || ! grep -qi "decoded" "$T/out.txt" "$T/err.txt" || why="decoded images first"
    [ -n "$why" ] || ! ls "$T"/m.safetensors "$T"/p.png >/dev/null 2>&1 || why="left an output file"
    if [ -z "$why" ]; then ok; else bad "$cmd $name: $why"; cat "$T/err.txt"; fi
  done
}
refuse "negative rotation" "--rotation-range" --rotation-range -5
refuse "non-numeric shift" "--width-shift-range" --width-shift-range abc
refuse "negative shift" "--height-shift-range" --height-shift-range -0.2
refuse "negative shear" "--shear-range" --shear-range -1
refuse "brightness 2,1" "LO must not exceed HI" --brightness-range 2,1
refuse "brightness one value" "--brightness-range" --brightness-range 1.5
refuse "zoom factor 0" "0 < LO" --zoom-range 0,1.2
refuse "zoom Z 1" "--zoom-range" --zoom-range 1
refuse "zoom Z negative" "--zoom-range" --zoom-range -0.1
refuse "unknown fill mode" "use nearest, constant, reflect or wrap" --fill-mode mirror
refuse "cval 256" "--cval" --cval 256
refuse "cval text" "--cval" --cval black
refuse "negative channel shift" "--channel-shift-range" --channel-shift-range -4
refuse "missing value" "--zoom-range" --zoom-range
refuse "bad preset" "use seed or none" --augment sead

# preview only: a bad --transform
for bad_t in "theta=3,spin=1" "zx=0" "tx" "brightness=-1"; do
  "$CLT" preview "$IMG" --out "$T/p.png" --transform "$bad_t" >"$T/out.txt" 2>"$T/err.txt"
  if [ $? -eq 2 ] && grep -qF -- "--transform" "$T/err.txt" && [ ! -e "$T/p.png" ]; then ok
  else bad "preview --transform $bad_t was not refused cleanly"; cat "$T/err.txt"; fi
done

# every option together, over the seed preset
if "$CLT" preview "$IMG" --out "$T/all.png" --n 4 --input 48x64 --augment seed \
  --rotation-range 30 --width-shift-range 0.1 --height-shift-range 3 --shear-range 8 \
  --zoom-range 0.8,1.3 --brightness-range 0.6,1.4 --channel-shift-range 20 \
  --horizontal-flip --vertical-flip --fill-mode constant --cval 128 >/dev/null 2>"$T/err.txt" &&
  [ "$(head -c 4 "$T/all.png" | tail -c 3)" = "PNG" ]; then ok
else bad "preview with every option"; cat "$T/err.txt"; fi

# a fixed transform equals Keras's apply_transform
py=$(command -v python3)
"$py" "$DIR/augment_preview_check.py" "$CLT" "$T"
rc=$?
if [ $rc -eq 0 ]; then ok
elif [ $rc -eq 77 ]; then echo "(Keras comparison skipped)"
else bad "preview --transform vs Keras"; fi

echo "test_augment_cli: $checks checks, $fails failed"
[ $fails -eq 0 ]
