/* Golden run: the seed's Model 2 at 3x48x48 takes 3 Adam steps from fixed weights on a
 * fixed batch; per-step losses and final weights must match the float64 PyTorch recording
 * of tools/make_golden.py (tests/golden/model2_adam3.json + _final.f64).
 *
 * Tolerances. Losses: 1e-4 relative. Final weights: each tensor's worst distance from the
 * float64 run, in units of the learning rate, must be within W_FACTOR times the distance
 * PyTorch's own float32 run lands from it (torch_float32_err_lr in the index, 0.07e-3 to
 * 1.15e-3 lr), never tighter than W_FLOOR_LR lr. Why not relative to the weight: Adam's
 * step is lr * m / (sqrt(v) + eps), about lr per step whatever the gradient's size, so a
 * float32 rounding difference in a gradient that nearly cancels over the batch moves the
 * weight by a fraction of lr, not of the weight; a small weight (-0.003) next to such a
 * gradient misses any relative bound while the run is as good as PyTorch's. A wrong kernel
 * (a sample or a tap dropped, a transposed tile) moves weights by 0.1 lr or more: hundreds of
 * times the bound. The factor covers another summation order than PyTorch's (Winograd
 * transforms, split reductions); cltrain's worst measured is printed beside the bound.
 *
 * The run uses the documented default variants (CLTRAIN_DETERMINISTIC=1, docs/OPS.md), so
 * it does not depend on what the machine's tuning picks.
 *
 * --f4: the same run with every conv forced to the F(4x4, 3x3) fused Winograd (forward
 * f4-8x16, backward-data f4-8x8; backward-weights keeps its default), which the tuning
 * stage picks where it is fastest. F(4x4) rounds about 8x worse than direct per conv
 * (tests/test_ops.c, winograd_error: 5.9e-6 against 7.2e-7 of max |y| forward, 4.4e-6
 * against 5.3e-7 backward-data): G's 1/6 and 1/24 are inexact and B^T and A^T carry 4, 5
 * and 8, so each of the 36 products sums terms several times the output's size. Its bound
 * is the factor above times that 8x: W_FACTOR_F4 = 32 (measured 23.5x, layers.0.weight at
 * 0.0016 lr); a wrong kernel still moves a weight 50x further than that. */
#include <cjson/cJSON.h>

#include "ctest.h"
#include "model/model.h"

#define REL_TOL 1e-4     /* losses */
#define W_FACTOR 4.0     /* weights: x PyTorch float32's own distance from float64 */
#define W_FLOOR_LR 1e-4  /* weights: the bound in lr is never below this */
#define W_FACTOR_F4 32.0 /* --f4: the convs in F(4x4) Winograd (above) */

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

int main(int argc, char **argv) {
    int f4 = argc > 1 && !strcmp(argv[1], "--f4");
    double factor = f4 ? W_FACTOR_F4 : W_FACTOR;
    /* the documented default variants, not what this machine's tuning (or a cache left by
     * another test) picks: the tuning stage may choose F(4x4), whose bound is --f4's */
    setenv("CLTRAIN_DETERMINISTIC", "1", 1);
    if (f4) setenv("CLTRAIN_CONV", "winograd-fused:f4-8x16,flip-winograd-fused:f4-8x8", 1);
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
        ct_status st = ct_model_train_step(m, n, &opt, 99, t);
        if (f4 && t == 0 && st == CT_ERR_ARG && strstr(ct_last_error(), "does not fit")) {
            /* F(4x4) keeps 36 x (cin + chunk) vectors of local memory per work-item: a
             * device with little (the GPU-sized leg's 48 KiB) cannot run it on these convs,
             * and the tuning stage never offers it there */
            printf("SKIP: %s\n", ct_last_error());
            ct_model_free(m);
            free(x), free(lab);
            cJSON_Delete(root);
            ct_runtime_free(rt);
            return 77;
        }
        CHECK(st == CT_OK, "step %d: %s", t + 1, ct_last_error());
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

    /* final weights against the float64 run */
    snprintf(path, sizeof path, "%s/tests/golden/%s", src ? src : ".",
             cJSON_GetObjectItem(root, "final_weights")->valuestring);
    size_t len = 0;
    double *want_w = (double *)read_all(path, &len);
    CHECK(want_w && len == total * sizeof(double), "%s: %zu bytes, expected %zu", path, len,
          total * sizeof(double));
    cJSON *f32err = cJSON_GetObjectItem(root, "torch_float32_err_lr");
    CHECK(cJSON_IsObject(f32err), "the index has no torch_float32_err_lr");
    if (want_w && len == total * sizeof(double) && cJSON_IsObject(f32err)) {
        size_t off = 0;
        double worst_ratio = 0;
        for (int i = 0; i < np; i++) {
            const ct_param_info *pi = ct_model_param(m, i);
            float *got = malloc(pi->n * sizeof *got);
            CHECK_OK(ct_model_get_param(m, i, got));
            double worst = 0;
            size_t wi = 0;
            for (size_t j = 0; j < pi->n; j++) {
                double e = isnan(got[j]) ? INFINITY : fabs(got[j] - want_w[off + j]) / opt.lr;
                if (!(e <= worst)) worst = e, wi = j;
            }
            cJSON *te = cJSON_GetObjectItem(f32err, pi->name);
            double torch_e = cJSON_IsNumber(te) ? te->valuedouble : NAN;
            CHECK(cJSON_IsNumber(te), "torch_float32_err_lr has no %s", pi->name);
            double bound = fmax(factor * torch_e, W_FLOOR_LR);
            CHECK(worst <= bound,
                  "%s: %.3g lr from the float64 run at %zu (cltrain %.9g, float64 %.9g); "
                  "bound %.3g lr = %.0f x PyTorch float32's %.3g",
                  pi->name, worst, wi, (double)got[wi], want_w[off + wi], bound, factor, torch_e);
            printf("%-18s %.3g lr from float64 (PyTorch float32 %.3g, bound %.3g)\n", pi->name,
                   worst, torch_e, bound);
            if (factor * torch_e > W_FLOOR_LR) worst_ratio = fmax(worst_ratio, worst / torch_e);
            off += pi->n;
            free(got);
        }
        printf("worst: %.2f x PyTorch float32's distance from float64 (bound %.0f x; tensors "
               "above the floor)\n",
               worst_ratio, factor);
    }
    free(want_w);
    free(x);
    free(lab);
    ct_model_free(m);
    cJSON_Delete(root);
    ct_runtime_free(rt);
    return ct_test_done("test_golden");
}
