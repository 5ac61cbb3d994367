/* Dense: dense<U>[:relu|sigmoid|softmax|linear], weights [out][in] (PyTorch layout).
 * GEMMs through ct_gemm plus the bias/activation kernels of cl/act.cl. Fusion: every
 * activation runs in its own kernels (CT_FUSE_OWN_ACT: relu/sigmoid in the bias kernel,
 * softmax as a second launch). A trailing dense is the logit layer (logit_units). */
#include <limits.h>
#include <string.h>

#include "layers/layer_check.h"
#include "layers/layer_ref.h"
#include "layers/layer.h"

ct_status ct_dense_forward(ct_layer_kernels *k, int n, int in, int out, ct_act act, cl_mem x,
                           cl_mem w, cl_mem b, cl_mem y) {
    if ((size_t)n * (size_t)out > (size_t)INT_MAX || (size_t)n * (size_t)in > (size_t)INT_MAX)
        return ct_set_error(CT_ERR_SHAPE, "dense %d -> %d at batch %d exceeds 32-bit indexing", in,
                            out, n);
    /* y[n][out] = x[n][in] * W[out][in]^T */
    CT_TRY(ct_gemm(k->rt, 0, 1, n, out, in, 1.0f, x, 0, in, w, 0, in, 0.0f, y, 0, out));
    int rows = n, cols = out, a = act == CT_ACT_SOFTMAX ? 0 : (int)act;
    size_t total = (size_t)n * out;
    CT_TRY(ct_set_args(k->bias_act, 5, sizeof rows, &rows, sizeof cols, &cols, sizeof a, &a,
                       sizeof b, &b, sizeof y, &y));
    CT_TRY(ct_launch(k->rt, k->bias_act, 1, &total, NULL));
    if (act == CT_ACT_SOFTMAX) CT_TRY(ct_act_forward(k, CT_ACT_SOFTMAX, n, out, y, y));
    return CT_OK;
}

ct_status ct_dense_backward(ct_layer_kernels *k, int n, int in, int out, cl_mem x, cl_mem w,
                            cl_mem dy, cl_mem dx, cl_mem dw, cl_mem db) {
    /* dW[out][in] = dy[n][out]^T * x[n][in] */
    CT_TRY(ct_gemm(k->rt, 1, 0, out, in, n, 1.0f, dy, 0, out, x, 0, in, 0.0f, dw, 0, in));
    int rows = n, cols = out;
    size_t gc = (size_t)out;
    CT_TRY(ct_set_args(k->bias_grad, 4, sizeof rows, &rows, sizeof cols, &cols, sizeof dy, &dy,
                       sizeof db, &db));
    CT_TRY(ct_launch(k->rt, k->bias_grad, 1, &gc, NULL));
    /* dx[n][in] = dy[n][out] * W[out][in] */
    if (dx) CT_TRY(ct_gemm(k->rt, 0, 0, n, in, out, 1.0f, dy, 0, out, w, 0, in, 0.0f, dx, 0, in));
    return CT_OK;
}

/* ---- the layer class ---- */

static int claims(const ct_spec_token *t) { return ct_spec_head_is(t, "dense"); }

static ct_status parse(const ct_spec_token *t, ct_layer_spec *L) {
    if (!ct_spec_int(t->f[0] + 5, t->fl[0] - 5, &L->units))
        return ct_set_error(CT_ERR_ARG, "'%.*s': dense needs a positive unit count, e.g. dense64",
                            t->len, t->t);
    if (t->nf > 2)
        return ct_set_error(CT_ERR_ARG, "'%.*s': dense takes at most one option, its activation",
                            t->len, t->t);
    if (t->nf == 2 && !ct_spec_act(t->f[1], t->fl[1], &L->act, 1))
        return ct_set_error(CT_ERR_ARG, "'%.*s': unknown dense activation '%.*s' (expected relu, "
                            "sigmoid, softmax or linear)", t->len, t->t, t->fl[1], t->f[1]);
    return CT_OK;
}

static int format(const ct_layer_spec *L, char *out, size_t n) {
    if (L->act == CT_ACT_NONE) return snprintf(out, n, "dense%d", L->units);
    return snprintf(out, n, "dense%d:%s", L->units, ct_act_name(L->act));
}

static ct_status infer(ct_layer *l) {
    char ib[64];
    if (!l->flat_in)
        return ct_set_error(CT_ERR_SHAPE, "dense needs a flat input but gets %s; add 'flatten' "
                            "before it", ct_layer_shape_str(l, 1, ib, sizeof ib));
    l->flat_out = 1;
    l->oc = l->s.units;
    l->oh = l->ow = 1;
    return CT_OK;
}

static int params(const ct_layer *l, ct_param_desc *p) {
    p[0] = (ct_param_desc){"weight", CT_INIT_GLOROT_UNIFORM, 2, {l->oc, (int)l->in_feat, 0, 0}, 0};
    p[1] = (ct_param_desc){"bias", CT_INIT_ZEROS, 1, {l->oc, 0, 0, 0}, 1};
    return 2;
}

/* No activation, or the one the loss applies itself: sigmoid on one unit, softmax. */
static int logit_units(const ct_layer_spec *s, int n_classes) {
    if (s->act == CT_ACT_NONE || (s->act == CT_ACT_SIGMOID && s->units == 1) ||
        (s->act == CT_ACT_SOFTMAX && s->units == n_classes && n_classes > 1))
        return s->units;
    return 0;
}

static ct_status forward(ct_layer *l, const ct_layer_run *r) {
    return ct_dense_forward(r->K, r->n, (int)l->in_feat, l->oc, l->s.act, l->x, l->param[0],
                            l->param[1], l->y);
}

static ct_status backward(ct_layer *l, const ct_layer_run *r, ct_layer_grad *g) {
    if (l->s.act != CT_ACT_NONE && !l->act_bwd_by_next)
        CT_TRY(ct_act_backward(r->K, l->s.act, r->n, (int)l->out_feat, l->y, g->dy, g->dy));
    CT_TRY(ct_dense_backward(r->K, r->n, (int)l->in_feat, l->oc, l->x, l->param[0], g->dy,
                             l->need_dx ? g->dx : NULL, l->grad[0], l->grad[1]));
    if (l->need_dx) g->dx_in_other = 1;
    return CT_OK;
}

static double flops(const ct_layer *l) { return 2.0 * (double)l->in_feat * (double)l->out_feat; }

/* The GEMMs of ct_dense_forward / ct_dense_backward at the full batch, as ct_gemm gets them. */
static int tune_items(const ct_layer *l, ct_tune_item *it) {
    int nb = l->max_batch, in = (int)l->in_feat, out = l->oc, k = 0;
    it[k++] = (ct_tune_item){.kind = CT_TUNE_GEMM, .ta = 0, .tb = 1, .M = nb, .N = out, .K = in};
    it[k++] = (ct_tune_item){.kind = CT_TUNE_GEMM, .ta = 1, .tb = 0, .M = out, .N = in, .K = nb};
    if (l->need_dx)
        it[k++] = (ct_tune_item){.kind = CT_TUNE_GEMM, .ta = 0, .tb = 0, .M = nb, .N = in, .K = out};
    return k;
}

static const ct_kernel_ref kernels[] = {
    {"act", "ct_bias_act", offsetof(ct_layer_kernels, bias_act)},
    {"act", "ct_bias_grad", offsetof(ct_layer_kernels, bias_grad)},
    {"act", "ct_act_bwd", offsetof(ct_layer_kernels, act_bwd)},
    {"act", "ct_softmax_fwd", offsetof(ct_layer_kernels, softmax_fwd)},
    {"act", "ct_softmax_bwd", offsetof(ct_layer_kernels, softmax_bwd)},
    {NULL, NULL, 0},
};

static const ct_selftest checks[] = {
    {"dense.forward", ct_check_dense_forward},
    {"dense.backward", ct_check_dense_backward},
    {NULL, NULL},
};

const ct_layer_class ct_layer_dense = {
    .name = "dense",
    .keras = "Dense",
    .grammar = "dense<U>[:relu|sigmoid|softmax|linear]",
    .words = "dense",
    .claims = claims,
    .parse = parse,
    .format = format,
    .infer = infer,
    .params = params,
    .logit_units = logit_units,
    .fuse = CT_FUSE_OWN_ACT,
    .forward = forward,
    .backward = backward,
    .flops = flops,
    .tune_items = tune_items,
    .kernels = kernels,
    .ref_forward = ct_ref_layer_dense,
    .checks = checks,
};
