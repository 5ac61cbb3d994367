/* cltrain bench step: images/s of the training step alone on synthetic data. */
#include <stdlib.h>
#include <string.h>

#include "base/parse.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "model/model.h"
#include "check/selftest.h"
#include "runtime/tensor.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static const char bench_help[] =
    "Usage: cltrain bench step [--model NAME|SPEC] [--input HxW] [--batch-size N]\n"
    "                          [--steps N] [--warmup N] [--device P:D] [--profile]\n"
    "                          [--text]\n"
    "Times the training step (forward, loss, backward, Adam) on synthetic data and\n"
    "prints images/s (median step) and effective GFLOP/s as JSON.\n"
    "  --model M               preset or spec (default model2)\n"
    "  --input HxW             input size (default 112x112)\n"
    "  --batch-size N          (default 64)\n"
    "  --steps N               timed steps (default 20)\n"
    "  --warmup N              untimed steps first (default 3)\n"
    "  --device P:D            device (default: $CLTRAIN_DEVICE, else the first GPU)\n"
    "  --profile               per-kernel time table of the timed steps (stderr)\n"
    "  --text                  one line of text instead of JSON\n"
    "Layer-by-layer figures: build/tools/bench_layers. Data pipeline:\n"
    "build/tools/bench_pipeline.\n";

static const ct_optdef bench_opts[] = {
    {"model", "NAME|SPEC"}, {"device", "P:D"}, {"input", "HxW"}, {"batch-size", "N"},
    {"steps", "N"}, {"warmup", "N"}, {"profile", NULL}, {"text", NULL}, {NULL, NULL},
};

int ct_cmd_bench(int argc, char **argv) {
    const char *model = "model2", *device = NULL, *mode = NULL;
    int batch = 64, steps = 20, warmup = 3, h = 112, w = 112, json = 1, profile = 0, r;
    ct_args p;
    ct_args_init(&p, "cltrain bench", bench_help, bench_opts, argc, argv);
    const char *a, *v;
    while ((r = ct_args_next(&p, &a, &v)) > 0) {
        if (!strcmp(a, "--model")) {
            model = v;
        } else if (!strcmp(a, "--device")) {
            device = v;
        } else if (!strcmp(a, "--input")) {
            if (ct_parse_hw(a, v, 8192, &h, &w) != CT_OK) goto bad;
        } else if (!strcmp(a, "--batch-size") || !strcmp(a, "--steps") || !strcmp(a, "--warmup")) {
            int *dst = a[2] == 'b' ? &batch : a[2] == 's' ? &steps : &warmup;
            if (ct_parse_int(a, v, a[2] == 'w' ? 0 : 1, 100000, dst) != CT_OK) goto bad;
        } else if (!strcmp(a, "--profile")) {
            profile = 1;
        } else if (!strcmp(a, "--text")) {
            json = 0;
        } else if (ct_args_is_operand(a) && !mode) {
            mode = v;
        } else {
            return ct_args_unhandled(&p, a, v);
        }
    }
    if (r < 0) return p.rc;
    if (!mode || strcmp(mode, "step"))
        return mode ? ct_args_error(&p, "unknown mode '%s'; the one mode is 'step'", mode)
                    : ct_args_error(&p, "which benchmark? cltrain bench step [options]");
    ct_runtime *rt;
    if (ct_runtime_create(device, profile ? CT_RT_PROFILE : 0, &rt) != CT_OK) {
        fprintf(stderr, "cltrain bench: %s\n", ct_last_error());
        return 1;
    }
    ct_runtime_print_device(rt, stderr);
    ct_model *m = NULL; /* preset names are expanded by ct_model_create */
    ct_status s = ct_model_create(rt, model, 3, h, w, 2, batch, 1, &m);
    size_t nx = (size_t)batch * 3 * h * w;
    float *x = s == CT_OK ? malloc(nx * sizeof(float)) : NULL;
    int32_t *y = s == CT_OK ? malloc((size_t)batch * sizeof(int32_t)) : NULL;
    double *t = s == CT_OK ? malloc((size_t)steps * sizeof(double)) : NULL;
    if (s == CT_OK && (!x || !y || !t)) s = ct_set_error(CT_ERR_MEMORY, "out of host memory");
    if (s == CT_OK) {
        ct_fill_random(x, nx, 11, 0, 1);
        for (int i = 0; i < batch; i++) y[i] = i & 1;
        s = ct_upload(rt, ct_model_input(m), 0, nx * sizeof(float), x);
    }
    if (s == CT_OK) s = ct_upload(rt, ct_model_labels(m), 0, (size_t)batch * sizeof(int32_t), y);
    ct_adam opt = {.lr = 1e-4, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-7};
    for (int i = 0; s == CT_OK && i < warmup + steps; i++) {
        if (i == warmup) ct_profile_reset(rt); /* profile the timed steps only */
        double t0 = ct_now();
        s = ct_model_train_step(m, batch, &opt, 1, i);
        if (s == CT_OK && clFinish(rt->q) != CL_SUCCESS) s = ct_set_error(CT_ERR_CL, "clFinish failed");
        if (i >= warmup) t[i - warmup] = ct_now() - t0;
    }
    int rc = 0;
    if (s == CT_OK) {
        qsort(t, (size_t)steps, sizeof *t, cmp_double);
        double med = t[steps / 2], ips = batch / med;
        double gflops = ct_model_train_flops(m) * ips / 1e9;
        if (json)
            printf("{\"peer\": \"cltrain\", \"version\": \"%s\", \"mode\": \"step\", \"device\": \"%s\", "
                   "\"images_per_s\": %.2f, \"median_step_s\": %.5f, \"gflops\": %.1f, \"steps\": %d, "
                   "\"batch\": %d}\n",
                   ct_version(), rt->dev.name, ips, med, gflops, steps, batch);
        else
            printf("%s: batch %d, median step %.1f ms, %.1f images/s, %.1f GFLOP/s\n", model, batch,
                   med * 1e3, ips, gflops);
        if (profile) ct_profile_print(rt, stderr);
    } else {
        fprintf(stderr, "cltrain bench: %s\n", ct_last_error());
        rc = 1;
    }
    free(x);
    free(y);
    free(t);
    ct_model_free(m);
    ct_runtime_free(rt);
    return rc;
bad:
    fprintf(stderr, "cltrain bench: %s\n", ct_last_error());
    return 2;
}
