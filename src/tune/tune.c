/* The tuning stage (tune/tune.h): fills the runtime's tuning table (ops/ops_internal.h)
 * for the op shapes a model uses, from pins, the device's tuning file, or by checking
 * each candidate against its C reference (check/ops_ref.h) and timing the ones that pass. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/ops_ref.h"
#include "io/fileutil.h"
#include "runtime/tensor.h"
#include "tune/tune.h"

#define TUNE_FORMAT "cltrain-tune-2"
#define MAX_CANDS (CT_ALG_COUNT * CT_VARIANT_SUBS)

typedef struct tune_state {
    int loaded;      /* the file was read (or deliberately not) */
    int had_file;    /* a valid file was found */
    const char *why; /* why tuning happens: shown in the progress line */
    signed char checked[CT_OP_COUNT][CT_ALG_COUNT][CT_VARIANT_SUBS]; /* 1 ok, -1 no */
    long timed;
    char path[4200];
} tune_state;

static tune_state *state_get(ct_runtime *rt) {
    void **slot = ct_ops_tune_slot(rt, free);
    if (!slot) return NULL;
    if (!*slot) *slot = calloc(1, sizeof(tune_state));
    return *slot;
}

/* <ct_cache_dir()>/tune-<hash>.txt, keyed like the compile cache: device, driver, platform,
 * usable limits and the kernels' source (changed kernels are timed again). */
static void tune_path(ct_runtime *rt, char *out, size_t n) {
    const char *dir = ct_cache_dir();
    out[0] = 0;
    if (!dir) return;
    const ct_device_info *d = &rt->dev;
    uint64_t src = 0;
    static const char *progs[] = {"gemm", "conv"};
    for (int i = 0; i < 2; i++) {
        const char *text;
        char *owned = NULL;
        if (ct_kernel_source_get(progs[i], &text, &owned) == CT_OK)
            src = ct_hash64(text, strlen(text), src);
        free(owned);
    }
    char id[1200];
    snprintf(id, sizeof id, "%s|%s|%s|%s|%s|wg=%zu|lm=%zu|src=%016llx", TUNE_FORMAT, d->name,
             d->driver, d->platform_name, d->platform_version, rt->max_wg, rt->local_mem,
             (unsigned long long)src);
    snprintf(out, n, "%s/tune-%016llx.txt", dir, (unsigned long long)ct_hash64(id, strlen(id), 3));
}

const char *ct_tune_file(ct_runtime *rt) {
    tune_state *ts = state_get(rt);
    if (!ts) return "";
    if (!ts->path[0]) tune_path(rt, ts->path, sizeof ts->path);
    return ts->path;
}

long ct_tune_timed_runs(ct_runtime *rt) {
    tune_state *ts = state_get(rt);
    return ts ? ts->timed : 0;
}

/* ---- the file ------------------------------------------------------------ */
/* Parses the whole file; 0 and *why on any fault (then nothing of it is used). */
int ct_tune_file_parse(char *text, size_t len, ct_tune_take_fn take, void *ctx, const char **why) {
    size_t fl = strlen(TUNE_FORMAT);
    if (len < fl + 1 || memcmp(text, TUNE_FORMAT "\n", fl + 1))
        return *why = "not a tuning file of this version", 0;
    if (text[len - 1] != '\n') return *why = "truncated", 0;
    text[len - 1] = 0;
    char *last = strrchr(text, '\n');
    text[len - 1] = '\n';
    if (!last || strncmp(last + 1, "checksum ", 9)) return *why = "no checksum line", 0;
    size_t body = (size_t)(last + 1 - text);
    char sum[32];
    snprintf(sum, sizeof sum, "%016llx", (unsigned long long)ct_hash64(text, body, 0));
    if (len - body != 9 + 16 + 1 || strncmp(last + 10, sum, 16))
        return *why = "checksum mismatch (edited?)", 0;
    text[body] = 0;
    char *save = NULL, *line = strtok_r(text, "\n", &save);
    if (!line || strcmp(line, TUNE_FORMAT)) return *why = "another format or version", 0;
    line = strtok_r(NULL, "\n", &save);
    if (!line || strncmp(line, "device ", 7)) return *why = "no device line", 0;
    /* two passes: validate everything, then take it */
    char *lines[4096];
    int nl = 0;
    while ((line = strtok_r(NULL, "\n", &save))) {
        if (nl == (int)(sizeof lines / sizeof lines[0])) return *why = "too many entries", 0;
        lines[nl++] = line;
    }
    ct_op_kind ops[4096];
    ct_variant vs[4096];
    for (int i = 0; i < nl; i++) {
        char *eq = strrchr(lines[i], '=');
        if (!eq) return *why = "a line without '='", 0;
        *eq = 0;
        if (!ct_op_key_parse(lines[i], &ops[i])) return *why = "an unknown op key", 0;
        if (ct_variant_parse(ops[i], eq + 1, &vs[i]) != CT_OK)
            return *why = "a variant that does not exist for its key", 0;
    }
    for (int i = 0; i < nl; i++)
        if (take(ctx, lines[i], ops[i], vs[i]) != CT_OK) return *why = "memory", 0;
    return 1;
}

static ct_status table_take(void *rt, const char *key, ct_op_kind op, ct_variant v) {
    return ct_table_set(rt, key, op, v, CT_SRC_FILE);
}
static int parse_file(ct_runtime *rt, char *text, size_t len, const char **why) {
    return ct_tune_file_parse(text, len, table_take, rt, why);
}

static void load_file(ct_runtime *rt, tune_state *ts) {
    const char *path = ct_tune_file(rt);
    ts->why = "first run on this device";
    if (!path[0]) return;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno != ENOENT)
            ct_log(CT_LOG_WARN, "tuning file %s unreadable (%s): tuning again", path,
                   strerror(errno));
        return;
    }
    fclose(f);
    unsigned char *buf = NULL;
    size_t len = 0;
    const char *why = NULL;
    if (ct_read_file(path, (size_t)16 << 20, &buf, &len) != CT_OK)
        why = ct_last_error();
    else if (parse_file(rt, (char *)buf, len, &why))
        ts->had_file = 1;
    free(buf);
    if (!ts->had_file) {
        ct_table_drop(rt, CT_SRC_FILE);
        ct_log(CT_LOG_WARN, "tuning file %s ignored (%s): tuning again", path, why);
        ts->why = "tuning file ignored";
    } else {
        ts->why = "new op shapes";
    }
}

static void save_file(ct_runtime *rt) {
    const char *path = ct_tune_file(rt);
    if (!path[0]) return;
    size_t cap = 256, len = 0;
    char *s = malloc(cap);
    if (!s) return;
    len = (size_t)snprintf(s, cap, "%s\ndevice %s\n", TUNE_FORMAT, rt->dev.name);
    if (len >= cap) len = cap - 1;
    for (int i = 0; i < ct_table_count(rt); i++) {
        ct_table_entry *e = ct_table_at(rt, i);
        if (e->src != CT_SRC_FILE && e->src != CT_SRC_TUNED) continue;
        char nm[64], line[256];
        int l = snprintf(line, sizeof line, "%s=%s\n", e->key,
                         ct_variant_name(e->op, e->keep_file ? e->file_v : e->v, nm, sizeof nm));
        if (l <= 0 || (size_t)l >= sizeof line) continue;
        if (len + (size_t)l + 64 > cap) {
            char *t = realloc(s, cap * 2 + (size_t)l + 64);
            if (!t) {
                free(s);
                return;
            }
            s = t;
            cap = cap * 2 + (size_t)l + 64;
        }
        memcpy(s + len, line, (size_t)l);
        len += (size_t)l;
    }
    len += (size_t)snprintf(s + len, cap - len, "checksum %016llx\n",
                            (unsigned long long)ct_hash64(s, len, 0));
    /* a read-only cache only costs tuning again next time */
    if (ct_write_atomic_buf(path, s, len) != CT_OK)
        ct_log(CT_LOG_WARN, "tuning file not saved: %s", ct_last_error());
    free(s);
}

/* ---- checking and timing ------------------------------------------------- */
static int checked_ok(ct_runtime *rt, tune_state *ts, ct_op_kind op, ct_variant v) {
    signed char *c = &ts->checked[op][v.alg][v.sub];
    if (!*c) *c = ct_check_variant(rt, op, v) == 1 ? 1 : -1;
    return *c > 0;
}

typedef struct {
    ct_op_kind op;
    char key[160];
    ct_conv_plan *plan;
    int ta, tb, M, N, K;
    int keep;         /* the file's entry stays in the file (keep_v): see ct_tune_items */
    ct_variant keep_v;
} task;

typedef struct {
    cl_mem m[10];
    int n;
} bufs;

static ct_status buf_new(ct_runtime *rt, bufs *b, size_t floats) {
    size_t bytes = (floats ? floats : 1) * sizeof(float);
    CT_TRY(ct_buffer_create(rt, "tuning buffer", bytes, CL_MEM_READ_WRITE, &b->m[b->n]));
    b->n++;
    return ct_fill(rt, b->m[b->n - 1], 0, bytes, 0.25f);
}
static void bufs_free(bufs *b) {
    for (int i = 0; i < b->n; i++)
        clReleaseMemObject(b->m[i]);
}

static ct_status run_task(ct_runtime *rt, const task *t, const ct_variant *v, int nt, bufs *b) {
    cl_mem *m = b->m;
    switch (t->op) {
    case CT_OP_GEMM:
        return ct_gemm_run(rt, *v, t->ta, t->tb, t->M, t->N, t->K, 1.0f, m[0], 0,
                           t->ta ? t->M : t->K, m[1], 0, t->tb ? t->K : t->N, 0.0f, m[2], 0, t->N);
    case CT_OP_CONV_FWD: /* with the pool when the layer fuses one (timed together) */
        if (ct_conv_plan_desc(t->plan)->pool)
            return ct_conv_forward_pool(t->plan, nt, m[0], m[1], m[2], m[3], m[7], m[8]);
        return ct_conv_forward(t->plan, nt, m[0], m[1], m[2], m[3]);
    case CT_OP_CONV_BWD_DATA:
        return ct_conv_backward_data(t->plan, nt, m[3], m[1], m[4]);
    default:
        return ct_conv_backward_weights(t->plan, nt, m[0], m[3], m[5], m[6]);
    }
}

#define FINALISTS CT_TUNE_FINALISTS
#define FINAL_RATIO 1.5 /* within this factor of the screening's best */

int ct_tune_finalists(const double *score, int nc, int fin[CT_TUNE_FINALISTS]) {
    double best = INFINITY;
    int nf = 0;
    for (int i = 0; i < nc; i++)
        if (score[i] < best) best = score[i];
    for (int i = 0; i < nc; i++) {
        if (!(score[i] < INFINITY && score[i] <= FINAL_RATIO * best)) continue; /* and NaN */
        int at = nf;
        while (at > 0 && score[fin[at - 1]] > score[i]) at--;
        if (at >= FINALISTS) continue;
        if (nf < FINALISTS) nf++;
        for (int k = nf - 1; k > at; k--) fin[k] = fin[k - 1];
        fin[at] = i;
    }
    return nf < 2 ? 0 : nf; /* one alone: nothing to decide */
}

/* One timed run of candidate v on nt items (forced on the plan first): its seconds, or
 * INFINITY when the variant cannot be forced or fails to run. */
static double time_once(ct_runtime *rt, tune_state *ts, const task *t, const ct_variant *v,
                        int nt, bufs *b) {
    if (t->plan && ct_conv_plan_force(t->plan, t->op - 1, v) != CT_OK) return INFINITY;
    double t0 = ct_now();
    if (run_task(rt, t, v, nt, b) != CT_OK || clFinish(rt->q) != CL_SUCCESS) return INFINITY;
    ts->timed++;
    return ct_now() - t0;
}

/* The buffers of a task at n items (n = 1 for a GEMM, whose sizes are its own). */
static ct_status task_bufs(ct_runtime *rt, const task *t, int n, bufs *b) {
    ct_status s = CT_OK;
    if (t->op == CT_OP_GEMM) {
        if ((s = buf_new(rt, b, (size_t)t->M * t->K)) == CT_OK &&
            (s = buf_new(rt, b, (size_t)t->K * t->N)) == CT_OK)
            s = buf_new(rt, b, (size_t)t->M * t->N);
        return s;
    }
    const ct_conv_desc *d = ct_conv_plan_desc(t->plan);
    size_t nx = (size_t)n * d->cin * d->h * d->w;
    size_t ny = (size_t)n * d->cout * d->oh * d->ow;
    size_t nw = (size_t)d->cout * d->cin * d->k * d->k;
    size_t sz[7] = {nx, nw, (size_t)d->cout, ny, nx, nw, (size_t)d->cout};
    for (int i = 0; i < 7 && s == CT_OK; i++)
        s = buf_new(rt, b, sz[i]);
    if (s == CT_OK && d->pool) /* the pooled output and its index (bytes: fewer floats) */
        for (int i = 0; i < 2 && s == CT_OK; i++)
            s = buf_new(rt, b, (size_t)n * d->cout * (d->oh / 2) * (d->ow / 2));
    return s;
}

/* The final at the layer's own batch: the screening's few items can misjudge how a
 * kernel's working set meets the caches (implicit-dot on Model 2's conv3 backward-
 * weights: level with the fused Winograd at 8 items, 2x slower at 64). Its buffers are
 * made only now, so the screening stays small; when they do not fit, or every finalist
 * fails at this size, there is no final (returns 0) and the screening decides. */
static int tune_final(ct_runtime *rt, tune_state *ts, const task *t, const ct_variant *cands,
                      const int *fin, int nf, int nfull, double *fs) {
    bufs b = {0};
    int ok = 0;
    if (task_bufs(rt, t, nfull, &b) == CT_OK) {
        for (int k = 0; k < nf; k++) fs[k] = INFINITY;
        for (int rep = 0; rep < 3; rep++) /* rep 0 warms the caches at this size */
            for (int k = 0; k < nf; k++) {
                if (fs[k] < 0) continue;
                double tt = time_once(rt, ts, t, &cands[fin[k]], nfull, &b);
                if (tt == INFINITY) fs[k] = -1; /* fails at the full batch: out of the final */
                else if (rep > 0 && tt < fs[k]) fs[k] = tt;
            }
        for (int k = 0; k < nf; k++) ok |= fs[k] >= 0 && fs[k] < INFINITY;
    }
    bufs_free(&b);
    return ok;
}

/* Each candidate that passed its check: one run that compiles (PoCL builds a kernel per
 * local size at its first launch, 0.3-2 s, so it is never timed), one timed run; clearly
 * slow ones stop there. Then the survivors are timed in turns, so a burst of load on the
 * shared machine hits them all alike; the minimum counts. The screening runs at the
 * plan's tuning batch, then a final at the layer's batch (tune_final). */
static ct_status tune_task(ct_runtime *rt, tune_state *ts, const task *t, ct_variant *best_v) {
    ct_variant cands[MAX_CANDS];
    int nc, nt = 1, nfull = 1;
    bufs b = {0};
    ct_status s = CT_OK;
    if (t->op == CT_OP_GEMM) {
        *best_v = ct_gemm_variant_default(rt, t->ta, t->tb, t->M, t->N, t->K);
        nc = ct_gemm_candidates(rt, t->ta, t->tb, cands, MAX_CANDS);
    } else {
        int pass = t->op - 1;
        *best_v = ct_conv_plan_default(t->plan, pass);
        nc = ct_conv_plan_candidates(t->plan, pass, cands, MAX_CANDS);
        nt = ct_conv_plan_tune_batch(t->plan);
        nfull = ct_conv_plan_desc(t->plan)->n;
    }
    if ((s = task_bufs(rt, t, nt, &b)) != CT_OK) goto done;
    double score[MAX_CANDS], best = INFINITY;
    int alive[MAX_CANDS];
    for (int i = 0; i < nc; i++) {
        score[i] = INFINITY;
        alive[i] = 0;
        if (!checked_ok(rt, ts, t->op, cands[i])) continue;
        double tt = INFINITY;
        for (int rep = 0; rep < 2; rep++) {
            tt = time_once(rt, ts, t, &cands[i], nt, &b);
            if (tt == INFINITY || (rep == 0 && tt > 2.5)) break; /* slow even with the compile */
        }
        score[i] = tt;
        alive[i] = tt < INFINITY && tt <= 3 * best + 0.05 && tt <= 0.25;
        if (tt < best) best = tt;
    }
    for (int rep = 0; rep < 3; rep++)
        for (int i = 0; i < nc; i++) {
            if (!alive[i] || score[i] > 3 * best + 0.05) continue;
            double tt = time_once(rt, ts, t, &cands[i], nt, &b);
            if (tt == INFINITY) {
                score[i] = INFINITY;
                alive[i] = 0;
                continue;
            }
            if (tt < score[i]) score[i] = tt;
            if (tt < best) best = tt;
        }
    bufs_free(&b);
    b.n = 0;
    int fin[FINALISTS], nf = 0;
    double fs[FINALISTS];
    if (t->plan && nfull > nt && best < INFINITY) {
        nf = ct_tune_finalists(score, nc, fin);
        if (nf && !tune_final(rt, ts, t, cands, fin, nf, nfull, fs)) nf = 0;
    }
    double bs = INFINITY;
    const char *show = getenv("CLTRAIN_TUNE_SHOW"); /* each candidate's best time, to stderr */
    for (int i = 0; show && *show == '1' && i < nc; i++) {
        char nm[64];
        fprintf(stderr, "tune %s: %s %.3f ms\n", t->key, ct_variant_name(t->op, cands[i], nm,
                sizeof nm), score[i] * 1e3);
    }
    for (int k = 0; show && *show == '1' && k < nf; k++) {
        char nm[64];
        fprintf(stderr, "tune %s: final at n%d: %s %.3f ms\n", t->key, nfull,
                ct_variant_name(t->op, cands[fin[k]], nm, sizeof nm), fs[k] * 1e3);
    }
    for (int i = 0; i < nc && !nf; i++)
        if (score[i] < bs) {
            bs = score[i];
            *best_v = cands[i];
        }
    for (int k = 0; k < nf; k++)
        if (fs[k] >= 0 && fs[k] < bs) {
            bs = fs[k];
            *best_v = cands[fin[k]];
        }
done:
    if (t->plan) ct_conv_plan_force(t->plan, t->op - 1, NULL);
    bufs_free(&b);
    return s;
}

static int task_fits(ct_runtime *rt, const task *t, ct_variant v) {
    if (!ct_variant_valid(t->op, v)) return 0;
    if (t->op == CT_OP_GEMM) return ct_gemm_variant_fits(rt, t->ta, t->tb, v);
    return ct_conv_plan_fits(t->plan, t->op - 1, v);
}

static ct_variant task_default(ct_runtime *rt, const task *t) {
    if (t->op == CT_OP_GEMM) return ct_gemm_variant_default(rt, t->ta, t->tb, t->M, t->N, t->K);
    return ct_conv_plan_default(t->plan, t->op - 1);
}

ct_status ct_tune_items(ct_runtime *rt, const ct_tune_item *items, int n) {
    if (n < 0 || (n > 0 && !items)) return ct_set_error(CT_ERR_ARG, "ct_tune_items: no items");
    tune_state *ts = state_get(rt);
    if (!ts) return ct_set_error(CT_ERR_MEMORY, "out of host memory (tuning state)");
    int det = (rt->flags & CT_RT_DETERMINISTIC) != 0;
    task *tasks = calloc((size_t)n * 3 + 1, sizeof *tasks);
    int *todo = calloc((size_t)n * 3 + 1, sizeof *todo);
    ct_status s = CT_OK;
    int nt = 0, ntodo = 0;
    if (!tasks || !todo) {
        s = ct_set_error(CT_ERR_MEMORY, "out of host memory (tuning)");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        const ct_tune_item *it = &items[i];
        if (it->kind == CT_TUNE_CONV) {
            if (!it->plan) {
                s = ct_set_error(CT_ERR_ARG, "ct_tune_items: item %d has no conv plan", i);
                goto done;
            }
            static const int passes[3] = {CT_CONV_FWD, CT_CONV_BWD_WEIGHTS, CT_CONV_BWD_DATA};
            for (int k = 0; k < (it->need_bwd_data ? 3 : 2); k++) {
                task *t = &tasks[nt++];
                t->op = CT_OP_OF_PASS(passes[k]);
                t->plan = it->plan;
                ct_conv_key(ct_conv_plan_desc(it->plan), passes[k], t->key, sizeof t->key);
            }
        } else if (it->kind == CT_TUNE_GEMM) {
            if (it->M < 0 || it->N < 0 || it->K < 0) {
                s = ct_set_error(CT_ERR_ARG, "ct_tune_items: item %d: negative GEMM size", i);
                goto done;
            }
            task *t = &tasks[nt++];
            t->op = CT_OP_GEMM;
            t->ta = it->ta != 0, t->tb = it->tb != 0, t->M = it->M, t->N = it->N, t->K = it->K;
            ct_gemm_key(t->ta, t->tb, t->M, t->N, t->K, t->key, sizeof t->key);
        } else {
            s = ct_set_error(CT_ERR_ARG, "ct_tune_items: item %d: unknown kind %d", i,
                             (int)it->kind);
            goto done;
        }
    }
    if (!det && !ts->loaded) {
        ts->loaded = 1;
        /* CLTRAIN_RETUNE=1: time every shape again (e.g. after tuning on a busy machine) */
        const char *re = getenv("CLTRAIN_RETUNE");
        if (re && *re == '1')
            ts->why = "CLTRAIN_RETUNE=1";
        else
            load_file(rt, ts);
    }
    for (int i = 0; i < nt; i++) {
        task *t = &tasks[i];
        int dup = 0;
        for (int j = 0; j < i && !dup; j++)
            dup = !strcmp(tasks[j].key, t->key);
        if (dup) continue;
        ct_table_entry *e = ct_table_find_run(rt, t->key);
        char nm[64];
        if (e && e->src == CT_SRC_PINNED) {
            if (!task_fits(rt, t, e->v))
                ct_log(CT_LOG_WARN, "pinned variant %s for %s cannot run on %s: the default runs",
                       ct_variant_name(e->op, e->v, nm, sizeof nm), t->key, rt->dev.name);
            continue;
        }
        if (det) {
            if ((s = ct_table_set(rt, t->key, t->op, task_default(rt, t), CT_SRC_DEFAULT)) != CT_OK)
                goto done;
            if ((e = ct_table_find(rt, t->key))) e->given = 1;
            continue;
        }
        if (e && (e->src == CT_SRC_FILE || e->src == CT_SRC_TUNED) && e->op == t->op) {
            if (task_fits(rt, t, e->v)) {
                e->given = 1;
                continue;
            }
            if (t->plan && !ct_conv_plan_has_workspace(t->plan)) {
                /* this run's limit, not the file's fault (a workspace refused under memory
                 * pressure): choose for this run, and keep the file's entry for the runs
                 * after, which would otherwise read the direct kernel from it */
                ct_log(CT_LOG_WARN, "tuning file %s: %s=%s needs the conv workspace this run "
                       "could not allocate: tuning it for this run only (the file keeps it)",
                       ct_tune_file(rt), t->key, ct_variant_name(e->op, e->v, nm, sizeof nm));
                t->keep = 1;
                t->keep_v = e->v;
            } else {
                ct_log(CT_LOG_WARN, "tuning file %s: %s=%s does not fit its key here: tuning "
                       "it again", ct_tune_file(rt), t->key,
                       ct_variant_name(e->op, e->v, nm, sizeof nm));
            }
        }
        todo[ntodo++] = i;
    }
    if (ntodo) {
        double t0 = ct_now();
        for (int k = 0; k < ntodo; k++) {
            task *t = &tasks[todo[k]];
            ct_log(CT_LOG_INFO, "Tuning kernels for %s (%s): %d of %d %s", rt->dev.name,
                   ts->why ? ts->why : "new op shapes", k + 1, ntodo, t->key);
            ct_variant v;
            if ((s = tune_task(rt, ts, t, &v)) != CT_OK) goto done;
            if ((s = ct_table_set(rt, t->key, t->op, v, CT_SRC_TUNED)) != CT_OK) goto done;
            ct_table_entry *e = ct_table_find(rt, t->key);
            if (e) {
                e->given = 1;
                e->keep_file = t->keep;
                e->file_v = t->keep_v;
            }
        }
        ct_log(CT_LOG_INFO, "Tuned %d op shapes on %s in %.1f s", ntodo, rt->dev.name,
               ct_now() - t0);
        ts->why = "new op shapes";
        save_file(rt);
    }
done:
    free(tasks);
    free(todo);
    return s;
}

/* ---- recording ----------------------------------------------------------- */
char *ct_tune_used_json(ct_runtime *rt) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    for (int i = 0; i < ct_table_count(rt); i++) {
        ct_table_entry *e = ct_table_at(rt, i);
        if (!e->used && !e->given && e->src != CT_SRC_PINNED) continue;
        char nm[64];
        cJSON_AddStringToObject(o, e->key, ct_variant_name(e->op, e->v, nm, sizeof nm));
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

ct_status ct_tune_pin_json(ct_runtime *rt, const char *json) {
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return ct_set_error(CT_ERR_FORMAT, "pinned kernel choices: not a JSON object");
    }
    ct_status s = CT_OK;
    for (int pass = 0; pass < 2 && s == CT_OK; pass++) /* check all, then take all */
        for (cJSON *it = o->child; it && s == CT_OK; it = it->next) {
            ct_op_kind op;
            ct_variant v;
            if (!it->string || !ct_op_key_parse(it->string, &op))
                s = ct_set_error(CT_ERR_FORMAT, "pinned kernel choices: \"%s\" is not an op key",
                                 it->string ? it->string : "");
            else if (!cJSON_IsString(it) || !it->valuestring)
                s = ct_set_error(CT_ERR_FORMAT, "pinned kernel choices: %s: not a variant name",
                                 it->string);
            else if (ct_variant_parse(op, it->valuestring, &v) != CT_OK)
                s = ct_set_error(CT_ERR_FORMAT,
                                 "pinned kernel choices: %s: \"%s\" is not a %s variant",
                                 it->string, it->valuestring, ct_op_kind_name(op));
            else if (pass == 1 &&
                     (s = ct_table_set(rt, it->string, op, v, CT_SRC_PINNED)) == CT_OK) {
                ct_table_entry *e = ct_table_find(rt, it->string);
                if (e) e->given = 1;
            }
        }
    cJSON_Delete(o);
    return s;
}
