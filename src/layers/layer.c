/* Helpers shared by the layer class files: spec fields, activation names, shape text. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layers/graph.h"
#include "layers/layer.h"

int ct_spec_int(const char *s, int len, int *out) {
    if (len <= 0 || len > 9) return 0;
    int v = 0;
    for (int i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i])) return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return v > 0;
}

int ct_spec_float(const char *s, int len, float *out) {
    char num[32];
    if (len <= 0 || len >= (int)sizeof num || !isdigit((unsigned char)s[0])) return 0;
    for (int i = 0; i < len; i++)
        if (!isdigit((unsigned char)s[i]) && !strchr(".eE+-", s[i])) return 0;
    memcpy(num, s, (size_t)len);
    num[len] = 0;
    char *end;
    errno = 0;
    double v = strtod(num, &end);
    if (*end || errno || !(v >= 0) || !isfinite((float)v)) return 0;
    *out = (float)v;
    return 1;
}

int ct_spec_float_str(float v, char *out, size_t n) {
    char num[32];
    for (int p = 6; p <= 9; p++) {
        snprintf(num, sizeof num, "%.*g", p, (double)v);
        if ((float)strtod(num, NULL) == v) break;
    }
    return snprintf(out, n, "%s", num);
}

int ct_spec_act(const char *s, int len, ct_act *out, float *alpha, int allow_softmax) {
    if (len == 4 && !strncmp(s, "relu", 4)) *out = CT_ACT_RELU;
    else if (len == 7 && !strncmp(s, "sigmoid", 7)) *out = CT_ACT_SIGMOID;
    else if (len == 4 && !strncmp(s, "tanh", 4)) *out = CT_ACT_TANH;
    else if (len == 6 && !strncmp(s, "linear", 6)) *out = CT_ACT_NONE;
    else if (allow_softmax && len == 7 && !strncmp(s, "softmax", 7)) *out = CT_ACT_SOFTMAX;
    else if (len >= 9 && !strncmp(s, "leakyrelu", 9)) {
        float a = CT_LEAKYRELU_ALPHA;
        if (len > 9 && !ct_spec_float(s + 9, len - 9, &a)) return -1;
        *out = CT_ACT_LEAKYRELU;
        *alpha = a;
    } else return 0;
    return 1;
}

ct_status ct_spec_bad_alpha(const ct_spec_token *t, const char *f, int fl) {
    return ct_set_error(CT_ERR_ARG, "'%.*s': bad leakyrelu slope in '%.*s' (expected leakyrelu "
                        "or leakyrelu<alpha> with alpha a number >= 0, e.g. leakyrelu0.1; "
                        "leakyrelu alone is Keras's default 0.3)", t->len, t->t, fl, f);
}

const char *ct_act_name(ct_act a) {
    switch (a) {
    case CT_ACT_RELU: return "relu";
    case CT_ACT_SIGMOID: return "sigmoid";
    case CT_ACT_SOFTMAX: return "softmax";
    case CT_ACT_TANH: return "tanh";
    case CT_ACT_LEAKYRELU: return "leakyrelu";
    default: return "linear";
    }
}

int ct_act_format(ct_act a, float alpha, char *out, size_t n) {
    if (a != CT_ACT_LEAKYRELU) return snprintf(out, n, "%s", ct_act_name(a));
    char num[32];
    ct_spec_float_str(alpha, num, sizeof num);
    return snprintf(out, n, "leakyrelu%s", num);
}

int ct_spec_head_is(const ct_spec_token *t, const char *prefix) {
    int pl = (int)strlen(prefix);
    return t->fl[0] >= pl && !strncmp(t->f[0], prefix, (size_t)pl);
}

ct_status ct_spec_pool(const ct_spec_token *t, const char *name, ct_layer_spec *L) {
    int hl = (int)strlen(name);
    if (!ct_spec_int(t->f[0] + hl, t->fl[0] - hl, &L->pool))
        return ct_set_error(CT_ERR_ARG, "'%.*s': %s needs a positive size, e.g. %s2", t->len,
                            t->t, name, name);
    L->stride = L->pool;
    if (t->nf > 2)
        return ct_set_error(CT_ERR_ARG, "'%.*s': %s takes at most one option, the stride s<S>",
                            t->len, t->t, name);
    if (t->nf == 2) {
        const char *p = t->f[1];
        int pl = t->fl[1];
        if (p[0] != 's' || !ct_spec_int(p + 1, pl - 1, &L->stride))
            return ct_set_error(CT_ERR_ARG, "'%.*s': bad %s option '%.*s' (expected a stride "
                                "s<S> with S >= 1, like s2)", t->len, t->t, name, pl, p);
    }
    return CT_OK;
}

int ct_spec_pool_format(const char *name, const ct_layer_spec *L, char *out, size_t n) {
    if (L->stride != L->pool) return snprintf(out, n, "%s%d:s%d", name, L->pool, L->stride);
    return snprintf(out, n, "%s%d", name, L->pool);
}

ct_status ct_pool_infer(ct_layer *l, const char *kind) {
    char ib[64];
    int avg = !strcmp(kind, "average");
    if (l->flat_in)
        return ct_set_error(CT_ERR_SHAPE, "%s pooling needs an image input but gets a flat "
                            "vector of %zu features", kind, l->in_feat);
    if (l->s.pool > l->ih || l->s.pool > l->iw)
        return ct_set_error(CT_ERR_SHAPE, "a %dx%d%s pool does not fit its input %s; use a "
                            "pool of at most %d, a larger input size or fewer conv/pool stages",
                            l->s.pool, l->s.pool, avg ? " average" : "",
                            ct_layer_shape_str(l, 1, ib, sizeof ib), l->ih < l->iw ? l->ih : l->iw);
    l->oc = l->ic;
    l->oh = ct_pool_out(l->ih, l->s.pool, l->s.stride);
    l->ow = ct_pool_out(l->iw, l->s.pool, l->s.stride);
    return CT_OK;
}

ct_status ct_pool_export(const ct_layer *l, ct_graph *g, const char *op) {
    ct_graph_attr at[2] = {ct_gattr_ints2("kernel_shape", l->s.pool, l->s.pool),
                           ct_gattr_ints2("strides", l->s.stride, l->s.stride)};
    return ct_graph_apply(g, op, 0, NULL, 2, at);
}

const char *ct_layer_shape_str(const ct_layer *l, int in, char *buf, size_t n) {
    if (in ? l->flat_in : l->flat_out) snprintf(buf, n, "%zu features", in ? l->in_feat : l->out_feat);
    else if (in) snprintf(buf, n, "%dx%dx%d (CxHxW)", l->ic, l->ih, l->iw);
    else snprintf(buf, n, "%dx%dx%d (CxHxW)", l->oc, l->oh, l->ow);
    return buf;
}

void ct_layer_fuse(ct_layer *l, ct_layer *next) {
    unsigned f = l->s.cls->fuse;
    l->act_in_kernel = l->s.act != CT_ACT_NONE &&
                       ((f & CT_FUSE_OWN_ACT) || (l->s.act == CT_ACT_RELU && (f & CT_FUSE_OWN_RELU)));
    if (l->s.act == CT_ACT_RELU && next && (next->s.cls->fuse & CT_FUSE_PREV_RELU_BWD)) {
        l->act_bwd_by_next = 1;
        next->prev_relu_bwd = 1;
    }
    const char *e = getenv("CLTRAIN_FUSE_POOL");
    if ((f & CT_FUSE_TAKES_POOL2) && next && (next->s.cls->fuse & CT_FUSE_POOL2_INTO_PREV) &&
        next->s.pool == 2 && next->s.stride == 2 &&
        (l->s.act == CT_ACT_NONE || (l->s.act == CT_ACT_RELU && l->act_in_kernel)) &&
        !(e && !strcmp(e, "0"))) {
        l->pool_into = next;
        next->fwd_by_prev = 1;
    }
}
