/* Device-vs-reference checks of the layer kernels (src/layers/layer_check.c). Each runs one case
 * on random inputs with the outputs poisoned; *err = worst error / tolerance (<= 1 passes,
 * NaN gives +inf). */
#ifndef CT_LAYER_CHECK_H
#define CT_LAYER_CHECK_H

#include "layers/layer.h"

ct_status ct_check_pool_case(ct_runtime *rt, int n, int c, int h, int w, int p, int s, int relu,
                             int bwd, uint64_t seed, double *err);
/* Average pooling (avgpool, gap): ph x pw windows, strides sh, sw; bwd checks dx from dy. */
ct_status ct_check_avgpool_case(ct_runtime *rt, int n, int c, int h, int w, int ph, int pw,
                                int sh, int sw, int bwd, uint64_t seed, double *err);
/* alpha: leakyrelu's slope (ignored by the others). */
ct_status ct_check_act_case(ct_runtime *rt, ct_act act, float alpha, int n, int features, int bwd,
                            int in_place, uint64_t seed, double *err);
ct_status ct_check_dense_case(ct_runtime *rt, int n, int in, int out, ct_act act, float alpha,
                              int bwd, uint64_t seed, double *err);
ct_status ct_check_dropout_case(ct_runtime *rt, size_t count, float rate, int bwd, uint64_t seed,
                                double *err);
ct_status ct_check_loss_case(ct_runtime *rt, int n, int classes, uint64_t seed, double *err);
/* weighted: random class weights (ct_loss_forward_w); both also check ct_loss_topk. */
ct_status ct_check_loss_case_w(ct_runtime *rt, int n, int classes, int weighted, uint64_t seed,
                               double *err);
ct_status ct_check_adam_case(ct_runtime *rt, size_t count, long t, uint64_t seed, double *err);
/* Batchnorm over n x C x hw (flat: hw = 1), training or inference statistics, relu fused or
 * not; bwd: the backward after a device forward. */
ct_status ct_check_bn_case(ct_runtime *rt, int n, int C, int hw, int train, int relu, int bwd,
                           uint64_t seed, double *err);
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

/* The same layer for given data (tests: finite differences, the PyTorch golden): init parses
 * and shapes it (host only, as the last layer of a model, input gradient wanted); run does
 * forward of x (n samples) with its parameters p (model order) into y, at inference, and
 * when dy is not NULL the backward from dy into dx and the parameter gradients g. */
typedef struct ct_layer_case {
    ct_layer l;
    int np;
    ct_param_desc pd[CT_LAYER_MAX_PARAMS + CT_LAYER_MAX_NT]; /* parameters, then non-trainable */
    size_t pn[CT_LAYER_MAX_PARAMS + CT_LAYER_MAX_NT];         /* floats per tensor */
} ct_layer_case;
ct_status ct_layer_case_init(const char *token, int n, int c, int h, int w, int flat,
                             ct_layer_case *lc);
ct_status ct_layer_case_run(ct_runtime *rt, ct_layer_case *lc, const float *x,
                            const float *const *p, const float *dy, float *y, float *dx,
                            float *const *g);

/* The selftest entries (a few shapes each): the layer classes point at theirs
 * (ct_layer_class.checks); loss and Adam are listed in selftest_list.h. */
ct_status ct_check_pool_forward(ct_runtime *rt, double *max_err);
ct_status ct_check_pool_backward(ct_runtime *rt, double *max_err);
ct_status ct_check_avgpool_forward(ct_runtime *rt, double *max_err);
ct_status ct_check_avgpool_backward(ct_runtime *rt, double *max_err);
ct_status ct_check_act_forward(ct_runtime *rt, double *max_err);
ct_status ct_check_act_backward(ct_runtime *rt, double *max_err);
ct_status ct_check_dense_forward(ct_runtime *rt, double *max_err);
ct_status ct_check_dense_backward(ct_runtime *rt, double *max_err);
ct_status ct_check_dropout(ct_runtime *rt, double *max_err);
ct_status ct_check_bn_forward(ct_runtime *rt, double *max_err);
ct_status ct_check_bn_backward(ct_runtime *rt, double *max_err);
ct_status ct_check_loss(ct_runtime *rt, double *max_err);
ct_status ct_check_adam(ct_runtime *rt, double *max_err);
ct_status ct_check_optim(ct_runtime *rt, double *max_err);

#endif
