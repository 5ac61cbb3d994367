#!/usr/bin/env python3
"""Writes tests/golden/standardize_keras.txt: Keras's own ImageDataGenerator.fit and
.standardize (keras.src.legacy.preprocessing.image, Keras 3) on a few small random uint8
images, for the preprocessing options of `cltrain train` (docs/MODEL_FORMAT.md).

cltrain computes the featurewise statistics over what reaches the featurewise steps: the
rescaled images, after the samplewise steps when those are on. Keras's fit applies the
rescale but not the samplewise steps; with no samplewise step (cases marked keras_fit) the
two are the same and the golden statistics are Keras's fit as is. With a samplewise step
the golden statistics are Keras's fit over the samplewise-standardized images (the same
Keras functions, in the order cltrain documents). The test (tests/test_data.c) writes the
inputs as PNGs, runs ct_preprocess_fit on them and ct_preprocess_image on each, and
compares (the mean when featurewise_center is on, the std when featurewise_std_normalization
is: Keras keeps only those). Needs numpy and keras (any backend; generation only, the file is committed).
Usage: KERAS_BACKEND=torch python3 tools/gen_standardize_golden.py"""
import os
import warnings

os.environ.setdefault("KERAS_BACKEND", "torch")
import numpy as np  # noqa: E402
from keras.src.legacy.preprocessing.image import ImageDataGenerator  # noqa: E402

# rescale, samplewise_center, samplewise_std, featurewise_center, featurewise_std, n, h, w, c
CASES = [
    (1 / 255, 0, 0, 0, 0, 2, 4, 5, 3),
    (1 / 255, 1, 0, 0, 0, 2, 4, 5, 3),
    (1 / 255, 1, 1, 0, 0, 3, 5, 4, 3),
    (1 / 255, 0, 1, 0, 0, 2, 3, 6, 1),
    (1 / 255, 0, 0, 1, 0, 4, 5, 4, 3),
    (1 / 255, 0, 0, 1, 1, 4, 5, 4, 3),
    (1 / 255, 0, 0, 0, 1, 3, 4, 4, 1),
    (1.0, 0, 0, 1, 1, 3, 4, 5, 3),
    (0.5, 1, 1, 1, 1, 4, 4, 5, 3),
    (1 / 127.5, 1, 0, 1, 0, 3, 6, 3, 1),
]


def gen(rescale, sc, ss, fc, fs):
    return ImageDataGenerator(rescale=rescale, samplewise_center=bool(sc),
                              samplewise_std_normalization=bool(ss), featurewise_center=bool(fc),
                              featurewise_std_normalization=bool(fs))


def main():
    warnings.simplefilter("ignore")  # Keras's notes on the implied centering
    rng = np.random.default_rng(20261202)
    path = os.path.join(os.path.dirname(__file__), "..", "tests", "golden", "standardize_keras.txt")
    lines = ["%d" % len(CASES)]
    for rescale, sc, ss, fc, fs, n, h, w, c in CASES:
        x = rng.integers(0, 256, size=(n, h, w, c)).astype(np.uint8)
        g = gen(rescale, sc, ss, fc, fs)
        # Keras turns centering on with std normalization (cltrain train's options do too):
        # the file records the flags Keras applied
        sc, ss = int(g.samplewise_center), int(g.samplewise_std_normalization)
        fc, fs = int(g.featurewise_center), int(g.featurewise_std_normalization)
        keras_fit = not (sc or ss)
        if fc or fs:
            if keras_fit:
                g.fit(x.astype(np.float32))
            else:  # the statistics of the samplewise-standardized images
                pre = gen(rescale, sc, ss, 0, 0)
                xs = np.stack([pre.standardize(im.astype(np.float32).copy()) for im in x])
                fit = gen(None, 0, 0, fc, fs)
                fit.fit(xs)
                g.mean, g.std = fit.mean, fit.std
        mean = np.ravel(g.mean) if g.mean is not None else np.zeros(0)
        std = np.ravel(g.std) if g.std is not None else np.zeros(0)
        out = np.stack([g.standardize(im.astype(np.float32).copy()) for im in x])
        lines.append("case %.17g %d %d %d %d %d %d %d %d %d" % (rescale, sc, ss, fc, fs, n, h, w, c,
                                                               keras_fit))
        lines.append(" ".join(str(v) for v in x.ravel()))  # NHWC
        lines.append(" ".join("%.9g" % v for v in mean) if len(mean) else "-")
        lines.append(" ".join("%.9g" % v for v in std) if len(std) else "-")
        lines.append(" ".join("%.9g" % v for v in out.transpose(0, 3, 1, 2).ravel()))  # NCHW
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
