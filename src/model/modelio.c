/* Model files and checkpoints on top of safetensors. */
#include "model/modelio.h"
#include "tune/tune.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

static const char *resize_name(ct_resize r) {
    return r == CT_RESIZE_BILINEAR ? "bilinear" : r == CT_RESIZE_AREA ? "area" : "nearest";
}

static void free_classes(ct_model_meta *m) {
    for (int i = 0; i < m->n_classes; i++) free(m->class_names[i]);
    free(m->class_names);
    m->class_names = NULL;
    m->n_classes = 0;
}

void ct_model_meta_free(ct_model_meta *m) {
    free_classes(m);
    free(m->spec);
    m->spec = NULL;
}

ct_status ct_model_meta_set_spec(ct_model_meta *m, const char *spec) {
    char *c = strdup(spec);
    if (!c) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    free(m->spec);
    m->spec = c;
    return CT_OK;
}

ct_status ct_model_meta_set_classes(ct_model_meta *m, int n, char *const *names) {
    free_classes(m);
    m->class_names = calloc((size_t)(n > 0 ? n : 1), sizeof *m->class_names);
    if (!m->class_names) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    for (int i = 0; i < n; i++) {
        if (!(m->class_names[i] = strdup(names[i]))) {
            m->n_classes = i;
            free_classes(m);
            return ct_set_error(CT_ERR_MEMORY, "out of host memory");
        }
    }
    m->n_classes = n;
    return CT_OK;
}

/* ---- preprocessing keys ---------------------------------------------------------- */

static const char *const pre_flag_keys[4] = {"samplewise_center", "samplewise_std_normalization",
                                             "featurewise_center", "featurewise_std_normalization"};

static int *pre_flag(ct_preprocess *p, int i) {
    int *f[4] = {&p->samplewise_center, &p->samplewise_std_normalization, &p->featurewise_center,
                 &p->featurewise_std_normalization};
    return f[i];
}

static ct_status add_floats(ct_st_writer *w, const char *key, const float *v, int n) {
    char buf[128];
    size_t len = 0;
    buf[len++] = '[';
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%.9g", i ? ", " : "", (double)v[i]);
    snprintf(buf + len, sizeof buf - len, "]");
    return ct_st_writer_meta(w, key, buf);
}

/* Written always (a reader need not know the defaults); %.9g round-trips a float. */
static ct_status add_preprocess(ct_st_writer *w, const ct_preprocess *p) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.9g", (double)p->rescale);
    CT_TRY(ct_st_writer_meta(w, "rescale", buf));
    ct_preprocess q = *p;
    for (int i = 0; i < 4; i++)
        CT_TRY(ct_st_writer_meta(w, pre_flag_keys[i], *pre_flag(&q, i) ? "true" : "false"));
    if (p->n_stats > 0) {
        CT_TRY(add_floats(w, "featurewise_mean", p->mean, p->n_stats));
        CT_TRY(add_floats(w, "featurewise_std", p->std, p->n_stats));
    }
    return CT_OK;
}

/* A JSON array of n finite numbers into v; else an error naming the file and key. */
static ct_status read_floats(const char *txt, const char *path, const char *key, int c, float *v) {
    cJSON *a = cJSON_Parse(txt);
    int n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : -1, ok = n == c;
    for (int i = 0; ok && i < n; i++) {
        const cJSON *x = cJSON_GetArrayItem(a, i);
        ok = cJSON_IsNumber(x) && isfinite(x->valuedouble) && isfinite((float)x->valuedouble);
        if (ok) v[i] = (float)x->valuedouble;
    }
    cJSON_Delete(a);
    if (ok) return CT_OK;
    return ct_set_error(CT_ERR_FORMAT, "%s: metadata '%s' is '%.60s'; expected a JSON array of %d "
                        "finite numbers (one per channel); the file is damaged: retrain or fix "
                        "the key", path, key, txt, c);
}

/* The preprocessing keys (absent: rescale 1/255 and nothing else, as files before them). */
static ct_status read_preprocess(const ct_st_file *f, const char *path, int c, ct_preprocess *p) {
    ct_preprocess_default(p);
    const char *r = ct_st_meta(f, "rescale");
    if (r) {
        char *end;
        double v = strtod(r, &end);
        if (end == r || *end || !(isfinite(v) && v > 0 && (float)v > 0 && isfinite((float)v)))
            return ct_set_error(CT_ERR_FORMAT, "%s: metadata 'rescale' is '%.60s'; expected a "
                                "finite number above 0 (such as 0.00392156886)", path, r);
        p->rescale = (float)v;
    }
    for (int i = 0; i < 4; i++) {
        const char *b = ct_st_meta(f, pre_flag_keys[i]);
        if (!b) continue;
        if (strcmp(b, "true") && strcmp(b, "false"))
            return ct_set_error(CT_ERR_FORMAT, "%s: metadata '%s' is '%.60s'; expected true or "
                                "false", path, pre_flag_keys[i], b);
        *pre_flag(p, i) = !strcmp(b, "true");
    }
    const char *mean = ct_st_meta(f, "featurewise_mean"), *sd = ct_st_meta(f, "featurewise_std");
    if (mean) CT_TRY(read_floats(mean, path, "featurewise_mean", c, p->mean));
    if (sd) CT_TRY(read_floats(sd, path, "featurewise_std", c, p->std));
    if ((mean != NULL) != (sd != NULL))
        return ct_set_error(CT_ERR_FORMAT, "%s: metadata has '%s' but no '%s'; the file is damaged",
                            path, mean ? "featurewise_mean" : "featurewise_std",
                            mean ? "featurewise_std" : "featurewise_mean");
    if (mean) p->n_stats = c;
    char why[160];
    const char *bad = ct_preprocess_invalid(p, c, 1, why, sizeof why);
    if (bad)
        return ct_set_error(CT_ERR_FORMAT, "%s: metadata '%s' %s (the file is damaged or was "
                            "not written by cltrain)", path, bad, why);
    return CT_OK;
}

/* Adds the model's weights (under prefix) and its metadata to a writer. */
static ct_status add_model(ct_st_writer *w, ct_model *m, const ct_model_meta *meta, const char *kind) {
    char buf[64];
    CT_TRY(ct_st_writer_meta(w, "format", kind));
    CT_TRY(ct_st_writer_meta(w, "format_version", CT_MODEL_FORMAT_VERSION));
    CT_TRY(ct_st_writer_meta(w, "cltrain_version", ct_version()));
    CT_TRY(ct_st_writer_meta(w, "spec", meta->spec));
    snprintf(buf, sizeof buf, "%dx%dx%d", meta->h, meta->w, meta->c);
    CT_TRY(ct_st_writer_meta(w, "input", buf));
    CT_TRY(ct_st_writer_meta(w, "color_mode", meta->c == 1 ? "grayscale" : "rgb"));
    CT_TRY(ct_st_writer_meta(w, "resize", resize_name(meta->resize)));
    CT_TRY(ct_st_writer_meta(w, "layout", "NCHW activations; conv OIHW; dense [out][in]"));
    if (meta->interrupted[0]) CT_TRY(ct_st_writer_meta(w, "interrupted", meta->interrupted));
    CT_TRY(add_preprocess(w, &meta->pre));
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < meta->n_classes; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(meta->class_names[i]));
    char *cls = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    if (!cls) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    ct_status s = ct_st_writer_meta(w, "classes", cls);
    free(cls);
    CT_TRY(s);
    /* the kernel variants this run's ops used: --resume runs exactly these again */
    char *var = ct_tune_used_json(ct_model_runtime(m));
    if (!var) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    s = ct_st_writer_meta(w, "variants", var);
    free(var);
    CT_TRY(s);
    for (int i = 0; i < ct_model_n_tensors(m); i++) { /* batchnorm statistics included */
        const ct_param_info *p = ct_model_tensor(m, i);
        float *host = malloc(p->n * sizeof(float));
        if (!host) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
        s = ct_model_get_tensor(m, i, host);
        if (s == CT_OK) s = ct_st_writer_add_f32(w, p->name, p->ndim, p->shape, host);
        free(host);
        CT_TRY(s);
    }
    return CT_OK;
}

ct_status ct_model_save(ct_model *m, const ct_model_meta *meta, const char *path) {
    ct_st_writer *w;
    CT_TRY(ct_st_writer_create(&w));
    ct_status s = add_model(w, m, meta, "cltrain-model");
    if (s == CT_OK) s = ct_st_writer_write(w, path);
    ct_st_writer_free(w);
    return s;
}

static ct_status meta_read(const ct_st_file *f, const char *path, ct_model_meta *meta) {
    const char *fmt = ct_st_meta(f, "format"), *ver = ct_st_meta(f, "format_version");
    const char *spec = ct_st_meta(f, "spec"), *input = ct_st_meta(f, "input");
    const char *cls = ct_st_meta(f, "classes"), *rs = ct_st_meta(f, "resize");
    if (!fmt || strncmp(fmt, "cltrain-", 8) || !spec || !input || !cls)
        return ct_set_error(CT_ERR_FORMAT,
                            "%s is a safetensors file but not a cltrain model (no cltrain metadata: "
                            "format, spec, input, classes); use a file written by cltrain train",
                            path);
    if (!ver || strcmp(ver, CT_MODEL_FORMAT_VERSION))
        return ct_set_error(CT_ERR_FORMAT, "%s has model format version %s; this cltrain reads "
                            "version %s", path, ver ? ver : "(none)", CT_MODEL_FORMAT_VERSION);
    CT_TRY(ct_model_meta_set_spec(meta, spec));
    char extra;
    if (sscanf(input, "%dx%dx%d%c", &meta->h, &meta->w, &meta->c, &extra) != 3 || meta->h < 1 ||
        meta->w < 1 || (meta->c != 1 && meta->c != 3))
        return ct_set_error(CT_ERR_FORMAT, "%s: metadata 'input' is '%s', expected HxWxC with C 1 or "
                            "3 (the file is damaged or was not written by cltrain)", path, input);
    meta->resize = CT_RESIZE_NEAREST;
    if (rs && ct_resize_parse(rs, &meta->resize) != CT_OK)
        return ct_set_error(CT_ERR_FORMAT, "%s: metadata 'resize' is '%s', expected nearest, "
                            "bilinear or area", path, rs);
    CT_TRY(read_preprocess(f, path, meta->c, &meta->pre));
    cJSON *arr = cJSON_Parse(cls);
    int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0;
    if (n < 2) {
        cJSON_Delete(arr);
        return ct_set_error(CT_ERR_FORMAT, "%s: metadata 'classes' must be a JSON array of at least "
                            "2 names", path);
    }
    char **names = calloc((size_t)n, sizeof *names);
    ct_status s = names ? CT_OK : ct_set_error(CT_ERR_MEMORY, "out of host memory");
    for (int i = 0; s == CT_OK && i < n; i++) {
        cJSON *it = cJSON_GetArrayItem(arr, i);
        if (!cJSON_IsString(it)) s = ct_set_error(CT_ERR_FORMAT, "%s: class %d is not a string", path, i);
        else names[i] = it->valuestring;
    }
    if (s == CT_OK) s = ct_model_meta_set_classes(meta, n, names);
    free(names);
    cJSON_Delete(arr);
    return s;
}

/* The metadata of f into meta; on failure nothing is left allocated in meta (a damaged
 * file must not leak what was read before the bad key). */
static ct_status meta_from_file(const ct_st_file *f, const char *path, ct_model_meta *meta) {
    memset(meta, 0, sizeof *meta);
    ct_status s = meta_read(f, path, meta);
    if (s != CT_OK) ct_model_meta_free(meta);
    return s;
}

ct_status ct_model_file_meta(const char *path, ct_model_meta *meta) {
    ct_st_file *f;
    CT_TRY(ct_st_open(path, &f));
    ct_status s = meta_from_file(f, path, meta);
    ct_st_close(f);
    return s;
}

static ct_status load_weights(ct_model *m, const ct_st_file *f, const char *path, const char *prefix) {
    for (int i = 0; i < ct_model_n_tensors(m); i++) { /* batchnorm statistics included */
        const ct_param_info *p = ct_model_tensor(m, i);
        char name[256];
        snprintf(name, sizeof name, "%s%s", prefix, p->name);
        int64_t shape[4];
        for (int d = 0; d < p->ndim; d++) shape[d] = p->shape[d];
        float *host = malloc(p->n * sizeof(float));
        if (!host) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
        ct_status s = ct_st_read_f32(f, name, p->ndim, shape, host);
        if (s != CT_OK) {
            free(host);
            return ct_error_prefix(s, "%s does not fit this model (%s): ", path, ct_model_spec(m));
        }
        size_t bad = p->n;
        for (size_t k = 0; k < p->n && bad == p->n; k++)
            if (!isfinite(host[k])) bad = k;
        if (bad < p->n) {
            float v = host[bad];
            free(host);
            return ct_set_error(CT_ERR_FORMAT,
                                "%s: tensor %s holds a non-finite value (%s at element %zu); the "
                                "file comes from a run that diverged or is damaged: use another "
                                "model file", path, name, isnan(v) ? "NaN" : "Inf", bad);
        }
        if (i >= ct_model_n_params(m) && strstr(name, "running_var"))
            for (size_t k = 0; k < p->n && bad == p->n; k++)
                if (host[k] < 0.0f) bad = k;
        if (bad < p->n) {
            float v = host[bad];
            free(host);
            return ct_set_error(CT_ERR_FORMAT, "%s: tensor %s holds a negative variance (%g at "
                                "element %zu); the file is damaged: use another model file",
                                path, name, (double)v, bad);
        }
        s = ct_model_set_tensor(m, i, host);
        free(host);
        if (s != CT_OK)
            return ct_error_prefix(s, "%s does not fit this model (%s): ", path, ct_model_spec(m));
    }
    return CT_OK;
}

ct_status ct_model_load_weights(ct_model *m, const char *path, const char *prefix) {
    ct_st_file *f;
    CT_TRY(ct_st_open(path, &f));
    ct_status s = load_weights(m, f, path, prefix);
    ct_st_close(f);
    return s;
}

ct_status ct_model_open(ct_runtime *rt, const char *path, int max_batch, ct_model **out,
                        ct_model_meta *meta) {
    *out = NULL;
    ct_st_file *f;
    CT_TRY(ct_st_open(path, &f));
    ct_status s = meta_from_file(f, path, meta);
    if (s == CT_OK) {
        s = ct_model_create(rt, meta->spec, meta->c, meta->h, meta->w, meta->n_classes, max_batch, 0,
                            out);
        if (s != CT_OK) ct_error_prefix(s, "%s: ", path);
    }
    if (s == CT_OK) s = load_weights(*out, f, path, "");
    ct_st_close(f);
    if (s != CT_OK) {
        ct_model_free(*out);
        *out = NULL;
        ct_model_meta_free(meta);
    }
    return s;
}

/* ---- checkpoints -------------------------------------------------------------- */

static size_t total_params(ct_model *m) {
    size_t n = 0;
    for (int i = 0; i < ct_model_n_params(m); i++) n += ct_model_param(m, i)->n;
    return n;
}

static char *state_json(const ct_ckpt_state *st) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "epochs_done", st->epochs_done);
    cJSON_AddNumberToObject(o, "step", (double)st->step);
    if (isfinite(st->best)) cJSON_AddNumberToObject(o, "best", st->best);
    else cJSON_AddNullToObject(o, "best");
    cJSON_AddNumberToObject(o, "best_epoch", st->best_epoch);
    cJSON_AddNumberToObject(o, "wait", st->wait);
    cJSON_AddBoolToObject(o, "has_best", st->has_best);
    cJSON_AddStringToObject(o, "fingerprint", st->fingerprint);
    cJSON_AddStringToObject(o, "optim", st->optim);
    if (st->class_weight[0]) cJSON_AddStringToObject(o, "class_weight", st->class_weight);
    if (st->has_plateau) {
        cJSON *pl = cJSON_AddObjectToObject(o, "plateau");
        cJSON_AddNumberToObject(pl, "lr", st->plateau_lr);
        if (isfinite(st->plateau_best)) cJSON_AddNumberToObject(pl, "best", st->plateau_best);
        else cJSON_AddNullToObject(pl, "best");
        cJSON_AddNumberToObject(pl, "wait", st->plateau_wait);
    }
    cJSON *h = cJSON_AddArrayToObject(o, "history");
    for (int i = 0; h && i < st->hist.n; i++) {
        const ct_epoch_stats *e = &st->hist.e[i];
        double row[8] = {e->epoch, e->loss, e->accuracy, e->has_val ? e->val_loss : 0,
                         e->has_val ? e->val_accuracy : 0, e->seconds, e->has_val,
                         e->lr > 0 ? e->lr : 0};
        cJSON_AddItemToArray(h, cJSON_CreateDoubleArray(row, 8));
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static ct_status state_parse(const char *json, const char *path, ct_ckpt_state *st) {
    cJSON *o = cJSON_Parse(json);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return ct_set_error(CT_ERR_FORMAT, "%s: checkpoint state is not valid JSON", path);
    }
    ct_status s = CT_OK;
    cJSON *ed = cJSON_GetObjectItem(o, "epochs_done"), *stp = cJSON_GetObjectItem(o, "step");
    cJSON *best = cJSON_GetObjectItem(o, "best"), *be = cJSON_GetObjectItem(o, "best_epoch");
    cJSON *wt = cJSON_GetObjectItem(o, "wait"), *hb = cJSON_GetObjectItem(o, "has_best");
    cJSON *fp = cJSON_GetObjectItem(o, "fingerprint"), *h = cJSON_GetObjectItem(o, "history");
    if (!cJSON_IsNumber(ed) || !cJSON_IsNumber(stp) || !cJSON_IsNumber(be) || !cJSON_IsNumber(wt) ||
        !cJSON_IsBool(hb) || !cJSON_IsString(fp) || !cJSON_IsArray(h)) {
        cJSON_Delete(o);
        return ct_set_error(CT_ERR_FORMAT, "%s: checkpoint state lacks fields; delete it to start "
                            "over", path);
    }
    /* a hand-edited or damaged state must not resume as "Epoch -4/3" */
    const struct { const char *name; const cJSON *v; double lo, hi; } range[] = {
        {"epochs_done", ed, 0, 1e7}, {"step", stp, 0, 1e15}, {"best_epoch", be, -1, 1e7},
        {"wait", wt, 0, 1e7}};
    for (size_t i = 0; i < sizeof range / sizeof range[0]; i++) {
        double v = range[i].v->valuedouble;
        if (!(v >= range[i].lo && v <= range[i].hi) || v != floor(v)) {
            cJSON_Delete(o);
            return ct_set_error(CT_ERR_FORMAT, "%s: checkpoint state '%s' is %g, not a whole number "
                                "in %g..%g; the checkpoint is damaged: delete it to start over",
                                path, range[i].name, v, range[i].lo, range[i].hi);
        }
    }
    st->epochs_done = (int)ed->valuedouble;
    st->step = (long)stp->valuedouble;
    st->best = cJSON_IsNumber(best) ? best->valuedouble : NAN;
    st->best_epoch = (int)be->valuedouble;
    st->wait = (int)wt->valuedouble;
    if (st->best_epoch > st->epochs_done || st->wait > st->epochs_done) {
        cJSON_Delete(o);
        return ct_set_error(CT_ERR_FORMAT, "%s: checkpoint state is inconsistent (best epoch %d, "
                            "wait %d after %d epochs); delete it to start over", path,
                            st->best_epoch, st->wait, st->epochs_done);
    }
    st->has_best = cJSON_IsTrue(hb);
    snprintf(st->fingerprint, sizeof st->fingerprint, "%s", fp->valuestring);
    /* optional: absent in checkpoints written before optimizers and schedules */
    cJSON *op = cJSON_GetObjectItem(o, "optim"), *pl = cJSON_GetObjectItem(o, "plateau");
    st->optim[0] = 0;
    if (cJSON_IsString(op)) snprintf(st->optim, sizeof st->optim, "%s", op->valuestring);
    cJSON *cwj = cJSON_GetObjectItem(o, "class_weight"); /* optional: absent without weights */
    st->class_weight[0] = 0;
    if (cwj && !cJSON_IsString(cwj)) {
        cJSON_Delete(o);
        return ct_set_error(CT_ERR_FORMAT, "%s: checkpoint state 'class_weight' is not a string; "
                            "delete it to start over", path);
    }
    if (cwj) snprintf(st->class_weight, sizeof st->class_weight, "%s", cwj->valuestring);
    st->has_plateau = 0;
    if (pl) {
        cJSON *plr = cJSON_GetObjectItem(pl, "lr"), *plb = cJSON_GetObjectItem(pl, "best");
        cJSON *plw = cJSON_GetObjectItem(pl, "wait");
        if (!cJSON_IsNumber(plr) || !(plr->valuedouble > 0) || !isfinite(plr->valuedouble) ||
            !cJSON_IsNumber(plw) || !(plw->valuedouble >= 0 && plw->valuedouble <= 1e7) ||
            plw->valuedouble != floor(plw->valuedouble) || (plb && !cJSON_IsNumber(plb) &&
                                                            !cJSON_IsNull(plb))) {
            cJSON_Delete(o);
            return ct_set_error(CT_ERR_FORMAT, "%s: checkpoint state 'plateau' is damaged (needs a "
                                "positive lr, a whole wait and a best); delete it to start over",
                                path);
        }
        st->has_plateau = 1;
        st->plateau_lr = plr->valuedouble;
        st->plateau_wait = (int)plw->valuedouble;
        st->plateau_best = cJSON_IsNumber(plb) ? plb->valuedouble : NAN;
    }
    cJSON *row;
    cJSON_ArrayForEach(row, h) {
        int nv = cJSON_IsArray(row) ? cJSON_GetArraySize(row) : 0;
        if (nv != 7 && nv != 8) { /* 7: before the learning-rate column */
            s = ct_set_error(CT_ERR_FORMAT, "%s: bad history row in checkpoint", path);
            break;
        }
        double v[8] = {0};
        for (int k = 0; k < nv; k++) {
            const cJSON *x = cJSON_GetArrayItem(row, k);
            v[k] = cJSON_IsNumber(x) ? x->valuedouble : NAN;
        }
        if (!(v[0] >= 1 && v[0] <= 1e7) || !(v[5] >= 0) || !(v[6] == 0 || v[6] == 1) ||
            !(v[7] >= 0)) {
            s = ct_set_error(CT_ERR_FORMAT, "%s: bad history row in checkpoint; delete it to start "
                             "over", path);
            break;
        }
        ct_epoch_stats e = {(int)v[0], v[1], v[2], v[3], v[4], v[5], (int)v[6], v[7]};
        if ((s = ct_history_append(&st->hist, &e)) != CT_OK) break;
    }
    if (s == CT_OK && st->hist.n != st->epochs_done)
        s = ct_set_error(CT_ERR_FORMAT, "%s: checkpoint history has %d epochs but the state says %d "
                         "were done; delete it to start over", path, st->hist.n, st->epochs_done);
    cJSON_Delete(o);
    return s;
}

ct_status ct_checkpoint_pin_variants(ct_runtime *rt, const char *path) {
    ct_st_file *f;
    CT_TRY(ct_st_open(path, &f));
    const char *v = ct_st_meta(f, "variants");
    ct_status s = v ? ct_tune_pin_json(rt, v) : CT_OK; /* older files: nothing to pin */
    if (s != CT_OK) s = ct_error_prefix(s, "%s: kernel variants: ", path);
    ct_st_close(f);
    return s;
}

ct_status ct_checkpoint_save(ct_model *m, const ct_model_meta *meta, const ct_ckpt_state *st,
                             float *const *best_params, const char *path) {
    ct_st_writer *w;
    CT_TRY(ct_st_writer_create(&w));
    size_t tot = total_params(m);
    float *mom = malloc(tot * sizeof(float)), *vel = malloc(tot * sizeof(float));
    char *js = state_json(st);
    ct_status s = (mom && vel && js) ? CT_OK : ct_set_error(CT_ERR_MEMORY, "out of host memory");
    long t = 0;
    if (s == CT_OK) s = add_model(w, m, meta, "cltrain-checkpoint");
    if (s == CT_OK) s = ct_model_get_adam_state(m, mom, vel, &t);
    int shape1[1] = {(int)tot};
    if (s == CT_OK) s = ct_st_writer_add_f32(w, "adam.m", 1, shape1, mom);
    if (s == CT_OK) s = ct_st_writer_add_f32(w, "adam.v", 1, shape1, vel);
    int64_t tt = t, sh0[1] = {1};
    if (s == CT_OK) s = ct_st_writer_add(w, "adam.t", CT_DT_I64, 1, sh0, &tt);
    for (int i = 0; s == CT_OK && best_params && i < ct_model_n_tensors(m); i++) {
        const ct_param_info *p = ct_model_tensor(m, i);
        char name[256];
        snprintf(name, sizeof name, "best.%s", p->name);
        s = ct_st_writer_add_f32(w, name, p->ndim, p->shape, best_params[i]);
    }
    if (s == CT_OK) s = ct_st_writer_meta(w, "state", js);
    if (s == CT_OK) s = ct_st_writer_write(w, path);
    free(mom);
    free(vel);
    free(js);
    ct_st_writer_free(w);
    return s;
}

ct_status ct_checkpoint_load(ct_model *m, const char *path, ct_ckpt_state *st, float **best_params) {
    ct_st_file *f;
    CT_TRY(ct_st_open(path, &f));
    size_t tot = total_params(m);
    float *mom = malloc(tot * sizeof(float)), *vel = malloc(tot * sizeof(float));
    ct_status s = (mom && vel) ? CT_OK : ct_set_error(CT_ERR_MEMORY, "out of host memory");
    const char *js = ct_st_meta(f, "state");
    if (s == CT_OK && !js)
        s = ct_set_error(CT_ERR_FORMAT, "%s is not a cltrain checkpoint (no state)", path);
    if (s == CT_OK) s = load_weights(m, f, path, "");
    int64_t shape1[1] = {(int64_t)tot}, sh0[1] = {1}, t = 0;
    if (s == CT_OK) s = ct_st_read_f32(f, "adam.m", 1, shape1, mom);
    if (s == CT_OK) s = ct_st_read_f32(f, "adam.v", 1, shape1, vel);
    if (s == CT_OK) s = ct_st_read_i64(f, "adam.t", 1, sh0, &t);
    if (s == CT_OK) s = ct_model_set_adam_state(m, mom, vel, (long)t);
    if (s == CT_OK) s = state_parse(js, path, st);
    for (int i = 0; s == CT_OK && st->has_best && best_params && i < ct_model_n_tensors(m); i++) {
        const ct_param_info *p = ct_model_tensor(m, i);
        char name[256];
        snprintf(name, sizeof name, "best.%s", p->name);
        int64_t shape[4];
        for (int d = 0; d < p->ndim; d++) shape[d] = p->shape[d];
        s = ct_st_read_f32(f, name, p->ndim, shape, best_params[i]);
    }
    free(mom);
    free(vel);
    ct_st_close(f);
    return s;
}

/* The checkpoint state parser alone (no model, no device): for tools/fuzz_ckpt_state.c. */
ct_status ct_checkpoint_state_parse(const char *json, const char *label, ct_ckpt_state *st) {
    return state_parse(json, label, st);
}

/* ct_model_file_meta from memory (no file, no device): for tools/fuzz_model.c. */
ct_status ct_model_meta_parse(const void *buf, size_t len, const char *label, ct_model_meta *meta) {
    ct_st_file *f;
    CT_TRY(ct_st_parse(buf, len, label, &f));
    ct_status s = meta_from_file(f, label, meta);
    ct_st_close(f);
    return s;
}
