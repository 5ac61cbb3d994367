/* Dropout: dropout<R>, inverted (kept values scaled by 1 / (1 - R)), training only, with a
 * counter-based mask (see cl/dropout.cl) recomputed in the backward pass. */
#include <limits.h>
#include <string.h>

#include "layers/layer_check.h"
#include "layers/layer_ref.h"
#include "layers/layer.h"

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
                     uint32_t step, uint32_t base, cl_mem a, cl_mem b) {
    if (count > (size_t)INT_MAX)
        return ct_set_error(CT_ERR_SHAPE, "dropout over %zu elements exceeds 32-bit indexing", count);
    if (!(rate >= 0.0f && rate < 1.0f))
        return ct_set_error(CT_ERR_ARG, "dropout rate %g is outside [0, 1)", (double)rate);
    int n = (int)count;
    float scale = 1.0f / (1.0f - rate);
    cl_uint sd = seed, st = step, bs = base;
    CT_TRY(ct_set_args(kern, 8, sizeof n, &n, sizeof rate, &rate, sizeof scale, &scale, sizeof sd,
                       &sd, sizeof st, &st, sizeof bs, &bs, sizeof a, &a, sizeof b, &b));
    return ct_launch(k->rt, kern, 1, &count, NULL);
}

ct_status ct_dropout_forward(ct_layer_kernels *k, size_t count, float rate, uint32_t seed,
                             uint32_t step, cl_mem x, cl_mem y) {
    return run(k, k->dropout_fwd, count, rate, seed, step, 0, x, y);
}

ct_status ct_dropout_backward(ct_layer_kernels *k, size_t count, float rate, uint32_t seed,
                              uint32_t step, cl_mem dy, cl_mem dx) {
    return run(k, k->dropout_bwd, count, rate, seed, step, 0, dy, dx);
}

/* ---- the layer class ---- */

static int claims(const ct_spec_token *t) { return ct_spec_head_is(t, "dropout"); }

static ct_status parse(const ct_spec_token *t, ct_layer_spec *L) {
    if (t->nf > 1)
        return ct_set_error(CT_ERR_ARG, "'%.*s': dropout takes no options, write e.g. dropout0.2",
                            t->len, t->t);
    float r;
    /* the rate is stored as a float: 0.99999999999 rounds to 1.0f, which the kernels refuse */
    if (!ct_spec_float(t->f[0] + 7, t->fl[0] - 7, &r) || !(r < 1.0f))
        return ct_set_error(CT_ERR_ARG, "'%.*s': dropout needs a rate, a number in [0, 1), e.g. "
                            "dropout0.2", t->len, t->t);
    L->rate = r;
    return CT_OK;
}

/* The shortest %g that reads back as the same float (dropout0.2 stays dropout0.2, and
 * 0.9999999 does not print as "1", which would not parse again). */
static int format(const ct_layer_spec *L, char *out, size_t n) {
    char num[32];
    ct_spec_float_str(L->rate, num, sizeof num);
    return snprintf(out, n, "dropout%s", num);
}

static ct_status infer(ct_layer *l) {
    l->flat_out = l->flat_in;
    l->oc = l->ic;
    l->oh = l->ih;
    l->ow = l->iw;
    return CT_OK;
}

static ct_status forward(ct_layer *l, const ct_layer_run *r) {
    if (r->train && l->s.rate > 0.0f)
        return run(r->K, r->K->dropout_fwd, (size_t)r->n * l->in_feat, l->s.rate,
                   r->seed ^ l->salt, r->step, (uint32_t)((size_t)r->sample0 * l->in_feat), l->x,
                   l->y);
    return ct_act_forward(r->K, CT_ACT_NONE, 0.0f, r->n, (int)l->in_feat, l->x, l->y); /* copy */
}

static ct_status backward(ct_layer *l, const ct_layer_run *r, ct_layer_grad *g) {
    if (l->need_dx && r->train && l->s.rate > 0.0f)
        return run(r->K, r->K->dropout_bwd, (size_t)r->n * l->in_feat, l->s.rate,
                   r->seed ^ l->salt, r->step, (uint32_t)((size_t)r->sample0 * l->in_feat), g->dy,
                   g->dy);
    return CT_OK;
}

/* Inverted dropout is the identity at inference: no node. */
static ct_status export_onnx(const ct_layer *l, const float *const *p, ct_graph *g) {
    (void)l, (void)p, (void)g;
    return CT_OK;
}

static const ct_kernel_ref kernels[] = {
    {"dropout", "ct_dropout_fwd", offsetof(ct_layer_kernels, dropout_fwd)},
    {"dropout", "ct_dropout_bwd", offsetof(ct_layer_kernels, dropout_bwd)},
    {NULL, NULL, 0},
};

static const ct_selftest checks[] = {{"dropout", ct_check_dropout}, {NULL, NULL}};

const ct_layer_class ct_layer_dropout = {
    .name = "dropout",
    .keras = "Dropout",
    .grammar = "dropout<R>",
    .words = "dropout",
    .claims = claims,
    .parse = parse,
    .format = format,
    .infer = infer,
    .forward = forward,
    .backward = backward,
    .kernels = kernels,
    .ref_forward = ct_ref_layer_copy,
    .checks = checks,
    .export_onnx = export_onnx,
};
