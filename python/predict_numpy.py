"""cltrain predict in numpy: python3 predict_numpy.py MODEL.safetensors IMAGE (docs/MODEL_FORMAT.md)."""
import json, sys
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view as windows
from PIL import Image
from safetensors.numpy import load_file, safe_open

path, image = sys.argv[1], sys.argv[2]
with safe_open(path, "numpy") as f:
    meta = f.metadata()
t, f32, on = load_file(path), np.float32, lambda k: meta.get(k) == "true"
h, w, c = (int(v) for v in meta["input"].split("x"))
im = Image.open(image).convert("L" if c == 1 else "RGB")
if im.size != (w, h):  # the file's filter: nearest, bilinear or area (Pillow's BOX)
    im = im.resize((w, h), {"nearest": 0, "bilinear": 2, "area": 4}[meta.get("resize", "nearest")])
x = np.asarray(im, f32).reshape(h, w, c).transpose(2, 0, 1) * f32(meta.get("rescale", 1 / 255))
if on("samplewise_center"): x = x - f32(x.mean(dtype=np.float64))
if on("samplewise_std_normalization"): x = x / (f32(x.std(dtype=np.float64)) + f32(1e-6))
if on("featurewise_center"): x = x - f32(json.loads(meta["featurewise_mean"]))[:, None, None]
if on("featurewise_std_normalization"): x = x / (f32(json.loads(meta["featurewise_std"]))[:, None, None] + f32(1e-6))
act = {"relu": lambda v: np.maximum(v, 0), "sigmoid": lambda v: 1 / (1 + np.exp(-v)), "tanh": np.tanh,
       "softmax": lambda v: np.exp(v - v.max()) / np.exp(v - v.max()).sum(), "linear": lambda v: v}
fn = lambda a: (lambda v: np.where(v > 0, v, f32(a[9:]) * v)) if a.startswith("leakyrelu") else act[a]
isact = lambda a: a in act or a.startswith("leakyrelu")
toks = meta["spec"].split(",")
for i, tok in enumerate(toks):
    head, *opt = tok.split(":")
    s = next((int(o[1:]) for o in opt if o[:1] == "s" and o[1:].isdigit()), None)
    if head.startswith("conv"):  # weight OIHW; "same" pads as Keras (extra row/column last)
        k, s, W = int(opt[0]), s or 1, t[f"layers.{i}.weight"]
        if "same" in opt:
            ph, pw = (max((-(-n // s) - 1) * s + k - n, 0) for n in x.shape[1:])
            x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2)))
        y = np.einsum("chwij,ocij->ohw", windows(x, (k, k), axis=(1, 2))[:, ::s, ::s], W)
        x = fn(opt[-1] if isact(opt[-1]) else "linear")(y + t[f"layers.{i}.bias"][:, None, None])
    elif head.startswith("pool") or head.startswith("avgpool"):  # valid windows, stride = size
        p = int(head.lstrip("avgpol"))
        v = windows(x, (p, p), axis=(1, 2))[:, ::s or p, ::s or p]
        x = v.max(axis=(3, 4)) if head[0] == "p" else v.mean(axis=(3, 4), dtype=f32)
    elif head == "gap":
        x = x.mean(axis=(1, 2), dtype=f32)
    elif head == "batchnorm":  # moving statistics; per channel of an image or unit of a vector
        g, b, m, v = (t[f"layers.{i}.{k}"] for k in ("weight", "bias", "running_mean", "running_var"))
        e = (slice(None),) + (None,) * (x.ndim - 1)
        x = fn(opt[0] if opt else "linear")((x - m[e]) / np.sqrt(v[e] + f32(1e-3)) * g[e] + b[e])
    elif head == "flatten":
        x = x.reshape(-1)  # channel-major (C, H, W)
    elif head.startswith("dense"):  # weight [out][in]; the last one gives the logits
        x = t[f"layers.{i}.weight"] @ x + t[f"layers.{i}.bias"]
        x = fn(opt[0])(x) if opt and i < len(toks) - 1 else x
    elif isact(head):
        x = fn(head)(x)  # dropout: nothing at inference
z = x.reshape(-1)
probs = [1 - act["sigmoid"](z[0]), act["sigmoid"](z[0])] if z.size == 1 else act["softmax"](z)
for name, p in zip(json.loads(meta["classes"]), probs):
    print(f"{name} {p:.9f}")
