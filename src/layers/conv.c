/* Conv2D: conv<F>:<K>[:s<S>][:same|valid][:relu|sigmoid|tanh|leakyrelu[<alpha>]|linear].
 * The convolution itself is the ops module's (ops/ops.h: a plan per layer, tuned when the
 * model is built). 'same' pads as TensorFlow: pad_total = max((ceil(in/s)-1)*s + k - in, 0),
 * top/left = pad_total / 2, the extra row/column at the bottom/right.
 * Fusion: a relu at its output runs inside the conv kernel (CT_FUSE_OWN_RELU); sigmoid,
 * tanh and leakyrelu run as an in-place activation launch after it. A pool2:s2 right after
 * it (linear or relu) runs in its forward (CT_FUSE_TAKES_POOL2; ops/ops.h,
 * ct_conv_forward_pool). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "layers/graph.h"
#include "layers/layer_ref.h"
#include "layers/layer.h"

typedef struct conv_state {
    ct_conv_desc desc;
    ct_conv_plan *plan;
} conv_state;

static int claims(const ct_spec_token *t) { return ct_spec_head_is(t, "conv"); }

#define BAD(...) return ct_set_error(CT_ERR_ARG, __VA_ARGS__)

static ct_status parse(const ct_spec_token *t, ct_layer_spec *L) {
    int len = t->len;
    const char *s = t->t;
    L->stride = 1; /* Keras's defaults: stride 1, valid, linear */
    if (!ct_spec_int(t->f[0] + 4, t->fl[0] - 4, &L->units))
        BAD("'%.*s': conv needs a positive filter count, e.g. conv32:3", len, s);
    if (t->nf < 2 || !ct_spec_int(t->f[1], t->fl[1], &L->k))
        BAD("'%.*s': conv needs a positive kernel size after the filters, e.g. conv32:3", len, s);
    int seen_s = 0, seen_pad = 0, seen_act = 0;
    for (int i = 2; i < t->nf; i++) {
        const char *p = t->f[i];
        int pl = t->fl[i];
        ct_act a;
        float alpha = 0;
        int ar;
        if (p[0] == 's' && pl > 1 && isdigit((unsigned char)p[1])) {
            if (seen_s++ || !ct_spec_int(p + 1, pl - 1, &L->stride))
                BAD("'%.*s': bad or repeated stride '%.*s' (use s1, s2, ...)", len, s, pl, p);
        } else if (pl == 4 && !strncmp(p, "same", 4)) {
            if (seen_pad++) BAD("'%.*s': padding given twice", len, s);
            L->same = 1;
        } else if (pl == 5 && !strncmp(p, "valid", 5)) {
            if (seen_pad++) BAD("'%.*s': padding given twice", len, s);
            L->same = 0;
        } else if ((ar = ct_spec_act(p, pl, &a, &alpha, 0)) != 0) {
            if (ar < 0) return ct_spec_bad_alpha(t, p, pl);
            if (seen_act++) BAD("'%.*s': activation given twice", len, s);
            L->act = a;
            L->alpha = alpha;
        } else {
            BAD("'%.*s': unknown conv option '%.*s' (expected s<S>, same, valid, relu, sigmoid, "
                "tanh, leakyrelu[<alpha>] or linear)", len, s, pl, p);
        }
    }
    return CT_OK;
}

static int format(const ct_layer_spec *L, char *out, size_t n) {
    char st[16] = "", act[32];
    if (L->stride != 1) snprintf(st, sizeof st, ":s%d", L->stride);
    ct_act_format(L->act, L->alpha, act, sizeof act);
    return snprintf(out, n, "conv%d:%d%s%s:%s", L->units, L->k, st, L->same ? ":same" : "", act);
}

static ct_status infer(ct_layer *l) {
    const ct_layer_spec *s = &l->s;
    char ib[64];
    if (l->flat_in)
        return ct_set_error(CT_ERR_SHAPE, "a convolution needs an image input but gets a flat "
                            "vector of %zu features (move it before 'flatten'/'dense')", l->in_feat);
    if (!s->same && (s->k > l->ih || s->k > l->iw))
        return ct_set_error(CT_ERR_SHAPE, "the %dx%d kernel is larger than its input %s with valid "
                            "padding; use a larger input size, a smaller kernel or ':same'", s->k,
                            s->k, ct_layer_shape_str(l, 1, ib, sizeof ib));
    l->oc = s->units;
    l->oh = s->same ? (l->ih + s->stride - 1) / s->stride : (l->ih - s->k) / s->stride + 1;
    l->ow = s->same ? (l->iw + s->stride - 1) / s->stride : (l->iw - s->k) / s->stride + 1;
    return CT_OK;
}

static int params(const ct_layer *l, ct_param_desc *p) {
    p[0] = (ct_param_desc){"weight", CT_INIT_GLOROT_UNIFORM, 4, {l->oc, l->ic, l->s.k, l->s.k}, 0};
    p[1] = (ct_param_desc){"bias", CT_INIT_ZEROS, 1, {l->oc, 0, 0, 0}, 1};
    return 2;
}

static ct_status create(ct_runtime *rt, ct_layer *l) {
    conv_state *st = calloc(1, sizeof *st);
    if (!st) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    l->state = st;
    CT_TRY(ct_conv_desc_init(&st->desc, l->max_batch, l->ic, l->ih, l->iw, l->oc, l->s.k,
                             l->s.stride, l->s.same, l->act_in_kernel ? CT_ACT_RELU : CT_ACT_NONE));
    st->desc.pool = l->pool_into ? 2 : 0;
    return ct_conv_plan_create(rt, &st->desc, &st->plan);
}

static void destroy(ct_layer *l) {
    conv_state *st = l->state;
    if (st && st->plan) ct_conv_plan_free(st->plan);
    free(st);
    l->state = NULL;
}

static ct_status forward(ct_layer *l, const ct_layer_run *r) {
    conv_state *st = l->state;
    if (l->pool_into) /* y is then scratch (or unused); the pool's output and index */
        return ct_conv_forward_pool(st->plan, r->n, l->x, l->param[0], l->param[1], l->y,
                                    l->pool_into->y, l->pool_into->pool_idx);
    CT_TRY(ct_conv_forward(st->plan, r->n, l->x, l->param[0], l->param[1], l->y));
    if (!l->act_in_kernel && l->s.act != CT_ACT_NONE)
        CT_TRY(ct_act_forward(r->K, l->s.act, l->s.alpha, r->n, (int)l->out_feat, l->y, l->y));
    return CT_OK;
}

static ct_status backward(ct_layer *l, const ct_layer_run *r, ct_layer_grad *g) {
    conv_state *st = l->state;
    if (l->s.act != CT_ACT_NONE && !l->act_bwd_by_next)
        CT_TRY(ct_act_backward(r->K, l->s.act, l->s.alpha, r->n, (int)l->out_feat, l->y, g->dy,
                               g->dy));
    CT_TRY(ct_conv_backward_weights(st->plan, r->n, l->x, g->dy, l->grad[0], l->grad[1]));
    if (l->need_dx) {
        CT_TRY(ct_conv_backward_data(st->plan, r->n, g->dy, l->param[0], g->dx));
        g->dx_in_other = 1;
    }
    return CT_OK;
}

static double flops(const ct_layer *l) {
    return 2.0 * l->oc * l->ic * l->s.k * l->s.k * l->oh * l->ow;
}

static int tune_items(const ct_layer *l, ct_tune_item *it) {
    const conv_state *st = l->state;
    it[0] = (ct_tune_item){.kind = CT_TUNE_CONV, .plan = st->plan, .need_bwd_data = l->need_dx};
    return 1;
}

/* Conv with explicit pads: 'same' splits the total as Keras/TF (extra at the bottom/right,
 * ct_conv_desc_init), then the fused activation. */
static ct_status export_onnx(const ct_layer *l, const float *const *p, ct_graph *g) {
    const ct_layer_spec *s = &l->s;
    int th = (l->oh - 1) * s->stride + s->k - l->ih, tw = (l->ow - 1) * s->stride + s->k - l->iw;
    if (!s->same || th < 0) th = 0;
    if (!s->same || tw < 0) tw = 0;
    char w[CT_GRAPH_NAME], b[CT_GRAPH_NAME];
    int64_t wd[4] = {l->oc, l->ic, s->k, s->k}, bd[1] = {l->oc};
    CT_TRY(ct_graph_add_f32(g, "weight", 4, wd, p[0], w));
    CT_TRY(ct_graph_add_f32(g, "bias", 1, bd, p[1], b));
    const char *ex[2] = {w, b};
    ct_graph_attr at[3] = {
        ct_gattr_ints2("kernel_shape", s->k, s->k),
        ct_gattr_ints2("strides", s->stride, s->stride),
        ct_gattr_ints4("pads", th / 2, tw / 2, th - th / 2, tw - tw / 2),
    };
    CT_TRY(ct_graph_apply(g, "Conv", 2, ex, 3, at));
    return ct_act_export(g, s->act, s->alpha);
}

static const ct_kernel_ref kernels[] = {
    {"act", "ct_act_fwd", offsetof(ct_layer_kernels, act_fwd)},
    {"act", "ct_act_bwd", offsetof(ct_layer_kernels, act_bwd)},
    {NULL, NULL, 0},
};

/* Its convolution kernels are the ops' and are checked with them (check/ops_check.c). */
static const ct_selftest checks[] = {{NULL, NULL}};

const ct_layer_class ct_layer_conv = {
    .name = "conv",
    .keras = "Conv2D",
    .grammar = "conv<F>:<K>[:s<S>][:same|valid][:relu|sigmoid|tanh|leakyrelu[<alpha>]|linear]",
    .words = "conv",
    .claims = claims,
    .parse = parse,
    .format = format,
    .infer = infer,
    .params = params,
    .fuse = CT_FUSE_OWN_RELU | CT_FUSE_TAKES_POOL2,
    .create = create,
    .destroy = destroy,
    .forward = forward,
    .backward = backward,
    .flops = flops,
    .tune_items = tune_items,
    .kernels = kernels,
    .ref_forward = ct_ref_layer_conv,
    .checks = checks,
    .export_onnx = export_onnx,
};
