/* cltrain train / evaluate / predict / preview: option parsing and output, on the public
 * API of include/cltrain.h (preview and the --augment check use data/data.h). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/parse.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/mpirun.h"
#include "train/dist.h"
#include "train/train.h"
#include "cli/multidev.h"
#include "cltrain.h"
#include "data/data.h"
#include "io/fileutil.h"
#include "report/report.h"

/* ---- option value parsing (errors name the option) ------------------------ */

static int parse_long(const char *cmd, const char *opt, const char *v, long lo, long hi, long *out) {
    if (ct_parse_long(opt, v, lo, hi, out) == CT_OK) return 1;
    fprintf(stderr, "cltrain %s: %s\n", cmd, ct_last_error());
    return 0;
}

static int parse_int(const char *cmd, const char *opt, const char *v, int lo, int hi, int *out) {
    if (ct_parse_int(opt, v, lo, hi, out) == CT_OK) return 1;
    fprintf(stderr, "cltrain %s: %s\n", cmd, ct_last_error());
    return 0;
}

static int parse_size(const char *cmd, const char *opt, const char *v, size_t lo, size_t hi,
                      size_t *out) {
    if (ct_parse_size(opt, v, lo, hi, out) == CT_OK) return 1;
    fprintf(stderr, "cltrain %s: %s\n", cmd, ct_last_error());
    return 0;
}

static int parse_double(const char *cmd, const char *opt, const char *v, double lo, double hi,
                        double *out) {
    if (ct_parse_double(opt, v, lo, hi, out) == CT_OK) return 1;
    fprintf(stderr, "cltrain %s: %s\n", cmd, ct_last_error());
    return 0;
}

/* --reduce-lr-on-plateau FACTOR:PATIENCE[:MIN_LR]; the ranges are ct_fit_opts_check's. */
static int parse_plateau(const char *cmd, const char *v, ct_fit_opts *o) {
    char buf[128], *f[4];
    int n = 0;
    if (strlen(v) < sizeof buf) {
        snprintf(buf, sizeof buf, "%s", v);
        for (char *p = buf, *q; n < 4; p = q + 1) {
            f[n++] = p;
            if (!(q = strchr(p, ':'))) break;
            *q = 0;
        }
    }
    double pat = 0;
    o->plateau_min_lr = 0;
    if ((n == 2 || n == 3) &&
        ct_parse_double("--reduce-lr-on-plateau FACTOR", f[0], -1e9, 1e9, &o->plateau_factor) ==
            CT_OK &&
        ct_parse_double("--reduce-lr-on-plateau PATIENCE", f[1], 1, 1e6, &pat) == CT_OK &&
        pat == (int)pat &&
        (n == 2 || ct_parse_double("--reduce-lr-on-plateau MIN_LR", f[2], -1e9, 1e9,
                                   &o->plateau_min_lr) == CT_OK)) {
        o->plateau_patience = (int)pat;
        return 1;
    }
    fprintf(stderr, "cltrain %s: --reduce-lr-on-plateau '%s': expected FACTOR:PATIENCE[:MIN_LR] "
            "with FACTOR in (0, 1), PATIENCE a whole number of epochs >= 1 and MIN_LR >= 0, e.g. "
            "0.5:3 or 0.2:5:1e-6\n", cmd, v);
    return 0;
}

static int parse_input(const char *cmd, const char *v, int *h, int *w) {
    if (ct_parse_hw("--input", v, 8192, h, w) == CT_OK) return 1;
    fprintf(stderr, "cltrain %s: %s\n", cmd, ct_last_error());
    return 0;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Keras's line after a scan. */
static void print_found(const ct_dataset *d) {
    printf("Found %d images belonging to %d classes.\n", ct_dataset_count(d), ct_dataset_class_count(d));
    fflush(stdout);
}

/* Appends the names of a that b lacks to buf (size n), comma separated. */
static void missing_names(char *buf, size_t n, const ct_dataset *a, const ct_dataset *b) {
    size_t len = strlen(buf);
    for (int i = 0; i < ct_dataset_class_count(a); i++) {
        const char *x = ct_dataset_class_name(a, i);
        int found = 0;
        for (int j = 0; j < ct_dataset_class_count(b) && !found; j++)
            found = !strcmp(x, ct_dataset_class_name(b, j));
        if (found) continue;
        int w = snprintf(buf + len, n - len, "%s'%s'", len ? ", " : "", x);
        if (w < 0 || (size_t)w >= n - len) {
            snprintf(buf + (len < n - 4 ? len : n - 4), 4, "...");
            return;
        }
        len += (size_t)w;
    }
}

static ct_status same_classes(const ct_dataset *a, const ct_dataset *b, const char *what) {
    int na = ct_dataset_class_count(a), nb = ct_dataset_class_count(b);
    int same = na == nb;
    for (int i = 0; same && i < na; i++)
        same = !strcmp(ct_dataset_class_name(a, i), ct_dataset_class_name(b, i));
    if (same) return CT_OK;
    char only_a[512] = "", only_b[512] = "";
    missing_names(only_a, sizeof only_a, a, b);
    missing_names(only_b, sizeof only_b, b, a);
    return ct_set_error(CT_ERR_ARG,
                        "the %s set's class folders differ from the training set's (%d vs %d "
                        "classes; only in the training set: %s; only in the %s set: %s); use the "
                        "same class sub-folders",
                        what, nb, na, *only_a ? only_a : "none", what, *only_b ? only_b : "none");
}

#define MAX_DATA_DIRS 16

/* ---- output paths: checked before any image is decoded ----------------------- */

/* The folder part of path (malloc'd): "." for a bare name, "/" for "/x". */
static char *parent_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* Where path will be written: the real path of its folder + "/" + its name, after
 * following a symlink at path (as ct_write_atomic does). malloc'd, NULL if its folder does
 * not exist. */
static char *canonical_output(const char *path) {
    char *real = realpath(path, NULL); /* an existing file (or the target of a link) */
    if (real) return real;
    char *dir = parent_of(path), *rdir = realpath(dir, NULL);
    free(dir);
    if (!rdir) return NULL;
    const char *base = ct_path_base(path);
    size_t n = strlen(rdir) + strlen(base) + 2;
    char *out = malloc(n);
    if (out) snprintf(out, n, "%s/%s", strcmp(rdir, "/") ? rdir : "", base);
    free(rdir);
    return out;
}

/* 1 when canonical path c lies inside folder dir (real path rdir). */
static int is_inside(const char *c, const char *rdir) {
    size_t n = strlen(rdir);
    if (!strcmp(rdir, "/")) return 1;
    return !strncmp(c, rdir, n) && (c[n] == '/' || c[n] == 0);
}

#define MAX_OUTPUTS 8
#define MAX_INPUTS (MAX_DATA_DIRS + 8)

/* Everything a command reads (folders of images, single files) and writes. */
typedef struct io_plan {
    const char *in_dirs[MAX_INPUTS], *in_dir_opts[MAX_INPUTS];
    int n_in_dirs;
    const char *in_files[MAX_INPUTS], *in_file_opts[MAX_INPUTS];
    int n_in_files;
    const char *out[MAX_OUTPUTS], *out_opts[MAX_OUTPUTS];
    int n_out;
} io_plan;

static void plan_in_dir(io_plan *p, const char *opt, const char *d) {
    if (d && p->n_in_dirs < MAX_INPUTS) {
        p->in_dir_opts[p->n_in_dirs] = opt;
        p->in_dirs[p->n_in_dirs++] = d;
    }
}
static void plan_in_file(io_plan *p, const char *opt, const char *f) {
    if (f && p->n_in_files < MAX_INPUTS) {
        p->in_file_opts[p->n_in_files] = opt;
        p->in_files[p->n_in_files++] = f;
    }
}
static void plan_out(io_plan *p, const char *opt, const char *f) {
    if (f && p->n_out < MAX_OUTPUTS) {
        p->out_opts[p->n_out] = opt;
        p->out[p->n_out++] = f;
    }
}

/* One output: a file name, in an existing writable folder, not a folder or a device, not
 * read-only (unless --force), not an input file and not inside an input folder. */
static int check_output(const char *cmd, const io_plan *p, int k) {
    const char *opt = p->out_opts[k], *path = p->out[k];
    if (!*path) {
        fprintf(stderr, "cltrain %s: %s: the file name is empty; give a file path\n", cmd, opt);
        return 0;
    }
    if (path[strlen(path) - 1] == '/') {
        fprintf(stderr, "cltrain %s: %s %s ends in '/'; give a file name\n", cmd, opt, path);
        return 0;
    }
    char *dir = parent_of(path);
    if (!dir) {
        fprintf(stderr, "cltrain %s: out of host memory\n", cmd);
        return 0;
    }
    struct stat sb;
    int ok = 1;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "cltrain %s: %s %s: folder '%s' does not exist; create it or choose another "
                "path\n", cmd, opt, path, dir);
        ok = 0;
    } else if (access(dir, W_OK) != 0) {
        fprintf(stderr, "cltrain %s: %s %s: folder '%s' is not writable; choose another path\n", cmd,
                opt, path, dir);
        ok = 0;
    } else if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "cltrain %s: %s %s is a folder; give a file name\n", cmd, opt, path);
        ok = 0;
    } else if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        fprintf(stderr, "cltrain %s: %s %s is not a regular file (a device, FIFO or socket); "
                "choose a file path\n", cmd, opt, path);
        ok = 0;
    } else if (stat(path, &sb) == 0 && !ct_write_force() &&
               !(sb.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH))) {
        fprintf(stderr, "cltrain %s: %s %s is read-only; make it writable, choose another path, "
                "or give --force to replace it\n", cmd, opt, path);
        ok = 0;
    }
    free(dir);
    if (!ok) return 0;
    char *c = canonical_output(path);
    if (!c) {
        fprintf(stderr, "cltrain %s: %s %s: cannot resolve its folder: %s\n", cmd, opt, path,
                strerror(errno));
        return 0;
    }
    /* Never an input: the same file (device + inode), or anywhere in an image folder. */
    struct stat ob;
    int exists = stat(c, &ob) == 0;
    for (int i = 0; ok && i < p->n_in_files; i++) {
        struct stat ib;
        if (exists && stat(p->in_files[i], &ib) == 0 && ib.st_dev == ob.st_dev &&
            ib.st_ino == ob.st_ino) {
            fprintf(stderr, "cltrain %s: %s %s is the input file of %s (%s); refusing to overwrite "
                    "an input: choose another path\n", cmd, opt, path, p->in_file_opts[i],
                    p->in_files[i]);
            ok = 0;
        }
    }
    for (int i = 0; ok && i < p->n_in_dirs; i++) {
        char *rd = realpath(p->in_dirs[i], NULL);
        if (rd && is_inside(c, rd)) {
            fprintf(stderr, "cltrain %s: %s %s is inside the %s folder %s; refusing to write "
                    "into input data: choose a path outside it\n", cmd, opt, path,
                    p->in_dir_opts[i], p->in_dirs[i]);
            ok = 0;
        }
        free(rd);
    }
    /* Two outputs on one path: one would silently replace the other. */
    for (int j = 0; ok && j < k; j++) {
        char *cj = canonical_output(p->out[j]);
        if (cj && !strcmp(cj, c)) {
            fprintf(stderr, "cltrain %s: %s %s and %s %s are the same file; give each output its "
                    "own path\n", cmd, p->out_opts[j], p->out[j], opt, path);
            ok = 0;
        }
        free(cj);
    }
    free(c);
    return ok;
}

static int check_outputs(const char *cmd, const io_plan *p) {
    for (int k = 0; k < p->n_out; k++)
        if (!check_output(cmd, p, k)) return 0;
    return 1;
}

static int fail(const char *cmd) {
    fprintf(stderr, "cltrain %s: %s\n", cmd, ct_last_error());
    return 1;
}

/* ---- augmentation options (data/augment.c knows the names and checks values) -- */
#define AUG_SPEC_MAX 1024

/* When argv[*i] is one (--rotation-range ...), checks its value, naming the option, and
 * appends " key=value" to spec. 1: taken, 0: not one, -1: bad (message printed). */
/* The ImageDataGenerator options of train and preview (docs/AUGMENTATION.md), for their
 * option tables; aug_option below turns them into "key=value" items of the spec. */
#define AUG_OPTDEFS                                                                                \
    {"rotation-range", "DEG"}, {"width-shift-range", "W"}, {"height-shift-range", "H"},            \
        {"shear-range", "DEG"}, {"zoom-range", "Z|LO,HI"}, {"brightness-range", "LO,HI"},          \
        {"channel-shift-range", "X"}, {"horizontal-flip", NULL}, {"no-horizontal-flip", NULL},     \
        {"vertical-flip", NULL}, {"fill-mode", "MODE"}, {"cval", "X"}

/* An augmentation option (name opt, value v from the option table; NULL for a flag):
 * 0 when opt is not one, 1 when it was added to spec, -1 on an error (printed). */
static int aug_option(const char *cmd, const char *opt, const char *v, char *spec, size_t n) {
    const char *flag, *key = ct_augment_cli_key(opt, &flag);
    if (!key) return 0;
    if (flag) v = flag;
    if (!v) return -1;
    ct_augment tmp;
    ct_augment_preset("none", &tmp);
    if (ct_augment_set(&tmp, key, v, opt) != CT_OK) {
        fail(cmd);
        return -1;
    }
    size_t len = strlen(spec);
    int w = snprintf(spec + len, n - len, " %s=%s", key, v);
    if (strchr(v, ' ') || w < 0 || (size_t)w >= n - len) {
        spec[len] = 0;
        fprintf(stderr, "cltrain %s: %s '%s': a value without spaces, and fewer augmentation "
                "options, please\n", cmd, opt, v);
        return -1;
    }
    return 1;
}

/* The augmentation spec: preset, then the explicit options, which override it. */
static const char *aug_spec(const char *preset, const char *extra, char *buf, size_t n) {
    if (!*extra) return preset;
    snprintf(buf, n, "%s%s", preset, extra);
    return buf;
}

/* ---- train ------------------------------------------------------------- */

#define AUG_HELP                                                                                   \
    "  ImageDataGenerator options (Keras's names and maths, docs/AUGMENTATION.md;\n"              \
    "  each overrides the preset):\n"                                                              \
    "  --rotation-range DEG     --width-shift-range W    --height-shift-range H\n"                 \
    "                           (W, H below 1: fractions of the width and height)\n"              \
    "  --shear-range DEG        --zoom-range Z|LO,HI     --brightness-range LO,HI\n"               \
    "  --channel-shift-range X  --horizontal-flip        --no-horizontal-flip\n"                   \
    "  --vertical-flip          --fill-mode nearest|constant|reflect|wrap\n"                        \
    "  --cval 0..255            the fill value of --fill-mode constant\n"

static const char *train_help =
    "Usage: cltrain train --data DIR [--data DIR2 ...] [options]\n"
    "\n"
    "Trains a model on class folders (DIR/<class>/*.jpg|png), like Keras's fit on\n"
    "ImageDataGenerator.flow_from_directory.\n"
    "\n"
    "data:\n"
    "  --data DIR              training folder (repeat to join several, e.g. train +\n"
    "                          validation)\n"
    "  --validation DIR        validation folder, evaluated after every epoch\n"
    "  --validation-split F    use the first fraction F of each class as validation\n"
    "                          (Keras)\n"
    "  --test DIR              evaluate on this folder after training and print test\n"
    "                          accuracy\n"
    "  --input HxW             input size (default 112x112)\n"
    "  --color rgb|grayscale   colour mode (default rgb)\n"
    "  --resize nearest|bilinear|area\n"
    "                          resize filter (default nearest, as Keras)\n"
    "  --augment seed|none     augmentation preset: 'seed' = the original project's\n"
    "                          settings (rotation 20, shifts 0.2, shear 0.1, zoom\n"
    "                          0.2, h-flip); default none\n"
    AUG_HELP
    "  --workers N             augmentation worker threads (default: cores - 1, at\n"
    "                          least 1)\n"
    "  --cache-mb N            decode-once image cache cap in MiB (default 2048; 0 =\n"
    "                          off)\n"
    "preprocessing (Keras ImageDataGenerator; stored in the model file, applied by\n"
    "predict):\n"
    "  --rescale F             multiply pixels by F first (default 1/255; a number\n"
    "                          or A/B)\n"
    "  --samplewise-center     subtract each image's mean\n"
    "  --samplewise-std-normalization\n"
    "                          divide each image by its std + 1e-6 (centers it too)\n"
    "  --featurewise-center    subtract the training set's per-channel mean\n"
    "  --featurewise-std-normalization\n"
    "                          divide by the training set's per-channel std + 1e-6\n"
    "                          (centers too; statistics computed once before the\n"
    "                          first epoch)\n"
    "model and optimiser:\n"
    "  --model NAME|SPEC       model1, model2 (default), model3 (the seed's), model4\n"
    "                          (recommended, batchnorm; docs/LAYERS.md), or a spec\n"
    "                          such as\n"
    "                          conv32:3:relu,pool2,flatten,dense64:relu,dense1\n"
    "  --epochs N              (default 10)\n"
    "  --batch-size N          (default 64)\n"
    "  --optimizer NAME        adam (default), adamw, sgd or rmsprop (Keras 3;\n"
    "                          docs/TRAINING.md)\n"
    "  --lr X                  learning rate (default 1e-3, sgd 1e-2; the seed\n"
    "                          project used 1e-4)\n"
    "  --beta1 X --beta2 X --epsilon X\n"
    "                          adam/adamw (Keras defaults 0.9, 0.999, 1e-7; epsilon\n"
    "                          also rmsprop's)\n"
    "  --momentum X            sgd, rmsprop: momentum in [0, 1) (default 0)\n"
    "  --nesterov              sgd: Nesterov momentum (needs --momentum)\n"
    "  --rho X                 rmsprop: decay of the squared-gradient average\n"
    "                          (default 0.9)\n"
    "  --weight-decay X        adamw: decoupled weight decay (default 0.004; not on\n"
    "                          biases)\n"
    "  --lr-schedule S         constant (default), cosine, step or exponential\n"
    "  --lr-decay-rate F       step (default 0.1), exponential (required): factor\n"
    "                          per period\n"
    "  --lr-decay-epochs N     step (required), exponential (default 1): the period\n"
    "                          in epochs\n"
    "  --warmup-epochs N       linear warmup over the first N epochs (N < --epochs)\n"
    "  --reduce-lr-on-plateau FACTOR:PATIENCE[:MIN_LR]\n"
    "                          multiply the rate by FACTOR after PATIENCE epochs\n"
    "                          without improvement of --monitor (Keras)\n"
    "  --class-weight balanced|NAME:W,...\n"
    "                          weigh each class's training loss (Keras's\n"
    "                          class_weight; balanced = n / (classes * n_class);\n"
    "                          others 1)\n"
    "  --steps-per-epoch N     cap the steps of an epoch (default ceil(samples /\n"
    "                          batch))\n"
    "  --seed S                seed for initialisation, shuffling, augmentation,\n"
    "                          dropout (default 1)\n"
    "  --init FILE             start from the weights of a saved model (same\n"
    "                          architecture)\n"
    "early stopping:\n"
    "  --early-stopping P      stop after P epochs without improvement (restores the\n"
    "                          best weights)\n"
    "  --monitor M             val_loss (default with validation), loss,\n"
    "                          val_accuracy, accuracy\n"
    "  --min-delta X           minimum change that counts as improvement (default 0)\n"
    "  --no-restore-best       keep the last weights instead of the best\n"
    "output:\n"
    "  --out FILE              model file (.safetensors), written at the end;\n"
    "                          default ./model.safetensors (replaced if it exists)\n"
    "  --history FILE          history CSV, rewritten every epoch\n"
    "  --plot FILE             accuracy and loss curves, rewritten every epoch: .svg\n"
    "                          or no extension; .png, .pdf in builds with cairo\n"
    "  --checkpoint-dir D      write D/checkpoint.safetensors atomically after every\n"
    "                          epoch\n"
    "  --force                 replace read-only output files\n"
    "  --resume                continue from D/checkpoint.safetensors (same options\n"
    "                          required)\n"
    "device:\n"
    "  --device P:D            OpenCL device as `cltrain devices` lists (or\n"
    "                          CLTRAIN_DEVICE)\n"
    "  --devices LIST          data-parallel over several: P:D,P:D,... or all (or\n"
    "                          CLTRAIN_DEVICES); the batch is split evenly\n"
    "                          (docs/SCALING.md)\n"
    "  --sync-bn               with --devices: batchnorm statistics over the global\n"
    "                          batch (as on one device) instead of each device's\n"
    "                          share\n"
    "  --profile               print a per-kernel time table at the end\n"
    "  --deterministic         bit-reproducible kernels (also\n"
    "                          CLTRAIN_DETERMINISTIC=1)\n"
    "  --quiet                 less output\n"
    "\n"
    "Ctrl-C (SIGINT) or SIGTERM finishes the current step, writes --out (marked\n"
    "interrupted)\n"
    "and says how to --resume from the checkpoint; exit status 130 / 143. A second\n"
    "signal\n"
    "ends the program at once.\n";

/* Where the model goes without --out (Keras's model.save needs a name; a run that saved
 * nothing would be lost), checked and announced like any --out. */
#define DEFAULT_OUT "model.safetensors"

/* What `cltrain train` takes beyond the fit options. */
typedef struct train_args {
    const char *data_dirs[MAX_DATA_DIRS];
    int n_data;
    const char *val_dir;     /* NULL: none (or validation_split) */
    double validation_split; /* 0: none */
    const char *test_dir;    /* evaluated after training when set */
    const char *model;       /* preset or spec */
    int h, w, c;
    ct_resize resize;
    const char *init, *out, *device;
    int profile, quiet;
    ct_fit_opts o;
    char aug_extra[AUG_SPEC_MAX], aug_buf[AUG_SPEC_MAX + 16]; /* explicit augmentation options */
    ct_preprocess pre;
    const char *devices; /* --devices LIST (or CLTRAIN_DEVICES) */
    ct_devlist dl;       /* its devices, runtimes and replicas (dl.n >= 2 when in use) */
} train_args;

/* Progress as the program always printed it: "Epoch e/E", a Keras progress line, and
 * "Ready to train ..." before the first step. */
typedef struct train_view {
    const train_args *t;
    ct_runtime *rt;
    double t_start;
    int ready_printed;
    ct_progress pr;
} train_view;

static void print_ready(train_view *v) {
    if (v->ready_printed) return;
    v->ready_printed = 1;
    if (v->t->quiet) return;
    int built, cached;
    ct_runtime_program_counts(v->rt, &built, &cached);
    printf("Ready to train after %.2f s (%d kernel programs: %d compiled, %d from the cache)\n",
           now_s() - v->t_start, built + cached, built, cached);
}

/* ---- signals: the first asks the fit to stop (through the callbacks), a second ends the
 * process at once; neither leaves a temp file. -------------------------------------- */
static volatile sig_atomic_t g_signal;

static void on_signal(int sig) {
    if (g_signal) {
        ct_write_unlink_temps();
        _exit(128 + sig);
    }
    g_signal = sig;
}

typedef struct saved_handlers {
    struct sigaction intr, term;
} saved_handlers;

static void signals_install(saved_handlers *old) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    g_signal = 0;
    sigaction(SIGINT, &sa, &old->intr);
    sigaction(SIGTERM, &sa, &old->term);
}

static void signals_restore(const saved_handlers *old) {
    sigaction(SIGINT, &old->intr, NULL);
    sigaction(SIGTERM, &old->term, NULL);
}

static int on_step(void *user, const ct_step_info *s) {
    train_view *v = user;
    if (s->step == 0) {
        print_ready(v);
        ct_progress_init(&v->pr, stdout, v->t->quiet ? CT_PROGRESS_QUIET : CT_PROGRESS_AUTO);
        ct_progress_begin(&v->pr, s->epoch, s->epochs, s->steps);
    } else {
        ct_progress_update(&v->pr, s->step, s->loss, s->accuracy);
    }
    return g_signal != 0;
}

static int on_epoch(void *user, const ct_epoch_info *e) {
    train_view *v = user;
    ct_progress_end(&v->pr, e->has_val, e->val_loss, e->val_accuracy, e->seconds);
    return g_signal != 0;
}

/* The whole job; everything it opens is freed by the caller from the pointers. */
static ct_status train_run(train_args *t, ct_runtime **rt, ct_dataset **train, ct_dataset **val,
                           ct_dataset **test, ct_classifier **model) {
    train_view view;
    memset(&view, 0, sizeof view);
    view.t = t;
    view.t_start = now_s();
    unsigned flags = t->profile ? CT_RT_PROFILE : 0;
#ifdef CT_RT_DETERMINISTIC
    if (t->o.deterministic) flags |= CT_RT_DETERMINISTIC;
#endif
    CT_TRY(ct_runtime_create(t->device, flags, rt));
    view.rt = *rt;
    ct_runtime_print_device(*rt, stdout);

    /* data */
    CT_TRY(ct_dataset_open(t->data_dirs, t->n_data, train));
    if (!t->quiet) print_found(*train);
    if (t->validation_split > 0) {
        ct_dataset *all = *train, *tr = NULL;
        *train = NULL;
        ct_status s = ct_dataset_subset(all, t->validation_split, 0, &tr);
        if (s == CT_OK) s = ct_dataset_subset(all, t->validation_split, 1, val);
        ct_dataset_free(all);
        *train = tr;
        CT_TRY(s);
    } else if (t->val_dir) {
        CT_TRY(ct_dataset_open(&t->val_dir, 1, val));
        if (!t->quiet) print_found(*val);
        CT_TRY(same_classes(*train, *val, "validation"));
    }
    if (t->test_dir) {
        CT_TRY(ct_dataset_open(&t->test_dir, 1, test));
        if (!t->quiet) print_found(*test);
        CT_TRY(same_classes(*train, *test, "test"));
    }
    /* mpirun: every rank on the same files (cli/mpirun.h) */
    const ct_dataset *sets[3] = {*train, *val, *test};
    CT_TRY(ct_mpirun_check_data(sets, 3));

    /* --class-weight: checked against the training classes before anything is decoded */
    int n_cls = ct_dataset_class_count(*train);
    float *cw = t->o.class_weight ? malloc((size_t)n_cls * sizeof *cw) : NULL;
    if (t->o.class_weight && !cw) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    ct_status cws = cw ? ct_class_weights(t->o.class_weight, *train, cw) : CT_OK;
    if (cws == CT_OK && cw && !t->quiet) {
        printf("Class weights (training loss only, as Keras's class_weight):");
        for (int i = 0; i < n_cls; i++)
            printf("%s %s: %.4g", i ? "," : "", ct_dataset_class_name(*train, i), (double)cw[i]);
        printf("\n");
    }
    free(cw);
    CT_TRY(cws);

    /* A batch never exceeds the training set: a bigger one would only allocate memory that
     * no step uses (Keras takes the whole set as one batch then). */
    if (t->o.batch > ct_dataset_count(*train)) t->o.batch = ct_dataset_count(*train);

    /* model (a resumed run first takes the kernel variants its checkpoint recorded) */
    if (t->o.resume) CT_TRY(ct_fit_resume_prepare(*rt, t->o.checkpoint_dir));
    int share0 = t->o.batch; /* with --devices: the first device's share */
    int n_all = (t->dl.n > 1 ? t->dl.n : 1) * ct_dist_size(); /* over all MPI ranks too */
    int first = ct_dist_rank() * (t->dl.n > 1 ? t->dl.n : 1); /* this rank's first replica */
    if (n_all > 1 && t->o.batch >= n_all)
        share0 = t->o.batch / n_all + (first < t->o.batch % n_all);
    if (t->dl.n > 1 && t->o.batch < t->dl.n)
        return ct_set_error(CT_ERR_ARG, "--devices: the training set has %d images, fewer than "
                            "the %d devices; use fewer devices", t->o.batch, t->dl.n);
    if (t->dl.n > 1) {
        int sh[CT_MAX_DEVICES];
        ct_fit_split(t->o.batch, t->dl.n, sh);
        if (ct_dist_size() <= 1) share0 = sh[0] > 0 ? sh[0] : 1;
    }
    ct_status cs = ct_classifier_create(*rt, t->model, t->h, t->w, t->c, t->resize,
                                        ct_dataset_class_count(*train),
                                        ct_dataset_class_names(*train), share0, t->o.seed, model);
    if (cs != CT_OK && t->dl.n > 1 && cs != CT_ERR_ARG && cs != CT_ERR_SHAPE)
        cs = ct_devlist_explain(&t->dl, 0, t->o.batch, cs);
    CT_TRY(cs);
    ct_classifier *m = *model;
    if (t->init) CT_TRY(ct_classifier_load_weights(m, t->init));
    CT_TRY(ct_classifier_set_preprocess(m, &t->pre));
    if (t->dl.n > 1) {
        t->dl.rt[0] = *rt;
        CT_TRY(ct_devlist_replicate(&t->dl, m, flags, t->o.batch,
                                    t->o.resume ? t->o.checkpoint_dir : NULL));
        t->o.replicas = t->dl.rep + 1;
        t->o.n_replicas = t->dl.n - 1;
    }
    if (!t->quiet) ct_classifier_summary(m, stdout);
    if (!t->quiet) {
        char pre[256];
        ct_preprocess_describe(&t->pre, pre, sizeof pre);
        printf("Preprocessing: %s\n", pre);
    }

    t->o.on_step = on_step;
    t->o.on_epoch = on_epoch;
    t->o.user = &view;
    ct_fit_result r;
    CT_TRY(ct_fit(m, *train, *val, &t->o, &r));
    print_ready(&view); /* no epoch was left to run */
    int interrupted = r.stopped && g_signal;
    if (interrupted && !t->quiet) printf("\n");
    if (t->profile) ct_runtime_print_profile(*rt, stdout);
    if (r.images > 0 && !t->quiet && !interrupted)
        printf("Trained on %ld images in %.1f s (%.1f images/s, %.1f%% of it waiting for data)\n",
               r.images, r.seconds, r.images / r.seconds, 100.0 * r.wait_fraction);
    /* From here on, write what can be written and say what could not. */
    int out_ok = 1;
    if (t->out && ct_mpirun_writer() && ct_classifier_save(m, t->out) != CT_OK) {
        fprintf(stderr, "cltrain train: --out %s: model not written: %s\n", t->out, ct_last_error());
        out_ok = 0;
    }
    if (interrupted) {
        const char *sig = g_signal == SIGINT ? "SIGINT" : g_signal == SIGTERM ? "SIGTERM" : "a signal";
        fprintf(stderr, "Interrupted by %s at epoch %d step %d.\n", sig, r.stop_epoch, r.stop_step);
        if (t->out && out_ok)
            fprintf(stderr, "Model written to %s with the weights after that step (its metadata "
                    "says \"interrupted\": \"epoch %d step %d\").\n", t->out, r.stop_epoch,
                    r.stop_step);
        if (t->o.checkpoint_dir && r.checkpoint_epoch > 0)
            fprintf(stderr, "Checkpoint %s/checkpoint.safetensors holds the end of epoch %d: run "
                    "the same command with --resume to continue from epoch %d.\n",
                    t->o.checkpoint_dir, r.checkpoint_epoch, r.checkpoint_epoch + 1);
        else if (t->o.checkpoint_dir)
            fprintf(stderr, "No epoch had finished, so %s holds no checkpoint yet: --resume will "
                    "start from epoch 1.\n", t->o.checkpoint_dir);
        else
            fprintf(stderr, "No --checkpoint-dir was given, so this run cannot be resumed (add "
                    "--checkpoint-dir DIR next time; --init %s starts a new run from these "
                    "weights).\n", t->out ? t->out : "FILE");
    } else if (*test) { /* mpirun: every rank tests its part, the sums reduced */
        ct_loader_config c;
        ct_loader_config_default(&c);
        c.batch = t->o.batch < ct_classifier_max_batch(m) ? t->o.batch : ct_classifier_max_batch(m);
        ct_classifier_input(m, &c.h, &c.w, &c.c, &c.resize);
        ct_classifier_get_preprocess(m, &c.pre);
        c.workers = t->o.workers;
        c.cache_mb = t->o.cache_mb;
        c.quiet = t->quiet;
        ct_loader *l = NULL;
        ct_dataset part; /* this rank's part (all of it without MPI) */
        ct_status s = ct_dataset_rank_part(*test, &part);
        if (s == CT_OK && part.n > 0) s = ct_loader_open(&part, &c, &l);
        ct_eval_result e;
        ct_class_report *rep = NULL;
        if (s == CT_OK || ct_dist_size() > 1) { /* every rank joins the sums */
            ct_status es = ct_evaluate_report_ranks(m, s == CT_OK ? l : NULL, &e, &rep);
            if (s == CT_OK) s = es;
        }
        ct_loader_free(l);
        if (part.paths != (*test)->paths) free(part.paths), free(part.labels);
        CT_TRY(s);
        printf("Test: loss: %.4f accuracy: %.4f (%ld images in %s%s)\n", e.loss, e.accuracy,
               e.n, t->test_dir, t->o.class_weight ? "; loss unweighted, as Keras" : "");
        ct_class_report_print(rep, stdout);
        ct_class_report_free(rep);
    }
    /* Last, so a user sees where everything went, and what is missing. */
    if (t->out && out_ok && !interrupted) printf("Model written to %s\n", t->out);
    if (t->o.history && !(r.failed & CT_FIT_FAILED_HISTORY) && r.epochs_done > 0)
        printf("History written to %s\n", t->o.history);
    if (t->o.plot && !(r.failed & CT_FIT_FAILED_PLOT) && r.epochs_done > 0)
        printf("Plot written to %s\n", t->o.plot);
    char missing[256] = "";
    if (!out_ok) strcat(missing, " --out");
    if (r.failed & CT_FIT_FAILED_HISTORY) strcat(missing, " --history");
    if (r.failed & CT_FIT_FAILED_PLOT) strcat(missing, " --plot");
    if (r.failed & CT_FIT_FAILED_CHECKPOINT) strcat(missing, " --checkpoint-dir");
    if (*missing)
        return ct_set_error(CT_ERR_IO, "not written (see the messages above):%s", missing);
    return CT_OK;
}

/* The checkpoint folder: not inside an input folder (checked on its nearest existing
 * ancestor before anything is created), then created and writable. */
static int check_checkpoint_dir(const char *cmd, io_plan *p, const char *dir, char **ckpt) {
    if (!*dir) {
        fprintf(stderr, "cltrain %s: --checkpoint-dir: the folder name is empty\n", cmd);
        return 0;
    }
    char *probe = strdup(dir), *real = NULL;
    while (probe && !(real = realpath(probe, NULL))) {
        char *up = parent_of(probe);
        int same = up && !strcmp(up, probe);
        free(probe);
        probe = same ? NULL : up;
        if (same) free(up);
    }
    free(probe);
    for (int i = 0; real && i < p->n_in_dirs; i++) {
        char *rd = realpath(p->in_dirs[i], NULL);
        int inside = rd && is_inside(real, rd);
        free(rd);
        if (inside) {
            fprintf(stderr, "cltrain %s: --checkpoint-dir %s is inside the %s folder %s; refusing "
                    "to write into input data: choose a folder outside it\n", cmd, dir,
                    p->in_dir_opts[i], p->in_dirs[i]);
            free(real);
            return 0;
        }
    }
    free(real);
    if (ct_mkdir_p(dir) != CT_OK) {
        fprintf(stderr, "cltrain %s: --checkpoint-dir %s: %s\n", cmd, dir, ct_last_error());
        return 0;
    }
    if (access(dir, W_OK) != 0) {
        fprintf(stderr, "cltrain %s: --checkpoint-dir %s is not writable; choose another folder\n",
                cmd, dir);
        return 0;
    }
    size_t n = strlen(dir) + 32;
    if (!(*ckpt = malloc(n))) return 0;
    snprintf(*ckpt, n, "%s/checkpoint.safetensors", dir);
    plan_out(p, "--checkpoint-dir", *ckpt);
    return 1;
}

/* Every option of train: one line here and one branch in ct_cmd_train (and its line in
 * train_help). NULL: a flag without a value. */
static const ct_optdef train_opts[] = {
    {"data", "DIR"}, {"validation", "DIR"}, {"validation-split", "F"}, {"test", "DIR"},
    {"model", "NAME|SPEC"}, {"input", "HxW"}, {"color", "rgb|grayscale"},
    {"resize", "nearest|bilinear|area"}, {"augment", "PRESET"}, {"workers", "N"},
    {"cache-mb", "N"}, {"epochs", "N"}, {"batch-size", "N"}, {"steps-per-epoch", "N"},
    {"lr", "X"}, {"beta1", "X"}, {"beta2", "X"}, {"epsilon", "X"}, {"seed", "S"},
    {"init", "FILE"}, {"early-stopping", "P"}, {"monitor", "M"}, {"min-delta", "X"},
    {"no-restore-best", NULL}, {"out", "FILE"}, {"history", "FILE"}, {"plot", "FILE"},
    {"checkpoint-dir", "D"}, {"resume", NULL}, {"force", NULL}, {"device", "P:D"},
    {"devices", "LIST"}, {"sync-bn", NULL},
    {"profile", NULL}, {"deterministic", NULL}, {"quiet", NULL},
    /* optimizer and learning-rate schedule (docs/TRAINING.md) */
    {"optimizer", "NAME"}, {"momentum", "X"}, {"nesterov", NULL}, {"weight-decay", "X"},
    {"rho", "X"}, {"lr-schedule", "NAME"}, {"lr-decay-rate", "X"}, {"lr-decay-epochs", "N"},
    {"warmup-epochs", "N"}, {"reduce-lr-on-plateau", "F:P[:MIN]"},
    {"class-weight", "balanced|NAME:W,..."},
    AUG_OPTDEFS, /* ImageDataGenerator options (docs/AUGMENTATION.md) */
    /* preprocessing, stored in the model file (docs/MODEL_FORMAT.md) */
    {"rescale", "F|A/B"}, {"samplewise-center", NULL}, {"samplewise-std-normalization", NULL},
    {"featurewise-center", NULL}, {"featurewise-std-normalization", NULL},
    {NULL, NULL},
};

int ct_cmd_train(int argc, char **argv) {
    const char *cmd = "train";
    int mr = ct_mpirun_start(cmd); /* under mpirun: MPI, or why not (cli/mpirun.h) */
    if (mr) return mr;
    train_args t;
    memset(&t, 0, sizeof t);
    t.model = "model2";
    t.h = t.w = 112;
    t.c = 3;
    t.resize = CT_RESIZE_NEAREST;
    ct_fit_opts_default(&t.o);
    ct_preprocess_default(&t.pre);
    const char *det = getenv("CLTRAIN_DETERMINISTIC");
    if (det && !strcmp(det, "1")) t.o.deterministic = 1;
    ct_fit_opts *o = &t.o;
    ct_args p;
    ct_args_init(&p, "cltrain train", train_help, train_opts, argc, argv);
    const char *a, *v;
    int r;
    while ((r = ct_args_next(&p, &a, &v)) > 0) {
        long l;
        int k;
/* the table gives the option a value (a check that it says so) */
#define VAL() \
    if (!v) return ct_args_error(&p, "internal error: %s has no value in the option table", a)
        if (!strcmp(a, "--data")) {
            VAL();
            if (t.n_data == MAX_DATA_DIRS) {
                fprintf(stderr, "cltrain train: at most %d --data folders\n", MAX_DATA_DIRS);
                return 2;
            }
            t.data_dirs[t.n_data++] = v;
        } else if (!strcmp(a, "--validation")) {
            VAL();
            t.val_dir = v;
        } else if (!strcmp(a, "--validation-split")) {
            VAL();
            if (!parse_double(cmd, a, v, 0.0, 0.99, &t.validation_split)) return 2;
        } else if (!strcmp(a, "--test")) {
            VAL();
            t.test_dir = v;
        } else if (!strcmp(a, "--model")) {
            VAL();
            t.model = v;
        } else if (!strcmp(a, "--input")) {
            VAL();
            if (!parse_input(cmd, v, &t.h, &t.w)) return 2;
        } else if (!strcmp(a, "--color")) {
            VAL();
            if (!strcmp(v, "rgb")) t.c = 3;
            else if (!strcmp(v, "grayscale")) t.c = 1;
            else {
                fprintf(stderr, "cltrain train: --color expects rgb or grayscale, got '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--resize")) {
            VAL();
            if (ct_resize_parse(v, &t.resize) != CT_OK) return fail(cmd);
        } else if (!strcmp(a, "--augment")) {
            VAL();
            ct_augment tmp;
            if (ct_augment_preset(v, &tmp) != CT_OK) return fail(cmd);
            o->augment = v;
        } else if (!strcmp(a, "--workers")) {
            VAL();
            if (!parse_int(cmd, a, v, 1, 256, &o->workers)) return 2;
        } else if (!strcmp(a, "--cache-mb")) {
            VAL();
            if (!parse_size(cmd, a, v, 0, (size_t)1 << 30, &o->cache_mb)) return 2;
        } else if (!strcmp(a, "--rescale")) {
            VAL();
            if (ct_rescale_parse(v, &t.pre.rescale) != CT_OK) {
                fail(cmd);
                return 2; /* a bad option, as parse_double's */
            }
        } else if (!strcmp(a, "--samplewise-center")) {
            t.pre.samplewise_center = 1;
        } else if (!strcmp(a, "--samplewise-std-normalization")) {
            t.pre.samplewise_std_normalization = t.pre.samplewise_center = 1; /* as Keras */
        } else if (!strcmp(a, "--featurewise-center")) {
            t.pre.featurewise_center = 1;
        } else if (!strcmp(a, "--featurewise-std-normalization")) {
            t.pre.featurewise_std_normalization = t.pre.featurewise_center = 1; /* as Keras */
        } else if (!strcmp(a, "--epochs")) {
            VAL();
            if (!parse_int(cmd, a, v, 1, 1000000, &o->epochs)) return 2;
        } else if (!strcmp(a, "--batch-size")) {
            VAL();
            if (!parse_int(cmd, a, v, 1, 65536, &o->batch)) return 2;
        } else if (!strcmp(a, "--steps-per-epoch")) {
            VAL();
            if (!parse_int(cmd, a, v, 1, INT_MAX, &o->steps_per_epoch)) return 2;
        } else if (!strcmp(a, "--lr")) {
            VAL();
            if (!parse_double(cmd, a, v, 1e-12, 10, &o->lr)) return 2;
        } else if (!strcmp(a, "--beta1")) {
            VAL();
            if (!parse_double(cmd, a, v, 0, 0.999999, &o->beta1)) return 2;
        } else if (!strcmp(a, "--beta2")) {
            VAL();
            if (!parse_double(cmd, a, v, 0, 0.999999, &o->beta2)) return 2;
        } else if (!strcmp(a, "--epsilon")) {
            VAL();
            if (!parse_double(cmd, a, v, 1e-12, 1, &o->eps)) return 2;
        } else if (!strcmp(a, "--class-weight")) {
            VAL();
            o->class_weight = v;
        } else if (!strcmp(a, "--optimizer")) {
            VAL();
            o->optimizer = v;
        } else if (!strcmp(a, "--momentum")) {
            VAL();
            if (!parse_double(cmd, a, v, -1e9, 1e9, &o->momentum)) return 2;
        } else if (!strcmp(a, "--nesterov")) {
            o->nesterov = 1;
        } else if (!strcmp(a, "--rho")) {
            VAL();
            if (!parse_double(cmd, a, v, -1e9, 1e9, &o->rho)) return 2;
        } else if (!strcmp(a, "--weight-decay")) {
            VAL();
            if (!parse_double(cmd, a, v, -1e9, 1e9, &o->weight_decay)) return 2;
        } else if (!strcmp(a, "--lr-schedule")) {
            VAL();
            o->lr_schedule = v;
        } else if (!strcmp(a, "--lr-decay-rate")) {
            VAL();
            if (!parse_double(cmd, a, v, -1e9, 1e9, &o->lr_decay_rate)) return 2;
        } else if (!strcmp(a, "--lr-decay-epochs")) {
            VAL();
            if (!parse_double(cmd, a, v, -1e9, 1e9, &o->lr_decay_epochs)) return 2;
        } else if (!strcmp(a, "--warmup-epochs")) {
            VAL();
            if (!parse_int(cmd, a, v, 0, 1000000, &o->warmup_epochs)) return 2;
        } else if (!strcmp(a, "--reduce-lr-on-plateau")) {
            VAL();
            if (!parse_plateau(cmd, v, o)) return 2;
        } else if (!strcmp(a, "--seed")) {
            VAL();
            if (!parse_long(cmd, a, v, 0, LONG_MAX, &l)) return 2;
            o->seed = (uint64_t)l;
        } else if (!strcmp(a, "--init")) {
            VAL();
            t.init = v;
        } else if (!strcmp(a, "--early-stopping")) {
            VAL();
            if (!parse_int(cmd, a, v, 1, 1000000, &o->patience)) return 2;
        } else if (!strcmp(a, "--monitor")) {
            VAL();
            if (strcmp(v, "loss") && strcmp(v, "accuracy") && strcmp(v, "val_loss") &&
                strcmp(v, "val_accuracy")) {
                fprintf(stderr, "cltrain train: --monitor %s: expected loss, accuracy, val_loss or "
                        "val_accuracy\n", v);
                return 2;
            }
            o->monitor = v;
        } else if (!strcmp(a, "--min-delta")) {
            VAL();
            if (!parse_double(cmd, a, v, 0, 1e9, &o->min_delta)) return 2;
        } else if (!strcmp(a, "--no-restore-best")) {
            o->restore_best = 0;
        } else if (!strcmp(a, "--out")) {
            VAL();
            t.out = v;
        } else if (!strcmp(a, "--history")) {
            VAL();
            o->history = v;
        } else if (!strcmp(a, "--plot")) {
            VAL();
            o->plot = v;
        } else if (!strcmp(a, "--checkpoint-dir")) {
            VAL();
            o->checkpoint_dir = v;
        } else if (!strcmp(a, "--resume")) {
            o->resume = 1;
        } else if (!strcmp(a, "--force")) {
            ct_write_set_force(1);
        } else if (!strcmp(a, "--device")) {
            VAL();
            t.device = v;
        } else if (!strcmp(a, "--devices")) {
            VAL();
            t.devices = v;
        } else if (!strcmp(a, "--sync-bn")) {
            o->sync_bn = 1;
        } else if (!strcmp(a, "--profile")) {
            t.profile = 1;
        } else if (!strcmp(a, "--deterministic")) {
            o->deterministic = 1;
        } else if (!strcmp(a, "--quiet")) {
            t.quiet = o->quiet = 1;
        } else if ((k = aug_option(cmd, a, v, t.aug_extra, sizeof t.aug_extra)) != 0) {
            if (k < 0) return 2;
        } else {
            return ct_args_unhandled(&p, a, v);
        }
#undef VAL
    }
    if (r < 0) return p.rc;
    if (t.n_data == 0) {
        fprintf(stderr, "cltrain train: --data DIR is required (a folder with one sub-folder per "
                "class; see cltrain train --help)\n");
        return 2;
    }
    if (t.val_dir && t.validation_split > 0) {
        fprintf(stderr, "cltrain train: give either --validation DIR or --validation-split F, not "
                "both\n");
        return 2;
    }
    if (o->monitor && !strncmp(o->monitor, "val_", 4) && !t.val_dir && t.validation_split <= 0) {
        fprintf(stderr, "cltrain train: --monitor %s needs validation data (--validation DIR or "
                "--validation-split F); use --monitor %s\n", o->monitor, o->monitor + 4);
        return 2;
    }
    if (o->plot && ct_plot_check(o->plot) != CT_OK) {
        fprintf(stderr, "cltrain train: --plot %s\n", ct_last_error());
        return 2;
    }
    if (o->resume && !o->checkpoint_dir) {
        fprintf(stderr, "cltrain train: --resume needs --checkpoint-dir DIR\n");
        return 2;
    }
    if (t.devices && t.device) {
        fprintf(stderr, "cltrain train: give --device P:D (one device) or --devices LIST "
                "(several), not both\n");
        return 2;
    }
    const char *dev_opt = "--devices", *env_devs = getenv("CLTRAIN_DEVICES");
    if (!t.devices && !t.device && env_devs && *env_devs) {
        t.devices = env_devs;
        dev_opt = "CLTRAIN_DEVICES";
    }
    if (t.devices) {
        if (!ct_devlist_parse(cmd, dev_opt, t.devices, &t.dl)) return 2;
        t.device = t.dl.id[0];
        if (t.dl.n == 1) t.dl.n = 0; /* one device: the one-device run */
        if (t.dl.n > 1 && o->batch < t.dl.n) {
            fprintf(stderr, "cltrain train: --batch-size %d is smaller than the %d devices of "
                    "%s %s: give every device at least one sample (--batch-size %d or more)\n",
                    o->batch, t.dl.n, dev_opt, t.devices, t.dl.n);
            return 2;
        }
    }
    char rank_dev[16]; /* mpirun: the device of this rank's local rank */
    if (!t.device && !t.devices) {
        const char *d = ct_mpirun_device(rank_dev, sizeof rank_dev);
        if (d) t.device = d;
    }
    if (o->sync_bn && t.dl.n < 2 && ct_dist_size() < 2) {
        fprintf(stderr, "cltrain train: --sync-bn reduces batchnorm statistics across devices: "
                "it needs --devices LIST (or CLTRAIN_DEVICES) with two or more devices\n");
        return 2;
    }
    if (ct_mpirun_check_args(cmd, argc, argv, t.dl.n > 1 ? t.dl.n : 1))
        return ct_mpirun_end(2); /* a rank runs another command */
    int n_rep = (t.dl.n > 1 ? t.dl.n : 1) * ct_dist_size(); /* every rank: the same verdict */
    if (ct_dist_size() > 1 && o->batch < n_rep) {
        if (ct_mpirun_writer())
            fprintf(stderr, "cltrain train: --batch-size %d is smaller than the %d replicas (%d "
                    "MPI ranks x %d device%s): give every replica at least one sample "
                    "(--batch-size %d or more)\n", o->batch, n_rep, ct_dist_size(),
                    n_rep / ct_dist_size(), n_rep / ct_dist_size() > 1 ? "s" : "", n_rep);
        return ct_mpirun_end(ct_mpirun_finalize_all(2));
    }
    o->augment = aug_spec(o->augment, t.aug_extra, t.aug_buf, sizeof t.aug_buf);
    if (ct_fit_opts_check(o) != CT_OK) { /* optimizer, schedule, plateau */
        fail(cmd);
        return 2;
    }
    /* Every output is checked before any image is decoded. */
    io_plan plan;
    memset(&plan, 0, sizeof plan);
    for (int i = 0; i < t.n_data; i++) plan_in_dir(&plan, "--data", t.data_dirs[i]);
    plan_in_dir(&plan, "--validation", t.val_dir);
    plan_in_dir(&plan, "--test", t.test_dir);
    plan_in_file(&plan, "--init", t.init);
    /* No --out: the model still goes somewhere, said before training starts. */
    int default_out = !t.out;
    if (default_out) t.out = DEFAULT_OUT;
    plan_out(&plan, default_out ? "the default --out" : "--out", t.out);
    plan_out(&plan, "--history", o->history);
    plan_out(&plan, "--plot", o->plot);
    /* The checkpoint folder first (created when it may be), so that its file is checked
     * with the others, against them too. */
    char *ckpt = NULL;
    int ok = (!o->checkpoint_dir || check_checkpoint_dir(cmd, &plan, o->checkpoint_dir, &ckpt)) &&
             check_outputs(cmd, &plan);
    free(ckpt);
    if (!ok) return 2;
    if (default_out && !t.quiet) {
        printf("No --out given: the model will be written to %s\n", t.out);
        fflush(stdout);
    }
    ct_runtime *rt = NULL;
    ct_dataset *train = NULL, *val = NULL, *test = NULL;
    ct_classifier *m = NULL;
    saved_handlers old;
    signals_install(&old);
    ct_status s = train_run(&t, &rt, &train, &val, &test, &m);
    int rc = s == CT_OK ? 0 : fail(cmd);
    if (g_signal) rc = ct_mpirun_finalize_all(128 + g_signal); /* the ranks voted the stop */
    signals_restore(&old);
    ct_classifier_free(m);
    ct_devlist_free(&t.dl);
    ct_dataset_free(train);
    ct_dataset_free(val);
    ct_dataset_free(test);
    ct_runtime_free(rt);
    if (ct_mpirun_check_failed()) rc = 2;
    return ct_mpirun_end(rc);
}

/* ---- evaluate ------------------------------------------------------------ */

static ct_status evaluate_run(const char *model, const char *data, const char *device, int batch,
                              int workers, int json, ct_eval_result *r, ct_class_report **rep) {
    ct_runtime *rt = NULL;
    ct_classifier *m = NULL;
    ct_dataset *ds = NULL;
    ct_status s = ct_runtime_create(device, 0, &rt);
    if (s == CT_OK) ct_runtime_print_device(rt, json ? stderr : stdout);
    if (s == CT_OK) s = ct_dataset_open(&data, 1, &ds);
    if (s == CT_OK && !json) print_found(ds);
    /* No batch bigger than the data: its buffers would be allocated for nothing. */
    if (s == CT_OK && batch > ct_dataset_count(ds) && ct_dataset_count(ds) > 0)
        batch = ct_dataset_count(ds);
    if (s == CT_OK) s = ct_classifier_load(rt, model, batch, &m);
    if (s == CT_OK) s = ct_evaluate_report(m, ds, batch, workers, r, rep);
    ct_dataset_free(ds);
    ct_classifier_free(m);
    ct_runtime_free(rt);
    return s;
}

static const ct_optdef evaluate_opts[] = {
    {"model", "FILE"}, {"data", "DIR"}, {"device", "P:D"}, {"json", NULL}, {"batch-size", "N"},
    {"workers", "N"}, {NULL, NULL},
};

int ct_cmd_evaluate(int argc, char **argv) {
    const char *cmd = "evaluate", *model = NULL, *data = NULL, *device = NULL, *a, *v;
    int json = 0, batch = 64, workers = 0, k;
    ct_args p;
    ct_args_init(&p, "cltrain evaluate",
                 "Usage: cltrain evaluate --model FILE --data DIR [--batch-size N] [--json]\n"
                 "                        [--device P:D] [--workers N]\n"
                 "Prints 'loss: X accuracy: Y' of a saved model on class folders DIR/<class>/*,\n"
                 "then scikit-learn's classification report (precision, recall, F1, support\n"
                 "per class, macro and weighted averages), the confusion matrix (rows: true\n"
                 "class) and, with more than 5 classes, top-5 accuracy.\n"
                 "  --model FILE            the saved model (.safetensors)\n"
                 "  --data DIR              class folders to evaluate on\n"
                 "  --batch-size N          (default 64)\n"
                 "  --json                  print {\"loss\": ..., \"accuracy\": ..., \"samples\": ...,\n"
                 "                          \"classification_report\": {...}} (docs/TRAINING.md)\n"
                 "  --device P:D            OpenCL device as `cltrain devices` lists\n"
                 "  --workers N             image decoding threads (default: cores - 1)\n",
                 evaluate_opts, argc, argv);
    while ((k = ct_args_next(&p, &a, &v)) > 0) {
        if (!strcmp(a, "--model")) {
            model = v;
        } else if (!strcmp(a, "--data")) {
            data = v;
        } else if (!strcmp(a, "--device")) {
            device = v;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--batch-size") || !strcmp(a, "--workers")) {
            if (!parse_int(cmd, a, v, 1, 65536, a[2] == 'b' ? &batch : &workers)) return 2;
        } else {
            return ct_args_unhandled(&p, a, v);
        }
    }
    if (k < 0) return p.rc;
    if (!model || !data) {
        fprintf(stderr, "cltrain evaluate: --model FILE and --data DIR are required\n");
        return 2;
    }
    if (json) ct_cli_log_info(0); /* stdout holds the JSON alone */
    ct_eval_result r;
    ct_class_report *rep = NULL;
    if (evaluate_run(model, data, device, batch, workers, json, &r, &rep) != CT_OK)
        return fail(cmd);
    if (json) {
        printf("{\"loss\": %.6f, \"accuracy\": %.6f, \"samples\": %ld, \"classification_report\": ",
               r.loss, r.accuracy, r.n);
        ct_class_report_print_json(rep, stdout);
        printf("}\n");
    } else {
        printf("loss: %.4f accuracy: %.4f\n\n", r.loss, r.accuracy);
        ct_class_report_print(rep, stdout);
    }
    ct_class_report_free(rep);
    return 0;
}

/* ---- predict ------------------------------------------------------------- */

#define CT_TOP_MAX 1000 /* --top's largest K */

/* --top K: the K most probable classes, best first (ties: the lower index). */
static void print_top(FILE *out, int csv, const char *path, const ct_classifier *m, const float *p,
                      int top) {
    int k = ct_classifier_class_count(m), taken[CT_TOP_MAX] = {0};
    if (csv) ct_csv_field(out, path);
    else fprintf(out, "%s:", path);
    for (int r = 0; r < top; r++) {
        int best = -1;
        for (int j = 0; j < k; j++) {
            int used = 0;
            for (int q = 0; q < r; q++) used |= taken[q] == j;
            if (!used && (best < 0 || p[j] > p[best])) best = j;
        }
        taken[r] = best;
        if (csv) {
            fputc(',', out);
            ct_csv_field(out, ct_classifier_class_name(m, best));
            fprintf(out, ",%.6f", p[best]);
        } else {
            fprintf(out, "%s %s (%.4f)", r ? "," : "", ct_classifier_class_name(m, best), p[best]);
        }
    }
    fputc('\n', out);
}

static void print_row(FILE *out, int csv, const char *path, const ct_classifier *m, const float *p) {
    int k = ct_classifier_class_count(m), binary = ct_classifier_outputs(m) == 1;
    int best = 0;
    if (binary) {
        best = p[1] >= 0.5f;
    } else {
        for (int j = 1; j < k; j++)
            if (p[j] > p[best]) best = j;
    }
    if (csv) {
        ct_csv_field(out, path);
        fputc(',', out);
        ct_csv_field(out, ct_classifier_class_name(m, best));
        for (int j = 0; j < k; j++) fprintf(out, ",%.6f", p[j]);
        fputc('\n', out);
    } else {
        fprintf(out, "%s: %s (%.4f)", path, ct_classifier_class_name(m, best), p[best]);
        if (binary) fprintf(out, "  p(%s)=%.4f", ct_classifier_class_name(m, 1), p[1]);
        fputc('\n', out);
    }
}

/* Predicts files and folders (walked recursively, sorted); one line (or CSV row) each.
 * Unreadable images get a warning on stderr and are skipped. */
static ct_status predict_run(const char *model, const char *const *inputs, int n_inputs,
                             const char *device, int csv, int top, FILE *out) {
    int B = 32;
    char **files = NULL;
    int n_files = 0;
    ct_runtime *rt = NULL;
    ct_classifier *m = NULL;
    float *x = NULL, *probs = NULL;
    int *idx = NULL;
    ct_status s = ct_images_find(inputs, n_inputs, &files, &n_files);
    if (s == CT_OK && n_files < B) B = n_files; /* no batch bigger than the input */
    if (s == CT_OK) s = ct_runtime_create(device, 0, &rt);
    if (s == CT_OK) {
        ct_runtime_print_device(rt, stderr);
        s = ct_classifier_load(rt, model, B, &m);
    }
    size_t chw = 0;
    int k = 0;
    if (s == CT_OK) {
        int h, w, c;
        ct_classifier_input(m, &h, &w, &c, NULL);
        chw = (size_t)h * w * c;
        k = ct_classifier_class_count(m);
        x = malloc((size_t)B * chw * sizeof(float));
        probs = malloc((size_t)B * k * sizeof(float));
        idx = malloc((size_t)B * sizeof(int));
        if (!x || !probs || !idx) s = ct_set_error(CT_ERR_MEMORY, "out of host memory");
        if (s == CT_OK && top > k)
            s = ct_set_error(CT_ERR_ARG, "--top %d: %s has %d classes; give --top 1..%d", top,
                             model, k, k);
    }
    if (s == CT_OK && csv && top) {
        fprintf(out, "file");
        for (int r = 1; r <= top; r++) fprintf(out, ",top%d,p%d", r, r);
        fputc('\n', out);
    } else if (s == CT_OK && csv) {
        fprintf(out, "file,class");
        for (int j = 0; j < k; j++) {
            char name[512];
            snprintf(name, sizeof name, "p_%s", ct_classifier_class_name(m, j));
            fputc(',', out);
            ct_csv_field(out, name);
        }
        fputc('\n', out);
    }
    int skipped = 0;
    for (int start = 0; s == CT_OK && start < n_files; start += B) {
        int cnt = 0;
        for (int i = start; i < n_files && i < start + B; i++) {
            if (ct_classifier_preprocess(m, files[i], x + (size_t)cnt * chw) != CT_OK) {
                fprintf(stderr, "warning: skipping %s\n", ct_last_error());
                skipped++;
                continue;
            }
            idx[cnt++] = i;
        }
        if (cnt == 0) continue;
        s = ct_classifier_predict(m, x, cnt, probs);
        for (int j = 0; s == CT_OK && j < cnt; j++) {
            if (top) print_top(out, csv, files[idx[j]], m, probs + (size_t)j * k, top);
            else print_row(out, csv, files[idx[j]], m, probs + (size_t)j * k);
        }
    }
    if (s == CT_OK && skipped) fprintf(stderr, "%d file(s) skipped as unreadable\n", skipped);
    if (s == CT_OK && skipped == n_files)
        s = ct_set_error(CT_ERR_FORMAT, "none of the %d image file(s) could be read (see the "
                         "warnings above); nothing was predicted", n_files);
    free(x);
    free(probs);
    free(idx);
    ct_images_free(files, n_files);
    ct_classifier_free(m);
    ct_runtime_free(rt);
    return s;
}

static const ct_optdef predict_opts[] = {
    {"model", "FILE"}, {"device", "P:D"}, {"csv", NULL}, {"top", "K"}, {NULL, NULL},
};

int ct_cmd_predict(int argc, char **argv) {
    const char *cmd = "predict", *model = NULL, *device = NULL;
    int csv = 0, top = 0;
    const char **inputs = calloc((size_t)argc, sizeof *inputs);
    int n_in = 0;
    if (!inputs) return 1;
    ct_args p;
    ct_args_init(&p, "cltrain predict",
                 "Usage: cltrain predict --model FILE [--csv] [--top K] [--device P:D] [--] FILE|DIR...\n"
                 "Prints, for each image (folders are walked recursively), the class and the\n"
                 "probabilities.\n"
                 "  --model FILE            the saved model (.safetensors)\n"
                 "  --csv                   CSV (RFC 4180): file,class,p_CLASS... with a header\n"
                 "  --top K                 the K most probable classes per image, best first\n"
                 "                          (with --csv the columns are file,top1,p1,...,topK,pK)\n"
                 "  --device P:D            OpenCL device as `cltrain devices` lists\n",
                 predict_opts, argc, argv);
    const char *a, *v;
    int r;
    while ((r = ct_args_next(&p, &a, &v)) > 0) {
        if (!strcmp(a, "--model")) {
            model = v;
        } else if (!strcmp(a, "--device")) {
            device = v;
        } else if (!strcmp(a, "--csv")) {
            csv = 1;
        } else if (!strcmp(a, "--top")) {
            if (!parse_int(cmd, a, v, 1, CT_TOP_MAX, &top)) {
                free(inputs);
                return 2;
            }
        } else if (ct_args_is_operand(a)) {
            inputs[n_in++] = v;
        } else {
            free(inputs);
            return ct_args_unhandled(&p, a, v);
        }
    }
    if (r < 0) {
        free(inputs);
        return p.rc;
    }
    if (!model || n_in == 0) {
        fprintf(stderr, "cltrain predict: --model FILE and at least one image or folder are required\n");
        free(inputs);
        return 2;
    }
    ct_cli_log_info(0); /* stdout holds the predictions alone */
    int rc = predict_run(model, inputs, n_in, device, csv, top, stdout) == CT_OK ? 0 : fail(cmd);
    free(inputs);
    return rc;
}

/* ---- preview ------------------------------------------------------------- */

static const ct_optdef preview_opts[] = {
    {"out", "FILE"}, {"n", "N"}, {"seed", "S"}, {"input", "HxW"}, {"force", NULL},
    {"augment", "PRESET"}, {"transform", "K=V,..."}, AUG_OPTDEFS, {NULL, NULL},
};

int ct_cmd_preview(int argc, char **argv) {
    const char *cmd = "preview", *image = NULL, *out = NULL, *preset = "seed", *transform = NULL;
    char aug_extra[AUG_SPEC_MAX] = "", aug_buf[AUG_SPEC_MAX + 16];
    int n = 4, n_given = 0, k;
    long seed = 1;
    int h = 112, w = 112;
    ct_args p;
    ct_args_init(&p, "cltrain preview",
                 "Usage: cltrain preview IMAGE --out FILE [--n N] [--input HxW] [--seed S]\n"
                 "                       [--force] [--augment seed|none] [--transform K=V,...]\n"
                 "                       [ImageDataGenerator options]\n"
                 "Writes a grid of N augmented versions of IMAGE with the 'seed' preset (the\n"
                 "original project's 2x2 sanity figure), or with the options below.\n"
                 "  --out FILE              grid.png (PNG) or grid.jpg / grid.jpeg (JPEG)\n"
                 "  --n N                   number of versions, 1..64 (default 4)\n"
                 "  --input HxW             size of each version (default 112x112)\n"
                 "  --seed S                augmentation seed (default 1)\n"
                 "  --force                 replace a read-only --out\n"
                 "  --augment PRESET        seed (default) or none, before the options below\n"
                 AUG_HELP
                 "  --transform K=V,...     one fixed transform instead of random draws, with\n"
                 "                          Keras's apply_transform keys: theta, tx, ty, shear,\n"
                 "                          zx, zy, flip_horizontal, flip_vertical,\n"
                 "                          channel_shift_intensity, brightness (default --n 1)\n",
                 preview_opts, argc, argv);
    const char *a, *v;
    int r;
    while ((r = ct_args_next(&p, &a, &v)) > 0) {
        if (!strcmp(a, "--out")) {
            out = v;
        } else if (!strcmp(a, "--n")) {
            if (!parse_int(cmd, a, v, 1, 64, &n)) return 2;
            n_given = 1;
        } else if (!strcmp(a, "--seed")) {
            if (!parse_long(cmd, a, v, 0, LONG_MAX, &seed)) return 2;
        } else if (!strcmp(a, "--input")) {
            if (!parse_input(cmd, v, &h, &w)) return 2;
        } else if (!strcmp(a, "--force")) {
            ct_write_set_force(1);
        } else if (!strcmp(a, "--augment")) {
            ct_augment tmp;
            preset = v;
            if (ct_augment_preset(preset, &tmp) != CT_OK) return fail(cmd);
        } else if (!strcmp(a, "--transform")) {
            transform = v;
        } else if ((k = aug_option(cmd, a, v, aug_extra, sizeof aug_extra)) != 0) {
            if (k < 0) return 2;
        } else if (ct_args_is_operand(a) && !image) {
            image = v;
        } else if (ct_args_is_operand(a)) {
            return ct_args_error(&p, "one IMAGE only (got '%s' and '%s')", image, v);
        } else {
            return ct_args_unhandled(&p, a, v);
        }
    }
    if (r < 0) return p.rc;
    if (!image || !out) {
        fprintf(stderr, "cltrain preview: IMAGE and --out FILE are required\n");
        return 2;
    }
    if (ct_preview_format(out) == CT_PREVIEW_UNKNOWN) {
        fprintf(stderr, "cltrain preview: --out %s: unknown image type; the name must end in "
                ".png, .jpg or .jpeg\n", out);
        return 2;
    }
    ct_augment aug;
    ct_aug_draw fixed;
    memset(&fixed, 0, sizeof fixed);
    if (ct_augment_parse(aug_spec(preset, aug_extra, aug_buf, sizeof aug_buf), &aug) != CT_OK ||
        (transform && ct_aug_transform_parse(transform, &fixed) != CT_OK)) {
        fail(cmd);
        return 2;
    }
    if (transform && !n_given) n = 1;
    io_plan plan;
    memset(&plan, 0, sizeof plan);
    plan_in_file(&plan, "IMAGE", image);
    plan_out(&plan, "--out", out);
    if (!check_outputs(cmd, &plan)) return 2;
    saved_handlers old; /* a signal lets the write finish (a second one: no temp file left) */
    signals_install(&old);
    int rc = 0;
    if (ct_preview_write_aug(image, out, n, (uint64_t)seed, h, w, &aug, transform ? &fixed : NULL) !=
        CT_OK)
        rc = fail(cmd);
    else printf("Preview of %d augmented versions of %s written to %s\n", n, image, out);
    if (g_signal) rc = 128 + g_signal;
    signals_restore(&old);
    return rc;
}
