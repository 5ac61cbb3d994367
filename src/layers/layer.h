/* Layer classes: everything about one layer type in one record of operations
 * (ct_layer_class), filled by its file src/layers/<name>.c and listed once in
 * src/layers/registry.c. The model (src/model/model.c) and the spec parser
 * (src/model/spec.c) only call through these records; they never switch on a type.
 * See docs/LAYERS.md, "Adding a layer". */
#ifndef CT_LAYER_H
#define CT_LAYER_H

#include <stdio.h>

#include "check/selftest.h"
#include "layers/layers.h"
#include "tune/tune.h"

typedef struct ct_layer_class ct_layer_class;
typedef struct ct_graph ct_graph; /* layers/graph.h: the ONNX export's graph builder */

/* One parsed spec token. The option slots are shared by the classes: each class's parse
 * sets the ones it uses and leaves the others zero. `act` is the activation at the layer's
 * output (conv, dense: the fused one; an activation layer: its function); the fusion rules
 * below read it. */
typedef struct ct_layer_spec {
    const ct_layer_class *cls;
    int units;       /* conv filters / dense units */
    int k;           /* conv kernel size */
    int stride;      /* conv stride, pool stride */
    int same;        /* conv padding */
    int pool;        /* pool size */
    ct_act act;      /* activation at the output */
    float alpha;     /* its slope for x < 0 when act is CT_ACT_LEAKYRELU */
    float rate;      /* dropout */
    int tok_start, tok_len; /* where in the spec string (for messages); -1 if added */
} ct_layer_spec;

/* A spec token split on ':' for a class's parse: field 0 is the head ("conv32"). */
#define CT_SPEC_MAX_FIELDS 8
typedef struct ct_spec_token {
    const char *t; /* the token (not NUL-terminated) */
    int len;
    int nf;        /* fields */
    const char *f[CT_SPEC_MAX_FIELDS];
    int fl[CT_SPEC_MAX_FIELDS];
} ct_spec_token;

/* One layer of a built model. The model sets the input shape, the buffers and the fusion
 * decisions; the class's infer sets the output shape and its create sets `state`. */
#define CT_LAYER_MAX_PARAMS 2
#define CT_LAYER_MAX_NT 2 /* non-trainable tensors (batchnorm: moving mean, variance) */
typedef struct ct_layer {
    ct_layer_spec s;
    int index;                  /* position in the canonical spec */
    char tok[48];               /* canonical token, for messages and the summary */
    int max_batch;
    int flat_in, flat_out;      /* input/output is a flat vector */
    int ic, ih, iw, oc, oh, ow; /* shapes (flat: c = features, h = w = 1) */
    size_t in_feat, out_feat;   /* floats per sample */
    /* fusion (set by ct_layer_fuse from the rules below, nowhere else) */
    int act_in_kernel;          /* s.act runs inside this layer's own kernel */
    int act_bwd_by_next;        /* the next layer's backward applies this layer's relu' */
    int prev_relu_bwd;          /* this layer's backward applies the previous layer's relu' */
    int need_dx;                /* the model needs this layer's input gradient */
    struct ct_layer *pool_into; /* conv: the max pool right after it, whose forward (output and
                                 * index) runs in this layer's forward (CT_FUSE_TAKES_POOL2) */
    int fwd_by_prev;            /* maxpool: the previous layer runs this layer's forward */
    cl_mem pool_idx;            /* maxpool 2/2: argmax index of its forward, a byte per output */
    uint32_t salt;              /* per-layer salt of random streams (dropout masks) */
    cl_mem x, y;                /* input and output, max_batch x in_feat / out_feat */
    int p0, np;                 /* its parameter tensors are the model's p0 .. p0+np-1 */
    cl_mem param[CT_LAYER_MAX_PARAMS], grad[CT_LAYER_MAX_PARAMS];
    /* non-trainable state (ct_layer_class.nontrainable): the model's tensors
     * n_params + nt0 .. + n_nt - 1, saved and loaded but no gradient, no optimizer */
    int nt0, n_nt;
    cl_mem nt[CT_LAYER_MAX_NT];
    int after_params;           /* some layer before this one has parameters */
    void *state;                /* owned by the class (conv: its plan) */
} ct_layer;

/* What forward/backward get besides the layer. */
typedef struct ct_layer_run {
    ct_layer_kernels *K;
    int n;          /* samples in this batch (<= max_batch) */
    int train;      /* training mode: dropout on, batchnorm on batch statistics */
    uint32_t seed;  /* folded run seed (dropout masks use seed ^ salt) */
    uint32_t step;
    int sample0;    /* the batch's first sample in the global batch (a data-parallel replica's
                     * offset; 0 on one device): dropout masks are keyed by global sample */
    int total;      /* samples in the global batch (a replica's n is its share; 0: n) */
} ct_layer_run;

/* Backward's buffers: dy is the gradient w.r.t. the layer's output (its activation
 * included) and may be overwritten; an input gradient that cannot be computed in place
 * goes to dx, the other ping-pong buffer, and the class sets dx_in_other. */
typedef struct ct_layer_grad {
    cl_mem dy, dx;
    int dx_in_other;
} ct_layer_grad;

typedef enum { CT_INIT_ZEROS = 0, CT_INIT_GLOROT_UNIFORM, CT_INIT_ONES } ct_init_rule;

/* One parameter tensor: saved as layers.<i>.<suffix>. glorot_uniform: limit
 * sqrt(6 / (fan_in + fan_out)), fan_out = shape[0] * rf, fan_in = shape[1] * rf,
 * rf = shape[2] * shape[3] for 4-d tensors (Keras).
 * no_decay: AdamW's weight decay leaves this tensor alone. The rule (docs/TRAINING.md):
 * biases and normalisation parameters (BatchNorm gamma/beta) set it; kernels (weights)
 * do not. */
typedef struct ct_param_desc {
    const char *suffix;
    ct_init_rule init;
    int ndim;
    int shape[4];
    int no_decay; /* excluded from weight decay (biases, batchnorm gamma/beta) */
} ct_param_desc;

/* A kernel of the layer programs (cl/<prog>.cl) and its slot in ct_layer_kernels. */
typedef struct ct_kernel_ref {
    const char *prog, *name;
    size_t off;
} ct_kernel_ref;

/* Fusion rules (docs/LAYERS.md, "Fusion"), applied in one place, ct_layer_fuse (layer.c),
 * from these flags and s.act:
 * - CT_FUSE_OWN_RELU: a relu at the layer's output runs inside its main kernel (conv: the
 *   conv kernel). Any other activation runs as a separate in-place launch.
 * - CT_FUSE_OWN_ACT: every activation at its output runs in its own kernels (dense: the
 *   bias kernel, softmax as a second launch).
 * - CT_FUSE_PREV_RELU_BWD: the backward also applies the backward of a relu at the output
 *   of the layer right before it (x > 0 on its own input), in the same pass (maxpool); that
 *   layer then skips its own activation backward (act_bwd_by_next).
 * - CT_FUSE_TAKES_POOL2 (conv) followed by CT_FUSE_POOL2_INTO_PREV (maxpool) with pool 2,
 *   stride 2, when the first layer's activation is none or a relu in its kernel: the first
 *   layer's forward also computes the pool (its output and argmax index) from its own
 *   output, and the pool's forward does nothing (l->pool_into, next->fwd_by_prev). The
 *   result is the same, bit for bit, as the two forwards one after the other.
 *   CLTRAIN_FUSE_POOL=0 turns this rule off (for comparing). */
enum {
    CT_FUSE_OWN_RELU = 1,
    CT_FUSE_OWN_ACT = 2,
    CT_FUSE_PREV_RELU_BWD = 4,
    CT_FUSE_TAKES_POOL2 = 8,
    CT_FUSE_POOL2_INTO_PREV = 16
};

/* Other properties. CT_LAYER_ALIAS: the output is a view of the input (flatten). */
enum { CT_LAYER_ALIAS = 1 };

struct ct_layer_class {
    const char *name;      /* e.g. "maxpool" (the file src/layers/<name>.c) */
    const char *keras;     /* Keras display name in the summary, e.g. "MaxPooling2D" */
    const char *grammar;   /* its tokens, for the spec error message, e.g. "pool<P>[:s<S>]" */
    const char *words;     /* its head words for "unknown layer" (comma separated) */
    /* Spec: claims says whether a token is this class's (by its head field); parse fills
     * *out from it (an error is CT_ERR_ARG with a message naming the token; the spec parser
     * adds the column and caret); format writes the canonical token (snprintf's return). */
    int (*claims)(const ct_spec_token *t);
    ct_status (*parse)(const ct_spec_token *t, ct_layer_spec *out);
    int (*format)(const ct_layer_spec *s, char *out, size_t n);
    /* Shape: sets oc/oh/ow and flat_out from the input shape; errors are CT_ERR_SHAPE
     * (the model prefixes "layer <i> '<token>': "). */
    ct_status (*infer)(ct_layer *l);
    /* Parameters: fills up to CT_LAYER_MAX_PARAMS descriptions, returns how many (NULL: none). */
    int (*params)(const ct_layer *l, ct_param_desc *out);
    /* Non-trainable tensors (state the forward pass updates in training, e.g. batchnorm's
     * moving statistics): descriptions as for params (suffix, shape, init), up to
     * CT_LAYER_MAX_NT; saved as layers.<i>.<suffix>, no gradient (NULL: none). */
    int (*nontrainable)(const ct_layer *l, ct_param_desc *out);
    /* Logit layer: units when this layer can end the model as the logit layer for
     * n_classes (no activation, or the one the loss applies), else 0 (NULL: never). */
    int (*logit_units)(const ct_layer_spec *s, int n_classes);
    unsigned fuse;         /* CT_FUSE_* */
    unsigned flags;        /* CT_LAYER_* */
    /* Device: create/destroy its state (after shapes and fusion are known; may be NULL);
     * forward (l->x -> l->y); backward (from g->dy; input gradient only when l->need_dx). */
    ct_status (*create)(ct_runtime *rt, ct_layer *l);
    void (*destroy)(ct_layer *l);
    ct_status (*forward)(ct_layer *l, const ct_layer_run *r);
    ct_status (*backward)(ct_layer *l, const ct_layer_run *r, ct_layer_grad *g);
    /* FLOP (2 per multiply-add) of its forward per sample (NULL: not counted). */
    double (*flops)(const ct_layer *l);
    /* Tuning: the op shapes it runs at the full batch, for ct_tune_items; returns how many
     * (at most CT_LAYER_MAX_TUNE; NULL: none). */
    int (*tune_items)(const ct_layer *l, ct_tune_item *out);
    const ct_kernel_ref *kernels; /* the kernel objects it launches, ended by {NULL} */
    /* Checks: its plain-C double-precision forward (layers/layer_ref.c; same buffers as
     * forward, parameters in model order then its non-trainable tensors, dropout and
     * batchnorm as at inference) and its
     * device-vs-reference checks for `cltrain selftest` (layers/layer_check.c), ended by {NULL}. */
    void (*ref_forward)(const ct_layer *l, int n, const double *x, const double *const *p,
                        double *y);
    const ct_selftest *checks;
    /* ONNX export (layers/graph.h; docs/LAYERS.md, "Export"): adds the layer's inference-mode
     * nodes reading the graph's current value (the layer's input: NCHW, or [N, features]
     * when l->flat_in) and leaves its output as the current value, the activation at its
     * output (s.act) included; dropout adds nothing. p: its tensors in the order of its
     * params(), host floats in the saved layouts. NULL: this type cannot be exported
     * (`cltrain export` names the layer). */
    ct_status (*export_onnx)(const ct_layer *l, const float *const *p, ct_graph *g);
    /* Statistics over the whole global batch across data-parallel replicas (--sync-bn;
     * docs/SCALING.md), for a layer that reduces over the batch in training. Its training
     * forward / backward runs in phases 0, 1, ... around host sums: phase k takes in (the
     * sum over the replicas, in replica order, of what phase k-1 gave in out; NULL at
     * phase 0), launches, and gives *n_out doubles in out (already weighted for a plain
     * sum); *n_out = 0 ends the pass. NULL: the layer needs none (forward/backward). */
    ct_status (*sync_forward)(ct_layer *l, const ct_layer_run *r, int phase, const double *in,
                              double *out, int *n_out);
    ct_status (*sync_backward)(ct_layer *l, const ct_layer_run *r, ct_layer_grad *g, int phase,
                               const double *in, double *out, int *n_out);
};
#define CT_LAYER_MAX_TUNE 4

/* The average-pool kernels (layers/avgpool.c), which gap (layers/gap.c) launches too. */
extern const ct_kernel_ref ct_avgpool_kernels[];

/* Registry (src/layers/registry.c): the classes in spec-grammar order, NULL-terminated. */
extern const ct_layer_class *const ct_layer_classes[];

/* The selftest table: the ops' checks, every registered class's checks in registry order,
 * then the loss's and Adam's (built once, layers/registry.c). */
const ct_selftest *ct_selftest_table(void);
int ct_selftest_table_count(void);
#define ct_selftests (ct_selftest_table())
#define ct_selftests_count (ct_selftest_table_count())
/* The class owning a token, or NULL. */
const ct_layer_class *ct_layer_class_for(const ct_spec_token *t);
/* Applies the fusion rules to layer l and the layer after it (NULL at the end): sets
 * l->act_in_kernel, l->act_bwd_by_next, next->prev_relu_bwd, l->pool_into and
 * next->fwd_by_prev. */
void ct_layer_fuse(ct_layer *l, ct_layer *next);

/* Helpers for the class files (src/layers/layer.c). */
int ct_spec_int(const char *s, int len, int *out);          /* whole positive int */
/* An activation name: relu, sigmoid, tanh, linear, leakyrelu[<alpha>] (alpha >= 0, default
 * Keras's 0.3), softmax when allowed. 1: it is one (*out, and *alpha for leakyrelu); 0: not
 * an activation name; -1: leakyrelu with a bad slope (report it with ct_spec_bad_alpha). */
int ct_spec_act(const char *s, int len, ct_act *out, float *alpha, int allow_softmax);
ct_status ct_spec_bad_alpha(const ct_spec_token *t, const char *f, int fl);
#define CT_LEAKYRELU_ALPHA 0.3f                             /* Keras LeakyReLU's default */
const char *ct_act_name(ct_act a);                          /* "relu", ..., "linear" */
/* The canonical activation token: its name, with the slope for leakyrelu ("leakyrelu0.3"). */
int ct_act_format(ct_act a, float alpha, char *out, size_t n);
/* A number in [0, inf) written as digits (no sign, hex, inf or nan), e.g. "0.2", "1e-05";
 * and the shortest %g that reads back as the same float (for canonical tokens). */
int ct_spec_float(const char *s, int len, float *out);
int ct_spec_float_str(float v, char *out, size_t n);
/* ONNX export of an activation on the graph's current value: Relu, Sigmoid, Tanh, LeakyRelu
 * (alpha: its slope), Softmax over axis 1 (flat values only), nothing for linear
 * (layers/activation.c). */
ct_status ct_act_export(ct_graph *g, ct_act a, float alpha);
int ct_spec_head_is(const ct_spec_token *t, const char *prefix); /* head starts with */
/* <name><P>[:s<S>] (pool, avgpool): size and stride (default: the size) into L->pool and
 * L->stride; errors name the token. */
ct_status ct_spec_pool(const ct_spec_token *t, const char *name, ct_layer_spec *L);
/* The pools' shared parts (maxpool.c, avgpool.c): the canonical token "<name><P>[:s<S>]";
 * the shape (valid windows, floor; kind "max" or "average" in the messages); the ONNX node
 * (op "MaxPool" or "AveragePool": valid windows, no pads, floor, which are ONNX's defaults). */
int ct_spec_pool_format(const char *name, const ct_layer_spec *L, char *out, size_t n);
ct_status ct_pool_infer(ct_layer *l, const char *kind);
ct_status ct_pool_export(const ct_layer *l, ct_graph *g, const char *op);
/* "64x2x2 (CxHxW)" or "1600 features". */
const char *ct_layer_shape_str(const ct_layer *l, int input, char *buf, size_t n);

#endif
