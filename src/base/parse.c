/* Checked option-number parsing (base/parse.h). */
#include "base/parse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/error.h"

ct_status ct_parse_long(const char *opt, const char *v, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || errno || end == v || *end || x < lo || x > hi)
        return ct_set_error(CT_ERR_ARG, "%s expects a whole number from %ld to %ld, got '%s'", opt,
                            lo, hi, v ? v : "");
    *out = x;
    return CT_OK;
}

ct_status ct_parse_int(const char *opt, const char *v, int lo, int hi, int *out) {
    long x = 0;
    CT_TRY(ct_parse_long(opt, v, lo, hi, &x));
    *out = (int)x;
    return CT_OK;
}

ct_status ct_parse_size(const char *opt, const char *v, size_t lo, size_t hi, size_t *out) {
    char *end;
    errno = 0;
    unsigned long long x = v && *v != '-' ? strtoull(v, &end, 10) : 0;
    if (!v || *v == '-' || errno || end == v || *end || x < lo || x > hi)
        return ct_set_error(CT_ERR_ARG, "%s expects a whole number from %zu to %zu, got '%s'", opt,
                            lo, hi, v ? v : "");
    *out = (size_t)x;
    return CT_OK;
}

ct_status ct_parse_double(const char *opt, const char *v, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double x = v ? strtod(v, &end) : 0;
    if (!v || errno || end == v || *end || !(x >= lo && x <= hi))
        return ct_set_error(CT_ERR_ARG, "%s expects a number from %g to %g, got '%s'", opt, lo, hi,
                            v ? v : "");
    *out = x;
    return CT_OK;
}

ct_status ct_parse_hw(const char *opt, const char *v, int max, int *h, int *w) {
    char *end, *end2;
    errno = 0;
    long a = v ? strtol(v, &end, 10) : 0, b = 0;
    int ok = v && !errno && end != v && *end == 'x' && end[1] >= '0' && end[1] <= '9';
    if (ok) {
        b = strtol(end + 1, &end2, 10);
        ok = !errno && !*end2 && a >= 1 && b >= 1 && a <= max && b <= max;
    }
    if (!ok)
        return ct_set_error(CT_ERR_ARG, "%s expects HxW such as 112x112 (each 1 to %d), got '%s'", opt,
                            max, v ? v : "");
    *h = (int)a;
    *w = (int)b;
    return CT_OK;
}

long ct_env_long(const char *name, long lo, long hi, long def) {
    const char *v = getenv(name);
    if (!v || !*v) return def;
    long x;
    char saved[1024];
    snprintf(saved, sizeof saved, "%s", ct_last_error()); /* keep the caller's message */
    if (ct_parse_long(name, v, lo, hi, &x) != CT_OK) {
        ct_log(CT_LOG_WARN, "ignoring %s: %s", name, ct_last_error());
        x = def;
    }
    ct_set_error(CT_OK, "%s", saved);
    return x;
}
