#!/usr/bin/env python3
"""PyTorch peer for bench/compare.py: the seed's Model 2 (batch 64, 112x112, Adam, BCE).

  peer_torch.py step  [--steps N] [--batch N] [--input HxW] [--device cpu|cuda]
                      synthetic data, model step only
  peer_torch.py epoch --data DIR [--epochs N] [--workers N] [--device cpu|cuda]
                      ImageFolder + torchvision augmentation matching the seed's ImageDataGenerator
Prints one JSON line: {"peer": "pytorch", "mode": ..., "images_per_s": ..., ...}.
"""
import argparse
import json
import os
import statistics
import time

import torch
import torch.nn as nn


def model2(h=112, w=112):
    for _ in range(4):  # valid 3x3 conv, then 2x2 pool (floor), as Keras
        h, w = (h - 2) // 2, (w - 2) // 2
    return nn.Sequential(
        nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * h * w, 248), nn.ReLU(), nn.Dropout(0.2), nn.Linear(248, 1))


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["step", "epoch"])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--data")
    ap.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--input", default="112x112", help="HxW (step mode; Model 2's layout)")
    a = ap.parse_args()
    h, w = (int(v) for v in a.input.lower().split("x"))
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    torch.manual_seed(1)
    m = model2(h, w).to(dev)
    opt = torch.optim.Adam(m.parameters(), lr=1e-4, eps=1e-7)
    lossf = nn.BCEWithLogitsLoss()

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        loss = lossf(m(x).squeeze(1), y)
        loss.backward()
        opt.step()
        return loss

    out = {"peer": "pytorch", "version": torch.__version__, "mode": a.mode, "device": str(dev),
           "threads": torch.get_num_threads()}
    if a.mode == "step":
        x = torch.rand(a.batch, 3, h, w, device=dev)
        y = (torch.rand(a.batch, device=dev) > 0.5).float()
        for _ in range(a.warmup):
            step(x, y)
        sync(dev)
        times = []
        for _ in range(a.steps):
            t = time.perf_counter()
            step(x, y)
            sync(dev)
            times.append(time.perf_counter() - t)
        med = statistics.median(times)
        out.update(images_per_s=a.batch / med, median_step_s=med, steps=a.steps)
    else:
        import torchvision.transforms as T
        from torchvision.datasets import ImageFolder
        from torch.utils.data import DataLoader
        # ImageDataGenerator(rotation 20, shifts 0.2, shear 0.1 deg, zoom 0.2, hflip), rescale 1/255.
        tf = T.Compose([
            T.Resize((112, 112), interpolation=T.InterpolationMode.NEAREST),
            T.RandomAffine(degrees=20, translate=(0.2, 0.2), scale=(0.8, 1.2), shear=0.1,
                           interpolation=T.InterpolationMode.BILINEAR),
            T.RandomHorizontalFlip(),
            T.ToTensor()])
        ds = ImageFolder(a.data, transform=tf)
        dl = DataLoader(ds, batch_size=a.batch, shuffle=True, num_workers=a.workers,
                        persistent_workers=a.workers > 0, pin_memory=dev.type == "cuda")
        rates = []
        for _ in range(a.epochs):
            t = time.perf_counter()
            n = 0
            for x, y in dl:
                step(x.to(dev, non_blocking=True), y.float().to(dev, non_blocking=True))
                n += x.shape[0]
            sync(dev)
            rates.append(n / (time.perf_counter() - t))
        out.update(images_per_s=statistics.median(rates), epochs=a.epochs, images=len(ds),
                   workers=a.workers)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
