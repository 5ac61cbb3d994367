/* cltrain bench step: images/s of the training step alone on synthetic data. */
#include <stdlib.h>
#include <string.h>

#include "base/parse.h"
#include "cli/cli.h"
#include "model/model.h"
#include "check/selftest.h"
#include "runtime/tensor.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int ct_cmd_bench(int argc, char **argv) {
    const char *cmd = "bench", *model = "model2", *device = NULL;
    int batch = 64, steps = 20, warmup = 3, h = 112, w = 112, json = 1, profile = 0;
    if (argc < 2 || strcmp(argv[1], "step")) {
        printf("usage: cltrain bench step [--model NAME|SPEC] [--input HxW] [--batch-size N]\n"
               "                          [--steps N] [--warmup N] [--device P:D] [--profile] [--text]\n"
               "Times the training step (forward, loss, backward, Adam) on synthetic data and\n"
               "prints images/s (median step) and effective GFLOP/s as JSON.\n"
               "Layer-by-layer figures: build/tools/bench_layers. Data pipeline: "
               "build/tools/bench_pipeline.\n");
        return argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) ? 0 : 2;
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--model")) {
            if (!(model = ct_opt_value(cmd, argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--device")) {
            if (!(device = ct_opt_value(cmd, argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--input")) {
            if (!(v = ct_opt_value(cmd, argc, argv, &i))) return 2;
            if (ct_parse_hw(a, v, 8192, &h, &w) != CT_OK) {
                fprintf(stderr, "cltrain bench: %s\n", ct_last_error());
                return 2;
            }
        } else if (!strcmp(a, "--batch-size") || !strcmp(a, "--steps") || !strcmp(a, "--warmup")) {
            if (!(v = ct_opt_value(cmd, argc, argv, &i))) return 2;
            int *dst = a[2] == 'b' ? &batch : a[2] == 's' ? &steps : &warmup;
            if (ct_parse_int(a, v, a[2] == 'w' ? 0 : 1, 100000, dst) != CT_OK) {
                fprintf(stderr, "cltrain bench: %s\n", ct_last_error());
                return 2;
            }
        } else if (!strcmp(a, "--profile")) {
            profile = 1;
        } else if (!strcmp(a, "--text")) {
            json = 0;
        } else {
            fprintf(stderr, "cltrain bench: unknown option '%s'\n", a);
            return 2;
        }
    }
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
}
