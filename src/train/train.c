/* fit: the training loop (Keras Model.fit semantics with validation, early stopping,
 * history, plots and resumable checkpoints). */
#include "train/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/fileutil.h"
#include "model/modelio.h"
#include "report/report.h"
#include "runtime/tensor.h"
#include "train/dist.h"
#include "train/replicas.h"
#include "train/schedule.h"

void ct_fit_opts_default(ct_fit_opts *o) {
    memset(o, 0, sizeof *o);
    o->epochs = 10;
    o->batch = 64;
    /* NaN: the optimizer's Keras default (resolve_optim) */
    o->lr = o->beta1 = o->beta2 = o->eps = NAN;
    o->momentum = o->rho = o->weight_decay = NAN;
    o->lr_decay_rate = o->lr_decay_epochs = NAN;
    o->augment = "none";
    o->seed = 1;
    o->restore_best = 1;
    o->cache_mb = 2048;
}

/* ---- optimizer, schedule, plateau: checked before any data is touched ---------- */

static int set(double v) { return !isnan(v); }

/* A value given for an optimizer or schedule that has no such parameter. */
static ct_status not_for(const char *opt, const char *what, const char *name, const char *has) {
    return ct_set_error(CT_ERR_ARG, "%s: %s %s has no such parameter (it applies to %s); remove "
                        "it or choose another %s", opt, what, name, has, what);
}

static ct_status in_range(const char *opt, double v, double lo, int lo_open, double hi,
                          int hi_open, const char *allowed) {
    if (!set(v)) return CT_OK;
    if (!isfinite(v) || (lo_open ? v <= lo : v < lo) || (hi_open ? v >= hi : v > hi))
        return ct_set_error(CT_ERR_ARG, "%s %g: must be %s", opt, v, allowed);
    return CT_OK;
}

ct_status ct_fit_opts_check(const ct_fit_opts *o) {
    if (!o) return ct_set_error(CT_ERR_ARG, "ct_fit_opts_check: NULL options");
    const char *on = o->optimizer ? o->optimizer : "adam";
    int k = ct_optim_parse(on);
    if (k < 0)
        return ct_set_error(CT_ERR_ARG, "--optimizer %s: expected adam, adamw, sgd or rmsprop", on);
    int adam = k == CT_OPTIM_ADAM || k == CT_OPTIM_ADAMW;
    const char *opt_what = "--optimizer";
    if (!adam && set(o->beta1)) return not_for("--beta1", opt_what, on, "adam and adamw");
    if (!adam && set(o->beta2)) return not_for("--beta2", opt_what, on, "adam and adamw");
    if (k == CT_OPTIM_SGD && set(o->eps))
        return not_for("--epsilon", opt_what, on, "adam, adamw and rmsprop");
    if (adam && set(o->momentum)) return not_for("--momentum", opt_what, on, "sgd and rmsprop");
    if (k != CT_OPTIM_RMSPROP && set(o->rho)) return not_for("--rho", opt_what, on, "rmsprop");
    if (k != CT_OPTIM_ADAMW && set(o->weight_decay))
        return not_for("--weight-decay", opt_what, on, "adamw, the decoupled form");
    if (k != CT_OPTIM_SGD && o->nesterov) return not_for("--nesterov", opt_what, on, "sgd");
    CT_TRY(in_range("--lr", o->lr, 0, 1, 10, 0, "in (0, 10]"));
    CT_TRY(in_range("--beta1", o->beta1, 0, 0, 1, 1, "in [0, 1)"));
    CT_TRY(in_range("--beta2", o->beta2, 0, 0, 1, 1, "in [0, 1)"));
    CT_TRY(in_range("--epsilon", o->eps, 0, 1, 1, 0, "in (0, 1]"));
    CT_TRY(in_range("--momentum", o->momentum, 0, 0, 1, 1,
                    "in [0, 1) (0: none; 0.9 is usual; not negative, and below 1)"));
    CT_TRY(in_range("--rho", o->rho, 0, 0, 1, 1, "in [0, 1) (Keras default 0.9)"));
    CT_TRY(in_range("--weight-decay", o->weight_decay, 0, 0, 1, 0,
                    "in [0, 1] (Keras AdamW default 0.004)"));
    if (o->nesterov && !(o->momentum > 0))
        return ct_set_error(CT_ERR_ARG, "--nesterov needs --momentum M with M > 0 (Nesterov "
                            "momentum without momentum is plain SGD)");
    const char *sn = o->lr_schedule ? o->lr_schedule : "constant";
    int sk = ct_sched_parse(sn);
    if (sk < 0)
        return ct_set_error(CT_ERR_ARG, "--lr-schedule %s: expected constant, cosine, step or "
                            "exponential", sn);
    int decays = sk == CT_SCHED_STEP || sk == CT_SCHED_EXPONENTIAL;
    if (!decays && set(o->lr_decay_rate))
        return not_for("--lr-decay-rate", "--lr-schedule", sn, "step and exponential");
    if (!decays && set(o->lr_decay_epochs))
        return not_for("--lr-decay-epochs", "--lr-schedule", sn, "step and exponential");
    CT_TRY(in_range("--lr-decay-rate", o->lr_decay_rate, 0, 1, 1, 0, "in (0, 1]"));
    CT_TRY(in_range("--lr-decay-epochs", o->lr_decay_epochs, 0, 1, 1e7, 0, "a positive number"));
    if (sk == CT_SCHED_STEP && !set(o->lr_decay_epochs))
        return ct_set_error(CT_ERR_ARG, "--lr-schedule step needs --lr-decay-epochs N (the rate "
                            "is multiplied by --lr-decay-rate, default 0.1, every N epochs)");
    if (sk == CT_SCHED_EXPONENTIAL && !set(o->lr_decay_rate))
        return ct_set_error(CT_ERR_ARG, "--lr-schedule exponential needs --lr-decay-rate F in "
                            "(0, 1] (the factor per --lr-decay-epochs, default 1, epochs)");
    if (o->warmup_epochs < 0 || (o->epochs > 0 && o->warmup_epochs >= o->epochs))
        return ct_set_error(CT_ERR_ARG, "--warmup-epochs %d: must be 0 or more and less than "
                            "--epochs %d", o->warmup_epochs, o->epochs);
    if (o->plateau_factor != 0) {
        if (!(o->plateau_factor > 0 && o->plateau_factor < 1))
            return ct_set_error(CT_ERR_ARG, "--reduce-lr-on-plateau: FACTOR %g must be in (0, 1) "
                                "(the rate is multiplied by it)", o->plateau_factor);
        if (o->plateau_patience < 1)
            return ct_set_error(CT_ERR_ARG, "--reduce-lr-on-plateau: PATIENCE %d must be 1 or "
                                "more epochs", o->plateau_patience);
        if (!(o->plateau_min_lr >= 0) || !isfinite(o->plateau_min_lr))
            return ct_set_error(CT_ERR_ARG, "--reduce-lr-on-plateau: MIN_LR %g must be 0 or more",
                                o->plateau_min_lr);
        if (sk != CT_SCHED_CONSTANT)
            return ct_set_error(CT_ERR_ARG, "--reduce-lr-on-plateau works with --lr-schedule "
                                "constant only (as in Keras, where it cannot drive a schedule); "
                                "drop one of them");
    }
    return CT_OK;
}

/* The optimizer the options ask for, every NaN replaced by its Keras default. */
static void resolve_optim(const ct_fit_opts *o, ct_optim *out) {
    ct_optim_defaults((ct_optim_kind)ct_optim_parse(o->optimizer ? o->optimizer : "adam"), out);
    if (set(o->lr)) out->lr = o->lr;
    if (set(o->beta1)) out->beta1 = o->beta1;
    if (set(o->beta2)) out->beta2 = o->beta2;
    if (set(o->eps)) out->eps = o->eps;
    if (set(o->momentum)) out->momentum = o->momentum;
    if (set(o->rho)) out->rho = o->rho;
    if (set(o->weight_decay)) out->weight_decay = o->weight_decay;
    out->nesterov = o->nesterov != 0;
}

static void resolve_schedule(const ct_fit_opts *o, double lr, long steps, ct_lr_schedule *s) {
    memset(s, 0, sizeof *s);
    s->kind = (ct_sched_kind)ct_sched_parse(o->lr_schedule ? o->lr_schedule : "constant");
    s->lr = lr;
    s->epochs = o->epochs;
    s->steps = steps;
    s->warmup_epochs = o->warmup_epochs;
    s->decay_rate = set(o->lr_decay_rate) ? o->lr_decay_rate : 0.1;
    s->decay_epochs = set(o->lr_decay_epochs) ? o->lr_decay_epochs : 1;
}

/* What a checkpoint records of the optimizer and schedule (all but the base lr and the
 * step count, which the fingerprint and the state hold). */
static void describe_run(const ct_optim *opt, const ct_lr_schedule *s, const ct_fit_opts *o,
                         char *out, size_t n) {
    char a[256], b[256];
    ct_optim_describe(opt, a, sizeof a);
    ct_sched_describe(s, b, sizeof b);
    int k = snprintf(out, n, "%s; %s", a, b);
    if (k >= 0 && (size_t)k < n && s->kind == CT_SCHED_COSINE)
        k += snprintf(out + k, n - (size_t)k, " epochs=%d", s->epochs);
    if (k >= 0 && (size_t)k < n && o->plateau_factor > 0)
        snprintf(out + k, n - (size_t)k, "; plateau factor=%.12g patience=%d min_lr=%.12g",
                 o->plateau_factor, o->plateau_patience, o->plateau_min_lr);
}

/* Everything one fit owns; freed in one place. */
typedef struct fit_state {
    ct_loader *ltrain, *lval;
    float **best;
    int n_params;
    ct_ckpt_state st;
    int multi; /* data-parallel over rep (o->n_replicas > 0, or MPI ranks) */
    ct_replicas rep;
    ct_dataset vshard; /* MPI: this rank's part of the validation set (borrowed strings) */
} fit_state;

static void fit_state_free(fit_state *f) {
    ct_loader_free(f->ltrain);
    ct_loader_free(f->lval);
    if (f->best) {
        for (int i = 0; i < f->n_params; i++) free(f->best[i]);
        free(f->best);
    }
    ct_history_free(&f->st.hist);
    if (f->multi) ct_replicas_free(&f->rep);
    free(f->vshard.paths);
    free(f->vshard.labels);
}

/* MPI: a stop asked on any rank (a signal, a callback) stops every rank at the same step. */
static int vote_stop(int stop) {
    if (ct_dist_size() <= 1) return stop;
    double v = stop ? 1 : 0;
    if (ct_dist_sum(&v, 1, "the stop vote") != CT_OK) return 1;
    return v > 0;
}

ct_status ct_dataset_rank_part(const ct_dataset *ds, ct_dataset *out) {
    int K = ct_dist_size(), k = ct_dist_rank();
    *out = *ds;
    if (K <= 1) return CT_OK;
    out->n = ds->n / K + (k < ds->n % K);
    out->paths = malloc(((size_t)out->n + 1) * sizeof *out->paths);
    out->labels = malloc(((size_t)out->n + 1) * sizeof *out->labels);
    if (!out->paths || !out->labels) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    for (int i = k, j = 0; i < ds->n; i += K, j++) {
        out->paths[j] = ds->paths[i];
        out->labels[j] = ds->labels[i];
    }
    return CT_OK;
}

/* MPI: rank k of K validates on samples k, k + K, ... (val itself without MPI). */
static ct_status val_shard(fit_state *f, const ct_dataset *val, const ct_dataset **out) {
    *out = val;
    if (ct_dist_size() <= 1 || !val) return CT_OK;
    CT_TRY(ct_dataset_rank_part(val, &f->vshard));
    *out = f->vshard.n > 0 ? &f->vshard : NULL;
    return CT_OK;
}

/* MPI: the validation result of every rank's shard as one (sums in rank order). */
static ct_status val_reduce(ct_eval_result *e) {
    if (ct_dist_size() <= 1) return CT_OK;
    double v[3] = {e->loss * (double)e->n, e->accuracy * (double)e->n, (double)e->n};
    CT_TRY(ct_dist_sum(v, 3, "the validation sums"));
    e->n = (long)v[2];
    e->loss = v[2] > 0 ? v[0] / v[2] : NAN;
    e->accuracy = v[2] > 0 ? v[1] / v[2] : NAN;
    return CT_OK;
}

/* Uploads a batch into the model's input buffers. */
static ct_status upload_batch(ct_runtime *rt, ct_model *m, const ct_batch *b, size_t chw) {
    CT_TRY(ct_upload(rt, ct_model_input(m), 0, (size_t)b->count * chw * sizeof(float), b->x));
    CT_TRY(ct_upload(rt, ct_model_labels(m), 0, (size_t)b->count * sizeof(int32_t), b->y));
    return CT_OK;
}

/* Queues a batch's upload without waiting; *ev completes when both writes are done. */
static ct_status upload_batch_async(ct_runtime *rt, ct_model *m, const ct_batch *b, size_t chw,
                                    cl_event *ev) {
    CL_CHECK(clEnqueueWriteBuffer(rt->q, ct_model_input(m), CL_FALSE, 0,
                                  (size_t)b->count * chw * sizeof(float), b->x, 0, NULL, NULL));
    CL_CHECK(clEnqueueWriteBuffer(rt->q, ct_model_labels(m), CL_FALSE, 0,
                                  (size_t)b->count * sizeof(int32_t), b->y, 0, NULL, ev));
    return CT_OK;
}

/* Waits for a batch's upload (ev, or NULL when the second write was never queued) so its
 * host slot can be reused; on failure waits for the whole queue instead (a write may still be
 * reading the slot) and sets *s unless it holds an error already. */
static void wait_upload(ct_runtime *rt, cl_event ev, ct_status *s) {
    cl_int e = ev ? clWaitForEvents(1, &ev) : clFinish(rt->q);
    if (ev) clReleaseEvent(ev);
    if (e == CL_SUCCESS) return;
    if (ev) clFinish(rt->q);
    if (*s == CT_OK)
        *s = ct_set_error(CT_ERR_CL, "%s (batch upload) failed: %s",
                          ev ? "clWaitForEvents" : "clFinish", ct_cl_error_name(e));
}

static size_t model_chw(const ct_classifier *m) {
    return (size_t)m->meta.c * (size_t)m->meta.h * (size_t)m->meta.w;
}

/* The evaluation loop; with conf (classes x classes, zeroed) it also counts the confusion
 * matrix and, with t > 1, in how many samples the true class is among the t best (*topc),
 * from the top-t class indices brought back per batch (not the probabilities). */
static ct_status eval_loop(ct_classifier *cm, ct_loader *l, ct_eval_result *out, long *conf,
                           int t, long *topc) {
    ct_model *m = cm->m;
    size_t chw = model_chw(cm);
    int k = cm->meta.n_classes, tt = t > 1 ? t : 1;
    int32_t *top = NULL, *lab = NULL;
    if (conf) {
        size_t mb = (size_t)ct_model_max_batch(m);
        top = malloc(mb * (size_t)tt * sizeof *top);
        lab = malloc(mb * sizeof *lab);
        if (!top || !lab) {
            free(top), free(lab);
            return ct_set_error(CT_ERR_MEMORY, "out of host memory");
        }
    }
    ct_status s = ct_model_metrics(m, 1, &out->loss, &out->accuracy, &out->n); /* clear the sums */
    if (s == CT_OK) s = ct_loader_start_epoch(l, 0);
    while (s == CT_OK) {
        ct_batch b;
        if ((s = ct_loader_next(l, &b)) != CT_OK || b.count == 0) break;
        s = upload_batch(cm->rt, m, &b, chw);
        if (conf) memcpy(lab, b.y, (size_t)b.count * sizeof *lab);
        ct_loader_release(l, &b);
        if (s == CT_OK) s = ct_model_eval_step(m, b.count);
        if (s == CT_OK && conf) s = ct_model_topk(m, b.count, tt, top);
        for (int i = 0; s == CT_OK && conf && i < b.count; i++) {
            int y = lab[i], p = top[(size_t)i * tt];
            if (y < 0 || y >= k || p < 0 || p >= k) continue; /* the loss is NaN then */
            conf[(size_t)y * k + p]++;
            for (int r = 0; r < t; r++)
                if (top[(size_t)i * tt + r] == y) (*topc)++;
        }
    }
    free(top), free(lab);
    CT_TRY(s);
    return ct_model_metrics(m, 1, &out->loss, &out->accuracy, &out->n);
}

ct_status ct_evaluate_loader(ct_classifier *cm, ct_loader *l, ct_eval_result *out) {
    return eval_loop(cm, l, out, NULL, 0, NULL);
}

ct_status ct_evaluate_loader_report(ct_classifier *cm, ct_loader *l, ct_eval_result *out,
                                    ct_class_report **rep) {
    if (!cm || !l || !out || !rep)
        return ct_set_error(CT_ERR_ARG, "ct_evaluate_loader_report: NULL argument");
    *rep = NULL;
    int k = cm->meta.n_classes, t = k > 5 ? 5 : 0;
    long *conf = calloc((size_t)k * k, sizeof *conf), topc = 0;
    if (!conf) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    ct_status s = eval_loop(cm, l, out, conf, t, &topc);
    if (s == CT_OK)
        s = ct_class_report_create(k, (const char *const *)cm->meta.class_names, conf, t, topc, rep);
    free(conf);
    return s;
}

ct_status ct_evaluate_report_ranks(ct_classifier *cm, ct_loader *l, ct_eval_result *out,
                                   ct_class_report **rep) {
    if (ct_dist_size() <= 1) return ct_evaluate_loader_report(cm, l, out, rep);
    *rep = NULL;
    int k = cm->meta.n_classes, t = k > 5 ? 5 : 0;
    size_t kk = (size_t)k * (size_t)k;
    long *conf = calloc(kk, sizeof *conf), topc = 0;
    double *sum = malloc((kk + 4) * sizeof *sum);
    ct_eval_result e = {0, 0, 0};
    ct_status s = conf && sum ? CT_OK : ct_set_error(CT_ERR_MEMORY, "out of host memory");
    if (s == CT_OK && l) s = eval_loop(cm, l, &e, conf, t, &topc);
    /* a rank that failed still takes part (its sums as they are), then all fail alike */
    if (sum) {
        for (size_t i = 0; i < kk; i++)
            sum[i] = conf ? (double)conf[i] : 0;
        sum[kk] = e.loss * (double)e.n, sum[kk + 1] = e.accuracy * (double)e.n;
        sum[kk + 2] = (double)e.n, sum[kk + 3] = (double)topc + (s != CT_OK ? 1e18 : 0);
        ct_status rs = ct_dist_sum(sum, kk + 4, "the --test sums");
        if (s == CT_OK) s = rs;
        if (s == CT_OK && sum[kk + 3] >= 1e18)
            s = ct_set_error(CT_ERR_IO, "--test failed on another rank (see its message)");
    }
    if (s == CT_OK) {
        for (size_t i = 0; i < kk; i++)
            conf[i] = (long)sum[i];
        out->n = (long)sum[kk + 2];
        out->loss = out->n > 0 ? sum[kk] / sum[kk + 2] : NAN;
        out->accuracy = out->n > 0 ? sum[kk + 1] / sum[kk + 2] : NAN;
        s = ct_class_report_create(k, (const char *const *)cm->meta.class_names, conf, t,
                                   (long)sum[kk + 3], rep);
    }
    free(conf);
    free(sum);
    return s;
}

/* Appends to buf (size n) the names of a that b lacks, comma separated, "..." when full. */
static void list_missing(char *buf, size_t n, char *const *a, int na, char *const *b, int nb) {
    size_t len = strlen(buf);
    for (int i = 0; i < na; i++) {
        int found = 0;
        for (int j = 0; j < nb && !found; j++) found = !strcmp(a[i], b[j]);
        if (found) continue;
        int w = snprintf(buf + len, n - len, "%s'%s'", len ? ", " : "", a[i]);
        if (w < 0 || (size_t)w >= n - len) {
            if (n > 4) snprintf(buf + (len < n - 4 ? len : n - 4), 4, "...");
            return;
        }
        len += (size_t)w;
    }
}

ct_status ct_classifier_check_classes(const ct_classifier *m, const ct_dataset *ds, const char *what) {
    const ct_model_meta *meta = &m->meta;
    int same = meta->n_classes == ds->n_classes;
    for (int i = 0; same && i < ds->n_classes; i++)
        same = !strcmp(meta->class_names[i], ds->class_names[i]);
    if (same) return CT_OK;
    char only_model[512] = "", only_ds[512] = "";
    list_missing(only_model, sizeof only_model, meta->class_names, meta->n_classes,
                 ds->class_names, ds->n_classes);
    list_missing(only_ds, sizeof only_ds, ds->class_names, ds->n_classes, meta->class_names,
                 meta->n_classes);
    const char *src = m->path ? m->path : "the model";
    if (!*only_model && !*only_ds)
        return ct_set_error(CT_ERR_ARG, "the %s folder's classes are those of %s but in another "
                            "order; give a folder with the same class sub-folders", what, src);
    return ct_set_error(CT_ERR_ARG,
                        "the %s folder has %d class folders and %s has %d classes; %s%s%s%s%s%s; "
                        "give a folder with the same class sub-folders",
                        what, ds->n_classes, src, meta->n_classes,
                        *only_model ? "missing from the folder: " : "", only_model,
                        *only_model && *only_ds ? "; " : "",
                        *only_ds ? "folders that are no class of the model: " : "", only_ds, "");
}

ct_status ct_evaluate(ct_classifier *m, const ct_dataset *ds, int batch, int workers,
                      ct_eval_result *out) {
    return ct_evaluate_report(m, ds, batch, workers, out, NULL);
}

ct_status ct_evaluate_report(ct_classifier *m, const ct_dataset *ds, int batch, int workers,
                             ct_eval_result *out, ct_class_report **rep) {
    if (!m || !ds || !out) return ct_set_error(CT_ERR_ARG, "ct_evaluate: NULL argument");
    if (batch <= 0 || batch > ct_model_max_batch(m->m))
        return ct_set_error(CT_ERR_ARG, "ct_evaluate: batch %d must be 1..%d (the model's max_batch)",
                            batch, ct_model_max_batch(m->m));
    CT_TRY(ct_classifier_check_classes(m, ds, "evaluation"));
    ct_loader_config c;
    ct_loader_config_default(&c);
    c.batch = batch;
    c.h = m->meta.h;
    c.w = m->meta.w;
    c.c = m->meta.c;
    c.resize = m->meta.resize;
    c.pre = m->meta.pre;
    c.workers = workers;
    c.cache_mb = 0;
    ct_loader *l;
    CT_TRY(ct_loader_open(ds, &c, &l));
    ct_status s = rep ? ct_evaluate_loader_report(m, l, out, rep) : ct_evaluate_loader(m, l, out);
    ct_loader_free(l);
    return s;
}

static int is_finite2(double a, double b) { return isfinite(a) && isfinite(b); }

/* The data a run trains and validates on: every file's path, class and size. A resumed run
 * whose folders now hold other files (even as many) is refused. */
static uint64_t data_hash(const ct_dataset *ds, uint64_t h) {
    for (int i = 0; ds && i < ds->n; i++) {
        struct stat sb;
        long long size = stat(ds->paths[i], &sb) == 0 ? (long long)sb.st_size : -1;
        h = ct_hash64(ds->paths[i], strlen(ds->paths[i]), h);
        h = ct_hash64(&size, sizeof size, h);
        h = ct_hash64(&ds->labels[i], sizeof ds->labels[i], h);
    }
    return h;
}

static void fingerprint(const ct_fit_opts *o, const ct_optim *opt, const ct_classifier *cm,
                        const ct_dataset *train, const ct_dataset *val, const char *cw, char *out,
                        size_t n) {
    /* Sized to fit (a spec has any length); the same bytes as ever, so checkpoints written
     * before stay resumable. */
    const char *fmt = "%s|%dx%dx%d|resize%d|b%d|lr%.17g|%.17g|%.17g|%.17g|%s|seed%llu|n%d|%d|"
                      "data%016llx";
    unsigned long long dh = (unsigned long long)data_hash(val, data_hash(train, 7));
#define FP_ARGS                                                                                \
    ct_model_spec(cm->m), cm->meta.h, cm->meta.w, cm->meta.c, (int)cm->meta.resize, o->batch, \
        opt->lr, opt->beta1, opt->beta2, opt->eps, o->augment, (unsigned long long)o->seed,    \
        train->n, o->steps_per_epoch, dh
    int len = snprintf(NULL, 0, fmt, FP_ARGS);
    char *buf = len >= 0 ? malloc((size_t)len + 1) : NULL;
    uint64_t h = 0;
    if (buf) {
        snprintf(buf, (size_t)len + 1, fmt, FP_ARGS);
        h = ct_hash64(buf, (size_t)len, 3);
        free(buf);
    }
#undef FP_ARGS
    /* preprocessing other than the default joins the hash (older checkpoints had none) */
    const ct_preprocess *p = &cm->meta.pre;
    if (p->rescale != 1.0f / 255.0f || p->samplewise_center || p->samplewise_std_normalization ||
        ct_preprocess_featurewise(p)) {
        char pre[96];
        int pl = snprintf(pre, sizeof pre, "pre|%.9g|%d%d%d%d", (double)p->rescale,
                          p->samplewise_center, p->samplewise_std_normalization,
                          p->featurewise_center, p->featurewise_std_normalization);
        h = ct_hash64(pre, (size_t)pl, h);
    }
    /* class weights join it when given (older checkpoints had none) */
    if (cw && *cw) h = ct_hash64(cw, strlen(cw), ct_hash64("class_weight", 12, h));
    snprintf(out, n, "%016llx", (unsigned long long)h);
}

ct_status ct_fit_resume_prepare(ct_runtime *rt, const char *checkpoint_dir) {
    if (!checkpoint_dir) return ct_set_error(CT_ERR_ARG, "--resume needs --checkpoint-dir DIR");
    char ckpt[4096];
    if (strlen(checkpoint_dir) > sizeof ckpt - 32)
        return ct_set_error(CT_ERR_ARG, "--checkpoint-dir: the path has %zu characters, more than "
                            "the %zu allowed; choose a shorter one", strlen(checkpoint_dir),
                            sizeof ckpt - 32);
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", checkpoint_dir);
    struct stat sb;
    if (stat(ckpt, &sb) != 0) return CT_OK; /* nothing to resume yet: ct_fit says so */
    return ct_checkpoint_pin_variants(rt, ckpt);
}

static ct_status make_loader(const ct_fit_opts *o, const ct_classifier *m, const ct_dataset *ds,
                             int train, ct_loader **out) {
    ct_loader_config c;
    ct_loader_config_default(&c);
    c.batch = o->batch;
    c.h = m->meta.h;
    c.w = m->meta.w;
    c.c = m->meta.c;
    c.resize = m->meta.resize;
    c.pre = m->meta.pre;
    c.augment = train ? o->augment : "none";
    c.shuffle = train;
    c.seed = o->seed;
    c.workers = o->workers;
    c.cache_mb = o->cache_mb;
    c.quiet = o->quiet;
    return ct_loader_open(ds, &c, out);
}

static ct_status copy_params(ct_model *m, float **dst) {
    for (int i = 0; i < ct_model_n_tensors(m); i++) CT_TRY(ct_model_get_tensor(m, i, dst[i]));
    return CT_OK;
}

/* Records the outcome of one write of an output file; returns 1 when it was written. */
static int write_output(ct_status s, const char *what, unsigned bit, ct_fit_result *r) {
    if (s == CT_OK) {
        r->failed &= ~bit;
        return 1;
    }
    ct_log(CT_LOG_WARN, "%s not written (training goes on): %s", what, ct_last_error());
    r->failed |= bit;
    return 0;
}

/* --class-weight: resolved against the training classes (before any image is read), put on
 * the training loss of the model and of every replica (models[0 .. n_models - 1]), and
 * described into desc ("" without) for the checkpoint. */
static ct_status set_class_weights(ct_classifier *cm, ct_model *const *models, int n_models,
                                   const ct_dataset *train, const char *spec, char *desc, size_t n) {
    desc[0] = 0;
    if (!spec || !*spec) {
        for (int i = 0; i < n_models; i++) CT_TRY(ct_model_set_class_weights(models[i], NULL));
        return CT_OK;
    }
    int k = cm->meta.n_classes;
    float *w = malloc((size_t)k * sizeof *w);
    if (!w) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    ct_status s = ct_class_weights(spec, train, w);
    size_t len = 0;
    for (int c = 0; s == CT_OK && c < k && len < n; c++) {
        int wr = snprintf(desc + len, n - len, "%s%s:%.9g", c ? "," : "", cm->meta.class_names[c],
                          (double)w[c]);
        len = wr < 0 ? n : len + (size_t)wr;
    }
    for (int i = 0; s == CT_OK && i < n_models; i++) s = ct_model_set_class_weights(models[i], w);
    free(w);
    return s;
}

/* A loss that is no number stops the run: the error says where and which checkpoint is kept. */
static ct_status not_finite(double loss, int epoch, int step, const char *ckpt, int ckpt_epoch) {
    char kept[4200] = "";
    if (*ckpt && ckpt_epoch > 0)
        snprintf(kept, sizeof kept, " The last good checkpoint (end of epoch %d) in %s is kept.",
                 ckpt_epoch, ckpt);
    return ct_set_error(CT_ERR_NUMERIC, "the loss became %s at epoch %d, step %d; training "
                        "stopped.%s Try a lower --lr", isnan(loss) ? "NaN" : "Inf", epoch, step,
                        kept);
}

/* One epoch's steps over the replicas (f->multi), one at a time: each step is summed over
 * the replicas before the next can start, so nothing is queued ahead. lr0: the base rate
 * (the plateau's when on). *queued: steps done. */
static ct_status replicas_epoch(fit_state *f, const ct_fit_opts *o, ct_optim *opt,
                                const ct_lr_schedule *sched, double lr0, int epoch, int steps,
                                size_t chw, const char *ckpt, ct_fit_result *r, double *epoch_lr,
                                long *imgs, int *queued) {
    ct_step_info si = {epoch + 1, o->epochs, 0, steps, 0, 0};
    for (int step = 0; step < steps && !r->stopped; step++) {
        ct_batch b;
        CT_TRY(ct_loader_next(f->ltrain, &b));
        if (b.count == 0) break;
        opt->lr = ct_lr_at(sched, lr0, f->st.step);
        if (isnan(*epoch_lr)) *epoch_lr = opt->lr;
        int total, row0; /* sharded under MPI: this rank's rows of the global batch */
        ct_loader_batch_rows(f->ltrain, &b, &total, &row0);
        ct_status s = ct_replicas_step(&f->rep, &b, total, row0, chw, opt, o->seed, f->st.step);
        ct_loader_release(f->ltrain, &b);
        CT_TRY(s);
        f->st.step++;
        *imgs += total;
        *queued = step + 1;
        double loss, acc;
        CT_TRY(ct_replicas_metrics(&f->rep, 0, &loss, &acc, NULL));
        if (!is_finite2(loss, acc)) return not_finite(loss, epoch + 1, step + 1, ckpt,
                                                      r->checkpoint_epoch);
        si.step = step + 1;
        si.loss = loss;
        si.accuracy = acc;
        if (vote_stop(o->on_step && o->on_step(o->user, &si))) r->stopped = 1;
    }
    return CT_OK;
}

static ct_status fit_run(ct_classifier *cm, const ct_dataset *train, const ct_dataset *val,
                         const ct_fit_opts *o, fit_state *f, ct_fit_result *r) {
    ct_runtime *rt = cm->rt;
    ct_model *m = cm->m;
    int has_val = val != NULL;
    f->multi = (o->n_replicas > 0 && o->replicas) || ct_dist_size() > 1;
    if (f->multi) CT_TRY(ct_replicas_open(&f->rep, cm, o->replicas, o->n_replicas, o->batch));
    if (f->multi) f->rep.sync_bn = o->sync_bn != 0;
    else if (o->batch <= 0 || o->batch > ct_model_max_batch(m))
        return ct_set_error(CT_ERR_ARG, "--batch-size %d: the model was made for batches of 1 to %d",
                            o->batch, ct_model_max_batch(m));
    if (o->epochs <= 0) return ct_set_error(CT_ERR_ARG, "--epochs %d must be at least 1", o->epochs);
#ifdef CT_RT_DETERMINISTIC
    if (o->deterministic && !(rt->flags & CT_RT_DETERMINISTIC))
        return ct_set_error(CT_ERR_ARG, "deterministic training needs a runtime created with "
                            "CT_RT_DETERMINISTIC");
#endif
    CT_TRY(ct_fit_opts_check(o));
    CT_TRY(ct_classifier_check_classes(cm, train, "training"));
    if (has_val) CT_TRY(ct_classifier_check_classes(cm, val, "validation"));
    CT_TRY(set_class_weights(cm, f->multi ? f->rep.ms : &m, f->multi ? f->rep.n : 1, train,
                             o->class_weight, f->st.class_weight, sizeof f->st.class_weight));
    ct_optim opt;
    resolve_optim(o, &opt);
    const double base_lr = opt.lr;

    f->n_params = ct_model_n_tensors(m); /* best weights: batchnorm statistics included */
    f->best = calloc((size_t)f->n_params, sizeof *f->best);
    if (!f->best) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    for (int i = 0; i < f->n_params; i++)
        if (!(f->best[i] = malloc(ct_model_tensor(m, i)->n * sizeof(float))))
            return ct_set_error(CT_ERR_MEMORY, "out of host memory");

    if (ct_preprocess_featurewise(&cm->meta.pre) && cm->meta.pre.n_stats == 0) {
        /* Keras's ImageDataGenerator.fit, once, before the first epoch (a resumed run
         * computes the same numbers again: the fingerprint pins the data files) */
        ct_loader_opts so = {.batch = o->batch, .h = cm->meta.h, .w = cm->meta.w,
                             .c = cm->meta.c, .resize = cm->meta.resize, .workers = o->workers,
                             .cache_mb = o->cache_mb, .quiet = 1};
        CT_TRY(ct_preprocess_fit(train, &so, &cm->meta.pre));
        char d[256];
        ct_preprocess_describe(&cm->meta.pre, d, sizeof d);
        ct_log(CT_LOG_INFO, "Featurewise statistics of the %d training images: %s", train->n, d);
    }
    CT_TRY(make_loader(o, cm, train, 1, &f->ltrain));
    if (f->multi && f->rep.ranks > 1) /* MPI: this rank makes only its replicas' rows */
        ct_loader_set_shard(f->ltrain, f->rep.n_all, f->rep.rank * f->rep.n, f->rep.n);
    ct_fit_opts vo = *o; /* replicas hold their share: validation in batches the model holds */
    if (vo.batch > ct_model_max_batch(m)) vo.batch = ct_model_max_batch(m);
    const ct_dataset *vmine = val; /* under MPI: this rank's shard (NULL: none) */
    CT_TRY(val_shard(f, val, &vmine));
    if (has_val && vmine) CT_TRY(make_loader(&vo, cm, vmine, 0, &f->lval));

    /* monitor */
    const char *monitor = o->monitor ? o->monitor : (has_val ? "val_loss" : "loss");
    if (!strncmp(monitor, "val_", 4) && !has_val)
        return ct_set_error(CT_ERR_ARG, "--monitor %s needs validation data (--validation DIR or "
                            "--validation-split F); use --monitor loss", monitor);
    int mon_col = !strcmp(monitor, "loss") ? 0 : !strcmp(monitor, "accuracy") ? 1
                : !strcmp(monitor, "val_loss") ? 2 : !strcmp(monitor, "val_accuracy") ? 3 : -1;
    if (mon_col < 0)
        return ct_set_error(CT_ERR_ARG, "--monitor %s: expected loss, accuracy, val_loss or "
                            "val_accuracy", monitor);
    int maximize = (mon_col == 1 || mon_col == 3);

    /* the learning rate of each step: schedule, then ReduceLROnPlateau (Keras defaults) */
    int steps = ct_loader_batches(f->ltrain);
    if (o->steps_per_epoch > 0 && o->steps_per_epoch < steps) steps = o->steps_per_epoch;
    ct_lr_schedule sched;
    resolve_schedule(o, base_lr, steps, &sched);
    int use_plateau = o->plateau_factor > 0;
    ct_plateau plat = {o->plateau_factor, o->plateau_min_lr, 1e-4, o->plateau_patience, maximize,
                       base_lr, maximize ? -INFINITY : INFINITY, 0};

    /* checkpoints */
    char ckpt[4096] = "";
    char fp[64];
    fingerprint(o, &opt, cm, train, val, f->st.class_weight, fp, sizeof fp);
    f->st.best = maximize ? -INFINITY : INFINITY;
    f->st.best_epoch = -1;
    snprintf(f->st.fingerprint, sizeof f->st.fingerprint, "%s", fp);
    describe_run(&opt, &sched, o, f->st.optim, sizeof f->st.optim);
    if (o->checkpoint_dir) {
        if (strlen(o->checkpoint_dir) > sizeof ckpt - 32)
            return ct_set_error(CT_ERR_ARG, "--checkpoint-dir: the path has %zu characters, more "
                                "than the %zu allowed; choose a shorter one",
                                strlen(o->checkpoint_dir), sizeof ckpt - 32);
        ct_status ms = ct_mkdir_p(o->checkpoint_dir);
        if (ms != CT_OK) return ct_error_prefix(ms, "--checkpoint-dir %s: ", o->checkpoint_dir);
        snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", o->checkpoint_dir);
    }
    if (o->resume) {
        if (!*ckpt) return ct_set_error(CT_ERR_ARG, "--resume needs --checkpoint-dir DIR");
        struct stat sb;
        if (stat(ckpt, &sb) != 0) {
            ct_log(CT_LOG_INFO, "No checkpoint in %s yet: starting from epoch 1.", o->checkpoint_dir);
        } else {
            ct_ckpt_state st;
            memset(&st, 0, sizeof st);
            CT_TRY(ct_checkpoint_load(m, ckpt, &st, f->best));
            /* older checkpoints did not record it: they ran Adam at a constant rate */
            const char *was = st.optim[0] ? st.optim : NULL;
            char adam_const[512];
            if (!was) {
                ct_optim a;
                ct_lr_schedule c = sched;
                ct_optim_defaults(CT_OPTIM_ADAM, &a);
                a.beta1 = opt.beta1;
                a.beta2 = opt.beta2;
                a.eps = opt.eps;
                c.kind = CT_SCHED_CONSTANT;
                c.warmup_epochs = 0;
                ct_fit_opts plain = *o;
                plain.plateau_factor = 0;
                describe_run(&a, &c, &plain, adam_const, sizeof adam_const);
                was = adam_const;
            }
            if (strcmp(was, f->st.optim)) {
                ct_history_free(&st.hist);
                return ct_set_error(CT_ERR_ARG,
                                    "%s was written by a run with another optimizer or learning-"
                                    "rate schedule (%s); this run asks for %s. Its optimizer "
                                    "slots and step count belong to that one: resume with the "
                                    "same --optimizer, its options and the same schedule options "
                                    "(--epochs too with cosine), or use another --checkpoint-dir",
                                    ckpt, was, f->st.optim);
            }
            if (strcmp(st.class_weight, f->st.class_weight)) {
                ct_history_free(&st.hist);
                return ct_set_error(CT_ERR_ARG, "%s was written by a run with other class weights "
                                    "(--class-weight: %s); this run asks for %s. Resume with the "
                                    "same --class-weight, or use another --checkpoint-dir", ckpt,
                                    st.class_weight[0] ? st.class_weight : "none",
                                    f->st.class_weight[0] ? f->st.class_weight : "none");
            }
            if (strcmp(st.fingerprint, fp)) {
                ct_history_free(&st.hist);
                return ct_set_error(CT_ERR_ARG,
                                    "%s was written by a run with other settings (model, input, "
                                    "resize, batch, lr, augmentation, preprocessing, seed or the data "
                                    "files differ); resume with the "
                                    "same options, or use another --checkpoint-dir",
                                    ckpt);
            }
            ct_history_free(&f->st.hist);
            char now[sizeof f->st.optim];
            memcpy(now, f->st.optim, sizeof now);
            f->st = st;
            memcpy(f->st.optim, now, sizeof now); /* an older checkpoint's "" is replaced */
            if (use_plateau && st.has_plateau) {
                plat.lr = st.plateau_lr;
                plat.wait = st.plateau_wait;
                plat.best = isnan(st.plateau_best) ? (maximize ? -INFINITY : INFINITY)
                                                   : st.plateau_best;
            }
            r->checkpoint_epoch = st.epochs_done;
            ct_log(CT_LOG_INFO, "Resumed from %s after epoch %d (step %ld).", ckpt, st.epochs_done,
                   st.step);
        }
    }

    if (f->multi) {
        CT_TRY(ct_replicas_broadcast(&f->rep)); /* the model's (resumed) state on every replica */
        char split[256] = "", over[96] = "";
        int *sh = f->rep.share_all;
        for (int i = 0, k = 0; i < f->rep.n_all && k >= 0 && (size_t)k < sizeof split; i++)
            k += snprintf(split + k, sizeof split - (size_t)k, "%s%d", i ? " + " : "", sh[i]);
        if (f->rep.ranks > 1)
            snprintf(over, sizeof over, "%d replicas (%d MPI ranks x %d device%s)", f->rep.n_all,
                     f->rep.ranks, f->rep.n, f->rep.n > 1 ? "s" : "");
        else
            snprintf(over, sizeof over, "%d devices", f->rep.n);
        ct_log(CT_LOG_INFO, "Data-parallel over %s: the global batch of %d is split %s "
               "(evenly, the remainder to the first devices); gradients summed in device "
               "order%s%s.",
               over, o->batch, split, f->rep.ranks > 1 ? ", then in rank order" : "",
               o->sync_bn ? "; batchnorm statistics over the global batch (--sync-bn)" : "");
    }
    size_t chw = model_chw(cm);
    double wait_data = 0, fit_t0 = ct_now();
    long imgs = 0;
    for (int epoch = f->st.epochs_done; epoch < o->epochs; epoch++) {
        double t0 = ct_now();
        double w0 = ct_loader_wait_seconds(f->ltrain);
        CT_TRY(ct_loader_start_epoch(f->ltrain, epoch));
        ct_step_info si = {epoch + 1, o->epochs, 0, steps, 0, 0};
        if (vote_stop(o->on_step && o->on_step(o->user, &si))) {
            r->stopped = 1;
            r->stop_epoch = epoch + 1;
            r->stop_step = 0;
            /* a signal between epochs (during the checkpoint or validation) is an interrupt
             * too: the saved model must say so, as it does for one mid-epoch */
            snprintf(cm->meta.interrupted, sizeof cm->meta.interrupted, "epoch %d step 0",
                     epoch + 1);
            break;
        }
        double loss = 0, acc = 0, epoch_lr = NAN;
        long cnt = 0;
        CT_TRY(f->multi ? ct_replicas_metrics(&f->rep, 1, &loss, &acc, &cnt)
                        : ct_model_metrics(m, 1, &loss, &acc, &cnt));
        /* One step ahead: step k is queued before step k-1's loss is checked, and a batch's
         * upload is queued behind the running step, so the device does not wait on the host. */
        float snap[2][4];
        long snap_n[2];
        cl_event snap_ev[2] = {NULL, NULL};
        ct_status s = CT_OK;
        int queued = 0, ended = 0; /* steps queued this epoch; the loader ran dry */
        if (f->multi)
            s = replicas_epoch(f, o, &opt, &sched, use_plateau ? plat.lr : base_lr, epoch, steps,
                               chw, ckpt, r, &epoch_lr, &imgs, &queued);
        for (int step = 0; !f->multi && s == CT_OK && step <= steps && !r->stopped; step++) {
            if (step < steps && !ended) {
                ct_batch b;
                if ((s = ct_loader_next(f->ltrain, &b)) != CT_OK) break;
                if (b.count == 0) ended = 1;
                else {
                    cl_event up = NULL;
                    s = upload_batch_async(rt, m, &b, chw, &up);
                    opt.lr = ct_lr_at(&sched, use_plateau ? plat.lr : base_lr, f->st.step);
                    if (isnan(epoch_lr)) epoch_lr = opt.lr;
                    if (s == CT_OK) s = ct_model_train_step(m, b.count, &opt, o->seed, f->st.step);
                    if (s == CT_OK)
                        s = ct_model_metrics_snapshot(m, snap[step & 1], &snap_n[step & 1],
                                                      &snap_ev[step & 1]);
                    /* the slot is host memory the writes read: keep it until they are done */
                    wait_upload(rt, up, &s);
                    ct_loader_release(f->ltrain, &b);
                    if (s != CT_OK) break;
                    f->st.step++;
                    imgs += b.count;
                    queued = step + 1;
                }
            }
            int prev = step - 1; /* check the step before this one */
            if (prev < 0 || prev >= queued || !snap_ev[prev & 1]) {
                if (step >= queued) break; /* nothing more queued: epoch over */
                continue;
            }
            cl_int we = clWaitForEvents(1, &snap_ev[prev & 1]);
            clReleaseEvent(snap_ev[prev & 1]);
            snap_ev[prev & 1] = NULL;
            if (we != CL_SUCCESS) { /* snap was not filled: do not read it as a loss */
                s = ct_set_error(CT_ERR_CL, "clWaitForEvents(loss snapshot, step %d) failed: %s",
                                 prev + 1, ct_cl_error_name(we));
                break;
            }
            ct_model_metrics_decode(snap[prev & 1], snap_n[prev & 1], &loss, &acc);
            if (!is_finite2(loss, acc)) {
                s = not_finite(loss, epoch + 1, prev + 1, ckpt, r->checkpoint_epoch);
            } else if (o->on_step) {
                si.step = prev + 1;
                si.loss = loss;
                si.accuracy = acc;
                if (o->on_step(o->user, &si)) r->stopped = 1;
            }
        }
        /* Never leave a read pending into snap (stack memory) on any path. */
        cl_int fe = clFinish(rt->q);
        for (int i = 0; i < 2; i++)
            if (snap_ev[i]) {
                if (fe != CL_SUCCESS) clWaitForEvents(1, &snap_ev[i]);
                clReleaseEvent(snap_ev[i]);
            }
        if (fe != CL_SUCCESS && s == CT_OK)
            s = ct_set_error(CT_ERR_CL, "clFinish at the end of epoch %d failed: %s", epoch + 1,
                             ct_cl_error_name(fe));
        CT_TRY(s);
        /* Drain the rest of a cut-short epoch so the producer is idle. */
        for (;;) {
            ct_batch b;
            CT_TRY(ct_loader_next(f->ltrain, &b));
            if (b.count == 0) break;
            ct_loader_release(f->ltrain, &b);
        }
        if (r->stopped) { /* a callback stopped mid-epoch: the epoch does not count */
            r->stop_epoch = epoch + 1;
            r->stop_step = queued; /* every queued step ran (clFinish above) */
            snprintf(cm->meta.interrupted, sizeof cm->meta.interrupted, "epoch %d step %d",
                     epoch + 1, queued);
            break;
        }
        CT_TRY(f->multi ? ct_replicas_metrics(&f->rep, 1, &loss, &acc, &cnt)
                        : ct_model_metrics(m, 1, &loss, &acc, &cnt));
        if (f->multi) {
            uint64_t h;
            CT_TRY(ct_replicas_check(&f->rep, epoch + 1, &h));
            ct_log(CT_LOG_INFO, "Epoch %d: parameters of the %d replicas identical, hash %016llx",
                   epoch + 1, f->rep.n_all, (unsigned long long)h);
        }
        double vl = NAN, va = NAN;
        if (has_val) {
            ct_eval_result ve = {0, 0, 0};
            if (f->lval) CT_TRY(ct_evaluate_loader(cm, f->lval, &ve));
            CT_TRY(val_reduce(&ve));
            vl = ve.loss;
            va = ve.accuracy;
        }
        double secs = ct_now() - t0;
        wait_data += ct_loader_wait_seconds(f->ltrain) - w0;
        ct_epoch_stats es = {epoch + 1, loss, acc, vl, va, secs, has_val, epoch_lr};
        CT_TRY(ct_history_append(&f->st.hist, &es));
        /* A file that cannot be written is a warning: training and the other files go on,
         * and the result says which files' last write failed. */
        int writer = ct_dist_rank() == 0; /* MPI: rank 0 writes every file */
        if (o->history && writer)
            write_output(ct_history_write_csv(&f->st.hist, o->history), "history",
                         CT_FIT_FAILED_HISTORY, r);
        if (o->plot && writer) write_output(ct_history_write_plot(&f->st.hist, o->plot), "plot",
                                  CT_FIT_FAILED_PLOT, r);
        ct_epoch_info ei = {epoch + 1, o->epochs, loss, acc, has_val, vl, va, secs};
        int stop = vote_stop(o->on_epoch && o->on_epoch(o->user, &ei));

        /* early stopping (Keras: improvement must beat best by more than min_delta) */
        double cur = mon_col == 0 ? loss : mon_col == 1 ? acc : mon_col == 2 ? vl : va;
        int better = maximize ? cur > f->st.best + o->min_delta : cur < f->st.best - o->min_delta;
        if (better || f->st.best_epoch < 0) {
            f->st.best = cur;
            f->st.best_epoch = epoch + 1;
            f->st.wait = 0;
            if (o->restore_best && o->patience > 0) {
                CT_TRY(copy_params(m, f->best));
                f->st.has_best = 1;
            }
        } else {
            f->st.wait++;
        }
        if (use_plateau && ct_plateau_update(&plat, cur))
            ct_log(CT_LOG_INFO, "Epoch %d: ReduceLROnPlateau reducing learning rate to %g.",
                   epoch + 1, plat.lr);
        f->st.has_plateau = use_plateau;
        f->st.plateau_lr = plat.lr;
        f->st.plateau_best = plat.best;
        f->st.plateau_wait = plat.wait;
        f->st.epochs_done = epoch + 1;
        if (*ckpt && !writer) r->checkpoint_epoch = f->st.epochs_done; /* rank 0 writes it */
        if (*ckpt && writer &&
            write_output(ct_checkpoint_save(m, &cm->meta, &f->st, f->st.has_best ? f->best : NULL,
                                            ckpt), "checkpoint", CT_FIT_FAILED_CHECKPOINT, r))
            r->checkpoint_epoch = f->st.epochs_done;
        if (o->patience > 0 && f->st.wait >= o->patience) {
            ct_log(CT_LOG_INFO,
                   "Epoch %d: early stopping (%s did not improve for %d epochs; best %.4f at epoch %d)",
                   epoch + 1, monitor, o->patience, f->st.best, f->st.best_epoch);
            r->stopped_early = 1;
            break;
        }
        if (stop) {
            r->stopped = 1;
            r->stop_epoch = epoch + 1;
            r->stop_step = steps;
            if (epoch + 1 < o->epochs)
                snprintf(cm->meta.interrupted, sizeof cm->meta.interrupted, "epoch %d step %d",
                         epoch + 1, steps);
            break;
        }
    }
    r->seconds = ct_now() - fit_t0;
    if (f->multi && f->rep.reduces > 0)
        ct_log(CT_LOG_INFO, "Gradient sum over %d device%s: %.2f ms per step (%ld steps, %.2f MB "
               "of gradients per device each way, %.1f%% of the training time).", f->rep.n,
               f->rep.n > 1 ? "s" : "",
               1e3 * f->rep.reduce_s / (double)f->rep.reduces, f->rep.reduces,
               (double)f->rep.floats * sizeof(float) / 1e6,
               r->seconds > 0 ? 100.0 * f->rep.reduce_s / r->seconds : 0.0);
    if (f->multi && f->rep.reduces > 0 && f->rep.ranks > 1)
        ct_log(CT_LOG_INFO, "MPI gradient sum over %d ranks: %.2f ms per step of it (MPI_Allgather "
               "of the double slabs, summed in rank order), %.2f MB sent per step by each rank.",
               f->rep.ranks, 1e3 * f->rep.mpi_s / (double)f->rep.reduces,
               f->rep.mpi_bytes / (double)f->rep.reduces / 1e6);
    r->images = imgs;
    r->wait_fraction = r->seconds > 0 ? wait_data / r->seconds : 0.0;
    r->epochs_done = f->st.epochs_done;
    r->best_epoch = f->st.best_epoch > 0 ? f->st.best_epoch : 0;
    r->best = f->st.best;
    if (o->restore_best && f->st.has_best && f->st.best_epoch != f->st.epochs_done) {
        ct_log(CT_LOG_INFO, "Restoring model weights from the end of the best epoch: %d.",
               f->st.best_epoch);
        for (int i = 0; i < f->n_params; i++) CT_TRY(ct_model_set_tensor(m, i, f->best[i]));
        r->restored_best = 1;
    }
    return CT_OK;
}

ct_status ct_fit(ct_classifier *m, const ct_dataset *train, const ct_dataset *val,
                 const ct_fit_opts *o, ct_fit_result *result) {
    if (!m || !train || !o) return ct_set_error(CT_ERR_ARG, "ct_fit: NULL model, dataset or options");
    ct_fit_result r;
    memset(&r, 0, sizeof r);
    fit_state f;
    memset(&f, 0, sizeof f);
    m->meta.interrupted[0] = 0;
    ct_status s = fit_run(m, train, val, o, &f, &r);
    fit_state_free(&f);
    if (result) *result = r;
    return s;
}
