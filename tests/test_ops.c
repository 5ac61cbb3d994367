/* Ops: every GEMM variant (all transpose combos it runs, odd sizes, offsets, beta 0 with
 * NaN-poisoned C) and every conv variant of forward / backward_data / backward_weights,
 * run by name, against the C references on many shapes (each where it fits; the name of
 * the variant that ran is checked), plus finite-difference checks in double precision that
 * the device backward passes are the gradients of the forward pass. The defaults (no
 * table entry) are checked the same way.
 *
 * CLTRAIN_TEST_SMALL=1 (the oclgrind leg of .ci/run): the same variants, every kind of
 * shape (both paddings, strides 1-3, batch 1 and 3, a channel block boundary, rows longer
 * than the implicit blocks) but fewer of each, so that a simulator that interprets every
 * instruction finishes in minutes. */
#include "ctest.h"
#include "ops/ops_internal.h"
#include "check/ops_ref.h"
#include "check/selftest.h"
#include "layers/layer.h"
#include "runtime/tensor.h"

static int small; /* CLTRAIN_TEST_SMALL */

static const char *vname(int pass, const ct_variant *v, char *buf, size_t n) {
    if (!v) return snprintf(buf, n, "default"), buf;
    return ct_variant_name(CT_OP_OF_PASS(pass), *v, buf, n);
}

/* One case with variant v (NULL: the default); counts it in *runs when v fits. */
static void conv_one(ct_runtime *rt, const char *label, const ct_conv_desc *d, int n, int pass,
                     const ct_variant *v, uint64_t seed, int *runs) {
    double e = INFINITY;
    char ran[64], want[64];
    CHECK_OK(ct_check_conv_case_v(rt, d, n, (ct_conv_pass)pass, v, seed, &e, ran, sizeof ran));
    if (e < 0 && v) return; /* does not fit this shape */
    (*runs)++;
    CHECK(e <= 1.0,
          "%s: conv pass %d n=%d(%d) cin%d %dx%d cout%d k=%d s=%d pad %d,%d: err %.3g x tol", label,
          pass, n, d->n, d->cin, d->h, d->w, d->cout, d->k, d->stride, d->pad_t, d->pad_l, e);
    if (v) CHECK(!strcmp(ran, vname(pass, v, want, sizeof want)), "%s: ran %s", label, ran);
}

/* The shapes of one pass with variant v; returns how many it fitted. */
static int conv_shapes(ct_runtime *rt, const char *label, int pass, const ct_variant *v) {
    static const int ks[] = {1, 3, 5};
    int runs = 0;
    for (int ni = small; ni < 2; ni++)
        for (int ki = 0; ki < 3; ki++)
            for (int stride = 1; stride <= 2; stride++)
                for (int same = 0; same <= 1; same++) {
                    int n = ni ? 3 : 1;
                    ct_conv_desc d;
                    CHECK_OK(ct_conv_desc_init(&d, n, 3, 7, 9, 5, ks[ki], stride, same,
                                               (ki + stride) % 2 ? CT_ACT_RELU : CT_ACT_NONE));
                    conv_one(rt, label, &d, n, pass, v, 11 + ki, &runs);
                }
    /* Larger channel counts (blocking paths), stride 3, a batch below the plan's */
    static const int big[][9] = {/* n cin h w cout k stride same run_n */
                                 {3, 16, 13, 12, 32, 3, 1, 0, 3},
                                 {2, 32, 11, 11, 64, 3, 1, 1, 2},
                                 {2, 6, 10, 13, 7, 3, 3, 1, 2},
                                 {4, 8, 12, 12, 16, 3, 2, 0, 3},
                                 {2, 3, 30, 31, 32, 3, 1, 0, 2},
                                 {1, 64, 6, 6, 65, 3, 1, 0, 1}};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        const int *c = big[i];
        /* small: the strided ones and the 64 -> 65 block boundary (one item) stay */
        if (small && (i == 0 || i == 1 || i == 4)) continue;
        ct_conv_desc d;
        CHECK_OK(ct_conv_desc_init(&d, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
                                   CT_ACT_RELU));
        conv_one(rt, label, &d, c[8], pass, v, 50 + i, &runs);
    }
    return runs;
}

/* 'valid' rows longer than the implicit blocks (read in place, overlapping last block) */
static int conv_wide(ct_runtime *rt, const char *label, int pass, const ct_variant *v) {
    int runs = 0;
    for (int k = 1; k <= 5; k += 2) {
        ct_conv_desc d;
        CHECK_OK(ct_conv_desc_init(&d, 2, 3, 6, 41, 6, k, 1, 0, CT_ACT_RELU));
        conv_one(rt, label, &d, 2, pass, v, 40 + k, &runs);
    }
    /* 'same' 3x3 with an odd number of output rows, rows of several vectors of tiles and
     * a partial one, and output channels past one block of 32 (not a multiple of 8) */
    ct_conv_desc d;
    CHECK_OK(ct_conv_desc_init(&d, 2, 5, 7, 70, 37, 3, 1, 1, CT_ACT_RELU));
    conv_one(rt, label, &d, 2, pass, v, 47, &runs);
    /* one output channel (one input channel for backward-data): the smallest local area
     * of the fused Winograd, the only shape its F(4x4) 4x16 config fits with 16 KiB */
    CHECK_OK(ct_conv_desc_init(&d, 2, 2, 9, 11, 1, 3, 1, 1, CT_ACT_NONE));
    conv_one(rt, label, &d, 2, pass, v, 48, &runs);
    return runs;
}

static void desc_rules(void) {
    ct_conv_desc d;
    /* Keras 'same': out = ceil(in/s), extra padding at bottom/right */
    CHECK_OK(ct_conv_desc_init(&d, 1, 1, 7, 8, 1, 3, 2, 1, CT_ACT_NONE));
    CHECK(d.oh == 4 && d.ow == 4 && d.pad_t == 1 && d.pad_l == 0,
          "same 7x8 k3 s2: oh %d ow %d pad %d %d", d.oh, d.ow, d.pad_t, d.pad_l);
    CHECK_OK(ct_conv_desc_init(&d, 1, 1, 9, 9, 1, 4, 1, 1, CT_ACT_NONE));
    CHECK(d.oh == 9 && d.pad_t == 1, "same 9 k4 s1: oh %d pad %d", d.oh, d.pad_t);
    CHECK_OK(ct_conv_desc_init(&d, 1, 1, 112, 112, 32, 3, 1, 0, CT_ACT_RELU));
    CHECK(d.oh == 110 && d.ow == 110 && d.pad_t == 0, "valid 112 k3: %d", d.oh);
    CHECK_OK(ct_conv_desc_init(&d, 1, 1, 8, 8, 1, 1, 2, 1, CT_ACT_NONE));
    CHECK(d.oh == 4 && d.pad_t == 0, "same 8 k1 s2: oh %d pad %d", d.oh, d.pad_t);
    CHECK(ct_conv_desc_init(&d, 1, 1, 2, 5, 1, 3, 1, 0, CT_ACT_NONE) == CT_ERR_SHAPE,
          "valid 3x3 on a 2-row input must fail");
}

static void gemm_shapes(ct_runtime *rt, const char *label, const ct_variant *v) {
    static const int sz[][3] = {{1, 1, 1},   {7, 9, 5},     {37, 29, 45}, {64, 33, 17},
                                {5, 131, 3}, {70, 250, 67}, {13, 40, 300}, {6, 35, 0}};
    for (size_t i = 0; i < sizeof sz / sizeof sz[0]; i++)
        for (int t = 0; t < 4 && !(small && (i == 5 || i == 6)); t++) /* small: not the largest */
            for (int bi = 0; bi < 2; bi++) {
                double e = INFINITY;
                float alpha = bi ? 0.75f : 1.0f, beta = bi ? -0.5f : 0.0f;
                CHECK_OK(ct_check_gemm_case_v(rt, v, t & 1, t >> 1, sz[i][0], sz[i][1], sz[i][2],
                                              alpha, beta, 300 + i, &e));
                if (e < 0 && v) continue; /* transposes this variant does not run */
                CHECK(e <= 1.0, "%s: gemm %dx%dx%d ta %d tb %d beta %g: err %.3g x tol", label, sz[i][0],
                      sz[i][1], sz[i][2], t & 1, t >> 1, beta, e);
            }
}

/* L = sum(forward(x, w, b) * g) in double; its gradients are backward_data(g) and
 * backward_weights(x, g). Central differences on every element (L is linear, so the
 * difference quotient is exact up to rounding). */
static double loss_d(const ct_conv_desc *d, int n, const double *x, const double *w,
                     const double *b, const double *g, double *ybuf) {
    ct_ref_conv_forward_d(d, n, x, w, b, ybuf);
    double L = 0;
    for (size_t i = 0; i < (size_t)n * d->cout * d->oh * d->ow; i++) L += ybuf[i] * g[i];
    return L;
}

/* pass: the backward pass checked (CT_CONV_BWD_DATA or CT_CONV_BWD_WEIGHTS), with variant
 * v (NULL: the default; a shape v does not fit is skipped). */
static void fd_case(ct_runtime *rt, const char *label, int pass, const ct_variant *v, int n,
                    int cin, int h, int w, int cout, int k, int stride, int same) {
    ct_conv_desc d;
    CHECK_OK(ct_conv_desc_init(&d, n, cin, h, w, cout, k, stride, same, CT_ACT_NONE));
    size_t nx = (size_t)n * cin * h * w, ny = (size_t)n * cout * d.oh * d.ow;
    size_t nw = (size_t)cout * cin * k * k;
    float *xf = malloc(nx * 4), *wf = malloc(nw * 4), *gf = malloc(ny * 4);
    float *dx = malloc(nx * 4), *dw = malloc(nw * 4), *db = malloc((size_t)cout * 4);
    double *xd = malloc(nx * 8), *wd = malloc(nw * 8), *bd = calloc((size_t)cout, 8);
    double *gd = malloc(ny * 8), *yb = malloc(ny * 8);
    if (!xf || !wf || !gf || !dx || !dw || !db || !xd || !wd || !bd || !gd || !yb) {
        CHECK(0, "out of memory");
        return;
    }
    ct_fill_random(xf, nx, 901, -1, 1);
    ct_fill_random(wf, nw, 902, -1, 1);
    ct_fill_random(gf, ny, 903, -1, 1);
    for (size_t i = 0; i < nx; i++) xd[i] = xf[i];
    for (size_t i = 0; i < nw; i++) wd[i] = wf[i];
    for (size_t i = 0; i < ny; i++) gd[i] = gf[i];
    cl_mem bx, bw, bg, bdx, bdw, bdb;
    ct_conv_plan *p = NULL;
    CHECK_OK(ct_buffer_create(rt, "fd.x", nx * 4, CL_MEM_READ_WRITE, &bx));
    CHECK_OK(ct_buffer_create(rt, "fd.w", nw * 4, CL_MEM_READ_WRITE, &bw));
    CHECK_OK(ct_buffer_create(rt, "fd.g", ny * 4, CL_MEM_READ_WRITE, &bg));
    CHECK_OK(ct_buffer_create(rt, "fd.dx", nx * 4, CL_MEM_READ_WRITE, &bdx));
    CHECK_OK(ct_buffer_create(rt, "fd.dw", nw * 4, CL_MEM_READ_WRITE, &bdw));
    CHECK_OK(ct_buffer_create(rt, "fd.db", (size_t)cout * 4, CL_MEM_READ_WRITE, &bdb));
    CHECK_OK(ct_upload(rt, bx, 0, nx * 4, xf));
    CHECK_OK(ct_upload(rt, bw, 0, nw * 4, wf));
    CHECK_OK(ct_upload(rt, bg, 0, ny * 4, gf));
    CHECK_OK(ct_poison(rt, bdx, nx * 4));
    CHECK_OK(ct_poison(rt, bdw, nw * 4));
    CHECK_OK(ct_poison(rt, bdb, (size_t)cout * 4));
    CHECK_OK(ct_conv_plan_create(rt, &d, &p));
    int fits = p && (!v || ct_conv_plan_fits(p, pass, *v));
    if (fits && v) CHECK_OK(ct_conv_plan_force(p, pass, v));
    if (fits) {
        CHECK_OK(ct_conv_backward_data(p, n, bg, bw, bdx));
        CHECK_OK(ct_conv_backward_weights(p, n, bx, bg, bdw, bdb));
    }
    CHECK_OK(ct_download(rt, bdx, 0, nx * 4, dx));
    CHECK_OK(ct_download(rt, bdw, 0, nw * 4, dw));
    CHECK_OK(ct_download(rt, bdb, 0, (size_t)cout * 4, db));
    const double hstep = 1e-3;
    double worst = 0;
    for (size_t i = 0; fits && pass == CT_CONV_BWD_DATA && i < nx; i++) {
        double s = xd[i];
        xd[i] = s + hstep;
        double lp = loss_d(&d, n, xd, wd, bd, gd, yb);
        xd[i] = s - hstep;
        double lm = loss_d(&d, n, xd, wd, bd, gd, yb);
        xd[i] = s;
        double fd = (lp - lm) / (2 * hstep);
        double e = fabs(fd - dx[i]) / (ct_ops_atol(cout * k * k) + CT_OPS_RTOL * fabs(fd));
        if (!(e <= worst)) worst = e;
    }
    CHECK(worst <= 1.0, "%s: FD dx (n%d cin%d %dx%d cout%d k%d s%d same%d): err %.3g x tol", label, n, cin,
          h, w, cout, k, stride, same, worst);
    worst = 0;
    for (size_t i = 0; fits && pass == CT_CONV_BWD_WEIGHTS && i < nw + (size_t)cout; i++) {
        double *v = i < nw ? &wd[i] : &bd[i - nw];
        double s = *v;
        *v = s + hstep;
        double lp = loss_d(&d, n, xd, wd, bd, gd, yb);
        *v = s - hstep;
        double lm = loss_d(&d, n, xd, wd, bd, gd, yb);
        *v = s;
        double fd = (lp - lm) / (2 * hstep);
        double got = i < nw ? dw[i] : db[i - nw];
        double e = fabs(fd - got) / (ct_ops_atol(n * d.oh * d.ow) + CT_OPS_RTOL * fabs(fd));
        if (!(e <= worst)) worst = e;
    }
    CHECK(worst <= 1.0, "%s: FD dw/db (n%d cin%d %dx%d cout%d k%d s%d same%d): err %.3g x tol", label, n,
          cin, h, w, cout, k, stride, same, worst);
    ct_conv_plan_free(p);
    clReleaseMemObject(bx);
    clReleaseMemObject(bw);
    clReleaseMemObject(bg);
    clReleaseMemObject(bdx);
    clReleaseMemObject(bdw);
    clReleaseMemObject(bdb);
    free(xf), free(wf), free(gf), free(dx), free(dw), free(db);
    free(xd), free(wd), free(bd), free(gd), free(yb);
}

/* forward with b == NULL (no bias) for a variant */
static void no_bias(ct_runtime *rt, ct_variant v) {
    ct_conv_desc d;
    CHECK_OK(ct_conv_desc_init(&d, 2, 3, 9, 8, 5, 3, 1, 1, CT_ACT_RELU));
    size_t nx = 2 * 3 * 9 * 8, nw = 5 * 3 * 9, ny = 2 * 5 * 9 * 8;
    float x[2 * 3 * 9 * 8], w[5 * 3 * 9], want[2 * 5 * 9 * 8], got[2 * 5 * 9 * 8];
    ct_fill_random(x, nx, 71, -1, 1);
    ct_fill_random(w, nw, 72, -1, 1);
    ct_ref_conv_forward(&d, 2, x, w, NULL, want);
    cl_mem bx, bw, by;
    ct_conv_plan *p = NULL;
    CHECK_OK(ct_buffer_create(rt, "nb.x", sizeof x, CL_MEM_READ_WRITE, &bx));
    CHECK_OK(ct_buffer_create(rt, "nb.w", sizeof w, CL_MEM_READ_WRITE, &bw));
    CHECK_OK(ct_buffer_create(rt, "nb.y", sizeof got, CL_MEM_READ_WRITE, &by));
    CHECK_OK(ct_upload(rt, bx, 0, sizeof x, x));
    CHECK_OK(ct_upload(rt, bw, 0, sizeof w, w));
    CHECK_OK(ct_poison(rt, by, sizeof got));
    CHECK_OK(ct_conv_plan_create(rt, &d, &p));
    if (p) CHECK_OK(ct_conv_plan_force(p, CT_CONV_FWD, &v));
    if (p) CHECK_OK(ct_conv_forward(p, 2, bx, bw, NULL, by));
    CHECK_OK(ct_download(rt, by, 0, sizeof got, got));
    double e = ct_compare(got, want, ny, ct_ops_atol(27), CT_OPS_RTOL);
    char nm[64];
    CHECK(e <= 1.0, "forward without bias, %s: err %.3g x tol", vname(0, &v, nm, sizeof nm), e);
    ct_conv_plan_free(p);
    clReleaseMemObject(bx);
    clReleaseMemObject(bw);
    clReleaseMemObject(by);
}

static void fd_all(ct_runtime *rt, const char *label, int pass, const ct_variant *v) {
    fd_case(rt, label, pass, v, 2, 3, 7, 9, 5, 3, 1, 0);
    fd_case(rt, label, pass, v, 2, 3, 7, 9, 5, 3, 2, 1);
    if (small) return; /* small: stride 1 'valid' and stride 2 'same' only */
    fd_case(rt, label, pass, v, 1, 2, 8, 7, 3, 5, 2, 1);
    fd_case(rt, label, pass, v, 3, 4, 6, 6, 6, 1, 1, 0);
    fd_case(rt, label, pass, v, 1, 3, 9, 8, 4, 4, 1, 1);
}

/* Winograd's rounding against direct convolution, both measured against the float64
 * reference on the same inputs (uniform in [-1, 1]): max |y - y64| over the output,
 * and that over max |y64|. F(2x2, 3x3)'s transforms add a few roundings per output (the
 * 1/2 in G is exact); the check allows 4x direct's error (printed, docs/OPS.md).
 * F(4x4, 3x3) (the f4- configs) is less accurate: G's 1/6 and 1/24 are inexact and B^T
 * and A^T carry 4, 5 and 8, so each transform-domain product sums terms several times the
 * output's size. Measured 8.2x direct's error forward, 8.3x backward-data; it is allowed
 * 16x (test_golden --f4 shows what that does to three Adam steps). */
static void winograd_error(ct_runtime *rt) {
    static const int shapes[][6] = {/* n cin hw cout same bwd-data */
                                    {2, 32, 27, 64, 0, 0}, {2, 64, 12, 64, 1, 0},
                                    {2, 64, 12, 32, 1, 1}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const int *c = shapes[si];
        ct_conv_desc d;
        CHECK_OK(ct_conv_desc_init(&d, c[0], c[1], c[2], c[2], c[3], 3, 1, c[4], CT_ACT_NONE));
        int bwd = c[5], n = c[0];
        /* backward-data is checked as what it computes: dx = conv(dy, flipped w) */
        size_t nin = bwd ? (size_t)n * d.cout * d.oh * d.ow : (size_t)n * d.cin * d.h * d.w;
        size_t nout = bwd ? (size_t)n * d.cin * d.h * d.w : (size_t)n * d.cout * d.oh * d.ow;
        size_t nw = (size_t)d.cout * d.cin * 9;
        float *xf = malloc(nin * 4), *wf = malloc(nw * 4), *bf = calloc((size_t)d.cout, 4);
        float *yw = malloc(nout * 4), *yd = malloc(nout * 4);
        double *xd = malloc(nin * 8), *wd = malloc(nw * 8), *y64 = malloc(nout * 8);
        double *bd = calloc((size_t)(d.cin > d.cout ? d.cin : d.cout), 8);
        if (!xf || !wf || !bf || !yw || !yd || !xd || !wd || !y64 || !bd) {
            CHECK(0, "out of memory");
            return;
        }
        ct_fill_random(xf, nin, 1200 + si, -1, 1);
        ct_fill_random(wf, nw, 1300 + si, -1, 1);
        for (size_t i = 0; i < nin; i++) xd[i] = xf[i];
        if (!bwd) {
            for (size_t i = 0; i < nw; i++) wd[i] = wf[i];
            ct_ref_conv_forward_d(&d, n, xd, wd, bd, y64);
        } else { /* the flipped conv: cin, cout swapped, padding 2 - pad */
            ct_conv_desc f;
            CHECK_OK(ct_conv_desc_init(&f, n, d.cout, d.oh, d.ow, d.cin, 3, 1, 0, CT_ACT_NONE));
            f.pad_t = 2 - d.pad_t, f.pad_l = 2 - d.pad_l, f.oh = d.h, f.ow = d.w;
            for (int co = 0; co < d.cout; co++)
                for (int ci = 0; ci < d.cin; ci++)
                    for (int t = 0; t < 9; t++)
                        wd[((size_t)ci * d.cout + co) * 9 + (8 - t)] = wf[((size_t)co * d.cin + ci) * 9 + t];
            ct_ref_conv_forward_d(&f, n, xd, wd, bd, y64);
        }
        cl_mem bx, bw, bb, by;
        CHECK_OK(ct_buffer_create(rt, "we.x", nin * 4, CL_MEM_READ_WRITE, &bx));
        CHECK_OK(ct_buffer_create(rt, "we.w", nw * 4, CL_MEM_READ_WRITE, &bw));
        CHECK_OK(ct_buffer_create(rt, "we.b", (size_t)d.cout * 4, CL_MEM_READ_WRITE, &bb));
        CHECK_OK(ct_buffer_create(rt, "we.y", nout * 4, CL_MEM_READ_WRITE, &by));
        CHECK_OK(ct_upload(rt, bx, 0, nin * 4, xf));
        CHECK_OK(ct_upload(rt, bw, 0, nw * 4, wf));
        CHECK_OK(ct_upload(rt, bb, 0, (size_t)d.cout * 4, bf));
        ct_conv_plan *p = NULL;
        CHECK_OK(ct_conv_plan_create(rt, &d, &p));
        int pass = bwd ? CT_CONV_BWD_DATA : CT_CONV_FWD;
        /* direct first, then the separate-kernel Winograd and every fused config */
        ct_variant vs[2 + CT_CONV_WFUSED_CONFIGS] = {
            {CT_ALG_DIRECT, 0},
            {bwd ? CT_ALG_FLIP_WINOGRAD : CT_ALG_WINOGRAD, ct_gemm_kernel_default(rt)}};
        for (int f = 0; f < CT_CONV_WFUSED_CONFIGS; f++)
            vs[2 + f] = (ct_variant){bwd ? CT_ALG_FLIP_WINOGRAD_FUSED : CT_ALG_WINOGRAD_FUSED, f};
        double ed = 0, ymax = 0;
        for (int r = 0; p && r < 2 + CT_CONV_WFUSED_CONFIGS; r++) {
            if (!ct_conv_plan_fits(p, pass, vs[r])) continue;
            float *out = r == 0 ? yd : yw;
            CHECK_OK(ct_conv_plan_force(p, pass, &vs[r]));
            CHECK_OK(ct_poison(rt, by, nout * 4));
            if (bwd)
                CHECK_OK(ct_conv_backward_data(p, n, bx, bw, by));
            else
                CHECK_OK(ct_conv_forward(p, n, bx, bw, bb, by));
            CHECK_OK(ct_download(rt, by, 0, nout * 4, out));
            if (r == 0) {
                for (size_t i = 0; i < nout; i++) {
                    double b = fabs(yd[i] - y64[i]);
                    if (!(b <= ed)) ed = b;
                    if (fabs(y64[i]) > ymax) ymax = fabs(y64[i]);
                }
                continue;
            }
            double ew = 0;
            for (size_t i = 0; i < nout; i++) {
                double a = fabs(yw[i] - y64[i]);
                if (!(a <= ew)) ew = a;
            }
            char nm[64];
            ct_variant_name(CT_OP_OF_PASS(pass), vs[r], nm, sizeof nm);
            printf("winograd error (%s, n%d cin%d %dx%d cout%d %s): max |y - y64| %.3g (%.3g "
                   "of max |y64| %.3g), direct %.3g (%.3g)\n", nm, n, d.cin, d.h, d.w, d.cout,
                   c[4] ? "same" : "valid", ew, ew / ymax, ymax, ed, ed / ymax);
            double allow = strstr(nm, ":f4-") ? 16 : 4;
            CHECK(ew <= allow * ed + 1e-6 * ymax, "%s error %.3g above %.0fx direct's %.3g", nm,
                  ew, allow, ed);
        }
        ct_conv_plan_free(p);
        clReleaseMemObject(bx), clReleaseMemObject(bw), clReleaseMemObject(bb);
        clReleaseMemObject(by);
        free(xf), free(wf), free(bf), free(yw), free(yd), free(xd), free(wd), free(y64), free(bd);
    }
}

/* The same for backward-weights: dW of the fused Winograd (F(2x2, 3x3) run backwards)
 * and of direct, both against dW summed in float64 over the batch and pixels. */
static void winograd_error_bw(ct_runtime *rt) {
    static const int shapes[][5] = {/* n cin hw cout same */
                                    {2, 32, 27, 64, 0}, {2, 64, 12, 64, 1}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const int *c = shapes[si];
        ct_conv_desc d;
        CHECK_OK(ct_conv_desc_init(&d, c[0], c[1], c[2], c[2], c[3], 3, 1, c[4], CT_ACT_NONE));
        int n = c[0];
        size_t nx = (size_t)n * d.cin * d.h * d.w, ny = (size_t)n * d.cout * d.oh * d.ow;
        size_t nw = (size_t)d.cout * d.cin * 9;
        float *xf = malloc(nx * 4), *gf = malloc(ny * 4), *dwf = malloc(nw * 4);
        double *dw64 = calloc(nw, 8);
        if (!xf || !gf || !dwf || !dw64) {
            CHECK(0, "out of memory");
            return;
        }
        ct_fill_random(xf, nx, 1400 + si, -1, 1);
        ct_fill_random(gf, ny, 1500 + si, -1, 1);
        for (int b = 0; b < n; b++)
            for (int co = 0; co < d.cout; co++)
                for (int ci = 0; ci < d.cin; ci++)
                    for (int t = 0; t < 9; t++) {
                        int ky = t / 3, kx = t % 3;
                        double acc = 0;
                        for (int oy = 0; oy < d.oh; oy++) {
                            int iy = oy + ky - d.pad_t;
                            if (iy < 0 || iy >= d.h) continue;
                            for (int ox = 0; ox < d.ow; ox++) {
                                int ix = ox + kx - d.pad_l;
                                if (ix < 0 || ix >= d.w) continue;
                                acc += (double)gf[(((size_t)b * d.cout + co) * d.oh + oy) * d.ow + ox] *
                                       xf[(((size_t)b * d.cin + ci) * d.h + iy) * d.w + ix];
                            }
                        }
                        dw64[((size_t)co * d.cin + ci) * 9 + t] += acc;
                    }
        cl_mem bx, bg, bw, bb;
        CHECK_OK(ct_buffer_create(rt, "wb.x", nx * 4, CL_MEM_READ_WRITE, &bx));
        CHECK_OK(ct_buffer_create(rt, "wb.dy", ny * 4, CL_MEM_READ_WRITE, &bg));
        CHECK_OK(ct_buffer_create(rt, "wb.dw", nw * 4, CL_MEM_READ_WRITE, &bw));
        CHECK_OK(ct_buffer_create(rt, "wb.db", (size_t)d.cout * 4, CL_MEM_READ_WRITE, &bb));
        CHECK_OK(ct_upload(rt, bx, 0, nx * 4, xf));
        CHECK_OK(ct_upload(rt, bg, 0, ny * 4, gf));
        ct_conv_plan *p = NULL;
        CHECK_OK(ct_conv_plan_create(rt, &d, &p));
        ct_variant vs[3] = {{CT_ALG_DIRECT, 0}, {CT_ALG_WINOGRAD_FUSED, 1},
                            {CT_ALG_WINOGRAD_FUSED, 3}};
        double ed = -1, gmax = 0;
        for (size_t i = 0; i < nw; i++)
            if (fabs(dw64[i]) > gmax) gmax = fabs(dw64[i]);
        for (int r = 0; p && r < 3; r++) {
            if (!ct_conv_plan_fits(p, CT_CONV_BWD_WEIGHTS, vs[r])) continue;
            CHECK_OK(ct_conv_plan_force(p, CT_CONV_BWD_WEIGHTS, &vs[r]));
            CHECK_OK(ct_poison(rt, bw, nw * 4));
            CHECK_OK(ct_conv_backward_weights(p, n, bx, bg, bw, bb));
            CHECK_OK(ct_download(rt, bw, 0, nw * 4, dwf));
            double e = 0;
            for (size_t i = 0; i < nw; i++) {
                double a = fabs(dwf[i] - dw64[i]);
                if (!(a <= e)) e = a;
            }
            if (r == 0) {
                ed = e;
                continue;
            }
            char nm[64];
            ct_variant_name(CT_OP_CONV_BWD_WEIGHTS, vs[r], nm, sizeof nm);
            printf("winograd error (backward-weights %s, n%d cin%d %dx%d cout%d %s): max |dw - "
                   "dw64| %.3g (%.3g of max |dw64| %.3g), direct %.3g (%.3g)\n", nm, n, d.cin,
                   d.h, d.w, d.cout, c[4] ? "same" : "valid", e, e / gmax, gmax, ed, ed / gmax);
            CHECK(ed >= 0 && e <= 4 * ed + 1e-6 * gmax, "%s error %.3g above 4x direct's %.3g",
                  nm, e, ed);
        }
        ct_conv_plan_free(p);
        clReleaseMemObject(bx), clReleaseMemObject(bg), clReleaseMemObject(bw);
        clReleaseMemObject(bb);
        free(xf), free(gf), free(dwf), free(dw64);
    }
}

/* whether the device can run v at all (its GEMM kernel is usable) */
static int device_runs(ct_runtime *rt, ct_variant v) {
    if (v.alg == CT_ALG_IM2COL || v.alg == CT_ALG_FLIP_IM2COL || v.alg == CT_ALG_COL2IM ||
        v.alg == CT_ALG_WINOGRAD || v.alg == CT_ALG_FLIP_WINOGRAD)
        return ct_gemm_kernel_usable(rt, v.sub);
    return 1;
}

int main(void) {
    ct_runtime *rt = ct_test_runtime(0);
    const char *sm = getenv("CLTRAIN_TEST_SMALL");
    small = sm && *sm && strcmp(sm, "0") != 0;
    if (small) printf("small shapes (CLTRAIN_TEST_SMALL)\n");
    double t0 = ct_now();
    desc_rules();
    /* every GEMM kernel variant this device can run, by name; then the defaults */
    for (int k = 0; k < CT_GK_COUNT; k++) {
        ct_variant v = {CT_ALG_KERNEL, k};
        if (!ct_gemm_kernel_usable(rt, k)) continue;
        gemm_shapes(rt, ct_gemm_kernel_name(k), &v);
    }
    gemm_shapes(rt, "default", NULL);
    double t1 = ct_now();
    /* every conv variant of every pass, by name, on every shape it fits */
    for (int pass = 0; pass < 3; pass++) {
        ct_variant all[CT_ALG_COUNT * CT_VARIANT_SUBS];
        int n = ct_variant_all(CT_OP_OF_PASS(pass), all, (int)(sizeof all / sizeof all[0]));
        for (int i = 0; i <= n; i++) {
            const ct_variant *v = i < n ? &all[i] : NULL; /* last: the defaults */
            char label[80], nm[64];
            snprintf(label, sizeof label, "%s=%s", ct_op_kind_name(CT_OP_OF_PASS(pass)),
                     vname(pass, v, nm, sizeof nm));
            if (v && !device_runs(rt, *v)) continue;
            int runs = conv_shapes(rt, label, pass, v);
            if (!v || v->alg == CT_ALG_IMPLICIT || v->alg == CT_ALG_FLIP_IMPLICIT ||
                v->alg == CT_ALG_IMPLICIT_DOT || v->alg == CT_ALG_WINOGRAD_FUSED ||
                v->alg == CT_ALG_FLIP_WINOGRAD_FUSED)
                runs += conv_wide(rt, label, pass, v);
            int wr, vw;
            /* an F(4x4) fused config needs 36 x (1 + R) x VW floats of local memory even
             * for one input channel: on a device with less it fits nothing, rightly */
            if (!runs && sscanf(nm, "%*[^:]:f4-%dx%d", &wr, &vw) == 2 &&
                (size_t)36 * (1 + wr) * vw * sizeof(float) > rt->local_mem)
                printf("%s: needs more than the device's %zu bytes of local memory\n", label,
                       rt->local_mem);
            else
                CHECK(runs > 0, "%s fits none of the test shapes", label);
            if (pass != CT_CONV_FWD) fd_all(rt, label, pass, v);
        }
    }
    double t2 = ct_now();
    if (!small) { /* a measurement on larger shapes (the other suites) */
        winograd_error(rt);
        winograd_error_bw(rt);
    }
    no_bias(rt, (ct_variant){CT_ALG_DIRECT, 0});
    no_bias(rt, (ct_variant){CT_ALG_IM2COL, ct_gemm_kernel_default(rt)});
    no_bias(rt, (ct_variant){CT_ALG_IMPLICIT, 0});
    /* the selftest entries run here too (< 0: skipped, nothing of it runs here) */
    for (int i = 0; i < ct_selftests_count; i++) {
        double e = INFINITY;
        CHECK_OK(ct_selftests[i].run(rt, &e));
        CHECK(e <= 1.0, "selftest %s: err %.3g x tol", ct_selftests[i].name, e);
    }
    double t3 = ct_now();
    printf("time: gemm %.1f s, conv %.1f s, selftest entries %.1f s\n", t1 - t0, t2 - t1, t3 - t2);
    ct_runtime_free(rt);
    return ct_test_done("ops");
}
