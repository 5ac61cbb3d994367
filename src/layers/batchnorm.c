/* Batch normalisation: batchnorm[:relu|linear] (Keras BatchNormalization with its defaults:
 * momentum 0.99, epsilon 1e-3, gamma 1, beta 0, moving mean 0, moving variance 1). Per
 * channel after a conv (statistics over N, H, W), per unit after a dense (over N).
 * Training uses the batch mean and biased variance and updates the moving statistics
 * (moving = moving * 0.99 + batch * 0.01, the biased variance as Keras); inference
 * (evaluate, predict, validation) uses the moving statistics. gamma/beta are trainable
 * (layers.<i>.weight/bias, PyTorch's names); the moving statistics are non-trainable
 * tensors (layers.<i>.running_mean/running_var). A relu after it runs in its apply kernel
 * (CT_FUSE_OWN_ACT). Kernels: cl/batchnorm.cl. */
#include <stdlib.h>
#include <string.h>

#include "layers/graph.h"
#include "layers/layer_check.h"
#include "layers/layer_ref.h"
#include "layers/layer.h"
#include "runtime/tensor.h"

#define BN_EPS 1e-3f
#define BN_MOMENTUM 0.99

/* The largest power of two <= the kernel's and the device's work-group limits, at most 256,
 * whose local buffer fits. */
static size_t reduce_wg(ct_layer_kernels *k, cl_kernel kern) {
    size_t kwg = 0, lim = k->rt->max_wg < 256 ? k->rt->max_wg : 256;
    clGetKernelWorkGroupInfo(kern, k->rt->dev.did, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg, &kwg,
                             NULL);
    if (kwg && kwg < lim) lim = kwg;
    size_t wg = 1;
    while (wg * 2 <= lim && wg * 2 * sizeof(float) <= k->rt->local_mem) wg *= 2;
    return wg;
}

/* y = act((x - mean) * scale + beta) from stat (ct_bn_apply). */
static ct_status launch_apply(ct_layer_kernels *k, int n, int C, int hw, int a, cl_mem x,
                              cl_mem stat, cl_mem beta, cl_mem y) {
    int total = n * C * hw;
    size_t gt = (size_t)total;
    CT_TRY(ct_set_args(k->bn_apply, 8, sizeof total, &total, sizeof C, &C, sizeof hw, &hw,
                       sizeof a, &a, sizeof x, &x, sizeof stat, &stat, sizeof beta, &beta,
                       sizeof y, &y));
    return ct_launch(k->rt, k->bn_apply, 1, &gt, NULL);
}

/* dx from the channel sums dgamma / dbeta over M values (ct_bn_bwd_dx). */
static ct_status launch_dx(ct_layer_kernels *k, int n, int C, int hw, int M, int train, int a,
                           cl_mem x, cl_mem y, cl_mem dy, cl_mem stat, cl_mem dgamma,
                           cl_mem dbeta, cl_mem dx) {
    int total = n * C * hw;
    size_t gt = (size_t)total;
    CT_TRY(ct_set_args(k->bn_bwd_dx, 13, sizeof total, &total, sizeof C, &C, sizeof hw, &hw,
                       sizeof M, &M, sizeof train, &train, sizeof a, &a, sizeof x, &x, sizeof y,
                       &y, sizeof dy, &dy, sizeof stat, &stat, sizeof dgamma, &dgamma,
                       sizeof dbeta, &dbeta, sizeof dx, &dx));
    return ct_launch(k->rt, k->bn_bwd_dx, 1, &gt, NULL);
}

ct_status ct_bn_forward(ct_layer_kernels *k, int n, int C, int hw, int train, float eps,
                        double momentum, ct_act act, cl_mem x, cl_mem gamma, cl_mem beta,
                        cl_mem mmean, cl_mem mvar, cl_mem stat, cl_mem y) {
    if ((size_t)n * C * hw > 0x7fffffffu)
        return ct_set_error(CT_ERR_SHAPE, "batchnorm over %dx%dx%d values exceeds 32-bit indexing",
                            n, C, hw);
    float mom = (float)momentum, omm = (float)(1.0 - momentum); /* 1 - momentum in double */
    int a = act == CT_ACT_RELU;
    size_t wg = reduce_wg(k, k->bn_stats), g = (size_t)C * wg;
    CT_TRY(ct_set_args(k->bn_stats, 13, sizeof n, &n, sizeof C, &C, sizeof hw, &hw, sizeof train,
                       &train, sizeof eps, &eps, sizeof mom, &mom, sizeof omm, &omm, sizeof x, &x,
                       sizeof gamma, &gamma, sizeof mmean, &mmean, sizeof mvar, &mvar,
                       sizeof stat, &stat, wg * sizeof(float), (const void *)NULL));
    CT_TRY(ct_launch(k->rt, k->bn_stats, 1, &g, &wg));
    return launch_apply(k, n, C, hw, a, x, stat, beta, y);
}

ct_status ct_bn_backward(ct_layer_kernels *k, int n, int C, int hw, int train, ct_act act,
                         cl_mem x, cl_mem y, cl_mem dy, cl_mem stat, cl_mem dgamma, cl_mem dbeta,
                         cl_mem dx) {
    int a = act == CT_ACT_RELU;
    size_t wg = reduce_wg(k, k->bn_bwd_reduce), g = (size_t)C * wg;
    CT_TRY(ct_set_args(k->bn_bwd_reduce, 11, sizeof n, &n, sizeof C, &C, sizeof hw, &hw,
                       sizeof a, &a, sizeof x, &x, sizeof y, &y, sizeof dy, &dy, sizeof stat,
                       &stat, sizeof dgamma, &dgamma, sizeof dbeta, &dbeta, wg * sizeof(float),
                       (const void *)NULL));
    CT_TRY(ct_launch(k->rt, k->bn_bwd_reduce, 1, &g, &wg));
    if (!dx) return CT_OK;
    return launch_dx(k, n, C, hw, n * hw, train, a, x, y, dy, stat, dgamma, dbeta, dx);
}

/* ---- the layer class ---- */

static int claims(const ct_spec_token *t) { return ct_spec_head_is(t, "batchnorm"); }

static ct_status parse(const ct_spec_token *t, ct_layer_spec *L) {
    if (t->fl[0] != 9)
        return ct_set_error(CT_ERR_ARG, "'%.*s': batchnorm takes no number or suffix; write batchnorm or "
                            "batchnorm:relu", t->len, t->t);
    if (t->nf > 2)
        return ct_set_error(CT_ERR_ARG, "'%.*s': batchnorm takes at most one option, its "
                            "activation (relu or linear)", t->len, t->t);
    ct_act a = CT_ACT_NONE;
    float alpha = 0;
    if (t->nf == 2 && (!ct_spec_act(t->f[1], t->fl[1], &a, &alpha, 0) ||
                       (a != CT_ACT_RELU && a != CT_ACT_NONE)))
        return ct_set_error(CT_ERR_ARG, "'%.*s': unknown batchnorm option '%.*s' (expected relu "
                            "or linear)", t->len, t->t, t->fl[1], t->f[1]);
    L->act = a;
    return CT_OK;
}

static int format(const ct_layer_spec *L, char *out, size_t n) {
    return snprintf(out, n, "%s", L->act == CT_ACT_RELU ? "batchnorm:relu" : "batchnorm");
}

static ct_status infer(ct_layer *l) {
    if (!l->after_params)
        return ct_set_error(CT_ERR_SHAPE, "batchnorm normalises the output of a conv or dense "
                            "layer and must come after one (e.g. conv32:3,batchnorm:relu or "
                            "dense64,batchnorm:relu); here none comes before it");
    l->flat_out = l->flat_in;
    l->oc = l->ic;
    l->oh = l->ih;
    l->ow = l->iw;
    return CT_OK;
}

static int params(const ct_layer *l, ct_param_desc *p) {
    p[0] = (ct_param_desc){"weight", CT_INIT_ONES, 1, {l->oc, 0, 0, 0}, 1};  /* gamma */
    p[1] = (ct_param_desc){"bias", CT_INIT_ZEROS, 1, {l->oc, 0, 0, 0}, 1};   /* beta */
    return 2;
}

static int nontrainable(const ct_layer *l, ct_param_desc *p) {
    p[0] = (ct_param_desc){"running_mean", CT_INIT_ZEROS, 1, {l->oc, 0, 0, 0}, 1};
    p[1] = (ct_param_desc){"running_var", CT_INIT_ONES, 1, {l->oc, 0, 0, 0}, 1};
    return 2;
}

/* Per-layer state: the statistics of the last forward pass, read by the backward. */
typedef struct bn_state {
    cl_mem stat; /* 3 * C floats */
    cl_mem sa, sb; /* --sync-bn: 2 * C and C floats (mean and variance / parts; dgamma, dbeta) */
    float *h;      /* --sync-bn: 2 * C host floats */
} bn_state;

static ct_status create(ct_runtime *rt, ct_layer *l) {
    bn_state *st = calloc(1, sizeof *st);
    if (!st) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    l->state = st;
    CT_TRY(ct_buffer_create(rt, "batchnorm statistics", 3 * (size_t)l->oc * sizeof(float),
                            CL_MEM_READ_WRITE, &st->stat));
    CT_TRY(ct_buffer_create(rt, "batchnorm sync A", 2 * (size_t)l->oc * sizeof(float),
                            CL_MEM_READ_WRITE, &st->sa));
    CT_TRY(ct_buffer_create(rt, "batchnorm sync B", (size_t)l->oc * sizeof(float),
                            CL_MEM_READ_WRITE, &st->sb));
    if (!(st->h = malloc(2 * (size_t)l->oc * sizeof *st->h)))
        return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    return ct_fill(rt, st->stat, 0, 3 * (size_t)l->oc * sizeof(float), 0.0f);
}

static void destroy(ct_layer *l) {
    bn_state *st = l->state;
    if (!st) return;
    if (st->stat) clReleaseMemObject(st->stat);
    if (st->sa) clReleaseMemObject(st->sa);
    if (st->sb) clReleaseMemObject(st->sb);
    free(st->h);
    free(st);
    l->state = NULL;
}

static int hw_of(const ct_layer *l) { return l->flat_in ? 1 : l->ih * l->iw; }

static ct_status forward(ct_layer *l, const ct_layer_run *r) {
    bn_state *st = l->state;
    return ct_bn_forward(r->K, r->n, l->oc, hw_of(l), r->train, BN_EPS, BN_MOMENTUM, l->s.act,
                         l->x, l->param[0], l->param[1], l->nt[0], l->nt[1], st->stat, l->y);
}

static ct_status backward(ct_layer *l, const ct_layer_run *r, ct_layer_grad *g) {
    bn_state *st = l->state;
    ct_act a = l->act_bwd_by_next ? CT_ACT_NONE : l->s.act;
    return ct_bn_backward(r->K, r->n, l->oc, hw_of(l), r->train, a, l->x, l->y, g->dy, st->stat,
                          l->grad[0], l->grad[1], l->need_dx ? g->dy : NULL);
}

/* --sync-bn forward: phase 0 gives each channel's sum / (N hw), whose sum over the replicas
 * is the batch mean; phase 1 takes it and gives the squared deviations / (N hw), whose sum is
 * the (biased) batch variance; phase 2 takes that, sets the statistics (moving ones
 * included) and normalises. N: the global batch (r->total). */
static ct_status sync_forward(ct_layer *l, const ct_layer_run *r, int phase, const double *in,
                              double *out, int *n_out) {
    bn_state *st = l->state;
    ct_layer_kernels *k = r->K;
    int C = l->oc, hw = hw_of(l), n = r->n;
    double M = (double)(r->total ? r->total : n) * hw;
    *n_out = 0;
    if (phase == 1 || phase == 2) { /* mean (phase 1) or variance (phase 2) into sa */
        for (int c = 0; c < C; c++) st->h[c] = (float)in[c];
        CT_TRY(ct_upload(k->rt, st->sa, (size_t)(phase - 1) * C * sizeof(float),
                         (size_t)C * sizeof(float), st->h));
    }
    if (phase <= 1) {
        int sq = phase;
        size_t wg = reduce_wg(k, k->bn_part), g = (size_t)C * wg;
        CT_TRY(ct_set_args(k->bn_part, 8, sizeof n, &n, sizeof C, &C, sizeof hw, &hw, sizeof sq,
                           &sq, sizeof l->x, &l->x, sizeof st->sa, &st->sa, sizeof st->sb,
                           &st->sb, wg * sizeof(float), (const void *)NULL));
        CT_TRY(ct_launch(k->rt, k->bn_part, 1, &g, &wg));
        CT_TRY(ct_download(k->rt, st->sb, 0, (size_t)C * sizeof(float), st->h));
        for (int c = 0; c < C; c++) out[c] = (double)st->h[c] / M;
        *n_out = C;
        return CT_OK;
    }
    float eps = BN_EPS, mom = (float)BN_MOMENTUM, omm = (float)(1.0 - BN_MOMENTUM);
    size_t gc = (size_t)C;
    CT_TRY(ct_set_args(k->bn_set_stats, 9, sizeof C, &C, sizeof eps, &eps, sizeof mom, &mom,
                       sizeof omm, &omm, sizeof st->sa, &st->sa, sizeof l->param[0], &l->param[0],
                       sizeof l->nt[0], &l->nt[0], sizeof l->nt[1], &l->nt[1], sizeof st->stat,
                       &st->stat));
    CT_TRY(ct_launch(k->rt, k->bn_set_stats, 1, &gc, NULL));
    return launch_apply(k, n, C, hw, l->s.act == CT_ACT_RELU, l->x, st->stat, l->param[1], l->y);
}

/* --sync-bn backward: phase 0 computes this replica's dgamma / dbeta (its gradient slots
 * keep them: the gradient sum adds them) and gives them weighted n / N (the replica's loss
 * is a mean over its n, the model's over N); phase 1 takes their sum over the replicas,
 * scales it back to this replica's loss (N / n) and computes dx over all N hw values. */
static ct_status sync_backward(ct_layer *l, const ct_layer_run *r, ct_layer_grad *g, int phase,
                               const double *in, double *out, int *n_out) {
    bn_state *st = l->state;
    ct_layer_kernels *k = r->K;
    int C = l->oc, hw = hw_of(l), n = r->n, N = r->total ? r->total : n;
    ct_act a = l->act_bwd_by_next ? CT_ACT_NONE : l->s.act;
    *n_out = 0;
    if (phase == 0) {
        CT_TRY(ct_bn_backward(k, n, C, hw, 1, a, l->x, l->y, g->dy, st->stat, l->grad[0],
                              l->grad[1], NULL));
        if (!l->need_dx) return CT_OK;
        CT_TRY(ct_download(k->rt, l->grad[0], 0, (size_t)C * sizeof(float), st->h));
        CT_TRY(ct_download(k->rt, l->grad[1], 0, (size_t)C * sizeof(float), st->h + C));
        double w = (double)n / (double)N;
        for (int c = 0; c < 2 * C; c++) out[c] = w * (double)st->h[c];
        *n_out = 2 * C;
        return CT_OK;
    }
    double s = (double)N / (double)n;
    for (int c = 0; c < 2 * C; c++) st->h[c] = (float)(in[c] * s);
    CT_TRY(ct_upload(k->rt, st->sa, 0, (size_t)C * sizeof(float), st->h));
    CT_TRY(ct_upload(k->rt, st->sb, 0, (size_t)C * sizeof(float), st->h + C));
    return launch_dx(k, n, C, hw, N * hw, 1, a == CT_ACT_RELU, l->x, l->y, g->dy, st->stat,
                     st->sa, st->sb, g->dy);
}

static double flops(const ct_layer *l) { return 4.0 * (double)l->out_feat; }

/* ONNX BatchNormalization in inference mode (the moving statistics; [N, C, H, W] after a
 * conv, [N, C] after a dense), then the fused activation. p: gamma, beta, then the
 * non-trainable moving mean and variance. */
static ct_status export_onnx(const ct_layer *l, const float *const *p, ct_graph *g) {
    static const char *const sfx[4] = {"weight", "bias", "running_mean", "running_var"};
    char nm[4][CT_GRAPH_NAME];
    int64_t d[1] = {l->oc};
    for (int j = 0; j < 4; j++) CT_TRY(ct_graph_add_f32(g, sfx[j], 1, d, p[j], nm[j]));
    const char *ex[4] = {nm[0], nm[1], nm[2], nm[3]};
    ct_graph_attr at[2] = {ct_gattr_float("epsilon", (float)BN_EPS),
                           ct_gattr_float("momentum", (float)BN_MOMENTUM)};
    CT_TRY(ct_graph_apply(g, "BatchNormalization", 4, ex, 2, at));
    return ct_act_export(g, l->s.act, l->s.alpha);
}

static const ct_kernel_ref kernels[] = {
    {"batchnorm", "ct_bn_stats", offsetof(ct_layer_kernels, bn_stats)},
    {"batchnorm", "ct_bn_apply", offsetof(ct_layer_kernels, bn_apply)},
    {"batchnorm", "ct_bn_bwd_reduce", offsetof(ct_layer_kernels, bn_bwd_reduce)},
    {"batchnorm", "ct_bn_bwd_dx", offsetof(ct_layer_kernels, bn_bwd_dx)},
    {"batchnorm", "ct_bn_part", offsetof(ct_layer_kernels, bn_part)},
    {"batchnorm", "ct_bn_set_stats", offsetof(ct_layer_kernels, bn_set_stats)},
    {NULL, NULL, 0},
};

static const ct_selftest checks[] = {
    {"batchnorm.forward", ct_check_bn_forward},
    {"batchnorm.backward", ct_check_bn_backward},
    {NULL, NULL},
};

const ct_layer_class ct_layer_batchnorm = {
    .name = "batchnorm",
    .keras = "BatchNormalization",
    .grammar = "batchnorm[:relu|linear]",
    .words = "batchnorm",
    .claims = claims,
    .parse = parse,
    .format = format,
    .infer = infer,
    .params = params,
    .nontrainable = nontrainable,
    .fuse = CT_FUSE_OWN_ACT,
    .create = create,
    .destroy = destroy,
    .forward = forward,
    .backward = backward,
    .flops = flops,
    .export_onnx = export_onnx,
    .kernels = kernels,
    .ref_forward = ct_ref_layer_batchnorm,
    .checks = checks,
    .sync_forward = sync_forward,
    .sync_backward = sync_backward,
};
