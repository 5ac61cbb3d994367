/* Max-pool layer: forward, backward (with the preceding layer's ReLU backward fused). */
#include <limits.h>

#include "layers.h"

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
    CT_TRY(ct_set_args(k->pool_bwd, 11, sizeof nc, &nc, sizeof h, &h, sizeof w, &w, sizeof p, &p,
                       sizeof s, &s, sizeof oh, &oh, sizeof ow, &ow, sizeof relu, &relu, sizeof x,
                       &x, sizeof dy, &dy, sizeof dx, &dx));
    return ct_launch(k->rt, k->pool_bwd, 1, &total, NULL);
}
