#!/usr/bin/env python3
"""Records what tests/test_class_report.c replays: Keras 3's class-weighted losses and their
gradients, scikit-learn's balanced class weights, and scikit-learn's classification_report
and confusion_matrix on fixed prediction sets.

    /tmp/ctv/bin/pip install keras torch numpy scikit-learn
    KERAS_BACKEND=torch /tmp/ctv/bin/python tools/gen_report_golden.py
    # -> tests/golden/class_report.json

What is recorded (CI only reads the file; it never runs this script):
- loss: fixed float32 logits and labels, binary (one logit, BinaryCrossentropy(from_logits=
  True)) and categorical (CategoricalCrossentropy(from_logits=True) on one-hot labels). The
  class weights become per-sample weights with Keras's own class_weight_to_sample_weights
  (what fit(class_weight=) does), the loss is the loss object's default reduction
  (sum_over_batch_size: sum(w l) / n, NOT / sum(w)), and the gradient with respect to the
  logits comes from torch autograd through that Keras loss. PyTorch's BCEWithLogitsLoss /
  CrossEntropyLoss(weight=) divide by sum(w) instead ("mean" reduction); cltrain matches
  Keras, so the torch number is recorded too (torch_loss) only to show the difference.
- balanced: sklearn.utils.class_weight.compute_class_weight("balanced") for fixed counts.
- reports: classification_report(y_true, y_pred, labels=range(k), target_names=names)
  as text (digits 2) and as output_dict, and confusion_matrix(labels=range(k)), with the
  default zero_division ("warn": 0.0, warnings silenced here); top-5 accuracy with
  top_k_accuracy_score from fixed scores for more than 5 classes.
"""
import json
import os
import warnings

os.environ.setdefault("KERAS_BACKEND", "torch")
import numpy as np  # noqa: E402
import torch  # noqa: E402
import keras  # noqa: E402
from keras.src.trainers.data_adapters.data_adapter_utils import (  # noqa: E402
    class_weight_to_sample_weights)
from sklearn.metrics import (classification_report, confusion_matrix,  # noqa: E402
                             top_k_accuracy_score)
from sklearn.utils.class_weight import compute_class_weight  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden",
                   "class_report.json")


def f32(a):
    return [float(x) for x in np.asarray(a, dtype=np.float32).ravel()]


def loss_case(rng, n, k, cw):
    outs = 1 if k == 2 else k
    z = rng.uniform(-4, 4, size=(n, outs)).astype(np.float32)
    y = rng.integers(0, k, size=n).astype(np.int32)
    sw = class_weight_to_sample_weights(y, {i: w for i, w in enumerate(cw)})
    zt = torch.tensor(z, requires_grad=True)
    if outs == 1:
        lossf = keras.losses.BinaryCrossentropy(from_logits=True)
        yt = torch.tensor(y.reshape(n, 1).astype(np.float32))
        tl = torch.nn.functional.binary_cross_entropy_with_logits(
            zt.detach().reshape(n), yt.reshape(n), weight=torch.tensor(sw), reduction="sum")
        torch_loss = float(tl / torch.tensor(sw).sum())
    else:
        lossf = keras.losses.CategoricalCrossentropy(from_logits=True)
        yt = torch.tensor(np.eye(k, dtype=np.float32)[y])
        torch_loss = float(torch.nn.CrossEntropyLoss(weight=torch.tensor(cw, dtype=torch.float32))(
            zt.detach(), torch.tensor(y, dtype=torch.long)))
    loss = lossf(yt, zt, sample_weight=torch.tensor(sw))
    loss.backward()
    unweighted = float(lossf(yt, zt.detach()))
    return {"n": n, "classes": k, "logits": f32(z), "labels": [int(v) for v in y],
            "class_weight": f32(cw), "loss": float(loss.detach()), "unweighted_loss": unweighted,
            "grad": f32(zt.grad.numpy()), "torch_loss": torch_loss}


def report_case(rng, k, n, names, skew=None, scores=False):
    y_true = rng.integers(0, k, size=n)
    if skew is not None:  # a class never predicted (zero division in precision)
        y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, k, size=n))
        y_pred[y_pred == skew] = (skew + 1) % k
    else:
        y_pred = np.where(rng.random(n) < 0.5, y_true, rng.integers(0, k, size=n))
    case = {"classes": k, "names": names, "y_true": [int(v) for v in y_true]}
    top5 = None
    if scores:  # more than 5 classes: the prediction is the argmax of fixed scores
        s = rng.random((n, k)).astype(np.float64)
        s[np.arange(n), y_pred] += 1.0  # keeps y_pred the argmax
        top5 = float(top_k_accuracy_score(y_true, s, k=5, labels=list(range(k))))
        ranks = np.argsort(-s, axis=1, kind="stable")[:, :5]
        case["top5"] = [[int(v) for v in r] for r in ranks]
        case["top5_accuracy"] = top5
    case["y_pred"] = [int(v) for v in y_pred]
    labels = list(range(k))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        case["text"] = classification_report(y_true, y_pred, labels=labels, target_names=names)
        case["dict"] = classification_report(y_true, y_pred, labels=labels, target_names=names,
                                             output_dict=True)
    case["confusion"] = confusion_matrix(y_true, y_pred, labels=labels).tolist()
    return case


def main():
    rng = np.random.default_rng(20261202)
    torch.manual_seed(0)
    losses = [loss_case(rng, 7, 2, [2.5, 0.5]), loss_case(rng, 6, 3, [1.0, 3.0, 0.25]),
              loss_case(rng, 9, 5, [0.5, 1.5, 1.0, 4.0, 0.75])]
    counts = [3, 10, 1, 6]
    y = np.repeat(np.arange(len(counts)), counts)
    balanced = {"counts": counts,
                "weights": [float(v) for v in compute_class_weight(
                    "balanced", classes=np.arange(len(counts)), y=y)]}
    reports = [
        report_case(rng, 2, 40, ["cats", "dogs"]),
        report_case(rng, 3, 30, ["cat", "dog", "a-long-class-name"], skew=1),
        report_case(rng, 7, 60, ["c%d" % i for i in range(7)], scores=True),
    ]
    with open(OUT, "w") as f:
        json.dump({"keras": keras.__version__, "losses": losses, "balanced": balanced,
                   "reports": reports}, f, indent=1)
        f.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
