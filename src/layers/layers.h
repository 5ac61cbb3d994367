/* Host side of the layer kernels (cl/pool.cl, act.cl, dropout.cl, loss.cl, adam.cl,
 * optim.cl) and the dense layer (ct_gemm + cl/act.cl), one function group per layer file
 * (maxpool.c, activation.c, dense.c, dropout.c, loss.c; optimizers: model/optim.c).
 * Internal to the library: the layer classes (layers/layer.h) drive them; the checks and
 * tests call them directly.
 * All calls only enqueue. Tensors are NCHW (flat tensors [n][features]); all cl_mem hold
 * float32 except labels (int32). */
#ifndef CT_LAYERS_H
#define CT_LAYERS_H

#include "ops/ops.h"

/* Kernel objects for one runtime, created once (kernels are not shared across threads):
 * the ones each layer class lists (ct_layer_class.kernels) plus the loss's and Adam's. */
typedef struct ct_layer_kernels {
    ct_runtime *rt;
    cl_kernel pool_fwd, pool_bwd, pool_bwd_cells, pool2_fwd_rows, pool2_bwd_idx;
    cl_kernel act_fwd, act_bwd, softmax_fwd, softmax_bwd, bias_act, bias_grad;
    cl_kernel dropout_fwd, dropout_bwd;
    cl_kernel avgpool_fwd, avgpool_bwd;
    cl_kernel bn_stats, bn_apply, bn_bwd_reduce, bn_bwd_dx;
    cl_kernel bn_part, bn_set_stats; /* --sync-bn */
    cl_kernel loss_binary, loss_softmax, loss_reduce, output_probs, loss_topk;
    cl_kernel adam, adamw, sgd, rmsprop;
    size_t reduce_wg; /* work-group size for ct_loss_reduce (power of two) */
} ct_layer_kernels;

ct_status ct_layer_kernels_init(ct_runtime *rt, ct_layer_kernels *k);
void ct_layer_kernels_free(ct_layer_kernels *k);

/* Max-pool, pool p x p, stride s, valid windows: oh = (h - p) / s + 1 (Keras floor). */
static inline int ct_pool_out(int h, int p, int s) { return h < p ? 0 : (h - p) / s + 1; }
/* idx: NULL, or (pool 2 stride 2 only) where the argmax index goes, one byte per output
 * (cl/pool.cl, ct_pool2_fwd_rows). */
ct_status ct_pool_forward(ct_layer_kernels *k, int n, int c, int h, int w, int p, int s, cl_mem x,
                          cl_mem y, cl_mem idx);
/* dx from dy; relu != 0 also applies the backward of a ReLU that produced x. Pool 2
 * stride 2 reads the forward's index idx (x unused); the other pools read x (idx unused). */
ct_status ct_pool_backward(ct_layer_kernels *k, int n, int c, int h, int w, int p, int s, int relu,
                           cl_mem x, cl_mem idx, cl_mem dy, cl_mem dx);

/* Average pooling (avgpool, gap), ph x pw windows, strides sh, sw, valid windows:
 * oh = (h - ph) / sh + 1. Backward needs only dy. */
ct_status ct_avgpool_forward(ct_layer_kernels *k, int n, int c, int h, int w, int ph, int pw,
                             int sh, int sw, cl_mem x, cl_mem y);
ct_status ct_avgpool_backward(ct_layer_kernels *k, int n, int c, int h, int w, int ph, int pw,
                              int sh, int sw, cl_mem dy, cl_mem dx);

/* Elementwise relu/sigmoid/tanh/leakyrelu (act != SOFTMAX; alpha: leakyrelu's slope, else
 * ignored) or softmax over rows of `features` (SOFTMAX). y may be x; dx may be dy. Backward
 * reads the forward's output y. CT_ACT_NONE: copy/no-op. */
ct_status ct_act_forward(ct_layer_kernels *k, ct_act act, float alpha, int n, int features,
                         cl_mem x, cl_mem y);
ct_status ct_act_backward(ct_layer_kernels *k, ct_act act, float alpha, int n, int features,
                          cl_mem y, cl_mem dy, cl_mem dx);

/* Dense: y[n][out] = act(x[n][in] * W^T + b), W is [out][in] (PyTorch layout). */
ct_status ct_dense_forward(ct_layer_kernels *k, int n, int in, int out, ct_act act, float alpha,
                           cl_mem x, cl_mem w, cl_mem b, cl_mem y);
/* From dy (gradient w.r.t. the PRE-activation output): dw = dy^T x, db = column sums of dy
 * (both overwritten), dx = dy W (skipped when dx is NULL). */
ct_status ct_dense_backward(ct_layer_kernels *k, int n, int in, int out, cl_mem x, cl_mem w,
                            cl_mem dy, cl_mem dx, cl_mem dw, cl_mem db);

/* Inverted dropout over count elements; the mask depends only on (seed, step, index). */
ct_status ct_dropout_forward(ct_layer_kernels *k, size_t count, float rate, uint32_t seed,
                             uint32_t step, cl_mem x, cl_mem y);
ct_status ct_dropout_backward(ct_layer_kernels *k, size_t count, float rate, uint32_t seed,
                              uint32_t step, cl_mem dy, cl_mem dx);
/* The host-side mask (1 keep, 0 drop), the same function the kernels use. */
int ct_dropout_keep_host(uint32_t seed, uint32_t step, uint32_t i, float rate);
uint32_t ct_hash3_host(uint32_t a, uint32_t b, uint32_t c);

/* Batch normalisation over x[n][C][hw] (flat: hw = 1), per channel. stat holds 3C floats
 * (mean, 1/sqrt(var + eps), gamma/sqrt(var + eps)) for the backward pass. train: batch mean
 * and biased variance, and the moving statistics updated (m = m * momentum + batch *
 * (1 - momentum), Keras); else the moving statistics. y = (x - mean) * scale + beta, then
 * act (NONE or RELU). */
ct_status ct_bn_forward(ct_layer_kernels *k, int n, int C, int hw, int train, float eps,
                        double momentum, ct_act act, cl_mem x, cl_mem gamma, cl_mem beta,
                        cl_mem mmean, cl_mem mvar, cl_mem stat, cl_mem y);
/* From dy (w.r.t. the output, act included; act NONE when the next layer applied it):
 * dgamma, dbeta (overwritten) and, when dx != NULL, dx (may be dy). train as in forward. */
ct_status ct_bn_backward(ct_layer_kernels *k, int n, int C, int hw, int train, ct_act act,
                         cl_mem x, cl_mem y, cl_mem dy, cl_mem stat, cl_mem dgamma, cl_mem dbeta,
                         cl_mem dx);

/* Loss from logits z[n][classes] (classes == 1: sigmoid + binary cross-entropy; else
 * softmax + categorical cross-entropy), labels int32. Writes per-sample loss/correct into
 * stats (2n floats), adds their sums to sums[0] (loss, Kahan-compensated with sums[1]) and
 * sums[2] (correct). dz (mean-over-batch gradient w.r.t. z) is written when not NULL. */
ct_status ct_loss_forward(ct_layer_kernels *k, int n, int classes, cl_mem z, cl_mem labels,
                          cl_mem stats, cl_mem sums, cl_mem dz);
/* The same with class weights cw (one float per class, or NULL: none): each sample's loss
 * and gradient times cw[label], the mean still over n (Keras's class_weight). */
ct_status ct_loss_forward_w(ct_layer_kernels *k, int n, int classes, cl_mem z, cl_mem labels,
                            cl_mem cw, cl_mem stats, cl_mem sums, cl_mem dz);
/* The t best classes per sample (best first; classes == 1: t = 1, sigmoid > 0.5) into
 * top (n * t int32). */
ct_status ct_loss_topk(ct_layer_kernels *k, int n, int classes, int t, cl_mem z, cl_mem top);
/* Probabilities (sigmoid or softmax) of the logits. */
ct_status ct_output_probs(ct_layer_kernels *k, int n, int classes, cl_mem z, cl_mem p);

/* One Adam step over count floats (whole slabs). t >= 1 is the step number. */
ct_status ct_adam_update(ct_layer_kernels *k, size_t count, double lr, double b1, double b2,
                         double eps, long t, cl_mem p, cl_mem g, cl_mem m, cl_mem v);

/* The optimizers (Keras 3 semantics and defaults; docs/TRAINING.md). The first four fields
 * are those of the older ct_adam, so {lr, b1, b2, eps} still means Adam. */
typedef enum { CT_OPTIM_ADAM = 0, CT_OPTIM_ADAMW, CT_OPTIM_SGD, CT_OPTIM_RMSPROP } ct_optim_kind;
typedef struct ct_optim {
    double lr, beta1, beta2, eps; /* Adam/AdamW (eps also RMSprop's), in double so 1 - beta
                                   * rounds once as in Keras */
    ct_optim_kind kind;
    double momentum;     /* SGD, RMSprop: 0 = no momentum slot */
    int nesterov;        /* SGD with momentum */
    double rho;          /* RMSprop */
    double weight_decay; /* AdamW: decoupled, on the elements the decay mask marks */
} ct_optim;
/* Keras's defaults of an optimizer (lr 1e-3; SGD 1e-2; AdamW weight decay 0.004). */
void ct_optim_defaults(ct_optim_kind kind, ct_optim *o);
/* "adam", "adamw", "sgd", "rmsprop"; parse returns -1 for another name. */
const char *ct_optim_name(ct_optim_kind kind);
int ct_optim_parse(const char *name);
/* One line naming the optimizer and every hyperparameter that matters to it but the
 * learning rate, e.g. "sgd momentum=0.9 nesterov=1" (what a checkpoint records). */
int ct_optim_describe(const ct_optim *o, char *out, size_t n);
/* One step of o over count floats: m and v are the slot slabs (Adam: m, v; SGD: m the
 * momentum; RMSprop: v the velocity, m the momentum), decay a byte per element (AdamW:
 * 1 = decayed). t >= 1 is the step number (Adam's bias correction). */
ct_status ct_optim_update(ct_layer_kernels *k, const ct_optim *o, size_t count, long t, cl_mem p,
                          cl_mem g, cl_mem m, cl_mem v, cl_mem decay);

#endif
