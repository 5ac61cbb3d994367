/* Class weights and the classification report against tests/golden/class_report.json
 * (tools/gen_report_golden.py): Keras 3's class-weighted losses and gradients through the
 * device loss kernels (outputs poisoned first), scikit-learn's balanced weights through
 * ct_class_weights on a scanned folder, and scikit-learn's classification_report text,
 * output_dict numbers and confusion_matrix through ct_class_report; the --class-weight
 * errors. The report maths needs no device; the loss part skips (77) without one. */
#include <cjson/cJSON.h>
#include <math.h>
#include <sys/stat.h>

#include "ctest.h"
#include "golden_json.h"
#include "check/selftest.h"
#include "io/fileutil.h"
#include "layers/layers.h"
#include "runtime/tensor.h"
#include "tmpdir.h"

static int ints(const cJSON *arr, long *out, int max) {
    int n = cJSON_GetArraySize(arr);
    for (int i = 0; i < n && i < max; i++) out[i] = (long)cJSON_GetArrayItem(arr, i)->valuedouble;
    return n;
}

static int floats(const cJSON *arr, float *out, int max) {
    int n = cJSON_GetArraySize(arr);
    for (int i = 0; i < n && i < max; i++) out[i] = (float)cJSON_GetArrayItem(arr, i)->valuedouble;
    return n;
}

static double num(const cJSON *o, const char *k) {
    const cJSON *x = cJSON_GetObjectItem(o, k);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

static int near(double got, double want, double atol, double rtol) {
    return fabs(got - want) <= atol + rtol * fabs(want);
}

#define MAXN 64

/* ---- reports (no device) ---- */
static void one_report(const cJSON *c, int idx) {
    int k = (int)num(c, "classes");
    CHECK(k >= 2 && k <= 16, "report %d: classes %d", idx, k);
    if (k < 2 || k > 16) return;
    long yt[MAXN], yp[MAXN];
    int n = ints(cJSON_GetObjectItem(c, "y_true"), yt, MAXN);
    CHECK(ints(cJSON_GetObjectItem(c, "y_pred"), yp, MAXN) == n && n <= MAXN, "report %d: n", idx);
    const char *names[16];
    for (int i = 0; i < k; i++)
        names[i] = cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(c, "names"), i));
    long conf[16 * 16] = {0};
    for (int i = 0; i < n; i++) conf[yt[i] * k + yp[i]]++;
    int top_k = 0;
    long top_c = 0;
    const cJSON *t5 = cJSON_GetObjectItem(c, "top5");
    if (t5) { /* the true class among the 5 best, as the evaluation loop counts it */
        top_k = 5;
        for (int i = 0; i < n; i++)
            for (int r = 0; r < 5; r++)
                top_c += (long)cJSON_GetArrayItem(cJSON_GetArrayItem(t5, i), r)->valuedouble == yt[i];
    }
    ct_class_report *rep = NULL;
    CHECK_OK(ct_class_report_create(k, names, conf, top_k, top_c, &rep));
    if (!rep) return;
    /* confusion_matrix */
    const cJSON *cm = cJSON_GetObjectItem(c, "confusion");
    for (int t = 0; t < k; t++)
        for (int p = 0; p < k; p++)
            CHECK(rep->confusion[t * k + p] ==
                      (long)cJSON_GetArrayItem(cJSON_GetArrayItem(cm, t), p)->valuedouble,
                  "report %d: confusion[%d][%d]", idx, t, p);
    /* output_dict */
    const cJSON *d = cJSON_GetObjectItem(c, "dict");
    for (int i = 0; i < k; i++) {
        const cJSON *row = cJSON_GetObjectItem(d, names[i]);
        CHECK(near(rep->precision[i], num(row, "precision"), 1e-12, 1e-12) &&
                  near(rep->recall[i], num(row, "recall"), 1e-12, 1e-12) &&
                  near(rep->f1[i], num(row, "f1-score"), 1e-12, 1e-12) &&
                  rep->support[i] == (long)num(row, "support"),
              "report %d class %s: %g %g %g %ld, sklearn %g %g %g %g", idx, names[i],
              rep->precision[i], rep->recall[i], rep->f1[i], rep->support[i],
              num(row, "precision"), num(row, "recall"), num(row, "f1-score"), num(row, "support"));
    }
    const cJSON *ma = cJSON_GetObjectItem(d, "macro avg"), *wa = cJSON_GetObjectItem(d, "weighted avg");
    CHECK(near(rep->accuracy, num(d, "accuracy"), 1e-12, 1e-12), "report %d: accuracy", idx);
    CHECK(near(rep->macro_precision, num(ma, "precision"), 1e-12, 1e-12) &&
              near(rep->macro_recall, num(ma, "recall"), 1e-12, 1e-12) &&
              near(rep->macro_f1, num(ma, "f1-score"), 1e-12, 1e-12),
          "report %d: macro avg %g %g %g", idx, rep->macro_precision, rep->macro_recall, rep->macro_f1);
    CHECK(near(rep->weighted_precision, num(wa, "precision"), 1e-12, 1e-12) &&
              near(rep->weighted_recall, num(wa, "recall"), 1e-12, 1e-12) &&
              near(rep->weighted_f1, num(wa, "f1-score"), 1e-12, 1e-12),
          "report %d: weighted avg", idx);
    if (t5) CHECK(near(rep->top_k_accuracy, num(c, "top5_accuracy"), 1e-12, 0), "report %d: top-5", idx);
    /* the text: sklearn's string, then our footnote / matrix */
    char buf[8192] = "";
    FILE *f = tmpfile();
    CHECK(f != NULL, "tmpfile");
    if (f) {
        ct_class_report_print(rep, f);
        rewind(f);
        size_t got = fread(buf, 1, sizeof buf - 1, f);
        buf[got] = 0;
        fclose(f);
    }
    const char *want = cJSON_GetStringValue(cJSON_GetObjectItem(c, "text"));
    CHECK(want && !strncmp(buf, want, strlen(want)), "report %d text:\n%s\nsklearn:\n%s", idx, buf,
          want ? want : "");
    CHECK(strstr(buf, "Confusion matrix (rows: true class, columns: predicted)") != NULL,
          "report %d: matrix heading", idx);
    CHECK(!t5 == !strstr(buf, "Top-5 accuracy"), "report %d: top-5 line", idx);
    ct_class_report_free(rep);
}

/* ---- balanced weights and the --class-weight errors on a scanned folder ---- */
static void touch(const char *path) {
    FILE *f = fopen(path, "wb");
    if (f) fclose(f);
}

static void class_weights(const cJSON *bal) {
    char dir[512], p[1024];
    tmpdir_make(dir, sizeof dir);
    long counts[8];
    int k = ints(cJSON_GetObjectItem(bal, "counts"), counts, 8);
    const char *names[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    for (int c = 0; c < k; c++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[c]);
        mkdir(p, 0755);
        for (long i = 0; i < counts[c]; i++) {
            snprintf(p, sizeof p, "%s/%s/%ld.png", dir, names[c], i);
            touch(p); /* scanned, never decoded */
        }
    }
    const char *dirs[] = {dir};
    ct_dataset *ds = NULL;
    CHECK_OK(ct_dataset_open(dirs, 1, &ds));
    if (ds) {
        float w[8], want[8];
        floats(cJSON_GetObjectItem(bal, "weights"), want, 8);
        CHECK_OK(ct_class_weights("balanced", ds, w));
        for (int c = 0; c < k; c++)
            CHECK(near(w[c], want[c], 0, 1e-6), "balanced %s: %g, sklearn %g", names[c],
                  (double)w[c], (double)want[c]);
        CHECK_OK(ct_class_weights("b:3,d:0.5", ds, w));
        CHECK(w[0] == 1 && w[1] == 3 && w[2] == 1 && w[3] == 0.5f, "named weights");
        static const struct { const char *spec, *says; } bad[] = {
            {"zz:2", "'zz' is no class"}, {"a:0", "class 'a'"}, {"a:-1", "class 'a'"},
            {"a:inf", "class 'a'"}, {"a:nan", "class 'a'"}, {"a:2x", "class 'a'"},
            {"a", "not NAME:WEIGHT"}, {"a:", "not NAME:WEIGHT"}, {":2", "not NAME:WEIGHT"},
            {"a:1,,b:2", "empty item"}, {"a:1,", "empty item"}, {"a:1,a:2", "twice"},
            {"Balanced", "not NAME:WEIGHT"},
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            ct_status s = ct_class_weights(bad[i].spec, ds, w);
            CHECK(s == CT_ERR_ARG && strstr(ct_last_error(), "--class-weight") &&
                      strstr(ct_last_error(), bad[i].says),
                  "--class-weight %s: status %d, message '%s' (want '%s')", bad[i].spec, (int)s,
                  ct_last_error(), bad[i].says);
        }
        ct_dataset_free(ds);
    }
    tmpdir_remove(dir);
}

/* ---- Keras's weighted losses through the device kernels ---- */
static void losses(ct_runtime *rt, const cJSON *arr) {
    ct_layer_kernels K;
    CHECK_OK(ct_layer_kernels_init(rt, &K));
    const cJSON *c;
    int idx = 0;
    cJSON_ArrayForEach(c, arr) {
        int n = (int)num(c, "n"), k = (int)num(c, "classes"), outs = k == 2 ? 1 : k;
        float z[MAXN * 8], g[MAXN * 8], cw[8], got[MAXN * 8];
        long labl[MAXN];
        int lab[MAXN];
        CHECK(n > 0 && n <= MAXN && k <= 8, "loss %d: size", idx);
        if (!(n > 0 && n <= MAXN && k <= 8)) continue;
        floats(cJSON_GetObjectItem(c, "logits"), z, MAXN * 8);
        floats(cJSON_GetObjectItem(c, "grad"), g, MAXN * 8);
        floats(cJSON_GetObjectItem(c, "class_weight"), cw, 8);
        ints(cJSON_GetObjectItem(c, "labels"), labl, MAXN);
        for (int i = 0; i < n; i++) lab[i] = (int)labl[i];
        size_t nz = (size_t)n * outs;
        for (int weighted = 0; weighted <= 1; weighted++) {
            cl_mem bz = NULL, bl = NULL, bcw = NULL, bst = NULL, bsum = NULL, bdz = NULL;
            float zero[4] = {0}, sums[4];
            CHECK_OK(ct_buffer_create(rt, "z", nz * 4, CL_MEM_READ_WRITE, &bz));
            CHECK_OK(ct_buffer_create(rt, "labels", (size_t)n * 4, CL_MEM_READ_WRITE, &bl));
            CHECK_OK(ct_buffer_create(rt, "cw", (size_t)k * 4, CL_MEM_READ_WRITE, &bcw));
            CHECK_OK(ct_buffer_create(rt, "stats", (size_t)n * 8, CL_MEM_READ_WRITE, &bst));
            CHECK_OK(ct_buffer_create(rt, "sums", 16, CL_MEM_READ_WRITE, &bsum));
            CHECK_OK(ct_buffer_create(rt, "dz", nz * 4, CL_MEM_READ_WRITE, &bdz));
            CHECK_OK(ct_upload(rt, bz, 0, nz * 4, z));
            CHECK_OK(ct_upload(rt, bl, 0, (size_t)n * 4, lab));
            CHECK_OK(ct_upload(rt, bcw, 0, (size_t)k * 4, cw));
            CHECK_OK(ct_upload(rt, bsum, 0, 16, zero));
            CHECK_OK(ct_poison(rt, bst, (size_t)n * 8));
            CHECK_OK(ct_poison(rt, bdz, nz * 4));
            CHECK_OK(ct_loss_forward_w(&K, n, outs, bz, bl, weighted ? bcw : NULL, bst, bsum, bdz));
            CHECK_OK(ct_download(rt, bsum, 0, 16, sums));
            CHECK_OK(ct_download(rt, bdz, 0, nz * 4, got));
            double mean = ((double)sums[0] - (double)sums[1]) / n;
            double want = num(c, weighted ? "loss" : "unweighted_loss");
            CHECK(near(mean, want, 1e-6, 1e-5), "loss %d (%d classes, weighted %d): %.8g, Keras %.8g",
                  idx, k, weighted, mean, want);
            if (weighted) {
                for (size_t i = 0; i < nz; i++)
                    CHECK(near(got[i], g[i], 1e-6, 1e-4), "loss %d: dz[%zu] %.8g, Keras %.8g", idx,
                          i, (double)got[i], (double)g[i]);
                /* not PyTorch's weight= mean, which divides by the sum of the weights */
                CHECK(!near(mean, num(c, "torch_loss"), 1e-6, 1e-5), "loss %d: equals torch's", idx);
            }
            cl_mem all[] = {bz, bl, bcw, bst, bsum, bdz};
            for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
                if (all[i]) clReleaseMemObject(all[i]);
        }
        idx++;
    }
    ct_layer_kernels_free(&K);
}

int main(void) {
    cJSON *root = ct_test_golden_json("class_report.json");
    if (!root) return ct_test_done("test_class_report");
    const cJSON *c;
    int idx = 0, n_rep = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "reports")) {
        one_report(c, idx++);
        n_rep++;
    }
    CHECK(n_rep >= 3, "golden reports: %d", n_rep);
    class_weights(cJSON_GetObjectItem(root, "balanced"));
    ct_runtime *rt = ct_test_runtime(0);
    losses(rt, cJSON_GetObjectItem(root, "losses"));
    ct_runtime_free(rt);
    cJSON_Delete(root);
    return ct_test_done("test_class_report");
}
