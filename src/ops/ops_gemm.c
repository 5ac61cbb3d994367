/* ct_gemm and the GEMM kernel variants: the portable 4x4 kernel, register-blocked
 * float-vector kernels for CPUs, a local-memory tiled kernel for GPUs, and CLBlast.
 * Also the runtime's op state and its tuning table (key -> variant), which ct_gemm and
 * the conv plans read; src/tune/ fills it. Nothing here checks or times a variant. */
#include <clblast_c.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/parse.h"
#include "ops/ops_internal.h"
#include "runtime/tensor.h"

typedef struct {
    const char *name, *kernel, *opts;
    int rm, bw, unit_bj; /* unit_bj 2: the dot kernel (as_k == bs_k == 1) */
} gk_desc;

static const gk_desc gk[CT_GK_COUNT] = {
    [CT_GK_SIMPLE] = {"simple", "gemm_simple", NULL, 4, 4, 0},
    [CT_GK_BLK6x32] = {"blk6x32", "gemm_blk", "-DCT_PROG=1 -DRM=6 -DNV=2 -DVW=16", 6, 32, 1},
    [CT_GK_BLK8x32] = {"blk8x32", "gemm_blk", "-DCT_PROG=1 -DRM=8 -DNV=2 -DVW=16", 8, 32, 1},
    [CT_GK_BLK4x16] = {"blk4x16", "gemm_blk", "-DCT_PROG=1 -DRM=4 -DNV=1 -DVW=16", 4, 16, 1},
    [CT_GK_BLK4x8] = {"blk4x8", "gemm_blk", "-DCT_PROG=1 -DRM=4 -DNV=1 -DVW=8", 4, 8, 1},
    [CT_GK_TILED] = {"tiled", "gemm_tiled", NULL, 0, 0, 0},
    [CT_GK_NT4x16] = {"nt4x16", "gemm_nt", "-DCT_PROG=3 -DNR=4 -DVW=16", 4, 4, 2},
    [CT_GK_NT4x8] = {"nt4x8", "gemm_nt", "-DCT_PROG=3 -DNR=4 -DVW=8", 4, 4, 2},
};

struct ct_ops_state {
    cl_kernel k[CT_GK_COUNT];
    char tiled_opts[96];
    int tiled_ts, tiled_wpt; /* tile size, rows per work-item */
    cl_kernel transpose, sum_parts;
    cl_mem ws;                    /* packing workspace for transposed B */
    size_t ws_bytes;
    ct_table_entry *tab;
    int n_tab, cap_tab;
    int force_on;
    ct_variant force; /* force_on: ct_gemm runs this variant (tests, benchmarks) */
    int conv_force_on[3];
    ct_variant conv_force[3];
    void *tune; /* the tuning stage's state */
    void (*tune_free)(void *);
};

void ct_gemm_force(ct_runtime *rt, const ct_variant *v) {
    ct_ops_state *st;
    if (ct_ops_state_get(rt, &st) != CT_OK) return;
    st->force_on = v != NULL;
    if (v) st->force = *v;
}
void ct_conv_force(ct_runtime *rt, int pass, const ct_variant *v) {
    ct_ops_state *st;
    if (pass < 0 || pass > 2 || ct_ops_state_get(rt, &st) != CT_OK) return;
    st->conv_force_on[pass] = v != NULL;
    if (v) st->conv_force[pass] = *v;
}
int ct_conv_forced_(ct_runtime *rt, int pass, ct_variant *v) {
    ct_ops_state *st;
    if (ct_ops_state_get(rt, &st) != CT_OK || !st->conv_force_on[pass]) return 0;
    *v = st->conv_force[pass];
    return 1;
}

void **ct_ops_tune_slot(ct_runtime *rt, void (*free_fn)(void *)) {
    ct_ops_state *st;
    if (ct_ops_state_get(rt, &st) != CT_OK) return NULL;
    st->tune_free = free_fn;
    return &st->tune;
}

/* ---- the tuning table -------------------------------------------------------------- */
ct_table_entry *ct_table_find(ct_runtime *rt, const char *key) {
    ct_ops_state *st;
    if (ct_ops_state_get(rt, &st) != CT_OK) return NULL;
    for (int i = 0; i < st->n_tab; i++)
        if (!strcmp(st->tab[i].key, key)) return &st->tab[i];
    return NULL;
}

ct_table_entry *ct_table_find_run(ct_runtime *rt, const char *key) {
    static const char pool[] = CT_KEY_POOL2;
    ct_table_entry *e = ct_table_find(rt, key);
    size_t n = strlen(key), pl = sizeof pool - 1;
    char base[sizeof e->key];
    if ((e && e->src == CT_SRC_PINNED) || n <= pl || n - pl >= sizeof base ||
        strcmp(key + n - pl, pool))
        return e;
    memcpy(base, key, n - pl);
    base[n - pl] = 0;
    ct_table_entry *b = ct_table_find(rt, base);
    if (!b || b->src != CT_SRC_PINNED || b->op != CT_OP_CONV_FWD) return e;
    ct_op_kind op = b->op; /* copied: ct_table_set may move the table */
    ct_variant v = b->v;
    if (ct_table_set(rt, key, op, v, CT_SRC_PINNED) != CT_OK) return e;
    e = ct_table_find(rt, key);
    if (e) e->given = 1;
    return e;
}

ct_status ct_table_set(ct_runtime *rt, const char *key, ct_op_kind op, ct_variant v,
                       ct_tune_src src) {
    ct_ops_state *st;
    CT_TRY(ct_ops_state_get(rt, &st));
    if (strlen(key) >= sizeof st->tab[0].key)
        return ct_set_error(CT_ERR_FORMAT, "op key too long: %.60s...", key);
    ct_table_entry *e = ct_table_find(rt, key);
    if (e) {
        if (e->src == CT_SRC_PINNED && src != CT_SRC_PINNED) return CT_OK;
    } else {
        if (st->n_tab == st->cap_tab) {
            int nc = st->cap_tab ? st->cap_tab * 2 : 32;
            ct_table_entry *t = realloc(st->tab, (size_t)nc * sizeof *t);
            if (!t) return ct_set_error(CT_ERR_MEMORY, "out of host memory (tuning table)");
            st->tab = t;
            st->cap_tab = nc;
        }
        e = &st->tab[st->n_tab++];
        memset(e, 0, sizeof *e);
        snprintf(e->key, sizeof e->key, "%s", key);
    }
    e->op = op;
    e->v = v;
    e->src = src;
    e->keep_file = 0;
    return CT_OK;
}

int ct_table_count(ct_runtime *rt) {
    ct_ops_state *st;
    return ct_ops_state_get(rt, &st) == CT_OK ? st->n_tab : 0;
}
ct_table_entry *ct_table_at(ct_runtime *rt, int i) {
    ct_ops_state *st;
    if (ct_ops_state_get(rt, &st) != CT_OK || i < 0 || i >= st->n_tab) return NULL;
    return &st->tab[i];
}
void ct_table_drop(ct_runtime *rt, ct_tune_src src) {
    ct_ops_state *st;
    if (ct_ops_state_get(rt, &st) != CT_OK) return;
    int o = 0;
    for (int i = 0; i < st->n_tab; i++)
        if (st->tab[i].src != src) st->tab[o++] = st->tab[i];
    st->n_tab = o;
}

int ct_gemm_kernel_wi(int v, int M, int N) {
    if (v == CT_GK_TILED) return (M + 15) / 16 * ((N + 15) / 16) * 64; /* roughly */
    return (M + gk[v].rm - 1) / gk[v].rm * ((N + gk[v].bw - 1) / gk[v].bw);
}

int ct_gemm_kernel_fits(int v, const ct_gemm_job *j) {
    if (gk[v].unit_bj == 1) return j->bs_j == 1;
    if (gk[v].unit_bj == 2) return j->as_k == 1 && j->bs_k == 1;
    return 1;
}

static void ops_state_free(void *p) {
    ct_ops_state *st = p;
    if (!st) return;
    for (int i = 0; i < CT_GK_COUNT; i++)
        if (st->k[i]) clReleaseKernel(st->k[i]);
    if (st->transpose) clReleaseKernel(st->transpose);
    if (st->sum_parts) clReleaseKernel(st->sum_parts);
    if (st->ws) clReleaseMemObject(st->ws);
    free(st->tab);
    if (st->tune && st->tune_free) st->tune_free(st->tune);
    free(st);
}

/* GPU tile: TS x TS tile of C per work-group, TS/WPT x TS work-items, 2 TS x TS float
 * tiles of local memory; the largest that fits rt->max_wg and rt->local_mem. */
static void tiled_size(ct_runtime *rt, int *ts, int *wpt) {
    *ts = 0;
    *wpt = 0;
    static const int cand[][2] = {{64, 8}, {64, 16}, {32, 4},  {32, 8}, {32, 16},
                                  {16, 4}, {16, 8},  {16, 16}, {8, 8}};
    for (size_t i = 0; i < sizeof cand / sizeof cand[0]; i++) {
        size_t wg = (size_t)cand[i][0] / cand[i][1] * cand[i][0];
        size_t lm = (2 * (size_t)cand[i][0] + 1) * cand[i][0] * sizeof(float);
        if (wg <= rt->max_wg && lm <= rt->local_mem) {
            *ts = cand[i][0];
            *wpt = cand[i][1];
            return;
        }
    }
}

ct_status ct_ops_state_get(ct_runtime *rt, ct_ops_state **out) {
    if (!rt->ops) {
        ct_ops_state *st = calloc(1, sizeof *st);
        if (!st) return ct_set_error(CT_ERR_MEMORY, "out of host memory (ops state)");
        tiled_size(rt, &st->tiled_ts, &st->tiled_wpt);
        snprintf(st->tiled_opts, sizeof st->tiled_opts, "-DCT_PROG=2 -DTS=%d -DWPT=%d",
                 st->tiled_ts, st->tiled_wpt);
        ct_status s = ct_kernel_create(rt, "gemm", "transpose", NULL, &st->transpose);
        if (s == CT_OK) s = ct_kernel_create(rt, "gemm", "sum_parts", NULL, &st->sum_parts);
        if (s != CT_OK) {
            ops_state_free(st);
            return s;
        }
        rt->ops = st;
        rt->ops_free = ops_state_free;
    }
    *out = rt->ops;
    return CT_OK;
}

static ct_status kernel_get(ct_runtime *rt, ct_ops_state *st, int v, cl_kernel *out);

int ct_gemm_kernel_usable(ct_runtime *rt, int v) {
    if (v < 0 || v >= CT_GK_COUNT) return 0;
    if (v == CT_GK_TILED) {
        ct_ops_state *st;
        cl_kernel k;
        size_t kmax = 0;
        if (ct_ops_state_get(rt, &st) != CT_OK || st->tiled_ts <= 0) return 0;
        /* the tile fixes the work-group size: the compiled kernel must allow it */
        if (kernel_get(rt, st, v, &k) != CT_OK ||
            clGetKernelWorkGroupInfo(k, rt->dev.did, CL_KERNEL_WORK_GROUP_SIZE, sizeof kmax,
                                     &kmax, NULL) != CL_SUCCESS)
            return 0;
        return kmax >= (size_t)st->tiled_ts * st->tiled_ts / st->tiled_wpt;
    }
    return 1;
}

int ct_gemm_kernel_default(ct_runtime *rt) {
    if (rt->dev.type & CL_DEVICE_TYPE_GPU)
        return ct_gemm_kernel_usable(rt, CT_GK_TILED) ? CT_GK_TILED : CT_GK_SIMPLE;
    return CT_GK_BLK6x32;
}

/* Work-group of the register-blocked kernels: all row blocks of one column panel, so
 * the panel is read into one core's cache once and reused by every row block (PoCL runs
 * a work-group's items in sequence on one core). Capped to keep the compiled variants
 * (one per local size) few. */
static size_t blk_lws(int row_blocks) {
    static long e = -1; /* read once (ops run on the host thread only) */
    if (e < 0) e = ct_env_long("CLTRAIN_BLK_LWS", 1, 4096, 0); /* for measuring only */
    if (e > 0) return (size_t)e;
    size_t l = 1;
    while (l < (size_t)row_blocks && l < 16) l *= 2;
    return l;
}

static ct_status kernel_get(ct_runtime *rt, ct_ops_state *st, int v, cl_kernel *out) {
    if (!st->k[v]) {
        const char *opts = v == CT_GK_TILED ? st->tiled_opts : gk[v].opts;
        CT_TRY(ct_kernel_create(rt, "gemm", gk[v].kernel, opts, &st->k[v]));
    }
    *out = st->k[v];
    return CT_OK;
}

ct_status ct_ops_launch(ct_runtime *rt, cl_kernel k, cl_uint dims, const size_t *g, size_t l0,
                        size_t l1) {
    size_t max = rt->max_wg ? rt->max_wg : 1, kmax = 0;
    /* a kernel may allow fewer work-items than the device (registers, local memory) */
    if (clGetKernelWorkGroupInfo(k, rt->dev.did, CL_KERNEL_WORK_GROUP_SIZE, sizeof kmax, &kmax,
                                 NULL) == CL_SUCCESS && kmax > 0 && kmax < max)
        max = kmax;
    if (dims < 2) l1 = 1;
    while (l0 * l1 > max) {
        if (l0 >= l1) l0 = (l0 + 1) / 2;
        else l1 = (l1 + 1) / 2;
    }
    size_t l[3] = {l0, l1, 1};
    return ct_launch(rt, k, dims, g, l);
}

ct_status ct_gemm_job_run(ct_runtime *rt, int v, const ct_gemm_job *j) {
    if (j->M <= 0 || j->N <= 0 || j->nbatch <= 0) return CT_OK;
    if (!ct_gemm_kernel_usable(rt, v))
        return ct_set_error(CT_ERR_INTERNAL, "gemm variant %s not usable on this device",
                            ct_gemm_kernel_name(v));
    if (!ct_gemm_kernel_fits(v, j))
        return ct_set_error(CT_ERR_INTERNAL, "gemm variant %s does not fit these strides",
                            ct_gemm_kernel_name(v));
    ct_ops_state *st;
    CT_TRY(ct_ops_state_get(rt, &st));
    cl_kernel k;
    CT_TRY(kernel_get(rt, st, v, &k));
    int use_bias = j->bias != NULL;
    cl_mem bias = j->bias ? j->bias : j->C; /* any valid buffer; not read without use_bias */
    CT_TRY(ct_set_args(k, 24, sizeof j->M, &j->M, sizeof j->N, &j->N, sizeof j->K, &j->K,
                       sizeof j->alpha, &j->alpha, sizeof j->A, &j->A, sizeof j->a_off, &j->a_off,
                       sizeof j->as_i, &j->as_i, sizeof j->as_k, &j->as_k, sizeof j->sa, &j->sa,
                       sizeof j->B, &j->B, sizeof j->b_off, &j->b_off, sizeof j->bs_k, &j->bs_k,
                       sizeof j->bs_j, &j->bs_j, sizeof j->sb, &j->sb, sizeof j->beta, &j->beta,
                       sizeof j->C, &j->C, sizeof j->c_off, &j->c_off, sizeof j->ldc, &j->ldc,
                       sizeof j->sc, &j->sc, sizeof j->nsum, &j->nsum, sizeof j->nbatch,
                       &j->nbatch, sizeof bias, &bias, sizeof use_bias, &use_bias,
                       sizeof j->relu, &j->relu));
    size_t z = (size_t)(j->nbatch + j->nsum - 1) / j->nsum;
    if (v == CT_GK_TILED) {
        size_t ts = (size_t)st->tiled_ts, wpt = (size_t)st->tiled_wpt;
        size_t g[3] = {(size_t)(j->N + ts - 1) / ts * ts, (size_t)(j->M + ts - 1) / ts * (ts / wpt), z};
        size_t l[3] = {ts, ts / wpt, 1};
        return ct_launch(rt, k, 3, g, l);
    }
    if (v == CT_GK_SIMPLE || gk[v].unit_bj == 2) {
        size_t g[3] = {(size_t)(j->N + 3) / 4, (size_t)(j->M + 3) / 4, z};
        if (gk[v].unit_bj == 2) { /* row blocks in dim 0, like blk */
            size_t t = g[0];
            g[0] = g[1];
            g[1] = t;
            return ct_ops_launch(rt, k, 3, g, blk_lws((int)g[0]), 1);
        }
        return ct_ops_launch(rt, k, 3, g, 16, 4);
    }
    size_t g[3] = {(size_t)(j->M + gk[v].rm - 1) / gk[v].rm, (size_t)(j->N + gk[v].bw - 1) / gk[v].bw, z};
    return ct_ops_launch(rt, k, 3, g, blk_lws((int)g[0]), 1);
}

/* ---- ct_gemm ------------------------------------------------------------- */
static const char *clblast_status_name(CLBlastStatusCode c) {
    switch (c) {
#define N_(x) case x: return #x;
        N_(CLBlastSuccess) N_(CLBlastOpenCLCompilerNotAvailable) N_(CLBlastTempBufferAllocFailure)
        N_(CLBlastOpenCLOutOfResources) N_(CLBlastOpenCLOutOfHostMemory)
        N_(CLBlastOpenCLBuildProgramFailure) N_(CLBlastInvalidValue)
        N_(CLBlastInvalidCommandQueue) N_(CLBlastInvalidMemObject) N_(CLBlastInvalidBinary)
        N_(CLBlastInvalidBuildOptions) N_(CLBlastInvalidProgram)
        N_(CLBlastInvalidProgramExecutable) N_(CLBlastInvalidKernelName)
        N_(CLBlastInvalidKernelDefinition) N_(CLBlastInvalidKernel) N_(CLBlastInvalidArgIndex)
        N_(CLBlastInvalidArgValue) N_(CLBlastInvalidArgSize) N_(CLBlastInvalidKernelArgs)
        N_(CLBlastInvalidLocalNumDimensions) N_(CLBlastInvalidLocalThreadsTotal)
        N_(CLBlastInvalidLocalThreadsDim) N_(CLBlastInvalidGlobalOffset)
        N_(CLBlastInvalidEventWaitList) N_(CLBlastInvalidEvent) N_(CLBlastInvalidOperation)
        N_(CLBlastInvalidBufferSize) N_(CLBlastInvalidGlobalWorkSize) N_(CLBlastNotImplemented)
        N_(CLBlastInvalidMatrixA) N_(CLBlastInvalidMatrixB) N_(CLBlastInvalidMatrixC)
        N_(CLBlastInvalidDimension) N_(CLBlastInvalidLeadDimA) N_(CLBlastInvalidLeadDimB)
        N_(CLBlastInvalidLeadDimC) N_(CLBlastInsufficientMemoryA)
        N_(CLBlastInsufficientMemoryB) N_(CLBlastInsufficientMemoryC)
        N_(CLBlastInsufficientMemoryTemp) N_(CLBlastInvalidLocalMemUsage)
        N_(CLBlastDatabaseError) N_(CLBlastUnknownError) N_(CLBlastUnexpectedError)
#undef N_
    default: return "unknown CLBlast status";
    }
}

static ct_status run_clblast(ct_runtime *rt, int ta, int tb, int M, int N, int K, float alpha,
                             cl_mem A, size_t ao, int lda, cl_mem B, size_t bo, int ldb,
                             float beta, cl_mem C, size_t co, int ldc) {
    CLBlastStatusCode c = CLBlastSgemm(CLBlastLayoutRowMajor,
                                       ta ? CLBlastTransposeYes : CLBlastTransposeNo,
                                       tb ? CLBlastTransposeYes : CLBlastTransposeNo, (size_t)M,
                                       (size_t)N, (size_t)K, alpha, A, ao, (size_t)lda, B, bo,
                                       (size_t)ldb, beta, C, co, (size_t)ldc, &rt->q, NULL);
    if (c != CLBlastSuccess)
        return ct_set_error(CT_ERR_CL, "CLBlastSgemm(%s%s, M=%d N=%d K=%d) failed: %s (%d)",
                            ta ? "T" : "N", tb ? "T" : "N", M, N, K, clblast_status_name(c),
                            (int)c);
    return CT_OK;
}

static ct_status ws_reserve(ct_runtime *rt, ct_ops_state *st, size_t bytes) {
    if (st->ws_bytes >= bytes) return CT_OK;
    if (st->ws) clReleaseMemObject(st->ws);
    st->ws = NULL;
    st->ws_bytes = 0;
    CT_TRY(ct_buffer_create(rt, "gemm packing workspace", bytes, CL_MEM_READ_WRITE, &st->ws));
    st->ws_bytes = bytes;
    return CT_OK;
}

static ct_status run_variant(ct_runtime *rt, ct_variant var, int ta, int tb, int M, int N, int K,
                             float alpha, cl_mem A, size_t ao, int lda, cl_mem B, size_t bo,
                             int ldb, float beta, cl_mem C, size_t co, int ldc) {
    if (var.alg == CT_ALG_CLBLAST)
        return run_clblast(rt, ta, tb, M, N, K, alpha, A, ao, lda, B, bo, ldb, beta, C, co, ldc);
    int v = var.sub;
    ct_gemm_job j = {.M = M, .N = N, .K = K, .alpha = alpha, .beta = beta, .A = A,
                     .a_off = (int)ao, .as_i = ta ? 1 : lda, .as_k = ta ? lda : 1, .B = B,
                     .b_off = (int)bo, .bs_k = tb ? 1 : ldb, .bs_j = tb ? ldb : 1, .C = C,
                     .c_off = (int)co, .ldc = ldc, .nsum = 1, .nbatch = 1};
    if (gk[v].unit_bj == 2 && (ta || !tb))
        return ct_set_error(CT_ERR_INTERNAL, "gemm variant %s is for A*B^T only",
                            ct_gemm_kernel_name(v));
    if (K == 0) { /* B is not read: any strides will do */
        j.bs_k = 1;
        j.bs_j = 1;
    }
    if (gk[v].unit_bj == 1 && tb && K > 0) {
        /* pack op(B) = B^T (stored N x K) into a K x N row-major workspace */
        ct_ops_state *st;
        CT_TRY(ct_ops_state_get(rt, &st));
        CT_TRY(ws_reserve(rt, st, (size_t)K * N * sizeof(float)));
        int boi = (int)bo;
        CT_TRY(ct_set_args(st->transpose, 7, sizeof N, &N, sizeof K, &K, sizeof B, &B,
                           sizeof boi, &boi, sizeof ldb, &ldb, sizeof st->ws, &st->ws, sizeof N, &N));
        size_t g[2] = {(size_t)K, (size_t)N};
        CT_TRY(ct_ops_launch(rt, st->transpose, 2, g, 16, 16));
        j.B = st->ws;
        j.b_off = 0;
        j.bs_k = N;
        j.bs_j = 1;
    }
    return ct_gemm_job_run(rt, v, &j);
}

/* ---- variants as ct_gemm sees them ------------------------------------------------ */
int ct_gemm_variant_fits(ct_runtime *rt, int ta, int tb, ct_variant v) {
    if (v.alg == CT_ALG_CLBLAST) return 1;
    if (v.alg != CT_ALG_KERNEL || !ct_gemm_kernel_usable(rt, v.sub)) return 0;
    return gk[v.sub].unit_bj != 2 || (!ta && tb); /* the dot kernels: A * B^T only */
}

/* Documented in docs/OPS.md: GPUs the tiled kernel (simple where no tile fits), CPUs the
 * dot kernel for A * B^T (the dense forward) and blk6x32 for the rest. */
ct_variant ct_gemm_variant_default(ct_runtime *rt, int ta, int tb, int M, int N, int K) {
    (void)M, (void)N, (void)K;
    ct_variant v = {CT_ALG_KERNEL, ct_gemm_kernel_default(rt)};
    if (!(rt->dev.type & CL_DEVICE_TYPE_GPU) && !ta && tb) v.sub = CT_GK_NT4x16;
    return v;
}

int ct_gemm_candidates(ct_runtime *rt, int ta, int tb, ct_variant *out, int max) {
    int nc = 0, gpu = (rt->dev.type & CL_DEVICE_TYPE_GPU) != 0;
    for (int k = 0; k < CT_GK_COUNT && nc < max; k++) {
        ct_variant v = {CT_ALG_KERNEL, k};
        /* scalar kernels measured 5-10x slower on CPUs: not worth the tuning time */
        if (!gpu && (k == CT_GK_SIMPLE || k == CT_GK_TILED)) continue;
        if (ct_gemm_variant_fits(rt, ta, tb, v)) out[nc++] = v;
    }
    /* CLBlast compiles for many seconds per shape on an untuned CPU device and was 5-7x
     * slower there (docs/REFERENCE.md): a candidate on GPUs, or when asked for. */
    const char *tcb = getenv("CLTRAIN_TUNE_CLBLAST");
    if (nc < max && (gpu || (tcb && *tcb == '1'))) out[nc++] = (ct_variant){CT_ALG_CLBLAST, 0};
    return nc;
}

static ct_status gemm_args(int trans_a, int trans_b, int M, int N, int K, size_t a_off, int lda,
                           size_t b_off, int ldb, size_t c_off, int ldc) {
    if (M < 0 || N < 0 || K < 0)
        return ct_set_error(CT_ERR_ARG, "ct_gemm: negative size M=%d N=%d K=%d", M, N, K);
    if (lda < (trans_a ? M : K) || ldb < (trans_b ? K : N) || ldc < N || lda < 1 || ldb < 1)
        return ct_set_error(CT_ERR_ARG,
                            "ct_gemm: leading dimension too small (M=%d N=%d K=%d lda=%d ldb=%d "
                            "ldc=%d, trans %d/%d)", M, N, K, lda, ldb, ldc, trans_a, trans_b);
    if (a_off > INT_MAX || b_off > INT_MAX || c_off > INT_MAX ||
        (double)(trans_a ? K : M) * lda > INT_MAX || (double)(trans_b ? N : K) * ldb > INT_MAX ||
        (double)M * ldc > INT_MAX)
        return ct_set_error(CT_ERR_ARG, "ct_gemm: matrix above 2^31 elements (M=%d N=%d K=%d)",
                            M, N, K);
    return CT_OK;
}

ct_status ct_gemm_run(ct_runtime *rt, ct_variant v, int trans_a, int trans_b, int M, int N, int K,
                      float alpha, cl_mem A, size_t a_off, int lda, cl_mem B, size_t b_off, int ldb,
                      float beta, cl_mem C, size_t c_off, int ldc) {
    CT_TRY(gemm_args(trans_a, trans_b, M, N, K, a_off, lda, b_off, ldb, c_off, ldc));
    if (!ct_gemm_variant_fits(rt, trans_a, trans_b, v)) {
        char nm[64];
        return ct_set_error(CT_ERR_ARG, "gemm variant %s cannot run %s%s on this device",
                            ct_variant_name(CT_OP_GEMM, v, nm, sizeof nm), trans_a ? "T" : "N",
                            trans_b ? "T" : "N");
    }
    if (M == 0 || N == 0) return CT_OK;
    return run_variant(rt, v, trans_a, trans_b, M, N, K, alpha, A, a_off, lda, B, b_off, ldb, beta,
                       C, c_off, ldc);
}

ct_status ct_gemm(ct_runtime *rt, int trans_a, int trans_b, int M, int N, int K, float alpha,
                  cl_mem A, size_t a_off, int lda, cl_mem B, size_t b_off, int ldb, float beta,
                  cl_mem C, size_t c_off, int ldc) {
    CT_TRY(gemm_args(trans_a, trans_b, M, N, K, a_off, lda, b_off, ldb, c_off, ldc));
    if (M == 0 || N == 0) return CT_OK;
    ct_ops_state *st;
    CT_TRY(ct_ops_state_get(rt, &st));
    ct_variant v;
    const char *env = getenv("CLTRAIN_GEMM");
    if (st->force_on) {
        v = st->force;
    } else if (env && *env) {
        CT_TRY(ct_variant_parse(CT_OP_GEMM, env, &v));
    } else {
        char key[96];
        ct_gemm_key(trans_a, trans_b, M, N, K, key, sizeof key);
        ct_table_entry *e = ct_table_find(rt, key);
        if (e && e->op == CT_OP_GEMM && ct_gemm_variant_fits(rt, trans_a, trans_b, e->v)) {
            v = e->v;
            e->used = 1;
        } else {
            /* no entry (or one this device cannot run): the default, recorded as used */
            v = ct_gemm_variant_default(rt, trans_a, trans_b, M, N, K);
            if (!e) {
                CT_TRY(ct_table_set(rt, key, CT_OP_GEMM, v, CT_SRC_DEFAULT));
                e = ct_table_find(rt, key);
                if (e) e->used = 1;
            }
        }
    }
    return ct_gemm_run(rt, v, trans_a, trans_b, M, N, K, alpha, A, a_off, lda, B, b_off, ldb, beta,
                       C, c_off, ldc);
}
