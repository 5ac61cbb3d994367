#!/usr/bin/env python3
"""Records PyTorch's BatchNorm2d / BatchNorm1d for tests/test_batchnorm.c.

Keras BatchNormalization defaults: momentum 0.99 (PyTorch momentum = 1 - 0.99 = 0.01),
epsilon 1e-3. For each case (2d: after a conv, statistics over N, H, W; 1d: after a dense,
over N) it stores, float32, in tests/golden/batchnorm.safetensors:
  <case>.x, .r (dL/dy for L = sum r * y), .gamma, .beta, .rm0, .rv0 (moving statistics
  before the step), .y_train (training-mode forward), .dx, .dgamma, .dbeta (gradients of L),
  .rm1, .rv1 (PyTorch's moving statistics after the step), .y_eval (eval-mode forward with
  rm0/rv0).
PyTorch updates running_var with the UNBIASED batch variance (M / (M - 1) times the biased
one, M = values per channel); Keras 3 uses the biased one, as cltrain. The test turns rv1
into Keras's value: rv0 * 0.99 + (rv1 - rv0 * 0.99) * (M - 1) / M. The forward pass
normalises with the biased variance in both.

Run: /tmp/ctv/bin/python tools/gen_bn_golden.py   (needs torch, safetensors)
"""
import os
import sys

import torch
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden",
                   "batchnorm.safetensors")


def case(name, shape, seed, out):
    g = torch.Generator().manual_seed(seed)
    c = shape[1]
    x = (torch.rand(shape, generator=g) * 4 - 2).float()
    # a per-channel offset and scale, so that mean and variance matter
    view = [1, c] + [1] * (len(shape) - 2)
    x = x * (torch.rand(c, generator=g) + 0.5).view(view) + (torch.arange(c) * 0.7 - 1).view(view)
    r = (torch.rand(shape, generator=g) * 2 - 1).float()
    gamma = (torch.rand(c, generator=g) + 0.5).float()
    beta = (torch.rand(c, generator=g) - 0.5).float()
    rm0 = (torch.rand(c, generator=g) - 0.5).float()
    rv0 = (torch.rand(c, generator=g) + 0.5).float()
    bn = (torch.nn.BatchNorm2d if len(shape) == 4 else torch.nn.BatchNorm1d)(
        c, eps=1e-3, momentum=0.01)
    with torch.no_grad():
        bn.weight.copy_(gamma)
        bn.bias.copy_(beta)
        bn.running_mean.copy_(rm0)
        bn.running_var.copy_(rv0)
    bn.eval()
    y_eval = bn(x).detach()
    bn.train()
    xg = x.clone().requires_grad_(True)
    y = bn(xg)
    (y * r).sum().backward()
    rec = {"x": x, "r": r, "gamma": gamma, "beta": beta, "rm0": rm0, "rv0": rv0,
           "y_train": y.detach(), "dx": xg.grad, "dgamma": bn.weight.grad, "dbeta": bn.bias.grad,
           "rm1": bn.running_mean.detach().clone(), "rv1": bn.running_var.detach().clone(),
           "y_eval": y_eval}
    for k, v in rec.items():
        out[f"{name}.{k}"] = v.contiguous().float()


def main():
    torch.set_num_threads(1)
    out = {}
    case("conv", (4, 3, 5, 7), 1, out)     # BatchNorm2d: N C H W
    case("dense", (6, 5), 2, out)          # BatchNorm1d: N F
    # No batch of 1 after a dense: PyTorch refuses it ("Expected more than 1 value per
    # channel when training"); cltrain follows Keras (variance 0, y = beta, dx = 0), which
    # tests/test_batchnorm.c checks by that rule.
    meta = {"generator": "tools/gen_bn_golden.py", "torch": torch.__version__,
            "momentum_torch": "0.01", "eps": "1e-3"}
    save_file(out, OUT, metadata=meta)
    print(f"wrote {OUT}: {len(out)} tensors", file=sys.stderr)


if __name__ == "__main__":
    main()
