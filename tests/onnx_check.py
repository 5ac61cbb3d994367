#!/usr/bin/env python3
"""`cltrain export` checked against the real ONNX runtime.

Trains tiny models (one short epoch each) that together cover every layer type and
activation cltrain has (conv valid/same, stride 1/2, fused relu/sigmoid/linear; max-pool
with and without its own stride; flatten; dense relu/sigmoid/softmax/linear; dropout;
standalone relu/sigmoid/softmax layers; binary sigmoid, 2-class and 3-class softmax heads;
RGB and grayscale inputs), exports each, runs onnx.checker.check_model(full_check=True)
and onnxruntime on the very tensor `cltrain predict` feeds its model (dumped by
`cltrain export --dump-input`), and compares the probabilities with cltrain's (full
precision, from the dump) and with `cltrain predict --csv` (6 decimals), within 1e-5.

Usage: onnx_check.py CLTRAIN DATA_DIR
Exits 77 (skipped) without numpy, onnx or onnxruntime, 1 on any failure.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib

try:
    import numpy as np
    import onnx
    import onnxruntime as ort
except ImportError as e:
    print(f"SKIP: numpy, onnx and onnxruntime are needed ({e})")
    sys.exit(77)

TOL = 1e-5

# (name, data set, spec, input HxW, colour): together every layer type and activation.
MODELS = [
    ("binary", "catdog", "conv4:3:relu,pool2,conv6:3:s2:same:sigmoid,pool3:s2,flatten,"
     "dense8:relu,dropout0.3,dense1", "24x20", "rgb"),
    ("three", "synth3", "conv5:3:same,relu,pool2:s1,conv4:2:s2:same:linear,flatten,"
     "dense10:relu,dropout0.5,dense6,relu,dense3:softmax", "20x18", "rgb"),
    ("gray", "synth3", "conv3:3:s2:relu,dropout0.1,pool3:s1,flatten,dense5:softmax,dense3",
     "17x19", "grayscale"),
    ("dense2", "catdog", "conv3:1:same,sigmoid,flatten,dense4:sigmoid,dense5,sigmoid,dense2:softmax", "9x11",
     "rgb"),
    ("sigmoid1", "catdog", "flatten,dense6:sigmoid,dense7,softmax,dense1:sigmoid", "8x8", "rgb"),
    # batchnorm (after a conv and after a dense, relu fused or not), average and global
    # average pooling, tanh and leakyrelu fused and as layers
    ("bnpool", "synth3", "conv6:3:same,batchnorm:relu,avgpool2,conv5:3:s2:same:tanh,"
     "batchnorm,leakyrelu0.1,avgpool3:s1,gap,dense7:leakyrelu,batchnorm:relu,dense6:tanh,"
     "tanh,dense3", "21x19", "rgb"),
]


def write_png(path, img):
    """img: uint8 HxW (grey) or HxWx3 (RGB). A minimal PNG writer (no PIL needed)."""
    h, w = img.shape[:2]
    ctype = 0 if img.ndim == 2 else 2
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(h))

    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, ctype, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def synth3(root, rng):
    """3 classes of 26x22 PNGs (RGB and grey mixed) that differ by their mean colour."""
    for k, name in enumerate(["alpha", "beta", "gamma"]):
        os.makedirs(os.path.join(root, name))
        for i in range(8):
            base = rng.integers(0, 160, size=(26, 22, 3)) + 40 * k
            img = np.clip(base, 0, 255).astype(np.uint8)
            if i % 3 == 2:
                img = img[:, :, k]
            write_png(os.path.join(root, name, f"{i:02d}.png"), img)


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        print(f"FAIL: {' '.join(cmd)} exited {r.returncode}:\n{r.stdout}{r.stderr}")
        sys.exit(1)
    return r.stdout


def check_model(clt, tmp, name, data, spec, size, colour, images, rng):
    fails = []
    m = os.path.join(tmp, f"{name}.safetensors")
    run([clt, "train", "--data", data, "--model", spec, "--input", size, "--color", colour,
         "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "8", "--lr", "1e-3",
         "--seed", "11", "--deterministic", "--out", m, "--quiet"])
    onnx_path = os.path.join(tmp, f"{name}.onnx")
    dump = os.path.join(tmp, f"{name}.f32")
    run([clt, "export", "--model", m, "--out", onnx_path, "--dump-input", dump] + images)
    with open(m, "rb") as f:
        meta = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))["__metadata__"]
    classes = json.loads(meta["classes"])
    h, w, c = (int(v) for v in meta["input"].split("x"))
    n, k = len(images), len(classes)

    model = onnx.load(onnx_path)
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as e:  # noqa: BLE001 (any checker complaint is a failure)
        fails.append(f"onnx.checker: {e}")
    props = {p.key: p.value for p in model.metadata_props}
    if props != meta:
        fails.append(f"metadata_props {props} != the model file's metadata {meta}")
    if model.opset_import[0].version != 13 or model.producer_name != "cltrain":
        fails.append(f"opset {model.opset_import[0].version}, producer {model.producer_name}")
    ops = [nd.op_type for nd in model.graph.node]
    if "Dropout" in ops:
        fails.append("a Dropout node in the inference graph")
    gin, gout = model.graph.input[0], model.graph.output[0]
    in_dims = [d.dim_param or d.dim_value for d in gin.type.tensor_type.shape.dim]
    out_dims = [d.dim_param or d.dim_value for d in gout.type.tensor_type.shape.dim]
    if gin.name != "input" or in_dims != ["N", c, h, w]:
        fails.append(f"input {gin.name} {in_dims}, expected input [N, {c}, {h}, {w}]")
    if gout.name != "probabilities" or out_dims != ["N", k]:
        fails.append(f"output {gout.name} {out_dims}, expected probabilities [N, {k}]")

    x = np.fromfile(dump, dtype="<f4").reshape(n, c, h, w)
    want = np.fromfile(dump + ".probs", dtype="<f4").reshape(n, k)
    # The dump is the tensor cltrain feeds: for a PNG at the model's size it is the pixels
    # scaled by 1/255 exactly (unless the model file says it rescales otherwise).
    exact = [i for i, p in enumerate(images) if p in pixels]
    if not any(key in meta for key in ("rescale", "featurewise_mean", "featurewise_std")):
        for i in exact:
            if not np.array_equal(x[i], pixels[images[i]].astype(np.float32) * np.float32(1 / 255)):
                fails.append(f"dumped input of {images[i]} is not its pixels / 255")

    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    got = sess.run(["probabilities"], {"input": x})[0]
    got1 = np.concatenate([sess.run(["probabilities"], {"input": x[i:i + 1]})[0] for i in range(n)])
    d_dump = float(np.abs(got - want).max())
    d_batch = float(np.abs(got - got1).max())
    # cltrain predict itself, on the same files (its CSV has 6 decimals)
    out = run([clt, "predict", "--csv", "--model", m] + images).strip().splitlines()
    rows = {r.split(",")[0]: r.split(",") for r in out[1:]}
    csv = np.array([[float(v) for v in rows[p][2:]] for p in images])
    d_csv = float(np.abs(got - csv).max())
    print(f"{name:9s} {spec}\n          {n} images {c}x{h}x{w}, {k} classes, nodes {ops}\n"
          f"          max |onnxruntime - cltrain| = {d_dump:.3g} (full precision), "
          f"{d_csv:.3g} (predict --csv); batch vs single {d_batch:.3g}")
    if not d_dump <= TOL:
        fails.append(f"onnxruntime differs from cltrain by {d_dump:.3g} > {TOL}")
    if not d_csv <= TOL:
        fails.append(f"onnxruntime differs from cltrain predict --csv by {d_csv:.3g} > {TOL}")
    if not d_batch <= TOL:
        fails.append(f"the symbolic batch gives other results batched ({d_batch:.3g})")
    if not np.allclose(got.sum(axis=1), 1, atol=1e-5):
        fails.append("probabilities do not sum to 1")
    if float(got.std(axis=0).max()) < 1e-4:
        fails.append("all images get the same probabilities: the check would prove nothing")
    noisy = x + rng.normal(0, 0.05, size=x.shape).astype(np.float32)
    if float(np.abs(sess.run(["probabilities"], {"input": noisy})[0] - got).max()) <= TOL:
        fails.append("the output does not react to its input: the check would prove nothing")
    # The comparison must catch the classic mistake: flattening in NHWC (Keras) order (not
    # testable where the Flatten reads the input itself or gap's [N, C, 1, 1]).
    if spatial_flatten(model) is not None:
        d_nhwc = float(np.abs(run_mutated(model, x, nhwc_flatten) - got).max())
        print(f"          NHWC flatten instead: differs by {d_nhwc:.3g}")
        if d_nhwc <= 10 * TOL:
            fails.append(f"an NHWC flatten changes the output by only {d_nhwc:.3g}")
    for f in fails:
        print(f"FAIL {name}: {f}")
    return d_dump, d_csv, len(fails)


pixels = {}


def spatial_flatten(model):
    """Index of the first Flatten of an image that is not the input, or None."""
    made_by = {o: nd.op_type for nd in model.graph.node for o in nd.output}
    for i, nd in enumerate(model.graph.node):
        if nd.op_type == "Flatten" and nd.input[0] != "input" and \
                made_by.get(nd.input[0]) != "GlobalAveragePool":
            return i
    return None


def nhwc_flatten(model):
    """Transpose NCHW -> NHWC before the Flatten: the bug the check must see."""
    g = model.graph
    i = spatial_flatten(model)
    src = g.node[i].input[0]
    g.node.insert(i, onnx.helper.make_node("Transpose", [src], ["nhwc"], perm=[0, 2, 3, 1]))
    g.node[i + 1].input[0] = "nhwc"


def run_mutated(model, x, mutate):
    m = onnx.ModelProto()
    m.CopyFrom(model)
    mutate(m)
    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return s.run(["probabilities"], {"input": x})[0]


def main():
    clt, data = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(7)
    catdog = os.path.join(data, "catdog-mini", "train")
    test_jpgs = [os.path.join(data, "catdog-mini", "test", c, f)
                 for c in ("cats", "dogs")
                 for f in sorted(os.listdir(os.path.join(data, "catdog-mini", "test", c)))[:3]]
    with tempfile.TemporaryDirectory() as tmp:
        s3 = os.path.join(tmp, "synth3")
        synth3(s3, rng)
        s3_imgs = sorted(os.path.join(s3, c, f) for c in os.listdir(s3)
                         for f in os.listdir(os.path.join(s3, c)))[::3]
        results, fails = [], 0
        for name, ds, spec, size, colour in MODELS:
            h, w = (int(v) for v in size.split("x"))
            ch = 1 if colour == "grayscale" else 3
            # PNGs at the model's size decode exactly: their tensor is known without cltrain
            own = []
            for i in range(3):
                img = rng.integers(0, 256, size=(h, w, ch) if ch == 3 else (h, w), dtype=np.uint8)
                p = os.path.join(tmp, f"{name}-{i}.png")
                write_png(p, img)
                pixels[p] = img.transpose(2, 0, 1) if ch == 3 else img[None]
                own.append(p)
            imgs = own + (test_jpgs if ds == "catdog" else s3_imgs)
            d1, d2, nf = check_model(clt, tmp, name, catdog if ds == "catdog" else s3, spec, size,
                                     colour, imgs, rng)
            results.append((d1, d2))
            fails += nf
        print(f"max difference over {len(MODELS)} models: {max(r[0] for r in results):.3g} "
              f"(full precision), {max(r[1] for r in results):.3g} (predict --csv)")
        print(f"onnx_check: {len(MODELS)} models, {fails} failed checks")
        sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
