/* cltrain export: a saved model as an ONNX file (docs/EXPORT.md), on the public API. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cltrain.h"
#include "io/fileutil.h"

static const char *export_help =
    "Usage: cltrain export --model FILE.safetensors --out FILE.onnx [--device P:D]\n"
    "                      [--force]\n"
    "\n"
    "Writes a model saved by cltrain train as an ONNX file (opset 13), in inference\n"
    "mode (dropout removed, batchnorm on its moving statistics). Input 'input':\n"
    "float32 [N, C, H, W], the images after the model's preprocessing (decoded,\n"
    "resized, then the rescale and standardization its metadata gives); output\n"
    "'probabilities': [N, classes] as cltrain predict prints them. The model file's\n"
    "metadata (classes, input, resize, colour mode, preprocessing, cltrain version,\n"
    "...) is copied into the ONNX metadata_props (docs/EXPORT.md).\n"
    "  --model FILE    the cltrain model (safetensors)\n"
    "  --out FILE      the ONNX file to write (atomically)\n"
    "  --device P:D    the OpenCL device that reads the weights (see cltrain devices)\n"
    "  --force         replace a read-only --out\n"
    "checking the file (tests/onnx_check.py):\n"
    "  --dump-input F IMAGE...  also write the preprocessed images as raw float32\n"
    "                  [N, C, H, W] to F (the tensor to feed 'input'), and cltrain's\n"
    "                  probabilities for them as raw float32 [N, classes] to F.probs\n";

/* A signal during the write leaves no temp file. */
static void on_signal(int sig) {
    ct_write_unlink_temps();
    _exit(128 + sig);
}

/* --out: a file name in an existing writable folder, not a folder, not the model file. */
static int check_out(const char *out, const char *model) {
    size_t len = strlen(out);
    if (!len || out[len - 1] == '/') {
        fprintf(stderr, "cltrain export: --out '%s' is no file name; give a path such as "
                "model.onnx\n", out);
        return 0;
    }
    char *dir = strdup(out);
    if (!dir) return 0;
    char *slash = strrchr(dir, '/');
    if (!slash) strcpy(dir, ".");
    else if (slash == dir) slash[1] = 0;
    else *slash = 0;
    struct stat d, o, m;
    int ok = 1;
    if (stat(dir, &d) || !S_ISDIR(d.st_mode)) {
        fprintf(stderr, "cltrain export: --out %s: the folder %s does not exist\n", out, dir);
        ok = 0;
    } else if (access(dir, W_OK)) {
        fprintf(stderr, "cltrain export: --out %s: the folder %s is not writable\n", out, dir);
        ok = 0;
    } else if (!stat(out, &o) && S_ISDIR(o.st_mode)) {
        fprintf(stderr, "cltrain export: --out %s is a folder; give a file name\n", out);
        ok = 0;
    } else if (!stat(out, &o) && !stat(model, &m) && o.st_dev == m.st_dev && o.st_ino == m.st_ino) {
        fprintf(stderr, "cltrain export: --out %s is the --model file; choose another name\n", out);
        ok = 0;
    }
    free(dir);
    return ok;
}

/* The preprocessed images (what cltrain predict feeds the model) and cltrain's
 * probabilities for them, as raw float32 files dump and dump.probs. */
static ct_status dump_inputs(ct_classifier *m, const char *dump, const char *const *images, int n) {
    int h, w, c, k = ct_classifier_class_count(m);
    ct_classifier_input(m, &h, &w, &c, NULL);
    size_t chw = (size_t)c * h * w;
    float *x = malloc((size_t)n * chw * sizeof *x), *p = malloc((size_t)n * k * sizeof *p);
    size_t plen = strlen(dump) + 7;
    char *ppath = malloc(plen);
    ct_status s = x && p && ppath ? CT_OK : ct_set_error(CT_ERR_MEMORY, "out of host memory");
    for (int i = 0; s == CT_OK && i < n; i++) s = ct_classifier_preprocess(m, images[i], x + i * chw);
    if (s == CT_OK) s = ct_classifier_predict(m, x, n, p);
    if (s == CT_OK) s = ct_write_atomic_buf(dump, x, (size_t)n * chw * sizeof *x);
    if (s == CT_OK) snprintf(ppath, plen, "%s.probs", dump);
    if (s == CT_OK) s = ct_write_atomic_buf(ppath, p, (size_t)n * k * sizeof *p);
    free(x);
    free(p);
    free(ppath);
    return s;
}

static int export_run(const char *model, const char *out, const char *device, const char *dump,
                      const char *const *images, int n_img) {
    ct_cli_log_info(0); /* stdout: the one result line */
    ct_runtime *rt = NULL;
    ct_classifier *m = NULL;
    /* deterministic: the fixed kernel defaults; nothing is tuned or timed just to read weights */
    ct_status s = ct_runtime_create(device, CT_RT_DETERMINISTIC, &rt);
    if (s == CT_OK) s = ct_classifier_load(rt, model, n_img > 32 ? 32 : n_img > 0 ? n_img : 1, &m);
    if (s == CT_OK) {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        if (dump) s = dump_inputs(m, dump, images, n_img); /* a bad image: no file written */
        if (s == CT_OK) s = ct_classifier_export_onnx(m, out);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
    }
    if (s == CT_OK) {
        int h, w, c;
        ct_classifier_input(m, &h, &w, &c, NULL);
        printf("Exported %s to %s: input 'input' [N, %d, %d, %d], output 'probabilities' [N, %d] "
               "(%s), ONNX opset 13\n", model, out, c, h, w, ct_classifier_class_count(m),
               ct_classifier_outputs(m) == 1 ? "sigmoid" : "softmax");
    } else {
        fprintf(stderr, "cltrain export: %s\n", ct_last_error());
    }
    ct_classifier_free(m);
    ct_runtime_free(rt);
    return s == CT_OK ? 0 : 1;
}

static const ct_optdef export_opts[] = {
    {"model", "FILE"}, {"out", "FILE"}, {"device", "P:D"}, {"dump-input", "F"}, {"force", NULL},
    {NULL, NULL},
};

int ct_cmd_export(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *device = NULL, *dump = NULL;
    const char **images = calloc((size_t)argc, sizeof *images);
    int n_img = 0, rc = 2;
    if (!images) return 1;
    ct_args p;
    ct_args_init(&p, "cltrain export", export_help, export_opts, argc, argv);
    const char *a, *v;
    int r;
    while ((r = ct_args_next(&p, &a, &v)) > 0) {
        if (!strcmp(a, "--model")) {
            model = v;
        } else if (!strcmp(a, "--out")) {
            out = v;
        } else if (!strcmp(a, "--device")) {
            device = v;
        } else if (!strcmp(a, "--dump-input")) {
            dump = v;
        } else if (!strcmp(a, "--force")) {
            ct_write_set_force(1);
        } else if (ct_args_is_operand(a)) {
            images[n_img++] = v;
        } else {
            rc = ct_args_unhandled(&p, a, v);
            goto done;
        }
    }
    if (r < 0) {
        rc = p.rc;
        goto done;
    }
    if (!model || !out) {
        fprintf(stderr, "cltrain export: --model FILE and --out FILE.onnx are required\n");
        goto done;
    }
    if (!dump != !n_img) {
        fprintf(stderr, "cltrain export: %s\n", dump ? "--dump-input F needs image files after "
                "the options" : "image files are only taken with --dump-input F");
        goto done;
    }
    if (ct_onnx_supported() != CT_OK) { /* before reading anything */
        fprintf(stderr, "cltrain export: %s\n", ct_last_error());
        rc = 1;
        goto done;
    }
    if (!check_out(out, model) || (dump && !check_out(dump, model))) goto done;
    rc = export_run(model, out, device, dump, images, n_img);
done:
    free(images);
    return rc;
}
