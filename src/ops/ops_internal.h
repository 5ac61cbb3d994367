/* Shared between src/ops/ops_gemm.c and src/ops/ops_conv.c: the per-runtime op state, the GEMM
 * kernel variants and the "job" form of a (batched, fused-epilogue) GEMM. */
#ifndef CT_OPS_INTERNAL_H
#define CT_OPS_INTERNAL_H

#include "ops/ops.h"

typedef struct ct_ops_state ct_ops_state;
/* The runtime's op state, created on first use (freed by ct_runtime_free). */
ct_status ct_ops_state_get(ct_runtime *rt, ct_ops_state **out);

/* C[z] = alpha * sum_{t<nsum} opA(item) opB(item) + bias[row] + beta*C[z], relu optional,
 * item = z*nsum + t < nbatch. Element offsets and strides (see cl/gemm.cl). */
typedef struct ct_gemm_job {
    int M, N, K;
    float alpha, beta;
    cl_mem A;
    int a_off, as_i, as_k, sa;
    cl_mem B;
    int b_off, bs_k, bs_j, sb;
    cl_mem C;
    int c_off, ldc, sc;
    int nsum, nbatch;
    cl_mem bias; /* NULL: none */
    int relu;
} ct_gemm_job;

/* Kernel variants ("simple" is the portable fallback; "blk*" need bs_j == 1; "nt*" need
 * as_k == 1 and bs_k == 1). */
enum { CT_GK_SIMPLE = 0, CT_GK_BLK6x32, CT_GK_BLK8x32, CT_GK_BLK4x16, CT_GK_BLK4x8,
       CT_GK_TILED, CT_GK_NT4x16, CT_GK_NT4x8, CT_GK_COUNT };
const char *ct_gemm_kernel_name(int v);
/* Whether variant v can run a job with these strides (without packing). */
int ct_gemm_kernel_fits(int v, const ct_gemm_job *j);
int ct_gemm_kernel_is_dot(int v);
/* Work-items variant v launches per batch item for an M x N output. */
int ct_gemm_kernel_wi(int v, int M, int N);
/* Whether variant v can run on this runtime (work-group and local-memory limits). */
int ct_gemm_kernel_usable(ct_runtime *rt, int v);
ct_status ct_gemm_job_run(ct_runtime *rt, int variant, const ct_gemm_job *j);
/* Default kernel variant for the device before (or without) tuning. */
int ct_gemm_kernel_default(ct_runtime *rt);

/* Tuning memory: a choice per key string, kept in memory and in a file next to the
 * compile cache. Returns -1 when unknown. */
int ct_tune_lookup(ct_runtime *rt, const char *key);
void ct_tune_store(ct_runtime *rt, const char *key, int choice);
/* Forcing a variant (tests, benchmarks, the tuner's checks); -1 restores tuning.
 * ct_gemm also honours env CLTRAIN_GEMM=<variant name>|clblast. */
void ct_gemm_force(ct_runtime *rt, int v);
#define CT_GEMM_CLBLAST 100
/* Conv choices: CT_CONV_DIRECT, or CT_CONV_IM2COL + a GEMM kernel variant. pass: ct_conv_pass.
 * Env CLTRAIN_CONV=direct|im2col forces the algorithm. */
#define CT_CONV_DIRECT 0
#define CT_CONV_IM2COL 100
#define CT_CONV_COL2IM 200 /* backward-data only: GEMM into columns + col2im gather */
#define CT_CONV_IMPLICIT 300 /* + config 0..4: implicit GEMM on a padded input, stride 1 */
#define CT_CONV_IMPLICIT_CONFIGS 5
#define CT_CONV_IMPLW_CONFIGS 4 /* backward-weights: implicit configs 0..3 */
void ct_conv_force(ct_runtime *rt, int pass, int choice);
int ct_conv_forced(ct_runtime *rt, int pass);
/* Per-runtime "checked against the reference" flag of a conv choice (0 unknown, 1 ok, -1 bad). */
int *ct_conv_checked_slot(ct_runtime *rt, int pass, int choice);

/* Name of the variant a plan uses for pass (after its first call), e.g. "im2col+blk6x32". */
const char *ct_conv_plan_choice_name(const ct_conv_plan *p, int pass, char *buf, size_t n);

/* Launch with a fixed local size (l0 x l1 x 1, shrunk to rt->max_wg): PoCL compiles a
 * kernel once per local size, so letting it pick one per global size recompiles for
 * every new shape (0.3-2 s each). */
ct_status ct_ops_launch(ct_runtime *rt, cl_kernel k, cl_uint dims, const size_t *g, size_t l0,
                        size_t l1);

#endif
