/* The optimizers with Keras 3 semantics, each one launch over the whole parameter slab
 * (cl/adam.cl, cl/optim.cl). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "layers/layers.h"

static const char *const names[] = {"adam", "adamw", "sgd", "rmsprop"};

const char *ct_optim_name(ct_optim_kind kind) {
    return (unsigned)kind < 4 ? names[kind] : "?";
}

int ct_optim_parse(const char *name) {
    for (int i = 0; name && i < 4; i++)
        if (!strcmp(name, names[i])) return i;
    return -1;
}

void ct_optim_defaults(ct_optim_kind kind, ct_optim *o) {
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->lr = kind == CT_OPTIM_SGD ? 1e-2 : 1e-3;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-7;
    o->rho = 0.9;
    o->weight_decay = kind == CT_OPTIM_ADAMW ? 0.004 : 0.0;
}

int ct_optim_describe(const ct_optim *o, char *out, size_t n) {
    switch (o->kind) {
    case CT_OPTIM_ADAM:
        return snprintf(out, n, "adam beta1=%.12g beta2=%.12g epsilon=%.12g", o->beta1, o->beta2,
                        o->eps);
    case CT_OPTIM_ADAMW:
        return snprintf(out, n, "adamw beta1=%.12g beta2=%.12g epsilon=%.12g weight_decay=%.12g",
                        o->beta1, o->beta2, o->eps, o->weight_decay);
    case CT_OPTIM_SGD:
        return snprintf(out, n, "sgd momentum=%.12g nesterov=%d", o->momentum, o->nesterov);
    case CT_OPTIM_RMSPROP:
        return snprintf(out, n, "rmsprop rho=%.12g momentum=%.12g epsilon=%.12g", o->rho,
                        o->momentum, o->eps);
    }
    return snprintf(out, n, "?");
}

ct_status ct_adam_update(ct_layer_kernels *k, size_t count, double lr, double b1, double b2,
                         double eps, long t, cl_mem p, cl_mem g, cl_mem m, cl_mem v) {
    if (count > (size_t)INT_MAX)
        return ct_set_error(CT_ERR_SHAPE, "Adam over %zu parameters exceeds 32-bit indexing", count);
    if (t < 1) return ct_set_error(CT_ERR_ARG, "Adam step number %ld must be >= 1", t);
    /* Keras: alpha_t = lr * sqrt(1 - b2^t) / (1 - b1^t), t = iterations + 1 (float32 there;
     * double here, the difference is far below float rounding of the update). */
    double alpha = lr * sqrt(1.0 - pow(b2, (double)t)) / (1.0 - pow(b1, (double)t));
    int n = (int)count;
    float fa = (float)alpha, f1 = (float)(1.0 - b1), f2 = (float)(1.0 - b2), fe = (float)eps;
    CT_TRY(ct_set_args(k->adam, 9, sizeof n, &n, sizeof fa, &fa, sizeof f1, &f1, sizeof f2, &f2,
                       sizeof fe, &fe, sizeof p, &p, sizeof g, &g, sizeof m, &m, sizeof v, &v));
    return ct_launch(k->rt, k->adam, 1, &count, NULL);
}

ct_status ct_optim_update(ct_layer_kernels *k, const ct_optim *o, size_t count, long t, cl_mem p,
                          cl_mem g, cl_mem m, cl_mem v, cl_mem decay) {
    if (count > (size_t)INT_MAX)
        return ct_set_error(CT_ERR_SHAPE, "%s over %zu parameters exceeds 32-bit indexing",
                            ct_optim_name(o->kind), count);
    int n = (int)count;
    float lr = (float)o->lr, mom = (float)o->momentum;
    int use_m = o->momentum != 0, nest = o->nesterov != 0;
    switch (o->kind) {
    case CT_OPTIM_ADAM:
        return ct_adam_update(k, count, o->lr, o->beta1, o->beta2, o->eps, t, p, g, m, v);
    case CT_OPTIM_ADAMW: {
        if (t < 1) return ct_set_error(CT_ERR_ARG, "AdamW step number %ld must be >= 1", t);
        if (!decay) return ct_set_error(CT_ERR_INTERNAL, "AdamW without a decay mask");
        double alpha = o->lr * sqrt(1.0 - pow(o->beta2, (double)t)) / (1.0 - pow(o->beta1, (double)t));
        float fa = (float)alpha, f1 = (float)(1.0 - o->beta1), f2 = (float)(1.0 - o->beta2);
        float fe = (float)o->eps, fd = (float)o->lr * (float)o->weight_decay; /* Keras: f32 */
        CT_TRY(ct_set_args(k->adamw, 11, sizeof n, &n, sizeof fa, &fa, sizeof f1, &f1, sizeof f2,
                           &f2, sizeof fe, &fe, sizeof fd, &fd, sizeof p, &p, sizeof g, &g,
                           sizeof m, &m, sizeof v, &v, sizeof decay, &decay));
        return ct_launch(k->rt, k->adamw, 1, &count, NULL);
    }
    case CT_OPTIM_SGD:
        CT_TRY(ct_set_args(k->sgd, 8, sizeof n, &n, sizeof lr, &lr, sizeof mom, &mom, sizeof use_m,
                           &use_m, sizeof nest, &nest, sizeof p, &p, sizeof g, &g, sizeof m, &m));
        return ct_launch(k->rt, k->sgd, 1, &count, NULL);
    case CT_OPTIM_RMSPROP: {
        float rho = (float)o->rho, omr = (float)(1.0 - o->rho), fe = (float)o->eps;
        CT_TRY(ct_set_args(k->rmsprop, 11, sizeof n, &n, sizeof lr, &lr, sizeof rho, &rho,
                           sizeof omr, &omr, sizeof fe, &fe, sizeof mom, &mom, sizeof use_m, &use_m,
                           sizeof p, &p, sizeof g, &g, sizeof v, &v, sizeof m, &m));
        return ct_launch(k->rt, k->rmsprop, 1, &count, NULL);
    }
    }
    return ct_set_error(CT_ERR_ARG, "unknown optimizer %d", (int)o->kind);
}
