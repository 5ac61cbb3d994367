/* Device-vs-reference checks of the layer kernels (src/layers/layer_check.c). Each runs one case
 * on random inputs with the outputs poisoned; *err = worst error / tolerance (<= 1 passes,
 * NaN gives +inf). */
#ifndef CT_LAYER_CHECK_H
#define CT_LAYER_CHECK_H

#include "layers/layer.h"

ct_status ct_check_pool_case(ct_runtime *rt, int n, int c, int h, int w, int p, int s, int relu,
                             int bwd, uint64_t seed, double *err);
ct_status ct_check_act_case(ct_runtime *rt, ct_act act, int n, int features, int bwd,
                            int in_place, uint64_t seed, double *err);
ct_status ct_check_dense_case(ct_runtime *rt, int n, int in, int out, ct_act act, int bwd,
                              uint64_t seed, double *err);
ct_status ct_check_dropout_case(ct_runtime *rt, size_t count, float rate, int bwd, uint64_t seed,
                                double *err);
ct_status ct_check_loss_case(ct_runtime *rt, int n, int classes, uint64_t seed, double *err);
ct_status ct_check_adam_case(ct_runtime *rt, size_t count, long t, uint64_t seed, double *err);
/* Any optimizer against ct_ref_optim (AdamW with a mixed decay mask); slots it does not use
 * are poisoned and must stay untouched. */
ct_status ct_check_optim_case(ct_runtime *rt, const ct_optim *o, size_t count, long t,
                              uint64_t seed, double *err);
/* The optimizer settings the checks cover (AdamW, SGD plain/momentum/nesterov, RMSprop
 * plain/momentum) into out (CT_CHECK_OPTIM_MAX); returns how many. */
#define CT_CHECK_OPTIM_MAX 8
int ct_check_optim_configs(ct_optim *out);
/* One layer built from its token through its class's record alone (parse, infer, params,
 * fusion, create, forward at inference) against the class's ref_forward. Input c x h x w
 * (flat: c features, h = w = 1). */
ct_status ct_check_layer_case(ct_runtime *rt, const char *token, int n, int c, int h, int w,
                              int flat, uint64_t seed, double *err);

/* The selftest entries (a few shapes each): the layer classes point at theirs
 * (ct_layer_class.checks); loss and Adam are listed in selftest_list.h. */
ct_status ct_check_pool_forward(ct_runtime *rt, double *max_err);
ct_status ct_check_pool_backward(ct_runtime *rt, double *max_err);
ct_status ct_check_act_forward(ct_runtime *rt, double *max_err);
ct_status ct_check_act_backward(ct_runtime *rt, double *max_err);
ct_status ct_check_dense_forward(ct_runtime *rt, double *max_err);
ct_status ct_check_dense_backward(ct_runtime *rt, double *max_err);
ct_status ct_check_dropout(ct_runtime *rt, double *max_err);
ct_status ct_check_loss(ct_runtime *rt, double *max_err);
ct_status ct_check_adam(ct_runtime *rt, double *max_err);
ct_status ct_check_optim(ct_runtime *rt, double *max_err);

#endif
