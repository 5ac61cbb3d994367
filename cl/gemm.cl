/* GEMM kernels. Row-major, element offsets. op(A)(i,k) = A[i*as_i + k*as_k] and
 * op(B)(k,j) = B[k*bs_k + j*bs_j], so the transpose combinations are strides.
 *
 * Every kernel takes the same "job" arguments (see ct_gemm_job in src/ops_internal.h):
 * a batch index z (global dim 2) runs over groups of `nsum` consecutive batch items
 * (A += item*sa, B += item*sb) whose products are summed into C + z*sc. Epilogue:
 * C = alpha*acc + (bias ? bias[row] : 0) + beta*C, then relu if asked. beta == 0 never
 * reads C (it may hold NaN). */
#include "common.h"

/* CT_PROG selects what one build compiles: 0 (no option) the generic kernels; the
 * specialised kernels are each built alone with their block sizes (PoCL compiles every
 * kernel of a program whose binary is cached, so a kernel built per option set must not
 * drag the others along). src/ops/ passes -DCT_PROG=n with their options. */
#ifndef CT_PROG
#define CT_PROG 0
#endif
#define JOB_ARGS                                                                            \
    int M, int N, int K, float alpha, __global const float *A, int a_off, int as_i, int as_k, \
        int sa, __global const float *B, int b_off, int bs_k, int bs_j, int sb, float beta,   \
        __global float *C, int c_off, int ldc, int sc, int nsum, int nbatch,                 \
        __global const float *bias, int use_bias, int relu

inline float epi(float acc, float alpha, float beta, __global const float *c, float bv,
                 int relu) {
    float v = fma(alpha, acc, bv);
    if (beta != 0.0f) v = fma(beta, *c, v);
    return relu ? fmax(v, 0.0f) : v;
}

/* Portable fallback: each work-item a 4x4 block of C, any strides. */
#if CT_PROG == 0
__kernel void gemm_simple(JOB_ARGS) {
    int j0 = get_global_id(0) * 4, i0 = get_global_id(1) * 4, z = get_global_id(2);
    if (i0 >= M || j0 >= N) return;
    float acc[4][4];
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++) acc[a][b] = 0.0f;
    int ii[4], jj[4];
    for (int a = 0; a < 4; a++) {
        ii[a] = min(i0 + a, M - 1);
        jj[a] = min(j0 + a, N - 1);
    }
    for (int t = 0; t < nsum; t++) {
        int item = z * nsum + t;
        if (item >= nbatch) break;
        __global const float *Ab = A + a_off + item * sa;
        __global const float *Bb = B + b_off + item * sb;
        for (int k = 0; k < K; k++) {
            float av[4], bv[4];
            for (int a = 0; a < 4; a++) av[a] = Ab[ii[a] * as_i + k * as_k];
            for (int b = 0; b < 4; b++) bv[b] = Bb[k * bs_k + jj[b] * bs_j];
            for (int a = 0; a < 4; a++)
                for (int b = 0; b < 4; b++) acc[a][b] = fma(av[a], bv[b], acc[a][b]);
        }
    }
    __global float *Cb = C + c_off + z * sc;
    for (int a = 0; a < 4; a++) {
        if (i0 + a >= M) break;
        float bv = use_bias ? bias[i0 + a] : 0.0f;
        for (int b = 0; b < 4; b++) {
            if (j0 + b >= N) break;
            __global float *c = Cb + (i0 + a) * ldc + j0 + b;
            *c = epi(acc[a][b], alpha, beta, c, bv, relu);
        }
    }
}
#endif

/* Register-blocked kernel for CPUs (and wide-vector devices): each work-item an RM x
 * (NV*VW) block of C held in NV vectors of VW floats per row; B rows are vector loads,
 * so op(B) must have bs_j == 1 (the host packs a transposed B first). Global dim 0 runs
 * over row blocks so that a work-group shares one B panel in cache. */
#ifndef RM
#define RM 6
#endif
#ifndef NV
#define NV 2
#endif
#ifndef VW
#define VW 16
#endif
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define VT CAT(float, VW)
#define VLOAD CAT(vload, VW)
#define VSTORE CAT(vstore, VW)
#define BW (NV * VW)

#if CT_PROG == 1
__kernel void gemm_blk(JOB_ARGS) {
    int i0 = get_global_id(0) * RM, j0 = get_global_id(1) * BW, z = get_global_id(2);
    if (i0 >= M || j0 >= N) return;
    VT acc[RM][NV];
#pragma unroll
    for (int r = 0; r < RM; r++)
#pragma unroll
        for (int v = 0; v < NV; v++) acc[r][v] = (VT)(0.0f);
    int ro[RM];
#pragma unroll
    for (int r = 0; r < RM; r++) ro[r] = min(i0 + r, M - 1) * as_i;
    int full = j0 + BW <= N;
    for (int t = 0; t < nsum; t++) {
        int item = z * nsum + t;
        if (item >= nbatch) break;
        __global const float *Ab = A + a_off + item * sa;
        __global const float *Bb = B + b_off + item * sb + j0;
        if (full) {
            for (int k = 0; k < K; k++) {
                VT b[NV];
#pragma unroll
                for (int v = 0; v < NV; v++) b[v] = VLOAD(0, Bb + k * bs_k + v * VW);
#pragma unroll
                for (int r = 0; r < RM; r++) {
                    VT a = (VT)(Ab[ro[r] + k * as_k]);
#pragma unroll
                    for (int v = 0; v < NV; v++) acc[r][v] = fma(a, b[v], acc[r][v]);
                }
            }
        } else {
            int nj = N - j0;
            for (int k = 0; k < K; k++) {
                float tmp[BW];
                for (int e = 0; e < BW; e++) tmp[e] = Bb[k * bs_k + min(e, nj - 1)];
                VT b[NV];
#pragma unroll
                for (int v = 0; v < NV; v++) b[v] = VLOAD(v, tmp);
#pragma unroll
                for (int r = 0; r < RM; r++) {
                    VT a = (VT)(Ab[ro[r] + k * as_k]);
#pragma unroll
                    for (int v = 0; v < NV; v++) acc[r][v] = fma(a, b[v], acc[r][v]);
                }
            }
        }
    }
    __global float *Cb = C + c_off + z * sc;
    for (int r = 0; r < RM; r++) {
        if (i0 + r >= M) break;
        float bv = use_bias ? bias[i0 + r] : 0.0f;
        __global float *crow = Cb + (i0 + r) * ldc + j0;
        if (full) {
#pragma unroll
            for (int v = 0; v < NV; v++) {
                VT val = fma((VT)(alpha), acc[r][v], (VT)(bv));
                if (beta != 0.0f) val = fma((VT)(beta), VLOAD(v, crow), val);
                if (relu) val = fmax(val, (VT)(0.0f));
                VSTORE(val, v, crow);
            }
        } else {
            float tmp[BW];
#pragma unroll
            for (int v = 0; v < NV; v++) VSTORE(acc[r][v], v, tmp);
            for (int e = 0; e < N - j0; e++) crow[e] = epi(tmp[e], alpha, beta, crow + e, bv, relu);
        }
    }
}
#endif

/* dst[j*ld_dst + i] = src[i*ld_src + j] for an R x Cc matrix (packs a transposed operand). */
#if CT_PROG == 0
__kernel void transpose(int R, int Cc, __global const float *src, int s_off, int ld_src,
                        __global float *dst, int ld_dst) {
    int j = get_global_id(0), i = get_global_id(1);
    if (i < R && j < Cc) dst[j * ld_dst + i] = src[s_off + i * ld_src + j];
}
#endif

/* dst[i] = sum over p < parts of src[off + p*n + i] (split-K partial sums). */
#if CT_PROG == 0
__kernel void sum_parts(int n, int parts, __global const float *src, int off,
                        __global float *dst) {
    int i = get_global_id(0);
    if (i >= n) return;
    float s = 0.0f;
    for (int p = 0; p < parts; p++) s += src[off + p * n + i];
    dst[i] = s;
}
#endif

/* Local-memory tiled kernel for GPUs: a TS x TS tile of C per work-group of TS x (TS/WPT)
 * work-items, each WPT rows of one column. TS and WPT come from the host, sized from
 * the device's work-group and local-memory limits. */
#ifndef TS
#define TS 16
#endif
#ifndef WPT
#define WPT 4
#endif
#define RTS (TS / WPT)
#if CT_PROG == 2
__kernel void gemm_tiled(JOB_ARGS) {
    __local float As[TS][TS + 1];
    __local float Bs[TS][TS];
    int lc = get_local_id(0), lr = get_local_id(1);
    int j0 = get_group_id(0) * TS, i0 = get_group_id(1) * TS, z = get_global_id(2);
    float acc[WPT];
    for (int w = 0; w < WPT; w++) acc[w] = 0.0f;
    for (int t = 0; t < nsum; t++) {
        int item = z * nsum + t;
        if (item >= nbatch) break; /* uniform over the work-group */
        __global const float *Ab = A + a_off + item * sa;
        __global const float *Bb = B + b_off + item * sb;
        for (int k0 = 0; k0 < K; k0 += TS) {
            for (int w = 0; w < WPT; w++) {
                int r = lr + w * RTS;
                int ai = i0 + r, ak = k0 + lc;
                As[r][lc] = (ai < M && ak < K) ? Ab[ai * as_i + ak * as_k] : 0.0f;
                int bk = k0 + r, bj = j0 + lc;
                Bs[r][lc] = (bk < K && bj < N) ? Bb[bk * bs_k + bj * bs_j] : 0.0f;
            }
            barrier(CLK_LOCAL_MEM_FENCE);
            for (int k = 0; k < TS; k++) {
                float b = Bs[k][lc];
                for (int w = 0; w < WPT; w++) acc[w] = fma(As[lr + w * RTS][k], b, acc[w]);
            }
            barrier(CLK_LOCAL_MEM_FENCE);
        }
    }
    int j = j0 + lc;
    if (j >= N) return;
    __global float *Cb = C + c_off + z * sc;
    for (int w = 0; w < WPT; w++) {
        int i = i0 + lr + w * RTS;
        if (i >= M) break;
        __global float *c = Cb + i * ldc + j;
        *c = epi(acc[w], alpha, beta, c, use_bias ? bias[i] : 0.0f, relu);
    }
}
#endif

/* "Dot" kernel for op(A) rows and op(B) columns both contiguous in k (as_k == 1 and
 * bs_k == 1, e.g. A * B^T with row-major B): each work-item an NR x NR block of C, each
 * entry a VW-wide partial dot product along k, reduced at the end. */
#ifndef NR
#define NR 4
#endif
#if VW == 16
#define hsum ct_hsum16
#else
#define hsum ct_hsum8
#endif
#if CT_PROG == 3
__kernel void gemm_nt(JOB_ARGS) {
    int i0 = get_global_id(0) * NR, j0 = get_global_id(1) * NR, z = get_global_id(2);
    if (i0 >= M || j0 >= N) return;
    VT acc[NR][NR];
    float tail[NR][NR];
#pragma unroll
    for (int r = 0; r < NR; r++)
#pragma unroll
        for (int c = 0; c < NR; c++) {
            acc[r][c] = (VT)(0.0f);
            tail[r][c] = 0.0f;
        }
    int ro[NR], co[NR];
#pragma unroll
    for (int r = 0; r < NR; r++) {
        ro[r] = min(i0 + r, M - 1) * as_i;
        co[r] = min(j0 + r, N - 1) * bs_j;
    }
    int kv = K / VW * VW;
    for (int t = 0; t < nsum; t++) {
        int item = z * nsum + t;
        if (item >= nbatch) break;
        __global const float *Ab = A + a_off + item * sa;
        __global const float *Bb = B + b_off + item * sb;
        for (int k = 0; k < kv; k += VW) {
            VT a[NR], b[NR];
#pragma unroll
            for (int r = 0; r < NR; r++) a[r] = VLOAD(0, Ab + ro[r] + k);
#pragma unroll
            for (int c = 0; c < NR; c++) b[c] = VLOAD(0, Bb + co[c] + k);
#pragma unroll
            for (int r = 0; r < NR; r++)
#pragma unroll
                for (int c = 0; c < NR; c++) acc[r][c] = fma(a[r], b[c], acc[r][c]);
        }
        for (int k = kv; k < K; k++)
#pragma unroll
            for (int r = 0; r < NR; r++)
#pragma unroll
                for (int c = 0; c < NR; c++) tail[r][c] = fma(Ab[ro[r] + k], Bb[co[c] + k], tail[r][c]);
    }
    __global float *Cb = C + c_off + z * sc;
    for (int r = 0; r < NR; r++) {
        if (i0 + r >= M) break;
        float bv = use_bias ? bias[i0 + r] : 0.0f;
        for (int c = 0; c < NR; c++) {
            if (j0 + c >= N) break;
            __global float *cp = Cb + (i0 + r) * ldc + j0 + c;
            *cp = epi(hsum(acc[r][c]) + tail[r][c], alpha, beta, cp, bv, relu);
        }
    }
}
#endif
