#!/bin/sh
# python/cltrain_torch.py (and the numpy example of docs/MODEL_FORMAT.md) against
# `cltrain predict`: tests/test_torch_loader.py. Usage: test_torch_loader.sh CLTRAIN SRC_DIR
# Exits 77 (skipped) when torch, numpy or safetensors is missing from the python3 on PATH
# (or $PYTHON).
set -u
py=${PYTHON:-python3}
if ! "$py" -c 'import numpy, torch, safetensors' 2>/dev/null; then
    echo "SKIP: $py lacks torch, numpy or safetensors (pip install torch numpy safetensors)"
    exit 77
fi
exec "$py" "$(dirname "$0")/test_torch_loader.py" "$@"
