#!/usr/bin/env python3
"""Writes tests/golden/cat1_{rgb,l}_nearest_48x64.png: what Keras's load_img gives for
data/catdog-mini/train/cats/cat.1.jpg at target_size=(48, 64) (Pillow: open, convert('RGB') or
convert('L'), resize NEAREST). Needs Pillow (generation only)."""
import os

from PIL import Image

root = os.path.join(os.path.dirname(__file__), "..")
im = Image.open(os.path.join(root, "data/catdog-mini/train/cats/cat.1.jpg"))
for mode, tag in (("RGB", "rgb"), ("L", "l")):
    out = os.path.join(root, "tests/golden/cat1_%s_nearest_48x64.png" % tag)
    im.convert(mode).resize((64, 48), Image.NEAREST).save(out + ".tmp.png")
    os.replace(out + ".tmp.png", out)
