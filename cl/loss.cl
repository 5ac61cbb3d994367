/* Losses from logits, accuracy, their device-side sums, and output probabilities.
 * Per-sample results go to stats[2i] (loss) and stats[2i+1] (1 if correct); ct_loss_reduce
 * then adds them to the running sums with one work-group (no float atomics). */
#include "common.h"

/* Class weights (Keras's fit(class_weight=)): with use_w, sample i's loss and gradient are
 * multiplied by w = cw[label]; the mean stays over n samples (Keras's sum_over_batch_size:
 * sum(w l) / n, not / sum(w)). Without use_w, cw is never read. */

/* Binary: one logit per sample, label 0/1. loss = softplus(z) - y z (= Keras's BCE on
 * sigmoid(z) wherever its clipping to [1e-7, 1 - 1e-7] does not bite). Prediction as
 * Keras's binary_accuracy: sigmoid(z) > 0.5. dz = w (sigmoid(z) - y) * inv_n when dz != 0. */
__kernel void ct_loss_binary(const int n, __global const float *z, __global const int *labels,
                             __global float *stats, const int want_grad, const float inv_n,
                             __global float *dz, const int use_w, __global const float *cw) {
    int i = get_global_id(0);
    if (i >= n) return;
    float v = z[i];
    int lab = labels[i];
    float y = (float)lab;
    float p = 1.0f / (1.0f + exp(-v));
    float loss = ct_softplus(v) - y * v;
    int ok = lab == 0 || lab == 1;
    float w = use_w && ok ? cw[lab] : 1.0f;
    if (!ok) loss = NAN; /* a label the model cannot have: make it loud */
    stats[2 * i] = w * loss;
    stats[2 * i + 1] = ((p > 0.5f) == (lab == 1)) ? 1.0f : 0.0f;
    if (want_grad) dz[i] = w * (p - y) * inv_n;
}

/* Categorical: k logits per sample, label in [0, k). loss = logsumexp(z) - z[label];
 * prediction = first argmax; dz = w (softmax(z) - onehot) * inv_n. */
__kernel void ct_loss_softmax(const int n, const int k, __global const float *z,
                              __global const int *labels, __global float *stats,
                              const int want_grad, const float inv_n, __global float *dz,
                              const int use_w, __global const float *cw) {
    int i = get_global_id(0);
    if (i >= n) return;
    __global const float *zr = z + (size_t)i * k;
    int lab = labels[i];
    float m = zr[0];
    int am = 0;
    for (int j = 1; j < k; j++)
        if (zr[j] > m) {
            m = zr[j];
            am = j;
        }
    float sum = 0.0f;
    for (int j = 0; j < k; j++) sum += exp(zr[j] - m);
    float lse = m + log(sum);
    int ok = lab >= 0 && lab < k;
    float w = use_w && ok ? cw[lab] : 1.0f;
    stats[2 * i] = ok ? w * (lse - zr[lab]) : NAN;
    stats[2 * i + 1] = am == lab ? 1.0f : 0.0f;
    if (want_grad) {
        __global float *dr = dz + (size_t)i * k;
        float wn = w * inv_n;
        for (int j = 0; j < k; j++) dr[j] = (exp(zr[j] - lse) - (j == lab ? 1.0f : 0.0f)) * wn;
    }
}

/* sums[0] += sum of losses (Kahan compensation in sums[1]); sums[2] += correct count.
 * Launch exactly one work-group of size ls (a power of two), scratch = ls * 2 floats. */
__kernel void ct_loss_reduce(const int n, __global const float *stats, __global float *sums,
                             __local float *scratch) {
    int l = get_local_id(0), ls = get_local_size(0);
    float a = 0.0f, c = 0.0f;
    for (int i = l; i < n; i += ls) {
        a += stats[2 * i];
        c += stats[2 * i + 1];
    }
    scratch[l] = a;
    scratch[ls + l] = c;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = ls / 2; s > 0; s >>= 1) {
        if (l < s) {
            scratch[l] += scratch[l + s];
            scratch[ls + l] += scratch[ls + l + s];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (l == 0) {
        float yk = scratch[0] - sums[1];
        float t = sums[0] + yk;
        sums[1] = (t - sums[0]) - yk;
        sums[0] = t;
        sums[2] += scratch[ls];
    }
}

/* Probabilities from logits: sigmoid (k == 1) or softmax over k. */
__kernel void ct_output_probs(const int n, const int k, __global const float *z,
                              __global float *p) {
    int i = get_global_id(0);
    if (i >= n) return;
    __global const float *zr = z + (size_t)i * k;
    __global float *pr = p + (size_t)i * k;
    if (k == 1) {
        pr[0] = 1.0f / (1.0f + exp(-zr[0]));
        return;
    }
    float m = zr[0];
    for (int j = 1; j < k; j++) m = fmax(m, zr[j]);
    float sum = 0.0f;
    for (int j = 0; j < k; j++) sum += exp(zr[j] - m);
    for (int j = 0; j < k; j++) pr[j] = exp(zr[j] - m) / sum;
}

/* The t best classes of each sample, best first, into top[i * t + r] (ties: the lower
 * index first, as the accuracy's first argmax). k == 1 (binary): t is 1 and the class is
 * sigmoid(z) > 0.5, as ct_loss_binary counts it. For the classification report. */
__kernel void ct_loss_topk(const int n, const int k, const int t, __global const float *z,
                           __global int *top) {
    int i = get_global_id(0);
    if (i >= n) return;
    __global const float *zr = z + (size_t)i * k;
    __global int *tr = top + (size_t)i * t;
    if (k == 1) {
        tr[0] = 1.0f / (1.0f + exp(-zr[0])) > 0.5f ? 1 : 0;
        return;
    }
    for (int r = 0; r < t; r++) {
        int best = -1;
        for (int j = 0; j < k; j++) {
            int taken = 0;
            for (int q = 0; q < r; q++) taken |= tr[q] == j;
            if (!taken && (best < 0 || zr[j] > zr[best])) best = j;
        }
        tr[r] = best;
    }
}
