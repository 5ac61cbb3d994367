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

/* Backward when windows do not overlap (s >= p): one work-item per s x s cell of the
 * input (the last cells cover the rows/columns no window reaches). It writes its whole
 * cell: dy at the window's argmax, 0 elsewhere. relu != 0 applies the backward of a ReLU
 * fused into the layer that produced x (x is its output, so relu'(pre) = x > 0). */
__kernel void ct_pool_bwd_cells(const int nc, const int h, const int w, const int p, const int s,
                                const int oh, const int ow, const int relu,
                                __global const float *x, __global const float *dy,
                                __global float *dx) {
    int ch = (h + s - 1) / s, cw = (w + s - 1) / s;
    int i = get_global_id(0);
    if (i >= nc * ch * cw) return;
    int cx = i % cw, t = i / cw, cy = t % ch, c = t / ch;
    __global const float *xc = x + (size_t)c * h * w;
    __global float *dxc = dx + (size_t)c * h * w;
    int y0 = cy * s, x0 = cx * s;
    int best = -1;
    float g = 0.0f;
    if (cy < oh && cx < ow) {
        best = ct_pool_argmax(xc, w, y0, x0, p);
        g = dy[((size_t)c * oh + cy) * ow + cx];
        if (relu && !(xc[best] > 0.0f)) g = 0.0f;
    }
    int y1 = min(y0 + s, h), x1 = min(x0 + s, w);
    for (int yy = y0; yy < y1; yy++)
        for (int xx = x0; xx < x1; xx++) {
            int idx = yy * w + xx;
            dxc[idx] = idx == best ? g : 0.0f;
        }
}

/* Backward for overlapping windows (s < p): one work-item per input element gathers dy
 * from every window whose maximum it is (no atomics, deterministic). */
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

/* Pool 2 / stride 2, one work-item per output row (contiguous loads on CPUs; still
 * coalesced enough on GPUs as neighbouring work-items take neighbouring rows). It also
 * zeroes the last input row/column no window reaches (odd h or w). */
__kernel void ct_pool2_fwd_rows(const int nc, const int h, const int w, const int oh,
                                const int ow, __global const float *x, __global float *y) {
    int r = get_global_id(0);
    if (r >= nc * oh) return;
    int oy = r % oh, c = r / oh;
    __global const float *r0 = x + ((size_t)c * h + 2 * oy) * w, *r1 = r0 + w;
    __global float *yr = y + (size_t)r * ow;
    for (int ox = 0; ox < ow; ox++) {
        float m = r0[2 * ox], v;
        v = r0[2 * ox + 1];
        if (v > m || (isnan(v) && !isnan(m))) m = v;
        v = r1[2 * ox];
        if (v > m || (isnan(v) && !isnan(m))) m = v;
        v = r1[2 * ox + 1];
        if (v > m || (isnan(v) && !isnan(m))) m = v;
        yr[ox] = m;
    }
}

__kernel void ct_pool2_bwd_rows(const int nc, const int h, const int w, const int oh,
                                const int ow, const int relu, __global const float *x,
                                __global const float *dy, __global float *dx) {
    int ch = (h + 1) / 2;
    int r = get_global_id(0);
    if (r >= nc * ch) return;
    int cy = r % ch, c = r / ch;
    size_t o0 = ((size_t)c * h + 2 * cy) * w;
    __global float *d0 = dx + o0, *d1 = d0 + w;
    if (cy >= oh) { /* odd h: the last row no window reaches */
        for (int xx = 0; xx < w; xx++) d0[xx] = 0.0f;
        return;
    }
    __global const float *r0 = x + o0, *r1 = r0 + w;
    __global const float *dyr = dy + ((size_t)c * oh + cy) * ow;
    for (int ox = 0; ox < ow; ox++) {
        float2 a = vload2(ox, r0), b2 = vload2(ox, r1);
        float m = a.x;
        int b = 0;
        if (a.y > m || (isnan(a.y) && !isnan(m))) m = a.y, b = 1;
        if (b2.x > m || (isnan(b2.x) && !isnan(m))) m = b2.x, b = 2;
        if (b2.y > m || (isnan(b2.y) && !isnan(m))) m = b2.y, b = 3;
        float g = dyr[ox];
        if (relu && !(m > 0.0f)) g = 0.0f;
        vstore2((float2)(b == 0 ? g : 0.0f, b == 1 ? g : 0.0f), ox, d0);
        vstore2((float2)(b == 2 ? g : 0.0f, b == 3 ? g : 0.0f), ox, d1);
    }
    if (w & 1) {
        d0[w - 1] = 0.0f;
        d1[w - 1] = 0.0f;
    }
}
