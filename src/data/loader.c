/* The producer: one coordinating thread and a pool of N workers (both created once, in
 * ct_loader_create) fill two host batch slots in turn; the consumer takes a ready slot with
 * ct_loader_next and gives it back with ct_loader_release. One mutex guards all shared
 * state; three condition variables carry the hand-offs (work for the pool, pool job done,
 * slot state changed).
 *
 * Determinism: the epoch's order is a Fisher-Yates shuffle seeded by (seed, epoch), and
 * each sample's augmentation RNG by (seed, epoch, dataset index). Which worker handles a
 * sample never changes its bytes, so the batch stream is identical for any worker count.
 *
 * Bad files: ct_loader_create decodes every file once, in parallel on the pool. With the
 * cache on that pass fills the cache; with it off (or above the cap) it only validates.
 * Files that fail are warned about once (in dataset order, naming the file), counted, and
 * left out of every epoch, so the number of batches is known before the first epoch. A
 * file that goes bad later (changed on disk while the cache is off) is warned about once,
 * dropped from its batch (the batch is compacted in order, so it is still deterministic)
 * and left out of later epochs. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "data/data.h"
#include "base/error.h"

enum { SLOT_FREE = 0, SLOT_FILLING, SLOT_READY, SLOT_CONSUMER };
enum { JOB_VALIDATE = 0, JOB_BATCH };

struct ct_loader {
    ct_loader_opts o;
    int n;
    char **paths;
    int *labels;
    unsigned char *bad; /* per dataset sample: skipped */
    char **msgs;        /* create-time failure messages, printed in order */
    size_t img_bytes, chw;
    uint8_t *cache;
    int n_cached; /* samples [0, n_cached) live in the cache */

    float *x[2];
    int32_t *y[2];
    unsigned char *ok[2];
    int *order;
    int n_epoch; /* samples in this epoch's order */

    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done, cv_state;
    int n_workers, n_started;
    pthread_t *workers;
    uint8_t **scratch;
    pthread_t coord;
    int coord_started;
    int quit;

    /* pool job */
    int job_kind, job_n, job_next, job_done, job_slot, job_batch, job_epoch;

    /* epoch state */
    int epoch, epoch_active, n_batches, next_fill, next_consume;
    int slot_state[2], slot_batch[2], slot_count[2];
    int slot_total[2], slot_row0[2]; /* sharded: the global batch's count, our first row */
    int shard_parts, shard_first, shard_n;
    int job_lo; /* sharded: the job's first row in the global batch */

    int skipped;
    double wait_s;
};

typedef struct worker_arg {
    ct_loader *l;
    int id;
} worker_arg;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Called with the mutex held. */
static void mark_bad_locked(ct_loader *l, int idx, const char *msg) {
    if (l->bad[idx]) return;
    l->bad[idx] = 1;
    l->skipped++;
    ct_log(CT_LOG_WARN, "skipping unreadable image: %s", msg);
}

static void do_validate(ct_loader *l, int i, int wid) {
    uint8_t *dst = i < l->n_cached ? l->cache + (size_t)i * l->img_bytes : l->scratch[wid];
    if (ct_image_load(l->paths[i], l->o.h, l->o.w, l->o.c, l->o.resize, dst) != CT_OK) {
        const char *e = ct_last_error();
        l->msgs[i] = strdup(e[0] ? e : l->paths[i]);
        l->bad[i] = 2; /* claimed by this worker; counted and warned in order by create */
    }
}

static void do_sample(ct_loader *l, int j, int wid, int slot, int batch, int epoch) {
    int idx = l->order[batch * l->o.batch + l->job_lo + j]; /* row j of the slot */
    const uint8_t *src;
    if (idx < l->n_cached) {
        src = l->cache + (size_t)idx * l->img_bytes;
    } else {
        if (ct_image_load(l->paths[idx], l->o.h, l->o.w, l->o.c, l->o.resize, l->scratch[wid]) !=
            CT_OK) {
            pthread_mutex_lock(&l->mu);
            mark_bad_locked(l, idx, ct_last_error());
            pthread_mutex_unlock(&l->mu);
            l->ok[slot][j] = 0;
            return;
        }
        src = l->scratch[wid];
    }
    float *x = l->x[slot] + (size_t)j * l->chw;
    if (l->o.augment.enabled) {
        ct_rng r;
        ct_aug_draw d;
        ct_rng_seed(&r, l->o.seed, (uint64_t)epoch, (uint64_t)idx);
        ct_augment_draw(&l->o.augment, &r, l->o.h, l->o.w, &d);
        ct_preprocess_image(&l->o.pre, src, l->o.h, l->o.w, l->o.c, &d, x);
    } else {
        ct_preprocess_image(&l->o.pre, src, l->o.h, l->o.w, l->o.c, NULL, x);
    }
    l->y[slot][j] = l->labels[idx];
    l->ok[slot][j] = 1;
}

static void *worker_main(void *arg) {
    ct_loader *l = ((worker_arg *)arg)->l;
    int id = ((worker_arg *)arg)->id;
    free(arg);
    pthread_mutex_lock(&l->mu);
    for (;;) {
        /* remaining work is drained even when quitting, so a running job always ends */
        while (l->job_next >= l->job_n && !l->quit) pthread_cond_wait(&l->cv_work, &l->mu);
        if (l->job_next >= l->job_n) break;
        int i = l->job_next++;
        int kind = l->job_kind, slot = l->job_slot, batch = l->job_batch, epoch = l->job_epoch;
        pthread_mutex_unlock(&l->mu);
        if (kind == JOB_VALIDATE) do_validate(l, i, id);
        else do_sample(l, i, id, slot, batch, epoch);
        pthread_mutex_lock(&l->mu);
        if (++l->job_done == l->job_n) pthread_cond_broadcast(&l->cv_done);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* Runs n items of a job on the pool and waits for all of them. Not called concurrently. */
static void pool_run(ct_loader *l, int kind, int n, int slot, int batch, int epoch, int lo) {
    pthread_mutex_lock(&l->mu);
    if (l->quit) {
        /* Shutting down: the workers may already have left, so nobody would run this job.
         * (quit is set under mu, so once we see it clear here they will take the job.) */
        if (kind == JOB_BATCH)
            for (int j = 0; j < n; j++) l->ok[slot][j] = 0;
        pthread_mutex_unlock(&l->mu);
        return;
    }
    l->job_kind = kind;
    l->job_lo = lo;
    l->job_slot = slot;
    l->job_batch = batch;
    l->job_epoch = epoch;
    l->job_done = 0;
    l->job_next = 0;
    l->job_n = n;
    pthread_cond_broadcast(&l->cv_work);
    while (l->job_done < l->job_n) pthread_cond_wait(&l->cv_done, &l->mu);
    pthread_mutex_unlock(&l->mu);
}

static void *coord_main(void *arg) {
    ct_loader *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        int s = -1;
        while (!l->quit) {
            if (l->epoch_active && l->next_fill < l->n_batches) {
                s = l->slot_state[0] == SLOT_FREE ? 0 : l->slot_state[1] == SLOT_FREE ? 1 : -1;
                if (s >= 0) break;
            }
            pthread_cond_wait(&l->cv_state, &l->mu);
        }
        if (l->quit) break;
        int k = l->next_fill++, epoch = l->epoch;
        int count = l->n_epoch - k * l->o.batch;
        if (count > l->o.batch) count = l->o.batch;
        l->slot_state[s] = SLOT_FILLING;
        pthread_mutex_unlock(&l->mu);

        int total = count, lo = 0;
        if (l->shard_parts > 0) { /* our replicas' rows only: ct_fit_split's rule */
            int hi = 0;
            for (int q = 0; q < l->shard_first + l->shard_n && q < l->shard_parts; q++) {
                int share = count / l->shard_parts + (q < count % l->shard_parts);
                if (q < l->shard_first) lo += share;
                hi += share;
            }
            count = hi - lo;
        }
        pool_run(l, JOB_BATCH, count, s, k, epoch, lo);
        /* drop samples that failed on the fly, keeping order */
        int m = 0;
        for (int j = 0; j < count; j++) {
            if (!l->ok[s][j]) continue;
            if (m != j) {
                memmove(l->x[s] + (size_t)m * l->chw, l->x[s] + (size_t)j * l->chw,
                        l->chw * sizeof(float));
                l->y[s][m] = l->y[s][j];
            }
            m++;
        }

        pthread_mutex_lock(&l->mu);
        l->slot_state[s] = SLOT_READY;
        l->slot_batch[s] = k;
        l->slot_count[s] = m;
        l->slot_total[s] = total;
        l->slot_row0[s] = lo;
        pthread_cond_broadcast(&l->cv_state);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static void shutdown_threads(ct_loader *l) {
    pthread_mutex_lock(&l->mu);
    l->quit = 1;
    pthread_cond_broadcast(&l->cv_work);
    pthread_cond_broadcast(&l->cv_state);
    pthread_cond_broadcast(&l->cv_done);
    pthread_mutex_unlock(&l->mu);
    if (l->coord_started) pthread_join(l->coord, NULL);
    l->coord_started = 0;
    for (int i = 0; i < l->n_started; i++) pthread_join(l->workers[i], NULL);
    l->n_started = 0;
}

void ct_loader_free(ct_loader *l) {
    if (!l) return;
    shutdown_threads(l);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv_work);
    pthread_cond_destroy(&l->cv_done);
    pthread_cond_destroy(&l->cv_state);
    if (l->paths)
        for (int i = 0; i < l->n; i++) free(l->paths[i]);
    if (l->msgs)
        for (int i = 0; i < l->n; i++) free(l->msgs[i]);
    if (l->scratch)
        for (int i = 0; i < l->n_workers; i++) free(l->scratch[i]);
    free(l->scratch);
    free(l->workers);
    free(l->paths);
    free(l->msgs);
    free(l->labels);
    free(l->bad);
    free(l->cache);
    free(l->order);
    for (int s = 0; s < 2; s++) {
        free(l->ok[s]);
        free(l->x[s]);
        free(l->y[s]);
    }
    free(l);
}

ct_status ct_loader_create(const ct_dataset *ds, const ct_loader_opts *o, ct_loader **out) {
    *out = NULL;
    if (!ds || ds->n <= 0) return ct_set_error(CT_ERR_ARG, "loader: the dataset is empty");
    if (o->batch <= 0 || o->h <= 0 || o->w <= 0 || o->h > 8192 || o->w > 8192 ||
        (o->c != 1 && o->c != 3))
        return ct_set_error(CT_ERR_ARG, "loader: bad batch %d or image shape %dx%dx%d", o->batch,
                            o->h, o->w, o->c);
    char why[160];
    const char *bad = ct_preprocess_invalid(&o->pre, o->c, 0, why, sizeof why);
    if (bad) return ct_set_error(CT_ERR_ARG, "loader: preprocessing %s %s", bad, why);
    ct_loader *l = calloc(1, sizeof *l);
    if (!l) return ct_set_error(CT_ERR_MEMORY, "loader: out of memory");
    l->o = *o;
    l->n = ds->n;
    l->img_bytes = (size_t)o->h * o->w * o->c;
    l->chw = l->img_bytes;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv_work, NULL);
    pthread_cond_init(&l->cv_done, NULL);
    pthread_cond_init(&l->cv_state, NULL);

    int nw = o->workers;
    if (nw <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        nw = cores > 1 ? (int)cores - 1 : 1;
    }
    if (nw > 256) nw = 256;
    l->n_workers = nw;

    l->paths = calloc((size_t)l->n, sizeof(char *));
    l->msgs = calloc((size_t)l->n, sizeof(char *));
    l->labels = malloc(sizeof(int) * l->n);
    l->bad = calloc((size_t)l->n, 1);
    l->order = malloc(sizeof(int) * l->n);
    l->workers = calloc((size_t)nw, sizeof(pthread_t));
    l->scratch = calloc((size_t)nw, sizeof(uint8_t *));
    if (!l->paths || !l->msgs || !l->labels || !l->bad || !l->order || !l->workers || !l->scratch)
        goto oom;
    for (int i = 0; i < l->n; i++) {
        if (!(l->paths[i] = strdup(ds->paths[i]))) goto oom;
        l->labels[i] = ds->labels[i];
    }
    for (int i = 0; i < nw; i++)
        if (!(l->scratch[i] = malloc(l->img_bytes))) goto oom;
    size_t slot_x = (size_t)o->batch * l->chw;
    for (int s = 0; s < 2; s++) {
        l->x[s] = malloc(slot_x * sizeof(float));
        l->y[s] = malloc(sizeof(int32_t) * o->batch);
        if (!l->x[s] || !l->y[s]) goto oom;
    }
    for (int s = 0; s < 2; s++)
        if (!(l->ok[s] = calloc((size_t)o->batch, 1))) goto oom;

    /* decode-once cache: the first n_cached samples, as many as the cap allows */
    size_t cap = o->cache_mb << 20;
    size_t ncache = l->img_bytes ? cap / l->img_bytes : 0;
    if (ncache > (size_t)l->n) ncache = (size_t)l->n;
    if (ncache > 0) {
        l->cache = malloc(ncache * l->img_bytes);
        if (!l->cache) {
            ct_log(CT_LOG_WARN, "cannot allocate the %zu MB image cache; decoding on the fly",
                   (ncache * l->img_bytes) >> 20);
            ncache = 0;
        }
    }
    l->n_cached = (int)ncache;

    for (int i = 0; i < nw; i++) {
        worker_arg *a = malloc(sizeof *a);
        if (!a) goto oom;
        a->l = l;
        a->id = i;
        if (pthread_create(&l->workers[i], NULL, worker_main, a) != 0) {
            free(a);
            ct_loader_free(l);
            return ct_set_error(CT_ERR_MEMORY, "loader: cannot start worker thread %d", i);
        }
        l->n_started++;
    }

    /* decode every file once: fills the cache and finds the bad files before epoch 1 */
    double t0 = now_s();
    pool_run(l, JOB_VALIDATE, l->n, 0, 0, 0, 0);
    double t_decode = now_s() - t0;
    int good = 0;
    for (int i = 0; i < l->n; i++) {
        if (l->bad[i]) {
            l->bad[i] = 1;
            l->skipped++;
            ct_log(CT_LOG_WARN, "skipping unreadable image: %s", l->msgs[i] ? l->msgs[i] : l->paths[i]);
        } else
            good++;
    }
    if (good == 0) {
        ct_loader_free(l);
        return ct_set_error(CT_ERR_FORMAT,
                            "none of the %d images could be decoded (see the warnings above)", ds->n);
    }
    /* A class left without a readable image would train (or score) as if it did not exist. */
    for (int k = 0; k < ds->n_classes; k++) {
        int files = 0, readable = 0;
        for (int i = 0; i < l->n; i++)
            if (l->labels[i] == k) {
                files++;
                readable += !l->bad[i];
            }
        if (files > 0 && readable == 0) {
            ct_status e = ct_set_error(CT_ERR_FORMAT,
                                       "class '%s' has no readable image (all %d of its files were "
                                       "skipped, see the warnings above); fix or remove them",
                                       ds->class_names[k], files);
            ct_loader_free(l);
            return e;
        }
    }
    if (!o->quiet) {
        char skipped[64] = "";
        if (l->skipped) snprintf(skipped, sizeof skipped, "; %d skipped", l->skipped);
        ct_log(CT_LOG_INFO, "Decoded %d images in %.1f s with %d worker%s (%d in the %.0f MB cache%s)%s.",
               l->n, t_decode, nw, nw == 1 ? "" : "s", l->n_cached,
               (double)l->n_cached * l->img_bytes / 1048576.0,
               l->n_cached < l->n ? ", the rest decoded on the fly" : "", skipped);
    }
    if (pthread_create(&l->coord, NULL, coord_main, l) != 0) {
        ct_loader_free(l);
        return ct_set_error(CT_ERR_MEMORY, "loader: cannot start the producer thread");
    }
    l->coord_started = 1;
    l->n_batches = (good + o->batch - 1) / o->batch;
    *out = l;
    return CT_OK;
oom:
    ct_loader_free(l);
    return ct_set_error(CT_ERR_MEMORY, "loader: out of memory");
}

int ct_loader_batches(const ct_loader *l) {
    ct_loader *m = (ct_loader *)l;
    pthread_mutex_lock(&m->mu);
    int nb = l->n_batches; /* this epoch's (files that failed mid-run leave later epochs) */
    pthread_mutex_unlock(&m->mu);
    return nb;
}

ct_status ct_loader_start_epoch(ct_loader *l, int epoch) {
    pthread_mutex_lock(&l->mu);
    /* a batch being filled still reads the old order: let it finish, then drop it */
    while (l->slot_state[0] == SLOT_FILLING || l->slot_state[1] == SLOT_FILLING)
        pthread_cond_wait(&l->cv_state, &l->mu);
    int m = 0;
    for (int i = 0; i < l->n; i++)
        if (!l->bad[i]) l->order[m++] = i;
    if (l->o.shuffle) {
        ct_rng r;
        ct_rng_seed(&r, l->o.seed, (uint64_t)epoch, UINT64_MAX);
        for (int i = m - 1; i > 0; i--) {
            int j = (int)(ct_rng_next(&r) % (uint64_t)(i + 1));
            int t = l->order[i];
            l->order[i] = l->order[j];
            l->order[j] = t;
        }
    }
    l->n_epoch = m;
    l->n_batches = (m + l->o.batch - 1) / l->o.batch;
    l->epoch = epoch;
    l->next_fill = l->next_consume = 0;
    l->slot_state[0] = l->slot_state[1] = SLOT_FREE;
    l->epoch_active = 1;
    pthread_cond_broadcast(&l->cv_state);
    pthread_mutex_unlock(&l->mu);
    return CT_OK;
}

ct_status ct_loader_next(ct_loader *l, ct_batch *b) {
    memset(b, 0, sizeof *b);
    double t0 = now_s();
    pthread_mutex_lock(&l->mu);
    if (!l->epoch_active) {
        pthread_mutex_unlock(&l->mu);
        return ct_set_error(CT_ERR_ARG, "loader: call ct_loader_start_epoch before ct_loader_next");
    }
    int s = -1;
    for (;;) {
        if (l->next_consume >= l->n_batches) break; /* epoch end: count 0 */
        for (int i = 0; i < 2; i++)
            if (l->slot_state[i] == SLOT_READY && l->slot_batch[i] == l->next_consume) s = i;
        if (s >= 0 && l->slot_count[s] == 0) { /* every sample failed: skip the batch */
            l->slot_state[s] = SLOT_FREE;
            l->next_consume++;
            s = -1;
            pthread_cond_broadcast(&l->cv_state);
            continue;
        }
        if (s >= 0) break;
        if (l->slot_state[0] == SLOT_CONSUMER && l->slot_state[1] == SLOT_CONSUMER) {
            pthread_mutex_unlock(&l->mu);
            return ct_set_error(CT_ERR_ARG,
                                "loader: both batch slots are held: call ct_loader_release first");
        }
        pthread_cond_wait(&l->cv_state, &l->mu);
    }
    if (s >= 0) {
        l->slot_state[s] = SLOT_CONSUMER;
        b->slot = s;
        b->count = l->slot_count[s];
        b->index = l->slot_batch[s];
        b->x = l->x[s];
        b->y = l->y[s];
        l->next_consume++;
    }
    l->wait_s += now_s() - t0;
    pthread_mutex_unlock(&l->mu);
    return CT_OK;
}

void ct_loader_set_shard(ct_loader *l, int parts, int first, int n) {
    pthread_mutex_lock(&l->mu);
    l->shard_parts = parts > 0 ? parts : 0;
    l->shard_first = first;
    l->shard_n = n;
    pthread_mutex_unlock(&l->mu);
}

void ct_loader_batch_rows(const ct_loader *l, const ct_batch *b, int *total, int *row0) {
    ct_loader *m = (ct_loader *)l;
    *total = b->count;
    *row0 = 0;
    if (b->count == 0 || b->slot < 0 || b->slot > 1) return;
    pthread_mutex_lock(&m->mu);
    if (l->shard_parts > 0) {
        *total = l->slot_total[b->slot];
        *row0 = l->slot_row0[b->slot];
    }
    pthread_mutex_unlock(&m->mu);
}

void ct_loader_release(ct_loader *l, const ct_batch *b) {
    if (!b || b->count == 0 || b->slot < 0 || b->slot > 1) return;
    pthread_mutex_lock(&l->mu);
    if (l->slot_state[b->slot] == SLOT_CONSUMER) l->slot_state[b->slot] = SLOT_FREE;
    pthread_cond_broadcast(&l->cv_state);
    pthread_mutex_unlock(&l->mu);
}

int ct_loader_skipped(const ct_loader *l) {
    ct_loader *m = (ct_loader *)l;
    pthread_mutex_lock(&m->mu);
    int s = l->skipped;
    pthread_mutex_unlock(&m->mu);
    return s;
}

double ct_loader_wait_seconds(const ct_loader *l) {
    ct_loader *m = (ct_loader *)l;
    pthread_mutex_lock(&m->mu);
    double w = l->wait_s;
    pthread_mutex_unlock(&m->mu);
    return w;
}
