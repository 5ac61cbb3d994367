#!/usr/bin/env python3
"""python/cltrain_torch.py and python/predict_numpy.py against `cltrain predict`.

Trains two fresh models for a few steps on tiny generated class folders (every layer
token, fused activations, conv valid/same/stride, pool stride, a softmax model and a
binary one, grayscale and RGB, non-default preprocessing with featurewise statistics),
then compares the probabilities of the PyTorch module (load_state_dict strict) and of the
numpy example with `cltrain predict --csv` on the same PNGs, within 1e-5. Also: the numpy
example in docs/MODEL_FORMAT.md is the script itself, a file with a tensor missing is
refused, and ignoring the preprocessing would be caught.

Usage: test_torch_loader.py CLTRAIN SRC_DIR. Exits 77 when torch, numpy or safetensors is
missing (the numpy example also needs Pillow: that part is skipped without it).
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
    import torch
    from safetensors.numpy import load_file, save_file, safe_open
except ImportError as e:
    print(f"SKIP: torch, numpy and safetensors are needed ({e})")
    sys.exit(77)
try:
    import PIL  # noqa: F401
    HAVE_PIL = True
except ImportError:
    HAVE_PIL = False

TOL = 1e-5
checks = failures = 0


def check(ok, msg):
    global checks, failures
    checks += 1
    if not ok:
        failures += 1
        print("FAIL:", msg)


def write_png(path, img):
    """img: uint8 HxWxC (C 1 or 3)."""
    h, w, c = img.shape
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(h))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    hdr = struct.pack(">IIBBBBB", w, h, 8, 2 if c == 3 else 0, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", hdr) + chunk(b"IDAT", zlib.compress(raw)) +
                chunk(b"IEND", b""))


def make_set(root, classes, h, w, c, n, rng):
    """Class folders of PNGs at the input size (so no resize plays a part); class k is
    brighter in channel k % c, so a few steps learn something."""
    files, imgs = [], []
    for k, name in enumerate(classes):
        os.makedirs(os.path.join(root, name))
        for i in range(n):
            img = rng.integers(0, 200, size=(h, w, c)).astype(np.int32)
            img[..., k % c] += 55
            p = os.path.join(root, name, f"{i:03d}.png")
            write_png(p, img.astype(np.uint8))
            files.append(p)
            imgs.append(img.astype(np.uint8))
    return files, imgs


def predict_csv(cltrain, model, files):
    out = subprocess.run([cltrain, "predict", "--csv", "--model", model] + files, check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()
    rows = {}
    for line in out[1:]:
        f = line.split(",")
        rows[f[0]] = np.array([float(v) for v in f[2:]])
    return rows


def run_case(cltrain, src, tmp, name, classes, h, w, c, spec, options):
    import cltrain_torch
    rng = np.random.default_rng(len(name))
    data = os.path.join(tmp, name)
    files, imgs = make_set(data, classes, h, w, c, 6, rng)
    model = os.path.join(tmp, name + ".safetensors")
    subprocess.run([cltrain, "train", "--data", data, "--model", spec, "--input", f"{h}x{w}",
                    "--color", "rgb" if c == 3 else "grayscale", "--epochs", "1",
                    "--batch-size", "4", "--steps-per-epoch", "3", "--lr", "1e-2", "--seed", "3",
                    "--out", model, "--quiet"] + options, check=True, stdout=subprocess.DEVNULL)
    want = predict_csv(cltrain, model, files)
    net, meta = cltrain_torch.load(model)
    print(f"{name}: spec {meta['spec']}, preprocessing "
          f"{ {k: v for k, v in meta.items() if 'wise' in k or k == 'rescale'} }")
    check(not net.training, f"{name}: load() gives a module in eval mode")
    x = np.stack([cltrain_torch.preprocess(im, meta) for im in imgs])
    with torch.no_grad():
        got = net(torch.from_numpy(x)).numpy()
    ref = np.stack([want[p] for p in files])
    d = np.abs(got - ref).max()
    print(f"{name}: torch vs cltrain predict: max |diff| {d:.3g} over {len(files)} images")
    check(got.shape == ref.shape and d <= TOL, f"{name}: torch probabilities differ by {d:.3g}")
    if HAVE_PIL:
        x2 = np.stack([cltrain_torch.load_image(p, meta) for p in files])
        check(np.array_equal(x, x2), f"{name}: load_image == preprocess of the decoded pixels")
        script = os.path.join(src, "python", "predict_numpy.py")
        dmax = 0.0
        for p in files[:: max(1, len(files) // 6)]:
            out = subprocess.run([sys.executable, script, model, p], check=True,
                                 capture_output=True, text=True).stdout.split()
            probs = np.array([float(v) for v in out[1::2]])
            check(out[0::2] == classes, f"{name}: numpy example class names {out[0::2]}")
            dmax = max(dmax, float(np.abs(probs - want[p]).max()))
        print(f"{name}: numpy example vs cltrain predict: max |diff| {dmax:.3g}")
        check(dmax <= TOL, f"{name}: numpy example probabilities differ by {dmax:.3g}")
    # The test sees preprocessing: a plain 1/255 input must give other probabilities.
    plain = {k: v for k, v in meta.items() if "wise" not in k and k != "rescale"}
    if any(meta.get(k) == "true" for k in meta if "wise" in k):
        xp = np.stack([cltrain_torch.preprocess(im, plain) for im in imgs])
        with torch.no_grad():
            dp = np.abs(net(torch.from_numpy(xp)).numpy() - ref).max()
        check(dp > 100 * TOL, f"{name}: ignoring the preprocessing changes nothing ({dp:.3g})")
    return model


def main():
    cltrain, src = sys.argv[1], sys.argv[2]
    sys.path.insert(0, os.path.join(src, "python"))
    import cltrain_torch
    with tempfile.TemporaryDirectory() as tmp:
        run_case(cltrain, src, tmp, "rgb3", ["a", "b", "c"], 12, 10, 3,
                 "conv6:3:relu,conv8:3:s2:same:sigmoid,pool2:s1,flatten,dense10:relu,dropout0.25,"
                 "dense3", ["--rescale", "1/127.5", "--samplewise-center",
                            "--featurewise-std-normalization"])
        m2 = run_case(cltrain, src, tmp, "grey2", ["no", "yes"], 9, 11, 1,
                      "conv4:2:s2:same,relu,pool2,conv3:1:linear,flatten,dense6,softmax,"
                      "dense5:sigmoid,dense1", [])
        run_case(cltrain, src, tmp, "rgb2", ["x", "y"], 10, 10, 3,
                 "conv5:3:s2:relu,conv4:3:same:relu,pool2:s2,flatten,dense1",
                 ["--samplewise-std-normalization", "--featurewise-center", "--rescale", "0.01"])
        # batchnorm after a conv and after a dense, average and global average pooling,
        # tanh and leakyrelu fused and as layers
        run_case(cltrain, src, tmp, "bn3", ["a", "b", "c"], 13, 11, 3,
                 "conv6:3:same,batchnorm:relu,avgpool2,conv5:3:tanh,batchnorm,leakyrelu0.1,"
                 "avgpool2:s1,gap,dense7:leakyrelu,batchnorm:relu,dense6:tanh,tanh,dense3", [])
        # strict: a file without one of its tensors is refused
        t = load_file(m2)
        with safe_open(m2, "numpy") as f:
            meta = f.metadata()
        del t["layers.0.bias"]
        broken = os.path.join(tmp, "broken.safetensors")
        save_file(t, broken, metadata=meta)
        try:
            cltrain_torch.load(broken)
            check(False, "a model file without layers.0.bias was loaded")
        except RuntimeError as e:
            check("layers.0.bias" in str(e), f"the missing tensor is named: {e}")
        try:
            cltrain_torch.build(dict(meta, spec="conv4:3,wibble2,dense1"))
            check(False, "an unknown layer token was accepted")
        except ValueError as e:
            check("wibble2" in str(e), f"the unknown token is named: {e}")
    # docs/MODEL_FORMAT.md shows the numpy example: it must be the tested script, verbatim
    doc = open(os.path.join(src, "docs", "MODEL_FORMAT.md")).read()
    script = open(os.path.join(src, "python", "predict_numpy.py")).read()
    check(("```python\n" + script + "```") in doc,
          "docs/MODEL_FORMAT.md's numpy example is python/predict_numpy.py verbatim")
    print(f"test_torch_loader: {checks} checks, {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
