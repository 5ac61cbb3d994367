/* cltrain train / evaluate / predict / preview: option parsing and output. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "io/fileutil.h"
#include "model/modelio.h"
#include "train/train.h"

/* ---- option value parsing (errors name the option) ------------------------ */

static int parse_long(const char *cmd, const char *opt, const char *v, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "cltrain %s: %s expects a whole number from %ld to %ld, got '%s'\n", cmd, opt,
                lo, hi, v);
        return 0;
    }
    *out = x;
    return 1;
}

static int parse_double(const char *cmd, const char *opt, const char *v, double lo, double hi,
                        double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !(x >= lo && x <= hi)) {
        fprintf(stderr, "cltrain %s: %s expects a number from %g to %g, got '%s'\n", cmd, opt, lo, hi, v);
        return 0;
    }
    *out = x;
    return 1;
}

static int parse_input(const char *cmd, const char *v, int *h, int *w) {
    char extra;
    if (sscanf(v, "%dx%d%c", h, w, &extra) != 2 || *h < 1 || *w < 1 || *h > 8192 || *w > 8192) {
        fprintf(stderr, "cltrain %s: --input expects HxW such as 112x112, got '%s'\n", cmd, v);
        return 0;
    }
    return 1;
}

/* The folder that will hold path must exist and be writable: checked before any work. */
static int check_writable(const char *cmd, const char *opt, const char *path) {
    if (!path) return 1;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) dir[1] = 0;
    else if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "cltrain %s: %s %s: folder '%s' does not exist; create it or choose another "
                "path\n", cmd, opt, path, dir);
        return 0;
    }
    if (access(dir, W_OK) != 0) {
        fprintf(stderr, "cltrain %s: %s %s: folder '%s' is not writable; choose another path\n", cmd,
                opt, path, dir);
        return 0;
    }
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "cltrain %s: %s %s is a folder; give a file name\n", cmd, opt, path);
        return 0;
    }
    return 1;
}

static int is_help(const char *a) { return !strcmp(a, "--help") || !strcmp(a, "-h"); }

static int fail(const char *cmd) {
    fprintf(stderr, "cltrain %s: %s\n", cmd, ct_last_error());
    return 1;
}

/* ---- train ------------------------------------------------------------- */

static const char *train_help =
    "usage: cltrain train --data DIR [--data DIR2 ...] [options]\n"
    "\n"
    "Trains a model on class folders (DIR/<class>/*.jpg|png), like Keras's fit on\n"
    "ImageDataGenerator.flow_from_directory.\n"
    "\n"
    "data:\n"
    "  --data DIR              training folder (repeat to join several, e.g. train + validation)\n"
    "  --validation DIR        validation folder, evaluated after every epoch\n"
    "  --validation-split F    use the first fraction F of each class as validation (Keras)\n"
    "  --test DIR              evaluate on this folder after training and print test accuracy\n"
    "  --input HxW             input size (default 112x112)\n"
    "  --color rgb|grayscale   colour mode (default rgb)\n"
    "  --resize nearest|bilinear|area   resize filter (default nearest, as Keras)\n"
    "  --augment seed|none     augmentation preset: 'seed' = the original project's settings\n"
    "                          (rotation 20, shifts 0.2, shear 0.1, zoom 0.2, h-flip); default none\n"
    "  --workers N             augmentation worker threads (default: cores - 1, at least 1)\n"
    "  --cache-mb N            decode-once image cache cap in MiB (default 2048; 0 = off)\n"
    "model and optimiser:\n"
    "  --model NAME|SPEC       model1, model2 (default), model3, or a spec such as\n"
    "                          conv32:3:relu,pool2,conv64:3:relu,pool2,flatten,dense64:relu,dropout0.2,dense1\n"
    "  --epochs N              (default 10)\n"
    "  --batch-size N          (default 64)\n"
    "  --lr X                  Adam learning rate (default 1e-3; the seed project used 1e-4)\n"
    "  --beta1 X --beta2 X --epsilon X   Adam parameters (Keras defaults 0.9, 0.999, 1e-7)\n"
    "  --steps-per-epoch N     cap the steps of an epoch (default ceil(samples / batch))\n"
    "  --seed S                seed for initialisation, shuffling, augmentation, dropout (default 1)\n"
    "  --init FILE             start from the weights of a saved model (same architecture)\n"
    "early stopping:\n"
    "  --early-stopping P      stop after P epochs without improvement (restores the best weights)\n"
    "  --monitor M             val_loss (default with validation), loss, val_accuracy, accuracy\n"
    "  --min-delta X           minimum change that counts as improvement (default 0)\n"
    "  --no-restore-best       keep the last weights instead of the best\n"
    "output:\n"
    "  --out FILE              model file (.safetensors), written at the end\n"
    "  --history FILE          history CSV, rewritten every epoch\n"
    "  --plot FILE             SVG of accuracy and loss curves, rewritten every epoch\n"
    "  --checkpoint-dir D      write D/checkpoint.safetensors atomically after every epoch\n"
    "  --resume                continue from D/checkpoint.safetensors (same options required)\n"
    "device:\n"
    "  --device P:D            OpenCL device as `cltrain devices` lists (or CLTRAIN_DEVICE)\n"
    "  --profile               print a per-kernel time table at the end\n"
    "  --quiet                 less output\n";

int ct_cmd_train(int argc, char **argv) {
    const char *cmd = "train";
    ct_fit_opts o;
    ct_fit_opts_default(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        long l;
        double d;
#define VAL() \
    if (!(v = ct_opt_value(cmd, argc, argv, &i))) return 2
        if (is_help(a)) {
            fputs(train_help, stdout);
            return 0;
        } else if (!strcmp(a, "--data")) {
            VAL();
            if (o.n_data == CT_MAX_DATA_DIRS) {
                fprintf(stderr, "cltrain train: at most %d --data folders\n", CT_MAX_DATA_DIRS);
                return 2;
            }
            o.data_dirs[o.n_data++] = v;
        } else if (!strcmp(a, "--validation")) {
            VAL();
            o.val_dir = v;
        } else if (!strcmp(a, "--validation-split")) {
            VAL();
            if (!parse_double(cmd, a, v, 0.0, 0.99, &o.validation_split)) return 2;
        } else if (!strcmp(a, "--test")) {
            VAL();
            o.test_dir = v;
        } else if (!strcmp(a, "--model")) {
            VAL();
            o.model = v;
        } else if (!strcmp(a, "--input")) {
            VAL();
            if (!parse_input(cmd, v, &o.h, &o.w)) return 2;
        } else if (!strcmp(a, "--color")) {
            VAL();
            if (!strcmp(v, "rgb")) o.c = 3;
            else if (!strcmp(v, "grayscale")) o.c = 1;
            else {
                fprintf(stderr, "cltrain train: --color expects rgb or grayscale, got '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--resize")) {
            VAL();
            if (ct_resize_parse(v, &o.resize) != CT_OK) return fail(cmd);
        } else if (!strcmp(a, "--augment")) {
            VAL();
            ct_augment tmp;
            if (ct_augment_preset(v, &tmp) != CT_OK) return fail(cmd);
            o.augment = v;
        } else if (!strcmp(a, "--workers")) {
            VAL();
            if (!parse_long(cmd, a, v, 1, 256, &l)) return 2;
            o.workers = (int)l;
        } else if (!strcmp(a, "--cache-mb")) {
            VAL();
            if (!parse_long(cmd, a, v, 0, 1L << 30, &l)) return 2;
            o.cache_mb = (size_t)l;
        } else if (!strcmp(a, "--epochs")) {
            VAL();
            if (!parse_long(cmd, a, v, 1, 1000000, &l)) return 2;
            o.epochs = (int)l;
        } else if (!strcmp(a, "--batch-size")) {
            VAL();
            if (!parse_long(cmd, a, v, 1, 65536, &l)) return 2;
            o.batch = (int)l;
        } else if (!strcmp(a, "--steps-per-epoch")) {
            VAL();
            if (!parse_long(cmd, a, v, 1, INT_MAX, &l)) return 2;
            o.steps_per_epoch = (int)l;
        } else if (!strcmp(a, "--lr")) {
            VAL();
            if (!parse_double(cmd, a, v, 1e-12, 10, &d)) return 2;
            o.adam.lr = (float)d;
        } else if (!strcmp(a, "--beta1")) {
            VAL();
            if (!parse_double(cmd, a, v, 0, 0.999999, &d)) return 2;
            o.adam.beta1 = (float)d;
        } else if (!strcmp(a, "--beta2")) {
            VAL();
            if (!parse_double(cmd, a, v, 0, 0.999999, &d)) return 2;
            o.adam.beta2 = (float)d;
        } else if (!strcmp(a, "--epsilon")) {
            VAL();
            if (!parse_double(cmd, a, v, 1e-12, 1, &d)) return 2;
            o.adam.eps = (float)d;
        } else if (!strcmp(a, "--seed")) {
            VAL();
            if (!parse_long(cmd, a, v, 0, LONG_MAX, &l)) return 2;
            o.seed = (uint64_t)l;
        } else if (!strcmp(a, "--init")) {
            VAL();
            o.init = v;
        } else if (!strcmp(a, "--early-stopping")) {
            VAL();
            if (!parse_long(cmd, a, v, 1, 1000000, &l)) return 2;
            o.patience = (int)l;
        } else if (!strcmp(a, "--monitor")) {
            VAL();
            o.monitor = v;
        } else if (!strcmp(a, "--min-delta")) {
            VAL();
            if (!parse_double(cmd, a, v, 0, 1e9, &d)) return 2;
            o.min_delta = (float)d;
        } else if (!strcmp(a, "--no-restore-best")) {
            o.restore_best = 0;
        } else if (!strcmp(a, "--out")) {
            VAL();
            o.out = v;
        } else if (!strcmp(a, "--history")) {
            VAL();
            o.history = v;
        } else if (!strcmp(a, "--plot")) {
            VAL();
            o.plot = v;
        } else if (!strcmp(a, "--checkpoint-dir")) {
            VAL();
            o.checkpoint_dir = v;
        } else if (!strcmp(a, "--resume")) {
            o.resume = 1;
        } else if (!strcmp(a, "--device")) {
            VAL();
            o.device = v;
        } else if (!strcmp(a, "--profile")) {
            o.profile = 1;
        } else if (!strcmp(a, "--quiet")) {
            o.quiet = 1;
        } else {
            fprintf(stderr, "cltrain train: unknown option '%s' (see cltrain train --help)\n", a);
            return 2;
        }
#undef VAL
    }
    if (o.n_data == 0) {
        fprintf(stderr, "cltrain train: --data DIR is required (a folder with one sub-folder per "
                "class; see cltrain train --help)\n");
        return 2;
    }
    if (o.val_dir && o.validation_split > 0) {
        fprintf(stderr, "cltrain train: give either --validation DIR or --validation-split F, not "
                "both\n");
        return 2;
    }
    if (!check_writable(cmd, "--out", o.out) || !check_writable(cmd, "--history", o.history) ||
        !check_writable(cmd, "--plot", o.plot))
        return 2;
    if (ct_fit(&o) != CT_OK) return fail(cmd);
    return 0;
}

/* ---- evaluate ------------------------------------------------------------ */

int ct_cmd_evaluate(int argc, char **argv) {
    const char *cmd = "evaluate", *model = NULL, *data = NULL, *device = NULL;
    int json = 0, batch = 64, workers = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        long l;
        if (is_help(a)) {
            printf("usage: cltrain evaluate --model FILE --data DIR [--batch-size N] [--json] "
                   "[--device P:D] [--workers N]\n"
                   "Prints 'loss: X accuracy: Y' of a saved model on class folders DIR/<class>/*.\n");
            return 0;
        } else if (!strcmp(a, "--model")) {
            if (!(model = ct_opt_value(cmd, argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--data")) {
            if (!(data = ct_opt_value(cmd, argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--device")) {
            if (!(device = ct_opt_value(cmd, argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--batch-size") || !strcmp(a, "--workers")) {
            const char *v = ct_opt_value(cmd, argc, argv, &i);
            if (!v || !parse_long(cmd, a, v, 1, 65536, &l)) return 2;
            if (a[2] == 'b') batch = (int)l;
            else workers = (int)l;
        } else {
            fprintf(stderr, "cltrain evaluate: unknown option '%s' (see --help)\n", a);
            return 2;
        }
    }
    if (!model || !data) {
        fprintf(stderr, "cltrain evaluate: --model FILE and --data DIR are required\n");
        return 2;
    }
    ct_eval_result r;
    if (ct_evaluate(model, data, device, batch, workers, json, &r) != CT_OK) return fail(cmd);
    if (json) printf("{\"loss\": %.6f, \"accuracy\": %.6f, \"samples\": %ld}\n", r.loss, r.accuracy, r.n);
    else printf("loss: %.4f accuracy: %.4f\n", r.loss, r.accuracy);
    return 0;
}

/* ---- predict ------------------------------------------------------------- */

int ct_cmd_predict(int argc, char **argv) {
    const char *cmd = "predict", *model = NULL, *device = NULL;
    int csv = 0;
    const char **inputs = calloc((size_t)argc, sizeof *inputs);
    int n_in = 0;
    if (!inputs) return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (is_help(a)) {
            printf("usage: cltrain predict --model FILE [--csv] [--device P:D] FILE|DIR...\n"
                   "Prints, for each image (folders are walked recursively), the class and the\n"
                   "probabilities.\n");
            free(inputs);
            return 0;
        } else if (!strcmp(a, "--model")) {
            if (!(model = ct_opt_value(cmd, argc, argv, &i))) goto usage;
        } else if (!strcmp(a, "--device")) {
            if (!(device = ct_opt_value(cmd, argc, argv, &i))) goto usage;
        } else if (!strcmp(a, "--csv")) {
            csv = 1;
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "cltrain predict: unknown option '%s' (see --help)\n", a);
            goto usage;
        } else {
            inputs[n_in++] = a;
        }
    }
    if (!model || n_in == 0) {
        fprintf(stderr, "cltrain predict: --model FILE and at least one image or folder are required\n");
        goto usage;
    }
    int rc = ct_predict_files(model, inputs, n_in, device, csv, stdout) == CT_OK ? 0 : fail(cmd);
    free(inputs);
    return rc;
usage:
    free(inputs);
    return 2;
}

/* ---- preview ------------------------------------------------------------- */

int ct_cmd_preview(int argc, char **argv) {
    const char *cmd = "preview", *image = NULL, *out = NULL;
    long n = 4, seed = 1;
    int h = 112, w = 112;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (is_help(a)) {
            printf("usage: cltrain preview IMAGE --out grid.png [--n 4] [--input HxW] [--seed S]\n"
                   "Writes a PNG grid of N augmented versions of IMAGE with the 'seed' preset\n"
                   "(the original project's 2x2 sanity figure).\n");
            return 0;
        } else if (!strcmp(a, "--out")) {
            if (!(out = ct_opt_value(cmd, argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--n")) {
            if (!(v = ct_opt_value(cmd, argc, argv, &i)) || !parse_long(cmd, a, v, 1, 64, &n)) return 2;
        } else if (!strcmp(a, "--seed")) {
            if (!(v = ct_opt_value(cmd, argc, argv, &i)) || !parse_long(cmd, a, v, 0, LONG_MAX, &seed))
                return 2;
        } else if (!strcmp(a, "--input")) {
            if (!(v = ct_opt_value(cmd, argc, argv, &i)) || !parse_input(cmd, v, &h, &w)) return 2;
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "cltrain preview: unknown option '%s' (see --help)\n", a);
            return 2;
        } else {
            image = a;
        }
    }
    if (!image || !out) {
        fprintf(stderr, "cltrain preview: IMAGE and --out FILE.png are required\n");
        return 2;
    }
    if (!check_writable(cmd, "--out", out)) return 2;
    if (ct_preview_write(image, out, (int)n, (uint64_t)seed, h, w) != CT_OK) return fail(cmd);
    printf("Preview of %ld augmented versions of %s written to %s\n", n, image, out);
    return 0;
}
