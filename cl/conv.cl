/* Convolution kernels: NCHW activations, OIHW weights. Input coordinate of output o and
 * tap t is o*STRIDE - PAD + t; outside the input counts as zero. */
#include "common.h"

#define XI(n, c, y, x) ((((n) * cin + (c)) * h + (y)) * w + (x))
#define YI(n, c, y, x) ((((n) * cout + (c)) * oh + (y)) * ow + (x))
#define WI(o, c, y, x) ((((o) * cin + (c)) * k + (y)) * k + (x))

/* Direct forward: each work-item 4 output channels x 4 consecutive output columns. */
__kernel void conv_fwd_direct(int cin, int h, int w, int cout, int k, int stride, int pad_t,
                              int pad_l, int oh, int ow, int relu,
                              __global const float *x, __global const float *wt,
                              __global const float *bias, __global float *y) {
    int ox0 = get_global_id(0) * 4, oy = get_global_id(1);
    int cob = (cout + 3) / 4;
    int n = get_global_id(2) / cob, co0 = (get_global_id(2) % cob) * 4;
    if (ox0 >= ow || oy >= oh) return;
    float acc[4][4];
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++) acc[a][b] = 0.0f;
    int coc[4];
    for (int a = 0; a < 4; a++) coc[a] = min(co0 + a, cout - 1);
    for (int ci = 0; ci < cin; ci++)
        for (int ky = 0; ky < k; ky++) {
            int iy = oy * stride - pad_t + ky;
            if (iy < 0 || iy >= h) continue;
            for (int kx = 0; kx < k; kx++) {
                float xv[4], wv[4];
                for (int b = 0; b < 4; b++) {
                    int ix = (ox0 + b) * stride - pad_l + kx;
                    xv[b] = (ix >= 0 && ix < w) ? x[XI(n, ci, iy, ix)] : 0.0f;
                }
                for (int a = 0; a < 4; a++) wv[a] = wt[WI(coc[a], ci, ky, kx)];
                for (int a = 0; a < 4; a++)
                    for (int b = 0; b < 4; b++) acc[a][b] = fma(wv[a], xv[b], acc[a][b]);
            }
        }
    for (int a = 0; a < 4; a++) {
        if (co0 + a >= cout) break;
        float bb = bias[co0 + a];
        for (int b = 0; b < 4; b++) {
            if (ox0 + b >= ow) break;
            float v = acc[a][b] + bb;
            y[YI(n, co0 + a, oy, ox0 + b)] = relu ? fmax(v, 0.0f) : v;
        }
    }
}

/* Direct backward-data: one input element per work-item, gathering over the taps that
 * read it (no atomics). */
__kernel void conv_bwd_data_direct(int cin, int h, int w, int cout, int k, int stride,
                                   int pad_t, int pad_l, int oh, int ow,
                                   __global const float *dy, __global const float *wt,
                                   __global float *dx) {
    int ix = get_global_id(0), iy = get_global_id(1);
    int n = get_global_id(2) / cin, ci = get_global_id(2) % cin;
    if (ix >= w || iy >= h) return;
    float acc = 0.0f;
    for (int ky = 0; ky < k; ky++) {
        int ty = iy + pad_t - ky;
        if (ty < 0 || ty % stride) continue;
        int oy = ty / stride;
        if (oy >= oh) continue;
        for (int kx = 0; kx < k; kx++) {
            int tx = ix + pad_l - kx;
            if (tx < 0 || tx % stride) continue;
            int ox = tx / stride;
            if (ox >= ow) continue;
            for (int co = 0; co < cout; co++)
                acc = fma(dy[YI(n, co, oy, ox)], wt[WI(co, ci, ky, kx)], acc);
        }
    }
    dx[XI(n, ci, iy, ix)] = acc;
}

/* Direct backward-weights: one weight per work-item, summed over batch and pixels. */
__kernel void conv_bwd_weights_direct(int nb, int cin, int h, int w, int cout, int k,
                                      int stride, int pad_t, int pad_l, int oh, int ow,
                                      __global const float *x, __global const float *dy,
                                      __global float *dw) {
    int id = get_global_id(0);
    if (id >= cout * cin * k * k) return;
    int kx = id % k, ky = (id / k) % k, ci = (id / (k * k)) % cin, co = id / (k * k * cin);
    float acc = 0.0f;
    for (int n = 0; n < nb; n++)
        for (int oy = 0; oy < oh; oy++) {
            int iy = oy * stride - pad_t + ky;
            if (iy < 0 || iy >= h) continue;
            for (int ox = 0; ox < ow; ox++) {
                int ix = ox * stride - pad_l + kx;
                if (ix < 0 || ix >= w) continue;
                acc = fma(dy[YI(n, co, oy, ox)], x[XI(n, ci, iy, ix)], acc);
            }
        }
    dw[id] = acc;
}

/* db[co] = sum of dy over batch and pixels: one work-group per channel, tree reduction
 * in local memory (work-group size a power of two, set by the host). */
__kernel void conv_bwd_bias(int nb, int cout, int npix, __global const float *dy,
                            __global float *db, __local float *part) {
    int co = get_group_id(0), lid = get_local_id(0), ls = get_local_size(0);
    float acc = 0.0f;
    for (int n = 0; n < nb; n++) {
        __global const float *p = dy + ((size_t)n * cout + co) * npix;
        for (int i = lid; i < npix; i += ls) acc += p[i];
    }
    part[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = ls / 2; s > 0; s >>= 1) {
        if (lid < s) part[lid] += part[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) db[co] = part[0];
}
