#!/usr/bin/env python3
"""Records tests/golden/layers.safetensors, which tests/test_layer_golden.c replays: one
layer at a time (gap, avgpool, conv with 'same' padding and strides > 1, tanh, leakyrelu,
conv/dense with tanh/leakyrelu), forward and backward, in PyTorch, cross-checked against
Keras 3 when it is installed (KERAS_BACKEND=torch).

    python3 -m venv /tmp/v && /tmp/v/bin/pip install torch numpy safetensors [keras]
    KERAS_BACKEND=torch /tmp/v/bin/python tools/gen_layer_golden.py    # writes tests/golden/

Per case (tensors "<i>.<name>", the case list in the metadata "cases", JSON):
- x (input, NCHW or [n][features]), p0/p1 (weight in cltrain's layout, OIHW or [out][in], and
  bias), dy (the gradient w.r.t. the layer's output): float32, from a seeded numpy stream.
- y, dx, g0/g1 (output, input gradient, parameter gradients): float64, computed in double
  from those float32 values by torch autograd of L = sum(dy * y).
- 'same' convolutions follow TensorFlow/Keras: out = ceil(in / s), pad_total =
  max((out - 1) s + k - in, 0), top/left = pad_total // 2 and the extra row/column at the
  bottom/right, written out with F.pad before an unpadded conv2d; the pads go into the case
  ("pad": [top, bottom, left, right]) so the C test checks cltrain's split too. The cases
  pick sizes where pad_total is odd, where the split matters.
- With Keras present, every case is also run through the Keras layer (Conv2D, Dense,
  AveragePooling2D, GlobalAveragePooling2D, LeakyReLU, Activation('tanh'); channels_first,
  float64, the same weights): outputs and input gradients must agree to 1e-6 (Keras's
  torch-backend mean runs in float32 even for float64 inputs: gap differs by ~3e-8; the
  rest agrees to rounding), or the script fails. The metadata says which references ran.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import save_file

SEED = 20261202
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden",
                   "layers.safetensors")

# token, input shape (n, c, h, w; flat: n, features), flat
CASES = [
    ("gap", (2, 3, 5, 4), 0),
    ("gap", (3, 2, 1, 1), 0),
    ("avgpool2", (2, 3, 7, 6), 0),
    ("avgpool3:s2", (1, 2, 9, 8), 0),
    ("avgpool3:s1", (2, 2, 5, 6), 0),
    ("conv4:3:s2:same:linear", (2, 3, 8, 7), 0),
    ("conv3:4:s2:same:linear", (1, 2, 9, 9), 0),
    ("conv2:3:s3:same:tanh", (2, 2, 10, 8), 0),
    ("conv2:2:s2:same:linear", (1, 1, 7, 6), 0),
    ("conv3:5:same:linear", (1, 2, 6, 7), 0),
    ("conv3:3:s2:same:leakyrelu0.3", (2, 2, 9, 6), 0),
    ("conv4:3:leakyrelu0.2", (2, 3, 6, 5), 0),
    ("tanh", (2, 3, 4, 5), 0),
    ("leakyrelu0.3", (3, 10), 1),
    ("leakyrelu0.01", (2, 2, 3, 4), 0),
    ("dense5:tanh", (3, 7), 1),
    ("dense6:leakyrelu0.2", (4, 9), 1),
]


def parse(token):
    """The fields of the few tokens the cases use (cltrain's grammar, docs/LAYERS.md)."""
    f = token.split(":")
    head, opts = f[0], f[1:]
    d = {"act": "linear", "alpha": 0.0, "stride": 1, "same": False}
    if head == "gap":
        d["kind"] = "gap"
    elif head.startswith("avgpool"):
        d["kind"], d["pool"] = "avgpool", int(head[7:])
        d["stride"] = d["pool"]  # Keras: strides=None is the pool size
    elif head.startswith("conv"):
        d["kind"], d["units"], d["k"], opts = "conv", int(head[4:]), int(f[1]), f[2:]
    elif head.startswith("dense"):
        d["kind"], d["units"] = "dense", int(head[5:])
    else:
        d["kind"], opts = "act", [head]
    for o in opts:
        if o == "same":
            d["same"] = True
        elif o[0] == "s" and o[1:].isdigit():
            d["stride"] = int(o[1:])
        elif o.startswith("leakyrelu"):
            d["act"], d["alpha"] = "leakyrelu", float(o[9:] or 0.3)
        else:
            d["act"] = o
    return d


def act_torch(a, alpha, v):
    if a == "tanh":
        return torch.tanh(v)
    if a == "leakyrelu":
        return F.leaky_relu(v, alpha)
    return v


def tf_same_pads(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def run_torch(d, x, p):
    if d["kind"] == "gap":
        return x.mean(dim=(2, 3)), None
    if d["kind"] == "avgpool":
        return F.avg_pool2d(x, d["pool"], d["stride"]), None
    if d["kind"] == "act":
        return act_torch(d["act"], d["alpha"], x), None
    if d["kind"] == "dense":
        return act_torch(d["act"], d["alpha"], x @ p[0].T + p[1]), None
    s, k, pad = d["stride"], d["k"], [0, 0, 0, 0]
    if d["same"]:
        pad = list(tf_same_pads(x.shape[2], k, s)) + list(tf_same_pads(x.shape[3], k, s))
    xp = F.pad(x, (pad[2], pad[3], pad[0], pad[1]))
    return act_torch(d["act"], d["alpha"], F.conv2d(xp, p[0], p[1], stride=s)), pad


def run_keras(keras, d, x, p):
    cf = "channels_first"
    if d["kind"] == "gap":
        return keras.layers.GlobalAveragePooling2D(data_format=cf)(x)
    if d["kind"] == "avgpool":
        return keras.layers.AveragePooling2D(d["pool"], strides=d["stride"], data_format=cf)(x)
    act = d["act"] if d["act"] != "leakyrelu" else None
    if d["kind"] == "conv":
        layer = keras.layers.Conv2D(d["units"], d["k"], strides=d["stride"],
                                    padding="same" if d["same"] else "valid", data_format=cf,
                                    activation=act)
        layer.build(tuple(x.shape))
        layer.set_weights([p[0].detach().numpy().transpose(2, 3, 1, 0), p[1].detach().numpy()])
        y = layer(x)
    elif d["kind"] == "dense":
        layer = keras.layers.Dense(d["units"], activation=act)
        layer.build(tuple(x.shape))
        layer.set_weights([p[0].detach().numpy().T, p[1].detach().numpy()])
        y = layer(x)
    else:
        y = x if d["act"] == "leakyrelu" else keras.layers.Activation(d["act"])(x)
    if d["act"] == "leakyrelu":
        y = keras.layers.LeakyReLU(negative_slope=d["alpha"])(y)
    return y


def main():
    keras = None
    if os.environ.get("KERAS_BACKEND") == "torch":
        try:
            import keras  # noqa: F401
            keras.config.set_floatx("float64")
            keras.config.set_dtype_policy("float64")
        except ImportError:
            keras = None
    rng = np.random.RandomState(SEED)
    tensors, meta_cases, keras_err = {}, [], 0.0
    for i, (token, shape, flat) in enumerate(CASES):
        d = parse(token)
        x32 = rng.uniform(-1, 1, shape).astype(np.float32)
        feat = shape[1]  # input channels (conv) or features (dense)
        p32 = []
        if d["kind"] == "conv":
            p32 = [rng.uniform(-0.5, 0.5, (d["units"], feat, d["k"], d["k"])).astype(np.float32),
                   rng.uniform(-0.5, 0.5, (d["units"],)).astype(np.float32)]
        elif d["kind"] == "dense":
            p32 = [rng.uniform(-0.5, 0.5, (d["units"], feat)).astype(np.float32),
                   rng.uniform(-0.5, 0.5, (d["units"],)).astype(np.float32)]
        x = torch.tensor(x32, dtype=torch.float64, requires_grad=True)
        p = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in p32]
        y, pad = run_torch(d, x, p)
        dy32 = rng.uniform(-1, 1, tuple(y.shape)).astype(np.float32)
        dy = torch.tensor(dy32, dtype=torch.float64)
        (y * dy).sum().backward()
        if keras is not None:
            xk = torch.tensor(x32, dtype=torch.float64, requires_grad=True)
            yk = run_keras(keras, d, xk, p)
            (yk * dy).sum().backward()
            ey = (yk.detach() - y.detach()).abs().max().item()
            ex = (xk.grad - x.grad).abs().max().item()
            if not (ey < 1e-6 and ex < 1e-6):
                sys.exit(f"{token}: Keras and torch differ: y {ey:.3g}, dx {ex:.3g}")
            keras_err = max(keras_err, ey, ex)
        tensors[f"{i}.x"] = x32
        tensors[f"{i}.dy"] = dy32
        tensors[f"{i}.y"] = y.detach().numpy()
        tensors[f"{i}.dx"] = x.grad.numpy()
        for j, (a32, t) in enumerate(zip(p32, p)):
            tensors[f"{i}.p{j}"] = a32
            tensors[f"{i}.g{j}"] = t.grad.numpy()
        case = {"token": token, "input": list(shape), "flat": flat, "params": len(p32)}
        if pad is not None:
            case["pad"] = pad
        meta_cases.append(case)
        print(f"{i:2d} {token:32s} {tuple(shape)} -> {tuple(y.shape)}"
              + (f" pads {pad}" if pad and d["same"] else ""))
    refs = f"torch {torch.__version__}"
    if keras is not None:
        refs += f"; Keras {keras.__version__} (torch backend) agrees within {keras_err:.2g}"
    meta = {"generator": "tools/gen_layer_golden.py", "seed": str(SEED), "reference": refs,
            "cases": json.dumps(meta_cases)}
    save_file(tensors, OUT, metadata=meta)
    print(f"wrote {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes); {refs}")


if __name__ == "__main__":
    main()
