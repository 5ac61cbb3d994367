#!/usr/bin/env python3
"""Writes tests/golden/augment_scipy.txt: the augmentation of shared/docs/REFERENCE.md (matrix R*T*S*Z in
(row, col), centred on (h/2-0.5, w/2-0.5), scipy.ndimage.affine_transform order=1 mode='nearest',
then horizontal flip) of a fixed 9x11x3 image for a few parameter sets. Needs numpy + scipy
(generation only; the test reads the text file). Usage: python3 tools/gen_augment_golden.py"""
import os

import numpy as np
import scipy.ndimage as ndi

H, W, C = 9, 11, 3
CASES = [(20, 0, 0, 0, 1, 1, 0), (-13.7, 0, 0, 0.1, 1.1, 0.85, 0), (0, 0, 0, 0, 1.2, 0.8, 1),
         (7, 0, 0, -0.09, 0.9, 1.15, 1), (90, 0, 0, 0, 1, 1, 0), (0, 2.3, -3.1, 0, 1, 1, 0),
         (11, 1.2, 1.7, 0.05, 0.95, 1.05, 1), (-19.9, -1.4, 2.6, 0.1, 0.8, 1.2, 1),
         (0, 0, 0, 30, 1, 1, 0)]


def image():
    i = np.arange(H * W * C)
    return ((i * 7919 + 13) % 251).astype(np.uint8).reshape(H, W, C)


def augment(x, th, tx, ty, sh, zx, zy, fl):
    t, s = np.deg2rad(th), np.deg2rad(sh)
    R = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
    T = np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
    S = np.array([[1, -np.sin(s), 0], [0, np.cos(s), 0], [0, 0, 1]])
    Z = np.diag([zx, zy, 1.0])
    M = R @ T @ S @ Z
    o = np.array([[1, 0, H / 2 - 0.5], [0, 1, W / 2 - 0.5], [0, 0, 1]])
    oi = np.array([[1, 0, -(H / 2 - 0.5)], [0, 1, -(W / 2 - 0.5)], [0, 0, 1]])
    M = o @ M @ oi
    xf = x.astype(np.float32)
    out = np.stack([ndi.affine_transform(xf[..., k], M[:2, :2], M[:2, 2], order=1, mode="nearest")
                    for k in range(C)], -1)
    return out[:, ::-1] if fl else out


def main():
    path = os.path.join(os.path.dirname(__file__), "..", "tests", "golden", "augment_scipy.txt")
    x = image()
    with open(path + ".tmp", "w") as f:
        f.write("%d %d %d %d\n" % (H, W, C, len(CASES)))
        for p in CASES:
            f.write("%r %r %r %r %r %r %d\n" % p)
            out = augment(x, *p).transpose(2, 0, 1).ravel()  # CHW
            f.write(" ".join("%.6f" % v for v in out) + "\n")
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
