/* Inverted dropout with a counter-based mask (see cl/dropout.cl). */
#include <limits.h>

#include "layers/layers.h"

uint32_t ct_hash3_host(uint32_t a, uint32_t b, uint32_t c) {
    uint32_t h = (a * 0x9E3779B1u) ^ ((b + 0x7F4A7C15u) * 0x85EBCA77u) ^ ((c + 0x165667B1u) * 0xC2B2AE3Du);
    h ^= h >> 16;
    h *= 0x7FEB352Du;
    h ^= h >> 15;
    h *= 0x846CA68Bu;
    h ^= h >> 16;
    return h;
}

int ct_dropout_keep_host(uint32_t seed, uint32_t step, uint32_t i, float rate) {
    float u = (float)(ct_hash3_host(seed, step, i) >> 8) * (1.0f / 16777216.0f);
    return u >= rate;
}

static ct_status run(ct_layer_kernels *k, cl_kernel kern, size_t count, float rate, uint32_t seed,
                     uint32_t step, cl_mem a, cl_mem b) {
    if (count > (size_t)INT_MAX)
        return ct_set_error(CT_ERR_SHAPE, "dropout over %zu elements exceeds 32-bit indexing", count);
    if (!(rate >= 0.0f && rate < 1.0f))
        return ct_set_error(CT_ERR_ARG, "dropout rate %g is outside [0, 1)", (double)rate);
    int n = (int)count;
    float scale = 1.0f / (1.0f - rate);
    cl_uint sd = seed, st = step;
    CT_TRY(ct_set_args(kern, 7, sizeof n, &n, sizeof rate, &rate, sizeof scale, &scale, sizeof sd,
                       &sd, sizeof st, &st, sizeof a, &a, sizeof b, &b));
    return ct_launch(k->rt, kern, 1, &count, NULL);
}

ct_status ct_dropout_forward(ct_layer_kernels *k, size_t count, float rate, uint32_t seed,
                             uint32_t step, cl_mem x, cl_mem y) {
    return run(k, k->dropout_fwd, count, rate, seed, step, x, y);
}

ct_status ct_dropout_backward(ct_layer_kernels *k, size_t count, float rate, uint32_t seed,
                              uint32_t step, cl_mem dy, cl_mem dx) {
    return run(k, k->dropout_bwd, count, rate, seed, step, dy, dx);
}
