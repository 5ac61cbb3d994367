/* Device ops with tuned variants: GEMM and convolution. Layout: activations NCHW,
 * conv weights OIHW (PyTorch's), dense weights [out][in] (PyTorch's).
 * All pointers are cl_mem (sub-)buffers holding float32; all calls enqueue only.
 *
 * Each op runs a named variant (a GEMM kernel, CLBlast, a conv algorithm with its kernel)
 * that it reads from the runtime's tuning table (ops/ops_internal.h), keyed by the op's
 * shape; where the table has no entry it runs a fixed, documented default for the device
 * type (docs/OPS.md). The ops never check or time anything: the tuning stage
 * (src/tune/tune.h, run when a model is built for a device or by `cltrain tune`) fills
 * the table. Overrides for measuring: CLTRAIN_GEMM=<variant>, CLTRAIN_CONV=<variant>. */
#ifndef CT_OPS_H
#define CT_OPS_H

#include "runtime/runtime.h"

/* Activation codes (also the kernels' act argument). LEAKYRELU's slope travels beside it
 * (ct_layer_spec.alpha). */
typedef enum {
    CT_ACT_NONE = 0,
    CT_ACT_RELU,
    CT_ACT_SIGMOID,
    CT_ACT_SOFTMAX,
    CT_ACT_TANH,
    CT_ACT_LEAKYRELU
} ct_act;

/* C[M,N] = alpha * op(A) * op(B) + beta * C, row-major, op = transpose when trans*.
 * Offsets and leading dimensions are in floats. beta == 0 never reads C (NaN-safe).
 * Runs the tuning table's variant for this shape, else the device type's default. */
ct_status ct_gemm(ct_runtime *rt, int trans_a, int trans_b, int M, int N, int K, float alpha,
                  cl_mem A, size_t a_off, int lda, cl_mem B, size_t b_off, int ldb, float beta,
                  cl_mem C, size_t c_off, int ldc);

typedef struct ct_conv_desc {
    int n;           /* batch */
    int cin, h, w;   /* input */
    int cout, k;     /* k x k kernel */
    int stride;      /* 1 or 2 (any >= 1 must work) */
    int pad_t, pad_l;/* top/left padding ('same': Keras/TF split, extra on bottom/right) */
    int oh, ow;      /* output */
    ct_act act;      /* fused after bias: NONE or RELU */
    int pool;        /* 2: a 2x2 stride-2 max pool follows (ct_conv_forward_pool); else 0.
                      * Set after ct_conv_desc_init; it is part of the forward's tuning key */
} ct_conv_desc;

/* Fills oh/ow and pads for 'valid' (same=0) or 'same' (same=1), Keras rules. Fails
 * with CT_ERR_SHAPE when the kernel does not fit the input. */
ct_status ct_conv_desc_init(ct_conv_desc *d, int n, int cin, int h, int w, int cout, int k,
                            int stride, int same, ct_act act);

typedef enum { CT_CONV_FWD = 0, CT_CONV_BWD_DATA, CT_CONV_BWD_WEIGHTS } ct_conv_pass;

typedef struct ct_conv_plan ct_conv_plan;
/* d->n: the largest batch this plan will be used with. The im2col workspace (about
 * 6 MiB plus split-K partials) is allocated here; without room for it the plan uses
 * the direct kernels. */
ct_status ct_conv_plan_create(ct_runtime *rt, const ct_conv_desc *d, ct_conv_plan **out);
void ct_conv_plan_free(ct_conv_plan *p);
/* y = act(conv(x, w) + b); n may be below the planned batch; b may be NULL (no bias). */
ct_status ct_conv_forward(ct_conv_plan *p, int n, cl_mem x, cl_mem w, cl_mem b, cl_mem y);
/* The same, then a 2x2 stride-2 max pool of y (valid windows, floor) into py, with the
 * argmax code in idx (a byte per pooled output: cl/pool.cl, ct_pool2_fwd_rows). Needs
 * d->pool == 2. Variants that can run the pool in their own kernel (the fused Winograd)
 * do, and then leave y unwritten; the others write y and pool it. Either way py and idx
 * are bit for bit what ct_conv_forward and the pool kernel give. */
ct_status ct_conv_forward_pool(ct_conv_plan *p, int n, cl_mem x, cl_mem w, cl_mem b, cl_mem y,
                               cl_mem py, cl_mem idx);
/* dx = conv_transpose(dy, w). dy is the gradient w.r.t. the PRE-activation output: the
 * model applies the fused activation's backward first (fused into pool-backward where it can). */
ct_status ct_conv_backward_data(ct_conv_plan *p, int n, cl_mem dy, cl_mem w, cl_mem dx);
/* dw = sum_n dy (*) x, db = sum over n,y,x of dy. Both are overwritten. */
ct_status ct_conv_backward_weights(ct_conv_plan *p, int n, cl_mem x, cl_mem dy, cl_mem dw,
                                   cl_mem db);

#endif
