/* Activation layers `relu`, `sigmoid`, `tanh`, `leakyrelu[<alpha>]` (Keras's Activation and
 * LeakyReLU layers; alpha defaults to 0.3), `softmax` (needs a flat input), and the
 * activation kernels of cl/act.cl that conv and dense use for their own activations. */
#include <limits.h>

#include "layers/graph.h"
#include "layers/layer_check.h"
#include "layers/layer_ref.h"
#include "layers/layer.h"

ct_status ct_act_forward(ct_layer_kernels *k, ct_act act, float alpha, int n, int features,
                         cl_mem x, cl_mem y) {
    size_t total = (size_t)n * (size_t)features;
    if (total > (size_t)INT_MAX)
        return ct_set_error(CT_ERR_SHAPE, "activation over %zu elements exceeds 32-bit indexing",
                            total);
    if (act == CT_ACT_NONE) {
        if (x != y && total)
            CL_CHECK(clEnqueueCopyBuffer(k->rt->q, x, y, 0, 0, total * sizeof(float), 0, NULL, NULL));
        return CT_OK;
    }
    if (act == CT_ACT_SOFTMAX) {
        size_t rows = (size_t)n;
        CT_TRY(ct_set_args(k->softmax_fwd, 4, sizeof n, &n, sizeof features, &features, sizeof x,
                           &x, sizeof y, &y));
        return ct_launch(k->rt, k->softmax_fwd, 1, &rows, NULL);
    }
    int cnt = (int)total, a = (int)act;
    CT_TRY(ct_set_args(k->act_fwd, 5, sizeof cnt, &cnt, sizeof a, &a, sizeof alpha, &alpha,
                       sizeof x, &x, sizeof y, &y));
    return ct_launch(k->rt, k->act_fwd, 1, &total, NULL);
}

ct_status ct_act_backward(ct_layer_kernels *k, ct_act act, float alpha, int n, int features,
                          cl_mem y, cl_mem dy, cl_mem dx) {
    size_t total = (size_t)n * (size_t)features;
    if (total > (size_t)INT_MAX)
        return ct_set_error(CT_ERR_SHAPE, "activation over %zu elements exceeds 32-bit indexing",
                            total);
    if (act == CT_ACT_NONE) {
        if (dx != dy && total)
            CL_CHECK(clEnqueueCopyBuffer(k->rt->q, dy, dx, 0, 0, total * sizeof(float), 0, NULL,
                                         NULL));
        return CT_OK;
    }
    if (act == CT_ACT_SOFTMAX) {
        size_t rows = (size_t)n;
        CT_TRY(ct_set_args(k->softmax_bwd, 5, sizeof n, &n, sizeof features, &features, sizeof y,
                           &y, sizeof dy, &dy, sizeof dx, &dx));
        return ct_launch(k->rt, k->softmax_bwd, 1, &rows, NULL);
    }
    int cnt = (int)total, a = (int)act;
    CT_TRY(ct_set_args(k->act_bwd, 6, sizeof cnt, &cnt, sizeof a, &a, sizeof alpha, &alpha,
                       sizeof y, &y, sizeof dy, &dy, sizeof dx, &dx));
    return ct_launch(k->rt, k->act_bwd, 1, &total, NULL);
}

/* ---- ONNX export ---- */

ct_status ct_act_export(ct_graph *g, ct_act a, float alpha) {
    switch (a) {
    case CT_ACT_TANH: return ct_graph_apply(g, "Tanh", 0, NULL, 0, NULL);
    case CT_ACT_LEAKYRELU: {
        ct_graph_attr al = ct_gattr_float("alpha", alpha);
        return ct_graph_apply(g, "LeakyRelu", 0, NULL, 1, &al);
    }
    case CT_ACT_NONE: return CT_OK;
    case CT_ACT_RELU: return ct_graph_apply(g, "Relu", 0, NULL, 0, NULL);
    case CT_ACT_SIGMOID: return ct_graph_apply(g, "Sigmoid", 0, NULL, 0, NULL);
    case CT_ACT_SOFTMAX: {
        ct_graph_attr ax = ct_gattr_int("axis", 1); /* [N, features]: one row per sample */
        return ct_graph_apply(g, "Softmax", 0, NULL, 1, &ax);
    }
    }
    return ct_set_error(CT_ERR_ARG, "activation '%s' has no ONNX export", ct_act_name(a));
}

static ct_status export_onnx(const ct_layer *l, const float *const *p, ct_graph *g) {
    (void)p;
    return ct_act_export(g, l->s.act, l->s.alpha);
}

/* ---- the layer class ---- */

/* leakyrelu with a bad slope and names with options are claimed too, so that parse names the
 * problem. */
static int claims(const ct_spec_token *t) {
    ct_act a = CT_ACT_NONE;
    float alpha;
    if (ct_spec_head_is(t, "leakyrelu")) return 1;
    return ct_spec_act(t->f[0], t->fl[0], &a, &alpha, 1) && a != CT_ACT_NONE;
}

static ct_status parse(const ct_spec_token *t, ct_layer_spec *L) {
    if (ct_spec_act(t->f[0], t->fl[0], &L->act, &L->alpha, 1) <= 0)
        return ct_spec_bad_alpha(t, t->f[0], t->fl[0]);
    if (t->nf > 1)
        return ct_set_error(CT_ERR_ARG, "'%.*s': an activation layer takes no ':' options; write "
                            "the slope into the name, e.g. leakyrelu0.1", t->len, t->t);
    return CT_OK;
}

static int format(const ct_layer_spec *L, char *out, size_t n) {
    return ct_act_format(L->act, L->alpha, out, n);
}

static ct_status infer(ct_layer *l) {
    char ib[64];
    if (l->s.act == CT_ACT_SOFTMAX && !l->flat_in)
        return ct_set_error(CT_ERR_SHAPE, "softmax needs a flat input but gets %s; add 'flatten' "
                            "before it", ct_layer_shape_str(l, 1, ib, sizeof ib));
    l->flat_out = l->flat_in;
    l->oc = l->ic;
    l->oh = l->ih;
    l->ow = l->iw;
    return CT_OK;
}

static ct_status forward(ct_layer *l, const ct_layer_run *r) {
    return ct_act_forward(r->K, l->s.act, l->s.alpha, r->n, (int)l->in_feat, l->x, l->y);
}

static ct_status backward(ct_layer *l, const ct_layer_run *r, ct_layer_grad *g) {
    if (l->need_dx && !l->act_bwd_by_next)
        return ct_act_backward(r->K, l->s.act, l->s.alpha, r->n, (int)l->in_feat, l->y, g->dy,
                               g->dy);
    return CT_OK;
}

static const ct_kernel_ref kernels[] = {
    {"act", "ct_act_fwd", offsetof(ct_layer_kernels, act_fwd)},
    {"act", "ct_act_bwd", offsetof(ct_layer_kernels, act_bwd)},
    {"act", "ct_softmax_fwd", offsetof(ct_layer_kernels, softmax_fwd)},
    {"act", "ct_softmax_bwd", offsetof(ct_layer_kernels, softmax_bwd)},
    {NULL, NULL, 0},
};

static const ct_selftest checks[] = {
    {"act.forward", ct_check_act_forward},
    {"act.backward", ct_check_act_backward},
    {NULL, NULL},
};

const ct_layer_class ct_layer_activation = {
    .name = "activation",
    .keras = "Activation",
    .grammar = "relu, sigmoid, tanh, leakyrelu[<alpha>], softmax",
    .words = "relu,sigmoid,tanh,leakyrelu,softmax",
    .claims = claims,
    .parse = parse,
    .format = format,
    .infer = infer,
    .forward = forward,
    .backward = backward,
    .kernels = kernels,
    .ref_forward = ct_ref_layer_activation,
    .checks = checks,
    .export_onnx = export_onnx,
};
