#!/usr/bin/env python3
"""`cltrain preview --transform` against Keras's own ImageDataGenerator.apply_transform on
a small PNG (no resize, so the decoded input is exact), for every fill mode. The preview
tile is the float result rounded half up to uint8 (preview.c); Keras's float32 result is
rounded the same way and must match exactly, except within 1e-3 of a .5 tie, where one
level either way is allowed (the 'nearest' fast path is up to 1.5e-5 off).
Exits 77 (skipped) without keras, scipy, numpy or pillow.
Usage: augment_preview_check.py CLTRAIN TMPDIR"""
import os
import subprocess
import sys

try:
    import numpy as np
    from PIL import Image
    import scipy  # noqa: F401  (apply_affine_transform needs it)
    os.environ.setdefault("KERAS_BACKEND", "torch")
    from keras.src.legacy.preprocessing.image import ImageDataGenerator
except Exception as e:  # noqa: BLE001 - any missing piece means skip
    print("SKIP: needs keras, scipy, numpy and pillow (%s)" % e)
    sys.exit(77)

H, W, PAD = 24, 32, 4
CASES = [
    ("nearest", 0, "theta=20,tx=3,ty=-2,shear=5,zx=1.1,zy=0.9,flip_horizontal=1,flip_vertical=0,"
                   "channel_shift_intensity=10,brightness=1.2"),
    ("constant", 40, "theta=-31,tx=-6.5,ty=4.2,zx=1.4,zy=0.8,flip_vertical=1"),
    ("reflect", 0, "theta=47,tx=17.3,ty=-11.1,shear=-9,zx=2.2,zy=1.7,brightness=0.7"),
    ("wrap", 0, "theta=12,tx=-40.2,ty=29.6,zx=1.9,zy=2.4,channel_shift_intensity=-25"),
]


def params(spec):
    p = {}
    for item in spec.split(","):
        k, v = item.split("=")
        p[k] = bool(int(v)) if k.startswith("flip_") else float(v)
    return p


def main():
    clt, tmp = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    src = os.path.join(tmp, "aug_src.png")
    Image.fromarray(img, "RGB").save(src)
    fails = 0
    for mode, cval, spec in CASES:
        out = os.path.join(tmp, "aug_%s.png" % mode)
        cmd = [clt, "preview", src, "--out", out, "--input", "%dx%d" % (H, W), "--transform", spec,
               "--fill-mode", mode, "--cval", str(cval), "--force"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print("FAIL: %s: exit %d: %s" % (" ".join(cmd), r.returncode, r.stderr))
            fails += 1
            continue
        got = np.asarray(Image.open(out).convert("RGB")).astype(np.int32)[PAD:PAD + H, PAD:PAD + W]
        gen = ImageDataGenerator(fill_mode=mode, cval=float(cval))
        want_f = np.asarray(gen.apply_transform(img.astype(np.float32), params(spec)), np.float32)
        want = np.floor(np.clip(want_f + 0.5, 0, 255)).astype(np.int32)
        tie = np.abs((want_f - np.floor(want_f)) - 0.5) < 1e-3
        diff = np.abs(got - want)
        bad = (diff > 1) | ((diff == 1) & ~tie)
        if got.shape != want.shape or bad.any():
            print("FAIL: %s %s: %d of %d values differ (max %d)" % (mode, spec, int(bad.sum()), bad.size,
                                                                 int(diff.max())))
            fails += 1
        else:
            print("ok: %s %s (%d ties)" % (mode, spec, int((diff == 1).sum())))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
