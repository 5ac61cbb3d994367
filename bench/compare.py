#!/usr/bin/env python3
"""Side-by-side benchmark: cltrain vs Keras/TensorFlow and PyTorch, in one run.

  python3 bench/compare.py [--data ../shared/data/catdog/train] [--epochs 2] [--steps 15]
                           [--peers keras,pytorch] [--device P:D] [--out bench/out/table.md]

For each system it measures (Model 2, batch 64, 112x112, Adam lr 1e-4):
  - images/s over whole training epochs, augmentation pipeline included (median of epochs);
  - images/s of the model step alone on synthetic data (median of steps);
  - peak resident memory of the process (from wait4).
It also measures the machine's FMA peak (build/tools/fma_peak) in the same run and prints
effective GFLOP/s and % of peak, and cltrain's ratio to each peer. Needs the peers from
bench/requirements.txt; a missing peer is reported and skipped.
"""
import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from model2_flops import train_flops_per_image  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))




def run_rss(cmd, env=None):
    pid = os.fork()
    if pid == 0:
        os.environ.update(env or {})
        fd = os.open(run_rss.outfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        efd = os.open(run_rss.outfile + ".err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(efd, 2)
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    with open(run_rss.outfile) as f:
        out = f.read()
    with open(run_rss.outfile + ".err") as f:
        err = f.read()
    return out, err, os.waitstatus_to_exitcode(status), ru.ru_maxrss / 1024.0


def last_json(out):
    for line in reversed(out.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                pass
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "catdog", "train"))
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--peers", default="keras,pytorch")
    ap.add_argument("--device", default=None)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--keras-python", default=sys.executable,
                    help="python with tensorflow-cpu (e.g. a venv from bench/requirements.txt)")
    ap.add_argument("--torch-python", default=sys.executable,
                    help="python with torch + torchvision")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="cltrain-bench-")
    run_rss.outfile = os.path.join(tmp, "out.txt")
    cltrain = os.path.join(a.build, "src", "cltrain")
    dev = ["--device", a.device] if a.device else []
    _, train_flops = train_flops_per_image()

    peak = None
    fma = os.path.join(a.build, "tools", "fma_peak")
    if os.path.exists(fma):
        out, _, rc, _ = run_rss([fma, "--json"])
        j = last_json(out)
        peak = j and j.get("gflops")
    rows = []
    print(f"# machine: {platform.machine()}, {os.cpu_count()} cores; FMA peak "
          f"{peak if peak else '?'} GFLOP/s", flush=True)

    # cltrain
    res = {"name": "cltrain"}
    out, err, rc, rss = run_rss([cltrain, "bench", "step", "--steps", str(a.steps)] + dev)
    j = last_json(out)
    if rc == 0 and j:
        res["step"] = j["images_per_s"]
        res["rss_step"] = rss
        res["version"] = j.get("version", "")
    else:
        print("cltrain step failed:", err[-2000:], file=sys.stderr)
    hist = os.path.join(tmp, "h.csv")
    out, err, rc, rss = run_rss([cltrain, "train", "--data", a.data, "--model", "model2",
                                 "--epochs", str(a.epochs), "--batch-size", "64", "--lr", "1e-4",
                                 "--augment", "seed", "--history", hist, "--quiet"] + dev)
    if rc == 0:
        with open(hist) as f:
            secs = [float(r["seconds"]) for r in csv.DictReader(f)]
        n = sum(len(files) for _, _, files in os.walk(a.data))
        rates = sorted(n / s for s in secs)
        mid = len(rates) // 2
        res["epoch"] = rates[mid] if len(rates) % 2 else (rates[mid - 1] + rates[mid]) / 2
        res["epochs_all"] = [round(r, 1) for r in (n / s for s in secs)]
        res["rss"] = rss
    else:
        print("cltrain train failed:", err[-2000:], file=sys.stderr)
    rows.append(res)

    for peer in [p for p in a.peers.split(",") if p]:
        script = os.path.join(ROOT, "bench", {"pytorch": "peer_torch.py"}.get(peer, f"peer_{peer}.py"))
        res = {"name": peer}
        python = a.keras_python if peer == "keras" else a.torch_python
        out, err, rc, rss = run_rss([python, script, "step", "--steps", str(a.steps)])
        j = last_json(out)
        if rc == 0 and j:
            res["step"] = j["images_per_s"]
            res["rss_step"] = rss
            res["version"] = j.get("version", "")
        else:
            print(f"{peer} step failed (installed? pip install -r bench/requirements.txt):",
                  err[-1500:], file=sys.stderr)
        out, err, rc, rss = run_rss([python, script, "epoch", "--data", a.data,
                                     "--epochs", str(a.epochs)])
        j = last_json(out)
        if rc == 0 and j:
            res["epoch"] = j["images_per_s"]
            res["rss"] = rss
        else:
            print(f"{peer} epoch failed:", err[-1500:], file=sys.stderr)
        rows.append(res)

    def fmt(x, f="{:.1f}"):
        return f.format(x) if isinstance(x, (int, float)) else "n/a"

    lines = ["| system | epoch img/s (pipeline incl.) | step img/s (synthetic) | step GFLOP/s | % FMA peak "
             "| cltrain epoch ratio | cltrain step ratio | peak RSS MiB |",
             "|---|---|---|---|---|---|---|---|"]
    base = rows[0]
    for r in rows:
        gf = r.get("step", 0) * train_flops / 1e9 if r.get("step") else None
        pct = 100 * gf / peak if gf and peak else None
        re = base.get("epoch") / r["epoch"] if base.get("epoch") and r.get("epoch") else None
        rs = base.get("step") / r["step"] if base.get("step") and r.get("step") else None
        rss = max(r.get("rss", 0), r.get("rss_step", 0)) or None
        lines.append(f"| {r['name']} {r.get('version', '')} | {fmt(r.get('epoch'))} | "
                     f"{fmt(r.get('step'))} | {fmt(gf)} | {fmt(pct)} | {fmt(re, '{:.2f}x')} | "
                     f"{fmt(rs, '{:.2f}x')} | {fmt(rss, '{:.0f}')} |")
    table = "\n".join(lines)
    print(table)
    if "epochs_all" in base:
        print(f"cltrain per-epoch img/s: {base['epochs_all']}")
    if a.out:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        with open(a.out + ".tmp", "w") as f:
            f.write(table + "\n")
        os.replace(a.out + ".tmp", a.out)


if __name__ == "__main__":
    main()
