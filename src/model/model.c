/* Sequential model on the device: building (shape checks, slabs, Keras init), forward,
 * loss, backward and Adam. Layout: activations NCHW, flat tensors [n][features]; Flatten
 * is a view, so features are in channel-major (C, H, W) order, unlike Keras (H, W, C). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/splitmix.h"
#include "layers/layer.h"
#include "model/model.h"
#include "tune/tune.h"

struct ct_model {
    ct_runtime *rt;
    int c, h, w, n_classes, outputs, max_batch;
    uint64_t seed;
    int n_layers;
    ct_layer *L;
    int first_param; /* first layer with parameters: nothing below needs gradients */
    char *spec;
    ct_slab params, grads, adam_m, adam_v, acts;
    ct_slab nontrain; /* non-trainable tensors (batchnorm moving statistics) */
    ct_param_info *pinfo;
    ct_init_rule *pinit;
    int *act_idx; /* activation view of each layer, -1 when its output is its input */
    char (*pname)[32];
    int n_params;
    int n_nt;         /* non-trainable tensors: pinfo[n_params .. n_params + n_nt) */
    size_t n_weights; /* real parameters, excluding slab padding */
    size_t n_nt_floats;
    cl_mem x, labels, gbuf[2], stats, sums, probs;
    cl_mem decay; /* a byte per slab element: 1 where AdamW decays (created on first use) */
    cl_mem cw;    /* class weights of the training loss (NULL: none) */
    cl_mem top;   /* max_batch x 5 int32: ct_model_topk (created on first use) */
    size_t gbuf_floats;
    ct_layer_kernels K;
    long t;     /* Adam iterations done */
    long count; /* samples in the device sums */
};

#define LAYER_ERR(s, l) ct_error_prefix((s), "layer %d '%s': ", (l)->index, (l)->tok)

/* Shape inference and checks of layer l given its input shape already set. */
static ct_status infer(ct_layer *l) {
    char ib[64];
    l->in_feat = (size_t)l->ic * l->ih * l->iw;
    ct_status s = l->s.cls->infer(l);
    if (s != CT_OK) return LAYER_ERR(s, l);
    l->out_feat = (size_t)l->oc * l->oh * l->ow;
    if (l->oc <= 0 || l->oh <= 0 || l->ow <= 0)
        return LAYER_ERR(ct_set_error(CT_ERR_SHAPE, "gives an empty output from input %s",
                                      ct_layer_shape_str(l, 1, ib, sizeof ib)), l);
    return CT_OK;
}

/* The fusion rules (layers/layer.h), for every pair of neighbours. */
static void decide_fusion(ct_model *m) {
    for (int i = 0; i < m->n_layers; i++)
        ct_layer_fuse(&m->L[i], i + 1 < m->n_layers ? &m->L[i + 1] : NULL);
}

/* Parameter init by each tensor's rule (layers/layer.h: glorot_uniform or zeros, Keras).
 * Stream per parameter from (seed, index). */
static ct_status init_params(ct_model *m) {
    for (int p = 0; p < m->n_params + m->n_nt; p++) {
        const ct_param_info *pi = &m->pinfo[p];
        float *h = calloc(pi->n ? pi->n : 1, sizeof *h);
        if (!h) return ct_set_error(CT_ERR_MEMORY, "out of host memory initialising %s", pi->name);
        if (m->pinit[p] == CT_INIT_GLOROT_UNIFORM) {
            double rf = pi->ndim == 4 ? (double)pi->shape[2] * pi->shape[3] : 1.0;
            double fan_out = pi->shape[0] * rf, fan_in = pi->shape[1] * rf;
            double limit = sqrt(6.0 / (fan_in + fan_out));
            uint64_t st = m->seed ^ (0xD1B54A32D192ED03ull * (uint64_t)(p + 1));
            for (size_t i = 0; i < pi->n; i++) {
                double u = (double)(ct_splitmix64(&st) >> 11) * (1.0 / 9007199254740992.0);
                h[i] = (float)((2.0 * u - 1.0) * limit);
            }
        } else if (m->pinit[p] == CT_INIT_ONES) {
            for (size_t i = 0; i < pi->n; i++) h[i] = 1.0f;
        }
        ct_status s = ct_model_set_tensor(m, p, h);
        free(h);
        CT_TRY(s);
    }
    return CT_OK;
}

void ct_model_free(ct_model *m) {
    if (!m) return;
    if (m->rt && m->rt->q) clFinish(m->rt->q);
    for (int i = 0; m->L && i < m->n_layers; i++)
        if (m->L[i].s.cls->destroy) m->L[i].s.cls->destroy(&m->L[i]);
    ct_slab_free(&m->params);
    ct_slab_free(&m->grads);
    ct_slab_free(&m->adam_m);
    ct_slab_free(&m->adam_v);
    ct_slab_free(&m->acts);
    ct_slab_free(&m->nontrain);
    cl_mem bufs[] = {m->x, m->labels, m->gbuf[0], m->gbuf[1], m->stats, m->sums, m->probs,
                     m->decay, m->cw, m->top};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]) clReleaseMemObject(bufs[i]);
    ct_layer_kernels_free(&m->K);
    free(m->L);
    free(m->spec);
    free(m->pinfo);
    free(m->pinit);
    free(m->act_idx);
    free(m->pname);
    free(m);
}

/* The output layer spec word the model appends: dense1 for 2 classes (sigmoid + binary
 * cross-entropy), dense<N> otherwise (softmax + categorical cross-entropy). */
static ct_status output_layer(const char *spec, ct_layer_spec **Lp, int *np, int n_classes) {
    ct_layer_spec *L = *Lp;
    int n = *np;
    ct_layer_spec *last = n ? &L[n - 1] : NULL;
    int units = last && last->cls->logit_units ? last->cls->logit_units(last, n_classes) : 0;
    if (units > 0) {
        if (!(units == 1 && n_classes == 2) && units != n_classes)
            return ct_set_error(CT_ERR_SHAPE,
                                "model spec: the output layer '%.*s' has %d units, but %d classes "
                                "need %s%d (softmax); or end the spec without it and it is added",
                                last->tok_len, spec + last->tok_start, units, n_classes,
                                n_classes == 2 ? "dense1 (sigmoid) or dense" : "dense", n_classes);
        last->act = CT_ACT_NONE; /* the loss applies sigmoid/softmax */
        return CT_OK;
    }
    char tok[32];
    snprintf(tok, sizeof tok, "dense%d", n_classes == 2 ? 1 : n_classes);
    ct_layer_spec *out;
    int no;
    CT_TRY(ct_spec_parse(tok, &out, &no));
    ct_layer_spec *nl = realloc(L, (size_t)(n + 1) * sizeof *nl);
    if (!nl) {
        free(out);
        return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    }
    nl[n] = out[0];
    nl[n].tok_start = -1;
    nl[n].tok_len = 0;
    free(out);
    *Lp = nl;
    *np = n + 1;
    return CT_OK;
}

/* Tensor k of the model: layers.<layer>.<suffix> with d's shape and init rule. */
static const ct_param_info *describe(ct_model *m, int k, int layer, const ct_param_desc *d) {
    ct_param_info *pi = &m->pinfo[k];
    snprintf(m->pname[k], sizeof m->pname[0], "layers.%d.%s", layer, d->suffix);
    pi->name = m->pname[k];
    pi->ndim = d->ndim;
    memcpy(pi->shape, d->shape, sizeof pi->shape);
    pi->n = ct_shape_count(pi->ndim, pi->shape);
    m->pinit[k] = d->init;
    pi->no_decay = d->no_decay;
    return pi;
}

/* Parameter tensors of every layer, in layer order: same view layout in all four slabs;
 * then the non-trainable tensors in a slab of their own. */
static ct_status build_params(ct_model *m) {
    ct_slab_init(&m->params, m->rt, "parameters");
    ct_slab_init(&m->grads, m->rt, "gradients");
    ct_slab_init(&m->adam_m, m->rt, "adam.m");
    ct_slab_init(&m->adam_v, m->rt, "adam.v");
    ct_slab_init(&m->acts, m->rt, "activations");
    ct_slab_init(&m->nontrain, m->rt, "non-trainable");
    ct_param_desc pd[CT_LAYER_MAX_PARAMS > CT_LAYER_MAX_NT ? CT_LAYER_MAX_PARAMS : CT_LAYER_MAX_NT];
    int np = 0;
    for (int i = 0; i < m->n_layers; i++) {
        if (m->L[i].s.cls->params) np += m->L[i].s.cls->params(&m->L[i], pd);
        if (m->L[i].s.cls->nontrainable) np += m->L[i].s.cls->nontrainable(&m->L[i], pd);
    }
    m->pinfo = calloc((size_t)(np ? np : 1), sizeof *m->pinfo);
    m->pinit = calloc((size_t)(np ? np : 1), sizeof *m->pinit);
    m->pname = calloc((size_t)(np ? np : 1), sizeof *m->pname);
    if (!m->pinfo || !m->pinit || !m->pname) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    ct_slab *slabs[4] = {&m->params, &m->grads, &m->adam_m, &m->adam_v};
    m->first_param = m->n_layers;
    for (int i = 0; i < m->n_layers; i++) {
        ct_layer *l = &m->L[i];
        l->p0 = m->n_params;
        l->np = l->s.cls->params ? l->s.cls->params(l, pd) : 0;
        if (l->np && m->first_param == m->n_layers) m->first_param = i;
        for (int j = 0; j < l->np; j++) {
            const ct_param_info *pi = describe(m, m->n_params, i, &pd[j]);
            m->n_weights += pi->n;
            for (int s = 0; s < 4; s++)
                if (ct_slab_reserve(slabs[s], pi->name, pi->ndim, pi->shape) < 0)
                    return ct_set_error(CT_ERR_MEMORY, "out of host memory");
            m->n_params++;
        }
    }
    /* then the non-trainable tensors, after all parameters, in layer order */
    for (int i = 0; i < m->n_layers; i++) {
        ct_layer *l = &m->L[i];
        l->nt0 = m->n_nt;
        l->n_nt = l->s.cls->nontrainable ? l->s.cls->nontrainable(l, pd) : 0;
        for (int j = 0; j < l->n_nt; j++) {
            const ct_param_info *pi = describe(m, m->n_params + m->n_nt, i, &pd[j]);
            m->n_nt_floats += pi->n;
            if (ct_slab_reserve(&m->nontrain, pi->name, pi->ndim, pi->shape) < 0)
                return ct_set_error(CT_ERR_MEMORY, "out of host memory");
            m->n_nt++;
        }
    }
    for (int s = 0; s < 4; s++) CT_TRY(ct_slab_alloc(slabs[s]));
    if (m->n_nt) CT_TRY(ct_slab_alloc(&m->nontrain));
    for (int i = 0; i < m->n_layers; i++) {
        ct_layer *l = &m->L[i];
        for (int j = 0; j < l->np; j++) {
            l->param[j] = ct_slab_view(&m->params, l->p0 + j)->mem;
            l->grad[j] = ct_slab_view(&m->grads, l->p0 + j)->mem;
        }
        for (int j = 0; j < l->n_nt; j++) l->nt[j] = ct_slab_view(&m->nontrain, l->nt0 + j)->mem;
        l->need_dx = i > m->first_param;
    }
    return CT_OK;
}

/* Gives the tuning stage every op shape the layers run (ct_layer_class.tune_items). */
static ct_status tune(ct_model *m) {
    ct_tune_item *items = calloc((size_t)m->n_layers * CT_LAYER_MAX_TUNE, sizeof *items);
    if (!items) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    int n = 0;
    for (int i = 0; i < m->n_layers; i++)
        if (m->L[i].s.cls->tune_items) n += m->L[i].s.cls->tune_items(&m->L[i], items + n);
    ct_status s = ct_tune_items(m->rt, items, n);
    free(items);
    return s;
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
        ct_layer *l = &m->L[i];
        l->s = S[i];
        l->index = i;
        l->max_batch = m->max_batch;
        l->salt = ct_hash3_host((uint32_t)i, 0xD50u, 0x5EEDu);
        ct_spec_format_layer(&S[i], l->tok, sizeof l->tok);
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
        ct_layer *l = &m->L[i];
        if (i == 0) {
            l->ic = m->c;
            l->ih = m->h;
            l->iw = m->w;
            l->flat_in = 0;
        } else {
            ct_layer *p = &m->L[i - 1];
            l->ic = p->oc;
            l->ih = p->oh;
            l->iw = p->ow;
            l->flat_in = p->flat_out;
            l->after_params = p->after_params || p->s.cls->params != NULL;
        }
        CT_TRY(infer(l));
        size_t big = (size_t)m->max_batch * (l->in_feat > l->out_feat ? l->in_feat : l->out_feat);
        if (big > 0x7fffffffu)
            return ct_set_error(CT_ERR_SHAPE, "layer %d '%s': %zu floats per batch exceed 32-bit "
                                "indexing; use a smaller --batch-size", i, l->tok, big);
    }
    decide_fusion(m);
    CT_TRY(build_params(m));
    /* activations (an alias layer such as flatten is a view of its input; dropout gets its
     * own buffer) */
    size_t gmax = 1;
    int *act_idx = m->act_idx = calloc((size_t)n, sizeof *act_idx);
    if (!act_idx) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    for (int i = 0; i < n; i++) {
        ct_layer *l = &m->L[i];
        act_idx[i] = -1;
        if (l->in_feat > gmax) gmax = l->in_feat;
        if (l->out_feat > gmax) gmax = l->out_feat;
        if (l->s.cls->flags & CT_LAYER_ALIAS) continue;
        char nm[64];
        snprintf(nm, sizeof nm, "layers.%d.output", i);
        int shp[2] = {m->max_batch, (int)l->out_feat};
        act_idx[i] = ct_slab_reserve(&m->acts, nm, 2, shp);
        if (act_idx[i] < 0) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
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
        ct_layer *l = &m->L[i];
        l->x = i ? m->L[i - 1].y : m->x;
        l->y = act_idx[i] >= 0 ? ct_slab_view(&m->acts, act_idx[i])->mem : l->x;
        if (l->s.cls->create) {
            ct_status s = l->s.cls->create(m->rt, l);
            if (s != CT_OK) return LAYER_ERR(s, l);
        }
    }
    CT_TRY(ct_layer_kernels_init(m->rt, &m->K));
    CT_TRY(tune(m));
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
int ct_model_max_batch(const ct_model *m) { return m->max_batch; }
ct_runtime *ct_model_runtime(const ct_model *m) { return m->rt; }
size_t ct_model_param_count(const ct_model *m) { return m->n_weights; }
size_t ct_model_nontrainable_count(const ct_model *m) { return m->n_nt_floats; }
int ct_model_n_params(const ct_model *m) { return m->n_params; }
int ct_model_n_tensors(const ct_model *m) { return m->n_params + m->n_nt; }
int ct_model_n_layers(const ct_model *m) { return m->n_layers; }
const ct_layer *ct_model_layer(const ct_model *m, int i) {
    return i >= 0 && i < m->n_layers ? &m->L[i] : NULL;
}
long ct_model_adam_steps(const ct_model *m) { return m->t; }

const ct_param_info *ct_model_param(const ct_model *m, int i) {
    return i >= 0 && i < m->n_params ? &m->pinfo[i] : NULL;
}

const ct_param_info *ct_model_tensor(const ct_model *m, int i) {
    return i >= 0 && i < m->n_params + m->n_nt ? &m->pinfo[i] : NULL;
}

/* The view of tensor i: a parameter, or a non-trainable tensor after them. */
static ct_status tensor_view(ct_model *m, int i, ct_view **v) {
    if (i < 0 || i >= m->n_params + m->n_nt)
        return ct_set_error(CT_ERR_ARG, "tensor index %d out of range (model has %d)", i,
                            m->n_params + m->n_nt);
    *v = i < m->n_params ? ct_slab_view(&m->params, i) : ct_slab_view(&m->nontrain, i - m->n_params);
    return CT_OK;
}

ct_status ct_model_get_tensor(ct_model *m, int i, float *host) {
    ct_view *v = NULL;
    CT_TRY(tensor_view(m, i, &v));
    return ct_download(m->rt, v->mem, 0, v->n * sizeof(float), host);
}

ct_status ct_model_set_tensor(ct_model *m, int i, const float *host) {
    ct_view *v = NULL;
    CT_TRY(tensor_view(m, i, &v));
    return ct_upload(m->rt, v->mem, 0, v->n * sizeof(float), host);
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

static ct_status forward(ct_model *m, int n, int train, uint32_t seed, uint32_t step,
                         int sample0) {
    ct_layer_run r = {&m->K, n, train, seed, step, sample0, n};
    for (int i = 0; i < m->n_layers; i++) {
        ct_layer *l = &m->L[i];
        ct_status s = l->s.cls->forward(l, &r);
        if (s != CT_OK) return ct_error_prefix(s, "forward of layer %d '%s': ", i, l->tok);
    }
    return CT_OK;
}

/* Backward from dlogits in gbuf[0]; parameter gradients into the grads slab. Layers below
 * the first one with parameters need no gradients and are not visited. */
static ct_status backward(ct_model *m, int n, int train, uint32_t seed, uint32_t step,
                          int sample0) {
    ct_layer_run r = {&m->K, n, train, seed, step, sample0, n};
    int cur = 0;
    for (int i = m->n_layers - 1; i >= m->first_param; i--) {
        ct_layer *l = &m->L[i];
        ct_layer_grad g = {m->gbuf[cur], m->gbuf[cur ^ 1], 0};
        ct_status s = l->s.cls->backward(l, &r, &g);
        if (s != CT_OK) return ct_error_prefix(s, "backward of layer %d '%s': ", i, l->tok);
        if (g.dx_in_other) cur ^= 1;
    }
    return CT_OK;
}

static uint32_t fold_seed(uint64_t seed) { return (uint32_t)(seed ^ (seed >> 32)); }

uint32_t ct_model_dropout_seed(const ct_model *m, int layer, uint64_t seed) {
    return fold_seed(seed) ^ (layer >= 0 && layer < m->n_layers ? m->L[layer].salt : 0u);
}

ct_status ct_model_compute_grads(ct_model *m, int n, int train, uint64_t seed, long step) {
    return ct_model_compute_grads_at(m, n, train, seed, step, 0);
}

ct_status ct_model_compute_grads_at(ct_model *m, int n, int train, uint64_t seed, long step,
                                    int sample0) {
    CT_TRY(check_n(m, n));
    if (sample0 < 0) return ct_set_error(CT_ERR_ARG, "sample offset %d must be >= 0", sample0);
    uint32_t sd = fold_seed(seed), st = (uint32_t)step;
    CT_TRY(forward(m, n, train, sd, st, sample0));
    ct_layer *last = &m->L[m->n_layers - 1];
    CT_TRY(ct_loss_forward_w(&m->K, n, m->outputs, last->y, m->labels, m->cw, m->stats, m->sums,
                             m->gbuf[0]));
    m->count += n;
    return backward(m, n, train, sd, st, sample0);
}

/* The phases of one layer's sync hook on every replica with samples, the parts summed on
 * the host in replica order (acc) and handed to the next phase. bwd: the backward hook. */
static ct_status sync_layer(ct_model **ms, int R, const ct_layer_run *runs, ct_layer_grad *gs,
                            int i, int bwd, double *part, double *acc, double *in,
                            const ct_sync_reduce *red) {
    const double *prev = NULL;
    for (int phase = 0;; phase++) {
        int k = 0, any = 0;
        for (int r = 0; r < R; r++) {
            if (runs[r].n == 0) continue;
            ct_layer *l = &ms[r]->L[i];
            int nk = 0;
            ct_status s = bwd ? l->s.cls->sync_backward(l, &runs[r], &gs[r], phase, prev, part, &nk)
                              : l->s.cls->sync_forward(l, &runs[r], phase, prev, part, &nk);
            if (s != CT_OK)
                return ct_error_prefix(s, "%s of layer %d '%s' (replica %d): ",
                                       bwd ? "backward" : "forward", i, l->tok, r);
            if (!any) {
                k = nk;
                for (int j = 0; j < k; j++) acc[j] = 0.0;
                any = 1;
            }
            for (int j = 0; j < k && j < nk; j++) acc[j] += part[j]; /* replica order */
        }
        if (red) { /* then over the processes, in their order */
            if (!any) k = 0;
            CT_TRY(red->fn(red->user, acc, &k));
            any = k > 0;
        }
        if (!any || k == 0) return CT_OK;
        memcpy(in, acc, (size_t)k * sizeof *in);
        prev = in;
    }
}

ct_status ct_models_compute_grads_sync(ct_model **ms, int R, const int *n, const int *off,
                                       uint64_t seed, long step) {
    return ct_models_compute_grads_sync_ext(ms, R, n, off, seed, step, NULL);
}

ct_status ct_models_compute_grads_sync_ext(ct_model **ms, int R, const int *n, const int *off,
                                           uint64_t seed, long step, const ct_sync_reduce *red) {
    int total = 0;
    size_t feat = 1;
    for (int r = 0; r < R; r++) {
        if (n[r]) CT_TRY(check_n(ms[r], n[r]));
        total += n[r];
    }
    if (red) total = red->total;
    ct_model *m0 = ms[0];
    for (int i = 0; i < m0->n_layers; i++)
        if (m0->L[i].out_feat > feat) feat = m0->L[i].out_feat;
    ct_layer_run *runs = calloc((size_t)R, sizeof *runs);
    ct_layer_grad *gs = calloc((size_t)R, sizeof *gs);
    int *cur = calloc((size_t)R, sizeof *cur);
    double *buf = malloc(3 * 2 * feat * sizeof *buf);
    ct_status s = runs && gs && cur && buf ? CT_OK
                                           : ct_set_error(CT_ERR_MEMORY, "out of host memory");
    uint32_t sd = fold_seed(seed), st = (uint32_t)step;
    for (int r = 0; s == CT_OK && r < R; r++)
        runs[r] = (ct_layer_run){&ms[r]->K, n[r], 1, sd, st, off[r], total};
    /* forward, layer by layer on every replica; the layers with a sync hook in lockstep */
    for (int i = 0; s == CT_OK && i < m0->n_layers; i++) {
        if (m0->L[i].s.cls->sync_forward) {
            s = sync_layer(ms, R, runs, gs, i, 0, buf, buf + 2 * feat, buf + 4 * feat, red);
            continue;
        }
        for (int r = 0; s == CT_OK && r < R; r++) {
            if (!n[r]) continue;
            ct_layer *l = &ms[r]->L[i];
            s = l->s.cls->forward(l, &runs[r]);
            if (s != CT_OK) s = ct_error_prefix(s, "forward of layer %d '%s': ", i, l->tok);
        }
    }
    for (int r = 0; s == CT_OK && r < R; r++) {
        if (!n[r]) continue;
        ct_model *m = ms[r];
        s = ct_loss_forward_w(&m->K, n[r], m->outputs, m->L[m->n_layers - 1].y, m->labels, m->cw,
                              m->stats, m->sums, m->gbuf[0]);
        m->count += n[r];
    }
    for (int i = m0->n_layers - 1; s == CT_OK && i >= m0->first_param; i--) {
        for (int r = 0; r < R; r++)
            gs[r] = (ct_layer_grad){ms[r]->gbuf[cur[r]], ms[r]->gbuf[cur[r] ^ 1], 0};
        if (m0->L[i].s.cls->sync_backward) {
            s = sync_layer(ms, R, runs, gs, i, 1, buf, buf + 2 * feat, buf + 4 * feat, red);
        } else {
            for (int r = 0; s == CT_OK && r < R; r++) {
                if (!n[r]) continue;
                ct_layer *l = &ms[r]->L[i];
                s = l->s.cls->backward(l, &runs[r], &gs[r]);
                if (s != CT_OK) s = ct_error_prefix(s, "backward of layer %d '%s': ", i, l->tok);
            }
        }
        for (int r = 0; r < R; r++)
            if (gs[r].dx_in_other) cur[r] ^= 1;
    }
    free(runs);
    free(gs);
    free(cur);
    free(buf);
    return s;
}

size_t ct_model_slab_floats(const ct_model *m) { return m->params.n; }

static ct_slab *slab_of(ct_model *m, ct_model_slab which) {
    return which == CT_SLAB_GRADS ? &m->grads : &m->params;
}

ct_status ct_model_read_slab(ct_model *m, ct_model_slab which, float *host) {
    ct_slab *sl = slab_of(m, which);
    return ct_download(m->rt, sl->mem, 0, sl->n * sizeof(float), host);
}

ct_status ct_model_write_slab(ct_model *m, ct_model_slab which, const float *host) {
    ct_slab *sl = slab_of(m, which);
    return ct_upload(m->rt, sl->mem, 0, sl->n * sizeof(float), host);
}

/* The AdamW decay mask: 1 on every element of a tensor without no_decay, 0 elsewhere
 * (no_decay tensors and the slab padding). */
static ct_status make_decay_mask(ct_model *m) {
    unsigned char *h = calloc(m->params.n ? m->params.n : 1, 1);
    if (!h) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    for (int i = 0; i < m->n_params; i++)
        if (!m->pinfo[i].no_decay) {
            const ct_view *v = ct_slab_view(&m->params, i);
            memset(h + v->off, 1, v->n);
        }
    ct_status s = ct_buffer_create(m->rt, "weight-decay mask", m->params.n ? m->params.n : 1,
                                   CL_MEM_READ_ONLY, &m->decay);
    if (s == CT_OK) s = ct_upload(m->rt, m->decay, 0, m->params.n, h);
    free(h);
    return s;
}

ct_status ct_model_train_step(ct_model *m, int n, const ct_adam *opt, uint64_t seed, long step) {
    CT_TRY(ct_model_compute_grads(m, n, 1, seed, step));
    return ct_model_apply_grads(m, opt);
}

ct_status ct_model_apply_grads(ct_model *m, const ct_adam *opt) {
    ct_optim def;
    ct_optim_defaults(CT_OPTIM_ADAM, &def);
    if (!opt) opt = &def;
    if (opt->kind == CT_OPTIM_ADAMW && !m->decay) CT_TRY(make_decay_mask(m));
    m->t++;
    return ct_optim_update(&m->K, opt, m->params.n, m->t, m->params.mem, m->grads.mem,
                           m->adam_m.mem, m->adam_v.mem, m->decay);
}

ct_status ct_model_eval_step(ct_model *m, int n) {
    CT_TRY(check_n(m, n));
    CT_TRY(forward(m, n, 0, 0, 0, 0));
    CT_TRY(ct_loss_forward(&m->K, n, m->outputs, m->L[m->n_layers - 1].y, m->labels, m->stats,
                           m->sums, NULL));
    m->count += n;
    return CT_OK;
}

ct_status ct_model_set_class_weights(ct_model *m, const float *w) {
    if (m->cw) clReleaseMemObject(m->cw);
    m->cw = NULL;
    if (!w) return CT_OK;
    int k = m->outputs == 1 ? 2 : m->outputs;
    CT_TRY(ct_buffer_create(m->rt, "class weights", (size_t)k * sizeof(float), CL_MEM_READ_ONLY,
                            &m->cw));
    return ct_upload(m->rt, m->cw, 0, (size_t)k * sizeof(float), w);
}

ct_status ct_model_topk(ct_model *m, int n, int t, int32_t *top) {
    CT_TRY(check_n(m, n));
    if (t < 1 || t > 5) return ct_set_error(CT_ERR_ARG, "ct_model_topk: t %d must be 1..5", t);
    if (!m->top)
        CT_TRY(ct_buffer_create(m->rt, "top classes", (size_t)m->max_batch * 5 * sizeof(cl_int),
                                CL_MEM_READ_WRITE, &m->top));
    if (m->outputs == 1) t = 1;
    CT_TRY(ct_loss_topk(&m->K, n, m->outputs, t, m->L[m->n_layers - 1].y, m->top));
    return ct_download(m->rt, m->top, 0, (size_t)n * t * sizeof(cl_int), top);
}

ct_status ct_model_predict(ct_model *m, int n, float *probs) {
    CT_TRY(check_n(m, n));
    CT_TRY(forward(m, n, 0, 0, 0, 0));
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

/* The summary's width: it fits an 80-column terminal. */
#define SUMMARY_W 78
#define SUMMARY_NAME_W 40
#define SUMMARY_SHAPE_W 20

/* 1234567 -> "1,234,567" (Keras's counts). */
static const char *group_digits(char *b, size_t n, size_t v) {
    char t[32];
    int len = snprintf(t, sizeof t, "%zu", v), k = 0;
    for (int i = 0; i < len && k + 2 < (int)n; i++) {
        if (i && (len - i) % 3 == 0) b[k++] = ',';
        b[k++] = t[i];
    }
    b[k] = 0;
    return b;
}

/* "12,345 (48.22 KB)": a count of float parameters and their bytes, as Keras prints them. */
static void summary_count(FILE *f, const char *what, size_t n) {
    static const char *units[] = {"B", "KB", "MB", "GB", "TB"};
    double bytes = 4.0 * (double)n;
    int u = 0;
    while (bytes >= 1024 && u < 4) bytes /= 1024, u++;
    char num[40];
    fprintf(f, "%s: %s (%.2f %s)\n", what, group_digits(num, sizeof num, n), bytes, units[u]);
}

/* One row; a name too long for its column gets a row of its own. */
static void summary_row(FILE *f, const char *idx, const char *name, const char *shape, size_t np) {
    char num[40];
    group_digits(num, sizeof num, np);
    int wide = (int)strlen(name) > SUMMARY_NAME_W;
    if (wide) fprintf(f, " %-3s %s\n", idx, name);
    fprintf(f, " %-3s %-*s %-*s %*s\n", wide ? "" : idx, SUMMARY_NAME_W, wide ? "" : name,
            SUMMARY_SHAPE_W, shape, SUMMARY_W - 7 - SUMMARY_NAME_W - SUMMARY_SHAPE_W, num);
}

static void summary_rule(FILE *f, char c) {
    for (int i = 0; i < SUMMARY_W; i++) fputc(c, f);
    fputc('\n', f);
}

void ct_model_summary(const ct_model *m, FILE *f) {
    /* the spec, broken after commas to stay within the width */
    fprintf(f, "Model: \"");
    int col = 8;
    for (const char *p = m->spec; *p;) {
        const char *c = strchr(p, ',');
        int len = c ? (int)(c - p) + 1 : (int)strlen(p);
        if (col > 8 && col + len + 1 > SUMMARY_W) {
            fprintf(f, "\n        ");
            col = 8;
        }
        fprintf(f, "%.*s", len, p);
        col += len;
        p += len;
    }
    fprintf(f, "\"\n");
    summary_rule(f, '_');
    fprintf(f, " %-3s %-*s %-*s %*s\n", "#", SUMMARY_NAME_W, "Layer (type)", SUMMARY_SHAPE_W,
            "Output Shape", SUMMARY_W - 7 - SUMMARY_NAME_W - SUMMARY_SHAPE_W, "Param #");
    summary_rule(f, '=');
    char sh[64], nm[128];
    snprintf(sh, sizeof sh, "(%d, %d, %d)", m->c, m->h, m->w);
    summary_row(f, "", "input (Input)", sh, 0);
    for (int i = 0; i < m->n_layers; i++) {
        const ct_layer *l = &m->L[i];
        if (l->flat_out) snprintf(sh, sizeof sh, "(%zu)", l->out_feat);
        else snprintf(sh, sizeof sh, "(%d, %d, %d)", l->oc, l->oh, l->ow);
        size_t np = 0;
        for (int j = 0; j < l->np; j++) np += m->pinfo[l->p0 + j].n;
        for (int j = 0; j < l->n_nt; j++) np += m->pinfo[m->n_params + l->nt0 + j].n;
        snprintf(nm, sizeof nm, "%s (%s)%s", l->tok, l->s.cls->keras,
                 i == m->n_layers - 1 ? " logits" : "");
        char idx[16];
        snprintf(idx, sizeof idx, "%d", i);
        summary_row(f, idx, nm, sh, np);
    }
    summary_rule(f, '=');
    /* Keras's counts: batchnorm's moving statistics are the non-trainable ones */
    summary_count(f, "Total params", m->n_weights + m->n_nt_floats);
    summary_count(f, "Trainable params", m->n_weights);
    summary_count(f, "Non-trainable params", m->n_nt_floats);
    summary_rule(f, '_');
    fprintf(f, "Shapes are (C, H, W), the batch omitted.\nOutput: %s over %d class%s.\n",
            m->outputs == 1 ? "sigmoid + binary cross-entropy" : "softmax + categorical cross-entropy",
            m->n_classes, m->n_classes == 1 ? "" : "es");
}

double ct_model_train_flops(const ct_model *m) {
    /* The layers' forward FLOP (ct_layer_class.flops) times 3: forward, backward-weights,
     * and backward-data, except for the first parameterised layer (no input gradient). */
    double total = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const ct_layer *l = &m->L[i];
        if (l->s.cls->flops) total += l->s.cls->flops(l) * (l->need_dx ? 3 : 2);
    }
    return total;
}
