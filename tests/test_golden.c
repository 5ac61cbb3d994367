/* Golden run: the seed's Model 2 at 3x48x48 takes 3 Adam steps from fixed weights on a
 * fixed batch; per-step losses and final weights must match the PyTorch recording of
 * tools/make_golden.py (tests/golden/model2_adam3.json + .f32) within 1e-4 relative. */
#include <cjson/cJSON.h>

#include "ctest.h"
#include "model/model.h"

#define REL_TOL 1e-4
#define ABS_FLOOR 1e-6 /* for weights that are (nearly) zero */

typedef struct {
    uint64_t s;
} splitmix;

/* Same stream as make_golden.py: u = (z >> 40) / 2^24. */
static double sm_u(splitmix *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 40) * (1.0 / 16777216.0);
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) b[n] = 0;
    if (len) *len = (size_t)n;
    return b;
}

int main(void) {
    const char *src = getenv("CLTRAIN_SRC_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/golden/model2_adam3.json", src ? src : ".");
    char *js = read_all(path, NULL);
    if (!js) {
        fprintf(stderr, "FAIL: cannot read %s (set CLTRAIN_SRC_DIR to the source tree)\n", path);
        return 1;
    }
    cJSON *root = cJSON_Parse(js);
    free(js);
    if (!root) {
        fprintf(stderr, "FAIL: %s is not JSON\n", path);
        return 1;
    }
    ct_runtime *rt = ct_test_runtime(0);
    const char *spec = cJSON_GetObjectItem(root, "spec")->valuestring;
    cJSON *in = cJSON_GetObjectItem(root, "input");
    int c = cJSON_GetArrayItem(in, 0)->valueint, h = cJSON_GetArrayItem(in, 1)->valueint,
        w = cJSON_GetArrayItem(in, 2)->valueint;
    int n = cJSON_GetObjectItem(root, "batch")->valueint;
    cJSON *gen = cJSON_GetObjectItem(root, "generator");
    splitmix rng = {(uint64_t)cJSON_GetObjectItem(gen, "seed")->valuedouble};
    cJSON *adam = cJSON_GetObjectItem(root, "adam");
    ct_adam opt = {.lr = cJSON_GetObjectItem(adam, "lr")->valuedouble,
                   .beta1 = cJSON_GetObjectItem(adam, "beta1")->valuedouble,
                   .beta2 = cJSON_GetObjectItem(adam, "beta2")->valuedouble,
                   .eps = cJSON_GetObjectItem(adam, "eps")->valuedouble};
    ct_model *m = NULL;
    CHECK_OK(ct_model_create(rt, spec, c, h, w, 2, n, 1, &m));
    if (!m) return ct_test_done("test_golden");
    CHECK(!strcmp(ct_model_spec(m), spec), "canonical spec %s", ct_model_spec(m));

    /* parameters: names, shapes and the generated initial values */
    cJSON *params = cJSON_GetObjectItem(root, "params");
    int np = ct_model_n_params(m);
    CHECK(cJSON_GetArraySize(params) == np, "golden has %d tensors, model %d",
          cJSON_GetArraySize(params), np);
    double init_sum = 0;
    size_t total = 0;
    for (int i = 0; i < np && i < cJSON_GetArraySize(params); i++) {
        const ct_param_info *pi = ct_model_param(m, i);
        cJSON *gp = cJSON_GetArrayItem(params, i);
        cJSON *shape = cJSON_GetObjectItem(gp, "shape");
        int same = !strcmp(pi->name, cJSON_GetObjectItem(gp, "name")->valuestring) &&
                   cJSON_GetArraySize(shape) == pi->ndim;
        for (int d = 0; same && d < pi->ndim; d++)
            same = cJSON_GetArrayItem(shape, d)->valueint == pi->shape[d];
        CHECK(same, "parameter %d: model has %s, golden %s", i, pi->name,
              cJSON_GetObjectItem(gp, "name")->valuestring);
        float *v = malloc(pi->n * sizeof *v);
        if (pi->ndim > 1) {
            double rf = pi->ndim == 4 ? (double)pi->shape[2] * pi->shape[3] : 1.0;
            double limit = sqrt(6.0 / (pi->shape[1] * rf + pi->shape[0] * rf));
            for (size_t j = 0; j < pi->n; j++) v[j] = (float)((2.0 * sm_u(&rng) - 1.0) * limit);
        } else {
            for (size_t j = 0; j < pi->n; j++) v[j] = (float)((2.0 * sm_u(&rng) - 1.0) * 0.05);
        }
        for (size_t j = 0; j < pi->n; j++) init_sum += v[j];
        CHECK_OK(ct_model_set_param(m, i, v));
        free(v);
        total += pi->n;
    }
    double want_sum = cJSON_GetObjectItem(root, "init_param_sum")->valuedouble;
    CHECK(fabs(init_sum - want_sum) < 1e-6, "initial weights regenerated wrong: sum %.10g want %.10g",
          init_sum, want_sum);
    size_t nx = (size_t)n * c * h * w;
    float *x = malloc(nx * sizeof *x);
    double xs = 0;
    for (size_t j = 0; j < nx; j++) xs += x[j] = (float)sm_u(&rng);
    double want_xs = cJSON_GetObjectItem(root, "input_sum")->valuedouble;
    CHECK(fabs(xs - want_xs) < 1e-6 * want_xs, "batch regenerated wrong: sum %.10g want %.10g", xs,
          want_xs);
    int *lab = malloc(n * sizeof *lab);
    cJSON *labels = cJSON_GetObjectItem(root, "labels");
    for (int i = 0; i < n; i++) lab[i] = cJSON_GetArrayItem(labels, i)->valueint;
    CHECK_OK(ct_upload(rt, ct_model_input(m), 0, nx * sizeof *x, x));
    CHECK_OK(ct_upload(rt, ct_model_labels(m), 0, n * sizeof *lab, lab));

    /* three steps; the loss of each step's forward */
    cJSON *losses = cJSON_GetObjectItem(root, "losses");
    int steps = cJSON_GetArraySize(losses);
    for (int t = 0; t < steps; t++) {
        CHECK_OK(ct_model_train_step(m, n, &opt, 99, t));
        double loss;
        CHECK_OK(ct_model_metrics(m, 1, &loss, NULL, NULL));
        double want = cJSON_GetArrayItem(losses, t)->valuedouble;
        CHECK(fabs(loss - want) <= REL_TOL * fabs(want), "step %d loss %.8f, PyTorch %.8f", t + 1,
              loss, want);
        printf("step %d: loss %.8f (PyTorch %.8f, rel diff %.2g)\n", t + 1, loss, want,
               fabs(loss - want) / want);
    }
    CHECK_OK(ct_model_eval_step(m, n));
    double loss_after;
    CHECK_OK(ct_model_metrics(m, 1, &loss_after, NULL, NULL));
    double want_after = cJSON_GetObjectItem(root, "loss_after")->valuedouble;
    CHECK(fabs(loss_after - want_after) <= REL_TOL * want_after, "loss after: %.8f, PyTorch %.8f",
          loss_after, want_after);

    /* final weights */
    snprintf(path, sizeof path, "%s/tests/golden/%s", src ? src : ".",
             cJSON_GetObjectItem(root, "final_weights")->valuestring);
    size_t len = 0;
    float *want_w = (float *)read_all(path, &len);
    CHECK(want_w && len == total * sizeof(float), "%s: %zu bytes, expected %zu", path, len,
          total * sizeof(float));
    if (want_w && len == total * sizeof(float)) {
        size_t off = 0;
        for (int i = 0; i < np; i++) {
            const ct_param_info *pi = ct_model_param(m, i);
            float *got = malloc(pi->n * sizeof *got);
            CHECK_OK(ct_model_get_param(m, i, got));
            double worst = 0, worst_rel = 0;
            size_t wi = 0;
            for (size_t j = 0; j < pi->n; j++) {
                double a = got[j], b = want_w[off + j];
                double e = isnan(a) ? INFINITY : fabs(a - b) / (ABS_FLOOR + REL_TOL * fabs(b));
                if (!(e <= worst)) worst = e, wi = j;
                if (fabs(b) > 1e-3) worst_rel = fmax(worst_rel, fabs(a - b) / fabs(b));
            }
            if (getenv("CT_DEBUG"))
                for (size_t j = 0; j < pi->n; j++) {
                    double a = got[j], b = want_w[off + j];
                    double e = fabs(a - b) / (ABS_FLOOR + REL_TOL * fabs(b));
                    if (e > 0.3) fprintf(stderr, "  %s[%zu] got %.9g want %.9g (%.2f x tol)\n", pi->name, j, a, b, e);
                }
            CHECK(worst <= 1.0, "%s: %.3g x tolerance at %zu (cltrain %.9g, PyTorch %.9g)",
                  pi->name, worst, wi, (double)got[wi], (double)want_w[off + wi]);
            printf("%-18s max err %.3f x tol, max rel diff %.2g\n", pi->name, worst, worst_rel);
            off += pi->n;
            free(got);
        }
    }
    free(want_w);
    free(x);
    free(lab);
    ct_model_free(m);
    cJSON_Delete(root);
    ct_runtime_free(rt);
    return ct_test_done("test_golden");
}
