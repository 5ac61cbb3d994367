/* Device-vs-reference checks of the layer kernels: random inputs, outputs poisoned with NaN
 * first, abs + rel tolerance. Used by `cltrain selftest` and tests/test_layers.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layers/layer_check.h"
#include "layers/layer_ref.h"
#include "check/ops_ref.h"
#include "check/selftest.h"
#include "runtime/tensor.h"

/* A small arena of host arrays and device buffers, freed together. */
typedef struct arena {
    void *host[32];
    cl_mem dev[16];
    int nh, nd;
    ct_runtime *rt;
} arena;

static void *ar_alloc(arena *a, size_t bytes) {
    if (a->nh == 32) return NULL;
    void *p = calloc(bytes ? bytes : 1, 1);
    if (p) a->host[a->nh++] = p;
    return p;
}

/* Device buffer holding host (or NaN when host is NULL). */
static ct_status ar_buf(arena *a, const char *name, const void *host, size_t bytes, cl_mem *out) {
    if (a->nd == 16) return ct_set_error(CT_ERR_INTERNAL, "check arena full");
    CT_TRY(ct_buffer_create(a->rt, name, bytes, CL_MEM_READ_WRITE, out));
    a->dev[a->nd++] = *out;
    if (host) return ct_upload(a->rt, *out, 0, bytes, host);
    return ct_poison(a->rt, *out, bytes);
}

static void ar_free(arena *a) {
    for (int i = 0; i < a->nh; i++) free(a->host[i]);
    for (int i = 0; i < a->nd; i++) clReleaseMemObject(a->dev[i]);
}

#define AR_F(a, n) ((float *)ar_alloc((a), (n) * sizeof(float)))
#define AR_D(a, n) ((double *)ar_alloc((a), (n) * sizeof(double)))
#define NEED(p)                                                                                   \
    do {                                                                                          \
        if (!(p)) {                                                                               \
            s = ct_set_error(CT_ERR_MEMORY, "out of host memory in a layer check");               \
            goto done;                                                                            \
        }                                                                                         \
    } while (0)
#define TRYG(x)                                                                                   \
    do {                                                                                          \
        s = (x);                                                                                  \
        if (s != CT_OK) goto done;                                                                \
    } while (0)

static double cmp_d(const float *got, const double *want, size_t n, double atol, double rtol) {
    float *w = malloc((n ? n : 1) * sizeof *w);
    if (!w) return INFINITY;
    ct_to_float(want, w, n);
    double e = ct_compare(got, w, n, atol, rtol);
    free(w);
    return e;
}

ct_status ct_check_pool_case(ct_runtime *rt, int n, int c, int h, int w, int p, int st, int relu,
                             int bwd, uint64_t seed, double *err) {
    arena a = {.rt = rt};
    ct_layer_kernels K;
    ct_status s = ct_layer_kernels_init(rt, &K);
    if (s != CT_OK) return s;
    int oh = ct_pool_out(h, p, st), ow = ct_pool_out(w, p, st), nc = n * c;
    size_t nx = (size_t)nc * h * w, ny = (size_t)nc * oh * ow;
    float *x = AR_F(&a, nx), *dy = AR_F(&a, ny), *got = AR_F(&a, bwd ? nx : ny);
    double *xd = AR_D(&a, nx), *dyd = AR_D(&a, ny), *want = AR_D(&a, bwd ? nx : ny);
    NEED(x && dy && got && xd && dyd && want);
    ct_fill_random(x, nx, seed, -1, 1);
    if (relu)
        for (size_t i = 0; i < nx; i++) x[i] = x[i] > 0 ? x[i] : 0;
    ct_fill_random(dy, ny, seed + 1, -1, 1);
    ct_to_double(x, xd, nx);
    ct_to_double(dy, dyd, ny);
    cl_mem bx, bdy, bout;
    TRYG(ar_buf(&a, "pool.x", x, nx * 4, &bx));
    TRYG(ar_buf(&a, "pool.dy", dy, ny * 4, &bdy));
    TRYG(ar_buf(&a, "pool.out", NULL, (bwd ? nx : ny) * 4, &bout));
    /* pool 2 / stride 2: the forward's index (poisoned first), which its backward reads */
    cl_mem bidx = NULL, by;
    if (p == 2 && st == 2) TRYG(ar_buf(&a, "pool.idx", NULL, (ny + 3) / 4 * 4, &bidx)); /* whole floats poisoned */
    if (bwd) {
        if (bidx) {
            TRYG(ar_buf(&a, "pool.y", NULL, ny * 4, &by));
            TRYG(ct_pool_forward(&K, n, c, h, w, p, st, bx, by, bidx));
        }
        TRYG(ct_pool_backward(&K, n, c, h, w, p, st, relu, bx, bidx, bdy, bout));
        ct_ref_pool_bwd(nc, h, w, p, st, relu, xd, dyd, want);
    } else {
        TRYG(ct_pool_forward(&K, n, c, h, w, p, st, bx, bout, bidx));
        ct_ref_pool_fwd(nc, h, w, p, st, xd, want);
    }
    TRYG(ct_download(rt, bout, 0, (bwd ? nx : ny) * 4, got));
    *err = cmp_d(got, want, bwd ? nx : ny, 1e-6, 1e-5);
done:
    ar_free(&a);
    ct_layer_kernels_free(&K);
    return s;
}

ct_status ct_check_avgpool_case(ct_runtime *rt, int n, int c, int h, int w, int ph, int pw,
                                int sh, int sw, int bwd, uint64_t seed, double *err) {
    arena a = {.rt = rt};
    ct_layer_kernels K;
    ct_status s = ct_layer_kernels_init(rt, &K);
    if (s != CT_OK) return s;
    int oh = ct_pool_out(h, ph, sh), ow = ct_pool_out(w, pw, sw), nc = n * c;
    size_t nx = (size_t)nc * h * w, ny = (size_t)nc * oh * ow, nout = bwd ? nx : ny;
    float *in = AR_F(&a, bwd ? ny : nx), *got = AR_F(&a, nout);
    double *ind = AR_D(&a, bwd ? ny : nx), *want = AR_D(&a, nout);
    NEED(in && got && ind && want);
    ct_fill_random(in, bwd ? ny : nx, seed, -1, 1);
    ct_to_double(in, ind, bwd ? ny : nx);
    cl_mem bin, bout;
    TRYG(ar_buf(&a, "avgpool.in", in, (bwd ? ny : nx) * 4, &bin));
    TRYG(ar_buf(&a, "avgpool.out", NULL, nout * 4, &bout));
    if (bwd) {
        TRYG(ct_avgpool_backward(&K, n, c, h, w, ph, pw, sh, sw, bin, bout));
        ct_ref_avgpool_bwd(nc, h, w, ph, pw, sh, sw, ind, want);
    } else {
        TRYG(ct_avgpool_forward(&K, n, c, h, w, ph, pw, sh, sw, bin, bout));
        ct_ref_avgpool_fwd(nc, h, w, ph, pw, sh, sw, ind, want);
    }
    TRYG(ct_download(rt, bout, 0, nout * 4, got));
    *err = cmp_d(got, want, nout, ct_ops_atol(ph * pw) * 0.1, 1e-5);
done:
    ar_free(&a);
    ct_layer_kernels_free(&K);
    return s;
}

ct_status ct_check_act_case(ct_runtime *rt, ct_act act, float alpha, int n, int f, int bwd,
                            int in_place, uint64_t seed, double *err) {
    arena a = {.rt = rt};
    ct_layer_kernels K;
    ct_status s = ct_layer_kernels_init(rt, &K);
    if (s != CT_OK) return s;
    size_t cnt = (size_t)n * f;
    float *x = AR_F(&a, cnt), *dy = AR_F(&a, cnt), *y = AR_F(&a, cnt), *got = AR_F(&a, cnt);
    double *xd = AR_D(&a, cnt), *yd = AR_D(&a, cnt), *dyd = AR_D(&a, cnt), *want = AR_D(&a, cnt);
    NEED(x && dy && y && got && xd && yd && dyd && want);
    ct_fill_random(x, cnt, seed, -4, 4);
    ct_fill_random(dy, cnt, seed + 1, -1, 1);
    ct_to_double(x, xd, cnt);
    ct_to_double(dy, dyd, cnt);
    ct_ref_act_fwd(act, alpha, n, f, xd, yd);
    cl_mem bx, bo;
    if (!bwd) {
        TRYG(ar_buf(&a, "act.x", x, cnt * 4, &bx));
        bo = bx;
        if (!in_place) TRYG(ar_buf(&a, "act.y", NULL, cnt * 4, &bo));
        TRYG(ct_act_forward(&K, act, alpha, n, f, bx, bo));
        memcpy(want, yd, cnt * sizeof *want);
    } else {
        ct_to_float(yd, y, cnt); /* backward reads the forward's (float) output */
        ct_to_double(y, yd, cnt);
        cl_mem by, bdy;
        TRYG(ar_buf(&a, "act.y", y, cnt * 4, &by));
        TRYG(ar_buf(&a, "act.dy", dy, cnt * 4, &bdy));
        bo = bdy;
        if (!in_place) TRYG(ar_buf(&a, "act.dx", NULL, cnt * 4, &bo));
        TRYG(ct_act_backward(&K, act, alpha, n, f, by, bdy, bo));
        ct_ref_act_bwd(act, alpha, n, f, yd, dyd, want);
    }
    TRYG(ct_download(rt, bo, 0, cnt * 4, got));
    *err = cmp_d(got, want, cnt, 1e-6, 1e-5);
done:
    ar_free(&a);
    ct_layer_kernels_free(&K);
    return s;
}

ct_status ct_check_dense_case(ct_runtime *rt, int n, int in, int out, ct_act act, float alpha,
                              int bwd, uint64_t seed, double *err) {
    arena a = {.rt = rt};
    ct_layer_kernels K;
    ct_status s = ct_layer_kernels_init(rt, &K);
    if (s != CT_OK) return s;
    size_t nx = (size_t)n * in, nw = (size_t)out * in, ny = (size_t)n * out;
    float *x = AR_F(&a, nx), *w = AR_F(&a, nw), *b = AR_F(&a, out), *dy = AR_F(&a, ny);
    float *gx = AR_F(&a, nx), *gw = AR_F(&a, nw), *gb = AR_F(&a, out), *gy = AR_F(&a, ny);
    double *xd = AR_D(&a, nx), *wd = AR_D(&a, nw), *bd = AR_D(&a, out), *dyd = AR_D(&a, ny);
    double *rx = AR_D(&a, nx), *rw = AR_D(&a, nw), *rb = AR_D(&a, out), *ry = AR_D(&a, ny);
    NEED(x && w && b && dy && gx && gw && gb && gy && xd && wd && bd && dyd && rx && rw && rb && ry);
    ct_fill_random(x, nx, seed, -1, 1);
    ct_fill_random(w, nw, seed + 1, -1, 1);
    ct_fill_random(b, out, seed + 2, -1, 1);
    ct_fill_random(dy, ny, seed + 3, -1, 1);
    ct_to_double(x, xd, nx);
    ct_to_double(w, wd, nw);
    ct_to_double(b, bd, out);
    ct_to_double(dy, dyd, ny);
    cl_mem bx, bw, bb, bdy, bo, bdx, bdw, bdb;
    TRYG(ar_buf(&a, "dense.x", x, nx * 4, &bx));
    TRYG(ar_buf(&a, "dense.w", w, nw * 4, &bw));
    TRYG(ar_buf(&a, "dense.b", b, out * 4, &bb));
    if (!bwd) {
        TRYG(ar_buf(&a, "dense.y", NULL, ny * 4, &bo));
        TRYG(ct_dense_forward(&K, n, in, out, act, alpha, bx, bw, bb, bo));
        TRYG(ct_download(rt, bo, 0, ny * 4, gy));
        ct_ref_dense_fwd(n, in, out, act, alpha, xd, wd, bd, ry);
        *err = cmp_d(gy, ry, ny, ct_ops_atol(in), CT_OPS_RTOL);
    } else {
        TRYG(ar_buf(&a, "dense.dy", dy, ny * 4, &bdy));
        TRYG(ar_buf(&a, "dense.dx", NULL, nx * 4, &bdx));
        TRYG(ar_buf(&a, "dense.dw", NULL, nw * 4, &bdw));
        TRYG(ar_buf(&a, "dense.db", NULL, out * 4, &bdb));
        TRYG(ct_dense_backward(&K, n, in, out, bx, bw, bdy, bdx, bdw, bdb));
        TRYG(ct_download(rt, bdx, 0, nx * 4, gx));
        TRYG(ct_download(rt, bdw, 0, nw * 4, gw));
        TRYG(ct_download(rt, bdb, 0, out * 4, gb));
        ct_ref_dense_bwd(n, in, out, xd, wd, dyd, rx, rw, rb);
        double e1 = cmp_d(gx, rx, nx, ct_ops_atol(out), CT_OPS_RTOL);
        double e2 = cmp_d(gw, rw, nw, ct_ops_atol(n), CT_OPS_RTOL);
        double e3 = cmp_d(gb, rb, out, ct_ops_atol(n), CT_OPS_RTOL);
        *err = fmax(e1, fmax(e2, e3));
    }
done:
    ar_free(&a);
    ct_layer_kernels_free(&K);
    return s;
}

ct_status ct_check_dropout_case(ct_runtime *rt, size_t cnt, float rate, int bwd, uint64_t seed,
                                double *err) {
    arena a = {.rt = rt};
    ct_layer_kernels K;
    ct_status s = ct_layer_kernels_init(rt, &K);
    if (s != CT_OK) return s;
    float *x = AR_F(&a, cnt), *got = AR_F(&a, cnt);
    double *xd = AR_D(&a, cnt), *want = AR_D(&a, cnt);
    NEED(x && got && xd && want);
    ct_fill_random(x, cnt, seed, -1, 1);
    ct_to_double(x, xd, cnt);
    uint32_t sd = (uint32_t)seed * 2654435761u, step = (uint32_t)(seed >> 3) + 7;
    cl_mem bx, by;
    TRYG(ar_buf(&a, "dropout.x", x, cnt * 4, &bx));
    TRYG(ar_buf(&a, "dropout.y", NULL, cnt * 4, &by));
    if (bwd) TRYG(ct_dropout_backward(&K, cnt, rate, sd, step, bx, by));
    else TRYG(ct_dropout_forward(&K, cnt, rate, sd, step, bx, by));
    TRYG(ct_download(rt, by, 0, cnt * 4, got));
    ct_ref_dropout(cnt, rate, sd, step, xd, want); /* linear in x: same map for dy */
    *err = cmp_d(got, want, cnt, 1e-7, 1e-6);
done:
    ar_free(&a);
    ct_layer_kernels_free(&K);
    return s;
}

ct_status ct_check_loss_case(ct_runtime *rt, int n, int classes, uint64_t seed, double *err) {
    return ct_check_loss_case_w(rt, n, classes, 0, seed, err);
}

ct_status ct_check_loss_case_w(ct_runtime *rt, int n, int classes, int weighted, uint64_t seed,
                               double *err) {
    arena a = {.rt = rt};
    ct_layer_kernels K;
    ct_status s = ct_layer_kernels_init(rt, &K);
    if (s != CT_OK) return s;
    size_t nz = (size_t)n * classes;
    float *z = AR_F(&a, nz), *gdz = AR_F(&a, nz), *gst = AR_F(&a, 2 * (size_t)n),
          *gp = AR_F(&a, nz);
    int *lab = ar_alloc(&a, (size_t)n * sizeof(int));
    double *zd = AR_D(&a, nz), *rdz = AR_D(&a, nz), *rl = AR_D(&a, n), *rc = AR_D(&a, n),
           *rp = AR_D(&a, nz);
    NEED(z && gdz && gst && gp && lab && zd && rdz && rl && rc && rp);
    ct_fill_random(z, nz, seed, -8, 8);
    /* one very confident logit each way, where a naive formula overflows */
    if (nz > 2) {
        z[0] = 60.0f;
        z[1] = -60.0f;
    }
    float *lf = AR_F(&a, n);
    NEED(lf);
    ct_fill_random(lf, n, seed + 1, 0, classes == 1 ? 2 : (float)classes);
    for (int i = 0; i < n; i++) {
        lab[i] = (int)lf[i];
        if (lab[i] >= (classes == 1 ? 2 : classes)) lab[i] = 0;
    }
    ct_to_double(z, zd, nz);
    int nl = classes == 1 ? 2 : classes, t = classes == 1 ? 1 : (classes < 5 ? classes : 5);
    float *cw = AR_F(&a, nl);
    double *cwd = AR_D(&a, nl);
    int *gtop = ar_alloc(&a, (size_t)n * t * sizeof(int)), *rtop = ar_alloc(&a, (size_t)n * t * sizeof(int));
    NEED(cw && cwd && gtop && rtop);
    ct_fill_random(cw, nl, seed + 2, 0.1f, 4.0f);
    ct_to_double(cw, cwd, nl);
    cl_mem bz, bl, bst, bsum, bdz, bp, bcw = NULL, btop;
    float sums0[4] = {0.5f, 0, 3, 0}; /* earlier sums: the kernel adds to them */
    if (weighted) TRYG(ar_buf(&a, "loss.cw", cw, (size_t)nl * 4, &bcw));
    TRYG(ar_buf(&a, "loss.top", NULL, (size_t)n * t * 4, &btop));
    TRYG(ar_buf(&a, "loss.z", z, nz * 4, &bz));
    TRYG(ar_buf(&a, "loss.labels", lab, (size_t)n * 4, &bl));
    TRYG(ar_buf(&a, "loss.stats", NULL, 2 * (size_t)n * 4, &bst));
    TRYG(ar_buf(&a, "loss.sums", sums0, sizeof sums0, &bsum));
    TRYG(ar_buf(&a, "loss.dz", NULL, nz * 4, &bdz));
    TRYG(ar_buf(&a, "loss.p", NULL, nz * 4, &bp));
    TRYG(ct_loss_forward_w(&K, n, classes, bz, bl, bcw, bst, bsum, bdz));
    TRYG(ct_output_probs(&K, n, classes, bz, bp));
    TRYG(ct_loss_topk(&K, n, classes, t, bz, btop));
    TRYG(ct_download(rt, btop, 0, (size_t)n * t * 4, gtop));
    float sums[4];
    TRYG(ct_download(rt, bst, 0, 2 * (size_t)n * 4, gst));
    TRYG(ct_download(rt, bsum, 0, sizeof sums, sums));
    TRYG(ct_download(rt, bdz, 0, nz * 4, gdz));
    TRYG(ct_download(rt, bp, 0, nz * 4, gp));
    double mean = ct_ref_loss_w(n, classes, zd, lab, weighted ? cwd : NULL, rl, rc, rdz);
    ct_ref_topk(n, classes, t, zd, rtop);
    if (classes == 1)
        for (int i = 0; i < n; i++) rp[i] = 1.0 / (1.0 + exp(-zd[i]));
    else
        ct_ref_act_fwd(CT_ACT_SOFTMAX, 0.0f, n, classes, zd, rp);
    double e = 0, csum = 0, ws = weighted ? 4.0 : 1.0; /* absolute errors scale with w <= 4 */
    for (int i = 0; i < n; i++) {
        float l = gst[2 * i], c = gst[2 * i + 1];
        float lw = (float)rl[i];
        e = fmax(e, ct_compare(&l, &lw, 1, 1e-6 * ws, 1e-5));
        if (c != (float)rc[i]) e = INFINITY;
        csum += rc[i];
    }
    float got_sum = sums[0] - sums[1], want_sum = (float)(0.5 + mean * n);
    e = fmax(e, ct_compare(&got_sum, &want_sum, 1, 1e-5 * n * ws, 1e-5));
    if (sums[2] != (float)(3 + csum)) e = INFINITY;
    e = fmax(e, cmp_d(gdz, rdz, nz, 1e-7 * ws, 1e-5));
    e = fmax(e, cmp_d(gp, rp, nz, 1e-7, 1e-5));
    if (memcmp(gtop, rtop, (size_t)n * t * sizeof(int))) e = INFINITY;
    *err = e;
done:
    ar_free(&a);
    ct_layer_kernels_free(&K);
    return s;
}

/* Which slots an optimizer uses: bit 0 m, bit 1 v. */
static int optim_slots(const ct_optim *o) {
    switch (o->kind) {
    case CT_OPTIM_SGD: return o->momentum != 0 ? 1 : 0;
    case CT_OPTIM_RMSPROP: return 2 | (o->momentum != 0 ? 1 : 0);
    default: return 3;
    }
}

/* 1 when every float of x is still the poison (NaN). */
static int all_nan(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isnan(x[i])) return 0;
    return 1;
}

ct_status ct_check_optim_case(ct_runtime *rt, const ct_optim *o, size_t cnt, long t, uint64_t seed,
                              double *err) {
    arena a = {.rt = rt};
    ct_layer_kernels K;
    ct_status s = ct_layer_kernels_init(rt, &K);
    if (s != CT_OK) return s;
    int slots = optim_slots(o);
    float *p = AR_F(&a, cnt), *g = AR_F(&a, cnt), *m = AR_F(&a, cnt), *v = AR_F(&a, cnt);
    float *gp = AR_F(&a, cnt), *gm = AR_F(&a, cnt), *gv = AR_F(&a, cnt);
    double *pd = AR_D(&a, cnt), *gd = AR_D(&a, cnt), *md = AR_D(&a, cnt), *vd = AR_D(&a, cnt);
    unsigned char *dm = ar_alloc(&a, cnt);
    NEED(p && g && m && v && gp && gm && gv && pd && gd && md && vd && dm);
    ct_fill_random(p, cnt, seed, -1, 1);
    ct_fill_random(g, cnt, seed + 1, -0.1f, 0.1f);
    ct_fill_random(m, cnt, seed + 2, -0.01f, 0.01f);
    ct_fill_random(v, cnt, seed + 3, 0, 1e-4f);
    for (size_t i = 0; i < cnt; i++) dm[i] = (unsigned char)((i * 7 + seed) % 3 != 0);
    if (t == 1)
        for (size_t i = 0; i < cnt; i++) m[i] = v[i] = 0;
    ct_to_double(p, pd, cnt);
    ct_to_double(g, gd, cnt);
    ct_to_double(m, md, cnt);
    ct_to_double(v, vd, cnt);
    /* A slot the optimizer does not use is poisoned (NaN) and must stay so, untouched. */
    cl_mem bp, bg, bm, bv, bd;
    TRYG(ar_buf(&a, "optim.p", p, cnt * 4, &bp));
    TRYG(ar_buf(&a, "optim.g", g, cnt * 4, &bg));
    TRYG(ar_buf(&a, "optim.m", slots & 1 ? m : NULL, cnt * 4, &bm));
    TRYG(ar_buf(&a, "optim.v", slots & 2 ? v : NULL, cnt * 4, &bv));
    TRYG(ar_buf(&a, "optim.decay", dm, cnt, &bd));
    TRYG(ct_optim_update(&K, o, cnt, t, bp, bg, bm, bv, bd));
    TRYG(ct_download(rt, bp, 0, cnt * 4, gp));
    TRYG(ct_download(rt, bm, 0, cnt * 4, gm));
    TRYG(ct_download(rt, bv, 0, cnt * 4, gv));
    ct_ref_optim(o, cnt, t, pd, gd, md, vd, dm);
    *err = cmp_d(gp, pd, cnt, 1e-7, 1e-5);
    *err = fmax(*err, slots & 1 ? cmp_d(gm, md, cnt, 1e-9, 1e-5) : all_nan(gm, cnt) ? 0 : INFINITY);
    *err = fmax(*err, slots & 2 ? cmp_d(gv, vd, cnt, 1e-12, 1e-5) : all_nan(gv, cnt) ? 0 : INFINITY);
done:
    ar_free(&a);
    ct_layer_kernels_free(&K);
    return s;
}

/* Adam with Keras's defaults, through the same check. */
ct_status ct_check_adam_case(ct_runtime *rt, size_t cnt, long t, uint64_t seed, double *err) {
    ct_optim o;
    ct_optim_defaults(CT_OPTIM_ADAM, &o);
    return ct_check_optim_case(rt, &o, cnt, t, seed, err);
}

/* ---- a layer through its record: parse, infer, params, create, forward, backward ---- */

ct_status ct_layer_case_init(const char *token, int n, int c, int h, int w, int flat,
                             ct_layer_case *lc) {
    memset(lc, 0, sizeof *lc);
    ct_spec_token t = {.t = token, .len = (int)strlen(token)};
    for (int i = 0, st = 0; i <= t.len; i++)
        if (i == t.len || token[i] == ':') {
            if (t.nf == CT_SPEC_MAX_FIELDS)
                return ct_set_error(CT_ERR_ARG, "too many ':' fields in '%s'", token);
            t.f[t.nf] = token + st;
            t.fl[t.nf++] = i - st;
            st = i + 1;
        }
    const ct_layer_class *cls = ct_layer_class_for(&t);
    if (!cls) return ct_set_error(CT_ERR_ARG, "no layer class claims '%s'", token);
    ct_layer *l = &lc->l;
    l->s.cls = cls;
    CT_TRY(cls->parse(&t, &l->s));
    snprintf(l->tok, sizeof l->tok, "%s", token);
    l->max_batch = n;
    l->flat_in = flat;
    l->ic = c, l->ih = h, l->iw = w;
    l->in_feat = (size_t)c * h * w;
    l->after_params = 1; /* as if after a conv or dense (batchnorm needs one) */
    CT_TRY(cls->infer(l));
    l->out_feat = (size_t)l->oc * l->oh * l->ow;
    ct_layer_fuse(l, NULL);
    l->need_dx = 1;
    lc->np = l->np = cls->params ? cls->params(l, lc->pd) : 0;
    l->n_nt = cls->nontrainable ? cls->nontrainable(l, lc->pd + lc->np) : 0;
    for (int j = 0; j < lc->np + l->n_nt; j++)
        lc->pn[j] = ct_shape_count(lc->pd[j].ndim, lc->pd[j].shape);
    return CT_OK;
}

/* p: the parameters, then the non-trainable tensors (lc->np + lc->l.n_nt arrays). */
ct_status ct_layer_case_run(ct_runtime *rt, ct_layer_case *lc, const float *x,
                            const float *const *p, const float *dy, float *y, float *dx,
                            float *const *g) {
    ct_layer *l = &lc->l;
    const ct_layer_class *cls = l->s.cls;
    int n = l->max_batch;
    size_t nx = (size_t)n * l->in_feat, ny = (size_t)n * l->out_feat;
    arena a = {.rt = rt};
    ct_layer_kernels K;
    ct_status s = ct_layer_kernels_init(rt, &K);
    if (s != CT_OK) return s;
    TRYG(ar_buf(&a, "layer.x", x, nx * 4, &l->x));
    if (cls->flags & CT_LAYER_ALIAS) l->y = l->x;
    else TRYG(ar_buf(&a, "layer.y", NULL, ny * 4, &l->y));
    for (int j = 0; j < lc->np; j++) {
        TRYG(ar_buf(&a, "layer.param", p[j], lc->pn[j] * 4, &l->param[j]));
        TRYG(ar_buf(&a, "layer.grad", NULL, lc->pn[j] * 4, &l->grad[j]));
    }
    for (int j = lc->np; j < lc->np + l->n_nt; j++)
        TRYG(ar_buf(&a, "layer.nontrainable", p[j], lc->pn[j] * 4, &l->nt[j - lc->np]));
    if (cls->create) TRYG(cls->create(rt, l));
    ct_layer_run r = {&K, n, 0, 0, 0, 0, n};
    TRYG(cls->forward(l, &r));
    TRYG(ct_download(rt, l->y, 0, ny * 4, y));
    if (dy) {
        size_t nbuf = nx > ny ? nx : ny;
        ct_layer_grad gr = {0};
        TRYG(ar_buf(&a, "layer.dy", NULL, nbuf * 4, &gr.dy));
        TRYG(ct_upload(rt, gr.dy, 0, ny * 4, dy));
        TRYG(ar_buf(&a, "layer.dx", NULL, nbuf * 4, &gr.dx));
        TRYG(cls->backward(l, &r, &gr));
        TRYG(ct_download(rt, gr.dx_in_other ? gr.dx : gr.dy, 0, nx * 4, dx));
        for (int j = 0; j < lc->np; j++) TRYG(ct_download(rt, l->grad[j], 0, lc->pn[j] * 4, g[j]));
    }
done:
    if (cls->destroy) cls->destroy(l); /* state is NULL or what create made */
    ar_free(&a);
    ct_layer_kernels_free(&K);
    l->x = l->y = NULL;
    return s;
}

ct_status ct_check_layer_case(ct_runtime *rt, const char *token, int n, int c, int h, int w,
                              int flat, uint64_t seed, double *err) {
    ct_layer_case lc;
    CT_TRY(ct_layer_case_init(token, n, c, h, w, flat, &lc));
    const ct_layer *l = &lc.l;
    arena a = {.rt = rt};
    ct_status s = CT_OK;
    size_t nx = (size_t)n * l->in_feat, ny = (size_t)n * l->out_feat;
    enum { NT = CT_LAYER_MAX_PARAMS + CT_LAYER_MAX_NT };
    float *x = AR_F(&a, nx), *got = AR_F(&a, ny), *pf[NT] = {0};
    double *xd = AR_D(&a, nx), *want = AR_D(&a, ny), *pdd[NT] = {0};
    NEED(x && got && xd && want);
    ct_fill_random(x, nx, seed, -1, 1);
    ct_to_double(x, xd, nx);
    /* parameters in [-0.5, 0.5]; non-trainable tensors after them, ones-initialised ones
     * (a variance) in [0.5, 1.5] so that they stay positive */
    for (int j = 0; j < lc.np + l->n_nt; j++) {
        int ones = j >= lc.np && lc.pd[j].init == CT_INIT_ONES;
        NEED((pf[j] = AR_F(&a, lc.pn[j])) && (pdd[j] = AR_D(&a, lc.pn[j])));
        ct_fill_random(pf[j], lc.pn[j], seed + 1 + j, ones ? 0.5f : -0.5f, ones ? 1.5f : 0.5f);
        ct_to_double(pf[j], pdd[j], lc.pn[j]);
    }
    TRYG(ct_layer_case_run(rt, &lc, x, (const float *const *)pf, NULL, got, NULL, NULL));
    l->s.cls->ref_forward(l, n, xd, (const double *const *)pdd, want);
    /* terms per output: the fan-in of its weights (softmax rows: their length) */
    int terms = l->s.act == CT_ACT_SOFTMAX ? (int)l->out_feat : 1;
    for (int j = 0; j < lc.np; j++) {
        const ct_param_desc *d = &lc.pd[j];
        if (d->ndim > 1) terms = d->shape[1] * (d->ndim == 4 ? d->shape[2] * d->shape[3] : 1);
    }
    *err = cmp_d(got, want, ny, ct_ops_atol(terms), CT_OPS_RTOL);
done:
    ar_free(&a);
    return s;
}

/* Batchnorm over n x C x hw: forward (y and, in training, the updated moving statistics) or
 * backward after a device forward (dx into a separate poisoned buffer, dgamma, dbeta; the
 * relu mask is the device forward's y, as the kernel reads it). */
ct_status ct_check_bn_case(ct_runtime *rt, int n, int C, int hw, int train, int relu, int bwd,
                           uint64_t seed, double *err) {
    arena a = {.rt = rt};
    ct_layer_kernels K;
    ct_status s = ct_layer_kernels_init(rt, &K);
    if (s != CT_OK) return s;
    ct_act act = relu ? CT_ACT_RELU : CT_ACT_NONE;
    size_t nx = (size_t)n * C * hw;
    float *x = AR_F(&a, nx), *dy = AR_F(&a, nx), *got = AR_F(&a, nx), *pf = AR_F(&a, 4 * (size_t)C);
    float *gc = AR_F(&a, 2 * (size_t)C);
    double *xd = AR_D(&a, nx), *dyd = AR_D(&a, nx), *yd = AR_D(&a, nx), *want = AR_D(&a, nx);
    double *pd = AR_D(&a, 4 * (size_t)C), *bs = AR_D(&a, 2 * (size_t)C), *gw = AR_D(&a, 2 * (size_t)C);
    NEED(x && dy && got && pf && gc && xd && dyd && yd && want && pd && bs && gw);
    /* an offset per channel, so that the mean matters */
    ct_fill_random(x, nx, seed, -1, 1);
    for (size_t i = 0; i < nx; i++) x[i] += (float)((i / (size_t)hw) % (size_t)C) * 0.25f;
    ct_fill_random(dy, nx, seed + 1, -1, 1);
    ct_fill_random(pf, 3 * (size_t)C, seed + 2, -0.5f, 0.5f);   /* gamma, beta, moving mean */
    ct_fill_random(pf + 3 * C, (size_t)C, seed + 3, 0.5f, 1.5f); /* moving variance */
    for (int c = 0; c < C; c++) pf[c] += 1.0f;                    /* gamma around 1 */
    ct_to_double(x, xd, nx);
    ct_to_double(dy, dyd, nx);
    ct_to_double(pf, pd, 4 * (size_t)C);
    cl_mem bx, by, bg, bb, bm, bv, bst, bdy, bdx, bdg, bdb;
    size_t cb = (size_t)C * 4;
    TRYG(ar_buf(&a, "bn.x", x, nx * 4, &bx));
    TRYG(ar_buf(&a, "bn.y", NULL, nx * 4, &by));
    TRYG(ar_buf(&a, "bn.gamma", pf, cb, &bg));
    TRYG(ar_buf(&a, "bn.beta", pf + C, cb, &bb));
    TRYG(ar_buf(&a, "bn.mean", pf + 2 * C, cb, &bm));
    TRYG(ar_buf(&a, "bn.var", pf + 3 * C, cb, &bv));
    TRYG(ar_buf(&a, "bn.stat", NULL, 3 * cb, &bst));
    /* momentum 0.5 so that an error in the batch statistics shows in the moving ones */
    TRYG(ct_bn_forward(&K, n, C, hw, train, 1e-3f, 0.5, act, bx, bg, bb, bm, bv, bst, by));
    TRYG(ct_download(rt, by, 0, nx * 4, got));
    if (!bwd) {
        ct_ref_bn_fwd(n, C, hw, train, 1e-3, act, xd, pd, pd + C, pd + 2 * C, pd + 3 * C, want, bs,
                      bs + C);
        /* a normalised output sums a reduction over n * hw values */
        *err = cmp_d(got, want, nx, ct_ops_atol(64), CT_OPS_RTOL);
        if (train) {
            ct_ref_bn_moving(C, 0.5, bs, bs + C, pd + 2 * C, pd + 3 * C);
            TRYG(ct_download(rt, bm, 0, cb, gc));
            TRYG(ct_download(rt, bv, 0, cb, gc + C));
            *err = fmax(*err, cmp_d(gc, pd + 2 * C, 2 * (size_t)C, ct_ops_atol(64), CT_OPS_RTOL));
        }
    } else {
        ct_to_double(got, yd, nx);
        TRYG(ar_buf(&a, "bn.dy", dy, nx * 4, &bdy));
        TRYG(ar_buf(&a, "bn.dx", NULL, nx * 4, &bdx));
        TRYG(ar_buf(&a, "bn.dgamma", NULL, cb, &bdg));
        TRYG(ar_buf(&a, "bn.dbeta", NULL, cb, &bdb));
        TRYG(ct_bn_backward(&K, n, C, hw, train, act, bx, by, bdy, bst, bdg, bdb, bdx));
        TRYG(ct_download(rt, bdx, 0, nx * 4, got));
        TRYG(ct_download(rt, bdg, 0, cb, gc));
        TRYG(ct_download(rt, bdb, 0, cb, gc + C));
        /* the reference statistics are the moving ones before the forward's update */
        ct_ref_bn_bwd(n, C, hw, train, 1e-3, act, xd, pd, pd + 2 * C, pd + 3 * C, yd, dyd, want, gw,
                      gw + C);
        int M = n * hw;
        *err = fmax(cmp_d(got, want, nx, ct_ops_atol(64), CT_OPS_RTOL),
                    cmp_d(gc, gw, 2 * (size_t)C, ct_ops_atol(M), CT_OPS_RTOL));
    }
done:
    ar_free(&a);
    ct_layer_kernels_free(&K);
    return s;
}

/* ---- selftest entries: a few shapes each, incl. sizes no work-group divides ---- */

#define WORST(call)                                                                               \
    do {                                                                                          \
        double e_ = INFINITY;                                                                     \
        CT_TRY(call);                                                                             \
        if (!(e_ <= *max_err)) *max_err = e_;                                                     \
    } while (0)

ct_status ct_check_pool_forward(ct_runtime *rt, double *max_err) {
    *max_err = 0;
    WORST(ct_check_pool_case(rt, 2, 3, 7, 9, 2, 2, 0, 0, 11, &e_));
    WORST(ct_check_pool_case(rt, 1, 5, 8, 6, 3, 1, 0, 0, 12, &e_));
    WORST(ct_check_pool_case(rt, 2, 2, 10, 11, 2, 3, 0, 0, 16, &e_));
    return CT_OK;
}
ct_status ct_check_pool_backward(ct_runtime *rt, double *max_err) {
    *max_err = 0;
    WORST(ct_check_pool_case(rt, 2, 3, 7, 9, 2, 2, 1, 1, 13, &e_));
    WORST(ct_check_pool_case(rt, 1, 5, 8, 6, 3, 1, 0, 1, 14, &e_));
    WORST(ct_check_pool_case(rt, 2, 2, 10, 11, 2, 3, 1, 1, 15, &e_));
    return CT_OK;
}
ct_status ct_check_avgpool_forward(ct_runtime *rt, double *max_err) {
    *max_err = 0;
    WORST(ct_check_avgpool_case(rt, 2, 3, 7, 9, 2, 2, 2, 2, 0, 17, &e_));
    WORST(ct_check_avgpool_case(rt, 1, 5, 8, 6, 3, 3, 1, 1, 0, 18, &e_));
    WORST(ct_check_avgpool_case(rt, 3, 4, 5, 7, 5, 7, 1, 1, 0, 19, &e_)); /* gap */
    return CT_OK;
}
ct_status ct_check_avgpool_backward(ct_runtime *rt, double *max_err) {
    *max_err = 0;
    WORST(ct_check_avgpool_case(rt, 2, 3, 7, 9, 2, 2, 2, 2, 1, 27, &e_));
    WORST(ct_check_avgpool_case(rt, 1, 5, 8, 6, 3, 3, 1, 1, 1, 28, &e_));
    WORST(ct_check_avgpool_case(rt, 2, 2, 11, 10, 3, 3, 2, 2, 1, 29, &e_));
    WORST(ct_check_avgpool_case(rt, 3, 4, 5, 7, 5, 7, 1, 1, 1, 30, &e_)); /* gap */
    return CT_OK;
}
ct_status ct_check_act_forward(ct_runtime *rt, double *max_err) {
    *max_err = 0;
    WORST(ct_check_act_case(rt, CT_ACT_RELU, 0, 3, 333, 0, 0, 21, &e_));
    WORST(ct_check_act_case(rt, CT_ACT_SIGMOID, 0, 3, 333, 0, 1, 22, &e_));
    WORST(ct_check_act_case(rt, CT_ACT_SOFTMAX, 0, 7, 13, 0, 0, 23, &e_));
    WORST(ct_check_act_case(rt, CT_ACT_TANH, 0, 3, 333, 0, 1, 34, &e_));
    WORST(ct_check_act_case(rt, CT_ACT_LEAKYRELU, 0.3f, 3, 333, 0, 0, 35, &e_));
    return CT_OK;
}
ct_status ct_check_act_backward(ct_runtime *rt, double *max_err) {
    *max_err = 0;
    WORST(ct_check_act_case(rt, CT_ACT_RELU, 0, 3, 333, 1, 1, 24, &e_));
    WORST(ct_check_act_case(rt, CT_ACT_SIGMOID, 0, 3, 333, 1, 0, 25, &e_));
    WORST(ct_check_act_case(rt, CT_ACT_SOFTMAX, 0, 7, 13, 1, 1, 26, &e_));
    WORST(ct_check_act_case(rt, CT_ACT_TANH, 0, 3, 333, 1, 0, 36, &e_));
    WORST(ct_check_act_case(rt, CT_ACT_LEAKYRELU, 0.1f, 3, 333, 1, 1, 37, &e_));
    return CT_OK;
}
ct_status ct_check_dense_forward(ct_runtime *rt, double *max_err) {
    *max_err = 0;
    WORST(ct_check_dense_case(rt, 5, 37, 9, CT_ACT_RELU, 0, 0, 31, &e_));
    WORST(ct_check_dense_case(rt, 3, 20, 4, CT_ACT_SOFTMAX, 0, 0, 32, &e_));
    WORST(ct_check_dense_case(rt, 4, 19, 7, CT_ACT_TANH, 0, 0, 38, &e_));
    WORST(ct_check_dense_case(rt, 4, 19, 7, CT_ACT_LEAKYRELU, 0.2f, 0, 39, &e_));
    return CT_OK;
}
ct_status ct_check_dense_backward(ct_runtime *rt, double *max_err) {
    *max_err = 0;
    WORST(ct_check_dense_case(rt, 5, 37, 9, CT_ACT_NONE, 0, 1, 33, &e_));
    return CT_OK;
}
ct_status ct_check_bn_forward(ct_runtime *rt, double *max_err) {
    *max_err = 0;
    WORST(ct_check_bn_case(rt, 3, 5, 7 * 9, 1, 1, 0, 41, &e_));
    WORST(ct_check_bn_case(rt, 7, 13, 1, 1, 0, 0, 42, &e_));
    WORST(ct_check_bn_case(rt, 2, 4, 11, 0, 1, 0, 43, &e_));
    return CT_OK;
}
ct_status ct_check_bn_backward(ct_runtime *rt, double *max_err) {
    *max_err = 0;
    WORST(ct_check_bn_case(rt, 3, 5, 7 * 9, 1, 1, 1, 44, &e_));
    WORST(ct_check_bn_case(rt, 7, 13, 1, 1, 0, 1, 45, &e_));
    WORST(ct_check_bn_case(rt, 2, 4, 11, 0, 0, 1, 46, &e_));
    return CT_OK;
}
ct_status ct_check_dropout(ct_runtime *rt, double *max_err) {
    *max_err = 0;
    WORST(ct_check_dropout_case(rt, 1001, 0.2f, 0, 41, &e_));
    WORST(ct_check_dropout_case(rt, 1001, 0.5f, 1, 42, &e_));
    return CT_OK;
}
ct_status ct_check_loss(ct_runtime *rt, double *max_err) {
    *max_err = 0;
    WORST(ct_check_loss_case(rt, 13, 1, 51, &e_));
    WORST(ct_check_loss_case(rt, 9, 5, 52, &e_));
    WORST(ct_check_loss_case_w(rt, 13, 1, 1, 53, &e_));
    WORST(ct_check_loss_case_w(rt, 9, 7, 1, 54, &e_));
    return CT_OK;
}
ct_status ct_check_adam(ct_runtime *rt, double *max_err) {
    *max_err = 0;
    WORST(ct_check_adam_case(rt, 777, 1, 61, &e_));
    WORST(ct_check_adam_case(rt, 777, 5, 62, &e_));
    return CT_OK;
}
/* The optimizers the trainer offers (ct_check_optim_configs), two steps each. */
int ct_check_optim_configs(ct_optim *out) {
    ct_optim *o = out;
    ct_optim_defaults(CT_OPTIM_ADAMW, o++);
    ct_optim_defaults(CT_OPTIM_SGD, o++);
    ct_optim_defaults(CT_OPTIM_SGD, o);
    (o++)->momentum = 0.9;
    ct_optim_defaults(CT_OPTIM_SGD, o);
    o->momentum = 0.9;
    (o++)->nesterov = 1;
    ct_optim_defaults(CT_OPTIM_RMSPROP, o++);
    ct_optim_defaults(CT_OPTIM_RMSPROP, o);
    (o++)->momentum = 0.5;
    return (int)(o - out);
}
ct_status ct_check_optim(ct_runtime *rt, double *max_err) {
    *max_err = 0;
    ct_optim cfg[CT_CHECK_OPTIM_MAX];
    int n = ct_check_optim_configs(cfg);
    for (int i = 0; i < n; i++) {
        WORST(ct_check_optim_case(rt, &cfg[i], 777, 1, 71 + i, &e_));
        WORST(ct_check_optim_case(rt, &cfg[i], 777, 5, 81 + i, &e_));
    }
    return CT_OK;
}
