/* MaxPooling2D: pool<P>[:s<S>], valid windows, stride defaulting to the size.
 * Kernels: cl/pool.cl. Pool 2 / stride 2 (every preset) has vector kernels; other
 * non-overlapping pools write whole cells; overlapping pools gather per input element.
 * Fusion: its backward also applies the backward of a relu at the previous layer's output
 * (CT_FUSE_PREV_RELU_BWD: x > 0 on its input, in the same pass); pool 2 / stride 2 right
 * after a conv runs inside the conv's forward (CT_FUSE_POOL2_INTO_PREV: the conv writes
 * this layer's output and index, layers/layer.h). */
#include <limits.h>
#include <string.h>

#include "layers/graph.h"
#include "layers/layer_check.h"
#include "layers/layer_ref.h"
#include "layers/layer.h"
#include "runtime/tensor.h"

static ct_status check_count(const char *what, size_t count) {
    if (count > (size_t)INT_MAX)
        return ct_set_error(CT_ERR_SHAPE, "%s: %zu elements exceed the kernels' 32-bit indexing; "
                            "use a smaller --batch-size or input size", what, count);
    return CT_OK;
}

ct_status ct_pool_forward(ct_layer_kernels *k, int n, int c, int h, int w, int p, int s, cl_mem x,
                          cl_mem y, cl_mem idx) {
    int oh = ct_pool_out(h, p, s), ow = ct_pool_out(w, p, s);
    if (oh <= 0 || ow <= 0)
        return ct_set_error(CT_ERR_SHAPE, "pool%d:s%d does not fit a %dx%dx%d input", p, s, c, h, w);
    int nc = n * c;
    size_t total = (size_t)nc * oh * ow;
    CT_TRY(check_count("pool output", (size_t)nc * h * w));
    if (p == 2 && s == 2) {
        size_t rows = (size_t)nc * oh * ((ow + 7) / 8);
        int want = idx != NULL;
        cl_mem im = idx ? idx : y; /* not read without want_idx */
        CT_TRY(ct_set_args(k->pool2_fwd_rows, 9, sizeof nc, &nc, sizeof h, &h, sizeof w, &w,
                           sizeof oh, &oh, sizeof ow, &ow, sizeof x, &x, sizeof y, &y,
                           sizeof want, &want, sizeof im, &im));
        return ct_launch(k->rt, k->pool2_fwd_rows, 1, &rows, NULL);
    }
    if (idx)
        return ct_set_error(CT_ERR_INTERNAL, "pool%d:s%d has no index output (pool 2 stride 2 only)",
                            p, s);
    CT_TRY(ct_set_args(k->pool_fwd, 9, sizeof nc, &nc, sizeof h, &h, sizeof w, &w, sizeof p, &p,
                       sizeof s, &s, sizeof oh, &oh, sizeof ow, &ow, sizeof x, &x, sizeof y, &y));
    return ct_launch(k->rt, k->pool_fwd, 1, &total, NULL);
}

ct_status ct_pool_backward(ct_layer_kernels *k, int n, int c, int h, int w, int p, int s, int relu,
                           cl_mem x, cl_mem idx, cl_mem dy, cl_mem dx) {
    int oh = ct_pool_out(h, p, s), ow = ct_pool_out(w, p, s);
    if (oh <= 0 || ow <= 0)
        return ct_set_error(CT_ERR_SHAPE, "pool%d:s%d does not fit a %dx%dx%d input", p, s, c, h, w);
    int nc = n * c;
    size_t total = (size_t)nc * h * w;
    CT_TRY(check_count("pool input", total));
    if (p == 2 && s == 2) { /* from the forward's index (the input is not read) */
        if (!idx)
            return ct_set_error(CT_ERR_INTERNAL, "pool2 backward needs the forward's index");
        size_t rows = (size_t)nc * ((h + 1) / 2) * ((ow + 7) / 8);
        CT_TRY(ct_set_args(k->pool2_bwd_idx, 9, sizeof nc, &nc, sizeof h, &h, sizeof w, &w,
                           sizeof oh, &oh, sizeof ow, &ow, sizeof relu, &relu, sizeof idx, &idx,
                           sizeof dy, &dy, sizeof dx, &dx));
        return ct_launch(k->rt, k->pool2_bwd_idx, 1, &rows, NULL);
    }
    if (s >= p) { /* windows do not overlap: each cell written by one work-item */
        size_t cells = (size_t)nc * ((h + s - 1) / s) * ((w + s - 1) / s);
        CT_TRY(ct_set_args(k->pool_bwd_cells, 11, sizeof nc, &nc, sizeof h, &h, sizeof w, &w,
                           sizeof p, &p, sizeof s, &s, sizeof oh, &oh, sizeof ow, &ow, sizeof relu,
                           &relu, sizeof x, &x, sizeof dy, &dy, sizeof dx, &dx));
        return ct_launch(k->rt, k->pool_bwd_cells, 1, &cells, NULL);
    }
    CT_TRY(ct_set_args(k->pool_bwd, 11, sizeof nc, &nc, sizeof h, &h, sizeof w, &w, sizeof p, &p,
                       sizeof s, &s, sizeof oh, &oh, sizeof ow, &ow, sizeof relu, &relu, sizeof x,
                       &x, sizeof dy, &dy, sizeof dx, &dx));
    return ct_launch(k->rt, k->pool_bwd, 1, &total, NULL);
}

/* ---- the layer class ---- */

static int claims(const ct_spec_token *t) { return ct_spec_head_is(t, "pool"); }

static ct_status parse(const ct_spec_token *t, ct_layer_spec *L) {
    return ct_spec_pool(t, "pool", L);
}

static int format(const ct_layer_spec *L, char *out, size_t n) {
    return ct_spec_pool_format("pool", L, out, n);
}

static ct_status infer(ct_layer *l) { return ct_pool_infer(l, "max"); }

/* Pool 2 / stride 2 keeps the argmax index of its forward (one byte per output) for the
 * backward, which then reads neither the input nor the forward's output. */
static int has_idx(const ct_layer *l) { return l->s.pool == 2 && l->s.stride == 2; }

static ct_status create(ct_runtime *rt, ct_layer *l) {
    if (!has_idx(l)) return CT_OK;
    return ct_buffer_create(rt, "pool index", (size_t)l->max_batch * l->out_feat, CL_MEM_READ_WRITE,
                            &l->pool_idx);
}

static void destroy(ct_layer *l) {
    if (l->pool_idx) clReleaseMemObject(l->pool_idx);
    l->pool_idx = NULL;
}

static ct_status forward(ct_layer *l, const ct_layer_run *r) {
    if (l->fwd_by_prev) return CT_OK; /* the conv before it wrote y and the index */
    return ct_pool_forward(r->K, r->n, l->ic, l->ih, l->iw, l->s.pool, l->s.stride, l->x, l->y,
                           l->pool_idx);
}

static ct_status backward(ct_layer *l, const ct_layer_run *r, ct_layer_grad *g) {
    if (!l->need_dx) return CT_OK;
    CT_TRY(ct_pool_backward(r->K, r->n, l->ic, l->ih, l->iw, l->s.pool, l->s.stride,
                            l->prev_relu_bwd, l->x, l->pool_idx, g->dy, g->dx));
    g->dx_in_other = 1;
    return CT_OK;
}

/* Valid windows, floor (ceil_mode 0), no padding: ONNX MaxPool's defaults. */
static ct_status export_onnx(const ct_layer *l, const float *const *p, ct_graph *g) {
    (void)p;
    return ct_pool_export(l, g, "MaxPool");
}

static const ct_kernel_ref kernels[] = {
    {"pool", "ct_pool_fwd", offsetof(ct_layer_kernels, pool_fwd)},
    {"pool", "ct_pool_bwd", offsetof(ct_layer_kernels, pool_bwd)},
    {"pool", "ct_pool_bwd_cells", offsetof(ct_layer_kernels, pool_bwd_cells)},
    {"pool", "ct_pool2_fwd_rows", offsetof(ct_layer_kernels, pool2_fwd_rows)},
    {"pool", "ct_pool2_bwd_idx", offsetof(ct_layer_kernels, pool2_bwd_idx)},
    {NULL, NULL, 0},
};

static const ct_selftest checks[] = {
    {"pool.forward", ct_check_pool_forward},
    {"pool.backward", ct_check_pool_backward},
    {NULL, NULL},
};

const ct_layer_class ct_layer_maxpool = {
    .name = "maxpool",
    .keras = "MaxPooling2D",
    .grammar = "pool<P>[:s<S>]",
    .words = "pool",
    .claims = claims,
    .parse = parse,
    .format = format,
    .infer = infer,
    .fuse = CT_FUSE_PREV_RELU_BWD | CT_FUSE_POOL2_INTO_PREV,
    .create = create,
    .destroy = destroy,
    .forward = forward,
    .backward = backward,
    .kernels = kernels,
    .ref_forward = ct_ref_layer_maxpool,
    .checks = checks,
    .export_onnx = export_onnx,
};
