/* The public API on its own: built against include/ and libcltrain.so only (as a user's
 * program), on the bundled sample set. Devices; fit with callbacks (progress, stop);
 * nothing printed without a log handler; predict in memory equals predict from the
 * file; save + load gives the same probabilities; evaluate. */
#include <dlfcn.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cltrain.h>

static int fails, checks;
#define CHECK(cond, ...)                                                                        \
    do {                                                                                        \
        checks++;                                                                               \
        if (!(cond)) {                                                                          \
            fails++;                                                                            \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                         \
            printf(__VA_ARGS__);                                                                \
            printf(" [%s]\n", ct_last_error());                                                 \
        }                                                                                       \
    } while (0)

typedef struct seen {
    int starts, steps, epochs, stop_after_steps, stop_at_epoch;
    double last_loss;
} seen;

static int on_step(void *user, const ct_step_info *s) {
    seen *v = user;
    if (s->step == 0) {
        v->starts++;
        if (v->stop_at_epoch > 0 && s->epoch == v->stop_at_epoch) return 1;
    } else {
        v->steps++;
        v->last_loss = s->loss;
    }
    return v->stop_after_steps > 0 && v->steps >= v->stop_after_steps;
}

static int on_epoch(void *user, const ct_epoch_info *e) {
    seen *v = user;
    v->epochs++;
    return e->epoch < 0; /* never stops */
}

static int log_lines;
static void count_log(void *user, ct_log_level level, const char *msg) {
    (void)user;
    (void)level;
    (void)msg;
    log_lines++;
}

/* The shared object a signal handler's code is in ("" for none). */
static const char *handler_home(void (*h)(int)) {
    Dl_info info;
    if (h == SIG_DFL || h == SIG_IGN) return "";
    return dladdr((void *)(size_t)h, &info) && info.dli_fname ? info.dli_fname : "?";
}

/* The signal dispositions the test started with (the library must leave them alone). */
static void (*g_int0)(int), (*g_term0)(int);

int main(void) {
    struct sigaction sa0;
    sigaction(SIGINT, NULL, &sa0);
    g_int0 = sa0.sa_handler;
    sigaction(SIGTERM, NULL, &sa0);
    g_term0 = sa0.sa_handler;
    int n_dev = -1, def = -1;
    if (ct_device_count(&n_dev) != CT_OK || n_dev == 0) {
        printf("SKIP: no OpenCL device\n");
        return 77;
    }
    CHECK(ct_device_default(&def) == CT_OK && def >= 0 && def < n_dev, "default device");
    ct_device_desc d;
    CHECK(ct_device_get(def, &d) == CT_OK && d.is_default && *d.name && d.type && strchr(d.id, ':'),
          "describe the default device");
    CHECK(ct_device_get(n_dev, &d) == CT_ERR_NO_DEVICE, "index past the end");

    const char *root = getenv("CLTRAIN_DATA_DIR");
    char train_dir[4096], test_dir[4096], model_path[4096];
    snprintf(train_dir, sizeof train_dir, "%s/catdog-mini/train", root ? root : "data");
    snprintf(test_dir, sizeof test_dir, "%s/catdog-mini/test", root ? root : "data");
    snprintf(model_path, sizeof model_path, "/tmp/cltrain-test-api-%ld.safetensors", (long)getpid());
    const char *tr[] = {train_dir}, *te[] = {test_dir};

    ct_runtime *rt = NULL;
    ct_dataset *train = NULL, *test = NULL;
    ct_classifier *m = NULL, *m2 = NULL;
    if (ct_runtime_create(NULL, 0, &rt) != CT_OK || ct_dataset_open(tr, 1, &train) != CT_OK ||
        ct_dataset_open(te, 1, &test) != CT_OK) {
        printf("FAIL: setup: %s\n", ct_last_error());
        return 1;
    }
    const char *spec = "conv8:3:relu,pool2,flatten,dense1";
    CHECK(ct_classifier_create(rt, spec, 32, 32, 3, CT_RESIZE_NEAREST, ct_dataset_class_count(train),
                               ct_dataset_class_names(train), 16, 3, &m) == CT_OK,
          "create");
    if (!m) return 1;
    CHECK(ct_classifier_param_count(m) == 8 * 3 * 9 + 8 + 8 * 15 * 15 + 1, "param count %zu",
          ct_classifier_param_count(m));
    CHECK(ct_classifier_class_count(m) == 2 && !strcmp(ct_classifier_class_name(m, 1), "dogs"),
          "class names");
    CHECK(ct_classifier_outputs(m) == 1, "binary: one sigmoid unit");
    CHECK(strstr(ct_classifier_spec(m), "conv8:3") != NULL, "spec");
    ct_classifier *bad = NULL;
    CHECK(ct_classifier_create(rt, "conv8:3,flaten", 32, 32, 3, CT_RESIZE_NEAREST, 2,
                               ct_dataset_class_names(train), 16, 1, &bad) == CT_ERR_ARG && !bad &&
              strstr(ct_last_error(), "flaten"),
          "spec error names the token");

    /* a callback stops training after 3 steps; nothing is printed without a handler */
    ct_fit_opts o;
    ct_fit_opts_default(&o);
    o.epochs = 2;
    o.batch = 16;
    o.workers = 2;
    seen v = {0, 0, 0, 3, 0, 0};
    o.on_step = on_step;
    o.on_epoch = on_epoch;
    o.user = &v;
    ct_fit_result r;
    CHECK(ct_fit(m, train, NULL, &o, &r) == CT_OK, "fit, stopped");
    CHECK(r.stopped && v.steps == 3 && v.starts == 1 && v.epochs == 0 && r.epochs_done == 0,
          "stopped after 3 steps (steps %d, starts %d, epochs %d, done %d)", v.steps, v.starts,
          v.epochs, r.epochs_done);
    CHECK(isfinite(v.last_loss) && v.last_loss > 0, "loss reported");
    /* where it stopped: epoch 1, after the steps that ran (one may have been queued ahead) */
    CHECK(r.stop_epoch == 1 && r.stop_step >= 3 && r.stop_step <= 4 && r.checkpoint_epoch == 0 &&
              r.failed == 0,
          "stop position: epoch %d step %d, checkpoint %d, failed %u", r.stop_epoch, r.stop_step,
          r.checkpoint_epoch, r.failed);
    /* the library installs no signal handler of its own: Ctrl-C is the program's business */
    struct sigaction cur;
    sigaction(SIGINT, NULL, &cur);
    void (*now_int)(int) = cur.sa_handler;
    sigaction(SIGTERM, NULL, &cur);
    /* (the OpenCL driver may install its own, e.g. PoCL's, which chains to the previous one:
     * only a handler that lives in libcltrain is the library's) */
    const char *int_in = handler_home(now_int), *term_in = handler_home(cur.sa_handler);
    CHECK((now_int == g_int0 || !strstr(int_in, "cltrain")) &&
              (cur.sa_handler == g_term0 || !strstr(term_in, "cltrain")),
          "the library installed a SIGINT/SIGTERM handler (INT in %s, TERM in %s)", int_in, term_in);

    /* a whole epoch with messages going to a handler */
    ct_set_log(count_log, NULL);
    memset(&v, 0, sizeof v);
    o.epochs = 1;
    CHECK(ct_fit(m, train, NULL, &o, &r) == CT_OK, "fit one epoch");
    CHECK(!r.stopped && r.epochs_done == 1 && v.epochs == 1 && v.steps == 13 && r.images == 200,
          "one epoch: %d steps, %ld images", v.steps, r.images);
    CHECK(log_lines >= 1, "the handler got the loader's message");
    ct_set_log(NULL, NULL);
    /* stopped between epochs (a signal during a checkpoint write lands here): the saved
     * model's metadata still says where it was interrupted */
    memset(&v, 0, sizeof v);
    v.stop_at_epoch = 2;
    o.epochs = 3;
    CHECK(ct_fit(m, train, NULL, &o, &r) == CT_OK, "fit, stopped at the start of epoch 2");
    CHECK(r.stopped && r.epochs_done == 1 && r.stop_epoch == 2 && r.stop_step == 0,
          "stop between epochs: done %d, at epoch %d step %d", r.epochs_done, r.stop_epoch,
          r.stop_step);
    CHECK(ct_classifier_save(m, model_path) == CT_OK, "save the interrupted model");
    {
        FILE *fp = fopen(model_path, "rb");
        char head[4096] = {0};
        size_t got = fp ? fread(head, 1, sizeof head - 1, fp) : 0;
        if (fp) fclose(fp);
        const char *want = "\"interrupted\":\"epoch 2 step 0\"";
        CHECK(memmem(head, got, want, strlen(want)), "the model's metadata says %s", want);
    }
    o.epochs = 1;
    o.batch = 17;
    CHECK(ct_fit(m, train, NULL, &o, &r) == CT_ERR_ARG, "batch above max_batch refused");

    /* predict: in memory from floats == from the file; rows sum to 1 */
    const char *file = ct_dataset_path(test, 0);
    float *x = malloc(2 * 3 * 32 * 32 * sizeof(float));
    float p_mem[4], p_file[2], p_loaded[2];
    CHECK(ct_classifier_preprocess(m, file, x) == CT_OK, "preprocess");
    memcpy(x + 3 * 32 * 32, x, 3 * 32 * 32 * sizeof(float));
    float p_one[2];
    CHECK(ct_classifier_predict(m, x, 1, p_one) == CT_OK, "predict in memory");
    CHECK(ct_classifier_predict_file(m, file, p_file) == CT_OK, "predict a file");
    CHECK(p_one[0] == p_file[0] && p_one[1] == p_file[1], "same probabilities (%.9g %.9g vs %.9g %.9g)",
          p_one[0], p_one[1], p_file[0], p_file[1]);
    /* two at once: both rows the same image; another batch size may pick other kernels,
     * so equal up to rounding */
    CHECK(ct_classifier_predict(m, x, 2, p_mem) == CT_OK, "predict two in memory");
    CHECK(p_mem[2] == p_mem[0] && p_mem[3] == p_mem[1] && fabsf(p_mem[0] - p_one[0]) < 1e-5f &&
              fabsf(p_mem[1] - p_one[1]) < 1e-5f,
          "rows agree (%.9g %.9g, %.9g %.9g)", p_mem[0], p_mem[1], p_mem[2], p_mem[3]);
    CHECK(fabs(p_mem[0] + p_mem[1] - 1) < 1e-6 && p_mem[0] >= 0 && p_mem[1] >= 0, "a distribution");
    CHECK(ct_classifier_predict_file(m, "/no/such.jpg", p_file) == CT_ERR_IO ||
              strstr(ct_last_error(), "/no/such.jpg"),
          "a missing image is named");

    /* save, load, same probabilities; evaluate */
    CHECK(ct_classifier_save(m, model_path) == CT_OK, "save");
    CHECK(ct_classifier_load(rt, model_path, 8, &m2) == CT_OK, "load");
    if (m2) {
        /* max batch 8, not 16: other kernels may be chosen (see the two-row check above),
         * so equal up to rounding; with the same max batch, bit for bit */
        CHECK(ct_classifier_predict_file(m2, file, p_loaded) == CT_OK &&
                  fabsf(p_loaded[0] - p_file[0]) < 1e-6f && fabsf(p_loaded[1] - p_file[1]) < 1e-6f,
              "loaded model predicts the same (%.9g %.9g vs %.9g %.9g)", p_loaded[0], p_loaded[1],
              p_file[0], p_file[1]);
        ct_classifier *m16 = NULL;
        CHECK(ct_classifier_load(rt, model_path, 16, &m16) == CT_OK, "load with max batch 16");
        if (m16) {
            CHECK(ct_classifier_predict_file(m16, file, p_loaded) == CT_OK &&
                      p_loaded[0] == p_file[0] && p_loaded[1] == p_file[1],
                  "loaded with the same max batch: bit-identical (%.9g %.9g vs %.9g %.9g)",
                  p_loaded[0], p_loaded[1], p_file[0], p_file[1]);
            ct_classifier_free(m16);
        }
        int h, w, c;
        ct_classifier_input(m2, &h, &w, &c, NULL);
        CHECK(h == 32 && w == 32 && c == 3 && ct_classifier_max_batch(m2) == 8, "input shape kept");
        ct_eval_result e1, e2;
        CHECK(ct_evaluate(m, test, 16, 2, &e1) == CT_OK && ct_evaluate(m2, test, 8, 1, &e2) == CT_OK,
              "evaluate");
        CHECK(e1.n == 50 && e2.n == 50 && fabs(e1.accuracy - e2.accuracy) < 1e-9 &&
                  fabs(e1.loss - e2.loss) < 1e-5 && e1.accuracy >= 0 && e1.accuracy <= 1,
              "same figures (%g %g vs %g %g)", e1.loss, e1.accuracy, e2.loss, e2.accuracy);
    }
    /* ONNX export, from memory and from the loaded file (whose metadata it copies) */
    char onnx_path[96];
    snprintf(onnx_path, sizeof onnx_path, "/tmp/cltrain-test-api-%ld.onnx", (long)getpid());
    for (int k = 0; k < 2; k++) {
        ct_classifier *src = k ? m2 : m;
        ct_status es = src ? ct_classifier_export_onnx(src, onnx_path) : CT_ERR_ARG;
        FILE *f = fopen(onnx_path, "rb");
        if (ct_onnx_supported() != CT_OK) {
            CHECK(es == CT_ERR_ARG && strstr(ct_last_error(), "libprotobuf-c-dev") && !f,
                  "export without ONNX support names the packages, writes nothing");
        } else {
            static char buf[1 << 16];
            size_t len = f ? fread(buf, 1, sizeof buf, f) : 0;
            const char *spec = ct_classifier_spec(m);
            CHECK(es == CT_OK && len > 100 && buf[0] == 0x08 /* ir_version */ &&
                      memmem(buf, len, spec, strlen(spec)) && memmem(buf, len, "probabilities", 13) &&
                      !memmem(buf, len, "variants", 8) == !k,
                  "ONNX export %s (%zu bytes)", k ? "of the loaded model" : "from memory", len);
        }
        if (f) fclose(f);
        unlink(onnx_path);
    }
    unlink(model_path);
    free(x);
    ct_classifier_free(m2);
    ct_classifier_free(m);
    ct_dataset_free(test);
    ct_dataset_free(train);
    ct_runtime_free(rt);
    printf("api: %d checks, %d failed\n", checks, fails);
    return fails ? 1 : 0;
}
