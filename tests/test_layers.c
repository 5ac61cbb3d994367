/* Layer kernels: every forward/backward kernel against the C reference on several shapes
 * (odd sizes, NaN-poisoned outputs, abs+rel tolerance), then finite-difference checks in
 * double precision that each device backward pass is the gradient of its forward:
 * pool (plain and with the fused ReLU backward), average pool and gap, relu/sigmoid/softmax/
 * tanh/leakyrelu, dense (incl. a fused activation), dropout with a fixed mask, and both
 * losses. Plus dropout mask properties and
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
    static const int avgs[][8] = {/* n c h w ph pw sh sw (gap: ph = h, pw = w, s 1) */
                                  {1, 1, 2, 2, 2, 2, 2, 2},  {2, 3, 7, 9, 2, 2, 2, 2},
                                  {1, 5, 8, 6, 3, 3, 1, 1},  {3, 2, 11, 5, 2, 2, 1, 1},
                                  {2, 4, 13, 13, 3, 3, 2, 2}, {1, 2, 5, 17, 4, 4, 3, 3},
                                  {2, 3, 10, 11, 2, 2, 3, 3}, {4, 32, 27, 29, 2, 2, 2, 2},
                                  {3, 4, 5, 7, 5, 7, 1, 1},  {2, 65, 1, 1, 1, 1, 1, 1},
                                  {2, 7, 23, 19, 23, 19, 1, 1}};
    for (size_t i = 0; i < sizeof avgs / sizeof avgs[0]; i++)
        for (int bwd = 0; bwd <= 1; bwd++) {
            const int *c = avgs[i];
            double e = INFINITY;
            CHECK_OK(ct_check_avgpool_case(rt, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], bwd,
                                           150 + i, &e));
            CHECK(e <= 1.0, "avgpool %dx%dx%dx%d %dx%d s%dx%d bwd %d: err %.3g x tol", c[0], c[1],
                  c[2], c[3], c[4], c[5], c[6], c[7], bwd, e);
        }
    static const int acts[][2] = {{1, 1}, {3, 333}, {64, 1000}, {7, 13}, {5, 1}, {2, 257}};
    static const struct {
        ct_act act;
        float alpha;
    } afs[] = {{CT_ACT_RELU, 0},        {CT_ACT_SIGMOID, 0},      {CT_ACT_SOFTMAX, 0},
               {CT_ACT_TANH, 0},        {CT_ACT_LEAKYRELU, 0.3f}, {CT_ACT_LEAKYRELU, 0.01f},
               {CT_ACT_LEAKYRELU, 0}};
    for (size_t a = 0; a < sizeof afs / sizeof afs[0]; a++)
        for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++)
            for (int bwd = 0; bwd <= 1; bwd++)
                for (int inplace = 0; inplace <= 1; inplace++) {
                    double e = INFINITY;
                    CHECK_OK(ct_check_act_case(rt, afs[a].act, afs[a].alpha, acts[i][0],
                                               acts[i][1], bwd, inplace, 200 + i, &e));
                    CHECK(e <= 1.0, "act %d alpha %g %dx%d bwd %d inplace %d: err %.3g x tol",
                          (int)afs[a].act, (double)afs[a].alpha, acts[i][0], acts[i][1], bwd,
                          inplace, e);
                }
    static const int dense[][3] = {{1, 1, 1}, {5, 37, 9}, {1, 3, 1}, {8, 64, 33},
                                   {13, 100, 7}, {64, 160, 31}, {2, 5, 248}};
    for (size_t i = 0; i < sizeof dense / sizeof dense[0]; i++)
        for (int a = 0; a <= CT_ACT_LEAKYRELU; a++)
            for (int bwd = 0; bwd <= 1; bwd++) {
                if (bwd && a) continue; /* backward takes the pre-activation gradient */
                double e = INFINITY;
                CHECK_OK(ct_check_dense_case(rt, dense[i][0], dense[i][1], dense[i][2], (ct_act)a,
                                             0.2f, bwd, 300 + i, &e));
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
        e = INFINITY;
        CHECK_OK(ct_check_loss_case_w(rt, losses[i][0], losses[i][1], 1, 550 + i, &e));
        CHECK(e <= 1.0, "weighted loss n%d classes %d: err %.3g x tol", losses[i][0], losses[i][1], e);
    }
    /* batchnorm: n c hw (hw 1 = after a dense); training and inference, relu fused or not */
    static const int bns[][3] = {{1, 3, 1}, {1, 2, 25}, {5, 7, 1}, {3, 5, 63}, {64, 33, 1},
                                 {2, 16, 27 * 29}, {9, 3, 13}, {300, 2, 1}};
    for (size_t i = 0; i < sizeof bns / sizeof bns[0]; i++)
        for (int mode = 0; mode < 8; mode++) {
            int train = mode & 1, relu = (mode >> 1) & 1, bwd = mode >> 2;
            double e = INFINITY;
            CHECK_OK(ct_check_bn_case(rt, bns[i][0], bns[i][1], bns[i][2], train, relu, bwd,
                                      800 + i, &e));
            CHECK(e <= 1.0, "batchnorm n%d c%d hw%d train %d relu %d bwd %d: err %.3g x tol",
                  bns[i][0], bns[i][1], bns[i][2], train, relu, bwd, e);
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
    int ph, pw, sh, sw; /* average pool */
    ct_act act;
    float alpha;
    int features, in, out;
    const double *r, *wt, *b, *xin;
    float rate;
    uint32_t seed, step;
    const double *cw; /* loss class weights (NULL: none) */
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
    /* pool 2 / stride 2: the backward reads the forward's index, not x */
    cl_mem bidx = NULL, by = NULL;
    if (p == 2 && s == 2) {
        bidx = dev_buf(NULL, ny), by = dev_buf(NULL, ny);
        CHECK_OK(ct_pool_forward(&K, n, ch, h, w, p, s, bx, by, bidx));
    }
    CHECK_OK(ct_pool_backward(&K, n, ch, h, w, p, s, relu, bx, bidx, bdy, bdx));
    if (bidx) clReleaseMemObject(bidx), clReleaseMemObject(by);
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

static double avgpool_loss(const double *x, void *vc) {
    fdctx *c = vc;
    int oh = ct_pool_out(c->h, c->ph, c->sh), ow = ct_pool_out(c->w, c->pw, c->sw);
    size_t ny = (size_t)c->n * c->c * oh * ow;
    double *y = malloc(ny * sizeof *y);
    ct_ref_avgpool_fwd(c->n * c->c, c->h, c->w, c->ph, c->pw, c->sh, c->sw, x, y);
    double l = dot(y, c->r, ny);
    free(y);
    return l;
}

static void fd_avgpool(int n, int ch, int h, int w, int ph, int pw, int sh, int sw, uint64_t seed) {
    int oh = ct_pool_out(h, ph, sh), ow = ct_pool_out(w, pw, sw);
    size_t nx = (size_t)n * ch * h * w, ny = (size_t)n * ch * oh * ow;
    float *rf = malloc(ny * 4);
    double *x = malloc(nx * 8), *r = malloc(ny * 8), *g = malloc(nx * 8);
    ct_fill_random(rf, ny, seed, -1, 1);
    ct_to_double(rf, r, ny);
    for (size_t i = 0; i < nx; i++) x[i] = (double)(i % 7) * 0.25 - 0.7;
    fdctx c = {.n = n, .c = ch, .h = h, .w = w, .ph = ph, .pw = pw, .sh = sh, .sw = sw, .r = r};
    fd_grad(avgpool_loss, x, nx, 1e-6, &c, g);
    cl_mem bdy = dev_buf(rf, ny), bdx = dev_buf(NULL, nx);
    CHECK_OK(ct_avgpool_backward(&K, n, ch, h, w, ph, pw, sh, sw, bdy, bdx));
    float *got = down(bdx, nx);
    char what[96];
    snprintf(what, sizeof what, "avgpool FD %dx%dx%dx%d %dx%d s%dx%d", n, ch, h, w, ph, pw, sh, sw);
    check_grad(what, got, g, nx, 1e-6, 1e-5);
    free(got);
    clReleaseMemObject(bdy);
    clReleaseMemObject(bdx);
    free(rf), free(x), free(r), free(g);
}

static double act_loss(const double *x, void *vc) {
    fdctx *c = vc;
    size_t cnt = (size_t)c->n * c->features;
    double *y = malloc(cnt * sizeof *y);
    ct_ref_act_fwd(c->act, c->alpha, c->n, c->features, x, y);
    double l = dot(y, c->r, cnt);
    free(y);
    return l;
}

static void fd_act(ct_act act, float alpha, int n, int f, uint64_t seed) {
    size_t cnt = (size_t)n * f;
    float *xf = malloc(cnt * 4), *rf = malloc(cnt * 4), *yf = malloc(cnt * 4);
    double *x = malloc(cnt * 8), *r = malloc(cnt * 8), *g = malloc(cnt * 8), *y = malloc(cnt * 8);
    ct_fill_random(xf, cnt, seed, -3, 3);
    for (size_t i = 0; i < cnt; i++)
        if (fabsf(xf[i]) < 1e-3f) xf[i] = 0.5f;
    ct_fill_random(rf, cnt, seed + 1, -1, 1);
    ct_to_double(xf, x, cnt);
    ct_to_double(rf, r, cnt);
    fdctx c = {.n = n, .features = f, .act = act, .alpha = alpha, .r = r};
    fd_grad(act_loss, x, cnt, 1e-6, &c, g);
    /* device: forward, then backward from its own output */
    cl_mem bx = dev_buf(xf, cnt), by = dev_buf(NULL, cnt), bdy = dev_buf(rf, cnt),
           bdx = dev_buf(NULL, cnt);
    CHECK_OK(ct_act_forward(&K, act, alpha, n, f, bx, by));
    CHECK_OK(ct_act_backward(&K, act, alpha, n, f, by, bdy, bdx));
    float *got = down(bdx, cnt);
    char what[64];
    snprintf(what, sizeof what, "act %d alpha %g FD %dx%d", (int)act, (double)alpha, n, f);
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
    ct_ref_dense_fwd(c->n, c->in, c->out, c->act, c->alpha, x, w, b, y);
    double l = dot(y, c->r, ny);
    free(y);
    return l;
}

static void fd_dense(int n, int in, int out, ct_act act, float alpha, uint64_t seed) {
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
    fdctx c = {.n = n, .in = in, .out = out, .act = act, .alpha = alpha, .r = r, .xin = x,
               .wt = w, .b = b};
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
    CHECK_OK(ct_dense_forward(&K, n, in, out, act, alpha, bx, bw, bb, by));
    CHECK_OK(ct_act_backward(&K, act, alpha, n, out, by, bdy, bdy));
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
    return ct_ref_loss_w(c->n, c->classes, z, c->labels, c->cw, NULL, NULL, NULL);
}

/* weighted: class weights 0.25, 0.5, 0.75, ... (ct_loss_forward_w) */
static void fd_loss(int n, int classes, uint64_t seed, int weighted) {
    size_t nz = (size_t)n * classes;
    float *zf = malloc(nz * 4), *lf = malloc(n * 4);
    int *lab = malloc(n * sizeof *lab);
    double *z = malloc(nz * 8), *g = malloc(nz * 8);
    ct_fill_random(zf, nz, seed, -6, 6);
    ct_fill_random(lf, n, seed + 1, 0, classes == 1 ? 2 : classes);
    for (int i = 0; i < n; i++) lab[i] = (int)lf[i] < (classes == 1 ? 2 : classes) ? (int)lf[i] : 0;
    ct_to_double(zf, z, nz);
    float cwf[16];
    double cwd[16];
    for (int j = 0; j < 16; j++) cwd[j] = cwf[j] = 0.25f * (float)(j + 1);
    fdctx c = {.n = n, .classes = classes, .labels = lab, .cw = weighted ? cwd : NULL};
    fd_grad(loss_fn, z, nz, 1e-6, &c, g);
    cl_mem bcw = weighted ? dev_buf(cwf, 16) : NULL;
    cl_mem bz = dev_buf(zf, nz), bl = NULL, bst = dev_buf(NULL, 2 * n), bdz = dev_buf(NULL, nz);
    ct_buffer_create(rt, "labels", n * 4, CL_MEM_READ_WRITE, &bl);
    ct_upload(rt, bl, 0, n * 4, lab);
    float zero[4] = {0};
    cl_mem bsum = dev_buf(zero, 4);
    CHECK_OK(ct_loss_forward_w(&K, n, classes, bz, bl, bcw, bst, bsum, bdz));
    float *got = down(bdz, nz), *sums = down(bsum, 4);
    char what[64];
    snprintf(what, sizeof what, "loss FD n%d classes %d%s", n, classes, weighted ? " weighted" : "");
    check_grad(what, got, g, nz, 1e-7, 1e-4);
    double want = loss_fn(z, &c);
    CHECK(fabs((sums[0] - sums[1]) / n - want) <= 1e-6 + 1e-5 * want, "%s: mean loss %.8g want %.8g",
          what, (sums[0] - sums[1]) / n, want);
    free(got), free(sums);
    clReleaseMemObject(bz), clReleaseMemObject(bl), clReleaseMemObject(bst),
        clReleaseMemObject(bdz), clReleaseMemObject(bsum);
    if (bcw) clReleaseMemObject(bcw);
    free(zf), free(lf), free(lab), free(z), free(g);
}

/* Batchnorm: L = sum r . y(x, gamma, beta) with the training-mode (batch statistics) or the
 * inference forward in double; FD w.r.t. x, gamma and beta against the device backward (run
 * in place on dy after a device forward, as the model does) and against the reference. */
typedef struct {
    int n, c, hw, train;
    ct_act act;
    const double *x, *gamma, *beta, *mm, *mv, *r;
    int which; /* 0 x, 1 gamma, 2 beta */
} bnctx;

static double bn_loss(const double *v, void *vc) {
    bnctx *c = vc;
    size_t nx = (size_t)c->n * c->c * c->hw;
    double *y = malloc(nx * sizeof *y);
    ct_ref_bn_fwd(c->n, c->c, c->hw, c->train, 1e-3, c->act, c->which == 0 ? v : c->x,
                  c->which == 1 ? v : c->gamma, c->which == 2 ? v : c->beta, c->mm, c->mv, y,
                  NULL, NULL);
    double l = dot(y, c->r, nx);
    free(y);
    return l;
}

static void fd_bn(int n, int ch, int hw, int train, ct_act act, uint64_t seed) {
    size_t nx = (size_t)n * ch * hw;
    float *xf = malloc(nx * 4), *rf = malloc(nx * 4), *pf = malloc(4 * ch * 4);
    double *x = malloc(nx * 8), *r = malloc(nx * 8), *p = malloc(4 * ch * 8), *gx = malloc(nx * 8),
           *gp = malloc(2 * ch * 8), *rx = malloc(nx * 8), *rp = malloc(2 * ch * 8),
           *yd = malloc(nx * 8);
    ct_fill_random(xf, nx, seed, -1, 1);
    for (size_t i = 0; i < nx; i++) xf[i] += (float)((i / hw) % ch) * 0.5f;
    ct_fill_random(rf, nx, seed + 1, -1, 1);
    ct_fill_random(pf, 3 * ch, seed + 2, -0.5f, 0.5f);
    ct_fill_random(pf + 3 * ch, ch, seed + 3, 0.5f, 1.5f);
    for (int i = 0; i < ch; i++) pf[i] += 1.0f;
    ct_to_double(xf, x, nx), ct_to_double(rf, r, nx), ct_to_double(pf, p, 4 * ch);
    bnctx c = {n, ch, hw, train, act, x, p, p + ch, p + 2 * ch, p + 3 * ch, r, 0};
    fd_grad(bn_loss, x, nx, 1e-6, &c, gx);
    c.which = 1;
    fd_grad(bn_loss, p, ch, 1e-6, &c, gp);
    c.which = 2;
    fd_grad(bn_loss, p + ch, ch, 1e-6, &c, gp + ch);
    cl_mem bx = dev_buf(xf, nx), by = dev_buf(NULL, nx), bdy = dev_buf(rf, nx),
           bg = dev_buf(pf, ch), bb = dev_buf(pf + ch, ch), bm = dev_buf(pf + 2 * ch, ch),
           bv = dev_buf(pf + 3 * ch, ch), bst = dev_buf(NULL, 3 * ch), bdg = dev_buf(NULL, ch),
           bdb = dev_buf(NULL, ch);
    CHECK_OK(ct_bn_forward(&K, n, ch, hw, train, 1e-3f, 0.99, act, bx, bg, bb, bm, bv, bst, by));
    CHECK_OK(ct_bn_backward(&K, n, ch, hw, train, act, bx, by, bdy, bst, bdg, bdb, bdy));
    float *hx = down(bdy, nx), *hg = down(bdg, ch), *hb = down(bdb, ch), *hy = down(by, nx);
    char what[96];
    snprintf(what, sizeof what, "batchnorm FD n%d c%d hw%d train %d act %d: dx", n, ch, hw, train,
             (int)act);
    check_grad(what, hx, gx, nx, 1e-5, 1e-3);
    snprintf(what, sizeof what, "batchnorm FD n%d c%d hw%d train %d act %d: dgamma", n, ch, hw,
             train, (int)act);
    check_grad(what, hg, gp, ch, 1e-5 * n * hw, 1e-3);
    snprintf(what, sizeof what, "batchnorm FD n%d c%d hw%d train %d act %d: dbeta", n, ch, hw,
             train, (int)act);
    check_grad(what, hb, gp + ch, ch, 1e-5 * n * hw, 1e-3);
    /* the double reference backward is the same gradient (tight) */
    ct_to_double(hy, yd, nx);
    ct_ref_bn_bwd(n, ch, hw, train, 1e-3, act, x, p, p + 2 * ch, p + 3 * ch, yd, r, rx, rp, rp + ch);
    double worst = 0;
    for (size_t i = 0; i < nx; i++) worst = fmax(worst, fabs(rx[i] - gx[i]) / (1e-7 + 1e-6 * fabs(gx[i])));
    for (int i = 0; i < 2 * ch; i++)
        worst = fmax(worst, fabs(rp[i] - gp[i]) / (1e-7 * n * hw + 1e-6 * fabs(gp[i])));
    CHECK(worst <= 1.0, "batchnorm reference backward vs FD n%d c%d hw%d train %d: %.3g x tol", n, ch,
          hw, train, worst);
    free(hx), free(hg), free(hb), free(hy);
    cl_mem all[] = {bx, by, bdy, bg, bb, bm, bv, bst, bdg, bdb};
    for (int i = 0; i < 10; i++) clReleaseMemObject(all[i]);
    free(xf), free(rf), free(pf), free(x), free(r), free(p), free(gx), free(gp), free(rx), free(rp),
        free(yd);
}

static void finite_differences(void) {
    fd_pool(2, 3, 7, 9, 2, 2, 0, 1);
    fd_pool(2, 3, 7, 9, 2, 2, 1, 2);
    fd_pool(1, 2, 8, 7, 3, 1, 1, 3);
    fd_pool(1, 2, 9, 10, 3, 2, 0, 4);
    fd_pool(2, 2, 10, 11, 2, 3, 1, 5);
    fd_pool(1, 2, 5, 35, 2, 2, 1, 6);
    fd_avgpool(2, 3, 7, 9, 2, 2, 2, 2, 7);
    fd_avgpool(1, 2, 8, 7, 3, 3, 1, 1, 8);
    fd_avgpool(2, 2, 11, 10, 3, 3, 2, 2, 9);
    fd_avgpool(1, 2, 5, 17, 4, 4, 3, 3, 10);
    fd_avgpool(2, 3, 5, 7, 5, 7, 1, 1, 11); /* gap */
    for (int a = 1; a <= CT_ACT_LEAKYRELU; a++) {
        fd_act((ct_act)a, 0.3f, 3, 17, 10 + a);
        fd_act((ct_act)a, 0.3f, 1, 1, 20 + a);
    }
    fd_act(CT_ACT_LEAKYRELU, 0.05f, 4, 33, 26);
    fd_act(CT_ACT_LEAKYRELU, 2.5f, 4, 33, 27);
    for (int a = 0; a <= CT_ACT_LEAKYRELU; a++) fd_dense(4, 13, 6, (ct_act)a, 0.2f, 30 + a);
    fd_dense(1, 1, 1, CT_ACT_NONE, 0, 40);
    fd_dense(7, 33, 1, CT_ACT_SIGMOID, 0, 41);
    fd_dropout(333, 0.3f, 50);
    fd_dropout(64, 0.0f, 51);
    fd_loss(9, 1, 60, 0);
    fd_loss(1, 1, 61, 0);
    fd_loss(8, 4, 62, 0);
    fd_loss(5, 2, 63, 0);
    fd_loss(9, 1, 64, 1);
    fd_loss(8, 4, 65, 1);
    fd_loss(6, 11, 66, 1);
    for (int train = 0; train <= 1; train++) {
        fd_bn(3, 4, 7, train, CT_ACT_NONE, 70 + train);
        fd_bn(5, 6, 1, train, CT_ACT_NONE, 72 + train);
        fd_bn(2, 3, 9, train, CT_ACT_RELU, 74 + train);
        fd_bn(1, 4, 1, train, CT_ACT_NONE, 76 + train); /* batch of 1 after a dense */
        fd_bn(1, 2, 15, train, CT_ACT_RELU, 78 + train);
    }
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
           bdx = dev_buf(NULL, 2 * W), bidx = dev_buf(NULL, OW);
    CHECK_OK(ct_pool_forward(&K, 1, 1, 2, W, 2, 2, bx, by, bidx));
    CHECK_OK(ct_pool_backward(&K, 1, 1, 2, W, 2, 2, 0, bx, bidx, bdy, bdx));
    float *y = down(by, OW), *dx = down(bdx, 2 * W);
    for (int o = 0; o < OW; o++) {
        int nan_win = o == 2 || o == 16;
        CHECK(nan_win ? isnan(y[o]) : !isnan(y[o]), "pool NaN: window %d gives %g", o, (double)y[o]);
    }
    CHECK(dx[5] == dy[2] && dx[W + 33] == dy[16] && dx[4] == 0 && dx[W + 32] == 0,
          "pool NaN: the gradient goes to the NaN element");
    free(y), free(dx);
    clReleaseMemObject(bx), clReleaseMemObject(by), clReleaseMemObject(bdy), clReleaseMemObject(bdx);
    clReleaseMemObject(bidx);
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
        {"softmax", 4, 13, 1, 1, 1},       {"avgpool2", 2, 3, 9, 8, 0},
        {"avgpool3:s2", 1, 2, 11, 7, 0},   {"avgpool5:s1", 2, 3, 5, 6, 0},
        {"gap", 3, 5, 7, 6, 0},            {"gap", 2, 4, 1, 1, 0},
        {"tanh", 2, 3, 5, 5, 0},           {"leakyrelu", 3, 17, 1, 1, 1},
        {"leakyrelu0.01", 2, 3, 5, 4, 0},  {"conv4:3:tanh", 2, 3, 7, 8, 0},
        {"conv3:3:s2:same:leakyrelu0.2", 2, 2, 8, 9, 0},
        {"dense6:leakyrelu0.2", 3, 11, 1, 1, 1}, {"dense5:tanh", 2, 9, 1, 1, 1},
        {"softmax", 4, 13, 1, 1, 1},       {"batchnorm", 3, 5, 4, 7, 0},
        {"batchnorm:relu", 4, 9, 1, 1, 1},
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
