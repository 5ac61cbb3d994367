/* History CSV and the Keras-style progress line (see report.h; the plot is in plot.c). */
#include "report/report.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "io/fileutil.h"
#include "base/error.h"

/* ======================================================================== */
/* history                                                                  */
/* ======================================================================== */

ct_status ct_history_append(ct_history *h, const ct_epoch_stats *s) {
    if (h->n == h->cap) {
        int nc = h->cap ? 2 * h->cap : 64;
        ct_epoch_stats *ne = realloc(h->e, (size_t)nc * sizeof *ne);
        if (!ne) return ct_set_error(CT_ERR_MEMORY, "history: out of host memory");
        h->e = ne;
        h->cap = nc;
    }
    h->e[h->n++] = *s;
    return CT_OK;
}

void ct_history_free(ct_history *h) {
    free(h->e);
    memset(h, 0, sizeof *h);
}

/* Shortest "%.Ng" that reads back as exactly v (so read + write is the identity). */
static void fmt_exact(char *buf, size_t n, double v) {
    for (int p = 6; p <= 17; p++) {
        snprintf(buf, n, "%.*g", p, v);
        if (!isfinite(v) || strtod(buf, NULL) == v) return;
    }
}

void ct_csv_field(FILE *f, const char *s) {
    if (!s[strcspn(s, ",\"\r\n")]) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* Only numbers and this header: no field ever needs quotes. */
static const char csv_header[] = "epoch,loss,accuracy,val_loss,val_accuracy,seconds,learning_rate";
/* the header before the learning_rate column (read only) */
static const char csv_header6[] = "epoch,loss,accuracy,val_loss,val_accuracy,seconds";

static ct_status write_csv(FILE *f, void *ctx) {
    const ct_history *h = ctx;
    fprintf(f, "%s\n", csv_header);
    for (int i = 0; i < h->n; i++) {
        const ct_epoch_stats *s = &h->e[i];
        char l[32], a[32], vl[32] = "", va[32] = "", sec[32], lr[32] = "";
        fmt_exact(l, sizeof l, s->loss);
        fmt_exact(a, sizeof a, s->accuracy);
        if (s->has_val) {
            fmt_exact(vl, sizeof vl, s->val_loss);
            fmt_exact(va, sizeof va, s->val_accuracy);
        }
        fmt_exact(sec, sizeof sec, s->seconds);
        if (s->lr > 0) fmt_exact(lr, sizeof lr, s->lr);
        fprintf(f, "%d,%s,%s,%s,%s,%s,%s\n", s->epoch, l, a, vl, va, sec, lr);
    }
    return CT_OK;
}

ct_status ct_history_write_csv(const ct_history *h, const char *path) {
    return ct_write_atomic(path, write_csv, (void *)h);
}

/* One numeric CSV field [s, e); empty allowed when *empty is not NULL. */
static int parse_field(const char *s, const char *e, double *v, int *empty) {
    if (s == e) {
        if (!empty) return 0;
        *empty = 1;
        *v = NAN;
        return 1;
    }
    char tmp[64];
    if ((size_t)(e - s) >= sizeof tmp) return 0;
    memcpy(tmp, s, (size_t)(e - s));
    tmp[e - s] = 0;
    char *end;
    errno = 0;
    *v = strtod(tmp, &end);
    if (empty) *empty = 0;
    return end != tmp && *end == 0;
}

ct_status ct_history_read_csv(const char *path, ct_history *h) {
    unsigned char *buf;
    size_t len;
    CT_TRY(ct_read_file(path, (size_t)64 << 20, &buf, &len));
    ct_history out = {0};
    ct_status st = CT_OK;
    char *p = (char *)buf;
    int line = 0, nfields = 7;
    while (*p) {
        char *nl = strchr(p, '\n');
        char *end = nl ? nl : p + strlen(p);
        if (end > p && end[-1] == '\r') end[-1] = 0, end--; /* tolerate CRLF */
        *end = 0;
        line++;
        if (line == 1) {
            if (!strcmp(p, csv_header6)) nfields = 6;
            else if (strcmp(p, csv_header) != 0) {
                st = ct_set_error(CT_ERR_FORMAT, "%s: not a cltrain history (first line should be \"%s\")",
                                  path, csv_header);
                goto done;
            }
        } else if (*p) {
            const char *f[8];
            int nf = 0;
            f[nf++] = p;
            for (char *q = p; *q && nf < 8; q++)
                if (*q == ',') f[nf++] = q + 1;
            if (nf != nfields) {
                st = ct_set_error(CT_ERR_FORMAT, "%s:%d: expected %d comma-separated fields", path,
                                  line, nfields);
                goto done;
            }
            const char *fe[7];
            for (int i = 0; i < nf - 1; i++) fe[i] = f[i + 1] - 1;
            fe[nf - 1] = end;
            ct_epoch_stats s = {0};
            double ep;
            int e1, e2, e3;
            if (!parse_field(f[0], fe[0], &ep, NULL) || ep != floor(ep) || ep < 0 || ep > 1e9 ||
                !parse_field(f[1], fe[1], &s.loss, NULL) || !parse_field(f[2], fe[2], &s.accuracy, NULL) ||
                !parse_field(f[3], fe[3], &s.val_loss, &e1) || !parse_field(f[4], fe[4], &s.val_accuracy, &e2) ||
                e1 != e2 || !parse_field(f[5], fe[5], &s.seconds, NULL) ||
                (nf == 7 && !parse_field(f[6], fe[6], &s.lr, &e3))) {
                st = ct_set_error(CT_ERR_FORMAT, "%s:%d: a field is not a number", path, line);
                goto done;
            }
            s.epoch = (int)ep;
            s.has_val = !e1;
            if ((st = ct_history_append(&out, &s)) != CT_OK) goto done;
        }
        if (!nl) break;
        p = nl + 1;
    }
    if (line == 0) st = ct_set_error(CT_ERR_FORMAT, "%s: empty file, not a cltrain history", path);
done:
    free(buf);
    if (st != CT_OK) {
        ct_history_free(&out);
        return st;
    }
    ct_history_free(h);
    *h = out;
    return CT_OK;
}

/* ======================================================================== */
/* progress line                                                            */
/* ======================================================================== */

#define BAR_WIDTH 30

/* The width the progress line may use on terminal f: its columns (TIOCGWINSZ), else
 * $COLUMNS, else 80. */
static int terminal_width(FILE *f) {
    struct winsize ws;
    if (f && ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    const char *c = getenv("COLUMNS");
    char *end;
    long v = c ? strtol(c, &end, 10) : 0;
    if (c && *c && !*end && v >= 10 && v <= 10000) return (int)v;
    return 80;
}

void ct_progress_init(ct_progress *p, FILE *f, ct_progress_mode mode) {
    memset(p, 0, sizeof *p);
    p->f = f;
    p->quiet = mode == CT_PROGRESS_QUIET || !f;
    p->tty = mode == CT_PROGRESS_TTY || (mode == CT_PROGRESS_AUTO && f && isatty(fileno(f)));
    p->width = p->tty ? terminal_width(f) : 0;
}

/* Keras prints values as %.4f, or %.4e when they are tiny. */
static size_t fmt_value(char *b, size_t n, const char *name, double v) {
    return (size_t)snprintf(b, n, fabs(v) > 1e-3 || !isfinite(v) ? " - %s: %.4f" : " - %s: %.4e", name, v);
}

static void fmt_eta(char *b, size_t n, double eta) {
    long s = eta > 0 && eta < 1e9 ? (long)eta : 0;
    if (s > 3600)
        snprintf(b, n, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else if (s > 60)
        snprintf(b, n, "%ld:%02ld", s / 60, s % 60);
    else
        snprintf(b, n, "%lds", s);
}

void ct_progress_format_width(char *buf, size_t n, int width, int step, int steps, double loss,
                              double accuracy, int final, double eta, double seconds, int has_val,
                              double val_loss, double val_accuracy) {
    if (n == 0) return;
    /* the parts: "12/32", then " - ETA: 4s" or " - 5s 156ms/step", the metrics */
    char head[32], seg[5][64];
    int nseg = 0;
    int digits = snprintf(NULL, 0, "%d", steps);
    snprintf(head, sizeof head, "%*d/%d", digits, step, steps);
    if (final) {
        double per = steps > 0 ? seconds / steps : 0;
        char ps[32];
        if (per >= 1)
            snprintf(ps, sizeof ps, "%.0fs/step", per);
        else if (per >= 1e-3)
            snprintf(ps, sizeof ps, "%.0fms/step", per * 1e3);
        else
            snprintf(ps, sizeof ps, "%.0fus/step", per * 1e6);
        snprintf(seg[nseg++], sizeof seg[0], " - %.0fs %s", seconds, ps);
    } else {
        char e[32];
        fmt_eta(e, sizeof e, eta);
        snprintf(seg[nseg++], sizeof seg[0], " - ETA: %s", e);
    }
    fmt_value(seg[nseg++], sizeof seg[0], "loss", loss);
    fmt_value(seg[nseg++], sizeof seg[0], "accuracy", accuracy);
    if (final && has_val) {
        fmt_value(seg[nseg++], sizeof seg[0], "val_loss", val_loss);
        fmt_value(seg[nseg++], sizeof seg[0], "val_accuracy", val_accuracy);
    }
    /* The bar gives way first (30 down to 10 characters, then none) so that the count,
     * the time and loss and accuracy fit on one line; one column is left free, as a
     * terminal may wrap at its last one. */
    int limit = width > 0 ? width - 1 : INT_MAX / 2, bar_w = BAR_WIDTH;
    int core = (int)strlen(head);
    for (int i = 0; i < 3; i++) core += (int)strlen(seg[i]);
    if (width > 0) {
        bar_w = limit - core - 3 < BAR_WIDTH ? limit - core - 3 : BAR_WIDTH;
        if (bar_w < 10) bar_w = 0;
    }
    char bar[BAR_WIDTH + 1];
    int filled = steps > 0 ? (int)((long long)bar_w * step / steps) : 0;
    if (filled > bar_w) filled = bar_w;
    if (filled < 0) filled = 0;
    int i = 0;
    for (; i < filled - 1; i++) bar[i] = '=';
    if (filled > 0) bar[i++] = step < steps ? '>' : '=';
    for (; i < bar_w; i++) bar[i] = '.';
    bar[bar_w] = 0;
    /* the end-of-epoch line goes on over more lines (indented under the count) where it
     * does not fit; the line redrawn in place is cut at the width */
    size_t k = (size_t)snprintf(buf, n, bar_w ? "%s [%s]" : "%s", head, bar);
    int col = (int)(k < n ? k : n - 1), indent = (int)strlen(head);
    for (int j = 0; j < nseg && k < n; j++) {
        int len = (int)strlen(seg[j]);
        if (final && col + len > limit && col > indent) {
            k += (size_t)snprintf(buf + k, n - k, "\n%*s", indent, "");
            col = indent;
        }
        if (k < n) k += (size_t)snprintf(buf + k, n - k, "%s", seg[j]);
        col += len;
    }
    if (width <= 0) return;
    /* last guard: no line longer than the limit */
    char *r = buf, *w = buf;
    for (int c = 0; *r; r++) {
        if (*r == '\n') c = -1;
        else if (c >= limit) continue;
        *w++ = *r;
        c++;
    }
    *w = 0;
}

void ct_progress_format(char *buf, size_t n, int step, int steps, double loss, double accuracy, int final,
                        double eta, double seconds, int has_val, double val_loss, double val_accuracy) {
    ct_progress_format_width(buf, n, 0, step, steps, loss, accuracy, final, eta, seconds, has_val,
                             val_loss, val_accuracy);
}

void ct_progress_set_width(ct_progress *p, int columns) { p->width = columns > 0 ? columns : 0; }

void ct_progress_begin(ct_progress *p, int epoch, int epochs, int steps) {
    p->epoch = epoch;
    p->epochs = epochs;
    p->steps = steps;
    p->step = 0;
    p->loss = p->accuracy = NAN;
    p->t0 = ct_now();
    p->last_draw = -1;
    p->last_len = 0;
    if (p->quiet) return;
    fprintf(p->f, "Epoch %d/%d\n", epoch, epochs);
    fflush(p->f);
}

/* Draws line in place over the previous one (blanking what is left of it). */
static void redraw(ct_progress *p, const char *line, const char *end) {
    const char *nl = strchr(line, '\n');
    int len = nl ? (int)(nl - line) : (int)strlen(line);
    int pad = p->last_len > len ? p->last_len - len : 0;
    fprintf(p->f, "\r%.*s%*s%s%s", len, line, pad, "", line + len, end);
    fflush(p->f);
    p->last_len = len;
}

void ct_progress_update(ct_progress *p, int step, double loss, double accuracy) {
    p->step = step;
    p->loss = loss;
    p->accuracy = accuracy;
    if (p->quiet || !p->tty) return;
    double now = ct_now();
    if (step != 1 && step < p->steps && p->last_draw >= 0 && now - p->last_draw < 0.1) return;
    p->last_draw = now;
    double eta = step > 0 ? (now - p->t0) / step * (p->steps - step) : 0;
    char line[512];
    ct_progress_format_width(line, sizeof line, p->width, step, p->steps, loss, accuracy, 0, eta, 0, 0,
                             0, 0);
    redraw(p, line, "");
}

void ct_progress_end(ct_progress *p, int has_val, double val_loss, double val_accuracy, double seconds) {
    if (p->quiet) return;
    if (seconds < 0) seconds = ct_now() - p->t0;
    char line[512];
    ct_progress_format_width(line, sizeof line, p->width, p->step, p->steps, p->loss, p->accuracy, 1, 0,
                             seconds, has_val, val_loss, val_accuracy);
    if (p->tty)
        redraw(p, line, "\n");
    else {
        fprintf(p->f, "%s\n", line);
        fflush(p->f);
    }
    p->last_len = 0;
}
