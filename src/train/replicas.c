/* Data-parallel replicas in one process: the split, the fixed-order gradient sum, the
 * broadcast and the per-epoch parameter check (train/replicas.h). */
#include "train/replicas.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/tensor.h"
#include "train/dist.h"

void ct_fit_split(int batch, int n, int *share) {
    for (int r = 0; r < n; r++)
        share[r] = batch / n + (r < batch % n);
}

static const char *dev_name(const ct_classifier *c) {
    return c->rt->dev.name;
}

/* The split of a batch of count over all replicas of all ranks; this rank's shares and
 * their first rows in the global batch. */
static void split(ct_replicas *R, int count) {
    ct_fit_split(count, R->n_all, R->share_all);
    int off = 0, first = R->rank * R->n;
    for (int q = 0; q < first; q++)
        off += R->share_all[q];
    for (int r = 0; r < R->n; r++) {
        R->share[r] = R->share_all[first + r];
        R->off[r] = off;
        off += R->share[r];
    }
}

ct_status ct_replicas_open(ct_replicas *R, ct_classifier *m, ct_classifier *const *more, int n_more,
                           int batch) {
    memset(R, 0, sizeof *R);
    R->n = n_more + 1;
    R->c = calloc((size_t)R->n, sizeof *R->c);
    R->share = calloc((size_t)R->n, sizeof *R->share);
    R->off = calloc((size_t)R->n, sizeof *R->off);
    R->ms = calloc((size_t)R->n, sizeof *R->ms);
    R->ranks = ct_dist_size();
    R->rank = ct_dist_rank();
    R->n_all = R->n * R->ranks;
    R->share_all = calloc((size_t)R->n_all, sizeof *R->share_all);
    if (!R->c || !R->share || !R->off || !R->ms || !R->share_all)
        return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    R->c[0] = m;
    for (int r = 1; r < R->n; r++) {
        ct_classifier *c = more[r - 1];
        if (!c) return ct_set_error(CT_ERR_ARG, "replica %d is NULL", r);
        for (int q = 0; q < r; q++)
            if (R->c[q] == c || R->c[q]->rt == c->rt)
                return ct_set_error(CT_ERR_ARG,
                                    "replicas %d and %d share one %s (device %d:%d); "
                                    "each replica needs a device of its own",
                                    q, r, R->c[q] == c ? "model" : "runtime", c->rt->dev.platform,
                                    c->rt->dev.device);
        if (strcmp(ct_model_spec(c->m), ct_model_spec(m->m)) || c->meta.c != m->meta.c ||
            c->meta.h != m->meta.h || c->meta.w != m->meta.w ||
            c->meta.n_classes != m->meta.n_classes)
            return ct_set_error(CT_ERR_ARG,
                                "replica %d is another model (spec, input or classes "
                                "differ); make replicas with ct_classifier_replicate",
                                r);
        R->c[r] = c;
    }
    for (int r = 0; r < R->n; r++)
        R->ms[r] = R->c[r]->m;
    if (batch < R->n_all)
        return ct_set_error(CT_ERR_ARG,
                            "--batch-size %d is smaller than the %d replicas (%d rank%s x %d "
                            "device%s): give every replica at least one sample (--batch-size %d "
                            "or more)",
                            batch, R->n_all, R->ranks, R->ranks > 1 ? "s" : "", R->n,
                            R->n > 1 ? "s" : "", R->n_all);
    split(R, batch);
    for (int r = 0; r < R->n; r++)
        if (R->share[r] > ct_model_max_batch(R->c[r]->m))
            return ct_set_error(CT_ERR_ARG,
                                "--batch-size %d over %d replicas gives device %d:%d "
                                "(%s) %d samples per step, but its model holds %d; use "
                                "--batch-size %d or less",
                                batch, R->n_all, R->c[r]->rt->dev.platform, R->c[r]->rt->dev.device,
                                dev_name(R->c[r]), R->share[r], ct_model_max_batch(R->c[r]->m),
                                ct_model_max_batch(R->c[r]->m) * R->n_all);
    R->floats = ct_model_slab_floats(m->m);
    R->n_weights = ct_model_param_count(m->m);
    size_t big = R->floats > R->n_weights ? R->floats : R->n_weights;
    if (ct_model_nontrainable_count(m->m) > big) big = ct_model_nontrainable_count(m->m);
    R->g = malloc((big ? big : 1) * 2 * sizeof *R->g);
    R->acc = malloc((R->floats ? R->floats : 1) * sizeof *R->acc);
    if (!R->g || !R->acc) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    return CT_OK;
}

void ct_replicas_free(ct_replicas *R) {
    free(R->c);
    free(R->share);
    free(R->off);
    free(R->ms);
    free(R->share_all);
    free(R->g);
    free(R->acc);
    memset(R, 0, sizeof *R);
}

ct_status ct_replicas_broadcast(ct_replicas *R) {
    ct_model *m0 = R->c[0]->m;
    int r0 = R->rank > 0 ? 0 : 1; /* on other ranks than 0 the model takes rank 0's too */
    for (int i = 0; i < ct_model_n_tensors(m0); i++) {
        CT_TRY(ct_model_get_tensor(m0, i, R->g));
        CT_TRY(ct_dist_bcast(R->g, ct_model_tensor(m0, i)->n, "the broadcast of the parameters"));
        for (int r = r0; r < R->n; r++)
            CT_TRY(ct_model_set_tensor(R->c[r]->m, i, R->g));
    }
    long t;
    float *mom = R->g, *vel = R->g + R->n_weights;
    CT_TRY(ct_model_get_adam_state(m0, mom, vel, &t));
    if (R->ranks > 1) {
        float tf[2] = {(float)(t >> 24), (float)(t & 0xffffff)}; /* exact in float */
        CT_TRY(ct_dist_bcast(R->g, 2 * R->n_weights, "the broadcast of the optimizer state"));
        CT_TRY(ct_dist_bcast(tf, 2, "the broadcast of the optimizer step"));
        t = ((long)tf[0] << 24) | (long)tf[1];
    }
    for (int r = r0; r < R->n; r++)
        CT_TRY(ct_model_set_adam_state(R->c[r]->m, mom, vel, t));
    return CT_OK;
}

ct_status ct_replicas_allreduce(ct_replicas *R, int total) {
    /* the replicas' backward passes end first: the time below is the sum's alone */
    for (int r = 0; r < R->n; r++)
        CL_CHECK(clFinish(R->c[r]->rt->q));
    double t0 = ct_now();
    size_t n = R->floats;
    for (size_t i = 0; i < n; i++)
        R->acc[i] = 0.0;
    for (int r = 0; r < R->n; r++) { /* the fixed order: 0, 1, ... */
        if (R->share[r] == 0) continue;
        CT_TRY(ct_model_read_slab(R->c[r]->m, CT_SLAB_GRADS, R->g));
        double w = (double)R->share[r] / (double)total;
        for (size_t i = 0; i < n; i++)
            R->acc[i] += w * (double)R->g[i];
    }
    if (R->ranks > 1) { /* this rank's sum, then the ranks' in rank order (train/dist.h) */
        double t1 = ct_now();
        CT_TRY(ct_dist_sum(R->acc, n, "the gradient sum"));
        R->mpi_s += ct_now() - t1;
        R->mpi_bytes += (double)n * sizeof(double) * (double)(R->ranks - 1);
    }
    for (size_t i = 0; i < n; i++)
        R->g[i] = (float)R->acc[i];
    for (int r = 0; r < R->n; r++)
        CT_TRY(ct_model_write_slab(R->c[r]->m, CT_SLAB_GRADS, R->g));
    R->reduce_s += ct_now() - t0;
    R->reduces++;
    return CT_OK;
}

/* --sync-bn over ranks: each phase's parts summed over the ranks in rank order; a rank
 * without samples in this batch takes part with none (k 0). */
static ct_status sync_reduce(void *user, double *acc, int *k) {
    ct_replicas *R = user;
    uint64_t mine = (uint64_t)*k, all[CT_DIST_MAX_RANKS];
    CT_TRY(ct_dist_gather_u64(&mine, 1, all, "the --sync-bn statistics"));
    int kmax = 0;
    for (int q = 0; q < R->ranks; q++)
        if ((int)all[q] > kmax) kmax = (int)all[q];
    for (int j = *k; j < kmax; j++)
        acc[j] = 0.0;
    *k = kmax;
    return ct_dist_sum(acc, (size_t)kmax, "the --sync-bn statistics");
}

ct_status ct_replicas_step(ct_replicas *R, const ct_batch *b, int total, int row0, size_t chw,
                           const ct_optim *opt, uint64_t seed, long step) {
    split(R, total);
    int have = 0; /* this rank's rows of the batch */
    for (int r = 0; r < R->n; r++)
        have += R->share[r];
    /* under MPI the loader is sharded (train.c): b holds this rank's rows from off[0] */
    if (R->ranks > 1 ? b->count != have || (have && row0 != R->off[0]) : b->count != total)
        return ct_set_error(CT_ERR_IO,
                            "rank %d: the batch has %d of its %d rows (an image failed to "
                            "decode mid-run on this rank; with MPI every image must stay "
                            "readable)",
                            R->rank, b->count, have);
    /* every replica's step is queued before any gradient is read, so the devices overlap */
    for (int r = 0; r < R->n; r++) {
        int k = R->share[r], off = R->off[r]; /* rows of the global batch */
        if (k == 0) continue;
        ct_classifier *c = R->c[r];
        int row = off - row0; /* its rows in b */
        CT_TRY(ct_upload(c->rt, ct_model_input(c->m), 0, (size_t)k * chw * sizeof(float),
                         b->x + (size_t)row * chw));
        CT_TRY(ct_upload(c->rt, ct_model_labels(c->m), 0, (size_t)k * sizeof(int32_t), b->y + row));
        ct_status s = R->sync_bn ? CT_OK : ct_model_compute_grads_at(c->m, k, 1, seed, step, off);
        if (s != CT_OK)
            return ct_error_prefix(s, "replica %d (device %d:%d): ", r, c->rt->dev.platform,
                                   c->rt->dev.device);
    }
    ct_sync_reduce red = {sync_reduce, R, total};
    if (R->sync_bn)
        CT_TRY(ct_models_compute_grads_sync_ext(R->ms, R->n, R->share, R->off, seed, step,
                                                R->ranks > 1 ? &red : NULL));
    CT_TRY(ct_replicas_allreduce(R, total));
    for (int r = 0; r < R->n; r++)
        CT_TRY(ct_model_apply_grads(R->c[r]->m, opt));
    return CT_OK;
}

ct_status ct_replicas_metrics(ct_replicas *R, int reset, double *loss, double *acc, long *count) {
    double sl = 0, sa = 0;
    long sn = 0;
    for (int r = 0; r < R->n; r++) {
        double l, a;
        long k;
        CT_TRY(ct_model_metrics(R->c[r]->m, reset, &l, &a, &k));
        sl += l * (double)k;
        sa += a * (double)k;
        sn += k;
    }
    if (R->ranks > 1) {
        double v[3] = {sl, sa, (double)sn};
        CT_TRY(ct_dist_sum(v, 3, "the loss and accuracy sums"));
        sl = v[0], sa = v[1], sn = (long)v[2];
    }
    if (loss) *loss = sn > 0 ? sl / (double)sn : 0.0;
    if (acc) *acc = sn > 0 ? sa / (double)sn : 0.0;
    if (count) *count = sn;
    return CT_OK;
}

ct_status ct_replicas_check(ct_replicas *R, int epoch, uint64_t *hash) {
    uint64_t h0 = 0;
    size_t bytes = R->floats * sizeof(float);
    for (int r = 0; r < R->n; r++) {
        CT_TRY(ct_model_read_slab(R->c[r]->m, CT_SLAB_PARAMS, R->g));
        uint64_t h = ct_hash64(R->g, bytes, 11);
        if (r == 0) {
            h0 = h;
            continue;
        }
        if (h == h0) continue;
        ct_log(CT_LOG_WARN,
               "Epoch %d: replica %d (device %d:%d) has other parameters than "
               "replica 0 (hash %016llx, not %016llx: its device rounds differently); it takes "
               "replica 0's",
               epoch, r, R->c[r]->rt->dev.platform, R->c[r]->rt->dev.device, (unsigned long long)h,
               (unsigned long long)h0);
        CT_TRY(ct_model_read_slab(R->c[0]->m, CT_SLAB_PARAMS, R->g));
        CT_TRY(ct_model_write_slab(R->c[r]->m, CT_SLAB_PARAMS, R->g));
    }
    if (R->ranks > 1) { /* every rank against rank 0 */
        uint64_t all[CT_DIST_MAX_RANKS];
        CT_TRY(ct_dist_gather_u64(&h0, 1, all, "the parameter hash"));
        int differ = 0;
        for (int q = 1; q < R->ranks; q++)
            if (all[q] != all[0]) {
                if (R->rank == 0)
                    ct_log(CT_LOG_WARN,
                           "Epoch %d: rank %d has other parameters than rank 0 "
                           "(hash %016llx, not %016llx); it takes rank 0's",
                           epoch, q, (unsigned long long)all[q], (unsigned long long)all[0]);
                differ = 1;
            }
        if (differ) {
            CT_TRY(ct_model_read_slab(R->c[0]->m, CT_SLAB_PARAMS, R->g));
            CT_TRY(ct_dist_bcast(R->g, R->floats, "the broadcast of the parameters"));
            for (int r = 0; r < R->n; r++)
                CT_TRY(ct_model_write_slab(R->c[r]->m, CT_SLAB_PARAMS, R->g));
        }
        h0 = all[0];
    }
    if (hash) *hash = h0;
    return CT_OK;
}
