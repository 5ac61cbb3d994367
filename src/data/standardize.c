/* Preprocessing: rescale and ImageDataGenerator.standardize (samplewise and featurewise
 * centering and std normalization), and the checks a preprocessing record from an option,
 * the API or a model file must pass.
 * The one place where a decoded image becomes network input: the loader (training,
 * validation, evaluation) and ct_classifier_preprocess (predict) both call
 * ct_preprocess_image. The featurewise statistics are computed in featurewise.c (on the
 * loader, which calls this file). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "data/data.h"

/* Keras's epsilon in x /= std + 1e-6 (both the samplewise and the featurewise step). */
#define STD_EPS 1e-6f

void ct_preprocess_default(ct_preprocess *p) {
    memset(p, 0, sizeof *p);
    p->rescale = 1.0f / 255.0f;
}

int ct_preprocess_featurewise(const ct_preprocess *p) {
    return p->featurewise_center || p->featurewise_std_normalization;
}

static int all_finite(const float *v, int n) {
    for (int i = 0; i < n; i++)
        if (!isfinite(v[i])) return 0;
    return 1;
}

const char *ct_preprocess_invalid(const ct_preprocess *p, int c, int need_stats, char *why,
                                  size_t n) {
    if (!(isfinite(p->rescale) && p->rescale > 0)) {
        snprintf(why, n,
                 "is %g; it must be a finite number above 0 (1/255 maps 0..255 to 0..1, "
                 "1 keeps the pixel values)",
                 (double)p->rescale);
        return "rescale";
    }
    if (p->n_stats < 0 || p->n_stats > 3 || (p->n_stats && p->n_stats != c)) {
        snprintf(why, n, "has %d entries; it needs one per channel (%d)", p->n_stats, c);
        return p->featurewise_center ? "featurewise_mean" : "featurewise_std";
    }
    if (need_stats && ct_preprocess_featurewise(p) && p->n_stats != c) {
        snprintf(why, n,
                 "is missing; the featurewise flag needs the training set's statistics, "
                 "one number per channel (%d)",
                 c);
        return p->featurewise_center ? "featurewise_mean" : "featurewise_std";
    }
    if (p->featurewise_center && p->n_stats && !all_finite(p->mean, p->n_stats)) {
        snprintf(why, n, "holds a value that is not a finite number");
        return "featurewise_mean";
    }
    for (int i = 0; p->featurewise_std_normalization && i < p->n_stats; i++)
        if (!(isfinite(p->std[i]) && p->std[i] >= 0)) {
            snprintf(why, n, "holds %g; a standard deviation is a finite number >= 0",
                     (double)p->std[i]);
            return "featurewise_std";
        }
    return NULL;
}

ct_status ct_rescale_parse(const char *s, float *out) {
    const char *e = "--rescale: expected a number above 0 such as 0.00392157, or a fraction "
                    "such as 1/255";
    char *end;
    double a = strtod(s, &end), b = 1;
    if (end == s) return ct_set_error(CT_ERR_ARG, "%s, got '%s'", e, s);
    if (*end == '/') {
        const char *d = end + 1;
        b = strtod(d, &end);
        if (end == d) return ct_set_error(CT_ERR_ARG, "%s, got '%s'", e, s);
    }
    if (*end) return ct_set_error(CT_ERR_ARG, "%s, got '%s'", e, s);
    double v = a / b;
    if (!(isfinite(v) && v > 0 && (float)v > 0 && isfinite((float)v)))
        return ct_set_error(CT_ERR_ARG, "%s, got '%s' (%g)", e, s, v);
    *out = (float)(a / b);
    return CT_OK;
}

void ct_preprocess_describe(const ct_preprocess *p, char *buf, size_t n) {
    size_t len = 0;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        int w_ = len < n ? snprintf(buf + len, n - len, __VA_ARGS__) : 0;                          \
        if (w_ > 0) len += (size_t)w_; /* past n: truncated, the rest is dropped */                \
    } while (0)
    if (!n) return;
    buf[0] = 0;
    if (p->rescale == 1.0f / 255.0f)
        PUT("rescale 1/255");
    else
        PUT("rescale %.9g", (double)p->rescale);
    if (p->samplewise_center) PUT(", samplewise center");
    if (p->samplewise_std_normalization) PUT(", samplewise std normalization");
    for (int k = 0; k < 2; k++) {
        int on = k ? p->featurewise_std_normalization : p->featurewise_center;
        if (!on) continue;
        PUT(k ? ", featurewise std normalization" : ", featurewise center");
        if (!p->n_stats) {
            PUT(" (statistics of the training set, not computed yet)");
            continue;
        }
        PUT(k ? " (std" : " (mean");
        for (int i = 0; i < p->n_stats; i++)
            PUT(" %.4g", (double)(k ? p->std[i] : p->mean[i]));
        PUT(")");
    }
#undef PUT
}

/* Population mean and std of n floats, in double (two passes). */
static void mean_std(const float *x, size_t n, double *mean, double *sd) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    double m = s / (double)n, q = 0;
    for (size_t i = 0; i < n; i++)
        q += ((double)x[i] - m) * ((double)x[i] - m);
    *mean = m;
    *sd = sqrt(q / (double)n);
}

void ct_standardize(const ct_preprocess *p, int c, size_t hw, float *x) {
    size_t n = (size_t)c * hw;
    double m, sd;
    if (p->samplewise_center) {
        mean_std(x, n, &m, &sd);
        float mf = (float)m;
        for (size_t i = 0; i < n; i++)
            x[i] -= mf;
    }
    if (p->samplewise_std_normalization) {
        mean_std(x, n, &m, &sd);
        float d = (float)sd + STD_EPS;
        for (size_t i = 0; i < n; i++)
            x[i] /= d;
    }
    for (int ch = 0; ch < c && ch < p->n_stats; ch++) {
        float *v = x + (size_t)ch * hw;
        if (p->featurewise_center)
            for (size_t i = 0; i < hw; i++)
                v[i] -= p->mean[ch];
        if (p->featurewise_std_normalization) {
            float d = p->std[ch] + STD_EPS;
            for (size_t i = 0; i < hw; i++)
                v[i] /= d;
        }
    }
}

void ct_preprocess_image(const ct_preprocess *p, const uint8_t *in, int h, int w, int c,
                         const ct_aug_draw *d, float *out) {
    ct_augment_apply(in, h, w, c, d, p->rescale, out);
    ct_standardize(p, c, (size_t)h * w, out);
}
