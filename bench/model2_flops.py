"""FLOP counts of the seed's models (multiply-add = 2 FLOP), shared by the bench scripts."""


def model2_layers(h=112, w=112, c=3):
    """(kind, cin, cout, k, in_h, in_w, out_h, out_w) for Model 2's conv/dense layers."""
    layers = []
    for cout in (32, 64, 64, 64):
        oh, ow = h - 2, w - 2
        layers.append(("conv", c, cout, 3, h, w, oh, ow))
        h, w, c = oh // 2, ow // 2, cout
    flat = c * h * w
    layers.append(("dense", flat, 248, 1, 1, 1, 1, 1))
    layers.append(("dense", 248, 1, 1, 1, 1, 1, 1))
    return layers


def train_flops_per_image(h=112, w=112, c=3):
    """Forward + backward-weights + backward-data (none for the first layer)."""
    fwd = bwd = 0
    for i, (_, cin, cout, k, _, _, oh, ow) in enumerate(model2_layers(h, w, c)):
        f = 2.0 * cin * cout * k * k * oh * ow
        fwd += f
        bwd += f if i == 0 else 2 * f
    return fwd, fwd + bwd


if __name__ == "__main__":
    f, t = train_flops_per_image()
    print(f"forward {f / 1e6:.1f} MFLOP/image, training step {t / 1e6:.1f} MFLOP/image")
