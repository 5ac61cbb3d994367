/* ct_gemm: row-major SGEMM on the device. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ops_internal.h"
#include "ops_ref.h"
#include "selftest.h"
#include "tensor.h"

struct ct_ops_state {
    cl_kernel gemm_simple;
};

static void ops_state_free(void *p) {
    ct_ops_state *st = p;
    if (!st) return;
    if (st->gemm_simple) clReleaseKernel(st->gemm_simple);
    free(st);
}

ct_status ct_ops_state_get(ct_runtime *rt, ct_ops_state **out) {
    if (!rt->ops) {
        ct_ops_state *st = calloc(1, sizeof *st);
        if (!st) return ct_set_error(CT_ERR_MEMORY, "out of host memory (ops state)");
        ct_status s = ct_kernel_create(rt, "gemm", "gemm_simple", NULL, &st->gemm_simple);
        if (s != CT_OK) {
            ops_state_free(st);
            return s;
        }
        rt->ops = st;
        rt->ops_free = ops_state_free;
    }
    *out = rt->ops;
    return CT_OK;
}

ct_status ct_gemm(ct_runtime *rt, int trans_a, int trans_b, int M, int N, int K, float alpha,
                  cl_mem A, size_t a_off, int lda, cl_mem B, size_t b_off, int ldb, float beta,
                  cl_mem C, size_t c_off, int ldc) {
    if (M < 0 || N < 0 || K < 0)
        return ct_set_error(CT_ERR_ARG, "ct_gemm: negative size M=%d N=%d K=%d", M, N, K);
    if (lda < (trans_a ? M : K) || ldb < (trans_b ? K : N) || ldc < N)
        return ct_set_error(CT_ERR_ARG,
                            "ct_gemm: leading dimension too small (M=%d N=%d K=%d lda=%d ldb=%d "
                            "ldc=%d, trans %d/%d)", M, N, K, lda, ldb, ldc, trans_a, trans_b);
    if (a_off > INT_MAX || b_off > INT_MAX || c_off > INT_MAX)
        return ct_set_error(CT_ERR_ARG, "ct_gemm: offset above 2^31 elements");
    if (M == 0 || N == 0) return CT_OK;
    ct_ops_state *st;
    CT_TRY(ct_ops_state_get(rt, &st));
    int as_i = trans_a ? 1 : lda, as_k = trans_a ? lda : 1;
    int bs_k = trans_b ? 1 : ldb, bs_j = trans_b ? ldb : 1;
    int ao = (int)a_off, bo = (int)b_off, co = (int)c_off;
    cl_kernel k = st->gemm_simple;
    CT_TRY(ct_set_args(k, 16, sizeof M, &M, sizeof N, &N, sizeof K, &K, sizeof alpha, &alpha,
                       sizeof A, &A, sizeof ao, &ao, sizeof as_i, &as_i, sizeof as_k, &as_k,
                       sizeof B, &B, sizeof bo, &bo, sizeof bs_k, &bs_k, sizeof bs_j, &bs_j,
                       sizeof beta, &beta, sizeof C, &C, sizeof co, &co, sizeof ldc, &ldc));
    size_t g[2] = {(size_t)(N + 3) / 4, (size_t)(M + 3) / 4};
    return ct_launch(rt, k, 2, g, NULL);
}
