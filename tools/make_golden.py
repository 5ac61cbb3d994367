#!/usr/bin/env python3
"""Records the golden run that tests/test_golden.c replays: the seed's Model 2 at a small
input, fixed initial weights and batch, three Adam steps with Keras semantics, in PyTorch.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install torch numpy
    /tmp/venv/bin/python tools/make_golden.py            # writes tests/golden/

What is recorded (CI only reads the files; it never runs this script):
- Model 2 of shared/docs/REFERENCE.md (conv32-pool, conv64-pool, conv64-pool, conv64-pool, flatten,
  dense248 relu, dropout, dense1 sigmoid; every conv 3x3 valid relu, every pool 2x2) at
  3x48x48: 48 -> 46 -> 23 -> 21 -> 10 -> 8 -> 4 -> 2 -> 1, so flatten gives 64 features.
  Dropout is switched off by its rate: cltrain runs the spec with `dropout0` (identity in
  training), and the PyTorch model has no dropout layer.
- Initial weights and the batch come from a splitmix64 stream that tests/test_golden.c
  regenerates bit for bit (u = (z >> 40) / 2^24, exact in float32): weights glorot-uniform
  (2u - 1) * sqrt(6 / (fan_in + fan_out)), biases (2u - 1) * 0.05 so the bias paths start off
  zero, in cltrain's parameter order and PyTorch's layouts (OIHW, [out][in]); then 8 images
  with pixels u. Checksums of both go into the index so a generator mismatch is caught.
- Binary cross-entropy from logits (mean over the batch), and Adam written out by hand in
  Keras's epsilon-hat form (torch.optim.Adam adds eps to sqrt(v_hat), which differs):
      m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2)
      p -= lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)
- The run is recorded in float64 (from the float32-rounded start above, so both sides begin
  from the same numbers): per-step losses (the forward before each update, as Keras reports
  them), the loss of the final weights (loss_after) and the final weights (float64
  little-endian, parameter order) to tests/golden/. The same run in float32 is made too, and
  how far its final weights land from the float64 ones (per tensor, in units of lr) goes into
  the index as torch_float32_err_lr: the yardstick that tests/test_golden.c's tolerance is
  argued against (a float32 trainer cannot be held closer to the exact run than PyTorch's own
  float32 run is, up to a small factor for another summation order).
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

SEED = 20240601
H = W = 48
N = 8
LABELS = [0, 1, 1, 0, 1, 0, 0, 1]
LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-7
STEPS = 3
SPEC = ("conv32:3:relu,pool2,conv64:3:relu,pool2,conv64:3:relu,pool2,conv64:3:relu,pool2,"
        "flatten,dense248:relu,dropout0,dense1")
MASK = (1 << 64) - 1


class SplitMix:
    def __init__(self, seed):
        self.s = seed & MASK

    def next_u(self, n):
        out = np.empty(n, dtype=np.float64)
        s = self.s
        for i in range(n):
            s = (s + 0x9E3779B97F4A7C15) & MASK
            z = s
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
            z ^= z >> 31
            out[i] = (z >> 40) * (1.0 / 16777216.0)
        self.s = s
        return out


def params_layout():
    """(name, shape) in cltrain's order; layer indices as in SPEC."""
    convs = [(0, 32, 3), (2, 64, 32), (4, 64, 64), (6, 64, 64)]
    out = []
    for li, co, ci in convs:
        out.append((f"layers.{li}.weight", [co, ci, 3, 3]))
        out.append((f"layers.{li}.bias", [co]))
    out.append(("layers.9.weight", [248, 64]))
    out.append(("layers.9.bias", [248]))
    out.append(("layers.11.weight", [1, 248]))
    out.append(("layers.11.bias", [1]))
    return out


def run(dtype):
    """Three Adam steps from the fixed start in dtype; returns (losses, loss_after, params,
    x, init_sum), init_sum the float64 sum of the starting weights.
    The initial weights and the batch are rounded to float32 first in both precisions, so
    the float64 run starts from exactly the values cltrain uploads."""
    rng = SplitMix(SEED)
    params = []
    for name, shape in params_layout():
        n = int(np.prod(shape))
        u = rng.next_u(n)
        if len(shape) > 1:
            rf = shape[2] * shape[3] if len(shape) == 4 else 1
            limit = math.sqrt(6.0 / (shape[1] * rf + shape[0] * rf))
            v = (2.0 * u - 1.0) * limit
        else:
            v = (2.0 * u - 1.0) * 0.05
        params.append(torch.tensor(v.astype(np.float32).reshape(shape)).to(dtype).requires_grad_())
    x = torch.tensor(rng.next_u(N * 3 * H * W).astype(np.float32).reshape(N, 3, H, W)).to(dtype)
    y = torch.tensor(LABELS, dtype=dtype).reshape(N, 1)
    init_sum = float(sum(p.detach().double().sum() for p in params))

    def forward():
        h = x
        for i in range(4):
            h = F.max_pool2d(F.relu(F.conv2d(h, params[2 * i], params[2 * i + 1])), 2)
        h = torch.flatten(h, 1)  # NCHW, channel-major: the same order as cltrain
        h = F.relu(F.linear(h, params[8], params[9]))
        return F.linear(h, params[10], params[11])

    m = [torch.zeros_like(p) for p in params]
    v = [torch.zeros_like(p) for p in params]
    losses = []
    for t in range(1, STEPS + 1):
        for p in params:
            p.grad = None
        loss = F.binary_cross_entropy_with_logits(forward(), y)
        loss.backward()
        losses.append(float(loss.detach()))
        alpha = LR * math.sqrt(1.0 - B2 ** t) / (1.0 - B1 ** t)
        with torch.no_grad():
            for p, mi, vi in zip(params, m, v):
                g = p.grad
                mi += (g - mi) * (1.0 - B1)
                vi += (g * g - vi) * (1.0 - B2)
                p -= alpha * mi / (torch.sqrt(vi) + EPS)
        print(f"{dtype}: step {t}: loss {losses[-1]:.10f}")
    with torch.no_grad():
        loss_after = float(F.binary_cross_entropy_with_logits(forward(), y))
    return losses, loss_after, params, x, init_sum


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden")
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(2)
    layout = params_layout()
    losses, loss_after, params, x, init_sum = run(torch.float64)
    params32 = run(torch.float32)[2]
    x_sum = float(x.sum())
    # How far PyTorch's own float32 run lands from the float64 one, per tensor, in
    # units of lr: the yardstick for the tolerance of tests/test_golden.c.
    f32_err = {}
    for (name, _), p64, p32 in zip(layout, params, params32):
        f32_err[name] = float((p32.detach().double() - p64.detach()).abs().max()) / LR
    print(f"after {STEPS} steps: loss {loss_after:.10f}")
    final = np.concatenate([p.detach().numpy().astype("<f8").ravel() for p in params])
    bin_name = "model2_adam3_final.f64"
    tmp = os.path.join(out_dir, bin_name + ".tmp")
    final.tofile(tmp)
    os.replace(tmp, os.path.join(out_dir, bin_name))
    index = {
        "about": "Model 2 at 3x48x48, 3 Adam steps (Keras form), recorded in float64 by tools/make_golden.py",
        "precision": "float64 (from float32-rounded weights and batch)",
        "torch_version": torch.__version__,
        "spec": SPEC,
        "input": [3, H, W],
        "batch": N,
        "labels": LABELS,
        "generator": {"kind": "splitmix64", "seed": SEED,
                      "weights": "glorot (2u-1)*sqrt(6/(fan_in+fan_out)), biases (2u-1)*0.05",
                      "then": "batch pixels u"},
        "init_param_sum": init_sum,
        "input_sum": x_sum,
        "adam": {"lr": LR, "beta1": B1, "beta2": B2, "eps": EPS},
        "dropout": "rate 0 in cltrain (dropout0), absent in PyTorch",
        "losses": losses,
        "loss_after": loss_after,
        "params": [{"name": n, "shape": s} for n, s in layout],
        "final_weights": bin_name,
        "torch_float32_err_lr": f32_err,
    }
    tmp = os.path.join(out_dir, "model2_adam3.json.tmp")
    with open(tmp, "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    os.replace(tmp, os.path.join(out_dir, "model2_adam3.json"))
    print(f"wrote {out_dir}/model2_adam3.json and {bin_name} ({final.size} floats)")


if __name__ == "__main__":
    main()
