/* Declarations and table entries of the kernel self-checks that are not layer classes', one
 * block per op family; each is named ct_check_<op> and lives in src/check/ (ops_check.c,
 * layer_check.c). The layer classes' checks come from the registry (layers/layer.h). */
#ifndef CT_SELFTEST_LIST_H
#define CT_SELFTEST_LIST_H

#include "runtime/runtime.h"

/* the trivial program: the device builds and runs code at all (src/check/selftest.c) */
ct_status ct_check_selfcheck_axpy(ct_runtime *rt, double *max_err);

/* ops (src/check/ops_check.c) */
ct_status ct_check_gemm(ct_runtime *rt, double *max_err);
ct_status ct_check_conv_forward(ct_runtime *rt, double *max_err);
ct_status ct_check_conv_backward_data(ct_runtime *rt, double *max_err);
ct_status ct_check_conv_backward_weights(ct_runtime *rt, double *max_err);
/* per shipped variant, run by name (CLBlast is checked by the tuner before it is timed);
 * conv.<pass>.<family>: every variant of the family (im2col: also flip-im2col, col2im,
 * with every GEMM kernel; implicit: every config; winograd: forward or flipped, with every
 * GEMM kernel, and every fused config, backward-weights included). Skipped where the
 * device runs none. */
#define CT_OPS_VARIANTS_(X)                                                                      \
    X(gemm_simple, "gemm.simple") X(gemm_blk6x32, "gemm.blk6x32")                                \
    X(gemm_blk8x32, "gemm.blk8x32") X(gemm_blk4x16, "gemm.blk4x16")                              \
    X(gemm_blk4x8, "gemm.blk4x8") X(gemm_tiled, "gemm.tiled") X(gemm_nt4x16, "gemm.nt4x16")      \
    X(gemm_nt4x8, "gemm.nt4x8") X(conv_forward_direct, "conv.forward.direct")                    \
    X(conv_forward_im2col, "conv.forward.im2col")                                                \
    X(conv_forward_implicit, "conv.forward.implicit")                                            \
    X(conv_backward_data_direct, "conv.backward_data.direct")                                    \
    X(conv_backward_data_im2col, "conv.backward_data.im2col")                                    \
    X(conv_backward_data_implicit, "conv.backward_data.implicit")                                \
    X(conv_forward_winograd, "conv.forward.winograd")                                            \
    X(conv_backward_data_winograd, "conv.backward_data.winograd")                                \
    X(conv_backward_weights_direct, "conv.backward_weights.direct")                              \
    X(conv_backward_weights_im2col, "conv.backward_weights.im2col")                              \
    X(conv_backward_weights_implicit, "conv.backward_weights.implicit")                          \
    X(conv_backward_weights_winograd, "conv.backward_weights.winograd")
#define CT_OPS_DECL_(fn, nm) ct_status ct_check_##fn(ct_runtime *rt, double *max_err);
#define CT_OPS_ENTRY_(fn, nm) {nm, ct_check_##fn},
CT_OPS_VARIANTS_(CT_OPS_DECL_)
#define CT_SELFTEST_OPS                                                                          \
    {"gemm", ct_check_gemm}, {"conv.forward", ct_check_conv_forward},                            \
        {"conv.backward_data", ct_check_conv_backward_data},                                     \
        {"conv.backward_weights", ct_check_conv_backward_weights},                               \
        CT_OPS_VARIANTS_(CT_OPS_ENTRY_)

/* The stages that are no spec layers (src/layers/layer_check.c). The spec layers' checks are
 * not listed here: layers/registry.c takes them from the layer registry (ct_layer_class.checks). */
ct_status ct_check_loss(ct_runtime *rt, double *max_err);
ct_status ct_check_adam(ct_runtime *rt, double *max_err);
ct_status ct_check_optim(ct_runtime *rt, double *max_err);
#define CT_SELFTEST_STAGES {"loss", ct_check_loss}, {"adam", ct_check_adam}, \
    {"optim", ct_check_optim},

#define CT_SELFTEST_ENTRIES /* {"name", ct_check_fn}, ... */ CT_SELFTEST_OPS

#endif
