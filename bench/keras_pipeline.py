#!/usr/bin/env python3
"""Keras ImageDataGenerator.flow_from_directory throughput with the original project's settings
(112x112, batch 64, rescale 1/255, rotation 20, shifts 0.2, shear 0.1, zoom 0.2, horizontal flip,
shuffle), for comparison with tools/bench_pipeline. Needs tensorflow-cpu (never needed by CI):

    python3 bench/keras_pipeline.py DIR [--images N]

Prints "keras_images_per_s X" last. The first batch (warm-up) is not timed."""
import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--images", type=int, default=384)
    args = ap.parse_args()
    try:
        from tensorflow.keras.preprocessing.image import ImageDataGenerator
    except ImportError:
        from keras.preprocessing.image import ImageDataGenerator
    gen = ImageDataGenerator(rescale=1.0 / 255, rotation_range=20, width_shift_range=0.2,
                             height_shift_range=0.2, shear_range=0.1, zoom_range=0.2,
                             horizontal_flip=True)
    it = gen.flow_from_directory(args.dir, target_size=(112, 112), batch_size=64,
                                 class_mode="binary", shuffle=True, seed=1)
    next(it)  # warm-up
    n, t0 = 0, time.perf_counter()
    while n < args.images:
        x, _ = next(it)
        n += len(x)
    dt = time.perf_counter() - t0
    print("keras_images_per_s %.1f" % (n / dt))


if __name__ == "__main__":
    main()
