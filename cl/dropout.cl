/* Inverted dropout. The mask is a pure function of (seed, step, element index) through
 * ct_hash3, so it is recomputed in the backward pass instead of stored, and the same seed
 * gives the same masks on any device and work-group size. keep iff u >= rate with
 * u = (hash >> 8) / 2^24; kept elements are scaled by 1 / (1 - rate). */
#include "common.h"

inline float ct_dropout_keep(uint seed, uint step, uint i, float rate) {
    float u = (float)(ct_hash3(seed, step, i) >> 8) * (1.0f / 16777216.0f);
    return u >= rate ? 1.0f : 0.0f;
}

/* y may be x; same for dx/dy. base: the index of element 0 in the whole batch (a replica's
 * first sample times the features; 0 on one device), so a sample's mask is the same
 * whichever replica runs it. */
__kernel void ct_dropout_fwd(const int n, const float rate, const float scale, const uint seed,
                             const uint step, const uint base, __global const float *x,
                             __global float *y) {
    int i = get_global_id(0);
    if (i < n) y[i] = ct_dropout_keep(seed, step, base + (uint)i, rate) * scale * x[i];
}

__kernel void ct_dropout_bwd(const int n, const float rate, const float scale, const uint seed,
                             const uint step, const uint base, __global const float *dy,
                             __global float *dx) {
    int i = get_global_id(0);
    if (i < n) dx[i] = ct_dropout_keep(seed, step, base + (uint)i, rate) * scale * dy[i];
}
