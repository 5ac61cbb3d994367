/* Standalone activations (relu, sigmoid, softmax) and their backward passes. */
#include <limits.h>

#include "layers/layers.h"

ct_status ct_act_forward(ct_layer_kernels *k, ct_act act, int n, int features, cl_mem x, cl_mem y) {
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
    CT_TRY(ct_set_args(k->act_fwd, 4, sizeof cnt, &cnt, sizeof a, &a, sizeof x, &x, sizeof y, &y));
    return ct_launch(k->rt, k->act_fwd, 1, &total, NULL);
}

ct_status ct_act_backward(ct_layer_kernels *k, ct_act act, int n, int features, cl_mem y, cl_mem dy,
                          cl_mem dx) {
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
    CT_TRY(ct_set_args(k->act_bwd, 5, sizeof cnt, &cnt, sizeof a, &a, sizeof y, &y, sizeof dy, &dy,
                       sizeof dx, &dx));
    return ct_launch(k->rt, k->act_bwd, 1, &total, NULL);
}
