/* Layer kernels: every forward/backward kernel against the C reference on several shapes
 * (odd sizes, NaN-poisoned outputs, abs+rel tolerance), then finite-difference checks in
 * double precision that each device backward pass is the gradient of its forward:
 * pool (plain and with the fused ReLU backward), relu/sigmoid/softmax, dense (incl. a fused
 * activation), dropout with a fixed mask, and both losses. Plus dropout mask properties and
 * loss values Keras gives. */
#include "ctest.h"
#include "layers/layer_check.h"
#include "model/model.h"
#include "layers/layer_ref.h"
#include "check/selftest.h"
#include "runtime/tensor.h"

static ct_runtime *rt;
static ct_layer_kernels K;

/* ---- reference comparisons on many shapes ---- */

static void ref_shapes(void) {
    static const int pools[][6] = {/* n c h w p s */
                                   {1, 1, 2, 2, 2, 2},   {2, 3, 7, 9, 2, 2},  {1, 5, 8, 6, 3, 1},
                                   {3, 2, 11, 5, 2, 1},  {2, 4, 13, 13, 3, 2}, {1, 3, 9, 9, 3, 3},
                                   {4, 32, 27, 29, 2, 2}, {1, 2, 5, 17, 4, 3},  {2, 3, 10, 11, 2, 3},
                                   {1, 2, 9, 7, 1, 2},   {2, 3, 33, 17, 2, 2}, {1, 2, 32, 32, 2, 2}};
    for (size_t i = 0; i < sizeof pools / sizeof pools[0]; i++)
        for (int relu = 0; relu <= 1; relu++)
            for (int bwd = 0; bwd <= 1; bwd++) {
                const int *c = pools[i];
                double e = INFINITY;
                CHECK_OK(ct_check_pool_case(rt, c[0], c[1], c[2], c[3], c[4], c[5], relu, bwd,
                                            100 + i, &e));
                CHECK(e <= 1.0, "pool %dx%dx%dx%d p%d s%d relu %d bwd %d: err %.3g x tol", c[0],
                      c[1], c[2], c[3], c[4], c[5], relu, bwd, e);
            }
    static const int acts[][2] = {{1, 1}, {3, 333}, {64, 1000}, {7, 13}, {5, 1}, {2, 257}};
    for (int a = 1; a <= 3; a++)
        for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++)
            for (int bwd = 0; bwd <= 1; bwd++)
                for (int inplace = 0; inplace <= 1; inplace++) {
                    double e = INFINITY;
                    CHECK_OK(ct_check_act_case(rt, (ct_act)a, acts[i][0], acts[i][1], bwd, inplace,
                                               200 + i, &e));
                    CHECK(e <= 1.0, "act %d %dx%d bwd %d inplace %d: err %.3g x tol", a, acts[i][0],
                          acts[i][1], bwd, inplace, e);
                }
    static const int dense[][3] = {{1, 1, 1}, {5, 37, 9}, {1, 3, 1}, {8, 64, 33},
                                   {13, 100, 7}, {64, 160, 31}, {2, 5, 248}};
    for (size_t i = 0; i < sizeof dense / sizeof dense[0]; i++)
        for (int a = 0; a <= 3; a++)
            for (int bwd = 0; bwd <= 1; bwd++) {
                if (bwd && a) continue; /* backward takes the pre-activation gradient */
                double e = INFINITY;
                CHECK_OK(ct_check_dense_case(rt, dense[i][0], dense[i][1], dense[i][2], (ct_act)a,
                                             bwd, 300 + i, &e));
                CHECK(e <= 1.0, "dense n%d %d->%d act %d bwd %d: err %.3g x tol", dense[i][0],
                      dense[i][1], dense[i][2], a, bwd, e);
            }
    static const size_t dcounts[] = {1, 1001, 4096, 65537};
    static const float rates[] = {0.0f, 0.2f, 0.5f, 0.9f};
    for (int i = 0; i < 4; i++)
        for (int r = 0; r < 4; r++)
            for (int bwd = 0; bwd <= 1; bwd++) {
                double e = INFINITY;
                CHECK_OK(ct_check_dropout_case(rt, dcounts[i], rates[r], bwd, 400 + i * 4 + r, &e));
                CHECK(e <= 1.0, "dropout %zu rate %g bwd %d: err %.3g x tol", dcounts[i],
                      (double)rates[r], bwd, e);
            }
    static const int losses[][2] = {{1, 1}, {13, 1}, {64, 1}, {300, 1}, {9, 5}, {1, 2}, {64, 10},
                                    {257, 3}};
    for (size_t i = 0; i < sizeof losses / sizeof losses[0]; i++) {
        double e = INFINITY;
        CHECK_OK(ct_check_loss_case(rt, losses[i][0], losses[i][1], 500 + i, &e));
        CHECK(e <= 1.0, "loss n%d classes %d: err %.3g x tol", losses[i][0], losses[i][1], e);
    }
    static const size_t acounts[] = {1, 777, 4099};
    for (int i = 0; i < 3; i++)
        for (long t = 1; t <= 1000; t *= 10) {
            double e = INFINITY;
            CHECK_OK(ct_check_adam_case(rt, acounts[i], t, 600 + i, &e));
            CHECK(e <= 1.0, "adam %zu t %ld: err %.3g x tol", acounts[i], t, e);
        }
    ct_optim cfg[CT_CHECK_OPTIM_MAX];
    int ncfg = ct_check_optim_configs(cfg);
    for (int c = 0; c < ncfg; c++)
        for (int i = 0; i < 3; i++)
            for (long t = 1; t <= 1000; t *= 10) {
                double e = INFINITY;
                CHECK_OK(ct_check_optim_case(rt, &cfg[c], acounts[i], t, 700 + c * 3 + i, &e));
                CHECK(e <= 1.0, "%s momentum %g nesterov %d, %zu values, t %ld: err %.3g x tol",
                      ct_optim_name(cfg[c].kind), cfg[c].momentum, cfg[c].nesterov, acounts[i], t,
                      e);
            }
}

/* ---- finite differences in double precision ---- */

typedef double (*fd_fn)(const double *x, void *ctx);

/* Central differences of f at x (n values), step h. */
static void fd_grad(fd_fn f, double *x, size_t n, double h, void *ctx, double *g) {
    for (size_t i = 0; i < n; i++) {
        double x0 = x[i];
        x[i] = x0 + h;
        double a = f(x, ctx);
        x[i] = x0 - h;
        double b = f(x, ctx);
        x[i] = x0;
        g[i] = (a - b) / (2 * h);
    }
}

/* Device gradient (float) against the FD gradient: |got - want| <= atol + rtol |want|. */
static void check_grad(const char *what, const float *got, const double *want, size_t n,
                       double atol, double rtol) {
    double worst = 0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double e = isnan(got[i]) ? INFINITY : fabs(got[i] - want[i]) / (atol + rtol * fabs(want[i]));
        if (!(e <= worst)) {
            worst = e;
            wi = i;
        }
    }
    CHECK(worst <= 1.0, "%s: FD mismatch %.3g x tol at %zu (device %.8g, FD %.8g)", what, worst, wi,
          (double)got[wi], want[wi]);
}

static cl_mem dev_buf(const float *host, size_t n) {
    cl_mem m = NULL;
    if (ct_buffer_create(rt, "fd", (n ? n : 1) * 4, CL_MEM_READ_WRITE, &m) != CT_OK) return NULL;
    if (host) ct_upload(rt, m, 0, n * 4, host);
    else ct_poison(rt, m, n * 4);
    return m;
}

static float *down(cl_mem m, size_t n) {
    float *h = malloc((n ? n : 1) * sizeof *h);
    if (h) ct_download(rt, m, 0, n * 4, h);
    return h;
}

/* L = sum r . f(x): r random, so dL/dy = r. */
typedef struct {
    int n, c, h, w, p, s, relu;
    ct_act act;
    int features, in, out;
    const double *r, *wt, *b, *xin;
    float rate;
    uint32_t seed, step;
    int classes;
    const int *labels;
    int which; /* dense: 0 = x, 1 = W, 2 = b */
} fdctx;

static double dot(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static double pool_loss(const double *x, void *vc) {
    fdctx *c = vc;
    size_t nx = (size_t)c->n * c->c * c->h * c->w;
    int oh = ct_pool_out(c->h, c->p, c->s), ow = ct_pool_out(c->w, c->p, c->s);
    size_t ny = (size_t)c->n * c->c * oh * ow;
    double *t = malloc(nx * sizeof *t), *y = malloc(ny * sizeof *y);
    if (!t || !y) {
        free(t);
        free(y);
        return NAN;
    }
    for (size_t i = 0; i < nx; i++) t[i] = c->relu ? (x[i] > 0 ? x[i] : 0) : x[i];
    ct_ref_pool_fwd(c->n * c->c, c->h, c->w, c->p, c->s, t, y);
    double l = dot(y, c->r, ny);
    free(t);
    free(y);
    return l;
}

static void fd_pool(int n, int ch, int h, int w, int p, int s, int relu, uint64_t seed) {
    int oh = ct_pool_out(h, p, s), ow = ct_pool_out(w, p, s);
    size_t nx = (size_t)n * ch * h * w, ny = (size_t)n * ch * oh * ow;
    float *xf = malloc(nx * 4), *rf = malloc(ny * 4), *act = malloc(nx * 4);
    double *x = malloc(nx * 8), *r = malloc(ny * 8), *g = malloc(nx * 8);
    ct_fill_random(xf, nx, seed, -1, 1);
    ct_fill_random(rf, ny, seed + 1, -1, 1);
    /* keep pre-activations away from the relu kink and from pool ties */
    for (size_t i = 0; i < nx; i++)
        if (fabsf(xf[i]) < 1e-3f) xf[i] = 0.5f;
    ct_to_double(xf, x, nx);
    ct_to_double(rf, r, ny);
    for (size_t i = 0; i < nx; i++) act[i] = relu ? (xf[i] > 0 ? xf[i] : 0) : xf[i];
    fdctx c = {.n = n, .c = ch, .h = h, .w = w, .p = p, .s = s, .relu = relu, .r = r};
    fd_grad(pool_loss, x, nx, 1e-6, &c, g);
    cl_mem bx = dev_buf(act, nx), bdy = dev_buf(rf, ny), bdx = dev_buf(NULL, nx);
    CHECK_OK(ct_pool_backward(&K, n, ch, h, w, p, s, relu, bx, bdy, bdx));
    float *got = down(bdx, nx);
    char what[96];
    snprintf(what, sizeof what, "pool FD %dx%dx%dx%d p%d s%d relu %d", n, ch, h, w, p, s, relu);
    check_grad(what, got, g, nx, 1e-6, 1e-5);
    free(got);
    clReleaseMemObject(bx);
    clReleaseMemObject(bdy);
    clReleaseMemObject(bdx);
    free(xf), free(rf), free(act), free(x), free(r), free(g);
}

static double act_loss(const double *x, void *vc) {
    fdctx *c = vc;
    size_t cnt = (size_t)c->n * c->features;
    double *y = malloc(cnt * sizeof *y);
    ct_ref_act_fwd(c->act, c->n, c->features, x, y);
    double l = dot(y, c->r, cnt);
    free(y);
    return l;
}

static void fd_act(ct_act act, int n, int f, uint64_t seed) {
    size_t cnt = (size_t)n * f;
    float *xf = malloc(cnt * 4), *rf = malloc(cnt * 4), *yf = malloc(cnt * 4);
    double *x = malloc(cnt * 8), *r = malloc(cnt * 8), *g = malloc(cnt * 8), *y = malloc(cnt * 8);
    ct_fill_random(xf, cnt, seed, -3, 3);
    for (size_t i = 0; i < cnt; i++)
        if (fabsf(xf[i]) < 1e-3f) xf[i] = 0.5f;
    ct_fill_random(rf, cnt, seed + 1, -1, 1);
    ct_to_double(xf, x, cnt);
    ct_to_double(rf, r, cnt);
    fdctx c = {.n = n, .features = f, .act = act, .r = r};
    fd_grad(act_loss, x, cnt, 1e-6, &c, g);
    /* device: forward, then backward from its own output */
    cl_mem bx = dev_buf(xf, cnt), by = dev_buf(NULL, cnt), bdy = dev_buf(rf, cnt),
           bdx = dev_buf(NULL, cnt);
    CHECK_OK(ct_act_forward(&K, act, n, f, bx, by));
    CHECK_OK(ct_act_backward(&K, act, n, f, by, bdy, bdx));
    float *got = down(bdx, cnt);
    char what[64];
    snprintf(what, sizeof what, "act %d FD %dx%d", (int)act, n, f);
    check_grad(what, got, g, cnt, 1e-6, 1e-4);
    free(got);
    (void)yf;
    (void)y;
    clReleaseMemObject(bx), clReleaseMemObject(by), clReleaseMemObject(bdy), clReleaseMemObject(bdx);
    free(xf), free(rf), free(yf), free(x), free(r), free(g), free(y);
}

static double dense_loss(const double *v, void *vc) {
    fdctx *c = vc;
    const double *x = c->which == 0 ? v : c->xin, *w = c->which == 1 ? v : c->wt,
                 *b = c->which == 2 ? v : c->b;
    size_t ny = (size_t)c->n * c->out;
    double *y = malloc(ny * sizeof *y);
    ct_ref_dense_fwd(c->n, c->in, c->out, c->act, x, w, b, y);
    double l = dot(y, c->r, ny);
    free(y);
    return l;
}

static void fd_dense(int n, int in, int out, ct_act act, uint64_t seed) {
    size_t nx = (size_t)n * in, nw = (size_t)out * in, ny = (size_t)n * out;
    float *xf = malloc(nx * 4), *wf = malloc(nw * 4), *bf = malloc(out * 4), *rf = malloc(ny * 4);
    double *x = malloc(nx * 8), *w = malloc(nw * 8), *b = malloc(out * 8), *r = malloc(ny * 8);
    double *gx = malloc(nx * 8), *gw = malloc(nw * 8), *gb = malloc(out * 8);
    ct_fill_random(xf, nx, seed, -1, 1);
    ct_fill_random(wf, nw, seed + 1, -0.5f, 0.5f);
    ct_fill_random(bf, out, seed + 2, -0.5f, 0.5f);
    ct_fill_random(rf, ny, seed + 3, -1, 1);
    ct_to_double(xf, x, nx), ct_to_double(wf, w, nw), ct_to_double(bf, b, out),
        ct_to_double(rf, r, ny);
    fdctx c = {.n = n, .in = in, .out = out, .act = act, .r = r, .xin = x, .wt = w, .b = b};
    c.which = 0;
    fd_grad(dense_loss, x, nx, 1e-6, &c, gx);
    c.which = 1;
    fd_grad(dense_loss, w, nw, 1e-6, &c, gw);
    c.which = 2;
    fd_grad(dense_loss, b, out, 1e-6, &c, gb);
    cl_mem bx = dev_buf(xf, nx), bw = dev_buf(wf, nw), bb = dev_buf(bf, out), by = dev_buf(NULL, ny),
           bdy = dev_buf(rf, ny), bdx = dev_buf(NULL, nx), bdw = dev_buf(NULL, nw),
           bdb = dev_buf(NULL, out);
    /* as the model does it: forward with the fused activation, its backward in place on dy,
     * then the dense backward from the pre-activation gradient */
    CHECK_OK(ct_dense_forward(&K, n, in, out, act, bx, bw, bb, by));
    CHECK_OK(ct_act_backward(&K, act, n, out, by, bdy, bdy));
    CHECK_OK(ct_dense_backward(&K, n, in, out, bx, bw, bdy, bdx, bdw, bdb));
    float *hx = down(bdx, nx), *hw = down(bdw, nw), *hb = down(bdb, out);
    char what[96];
    snprintf(what, sizeof what, "dense FD n%d %d->%d act %d: dx", n, in, out, (int)act);
    check_grad(what, hx, gx, nx, 1e-5, 1e-4);
    snprintf(what, sizeof what, "dense FD n%d %d->%d act %d: dW", n, in, out, (int)act);
    check_grad(what, hw, gw, nw, 1e-5, 1e-4);
    snprintf(what, sizeof what, "dense FD n%d %d->%d act %d: db", n, in, out, (int)act);
    check_grad(what, hb, gb, out, 1e-5, 1e-4);
    free(hx), free(hw), free(hb);
    cl_mem all[] = {bx, bw, bb, by, bdy, bdx, bdw, bdb};
    for (int i = 0; i < 8; i++) clReleaseMemObject(all[i]);
    free(xf), free(wf), free(bf), free(rf), free(x), free(w), free(b), free(r), free(gx), free(gw),
        free(gb);
}

static double dropout_loss(const double *x, void *vc) {
    fdctx *c = vc;
    double *y = malloc((size_t)c->features * sizeof *y);
    ct_ref_dropout((size_t)c->features, c->rate, c->seed, c->step, x, y);
    double l = dot(y, c->r, (size_t)c->features);
    free(y);
    return l;
}

static void fd_dropout(int cnt, float rate, uint64_t seed) {
    float *xf = malloc(cnt * 4), *rf = malloc(cnt * 4);
    double *x = malloc(cnt * 8), *r = malloc(cnt * 8), *g = malloc(cnt * 8);
    ct_fill_random(xf, cnt, seed, -1, 1);
    ct_fill_random(rf, cnt, seed + 1, -1, 1);
    ct_to_double(xf, x, cnt);
    ct_to_double(rf, r, cnt);
    fdctx c = {.features = cnt, .rate = rate, .seed = 1234567u, .step = 42, .r = r};
    fd_grad(dropout_loss, x, cnt, 1e-6, &c, g);
    cl_mem bdy = dev_buf(rf, cnt), bdx = dev_buf(NULL, cnt);
    CHECK_OK(ct_dropout_backward(&K, cnt, rate, c.seed, c.step, bdy, bdx));
    float *got = down(bdx, cnt);
    check_grad("dropout FD (fixed mask)", got, g, cnt, 1e-6, 1e-5);
    free(got);
    clReleaseMemObject(bdy), clReleaseMemObject(bdx);
    free(xf), free(rf), free(x), free(r), free(g);
}

static double loss_fn(const double *z, void *vc) {
    fdctx *c = vc;
    return ct_ref_loss(c->n, c->classes, z, c->labels, NULL, NULL, NULL);
}

static void fd_loss(int n, int classes, uint64_t seed) {
    size_t nz = (size_t)n * classes;
    float *zf = malloc(nz * 4), *lf = malloc(n * 4);
    int *lab = malloc(n * sizeof *lab);
    double *z = malloc(nz * 8), *g = malloc(nz * 8);
    ct_fill_random(zf, nz, seed, -6, 6);
    ct_fill_random(lf, n, seed + 1, 0, classes == 1 ? 2 : classes);
    for (int i = 0; i < n; i++) lab[i] = (int)lf[i] < (classes == 1 ? 2 : classes) ? (int)lf[i] : 0;
    ct_to_double(zf, z, nz);
    fdctx c = {.n = n, .classes = classes, .labels = lab};
    fd_grad(loss_fn, z, nz, 1e-6, &c, g);
    cl_mem bz = dev_buf(zf, nz), bl = NULL, bst = dev_buf(NULL, 2 * n), bdz = dev_buf(NULL, nz);
    ct_buffer_create(rt, "labels", n * 4, CL_MEM_READ_WRITE, &bl);
    ct_upload(rt, bl, 0, n * 4, lab);
    float zero[4] = {0};
    cl_mem bsum = dev_buf(zero, 4);
    CHECK_OK(ct_loss_forward(&K, n, classes, bz, bl, bst, bsum, bdz));
    float *got = down(bdz, nz), *sums = down(bsum, 4);
    char what[64];
    snprintf(what, sizeof what, "loss FD n%d classes %d", n, classes);
    check_grad(what, got, g, nz, 1e-7, 1e-4);
    double want = ct_ref_loss(n, classes, z, lab, NULL, NULL, NULL);
    CHECK(fabs((sums[0] - sums[1]) / n - want) <= 1e-6 + 1e-5 * want, "%s: mean loss %.8g want %.8g",
          what, (sums[0] - sums[1]) / n, want);
    free(got), free(sums);
    clReleaseMemObject(bz), clReleaseMemObject(bl), clReleaseMemObject(bst),
        clReleaseMemObject(bdz), clReleaseMemObject(bsum);
    free(zf), free(lf), free(lab), free(z), free(g);
}

static void finite_differences(void) {
    fd_pool(2, 3, 7, 9, 2, 2, 0, 1);
    fd_pool(2, 3, 7, 9, 2, 2, 1, 2);
    fd_pool(1, 2, 8, 7, 3, 1, 1, 3);
    fd_pool(1, 2, 9, 10, 3, 2, 0, 4);
    fd_pool(2, 2, 10, 11, 2, 3, 1, 5);
    fd_pool(1, 2, 5, 35, 2, 2, 1, 6);
    for (int a = 1; a <= 3; a++) {
        fd_act((ct_act)a, 3, 17, 10 + a);
        fd_act((ct_act)a, 1, 1, 20 + a);
    }
    for (int a = 0; a <= 3; a++) fd_dense(4, 13, 6, (ct_act)a, 30 + a);
    fd_dense(1, 1, 1, CT_ACT_NONE, 40);
    fd_dense(7, 33, 1, CT_ACT_SIGMOID, 41);
    fd_dropout(333, 0.3f, 50);
    fd_dropout(64, 0.0f, 51);
    fd_loss(9, 1, 60);
    fd_loss(1, 1, 61);
    fd_loss(8, 4, 62);
    fd_loss(5, 2, 63);
}

/* ---- dropout masks and Keras loss values ---- */

static void dropout_props(void) {
    enum { N = 100000 };
    float *x = malloc(N * 4);
    for (int i = 0; i < N; i++) x[i] = 1.0f;
    cl_mem bx = dev_buf(x, N), b1 = dev_buf(NULL, N), b2 = dev_buf(NULL, N), b3 = dev_buf(NULL, N);
    CHECK_OK(ct_dropout_forward(&K, N, 0.2f, 77, 5, bx, b1));
    CHECK_OK(ct_dropout_forward(&K, N, 0.2f, 77, 5, bx, b2));
    CHECK_OK(ct_dropout_forward(&K, N, 0.2f, 77, 6, bx, b3));
    float *y1 = down(b1, N), *y2 = down(b2, N), *y3 = down(b3, N);
    int same = 1, diff = 0, kept = 0;
    double sum = 0;
    for (int i = 0; i < N; i++) {
        same &= y1[i] == y2[i];
        diff += (y1[i] != 0) != (y3[i] != 0);
        kept += y1[i] != 0;
        sum += y1[i];
        if (y1[i] != 0 && y1[i] != 1.25f) same = 0;
    }
    CHECK(same, "same (seed, step) must give the same mask, scaled by 1/(1-rate)");
    CHECK(diff > N / 5, "another step must give another mask (%d of %d differ)", diff, N);
    /* keep fraction 0.8 +- 5 sigma (sigma = sqrt(N p q) = 126) */
    CHECK(abs(kept - 80000) < 700, "kept %d of %d at rate 0.2", kept, N);
    CHECK(fabs(sum / N - 1.0) < 0.01, "inverted scaling keeps the mean: %g", sum / N);
    free(y1), free(y2), free(y3), free(x);
    clReleaseMemObject(bx), clReleaseMemObject(b1), clReleaseMemObject(b2), clReleaseMemObject(b3);
}

/* NaN in a window propagates (as PyTorch): the output is NaN and the gradient goes to the
 * NaN element; checked on both the vector (8-window) and the tail path of pool 2. */
static void pool_nan(void) {
    enum { W = 34, OW = 17 };
    float x[2 * W], dy[OW];
    ct_fill_random(x, 2 * W, 70, -1, 1);
    ct_fill_random(dy, OW, 71, 1, 2);
    x[5] = NAN;          /* window 2, vector path */
    x[W + 33] = NAN;     /* window 16, tail path */
    cl_mem bx = dev_buf(x, 2 * W), by = dev_buf(NULL, OW), bdy = dev_buf(dy, OW),
           bdx = dev_buf(NULL, 2 * W);
    CHECK_OK(ct_pool_forward(&K, 1, 1, 2, W, 2, 2, bx, by));
    CHECK_OK(ct_pool_backward(&K, 1, 1, 2, W, 2, 2, 0, bx, bdy, bdx));
    float *y = down(by, OW), *dx = down(bdx, 2 * W);
    for (int o = 0; o < OW; o++) {
        int nan_win = o == 2 || o == 16;
        CHECK(nan_win ? isnan(y[o]) : !isnan(y[o]), "pool NaN: window %d gives %g", o, (double)y[o]);
    }
    CHECK(dx[5] == dy[2] && dx[W + 33] == dy[16] && dx[4] == 0 && dx[W + 32] == 0,
          "pool NaN: the gradient goes to the NaN element");
    free(y), free(dx);
    clReleaseMemObject(bx), clReleaseMemObject(by), clReleaseMemObject(bdy), clReleaseMemObject(bdx);
}

static void keras_values(void) {
    /* Keras BCE of sigmoid(z) (no clipping in play) and CCE of softmax(z), computed by hand:
     * z = 0 -> log 2; z = 2, y = 1 -> log(1 + e^-2); z = -3, y = 1 -> log(1 + e^3);
     * 4 equal logits -> log 4; large |z| stays finite (Keras would clip at 16.118). */
    float z[5] = {0.0f, 2.0f, -3.0f, 100.0f, -100.0f};
    int lab[5] = {1, 1, 1, 0, 0};
    double want[5] = {log(2.0), log1p(exp(-2.0)), log1p(exp(3.0)), 100.0, 0.0};
    cl_mem bz = dev_buf(z, 5), bl, bst = dev_buf(NULL, 10);
    float zero[4] = {0};
    cl_mem bsum = dev_buf(zero, 4);
    ct_buffer_create(rt, "labels", sizeof lab, CL_MEM_READ_WRITE, &bl);
    ct_upload(rt, bl, 0, sizeof lab, lab);
    CHECK_OK(ct_loss_forward(&K, 5, 1, bz, bl, bst, bsum, NULL));
    float *st = down(bst, 10);
    for (int i = 0; i < 5; i++)
        CHECK(fabs(st[2 * i] - want[i]) <= 1e-6 + 1e-6 * want[i], "BCE z=%g y=%d: %.8g want %.8g",
              (double)z[i], lab[i], (double)st[2 * i], want[i]);
    CHECK(st[1] == 0 && st[3] == 1 && st[5] == 0 && st[7] == 0 && st[9] == 1,
          "binary accuracy (sigmoid(z) > 0.5)");
    free(st);
    float z4[4] = {0.3f, 0.3f, 0.3f, 0.3f};
    ct_upload(rt, bz, 0, sizeof z4, z4);
    CHECK_OK(ct_loss_forward(&K, 1, 4, bz, bl, bst, bsum, NULL));
    st = down(bst, 2);
    CHECK(fabs(st[0] - log(4.0)) < 1e-6, "CCE of 4 equal logits: %.8g want log 4", (double)st[0]);
    free(st);
    clReleaseMemObject(bz), clReleaseMemObject(bl), clReleaseMemObject(bst), clReleaseMemObject(bsum);
}

/* ---- every layer class through its record alone vs its ref_forward ---- */

static void records(void) {
    static const struct {
        const char *tok;
        int n, c, h, w, flat;
    } cases[] = {
        {"conv5:3:relu", 2, 3, 9, 7, 0},   {"conv4:3:s2:same:sigmoid", 3, 2, 8, 9, 0},
        {"conv3:1", 1, 4, 5, 5, 0},        {"pool2", 2, 3, 9, 8, 0},
        {"pool3:s2", 1, 2, 11, 7, 0},      {"flatten", 2, 3, 4, 5, 0},
        {"dense7:relu", 3, 37, 1, 1, 1},   {"dense4:softmax", 2, 20, 1, 1, 1},
        {"dense1:sigmoid", 5, 9, 1, 1, 1}, {"dropout0.3", 2, 3, 5, 5, 0},
        {"relu", 2, 3, 5, 5, 0},           {"sigmoid", 3, 17, 1, 1, 1},
        {"softmax", 4, 13, 1, 1, 1},
    };
    int seen[64] = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double e = INFINITY;
        CHECK_OK(ct_check_layer_case(rt, cases[i].tok, cases[i].n, cases[i].c, cases[i].h,
                                     cases[i].w, cases[i].flat, 700 + i, &e));
        CHECK(e <= 1.0, "layer '%s' through its record: err %.3g x tol", cases[i].tok, e);
        ct_layer_spec *L = NULL;
        int nl = 0;
        CHECK_OK(ct_spec_parse(cases[i].tok, &L, &nl));
        for (int k = 0; nl == 1 && ct_layer_classes[k] && k < 64; k++)
            if (L[0].cls == ct_layer_classes[k]) seen[k] = 1;
        free(L);
    }
    for (int k = 0; ct_layer_classes[k] && k < 64; k++)
        CHECK(seen[k], "layer class '%s' has no record case here", ct_layer_classes[k]->name);
}

int main(void) {
    rt = ct_test_runtime(0);
    if (ct_layer_kernels_init(rt, &K) != CT_OK) {
        fprintf(stderr, "FAIL: %s\n", ct_last_error());
        return 1;
    }
    ref_shapes();
    finite_differences();
    dropout_props();
    pool_nan();
    keras_values();
    records();
    ct_layer_kernels_free(&K);
    ct_runtime_free(rt);
    return ct_test_done("test_layers");
}
