#!/usr/bin/env python3
"""safetensors interoperability, both ways, with Python's safetensors.numpy.

usage: st_interop.py TOOL DIR
  TOOL: the st_interop_tool binary (writes/reads the reference file with cltrain)
  DIR:  a folder for the two files
Exits 77 (skipped) when numpy or safetensors is not installed (CI has no Python
packages); `pip install safetensors numpy` to run it.
"""
import os
import subprocess
import sys

try:
    import numpy as np
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file
except ImportError as e:
    print(f"SKIP: {e}; pip install safetensors numpy to run this test")
    sys.exit(77)

META = {
    "spec": "conv32:3:relu,pool2,flatten,dense1",
    "classes": '["cat", "dög"]',
    "note": 'line1\nline2 "quoted"',
}


def reference():
    """The tensors st_interop_tool.c writes and expects."""
    return {
        "f32": (np.arange(24, dtype=np.float32) * np.float32(0.5) - np.float32(3)).reshape(2, 3, 4),
        "f64": np.arange(5, dtype=np.float64) / 3.0,
        "f16": np.array([0.5, -2.0, 65504.0, 2.0**-24, -0.0, 1.5], dtype=np.float16),
        "i64": np.array([-5, 0, 10**12, -(2**62)], dtype=np.int64),
        "i32": (np.arange(4, dtype=np.int32) * -7).reshape(2, 2),
        "u8": ((np.arange(7) * 37) % 256).astype(np.uint8),
        "bool": np.array([True, False, True]),
        "scalar": np.array(42.0, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
    }


def main():
    tool, folder = sys.argv[1], sys.argv[2]
    os.makedirs(folder, exist_ok=True)
    ref = reference()
    failures = 0

    # Python writes, cltrain reads.
    py_file = os.path.join(folder, "interop_from_python.safetensors")
    save_file(ref, py_file, metadata=META)
    r = subprocess.run([tool, "read", py_file])
    if r.returncode != 0:
        print("FAIL: cltrain could not read the file Python wrote")
        failures += 1

    # cltrain writes, Python reads (load_file validates the layout strictly).
    c_file = os.path.join(folder, "interop_from_cltrain.safetensors")
    r = subprocess.run([tool, "write", c_file])
    if r.returncode != 0:
        print("FAIL: cltrain could not write the reference file")
        return 1
    got = load_file(c_file)
    if sorted(got) != sorted(ref):
        print(f"FAIL: tensors {sorted(got)} != {sorted(ref)}")
        failures += 1
    for name, want in ref.items():
        g = got.get(name)
        if g is None or g.dtype != want.dtype or g.shape != want.shape or not np.array_equal(g, want):
            print(f"FAIL: tensor {name}: got {g!r}, want {want!r}")
            failures += 1
    if not np.array_equal(np.signbit(got["f16"]), np.signbit(ref["f16"])):
        print("FAIL: f16 signs differ")
        failures += 1
    with safe_open(c_file, framework="numpy") as f:
        if f.metadata() != META:
            print(f"FAIL: metadata {f.metadata()!r} != {META!r}")
            failures += 1

    for p in (py_file, c_file):
        os.remove(p)
    print(f"st_interop: {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
