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

#define CT_SELFTEST_ENTRIES /* {"name", ct_check_fn}, ... */ CT_SELFTEST_OPS

#endif
