#!/usr/bin/env python3
"""Keras 3 / TensorFlow peer for bench/compare.py: the seed's Model 2 exactly as the
report builds it (plus the relu and dropout its text intends).

  peer_keras.py step  [--steps N] [--batch N] [--input HxW]   synthetic data, train_on_batch only
  peer_keras.py epoch --data DIR [--epochs N]    ImageDataGenerator.flow_from_directory + fit
Prints one JSON line like peer_torch.py.
"""
import argparse
import json
import math
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow import keras  # noqa: E402
from tensorflow.keras import layers  # noqa: E402


def model2(h=112, w=112):
    m = keras.Sequential([
        keras.Input((h, w, 3)),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Flatten(), layers.Dense(248, activation="relu"), layers.Dropout(0.2),
        layers.Dense(1, activation="sigmoid")])
    m.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(1e-4),
              metrics=["accuracy"])
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["step", "epoch"])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--data")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--input", default="112x112", help="HxW (step mode; Model 2's layout)")
    a = ap.parse_args()
    h, w = (int(v) for v in a.input.lower().split("x"))
    keras.utils.set_random_seed(1)
    m = model2(h, w)
    out = {"peer": "keras", "version": f"keras {keras.__version__} / tf {tf.__version__}",
           "mode": a.mode}
    if a.mode == "step":
        x = np.random.rand(a.batch, h, w, 3).astype("float32")
        y = (np.random.rand(a.batch) > 0.5).astype("float32")
        for _ in range(a.warmup):
            m.train_on_batch(x, y)
        times = []
        for _ in range(a.steps):
            t = time.perf_counter()
            m.train_on_batch(x, y)
            times.append(time.perf_counter() - t)
        med = statistics.median(times)
        out.update(images_per_s=a.batch / med, median_step_s=med, steps=a.steps)
    else:
        from tensorflow.keras.preprocessing.image import ImageDataGenerator
        gen = ImageDataGenerator(rescale=1. / 255, rotation_range=20, width_shift_range=0.2,
                                 height_shift_range=0.2, shear_range=0.1, zoom_range=0.2,
                                 horizontal_flip=True)
        flow = gen.flow_from_directory(a.data, target_size=(112, 112), batch_size=a.batch,
                                       class_mode="binary", shuffle=True)
        steps = math.ceil(flow.samples / a.batch)
        rates = []
        for _ in range(a.epochs):
            t = time.perf_counter()
            m.fit(flow, steps_per_epoch=steps, epochs=1, verbose=0)
            rates.append(flow.samples / (time.perf_counter() - t))
        out.update(images_per_s=statistics.median(rates), epochs=a.epochs, images=flow.samples)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
