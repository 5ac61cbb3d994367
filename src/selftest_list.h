/* Declarations and table entries of the kernel self-checks, one block per op family.
 * Each check lives beside its op (e.g. src/layer_conv.c) and is named ct_check_<op>. */
#ifndef CT_SELFTEST_LIST_H
#define CT_SELFTEST_LIST_H

/* ops (src/ops_check.c) */
ct_status ct_check_gemm(ct_runtime *rt, double *max_err);
ct_status ct_check_conv_forward(ct_runtime *rt, double *max_err);
ct_status ct_check_conv_backward_data(ct_runtime *rt, double *max_err);
ct_status ct_check_conv_backward_weights(ct_runtime *rt, double *max_err);
#define CT_SELFTEST_OPS                                                                          \
    {"gemm", ct_check_gemm}, {"conv.forward", ct_check_conv_forward},                            \
        {"conv.backward_data", ct_check_conv_backward_data},                                     \
        {"conv.backward_weights", ct_check_conv_backward_weights},

/* layers (src/layer_check.c) */
ct_status ct_check_pool_forward(ct_runtime *rt, double *max_err);
ct_status ct_check_pool_backward(ct_runtime *rt, double *max_err);
ct_status ct_check_act_forward(ct_runtime *rt, double *max_err);
ct_status ct_check_act_backward(ct_runtime *rt, double *max_err);
ct_status ct_check_dense_forward(ct_runtime *rt, double *max_err);
ct_status ct_check_dense_backward(ct_runtime *rt, double *max_err);
ct_status ct_check_dropout(ct_runtime *rt, double *max_err);
ct_status ct_check_loss(ct_runtime *rt, double *max_err);
ct_status ct_check_adam(ct_runtime *rt, double *max_err);
#define CT_SELFTEST_LAYERS                                                                       \
    {"pool.forward", ct_check_pool_forward}, {"pool.backward", ct_check_pool_backward},          \
        {"act.forward", ct_check_act_forward}, {"act.backward", ct_check_act_backward},          \
        {"dense.forward", ct_check_dense_forward}, {"dense.backward", ct_check_dense_backward},  \
        {"dropout", ct_check_dropout}, {"loss", ct_check_loss}, {"adam", ct_check_adam},

#define CT_SELFTEST_ENTRIES /* {"name", ct_check_fn}, ... */ CT_SELFTEST_OPS CT_SELFTEST_LAYERS

#endif
