/* Batch normalisation (Keras BatchNormalization) over x[n][C][hw]: channel c of sample s is
 * the hw floats at (s * C + c) * hw (a flat input is C features, hw = 1). Statistics per
 * channel over n * hw values. stat (per layer, 3C floats): mean, inv = 1/sqrt(var + eps),
 * scale = gamma * inv. act: 0 none, 1 relu (ct_act). Reductions: one work-group per channel,
 * each work-item sums a fixed strided set, then a fixed tree in local memory: no atomics,
 * the same order every run for a given work-group size. */
#include "common.h"

/* Fixed-order tree sum of buf[0..wg) (wg a power of two); every work-item gets the sum. */
inline float bn_tree_sum(__local float *buf, int lid, int wg) {
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = wg >> 1; h > 0; h >>= 1) {
        if (lid < h) buf[lid] += buf[lid + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float s = buf[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return s;
}

inline size_t bn_at(int i, int C, int hw, int c) {
    int s = i / hw;
    return ((size_t)s * C + c) * hw + (size_t)(i - s * hw);
}

/* train: batch mean and biased variance (two passes), moving statistics updated
 * (m * momentum + batch * omm, omm = 1 - momentum rounded once on the host); else the
 * moving statistics. Global size C * wg, local size wg. */
__kernel void ct_bn_stats(const int n, const int C, const int hw, const int train,
                          const float eps, const float momentum, const float omm,
                          __global const float *x, __global const float *gamma,
                          __global float *mmean, __global float *mvar, __global float *stat,
                          __local float *buf) {
    int c = get_group_id(0), lid = get_local_id(0), wg = get_local_size(0);
    float mean, var;
    if (train) {
        int M = n * hw;
        float s = 0.0f;
        for (int i = lid; i < M; i += wg) s += x[bn_at(i, C, hw, c)];
        buf[lid] = s;
        mean = bn_tree_sum(buf, lid, wg) / (float)M;
        s = 0.0f;
        for (int i = lid; i < M; i += wg) {
            float d = x[bn_at(i, C, hw, c)] - mean;
            s += d * d;
        }
        buf[lid] = s;
        var = bn_tree_sum(buf, lid, wg) / (float)M;
    } else {
        mean = mmean[c];
        var = mvar[c];
    }
    if (lid == 0) {
        float inv = 1.0f / sqrt(var + eps);
        stat[c] = mean;
        stat[C + c] = inv;
        stat[2 * C + c] = gamma[c] * inv;
        if (train) {
            mmean[c] = mmean[c] * momentum + mean * omm;
            mvar[c] = mvar[c] * momentum + var * omm;
        }
    }
}

/* y = act((x - mean) * scale + beta); one work-item per element. */
__kernel void ct_bn_apply(const int total, const int C, const int hw, const int act,
                          __global const float *x, __global const float *stat,
                          __global const float *beta, __global float *y) {
    int i = get_global_id(0);
    if (i >= total) return;
    int c = (i / hw) % C;
    float v = (x[i] - stat[c]) * stat[2 * C + c] + beta[c];
    y[i] = act == 1 && !(v > 0.0f) ? 0.0f : v;
}

/* The gradient w.r.t. the pre-activation output (relu: y > 0). */
inline float bn_grad(int act, __global const float *y, __global const float *dy, size_t i) {
    return act == 1 && !(y[i] > 0.0f) ? 0.0f : dy[i];
}

/* dbeta[c] = sum g, dgamma[c] = sum g * xhat, xhat = (x - mean) * inv. Global C * wg,
 * local wg; buf holds wg floats. */
__kernel void ct_bn_bwd_reduce(const int n, const int C, const int hw, const int act,
                               __global const float *x, __global const float *y,
                               __global const float *dy, __global const float *stat,
                               __global float *dgamma, __global float *dbeta,
                               __local float *buf) {
    int c = get_group_id(0), lid = get_local_id(0), wg = get_local_size(0);
    int M = n * hw;
    float mean = stat[c], inv = stat[C + c];
    float sg = 0.0f, sgx = 0.0f;
    for (int i = lid; i < M; i += wg) {
        size_t k = bn_at(i, C, hw, c);
        float g = bn_grad(act, y, dy, k);
        sg += g;
        sgx += g * ((x[k] - mean) * inv);
    }
    buf[lid] = sg;
    float db = bn_tree_sum(buf, lid, wg);
    buf[lid] = sgx;
    float dg = bn_tree_sum(buf, lid, wg);
    if (lid == 0) {
        dbeta[c] = db;
        dgamma[c] = dg;
    }
}

/* train: dx = scale * (g - (dbeta + xhat * dgamma) / M) (the batch statistics depend on x);
 * inference: dx = scale * g. dx may be dy. */
__kernel void ct_bn_bwd_dx(const int total, const int C, const int hw, const int M,
                           const int train, const int act, __global const float *x,
                           __global const float *y, __global const float *dy,
                           __global const float *stat, __global const float *dgamma,
                           __global const float *dbeta, __global float *dx) {
    int i = get_global_id(0);
    if (i >= total) return;
    int c = (i / hw) % C;
    float g = bn_grad(act, y, dy, (size_t)i);
    if (train) {
        float xh = (x[i] - stat[c]) * stat[C + c];
        g -= (dbeta[c] + xh * dgamma[c]) / (float)M;
    }
    dx[i] = stat[2 * C + c] * g;
}

/* --sync-bn (docs/SCALING.md): a replica's part of the batch statistics, which the host adds
 * over the replicas in replica order. part[c] = the sum over this replica's n * hw values of
 * x (sq = 0), or of (x - mean[c])^2 (sq = 1). Global C * wg, local wg. */
__kernel void ct_bn_part(const int n, const int C, const int hw, const int sq,
                         __global const float *x, __global const float *mean,
                         __global float *part, __local float *buf) {
    int c = get_group_id(0), lid = get_local_id(0), wg = get_local_size(0);
    int M = n * hw;
    float m = sq ? mean[c] : 0.0f, s = 0.0f;
    for (int i = lid; i < M; i += wg) {
        float v = x[bn_at(i, C, hw, c)];
        s += sq ? (v - m) * (v - m) : v;
    }
    buf[lid] = s;
    s = bn_tree_sum(buf, lid, wg);
    if (lid == 0) part[c] = s;
}

/* The end of ct_bn_stats (train) from the whole batch's mean and variance, mv = C means then
 * C variances; one work-item per channel. */
__kernel void ct_bn_set_stats(const int C, const float eps, const float momentum,
                              const float omm, __global const float *mv,
                              __global const float *gamma, __global float *mmean,
                              __global float *mvar, __global float *stat) {
    int c = get_global_id(0);
    if (c >= C) return;
    float mean = mv[c], var = mv[C + c];
    float inv = 1.0f / sqrt(var + eps);
    stat[c] = mean;
    stat[C + c] = inv;
    stat[2 * C + c] = gamma[c] * inv;
    mmean[c] = mmean[c] * momentum + mean * omm;
    mvar[c] = mvar[c] * momentum + var * omm;
}
