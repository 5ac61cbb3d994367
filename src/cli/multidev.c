/* --devices LIST: parsing and checking the list, and making the replicas (cli/multidev.h). */
#include "cli/multidev.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

/* "P:D" with two non-negative numbers, normalised into out; 0 when it is not that. */
static int norm_id(const char *t, size_t len, char *out, size_t n) {
    char buf[32];
    if (len == 0 || len >= sizeof buf) return 0;
    memcpy(buf, t, len);
    buf[len] = 0;
    char *e;
    long p = strtol(buf, &e, 10);
    if (e == buf || *e != ':' || p < 0 || p > 999) return 0;
    char *q = e + 1;
    long dv = strtol(q, &e, 10);
    if (e == q || *e || dv < 0 || dv > 999 || buf[0] == '-' || *q == '-' || *q == '+') return 0;
    snprintf(out, n, "%ld:%ld", p, dv);
    return 1;
}

int ct_devlist_parse(const char *cmd, const char *opt, const char *list, ct_devlist *d) {
    memset(d, 0, sizeof *d);
    int nd = 0;
    if (ct_device_count(&nd) != CT_OK || nd == 0) {
        fprintf(stderr,
                "cltrain %s: %s %s: no OpenCL device found (`cltrain devices` lists "
                "them)\n",
                cmd, opt, list);
        return 0;
    }
    char have[512] = "";
    ct_device_desc dd[CT_MAX_DEVICES * 4];
    int nk = nd < (int)(sizeof dd / sizeof dd[0]) ? nd : (int)(sizeof dd / sizeof dd[0]);
    for (int i = 0; i < nk; i++) {
        if (ct_device_get(i, &dd[i]) != CT_OK) {
            fprintf(stderr, "cltrain %s: %s: %s\n", cmd, opt, ct_last_error());
            return 0;
        }
        size_t l = strlen(have);
        snprintf(have + l, sizeof have - l, "%s%.15s", i ? ", " : "", dd[i].id);
    }
    if (!strcmp(list, "all")) {
        if (nk > CT_MAX_DEVICES) nk = CT_MAX_DEVICES;
        for (int i = 0; i < nk; i++)
            snprintf(d->id[d->n++], sizeof d->id[0], "%.15s", dd[i].id);
        return 1;
    }
    for (const char *p = list;;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        char id[16];
        if (!norm_id(p, len, id, sizeof id)) {
            fprintf(stderr,
                    "cltrain %s: %s %s: '%.*s' is no device; expected P:D as `cltrain "
                    "devices` lists them (%s), comma separated, or all\n",
                    cmd, opt, list, (int)len, p, have);
            return 0;
        }
        int found = 0;
        for (int i = 0; i < nk && !found; i++)
            found = !strcmp(dd[i].id, id);
        if (!found) {
            fprintf(stderr,
                    "cltrain %s: %s %s: device %s does not exist; this machine has %s "
                    "(`cltrain devices`)\n",
                    cmd, opt, list, id, have);
            return 0;
        }
        for (int i = 0; i < d->n; i++)
            if (!strcmp(d->id[i], id)) {
                fprintf(stderr,
                        "cltrain %s: %s %s: device %s is listed twice; each replica needs "
                        "a device of its own (list each once)\n",
                        cmd, opt, list, id);
                return 0;
            }
        if (d->n == CT_MAX_DEVICES) {
            fprintf(stderr, "cltrain %s: %s %s: more than %d devices\n", cmd, opt, list,
                    CT_MAX_DEVICES);
            return 0;
        }
        snprintf(d->id[d->n++], sizeof d->id[0], "%s", id);
        if (!c) break;
        p = c + 1;
    }
    return 1;
}

ct_status ct_devlist_explain(const ct_devlist *d, int i, int batch, ct_status s) {
    int share[CT_MAX_DEVICES];
    ct_fit_split(batch, d->n, share);
    if (s == CT_ERR_MEMORY) {
        int sug = share[i] / 2 * d->n;
        if (sug < d->n) sug = d->n;
        return ct_error_prefix(s,
                               "--devices: device %s cannot hold its share of %d of the "
                               "--batch-size %d samples (try --batch-size %d or a smaller "
                               "--input): ",
                               d->id[i], share[i], batch, sug);
    }
    return ct_error_prefix(s, "--devices: device %s: ", d->id[i]);
}

ct_status ct_devlist_replicate(ct_devlist *d, ct_classifier *m, unsigned flags, int batch,
                               const char *resume_dir) {
    int share[CT_MAX_DEVICES];
    ct_fit_split(batch, d->n, share);
    for (int i = 1; i < d->n; i++) {
        ct_status s = ct_runtime_create(d->id[i], flags, &d->rt[i]);
        if (s == CT_OK) ct_runtime_print_device(d->rt[i], stdout);
        if (s == CT_OK && resume_dir) s = ct_fit_resume_prepare(d->rt[i], resume_dir);
        if (s == CT_OK) s = ct_classifier_replicate(m, d->rt[i], share[i], &d->rep[i]);
        if (s != CT_OK) return ct_devlist_explain(d, i, batch, s);
    }
    return CT_OK;
}

void ct_devlist_free(ct_devlist *d) {
    for (int i = 1; i < d->n; i++) {
        ct_classifier_free(d->rep[i]);
        ct_runtime_free(d->rt[i]);
        d->rep[i] = NULL;
        d->rt[i] = NULL;
    }
}
