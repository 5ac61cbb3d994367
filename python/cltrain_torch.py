"""Load a cltrain model file into PyTorch.

    import cltrain_torch
    model, meta = cltrain_torch.load("model.safetensors")      # torch.nn.Module, eval mode
    x = cltrain_torch.load_image("cat.png", meta)              # float32 (C, H, W), preprocessed
    probs = model(torch.from_numpy(x)[None])                    # (1, classes), as `cltrain predict`

The network is built from the file's `spec` metadata, one table entry per layer token
(LAYERS below: a new layer type adds one entry), and the weights are loaded with
load_state_dict(strict=True): every tensor of the file must be used and every parameter
filled. The module's output is the class probabilities: sigmoid of the one logit as
[1 - p, p] for a binary model, else softmax. `preprocess` applies the file's preprocessing
(rescale, samplewise/featurewise standardization; docs/MODEL_FORMAT.md) exactly as cltrain
does. Needs torch, numpy and safetensors (Pillow for load_image).
"""
import json

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import load_file, safe_open

__all__ = ["load", "build", "read_metadata", "preprocess", "load_image", "Preprocessing", "LAYERS"]

ACTS = {"relu": torch.relu, "sigmoid": torch.sigmoid, "softmax": lambda x: torch.softmax(x, 1),
        "linear": lambda x: x, "tanh": torch.tanh}


def _act_fn(name):
    """An activation by its token: relu, sigmoid, softmax, linear, tanh, leakyrelu<alpha>
    (cltrain's canonical tokens always carry the slope, e.g. leakyrelu0.3)."""
    if name.startswith("leakyrelu"):
        alpha = float(name[9:] or 0.3)
        return lambda x: F.leaky_relu(x, alpha)
    return ACTS[name]


def _is_act(p):
    return p in ACTS or p.startswith("leakyrelu")


def _act(parts, default="linear"):
    """The activation among a token's options (conv/dense), or default."""
    names = [p for p in parts if _is_act(p)]
    return names[-1] if names else default


class Conv(torch.nn.Conv2d):
    """conv<F>:<K>[:s<S>][:same|valid][:act]: 'same' pads as Keras/TF (the extra row and
    column at the bottom/right), which torch's padding='same' does not do for strides > 1."""

    def __init__(self, cin, f, k, stride, same, act):
        super().__init__(cin, f, k, stride=stride)
        self.same, self.act = same, act

    def forward(self, x):
        if self.same:
            k, s = self.kernel_size[0], self.stride[0]
            ph = max((-(-x.shape[2] // s) - 1) * s + k - x.shape[2], 0)
            pw = max((-(-x.shape[3] // s) - 1) * s + k - x.shape[3], 0)
            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
        return _act_fn(self.act)(super().forward(x))


class Dense(torch.nn.Linear):
    """dense<U>[:act]; weight [out][in] as cltrain stores it. The logit layer's activation is
    the model's output function (applied by CltrainModel), not applied here."""

    def __init__(self, fin, units, act):
        super().__init__(fin, units)
        self.act = act

    def forward(self, x):
        return _act_fn(self.act)(super().forward(x))


class Act(torch.nn.Module):
    def __init__(self, name):
        super().__init__()
        self.name = name

    def forward(self, x):
        return _act_fn(self.name)(x)


def _bn_class(base):
    class BN(base):
        """batchnorm[:relu]: Keras's BatchNormalization at inference (epsilon 1e-3, the
        moving statistics running_mean / running_var), then its activation."""

        def __init__(self, c, act):
            super().__init__(c, eps=1e-3, momentum=0.01)
            self.act = act

        def forward(self, x):
            return _act_fn(self.act)(super().forward(x))
    return BN


BN2d, BN1d = _bn_class(torch.nn.BatchNorm2d), _bn_class(torch.nn.BatchNorm1d)


def _conv(tok, parts, shape, last):
    c, h, w = shape
    f, k = int(parts[0][4:]), int(parts[1])
    stride = next((int(p[1:]) for p in parts[2:] if p[:1] == "s" and p[1:].isdigit()), 1)
    same = "same" in parts[2:]
    oh, ow = ((-(-h // stride), -(-w // stride)) if same
              else ((h - k) // stride + 1, (w - k) // stride + 1))
    return Conv(c, f, k, stride, same, _act(parts[2:])), (f, oh, ow)


def _pool(tok, parts, shape, last):
    c, h, w = shape
    p = int(parts[0][4:])
    s = next((int(q[1:]) for q in parts[1:] if q[:1] == "s"), p)
    return torch.nn.MaxPool2d(p, s), (c, (h - p) // s + 1, (w - p) // s + 1)


def _avgpool(tok, parts, shape, last):
    c, h, w = shape
    p = int(parts[0][7:])
    s = next((int(q[1:]) for q in parts[1:] if q[:1] == "s"), p)
    return torch.nn.AvgPool2d(p, s), (c, (h - p) // s + 1, (w - p) // s + 1)


def _gap(tok, parts, shape, last):
    return torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()), (shape[0],)


def _batchnorm(tok, parts, shape, last):
    act = _act(parts[1:])
    return (BN2d(shape[0], act) if len(shape) == 3 else BN1d(shape[0], act)), shape


def _flatten(tok, parts, shape, last):
    return torch.nn.Flatten(), (int(np.prod(shape)),)  # channel-major, as cltrain (NCHW)


def _dense(tok, parts, shape, last):
    units = int(parts[0][5:])
    return Dense(int(np.prod(shape)), units, "linear" if last else _act(parts[1:])), (units,)


def _dropout(tok, parts, shape, last):
    return torch.nn.Dropout(float(parts[0][7:])), shape  # identity in eval mode


def _activation(tok, parts, shape, last):
    return Act(parts[0]), shape


# head word of a spec token -> builder(token, parts, input shape (C,H,W) or (N,), is_last)
# returning (module, output shape). The module's parameters and buffers must be named as
# the file's tensors layers.<i>.<suffix> (conv/dense: weight, bias). New layer types: one
# entry here, and their tensors in docs/MODEL_FORMAT.md.
LAYERS = {
    "conv": _conv,
    "pool": _pool,
    "avgpool": _avgpool,
    "gap": _gap,
    "batchnorm": _batchnorm,
    "flatten": _flatten,
    "dense": _dense,
    "dropout": _dropout,
    "relu": _activation,
    "sigmoid": _activation,
    "softmax": _activation,
    "tanh": _activation,
    "leakyrelu": _activation,
}


def _builder(head):
    for word in sorted(LAYERS, key=len, reverse=True):  # longest head word first
        if head.startswith(word) and (head == word or head[len(word):][:1] in "0123456789."):
            return LAYERS[word]
    raise ValueError(f"unknown layer token '{head}' (this loader knows {', '.join(LAYERS)}); "
                     "add an entry to cltrain_torch.LAYERS")


class CltrainModel(torch.nn.Module):
    """The network of a spec; forward(x: (N, C, H, W) float32) -> (N, classes) probabilities."""

    def __init__(self, spec, shape, n_classes):
        super().__init__()
        toks = [t.strip() for t in spec.split(",")]
        mods = []
        for i, tok in enumerate(toks):
            parts = tok.split(":")
            mod, shape = _builder(parts[0])(tok, parts, shape, i == len(toks) - 1)
            mods.append(mod)
        self.layers = torch.nn.ModuleList(mods)
        self.n_classes = n_classes

    def logits(self, x):
        for m in self.layers:
            x = m(x)
        return x

    def forward(self, x):
        z = self.logits(x)
        if z.shape[1] == 1:  # one sigmoid unit: p(class 1)
            p = torch.sigmoid(z)
            return torch.cat([1 - p, p], 1)
        return torch.softmax(z, 1)


class Preprocessing:
    """The metadata keys rescale, samplewise_*, featurewise_* (absent: rescale 1/255)."""

    def __init__(self, meta, c):
        self.rescale = np.float32(float(meta.get("rescale", 1 / 255)))
        flag = lambda k: meta.get(k, "false") == "true"  # noqa: E731
        self.samplewise_center = flag("samplewise_center")
        self.samplewise_std_normalization = flag("samplewise_std_normalization")
        self.featurewise_center = flag("featurewise_center")
        self.featurewise_std_normalization = flag("featurewise_std_normalization")
        arr = lambda k: (np.array(json.loads(meta[k]), dtype=np.float32)  # noqa: E731
                         if k in meta else None)
        self.mean, self.std = arr("featurewise_mean"), arr("featurewise_std")
        for on, key, v in ((self.featurewise_center, "featurewise_mean", self.mean),
                           (self.featurewise_std_normalization, "featurewise_std", self.std)):
            if on and (v is None or v.shape != (c,) or not np.all(np.isfinite(v))):
                raise ValueError(f"metadata '{key}' must be {c} finite numbers")


def preprocess(img, meta):
    """img: uint8 (H, W, C) as decoded -> float32 (C, H, W), as cltrain computes it (float32
    steps; image means and stds in float64, rounded to float32)."""
    c = img.shape[2]
    p = meta if isinstance(meta, Preprocessing) else Preprocessing(meta, c)
    x = img.astype(np.float32).transpose(2, 0, 1) * p.rescale
    eps = np.float32(1e-6)
    if p.samplewise_center:
        x = x - np.float32(x.astype(np.float64).mean())
    if p.samplewise_std_normalization:
        x = x / (np.float32(x.astype(np.float64).std()) + eps)
    if p.featurewise_center:
        x = x - p.mean[:, None, None]
    if p.featurewise_std_normalization:
        x = x / (p.std[:, None, None] + eps)
    return np.ascontiguousarray(x, dtype=np.float32)


def load_image(path, meta):
    """Decodes with Pillow at the model's input size (the file's resize filter) and
    preprocesses. cltrain decodes JPEGs with DCT scaling unless CT_DECODE_FULL, so JPEG
    inputs can differ slightly; PNGs (and any image already at the input size) match."""
    from PIL import Image
    h, w, c = (int(v) for v in meta["input"].split("x"))
    filt = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "area": Image.BOX}
    im = Image.open(path).convert("L" if c == 1 else "RGB")
    if im.size != (w, h):
        im = im.resize((w, h), filt[meta.get("resize", "nearest")])
    a = np.asarray(im, dtype=np.uint8)
    return preprocess(a.reshape(h, w, c), meta)


def read_metadata(path):
    with safe_open(path, "numpy") as f:
        meta = f.metadata() or {}
    if not meta.get("format", "").startswith("cltrain-") or "spec" not in meta:
        raise ValueError(f"{path} is no cltrain model file (no cltrain metadata)")
    return meta


def build(meta):
    h, w, c = (int(v) for v in meta["input"].split("x"))
    return CltrainModel(meta["spec"], (c, h, w), len(json.loads(meta["classes"])))


def load(path):
    """(model in eval mode, metadata dict). A checkpoint's extra tensors (adam.*, best.*)
    are left out; every layers.* tensor must fit (strict)."""
    meta = read_metadata(path)
    model = build(meta)
    tensors = {k: torch.from_numpy(v) for k, v in load_file(path).items() if k.startswith("layers.")}
    model.load_state_dict(tensors, strict=True)
    return model.eval(), meta
