/* Sequential model on the device: building (shape checks, slabs, Keras init), forward,
 * loss, backward and Adam. Layout: activations NCHW, flat tensors [n][features]; Flatten
 * is a view, so features are in channel-major (C, H, W) order, unlike Keras (H, W, C). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/splitmix.h"
#include "layers/layers.h"
#include "model/model.h"

typedef struct layer {
    ct_layer_spec s;
    int flat_in, flat_out;     /* input/output is a flat vector */
    int ic, ih, iw, oc, oh, ow; /* shapes (flat: c = features, h = w = 1) */
    size_t in_feat, out_feat;  /* floats per sample */
    int w_idx, b_idx;          /* parameter view indices, -1 if none */
    int act_idx;               /* activation view index, -1 when y aliases the input */
    cl_mem y;                  /* output, max_batch x out_feat */
    ct_conv_desc desc;
    ct_conv_plan *plan;
    int conv_fused_relu;       /* conv kernel applies the relu */
    int act_bwd_by_next;       /* the next layer (a pool) applies this layer's relu backward */
    uint32_t salt;             /* dropout: per-layer mask salt */
    char tok[48];              /* canonical token, for messages and the summary */
} layer;

struct ct_model {
    ct_runtime *rt;
    int c, h, w, n_classes, outputs, max_batch;
    uint64_t seed;
    int n_layers;
    layer *L;
    char *spec;
    ct_slab params, grads, adam_m, adam_v, acts;
    ct_param_info *pinfo;
    char (*pname)[32];
    int n_params;
    size_t n_weights; /* real parameters, excluding slab padding */
    cl_mem x, labels, gbuf[2], stats, sums, probs;
    size_t gbuf_floats;
    ct_layer_kernels K;
    long t;     /* Adam iterations done */
    long count; /* samples in the device sums */
};

static const char *shape_str(const layer *l, int in, char *buf, size_t n) {
    if (in ? l->flat_in : l->flat_out) snprintf(buf, n, "%zu features", in ? l->in_feat : l->out_feat);
    else if (in) snprintf(buf, n, "%dx%dx%d (CxHxW)", l->ic, l->ih, l->iw);
    else snprintf(buf, n, "%dx%dx%d (CxHxW)", l->oc, l->oh, l->ow);
    return buf;
}

/* Shape inference and checks of layer i given its input shape already set. */
static ct_status infer(ct_model *m, int i) {
    layer *l = &m->L[i];
    char ib[64];
    const ct_layer_spec *s = &l->s;
    l->in_feat = (size_t)l->ic * l->ih * l->iw;
#define SHAPE_ERR(...)                                                                            \
    return ct_error_prefix(ct_set_error(CT_ERR_SHAPE, __VA_ARGS__), "layer %d '%s': ", i, l->tok)
    switch (s->type) {
    case CT_L_CONV: {
        if (l->flat_in)
            SHAPE_ERR("a convolution needs an image input but gets a flat vector of %zu features "
                      "(move it before 'flatten'/'dense')", l->in_feat);
        if (!s->same && (s->k > l->ih || s->k > l->iw))
            SHAPE_ERR("the %dx%d kernel is larger than its input %s with valid padding; use a "
                      "larger input size, a smaller kernel or ':same'", s->k, s->k,
                      shape_str(l, 1, ib, sizeof ib));
        l->oc = s->units;
        l->oh = s->same ? (l->ih + s->stride - 1) / s->stride : (l->ih - s->k) / s->stride + 1;
        l->ow = s->same ? (l->iw + s->stride - 1) / s->stride : (l->iw - s->k) / s->stride + 1;
        break;
    }
    case CT_L_POOL:
        if (l->flat_in)
            SHAPE_ERR("max-pooling needs an image input but gets a flat vector of %zu features",
                      l->in_feat);
        if (s->pool > l->ih || s->pool > l->iw)
            SHAPE_ERR("a %dx%d pool does not fit its input %s; use a larger input size or fewer "
                      "conv/pool stages", s->pool, s->pool, shape_str(l, 1, ib, sizeof ib));
        l->oc = l->ic;
        l->oh = ct_pool_out(l->ih, s->pool, s->stride);
        l->ow = ct_pool_out(l->iw, s->pool, s->stride);
        break;
    case CT_L_FLATTEN:
        l->flat_out = 1;
        l->oc = (int)l->in_feat;
        l->oh = l->ow = 1;
        break;
    case CT_L_DENSE:
        if (!l->flat_in)
            SHAPE_ERR("dense needs a flat input but gets %s; add 'flatten' before it",
                      shape_str(l, 1, ib, sizeof ib));
        l->flat_out = 1;
        l->oc = s->units;
        l->oh = l->ow = 1;
        break;
    case CT_L_ACT:
        if (s->act == CT_ACT_SOFTMAX && !l->flat_in)
            SHAPE_ERR("softmax needs a flat input but gets %s; add 'flatten' before it",
                      shape_str(l, 1, ib, sizeof ib));
        /* fall through */
    case CT_L_DROPOUT:
        l->flat_out = l->flat_in;
        l->oc = l->ic;
        l->oh = l->ih;
        l->ow = l->iw;
        break;
    }
#undef SHAPE_ERR
    l->out_feat = (size_t)l->oc * l->oh * l->ow;
    if (l->oc <= 0 || l->oh <= 0 || l->ow <= 0)
        return ct_error_prefix(ct_set_error(CT_ERR_SHAPE, "gives an empty output from input %s",
                                            shape_str(l, 1, ib, sizeof ib)),
                               "layer %d '%s': ", i, l->tok);
    return CT_OK;
}


/* glorot_uniform for weights (Keras: limit sqrt(6 / (fan_in + fan_out)), conv fans include
 * the receptive field), zeros for biases. Stream per parameter from (seed, index). */
static ct_status init_params(ct_model *m) {
    for (int p = 0; p < m->n_params; p++) {
        const ct_param_info *pi = &m->pinfo[p];
        float *h = calloc(pi->n ? pi->n : 1, sizeof *h);
        if (!h) return ct_set_error(CT_ERR_MEMORY, "out of host memory initialising %s", pi->name);
        if (pi->ndim > 1) {
            double rf = pi->ndim == 4 ? (double)pi->shape[2] * pi->shape[3] : 1.0;
            double fan_out = pi->shape[0] * rf, fan_in = pi->shape[1] * rf;
            double limit = sqrt(6.0 / (fan_in + fan_out));
            uint64_t st = m->seed ^ (0xD1B54A32D192ED03ull * (uint64_t)(p + 1));
            for (size_t i = 0; i < pi->n; i++) {
                double u = (double)(ct_splitmix64(&st) >> 11) * (1.0 / 9007199254740992.0);
                h[i] = (float)((2.0 * u - 1.0) * limit);
            }
        }
        ct_status s = ct_model_set_param(m, p, h);
        free(h);
        CT_TRY(s);
    }
    return CT_OK;
}

void ct_model_free(ct_model *m) {
    if (!m) return;
    if (m->rt && m->rt->q) clFinish(m->rt->q);
    for (int i = 0; i < m->n_layers; i++)
        if (m->L[i].plan) ct_conv_plan_free(m->L[i].plan);
    ct_slab_free(&m->params);
    ct_slab_free(&m->grads);
    ct_slab_free(&m->adam_m);
    ct_slab_free(&m->adam_v);
    ct_slab_free(&m->acts);
    cl_mem bufs[] = {m->x, m->labels, m->gbuf[0], m->gbuf[1], m->stats, m->sums, m->probs};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]) clReleaseMemObject(bufs[i]);
    ct_layer_kernels_free(&m->K);
    free(m->L);
    free(m->spec);
    free(m->pinfo);
    free(m->pname);
    free(m);
}

/* Decides the output layer: a trailing dense without activation (or with the activation the
 * loss implies: sigmoid on 1 unit, softmax on n_classes units) is the logit layer; otherwise
 * one is appended (dense1 for 2 classes, dense<n_classes> otherwise). */
static ct_status output_layer(const char *spec, ct_layer_spec **Lp, int *np, int n_classes) {
    ct_layer_spec *L = *Lp;
    int n = *np;
    ct_layer_spec *last = n ? &L[n - 1] : NULL;
    if (last && last->type == CT_L_DENSE &&
        (last->act == CT_ACT_NONE || (last->act == CT_ACT_SIGMOID && last->units == 1) ||
         (last->act == CT_ACT_SOFTMAX && last->units == n_classes && n_classes > 1))) {
        if (!(last->units == 1 && n_classes == 2) && last->units != n_classes)
            return ct_set_error(CT_ERR_SHAPE,
                                "model spec: the output layer '%.*s' has %d units, but %d classes "
                                "need %s%d (softmax); or end the spec without it and it is added",
                                last->tok_len, spec + last->tok_start, last->units, n_classes,
                                n_classes == 2 ? "dense1 (sigmoid) or dense" : "dense", n_classes);
        last->act = CT_ACT_NONE; /* the loss applies sigmoid/softmax */
        return CT_OK;
    }
    ct_layer_spec *nl = realloc(L, (size_t)(n + 1) * sizeof *nl);
    if (!nl) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    memset(&nl[n], 0, sizeof nl[n]);
    nl[n].type = CT_L_DENSE;
    nl[n].units = n_classes == 2 ? 1 : n_classes;
    nl[n].act = CT_ACT_NONE;
    nl[n].stride = 1;
    nl[n].tok_start = -1;
    *Lp = nl;
    *np = n + 1;
    return CT_OK;
}

static ct_status build(ct_model *m, const char *spec_in) {
    const char *spec = ct_spec_preset(spec_in) ? ct_spec_preset(spec_in) : spec_in;
    ct_layer_spec *S;
    int n;
    CT_TRY(ct_spec_parse(spec, &S, &n));
    ct_status st = output_layer(spec, &S, &n, m->n_classes);
    if (st != CT_OK) {
        free(S);
        return st;
    }
    m->L = calloc((size_t)n, sizeof *m->L);
    if (!m->L) {
        free(S);
        return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    }
    m->n_layers = n;
    for (int i = 0; i < n; i++) {
        m->L[i].s = S[i];
        ct_spec_format_layer(&S[i], m->L[i].tok, sizeof m->L[i].tok);
    }
    free(S);
    m->outputs = m->L[n - 1].s.units;
    /* canonical spec */
    size_t cap = (size_t)n * 48 + 1;
    m->spec = malloc(cap);
    if (!m->spec) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    m->spec[0] = 0;
    for (int i = 0; i < n; i++) {
        if (i) strcat(m->spec, ",");
        strcat(m->spec, m->L[i].tok);
    }
    /* shapes */
    for (int i = 0; i < n; i++) {
        layer *l = &m->L[i];
        if (i == 0) {
            l->ic = m->c;
            l->ih = m->h;
            l->iw = m->w;
            l->flat_in = 0;
        } else {
            layer *p = &m->L[i - 1];
            l->ic = p->oc;
            l->ih = p->oh;
            l->iw = p->ow;
            l->flat_in = p->flat_out;
        }
        CT_TRY(infer(m, i));
        size_t big = (size_t)m->max_batch * (l->in_feat > l->out_feat ? l->in_feat : l->out_feat);
        if (big > 0x7fffffffu)
            return ct_set_error(CT_ERR_SHAPE, "layer %d '%s': %zu floats per batch exceed 32-bit "
                                "indexing; use a smaller --batch-size", i, l->tok, big);
    }
    /* fusion decisions */
    for (int i = 0; i < n; i++) {
        layer *l = &m->L[i];
        if (l->s.type == CT_L_CONV) l->conv_fused_relu = l->s.act == CT_ACT_RELU;
        if ((l->s.type == CT_L_CONV || l->s.type == CT_L_DENSE ||
             (l->s.type == CT_L_ACT && l->s.act == CT_ACT_RELU)) &&
            l->s.act == CT_ACT_RELU && i + 1 < n && m->L[i + 1].s.type == CT_L_POOL)
            l->act_bwd_by_next = 1;
        l->salt = ct_hash3_host((uint32_t)i, 0xD50u, 0x5EEDu);
    }
    /* parameters: same view layout in all four slabs */
    ct_slab_init(&m->params, m->rt, "parameters");
    ct_slab_init(&m->grads, m->rt, "gradients");
    ct_slab_init(&m->adam_m, m->rt, "adam.m");
    ct_slab_init(&m->adam_v, m->rt, "adam.v");
    ct_slab_init(&m->acts, m->rt, "activations");
    int np = 0;
    for (int i = 0; i < n; i++)
        if (m->L[i].s.type == CT_L_CONV || m->L[i].s.type == CT_L_DENSE) np += 2;
    m->pinfo = calloc((size_t)(np ? np : 1), sizeof *m->pinfo);
    m->pname = calloc((size_t)(np ? np : 1), sizeof *m->pname);
    if (!m->pinfo || !m->pname) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    ct_slab *slabs[4] = {&m->params, &m->grads, &m->adam_m, &m->adam_v};
    for (int i = 0; i < n; i++) {
        layer *l = &m->L[i];
        l->w_idx = l->b_idx = -1;
        if (l->s.type != CT_L_CONV && l->s.type != CT_L_DENSE) continue;
        for (int wb = 0; wb < 2; wb++) {
            ct_param_info *pi = &m->pinfo[m->n_params];
            snprintf(m->pname[m->n_params], sizeof m->pname[0], "layers.%d.%s", i,
                     wb ? "bias" : "weight");
            pi->name = m->pname[m->n_params];
            if (wb) {
                pi->ndim = 1;
                pi->shape[0] = l->oc;
            } else if (l->s.type == CT_L_CONV) {
                pi->ndim = 4;
                pi->shape[0] = l->oc;
                pi->shape[1] = l->ic;
                pi->shape[2] = pi->shape[3] = l->s.k;
            } else {
                pi->ndim = 2;
                pi->shape[0] = l->oc;
                pi->shape[1] = (int)l->in_feat;
            }
            pi->n = ct_shape_count(pi->ndim, pi->shape);
            m->n_weights += pi->n;
            int idx = -1;
            for (int s = 0; s < 4; s++) {
                idx = ct_slab_reserve(slabs[s], pi->name, pi->ndim, pi->shape);
                if (idx < 0) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
            }
            if (wb) l->b_idx = idx;
            else l->w_idx = idx;
            m->n_params++;
        }
    }
    for (int s = 0; s < 4; s++) CT_TRY(ct_slab_alloc(slabs[s]));
    /* activations (flatten aliases its input; dropout gets its own buffer) */
    size_t gmax = 1;
    for (int i = 0; i < n; i++) {
        layer *l = &m->L[i];
        l->act_idx = -1;
        if (l->in_feat > gmax) gmax = l->in_feat;
        if (l->out_feat > gmax) gmax = l->out_feat;
        if (l->s.type == CT_L_FLATTEN) continue;
        char nm[64];
        snprintf(nm, sizeof nm, "layers.%d.output", i);
        int shp[2] = {m->max_batch, (int)l->out_feat};
        l->act_idx = ct_slab_reserve(&m->acts, nm, 2, shp);
        if (l->act_idx < 0) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    }
    CT_TRY(ct_slab_alloc(&m->acts));
    size_t mb = (size_t)m->max_batch;
    m->gbuf_floats = mb * gmax;
    CT_TRY(ct_buffer_create(m->rt, "input batch", mb * m->c * m->h * m->w * sizeof(float),
                            CL_MEM_READ_WRITE, &m->x));
    CT_TRY(ct_buffer_create(m->rt, "labels", mb * sizeof(cl_int), CL_MEM_READ_WRITE, &m->labels));
    CT_TRY(ct_buffer_create(m->rt, "gradient A", m->gbuf_floats * sizeof(float), CL_MEM_READ_WRITE,
                            &m->gbuf[0]));
    CT_TRY(ct_buffer_create(m->rt, "gradient B", m->gbuf_floats * sizeof(float), CL_MEM_READ_WRITE,
                            &m->gbuf[1]));
    CT_TRY(ct_buffer_create(m->rt, "loss stats", 2 * mb * sizeof(float), CL_MEM_READ_WRITE,
                            &m->stats));
    CT_TRY(ct_buffer_create(m->rt, "loss sums", 4 * sizeof(float), CL_MEM_READ_WRITE, &m->sums));
    CT_TRY(ct_buffer_create(m->rt, "probabilities", mb * m->outputs * sizeof(float),
                            CL_MEM_READ_WRITE, &m->probs));
    CT_TRY(ct_fill(m->rt, m->sums, 0, 4 * sizeof(float), 0.0f));
    CT_TRY(ct_fill(m->rt, m->labels, 0, mb * sizeof(cl_int), 0.0f));
    CT_TRY(ct_fill(m->rt, m->x, 0, mb * m->c * m->h * m->w * sizeof(float), 0.0f));
    for (int i = 0; i < n; i++) {
        layer *l = &m->L[i];
        if (l->act_idx >= 0) l->y = ct_slab_view(&m->acts, l->act_idx)->mem;
        else l->y = i ? m->L[i - 1].y : m->x;
        if (l->s.type == CT_L_CONV) {
            ct_status s = ct_conv_desc_init(&l->desc, m->max_batch, l->ic, l->ih, l->iw, l->oc,
                                            l->s.k, l->s.stride, l->s.same,
                                            l->conv_fused_relu ? CT_ACT_RELU : CT_ACT_NONE);
            if (s == CT_OK) s = ct_conv_plan_create(m->rt, &l->desc, &l->plan);
            if (s != CT_OK) return ct_error_prefix(s, "layer %d '%s': ", i, l->tok);
        }
    }
    CT_TRY(ct_layer_kernels_init(m->rt, &m->K));
    return init_params(m);
}

ct_status ct_model_create(ct_runtime *rt, const char *spec, int c, int h, int w, int n_classes,
                          int max_batch, uint64_t seed, ct_model **out) {
    *out = NULL;
    if (c <= 0 || h <= 0 || w <= 0)
        return ct_set_error(CT_ERR_ARG, "model input %dx%dx%d (CxHxW) must be positive", c, h, w);
    if (n_classes < 2)
        return ct_set_error(CT_ERR_ARG, "a classifier needs at least 2 classes, got %d", n_classes);
    if (max_batch <= 0)
        return ct_set_error(CT_ERR_ARG, "batch size %d must be positive", max_batch);
    ct_model *m = calloc(1, sizeof *m);
    if (!m) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    m->rt = rt;
    m->c = c;
    m->h = h;
    m->w = w;
    m->n_classes = n_classes;
    m->max_batch = max_batch;
    m->seed = seed;
    ct_status s = build(m, spec);
    if (s != CT_OK) {
        ct_model_free(m);
        return s;
    }
    *out = m;
    return CT_OK;
}

const char *ct_model_spec(const ct_model *m) { return m->spec; }
int ct_model_outputs(const ct_model *m) { return m->outputs; }
size_t ct_model_param_count(const ct_model *m) { return m->n_weights; }
int ct_model_n_params(const ct_model *m) { return m->n_params; }
int ct_model_n_layers(const ct_model *m) { return m->n_layers; }
int ct_model_max_batch(const ct_model *m) { return m->max_batch; }
long ct_model_adam_steps(const ct_model *m) { return m->t; }

const ct_param_info *ct_model_param(const ct_model *m, int i) {
    return i >= 0 && i < m->n_params ? &m->pinfo[i] : NULL;
}

static ct_status check_index(const ct_model *m, int i) {
    if (i < 0 || i >= m->n_params)
        return ct_set_error(CT_ERR_ARG, "parameter index %d out of range (model has %d)", i,
                            m->n_params);
    return CT_OK;
}

ct_status ct_model_get_param(ct_model *m, int i, float *host) {
    CT_TRY(check_index(m, i));
    ct_view *v = ct_slab_view(&m->params, i);
    return ct_download(m->rt, v->mem, 0, v->n * sizeof(float), host);
}

ct_status ct_model_set_param(ct_model *m, int i, const float *host) {
    CT_TRY(check_index(m, i));
    ct_view *v = ct_slab_view(&m->params, i);
    return ct_upload(m->rt, v->mem, 0, v->n * sizeof(float), host);
}

ct_status ct_model_get_grad(ct_model *m, int i, float *host) {
    CT_TRY(check_index(m, i));
    ct_view *v = ct_slab_view(&m->grads, i);
    return ct_download(m->rt, v->mem, 0, v->n * sizeof(float), host);
}

ct_status ct_model_get_adam_state(ct_model *m, float *mom, float *vel, long *t) {
    size_t off = 0;
    for (int i = 0; i < m->n_params; i++) {
        ct_view *a = ct_slab_view(&m->adam_m, i), *b = ct_slab_view(&m->adam_v, i);
        if (mom) CT_TRY(ct_download(m->rt, a->mem, 0, a->n * sizeof(float), mom + off));
        if (vel) CT_TRY(ct_download(m->rt, b->mem, 0, b->n * sizeof(float), vel + off));
        off += a->n;
    }
    if (t) *t = m->t;
    return CT_OK;
}

ct_status ct_model_set_adam_state(ct_model *m, const float *mom, const float *vel, long t) {
    if (t < 0) return ct_set_error(CT_ERR_ARG, "Adam step count %ld must be >= 0", t);
    size_t off = 0;
    for (int i = 0; i < m->n_params; i++) {
        ct_view *a = ct_slab_view(&m->adam_m, i), *b = ct_slab_view(&m->adam_v, i);
        if (mom) CT_TRY(ct_upload(m->rt, a->mem, 0, a->n * sizeof(float), mom + off));
        if (vel) CT_TRY(ct_upload(m->rt, b->mem, 0, b->n * sizeof(float), vel + off));
        off += a->n;
    }
    m->t = t;
    return CT_OK;
}

cl_mem ct_model_input(ct_model *m) { return m->x; }
cl_mem ct_model_labels(ct_model *m) { return m->labels; }

static ct_status check_n(const ct_model *m, int n) {
    if (n <= 0 || n > m->max_batch)
        return ct_set_error(CT_ERR_ARG, "batch of %d samples: the model was built for 1..%d", n,
                            m->max_batch);
    return CT_OK;
}

static cl_mem layer_input(const ct_model *m, int i) { return i ? m->L[i - 1].y : m->x; }

static ct_status forward(ct_model *m, int n, int train, uint32_t seed, uint32_t step) {
    ct_layer_kernels *K = &m->K;
    for (int i = 0; i < m->n_layers; i++) {
        layer *l = &m->L[i];
        cl_mem x = layer_input(m, i);
        ct_status s = CT_OK;
        switch (l->s.type) {
        case CT_L_CONV: {
            cl_mem w = ct_slab_view(&m->params, l->w_idx)->mem;
            cl_mem b = ct_slab_view(&m->params, l->b_idx)->mem;
            s = ct_conv_forward(l->plan, n, x, w, b, l->y);
            if (s == CT_OK && !l->conv_fused_relu && l->s.act != CT_ACT_NONE)
                s = ct_act_forward(K, l->s.act, n, (int)l->out_feat, l->y, l->y);
            break;
        }
        case CT_L_POOL:
            s = ct_pool_forward(K, n, l->ic, l->ih, l->iw, l->s.pool, l->s.stride, x, l->y);
            break;
        case CT_L_FLATTEN: break;
        case CT_L_DENSE:
            s = ct_dense_forward(K, n, (int)l->in_feat, l->oc, l->s.act, x,
                                 ct_slab_view(&m->params, l->w_idx)->mem,
                                 ct_slab_view(&m->params, l->b_idx)->mem, l->y);
            break;
        case CT_L_ACT: s = ct_act_forward(K, l->s.act, n, (int)l->in_feat, x, l->y); break;
        case CT_L_DROPOUT:
            if (train && l->s.rate > 0.0f)
                s = ct_dropout_forward(K, (size_t)n * l->in_feat, l->s.rate, seed ^ l->salt, step,
                                       x, l->y);
            else
                s = ct_act_forward(K, CT_ACT_NONE, n, (int)l->in_feat, x, l->y); /* copy */
            break;
        }
        if (s != CT_OK) return ct_error_prefix(s, "forward of layer %d '%s': ", i, l->tok);
    }
    return CT_OK;
}

/* Backward from dlogits in gbuf[0]; parameter gradients into the grads slab. */
static ct_status backward(ct_model *m, int n, int train, uint32_t seed, uint32_t step) {
    ct_layer_kernels *K = &m->K;
    int first = m->n_layers; /* first layer with parameters: nothing below needs gradients */
    for (int i = 0; i < m->n_layers; i++)
        if (m->L[i].w_idx >= 0) {
            first = i;
            break;
        }
    int cur = 0;
    for (int i = m->n_layers - 1; i >= first; i--) {
        layer *l = &m->L[i];
        cl_mem x = layer_input(m, i);
        cl_mem g = m->gbuf[cur], o = m->gbuf[cur ^ 1];
        int need_dx = i > first;
        ct_status s = CT_OK;
        /* the fused activation's backward, unless the next layer (a pool) did it */
        if ((l->s.type == CT_L_CONV || l->s.type == CT_L_DENSE) && l->s.act != CT_ACT_NONE &&
            !l->act_bwd_by_next)
            s = ct_act_backward(K, l->s.act, n, (int)l->out_feat, l->y, g, g);
        if (s != CT_OK) return ct_error_prefix(s, "backward of layer %d '%s': ", i, l->tok);
        switch (l->s.type) {
        case CT_L_CONV: {
            cl_mem w = ct_slab_view(&m->params, l->w_idx)->mem;
            s = ct_conv_backward_weights(l->plan, n, x, g, ct_slab_view(&m->grads, l->w_idx)->mem,
                                         ct_slab_view(&m->grads, l->b_idx)->mem);
            if (s == CT_OK && need_dx) {
                s = ct_conv_backward_data(l->plan, n, g, w, o);
                cur ^= 1;
            }
            break;
        }
        case CT_L_POOL: {
            int relu = i > 0 && m->L[i - 1].act_bwd_by_next;
            if (need_dx) {
                s = ct_pool_backward(K, n, l->ic, l->ih, l->iw, l->s.pool, l->s.stride, relu, x, g,
                                     o);
                cur ^= 1;
            }
            break;
        }
        case CT_L_FLATTEN: break;
        case CT_L_DENSE:
            s = ct_dense_backward(K, n, (int)l->in_feat, l->oc, x,
                                  ct_slab_view(&m->params, l->w_idx)->mem, g, need_dx ? o : NULL,
                                  ct_slab_view(&m->grads, l->w_idx)->mem,
                                  ct_slab_view(&m->grads, l->b_idx)->mem);
            if (need_dx) cur ^= 1;
            break;
        case CT_L_ACT:
            if (need_dx && !l->act_bwd_by_next)
                s = ct_act_backward(K, l->s.act, n, (int)l->in_feat, l->y, g, g);
            break;
        case CT_L_DROPOUT:
            if (need_dx && train && l->s.rate > 0.0f)
                s = ct_dropout_backward(K, (size_t)n * l->in_feat, l->s.rate, seed ^ l->salt, step,
                                        g, g);
            break;
        }
        if (s != CT_OK) return ct_error_prefix(s, "backward of layer %d '%s': ", i, l->tok);
    }
    return CT_OK;
}

static uint32_t fold_seed(uint64_t seed) { return (uint32_t)(seed ^ (seed >> 32)); }

uint32_t ct_model_dropout_seed(const ct_model *m, int layer, uint64_t seed) {
    return fold_seed(seed) ^ (layer >= 0 && layer < m->n_layers ? m->L[layer].salt : 0u);
}

ct_status ct_model_compute_grads(ct_model *m, int n, int train, uint64_t seed, long step) {
    CT_TRY(check_n(m, n));
    uint32_t sd = fold_seed(seed), st = (uint32_t)step;
    CT_TRY(forward(m, n, train, sd, st));
    layer *last = &m->L[m->n_layers - 1];
    CT_TRY(ct_loss_forward(&m->K, n, m->outputs, last->y, m->labels, m->stats, m->sums,
                           m->gbuf[0]));
    m->count += n;
    return backward(m, n, train, sd, st);
}

ct_status ct_model_train_step(ct_model *m, int n, const ct_adam *opt, uint64_t seed, long step) {
    ct_adam def = {1e-3, 0.9, 0.999, 1e-7};
    if (!opt) opt = &def;
    CT_TRY(ct_model_compute_grads(m, n, 1, seed, step));
    m->t++;
    return ct_adam_update(&m->K, m->params.n, opt->lr, opt->beta1, opt->beta2, opt->eps, m->t,
                          m->params.mem, m->grads.mem, m->adam_m.mem, m->adam_v.mem);
}

ct_status ct_model_eval_step(ct_model *m, int n) {
    CT_TRY(check_n(m, n));
    CT_TRY(forward(m, n, 0, 0, 0));
    CT_TRY(ct_loss_forward(&m->K, n, m->outputs, m->L[m->n_layers - 1].y, m->labels, m->stats,
                           m->sums, NULL));
    m->count += n;
    return CT_OK;
}

ct_status ct_model_predict(ct_model *m, int n, float *probs) {
    CT_TRY(check_n(m, n));
    CT_TRY(forward(m, n, 0, 0, 0));
    CT_TRY(ct_output_probs(&m->K, n, m->outputs, m->L[m->n_layers - 1].y, m->probs));
    return ct_download(m->rt, m->probs, 0, (size_t)n * m->outputs * sizeof(float), probs);
}

void ct_model_metrics_decode(const float s[4], long count, double *loss, double *acc) {
    double c = (double)count;
    if (loss) *loss = c > 0 ? ((double)s[0] - (double)s[1]) / c : 0.0;
    if (acc) *acc = c > 0 ? (double)s[2] / c : 0.0;
}

ct_status ct_model_metrics_snapshot(ct_model *m, float snap[4], long *count, cl_event *ev) {
    *count = m->count;
    CL_CHECK(clEnqueueReadBuffer(m->rt->q, m->sums, CL_FALSE, 0, 4 * sizeof(float), snap, 0, NULL,
                                 ev));
    return CT_OK;
}

ct_status ct_model_metrics(ct_model *m, int reset, double *loss, double *acc, long *count) {
    float s[4];
    CT_TRY(ct_download(m->rt, m->sums, 0, sizeof s, s));
    ct_model_metrics_decode(s, m->count, loss, acc);
    if (count) *count = m->count;
    if (reset) {
        CT_TRY(ct_fill(m->rt, m->sums, 0, sizeof s, 0.0f));
        m->count = 0;
    }
    return CT_OK;
}

static const char *type_name(const ct_layer_spec *s) {
    switch (s->type) {
    case CT_L_CONV: return "Conv2D";
    case CT_L_POOL: return "MaxPooling2D";
    case CT_L_FLATTEN: return "Flatten";
    case CT_L_DENSE: return "Dense";
    case CT_L_ACT: return "Activation";
    case CT_L_DROPOUT: return "Dropout";
    }
    return "?";
}

void ct_model_summary(const ct_model *m, FILE *f) {
    fprintf(f, "Model: \"%s\"\n", m->spec);
    fprintf(f, "%-4s %-28s %-14s %-22s %12s\n", "#", "layer (spec)", "type", "output shape",
            "params");
    fprintf(f, "%-4s %-28s %-14s %-22s %12s\n", "", "input", "", "", "");
    char sh[64];
    snprintf(sh, sizeof sh, "(%d, %d, %d)", m->c, m->h, m->w);
    fprintf(f, "%-4s %-28s %-14s %-22s %12s\n", "", "", "Input", sh, "0");
    for (int i = 0; i < m->n_layers; i++) {
        const layer *l = &m->L[i];
        if (l->flat_out) snprintf(sh, sizeof sh, "(%zu)", l->out_feat);
        else snprintf(sh, sizeof sh, "(%d, %d, %d)", l->oc, l->oh, l->ow);
        size_t np = 0;
        if (l->w_idx >= 0) np = m->pinfo[l->w_idx].n + m->pinfo[l->b_idx].n;
        char nm[64];
        snprintf(nm, sizeof nm, "%s%s", l->tok, i == m->n_layers - 1 ? " (logits)" : "");
        fprintf(f, "%-4d %-28s %-14s %-22s %12zu\n", i, nm, type_name(&l->s), sh, np);
    }
    fprintf(f, "Total params: %zu (%.2f MB); shapes are (C, H, W), batch first omitted.\n",
            m->n_weights, m->n_weights * 4.0 / 1048576.0);
    fprintf(f, "Output: %s over %d class%s.\n",
            m->outputs == 1 ? "sigmoid + binary cross-entropy" : "softmax + categorical cross-entropy",
            m->n_classes, m->n_classes == 1 ? "" : "es");
}

double ct_model_train_flops(const ct_model *m) {
    /* Multiply-adds x 2 of conv and dense layers: forward, backward-weights, and
     * backward-data except for the first parameterised layer (no input gradient). */
    double total = 0;
    int first = 1;
    for (int i = 0; i < m->n_layers; i++) {
        const layer *l = &m->L[i];
        double f;
        if (l->s.type == CT_L_CONV)
            f = 2.0 * l->oc * l->ic * l->s.k * l->s.k * l->oh * l->ow;
        else if (l->s.type == CT_L_DENSE)
            f = 2.0 * (double)l->in_feat * (double)l->out_feat;
        else
            continue;
        total += f * (first ? 2 : 3);
        first = 0;
    }
    return total;
}
