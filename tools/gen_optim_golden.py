#!/usr/bin/env python3
"""Records what tests/test_optim.c replays: Keras 3's optimizers, learning-rate schedules
and ReduceLROnPlateau on fixed numbers, so that cltrain's kernels and schedule code are
checked against the framework whose semantics they copy.

    /tmp/ctv/bin/pip install keras torch numpy
    KERAS_BACKEND=torch /tmp/ctv/bin/python tools/gen_optim_golden.py   # tests/golden/optim.json

What is recorded (CI only reads the file; it never runs this script):
- optimizers: two variables, "kernel" (4x6, decayed by AdamW) and "bias" (6, excluded from
  weight decay with exclude_from_weight_decay(var_names=["bias"]), as cltrain leaves biases
  alone), start from fixed float32 values; STEPS steps with fixed float32 gradients (a
  different set each step) through keras.optimizers.<Optimizer>(...).apply; the final
  values of both. Configurations: Adam (defaults and non-default), AdamW (default weight
  decay and a large one), SGD (plain, momentum, Nesterov), RMSprop (default, momentum).
- schedules: keras.optimizers.schedules.CosineDecay(lr, decay_steps) and ExponentialDecay
  (lr, decay_steps, rate, staircase False and True) at every step 0..n-1; cltrain's cosine,
  exponential and step schedules (without warmup) are those with decay_steps = the epochs
  (after warmup) or decay epochs times the steps per epoch.
- plateau: keras.callbacks.ReduceLROnPlateau(factor, patience, min_lr) on a fixed series of
  monitored values (mode min for a loss, max for an accuracy), the optimizer's learning rate
  after each on_epoch_end.
Values are written with repr of float32 (or float64 for rates), so read back exactly.
"""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")
import numpy as np  # noqa: E402
import keras  # noqa: E402

STEPS = 5
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden",
                   "optim.json")


def f32list(a):
    return [float(x) for x in np.asarray(a, dtype=np.float32).ravel()]


def run_optimizer(name, kwargs, p0, b0, grads):
    cls = {"adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW,
           "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop}[name]
    opt = cls(**kwargs)
    kv = keras.Variable(p0, name="kernel")
    bv = keras.Variable(b0, name="bias")
    if name == "adamw":
        opt.exclude_from_weight_decay(var_names=["bias"])
    opt.build([kv, bv])
    for gk, gb in grads:
        opt.apply([keras.ops.convert_to_tensor(gk), keras.ops.convert_to_tensor(gb)], [kv, bv])
    return f32list(keras.ops.convert_to_numpy(kv.value)), f32list(keras.ops.convert_to_numpy(bv.value))


def main():
    rng = np.random.RandomState(20261202)
    p0 = rng.uniform(-1, 1, size=(4, 6)).astype(np.float32)
    b0 = rng.uniform(-0.1, 0.1, size=(6,)).astype(np.float32)
    grads = [(rng.uniform(-0.2, 0.2, size=(4, 6)).astype(np.float32),
              rng.uniform(-0.2, 0.2, size=(6,)).astype(np.float32)) for _ in range(STEPS)]
    configs = [
        ("adam", {}),
        ("adam", {"learning_rate": 2e-3, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6}),
        ("adamw", {}),
        ("adamw", {"learning_rate": 1e-2, "weight_decay": 0.1}),
        ("sgd", {}),
        ("sgd", {"learning_rate": 0.05, "momentum": 0.9}),
        ("sgd", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}),
        ("rmsprop", {}),
        ("rmsprop", {"learning_rate": 3e-3, "rho": 0.8, "momentum": 0.5, "epsilon": 1e-6}),
    ]
    opts = []
    for name, kw in configs:
        probe = {"adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW,
                 "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop}[name](**kw)
        cfg = probe.get_config()
        rec = {"optimizer": name, "lr": float(cfg["learning_rate"])}
        for k_in, k_out in (("beta_1", "beta1"), ("beta_2", "beta2"), ("epsilon", "eps"),
                            ("momentum", "momentum"), ("rho", "rho")):
            if k_in in cfg:
                rec[k_out] = float(cfg[k_in])
        if name == "sgd":
            rec["nesterov"] = bool(cfg["nesterov"])
        if name == "adamw":
            rec["weight_decay"] = float(cfg["weight_decay"])
        k, b = run_optimizer(name, kw, p0, b0, grads)
        rec["final_kernel"] = k
        rec["final_bias"] = b
        opts.append(rec)

    sch = []
    n = 40
    for lr, decay_steps in ((1e-3, 30), (0.05, 12)):
        s = keras.optimizers.schedules.CosineDecay(lr, decay_steps)
        sch.append({"kind": "cosine", "lr": lr, "decay_steps": decay_steps,
                    "values": [float(keras.ops.convert_to_numpy(s(t))) for t in range(n)]})
    for lr, decay_steps, rate, stair in ((1e-2, 8, 0.5, False), (1e-2, 8, 0.5, True),
                                         (3e-3, 5, 0.9, False)):
        s = keras.optimizers.schedules.ExponentialDecay(lr, decay_steps, rate, staircase=stair)
        sch.append({"kind": "step" if stair else "exponential", "lr": lr,
                    "decay_steps": decay_steps, "rate": rate,
                    "values": [float(keras.ops.convert_to_numpy(s(t))) for t in range(n)]})

    plateaus = []
    series = {
        "loss": [1.0, 0.9, 0.89995, 0.95, 0.91, 0.8, 0.81, 0.8, 0.79995, 0.85, 0.7, 0.75, 0.76,
                 0.77, 0.78, 0.79, 0.8, 0.81],
        "accuracy": [0.5, 0.6, 0.6, 0.60005, 0.55, 0.7, 0.69, 0.7, 0.71, 0.71, 0.71, 0.71, 0.72,
                     0.72, 0.72, 0.72],
    }
    for monitor, factor, patience, min_lr in (("loss", 0.5, 2, 0.0), ("loss", 0.1, 1, 2e-5),
                                              ("accuracy", 0.2, 2, 1e-4)):
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(1e-3), loss="mse")
        cb = keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=factor, patience=patience,
                                               min_lr=min_lr,
                                               mode="max" if monitor == "accuracy" else "min")
        cb.set_model(model)
        cb.on_train_begin()
        lrs = []
        for e, v in enumerate(series[monitor]):
            cb.on_epoch_end(e, {monitor: v})
            lrs.append(float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)))
        plateaus.append({"monitor": monitor, "maximize": monitor == "accuracy", "lr": 1e-3,
                         "factor": factor, "patience": patience, "min_lr": min_lr,
                         "min_delta": 1e-4, "values": series[monitor], "lr_after": lrs})

    doc = {
        "generator": "tools/gen_optim_golden.py",
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "steps": STEPS,
        "kernel0": f32list(p0), "bias0": f32list(b0),
        "grads_kernel": [f32list(g[0]) for g in grads],
        "grads_bias": [f32list(g[1]) for g in grads],
        "optimizers": opts,
        "schedules": sch,
        "plateaus": plateaus,
    }
    tmp = OUT + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, OUT)
    print(f"wrote {OUT} ({len(opts)} optimizers, {len(sch)} schedules, {len(plateaus)} plateaus)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
