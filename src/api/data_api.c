/* Public datasets, image lists and the batch loader (cltrain.h) over data/data.h. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"
#include "data/data.h"

ct_status ct_dataset_open(const char *const *dirs, int n_dirs, ct_dataset **out) {
    *out = NULL;
    ct_dataset *d = calloc(1, sizeof *d);
    if (!d) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    ct_status s = ct_dataset_scan(dirs, n_dirs, d);
    if (s != CT_OK) {
        free(d);
        return s;
    }
    *out = d;
    return CT_OK;
}

ct_status ct_dataset_subset(const ct_dataset *src, double fraction, int subset, ct_dataset **out) {
    *out = NULL;
    ct_dataset *d = calloc(1, sizeof *d);
    if (!d) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    ct_status s = ct_dataset_split(src, fraction, subset, d);
    if (s != CT_OK) {
        free(d);
        return s;
    }
    *out = d;
    return CT_OK;
}

void ct_dataset_free(ct_dataset *d) {
    if (!d) return;
    ct_dataset_clear(d);
    free(d);
}

int ct_dataset_count(const ct_dataset *d) { return d ? d->n : 0; }
int ct_dataset_class_count(const ct_dataset *d) { return d ? d->n_classes : 0; }
const char *ct_dataset_class_name(const ct_dataset *d, int i) {
    return d && i >= 0 && i < d->n_classes ? d->class_names[i] : NULL;
}
const char *const *ct_dataset_class_names(const ct_dataset *d) {
    return d ? (const char *const *)d->class_names : NULL;
}
const char *ct_dataset_path(const ct_dataset *d, int i) {
    return d && i >= 0 && i < d->n ? d->paths[i] : NULL;
}
int ct_dataset_label(const ct_dataset *d, int i) { return d && i >= 0 && i < d->n ? d->labels[i] : -1; }

ct_status ct_images_find(const char *const *paths, int n_paths, char ***files, int *n_files) {
    char **v = NULL;
    int n = 0, cap = 0;
    ct_status s = CT_OK;
    for (int i = 0; i < n_paths && s == CT_OK; i++) {
        struct stat sb;
        if (stat(paths[i], &sb) != 0) {
            s = ct_set_error(CT_ERR_IO, "%s: no such file or folder", paths[i]);
        } else if (S_ISDIR(sb.st_mode)) {
            s = ct_image_walk(paths[i], &v, &n, &cap);
        } else {
            if (n == cap) {
                int nc = cap ? cap * 2 : 16;
                char **nv = realloc(v, (size_t)nc * sizeof *nv);
                if (!nv) {
                    s = ct_set_error(CT_ERR_MEMORY, "out of host memory");
                    break;
                }
                v = nv;
                cap = nc;
            }
            if (!(v[n] = strdup(paths[i]))) s = ct_set_error(CT_ERR_MEMORY, "out of host memory");
            else n++;
        }
    }
    if (s == CT_OK && n == 0)
        s = ct_set_error(CT_ERR_IO, "no .jpg, .jpeg or .png images in the given paths");
    if (s != CT_OK) {
        ct_images_free(v, n);
        v = NULL;
        n = 0;
    }
    *files = v;
    *n_files = n;
    return s;
}

void ct_images_free(char **files, int n_files) {
    for (int i = 0; i < n_files; i++) free(files[i]);
    free(files);
}

void ct_loader_config_default(ct_loader_config *c) {
    memset(c, 0, sizeof *c);
    c->batch = 32;
    c->h = c->w = 112;
    c->c = 3;
    c->resize = CT_RESIZE_NEAREST;
    c->augment = "none";
    c->seed = 1;
    c->cache_mb = 2048;
    ct_preprocess_default(&c->pre);
}

ct_status ct_loader_open(const ct_dataset *ds, const ct_loader_config *c, ct_loader **out) {
    *out = NULL;
    ct_loader_opts lo;
    memset(&lo, 0, sizeof lo);
    lo.batch = c->batch;
    lo.h = c->h;
    lo.w = c->w;
    lo.c = c->c;
    lo.resize = c->resize;
    lo.pre = c->pre;
    static const ct_preprocess unset; /* a config made before .pre existed: the old 1/255 */
    if (!memcmp(&c->pre, &unset, sizeof unset)) ct_preprocess_default(&lo.pre);
    lo.shuffle = c->shuffle;
    lo.seed = c->seed;
    lo.workers = c->workers;
    lo.cache_mb = c->cache_mb;
    lo.quiet = c->quiet;
    CT_TRY(ct_augment_parse(c->augment, &lo.augment));
    return ct_loader_create(ds, &lo, out);
}
