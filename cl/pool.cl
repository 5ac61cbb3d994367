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

/* Pool 2 / stride 2: one work-item per run of 8 windows of one output row, with float16
 * loads (explicit vectors are what PoCL turns into AVX; on GPUs neighbouring work-items
 * still read neighbouring memory). Same tie/NaN rule as ct_pool_argmax.
 * want_idx: also writes idx, one byte per output (the layout of y): the window position
 * of the maximum (0..3, row-major) | CT_POOL_POS (common.h) when the maximum is > 0 (the
 * relu' a fused ReLU before the pool needs). ct_pool2_bwd_idx reads it; the fused
 * Winograd forward (cl/conv.cl) writes the same code. */

__kernel void ct_pool2_fwd_rows(const int nc, const int h, const int w, const int oh,
                                const int ow, __global const float *x, __global float *y,
                                const int want_idx, __global uchar *idx) {
    int chunks = (ow + 7) / 8;
    int i = get_global_id(0);
    if (i >= nc * oh * chunks) return;
    int j = i % chunks, r = i / chunks;
    int oy = r % oh, c = r / oh, ox0 = 8 * j;
    __global const float *r0 = x + ((size_t)c * h + 2 * oy) * w + 2 * ox0, *r1 = r0 + w;
    size_t o = (size_t)r * ow + ox0;
    if (ox0 + 8 <= ow) {
        float16 a = vload16(0, r0), b = vload16(0, r1);
        float8 m;
        int8 k;
        CT_POOL4(a.even, a.odd, b.even, b.odd, m, k, int8);
        vstore8(m, 0, y + o);
        if (want_idx) vstore8(convert_uchar8(k), 0, idx + o);
        return;
    }
    for (int q = 0; q < ow - ox0; q++) {
        float m = r0[2 * q], v;
        int b = 0;
        v = r0[2 * q + 1];
        if (CT_GT(v, m)) m = v, b = 1;
        v = r1[2 * q];
        if (CT_GT(v, m)) m = v, b = 2;
        v = r1[2 * q + 1];
        if (CT_GT(v, m)) m = v, b = 3;
        y[o + q] = m;
        if (want_idx) idx[o + q] = (uchar)(b | (m > 0.0f ? CT_POOL_POS : 0));
    }
}

/* Backward from the forward's index (ct_pool2_fwd_rows with want_idx, or the fused conv):
 * reads dy and idx only, not the forward's input. Each work-item writes the 2 x 16 input
 * block of 8 windows (the work-item of the last run also zeroes an odd last column, and
 * rows cy >= oh, odd h, are zeroed); relu != 0 zeroes dy where the maximum was not
 * > 0 (a ReLU fused into the layer before). */
__kernel void ct_pool2_bwd_idx(const int nc, const int h, const int w, const int oh,
                               const int ow, const int relu, __global const uchar *idx,
                               __global const float *dy, __global float *dx) {
    int chunks = (ow + 7) / 8;
    int ch = (h + 1) / 2;
    int i = get_global_id(0);
    if (i >= nc * ch * chunks) return;
    int j = i % chunks, r = i / chunks;
    int cy = r % ch, c = r / ch, ox0 = 8 * j;
    __global float *d0 = dx + ((size_t)c * h + 2 * cy) * w, *d1 = d0 + w;
    int last = j == chunks - 1;
    if (cy >= oh) { /* odd h: the last row, which no window reaches */
        int x1 = last ? w : 2 * ox0 + 16;
        for (int xx = 2 * ox0; xx < x1; xx++) d0[xx] = 0.0f;
        return;
    }
    size_t o = ((size_t)c * oh + cy) * ow;
    if (ox0 + 8 <= ow) {
        int8 k = convert_int8(vload8(0, idx + o + ox0));
        float8 g = vload8(0, dy + o + ox0), z = (float8)(0.0f);
        if (relu) g = select(z, g, (k & (int8)(CT_POOL_POS)) != (int8)(0));
        k &= (int8)(3);
        const uint16 mix = (uint16)(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
        vstore16(shuffle2(select(z, g, k == 0), select(z, g, k == 1), mix), 0, d0 + 2 * ox0);
        vstore16(shuffle2(select(z, g, k == 2), select(z, g, k == 3), mix), 0, d1 + 2 * ox0);
    } else {
        for (int q = ox0; q < ow; q++) {
            int x0 = 2 * q, k = idx[o + q];
            float g = dy[o + q];
            if (relu && !(k & CT_POOL_POS)) g = 0.0f;
            k &= 3;
            d0[x0] = k == 0 ? g : 0.0f;
            d0[x0 + 1] = k == 1 ? g : 0.0f;
            d1[x0] = k == 2 ? g : 0.0f;
            d1[x0 + 1] = k == 3 ? g : 0.0f;
        }
    }
    if (last && (w & 1)) {
        d0[w - 1] = 0.0f;
        d1[w - 1] = 0.0f;
    }
}

/* Average pooling (AveragePooling2D, valid windows; GlobalAveragePooling2D is one h x w
 * window): ph x pw windows, strides sh, sw. Forward: one work-item per output element. */
__kernel void ct_avgpool_fwd(const int nc, const int h, const int w, const int ph, const int pw,
                             const int sh, const int sw, const int oh, const int ow,
                             __global const float *x, __global float *y) {
    int i = get_global_id(0);
    if (i >= nc * oh * ow) return;
    int ox = i % ow, t = i / ow, oy = t % oh, c = t / oh;
    __global const float *xc = x + ((size_t)c * h + (size_t)oy * sh) * w + (size_t)ox * sw;
    float s = 0.0f;
    for (int dy = 0; dy < ph; dy++)
        for (int dx = 0; dx < pw; dx++) s += xc[dy * w + dx];
    y[i] = s / (float)(ph * pw);
}

/* Backward: one work-item per input element, gathering dy / (ph pw) of every window that
 * covers it (no atomics; 0 where no window reaches). */
__kernel void ct_avgpool_bwd(const int nc, const int h, const int w, const int ph, const int pw,
                             const int sh, const int sw, const int oh, const int ow,
                             __global const float *dy, __global float *dx) {
    int i = get_global_id(0);
    if (i >= nc * h * w) return;
    int ix = i % w, t = i / w, iy = t % h, c = t / h;
    int y0 = iy >= ph ? (iy - ph) / sh + 1 : 0, y1 = min(iy / sh, oh - 1);
    int x0 = ix >= pw ? (ix - pw) / sw + 1 : 0, x1 = min(ix / sw, ow - 1);
    __global const float *dyc = dy + (size_t)c * oh * ow;
    float s = 0.0f;
    for (int oy = y0; oy <= y1; oy++)
        for (int ox = x0; ox <= x1; ox++) s += dyc[oy * ow + ox];
    dx[i] = s / (float)(ph * pw);
}
