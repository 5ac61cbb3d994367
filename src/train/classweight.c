/* --class-weight: Keras's fit(class_weight=) from "balanced" or "NAME:W,..." (the public
 * ct_class_weights). Checked against the training set's classes before any image is read. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "data/data.h"

/* balanced: n / (k * n_c), scikit-learn's compute_class_weight("balanced", ...) */
static ct_status balanced(const ct_dataset *ds, float *w) {
    int k = ds->n_classes;
    long *cnt = calloc((size_t)k, sizeof *cnt);
    if (!cnt) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    for (int i = 0; i < ds->n; i++)
        if (ds->labels[i] >= 0 && ds->labels[i] < k) cnt[ds->labels[i]]++;
    ct_status s = CT_OK;
    for (int c = 0; c < k && s == CT_OK; c++) {
        if (cnt[c] == 0)
            s = ct_set_error(CT_ERR_ARG, "--class-weight balanced: class '%s' has no training "
                             "images, so its weight n / (classes * n_class) is undefined; give "
                             "the weights as NAME:W,... or add images", ds->class_names[c]);
        else
            w[c] = (float)((double)ds->n / ((double)k * (double)cnt[c]));
    }
    free(cnt);
    return s;
}

ct_status ct_class_weights(const char *spec, const ct_dataset *ds, float *w) {
    if (!ds || !w) return ct_set_error(CT_ERR_ARG, "ct_class_weights: NULL argument");
    int k = ds->n_classes;
    for (int c = 0; c < k; c++) w[c] = 1.0f;
    if (!spec || !*spec) return CT_OK;
    if (!strcmp(spec, "balanced")) return balanced(ds, w);
    size_t len = strlen(spec);
    if (spec[0] == ',' || spec[len - 1] == ',' || strstr(spec, ",,"))
        return ct_set_error(CT_ERR_ARG, "--class-weight '%s': an empty item; expected balanced "
                            "or NAME:W,... such as cat:2,dog:1", spec);
    char *dup = strdup(spec);
    unsigned char *given = calloc((size_t)k ? (size_t)k : 1, 1);
    if (!dup || !given) {
        free(dup), free(given);
        return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    }
    ct_status s = CT_OK;
    char *save = NULL;
    int items = 0;
    for (char *it = dup; s == CT_OK; it = NULL) {
        char *tok = strtok_r(it, ",", &save);
        if (!tok) break;
        items++;
        char *colon = strrchr(tok, ':');
        if (!colon || colon == tok || !colon[1]) {
            s = ct_set_error(CT_ERR_ARG, "--class-weight: '%s' is not NAME:WEIGHT; expected "
                             "balanced or a list such as cat:2,dog:1 (classes: the training "
                             "folder's sub-folders)", tok);
            break;
        }
        *colon = 0;
        int c = 0;
        while (c < k && strcmp(ds->class_names[c], tok)) c++;
        if (c == k) {
            s = ct_set_error(CT_ERR_ARG, "--class-weight: '%s' is no class of the training data "
                             "(its classes: %s%s%s%s)", tok, k > 0 ? ds->class_names[0] : "",
                             k > 1 ? ", " : "", k > 1 ? ds->class_names[1] : "",
                             k > 2 ? ", ..." : "");
            break;
        }
        if (given[c]) {
            s = ct_set_error(CT_ERR_ARG, "--class-weight: class '%s' is given twice", tok);
            break;
        }
        given[c] = 1;
        char *end = NULL;
        double v = strtod(colon + 1, &end);
        if (end == colon + 1 || *end || !isfinite(v) || v <= 0 || v > 3.4e38) {
            s = ct_set_error(CT_ERR_ARG, "--class-weight: class '%s': weight '%s' must be a "
                             "finite number > 0 (and a float: at most 3.4e38)", tok, colon + 1);
            break;
        }
        w[c] = (float)v;
    }
    if (s == CT_OK && items == 0)
        s = ct_set_error(CT_ERR_ARG, "--class-weight '%s': expected balanced or NAME:W,...", spec);
    free(dup), free(given);
    return s;
}
