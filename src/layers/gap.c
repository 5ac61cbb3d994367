/* GlobalAveragePooling2D: `gap`, the mean of each channel over the image: C x H x W -> C
 * features (flat, so a dense can follow without flatten). One H x W average-pool window
 * (the avgpool kernels, layers/avgpool.c), checked with them. */
#include <string.h>

#include "layers/graph.h"
#include "layers/layer_ref.h"
#include "layers/layer.h"

static int claims(const ct_spec_token *t) { return t->fl[0] == 3 && !strncmp(t->f[0], "gap", 3); }

static ct_status parse(const ct_spec_token *t, ct_layer_spec *L) {
    (void)L;
    if (t->nf > 1)
        return ct_set_error(CT_ERR_ARG, "'%.*s': gap takes no options (it averages each channel "
                            "over the whole image)", t->len, t->t);
    return CT_OK;
}

static int format(const ct_layer_spec *L, char *out, size_t n) {
    (void)L;
    return snprintf(out, n, "gap");
}

static ct_status infer(ct_layer *l) {
    if (l->flat_in)
        return ct_set_error(CT_ERR_SHAPE, "global average pooling needs an image input (CxHxW) but "
                            "gets a flat vector of %zu features; put 'gap' after the last conv or "
                            "pool, in place of 'flatten'", l->in_feat);
    l->flat_out = 1;
    l->oc = l->ic;
    l->oh = l->ow = 1;
    return CT_OK;
}

static ct_status forward(ct_layer *l, const ct_layer_run *r) {
    return ct_avgpool_forward(r->K, r->n, l->ic, l->ih, l->iw, l->ih, l->iw, 1, 1, l->x, l->y);
}

static ct_status backward(ct_layer *l, const ct_layer_run *r, ct_layer_grad *g) {
    if (!l->need_dx) return CT_OK;
    CT_TRY(ct_avgpool_backward(r->K, r->n, l->ic, l->ih, l->iw, l->ih, l->iw, 1, 1, g->dy, g->dx));
    g->dx_in_other = 1;
    return CT_OK;
}

static double flops(const ct_layer *l) { return (double)l->ic * l->ih * l->iw; }

/* GlobalAveragePool gives [N, C, 1, 1]; Flatten makes it the flat [N, C] that follows. */
static ct_status export_onnx(const ct_layer *l, const float *const *p, ct_graph *g) {
    (void)l, (void)p;
    CT_TRY(ct_graph_apply(g, "GlobalAveragePool", 0, NULL, 0, NULL));
    ct_graph_attr ax = ct_gattr_int("axis", 1);
    return ct_graph_apply(g, "Flatten", 0, NULL, 1, &ax);
}

/* Its kernels are avgpool's; avgpool.forward/backward check them, also as one window. */
static const ct_selftest checks[] = {{NULL, NULL}};

const ct_layer_class ct_layer_gap = {
    .name = "gap",
    .keras = "GlobalAveragePooling2D",
    .grammar = "gap",
    .words = "gap",
    .claims = claims,
    .parse = parse,
    .format = format,
    .infer = infer,
    .forward = forward,
    .backward = backward,
    .flops = flops,
    .export_onnx = export_onnx,
    .kernels = ct_avgpool_kernels,
    .ref_forward = ct_ref_layer_gap,
    .checks = checks,
};
