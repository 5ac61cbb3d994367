/* The batchnorm layer beyond its kernels (those: tests/test_layers.c):
 * - golden: PyTorch's BatchNorm2d / BatchNorm1d (tests/golden/batchnorm.safetensors, made by
 *   tools/gen_bn_golden.py): training-mode forward, gradients, moving statistics after one
 *   update (PyTorch's unbiased running_var turned into Keras's biased one), eval forward;
 *   a batch of 1 after a dense by Keras's rule (variance 0: y = beta, dx = 0);
 * - a model conv + batchnorm + dense trained a few steps: the moving statistics move, are
 *   non-trainable (counted apart, not in the optimizer state), do not move in evaluation;
 *   inference does not depend on the batch; save -> open predicts the same bits; the file
 *   holds running_mean/running_var; checkpoint -> resume is bit-identical; files with a
 *   missing, NaN or negative statistic are refused naming the file and tensor;
 * - spec errors: batchnorm with no conv/dense before it, malformed tokens. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ctest.h"
#include "io/safetensors.h"
#include "layers/layer.h"
#include "model/model.h"
#include "model/modelio.h"
#include "runtime/tensor.h"
#include "tmpdir.h"

static ct_runtime *rt;
static ct_layer_kernels K;

static cl_mem dev(const float *host, size_t n) {
    cl_mem m = NULL;
    if (ct_buffer_create(rt, "bn test", (n ? n : 1) * 4, CL_MEM_READ_WRITE, &m) != CT_OK) return NULL;
    if (host) ct_upload(rt, m, 0, n * 4, host);
    else ct_poison(rt, m, n * 4);
    return m;
}

static void close_to(const char *what, const cl_mem m, const float *want, size_t n) {
    float *got = malloc(n * 4);
    ct_download(rt, m, 0, n * 4, got);
    double worst = 0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]) / (1e-5 + 1e-4 * fabs(want[i]));
        if (!(e <= worst)) worst = e, wi = i;
    }
    CHECK(worst <= 1.0, "%s: %.3g x tol at %zu (cltrain %.8g, PyTorch %.8g)", what, worst, wi,
          (double)got[wi], (double)want[wi]);
    free(got);
}

/* ---- golden ---- */

static float *rd(const ct_st_file *f, const char *cs, const char *k, int ndim, const int *shape) {
    char name[64];
    snprintf(name, sizeof name, "%s.%s", cs, k);
    int64_t sh[4];
    size_t n = 1;
    for (int d = 0; d < ndim; d++) n *= (size_t)(sh[d] = shape[d]);
    float *h = malloc(n * 4);
    ct_status s = ct_st_read_f32(f, name, ndim, sh, h);
    CHECK(s == CT_OK, "golden tensor %s: %s", name, ct_last_error());
    return h;
}

static void golden_case(const ct_st_file *f, const char *cs, int n, int C, int h, int w) {
    int hw = h * w, xs[4] = {n, C, h, w}, xs2[2] = {n, C}, cshape[1] = {C};
    int nd = hw == 1 ? 2 : 4;
    const int *sh = hw == 1 ? xs2 : xs;
    size_t nx = (size_t)n * C * hw;
    float *x = rd(f, cs, "x", nd, sh), *r = rd(f, cs, "r", nd, sh), *yt = rd(f, cs, "y_train", nd, sh),
          *dx = rd(f, cs, "dx", nd, sh), *ye = rd(f, cs, "y_eval", nd, sh);
    float *g = rd(f, cs, "gamma", 1, cshape), *b = rd(f, cs, "beta", 1, cshape),
          *rm0 = rd(f, cs, "rm0", 1, cshape), *rv0 = rd(f, cs, "rv0", 1, cshape),
          *rm1 = rd(f, cs, "rm1", 1, cshape), *rv1 = rd(f, cs, "rv1", 1, cshape),
          *dg = rd(f, cs, "dgamma", 1, cshape), *db = rd(f, cs, "dbeta", 1, cshape);
    /* PyTorch's running_var took the unbiased variance; Keras (and cltrain) the biased one */
    double M = (double)n * hw;
    float *rvk = malloc(C * 4);
    for (int c = 0; c < C; c++)
        rvk[c] = (float)(rv0[c] * 0.99 + ((double)rv1[c] - rv0[c] * 0.99) * (M - 1) / M);
    cl_mem bx = dev(x, nx), by = dev(NULL, nx), bg = dev(g, C), bb = dev(b, C), bm = dev(rm0, C),
           bv = dev(rv0, C), bst = dev(NULL, 3 * C), bdy = dev(r, nx), bdx = dev(NULL, nx),
           bdg = dev(NULL, C), bdb = dev(NULL, C);
    char what[64];
    CHECK_OK(ct_bn_forward(&K, n, C, hw, 1, 1e-3f, 0.99, CT_ACT_NONE, bx, bg, bb, bm, bv, bst, by));
    snprintf(what, sizeof what, "golden %s: training forward", cs);
    close_to(what, by, yt, nx);
    snprintf(what, sizeof what, "golden %s: moving mean", cs);
    close_to(what, bm, rm1, C);
    snprintf(what, sizeof what, "golden %s: moving variance (Keras: biased)", cs);
    close_to(what, bv, rvk, C);
    CHECK_OK(ct_bn_backward(&K, n, C, hw, 1, CT_ACT_NONE, bx, by, bdy, bst, bdg, bdb, bdx));
    snprintf(what, sizeof what, "golden %s: dx", cs);
    close_to(what, bdx, dx, nx);
    snprintf(what, sizeof what, "golden %s: dgamma", cs);
    close_to(what, bdg, dg, C);
    snprintf(what, sizeof what, "golden %s: dbeta", cs);
    close_to(what, bdb, db, C);
    ct_upload(rt, bm, 0, C * 4, rm0);
    ct_upload(rt, bv, 0, C * 4, rv0);
    CHECK_OK(ct_bn_forward(&K, n, C, hw, 0, 1e-3f, 0.99, CT_ACT_NONE, bx, bg, bb, bm, bv, bst, by));
    snprintf(what, sizeof what, "golden %s: eval forward", cs);
    close_to(what, by, ye, nx);
    close_to("eval leaves the moving mean", bm, rm0, C);
    cl_mem all[] = {bx, by, bg, bb, bm, bv, bst, bdy, bdx, bdg, bdb};
    for (int i = 0; i < 11; i++) clReleaseMemObject(all[i]);
    float *fr[] = {x, r, yt, dx, ye, g, b, rm0, rv0, rm1, rv1, dg, db, rvk};
    for (int i = 0; i < 14; i++) free(fr[i]);
}

/* Keras on a batch of 1 after a dense: the batch variance is 0, so y = beta and dx = 0 (PyTorch
 * refuses the batch). */
static void batch_of_one(void) {
    enum { C = 5 };
    float x[C] = {0.3f, -2, 7, 0, 1e4f}, g[C] = {1, 2, 0.5f, 1, 3}, b[C] = {0.1f, -0.2f, 0, 4, -1};
    float m0[C] = {0}, v0[C] = {1, 1, 1, 1, 1}, dy[C] = {1, -1, 0.5f, 2, 3}, y[C], dx[C], mv[C];
    cl_mem bx = dev(x, C), by = dev(NULL, C), bg = dev(g, C), bb = dev(b, C), bm = dev(m0, C),
           bv = dev(v0, C), bst = dev(NULL, 3 * C), bdy = dev(dy, C), bdg = dev(NULL, C),
           bdb = dev(NULL, C);
    CHECK_OK(ct_bn_forward(&K, 1, C, 1, 1, 1e-3f, 0.99, CT_ACT_NONE, bx, bg, bb, bm, bv, bst, by));
    CHECK_OK(ct_bn_backward(&K, 1, C, 1, 1, CT_ACT_NONE, bx, by, bdy, bst, bdg, bdb, bdy));
    ct_download(rt, by, 0, sizeof y, y);
    ct_download(rt, bdy, 0, sizeof dx, dx);
    ct_download(rt, bv, 0, sizeof mv, mv);
    for (int c = 0; c < C; c++) {
        CHECK(y[c] == b[c] && dx[c] == 0, "batch of 1: y %g (beta %g), dx %g", (double)y[c],
              (double)b[c], (double)dx[c]);
        CHECK(mv[c] == 0.99f, "batch of 1: moving variance %.9g, want 1 * 0.99 + 0 * 0.01",
              (double)mv[c]);
    }
    cl_mem all[] = {bx, by, bg, bb, bm, bv, bst, bdy, bdg, bdb};
    for (int i = 0; i < 10; i++) clReleaseMemObject(all[i]);
}

static void golden(void) {
    const char *src = getenv("CLTRAIN_SRC_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/golden/batchnorm.safetensors", src ? src : ".");
    ct_st_file *f;
    if (ct_st_open(path, &f) != CT_OK) {
        CHECK(0, "cannot read %s (set CLTRAIN_SRC_DIR to the source tree): %s", path, ct_last_error());
        return;
    }
    golden_case(f, "conv", 4, 3, 5, 7);
    golden_case(f, "dense", 6, 5, 1, 1);
    ct_st_close(f);
}

/* ---- a model with batchnorm ---- */

#define SPEC "conv4:3:linear,batchnorm:relu,pool2,flatten,dense6,batchnorm,dense1"
enum { B = 8, CH = 3, H = 9, W = 9 };

static ct_model *make(uint64_t seed) {
    ct_model *m = NULL;
    CHECK_OK(ct_model_create(rt, SPEC, CH, H, W, 2, B, seed, &m));
    if (!m) exit(1);
    return m;
}

static void upload_batch(ct_model *m, uint64_t seed) {
    float x[B * CH * H * W], lf[B];
    int lab[B];
    ct_fill_random(x, sizeof x / 4, seed, -1, 2);
    ct_fill_random(lf, B, seed + 1, 0, 2);
    for (int i = 0; i < B; i++) lab[i] = lf[i] >= 1.0f;
    ct_upload(rt, ct_model_input(m), 0, sizeof x, x);
    ct_upload(rt, ct_model_labels(m), 0, sizeof lab, lab);
}

static void steps(ct_model *m, long from, long to) {
    for (long s = from; s < to; s++) {
        upload_batch(m, 1000 + (uint64_t)s);
        CHECK_OK(ct_model_train_step(m, s == 4 ? 1 : B, NULL, 7, s)); /* step 4: a batch of 1 */
    }
}

/* Every tensor of a and b, bit for bit. */
static int same_tensors(ct_model *a, ct_model *b, const char *what) {
    int ok = ct_model_n_tensors(a) == ct_model_n_tensors(b);
    for (int i = 0; ok && i < ct_model_n_tensors(a); i++) {
        const ct_param_info *p = ct_model_tensor(a, i);
        float *x = malloc(p->n * 4), *y = malloc(p->n * 4);
        ct_model_get_tensor(a, i, x);
        ct_model_get_tensor(b, i, y);
        if (memcmp(x, y, p->n * 4)) {
            CHECK(0, "%s: tensor %s differs", what, p->name);
            ok = 0;
        }
        free(x), free(y);
    }
    return ok;
}

static int tensor_index(ct_model *m, const char *name) {
    for (int i = 0; i < ct_model_n_tensors(m); i++)
        if (!strcmp(ct_model_tensor(m, i)->name, name)) return i;
    return -1;
}

static void meta_of(ct_model *m, ct_model_meta *meta) {
    memset(meta, 0, sizeof *meta);
    ct_preprocess_default(&meta->pre);
    meta->c = CH, meta->h = H, meta->w = W;
    ct_model_meta_set_spec(meta, ct_model_spec(m));
    char *names[2] = {"cat", "dog"};
    ct_model_meta_set_classes(meta, 2, names);
}

/* A copy of model file src at dst with tensor `drop` left out, or one value of it replaced. */
static void rewrite(const char *src, const char *dst, const char *name, int drop, float value) {
    ct_st_file *f;
    ct_st_writer *w;
    CHECK_OK(ct_st_open(src, &f));
    CHECK_OK(ct_st_writer_create(&w));
    for (int i = 0; i < ct_st_meta_count(f); i++) {
        const char *k, *v;
        ct_st_meta_at(f, i, &k, &v);
        ct_st_writer_meta(w, k, v);
    }
    for (int i = 0; i < ct_st_count(f); i++) {
        const ct_st_tensor *t = ct_st_tensor_at(f, i);
        if (drop && !strcmp(t->name, name)) continue;
        int64_t sh[4];
        int shi[4];
        size_t n = 1;
        for (int d = 0; d < t->ndim; d++) n *= (size_t)(sh[d] = t->shape[d]), shi[d] = (int)sh[d];
        float *h = malloc(n * 4);
        CHECK_OK(ct_st_read_f32(f, t->name, t->ndim, sh, h));
        if (!strcmp(t->name, name)) h[n - 1] = value;
        CHECK_OK(ct_st_writer_add_f32(w, t->name, t->ndim, shi, h));
        free(h);
    }
    CHECK_OK(ct_st_writer_write(w, dst));
    ct_st_writer_free(w);
    ct_st_close(f);
}

static void refused(const char *path, const char *tensor, const char *why) {
    ct_model *m = NULL;
    ct_model_meta meta;
    ct_status s = ct_model_open(rt, path, B, &m, &meta);
    const char *e = ct_last_error();
    CHECK(s != CT_OK && strstr(e, path) && strstr(e, tensor),
          "a model file with %s %s is refused naming file and tensor: %s", tensor, why,
          s == CT_OK ? "(opened)" : e);
    if (s == CT_OK) {
        ct_model_free(m);
        ct_model_meta_free(&meta);
    }
}

static void model(void) {
    char dir[256], path[512], ck[512], bad[512];
    tmpdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/bn.safetensors", dir);
    snprintf(ck, sizeof ck, "%s/checkpoint.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    ct_model *a = make(11);
    /* conv 4*27+4, bn 4+4, dense 36*6+6, bn 6+6, dense 6+1; moving statistics 2*4 + 2*6 */
    CHECK(ct_model_param_count(a) == 112 + 8 + 222 + 12 + 7, "trainable %zu",
          ct_model_param_count(a));
    CHECK(ct_model_nontrainable_count(a) == 20, "non-trainable %zu", ct_model_nontrainable_count(a));
    CHECK(ct_model_n_params(a) == 10 && ct_model_n_tensors(a) == 14, "tensors %d/%d",
          ct_model_n_params(a), ct_model_n_tensors(a));
    int rm = tensor_index(a, "layers.1.running_mean"), rv = tensor_index(a, "layers.5.running_var");
    CHECK(rm >= ct_model_n_params(a) && rv >= ct_model_n_params(a), "statistics after parameters");
    CHECK(!strcmp(ct_model_spec(a), SPEC), "canonical spec %s", ct_model_spec(a));
    float v0[6], m0[4], v1[6], m1[4];
    ct_model_get_tensor(a, rm, m0);
    ct_model_get_tensor(a, rv, v0);
    CHECK(m0[0] == 0 && v0[0] == 1 && v0[5] == 1, "moving statistics start at 0 and 1");
    steps(a, 0, 3);
    ct_model_get_tensor(a, rm, m1);
    ct_model_get_tensor(a, rv, v1);
    CHECK(m1[0] != 0 && v1[3] != 1 && isfinite(m1[0]) && isfinite(v1[3]),
          "training moves the moving statistics (%g, %g)", (double)m1[0], (double)v1[3]);
    /* evaluation and prediction use and keep them, and do not depend on the batch */
    upload_batch(a, 5);
    CHECK_OK(ct_model_eval_step(a, B));
    float pa[B], p1[1], pb[B];
    CHECK_OK(ct_model_predict(a, B, pa));
    CHECK_OK(ct_model_predict(a, 1, p1));
    ct_model_get_tensor(a, rv, v0);
    CHECK(!memcmp(v0, v1, sizeof v1), "evaluation leaves the moving statistics");
    CHECK(fabsf(p1[0] - pa[0]) <= 1e-6f, "inference of sample 0 alone %.8g = in a batch %.8g",
          (double)p1[0], (double)pa[0]);
    /* save -> open: same predictions, statistics in the file */
    ct_model_meta meta;
    meta_of(a, &meta);
    CHECK_OK(ct_model_save(a, &meta, path));
    ct_st_file *f;
    CHECK_OK(ct_st_open(path, &f));
    const char *want[] = {"layers.1.weight", "layers.1.bias", "layers.1.running_mean",
                          "layers.1.running_var", "layers.5.running_mean", "layers.5.running_var"};
    for (int i = 0; i < 6; i++) CHECK(ct_st_find(f, want[i]), "model file holds %s", want[i]);
    ct_st_close(f);
    ct_model *o = NULL;
    ct_model_meta om;
    CHECK_OK(ct_model_open(rt, path, B, &o, &om));
    if (o) {
        same_tensors(a, o, "save -> open");
        upload_batch(o, 5);
        CHECK_OK(ct_model_predict(o, B, pb));
        CHECK(!memcmp(pa, pb, sizeof pa), "the opened model predicts the same bits");
        ct_model_free(o);
        ct_model_meta_free(&om);
    }
    /* checkpoint after 3 steps; resume in a model made with another seed = uninterrupted */
    ct_ckpt_state st = {0};
    st.best = NAN;
    st.best_epoch = -1;
    CHECK_OK(ct_checkpoint_save(a, &meta, &st, NULL, ck));
    steps(a, 3, 6);
    ct_model *r = make(99);
    ct_ckpt_state st2 = {0};
    CHECK_OK(ct_checkpoint_load(r, ck, &st2, NULL));
    ct_history_free(&st2.hist);
    steps(r, 3, 6);
    CHECK(same_tensors(a, r, "resume"), "resume is bit-identical, moving statistics included");
    /* damaged statistics are refused */
    rewrite(path, bad, "layers.5.running_var", 1, 0);
    refused(bad, "layers.5.running_var", "missing");
    rewrite(path, bad, "layers.1.running_mean", 0, NAN);
    refused(bad, "layers.1.running_mean", "NaN");
    rewrite(path, bad, "layers.1.running_var", 0, -1.0f);
    refused(bad, "layers.1.running_var", "negative");
    ct_model_meta_free(&meta);
    ct_model_free(a);
    ct_model_free(r);
    tmpdir_remove(dir);
}

/* ---- spec errors ---- */

static void spec_errors(void) {
    static const struct {
        const char *spec, *part;
        ct_status st;
    } bad[] = {
        {"batchnorm,conv4:3", "must come after one", CT_ERR_SHAPE},
        {"pool2,batchnorm:relu,flatten", "must come after one", CT_ERR_SHAPE},
        {"conv4:3,batchnorm5", "batchnorm takes no number", CT_ERR_ARG},
        {"conv4:3,batchnormx", "batchnorm takes no number", CT_ERR_ARG},
        {"conv4:3,batchnorm:sigmoid", "expected relu or linear", CT_ERR_ARG},
        {"conv4:3,batchnorm:tanh", "expected relu or linear", CT_ERR_ARG},
        {"conv4:3,batchnorm:relu:relu", "at most one option", CT_ERR_ARG},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ct_model *m = NULL;
        ct_status s = ct_model_create(rt, bad[i].spec, CH, H, W, 2, B, 1, &m);
        const char *e = ct_last_error();
        CHECK(s == bad[i].st && strstr(e, bad[i].part) && strstr(e, "batchnorm"),
              "spec '%s': %s: %s", bad[i].spec, ct_status_str(s), s == CT_OK ? "(built)" : e);
        ct_model_free(m);
    }
    ct_model *m = NULL;
    CHECK_OK(ct_model_create(rt, "conv4:3,batchnorm:linear,flatten,dense3,batchnorm:relu", CH, H,
                             W, 3, B, 1, &m));
    if (m)
        CHECK(!strcmp(ct_model_spec(m), "conv4:3:linear,batchnorm,flatten,dense3,batchnorm:relu,dense3"),
              "canonical %s", ct_model_spec(m));
    ct_model_free(m);
}

int main(void) {
    rt = ct_test_runtime(0);
    if (ct_layer_kernels_init(rt, &K) != CT_OK) {
        fprintf(stderr, "FAIL: %s\n", ct_last_error());
        return 1;
    }
    golden();
    batch_of_one();
    model();
    spec_errors();
    ct_layer_kernels_free(&K);
    ct_runtime_free(rt);
    return ct_test_done("test_batchnorm");
}
