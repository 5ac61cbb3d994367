/* Data-parallel training against one device (tests/test_multidev.sh runs it; docs/SCALING.md).
 *   test_multidev_tool fit DATA_DIR   1, 2 and 3 replicas (0:0, 0:1 and a second runtime on
 *       0:0) at the same global batch (uneven splits) and seed, with dropout and augmentation:
 *       the first 20 per-step losses within 1e-5 relative, the weights after 2 epochs within
 *       1e-4; every replica's parameters identical after every epoch; the same device list
 *       twice bit-identical; a replica nudged off is warned about and put back; batchnorm
 *       with sync_bn (2 and 3 replicas) as close to one device, without it not; checkpoints
 *       resumed 2 -> 1 and 1 -> 2 replicas.
 *   test_multidev_tool compare A B TOL   two model files' tensors within TOL (absolute):
 *       exit 0, more: 1, not comparable (unreadable, other shapes): 2.
 *   test_multidev_tool steps DATA_DIR OUT   (tests/test_mpi.sh, alone or under mpirun) one
 *       replica per rank on device 0:(local rank % devices), 2 epochs as fit: rank 0 writes
 *       the first 20 per-step losses to OUT, one per line (%.9g).
 * Exit 77 when fewer than two devices show up (POCL_DEVICES="pthread pthread" gives two). */
#include "ctest.h"
#include "model/model.h"
#include "train/dist.h"
#include "train/train.h"

#define SPEC "conv6:3:relu,pool2,flatten,dropout0.3,dense8:relu,dense1"
/* batchnorm after a conv (per channel over n x h x w) and after a dense (per feature) */
#define BN_SPEC "conv6:3,batchnorm:relu,pool2,flatten,dropout0.3,dense8,batchnorm:relu,dense1"
static const char *g_spec = SPEC;
static int g_sync_bn;
/* The bias of a layer that batchnorm follows has a zero gradient in exact arithmetic, so
 * only rounding noise, which Adam normalises into full-size steps: the batchnorm runs use
 * SGD, whose steps are as small as that noise. */
static const char *g_optim;
#define BATCH 15
#define SEED 3
#define STEPS 20
#define MAXR 3

typedef struct run {
    int nrep;
    ct_classifier *c[MAXR];
    long step;           /* steps seen over all epochs */
    double running[64];  /* running mean loss after each step */
    double steploss[64]; /* the loss of that step alone */
    double prev_mean;
    int epoch_step;
    int n_train;
    float *w2; /* parameters after epoch 2 (all tensors, concatenated) */
    size_t nw;
    int hash_mismatch;
    int disturb; /* at this global step (1-based), nudge replica 1's parameters */
} run;

static int warnings; /* "other parameters than replica 0" warnings of the trainer */
static void on_log(void *user, ct_log_level level, const char *msg) {
    (void)user;
    if (level == CT_LOG_WARN && strstr(msg, "other parameters")) warnings++;
}

static int on_step(void *user, const ct_step_info *s) {
    run *r = user;
    if (s->step == 0) {
        r->epoch_step = 0;
        r->prev_mean = 0;
        return 0;
    }
    if (r->step < 64) {
        /* the running mean is count-weighted: step k covers samples (k-1)B .. min(kB, n) */
        double c1 = (double)((s->step - 1) * BATCH), c2 = s->step * BATCH;
        if (c2 > r->n_train) c2 = r->n_train;
        r->running[r->step] = s->loss;
        r->steploss[r->step] = (s->loss * c2 - r->prev_mean * c1) / (c2 - c1);
    }
    r->prev_mean = s->loss;
    r->step++;
    if (r->disturb && r->step == r->disturb && r->nrep > 1) {
        size_t n = ct_model_slab_floats(r->c[1]->m);
        float *p = malloc(n * sizeof *p);
        ct_model_read_slab(r->c[1]->m, CT_SLAB_PARAMS, p);
        p[0] += 1e-3f;
        ct_model_write_slab(r->c[1]->m, CT_SLAB_PARAMS, p);
        free(p);
    }
    return 0;
}

static size_t all_floats(ct_model *m) {
    size_t n = 0;
    for (int i = 0; i < ct_model_n_tensors(m); i++)
        n += ct_model_tensor(m, i)->n;
    return n;
}

static void get_all(ct_model *m, float *dst) {
    for (int i = 0; i < ct_model_n_tensors(m); i++) {
        ct_model_get_tensor(m, i, dst);
        dst += ct_model_tensor(m, i)->n;
    }
}

static int on_epoch(void *user, const ct_epoch_info *e) {
    run *r = user;
    /* every replica's parameter slab, byte for byte */
    size_t n = ct_model_slab_floats(r->c[0]->m);
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    ct_model_read_slab(r->c[0]->m, CT_SLAB_PARAMS, a);
    for (int q = 1; q < r->nrep; q++) {
        ct_model_read_slab(r->c[q]->m, CT_SLAB_PARAMS, b);
        if (memcmp(a, b, n * sizeof *a)) r->hash_mismatch++;
    }
    free(a);
    free(b);
    if (e->epoch == 2 && !r->w2) {
        r->nw = all_floats(r->c[0]->m);
        r->w2 = malloc(r->nw * sizeof *r->w2);
        get_all(r->c[0]->m, r->w2);
    }
    return 0;
}

static ct_runtime *rts[MAXR];
static ct_dataset *ds;

/* One fit of `epochs` epochs on replicas rts[0 .. nrep); ckdir / resume as the options. */
static ct_status do_fit(run *r, int nrep, int epochs, const char *ckdir, int resume) {
    int disturb = r->disturb;
    memset(r, 0, sizeof *r);
    r->disturb = disturb;
    r->nrep = nrep;
    r->n_train = ct_dataset_count(ds);
    int share[MAXR];
    ct_fit_split(BATCH, nrep, share);
    ct_status s = ct_classifier_create(rts[0], g_spec, 20, 20, 3, CT_RESIZE_NEAREST,
                                       ct_dataset_class_count(ds), ct_dataset_class_names(ds),
                                       share[0], 5, &r->c[0]);
    for (int q = 1; s == CT_OK && q < nrep; q++)
        s = ct_classifier_replicate(r->c[0], rts[q], share[q], &r->c[q]);
    if (s != CT_OK) return s;
    ct_fit_opts o;
    ct_fit_opts_default(&o);
    o.epochs = epochs;
    o.batch = BATCH;
    o.seed = SEED;
    o.augment = "seed";
    o.workers = 2;
    o.quiet = 1;
    o.on_step = on_step;
    o.on_epoch = on_epoch;
    o.user = r;
    o.checkpoint_dir = ckdir;
    o.resume = resume;
    o.replicas = nrep > 1 ? r->c + 1 : NULL;
    o.n_replicas = nrep - 1;
    o.sync_bn = g_sync_bn;
    if (g_optim) {
        o.optimizer = g_optim;
        o.lr = 0.05;
    }
    return ct_fit(r->c[0], ds, NULL, &o, NULL);
}

static void run_free(run *r) {
    for (int q = 0; q < MAXR; q++)
        ct_classifier_free(r->c[q]);
    free(r->w2);
}

static double max_abs(const float *a, const float *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]);
        if (!(e <= d)) d = e; /* NaN wins */
    }
    return d;
}

static void compare_runs(const run *a, const run *b, const char *what) {
    double worst = 0, worst_run = 0;
    for (int k = 0; k < STEPS; k++) {
        double rel = fabs(b->steploss[k] - a->steploss[k]) / fabs(a->steploss[k]);
        double rr = fabs(b->running[k] - a->running[k]) / fabs(a->running[k]);
        if (!(rel <= worst)) worst = rel;
        if (!(rr <= worst_run)) worst_run = rr;
    }
    printf("%s: first %d step losses within %.2e relative (running means %.2e)", what, STEPS, worst,
           worst_run);
    CHECK(a->step >= STEPS && b->step >= STEPS, "%s: %ld and %ld steps", what, a->step, b->step);
    CHECK(worst <= 1e-5, "%s: a step loss differs by %.3g relative", what, worst);
    if (a->w2 && b->w2 && a->nw == b->nw) {
        double d = max_abs(a->w2, b->w2, a->nw);
        printf(", weights after 2 epochs within %.2e\n", d);
        CHECK(d <= 1e-4, "%s: weights after 2 epochs differ by %.3g", what, d);
    } else {
        printf("\n");
        CHECK(0, "%s: no weights after epoch 2", what);
    }
}

static int fit_main(const char *data) {
    int nd = 0;
    if (ct_device_count(&nd) != CT_OK || nd < 2) {
        printf("SKIP: %d OpenCL device(s); two are needed (POCL_DEVICES=\"pthread pthread\")\n",
               nd);
        return 77;
    }
    ct_set_log(on_log, NULL);
    const char *ids[MAXR] = {"0:0", "0:1", "0:0"}; /* the third: a second runtime on 0:0 */
    for (int q = 0; q < MAXR; q++)
        if (ct_runtime_create(ids[q], 0, &rts[q]) != CT_OK) {
            printf("FAIL: runtime %s: %s\n", ids[q], ct_last_error());
            return 1;
        }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/catdog-mini/train", data);
    const char *dirs[1] = {dir};
    if (ct_dataset_open(dirs, 1, &ds) != CT_OK) {
        printf("FAIL: %s\n", ct_last_error());
        return 1;
    }
    run one, two, two_b, three, nudged;
    memset(&one, 0, sizeof one);
    two = two_b = three = nudged = one;
    CHECK(do_fit(&one, 1, 3, NULL, 0) == CT_OK, "1 replica");
    CHECK(do_fit(&two, 2, 3, NULL, 0) == CT_OK, "2 replicas");
    CHECK(do_fit(&three, 3, 3, NULL, 0) == CT_OK, "3 replicas");
    compare_runs(&one, &two, "2 replicas (8 + 7) vs 1");
    compare_runs(&one, &three, "3 replicas (5 + 5 + 5) vs 1");
    CHECK(two.hash_mismatch == 0 && three.hash_mismatch == 0 && warnings == 0,
          "replica parameters differ after an epoch (%d, %d times; %d warnings)", two.hash_mismatch,
          three.hash_mismatch, warnings);
    /* deterministic for a given device list */
    CHECK(do_fit(&two_b, 2, 3, NULL, 0) == CT_OK, "2 replicas again");
    CHECK(two.w2 && two_b.w2 && !memcmp(two.w2, two_b.w2, two.nw * sizeof(float)),
          "two runs on the same two devices differ");
    run_free(&two_b);
    /* a replica whose parameters drift is found at the end of the epoch and put back */
    nudged.disturb = 3;
    CHECK(do_fit(&nudged, 2, 2, NULL, 0) == CT_OK, "2 replicas, one nudged");
    CHECK(warnings == 1 && nudged.hash_mismatch == 0,
          "a nudged replica: %d warnings (1 expected), %d mismatches after the epoch", warnings,
          nudged.hash_mismatch);
    run_free(&nudged);

    /* batchnorm: --sync-bn matches one device; each replica's own statistics do not */
    {
        run b1, b2s, b3s, b2;
        memset(&b1, 0, sizeof b1);
        b2s = b3s = b2 = b1;
        g_spec = BN_SPEC;
        g_optim = "sgd";
        CHECK(do_fit(&b1, 1, 3, NULL, 0) == CT_OK, "batchnorm, 1 replica");
        g_sync_bn = 1;
        CHECK(do_fit(&b2s, 2, 3, NULL, 0) == CT_OK, "batchnorm, 2 replicas, sync");
        CHECK(do_fit(&b3s, 3, 3, NULL, 0) == CT_OK, "batchnorm, 3 replicas, sync");
        g_sync_bn = 0;
        CHECK(do_fit(&b2, 2, 3, NULL, 0) == CT_OK, "batchnorm, 2 replicas");
        g_spec = SPEC;
        g_optim = NULL;
        compare_runs(&b1, &b2s, "batchnorm --sync-bn, 2 replicas vs 1");
        compare_runs(&b1, &b3s, "batchnorm --sync-bn, 3 replicas vs 1");
        double d = b1.w2 && b2.w2 ? max_abs(b1.w2, b2.w2, b1.nw) : 0;
        printf("batchnorm per replica, 2 replicas vs 1: weights after 2 epochs differ by %.2e\n",
               d);
        CHECK(d > 1e-3, "per-replica batchnorm statistics should differ from one device (%.3g)", d);
        CHECK(b2s.hash_mismatch == 0 && b3s.hash_mismatch == 0 && b2.hash_mismatch == 0,
              "batchnorm: replica parameters differ after an epoch");
        run_free(&b1);
        run_free(&b2s);
        run_free(&b3s);
        run_free(&b2);
    }

    /* checkpoints: 1 epoch on 2 replicas, resumed on 1 (and the other way round) */
    char tmpl[] = "/tmp/cltrain-md-XXXXXX";
    const char *tmp = mkdtemp(tmpl);
    CHECK(tmp != NULL, "mkdtemp");
    if (tmp) {
        int from[2] = {2, 1}, to[2] = {1, 2};
        for (int k = 0; k < 2; k++) {
            char ck[4200];
            snprintf(ck, sizeof ck, "%s/ck%d", tmp, k);
            run a, b;
            memset(&a, 0, sizeof a);
            b = a;
            CHECK(do_fit(&a, from[k], 1, ck, 0) == CT_OK, "%d replicas, epoch 1", from[k]);
            CHECK(do_fit(&b, to[k], 2, ck, 1) == CT_OK, "resumed on %d replicas", to[k]);
            size_t nw = all_floats(b.c[0]->m);
            float *w = malloc(nw * sizeof *w);
            get_all(b.c[0]->m, w);
            double d = one.w2 && nw == one.nw ? max_abs(w, one.w2, nw) : INFINITY;
            printf("checkpoint %d -> %d replicas: weights after 2 epochs within %.2e of one "
                   "device\n",
                   from[k], to[k], d);
            CHECK(d <= 1e-4, "resume %d -> %d: weights differ by %.3g", from[k], to[k], d);
            free(w);
            run_free(&a);
            run_free(&b);
            char f[4300];
            snprintf(f, sizeof f, "%s/checkpoint.safetensors", ck);
            remove(f);
            remove(ck);
        }
        remove(tmp);
    }
    run_free(&one);
    run_free(&two);
    run_free(&three);
    ct_dataset_free(ds);
    for (int q = 0; q < MAXR; q++)
        ct_runtime_free(rts[q]);
    return ct_test_done("test_multidev_tool fit");
}

static int compare_main(const char *a, const char *b, double tol) {
    ct_runtime *rt = NULL;
    ct_classifier *ma = NULL, *mb = NULL;
    int rc = 2; /* 2: could not compare */
    if (ct_runtime_create("0:0", 0, &rt) != CT_OK || ct_classifier_load(rt, a, 1, &ma) != CT_OK ||
        ct_classifier_load(rt, b, 1, &mb) != CT_OK) {
        printf("FAIL: %s\n", ct_last_error());
        goto done;
    }
    size_t na = all_floats(ma->m), nb = all_floats(mb->m);
    if (na != nb) {
        printf("FAIL: %s has %zu floats, %s %zu\n", a, na, b, nb);
        goto done;
    }
    float *x = malloc(na * sizeof *x), *y = malloc(na * sizeof *y);
    get_all(ma->m, x);
    get_all(mb->m, y);
    double d = max_abs(x, y, na);
    printf("%s vs %s: max |difference| %.3g (tolerance %g)\n", a, b, d, tol);
    free(x);
    free(y);
    rc = d <= tol ? 0 : 1;
done:
    ct_classifier_free(ma);
    ct_classifier_free(mb);
    ct_runtime_free(rt);
    return rc;
}

static int steps_main(const char *data, const char *out) {
    if (ct_dist_init(NULL, NULL) != CT_OK) {
        printf("FAIL: %s\n", ct_last_error());
        return 1;
    }
    int nd = 0;
    if (ct_device_count(&nd) != CT_OK || nd < 1) {
        printf("SKIP: no OpenCL device\n");
        return 77;
    }
    char id[16];
    snprintf(id, sizeof id, "0:%d", ct_dist_local_rank() % nd);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/catdog-mini/train", data);
    const char *dirs[1] = {dir};
    run one;
    memset(&one, 0, sizeof one);
    if (ct_runtime_create(id, 0, &rts[0]) != CT_OK || ct_dataset_open(dirs, 1, &ds) != CT_OK ||
        do_fit(&one, 1, 2, NULL, 0) != CT_OK) {
        printf("FAIL: rank %d: %s\n", ct_dist_rank(), ct_last_error());
        ct_dist_abort(1);
        return 1;
    }
    int rc = 0;
    if (ct_dist_rank() == 0) {
        FILE *f = fopen(out, "w");
        for (int k = 0; f && k < STEPS && k < one.step; k++)
            fprintf(f, "%.9g\n", one.steploss[k]);
        rc = !f || fclose(f) != 0;
    }
    run_free(&one);
    ct_dataset_free(ds);
    ct_runtime_free(rts[0]);
    ct_dist_finalize();
    return rc;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "steps")) return steps_main(argv[2], argv[3]);
    if (argc == 3 && !strcmp(argv[1], "fit")) return fit_main(argv[2]);
    if (argc == 5 && !strcmp(argv[1], "compare"))
        return compare_main(argv[2], argv[3], atof(argv[4]));
    fprintf(stderr, "usage: test_multidev_tool fit DATA_DIR | compare A B TOL | steps DATA_DIR "
                    "OUT\n");
    return 2;
}
