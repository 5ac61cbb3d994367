#!/usr/bin/env python3
"""Side-by-side benchmark: cltrain vs Keras/TensorFlow and PyTorch, in one run, alternating.

  python3 bench/compare.py [--runs 5] [--steps 15] [--epochs 2] [--peers keras,pytorch]
                           [--what step,epoch] [--sweep none|batch|input]
                           [--batches 8,16,32,64,128] [--inputs 64,112,160,224]
                           [--max-load 0.5] [--force] [--out bench/out/table.md]

Model 2 (Adam lr 1e-4; batch 64 and 112x112 unless swept). For each system it measures
  - step: images/s of the model step alone on synthetic data (median step of one process);
  - epoch: images/s over whole training epochs on --data, each system's own augmentation
    pipeline included (median epoch of one process);
  - the peak resident memory of each process (wait4).
The systems run alternately, A B C A B C ..., --runs times, so that a change of machine
speed during the run falls on all of them; each cell is the median over the runs with the
spread (min-max). The machine's FMA peak (build/tools/fma_peak) is measured once a round,
in the same run, and % of peak is counted on Model 2's direct-convolution FLOPs
(bench/model2_flops.py). The 1-minute load average is printed before and after; above
--max-load at the start it refuses to measure (a loaded machine flatters whoever degrades
least), unless --force, and then every table says it was loaded. A peer that fails (not
installed, crashed) is a FAILED row with its reason, never a missing one.
--sweep batch: the step at each of --batches; --sweep input: the step at each of --inputs
(Model 2's layout, the flatten size following), per image and per step.
"""
import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from model2_flops import train_flops_per_image  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def run_rss(cmd, env=None):
    """Runs cmd; returns (stdout, stderr, exit code, peak RSS in MiB)."""
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


def reason(err, rc):
    """The last informative stderr line of a failed run, for its FAILED row."""
    lines = [ln.strip() for ln in err.strip().splitlines() if ln.strip()]
    last = lines[-1] if lines else "no message"
    if rc == 127:
        last = "could not be started: " + last
    return f"exit {rc}: {last[:150]}"


def load1():
    return os.getloadavg()[0]


def uptime_line():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return f"load average {os.getloadavg()}"


class Cell:
    """The values one system gave for one measure across the runs, or why it failed."""

    def __init__(self):
        self.values, self.rss, self.failures, self.version = [], [], [], ""

    def add(self, value, rss, version=""):
        self.values.append(value)
        self.rss.append(rss)
        self.version = self.version or version

    def median(self):
        return statistics.median(self.values) if self.values else None

    def text(self, fmt="{:.1f}"):
        if not self.values:
            return "FAILED"
        m = fmt.format(self.median())
        if len(self.values) > 1:
            m += f" ({fmt.format(min(self.values))}-{fmt.format(max(self.values))})"
        if self.failures:
            m += f" [{len(self.failures)} failed]"
        return m


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "catdog", "train"))
    ap.add_argument("--runs", type=int, default=5, help="alternating rounds (default 5)")
    ap.add_argument("--epochs", type=int, default=2, help="epochs per epoch measurement")
    ap.add_argument("--steps", type=int, default=15, help="timed steps per step measurement")
    ap.add_argument("--peers", default="keras,pytorch")
    ap.add_argument("--what", default="step,epoch", help="step, epoch or both")
    ap.add_argument("--sweep", choices=["none", "batch", "input"], default="none")
    ap.add_argument("--batches", default="8,16,32,64,128")
    ap.add_argument("--inputs", default="64,112,160,224")
    ap.add_argument("--max-load", type=float, default=0.5)
    ap.add_argument("--force", action="store_true", help="measure even on a loaded machine")
    ap.add_argument("--device", default=None)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", default=None, help="also write the tables (markdown) here")
    ap.add_argument("--keras-python", default=sys.executable,
                    help="python with tensorflow-cpu (e.g. a venv from bench/requirements.txt)")
    ap.add_argument("--torch-python", default=sys.executable,
                    help="python with torch + torchvision")
    a = ap.parse_args()
    if a.runs < 1 or a.steps < 1 or a.epochs < 1:
        ap.error("--runs, --steps and --epochs must be at least 1")
    what = [w for w in a.what.split(",") if w]
    if what == ["both"]:
        what = ["step", "epoch"]
    if not what or any(w not in ("step", "epoch") for w in what):
        ap.error(f"--what {a.what!r}: give step, epoch, step,epoch or both")

    before = load1()
    print(f"# before: {uptime_line()}", flush=True)
    loaded = before > a.max_load
    if loaded and not a.force:
        print(f"compare.py: refusing to measure: the 1-minute load is {before:.2f}, above "
              f"--max-load {a.max_load} (figures from a loaded machine mislead; wait for an idle "
              f"machine, or pass --force to measure anyway, marked as loaded)", file=sys.stderr)
        return 3

    tmp = tempfile.mkdtemp(prefix="cltrain-bench-")
    run_rss.outfile = os.path.join(tmp, "out.txt")
    cltrain = os.path.join(a.build, "src", "cltrain")
    dev = ["--device", a.device] if a.device else []
    systems = ["cltrain"] + [p for p in a.peers.split(",") if p]
    if a.sweep == "batch":
        configs = [(int(b), 112) for b in a.batches.split(",")]
        what = ["step"]
    elif a.sweep == "input":
        configs = [(64, int(s)) for s in a.inputs.split(",")]
        what = ["step"]
    else:
        configs = [(64, 112)]
    n_images = sum(len(files) for _, _, files in os.walk(a.data)) if "epoch" in what else 0

    def measure(system, kind, batch, size):
        """One measurement: (images/s, rss, version) or raises RuntimeError(reason)."""
        inp = f"{size}x{size}"
        if system == "cltrain":
            if kind == "step":
                out, err, rc, rss = run_rss([cltrain, "bench", "step", "--steps", str(a.steps),
                                             "--batch-size", str(batch), "--input", inp] + dev)
                j = last_json(out)
                if rc != 0 or not j:
                    raise RuntimeError(reason(err, rc))
                return j["images_per_s"], rss, j.get("version", "")
            hist = os.path.join(tmp, "h.csv")
            out, err, rc, rss = run_rss([cltrain, "train", "--data", a.data, "--model", "model2",
                                         "--epochs", str(a.epochs), "--batch-size", str(batch),
                                         "--lr", "1e-4", "--augment", "seed", "--history", hist,
                                         "--out", os.path.join(tmp, "m.safetensors"),
                                         "--quiet"] + dev)
            if rc != 0:
                raise RuntimeError(reason(err, rc))
            with open(hist) as f:
                secs = [float(r["seconds"]) for r in csv.DictReader(f)]
            return statistics.median(n_images / s for s in secs), rss, ""
        script = os.path.join(ROOT, "bench", {"pytorch": "peer_torch.py"}.get(system,
                                                                          f"peer_{system}.py"))
        python = a.keras_python if system == "keras" else a.torch_python
        if kind == "step":
            cmd = [python, script, "step", "--steps", str(a.steps), "--batch", str(batch),
                   "--input", inp]
        else:
            cmd = [python, script, "epoch", "--data", a.data, "--epochs", str(a.epochs),
                   "--batch", str(batch)]
        out, err, rc, rss = run_rss(cmd)
        j = last_json(out)
        if rc != 0 or not j:
            raise RuntimeError(reason(err, rc))
        return j["images_per_s"], rss, j.get("version", "")

    fma = os.path.join(a.build, "tools", "fma_peak")
    peaks = []
    cells = {(s, k, c): Cell() for s in systems for k in what for c in configs}
    t_start = time.time()
    for r in range(a.runs):
        if os.path.exists(fma):
            out, _, rc, _ = run_rss([fma, "--json"])
            j = last_json(out)
            if rc == 0 and j and j.get("gflops"):
                peaks.append(j["gflops"])
        for c in configs:
            for k in what:
                for s in systems:  # alternating: every system once per round and measure
                    cell = cells[(s, k, c)]
                    try:
                        v, rss, ver = measure(s, k, *c)
                        cell.add(v, rss, ver)
                        print(f"  round {r + 1}/{a.runs} {s} {k} batch {c[0]} {c[1]}x{c[1]}: "
                              f"{v:.1f} img/s", flush=True)
                    except RuntimeError as e:
                        cell.failures.append(str(e))
                        print(f"  round {r + 1}/{a.runs} {s} {k} batch {c[0]} {c[1]}x{c[1]}: "
                              f"FAILED {e}", flush=True)
    after = load1()
    peak = statistics.median(peaks) if peaks else None

    def fmt(x, f="{:.1f}"):
        return f.format(x) if isinstance(x, (int, float)) else "n/a"

    out_lines = [
        f"# {platform.machine()}, {os.cpu_count()} cores; {a.runs} alternating rounds in "
        f"{time.time() - t_start:.0f} s; load {before:.2f} before, {after:.2f} after"
        + (" (LOADED at the start: not a valid measurement)" if loaded else ""),
        f"# FMA peak {fmt(peak)} GFLOP/s (median of {len(peaks)}"
        + (f", {min(peaks):.1f}-{max(peaks):.1f})" if peaks else ")"),
        "# cells: median (min-max) images/s over the rounds"]
    for c in configs:
        batch, size = c
        flops = train_flops_per_image(size, size)[1]
        out_lines += ["", f"Model 2, batch {batch}, {size}x{size} "
                      f"({flops / 1e6:.0f} MFLOP per image per training step)", ""]
        head = "| system |"
        rule = "|---|"
        for k in what:
            head += f" {k} img/s | cltrain {k} ratio |"
            rule += "---|---|"
        if "step" in what:
            head += " step ms/image | step GFLOP/s | % FMA peak |"
            rule += "---|---|---|"
        head += " peak RSS MiB | notes |"
        rule += "---|---|"
        out_lines += [head, rule]
        for s in systems:
            row = f"| {s} {next((cells[(s, k, c)].version for k in what if cells[(s, k, c)].version), '')} |"
            notes = []
            for k in what:
                cell, base = cells[(s, k, c)], cells[("cltrain", k, c)]
                ratio = (base.median() / cell.median()
                         if cell.median() and base.median() else None)
                row += f" {cell.text()} | {fmt(ratio, '{:.2f}x')} |"
                notes += [f"{k}: {f}" for f in cell.failures[:1]]
            if "step" in what:
                st = cells[(s, "step", c)].median()
                gf = st * flops / 1e9 if st else None
                row += (f" {fmt(1000 / st if st else None, '{:.2f}')} | {fmt(gf)} | "
                        f"{fmt(100 * gf / peak if gf and peak else None)} |")
            rss = max((x for k in what for x in cells[(s, k, c)].rss), default=None)
            row += f" {fmt(rss, '{:.0f}')} | {'; '.join(notes)} |"
            out_lines.append(row)
    table = "\n".join(out_lines)
    print(table)
    print(f"# after: {uptime_line()}")
    if a.out:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        with open(a.out + ".tmp", "w") as f:
            f.write(table + "\n")
        os.replace(a.out + ".tmp", a.out)
    failed = any(cell.failures for cell in cells.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
