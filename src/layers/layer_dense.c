/* Dense layer: GEMMs through ct_gemm plus the bias/activation kernels of cl/act.cl. */
#include <limits.h>

#include "layers/layers.h"

ct_status ct_dense_forward(ct_layer_kernels *k, int n, int in, int out, ct_act act, cl_mem x,
                           cl_mem w, cl_mem b, cl_mem y) {
    if ((size_t)n * (size_t)out > (size_t)INT_MAX || (size_t)n * (size_t)in > (size_t)INT_MAX)
        return ct_set_error(CT_ERR_SHAPE, "dense %d -> %d at batch %d exceeds 32-bit indexing", in,
                            out, n);
    /* y[n][out] = x[n][in] * W[out][in]^T */
    CT_TRY(ct_gemm(k->rt, 0, 1, n, out, in, 1.0f, x, 0, in, w, 0, in, 0.0f, y, 0, out));
    int rows = n, cols = out, a = act == CT_ACT_SOFTMAX ? 0 : (int)act;
    size_t total = (size_t)n * out;
    CT_TRY(ct_set_args(k->bias_act, 5, sizeof rows, &rows, sizeof cols, &cols, sizeof a, &a,
                       sizeof b, &b, sizeof y, &y));
    CT_TRY(ct_launch(k->rt, k->bias_act, 1, &total, NULL));
    if (act == CT_ACT_SOFTMAX) CT_TRY(ct_act_forward(k, CT_ACT_SOFTMAX, n, out, y, y));
    return CT_OK;
}

ct_status ct_dense_backward(ct_layer_kernels *k, int n, int in, int out, cl_mem x, cl_mem w,
                            cl_mem dy, cl_mem dx, cl_mem dw, cl_mem db) {
    /* dW[out][in] = dy[n][out]^T * x[n][in] */
    CT_TRY(ct_gemm(k->rt, 1, 0, out, in, n, 1.0f, dy, 0, out, x, 0, in, 0.0f, dw, 0, in));
    int rows = n, cols = out;
    size_t gc = (size_t)out;
    CT_TRY(ct_set_args(k->bias_grad, 4, sizeof rows, &rows, sizeof cols, &cols, sizeof dy, &dy,
                       sizeof db, &db));
    CT_TRY(ct_launch(k->rt, k->bias_grad, 1, &gc, NULL));
    /* dx[n][in] = dy[n][out] * W[out][in] */
    if (dx) CT_TRY(ct_gemm(k->rt, 0, 0, n, in, out, 1.0f, dy, 0, out, w, 0, in, 0.0f, dx, 0, in));
    return CT_OK;
}
