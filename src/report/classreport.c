/* The classification report: scikit-learn's classification_report (digits=2, labels = every
 * class of the model) and confusion_matrix from a confusion count, as text and as JSON. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "report/report.h"

void ct_class_report_free(ct_class_report *r) {
    if (!r) return;
    for (int i = 0; r->names && i < r->classes; i++) free(r->names[i]);
    free(r->names);
    free(r->confusion);
    free(r->precision);
    free(r->recall);
    free(r->f1);
    free(r->support);
    free(r);
}

/* num / den, or 0.0 with *zero set when den is 0 (sklearn's zero_division="warn" value). */
static double ratio(double num, double den, int *zero) {
    if (den > 0) return num / den;
    *zero = 1;
    return 0.0;
}

ct_status ct_class_report_create(int classes, const char *const *names, const long *confusion,
                                 int top_k, long top_k_correct, ct_class_report **out) {
    if (!out || !confusion || classes < 1)
        return ct_set_error(CT_ERR_ARG, "ct_class_report_create: bad argument");
    *out = NULL;
    ct_class_report *r = calloc(1, sizeof *r);
    size_t k = (size_t)classes;
    if (r) {
        r->classes = classes;
        r->names = calloc(k, sizeof *r->names);
        r->confusion = malloc(k * k * sizeof *r->confusion);
        r->precision = calloc(k, sizeof *r->precision);
        r->recall = calloc(k, sizeof *r->recall);
        r->f1 = calloc(k, sizeof *r->f1);
        r->support = calloc(k, sizeof *r->support);
    }
    int ok = r && r->names && r->confusion && r->precision && r->recall && r->f1 && r->support;
    for (size_t i = 0; ok && i < k; i++) {
        char tmp[32];
        if (!names) snprintf(tmp, sizeof tmp, "%zu", i);
        r->names[i] = strdup(names ? names[i] : tmp);
        ok = r->names[i] != NULL;
    }
    if (!ok) {
        ct_class_report_free(r);
        return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    }
    memcpy(r->confusion, confusion, k * k * sizeof *r->confusion);
    long diag = 0;
    for (size_t t = 0; t < k; t++)
        for (size_t p = 0; p < k; p++) {
            r->support[t] += confusion[t * k + p];
            r->n += confusion[t * k + p];
            if (t == p) diag += confusion[t * k + p];
        }
    for (size_t c = 0; c < k; c++) {
        long tp = confusion[c * k + c], pred = 0;
        for (size_t t = 0; t < k; t++) pred += confusion[t * k + c];
        long fp = pred - tp, fn = r->support[c] - tp;
        r->precision[c] = ratio((double)tp, (double)pred, &r->zero_division);
        r->recall[c] = ratio((double)tp, (double)r->support[c], &r->zero_division);
        /* sklearn >= 1.3: F = 2 tp / (2 tp + fp + fn), zero_division when that is 0 */
        r->f1[c] = ratio(2.0 * (double)tp, 2.0 * (double)tp + (double)fp + (double)fn,
                         &r->zero_division);
        r->macro_precision += r->precision[c] / (double)k;
        r->macro_recall += r->recall[c] / (double)k;
        r->macro_f1 += r->f1[c] / (double)k;
        double w = r->n > 0 ? (double)r->support[c] / (double)r->n : 0.0;
        r->weighted_precision += r->precision[c] * w;
        r->weighted_recall += r->recall[c] * w;
        r->weighted_f1 += r->f1[c] * w;
    }
    r->accuracy = r->n > 0 ? (double)diag / (double)r->n : 0.0;
    r->top_k = top_k;
    r->top_k_correct = top_k ? top_k_correct : 0;
    r->top_k_accuracy = top_k && r->n > 0 ? (double)top_k_correct / (double)r->n : 0.0;
    *out = r;
    return CT_OK;
}

void ct_class_report_print(const ct_class_report *r, FILE *f) {
    if (!r || !f) return;
    int width = (int)strlen("weighted avg");
    for (int i = 0; i < r->classes; i++)
        if ((int)strlen(r->names[i]) > width) width = (int)strlen(r->names[i]);
    /* sklearn: head "{:>{w}s} " + " {:>9}" x 4, rows "{:>{w}s} " + " {:>9.2f}" x 3 + " {:>9}" */
    fprintf(f, "%*s  %9s %9s %9s %9s\n\n", width, "", "precision", "recall", "f1-score", "support");
    for (int i = 0; i < r->classes; i++)
        fprintf(f, "%*s  %9.2f %9.2f %9.2f %9ld\n", width, r->names[i], r->precision[i],
                r->recall[i], r->f1[i], r->support[i]);
    fprintf(f, "\n%*s  %9s %9s %9.2f %9ld\n", width, "accuracy", "", "", r->accuracy, r->n);
    fprintf(f, "%*s  %9.2f %9.2f %9.2f %9ld\n", width, "macro avg", r->macro_precision,
            r->macro_recall, r->macro_f1, r->n);
    fprintf(f, "%*s  %9.2f %9.2f %9.2f %9ld\n", width, "weighted avg", r->weighted_precision,
            r->weighted_recall, r->weighted_f1, r->n);
    if (r->zero_division)
        fprintf(f, "(a precision, recall or F1 with no predicted or no true samples is 0.00, as "
                   "scikit-learn's zero_division default)\n");
    /* the confusion matrix, labelled: rows true class, columns predicted */
    int cw = 5;
    long mx = 0;
    for (int i = 0; i < r->classes * r->classes; i++)
        if (r->confusion[i] > mx) mx = r->confusion[i];
    char num[32];
    int nl = snprintf(num, sizeof num, "%ld", mx);
    if (nl > cw) cw = nl;
    for (int i = 0; i < r->classes; i++)
        if ((int)strlen(r->names[i]) > cw) cw = (int)strlen(r->names[i]);
    fprintf(f, "\nConfusion matrix (rows: true class, columns: predicted):\n%*s", width, "");
    for (int p = 0; p < r->classes; p++) fprintf(f, " %*s", cw, r->names[p]);
    fputc('\n', f);
    for (int t = 0; t < r->classes; t++) {
        fprintf(f, "%*s", width, r->names[t]);
        for (int p = 0; p < r->classes; p++)
            fprintf(f, " %*ld", cw, r->confusion[(size_t)t * r->classes + p]);
        fputc('\n', f);
    }
    if (r->top_k)
        fprintf(f, "\nTop-%d accuracy: %.4f (%ld of %ld)\n", r->top_k, r->top_k_accuracy,
                r->top_k_correct, r->n);
}

static cJSON *metrics_obj(double p, double rc, double f1, long support) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "precision", p);
    cJSON_AddNumberToObject(o, "recall", rc);
    cJSON_AddNumberToObject(o, "f1-score", f1);
    cJSON_AddNumberToObject(o, "support", (double)support);
    return o;
}

cJSON *ct_class_report_json(const ct_class_report *r) {
    cJSON *o = cJSON_CreateObject(), *rep = cJSON_CreateObject(), *names = cJSON_CreateArray(),
          *cm = cJSON_CreateArray();
    if (!o || !rep || !names || !cm) {
        cJSON_Delete(o), cJSON_Delete(rep), cJSON_Delete(names), cJSON_Delete(cm);
        return NULL;
    }
    /* "report": sklearn's classification_report(output_dict=True) */
    for (int i = 0; i < r->classes; i++) {
        cJSON_AddItemToObject(rep, r->names[i],
                              metrics_obj(r->precision[i], r->recall[i], r->f1[i], r->support[i]));
        cJSON_AddItemToArray(names, cJSON_CreateString(r->names[i]));
        cJSON *row = cJSON_CreateArray();
        for (int p = 0; row && p < r->classes; p++)
            cJSON_AddItemToArray(row, cJSON_CreateNumber((double)r->confusion[(size_t)i * r->classes + p]));
        cJSON_AddItemToArray(cm, row);
    }
    cJSON_AddNumberToObject(rep, "accuracy", r->accuracy);
    cJSON_AddItemToObject(rep, "macro avg", metrics_obj(r->macro_precision, r->macro_recall,
                                                        r->macro_f1, r->n));
    cJSON_AddItemToObject(rep, "weighted avg", metrics_obj(r->weighted_precision,
                                                           r->weighted_recall, r->weighted_f1, r->n));
    cJSON_AddItemToObject(o, "class_names", names);
    cJSON_AddItemToObject(o, "confusion_matrix", cm);
    cJSON_AddItemToObject(o, "report", rep);
    cJSON_AddBoolToObject(o, "zero_division", r->zero_division != 0);
    if (r->top_k) {
        char key[32];
        snprintf(key, sizeof key, "top_%d_accuracy", r->top_k);
        cJSON_AddNumberToObject(o, key, r->top_k_accuracy);
    }
    return o;
}

void ct_class_report_print_json(const ct_class_report *r, FILE *f) {
    if (!r || !f) return;
    cJSON *o = ct_class_report_json(r);
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    if (s) fputs(s, f);
    free(s);
    cJSON_Delete(o);
}
