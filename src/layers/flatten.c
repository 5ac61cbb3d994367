/* Flatten: `flatten`, channel-major (C, H, W) order (Keras flattens (H, W, C)). Its output
 * is a view of its input (CT_LAYER_ALIAS): no kernel, no buffer. */
#include <string.h>

#include "layers/graph.h"
#include "layers/layer_ref.h"
#include "layers/layer.h"

static int claims(const ct_spec_token *t) { return t->fl[0] == 7 && !strncmp(t->f[0], "flatten", 7); }

static ct_status parse(const ct_spec_token *t, ct_layer_spec *L) {
    (void)L;
    if (t->nf > 1)
        return ct_set_error(CT_ERR_ARG, "'%.*s': flatten takes no options", t->len, t->t);
    return CT_OK;
}

static int format(const ct_layer_spec *L, char *out, size_t n) {
    (void)L;
    return snprintf(out, n, "flatten");
}

static ct_status infer(ct_layer *l) {
    l->flat_out = 1;
    l->oc = (int)l->in_feat;
    l->oh = l->ow = 1;
    return CT_OK;
}

static ct_status forward(ct_layer *l, const ct_layer_run *r) {
    (void)l, (void)r;
    return CT_OK;
}

static ct_status backward(ct_layer *l, const ct_layer_run *r, ct_layer_grad *g) {
    (void)l, (void)r, (void)g;
    return CT_OK;
}

/* ONNX Flatten(axis 1) of NCHW keeps (C, H, W) order, as cltrain's flatten. */
static ct_status export_onnx(const ct_layer *l, const float *const *p, ct_graph *g) {
    (void)l, (void)p;
    ct_graph_attr ax = ct_gattr_int("axis", 1);
    return ct_graph_apply(g, "Flatten", 0, NULL, 1, &ax);
}

static const ct_kernel_ref kernels[] = {{NULL, NULL, 0}};
static const ct_selftest checks[] = {{NULL, NULL}};

const ct_layer_class ct_layer_flatten = {
    .name = "flatten",
    .keras = "Flatten",
    .grammar = "flatten",
    .words = "flatten",
    .claims = claims,
    .parse = parse,
    .format = format,
    .infer = infer,
    .flags = CT_LAYER_ALIAS,
    .forward = forward,
    .backward = backward,
    .kernels = kernels,
    .ref_forward = ct_ref_layer_copy,
    .checks = checks,
    .export_onnx = export_onnx,
};
