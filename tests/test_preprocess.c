/* Preprocessing (src/data/standardize.c, featurewise.c) and its model-file keys: against
 * Keras's own ImageDataGenerator.fit/standardize (tests/golden/standardize_keras.txt, made
 * by tools/gen_standardize_golden.py), the checks on options and on damaged files. No
 * OpenCL device needed. */
#include <stdint.h>
#include <sys/stat.h>

#include "ctest.h"
#include "data/data.h"
#include "io/safetensors.h"
#include "model/modelio.h"
#include "tmpdir.h"

static char tmp[512];

static int near(double got, double want, double tol) {
    return fabs(got - want) <= tol * (1 + fabs(want)); /* NaN fails */
}

/* One golden case: the inputs as PNGs in a class folder, our fit over them, our
 * preprocessing of each image, against Keras. */
static void golden_case(FILE *f, int k) {
    double rescale;
    int sc, ss, fc, fs, n, h, w, c, keras_fit;
    if (fscanf(f, " case %lf %d %d %d %d %d %d %d %d %d", &rescale, &sc, &ss, &fc, &fs, &n, &h, &w,
               &c, &keras_fit) != 10 ||
        n < 1 || n > 16 || h * w * c > 256) {
        CHECK(0, "golden case %d: bad header", k);
        return;
    }
    uint8_t img[16][256];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < h * w * c; j++) {
            int v = -1;
            if (fscanf(f, "%d", &v) != 1) v = -1;
            img[i][j] = (uint8_t)v;
        }
    float want_mean[3] = {NAN, NAN, NAN}, want_std[3] = {NAN, NAN, NAN};
    for (int s = 0; s < 2; s++) {
        float *dst = s ? want_std : want_mean;
        char tok[64];
        if (fscanf(f, " %63s", tok) != 1) return;
        if (strcmp(tok, "-")) {
            dst[0] = strtof(tok, NULL);
            for (int ch = 1; ch < c; ch++)
                if (fscanf(f, "%f", &dst[ch]) != 1) dst[ch] = NAN;
        }
    }
    char dir[600], cls[640], file[700];
    snprintf(dir, sizeof dir, "%s/case%d", tmp, k);
    snprintf(cls, sizeof cls, "%s/a", dir);
    mkdir(dir, 0755);
    mkdir(cls, 0755);
    for (int i = 0; i < n; i++) {
        snprintf(file, sizeof file, "%s/img%02d.png", cls, i);
        CHECK_OK(ct_png_write(file, img[i], h, w, c));
    }
    ct_preprocess p;
    ct_preprocess_default(&p);
    p.rescale = (float)rescale;
    p.samplewise_center = sc;
    p.samplewise_std_normalization = ss;
    p.featurewise_center = fc;
    p.featurewise_std_normalization = fs;
    const char *dirs[1] = {dir};
    ct_dataset ds;
    CHECK_OK(ct_dataset_scan(dirs, 1, &ds));
    ct_loader_opts o = {
        .batch = 3, .h = h, .w = w, .c = c, .workers = 2, .cache_mb = 1, .quiet = 1};
    ct_preprocess_default(&o.pre);
    CHECK_OK(ct_preprocess_fit(&ds, &o, &p));
    ct_dataset_clear(&ds);
    CHECK(p.n_stats == (fc || fs ? c : 0), "case %d: %d statistics", k, p.n_stats);
    for (int ch = 0; ch < p.n_stats; ch++) {
        if (fc)
            CHECK(near(p.mean[ch], want_mean[ch], 1e-5), "case %d: mean[%d] %.9g, Keras %.9g", k,
                  ch, p.mean[ch], want_mean[ch]);
        if (fs)
            CHECK(near(p.std[ch], want_std[ch], 1e-5), "case %d: std[%d] %.9g, Keras %.9g", k, ch,
                  p.std[ch], want_std[ch]);
    }
    float out[256];
    double maxd = 0;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < 256; j++)
            out[j] = NAN; /* every element must be written */
        ct_preprocess_image(&p, img[i], h, w, c, NULL, out);
        for (int j = 0; j < h * w * c; j++) {
            float want = NAN;
            if (fscanf(f, "%f", &want) != 1) want = NAN;
            double e = fabs(out[j] - want) / (1 + fabs(want));
            maxd = isnan(e) ? INFINITY : e > maxd ? e : maxd;
        }
    }
    CHECK(maxd < 1e-5,
          "case %d (rescale %g, samplewise %d %d, featurewise %d %d%s): max rel diff %g", k,
          rescale, sc, ss, fc, fs, keras_fit ? ", Keras's fit" : "", maxd);
}

static void test_golden(void) {
    const char *src = getenv("CLTRAIN_SRC_DIR");
    char p[1024];
    snprintf(p, sizeof p, "%s/tests/golden/standardize_keras.txt", src ? src : ".");
    FILE *f = fopen(p, "r");
    CHECK(f != NULL, "cannot open %s", p);
    if (!f) return;
    int nc = 0;
    CHECK(fscanf(f, "%d", &nc) == 1 && nc >= 8, "golden: %d cases", nc);
    for (int k = 0; k < nc; k++)
        golden_case(f, k);
    fclose(f);
}

/* What ct_standardize does with a flag alone, on numbers worked out here (also the
 * std-without-center combination Keras never runs: a model file may say so). */
static void test_literal(void) {
    float x[4] = {1, 2, 3, 6};
    ct_preprocess p;
    ct_preprocess_default(&p);
    p.featurewise_std_normalization = 1;
    p.n_stats = 1;
    p.std[0] = 2;
    ct_standardize(&p, 1, 4, x);
    CHECK(x[0] == 1 / (2 + 1e-6f) && x[3] == 6 / (2 + 1e-6f), "std alone divides, no centering");
    float y[4] = {1, 2, 3, 6};
    ct_preprocess_default(&p);
    p.samplewise_center = 1;
    ct_standardize(&p, 1, 4, y);
    CHECK(y[0] == -2 && y[3] == 3, "samplewise center subtracts the mean 3");
    float z[4] = {1, 2, 3, 6};
    ct_preprocess_default(&p);
    p.featurewise_center = 1; /* no statistics yet: the featurewise steps wait for them */
    ct_standardize(&p, 1, 4, z);
    CHECK(z[0] == 1 && z[3] == 6, "no statistics: unchanged");
}

static void test_checks(void) {
    char why[160];
    ct_preprocess p;
    float bad_rescale[] = {0, -1, NAN, INFINITY};
    for (size_t i = 0; i < sizeof bad_rescale / sizeof *bad_rescale; i++) {
        ct_preprocess_default(&p);
        p.rescale = bad_rescale[i];
        const char *k = ct_preprocess_invalid(&p, 3, 0, why, sizeof why);
        CHECK(k && !strcmp(k, "rescale"), "rescale %g refused", (double)bad_rescale[i]);
    }
    ct_preprocess_default(&p);
    CHECK(!ct_preprocess_invalid(&p, 3, 1, why, sizeof why), "the default is valid");
    p.featurewise_center = 1;
    CHECK(!ct_preprocess_invalid(&p, 3, 0, why, sizeof why), "stats may be computed later");
    const char *k = ct_preprocess_invalid(&p, 3, 1, why, sizeof why);
    CHECK(k && !strcmp(k, "featurewise_mean") && strstr(why, "missing"), "a file needs them: %s",
          k ? k : "(accepted)");
    p.n_stats = 1;
    CHECK(ct_preprocess_invalid(&p, 3, 0, why, sizeof why) != NULL, "1 statistic for 3 channels");
    p.n_stats = 3;
    p.mean[1] = NAN;
    CHECK(ct_preprocess_invalid(&p, 3, 1, why, sizeof why) != NULL, "NaN mean refused");
    p.mean[1] = 0;
    p.featurewise_std_normalization = 1;
    p.std[2] = -1;
    k = ct_preprocess_invalid(&p, 3, 1, why, sizeof why);
    CHECK(k && !strcmp(k, "featurewise_std"), "negative std refused");

    float r = 0;
    CHECK_OK(ct_rescale_parse("1/255", &r));
    CHECK(r == 1.0f / 255.0f, "1/255 is the float 1/255 (%.9g)", (double)r);
    CHECK_OK(ct_rescale_parse("0.5", &r));
    CHECK(r == 0.5f, "0.5");
    const char *bad[] = {"0", "-1", "nan", "inf", "1/0", "0/0", "abc", "1/", "", "1/255x", "1e-60"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        r = 7;
        ct_status s = ct_rescale_parse(bad[i], &r);
        CHECK(s == CT_ERR_ARG && r == 7 && strstr(ct_last_error(), "--rescale"),
              "--rescale '%s' refused: %s", bad[i], ct_last_error());
    }
    char d[256];
    ct_preprocess_default(&p);
    ct_preprocess_describe(&p, d, sizeof d);
    CHECK(!strcmp(d, "rescale 1/255"), "describe: %s", d);
    p.featurewise_center = 1;
    p.n_stats = 1;
    p.mean[0] = 0.25f;
    ct_preprocess_describe(&p, d, sizeof d);
    CHECK(strstr(d, "featurewise center (mean 0.25)") != NULL, "describe: %s", d);
    char small[12];
    memset(small, 'x', sizeof small);
    p.samplewise_center = p.samplewise_std_normalization = 1;
    ct_preprocess_describe(&p, small, sizeof small); /* truncated, terminated, no overflow */
    CHECK(memchr(small, 0, sizeof small) && !strncmp(small, "rescale 1/2", 11), "small: %.12s",
          small);
}

/* A model file's metadata with the preprocessing keys given (key, value pairs). */
static ct_status meta_with(const char *path, const char *const *kv, int n, ct_model_meta *m) {
    ct_st_writer *w;
    CT_TRY(ct_st_writer_create(&w));
    const char *base[] = {"format",  "cltrain-model",  "format_version", CT_MODEL_FORMAT_VERSION,
                          "spec",    "flatten,dense1", "input",          "4x4x3",
                          "classes", "[\"a\",\"b\"]"};
    ct_status s = CT_OK;
    for (int i = 0; s == CT_OK && i < 10; i += 2)
        s = ct_st_writer_meta(w, base[i], base[i + 1]);
    for (int i = 0; s == CT_OK && i < n; i += 2)
        s = ct_st_writer_meta(w, kv[i], kv[i + 1]);
    int shape[1] = {1};
    float one = 1;
    if (s == CT_OK) s = ct_st_writer_add_f32(w, "x", 1, shape, &one);
    if (s == CT_OK) s = ct_st_writer_write(w, path);
    ct_st_writer_free(w);
    CT_TRY(s);
    memset(m, 0, sizeof *m);
    s = ct_model_file_meta(path, m);
    ct_model_meta_free(m);
    return s;
}

static void test_model_keys(void) {
    char path[600];
    snprintf(path, sizeof path, "%s/m.safetensors", tmp);
    ct_model_meta m;
    CHECK_OK(meta_with(path, NULL, 0, &m));
    CHECK(m.pre.rescale == 1.0f / 255.0f && !m.pre.samplewise_center &&
              !ct_preprocess_featurewise(&m.pre) && m.pre.n_stats == 0,
          "no keys: 1/255 and nothing else");
    const char *good[] = {"rescale",
                          "0.003921568859368563",
                          "samplewise_center",
                          "true",
                          "samplewise_std_normalization",
                          "false",
                          "featurewise_center",
                          "true",
                          "featurewise_std_normalization",
                          "true",
                          "featurewise_mean",
                          "[0.5, 0.25, 0.125]",
                          "featurewise_std",
                          "[0.2,0.3,0.4]"};
    CHECK_OK(meta_with(path, good, 14, &m));
    CHECK(m.pre.rescale == 1.0f / 255.0f && m.pre.samplewise_center &&
              !m.pre.samplewise_std_normalization && m.pre.featurewise_center &&
              m.pre.featurewise_std_normalization && m.pre.n_stats == 3 &&
              m.pre.mean[2] == 0.125f && m.pre.std[1] == 0.3f,
          "all keys read");
    struct {
        const char *key, *val, *key2, *val2, *named;
    } bad[] = {
        {"rescale", "0", NULL, NULL, "'rescale'"},
        {"rescale", "-0.5", NULL, NULL, "'rescale'"},
        {"rescale", "nan", NULL, NULL, "'rescale'"},
        {"rescale", "1/255", NULL, NULL, "'rescale'"},
        {"samplewise_center", "yes", NULL, NULL, "'samplewise_center'"},
        {"featurewise_center", "true", NULL, NULL, "'featurewise_mean'"},
        {"featurewise_std_normalization", "true", NULL, NULL, "'featurewise_std'"},
        {"featurewise_mean", "[1, 2]", "featurewise_std", "[1, 2, 3]", "'featurewise_mean'"},
        {"featurewise_mean", "[1, 2, 3]", "featurewise_std", "[1, 1e999, 3]", "'featurewise_std'"},
        {"featurewise_mean", "[1, \"x\", 3]", "featurewise_std", "[1, 2, 3]", "'featurewise_mean'"},
        {"featurewise_mean", "{}", "featurewise_std", "[1, 2, 3]", "'featurewise_mean'"},
        {"featurewise_mean", "[1, 2, 3]", NULL, NULL, "'featurewise_std'"},
        {"featurewise_std_normalization", "true", "featurewise_std", "[1, -2, 3]",
         "'featurewise_std'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *kv[6] = {bad[i].key, bad[i].val, bad[i].key2, bad[i].val2};
        int n = bad[i].key2 ? 4 : 2;
        if (!strcmp(bad[i].key, "featurewise_std_normalization") && bad[i].key2) {
            kv[4] = "featurewise_mean";
            kv[5] = "[0, 0, 0]";
            n = 6;
        }
        ct_status s = meta_with(path, kv, n, &m);
        const char *e = ct_last_error();
        CHECK(s == CT_ERR_FORMAT && strstr(e, path) && strstr(e, bad[i].named),
              "%s=%s refused naming the file and %s: %s", bad[i].key, bad[i].val, bad[i].named, e);
    }
}

/* The public loader: a config zeroed by hand (made before .pre existed) keeps 1/255; a bad
 * rescale is refused. Uses the first golden case's PNGs (4x5x3). */
static void test_loader_config(void) {
    char dir[600];
    snprintf(dir, sizeof dir, "%s/case0", tmp);
    const char *dirs[1] = {dir};
    ct_dataset *ds = NULL;
    CHECK_OK(ct_dataset_open(dirs, 1, &ds));
    if (!ds) return;
    ct_loader_config c;
    memset(&c, 0, sizeof c);
    c.batch = 2, c.h = 4, c.w = 5, c.c = 3, c.workers = 1, c.quiet = 1;
    ct_loader *l = NULL;
    CHECK_OK(ct_loader_open(ds, &c, &l));
    ct_batch b = {0};
    if (l && ct_loader_start_epoch(l, 0) == CT_OK && ct_loader_next(l, &b) == CT_OK) {
        float lo = 1, hi = 0;
        for (int i = 0; i < b.count * 60; i++) {
            lo = b.x[i] < lo ? b.x[i] : lo;
            hi = b.x[i] > hi ? b.x[i] : hi;
        }
        CHECK(b.count == 2 && lo >= 0 && hi <= 1 && hi > 0.5f, "zeroed .pre: 1/255 (%g..%g)", lo,
              hi);
        ct_loader_release(l, &b);
    }
    ct_loader_free(l);
    c.pre.rescale = -1;
    l = NULL;
    CHECK(ct_loader_open(ds, &c, &l) == CT_ERR_ARG && !l && strstr(ct_last_error(), "rescale"),
          "rescale -1 refused: %s", ct_last_error());
    ct_dataset_free(ds);
}

int main(void) {
    tmpdir_make(tmp, sizeof tmp);
    test_golden();
    test_loader_config();
    test_literal();
    test_checks();
    test_model_keys();
    tmpdir_remove(tmp);
    return ct_test_done("test_preprocess");
}
