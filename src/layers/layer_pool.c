/* Max-pool layer: forward, backward (with the preceding layer's ReLU backward fused).
 * Pool 2 / stride 2 (every preset) has vector kernels; other non-overlapping pools write
 * whole cells; overlapping pools gather per input element. */
#include <limits.h>

#include "layers/layers.h"

static ct_status check_count(const char *what, size_t count) {
    if (count > (size_t)INT_MAX)
        return ct_set_error(CT_ERR_SHAPE, "%s: %zu elements exceed the kernels' 32-bit indexing; "
                            "use a smaller --batch-size or input size", what, count);
    return CT_OK;
}

ct_status ct_pool_forward(ct_layer_kernels *k, int n, int c, int h, int w, int p, int s, cl_mem x,
                          cl_mem y) {
    int oh = ct_pool_out(h, p, s), ow = ct_pool_out(w, p, s);
    if (oh <= 0 || ow <= 0)
        return ct_set_error(CT_ERR_SHAPE, "pool%d:s%d does not fit a %dx%dx%d input", p, s, c, h, w);
    int nc = n * c;
    size_t total = (size_t)nc * oh * ow;
    CT_TRY(check_count("pool output", (size_t)nc * h * w));
    if (p == 2 && s == 2) {
        size_t rows = (size_t)nc * oh * ((ow + 7) / 8);
        CT_TRY(ct_set_args(k->pool2_fwd_rows, 7, sizeof nc, &nc, sizeof h, &h, sizeof w, &w,
                           sizeof oh, &oh, sizeof ow, &ow, sizeof x, &x, sizeof y, &y));
        return ct_launch(k->rt, k->pool2_fwd_rows, 1, &rows, NULL);
    }
    CT_TRY(ct_set_args(k->pool_fwd, 9, sizeof nc, &nc, sizeof h, &h, sizeof w, &w, sizeof p, &p,
                       sizeof s, &s, sizeof oh, &oh, sizeof ow, &ow, sizeof x, &x, sizeof y, &y));
    return ct_launch(k->rt, k->pool_fwd, 1, &total, NULL);
}

ct_status ct_pool_backward(ct_layer_kernels *k, int n, int c, int h, int w, int p, int s, int relu,
                           cl_mem x, cl_mem dy, cl_mem dx) {
    int oh = ct_pool_out(h, p, s), ow = ct_pool_out(w, p, s);
    if (oh <= 0 || ow <= 0)
        return ct_set_error(CT_ERR_SHAPE, "pool%d:s%d does not fit a %dx%dx%d input", p, s, c, h, w);
    int nc = n * c;
    size_t total = (size_t)nc * h * w;
    CT_TRY(check_count("pool input", total));
    if (p == 2 && s == 2) {
        size_t rows = (size_t)nc * ((h + 1) / 2) * ((ow + 7) / 8);
        CT_TRY(ct_set_args(k->pool2_bwd_rows, 9, sizeof nc, &nc, sizeof h, &h, sizeof w, &w,
                           sizeof oh, &oh, sizeof ow, &ow, sizeof relu, &relu, sizeof x, &x,
                           sizeof dy, &dy, sizeof dx, &dx));
        return ct_launch(k->rt, k->pool2_bwd_rows, 1, &rows, NULL);
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
