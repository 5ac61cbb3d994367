/* Helpers shared by the layer class files: spec fields, activation names, shape text. */
#include <ctype.h>
#include <string.h>

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

int ct_spec_act(const char *s, int len, ct_act *out, int allow_softmax) {
    if (len == 4 && !strncmp(s, "relu", 4)) *out = CT_ACT_RELU;
    else if (len == 7 && !strncmp(s, "sigmoid", 7)) *out = CT_ACT_SIGMOID;
    else if (len == 6 && !strncmp(s, "linear", 6)) *out = CT_ACT_NONE;
    else if (allow_softmax && len == 7 && !strncmp(s, "softmax", 7)) *out = CT_ACT_SOFTMAX;
    else return 0;
    return 1;
}

const char *ct_act_name(ct_act a) {
    switch (a) {
    case CT_ACT_RELU: return "relu";
    case CT_ACT_SIGMOID: return "sigmoid";
    case CT_ACT_SOFTMAX: return "softmax";
    default: return "linear";
    }
}

int ct_spec_head_is(const ct_spec_token *t, const char *prefix) {
    int pl = (int)strlen(prefix);
    return t->fl[0] >= pl && !strncmp(t->f[0], prefix, (size_t)pl);
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
}
