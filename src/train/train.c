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

void ct_fit_opts_default(ct_fit_opts *o) {
    memset(o, 0, sizeof *o);
    o->model = "model2";
    o->h = o->w = 112;
    o->c = 3;
    o->resize = CT_RESIZE_NEAREST;
    o->epochs = 10;
    o->batch = 64;
    o->adam = (ct_adam){1e-3f, 0.9f, 0.999f, 1e-7f};
    o->augment = "none";
    o->seed = 1;
    o->restore_best = 1;
    o->cache_mb = 2048;
}

/* Everything one fit owns; freed in one place. */
typedef struct fit_state {
    ct_runtime *rt;
    ct_dataset train, val, test;
    int has_val, has_test;
    ct_model *model;
    ct_model_meta meta;
    ct_loader *ltrain, *lval;
    float **best;
    int n_params;
    ct_ckpt_state st;
} fit_state;

static void fit_state_free(fit_state *f) {
    ct_loader_free(f->ltrain);
    ct_loader_free(f->lval);
    if (f->best) {
        for (int i = 0; i < f->n_params; i++) free(f->best[i]);
        free(f->best);
    }
    ct_model_free(f->model);
    ct_model_meta_free(&f->meta);
    ct_dataset_free(&f->train);
    if (f->has_val) ct_dataset_free(&f->val);
    if (f->has_test) ct_dataset_free(&f->test);
    ct_history_free(&f->st.hist);
    ct_runtime_free(f->rt);
}

/* Uploads a batch into the model's input buffers. */
static ct_status upload_batch(ct_runtime *rt, ct_model *m, const ct_batch *b, int chw) {
    CT_TRY(ct_upload(rt, ct_model_input(m), 0, (size_t)b->count * (size_t)chw * sizeof(float), b->x));
    CT_TRY(ct_upload(rt, ct_model_labels(m), 0, (size_t)b->count * sizeof(int32_t), b->y));
    return CT_OK;
}

/* Queues a batch's upload without waiting; *ev completes when both writes are done. */
static ct_status upload_batch_async(ct_runtime *rt, ct_model *m, const ct_batch *b, int chw,
                                    cl_event *ev) {
    CL_CHECK(clEnqueueWriteBuffer(rt->q, ct_model_input(m), CL_FALSE, 0,
                                  (size_t)b->count * (size_t)chw * sizeof(float), b->x, 0, NULL, NULL));
    CL_CHECK(clEnqueueWriteBuffer(rt->q, ct_model_labels(m), CL_FALSE, 0,
                                  (size_t)b->count * sizeof(int32_t), b->y, 0, NULL, ev));
    return CT_OK;
}

/* Runs the model over a whole dataset without training. */
static ct_status evaluate_loader(ct_runtime *rt, ct_model *m, ct_loader *l, int chw,
                                 double *loss, double *acc, long *n) {
    CT_TRY(ct_model_metrics(m, 1, loss, acc, n)); /* clear the sums */
    CT_TRY(ct_loader_start_epoch(l, 0));
    for (;;) {
        ct_batch b;
        CT_TRY(ct_loader_next(l, &b));
        if (b.count == 0) break;
        ct_status s = upload_batch(rt, m, &b, chw);
        ct_loader_release(l, &b);
        CT_TRY(s);
        CT_TRY(ct_model_eval_step(m, b.count));
    }
    return ct_model_metrics(m, 1, loss, acc, n);
}

static int is_finite2(double a, double b) { return isfinite(a) && isfinite(b); }

static ct_status check_same_classes(const ct_dataset *a, const ct_dataset *b, const char *what) {
    int same = a->n_classes == b->n_classes;
    for (int i = 0; same && i < a->n_classes; i++) same = !strcmp(a->class_names[i], b->class_names[i]);
    if (!same)
        return ct_set_error(CT_ERR_ARG,
                            "the %s set's class folders differ from the training set's (%d vs %d "
                            "classes, first: '%s' vs '%s'); use the same class sub-folders",
                            what, b->n_classes, a->n_classes, b->n_classes ? b->class_names[0] : "",
                            a->n_classes ? a->class_names[0] : "");
    return CT_OK;
}

static void fingerprint(const ct_fit_opts *o, const ct_model *m, long n_train, char *out, size_t n) {
    char buf[4096];
    int len = snprintf(buf, sizeof buf, "%s|%dx%dx%d|b%d|lr%.9g|%.9g|%.9g|%.9g|%s|seed%llu|n%ld|%d",
                       ct_model_spec(m), o->h, o->w, o->c, o->batch, (double)o->adam.lr,
                       (double)o->adam.beta1, (double)o->adam.beta2, (double)o->adam.eps, o->augment,
                       (unsigned long long)o->seed, n_train, o->steps_per_epoch);
    snprintf(out, n, "%016llx", (unsigned long long)ct_hash64(buf, (size_t)(len > 0 ? len : 0), 3));
}

static ct_status make_loader(const ct_fit_opts *o, const ct_dataset *ds, int train, ct_loader **out) {
    ct_loader_opts lo;
    memset(&lo, 0, sizeof lo);
    lo.batch = o->batch;
    lo.h = o->h;
    lo.w = o->w;
    lo.c = o->c;
    lo.resize = o->resize;
    lo.rescale = 1.0f / 255.0f;
    lo.shuffle = train;
    lo.seed = o->seed;
    lo.workers = o->workers;
    lo.cache_mb = o->cache_mb;
    lo.quiet = o->quiet;
    if (train) CT_TRY(ct_augment_preset(o->augment, &lo.augment));
    else CT_TRY(ct_augment_preset("none", &lo.augment));
    return ct_loader_create(ds, &lo, out);
}

static ct_status copy_params(ct_model *m, float **dst) {
    for (int i = 0; i < ct_model_n_params(m); i++) CT_TRY(ct_model_get_param(m, i, dst[i]));
    return CT_OK;
}

static ct_status fit_run(const ct_fit_opts *o, fit_state *f) {
    double t_start = ct_now();
    CT_TRY(ct_runtime_create(o->device, o->profile ? CT_RT_PROFILE : 0, &f->rt));
    ct_runtime *rt = f->rt;
    ct_runtime_print_device(rt, stdout);

    /* data */
    CT_TRY(ct_dataset_scan(o->data_dirs, o->n_data, o->quiet, &f->train));
    if (o->validation_split > 0) {
        ct_dataset all = f->train;
        ct_status s = ct_dataset_split(&all, o->validation_split, 0, &f->train);
        if (s == CT_OK) {
            s = ct_dataset_split(&all, o->validation_split, 1, &f->val);
            if (s == CT_OK) f->has_val = 1;
            else ct_dataset_free(&f->train);
        }
        if (s != CT_OK) f->train = all;
        else ct_dataset_free(&all);
        CT_TRY(s);
    } else if (o->val_dir) {
        CT_TRY(ct_dataset_scan(&o->val_dir, 1, o->quiet, &f->val));
        f->has_val = 1;
        CT_TRY(check_same_classes(&f->train, &f->val, "validation"));
    }
    if (o->test_dir) {
        CT_TRY(ct_dataset_scan(&o->test_dir, 1, o->quiet, &f->test));
        f->has_test = 1;
        CT_TRY(check_same_classes(&f->train, &f->test, "test"));
    }

    /* model */
    const char *spec = ct_spec_preset(o->model) ? ct_spec_preset(o->model) : o->model;
    CT_TRY(ct_model_create(rt, spec, o->c, o->h, o->w, f->train.n_classes, o->batch, o->seed,
                           &f->model));
    ct_model *m = f->model;
    snprintf(f->meta.spec, sizeof f->meta.spec, "%s", ct_model_spec(m));
    f->meta.c = o->c;
    f->meta.h = o->h;
    f->meta.w = o->w;
    f->meta.resize = o->resize;
    CT_TRY(ct_model_meta_set_classes(&f->meta, f->train.n_classes, f->train.class_names));
    if (o->init) CT_TRY(ct_model_load_weights(m, o->init, ""));
    if (!o->quiet) ct_model_summary(m, stdout);

    f->n_params = ct_model_n_params(m);
    f->best = calloc((size_t)f->n_params, sizeof *f->best);
    if (!f->best) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    for (int i = 0; i < f->n_params; i++)
        if (!(f->best[i] = malloc(ct_model_param(m, i)->n * sizeof(float))))
            return ct_set_error(CT_ERR_MEMORY, "out of host memory");

    CT_TRY(make_loader(o, &f->train, 1, &f->ltrain));
    if (f->has_val) CT_TRY(make_loader(o, &f->val, 0, &f->lval));

    /* monitor */
    const char *monitor = o->monitor ? o->monitor : (f->has_val ? "val_loss" : "loss");
    if (!strncmp(monitor, "val_", 4) && !f->has_val)
        return ct_set_error(CT_ERR_ARG, "--monitor %s needs validation data (--validation DIR or "
                            "--validation-split F); use --monitor loss", monitor);
    int mon_col = !strcmp(monitor, "loss") ? 0 : !strcmp(monitor, "accuracy") ? 1
                : !strcmp(monitor, "val_loss") ? 2 : !strcmp(monitor, "val_accuracy") ? 3 : -1;
    if (mon_col < 0)
        return ct_set_error(CT_ERR_ARG, "--monitor %s: expected loss, accuracy, val_loss or "
                            "val_accuracy", monitor);
    int maximize = (mon_col == 1 || mon_col == 3);

    /* checkpoints */
    char ckpt[4096] = "";
    char fp[64];
    fingerprint(o, m, f->train.n, fp, sizeof fp);
    f->st.best = maximize ? -INFINITY : INFINITY;
    f->st.best_epoch = -1;
    snprintf(f->st.fingerprint, sizeof f->st.fingerprint, "%s", fp);
    if (o->checkpoint_dir) {
        CT_TRY(ct_mkdir_p(o->checkpoint_dir));
        snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", o->checkpoint_dir);
    }
    if (o->resume) {
        if (!*ckpt) return ct_set_error(CT_ERR_ARG, "--resume needs --checkpoint-dir DIR");
        struct stat sb;
        if (stat(ckpt, &sb) != 0) {
            printf("No checkpoint in %s yet: starting from epoch 1.\n", o->checkpoint_dir);
        } else {
            ct_ckpt_state st;
            memset(&st, 0, sizeof st);
            CT_TRY(ct_checkpoint_load(m, ckpt, &st, f->best));
            if (strcmp(st.fingerprint, fp)) {
                ct_history_free(&st.hist);
                return ct_set_error(CT_ERR_ARG,
                                    "%s was written by a run with other settings (model, input, "
                                    "batch, lr, augmentation, seed or data differ); resume with the "
                                    "same options, or use another --checkpoint-dir",
                                    ckpt);
            }
            ct_history_free(&f->st.hist);
            f->st = st;
            printf("Resumed from %s after epoch %d (step %ld).\n", ckpt, st.epochs_done, st.step);
        }
    }

    int chw = o->c * o->h * o->w;
    int steps = ct_loader_batches(f->ltrain);
    if (o->steps_per_epoch > 0 && o->steps_per_epoch < steps) steps = o->steps_per_epoch;
    if (!o->quiet)
        printf("Ready to train after %.2f s (%d kernel programs: %d compiled, %d from the cache)\n",
               ct_now() - t_start, rt->n_built + rt->n_cached, rt->n_built, rt->n_cached);
    int stopped_early = 0;
    double wait_data = 0, fit_t0 = ct_now();
    long imgs = 0;
    for (int epoch = f->st.epochs_done; epoch < o->epochs; epoch++) {
        double t0 = ct_now();
        double w0 = ct_loader_wait_seconds(f->ltrain);
        CT_TRY(ct_loader_start_epoch(f->ltrain, epoch));
        ct_progress pr;
        ct_progress_init(&pr, stdout, o->quiet ? CT_PROGRESS_QUIET : CT_PROGRESS_AUTO);
        ct_progress_begin(&pr, epoch + 1, o->epochs, steps);
        double loss = 0, acc = 0;
        long cnt = 0;
        CT_TRY(ct_model_metrics(m, 1, &loss, &acc, &cnt));
        /* One step ahead: step k is queued before step k-1's loss is checked, and a batch's
         * upload is queued behind the running step, so the device does not wait on the host. */
        float snap[2][4];
        long snap_n[2];
        cl_event snap_ev[2] = {NULL, NULL};
        ct_status s = CT_OK;
        int queued = 0, ended = 0; /* steps queued this epoch; the loader ran dry */
        for (int step = 0; s == CT_OK && step <= steps; step++) {
            if (step < steps && !ended) {
                ct_batch b;
                if ((s = ct_loader_next(f->ltrain, &b)) != CT_OK) break;
                if (b.count == 0) ended = 1;
                else {
                    cl_event up = NULL;
                    s = upload_batch_async(rt, m, &b, chw, &up);
                    if (s == CT_OK)
                        s = ct_model_train_step(m, b.count, &o->adam, o->seed, f->st.step);
                    if (s == CT_OK)
                        s = ct_model_metrics_snapshot(m, snap[step & 1], &snap_n[step & 1],
                                                      &snap_ev[step & 1]);
                    if (up) { /* the slot is host memory the write reads: keep it until done */
                        clWaitForEvents(1, &up);
                        clReleaseEvent(up);
                    }
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
            clWaitForEvents(1, &snap_ev[prev & 1]);
            clReleaseEvent(snap_ev[prev & 1]);
            snap_ev[prev & 1] = NULL;
            ct_model_metrics_decode(snap[prev & 1], snap_n[prev & 1], &loss, &acc);
            if (!is_finite2(loss, acc))
                s = ct_set_error(CT_ERR_NUMERIC,
                                 "the loss became %s at epoch %d, step %d; training stopped. "
                                 "The last good checkpoint (end of epoch %d)%s%s is kept. Try a "
                                 "lower --lr",
                                 isnan(loss) ? "NaN" : "Inf", epoch + 1, prev + 1,
                                 f->st.epochs_done, *ckpt ? " in " : "", ckpt);
            else
                ct_progress_update(&pr, prev + 1, loss, acc);
        }
        /* Never leave a read pending into snap (stack memory) on any path. */
        clFinish(rt->q);
        for (int i = 0; i < 2; i++)
            if (snap_ev[i]) clReleaseEvent(snap_ev[i]);
        CT_TRY(s);
        /* Drain the rest of a cut-short epoch so the producer is idle. */
        for (;;) {
            ct_batch b;
            CT_TRY(ct_loader_next(f->ltrain, &b));
            if (b.count == 0) break;
            ct_loader_release(f->ltrain, &b);
        }
        CT_TRY(ct_model_metrics(m, 1, &loss, &acc, &cnt));
        double vl = NAN, va = NAN;
        if (f->has_val) {
            long vn;
            CT_TRY(evaluate_loader(rt, m, f->lval, chw, &vl, &va, &vn));
        }
        double secs = ct_now() - t0;
        wait_data += ct_loader_wait_seconds(f->ltrain) - w0;
        ct_progress_end(&pr, f->has_val, vl, va, secs);
        ct_epoch_stats es = {epoch + 1, loss, acc, vl, va, secs, f->has_val};
        CT_TRY(ct_history_append(&f->st.hist, &es));
        if (o->history) CT_TRY(ct_history_write_csv(&f->st.hist, o->history));
        if (o->plot) CT_TRY(ct_history_write_svg(&f->st.hist, o->plot));

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
        f->st.epochs_done = epoch + 1;
        if (*ckpt)
            CT_TRY(ct_checkpoint_save(m, &f->meta, &f->st, f->st.has_best ? f->best : NULL, ckpt));
        if (o->patience > 0 && f->st.wait >= o->patience) {
            printf("Epoch %d: early stopping (%s did not improve for %d epochs; best %.4f at epoch "
                   "%d)\n",
                   epoch + 1, monitor, o->patience, f->st.best, f->st.best_epoch);
            stopped_early = 1;
            break;
        }
    }
    (void)stopped_early;
    double fit_secs = ct_now() - fit_t0;
    if (o->restore_best && f->st.has_best && f->st.best_epoch != f->st.epochs_done) {
        printf("Restoring model weights from the end of the best epoch: %d.\n", f->st.best_epoch);
        for (int i = 0; i < f->n_params; i++) CT_TRY(ct_model_set_param(m, i, f->best[i]));
    }
    if (o->profile) ct_profile_print(rt, stdout);
    if (imgs > 0 && !o->quiet)
        printf("Trained on %ld images in %.1f s (%.1f images/s, %.1f%% of the time waiting for "
               "data)\n",
               imgs, fit_secs, imgs / fit_secs, fit_secs > 0 ? 100.0 * wait_data / fit_secs : 0.0);
    if (o->out) CT_TRY(ct_model_save(m, &f->meta, o->out));
    if (f->has_test) {
        ct_loader *lt;
        CT_TRY(make_loader(o, &f->test, 0, &lt));
        double tl, ta;
        long tn;
        ct_status s = evaluate_loader(rt, m, lt, chw, &tl, &ta, &tn);
        ct_loader_free(lt);
        CT_TRY(s);
        printf("Test: loss: %.4f accuracy: %.4f (%ld images in %s)\n", tl, ta, tn, o->test_dir);
    }
    /* Last, so a user sees where everything went. */
    if (o->out) printf("Model written to %s\n", o->out);
    if (o->history) printf("History written to %s\n", o->history);
    if (o->plot) printf("Plot written to %s\n", o->plot);
    return CT_OK;
}

ct_status ct_fit(const ct_fit_opts *o) {
    fit_state f;
    memset(&f, 0, sizeof f);
    ct_status s = fit_run(o, &f);
    fit_state_free(&f);
    return s;
}
