/* Plain-C references for the device ops in ops.h (double accumulation). Used by
 * tests/test_ops.c, the selftest checks and the tuner's correctness gate. Same layouts
 * as the device ops: NCHW activations, OIHW weights, row-major GEMM. */
#ifndef CT_OPS_REF_H
#define CT_OPS_REF_H

#include "ops/ops_internal.h"

/* C = alpha*op(A)*op(B) + beta*C; beta == 0 ignores C's old contents (NaN included). */
void ct_ref_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                 int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* y = act(conv(x, w) + b) for n images; act NONE or RELU. */
void ct_ref_conv_forward(const ct_conv_desc *d, int n, const float *x, const float *w,
                         const float *b, float *y);
/* Same in double, no activation (for finite differences). b may be NULL. */
void ct_ref_conv_forward_d(const ct_conv_desc *d, int n, const double *x, const double *w,
                           const double *b, double *y);
/* dx = conv_transpose(dy, w) (dy: gradient w.r.t. the pre-activation output). */
void ct_ref_conv_backward_data(const ct_conv_desc *d, int n, const float *dy, const float *w,
                               float *dx);
/* dw = sum dy (*) x, db = sum dy (both overwritten). */
void ct_ref_conv_backward_weights(const ct_conv_desc *d, int n, const float *x, const float *dy,
                                  float *dw, float *db);

#endif

/* Device-vs-reference checks (src/check/ops_check.c), shared by selftest, tests and the
 * tuning stage. Random inputs, outputs poisoned with NaN first; *err = worst error /
 * tolerance (<= 1 passes, NaN or unwritten elements give +inf). These run the variant the
 * table (or the default) gives. */
ct_status ct_check_conv_case(ct_runtime *rt, const ct_conv_desc *d, int n, ct_conv_pass pass,
                             uint64_t seed, double *err);
ct_status ct_check_gemm_case(ct_runtime *rt, int trans_a, int trans_b, int M, int N, int K,
                             float alpha, float beta, uint64_t seed, double *err);
/* The same with variant v (NULL: as above). When v does not fit the shape (or this
 * device) nothing runs and *err = -1. ran (may be NULL): the name of the variant the plan
 * ran, from ct_conv_plan_choice_name. */
ct_status ct_check_conv_case_v(ct_runtime *rt, const ct_conv_desc *d, int n, ct_conv_pass pass,
                               const ct_variant *v, uint64_t seed, double *err, char *ran,
                               size_t ran_n);
ct_status ct_check_gemm_case_v(ct_runtime *rt, const ct_variant *v, int trans_a, int trans_b, int M,
                               int N, int K, float alpha, float beta, uint64_t seed, double *err);
/* Variant v of op kind op against the reference on small odd shapes (every GEMM transpose,
 * beta 0 and not; three conv cases), where it fits: 1 passed, 0 failed, -1 it fits none of
 * them or not this device (not checked: the tuner does not time it). */
int ct_check_variant(ct_runtime *rt, ct_op_kind op, ct_variant v);
/* Tolerance for a float32 sum of `terms` products of O(1) values. */
static inline double ct_ops_atol(int terms) { return 1e-5 + 2e-6 * terms; }
#define CT_OPS_RTOL 1e-4
