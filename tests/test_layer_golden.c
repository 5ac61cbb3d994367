/* Layer golden: gap, avgpool, 'same' convolutions with strides > 1 (TensorFlow's padding
 * split), tanh, leakyrelu and conv/dense with them, each built from its token through its
 * record and run forward and backward on the recorded input, parameters and output gradient
 * of tests/golden/layers.safetensors (tools/gen_layer_golden.py: PyTorch in double,
 * cross-checked against Keras). Output, input gradient and parameter gradients must match;
 * the 'same' pads of the recording must equal the conv plan's. */
#include <cjson/cJSON.h>

#include "ctest.h"
#include "io/safetensors.h"
#include "layers/layer_check.h"
#include "ops/ops.h"

#define REL_TOL 1e-4

/* The golden tensor `name` of case i as floats, with n elements. */
static float *tensor(const ct_st_file *f, int i, const char *name, size_t n) {
    char key[64];
    snprintf(key, sizeof key, "%d.%s", i, name);
    const ct_st_tensor *t = ct_st_find(f, key);
    CHECK(t && t->count == n, "golden tensor '%s': %s, %zu elements, want %zu", key,
          t ? "present" : "missing", t ? t->count : 0, n);
    if (!t || t->count != n) return NULL;
    float *v = malloc((n ? n : 1) * sizeof *v);
    if (v) CHECK_OK(ct_st_read_f32(f, key, 0, NULL, v));
    return v;
}

/* |got - want| <= atol + REL_TOL |want| everywhere (NaN fails). */
static void compare(const char *tok, const char *what, const float *got, const float *want,
                    size_t n, double atol) {
    double worst = 0;
    size_t wi = 0;
    for (size_t j = 0; j < n; j++) {
        double e = fabs((double)got[j] - want[j]) / (atol + REL_TOL * fabs(want[j]));
        if (!(e <= worst)) worst = e, wi = j;
    }
    CHECK(worst <= 1.0, "'%s' %s: %.3g x tolerance at %zu (cltrain %.8g, golden %.8g)", tok, what,
          worst, wi, n ? (double)got[wi] : 0.0, n ? (double)want[wi] : 0.0);
}

/* The recorded 'same' split [top, bottom, left, right] against the conv plan's. */
static void check_pads(const ct_layer *l, const cJSON *pad) {
    if (!pad || !l->s.same) return;
    ct_conv_desc d;
    CHECK_OK(ct_conv_desc_init(&d, 1, l->ic, l->ih, l->iw, l->oc, l->s.k, l->s.stride, 1,
                               CT_ACT_NONE));
    int top = cJSON_GetArrayItem(pad, 0)->valueint, left = cJSON_GetArrayItem(pad, 2)->valueint;
    CHECK(d.pad_t == top && d.pad_l == left && d.oh == l->oh && d.ow == l->ow,
          "'%s' on %dx%d: cltrain pads top %d left %d, TensorFlow's split is top %d left %d",
          l->tok, l->ih, l->iw, d.pad_t, d.pad_l, top, left);
}

static void run_case(ct_runtime *rt, const ct_st_file *f, int i, const cJSON *c) {
    const char *tok = cJSON_GetObjectItem(c, "token")->valuestring;
    const cJSON *in = cJSON_GetObjectItem(c, "input");
    int flat = cJSON_GetObjectItem(c, "flat")->valueint;
    int n = cJSON_GetArrayItem(in, 0)->valueint, ch = cJSON_GetArrayItem(in, 1)->valueint;
    int h = flat ? 1 : cJSON_GetArrayItem(in, 2)->valueint;
    int w = flat ? 1 : cJSON_GetArrayItem(in, 3)->valueint;
    ct_layer_case lc;
    ct_status st = ct_layer_case_init(tok, n, ch, h, w, flat, &lc);
    CHECK(st == CT_OK, "golden token '%s': %s", tok, ct_last_error());
    if (st != CT_OK) return;
    /* the golden tokens are canonical: the record must print them back */
    char canon[64];
    lc.l.s.cls->format(&lc.l.s, canon, sizeof canon);
    CHECK(!strcmp(canon, tok), "golden token '%s' formats as '%s'", tok, canon);
    check_pads(&lc.l, cJSON_GetObjectItem(c, "pad"));
    int np = cJSON_GetObjectItem(c, "params")->valueint;
    CHECK(np == lc.np, "'%s': %d parameter tensors, golden has %d", tok, lc.np, np);
    size_t nx = (size_t)n * lc.l.in_feat, ny = (size_t)n * lc.l.out_feat;
    float *x = tensor(f, i, "x", nx), *dy = tensor(f, i, "dy", ny), *wy = tensor(f, i, "y", ny),
          *wdx = tensor(f, i, "dx", nx);
    float *p[CT_LAYER_MAX_PARAMS] = {0}, *wg[CT_LAYER_MAX_PARAMS] = {0},
          *g[CT_LAYER_MAX_PARAMS] = {0};
    int ok = x && dy && wy && wdx && np == lc.np;
    for (int j = 0; ok && j < lc.np; j++) {
        char pn[16], gn[16];
        snprintf(pn, sizeof pn, "p%d", j);
        snprintf(gn, sizeof gn, "g%d", j);
        p[j] = tensor(f, i, pn, lc.pn[j]);
        wg[j] = tensor(f, i, gn, lc.pn[j]);
        g[j] = malloc(lc.pn[j] * sizeof(float));
        ok = p[j] && wg[j] && g[j];
    }
    float *y = malloc(ny * sizeof *y), *dx = malloc(nx * sizeof *dx);
    if (ok && y && dx) {
        st = ct_layer_case_run(rt, &lc, x, (const float *const *)p, dy, y, dx, g);
        CHECK(st == CT_OK, "'%s': %s", tok, ct_last_error());
        ok = st == CT_OK;
    }
    if (ok && y && dx) {
        /* terms summed per value: the weights' fan-in (forward, dW) or out x k x k (dx) */
        int fan = 1, fan_dx = 1;
        if (lc.np) {
            const ct_param_desc *d = &lc.pd[0];
            int rf = d->ndim == 4 ? d->shape[2] * d->shape[3] : 1;
            fan = d->shape[1] * rf;
            fan_dx = d->shape[0] * rf;
        }
        compare(tok, "output", y, wy, ny, 1e-6 * (1 + fan));
        compare(tok, "input gradient", dx, wdx, nx, 1e-6 * (1 + fan_dx));
        for (int j = 0; j < lc.np; j++)
            compare(tok, j ? "bias gradient" : "weight gradient", g[j], wg[j], lc.pn[j],
                    1e-6 * (1 + (double)ny / lc.l.oc));
    }
    for (int j = 0; j < CT_LAYER_MAX_PARAMS; j++) free(p[j]), free(wg[j]), free(g[j]);
    free(x), free(dy), free(wy), free(wdx), free(y), free(dx);
}

int main(void) {
    const char *src = getenv("CLTRAIN_SRC_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/golden/layers.safetensors", src ? src : ".");
    ct_st_file *f = NULL;
    if (ct_st_open(path, &f) != CT_OK) {
        fprintf(stderr, "FAIL: %s (set CLTRAIN_SRC_DIR to the source tree)\n", ct_last_error());
        return 1;
    }
    const char *cases_js = ct_st_meta(f, "cases");
    cJSON *cases = cases_js ? cJSON_Parse(cases_js) : NULL;
    if (!cJSON_IsArray(cases) || cJSON_GetArraySize(cases) == 0) {
        fprintf(stderr, "FAIL: %s: no 'cases' list in its metadata\n", path);
        return 1;
    }
    ct_runtime *rt = ct_test_runtime(0);
    int i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) run_case(rt, f, i++, c);
    /* every new layer type and activation is in the recording */
    const char *need[] = {"gap", "avgpool", "same", "tanh", "leakyrelu", "dense"};
    for (size_t k = 0; k < sizeof need / sizeof need[0]; k++) {
        int seen = 0;
        cJSON_ArrayForEach(c, cases) seen |= strstr(cJSON_GetObjectItem(c, "token")->valuestring,
                                                    need[k]) != NULL;
        CHECK(seen, "the golden recording has no '%s' case", need[k]);
    }
    const char *ref = ct_st_meta(f, "reference");
    printf("%d golden layer cases (%s)\n", i, ref ? ref : "?");
    cJSON_Delete(cases);
    ct_st_close(f);
    ct_runtime_free(rt);
    return ct_test_done("test_layer_golden");
}
