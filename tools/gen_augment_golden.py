#!/usr/bin/env python3
"""Writes tests/golden/augment_keras.txt: Keras's own ImageDataGenerator.apply_transform
(keras.src.legacy.preprocessing.image, Keras 3: apply_affine_transform with its axis swap,
scipy.ndimage.affine_transform order 1, apply_channel_shift, flips, apply_brightness_shift
through PIL) of small fixed images, for fixed parameter dicts: every key alone, combined,
and every fill mode with coordinates far outside the image (several periods of wrap and
reflect). tests/test_data.c replays each case through ct_aug_transform_parse and
ct_augment_apply.

Needs keras (3.x, any backend: KERAS_BACKEND=torch works without TensorFlow), scipy, numpy
and pillow; generation only, the test reads the text file.
Usage: KERAS_BACKEND=torch python3 tools/gen_augment_golden.py

File format: "augment_keras v1", then per case
  "case H W C FILL_MODE CVAL TRANSFORM"   TRANSFORM as for `cltrain preview --transform`
                                         ("-" = the empty dict)
  H*W*C values, CHW order, %.9g (float32 round trip)
The input image is pixel i (HWC order) = (i * 7919 + 13) % 251."""
import os
import sys

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")
from keras.src.legacy.preprocessing.image import ImageDataGenerator  # noqa: E402

ALONE = [
    "theta=20", "theta=-37.5", "tx=2.3", "ty=-3.1", "tx=2,ty=-1", "shear=17", "shear=-8",
    "zx=1.3", "zy=0.7", "zx=0.8,zy=1.25", "flip_horizontal=1", "flip_vertical=1",
    "channel_shift_intensity=30", "channel_shift_intensity=-45.5", "brightness=1.4",
    "brightness=0.6", "brightness=1", "-",
]
COMBINED = [
    "theta=20,tx=3,ty=-2,shear=5,zx=1.1,zy=0.9,flip_horizontal=1,flip_vertical=0,"
    "channel_shift_intensity=10,brightness=1.2",
    "theta=-13.7,tx=-1.4,ty=2.6,shear=-11,zx=0.85,zy=1.15,flip_horizontal=0,flip_vertical=1",
    "theta=7,tx=1.2,ty=1.7,zx=0.95,zy=1.05,flip_horizontal=1,flip_vertical=1,"
    "channel_shift_intensity=-20,brightness=0.8",
]
# far outside: zoom out (coordinates beyond 2n), big shifts (several periods)
FAR = [
    "theta=33,tx=7.5,ty=-5.2,zx=1.8,zy=2.6",
    "tx=25.3,ty=-19.7",
    "theta=-71,tx=-13.1,ty=9.4,shear=21,zx=3.1,zy=2.2,flip_horizontal=1,"
    "channel_shift_intensity=15,brightness=1.3",
    "theta=90",
    "zx=4.3,zy=0.45,tx=0.5",
]
MODES = [("nearest", 0.0), ("constant", 0.0), ("constant", 127.5), ("reflect", 0.0),
         ("wrap", 0.0)]


def image(h, w, c):
    i = np.arange(h * w * c)
    return ((i * 7919 + 13) % 251).astype(np.float32).reshape(h, w, c)


def params(spec):
    p = {}
    if spec == "-":
        return p
    for item in spec.split(","):
        k, v = item.split("=")
        p[k] = bool(int(v)) if k.startswith("flip_") else float(v)
    return p


def cases():
    for s in ALONE + COMBINED:
        yield 9, 11, 3, "nearest", 0.0, s
    for mode, cval in MODES:
        for s in FAR + COMBINED[:1]:
            yield 9, 11, 3, mode, cval, s
        yield 7, 5, 1, mode, cval, FAR[2]  # grayscale, taller than wide
        yield 1, 6, 3, mode, cval, "tx=2.5,ty=0.4,theta=3"  # one row: n = 1 on that axis


def main():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden",
                        "augment_keras.txt")
    out = ["augment_keras v1"]
    for h, w, c, mode, cval, spec in cases():
        gen = ImageDataGenerator(fill_mode=mode, cval=cval)
        y = gen.apply_transform(image(h, w, c), params(spec))
        y = np.asarray(y, dtype=np.float32).transpose(2, 0, 1).ravel()  # CHW
        out.append("case %d %d %d %s %r %s" % (h, w, c, mode, cval, spec))
        out.append(" ".join("%.9g" % v for v in y))
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(out) + "\n")
    os.replace(path + ".tmp", path)
    print("wrote %s (%d cases)" % (path, (len(out) - 1) // 2), file=sys.stderr)


if __name__ == "__main__":
    main()
