/* Optimizers, learning-rate schedules and ReduceLROnPlateau:
 * - against Keras 3 (tests/golden/optim.json, recorded by tools/gen_optim_golden.py): every
 *   optimizer's kernel over a few steps of fixed gradients (AdamW with the bias excluded from
 *   decay), CosineDecay / ExponentialDecay values, ReduceLROnPlateau's rates;
 * - warmup by its definition;
 * - ct_fit_opts_check: bad input names the option;
 * - fit on the sample set with each optimizer and schedule: the history's learning_rate
 *   column, and a run stopped after epoch 1 and resumed gives a model file identical byte
 *   for byte to the uninterrupted run's; a resume with another optimizer is refused. */
#include <cjson/cJSON.h>

#include "cltrain.h"
#include "ctest.h"
#include "golden_json.h"
#include "io/fileutil.h"
#include "layers/layers.h"
#include "model/model.h"
#include "model/modelio.h"
#include "report/report.h"
#include "runtime/tensor.h"
#include "tmpdir.h"
#include "train/schedule.h"

static int floats(const cJSON *arr, float *out, int max) {
    int n = cJSON_GetArraySize(arr);
    for (int i = 0; i < n && i < max; i++) out[i] = (float)cJSON_GetArrayItem(arr, i)->valuedouble;
    return n;
}

static double num(const cJSON *o, const char *k, double def) {
    const cJSON *x = cJSON_GetObjectItem(o, k);
    return cJSON_IsNumber(x) ? x->valuedouble : cJSON_IsBool(x) ? cJSON_IsTrue(x) : def;
}

/* Worst |got - want| / (atol + rtol |want|). */
static double worst(const float *got, const float *want, int n, double atol, double rtol) {
    double e = 0;
    for (int i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]) / (atol + rtol * fabs((double)want[i]));
        if (!(d <= e)) e = d; /* NaN counts as worst */
    }
    return e;
}

/* ---- Keras goldens ---- */

#define NK 24
#define NB 6
#define MAXSTEPS 16

static void golden_optimizers(ct_runtime *rt, const cJSON *root) {
    float k0[NK], b0[NB], gk[MAXSTEPS][NK], gb[MAXSTEPS][NB];
    int steps = (int)num(root, "steps", 0);
    CHECK(steps > 0 && steps <= MAXSTEPS, "golden steps %d", steps);
    if (steps <= 0 || steps > MAXSTEPS) return;
    CHECK(floats(cJSON_GetObjectItem(root, "kernel0"), k0, NK) == NK, "kernel0");
    CHECK(floats(cJSON_GetObjectItem(root, "bias0"), b0, NB) == NB, "bias0");
    for (int s = 0; s < steps; s++) {
        floats(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "grads_kernel"), s), gk[s], NK);
        floats(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "grads_bias"), s), gb[s], NB);
    }
    ct_layer_kernels K;
    CHECK_OK(ct_layer_kernels_init(rt, &K));
    /* one slab: kernel then bias, as a model lays them out; the bias is not decayed */
    const size_t n = NK + NB;
    unsigned char mask[NK + NB];
    memset(mask, 1, NK);
    memset(mask + NK, 0, NB);
    cl_mem p = NULL, g = NULL, m = NULL, v = NULL, d = NULL;
    CHECK_OK(ct_buffer_create(rt, "p", n * 4, CL_MEM_READ_WRITE, &p));
    CHECK_OK(ct_buffer_create(rt, "g", n * 4, CL_MEM_READ_WRITE, &g));
    CHECK_OK(ct_buffer_create(rt, "m", n * 4, CL_MEM_READ_WRITE, &m));
    CHECK_OK(ct_buffer_create(rt, "v", n * 4, CL_MEM_READ_WRITE, &v));
    CHECK_OK(ct_buffer_create(rt, "decay", n, CL_MEM_READ_ONLY, &d));
    CHECK_OK(ct_upload(rt, d, 0, n, mask));
    const cJSON *it;
    int count = 0;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(root, "optimizers")) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(it, "optimizer"));
        int kind = ct_optim_parse(name);
        CHECK(kind >= 0, "golden optimizer '%s'", name ? name : "(none)");
        if (kind < 0) continue;
        ct_optim o;
        ct_optim_defaults((ct_optim_kind)kind, &o);
        o.lr = num(it, "lr", o.lr);
        o.beta1 = num(it, "beta1", o.beta1);
        o.beta2 = num(it, "beta2", o.beta2);
        o.eps = num(it, "eps", o.eps);
        o.momentum = num(it, "momentum", o.momentum);
        o.rho = num(it, "rho", o.rho);
        o.weight_decay = num(it, "weight_decay", o.weight_decay);
        o.nesterov = (int)num(it, "nesterov", 0);
        float host[NK + NB], want[NK + NB], zero[NK + NB] = {0};
        memcpy(host, k0, sizeof k0);
        memcpy(host + NK, b0, sizeof b0);
        CHECK_OK(ct_upload(rt, p, 0, n * 4, host));
        CHECK_OK(ct_upload(rt, m, 0, n * 4, zero));
        CHECK_OK(ct_upload(rt, v, 0, n * 4, zero));
        for (int s = 0; s < steps; s++) {
            memcpy(host, gk[s], sizeof gk[s]);
            memcpy(host + NK, gb[s], sizeof gb[s]);
            CHECK_OK(ct_upload(rt, g, 0, n * 4, host));
            CHECK_OK(ct_optim_update(&K, &o, n, s + 1, p, g, m, v, d));
        }
        CHECK_OK(ct_download(rt, p, 0, n * 4, host));
        floats(cJSON_GetObjectItem(it, "final_kernel"), want, NK);
        floats(cJSON_GetObjectItem(it, "final_bias"), want + NK, NB);
        /* Keras (torch backend) computes Adam's 1 - beta2^t in float32, off by up to 1.3e-5
         * relative at t = 1 (cltrain: double), and forms m, v and the decay with other
         * roundings: 1e-5 relative. A wrong slot or decay rule is off by the size of an
         * update, 1e-3 and more relative here. */
        double e = worst(host, want, (int)n, 1e-7, 1e-5);
        char desc[256];
        ct_optim_describe(&o, desc, sizeof desc);
        CHECK(e <= 1.0, "Keras %s lr %g after %d steps: error %.3g x tolerance", desc, o.lr, steps, e);
        count++;
    }
    CHECK(count >= 9, "golden has %d optimizer runs", count);
    cl_mem bufs[] = {p, g, m, v, d};
    for (int i = 0; i < 5; i++)
        if (bufs[i]) clReleaseMemObject(bufs[i]);
    ct_layer_kernels_free(&K);
}

static void golden_schedules(const cJSON *root) {
    const cJSON *it;
    int count = 0;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(root, "schedules")) {
        const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(it, "kind"));
        ct_lr_schedule s = {0};
        s.kind = (ct_sched_kind)ct_sched_parse(kind);
        s.lr = num(it, "lr", 0);
        s.steps = 1; /* one step per epoch: Keras's decay_steps are our epochs */
        int ds = (int)num(it, "decay_steps", 1);
        if (s.kind == CT_SCHED_COSINE) s.epochs = ds;
        s.decay_epochs = ds;
        s.decay_rate = num(it, "rate", 0);
        const cJSON *vals = cJSON_GetObjectItem(it, "values");
        double e = 0;
        for (int t = 0; t < cJSON_GetArraySize(vals); t++) {
            double want = cJSON_GetArrayItem(vals, t)->valuedouble, got = ct_lr_at(&s, s.lr, t);
            /* Keras: float32 (cos of a float32 argument) */
            double d = fabs(got - want) / (1e-7 * s.lr + 1e-6 * fabs(want));
            if (!(d <= e)) e = d;
        }
        CHECK(e <= 1.0, "Keras %s schedule (lr %g, decay steps %d): error %.3g x tolerance", kind,
              s.lr, ds, e);
        count++;
    }
    CHECK(count >= 4, "golden has %d schedules", count);
}

static void golden_plateaus(const cJSON *root) {
    const cJSON *it;
    int count = 0;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(root, "plateaus")) {
        int maximize = (int)num(it, "maximize", 0);
        ct_plateau p = {num(it, "factor", 0), num(it, "min_lr", 0), num(it, "min_delta", 0),
                        (int)num(it, "patience", 0), maximize, num(it, "lr", 0),
                        maximize ? -INFINITY : INFINITY, 0};
        const cJSON *vals = cJSON_GetObjectItem(it, "values"), *lrs = cJSON_GetObjectItem(it, "lr_after");
        int bad = -1;
        for (int e = 0; e < cJSON_GetArraySize(vals); e++) {
            ct_plateau_update(&p, cJSON_GetArrayItem(vals, e)->valuedouble);
            double want = cJSON_GetArrayItem(lrs, e)->valuedouble;
            if (bad < 0 && !(fabs(p.lr - want) <= 1e-6 * want)) bad = e;
        }
        CHECK(bad < 0, "Keras ReduceLROnPlateau (factor %g patience %d min_lr %g on %s): rate "
              "differs after epoch %d", p.factor, p.patience, p.min_lr,
              maximize ? "accuracy" : "loss", bad + 1);
        count++;
    }
    CHECK(count >= 3, "golden has %d plateau series", count);
}

/* ---- the model's decay mask: AdamW decays weights, never biases ---- */

static void model_decay(ct_runtime *rt) {
    float x[4 * 4] = {0.1f, 0.9f, 0.3f, 0.5f, 0.7f, 0.2f, 0.4f, 0.8f,
                      0.6f, 0.1f, 0.5f, 0.3f, 0.2f, 0.9f, 0.7f, 0.4f};
    int32_t y[4] = {0, 1, 1, 0};
    float *after[2][4] = {{0}};
    size_t n[4] = {0};
    for (int run = 0; run < 2; run++) {
        ct_model *m = NULL;
        CHECK_OK(ct_model_create(rt, "flatten,dense3:relu,dense1", 1, 2, 2, 2, 4, 3, &m));
        if (!m) return;
        CHECK(ct_model_n_params(m) == 4, "params %d", ct_model_n_params(m));
        for (int i = 0; i < 4 && run == 0; i++) {
            const ct_param_info *pi = ct_model_param(m, i);
            CHECK(pi->no_decay == (strstr(pi->name, "bias") != NULL), "%s no_decay %d", pi->name,
                  pi->no_decay);
        }
        for (int i = 0; i < 4; i++) { /* biases start at 0, where no decay shows: not 0 here */
            size_t k = ct_model_param(m, i)->n;
            float *v = malloc(k * sizeof *v);
            for (size_t j = 0; v && j < k; j++) v[j] = 0.05f * (float)(j % 5) - 0.11f;
            if (v) CHECK_OK(ct_model_set_param(m, i, v));
            free(v);
        }
        CHECK_OK(ct_upload(rt, ct_model_input(m), 0, sizeof x, x));
        CHECK_OK(ct_upload(rt, ct_model_labels(m), 0, sizeof y, y));
        ct_optim o;
        ct_optim_defaults(run ? CT_OPTIM_ADAMW : CT_OPTIM_ADAM, &o);
        o.weight_decay = run ? 0.5 : 0;
        CHECK_OK(ct_model_train_step(m, 4, &o, 1, 0));
        for (int i = 0; i < 4; i++) {
            n[i] = ct_model_param(m, i)->n;
            after[run][i] = malloc(n[i] * sizeof(float));
            if (after[run][i]) CHECK_OK(ct_model_get_param(m, i, after[run][i]));
        }
        ct_model_free(m);
    }
    /* the same first gradients: biases equal bit for bit; weights differ by the decay
     * (p0 lr wd, with p0 ~ glorot: about 1e-4 here) */
    for (int i = 0; i < 4; i++) {
        if (!after[0][i] || !after[1][i]) continue;
        int bias = (i & 1) != 0;
        size_t differ = 0;
        for (size_t k = 0; k < n[i]; k++) differ += after[0][i][k] != after[1][i][k];
        if (bias) CHECK(differ == 0, "AdamW decayed %zu of bias %d's values", differ, i);
        else CHECK(differ == n[i], "AdamW left %zu of weight %d's values undecayed", n[i] - differ, i);
        free(after[0][i]);
        free(after[1][i]);
    }
}

/* ---- the checkpoint state's new fields ---- */

static void ckpt_state(void) {
    const char *good =
        "{\"epochs_done\":2,\"step\":6,\"best\":0.61,\"best_epoch\":2,\"wait\":0,\"has_best\":false,"
        "\"fingerprint\":\"00ff\",\"optim\":\"sgd momentum=0.5 nesterov=0; constant warmup_epochs=0\","
        "\"plateau\":{\"lr\":0.005,\"best\":0.61,\"wait\":1},"
        "\"history\":[[1,0.7,0.5,0,0,0.1,0,0.01],[2,0.61,0.6,0,0,0.1,0]]}";
    ct_ckpt_state st;
    memset(&st, 0, sizeof st);
    CHECK_OK(ct_checkpoint_state_parse(good, "good", &st));
    CHECK(!strcmp(st.optim, "sgd momentum=0.5 nesterov=0; constant warmup_epochs=0") &&
              st.has_plateau && st.plateau_lr == 0.005 && st.plateau_wait == 1 &&
              st.plateau_best == 0.61 && st.hist.n == 2 && st.hist.e[0].lr == 0.01 &&
              st.hist.e[1].lr == 0,
          "state fields");
    ct_history_free(&st.hist);
    const char *bad[] = {
        "{\"epochs_done\":0,\"step\":0,\"best_epoch\":-1,\"wait\":0,\"has_best\":false,"
        "\"fingerprint\":\"0\",\"plateau\":{\"lr\":-1,\"wait\":0},\"history\":[]}",
        "{\"epochs_done\":0,\"step\":0,\"best_epoch\":-1,\"wait\":0,\"has_best\":false,"
        "\"fingerprint\":\"0\",\"plateau\":{\"lr\":0.1,\"wait\":0.5},\"history\":[]}",
        "{\"epochs_done\":1,\"step\":0,\"best_epoch\":-1,\"wait\":0,\"has_best\":false,"
        "\"fingerprint\":\"0\",\"history\":[[1,0.7,0.5,0,0,0.1,0,-2]]}"};
    for (int i = 0; i < 3; i++) {
        memset(&st, 0, sizeof st);
        CHECK(ct_checkpoint_state_parse(bad[i], "bad", &st) == CT_ERR_FORMAT, "bad state %d", i);
        ct_history_free(&st.hist);
    }
}

/* ---- warmup, by its definition ---- */

static void warmup(void) {
    ct_lr_schedule s = {CT_SCHED_COSINE, 0.1, 5, 4, 2, 0, 0};
    /* 8 warmup steps: 0.1 * (t + 1) / 8; then cosine over 3 epochs = 12 steps */
    for (long t = 0; t < 8; t++)
        CHECK(fabs(ct_lr_at(&s, 0.1, t) - 0.1 * (t + 1) / 8) < 1e-15, "warmup step %ld", t);
    CHECK(fabs(ct_lr_at(&s, 0.1, 8) - 0.1) < 1e-15, "cosine starts at the base rate");
    CHECK(fabs(ct_lr_at(&s, 0.1, 14) - 0.05) < 1e-12, "cosine halfway");
    CHECK(ct_lr_at(&s, 0.1, 19) > 0 && ct_lr_at(&s, 0.1, 20) < 1e-15, "cosine ends at 0");
    s.kind = CT_SCHED_STEP;
    s.decay_rate = 0.5;
    s.decay_epochs = 2;
    CHECK(ct_lr_at(&s, 0.1, 8) == 0.1 && ct_lr_at(&s, 0.1, 15) == 0.1 &&
              ct_lr_at(&s, 0.1, 16) == 0.05 && ct_lr_at(&s, 0.1, 24) == 0.025,
          "step decay every 2 epochs after warmup");
    s.kind = CT_SCHED_CONSTANT;
    CHECK(ct_lr_at(&s, 0.1, 0) == 0.1 / 8 && ct_lr_at(&s, 0.1, 100) == 0.1, "constant");
}

/* ---- option checks ---- */

static void opts_check(void) {
    ct_fit_opts o;
    ct_fit_opts_default(&o);
    CHECK_OK(ct_fit_opts_check(&o));
#define BAD(word, ...)                                                                            \
    do {                                                                                          \
        ct_fit_opts_default(&o);                                                                  \
        __VA_ARGS__;                                                                              \
        ct_status st_ = ct_fit_opts_check(&o);                                                    \
        CHECK(st_ == CT_ERR_ARG && strstr(ct_last_error(), word), "%s: %s", #__VA_ARGS__,         \
              ct_last_error());                                                                   \
    } while (0)
    BAD("--optimizer", o.optimizer = "adagrad");
    BAD("--rho", o.rho = 0.9);
    BAD("--rho", o.optimizer = "sgd", o.rho = 0.9);
    BAD("--momentum", o.momentum = 0.9);
    BAD("--momentum", o.optimizer = "sgd", o.momentum = -0.1);
    BAD("--momentum", o.optimizer = "sgd", o.momentum = 1);
    BAD("--nesterov", o.optimizer = "sgd", o.nesterov = 1);
    BAD("--nesterov", o.optimizer = "rmsprop", o.nesterov = 1, o.momentum = 0.5);
    BAD("--weight-decay", o.weight_decay = 0.01);
    BAD("--weight-decay", o.optimizer = "adamw", o.weight_decay = -1);
    BAD("--beta1", o.optimizer = "sgd", o.beta1 = 0.9);
    BAD("--epsilon", o.optimizer = "sgd", o.eps = 1e-7);
    BAD("--lr-schedule", o.lr_schedule = "linear");
    BAD("--warmup-epochs", o.epochs = 3, o.warmup_epochs = 3);
    BAD("--lr-decay-rate", o.lr_decay_rate = 0.5);
    BAD("--lr-decay-epochs", o.lr_schedule = "step");
    BAD("--lr-decay-rate", o.lr_schedule = "exponential");
    BAD("--reduce-lr-on-plateau", o.plateau_factor = 1.5, o.plateau_patience = 2);
    BAD("--reduce-lr-on-plateau", o.plateau_factor = 0.5, o.plateau_patience = 0);
    BAD("--reduce-lr-on-plateau", o.plateau_factor = 0.5, o.plateau_patience = 2,
        o.lr_schedule = "cosine");
    ct_fit_opts_default(&o);
    o.optimizer = "sgd";
    o.momentum = 0.9;
    o.nesterov = 1;
    o.lr_schedule = "step";
    o.lr_decay_epochs = 2;
    o.warmup_epochs = 1;
    CHECK_OK(ct_fit_opts_check(&o));
}

/* ---- fit: history learning rates, resume bit-identical ---- */

typedef struct stopper {
    int stop_at; /* stop after this epoch (0: never) */
} stopper;

static int on_epoch(void *user, const ct_epoch_info *e) {
    const stopper *s = user;
    return s->stop_at > 0 && e->epoch >= s->stop_at;
}

typedef struct fit_case {
    const char *name;
    const char *optimizer;
    double momentum, rho, weight_decay;
    int nesterov;
    const char *schedule;
    int warmup;
    double decay_rate, decay_epochs, plateau;
} fit_case;

static void setup(ct_fit_opts *o, const fit_case *c, const char *ckdir, const char *hist) {
    ct_fit_opts_default(o);
    o->epochs = c->plateau > 0 ? 4 : 3; /* the plateau's first cut shows from epoch 4 on */
    o->batch = 8;
    o->steps_per_epoch = 3;
    o->workers = 1;
    o->seed = 5;
    o->quiet = 1;
    o->checkpoint_dir = ckdir;
    o->history = hist;
    o->optimizer = c->optimizer;
    if (c->momentum > 0) o->momentum = c->momentum;
    if (c->rho > 0) o->rho = c->rho;
    if (c->weight_decay > 0) o->weight_decay = c->weight_decay;
    o->nesterov = c->nesterov;
    o->lr_schedule = c->schedule;
    o->warmup_epochs = c->warmup;
    if (c->decay_rate > 0) o->lr_decay_rate = c->decay_rate;
    if (c->decay_epochs > 0) o->lr_decay_epochs = c->decay_epochs;
    if (c->plateau > 0) {
        o->plateau_factor = c->plateau;
        o->plateau_patience = 1;
        o->monitor = "loss";
        o->lr = 1e-7; /* too small to improve the loss by min_delta: it plateaus */
    }
}

static ct_classifier *make(ct_runtime *rt, const ct_dataset *ds) {
    ct_classifier *m = NULL;
    CHECK_OK(ct_classifier_create(rt, "conv4:3:relu,pool4,flatten,dense8:relu,dense1", 24, 24, 3,
                                  CT_RESIZE_NEAREST, ct_dataset_class_count(ds),
                                  ct_dataset_class_names(ds), 8, 11, &m));
    return m;
}

static int same_file(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int x = fgetc(fa), y = fgetc(fb);
        if (x != y) same = 0;
        if (x == EOF || y == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

static void fit_cases(ct_runtime *rt, const ct_dataset *ds, const char *dir) {
    static const fit_case cases[] = {
        {"adam", NULL, 0, 0, 0, 0, NULL, 0, 0, 0, 0},
        {"adamw", "adamw", 0, 0, 0.05, 0, NULL, 0, 0, 0, 0},
        {"sgd", "sgd", 0, 0, 0, 0, NULL, 0, 0, 0, 0},
        {"sgd-nesterov", "sgd", 0.9, 0, 0, 1, NULL, 0, 0, 0, 0},
        {"rmsprop", "rmsprop", 0.5, 0.8, 0, 0, NULL, 0, 0, 0, 0},
        {"cosine-warmup", "sgd", 0.9, 0, 0, 0, "cosine", 1, 0, 0, 0},
        {"step", NULL, 0, 0, 0, 0, "step", 0, 0.5, 1, 0},
        {"exponential", "rmsprop", 0, 0, 0, 0, "exponential", 1, 0.7, 0.5, 0},
        {"plateau", "sgd", 0, 0, 0, 0, NULL, 0, 0, 0, 0.5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const fit_case *c = &cases[i];
        char cka[4096], ckb[4096], ha[4096], hb[4096], fa[4096], fb[4096];
        snprintf(cka, sizeof cka, "%.2000s/%s-a", dir, c->name);
        snprintf(ckb, sizeof ckb, "%.2000s/%s-b", dir, c->name);
        snprintf(ha, sizeof ha, "%.2000s/%s-a.csv", dir, c->name);
        snprintf(hb, sizeof hb, "%.2000s/%s-b.csv", dir, c->name);
        snprintf(fa, sizeof fa, "%.2000s/%s-a.safetensors", dir, c->name);
        snprintf(fb, sizeof fb, "%.2000s/%s-b.safetensors", dir, c->name);
        ct_fit_opts o;
        ct_fit_result r;
        /* A: uninterrupted */
        setup(&o, c, cka, ha);
        ct_classifier *m = make(rt, ds);
        if (!m) return;
        const int E = o.epochs;
        CHECK(ct_fit(m, ds, NULL, &o, &r) == CT_OK && r.epochs_done == E, "%s: fit: %s", c->name,
              ct_last_error());
        CHECK_OK(ct_classifier_save(m, fa));
        ct_classifier_free(m);
        /* the learning rate column: the first step's rate of each epoch */
        ct_history h = {0};
        CHECK_OK(ct_history_read_csv(ha, &h));
        ct_optim od;
        ct_optim_defaults((ct_optim_kind)ct_optim_parse(c->optimizer ? c->optimizer : "adam"), &od);
        if (c->plateau > 0) od.lr = o.lr;
        ct_lr_schedule s = {(ct_sched_kind)ct_sched_parse(c->schedule ? c->schedule : "constant"),
                            od.lr, 3, 3, c->warmup, c->decay_rate, c->decay_epochs};
        for (int e = 0; e < h.n && !c->plateau; e++)
            CHECK(fabs(h.e[e].lr - ct_lr_at(&s, od.lr, 3L * e)) <= 1e-15 * od.lr,
                  "%s: epoch %d learning_rate %.17g, expected %.17g", c->name, e + 1, h.e[e].lr,
                  ct_lr_at(&s, od.lr, 3L * e));
        for (int e = 1; e < h.n && c->plateau; e++)
            CHECK(h.e[e].lr == h.e[e - 1].lr ||
                      fabs(h.e[e].lr - h.e[e - 1].lr * c->plateau) < 1e-9 * h.e[e].lr,
                  "%s: epoch %d learning_rate %g after %g", c->name, e + 1, h.e[e].lr,
                  h.e[e - 1].lr);
        CHECK(h.n == E, "%s: %d history rows", c->name, h.n);
        CHECK(!c->plateau || (h.n == E && h.e[E - 1].lr < h.e[0].lr), "%s: the rate was never "
              "reduced (%g, then %g)", c->name, h.n == E ? h.e[0].lr : 0,
              h.n == E ? h.e[E - 1].lr : 0);
        ct_history_free(&h);
        /* B: stopped after epoch 1 (or 2), then resumed in a new model */
        stopper st = {c->plateau > 0 ? 2 : 1}; /* the plateau: after its best moved once */
        setup(&o, c, ckb, hb);
        o.on_epoch = on_epoch;
        o.user = &st;
        m = make(rt, ds);
        if (!m) return;
        CHECK(ct_fit(m, ds, NULL, &o, &r) == CT_OK && r.stopped && r.epochs_done == st.stop_at,
              "%s: stopped fit: %s", c->name, ct_last_error());
        ct_classifier_free(m);
        setup(&o, c, ckb, hb);
        o.resume = 1;
        CHECK_OK(ct_fit_resume_prepare(rt, ckb));
        m = make(rt, ds);
        if (!m) return;
        CHECK(ct_fit(m, ds, NULL, &o, &r) == CT_OK && r.epochs_done == E && r.checkpoint_epoch == E,
              "%s: resumed fit: %s", c->name, ct_last_error());
        CHECK_OK(ct_classifier_save(m, fb));
        ct_classifier_free(m);
        CHECK(same_file(fa, fb), "%s: resumed model differs from the uninterrupted run's", c->name);
        /* seconds differ; the learning_rate column must not */
        ct_history x = {0}, y = {0};
        CHECK_OK(ct_history_read_csv(ha, &x));
        CHECK_OK(ct_history_read_csv(hb, &y));
        int same = x.n == y.n, e = 0;
        /* the rows of the epochs before the stop come back from the checkpoint's JSON, which
         * cJSON prints with 15 digits when they read back within its own tolerance */
        for (; same && e < x.n; e++)
            same = fabs(x.e[e].lr - y.e[e].lr) <= 1e-14 * x.e[e].lr &&
                   fabs(x.e[e].loss - y.e[e].loss) <= 1e-14 * fabs(x.e[e].loss);
        CHECK(same, "%s: resumed history differs at epoch %d (loss %.17g / %.17g, learning_rate "
              "%.17g / %.17g)", c->name, e, e && e <= x.n ? x.e[e - 1].loss : 0,
              e && e <= y.n ? y.e[e - 1].loss : 0, e && e <= x.n ? x.e[e - 1].lr : 0,
              e && e <= y.n ? y.e[e - 1].lr : 0);
        ct_history_free(&x);
        ct_history_free(&y);
    }
    /* a resume with another optimizer is refused, naming both */
    char ck[4096];
    snprintf(ck, sizeof ck, "%.2000s/sgd-a", dir);
    ct_fit_opts o;
    setup(&o, &cases[0], ck, NULL);
    o.resume = 1;
    o.epochs = 4;
    ct_classifier *m = make(rt, ds);
    if (!m) return;
    ct_fit_result r;
    ct_status st = ct_fit(m, ds, NULL, &o, &r);
    CHECK(st == CT_ERR_ARG && strstr(ct_last_error(), "sgd") && strstr(ct_last_error(), "adam") &&
              strstr(ct_last_error(), "optimizer"),
          "resume sgd checkpoint with adam: %s", ct_last_error());
    /* and one with another momentum */
    const fit_case other = {"x", "sgd", 0.5, 0, 0, 0, NULL, 0, 0, 0, 0};
    setup(&o, &other, ck, NULL);
    o.resume = 1;
    o.epochs = 4;
    st = ct_fit(m, ds, NULL, &o, &r);
    CHECK(st == CT_ERR_ARG && strstr(ct_last_error(), "momentum=0.5"), "resume with other "
          "momentum: %s", ct_last_error());
    /* the same settings with more epochs continue (constant schedule) */
    setup(&o, &cases[2], ck, NULL);
    o.resume = 1;
    o.epochs = 4;
    CHECK(ct_fit(m, ds, NULL, &o, &r) == CT_OK && r.epochs_done == 4, "sgd resume to 4 epochs: %s",
          ct_last_error());
    ct_classifier_free(m);
}

int main(void) {
    warmup();
    opts_check();
    ckpt_state();
    cJSON *root = ct_test_golden_json("optim.json");
    if (root) {
        golden_schedules(root);
        golden_plateaus(root);
    }
    ct_runtime *rt = ct_test_runtime(0);
    if (root) golden_optimizers(rt, root);
    model_decay(rt);
    cJSON_Delete(root);

    const char *data = getenv("CLTRAIN_DATA_DIR");
    char train[4096];
    snprintf(train, sizeof train, "%s/catdog-mini/train", data ? data : "data");
    const char *dirs[] = {train};
    ct_dataset *ds = NULL;
    CHECK_OK(ct_dataset_open(dirs, 1, &ds));
    char dir[4096];
    tmpdir_make(dir, sizeof dir);
    if (ds) fit_cases(rt, ds, dir);
    tmpdir_remove(dir);
    ct_dataset_free(ds);
    ct_runtime_free(rt);
    return ct_test_done("test_optim");
}
