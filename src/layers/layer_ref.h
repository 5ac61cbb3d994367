/* Plain-C references (double precision) for the layer kernels of layers.h, used by the
 * selftest checks (src/layers/layer_check.c), tests/test_layers.c and tests/test_model.c. Same
 * layouts as the device: NCHW, dense weights [out][in]. */
#ifndef CT_LAYER_REF_H
#define CT_LAYER_REF_H

#include "layers/layer.h"

void ct_ref_pool_fwd(int nc, int h, int w, int p, int s, const double *x, double *y);
/* relu: also the backward of a relu that produced x (x > 0). */
void ct_ref_pool_bwd(int nc, int h, int w, int p, int s, int relu, const double *x,
                     const double *dy, double *dx);
/* Average pooling, ph x pw windows, strides sh, sw, valid windows (avgpool, gap). */
void ct_ref_avgpool_fwd(int nc, int h, int w, int ph, int pw, int sh, int sw, const double *x,
                        double *y);
void ct_ref_avgpool_bwd(int nc, int h, int w, int ph, int pw, int sh, int sw, const double *dy,
                        double *dx);
/* act NONE/RELU/SIGMOID/TANH/LEAKYRELU (slope alpha) elementwise, SOFTMAX per row of
 * `features`. */
void ct_ref_act_fwd(ct_act act, float alpha, int n, int features, const double *x, double *y);
void ct_ref_act_bwd(ct_act act, float alpha, int n, int features, const double *y,
                    const double *dy, double *dx);
void ct_ref_dense_fwd(int n, int in, int out, ct_act act, float alpha, const double *x,
                      const double *w, const double *b, double *y);
/* dy w.r.t. the pre-activation output; dx may be NULL. */
void ct_ref_dense_bwd(int n, int in, int out, const double *x, const double *w, const double *dy,
                      double *dx, double *dw, double *db);
void ct_ref_dropout(size_t count, float rate, uint32_t seed, uint32_t step, const double *x,
                    double *y);
/* Per-sample loss/correct and, when dz != NULL, the mean-over-batch gradient; returns the
 * mean loss. classes == 1: sigmoid + BCE, else softmax + CCE. */
double ct_ref_loss(int n, int classes, const double *z, const int *labels, double *loss,
                   double *correct, double *dz);
/* The same with class weights cw (NULL: all 1): loss[i] and dz rows times cw[label]; the
 * mean is sum(w l) / n (Keras). */
double ct_ref_loss_w(int n, int classes, const double *z, const int *labels, const double *cw,
                     double *loss, double *correct, double *dz);
/* The t best classes per sample as ct_loss_topk (classes == 1: t = 1). */
void ct_ref_topk(int n, int classes, int t, const double *z, int *top);
/* Keras Adam on count values, step t >= 1. */
void ct_ref_adam(size_t count, double lr, double b1, double b2, double eps, long t, double *p,
                 const double *g, double *m, double *v);
/* Any optimizer (Keras 3 forms, in double) on count values, step t >= 1; m, v as
 * ct_optim_update uses the slots; decay: AdamW's mask (1 = decayed). */
void ct_ref_optim(const ct_optim *o, size_t count, long t, double *p, const double *g, double *m,
                  double *v, const unsigned char *decay);

/* Batchnorm over x[n][C][hw] (flat: hw = 1), eps as the layer's (1e-3). train: batch mean
 * and biased variance (written to bmean/bvar when not NULL), else the moving mm/mv.
 * y = act((x - mean) / sqrt(var + eps) * gamma + beta), act NONE or RELU. */
void ct_ref_bn_fwd(int n, int C, int hw, int train, double eps, ct_act act, const double *x,
                   const double *gamma, const double *beta, const double *mm, const double *mv,
                   double *y, double *bmean, double *bvar);
/* Keras's moving update: m = m * momentum + batch * (1 - momentum). */
void ct_ref_bn_moving(int C, double momentum, const double *bmean, const double *bvar, double *mm,
                      double *mv);
/* From dy w.r.t. the output (relu: masked by the forward output y > 0): dgamma, dbeta and,
 * when dx != NULL, dx, with the statistics recomputed as in ct_ref_bn_fwd. */
void ct_ref_bn_bwd(int n, int C, int hw, int train, double eps, ct_act act, const double *x,
                   const double *gamma, const double *mm, const double *mv, const double *y,
                   const double *dy, double *dx, double *dgamma, double *dbeta);

/* Whole layers, for the layer classes' ref_forward (layers/layer.h): x[n][in_feat] ->
 * y[n][out_feat] with the layer's shapes and activation, parameters p in model order. */
void ct_ref_layer_conv(const ct_layer *l, int n, const double *x, const double *const *p,
                       double *y);
void ct_ref_layer_maxpool(const ct_layer *l, int n, const double *x, const double *const *p,
                          double *y);
void ct_ref_layer_avgpool(const ct_layer *l, int n, const double *x, const double *const *p,
                          double *y);
void ct_ref_layer_gap(const ct_layer *l, int n, const double *x, const double *const *p,
                      double *y);
void ct_ref_layer_dense(const ct_layer *l, int n, const double *x, const double *const *p,
                        double *y);
void ct_ref_layer_activation(const ct_layer *l, int n, const double *x, const double *const *p,
                             double *y);
void ct_ref_layer_batchnorm(const ct_layer *l, int n, const double *x, const double *const *p,
                            double *y);
/* y = x (flatten; dropout at inference). */
void ct_ref_layer_copy(const ct_layer *l, int n, const double *x, const double *const *p,
                       double *y);

/* float <-> double array helpers */
void ct_to_double(const float *a, double *b, size_t n);
void ct_to_float(const double *a, float *b, size_t n);

#endif
