/* cltrain tune: the tuning stage on its own. Builds a model for the device (which runs the
 * stage: check every candidate variant against its reference, time the survivors, write
 * the device's tuning file) and prints the table of choices the model uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/parse.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "model/model.h"
#include "tune/tune.h"

static const char tune_help[] =
            "Usage: cltrain tune [--model NAME|SPEC] [--input HxW] [--grayscale]\n"
            "                    [--classes K] [--batch-size N] [--retune] [--deterministic]\n"
            "                    [--device P:D]\n"
            "Chooses the kernel variant of every op shape the model uses on this device, as\n"
            "the first training run on a device does: each candidate is checked against its\n"
            "C reference, the ones that pass are timed, and the choices are kept in the\n"
            "device's tuning file next to the compile cache. Prints the table\n"
            "(op = variant).\n"
            "  --model M        preset or spec (default model2)\n"
            "  --input HxW      input size (default 112x112)\n"
            "  --grayscale      one input channel instead of three\n"
            "  --classes K      number of classes (default 2)\n"
            "  --batch-size N   the training batch (default 64); shapes depend on it\n"
            "  --retune         time every shape again, ignoring the tuning file\n"
            "  --deterministic  show the fixed choices --deterministic training uses (no\n"
            "                   timing)\n"
            "  --device P:D     device (default: $CLTRAIN_DEVICE, else the first GPU, else\n"
            "                   the CPU)\n";

static const ct_optdef tune_opts[] = {
    {"model", "NAME|SPEC"}, {"device", "P:D"}, {"input", "HxW"}, {"classes", "K"},
    {"batch-size", "N"}, {"grayscale", NULL}, {"retune", NULL}, {"deterministic", NULL},
    {NULL, NULL},
};

int ct_cmd_tune(int argc, char **argv) {
    const char *model = "model2", *device = NULL, *a, *v;
    int h = 112, w = 112, c = 3, classes = 2, batch = 64, retune = 0, det = 0, r;
    ct_args p;
    ct_args_init(&p, "cltrain tune", tune_help, tune_opts, argc, argv);
    while ((r = ct_args_next(&p, &a, &v)) > 0) {
        if (!strcmp(a, "--model")) {
            model = v;
        } else if (!strcmp(a, "--device")) {
            device = v;
        } else if (!strcmp(a, "--input")) {
            if (ct_parse_hw(a, v, 8192, &h, &w) != CT_OK) goto bad;
        } else if (!strcmp(a, "--classes")) {
            if (ct_parse_int(a, v, 2, 100000, &classes) != CT_OK) goto bad;
        } else if (!strcmp(a, "--batch-size")) {
            if (ct_parse_int(a, v, 1, 100000, &batch) != CT_OK) goto bad;
        } else if (!strcmp(a, "--grayscale")) {
            c = 1;
        } else if (!strcmp(a, "--retune")) {
            retune = 1;
        } else if (!strcmp(a, "--deterministic")) {
            det = 1;
        } else {
            return ct_args_unhandled(&p, a, v);
        }
    }
    if (r < 0) return p.rc;
    if (retune && det) {
        fprintf(stderr, "cltrain tune: --retune and --deterministic exclude each other "
                        "(deterministic choices are never timed)\n");
        return 2;
    }
    if (retune) setenv("CLTRAIN_RETUNE", "1", 1);
    ct_runtime *rt;
    if (ct_runtime_create(device, det ? CT_RT_DETERMINISTIC : 0, &rt) != CT_OK) {
        fprintf(stderr, "cltrain tune: %s\n", ct_last_error());
        return 1;
    }
    ct_runtime_print_device(rt, stdout);
    ct_model *m = NULL;
    double t0 = ct_now();
    if (ct_model_create(rt, model, c, h, w, classes, batch, 1, &m) != CT_OK) {
        fprintf(stderr, "cltrain tune: %s\n", ct_last_error());
        ct_runtime_free(rt);
        return 1;
    }
    double secs = ct_now() - t0;
    char *js = ct_tune_used_json(rt);
    const char *file = ct_tune_file(rt);
    printf("Model %s at %dx%dx%d, batch %d: %ld timed runs in %.1f s%s\n", ct_model_spec(m), h, w,
           c, batch, ct_tune_timed_runs(rt), secs,
           det ? " (deterministic: the fixed choices, nothing timed)" : "");
    /* the table, one "op = variant" line each (the JSON object's members in order) */
    int n = 0;
    for (const char *p = js ? js : ""; *p;) {
        const char *k = strchr(p, '"');
        if (!k) break;
        const char *ke = strchr(k + 1, '"');
        const char *vb = ke ? strchr(ke + 1, '"') : NULL;
        const char *ve = vb ? strchr(vb + 1, '"') : NULL;
        if (!ve) break;
        printf("  %.*s = %.*s\n", (int)(ke - k - 1), k + 1, (int)(ve - vb - 1), vb + 1);
        n++;
        p = ve + 1;
    }
    if (!n) printf("  (no tuned ops: this model has no convolution or dense layer)\n");
    if (!det) printf("Tuning file: %s\n", file && *file ? file : "(none: the cache is off)");
    free(js);
    ct_model_free(m);
    ct_runtime_free(rt);
    return 0;
bad:
    fprintf(stderr, "cltrain tune: %s\n", ct_last_error());
    return 2;
}
