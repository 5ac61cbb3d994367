/* AveragePooling2D: avgpool<P>[:s<S>], valid windows (out = (in - P) / S + 1, floor), stride
 * defaulting to the size, as Keras. Every window averages its P x P inputs. Kernels:
 * ct_avgpool_fwd/bwd in cl/pool.cl, shared with gap (gap.c: one window over the whole
 * image). The backward gathers per input element (no atomics) and needs only dy. */
#include <limits.h>
#include <string.h>

#include "layers/graph.h"
#include "layers/layer_check.h"
#include "layers/layer_ref.h"
#include "layers/layer.h"

/* Forward (x -> y, one work-item per output) or backward (dy -> dx, one per input). */
static ct_status avg_run(ct_layer_kernels *k, int bwd, int n, int c, int h, int w, int ph, int pw,
                         int sh, int sw, cl_mem in, cl_mem out) {
    int oh = ct_pool_out(h, ph, sh), ow = ct_pool_out(w, pw, sw), nc = n * c;
    if (oh <= 0 || ow <= 0 || sh < 1 || sw < 1)
        return ct_set_error(CT_ERR_SHAPE, "average pool %dx%d stride %dx%d does not fit a %dx%dx%d "
                            "input", ph, pw, sh, sw, c, h, w);
    if ((size_t)nc * h * w > (size_t)INT_MAX)
        return ct_set_error(CT_ERR_SHAPE, "average pool input: %zu elements exceed the kernels' "
                            "32-bit indexing; use a smaller --batch-size or input size",
                            (size_t)nc * h * w);
    cl_kernel kern = bwd ? k->avgpool_bwd : k->avgpool_fwd;
    size_t total = bwd ? (size_t)nc * h * w : (size_t)nc * oh * ow;
    CT_TRY(ct_set_args(kern, 11, sizeof nc, &nc, sizeof h, &h, sizeof w, &w, sizeof ph, &ph,
                       sizeof pw, &pw, sizeof sh, &sh, sizeof sw, &sw, sizeof oh, &oh, sizeof ow,
                       &ow, sizeof in, &in, sizeof out, &out));
    return ct_launch(k->rt, kern, 1, &total, NULL);
}

ct_status ct_avgpool_forward(ct_layer_kernels *k, int n, int c, int h, int w, int ph, int pw,
                             int sh, int sw, cl_mem x, cl_mem y) {
    return avg_run(k, 0, n, c, h, w, ph, pw, sh, sw, x, y);
}

ct_status ct_avgpool_backward(ct_layer_kernels *k, int n, int c, int h, int w, int ph, int pw,
                              int sh, int sw, cl_mem dy, cl_mem dx) {
    return avg_run(k, 1, n, c, h, w, ph, pw, sh, sw, dy, dx);
}

/* ---- the layer class ---- */

static int claims(const ct_spec_token *t) { return ct_spec_head_is(t, "avgpool"); }

static ct_status parse(const ct_spec_token *t, ct_layer_spec *L) {
    return ct_spec_pool(t, "avgpool", L);
}

static int format(const ct_layer_spec *L, char *out, size_t n) {
    return ct_spec_pool_format("avgpool", L, out, n);
}

static ct_status infer(ct_layer *l) { return ct_pool_infer(l, "average"); }

static ct_status forward(ct_layer *l, const ct_layer_run *r) {
    return ct_avgpool_forward(r->K, r->n, l->ic, l->ih, l->iw, l->s.pool, l->s.pool, l->s.stride,
                              l->s.stride, l->x, l->y);
}

static ct_status backward(ct_layer *l, const ct_layer_run *r, ct_layer_grad *g) {
    if (!l->need_dx) return CT_OK;
    CT_TRY(ct_avgpool_backward(r->K, r->n, l->ic, l->ih, l->iw, l->s.pool, l->s.pool, l->s.stride,
                               l->s.stride, g->dy, g->dx));
    g->dx_in_other = 1;
    return CT_OK;
}

/* Valid windows, floor, no padding: ONNX AveragePool's defaults (count_include_pad does not
 * matter without pads). */
static ct_status export_onnx(const ct_layer *l, const float *const *p, ct_graph *g) {
    (void)p;
    return ct_pool_export(l, g, "AveragePool");
}

static double flops(const ct_layer *l) {
    return (double)l->oc * l->oh * l->ow * l->s.pool * l->s.pool;
}

const ct_kernel_ref ct_avgpool_kernels[] = {
    {"pool", "ct_avgpool_fwd", offsetof(ct_layer_kernels, avgpool_fwd)},
    {"pool", "ct_avgpool_bwd", offsetof(ct_layer_kernels, avgpool_bwd)},
    {NULL, NULL, 0},
};

static const ct_selftest checks[] = {
    {"avgpool.forward", ct_check_avgpool_forward},
    {"avgpool.backward", ct_check_avgpool_backward},
    {NULL, NULL},
};

const ct_layer_class ct_layer_avgpool = {
    .name = "avgpool",
    .keras = "AveragePooling2D",
    .grammar = "avgpool<P>[:s<S>]",
    .words = "avgpool",
    .claims = claims,
    .parse = parse,
    .format = format,
    .infer = infer,
    .forward = forward,
    .backward = backward,
    .flops = flops,
    .export_onnx = export_onnx,
    .kernels = ct_avgpool_kernels,
    .ref_forward = ct_ref_layer_avgpool,
    .checks = checks,
};
