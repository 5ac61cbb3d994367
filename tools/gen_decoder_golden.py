#!/usr/bin/env python3
"""Writes tests/golden/decode/: small PNGs of every colour type and bit depth, JPEGs of every
kind Pillow writes (baseline at 4:4:4 / 4:2:2 / 4:2:0, progressive, optimised, restart
markers, grayscale, CMYK), and what Pillow (Keras's load_img) gives for each: the raw bytes
of Image.open(f).convert('RGB') and .convert('L') at full size (for 16-bit grey, where
cltrain differs on purpose, also png_g16.hibyte.*: the high byte of each sample). tests/test_data.c decodes
each file with cltrain and compares. manifest.txt lists "name width height".
The PNGs are written here byte by byte (zlib + struct), so every colour type / bit depth
combination exists, including those Pillow cannot write (16-bit RGB, 2-bit grey, ...).
Needs Pillow (generation only): python3 tools/gen_decoder_golden.py"""
import os
import struct
import zlib

from PIL import Image

W, H = 19, 13
out_dir = os.path.join(os.path.dirname(__file__), "..", "tests", "golden", "decode")


def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)


def sample(x, y, k, maxv):
    """A deterministic pattern: gradients and a checker, different per channel."""
    v = (x * 37 + y * 59 + k * 101 + ((x // 3 + y // 2) % 2) * 151) % 256
    return v * maxv // 255


def pack_row(vals, depth):
    if depth == 16:
        return b"".join(struct.pack(">H", v) for v in vals)
    if depth == 8:
        return bytes(vals)
    per = 8 // depth
    out = bytearray()
    for i in range(0, len(vals), per):
        b = 0
        for j in range(per):
            v = vals[i + j] if i + j < len(vals) else 0
            b |= v << (8 - depth * (j + 1))
        out.append(b)
    return bytes(out)


def write_png(path, ctype, depth, extra=b""):
    chans = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]
    maxv = (1 << depth) - 1
    raw = b""
    for y in range(H):
        vals = []
        for x in range(W):
            for k in range(chans):
                if ctype == 3:
                    vals.append((x + 3 * y) % (1 << depth))
                elif (ctype in (4, 6)) and k == chans - 1:
                    vals.append(((x * 13 + y * 7) % 256) * maxv // 255)  # alpha
                else:
                    vals.append(sample(x, y, k, maxv))
        raw += b"\0" + pack_row(vals, depth)
    ihdr = struct.pack(">IIBBBBB", W, H, depth, ctype, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra
    data += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


def palette(depth, trns=False):
    n = 1 << depth
    pal = b"".join(bytes(((i * 71) % 256, (i * 143 + 40) % 256, (i * 29 + 200) % 256)) for i in range(n))
    extra = chunk(b"PLTE", pal)
    if trns:
        extra += chunk(b"tRNS", bytes((i * 97) % 256 for i in range(n)))
    return extra


def main():
    os.makedirs(out_dir, exist_ok=True)
    names = []
    pngs = [("png_g1", 0, 1, b""), ("png_g2", 0, 2, b""), ("png_g4", 0, 4, b""),
            ("png_g8", 0, 8, b""), ("png_g16", 0, 16, b""),
            ("png_g8_trns", 0, 8, chunk(b"tRNS", struct.pack(">H", 37))),
            ("png_rgb8", 2, 8, b""), ("png_rgb16", 2, 16, b""),
            ("png_rgb8_trns", 2, 8, chunk(b"tRNS", struct.pack(">HHH", 37, 96, 155))),
            ("png_p1", 3, 1, palette(1)), ("png_p2", 3, 2, palette(2)),
            ("png_p4", 3, 4, palette(4)), ("png_p8", 3, 8, palette(8)),
            ("png_p4_trns", 3, 4, palette(4, True)),
            ("png_ga8", 4, 8, b""), ("png_ga16", 4, 16, b""),
            ("png_rgba8", 6, 8, b""), ("png_rgba16", 6, 16, b"")]
    for name, ct, d, extra in pngs:
        write_png(os.path.join(out_dir, name + ".png"), ct, d, extra)
        names.append(name + ".png")
    base = Image.new("RGB", (W, H))
    base.putdata([tuple(sample(x, y, k, 255) for k in range(3)) for y in range(H) for x in range(W)])
    jpgs = [("jpg_444", base, dict(quality=90, subsampling=0)),
            ("jpg_422", base, dict(quality=90, subsampling=1)),
            ("jpg_420", base, dict(quality=75, subsampling=2)),
            ("jpg_progressive", base, dict(quality=85, progressive=True)),
            ("jpg_optimized", base, dict(quality=80, optimize=True)),
            ("jpg_restart", base, dict(quality=80, restart_marker_blocks=1)),
            ("jpg_grey", base.convert("L"), dict(quality=90)),
            ("jpg_cmyk", base.convert("CMYK"), dict(quality=90))]
    for name, im, kw in jpgs:
        im.save(os.path.join(out_dir, name + ".jpg"), "JPEG", **kw)
        names.append(name + ".jpg")
    with open(os.path.join(out_dir, "manifest.txt"), "w") as man:
        for n in names:
            im = Image.open(os.path.join(out_dir, n))
            im.load()
            for mode, ext in (("RGB", "rgb"), ("L", "l")):
                with open(os.path.join(out_dir, os.path.splitext(n)[0] + "." + ext), "wb") as f:
                    f.write(im.convert(mode).tobytes())
            man.write("%s %d %d %s\n" % (n, im.size[0], im.size[1], im.mode))
    # 16-bit grey: Pillow's convert() clips I;16 at 255 (a photo turns white); cltrain keeps
    # the high byte, as libpng's strip_16 and Pillow's own 16-bit RGB do. Its golden is that.
    g16 = bytes(sample(x, y, 0, 65535) >> 8 for y in range(H) for x in range(W))
    with open(os.path.join(out_dir, "png_g16.hibyte.l"), "wb") as f:
        f.write(g16)
    with open(os.path.join(out_dir, "png_g16.hibyte.rgb"), "wb") as f:
        f.write(bytes(v for v in g16 for _ in range(3)))


if __name__ == "__main__":
    main()
