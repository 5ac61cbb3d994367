/* GEMM kernels. Row-major, element offsets. op(A)(i,k) = A[i*as_i + k*as_k], so the
 * four transpose combinations are one kernel with different strides. beta == 0 never
 * reads C (it may hold NaN). */
#include "common.h"

/* Portable fallback: each work-item a 4x4 block of C. */
__kernel void gemm_simple(int M, int N, int K, float alpha,
                          __global const float *A, int a_off, int as_i, int as_k,
                          __global const float *B, int b_off, int bs_k, int bs_j,
                          float beta, __global float *C, int c_off, int ldc) {
    int j0 = get_global_id(0) * 4, i0 = get_global_id(1) * 4;
    if (i0 >= M || j0 >= N) return;
    A += a_off;
    B += b_off;
    C += c_off;
    float acc[4][4];
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++) acc[a][b] = 0.0f;
    int ii[4], jj[4];
    for (int a = 0; a < 4; a++) {
        ii[a] = min(i0 + a, M - 1);
        jj[a] = min(j0 + a, N - 1);
    }
    for (int k = 0; k < K; k++) {
        float av[4], bv[4];
        for (int a = 0; a < 4; a++) av[a] = A[ii[a] * as_i + k * as_k];
        for (int b = 0; b < 4; b++) bv[b] = B[k * bs_k + jj[b] * bs_j];
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < 4; b++) acc[a][b] = fma(av[a], bv[b], acc[a][b]);
    }
    for (int a = 0; a < 4; a++) {
        if (i0 + a >= M) break;
        for (int b = 0; b < 4; b++) {
            if (j0 + b >= N) break;
            __global float *c = C + (i0 + a) * ldc + j0 + b;
            float v = alpha * acc[a][b];
            *c = beta == 0.0f ? v : fma(beta, *c, v);
        }
    }
}
