/* bench_layers: time the ops of Model 2 (batch 64, 112x112x3 input) on one device:
 * each conv layer's forward, backward-data (not for the first conv) and backward-weights,
 * the dense GEMMs, and the total, as GFLOP/s and % of the FMA peak. Medians of --reps
 * runs after one warm-up call (which tunes the variant on a cold cache). Also compares
 * untuned CLBlast with cltrain's GEMM on the dense shapes unless --no-clblast.
 *
 *   bench_layers [--device P:D] [--reps N] [--peak GFLOPS] [--no-clblast] [--profile]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "ops/ops.h"
#include "ops/ops_internal.h"
#include "check/ops_ref.h"
#include "check/selftest.h"
#include "runtime/tensor.h"
#include "tune/tune.h"

static int reps = 5;

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef ct_status (*op_fn)(void *ctx);

static double cpu_now(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}
static double last_cpu; /* median CPU seconds (all threads) of the last time_op */

/* median seconds of reps runs after one warm-up */
static double time_op(ct_runtime *rt, op_fn f, void *ctx) {
    double t[64], c[64];
    if (f(ctx) != CT_OK || clFinish(rt->q) != CL_SUCCESS) {
        fprintf(stderr, "bench_layers: %s\n", ct_last_error());
        exit(1);
    }
    for (int r = 0; r < reps; r++) {
        double t0 = ct_now(), c0 = cpu_now();
        if (f(ctx) != CT_OK || clFinish(rt->q) != CL_SUCCESS) {
            fprintf(stderr, "bench_layers: %s\n", ct_last_error());
            exit(1);
        }
        t[r] = ct_now() - t0;
        c[r] = cpu_now() - c0;
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp_d);
    qsort(c, (size_t)reps, sizeof c[0], cmp_d);
    last_cpu = c[reps / 2];
    return t[reps / 2];
}

static cl_mem buf(ct_runtime *rt, const char *name, size_t n) {
    cl_mem m;
    float *h = malloc(n * sizeof *h);
    if (!h || ct_buffer_create(rt, name, n * sizeof(float), CL_MEM_READ_WRITE, &m) != CT_OK) {
        fprintf(stderr, "bench_layers: %s\n", h ? ct_last_error() : "out of memory");
        exit(1);
    }
    ct_fill_random(h, n, n, -0.5f, 0.5f);
    if (ct_upload(rt, m, 0, n * sizeof(float), h) != CT_OK) {
        fprintf(stderr, "bench_layers: %s\n", ct_last_error());
        exit(1);
    }
    free(h);
    return m;
}

typedef struct {
    ct_conv_plan *p;
    int n;
    cl_mem x, w, b, y, dy, dx, dw, db;
} conv_ctx;
static ct_status c_fwd(void *c) {
    conv_ctx *k = c;
    return ct_conv_forward(k->p, k->n, k->x, k->w, k->b, k->y);
}
static ct_status c_bd(void *c) {
    conv_ctx *k = c;
    return ct_conv_backward_data(k->p, k->n, k->dy, k->w, k->dx);
}
static ct_status c_bw(void *c) {
    conv_ctx *k = c;
    return ct_conv_backward_weights(k->p, k->n, k->x, k->dy, k->dw, k->db);
}

typedef struct {
    ct_runtime *rt;
    int ta, tb, M, N, K;
    cl_mem A, B, C;
} gemm_ctx;
static ct_status g_run(void *c) {
    gemm_ctx *g = c;
    return ct_gemm(g->rt, g->ta, g->tb, g->M, g->N, g->K, 1.0f, g->A, 0, g->ta ? g->M : g->K,
                   g->B, 0, g->tb ? g->K : g->N, 0.0f, g->C, 0, g->N);
}

static double total_s, total_flop, total_cpu;
static double peak = 345.0;
static int cores = 2;

/* Wall-clock GFLOP/s, and GFLOP per CPU-second times the core count: what the same
 * kernels would reach with the cores to themselves (the machine may be shared). */
static void row(const char *name, const char *op, double flop, double s, const char *variant) {
    total_s += s;
    total_flop += flop;
    total_cpu += last_cpu;
    double cpu_rate = last_cpu > 0 ? flop / last_cpu * cores * 1e-9 : 0;
    printf("%-22s %-10s %8.2f ms %7.1f GFLOP/s %5.1f %%  | cpu %6.1f GFLOP/s %5.1f %%  %s\n", name,
           op, s * 1e3, flop / s * 1e-9, flop / s * 1e-9 / peak * 100, cpu_rate,
           cpu_rate / peak * 100, variant);
}

int main(int argc, char **argv) {
    const char *dev = NULL;
    int clblast = 1;
    unsigned flags = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc) dev = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--peak") && i + 1 < argc) peak = atof(argv[++i]);
        else if (!strcmp(argv[i], "--no-clblast")) clblast = 0;
        else if (!strcmp(argv[i], "--profile")) flags |= CT_RT_PROFILE;
        else {
            fprintf(stderr, "usage: bench_layers [--device P:D] [--reps N] [--peak GFLOPS] "
                            "[--no-clblast] [--profile]\n");
            return 2;
        }
    }
    if (reps < 1) reps = 1;
    if (reps > 64) reps = 64;
    ct_runtime *rt;
    if (ct_runtime_create(dev, flags, &rt) != CT_OK) {
        fprintf(stderr, "bench_layers: %s\n", ct_last_error());
        return 1;
    }
    ct_runtime_print_device(rt, stdout);
    cores = (int)rt->dev.compute_units > 0 ? (int)rt->dev.compute_units : 1;
    printf("Model 2, batch 64, median of %d runs; %% of %.0f GFLOP/s FMA peak; 'cpu' columns:\n"
           "GFLOP per CPU-second x %d compute units (the rate with the cores to ourselves)\n",
           reps, peak, cores);
    const int N = 64;
    /* conv layers: cin, h (square), cout */
    static const int convs[4][3] = {{3, 112, 32}, {32, 55, 64}, {64, 26, 64}, {64, 12, 64}};
    for (int l = 0; l < 4; l++) {
        ct_conv_desc d;
        if (ct_conv_desc_init(&d, N, convs[l][0], convs[l][1], convs[l][1], convs[l][2], 3, 1, 0,
                              CT_ACT_RELU) != CT_OK) {
            fprintf(stderr, "bench_layers: %s\n", ct_last_error());
            return 1;
        }
        conv_ctx k = {.n = N};
        if (ct_conv_plan_create(rt, &d, &k.p) != CT_OK) {
            fprintf(stderr, "bench_layers: %s\n", ct_last_error());
            return 1;
        }
        size_t nx = (size_t)N * d.cin * d.h * d.w, ny = (size_t)N * d.cout * d.oh * d.ow;
        size_t nw = (size_t)d.cout * d.cin * 9;
        k.x = buf(rt, "x", nx), k.w = buf(rt, "w", nw), k.b = buf(rt, "b", (size_t)d.cout);
        k.y = buf(rt, "y", ny), k.dy = buf(rt, "dy", ny), k.dx = buf(rt, "dx", nx);
        k.dw = buf(rt, "dw", nw), k.db = buf(rt, "db", (size_t)d.cout);
        ct_tune_item ti = {.kind = CT_TUNE_CONV, .plan = k.p, .need_bwd_data = l > 0};
        if (ct_tune_items(rt, &ti, 1) != CT_OK) { /* as the model does when it is built */
            fprintf(stderr, "bench_layers: %s\n", ct_last_error());
            return 1;
        }
        double flop = 2.0 * N * d.cout * d.oh * d.ow * d.cin * 9;
        char name[64], vn[64];
        snprintf(name, sizeof name, "conv%d %d->%d %dx%d", l + 1, d.cin, d.cout, d.h, d.w);
        double t = time_op(rt, c_fwd, &k);
        row(name, "forward", flop, t, ct_conv_plan_choice_name(k.p, CT_CONV_FWD, vn, sizeof vn));
        if (l > 0) {
            t = time_op(rt, c_bd, &k);
            row(name, "bwd_data", flop, t, ct_conv_plan_choice_name(k.p, CT_CONV_BWD_DATA, vn, sizeof vn));
        }
        t = time_op(rt, c_bw, &k);
        row(name, "bwd_weight", flop, t, ct_conv_plan_choice_name(k.p, CT_CONV_BWD_WEIGHTS, vn, sizeof vn));
        cl_mem ms[] = {k.x, k.w, k.b, k.y, k.dy, k.dx, k.dw, k.db};
        for (int i = 0; i < 8; i++) clReleaseMemObject(ms[i]);
        ct_conv_plan_free(k.p);
    }
    /* dense layers: 1600 -> 248 -> 1; forward X W^T, backward-data dY W, backward-weights dY^T X */
    static const int dense[2][2] = {{1600, 248}, {248, 1}};
    gemm_ctx gd[6];
    int ng = 0;
    for (int l = 0; l < 2; l++) {
        int in = dense[l][0], out = dense[l][1];
        gemm_ctx f = {rt, 0, 1, N, out, in, NULL, NULL, NULL};
        gemm_ctx bd = {rt, 0, 0, N, in, out, NULL, NULL, NULL};
        gemm_ctx bw = {rt, 1, 0, out, in, N, NULL, NULL, NULL};
        gd[ng++] = f, gd[ng++] = bd, gd[ng++] = bw;
    }
    static const char *gop[3] = {"forward", "bwd_data", "bwd_weight"};
    for (int i = 0; i < ng; i++) {
        gemm_ctx *g = &gd[i];
        g->A = buf(rt, "A", (size_t)g->M * g->K);
        g->B = buf(rt, "B", (size_t)g->K * g->N);
        g->C = buf(rt, "C", (size_t)g->M * g->N);
        char name[64], key[96];
        snprintf(name, sizeof name, "dense%d %dx%dx%d", i / 3 + 1, g->M, g->N, g->K);
        ct_tune_item ti = {.kind = CT_TUNE_GEMM, .ta = g->ta, .tb = g->tb, .M = g->M, .N = g->N,
                           .K = g->K};
        if (ct_tune_items(rt, &ti, 1) != CT_OK) {
            fprintf(stderr, "bench_layers: %s\n", ct_last_error());
            return 1;
        }
        double t = time_op(rt, g_run, g);
        ct_gemm_key(g->ta, g->tb, g->M, g->N, g->K, key, sizeof key);
        ct_table_entry *e = ct_table_find(rt, key);
        char vn[64];
        row(name, gop[i % 3], 2.0 * g->M * g->N * g->K, t,
            e ? ct_variant_name(CT_OP_GEMM, e->v, vn, sizeof vn) : "?");
    }
    double cr = total_cpu > 0 ? total_flop / total_cpu * cores * 1e-9 : 0;
    printf("%-22s %-10s %8.2f ms %7.1f GFLOP/s %5.1f %%  | cpu %6.1f GFLOP/s %5.1f %%\n", "total", "",
           total_s * 1e3, total_flop / total_s * 1e-9, total_flop / total_s * 1e-9 / peak * 100, cr,
           cr / peak * 100);
    printf("images/s for these ops: %.1f wall, %.1f at full use of %d cores\n", N / total_s,
           total_cpu > 0 ? N / (total_cpu / cores) : 0, cores);
    if (clblast) {
        printf("dense GEMMs: untuned CLBlast vs cltrain's choice (first CLBlast call compiles)\n");
        for (int i = 0; i < 3; i++) {
            gemm_ctx *g = &gd[i];
            double own = time_op(rt, g_run, g);
            ct_variant cbv = {CT_ALG_CLBLAST, 0};
            ct_gemm_force(rt, &cbv);
            double cb = time_op(rt, g_run, g);
            ct_gemm_force(rt, NULL);
            double fl = 2.0 * g->M * g->N * g->K;
            printf("  %s%s %4dx%4dx%4d  clblast %7.1f GFLOP/s   cltrain %7.1f GFLOP/s\n",
                   g->ta ? "T" : "N", g->tb ? "T" : "N", g->M, g->N, g->K, fl / cb * 1e-9,
                   fl / own * 1e-9);
        }
    }
    for (int i = 0; i < ng; i++) {
        clReleaseMemObject(gd[i].A);
        clReleaseMemObject(gd[i].B);
        clReleaseMemObject(gd[i].C);
    }
    if (flags & CT_RT_PROFILE) ct_profile_print(rt, stdout);
    ct_runtime_free(rt);
    return 0;
}
