/* Device-vs-reference checks for the ops: used by `cltrain selftest`, tests/test_ops.c
 * and the tuning stage (src/tune/). The ops never call these. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops_internal.h"
#include "check/ops_ref.h"
#include "check/selftest.h"
#include "runtime/tensor.h"

typedef struct {
    cl_mem m[5];
    float *h[6];
} scratch;

static void scratch_free(scratch *s) {
    for (int i = 0; i < 5; i++)
        if (s->m[i]) clReleaseMemObject(s->m[i]);
    for (int i = 0; i < 6; i++) free(s->h[i]);
}

static ct_status dev_buf(ct_runtime *rt, const char *name, size_t n, const float *init,
                         cl_mem *out) {
    size_t bytes = (n ? n : 1) * sizeof(float);
    CT_TRY(ct_buffer_create(rt, name, bytes, CL_MEM_READ_WRITE, out));
    if (init) return ct_upload(rt, *out, 0, n * sizeof(float), init);
    return ct_poison(rt, *out, bytes);
}

static float *host(size_t n) { return malloc((n ? n : 1) * sizeof(float)); }

ct_status ct_check_conv_case(ct_runtime *rt, const ct_conv_desc *d, int n, ct_conv_pass pass,
                             uint64_t seed, double *err) {
    return ct_check_conv_case_v(rt, d, n, pass, NULL, seed, err, NULL, 0);
}

/* 2x2 stride-2 max pool of y (n*c planes of h x w) as cl/pool.cl does it (order, NaN,
 * code): py, and the argmax code in code when not NULL */
static void pool2_host(const float *y, int nc, int h, int w, float *py, unsigned char *code) {
    int ph = h / 2, pw = w / 2;
    for (int c = 0; c < nc; c++)
        for (int oy = 0; oy < ph; oy++)
            for (int ox = 0; ox < pw; ox++) {
                const float *r = y + ((size_t)c * h + 2 * oy) * w + 2 * ox;
                float v[4] = {r[0], r[1], r[w], r[w + 1]}, m = v[0];
                int k = 0;
                for (int j = 1; j < 4; j++)
                    if (v[j] > m || (isnan(v[j]) && !isnan(m))) m = v[j], k = j;
                size_t o = ((size_t)c * ph + oy) * pw + ox;
                py[o] = m;
                if (code) code[o] = (unsigned char)(k | (m > 0 ? 4 : 0));
            }
}

/* The forward with the fused pool (d->pool == 2): its pooled output within tolerance of
 * the pooled reference (want: the reference conv output), and both it and its argmax
 * code bit for bit what pooling this variant's own unfused output (got) gives. Outputs
 * poisoned first. *err: the tolerance ratio, or INFINITY on any bit mismatch. */
static ct_status check_pooled(ct_runtime *rt, ct_conv_plan *plan, const ct_conv_desc *d, int n,
                              scratch *s, const float *got, const float *want, double atol,
                              double *err) {
    int nc = n * d->cout, ph = d->oh / 2, pw = d->ow / 2;
    size_t np = (size_t)nc * ph * pw;
    float *pref = host(np), *pown = host(np), *pdev = host(np);
    unsigned char *cown = malloc(np ? np : 1), *cdev = malloc((np + 3) / 4 * 4 + 4);
    cl_mem py = NULL, pi = NULL;
    ct_status st = CT_OK;
    if (!pref || !pown || !pdev || !cown || !cdev) {
        st = ct_set_error(CT_ERR_MEMORY, "out of host memory (conv pool check)");
        goto out;
    }
    pool2_host(want, nc, d->oh, d->ow, pref, NULL);
    pool2_host(got, nc, d->oh, d->ow, pown, cown);
    if ((st = dev_buf(rt, "check.pool.y", np, NULL, &py)) != CT_OK ||
        (st = dev_buf(rt, "check.pool.idx", (np + 3) / 4, NULL, &pi)) != CT_OK ||
        (st = ct_conv_forward_pool(plan, n, s->m[0], s->m[1], s->m[2], s->m[3], py, pi)) !=
            CT_OK ||
        (st = ct_download(rt, py, 0, np * sizeof(float), pdev)) != CT_OK ||
        (st = ct_download(rt, pi, 0, np, cdev)) != CT_OK)
        goto out;
    *err = ct_compare(pdev, pref, np, atol, CT_OPS_RTOL);
    if (memcmp(pdev, pown, np * sizeof(float)) || memcmp(cdev, cown, np)) *err = INFINITY;
out:
    if (py) clReleaseMemObject(py);
    if (pi) clReleaseMemObject(pi);
    free(pref), free(pown), free(pdev), free(cown), free(cdev);
    return st;
}

ct_status ct_check_conv_case_v(ct_runtime *rt, const ct_conv_desc *d, int n, ct_conv_pass pass,
                               const ct_variant *v, uint64_t seed, double *err, char *ran,
                               size_t ran_n) {
    *err = INFINITY;
    if (ran && ran_n) ran[0] = 0;
    size_t nx = (size_t)n * d->cin * d->h * d->w, ny = (size_t)n * d->cout * d->oh * d->ow;
    size_t nw = (size_t)d->cout * d->cin * d->k * d->k, nb = (size_t)d->cout;
    scratch s = {0};
    float *x = s.h[0] = host(nx), *w = s.h[1] = host(nw), *b = s.h[2] = host(nb);
    float *dy = s.h[3] = host(ny);
    size_t nout = pass == CT_CONV_FWD ? ny : pass == CT_CONV_BWD_DATA ? nx : nw + nb;
    float *want = s.h[4] = host(nout), *got = s.h[5] = host(nout);
    ct_conv_plan *plan = NULL;
    ct_status st = CT_OK;
    if (!x || !w || !b || !dy || !want || !got) {
        st = ct_set_error(CT_ERR_MEMORY, "out of host memory (conv check)");
        goto done;
    }
    ct_fill_random(x, nx, seed, -1, 1);
    ct_fill_random(w, nw, seed + 1, -1, 1);
    ct_fill_random(b, nb, seed + 2, -1, 1);
    ct_fill_random(dy, ny, seed + 3, -1, 1);
    st = ct_conv_plan_create(rt, d, &plan);
    if (st != CT_OK) goto done;
    if (v && !ct_conv_plan_fits(plan, pass, *v)) {
        *err = -1; /* does not fit: nothing to check */
        goto done;
    }
    if (v && (st = ct_conv_plan_force(plan, pass, v)) != CT_OK) goto done;
    int ck2 = d->cin * d->k * d->k;
    double atol;
    if (pass == CT_CONV_FWD) {
        ct_ref_conv_forward(d, n, x, w, b, want);
        atol = ct_ops_atol(ck2 + 1);
        if ((st = dev_buf(rt, "check.x", nx, x, &s.m[0])) != CT_OK ||
            (st = dev_buf(rt, "check.w", nw, w, &s.m[1])) != CT_OK ||
            (st = dev_buf(rt, "check.b", nb, b, &s.m[2])) != CT_OK ||
            (st = dev_buf(rt, "check.y", ny, NULL, &s.m[3])) != CT_OK ||
            (st = ct_conv_forward(plan, n, s.m[0], s.m[1], s.m[2], s.m[3])) != CT_OK ||
            (st = ct_download(rt, s.m[3], 0, ny * sizeof(float), got)) != CT_OK)
            goto done;
        if (d->pool == 2) {
            st = check_pooled(rt, plan, d, n, &s, got, want, atol, err);
            goto checked;
        }
    } else if (pass == CT_CONV_BWD_DATA) {
        ct_ref_conv_backward_data(d, n, dy, w, want);
        atol = ct_ops_atol(d->cout * d->k * d->k);
        if ((st = dev_buf(rt, "check.dy", ny, dy, &s.m[0])) != CT_OK ||
            (st = dev_buf(rt, "check.w", nw, w, &s.m[1])) != CT_OK ||
            (st = dev_buf(rt, "check.dx", nx, NULL, &s.m[2])) != CT_OK ||
            (st = ct_conv_backward_data(plan, n, s.m[0], s.m[1], s.m[2])) != CT_OK ||
            (st = ct_download(rt, s.m[2], 0, nx * sizeof(float), got)) != CT_OK)
            goto done;
    } else {
        ct_ref_conv_backward_weights(d, n, x, dy, want, want + nw);
        atol = ct_ops_atol(n * d->oh * d->ow);
        if ((st = dev_buf(rt, "check.x", nx, x, &s.m[0])) != CT_OK ||
            (st = dev_buf(rt, "check.dy", ny, dy, &s.m[1])) != CT_OK ||
            (st = dev_buf(rt, "check.dw", nw, NULL, &s.m[2])) != CT_OK ||
            (st = dev_buf(rt, "check.db", nb, NULL, &s.m[3])) != CT_OK ||
            (st = ct_conv_backward_weights(plan, n, s.m[0], s.m[1], s.m[2], s.m[3])) != CT_OK ||
            (st = ct_download(rt, s.m[2], 0, nw * sizeof(float), got)) != CT_OK ||
            (st = ct_download(rt, s.m[3], 0, nb * sizeof(float), got + nw)) != CT_OK)
            goto done;
    }
    *err = ct_compare(got, want, nout, atol, CT_OPS_RTOL);
checked:
    if (ran && st == CT_OK) ct_conv_plan_choice_name(plan, pass, ran, ran_n);
done:
    ct_conv_plan_free(plan);
    scratch_free(&s);
    return st;
}

ct_status ct_check_gemm_case(ct_runtime *rt, int ta, int tb, int M, int N, int K, float alpha,
                             float beta, uint64_t seed, double *err) {
    return ct_check_gemm_case_v(rt, NULL, ta, tb, M, N, K, alpha, beta, seed, err);
}

static ct_status gemm_call(ct_runtime *rt, const ct_variant *v, int ta, int tb, int M, int N, int K,
                           float alpha, cl_mem A, size_t ao, int lda, cl_mem B, size_t bo, int ldb,
                           float beta, cl_mem C, size_t co, int ldc) {
    if (v)
        return ct_gemm_run(rt, *v, ta, tb, M, N, K, alpha, A, ao, lda, B, bo, ldb, beta, C, co,
                           ldc);
    return ct_gemm(rt, ta, tb, M, N, K, alpha, A, ao, lda, B, bo, ldb, beta, C, co, ldc);
}

ct_status ct_check_gemm_case_v(ct_runtime *rt, const ct_variant *v, int ta, int tb, int M, int N,
                               int K, float alpha, float beta, uint64_t seed, double *err) {
    *err = INFINITY;
    if (v && !ct_gemm_variant_fits(rt, ta, tb, *v)) {
        *err = -1;
        return CT_OK;
    }
    /* Padded leading dimensions and offsets, so strides and offsets are exercised too. */
    int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
    size_t ao = 5, bo = 7, co = 3;
    size_t na = ao + (size_t)(ta ? K : M) * lda, nb = bo + (size_t)(tb ? N : K) * ldb;
    size_t nc = co + (size_t)M * ldc;
    scratch s = {0};
    float *a = s.h[0] = host(na), *b = s.h[1] = host(nb), *c = s.h[2] = host(nc);
    float *want = s.h[3] = host(nc), *got = s.h[4] = host(nc);
    ct_status st = CT_OK;
    if (!a || !b || !c || !want || !got) {
        st = ct_set_error(CT_ERR_MEMORY, "out of host memory (gemm check)");
        goto done;
    }
    ct_fill_random(a, na, seed, -1, 1);
    ct_fill_random(b, nb, seed + 1, -1, 1);
    ct_fill_random(c, nc, seed + 2, -1, 1);
    memcpy(want, c, nc * sizeof(float));
    ct_ref_gemm(ta, tb, M, N, K, alpha, a + ao, lda, b + bo, ldb, beta, want + co, ldc);
    if ((st = dev_buf(rt, "check.A", na, a, &s.m[0])) != CT_OK ||
        (st = dev_buf(rt, "check.B", nb, b, &s.m[1])) != CT_OK ||
        (st = dev_buf(rt, "check.C", nc, beta != 0.0f ? c : NULL, &s.m[2])) != CT_OK)
        goto done;
    if (beta == 0.0f) { /* C poisoned: beta 0 must not read it; the padding must stay NaN */
        st = gemm_call(rt, v, ta, tb, M, N, K, alpha, s.m[0], ao, lda, s.m[1], bo, ldb, beta,
                       s.m[2], co, ldc);
        if (st == CT_OK) st = ct_download(rt, s.m[2], 0, nc * sizeof(float), got);
        if (st != CT_OK) goto done;
        double e = 0;
        for (size_t i = 0; i < nc; i++) {
            size_t r = i < co ? (size_t)-1 : (i - co) / ldc, col = i < co ? 0 : (i - co) % ldc;
            int inside = i >= co && r < (size_t)M && col < (size_t)N;
            if (!inside && !isnan(got[i])) e = INFINITY; /* wrote outside C */
            if (!inside) got[i] = want[i] = 0;
        }
        double e2 = ct_compare(got, want, nc, ct_ops_atol(K), CT_OPS_RTOL);
        *err = e > e2 ? e : e2;
    } else {
        st = gemm_call(rt, v, ta, tb, M, N, K, alpha, s.m[0], ao, lda, s.m[1], bo, ldb, beta,
                       s.m[2], co, ldc);
        if (st == CT_OK) st = ct_download(rt, s.m[2], 0, nc * sizeof(float), got);
        if (st != CT_OK) goto done;
        *err = ct_compare(got, want, nc, ct_ops_atol(K + 1), CT_OPS_RTOL);
    }
done:
    scratch_free(&s);
    return st;
}

/* ---- one variant on small odd shapes (the tuning stage's gate) ----------------- */
int ct_check_variant(ct_runtime *rt, ct_op_kind op, ct_variant v) {
    int ran = 0;
    if (op == CT_OP_GEMM) {
        static const int sz[2][3] = {{37, 45, 29}, {13, 70, 150}};
        for (int t = 0; t < 4; t++)
            for (int s = 0; s < 2; s++) {
                double e = INFINITY;
                if (ct_check_gemm_case_v(rt, &v, t & 1, t >> 1, sz[s][0], sz[s][1], sz[s][2], 1.0f,
                                         s ? 0.5f : 0.0f, 77 + t, &e) != CT_OK)
                    return 0;
                if (e < 0) continue;
                if (!(e <= 1.0)) return 0;
                ran = 1;
            }
        return ran ? 1 : -1;
    }
    /* the third and fourth: 'valid' rows longer than every implicit block, last block
     * partial (its shift odd and even: the fused pool reads in place only when even).
     * The forward also runs each case with the fused pool (k[8]). */
    static const int cases[][9] = {
        {2, 3, 9, 7, 5, 3, 1, 0, 0},  {3, 4, 8, 11, 7, 3, 2, 1, 0}, {2, 3, 5, 37, 5, 3, 1, 0, 0},
        {2, 3, 9, 7, 5, 3, 1, 0, 2},  {3, 4, 8, 11, 7, 3, 2, 1, 2}, {2, 3, 5, 37, 5, 3, 1, 0, 2},
        {2, 3, 6, 36, 5, 3, 1, 0, 2}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int *k = cases[i];
        ct_conv_desc d;
        double e = INFINITY;
        if (k[8] && op != CT_OP_CONV_FWD) continue;
        if (ct_conv_desc_init(&d, k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], CT_ACT_RELU) !=
            CT_OK)
            return 0;
        d.pool = k[8];
        if (ct_check_conv_case_v(rt, &d, k[0], (ct_conv_pass)(op - 1), &v, 31 + i, &e, NULL, 0) !=
            CT_OK)
            return 0;
        if (e < 0) continue;
        if (!(e <= 1.0)) return 0;
        ran = 1;
    }
    return ran ? 1 : -1;
}

/* ---- selftest entries: *max_err < 0 means skipped (nothing this device can run) ---- */
static ct_status conv_cases(ct_runtime *rt, ct_conv_pass pass, const ct_variant *v,
                            double *max_err) {
    /* odd sizes, both paddings, both strides; the forward also with the fused pool
     * (relu and linear, odd and even outputs, the last implicit block shifted evenly) */
    static const int cases[][9] = {/* n cin h w cout k stride same pool */
                                   {2, 3, 9, 7, 5, 3, 1, 0, 0},
                                   {1, 4, 8, 11, 6, 3, 2, 1, 0},
                                   {2, 5, 10, 10, 33, 1, 1, 0, 0},
                                   {2, 3, 9, 7, 5, 3, 1, 0, 2},
                                   {1, 4, 8, 11, 6, 3, 2, 1, 2},
                                   {2, 3, 6, 36, 9, 3, 1, 0, 2}};
    *max_err = -1;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int *c = cases[i];
        ct_conv_desc d;
        if (c[8] && pass != CT_CONV_FWD) continue;
        CT_TRY(ct_conv_desc_init(&d, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
                                 pass == CT_CONV_FWD && i != 4 ? CT_ACT_RELU : CT_ACT_NONE));
        d.pool = c[8];
        double e;
        CT_TRY(ct_check_conv_case_v(rt, &d, d.n, pass, v, 100 + i, &e, NULL, 0));
        if (e < 0) continue; /* v does not fit this case */
        if (*max_err < 0) *max_err = 0;
        if (!(e <= *max_err)) *max_err = e;
    }
    return CT_OK;
}

ct_status ct_check_conv_forward(ct_runtime *rt, double *max_err) {
    return conv_cases(rt, CT_CONV_FWD, NULL, max_err);
}
ct_status ct_check_conv_backward_data(ct_runtime *rt, double *max_err) {
    return conv_cases(rt, CT_CONV_BWD_DATA, NULL, max_err);
}
ct_status ct_check_conv_backward_weights(ct_runtime *rt, double *max_err) {
    return conv_cases(rt, CT_CONV_BWD_WEIGHTS, NULL, max_err);
}

ct_status ct_check_gemm(ct_runtime *rt, double *max_err) {
    *max_err = 0;
    for (int t = 0; t < 4; t++) {
        double e;
        CT_TRY(ct_check_gemm_case(rt, t & 1, t >> 1, 37, 29, 45, 1.0f, t == 3 ? 0.5f : 0.0f,
                                  200 + t, &e));
        if (!(e <= *max_err)) *max_err = e;
    }
    return CT_OK;
}

/* One entry per shipped GEMM kernel, run by name; skipped where the device cannot run it. */
static ct_status gemm_variant(ct_runtime *rt, int k, double *max_err) {
    ct_variant v = {CT_ALG_KERNEL, k};
    *max_err = -1;
    for (int t = 0; t < 4; t++) {
        double e;
        CT_TRY(ct_check_gemm_case_v(rt, &v, t & 1, t >> 1, 37, 29, 45, 1.0f, t == 3 ? 0.5f : 0.0f,
                                    210 + t, &e));
        if (e < 0) continue; /* e.g. no tile fits the local memory; nt: A * B^T only */
        if (*max_err < 0) *max_err = 0;
        if (!(e <= *max_err)) *max_err = e;
    }
    return CT_OK;
}
#define GEMM_ENTRY(nm, v)                                                                     \
    ct_status ct_check_gemm_##nm(ct_runtime *rt, double *max_err) {                          \
        return gemm_variant(rt, v, max_err);                                                  \
    }
GEMM_ENTRY(simple, CT_GK_SIMPLE)
GEMM_ENTRY(blk6x32, CT_GK_BLK6x32)
GEMM_ENTRY(blk8x32, CT_GK_BLK8x32)
GEMM_ENTRY(blk4x16, CT_GK_BLK4x16)
GEMM_ENTRY(blk4x8, CT_GK_BLK4x8)
GEMM_ENTRY(tiled, CT_GK_TILED)
GEMM_ENTRY(nt4x16, CT_GK_NT4x16)
GEMM_ENTRY(nt4x8, CT_GK_NT4x8)

/* Every variant of the pass whose algorithm is in the family, by name, on the cases it
 * fits; skipped when none of them fits anything on this device. */
enum { FAM_DIRECT, FAM_IM2COL, FAM_IMPLICIT, FAM_WINOGRAD };
static int in_family(ct_alg a, int fam) {
    if (fam == FAM_DIRECT) return a == CT_ALG_DIRECT;
    if (fam == FAM_WINOGRAD)
        return a == CT_ALG_WINOGRAD || a == CT_ALG_FLIP_WINOGRAD || a == CT_ALG_WINOGRAD_FUSED ||
               a == CT_ALG_FLIP_WINOGRAD_FUSED;
    if (fam == FAM_IM2COL)
        return a == CT_ALG_IM2COL || a == CT_ALG_FLIP_IM2COL || a == CT_ALG_COL2IM;
    return a == CT_ALG_IMPLICIT || a == CT_ALG_FLIP_IMPLICIT || a == CT_ALG_IMPLICIT_DOT;
}
static ct_status conv_variant(ct_runtime *rt, ct_conv_pass pass, int fam, double *max_err) {
    ct_variant all[CT_ALG_COUNT * CT_VARIANT_SUBS];
    int n = ct_variant_all(CT_OP_OF_PASS(pass), all, (int)(sizeof all / sizeof all[0]));
    *max_err = -1;
    for (int i = 0; i < n; i++) {
        if (!in_family(all[i].alg, fam)) continue;
        double e;
        CT_TRY(conv_cases(rt, pass, &all[i], &e));
        if (e < 0) continue;
        if (*max_err < 0) *max_err = 0;
        if (!(e <= *max_err)) *max_err = e;
    }
    return CT_OK;
}
#define CONV_ENTRY(nm, pass, fam)                                                                  \
    ct_status ct_check_conv_##nm(ct_runtime *rt, double *max_err) {                                \
        return conv_variant(rt, pass, fam, max_err);                                               \
    }
CONV_ENTRY(forward_direct, CT_CONV_FWD, FAM_DIRECT)
CONV_ENTRY(forward_im2col, CT_CONV_FWD, FAM_IM2COL)
CONV_ENTRY(forward_implicit, CT_CONV_FWD, FAM_IMPLICIT)
CONV_ENTRY(backward_data_direct, CT_CONV_BWD_DATA, FAM_DIRECT)
CONV_ENTRY(backward_data_im2col, CT_CONV_BWD_DATA, FAM_IM2COL)
CONV_ENTRY(backward_data_implicit, CT_CONV_BWD_DATA, FAM_IMPLICIT)
CONV_ENTRY(forward_winograd, CT_CONV_FWD, FAM_WINOGRAD)
CONV_ENTRY(backward_data_winograd, CT_CONV_BWD_DATA, FAM_WINOGRAD)
CONV_ENTRY(backward_weights_direct, CT_CONV_BWD_WEIGHTS, FAM_DIRECT)
CONV_ENTRY(backward_weights_im2col, CT_CONV_BWD_WEIGHTS, FAM_IM2COL)
CONV_ENTRY(backward_weights_implicit, CT_CONV_BWD_WEIGHTS, FAM_IMPLICIT)
CONV_ENTRY(backward_weights_winograd, CT_CONV_BWD_WEIGHTS, FAM_WINOGRAD)
