/* Max-pooling, NCHW, valid windows only (Keras floor behaviour: oh = (h - p) / s + 1).
 * Ties and NaN follow PyTorch: the first maximum in row-major window order wins, a NaN
 * wins over any number. */
#include "common.h"

inline int ct_pool_argmax(__global const float *xc, int w, int y0, int x0, int p) {
    int best = y0 * w + x0;
    float m = xc[best];
    for (int dy = 0; dy < p; dy++)
        for (int dx = 0; dx < p; dx++) {
            int idx = (y0 + dy) * w + x0 + dx;
            float v = xc[idx];
            if (v > m || (isnan(v) && !isnan(m))) {
                m = v;
                best = idx;
            }
        }
    return best;
}

/* One work-item per output element. */
__kernel void ct_pool_fwd(const int nc, const int h, const int w, const int p, const int s,
                          const int oh, const int ow, __global const float *x,
                          __global float *y) {
    int i = get_global_id(0);
    if (i >= nc * oh * ow) return;
    int ox = i % ow, t = i / ow, oy = t % oh, c = t / oh;
    __global const float *xc = x + (size_t)c * h * w;
    y[i] = xc[ct_pool_argmax(xc, w, oy * s, ox * s, p)];
}

/* One work-item per input element: gathers dy from every window whose maximum it is (no
 * atomics, deterministic). relu != 0 applies the backward of a ReLU fused into the layer
 * that produced x (x is its post-activation output, so relu'(pre) = x > 0). */
__kernel void ct_pool_bwd(const int nc, const int h, const int w, const int p, const int s,
                          const int oh, const int ow, const int relu, __global const float *x,
                          __global const float *dy, __global float *dx) {
    int i = get_global_id(0);
    if (i >= nc * h * w) return;
    int ix = i % w, t = i / w, iy = t % h, c = t / h;
    __global const float *xc = x + (size_t)c * h * w;
    __global const float *dyc = dy + (size_t)c * oh * ow;
    int own = iy * w + ix;
    float g = 0.0f;
    /* windows oy with oy*s <= iy < oy*s + p */
    int oy0 = iy - p + 1 > 0 ? (iy - p + 1 + s - 1) / s : 0;
    int oy1 = min(iy / s, oh - 1);
    int ox0 = ix - p + 1 > 0 ? (ix - p + 1 + s - 1) / s : 0;
    int ox1 = min(ix / s, ow - 1);
    for (int oy = oy0; oy <= oy1; oy++)
        for (int ox = ox0; ox <= ox1; ox++)
            if (ct_pool_argmax(xc, w, oy * s, ox * s, p) == own) g += dyc[oy * ow + ox];
    if (relu && !(xc[own] > 0.0f)) g = 0.0f;
    dx[i] = g;
}
