/* Model: spec parsing (presets, canonical form, errors with a caret), output-layer rule,
 * shape checks naming the layer, Keras init, and whole-model checks against a plain-C
 * double-precision reference: loss, parameter gradients by finite differences (with a
 * fixed dropout mask), Adam over the slab, predict/eval/metrics. */
#include "ctest.h"
#include "layers/layer_ref.h"
#include "model/model.h"
#include "check/ops_ref.h"
#include "check/selftest.h"

static ct_runtime *rt;

/* The test's own view of a layer's kind, by its class's name, so that the reference below
 * stays independent of the model's code. */
enum { T_CONV, T_POOL, T_FLATTEN, T_DENSE, T_ACT, T_DROPOUT, T_AVGPOOL, T_GAP, T_UNKNOWN };
static int kind(const ct_layer_spec *s) {
    static const char *names[] = {"conv",    "maxpool", "flatten", "dense",
                                  "activation", "dropout", "avgpool", "gap"};
    for (int i = 0; i < T_UNKNOWN; i++)
        if (s->cls && !strcmp(s->cls->name, names[i])) return i;
    return T_UNKNOWN;
}

/* ---- spec ---- */

static void spec_ok(const char *spec, int n_expect) {
    ct_layer_spec *L = NULL;
    int n = 0;
    CHECK_OK(ct_spec_parse(spec, &L, &n));
    CHECK(n == n_expect, "'%s': %d layers, expected %d", spec, n, n_expect);
    free(L);
}

static void spec_bad(const char *spec, const char *needle, const char *caret_line) {
    ct_layer_spec *L = NULL;
    int n = 0;
    ct_status s = ct_spec_parse(spec, &L, &n);
    CHECK(s == CT_ERR_ARG, "'%s' must fail with CT_ERR_ARG, got %s", spec, ct_status_str(s));
    const char *msg = ct_last_error();
    CHECK(strstr(msg, needle) != NULL, "'%s': message lacks '%s': %s", spec, needle, msg);
    if (caret_line) CHECK(strstr(msg, caret_line) != NULL, "'%s': caret line '%s' not in: %s", spec,
                          caret_line, msg);
    free(L);
}

/* Canonical form of a one-layer spec. */
static void spec_canon(const char *tok, const char *want) {
    ct_layer_spec *L = NULL;
    int n = 0;
    CHECK_OK(ct_spec_parse(tok, &L, &n));
    char buf[64] = "";
    if (n == 1) ct_spec_format_layer(&L[0], buf, sizeof buf);
    CHECK(n == 1 && !strcmp(buf, want), "'%s': canonical '%s', want '%s'", tok, buf, want);
    free(L);
}

/* gap, avgpool, tanh, leakyrelu: tokens, Keras defaults, canonical forms, every bad token. */
static void new_layer_spec_tests(void) {
    spec_ok("conv8:3:tanh,avgpool2,leakyrelu,conv4:3:leakyrelu0.1,gap,dense8:tanh,"
            "dense4:leakyrelu0.2,tanh,leakyrelu1.5,avgpool3:s1,dense2",
            11);
    ct_layer_spec *L = NULL;
    int n = 0;
    CHECK_OK(ct_spec_parse("leakyrelu,leakyrelu0.1,avgpool3,avgpool3:s1,dense4:leakyrelu0,tanh", &L,
                           &n));
    if (n == 6) {
        CHECK(L[0].act == CT_ACT_LEAKYRELU && L[0].alpha == 0.3f, "leakyrelu: Keras's 0.3, got %g",
              (double)L[0].alpha);
        CHECK(L[1].act == CT_ACT_LEAKYRELU && L[1].alpha == 0.1f, "leakyrelu0.1");
        CHECK(kind(&L[2]) == T_AVGPOOL && L[2].pool == 3 && L[2].stride == 3,
              "avgpool stride defaults to its size (Keras strides=None)");
        CHECK(L[3].stride == 1, "avgpool3:s1");
        CHECK(kind(&L[4]) == T_DENSE && L[4].act == CT_ACT_LEAKYRELU && L[4].alpha == 0.0f,
              "dense leakyrelu0");
        CHECK(kind(&L[5]) == T_ACT && L[5].act == CT_ACT_TANH, "tanh layer");
    }
    free(L);
    spec_canon("leakyrelu", "leakyrelu0.3");
    spec_canon("leakyrelu0.10", "leakyrelu0.1");
    spec_canon("leakyrelu1e-2", "leakyrelu0.01");
    spec_canon("tanh", "tanh");
    spec_canon("gap", "gap");
    spec_canon("avgpool2:s2", "avgpool2");
    spec_canon("avgpool3:s1", "avgpool3:s1");
    spec_canon("conv8:3:tanh", "conv8:3:tanh");
    spec_canon("conv8:3:s2:leakyrelu:same", "conv8:3:s2:same:leakyrelu0.3");
    spec_canon("dense64:leakyrelu0.2", "dense64:leakyrelu0.2");
    spec_canon("dense64:tanh", "dense64:tanh");
    spec_canon("leakyrelu0.123456789", "leakyrelu0.12345679"); /* the float, read back exactly */
    spec_bad("avgpool0", "'avgpool0': avgpool needs a positive size", "^~~~~~~~");
    spec_bad("avgpool", "avgpool needs a positive size, e.g. avgpool2", NULL);
    spec_bad("avgpool2:s0", "bad avgpool option 's0' (expected a stride s<S> with S >= 1", NULL);
    spec_bad("avgpool2:x", "bad avgpool option 'x'", NULL);
    spec_bad("avgpool2:s1:s1", "at most one option", NULL);
    spec_bad("conv4:3,leakyrelu-1", "'leakyrelu-1': bad leakyrelu slope", "        ^~~~~~~~~~~");
    spec_bad("leakyreluX", "'leakyreluX': bad leakyrelu slope in 'leakyreluX' (expected leakyrelu "
             "or leakyrelu<alpha> with alpha a number >= 0", NULL);
    spec_bad("leakyrelu0x1", "bad leakyrelu slope", NULL);
    spec_bad("leakyreluinf", "bad leakyrelu slope", NULL);
    spec_bad("leakyrelu1e99", "bad leakyrelu slope", NULL);
    spec_bad("leakyrelu0.1:x", "takes no ':' options", NULL);
    spec_bad("tanh:x", "takes no ':' options", NULL);
    spec_bad("conv8:3:leakyrelu-0.5", "'conv8:3:leakyrelu-0.5': bad leakyrelu slope in "
             "'leakyrelu-0.5'", NULL);
    spec_bad("conv8:3:tanh:relu", "activation given twice", NULL);
    spec_bad("conv8:3:elu", "tanh, leakyrelu[<alpha>] or linear", NULL);
    spec_bad("dense4:leakyreluabc", "'dense4:leakyreluabc': bad leakyrelu slope", NULL);
    spec_bad("gap:x", "'gap:x': gap takes no options", NULL);
    spec_bad("gap2", "unknown layer 'gap2'", NULL);
    spec_bad("dropout0x1", "dropout needs a rate", NULL);
    spec_bad("elu", "unknown layer 'elu' (expected conv, pool, avgpool, gap, ", NULL);
}

static void spec_tests(void) {
    spec_ok("model1", 9);
    spec_ok("model2", 11);
    spec_ok("model3", 9);
    spec_ok("model4", 15);
    spec_ok("conv32:3", 1);
    spec_ok(" conv8:5:s2:same:relu , pool3:s2,flatten, dense10:softmax,dropout0.5,sigmoid,relu,"
            "softmax,dense2",
            9);
    ct_layer_spec *L;
    int n;
    CHECK_OK(ct_spec_parse("conv8:5:relu:s2:same,pool3:s1,dense7:sigmoid,dropout0.25", &L, &n));
    if (n == 4) {
        CHECK(kind(&L[0]) == T_CONV && L[0].units == 8 && L[0].k == 5 && L[0].stride == 2 &&
                  L[0].same == 1 && L[0].act == CT_ACT_RELU,
              "conv fields");
        CHECK(kind(&L[1]) == T_POOL && L[1].pool == 3 && L[1].stride == 1, "pool fields");
        CHECK(kind(&L[2]) == T_DENSE && L[2].units == 7 && L[2].act == CT_ACT_SIGMOID, "dense");
        CHECK(kind(&L[3]) == T_DROPOUT && fabsf(L[3].rate - 0.25f) < 1e-7f, "dropout");
        char buf[64];
        ct_spec_format_layer(&L[0], buf, sizeof buf);
        CHECK(!strcmp(buf, "conv8:5:s2:same:relu"), "canonical conv: %s", buf);
        ct_spec_format_layer(&L[1], buf, sizeof buf);
        CHECK(!strcmp(buf, "pool3:s1"), "canonical pool: %s", buf);
    }
    free(L);
    CHECK_OK(ct_spec_parse("conv4:3", &L, &n));
    CHECK(n == 1 && L[0].act == CT_ACT_NONE && L[0].stride == 1 && !L[0].same,
          "conv defaults are Keras's: linear, stride 1, valid");
    free(L);
    CHECK_OK(ct_spec_parse("pool2", &L, &n));
    CHECK(n == 1 && L[0].stride == 2, "pool stride defaults to its size");
    free(L);
    spec_bad("conv32:3,pool2,conv64:x", "layer 2 at column 16", "                ^~~~~~~~");
    spec_bad("conv32", "kernel size", "^~~~~~");
    spec_bad("conv32:3,,pool2", "empty layer", NULL);
    spec_bad("conv32:3,", "empty layer", NULL);
    spec_bad("", "empty", NULL);
    spec_bad("conv32:3:bogus", "unknown conv option 'bogus'", NULL);
    spec_bad("conv32:3:relu:sigmoid", "activation given twice", NULL);
    spec_bad("pool2:x", "bad pool option", NULL);
    spec_bad("pool0", "positive size", NULL);
    spec_bad("dense:relu", "positive unit count", NULL);
    spec_bad("dense10:elu", "unknown dense activation 'elu'", NULL);
    spec_bad("dropout1.5", "[0, 1)", NULL);
    spec_bad("dropout", "rate", NULL);
    spec_bad("flatten:x", "no options", NULL);
    spec_bad("conv3:3,lstm64", "unknown layer 'lstm64'", "        ^~~~~~");
    spec_bad("linear", "unknown layer", NULL);
    CHECK(ct_spec_preset("model2") && !ct_spec_preset("model5"), "presets");
    new_layer_spec_tests();
}

/* ---- model building ---- */

static void build_tests(void) {
    ct_model *m = NULL;
    CHECK_OK(ct_model_create(rt, "model2", 3, 112, 112, 2, 2, 1, &m));
    if (m) {
        /* Keras's model.summary() for the seed's Model 2 at 112x112: 490,545 parameters */
        CHECK(ct_model_param_count(m) == 490545, "model2 params %zu", ct_model_param_count(m));
        CHECK(ct_model_outputs(m) == 1, "binary output");
        CHECK(ct_model_n_params(m) == 12, "12 tensors, got %d", ct_model_n_params(m));
        const ct_param_info *p = ct_model_param(m, 8);
        CHECK(p && !strcmp(p->name, "layers.9.weight") && p->ndim == 2 && p->shape[0] == 248 &&
                  p->shape[1] == 1600,
              "dense248 weight: %s", p ? p->name : "?");
        p = ct_model_param(m, 10);
        CHECK(p && !strcmp(p->name, "layers.11.weight") && p->shape[0] == 1, "output dense: %s",
              p ? p->name : "?");
        p = ct_model_param(m, 0);
        CHECK(p && p->ndim == 4 && p->shape[0] == 32 && p->shape[1] == 3 && p->shape[2] == 3,
              "conv OIHW");
        CHECK(!strcmp(ct_model_spec(m),
                      "conv32:3:relu,pool2,conv64:3:relu,pool2,conv64:3:relu,pool2,conv64:3:relu,"
                      "pool2,flatten,dense248:relu,dropout0.2,dense1"),
              "canonical: %s", ct_model_spec(m));
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        ct_model_summary(m, f);
        fclose(f);
        CHECK(buf && strstr(buf, "Total params: 490,545 ") && strstr(buf, "(64, 5, 5)"), "summary:\n%s", buf);
        free(buf);
        /* glorot_uniform: |w| <= limit, mean |w| ~ limit / 2; biases zero */
        float *w = malloc(248 * 1600 * 4), b[248];
        CHECK_OK(ct_model_get_param(m, 8, w));
        CHECK_OK(ct_model_get_param(m, 9, b));
        double lim = sqrt(6.0 / (1600 + 248)), mx = 0, ma = 0;
        for (int i = 0; i < 248 * 1600; i++) {
            mx = fmax(mx, fabs(w[i]));
            ma += fabs(w[i]);
        }
        ma /= 248 * 1600;
        CHECK(mx <= lim && mx > 0.99 * lim && fabs(ma - lim / 2) < 0.01 * lim,
              "glorot: max %g mean %g limit %g", mx, ma, lim);
        int bz = 1;
        for (int i = 0; i < 248; i++) bz &= b[i] == 0;
        CHECK(bz, "biases start at zero");
        /* same seed, same init; another seed, another */
        ct_model *m2 = NULL, *m3 = NULL;
        CHECK_OK(ct_model_create(rt, "model2", 3, 112, 112, 2, 1, 1, &m2));
        CHECK_OK(ct_model_create(rt, "model2", 3, 112, 112, 2, 1, 2, &m3));
        float *w2 = malloc(248 * 1600 * 4), *w3 = malloc(248 * 1600 * 4);
        if (m2 && m3) {
            CHECK_OK(ct_model_get_param(m2, 8, w2));
            CHECK_OK(ct_model_get_param(m3, 8, w3));
            CHECK(!memcmp(w, w2, 248 * 1600 * 4), "same seed must give the same weights");
            CHECK(memcmp(w, w3, 248 * 1600 * 4), "another seed must give other weights");
        }
        free(w), free(w2), free(w3);
        ct_model_free(m2);
        ct_model_free(m3);
        ct_model_free(m);
    }
    /* 3 classes: softmax output appended */
    m = NULL;
    CHECK_OK(ct_model_create(rt, "model1", 1, 40, 40, 3, 2, 1, &m));
    if (m) CHECK(ct_model_outputs(m) == 3 && strstr(ct_model_spec(m), "dropout0.2,dense3"),
                 "3-class output: %s", ct_model_spec(m));
    ct_model_free(m);
    /* the logit layer given explicitly, also as Keras writes it (dense1:sigmoid) */
    m = NULL;
    CHECK_OK(ct_model_create(rt, "conv4:3:relu,flatten,dense1:sigmoid", 1, 5, 5, 2, 2, 1, &m));
    if (m) CHECK(!strcmp(ct_model_spec(m), "conv4:3:relu,flatten,dense1"), "%s", ct_model_spec(m));
    ct_model_free(m);
    m = NULL;
    CHECK_OK(ct_model_create(rt, "conv4:3:relu,flatten,dense2", 1, 5, 5, 2, 2, 1, &m));
    if (m) CHECK(ct_model_outputs(m) == 2, "2-class softmax");
    ct_model_free(m);
    /* errors that name the layer and the shapes */
    static const struct {
        const char *spec;
        int c, h, w, classes;
        ct_status st;
        const char *needle;
    } bad[] = {
        {"model2", 3, 30, 30, 2, CT_ERR_SHAPE, "layer 6 'conv64:3:relu': the 3x3 kernel is larger than its input 64x2x2"},
        {"conv4:3,pool2,pool2", 1, 5, 5, 2, CT_ERR_SHAPE, "1x1"},
        {"conv8:7", 3, 5, 9, 2, CT_ERR_SHAPE, "layer 0 'conv8:7:linear': the 7x7 kernel is larger "
                                              "than its input 3x5x9"},
        {"conv4:3,dense10:relu", 1, 8, 8, 2, CT_ERR_SHAPE, "add 'flatten'"},
        {"flatten,conv4:3", 1, 8, 8, 2, CT_ERR_SHAPE, "flat vector of 64 features"},
        {"flatten,dense5", 1, 8, 8, 3, CT_ERR_SHAPE, "has 5 units, but 3 classes need dense3"},
        {"conv2:3,softmax", 1, 8, 8, 2, CT_ERR_SHAPE, "softmax needs a flat input"},
        {"conv2:3,pool9", 1, 8, 8, 2, CT_ERR_SHAPE, "a 9x9 pool does not fit its input 2x6x6"},
        {"conv2:3:nope", 1, 8, 8, 2, CT_ERR_ARG, "unknown conv option"},
        {"conv2:3,avgpool9", 1, 6, 6, 2, CT_ERR_SHAPE,
         "layer 1 'avgpool9': a 9x9 average pool does not fit its input 2x4x4 (CxHxW); use a "
         "pool of at most 4"},
        {"conv2:3,avgpool3:s2,avgpool2", 1, 6, 6, 2, CT_ERR_SHAPE,
         "layer 2 'avgpool2': a 2x2 average pool does not fit its input 2x1x1"},
        {"flatten,gap", 1, 8, 8, 2, CT_ERR_SHAPE,
         "layer 1 'gap': global average pooling needs an image input (CxHxW) but gets a flat "
         "vector of 64"},
        {"conv2:3,gap,avgpool2", 1, 8, 8, 2, CT_ERR_SHAPE,
         "layer 2 'avgpool2': average pooling needs an image input"},
        {"conv2:3,gap,conv2:1", 1, 8, 8, 2, CT_ERR_SHAPE, "flat vector of 2 features"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m = NULL;
        ct_status s = ct_model_create(rt, bad[i].spec, bad[i].c, bad[i].h, bad[i].w, bad[i].classes,
                                      2, 1, &m);
        CHECK(s == bad[i].st && !m, "'%s' at %dx%dx%d: %s", bad[i].spec, bad[i].c, bad[i].h,
              bad[i].w, ct_status_str(s));
        CHECK(strstr(ct_last_error(), bad[i].needle), "'%s': message lacks '%s': %s", bad[i].spec,
              bad[i].needle, ct_last_error());
        ct_model_free(m);
    }
}

/* ---- whole model against a double-precision reference ---- */

typedef struct refmodel {
    ct_model *m;
    ct_layer_spec *L;
    int nl, c, h, w, n, classes;
    double **p; /* parameters by index */
    const double *x;
    const int *labels;
    int train;
    uint64_t seed;
    long step;
} refmodel;

/* Mean loss of the model on the batch, in double. */
static double ref_forward(refmodel *r, double *logits_out) {
    int c = r->c, h = r->h, w = r->w, flat = 0, pi = 0;
    size_t feat = (size_t)c * h * w;
    double *cur = malloc((size_t)r->n * feat * sizeof *cur);
    memcpy(cur, r->x, (size_t)r->n * feat * sizeof *cur);
    for (int i = 0; i < r->nl; i++) {
        const ct_layer_spec *s = &r->L[i];
        double *nx = NULL;
        size_t nf = feat;
        switch (kind(s)) {
        case T_CONV: {
            ct_conv_desc d;
            ct_conv_desc_init(&d, r->n, c, h, w, s->units, s->k, s->stride, s->same, CT_ACT_NONE);
            nf = (size_t)s->units * d.oh * d.ow;
            nx = malloc((size_t)r->n * nf * sizeof *nx);
            ct_ref_conv_forward_d(&d, r->n, cur, r->p[pi], r->p[pi + 1], nx);
            pi += 2;
            ct_ref_act_fwd(s->act, s->alpha, r->n, (int)nf, nx, nx);
            c = s->units, h = d.oh, w = d.ow;
            break;
        }
        case T_POOL: {
            int oh = ct_pool_out(h, s->pool, s->stride), ow = ct_pool_out(w, s->pool, s->stride);
            nf = (size_t)c * oh * ow;
            nx = malloc((size_t)r->n * nf * sizeof *nx);
            ct_ref_pool_fwd(r->n * c, h, w, s->pool, s->stride, cur, nx);
            h = oh, w = ow;
            break;
        }
        case T_AVGPOOL:
        case T_GAP: {
            int gap = kind(s) == T_GAP, ph = gap ? h : s->pool, pw = gap ? w : s->pool;
            int sh = gap ? 1 : s->stride, oh = ct_pool_out(h, ph, sh), ow = ct_pool_out(w, pw, sh);
            nf = (size_t)c * oh * ow;
            nx = malloc((size_t)r->n * nf * sizeof *nx);
            ct_ref_avgpool_fwd(r->n * c, h, w, ph, pw, sh, sh, cur, nx);
            h = oh, w = ow;
            flat |= gap;
            break;
        }
        case T_FLATTEN: flat = 1; break;
        case T_DENSE:
            nf = (size_t)s->units;
            nx = malloc((size_t)r->n * nf * sizeof *nx);
            ct_ref_dense_fwd(r->n, (int)feat, s->units, s->act, s->alpha, cur, r->p[pi],
                             r->p[pi + 1], nx);
            pi += 2;
            break;
        case T_ACT:
            nx = malloc((size_t)r->n * nf * sizeof *nx);
            ct_ref_act_fwd(s->act, s->alpha, r->n, (int)feat, cur, nx);
            break;
        case T_DROPOUT:
            nx = malloc((size_t)r->n * nf * sizeof *nx);
            if (r->train && s->rate > 0)
                ct_ref_dropout((size_t)r->n * feat, s->rate, ct_model_dropout_seed(r->m, i, r->seed),
                               (uint32_t)r->step, cur, nx);
            else
                memcpy(nx, cur, (size_t)r->n * feat * sizeof *nx);
            break;
        default: CHECK(0, "layer %d: unknown layer class", i); break;
        }
        (void)flat;
        if (nx) {
            free(cur);
            cur = nx;
        }
        feat = nf;
    }
    double l = ct_ref_loss(r->n, r->classes, cur, r->labels, NULL, NULL, NULL);
    if (logits_out) memcpy(logits_out, cur, (size_t)r->n * r->classes * sizeof *cur);
    free(cur);
    return l;
}

static void model_fd(const char *spec, int c, int h, int w, int classes, int n, int train) {
    ct_model *m = NULL;
    CHECK_OK(ct_model_create(rt, spec, c, h, w, classes, n + 2, 7, &m));
    if (!m) return;
    refmodel r = {.m = m, .c = c, .h = h, .w = w, .n = n, .classes = ct_model_outputs(m),
                  .train = train, .seed = 0x1234567890ull, .step = 3};
    CHECK_OK(ct_spec_parse(ct_model_spec(m), &r.L, &r.nl));
    size_t nx = (size_t)n * c * h * w;
    float *xf = malloc(nx * 4), *lf = malloc(n * 4);
    int *lab = malloc(n * sizeof *lab);
    double *xd = malloc(nx * 8);
    ct_fill_random(xf, nx, 5, 0, 1);
    ct_fill_random(lf, n, 6, 0, classes);
    for (int i = 0; i < n; i++) lab[i] = (int)lf[i] < classes ? (int)lf[i] : 0;
    ct_to_double(xf, xd, nx);
    r.x = xd;
    r.labels = lab;
    CHECK_OK(ct_upload(rt, ct_model_input(m), 0, nx * 4, xf));
    CHECK_OK(ct_upload(rt, ct_model_labels(m), 0, n * sizeof(int), lab));
    int np = ct_model_n_params(m);
    r.p = calloc(np, sizeof *r.p);
    float **pf = calloc(np, sizeof *pf), **gf = calloc(np, sizeof *gf);
    /* small random biases too, so that the bias paths are exercised off zero */
    for (int i = 0; i < np; i++) {
        const ct_param_info *pi = ct_model_param(m, i);
        pf[i] = malloc(pi->n * 4);
        gf[i] = malloc(pi->n * 4);
        r.p[i] = malloc(pi->n * 8);
        CHECK_OK(ct_model_get_param(m, i, pf[i]));
        if (pi->ndim == 1) {
            ct_fill_random(pf[i], pi->n, 100 + i, -0.1f, 0.1f);
            CHECK_OK(ct_model_set_param(m, i, pf[i]));
        }
        ct_to_double(pf[i], r.p[i], pi->n);
    }
    CHECK_OK(ct_model_compute_grads(m, n, train, r.seed, r.step));
    double loss_dev, acc;
    long cnt;
    CHECK_OK(ct_model_metrics(m, 1, &loss_dev, &acc, &cnt));
    double loss_ref = ref_forward(&r, NULL);
    CHECK(fabs(loss_dev - loss_ref) <= 1e-5 + 1e-5 * fabs(loss_ref) && cnt == n,
          "%s: device loss %.8g vs reference %.8g (count %ld)", spec, loss_dev, loss_ref, cnt);
    for (int i = 0; i < np; i++) {
        const ct_param_info *pi = ct_model_param(m, i);
        CHECK_OK(ct_model_get_grad(m, i, gf[i]));
        double *g = malloc(pi->n * 8);
        for (size_t j = 0; j < pi->n; j++) {
            double v = r.p[i][j], hh = 1e-6;
            r.p[i][j] = v + hh;
            double a = ref_forward(&r, NULL);
            r.p[i][j] = v - hh;
            double b = ref_forward(&r, NULL);
            r.p[i][j] = v;
            g[j] = (a - b) / (2 * hh);
        }
        double worst = 0;
        size_t wi = 0;
        for (size_t j = 0; j < pi->n; j++) {
            double e = isnan(gf[i][j]) ? INFINITY
                                       : fabs(gf[i][j] - g[j]) / (2e-6 + 1e-4 * fabs(g[j]));
            if (!(e <= worst)) worst = e, wi = j;
        }
        CHECK(worst <= 1.0, "%s train %d: %s gradient vs FD: %.3g x tol at %zu (device %.8g, FD %.8g)",
              spec, train, pi->name, worst, wi, (double)gf[i][wi], g[wi]);
        free(g);
    }
    /* Adam over the slab: one train step from these parameters equals the reference update
     * from the gradients of the same forward (train mode, same seed and step). */
    if (!train) {
        CHECK_OK(ct_model_compute_grads(m, n, 1, r.seed, r.step));
        for (int i = 0; i < np; i++) CHECK_OK(ct_model_get_grad(m, i, gf[i]));
    }
    ct_adam opt = {.lr = 2e-3, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6};
    CHECK_OK(ct_model_train_step(m, n, &opt, r.seed, r.step));
    CHECK(ct_model_adam_steps(m) == 1, "adam steps %ld", ct_model_adam_steps(m));
    for (int i = 0; i < np; i++) {
        const ct_param_info *pi = ct_model_param(m, i);
        double *pd = malloc(pi->n * 8), *gd = malloc(pi->n * 8), *md = calloc(pi->n, 8),
               *vd = calloc(pi->n, 8);
        float *got = malloc(pi->n * 4), *want = malloc(pi->n * 4);
        ct_to_double(pf[i], pd, pi->n);
        ct_to_double(gf[i], gd, pi->n);
        ct_ref_adam(pi->n, 2e-3, 0.8, 0.99, 1e-6, 1, pd, gd, md, vd);
        ct_to_float(pd, want, pi->n);
        CHECK_OK(ct_model_get_param(m, i, got));
        double e = ct_compare(got, want, pi->n, 1e-6, 1e-5);
        if (e > 1.0 && getenv("CT_DEBUG"))
            for (size_t j = 0; j < pi->n && j < 8; j++)
                fprintf(stderr, "  %s[%zu]: p0 %.8g g %.8g got %.8g want %.8g\n", pi->name, j,
                        (double)pf[i][j], (double)gf[i][j], (double)got[j], (double)want[j]);
        CHECK(e <= 1.0, "%s train %d: %s after one Adam step: %.3g x tol", spec, train, pi->name, e);
        free(pd), free(gd), free(md), free(vd), free(got), free(want);
    }
    /* Adam state round trip */
    size_t total = ct_model_param_count(m);
    float *mo = malloc(total * 4), *ve = malloc(total * 4), *mo2 = malloc(total * 4);
    long t = 0;
    CHECK_OK(ct_model_get_adam_state(m, mo, ve, &t));
    CHECK(t == 1, "t %ld", t);
    for (size_t j = 0; j < total; j++) mo[j] *= 0.5f;
    CHECK_OK(ct_model_set_adam_state(m, mo, ve, 5));
    CHECK_OK(ct_model_get_adam_state(m, mo2, NULL, &t));
    CHECK(t == 5 && !memcmp(mo, mo2, total * 4), "adam state round trip");
    free(mo), free(ve), free(mo2);
    /* predict and eval: probabilities of the current weights, in eval mode */
    r.train = 0;
    for (int i = 0; i < np; i++) {
        const ct_param_info *pi = ct_model_param(m, i);
        CHECK_OK(ct_model_get_param(m, i, pf[i]));
        ct_to_double(pf[i], r.p[i], pi->n);
    }
    int k = r.classes;
    double *lg = malloc((size_t)n * k * 8), *pr = malloc((size_t)n * k * 8);
    float *probs = malloc((size_t)n * k * 4), *pw = malloc((size_t)n * k * 4);
    double le = ref_forward(&r, lg);
    if (k == 1)
        for (int i = 0; i < n; i++) pr[i] = 1 / (1 + exp(-lg[i]));
    else
        ct_ref_act_fwd(CT_ACT_SOFTMAX, 0, n, k, lg, pr);
    ct_to_float(pr, pw, (size_t)n * k);
    CHECK_OK(ct_model_predict(m, n, probs));
    CHECK(ct_compare(probs, pw, (size_t)n * k, 1e-6, 1e-4) <= 1.0, "%s: predict", spec);
    double *cor = malloc(n * 8);
    ct_ref_loss(n, k, lg, lab, NULL, cor, NULL);
    double acc_ref = 0;
    for (int i = 0; i < n; i++) acc_ref += cor[i] / n;
    CHECK_OK(ct_model_metrics(m, 1, NULL, NULL, NULL)); /* drop the train step's sums */
    CHECK_OK(ct_model_eval_step(m, n));
    CHECK_OK(ct_model_eval_step(m, n));
    CHECK_OK(ct_model_metrics(m, 0, &loss_dev, &acc, &cnt));
    CHECK(fabs(loss_dev - le) <= 1e-5 + 1e-5 * le && fabs(acc - acc_ref) < 1e-9 && cnt == 2 * n,
          "%s train %d: eval loss %.8g vs %.8g, acc %g vs %g, count %ld", spec, train, loss_dev, le, acc, acc_ref,
          cnt);
    CHECK_OK(ct_model_metrics(m, 1, NULL, NULL, NULL));
    CHECK_OK(ct_model_metrics(m, 0, &loss_dev, &acc, &cnt));
    CHECK(cnt == 0 && loss_dev == 0, "metrics reset");
    CHECK(ct_model_eval_step(m, n + 3) == CT_ERR_ARG, "batch above max_batch must fail");
    free(lg), free(pr), free(probs), free(pw), free(cor);
    for (int i = 0; i < np; i++) free(pf[i]), free(gf[i]), free(r.p[i]);
    free(pf), free(gf), free(r.p), free(r.L), free(xf), free(lf), free(lab), free(xd);
    ct_model_free(m);
}

/* The max pool fused into the conv before it (CT_FUSE_TAKES_POOL2) gives the same loss and
 * gradients, bit for bit, as the two layers one after the other (CLTRAIN_FUSE_POOL=0), with
 * each conv forward family forced: the fused Winograd (F(2x2) and F(4x4)) and the implicit
 * kernels pool in registers (the implicit one reading in place with its last block shifted
 * by an even and by an odd count: 18 and 17 output columns), im2col and direct pool after. Both a relu
 * and a linear conv take their pool; the one after a batchnorm does not. */
static void fuse_pool_same(void) {
    static const char *spec = "conv8:3:relu,pool2,conv6:3,pool2,flatten,dense3";
    static const char *vars[] = {"winograd-fused:4x16", "winograd-fused:8x8",
                                 "winograd-fused:f4-8x16", "winograd-fused:f4-4x8", "implicit:4x16",
                                 "implicit:4x8", "im2col:blk4x16", "direct"};
    static const int widths[] = {20, 19};
    const int n = 3, c = 2, h = 13;
    for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
        int w = widths[wi];
        size_t nx = (size_t)n * c * h * w;
        float *x = malloc(nx * 4);
        int lab[3] = {0, 2, 1};
        ct_fill_random(x, nx, 21, -1, 1);
        for (size_t v = 0; v < sizeof vars / sizeof vars[0]; v++) {
            float *g[2][8] = {{0}};
            size_t sz[8] = {0};
            double loss[2] = {0, 0};
            int np = 0;
            setenv("CLTRAIN_CONV", vars[v], 1);
            for (int f = 0; f < 2; f++) {
                setenv("CLTRAIN_FUSE_POOL", f ? "0" : "1", 1);
                ct_model *m = NULL;
                CHECK_OK(ct_model_create(rt, spec, c, h, w, 3, n, 7, &m));
                if (!m) continue;
                const ct_layer *l0 = ct_model_layer(m, 0), *l2 = ct_model_layer(m, 2);
                CHECK(l0 && l2 && (l0->pool_into != NULL) == !f && (l2->pool_into != NULL) == !f,
                      "fusion %s with CLTRAIN_FUSE_POOL=%d", f ? "off" : "on", !f);
                CHECK_OK(ct_upload(rt, ct_model_input(m), 0, nx * 4, x));
                CHECK_OK(ct_upload(rt, ct_model_labels(m), 0, sizeof lab, lab));
                CHECK_OK(ct_model_compute_grads(m, n, 0, 1, 1));
                double acc;
                long cnt;
                CHECK_OK(ct_model_metrics(m, 1, &loss[f], &acc, &cnt));
                np = ct_model_n_params(m);
                for (int i = 0; i < np && i < 8; i++) {
                    sz[i] = ct_model_param(m, i)->n * 4;
                    g[f][i] = malloc(sz[i]);
                    CHECK_OK(ct_model_get_grad(m, i, g[f][i]));
                }
                ct_model_free(m);
            }
            int same = loss[0] == loss[1];
            for (int i = 0; i < np && i < 8; i++) {
                if (g[0][i] && g[1][i])
                    same &= !memcmp(g[0][i], g[1][i], sz[i]);
                free(g[0][i]), free(g[1][i]);
            }
            CHECK(same, "fused pool vs separate, %s, width %d: loss %.9g vs %.9g or a gradient "
                  "differs", vars[v], w, loss[0], loss[1]);
        }
        free(x);
    }
    unsetenv("CLTRAIN_CONV");
    unsetenv("CLTRAIN_FUSE_POOL");
    /* a batchnorm between them: nothing to fuse */
    ct_model *m = NULL;
    CHECK_OK(ct_model_create(rt, "conv4:3,batchnorm:relu,pool2,flatten,dense2", 1, 8, 8, 2, 2, 1, &m));
    if (m) CHECK(!ct_model_layer(m, 0)->pool_into && !ct_model_layer(m, 1)->pool_into &&
                     !ct_model_layer(m, 2)->fwd_by_prev,
                 "no pool fusion across a batchnorm");
    ct_model_free(m);
}

int main(void) {
    rt = ct_test_runtime(0);
    spec_tests();
    build_tests();
    /* input-gradient-free first layer, fused relu+pool, a conv with stride 2 / same padding
     * and a sigmoid, dense with relu, dropout with its fixed (seed, step) mask, softmax */
    model_fd("conv4:3:relu,pool2,conv3:3:s2:same:sigmoid,flatten,dense6:relu,dropout0.3,dense3", 2,
             10, 9, 3, 4, 1);
    model_fd("conv4:3:relu,pool2,conv3:3:s2:same:sigmoid,flatten,dense6:relu,dropout0.3,dense3", 2,
             10, 9, 3, 4, 0);
    /* binary: sigmoid + BCE; pool with stride 1, standalone activations, dense first layer */
    model_fd("conv3:2:relu,pool2:s1,relu,conv2:3,sigmoid,flatten,dense5:softmax,dense1", 1, 7, 8, 2,
             5, 1);
    model_fd("flatten,dense7:relu,dense4:sigmoid,dense2", 2, 3, 3, 2, 3, 1);
    /* tanh and leakyrelu fused into conv (separate launch) and dense (bias kernel) and as
     * layers, 'same' with stride 2 on even and odd sizes, average pooling, gap into dense */
    model_fd("conv4:3:s2:same:tanh,avgpool2:s1,leakyrelu0.1,conv3:3:leakyrelu,gap,dense5:tanh,"
             "dense6:leakyrelu0.2,dense3",
             2, 11, 10, 3, 4, 1);
    model_fd("conv3:2:s2:same:leakyrelu,avgpool2,tanh,flatten,dense1", 1, 9, 8, 2, 3, 0);
    /* leakyrelu and tanh before a max-pool: no fused relu' there, their own backward runs */
    model_fd("conv4:3:leakyrelu0.2,pool2,conv3:2:tanh,pool2:s1,leakyrelu,flatten,dense2", 1, 10, 9,
             2, 3, 1);
    /* linear convs with their pools fused (odd and even conv outputs: 8x7, then 3x2) */
    model_fd("conv4:3,pool2,conv3:2,pool2,flatten,dense2", 2, 10, 9, 2, 3, 1);
    fuse_pool_same();
    ct_runtime_free(rt);
    return ct_test_done("test_model");
}
