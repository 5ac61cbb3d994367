/* The public model handle (cltrain.h: ct_classifier_*) over model/model.h and
 * model/modelio.h: create, load, save, describe, and predict in memory. */
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/modelio.h"
#include "runtime/tensor.h"
#include "train/train.h"

ct_status ct_classifier_create(ct_runtime *rt, const char *spec, int h, int w, int c,
                               ct_resize resize, int n_classes, const char *const *class_names,
                               int max_batch, uint64_t seed, ct_classifier **out) {
    *out = NULL;
    if (!rt || !spec || !class_names)
        return ct_set_error(CT_ERR_ARG, "ct_classifier_create: NULL runtime, spec or class names");
    ct_classifier *m = calloc(1, sizeof *m);
    if (!m) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    m->rt = rt;
    /* ct_model_create expands preset names itself (ct_spec_preset) */
    ct_status s = ct_model_create(rt, spec, c, h, w, n_classes, max_batch, seed, &m->m);
    if (s == CT_OK) {
        s = ct_model_meta_set_spec(&m->meta, ct_model_spec(m->m));
        m->meta.c = c;
        m->meta.h = h;
        m->meta.w = w;
        m->meta.resize = resize;
        ct_preprocess_default(&m->meta.pre);
        if (s == CT_OK) s = ct_model_meta_set_classes(&m->meta, n_classes, (char *const *)class_names);
    }
    if (s != CT_OK) {
        ct_classifier_free(m);
        return s;
    }
    *out = m;
    return CT_OK;
}

ct_status ct_classifier_load(ct_runtime *rt, const char *path, int max_batch, ct_classifier **out) {
    *out = NULL;
    if (!rt || !path) return ct_set_error(CT_ERR_ARG, "ct_classifier_load: NULL runtime or path");
    ct_classifier *m = calloc(1, sizeof *m);
    if (!m) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    m->rt = rt;
    m->path = strdup(path);
    ct_status s = m->path ? CT_OK : ct_set_error(CT_ERR_MEMORY, "out of host memory");
    if (s == CT_OK) s = ct_model_open(rt, path, max_batch, &m->m, &m->meta);
    if (s != CT_OK) {
        ct_classifier_free(m);
        return s;
    }
    *out = m;
    return CT_OK;
}

ct_status ct_classifier_replicate(ct_classifier *m, ct_runtime *rt, int max_batch,
                                  ct_classifier **out) {
    *out = NULL;
    if (!m || !rt) return ct_set_error(CT_ERR_ARG, "ct_classifier_replicate: NULL model or runtime");
    const ct_model_meta *mt = &m->meta;
    ct_classifier *c = NULL;
    CT_TRY(ct_classifier_create(rt, ct_model_spec(m->m), mt->h, mt->w, mt->c, mt->resize,
                                mt->n_classes, (const char *const *)mt->class_names, max_batch,
                                0, &c));
    c->meta.pre = mt->pre;
    size_t big = 1;
    for (int i = 0; i < ct_model_n_tensors(m->m); i++)
        if (ct_model_tensor(m->m, i)->n > big) big = ct_model_tensor(m->m, i)->n;
    float *h = malloc(big * sizeof *h);
    ct_status s = h ? CT_OK : ct_set_error(CT_ERR_MEMORY, "out of host memory");
    for (int i = 0; s == CT_OK && i < ct_model_n_tensors(m->m); i++) {
        s = ct_model_get_tensor(m->m, i, h);
        if (s == CT_OK) s = ct_model_set_tensor(c->m, i, h);
    }
    free(h);
    if (s != CT_OK) {
        ct_classifier_free(c);
        return s;
    }
    *out = c;
    return CT_OK;
}

ct_status ct_classifier_load_weights(ct_classifier *m, const char *path) {
    return ct_model_load_weights(m->m, path, "");
}

ct_status ct_classifier_save(ct_classifier *m, const char *path) {
    return ct_model_save(m->m, &m->meta, path);
}

void ct_classifier_free(ct_classifier *m) {
    if (!m) return;
    ct_model_free(m->m);
    ct_model_meta_free(&m->meta);
    free(m->path);
    free(m);
}

void ct_classifier_summary(const ct_classifier *m, FILE *f) { ct_model_summary(m->m, f); }
const char *ct_classifier_spec(const ct_classifier *m) { return ct_model_spec(m->m); }
size_t ct_classifier_param_count(const ct_classifier *m) { return ct_model_param_count(m->m); }
int ct_classifier_class_count(const ct_classifier *m) { return m->meta.n_classes; }
const char *ct_classifier_class_name(const ct_classifier *m, int i) {
    return i >= 0 && i < m->meta.n_classes ? m->meta.class_names[i] : NULL;
}
void ct_classifier_input(const ct_classifier *m, int *h, int *w, int *c, ct_resize *resize) {
    if (h) *h = m->meta.h;
    if (w) *w = m->meta.w;
    if (c) *c = m->meta.c;
    if (resize) *resize = m->meta.resize;
}
int ct_classifier_max_batch(const ct_classifier *m) { return ct_model_max_batch(m->m); }

void ct_classifier_get_preprocess(const ct_classifier *m, ct_preprocess *p) { *p = m->meta.pre; }

ct_status ct_classifier_set_preprocess(ct_classifier *m, const ct_preprocess *p) {
    if (!m || !p) return ct_set_error(CT_ERR_ARG, "ct_classifier_set_preprocess: NULL argument");
    char why[160];
    const char *bad = ct_preprocess_invalid(p, m->meta.c, 0, why, sizeof why);
    if (bad) return ct_set_error(CT_ERR_ARG, "preprocessing: %s %s", bad, why);
    m->meta.pre = *p;
    return CT_OK;
}

ct_status ct_classifier_predict(ct_classifier *m, const float *x, int n, float *probs) {
    if (n < 0 || (n > 0 && (!x || !probs)))
        return ct_set_error(CT_ERR_ARG, "ct_classifier_predict: bad count %d or NULL buffer", n);
    size_t chw = (size_t)m->meta.c * m->meta.h * m->meta.w;
    int k = m->meta.n_classes, n_out = ct_model_outputs(m->m), B = ct_model_max_batch(m->m);
    float *p = malloc((size_t)B * (size_t)n_out * sizeof(float));
    if (!p) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    ct_status s = CT_OK;
    for (int start = 0; s == CT_OK && start < n; start += B) {
        int cnt = n - start < B ? n - start : B;
        s = ct_upload(m->rt, ct_model_input(m->m), 0, (size_t)cnt * chw * sizeof(float),
                      x + (size_t)start * chw);
        if (s == CT_OK) s = ct_model_predict(m->m, cnt, p);
        for (int j = 0; s == CT_OK && j < cnt; j++) {
            float *row = probs + (size_t)(start + j) * (size_t)k;
            if (n_out == 1) { /* one sigmoid unit: p(class 1) */
                row[0] = 1 - p[j];
                row[1] = p[j];
            } else {
                memcpy(row, p + (size_t)j * (size_t)n_out, (size_t)n_out * sizeof(float));
            }
        }
    }
    free(p);
    return s;
}

ct_status ct_classifier_preprocess(const ct_classifier *m, const char *path, float *x) {
    int h = m->meta.h, w = m->meta.w, c = m->meta.c;
    uint8_t *img = malloc((size_t)h * w * c);
    if (!img) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    ct_status s = ct_image_load(path, h, w, c, m->meta.resize, img);
    if (s == CT_OK) ct_preprocess_image(&m->meta.pre, img, h, w, c, NULL, x); /* as the loader */
    free(img);
    return s;
}

ct_status ct_classifier_predict_file(ct_classifier *m, const char *path, float *probs) {
    float *x = malloc((size_t)m->meta.c * m->meta.h * m->meta.w * sizeof(float));
    if (!x) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    ct_status s = ct_classifier_preprocess(m, path, x);
    if (s == CT_OK) s = ct_classifier_predict(m, x, 1, probs);
    free(x);
    return s;
}
int ct_classifier_outputs(const ct_classifier *m) { return ct_model_outputs(m->m); }
