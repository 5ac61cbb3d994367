/* Dataset scan with Keras flow_from_directory semantics: classes are the sub-folders of a
 * root, sorted by strcmp; files are walked recursively (directories in sorted path order,
 * files sorted within each, as Keras's sorted(os.walk)), keeping .jpg .jpeg .png of any
 * case. Several roots are joined: class sets are unioned by name. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data/data.h"
#include "base/error.h"

typedef struct strvec {
    char **v;
    int n, cap;
} strvec;

static int sv_push(strvec *s, char *str) {
    if (!str) return -1;
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 16;
        char **v = realloc(s->v, (size_t)cap * sizeof *v);
        if (!v) {
            free(str);
            return -1;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = str;
    return 0;
}

static void sv_free(strvec *s) {
    for (int i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join_path(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    int slash = la > 0 && a[la - 1] != '/';
    char *p = malloc(la + lb + 2);
    if (!p) return NULL;
    memcpy(p, a, la);
    if (slash) p[la] = '/';
    memcpy(p + la + slash, b, lb + 1);
    return p;
}

static int has_image_ext(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    return !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png");
}

/* Lists the entries of dir: sub-directories into dirs (not following symlinked directories,
 * as os.walk(followlinks=False)), image files into files (unsorted). */
static ct_status list_dir(const char *dir, strvec *dirs, strvec *files) {
    DIR *d = opendir(dir);
    if (!d)
        return ct_set_error(CT_ERR_IO, "cannot open folder '%s': %s", dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *p = join_path(dir, e->d_name);
        if (!p) {
            closedir(d);
            return ct_set_error(CT_ERR_MEMORY, "out of memory scanning '%s'", dir);
        }
        struct stat st;
        int is_dir = 0, is_file = 0;
        if (lstat(p, &st) == 0) {
            if (S_ISDIR(st.st_mode)) is_dir = 1;
            else if (S_ISLNK(st.st_mode)) {
                struct stat st2;
                /* a symlink to a file counts; to a directory it is not descended */
                if (stat(p, &st2) == 0 && !S_ISDIR(st2.st_mode)) is_file = 1;
                else if (stat(p, &st2) != 0) is_file = 1; /* dangling: warned/skipped later */
            } else
                is_file = 1;
        } else
            is_file = 1;
        int r = 0;
        if (is_dir && dirs) r = sv_push(dirs, p);
        else if (is_file && files && has_image_ext(e->d_name)) r = sv_push(files, p);
        else free(p);
        if (r) {
            closedir(d);
            return ct_set_error(CT_ERR_MEMORY, "out of memory scanning '%s'", dir);
        }
    }
    closedir(d);
    return CT_OK;
}

/* All image files under a class folder in Keras's order. */
static ct_status walk_class(const char *root, strvec *out) {
    strvec dirs = {0};
    ct_status s = CT_OK;
    char *r = strdup(root);
    if (sv_push(&dirs, r)) return ct_set_error(CT_ERR_MEMORY, "out of memory");
    /* collect every directory below root (iteratively), then sort by full path */
    for (int i = 0; i < dirs.n && s == CT_OK; i++) s = list_dir(dirs.v[i], &dirs, NULL);
    if (s == CT_OK && dirs.n > 2) qsort(dirs.v + 1, (size_t)dirs.n - 1, sizeof(char *), cmp_str);
    for (int i = 0; i < dirs.n && s == CT_OK; i++) {
        strvec files = {0};
        s = list_dir(dirs.v[i], NULL, &files);
        if (s == CT_OK) {
            if (files.n > 1) qsort(files.v, (size_t)files.n, sizeof(char *), cmp_str);
            for (int j = 0; j < files.n; j++) {
                if (s == CT_OK && sv_push(out, files.v[j]))
                    s = ct_set_error(CT_ERR_MEMORY, "out of memory");
                else if (s != CT_OK)
                    free(files.v[j]);
            }
            free(files.v);
        } else
            sv_free(&files);
    }
    sv_free(&dirs);
    return s;
}

ct_status ct_image_walk(const char *dir, char ***paths, int *n, int *cap) {
    strvec v = {*paths, *n, *cap};
    ct_status s = walk_class(dir, &v);
    *paths = v.v;
    *n = v.n;
    *cap = v.cap;
    return s;
}

/* Class folder names of one root, sorted by strcmp. */
static ct_status list_classes(const char *root, strvec *names) {
    struct stat st;
    if (stat(root, &st) != 0)
        return ct_set_error(CT_ERR_IO,
                            "dataset folder '%s' not found (%s): give a folder with one "
                            "sub-folder per class",
                            root, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return ct_set_error(CT_ERR_IO, "'%s' is not a folder: give a folder with one sub-folder per class",
                            root);
    DIR *d = opendir(root);
    if (!d) return ct_set_error(CT_ERR_IO, "cannot open folder '%s': %s", root, strerror(errno));
    struct dirent *e;
    ct_status s = CT_OK;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *p = join_path(root, e->d_name);
        if (!p) {
            s = ct_set_error(CT_ERR_MEMORY, "out of memory");
            break;
        }
        int isdir = stat(p, &st) == 0 && S_ISDIR(st.st_mode); /* os.path.isdir follows links */
        free(p);
        if (isdir && sv_push(names, strdup(e->d_name))) {
            s = ct_set_error(CT_ERR_MEMORY, "out of memory");
            break;
        }
    }
    closedir(d);
    if (s == CT_OK && names->n > 1) qsort(names->v, (size_t)names->n, sizeof(char *), cmp_str);
    return s;
}

void ct_dataset_clear(ct_dataset *d) {
    if (!d) return;
    for (int i = 0; i < d->n_classes; i++) free(d->class_names[i]);
    for (int i = 0; i < d->n; i++) free(d->paths[i]);
    free(d->class_names);
    free(d->paths);
    free(d->labels);
    memset(d, 0, sizeof *d);
}

void ct_dataset_print(const ct_dataset *d, FILE *f) {
    fprintf(f, "Found %d images belonging to %d classes.\n", d->n, d->n_classes);
    fflush(f);
}

ct_status ct_dataset_scan(const char *const *dirs, int n_dirs, ct_dataset *out) {
    memset(out, 0, sizeof *out);
    if (n_dirs <= 0 || !dirs) return ct_set_error(CT_ERR_ARG, "no dataset folder given");
    strvec *names = calloc((size_t)n_dirs, sizeof *names);
    strvec all = {0};
    if (!names) return ct_set_error(CT_ERR_MEMORY, "out of memory");
    ct_status s = CT_OK;
    for (int r = 0; r < n_dirs && s == CT_OK; r++) {
        s = list_classes(dirs[r], &names[r]);
        if (s == CT_OK && names[r].n == 0)
            s = ct_set_error(CT_ERR_ARG,
                             "dataset folder '%s' has no class sub-folders: put the images of "
                             "each class in their own sub-folder",
                             dirs[r]);
        for (int i = 0; s == CT_OK && i < names[r].n; i++)
            if (sv_push(&all, strdup(names[r].v[i]))) s = ct_set_error(CT_ERR_MEMORY, "out of memory");
    }
    /* union of class names, sorted, unique */
    if (s == CT_OK) {
        if (all.n > 1) qsort(all.v, (size_t)all.n, sizeof(char *), cmp_str);
        int u = 0;
        for (int i = 0; i < all.n; i++) {
            if (u > 0 && !strcmp(all.v[u - 1], all.v[i])) free(all.v[i]);
            else all.v[u++] = all.v[i];
        }
        all.n = u;
        out->n_classes = all.n;
        out->class_names = all.v;
        all.v = NULL;
        all.n = 0;
    }
    strvec paths = {0};
    int *labels = NULL, cap_labels = 0;
    for (int r = 0; r < n_dirs && s == CT_OK; r++) {
        for (int i = 0; i < names[r].n && s == CT_OK; i++) {
            char *cdir = join_path(dirs[r], names[r].v[i]);
            if (!cdir) {
                s = ct_set_error(CT_ERR_MEMORY, "out of memory");
                break;
            }
            int before = paths.n;
            s = walk_class(cdir, &paths);
            if (s == CT_OK && paths.n == before)
                s = ct_set_error(CT_ERR_ARG,
                                 "class folder '%s' has no .jpg/.jpeg/.png images: add images or "
                                 "remove the folder",
                                 cdir);
            free(cdir);
            if (s != CT_OK) break;
            /* class index in the union */
            char **hit = bsearch(&names[r].v[i], out->class_names, (size_t)out->n_classes,
                                 sizeof(char *), cmp_str);
            int cls = (int)(hit - out->class_names);
            if (paths.n > cap_labels) {
                int cap = paths.n * 2;
                int *nl = realloc(labels, (size_t)cap * sizeof(int));
                if (!nl) {
                    s = ct_set_error(CT_ERR_MEMORY, "out of memory");
                    break;
                }
                labels = nl;
                cap_labels = cap;
            }
            for (int j = before; j < paths.n; j++) labels[j] = cls;
        }
    }
    if (s == CT_OK && paths.n == 0) s = ct_set_error(CT_ERR_ARG, "the dataset has no images");
    for (int r = 0; r < n_dirs; r++) sv_free(&names[r]);
    free(names);
    sv_free(&all);
    out->paths = paths.v;
    out->n = paths.n;
    out->labels = labels;
    if (s != CT_OK) {
        ct_dataset_clear(out);
        return s;
    }
    return CT_OK;
}

ct_status ct_dataset_split(const ct_dataset *src, double fraction, int subset, ct_dataset *out) {
    memset(out, 0, sizeof *out);
    if (!(fraction > 0.0 && fraction < 1.0))
        return ct_set_error(CT_ERR_ARG, "--validation-split %g must be in (0, 1)", fraction);
    if (subset != 0 && subset != 1)
        return ct_set_error(CT_ERR_ARG, "dataset split subset must be 0 (training) or 1 (validation)");
    out->n_classes = src->n_classes;
    out->class_names = calloc((size_t)src->n_classes, sizeof(char *));
    out->paths = calloc((size_t)src->n + 1, sizeof(char *));
    out->labels = calloc((size_t)src->n + 1, sizeof(int));
    if (!out->class_names || !out->paths || !out->labels) goto oom;
    for (int c = 0; c < src->n_classes; c++)
        if (!(out->class_names[c] = strdup(src->class_names[c]))) goto oom;
    /* Keras splits each class's file list (in order): validation = [0, int(f*n)),
     * training = [int(f*n), n). A "class list" here is each contiguous run of one label
     * (one class folder of one root, or adjacent ones when joined roots line up). */
    for (int i = 0; i < src->n;) {
        int j = i;
        while (j < src->n && src->labels[j] == src->labels[i]) j++;
        int cnt = j - i;
        int cut = (int)(fraction * cnt);
        int a = subset == 1 ? i : i + cut, b = subset == 1 ? i + cut : j;
        for (int k = a; k < b; k++) {
            if (!(out->paths[out->n] = strdup(src->paths[k]))) goto oom;
            out->labels[out->n++] = src->labels[k];
        }
        i = j;
    }
    if (out->n == 0) {
        ct_dataset_clear(out);
        return ct_set_error(CT_ERR_ARG, "--validation-split %g leaves the %s subset empty", fraction,
                            subset ? "validation" : "training");
    }
    return CT_OK;
oom:
    ct_dataset_clear(out);
    return ct_set_error(CT_ERR_MEMORY, "out of memory splitting the dataset");
}
