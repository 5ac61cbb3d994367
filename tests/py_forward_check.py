#!/usr/bin/env python3
"""Reads a model saved by cltrain with Python's safetensors + numpy, runs its forward
pass in plain numpy on one image, and compares with `cltrain predict` on the same image.

Usage: py_forward_check.py CLTRAIN DATA_DIR
Exits 77 (skipped) when numpy or safetensors is not installed (CI never installs them).
The image is a PNG at the model's input size, so decoding and resizing play no part.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib

try:
    import numpy as np
    from safetensors.numpy import load_file, safe_open  # noqa: F401
except ImportError:
    print("SKIP: numpy and safetensors are needed (pip install numpy safetensors)")
    sys.exit(77)


def write_png(path, img):
    """img: uint8 HxWx3. A minimal PNG writer (no PIL needed)."""
    h, w, _ = img.shape
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(h))

    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def conv2d(x, w, b, stride=1, same=False):
    """x: C,H,W; w: O,I,k,k (cross-correlation, as Keras/PyTorch)."""
    o, i, k, _ = w.shape
    c, h, wd = x.shape
    if same:
        oh, ow = -(-h // stride), -(-wd // stride)
        ph = max((oh - 1) * stride + k - h, 0)
        pw = max((ow - 1) * stride + k - wd, 0)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2)))
    else:
        oh, ow = (h - k) // stride + 1, (wd - k) // stride + 1
    cols = np.empty((i * k * k, oh * ow), dtype=np.float64)
    r = 0
    for ci in range(i):
        for dy in range(k):
            for dx in range(k):
                cols[r] = x[ci, dy:dy + stride * oh:stride, dx:dx + stride * ow:stride].reshape(-1)
                r += 1
    y = w.reshape(o, -1).astype(np.float64) @ cols + b.astype(np.float64)[:, None]
    return y.reshape(o, oh, ow)


def maxpool(x, p, s):
    c, h, w = x.shape
    oh, ow = (h - p) // s + 1, (w - p) // s + 1
    y = np.full((c, oh, ow), -np.inf)
    for dy in range(p):
        for dx in range(p):
            y = np.maximum(y, x[:, dy:dy + s * oh:s, dx:dx + s * ow:s])
    return y


def act(x, name):
    if name == "relu":
        return np.maximum(x, 0)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-x))
    if name == "softmax":
        e = np.exp(x - x.max())
        return e / e.sum()
    return x


def torch_bn_check(t, x_in, want):
    """The tensors load into PyTorch's BatchNorm2d/1d under their own names (when torch is
    installed) and give the same inference output."""
    try:
        import torch
    except ImportError:
        return
    c = t["weight"].size
    bn = (torch.nn.BatchNorm2d if x_in.ndim == 3 else torch.nn.BatchNorm1d)(c, eps=1e-3,
                                                                           momentum=0.01)
    # strict: PyTorch fills in the num_batches_tracked the file does not have
    bn.load_state_dict({k: torch.from_numpy(v) for k, v in t.items()}, strict=True)
    bn.eval().double()
    with torch.no_grad():
        got = bn(torch.from_numpy(np.ascontiguousarray(x_in))[None]).numpy()[0]
    if not np.allclose(got, want, rtol=1e-9, atol=1e-9):
        print("FAIL: PyTorch's BatchNorm on the saved tensors differs from the numpy forward")
        sys.exit(1)


def forward(spec, tensors, x):
    """Follows the spec grammar of docs/ARCHITECTURE.md; the last dense gives logits."""
    toks = spec.split(",")
    for li, tok in enumerate(toks):
        parts = tok.split(":")
        head = parts[0]
        if head.startswith("conv"):
            k = int(parts[1])
            stride, same, a = 1, False, "linear"
            for p in parts[2:]:
                if p.startswith("s") and p[1:].isdigit():
                    stride = int(p[1:])
                elif p in ("same", "valid"):
                    same = p == "same"
                else:
                    a = p
            x = act(conv2d(x, tensors[f"layers.{li}.weight"], tensors[f"layers.{li}.bias"], stride, same), a)
        elif head.startswith("pool"):
            p = int(head[4:])
            s = p
            for q in parts[1:]:
                if q.startswith("s"):
                    s = int(q[1:])
            x = maxpool(x, p, s)
        elif head == "flatten":
            x = x.reshape(-1)  # channel-major (NCHW), as documented
        elif head.startswith("dense"):
            a = parts[1] if len(parts) > 1 else "linear"
            w = tensors[f"layers.{li}.weight"].astype(np.float64)
            x = w @ x.reshape(-1) + tensors[f"layers.{li}.bias"]
            if li < len(toks) - 1:
                x = act(x, a)
        elif head == "batchnorm":
            # inference: the moving statistics (Keras BatchNormalization, epsilon 1e-3)
            t = {k: tensors[f"layers.{li}.{k}"].astype(np.float64)
                 for k in ("weight", "bias", "running_mean", "running_var")}
            shape = (-1, 1, 1) if x.ndim == 3 else (-1,)
            x_in = x
            x = ((x - t["running_mean"].reshape(shape)) / np.sqrt(t["running_var"].reshape(shape) + 1e-3)
                 * t["weight"].reshape(shape) + t["bias"].reshape(shape))
            torch_bn_check(t, x_in, x)
            x = act(x, parts[1] if len(parts) > 1 else "linear")
        elif head.startswith("dropout"):
            pass  # identity at inference
        elif head in ("relu", "sigmoid", "softmax"):
            x = act(x, head)
        else:
            raise ValueError(f"unknown token {tok}")
    logits = np.asarray(x).reshape(-1)
    return act(logits, "sigmoid") if logits.size == 1 else act(logits, "softmax")


SPECS = ("conv8:3:relu,pool2,conv16:3:s2:same:relu,pool3:s2,flatten,dense12:relu,dropout0.3,dense1",
         # batchnorm at inference: the moving statistics the training left in the file
         "conv8:3,batchnorm:relu,pool2,conv6:3,batchnorm,flatten,dense12,batchnorm:relu,dense1")


def main():
    for spec in SPECS:
        check(spec)
    print(f"py_forward: {len(SPECS)} checks, 0 failed")


def check(spec):
    cltrain, data = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "m.safetensors")
        subprocess.run([cltrain, "train", "--data", os.path.join(data, "catdog-mini", "train"),
                        "--model", spec, "--input", "40x36", "--epochs", "1",
                        "--batch-size", "16", "--steps-per-epoch", "3", "--lr", "1e-2",
                        "--seed", "5", "--out", model, "--quiet"],
                       check=True, stdout=subprocess.DEVNULL)
        with safe_open(model, "numpy") as f:
            meta = f.metadata()
        tensors = load_file(model)
        h, w, c = (int(v) for v in meta["input"].split("x"))
        classes = json.loads(meta["classes"])
        rng = np.random.default_rng(3)
        img = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        png = os.path.join(tmp, "x.png")
        write_png(png, img)
        out = subprocess.run([cltrain, "predict", "--csv", "--model", model, png], check=True,
                             capture_output=True, text=True).stdout.strip().splitlines()
        row = out[1].split(",")
        got = np.array([float(v) for v in row[2:]])
        x = img.astype(np.float32).transpose(2, 0, 1) * np.float32(1 / 255)
        p = forward(meta["spec"], tensors, x.astype(np.float64))
        want = np.array([1 - p[0], p[0]]) if p.size == 1 else p
        print(f"spec {meta['spec']}\ncltrain predict: {got}\nnumpy forward:   {want}")
        ok = np.allclose(got, want, rtol=1e-4, atol=2e-6) and row[1] == classes[int(np.argmax(want))]
        if not ok:
            print("FAIL: cltrain predict and the numpy forward pass differ")
            sys.exit(1)


if __name__ == "__main__":
    main()
