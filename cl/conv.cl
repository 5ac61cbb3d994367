/* Convolution kernels: NCHW activations, OIHW weights. Input coordinate of output o and
 * tap t is o*STRIDE - PAD + t; outside the input counts as zero. */
#include "common.h"

/* CT_PROG selects what one build compiles: 0 (no option) the generic kernels; the
 * specialised kernels are each built alone with their block sizes (PoCL compiles every
 * kernel of a program whose binary is cached, so a kernel built per option set must not
 * drag the others along). src/ops/ passes -DCT_PROG=n with their options. */
#ifndef CT_PROG
#define CT_PROG 0
#endif
#define XI(n, c, y, x) ((((n) * cin + (c)) * h + (y)) * w + (x))
#define YI(n, c, y, x) ((((n) * cout + (c)) * oh + (y)) * ow + (x))
#define WI(o, c, y, x) ((((o) * cin + (c)) * k + (y)) * k + (x))

/* Direct forward: each work-item 4 output channels x 4 consecutive output columns. */
#if CT_PROG == 0
__kernel void conv_fwd_direct(int cin, int h, int w, int cout, int k, int stride, int pad_t,
                              int pad_l, int oh, int ow, int relu,
                              __global const float *x, __global const float *wt,
                              __global const float *bias, int use_bias, __global float *y) {
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
        float bb = use_bias ? bias[co0 + a] : 0.0f;
        for (int b = 0; b < 4; b++) {
            if (ox0 + b >= ow) break;
            float v = acc[a][b] + bb;
            y[YI(n, co0 + a, oy, ox0 + b)] = relu ? fmax(v, 0.0f) : v;
        }
    }
}
#endif

/* Direct backward-data: one input element per work-item, gathering over the taps that
 * read it (no atomics). */
#if CT_PROG == 0
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
#endif

/* Direct backward-weights: one weight per work-item, summed over batch and pixels. */
#if CT_PROG == 0
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
#endif

/* db[co] = sum of dy over batch and pixels: one work-group per channel, tree reduction
 * in local memory (work-group size a power of two, set by the host). */
#if CT_PROG == 0
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
#endif

/* im2col for items n0 .. n0+nb-1: col[item][(ci*k+ky)*k+kx][oy*ow+ox] (K x P per item, P =
 * oh*ow), zero where the tap falls in the padding. One work-item per (output row, col row,
 * item) loops along the row: per-element work-items cost PoCL more than the copy itself. */
#if CT_PROG == 0
__kernel void im2col(int cin, int h, int w, int k, int stride, int pad_t, int pad_l, int oh,
                     int ow, int n0, __global const float *x, __global float *col) {
    int oy = get_global_id(0), r = get_global_id(1), item = get_global_id(2);
    int P = oh * ow, KK = cin * k * k;
    if (oy >= oh || r >= KK) return;
    int kx = r % k, ky = (r / k) % k, ci = r / (k * k);
    int iy = oy * stride - pad_t + ky;
    __global float *dst = col + (item * KK + r) * P + oy * ow;
    if (iy < 0 || iy >= h) {
        for (int ox = 0; ox < ow; ox++) dst[ox] = 0.0f;
        return;
    }
    __global const float *src = x + (((n0 + item) * cin + ci) * h + iy) * w;
    /* valid ox: 0 <= ox*stride - pad_l + kx < w; zeros outside, a plain copy inside */
    int off = kx - pad_l;
    int lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int hi = (w - 1 - off) >= 0 ? (w - 1 - off) / stride + 1 : 0;
    if (hi > ow) hi = ow;
    if (lo > hi) lo = hi;
    for (int ox = 0; ox < lo; ox++) dst[ox] = 0.0f;
    if (stride == 1) {
        __global const float *s1 = src + off;
        for (int ox = lo; ox < hi; ox++) dst[ox] = s1[ox];
    } else {
        for (int ox = lo; ox < hi; ox++) dst[ox] = src[ox * stride + off];
    }
    for (int ox = hi; ox < ow; ox++) dst[ox] = 0.0f;
}
#endif

/* Transposed layout for backward-weights: colT[item][p][r] (P x K per item). One
 * work-item per (output row, input channel, item). */
#if CT_PROG == 0
__kernel void im2col_t(int cin, int h, int w, int k, int stride, int pad_t, int pad_l, int oh,
                       int ow, int n0, __global const float *x, __global float *col) {
    int oy = get_global_id(0), ci = get_global_id(1), item = get_global_id(2);
    int KK = cin * k * k;
    if (oy >= oh || ci >= cin) return;
    __global const float *src = x + ((n0 + item) * cin + ci) * h * w;
    __global float *dst = col + ((item * oh + oy) * ow) * KK + ci * k * k;
    for (int ox = 0; ox < ow; ox++)
        for (int ky = 0; ky < k; ky++) {
            int iy = oy * stride - pad_t + ky;
            int rowok = iy >= 0 && iy < h;
            for (int kx = 0; kx < k; kx++) {
                int ix = ox * stride - pad_l + kx;
                dst[ox * KK + ky * k + kx] =
                    (rowok && ix >= 0 && ix < w) ? src[iy * w + ix] : 0.0f;
            }
        }
}
#endif

/* col2im as a gather (no atomics): dx[n0+item][ci][iy][ix] = sum of the col entries of
 * every tap that reads that input element. One work-item per (input row, channel, item). */
#if CT_PROG == 0
__kernel void col2im(int cin, int h, int w, int k, int stride, int pad_t, int pad_l, int oh,
                     int ow, int n0, __global const float *col, __global float *dx) {
    int iy = get_global_id(0), ci = get_global_id(1), item = get_global_id(2);
    if (iy >= h || ci >= cin) return;
    int P = oh * ow, KK = cin * k * k;
    __global const float *cb = col + item * KK * P;
    __global float *dst = dx + (((n0 + item) * cin + ci) * h + iy) * w;
    for (int ix = 0; ix < w; ix++) {
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
                acc += cb[((ci * k + ky) * k + kx) * P + oy * ow + ox];
            }
        }
        dst[ix] = acc;
    }
}
#endif

/* Bias gradient, stage 1: part[item][co] = sum over pixels of dy[item][co] (no barriers;
 * stage 2 is sum_parts over items). */
#if CT_PROG == 0
__kernel void bias_parts(int cout, int npix, __global const float *dy, __global float *part,
                         int part_off) {
    int co = get_global_id(0), item = get_global_id(1);
    if (co >= cout) return;
    __global const float *p = dy + (item * cout + co) * npix;
    float8 v = (float8)(0.0f);
    int n8 = npix / 8;
    for (int i = 0; i < n8; i++) v += vload8(i, p);
    float acc = 0.0f;
    for (int i = n8 * 8; i < npix; i++) acc += p[i];
    float4 a4 = v.lo + v.hi;
    float2 a2 = a4.lo + a4.hi;
    part[part_off + item * cout + co] = acc + a2.x + a2.y;
}
#endif

/* wf[ci][co][ky][kx] = w[co][ci][k-1-ky][k-1-kx]: backward-data as a forward conv. */
#if CT_PROG == 0
__kernel void flip_weights(int cout, int cin, int k, __global const float *wt,
                           __global float *wf, int wf_off) {
    int id = get_global_id(0);
    if (id >= cout * cin * k * k) return;
    int kx = id % k, ky = (id / k) % k, ci = (id / (k * k)) % cin, co = id / (k * k * cin);
    wf[wf_off + ((ci * cout + co) * k + (k - 1 - ky)) * k + (k - 1 - kx)] = wt[id];
}
#endif

/* Winograd F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural
 * Networks", 2016), stride 1: each 2x2 output tile from a 4x4 input tile with 16 products
 * per (co, ci) instead of 36. With k = 4*i + j a position of the 4x4 transform domain:
 *   U[k][co][ci] = (G g G^T)[k]    G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
 *   V[k][ci][c]  = (B^T d B)[k]    B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *   M[k] = U[k] V[k]               (16 GEMMs: cout x cin times cin x columns)
 *   y tile = A^T M A               A^T = [1 1 1 0; 0 1 -1 -1]
 * for the input tile of column c = item*th*tw + ty*tw + tx, rows 2ty-pad_t .. +3 and
 * columns 2tx-pad_l .. +3 (zero outside the input). ops_conv.c runs the GEMMs with the
 * float-vector GEMM kernels; flip: the weights of backward-data as a forward conv (cout,
 * cin those of the conv run), as in pack_weights. wino_weights writes U[k][co][ci] at
 * u_off + k*se + co*sco + ci*sci for co < coutp, zero from cout on (the fused kernel
 * below reads [k][ci][co] with co padded to its register block). */
#if CT_PROG == 0
/* the 3x3 kernel g of (co, ci), flipped for backward-data, zero from cout on */
static void wino_g(int cout, int cin, int co, int ci, int flip, __global const float *wt,
                   float g[3][3]) {
    for (int ky = 0; ky < 3; ky++)
        for (int kx = 0; kx < 3; kx++)
            g[ky][kx] = co >= cout ? 0.0f
                        : flip     ? wt[((ci * cout + co) * 3 + (2 - ky)) * 3 + (2 - kx)]
                                   : wt[((co * cin + ci) * 3 + ky) * 3 + kx];
}

__kernel void wino_weights(int cout, int coutp, int cin, int flip, __global const float *wt,
                           __global float *u, int u_off, int se, int sco, int sci) {
    int co = get_global_id(0), ci = get_global_id(1);
    if (co >= coutp || ci >= cin) return;
    float g[3][3], t[4][3];
    wino_g(cout, cin, co, ci, flip, wt, g);
    for (int c = 0; c < 3; c++) {
        t[0][c] = g[0][c];
        t[1][c] = 0.5f * (g[0][c] + g[1][c] + g[2][c]);
        t[2][c] = 0.5f * (g[0][c] - g[1][c] + g[2][c]);
        t[3][c] = g[2][c];
    }
    __global float *uo = u + u_off + (size_t)co * sco + (size_t)ci * sci;
    for (int r = 0; r < 4; r++) {
        uo[(r * 4 + 0) * (size_t)se] = t[r][0];
        uo[(r * 4 + 1) * (size_t)se] = 0.5f * (t[r][0] + t[r][1] + t[r][2]);
        uo[(r * 4 + 2) * (size_t)se] = 0.5f * (t[r][0] - t[r][1] + t[r][2]);
        uo[(r * 4 + 3) * (size_t)se] = t[r][2];
    }
}

/* Winograd F(4x4, 3x3) (the same paper): each 4x4 output tile from a 6x6 input tile with
 * 36 products per (co, ci) instead of 144 (F(2x2): 16 instead of 36), interpolation points
 * 0, 1, -1, 2, -2 and infinity. With k = 6*i + j a position of the 6x6 transform domain:
 *   U = G g G^T   G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6;
 *                      1/24 -1/12 1/6; 0 0 1]
 *   V = B^T d B   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0;
 *                        0 2 -1 -2 1 0; 0 4 0 -5 0 1]
 *   y = A^T M A   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
 * The larger coefficients cost accuracy: docs/OPS.md gives the error measured against a
 * float64 direct convolution (tests/test_ops.c). wino_weights6 writes U as wino_weights
 * does, with 36 planes. */
#if CT_PROG == 0
__kernel void wino_weights6(int cout, int coutp, int cin, int flip, __global const float *wt,
                            __global float *u, int u_off, int se, int sco, int sci) {
    int co = get_global_id(0), ci = get_global_id(1);
    if (co >= coutp || ci >= cin) return;
    float g[3][3], t[6][3];
    wino_g(cout, cin, co, ci, flip, wt, g);
    for (int c = 0; c < 3; c++) {
        float a = g[0][c] + g[2][c], b = g[1][c];
        t[0][c] = 0.25f * g[0][c];
        t[1][c] = -(a + b) / 6.0f;
        t[2][c] = -(a - b) / 6.0f;
        t[3][c] = g[0][c] / 24.0f + b / 12.0f + g[2][c] / 6.0f;
        t[4][c] = g[0][c] / 24.0f - b / 12.0f + g[2][c] / 6.0f;
        t[5][c] = g[2][c];
    }
    __global float *uo = u + u_off + (size_t)co * sco + (size_t)ci * sci;
    for (int r = 0; r < 6; r++) {
        float a = t[r][0] + t[r][2], b = t[r][1];
        uo[(r * 6 + 0) * (size_t)se] = 0.25f * t[r][0];
        uo[(r * 6 + 1) * (size_t)se] = -(a + b) / 6.0f;
        uo[(r * 6 + 2) * (size_t)se] = -(a - b) / 6.0f;
        uo[(r * 6 + 3) * (size_t)se] = t[r][0] / 24.0f + b / 12.0f + t[r][2] / 6.0f;
        uo[(r * 6 + 4) * (size_t)se] = t[r][0] / 24.0f - b / 12.0f + t[r][2] / 6.0f;
        uo[(r * 6 + 5) * (size_t)se] = t[r][2];
    }
}
#endif

/* One work-item per tile (all channels in turn), tiles along dim 0 so that PoCL's
 * vectorised work-item loop reads and writes each transform plane contiguously; items in
 * dim 2 (per-channel work-items made thousands of tiny work-groups, whose dispatch cost
 * PoCL more than the arithmetic). ncols = columns of the chunk. */
__kernel void wino_input(int cin, int h, int w, int pad_t, int pad_l, int th, int tw, int n0,
                         int ncols, __global const float *x, __global float *v, int v_off) {
    int tx = get_global_id(0), ty = get_global_id(1), item = get_global_id(2);
    if (tx >= tw || ty >= th) return;
    size_t plane = (size_t)cin * ncols;
    int iy0 = 2 * ty - pad_t, ix0 = 2 * tx - pad_l;
    int inside = iy0 >= 0 && iy0 + 3 < h && ix0 >= 0 && ix0 + 3 < w;
    for (int ci = 0; ci < cin; ci++) {
        __global const float *xc = x + (size_t)((n0 + item) * cin + ci) * h * w;
        __global float *vo =
            v + v_off + (size_t)ci * ncols + (size_t)item * th * tw + (size_t)ty * tw + tx;
        float d[4][4], t[4][4];
        if (inside) { /* plain loads */
            for (int r = 0; r < 4; r++)
                for (int c = 0; c < 4; c++) d[r][c] = xc[(iy0 + r) * w + ix0 + c];
        } else {
            for (int r = 0; r < 4; r++)
                for (int c = 0; c < 4; c++) {
                    int iy = iy0 + r, ix = ix0 + c;
                    d[r][c] = iy >= 0 && iy < h && ix >= 0 && ix < w ? xc[iy * w + ix] : 0.0f;
                }
        }
        for (int c = 0; c < 4; c++) {
            t[0][c] = d[0][c] - d[2][c];
            t[1][c] = d[1][c] + d[2][c];
            t[2][c] = d[2][c] - d[1][c];
            t[3][c] = d[1][c] - d[3][c];
        }
        for (int r = 0; r < 4; r++) {
            vo[(r * 4 + 0) * plane] = t[r][0] - t[r][2];
            vo[(r * 4 + 1) * plane] = t[r][1] + t[r][2];
            vo[(r * 4 + 2) * plane] = t[r][2] - t[r][1];
            vo[(r * 4 + 3) * plane] = t[r][1] - t[r][3];
        }
    }
}

/* y = A^T M A + bias (then relu), the tile's outputs inside oh x ow only */
__kernel void wino_output(int cout, int oh, int ow, int th, int tw, int n0, int ncols,
                          __global const float *m, int m_off, __global const float *bias,
                          int use_bias, int relu, __global float *y) {
    int tx = get_global_id(0), ty = get_global_id(1), item = get_global_id(2);
    if (tx >= tw || ty >= th) return;
    size_t plane = (size_t)cout * ncols;
    int oy = 2 * ty, ox = 2 * tx, rows = oy + 1 < oh ? 2 : 1, cols = ox + 1 < ow ? 2 : 1;
    for (int co = 0; co < cout; co++) {
        __global const float *mi =
            m + m_off + (size_t)co * ncols + (size_t)item * th * tw + (size_t)ty * tw + tx;
        float bv = use_bias ? bias[co] : 0.0f;
        float q[4][4], s0[4], s1[4];
        for (int k = 0; k < 16; k++) q[k / 4][k % 4] = mi[k * plane];
        for (int c = 0; c < 4; c++) {
            s0[c] = q[0][c] + q[1][c] + q[2][c];
            s1[c] = q[1][c] - q[2][c] - q[3][c];
        }
        float o[2][2] = {{s0[0] + s0[1] + s0[2] + bv, s0[1] - s0[2] - s0[3] + bv},
                         {s1[0] + s1[1] + s1[2] + bv, s1[1] - s1[2] - s1[3] + bv}};
        __global float *yr =
            y + ((size_t)(n0 + item) * cout + co) * oh * ow + (size_t)oy * ow + ox;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) yr[r * ow + c] = relu ? fmax(o[r][c], 0.0f) : o[r][c];
    }
}
#endif

/* Implicit-GEMM forward conv, stride 1, for CPUs: the input is first copied into a
 * zero-padded buffer (pad_input) whose rows are long enough that every tap of a row
 * block is one plain vector load, so no im2col matrix (9x the input for 3x3) is
 * written. Each work-item: IRM output channels x IBW consecutive output columns of
 * one output row. The work-group spans the channel blocks, which share the input rows. */
#if CT_PROG == 0
__kernel void pad_input(int cin, int h, int w, int pad_t, int pad_l, int hp, int wp, int n0,
                        __global const float *x, __global float *xp, int xp_off) {
    /* one row per work-item (plane = item * cin + ci along dim 1), copied in float16
     * vectors with a scalar tail: the scalar per-element loop this replaces was 8.9 % of
     * Model 2's step once the Winograd kernels made the convs fast */
    int py = get_global_id(0), plane = get_global_id(1);
    if (py >= hp) return;
    __global float *dst = xp + xp_off + ((size_t)plane * hp + py) * wp;
    int iy = py - pad_t, lo = min(pad_l, wp), hi = min(pad_l + w, wp), px = 0;
    if (iy < 0 || iy >= h) lo = hi = wp;
    for (; px + 16 <= lo; px += 16) vstore16((float16)(0.0f), 0, dst + px);
    for (; px < lo; px++) dst[px] = 0.0f;
    if (hi > lo) {
        __global const float *src = x + ((size_t)(n0 * cin + plane) * h + iy) * w;
        for (; px + 16 <= hi; px += 16) vstore16(vload16(0, src + (px - pad_l)), 0, dst + px);
        for (; px < hi; px++) dst[px] = src[px - pad_l];
    }
    for (; px + 16 <= wp; px += 16) vstore16((float16)(0.0f), 0, dst + px);
    for (; px < wp; px++) dst[px] = 0.0f;
}
#endif

#ifndef CAT
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#endif
#ifndef IRM
#define IRM 4
#endif
#ifndef INV
#define INV 2
#endif
#ifndef IVW
#define IVW 16
#endif
#define IVT CAT(float, IVW)
#define IVLOAD CAT(vload, IVW)
#define IVSTORE CAT(vstore, IVW)
#define IBW (INV * IVW)

/* Weights for conv_implicit, packed so that the IRM output channels of a block are
 * adjacent for each tap: wp[cb][t][r] = w[cb*rm + r][t], t = (ci*k + ky)*k + kx, zero past
 * cout (the kernel then needs no clamping and reads the IRM weights of a tap at constant
 * offsets from one pointer, as embedded broadcasts). flip: the weights of backward-data
 * as a forward conv, w'[co][ci][ky][kx] = w[ci][co][k-1-ky][k-1-kx] (cout, cin are those
 * of the conv run, i.e. swapped against the layer's). */
#if CT_PROG == 0
__kernel void pack_weights(int cout, int cin, int k, int rm, int flip, __global const float *wt,
                           __global float *wp, int wp_off) {
    int id = get_global_id(0);
    int kk = k * k, nt = cin * kk, rb = (cout + rm - 1) / rm;
    if (id >= rb * rm * nt) return;
    int r = id % rm, t = (id / rm) % nt, co = (id / (rm * nt)) * rm + r;
    float v = 0.0f;
    if (co < cout) {
        int ci = t / kk, ky = (t % kk) / k, kx = t % k;
        v = flip ? wt[((ci * cout + co) * k + (k - 1 - ky)) * k + (k - 1 - kx)] : wt[co * nt + t];
    }
    wp[wp_off + id] = v;
}
#endif

#ifndef KS
#define KS 3
#endif
/* in_place: xp is x itself (a 'valid' conv with ow >= IBW, items from xn0): a row's last
 * partial block is computed as the IBW columns ending at ow, so no load leaves the row,
 * and stores only the columns the block before it did not.
 * IPOOL=1 builds it with a 2x2 stride-2 max pool after it (the layer's fused pool): each
 * work-item then computes output rows 2py and 2py+1 (IROWS) of its block (the KS+1 input
 * rows they share are loaded once), pools them in registers and stores the IBW/2 pooled
 * columns and their argmax code (CT_POOL4, common.h) at row py of the oh/2 x ow/2 output y
 * and pidx (unused without IPOOL). The host keeps in_place with the pool only when the
 * shifted last block starts at an even column, so that the windows stay aligned. */
#ifndef IPOOL
#define IPOOL 0
#endif
#define IROWS (IPOOL ? 2 : 1)
#if CT_PROG == 1
#if IVW == 16 /* half the vector, as one token for CAT */
#define IHW 8
#elif IVW == 8
#define IHW 4
#else
#define IHW 2
#endif
#define IHT CAT(float, IHW)
#define IHI CAT(int, IHW)
#define IHSTORE CAT(vstore, IHW)
#define IHCVT CAT(convert_uchar, IHW)
__kernel void conv_implicit(int cin, int hp, int wp, int cout, int oh, int ow, int n0,
                            __global const float *xp, int in_place, int xn0,
                            __global const float *wpk, int w_off,
                            __global const float *bias, int use_bias, int relu,
                            __global float *y, __global uchar *pidx) {
    int cb = get_global_id(0), i0 = cb * IRM;
    int nxb = (ow + IBW - 1) / IBW;
    int oy = get_global_id(1) / nxb * IROWS, ox0 = (get_global_id(1) % nxb) * IBW;
    int item = get_global_id(2);
    if (i0 >= cout || oy + IROWS - 1 >= oh) return;
    int e0 = 0; /* first column to store */
    if (in_place && ox0 + IBW > ow) {
        e0 = ox0 - (ow - IBW);
        ox0 = ow - IBW;
    }
    IVT acc[IROWS][IRM][INV];
#pragma unroll
    for (int q = 0; q < IROWS; q++)
#pragma unroll
        for (int r = 0; r < IRM; r++)
#pragma unroll
            for (int v = 0; v < INV; v++) acc[q][r][v] = (IVT)(0.0f);
    __global const float *wq = wpk + w_off + (size_t)cb * cin * (KS * KS * IRM);
    __global const float *xc = xp + ((size_t)((xn0 + item) * cin) * hp + oy) * wp + ox0;
    for (int ci = 0; ci < cin; ci++) {
#pragma unroll
        for (int iy = 0; iy < KS + IROWS - 1; iy++) { /* input row iy: tap iy - q of row q */
            __global const float *xr = xc + iy * wp;
#pragma unroll
            for (int kx = 0; kx < KS; kx++) {
                IVT b[INV];
#pragma unroll
                for (int v = 0; v < INV; v++) b[v] = IVLOAD(0, xr + kx + v * IVW);
#pragma unroll
                for (int q = 0; q < IROWS; q++) {
                    int ky = iy - q;
                    if (ky < 0 || ky >= KS) continue;
#pragma unroll
                    for (int r = 0; r < IRM; r++) {
                        IVT a = (IVT)(wq[(ky * KS + kx) * IRM + r]);
#pragma unroll
                        for (int v = 0; v < INV; v++) acc[q][r][v] = fma(a, b[v], acc[q][r][v]);
                    }
                }
            }
        }
        wq += KS * KS * IRM;
        xc += hp * wp;
    }
#if IPOOL
    /* pooled columns j of this block: ox0/2 + j, stored for e0/2 <= j < jn */
    int poh = oh / 2, pw = ow / 2, py = oy / 2;
    int px0 = ox0 / 2, j0 = e0 / 2, jn = min(IBW / 2, pw - px0);
    for (int r = 0; r < IRM; r++) {
        int co = i0 + r;
        if (co >= cout) break;
        IVT bv = (IVT)(use_bias ? bias[co] : 0.0f);
        size_t po = (((size_t)item * cout + co) * poh + py) * pw + px0;
        IHT pm[INV];
        IHI pk[INV];
#pragma unroll
        for (int v = 0; v < INV; v++) {
            IVT t0 = acc[0][r][v] + bv, t1 = acc[1][r][v] + bv;
            if (relu) {
                t0 = fmax(t0, (IVT)(0.0f));
                t1 = fmax(t1, (IVT)(0.0f));
            }
            CT_POOL4(t0.even, t0.odd, t1.even, t1.odd, pm[v], pk[v], IHI);
        }
        if (j0 == 0 && jn == IBW / 2) { /* whole block: vector stores */
#pragma unroll
            for (int v = 0; v < INV; v++) {
                IHSTORE(pm[v], v, y + po);
                IHSTORE(IHCVT(pk[v]), v, pidx + po);
            }
            continue;
        }
        float tp[IBW / 2];
        uchar tk[IBW / 2];
#pragma unroll
        for (int v = 0; v < INV; v++) {
            IHSTORE(pm[v], v, tp);
            IHSTORE(IHCVT(pk[v]), v, tk);
        }
        for (int j = j0; j < jn; j++) {
            y[po + j] = tp[j];
            pidx[po + j] = tk[j];
        }
    }
#else
    int nx = min(IBW, ow - ox0);
    for (int r = 0; r < IRM; r++) {
        int co = i0 + r;
        if (co >= cout) break;
        float bv = use_bias ? bias[co] : 0.0f;
        __global float *yr = y + (((n0 + item) * cout + co) * oh + oy) * ow + ox0;
        if (nx == IBW && e0 == 0) { /* whole block: vector stores */
#pragma unroll
            for (int v = 0; v < INV; v++) {
                IVT val = acc[0][r][v] + (IVT)(bv);
                if (relu) val = fmax(val, (IVT)(0.0f));
                IVSTORE(val, v, yr);
            }
            continue;
        }
        float tmp[IBW];
#pragma unroll
        for (int v = 0; v < INV; v++) IVSTORE(acc[0][r][v], v, tmp);
        for (int e = e0; e < nx; e++) {
            float val = tmp[e] + bv;
            yr[e] = relu ? fmax(val, 0.0f) : val;
        }
    }
#endif
}
#endif

/* Implicit backward-weights, stride 1, on the zero-padded input copy (pad_input): each
 * work-item DCO output channels x one (ci, ky) x all KS taps kx, dot products along output
 * rows in DVW-wide vectors (a 'valid' conv reads x itself: xp = x, items from xn0);
 * z (dim 2) sums a group of nsum items into partial slot z.
 * A row's last partial vector is the DVW elements ending at ow, with the lanes already
 * counted masked to zero on the dy side (no scalar tail unless ow < DVW). */
#ifndef DVW
#define DVW 16
#endif
#ifndef DCO
#define DCO 4
#endif
#define DVT CAT(float, DVW)
#define DVLOAD CAT(vload, DVW)
#if DVW == 16
#define hsum_d ct_hsum16
#else
#define hsum_d ct_hsum8
#endif
#if CT_PROG == 2
__kernel void conv_bwd_w_implicit(int cin, int hp, int wp, int cout, int oh, int ow, int n0,
                                  int nsum, int nbatch, __global const float *xp, int xn0,
                                  __global const float *dy, __global float *dw, int dw_off,
                                  int db_off) {
    int co0 = get_global_id(0) * DCO, cky = get_global_id(1), z = get_global_id(2);
    int ci = cky / KS, ky = cky % KS;
    if (co0 >= cout) return;
    if (cky == cin * KS) { /* one more row of work-items: partial sums of the bias gradient */
        int npix = oh * ow, nv = npix / DVW * DVW;
        for (int a = 0; a < DCO && co0 + a < cout; a++) {
            DVT v = (DVT)(0.0f);
            float sc = 0.0f;
            for (int t = 0; t < nsum; t++) {
                int item = z * nsum + t;
                if (item >= nbatch) break;
                __global const float *pl = dy + ((n0 + item) * cout + co0 + a) * npix;
                for (int i = 0; i < nv; i += DVW) v += DVLOAD(0, pl + i);
                for (int i = nv; i < npix; i++) sc += pl[i];
            }
            dw[db_off + z * cout + co0 + a] = hsum_d(v) + sc;
        }
        return;
    }
    if (ci >= cin) return;
    DVT acc[DCO][KS];
    float tail[DCO][KS];
#pragma unroll
    for (int a = 0; a < DCO; a++)
#pragma unroll
        for (int t = 0; t < KS; t++) {
            acc[a][t] = (DVT)(0.0f);
            tail[a][t] = 0.0f;
        }
    int cc[DCO];
#pragma unroll
    for (int a = 0; a < DCO; a++) cc[a] = min(co0 + a, cout - 1);
    int ovec = ow / DVW * DVW;
    /* masked last vector: lanes at ow - DVW + l < ovec were counted already */
    int last = ow > ovec && ow >= DVW ? ow - DVW : -1, scal = ow < DVW ? ovec : ow;
    float lm[DVW];
    for (int l = 0; l < DVW; l++) lm[l] = last + l >= ovec ? 1.0f : 0.0f;
    DVT mask = DVLOAD(0, lm);
    for (int t = 0; t < nsum; t++) {
        int item = z * nsum + t;
        if (item >= nbatch) break;
        for (int oy = 0; oy < oh; oy++) {
            __global const float *xr = xp + (((xn0 + item) * cin + ci) * hp + oy + ky) * wp;
            __global const float *dr[DCO];
#pragma unroll
            for (int a = 0; a < DCO; a++) dr[a] = dy + (((n0 + item) * cout + cc[a]) * oh + oy) * ow;
            for (int ox = 0; ox < ovec; ox += DVW) {
                DVT g[DCO], xv[KS];
#pragma unroll
                for (int a = 0; a < DCO; a++) g[a] = DVLOAD(0, dr[a] + ox);
#pragma unroll
                for (int kx = 0; kx < KS; kx++) xv[kx] = DVLOAD(0, xr + ox + kx);
#pragma unroll
                for (int a = 0; a < DCO; a++)
#pragma unroll
                    for (int kx = 0; kx < KS; kx++) acc[a][kx] = fma(g[a], xv[kx], acc[a][kx]);
            }
            if (last >= 0) {
                DVT g[DCO], xv[KS];
#pragma unroll
                for (int a = 0; a < DCO; a++) g[a] = DVLOAD(0, dr[a] + last) * mask;
#pragma unroll
                for (int kx = 0; kx < KS; kx++) xv[kx] = DVLOAD(0, xr + last + kx);
#pragma unroll
                for (int a = 0; a < DCO; a++)
#pragma unroll
                    for (int kx = 0; kx < KS; kx++) acc[a][kx] = fma(g[a], xv[kx], acc[a][kx]);
            }
            for (int ox = scal; ox < ow; ox++)
#pragma unroll
                for (int a = 0; a < DCO; a++)
#pragma unroll
                    for (int kx = 0; kx < KS; kx++)
                        tail[a][kx] = fma(dr[a][ox], xr[ox + kx], tail[a][kx]);
        }
    }
    __global float *out = dw + dw_off + z * cout * cin * KS * KS;
    for (int a = 0; a < DCO; a++) {
        if (co0 + a >= cout) break;
#pragma unroll
        for (int kx = 0; kx < KS; kx++)
            out[(((co0 + a) * cin + ci) * KS + ky) * KS + kx] = hsum_d(acc[a][kx]) + tail[a][kx];
    }
}
#endif

/* Fused Winograd F(2x2,3x3), stride 1, for CPUs: one work-item takes WVW tiles along a
 * tile row (lane l = tile bx*WVW + l: output rows 2ty, 2ty+1, columns 2(bx*WVW+l) and +1)
 * of one item through all three stages without a trip to global memory:
 *   1. V[e][ci] = B^T d B for every input channel, into the work-item's local area;
 *   2. M[e][co] = sum_ci U[e][ci][co] V[e][ci], WR output channels at a time (U read as
 *      broadcasts), for a chunk of cb output channels (a multiple of WR);
 *   3. y = A^T M A + bias (relu), stored.
 * The transforms are as in wino_input/wino_output above. x is the unpadded input (n x
 * cin x h x w, xlen floats); the pad_t rows and pad_l columns before it and everything
 * past it read as zero (wf_load). u: [16][cin][coutp], coutp a multiple of WR, zero past
 * cout. lv: 16*cin and lm: 16*cb vectors per work-item of the group (dim 0 only). */
/* Shared by the fused Winograd kernels (CT_PROG 3 and 4): WVW tiles per vector. WROW:
 * row r of the VW input tiles, columns 0..3 of each, from two pairs of vector loads. */
#if CT_PROG == 3 || CT_PROG == 4
#ifndef WVW
#define WVW 16
#endif
#define WVT CAT(float, WVW)
#define WVLOAD CAT(vload, WVW)
#if WVW == 16
#define WEVEN(a, b) ((float16)((a).even, (b).even))
#define WODD(a, b) ((float16)((a).odd, (b).odd))
#else
#define WEVEN(a, b) ((float8)((a).even, (b).even))
#define WODD(a, b) ((float8)((a).odd, (b).odd))
#endif
/* lanes 0 .. WVW/2-1: sums of adjacent lane pairs of a, the rest: of b */
#define WPAIR(a, b) (WEVEN(a, b) + WODD(a, b))
#define WROW_OF(a0_, a1_, b0_, b1_, d)                                                      \
    do {                                                                                    \
        (d)[0] = WEVEN(a0_, a1_);                                                           \
        (d)[1] = WODD(a0_, a1_);                                                            \
        (d)[2] = WEVEN(b0_, b1_);                                                           \
        (d)[3] = WODD(b0_, b1_);                                                            \
    } while (0)
#define WROW(xr, d)                                                                         \
    do {                                                                                    \
        WVT a0_ = WVLOAD(0, (xr)), a1_ = WVLOAD(0, (xr) + WVW);                             \
        WVT b0_ = WVLOAD(0, (xr) + 2), b1_ = WVLOAD(0, (xr) + 2 + WVW);                     \
        WROW_OF(a0_, a1_, b0_, b1_, d);                                                     \
    } while (0)
#define WIT CAT(int, WVW)
#if WVW == 16
#define WIOTA ((int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))
#else
#define WIOTA ((int8)(0, 1, 2, 3, 4, 5, 6, 7))
#endif
/* The fused kernels read the unpadded input and pad it as they load, instead of a
 * zero-padded copy (pad_input was 10 % of Model 2's step, a write and a read of every
 * input and dy once more per pass): WVW floats of the row that starts at float rs of x,
 * from column c, with the lanes outside columns 0 .. w-1 zero, exactly as the padding
 * gave. Inside the row: one load. Across a row end: the load masked, where it stays
 * inside x's xlen floats (it reads the next or the previous row, which the mask drops);
 * at the buffer's ends: lane by lane. */
static inline WVT wf_load(__global const float *x, long rs, int c, int w, long xlen) {
    if (c >= 0 && c + WVW <= w) return WVLOAD(0, x + rs + c);
    if (c >= w || c + WVW <= 0) return (WVT)(0.0f);
    long s = rs + c;
    WIT col = (WIT)(c) + WIOTA;
    WIT in = (col >= (WIT)(0)) & (col < (WIT)(w));
    if (s >= 0 && s + WVW <= xlen) return select((WVT)(0.0f), WVLOAD(0, x + s), in);
    float t[WVW];
    for (int l = 0; l < WVW; l++) t[l] = c + l >= 0 && c + l < w ? x[s + l] : 0.0f;
    return WVLOAD(0, t);
}
/* WROW from x: row start rs, first column c; ok == 0: a padding row (all zero) */
#define WROW_X(x, ok, rs, c, w, xlen, d)                                                    \
    do {                                                                                    \
        if (!(ok)) {                                                                        \
            (d)[0] = (d)[1] = (d)[2] = (d)[3] = (WVT)(0.0f);                                \
        } else {                                                                            \
            WVT a0_ = wf_load(x, rs, c, w, xlen), a1_ = wf_load(x, rs, (c) + WVW, w, xlen); \
            WVT b0_ = wf_load(x, rs, (c) + 2, w, xlen);                                     \
            WVT b1_ = wf_load(x, rs, (c) + 2 + WVW, w, xlen);                               \
            WROW_OF(a0_, a1_, b0_, b1_, d);                                                 \
        }                                                                                   \
    } while (0)
#endif

#if CT_PROG == 3
#ifndef WR
#define WR 8
#endif
#ifndef WT
#define WT 2 /* output tile side: F(2x2, 3x3) or F(4x4, 3x3) */
#endif
#define WVSTORE CAT(vstore, WVW)
#if WVW == 16
#define WZIPLO(a, b)                                                                        \
    ((float16)((a).s0, (b).s0, (a).s1, (b).s1, (a).s2, (b).s2, (a).s3, (b).s3, (a).s4,      \
               (b).s4, (a).s5, (b).s5, (a).s6, (b).s6, (a).s7, (b).s7))
#define WZIPHI(a, b)                                                                        \
    ((float16)((a).s8, (b).s8, (a).s9, (b).s9, (a).sa, (b).sa, (a).sb, (b).sb, (a).sc,      \
               (b).sc, (a).sd, (b).sd, (a).se, (b).se, (a).sf, (b).sf))
#else
#define WZIPLO(a, b) ((float8)((a).s0, (b).s0, (a).s1, (b).s1, (a).s2, (b).s2, (a).s3, (b).s3))
#define WZIPHI(a, b) ((float8)((a).s4, (b).s4, (a).s5, (b).s5, (a).s6, (b).s6, (a).s7, (b).s7))
#endif
#define WCVT_UC CAT(convert_uchar, WVW)
/* The transform-domain products of conv_wino_fused (F(2x2) and F(4x4)): for each of the
 * ne points e, m[e][c] = sum_ci u[e][ci][c] v[e][ci] for the cn output channels of the
 * chunk (u at its first), WR at a time, U read as broadcasts. */
static inline void wf_products(int ne, int cin, int coutp, int cn, int cb, __local const WVT *v,
                               __global const float *u, __local WVT *m) {
    for (int e = 0; e < ne; e++) {
        __local const WVT *ve = v + e * cin;
        for (int cr = 0; cr < cn; cr += WR) {
            WVT acc[WR];
#pragma unroll
            for (int r = 0; r < WR; r++) acc[r] = (WVT)(0.0f);
            __global const float *ue = u + (size_t)e * cin * coutp + cr;
            for (int ci = 0; ci < cin; ci++) {
                WVT b = ve[ci];
#pragma unroll
                for (int r = 0; r < WR; r++) acc[r] = fma((WVT)(ue[r]), b, acc[r]);
                ue += coutp;
            }
#pragma unroll
            for (int r = 0; r < WR; r++) m[e * cb + cr + r] = acc[r];
        }
    }
}
#endif
/* WT == 4: Fused Winograd F(4x4,3x3), the same plan with 4x4 output tiles from 6x6 input
 * tiles (transforms above wino_weights6). Lane l of work-item (bx, ty,
 * item): the tile of output rows 4ty .. 4ty+3 and columns 4(bx*WVW+l) .. +3. WROW6: row r
 * of the WVW input tiles (6 columns each, at a stride of 4) from eight vector loads,
 * columns j < 4 gathered from the four loads at the tile starts, 4 and 5 from the four
 * loads 4 columns on (from x as for F(2x2)). u: [36][cin][coutp]; lv: 36*cin and lm:
 * 36*cb vectors per work-item. pool: the 2x2 windows inside each tile. */
#if CT_PROG == 3 && WT == 4
#if WVW == 16
#define WSW0 s048c
#define WSW1 s159d
#define WSW2 s26ae
#define WSW3 s37bf
#else
#define WSW0 s04
#define WSW1 s15
#define WSW2 s26
#define WSW3 s37
#endif
#define WCOL(a, j) ((WVT)((a)[0].WSW##j, (a)[1].WSW##j, (a)[2].WSW##j, (a)[3].WSW##j))
/* the six columns of a row from the loads at the tile starts (a) and 4 columns on (b) */
#define WROW6_OF(a, b, d)                                                                   \
    do {                                                                                    \
        (d)[0] = WCOL(a, 0);                                                                \
        (d)[1] = WCOL(a, 1);                                                                \
        (d)[2] = WCOL(a, 2);                                                                \
        (d)[3] = WCOL(a, 3);                                                                \
        (d)[4] = WCOL(b, 0);                                                                \
        (d)[5] = WCOL(b, 1);                                                                \
    } while (0)
#define WROW6(xr, d)                                                                        \
    do {                                                                                    \
        WVT a_[4], b_[4];                                                                   \
        for (int k_ = 0; k_ < 4; k_++) {                                                    \
            a_[k_] = WVLOAD(0, (xr) + k_ * WVW);                                            \
            b_[k_] = WVLOAD(0, (xr) + 4 + k_ * WVW);                                        \
        }                                                                                   \
        WROW6_OF(a_, b_, d);                                                                \
    } while (0)
/* WROW6 from x (wf_load): row start rs, first column c; ok == 0: a padding row */
#define WROW6_X(x, ok, rs, c, w, xlen, d)                                                   \
    do {                                                                                    \
        WVT a_[4], b_[4];                                                                   \
        for (int k_ = 0; k_ < 4; k_++) {                                                    \
            a_[k_] = (ok) ? wf_load(x, rs, (c) + k_ * WVW, w, xlen) : (WVT)(0.0f);          \
            b_[k_] = (ok) ? wf_load(x, rs, (c) + 4 + k_ * WVW, w, xlen) : (WVT)(0.0f);      \
        }                                                                                   \
        WROW6_OF(a_, b_, d);                                                                \
    } while (0)
/* o[0..5] = B^T (d0 .. d5) */
#define WBT6(d0, d1, d2, d3, d4, d5, o)                                                     \
    do {                                                                                    \
        WVT a_ = fma((WVT)(-4.0f), (d2), (d4)), b_ = fma((WVT)(-4.0f), (d1), (d3));         \
        WVT c_ = (d4) - (d2), e_ = 2.0f * ((d3) - (d1));                                    \
        (o)[0] = fma((WVT)(4.0f), (d0), fma((WVT)(-5.0f), (d2), (d4)));                     \
        (o)[1] = a_ + b_;                                                                   \
        (o)[2] = a_ - b_;                                                                   \
        (o)[3] = c_ + e_;                                                                   \
        (o)[4] = c_ - e_;                                                                   \
        (o)[5] = fma((WVT)(4.0f), (d1), fma((WVT)(-5.0f), (d3), (d5)));                     \
    } while (0)
/* o[0..3] = A^T (m0 .. m5) */
#define WAT6(m0, m1, m2, m3, m4, m5, o)                                                     \
    do {                                                                                    \
        WVT p_ = (m1) + (m2), q_ = (m1) - (m2), r_ = (m3) + (m4), s_ = (m3) - (m4);         \
        (o)[0] = (m0) + p_ + r_;                                                            \
        (o)[1] = fma((WVT)(2.0f), s_, q_);                                                  \
        (o)[2] = fma((WVT)(4.0f), r_, p_);                                                  \
        (o)[3] = fma((WVT)(8.0f), s_, q_) + (m5);                                           \
    } while (0)
#define WCVT_F CAT(convert_float, WVW)
#endif

#if CT_PROG == 3
#define WE ((WT + 2) * (WT + 2)) /* transform-domain points */
__kernel void conv_wino_fused(int cin, int h, int w, int pad_t, int pad_l, long xlen, int cout,
                              int coutp, int cb, int oh, int ow, __global const float *x,
                              __global const float *u, int u_off, __global const float *bias,
                              int use_bias, int relu, __global float *y, int pool,
                              __global uchar *pidx, __local WVT *lv, __local WVT *lm) {
    int bx = get_global_id(0), ty = get_global_id(1), item = get_global_id(2);
    int th = (oh + WT - 1) / WT, tw = (ow + WT - 1) / WT, nbx = (tw + WVW - 1) / WVW;
    /* pool: the 2x2 windows of the tile (one for F(2x2), four for F(4x4)), y the pooled
     * output (oh/2 x ow/2, floor) and pidx its argmax code (cl/pool.cl); a last tile row or
     * column past the floor is skipped */
    int poh = oh / 2, pw = ow / 2;
    if (bx >= nbx || ty >= th || (pool && (WT / 2 * ty >= poh || WT / 2 * bx * WVW >= pw)))
        return;
    __local WVT *v = lv + (size_t)get_local_id(0) * WE * cin;
    __local WVT *m = lm + (size_t)get_local_id(0) * WE * cb;
    /* the tile rows' first input row and column (padding before them: negative) */
    int iy0 = WT * ty - pad_t, c0 = WT * bx * WVW - pad_l;
    int inner = c0 >= 0 && c0 + WT * (WVW + 1) <= w; /* WROW(6)'s columns all inside */
    long rs = ((long)item * cin * h + iy0) * w;
#if WT == 2
    for (int ci = 0; ci < cin; ci++, rs += (long)h * w) {
        WVT d[4][4], t[4][4];
#pragma unroll
        for (int r = 0; r < 4; r++) {
            int ok = iy0 + r >= 0 && iy0 + r < h;
            if (ok && inner) WROW(x + rs + r * w + c0, d[r]);
            else WROW_X(x, ok, rs + r * w, c0, w, xlen, d[r]);
        }
#pragma unroll
        for (int c = 0; c < 4; c++) {
            t[0][c] = d[0][c] - d[2][c];
            t[1][c] = d[1][c] + d[2][c];
            t[2][c] = d[2][c] - d[1][c];
            t[3][c] = d[1][c] - d[3][c];
        }
#pragma unroll
        for (int r = 0; r < 4; r++) {
            v[(r * 4 + 0) * cin + ci] = t[r][0] - t[r][2];
            v[(r * 4 + 1) * cin + ci] = t[r][1] + t[r][2];
            v[(r * 4 + 2) * cin + ci] = t[r][2] - t[r][1];
            v[(r * 4 + 3) * cin + ci] = t[r][1] - t[r][3];
        }
    }
#else
    for (int ci = 0; ci < cin; ci++, rs += (long)h * w) {
        WVT t[6][6];
        for (int r = 0; r < 6; r++) {
            WVT d[6];
            int ok = iy0 + r >= 0 && iy0 + r < h;
            if (ok && inner) WROW6(x + rs + r * w + c0, d);
            else WROW6_X(x, ok, rs + r * w, c0, w, xlen, d);
            WBT6(d[0], d[1], d[2], d[3], d[4], d[5], t[r]);
        }
        for (int c = 0; c < 6; c++) {
            WVT o[6];
            WBT6(t[0][c], t[1][c], t[2][c], t[3][c], t[4][c], t[5][c], o);
#pragma unroll
            for (int i = 0; i < 6; i++) v[(i * 6 + c) * cin + ci] = o[i];
        }
    }
#endif
    int oy = WT * ty, ox0 = WT * bx * WVW, rows = min(WT, oh - oy);
    int full = ox0 + WT * WVW <= ow;
    for (int co0 = 0; co0 < coutp; co0 += cb) {
        int cn = min(cb, coutp - co0);
        wf_products(WE, cin, coutp, cn, cb, v, u + u_off + co0, m);
        for (int c = 0; c < cn && co0 + c < cout; c++) {
            int co = co0 + c;
#if WT == 2
            WVT q[16], s0[4], s1[4];
#pragma unroll
            for (int e = 0; e < 16; e++) q[e] = m[e * cb + c];
#pragma unroll
            for (int k = 0; k < 4; k++) {
                s0[k] = q[k] + q[4 + k] + q[8 + k];
                s1[k] = q[4 + k] - q[8 + k] - q[12 + k];
            }
            WVT bv = (WVT)(use_bias ? bias[co] : 0.0f);
            WVT o00 = s0[0] + s0[1] + s0[2] + bv, o01 = s0[1] - s0[2] - s0[3] + bv;
            WVT o10 = s1[0] + s1[1] + s1[2] + bv, o11 = s1[1] - s1[2] - s1[3] + bv;
            if (relu) {
                o00 = fmax(o00, (WVT)(0.0f));
                o01 = fmax(o01, (WVT)(0.0f));
                o10 = fmax(o10, (WVT)(0.0f));
                o11 = fmax(o11, (WVT)(0.0f));
            }
            if (pool) { /* the order and code of ct_pool2_fwd_rows */
                WVT pm;
                WIT kk;
                CT_POOL4(o00, o01, o10, o11, pm, kk, WIT);
                size_t po = ((size_t)item * cout + co) * poh * pw + (size_t)ty * pw +
                            bx * WVW;
                if (bx * WVW + WVW <= pw) {
                    WVSTORE(pm, 0, y + po);
                    WVSTORE(WCVT_UC(kk), 0, pidx + po);
                } else {
                    float tp[WVW];
                    uchar tk[WVW];
                    WVSTORE(pm, 0, tp);
                    WVSTORE(WCVT_UC(kk), 0, tk);
                    for (int x = 0; x < pw - bx * WVW; x++) {
                        y[po + x] = tp[x];
                        pidx[po + x] = tk[x];
                    }
                }
                continue;
            }
            __global float *yr = y + ((size_t)item * cout + co) * oh * ow + (size_t)oy * ow + ox0;
            WVT r0lo = WZIPLO(o00, o01), r0hi = WZIPHI(o00, o01);
            WVT r1lo = WZIPLO(o10, o11), r1hi = WZIPHI(o10, o11);
            if (full) {
                WVSTORE(r0lo, 0, yr);
                WVSTORE(r0hi, 1, yr);
                if (rows == 2) {
                    WVSTORE(r1lo, 0, yr + ow);
                    WVSTORE(r1hi, 1, yr + ow);
                }
            } else {
                float tmp[2][2 * WVW];
                WVSTORE(r0lo, 0, tmp[0]);
                WVSTORE(r0hi, 1, tmp[0]);
                WVSTORE(r1lo, 0, tmp[1]);
                WVSTORE(r1hi, 1, tmp[1]);
                int nx = ow - ox0;
                for (int r = 0; r < rows; r++)
                    for (int x = 0; x < nx; x++) yr[r * ow + x] = tmp[r][x];
            }
#else
            WVT s[4][6], o[4][4];
            for (int j = 0; j < 6; j++) {
                __local const WVT *mj = m + j * cb + c;
                WVT q[4];
                WAT6(mj[0], mj[6 * cb], mj[12 * cb], mj[18 * cb], mj[24 * cb], mj[30 * cb], q);
                for (int i = 0; i < 4; i++) s[i][j] = q[i];
            }
            WVT bv = (WVT)(use_bias ? bias[co] : 0.0f);
            for (int i = 0; i < 4; i++) {
                WAT6(s[i][0], s[i][1], s[i][2], s[i][3], s[i][4], s[i][5], o[i]);
                for (int j = 0; j < 4; j++) {
                    o[i][j] += bv;
                    if (relu) o[i][j] = fmax(o[i][j], (WVT)(0.0f));
                }
            }
            if (pool) { /* the order and code of ct_pool2_fwd_rows */
                for (int pr = 0; pr < 2 && 2 * ty + pr < poh; pr++) {
                    WVT pm0, pm1;
                    WIT k0, k1;
                    CT_POOL4(o[2 * pr][0], o[2 * pr][1], o[2 * pr + 1][0], o[2 * pr + 1][1], pm0,
                             k0, WIT);
                    CT_POOL4(o[2 * pr][2], o[2 * pr][3], o[2 * pr + 1][2], o[2 * pr + 1][3], pm1,
                             k1, WIT);
                    WVT f0 = WCVT_F(k0), f1 = WCVT_F(k1);
                    size_t po = ((size_t)item * cout + co) * poh * pw +
                                (size_t)(2 * ty + pr) * pw + 2 * bx * WVW;
                    WVT lo = WZIPLO(pm0, pm1), hi = WZIPHI(pm0, pm1);
                    WVT klo = WZIPLO(f0, f1), khi = WZIPHI(f0, f1);
                    if (2 * bx * WVW + 2 * WVW <= pw) {
                        WVSTORE(lo, 0, y + po);
                        WVSTORE(hi, 1, y + po);
                        WVSTORE(WCVT_UC(klo), 0, pidx + po);
                        WVSTORE(WCVT_UC(khi), 1, pidx + po);
                    } else {
                        float tp[2 * WVW], tk[2 * WVW];
                        WVSTORE(lo, 0, tp);
                        WVSTORE(hi, 1, tp);
                        WVSTORE(klo, 0, tk);
                        WVSTORE(khi, 1, tk);
                        for (int x = 0; x < pw - 2 * bx * WVW; x++) {
                            y[po + x] = tp[x];
                            pidx[po + x] = (uchar)tk[x];
                        }
                    }
                }
                continue;
            }
            __global float *yr = y + ((size_t)item * cout + co) * oh * ow + (size_t)oy * ow + ox0;
            for (int i = 0; i < rows; i++) {
                WVT p0 = WZIPLO(o[i][0], o[i][2]), p1 = WZIPHI(o[i][0], o[i][2]);
                WVT q0 = WZIPLO(o[i][1], o[i][3]), q1 = WZIPHI(o[i][1], o[i][3]);
                WVT r0 = WZIPLO(p0, q0), r1 = WZIPHI(p0, q0), r2 = WZIPLO(p1, q1),
                    r3 = WZIPHI(p1, q1);
                if (full) {
                    WVSTORE(r0, 0, yr + i * ow);
                    WVSTORE(r1, 1, yr + i * ow);
                    WVSTORE(r2, 2, yr + i * ow);
                    WVSTORE(r3, 3, yr + i * ow);
                } else {
                    float tmp[4 * WVW];
                    WVSTORE(r0, 0, tmp);
                    WVSTORE(r1, 1, tmp);
                    WVSTORE(r2, 2, tmp);
                    WVSTORE(r3, 3, tmp);
                    for (int x = 0; x < ow - ox0; x++) yr[i * ow + x] = tmp[x];
                }
            }
#endif
        }
    }
}
#endif

/* Fused Winograd backward-weights, F(2x2, 3x3) run backwards (the adjoint of the forward):
 *   dW[co][ci] = G^T X G,  X[k][co][ci] = sum over tiles of Yh[k][co] V[k][ci],
 *   Yh = A dy A^T (the 2x2 dy tile to 4x4), V = B^T d B (the 4x4 input tile),
 * A = [1 0; 1 1; 1 -1; 0 -1] (A^T of the forward). Work-item (i, z): row i of the 4x4
 * domain (k = 4i + j, j = 0..3) for the z-th share of the chunk's tile vectors (a vector:
 * WVW tiles along a tile row, as in conv_wino_fused). It transforms NB vectors at a time
 * into local memory (V: 4 x cin x NB, Yh: 4 x cout x NB vectors), then adds their products
 * over the NB vectors, 4 co x 4 ci in registers, into X (local, in 4x4 blocks: 4 x
 * ceil(cout/4) x ceil(cin/4) x 16 floats). The 16 horizontal sums of a block are paid once
 * per NB vectors, as one transposing tree (WPAIR: 15 vector adds, not 16 separate sums).
 * X goes to partial slot z in the [k][co][ci] order; sum_parts sums the slots and
 * wino_bwd_w_out applies G^T . G. x: the unpadded input as for the forward (its padding
 * and what lies past it read as zero), dy: n x cout x oh x ow (rows and columns past it
 * read as zero), both through wf_load. */
#if CT_PROG == 4
__kernel void conv_wino_bwd_w(int cin, int h, int w, int pad_t, int pad_l, long xlen, int cout,
                              int oh, int ow, long dylen, int th, int nbx, int nb, int zn,
                              int nbk, __global const float *x, __global const float *dy,
                              __global float *part, int part_off, __local WVT *lv,
                              __local WVT *ly, __local float *lx) {
    int i = get_global_id(0), z = get_global_id(1);
    if (i >= 4 || z >= zn) return;
    size_t li = get_local_id(0) + get_local_size(0) * get_local_id(1);
    lv += li * 4 * cin * nbk;
    ly += li * 4 * cout * nbk;
    int cob = (cout + 3) / 4, cib = (cin + 3) / 4;
    lx += li * 4 * cob * cib * 16;
    for (int t = 0; t < 4 * cob * cib * 16; t++) lx[t] = 0.0f;
    int total = nb * th * nbx, per = (total + zn - 1) / zn;
    int q0 = z * per, q1 = min(total, q0 + per);
    /* rows of d that row i of B^T combines, and their signs: t_i = s0*d[r0] + s1*d[r1] */
    int r0 = i == 0 ? 0 : 1, r1 = i == 3 ? 3 : 2;
    float s0 = i == 2 ? -1.0f : 1.0f, s1 = i == 0 ? -1.0f : i == 3 ? -1.0f : 1.0f;
    /* row i of A on dy's two rows: s_i = g0*a0 + g1*a1 */
    float a0 = i == 3 ? 0.0f : 1.0f, a1 = i == 0 ? 0.0f : i == 1 ? 1.0f : -1.0f;
    for (int qb = q0; qb < q1; qb += nbk) {
        int nq = min(nbk, q1 - qb);
        for (int b = 0; b < nq; b++) {
            int q = qb + b, item = q / (th * nbx), ty = (q / nbx) % th, bx = q % nbx;
            int ya = 2 * ty - pad_t + r0, yb = 2 * ty - pad_t + r1, c0 = 2 * bx * WVW - pad_l;
            int oka = ya >= 0 && ya < h, okb = yb >= 0 && yb < h;
            int inner = oka && okb && c0 >= 0 && c0 + 2 * WVW + 2 <= w;
            long ps = (long)item * cin * h;
            for (int ci = 0; ci < cin; ci++, ps += h) {
                WVT d0[4], d1[4], t[4];
                if (inner) {
                    WROW(x + (ps + ya) * w + c0, d0);
                    WROW(x + (ps + yb) * w + c0, d1);
                } else {
                    WROW_X(x, oka, (ps + ya) * w, c0, w, xlen, d0);
                    WROW_X(x, okb, (ps + yb) * w, c0, w, xlen, d1);
                }
#pragma unroll
                for (int c = 0; c < 4; c++) t[c] = s0 * d0[c] + s1 * d1[c];
                __local WVT *vo = lv + (size_t)ci * nbk + b;
                vo[0] = t[0] - t[2];
                vo[(size_t)cin * nbk] = t[1] + t[2];
                vo[(size_t)2 * cin * nbk] = t[2] - t[1];
                vo[(size_t)3 * cin * nbk] = t[1] - t[3];
            }
            /* dy rows 2ty and 2ty+1 (the second past oh: zero), columns from gx */
            int gy = 2 * ty, gx = 2 * bx * WVW, ok1 = gy + 1 < oh;
            int ginner = ok1 && gx + 2 * WVW <= ow;
            long gs = ((long)item * cout * oh + gy) * ow;
            for (int co = 0; co < cout; co++, gs += (long)oh * ow) {
                WVT g00, g01, g10, g11;
                {
                    WVT u0, u1, w0, w1;
                    if (ginner) {
                        u0 = WVLOAD(0, dy + gs + gx), u1 = WVLOAD(0, dy + gs + gx + WVW);
                        w0 = WVLOAD(0, dy + gs + ow + gx);
                        w1 = WVLOAD(0, dy + gs + ow + gx + WVW);
                    } else {
                        u0 = wf_load(dy, gs, gx, ow, dylen);
                        u1 = wf_load(dy, gs, gx + WVW, ow, dylen);
                        w0 = ok1 ? wf_load(dy, gs + ow, gx, ow, dylen) : (WVT)(0.0f);
                        w1 = ok1 ? wf_load(dy, gs + ow, gx + WVW, ow, dylen) : (WVT)(0.0f);
                    }
                    g00 = WEVEN(u0, u1), g01 = WODD(u0, u1);
                    g10 = WEVEN(w0, w1), g11 = WODD(w0, w1);
                }
                WVT sa = a0 * g00 + a1 * g10, sb = a0 * g01 + a1 * g11;
                __local WVT *yo = ly + (size_t)co * nbk + b;
                yo[0] = sa;
                yo[(size_t)cout * nbk] = sa + sb;
                yo[(size_t)2 * cout * nbk] = sa - sb;
                yo[(size_t)3 * cout * nbk] = -sb;
            }
        }
        for (int j = 0; j < 4; j++) {
            __local const WVT *vj = lv + (size_t)j * cin * nbk;
            __local const WVT *yj = ly + (size_t)j * cout * nbk;
            __local float *xj = lx + (size_t)j * cob * cib * 16;
            for (int co0 = 0; co0 < cout; co0 += 4)
                for (int ci0 = 0; ci0 < cin; ci0 += 4) {
                    WVT acc[16];
                    __local const WVT *yp[4], *xq[4];
#pragma unroll
                    for (int a = 0; a < 4; a++) {
                        yp[a] = yj + (size_t)min(co0 + a, cout - 1) * nbk;
                        xq[a] = vj + (size_t)min(ci0 + a, cin - 1) * nbk;
                    }
#pragma unroll
                    for (int s = 0; s < 16; s++) acc[s] = (WVT)(0.0f);
                    for (int b = 0; b < nq; b++) {
                        WVT yv[4], xv[4];
#pragma unroll
                        for (int a = 0; a < 4; a++) {
                            yv[a] = yp[a][b];
                            xv[a] = xq[a][b];
                        }
#pragma unroll
                        for (int a = 0; a < 4; a++)
#pragma unroll
                            for (int c = 0; c < 4; c++)
                                acc[a * 4 + c] = fma(yv[a], xv[c], acc[a * 4 + c]);
                    }
                    /* the 16 lane sums at once (WPAIR halves the lanes of two vectors):
                     * lane s of the last level is the sum of acc[s], s = 4 co + ci; a
                     * clamped row or column past cout or cin lands in a lane that the
                     * end drops */
                    WVT w8[8], w4[4], w2[2];
#pragma unroll
                    for (int k = 0; k < 8; k++) w8[k] = WPAIR(acc[2 * k], acc[2 * k + 1]);
#pragma unroll
                    for (int k = 0; k < 4; k++) w4[k] = WPAIR(w8[2 * k], w8[2 * k + 1]);
#pragma unroll
                    for (int k = 0; k < 2; k++) w2[k] = WPAIR(w4[2 * k], w4[2 * k + 1]);
                    __local float *xb = xj + ((size_t)(co0 / 4) * cib + ci0 / 4) * 16;
#if WVW == 16
                    vstore16(vload16(0, xb) + WPAIR(w2[0], w2[1]), 0, xb);
#else
                    vstore8(vload8(0, xb) + w2[0], 0, xb);
                    vstore8(vload8(0, xb + 8) + w2[1], 0, xb + 8);
#endif
                }
        }
    }
    __global float *out = part + part_off + ((size_t)z * 16 + 4 * i) * cout * cin;
    for (int j = 0; j < 4; j++)
        for (int co = 0; co < cout; co++)
            for (int ci = 0; ci < cin; ci++) {
                size_t t = ((size_t)j * cout + co) * cin + ci;
                out[t] = lx[(((size_t)j * cob + co / 4) * cib + ci / 4) * 16 + (co % 4) * 4 +
                            ci % 4];
            }
}
#endif

/* dW = G^T X G, X[k][co][ci] the sum of conv_wino_bwd_w's slots (sum_parts) at xs_off */
#if CT_PROG == 0
__kernel void wino_bwd_w_out(int cout, int cin, __global const float *xs, int xs_off,
                             __global float *dw) {
    /* ci along dim 0: neighbouring work-items read neighbouring floats */
    int ci = get_global_id(0), co = get_global_id(1);
    if (co >= cout || ci >= cin) return;
    size_t plane = (size_t)cout * cin;
    float x[4][4], t[3][4];
    for (int k = 0; k < 16; k++) x[k / 4][k % 4] = xs[xs_off + k * plane + (size_t)co * cin + ci];
    for (int j = 0; j < 4; j++) {
        t[0][j] = x[0][j] + 0.5f * (x[1][j] + x[2][j]);
        t[1][j] = 0.5f * (x[1][j] - x[2][j]);
        t[2][j] = 0.5f * (x[1][j] + x[2][j]) + x[3][j];
    }
    __global float *o = dw + ((size_t)co * cin + ci) * 9;
    for (int ky = 0; ky < 3; ky++) {
        o[ky * 3 + 0] = t[ky][0] + 0.5f * (t[ky][1] + t[ky][2]);
        o[ky * 3 + 1] = 0.5f * (t[ky][1] - t[ky][2]);
        o[ky * 3 + 2] = 0.5f * (t[ky][1] + t[ky][2]) + t[ky][3];
    }
}
#endif
