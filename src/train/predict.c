/* evaluate and predict with a saved model. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "model/modelio.h"
#include "runtime/tensor.h"
#include "train/train.h"

static ct_status same_classes(const ct_model_meta *meta, const ct_dataset *ds, const char *path,
                              const char *dir) {
    int same = meta->n_classes == ds->n_classes;
    for (int i = 0; same && i < ds->n_classes; i++)
        same = !strcmp(meta->class_names[i], ds->class_names[i]);
    if (!same)
        return ct_set_error(CT_ERR_ARG,
                            "%s has %d class folders but model %s was trained on %d classes (%s%s); "
                            "give a folder with the same class sub-folders",
                            dir, ds->n_classes, path, meta->n_classes,
                            meta->n_classes ? meta->class_names[0] : "",
                            meta->n_classes > 1 ? ", ..." : "");
    return CT_OK;
}

ct_status ct_evaluate(const char *model_path, const char *data_dir, const char *device, int batch,
                      int workers, int json, ct_eval_result *out) {
    ct_runtime *rt = NULL;
    ct_model *m = NULL;
    ct_model_meta meta;
    memset(&meta, 0, sizeof meta);
    ct_dataset ds;
    memset(&ds, 0, sizeof ds);
    ct_loader *l = NULL;
    ct_status s = ct_runtime_create(device, 0, &rt);
    if (s == CT_OK) {
        ct_runtime_print_device(rt, json ? stderr : stdout);
        s = ct_model_open(rt, model_path, batch, &m, &meta);
    }
    if (s == CT_OK) s = ct_dataset_scan(&data_dir, 1, json, &ds);
    if (s == CT_OK) s = same_classes(&meta, &ds, model_path, data_dir);
    if (s == CT_OK) {
        ct_loader_opts lo;
        memset(&lo, 0, sizeof lo);
        lo.batch = batch;
        lo.h = meta.h;
        lo.w = meta.w;
        lo.c = meta.c;
        lo.resize = meta.resize;
        lo.rescale = 1.0f / 255.0f;
        lo.workers = workers;
        lo.cache_mb = 0;
        lo.quiet = json;
        s = ct_augment_preset("none", &lo.augment);
        if (s == CT_OK) s = ct_loader_create(&ds, &lo, &l);
    }
    double loss = 0, acc = 0;
    long n = 0;
    if (s == CT_OK) s = ct_model_metrics(m, 1, &loss, &acc, &n);
    if (s == CT_OK) s = ct_loader_start_epoch(l, 0);
    size_t chw = (size_t)meta.c * meta.h * meta.w;
    while (s == CT_OK) {
        ct_batch b;
        s = ct_loader_next(l, &b);
        if (s != CT_OK || b.count == 0) break;
        s = ct_upload(rt, ct_model_input(m), 0, (size_t)b.count * chw * sizeof(float), b.x);
        if (s == CT_OK)
            s = ct_upload(rt, ct_model_labels(m), 0, (size_t)b.count * sizeof(int32_t), b.y);
        ct_loader_release(l, &b);
        if (s == CT_OK) s = ct_model_eval_step(m, b.count);
    }
    if (s == CT_OK) s = ct_model_metrics(m, 1, &loss, &acc, &n);
    if (s == CT_OK) {
        out->loss = loss;
        out->accuracy = acc;
        out->n = n;
    }
    ct_loader_free(l);
    ct_dataset_free(&ds);
    ct_model_free(m);
    ct_model_meta_free(&meta);
    ct_runtime_free(rt);
    return s;
}

/* ---- predict --------------------------------------------------------------- */

typedef struct path_list {
    char **p;
    int n, cap;
} path_list;

static int push_path(path_list *l, const char *p) {
    if (l->n == l->cap) {
        int nc = l->cap ? l->cap * 2 : 64;
        char **np = realloc(l->p, (size_t)nc * sizeof *np);
        if (!np) return 0;
        l->p = np;
        l->cap = nc;
    }
    if (!(l->p[l->n] = strdup(p))) return 0;
    l->n++;
    return 1;
}

static int has_image_ext(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png"));
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static ct_status walk(const char *dir, path_list *out) {
    DIR *d = opendir(dir);
    if (!d) return ct_set_error(CT_ERR_IO, "cannot open folder %s", dir);
    path_list here = {0};
    struct dirent *e;
    int ok = 1;
    while (ok && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        ok = push_path(&here, p);
    }
    closedir(d);
    if (!ok) return ct_set_error(CT_ERR_MEMORY, "out of host memory listing %s", dir);
    qsort(here.p, (size_t)here.n, sizeof *here.p, cmp_str);
    ct_status s = CT_OK;
    for (int i = 0; i < here.n; i++) {
        struct stat sb;
        if (s == CT_OK && stat(here.p[i], &sb) == 0) {
            if (S_ISDIR(sb.st_mode)) s = walk(here.p[i], out);
            else if (has_image_ext(here.p[i]) && !push_path(out, here.p[i]))
                s = ct_set_error(CT_ERR_MEMORY, "out of host memory");
        }
        free(here.p[i]);
    }
    free(here.p);
    return s;
}

static void hwc_to_chw(const uint8_t *in, int h, int w, int c, float *out) {
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < h * w; i++) out[(size_t)ch * h * w + i] = in[(size_t)i * c + ch] * (1.0f / 255.0f); /* as the loader */
}

static void print_row(FILE *out, int csv, const char *path, const ct_model_meta *meta, const float *p,
                      int n_out) {
    int best = 0;
    float pbest;
    if (n_out == 1) {
        best = p[0] >= 0.5f;
        pbest = best ? p[0] : 1 - p[0];
    } else {
        for (int k = 1; k < n_out; k++)
            if (p[k] > p[best]) best = k;
        pbest = p[best];
    }
    if (csv) {
        fprintf(out, "%s,%s", path, meta->class_names[best]);
        if (n_out == 1) fprintf(out, ",%.6f,%.6f", 1 - p[0], p[0]);
        else
            for (int k = 0; k < n_out; k++) fprintf(out, ",%.6f", p[k]);
        fputc('\n', out);
    } else {
        fprintf(out, "%s: %s (%.4f)", path, meta->class_names[best], pbest);
        if (n_out == 1) fprintf(out, "  p(%s)=%.4f", meta->class_names[1], p[0]);
        fputc('\n', out);
    }
}

ct_status ct_predict_files(const char *model_path, const char *const *inputs, int n_inputs,
                           const char *device, int csv, FILE *out) {
    path_list files = {0};
    ct_status s = CT_OK;
    for (int i = 0; i < n_inputs && s == CT_OK; i++) {
        struct stat sb;
        if (stat(inputs[i], &sb) != 0)
            s = ct_set_error(CT_ERR_IO, "%s: no such file or folder", inputs[i]);
        else if (S_ISDIR(sb.st_mode)) s = walk(inputs[i], &files);
        else if (!push_path(&files, inputs[i])) s = ct_set_error(CT_ERR_MEMORY, "out of host memory");
    }
    if (s == CT_OK && files.n == 0)
        s = ct_set_error(CT_ERR_IO, "no .jpg, .jpeg or .png images in the given paths");
    enum { B = 32 };
    ct_runtime *rt = NULL;
    ct_model *m = NULL;
    ct_model_meta meta;
    memset(&meta, 0, sizeof meta);
    if (s == CT_OK) s = ct_runtime_create(device, 0, &rt);
    if (s == CT_OK) {
        ct_runtime_print_device(rt, stderr);
        s = ct_model_open(rt, model_path, B, &m, &meta);
    }
    size_t chw = (size_t)meta.c * meta.h * meta.w;
    int n_out = m ? ct_model_outputs(m) : 1;
    float *x = s == CT_OK ? malloc(B * chw * sizeof(float)) : NULL;
    uint8_t *img = s == CT_OK ? malloc(chw) : NULL;
    float *probs = s == CT_OK ? malloc((size_t)B * n_out * sizeof(float)) : NULL;
    int *idx = s == CT_OK ? malloc(B * sizeof(int)) : NULL;
    if (s == CT_OK && (!x || !img || !probs || !idx))
        s = ct_set_error(CT_ERR_MEMORY, "out of host memory");
    if (s == CT_OK && csv) {
        fprintf(out, "file,class");
        for (int k = 0; k < meta.n_classes; k++) fprintf(out, ",p_%s", meta.class_names[k]);
        fputc('\n', out);
    }
    int skipped = 0;
    for (int start = 0; s == CT_OK && start < files.n; start += B) {
        int cnt = 0;
        for (int i = start; i < files.n && i < start + B; i++) {
            if (ct_image_load(files.p[i], meta.h, meta.w, meta.c, meta.resize, img) != CT_OK) {
                fprintf(stderr, "warning: skipping %s\n", ct_last_error());
                skipped++;
                continue;
            }
            hwc_to_chw(img, meta.h, meta.w, meta.c, x + (size_t)cnt * chw);
            idx[cnt++] = i;
        }
        if (cnt == 0) continue;
        s = ct_upload(rt, ct_model_input(m), 0, (size_t)cnt * chw * sizeof(float), x);
        if (s == CT_OK) s = ct_model_predict(m, cnt, probs);
        for (int j = 0; s == CT_OK && j < cnt; j++)
            print_row(out, csv, files.p[idx[j]], &meta, probs + (size_t)j * n_out, n_out);
    }
    if (s == CT_OK && skipped) fprintf(stderr, "%d file(s) skipped as unreadable\n", skipped);
    free(x);
    free(img);
    free(probs);
    free(idx);
    for (int i = 0; i < files.n; i++) free(files.p[i]);
    free(files.p);
    ct_model_free(m);
    ct_model_meta_free(&meta);
    ct_runtime_free(rt);
    return s;
}
