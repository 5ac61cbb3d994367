#!/usr/bin/env bash
# Device memory is checked in total, not only per buffer: on the CPU device under an
# address-space limit (ulimit -v), a batch whose buffers each fit but whose sum does not
# gets a clear error naming the tensor and suggesting a smaller batch (PoCL aborted with
# "mem_ptr != NULL" before). Not under AddressSanitizer, which cannot run under ulimit -v.
# Usage: test_limits.sh CLTRAIN CLDEVICES DATA_DIR
set -u
CLT=$1
CLD=$2
DATA=$3/catdog-mini
. "$(dirname "$0")/lib.sh"
if ! "$CLD" --json | grep -Eq '"type":[[:space:]]*"CPU"'; then
  echo "SKIP: needs the CPU (PoCL) device"
  exit 77
fi
if ct_asan_build "$CLT"; then
  echo "SKIP: AddressSanitizer build (it cannot run under ulimit -v)"
  exit 77
fi
T=$(mktemp -d /tmp/cltrain-limits-XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
(ulimit -v 1500000; CLTRAIN_DEVICE= "$CLT" train --data "$DATA/train" --model model2 --input 136x136 \
  --batch-size 200 --epochs 1 --out "$T/m.safetensors") >"$T/out.txt" 2>&1
rc=$?
if [ $rc -eq 0 ] || [ $rc -ge 128 ]; then
  echo "FAIL: expected a clean error exit, got $rc"; cat "$T/out.txt"; fails=1
fi
grep -q "would bring this run's device memory" "$T/out.txt" && grep -q "smaller --batch-size" "$T/out.txt" \
  || { echo "FAIL: no total-memory message"; cat "$T/out.txt"; fails=1; }
[ -e "$T/m.safetensors" ] && { echo "FAIL: a model was written"; fails=1; }
echo "limits: $fails failed"
[ $fails -eq 0 ]
