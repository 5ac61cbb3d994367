/* History CSV and SVG plot, and the Keras-style progress line (see report.h). */
#include "report/report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
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
/* SVG plot                                                                 */
/* ======================================================================== */

#define SVG_W 720
#define PANEL_H 340
#define M_RIGHT 24
#define M_TOP 44
#define M_BOTTOM 58
#define MARKERS_MAX 40 /* dots on the points up to this many epochs */
#define COLOR_TRAIN "#1f77b4"
#define COLOR_VAL "#ff7f0e"
#define FONT "DejaVu Sans, Helvetica, Arial, sans-serif"

typedef struct {
    double lo, hi, step; /* axis range and tick spacing */
} axis;

/* Tick spacing of 1, 2 or 5 x 10^k giving about `want` intervals over span. */
static double nice_step(double span, int want) {
    double raw = span / want, mag = pow(10, floor(log10(raw))), r = raw / mag;
    return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
}

static axis y_axis(const double *a, const double *b, int n) {
    double mn = INFINITY, mx = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (isfinite(a[i])) mn = fmin(mn, a[i]), mx = fmax(mx, a[i]);
        if (b && isfinite(b[i])) mn = fmin(mn, b[i]), mx = fmax(mx, b[i]);
    }
    if (!isfinite(mn)) mn = 0, mx = 1;
    if (mx - mn < 1e-9 * fmax(1, fabs(mx))) { /* flat: one epoch or a constant */
        double pad = fmax(0.05 * fabs(mx), 0.05);
        mn -= pad;
        mx += pad;
    }
    axis ax;
    ax.step = nice_step(mx - mn, 5);
    ax.lo = floor(mn / ax.step + 1e-9) * ax.step;
    ax.hi = ceil(mx / ax.step - 1e-9) * ax.step;
    return ax;
}

static axis x_axis(int n) {
    axis ax;
    if (n <= 1) {
        ax.lo = 0.5, ax.hi = 1.5, ax.step = 1;
        return ax;
    }
    ax.step = fmax(1, nice_step(n - 1, 8));
    double pad = 0.03 * (n - 1);
    ax.lo = 1 - pad;
    ax.hi = n + pad;
    return ax;
}

static int decimals_for(double step) {
    int d = (int)-floor(log10(step) + 1e-9);
    return d < 0 ? 0 : d > 8 ? 8 : d;
}

typedef struct {
    double x0, y0, w, h; /* plot area in SVG units */
    axis xa, ya;
} panel;

static double px(const panel *p, double x) { return p->x0 + (x - p->xa.lo) / (p->xa.hi - p->xa.lo) * p->w; }
static double py(const panel *p, double y) { return p->y0 + p->h - (y - p->ya.lo) / (p->ya.hi - p->ya.lo) * p->h; }

/* A series as polylines broken at non-finite values, with dots when there are few points. */
static void svg_series(FILE *f, const panel *p, const double *v, int n, const char *color, int dashed) {
    int in = 0;
    for (int i = 0; i <= n; i++) {
        int ok = i < n && isfinite(v[i]);
        if (ok && !in) {
            fprintf(f, "  <polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", color,
                    dashed ? " stroke-dasharray=\"6 3\"" : "");
            in = 1;
        }
        if (ok) fprintf(f, "%.2f,%.2f ", px(p, i + 1), py(p, v[i]));
        if (!ok && in) {
            fprintf(f, "\"/>\n");
            in = 0;
        }
    }
    if (n > MARKERS_MAX) return;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i]))
            fprintf(f, "  <circle cx=\"%.2f\" cy=\"%.2f\" r=\"3.5\" fill=\"%s\"/>\n", px(p, i + 1), py(p, v[i]),
                    color);
}

/* How much of the series' lines (sampled 8 times per segment) falls in the box (x, y, w, h),
 * with a margin. */
static int points_in(const panel *p, const double *a, const double *b, int n, double x, double y, double w,
                     double h) {
    int k = 0;
    for (int s = 0; s < 2; s++) {
        const double *v = s ? b : a;
        for (int i = 0; v && i < n; i++) {
            if (!isfinite(v[i])) continue;
            int last = i + 1 >= n || !isfinite(v[i + 1]);
            for (int t = 0; t < (last ? 1 : 8); t++) {
                double X = px(p, i + 1 + t / 8.0);
                double Y = py(p, last ? v[i] : v[i] + (v[i + 1] - v[i]) * t / 8.0);
                k += X >= x - 6 && X <= x + w + 6 && Y >= y - 6 && Y <= y + h + 6;
            }
        }
    }
    return k;
}

/* Tick labels of a y axis (exponent form for huge values) and their count; returns the
 * widest label's length. */
static int y_ticks(const axis *ya, char labels[][32], int *ny) {
    int yd = decimals_for(ya->step), n = (int)floor((ya->hi - ya->lo) / ya->step + 1e-6) + 1;
    if (!(n >= 1 && n <= 50)) n = 1; /* defensive: absurd ranges get one tick */
    int big = fmax(fabs(ya->lo), fabs(ya->hi)) >= 1e6, widest = 1;
    for (int i = 0; i < n; i++) {
        double y = ya->lo + i * ya->step;
        if (fabs(y) < ya->step * 1e-6) y = 0; /* no "-0.0" */
        int w = big ? snprintf(labels[i], 32, "%.3g", y) : snprintf(labels[i], 32, "%.*f", yd, y);
        if (w > widest) widest = w;
    }
    *ny = n;
    return widest;
}

/* Left edge of the plot areas: room for the widest tick label of either panel. */
static double plot_left(int widest) { return 38 + 7.2 * widest; }

static void svg_panel(FILE *f, double top, double x0, const axis *ya, const char *title, const char *ylabel,
                      const double *train, const double *val, int n, int legend_low, const char *what) {
    panel p;
    p.xa = x_axis(n);
    p.ya = *ya;
    char labels[50][32];
    int ny;
    y_ticks(ya, labels, &ny);
    p.x0 = x0;
    p.y0 = top + M_TOP;
    p.w = SVG_W - p.x0 - M_RIGHT;
    p.h = PANEL_H - M_TOP - M_BOTTOM;

    fprintf(f, "<g>\n  <text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">%s</text>\n",
            p.x0 + p.w / 2, top + 26, title);
    /* grid and ticks */
    for (int i = 0; i < ny; i++) {
        double y = p.ya.lo + i * p.ya.step, yy = py(&p, y);
        fprintf(f, "  <line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#e3e3e3\"/>\n", p.x0, yy,
                p.x0 + p.w, yy);
        fprintf(f, "  <line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#000\"/>\n", p.x0 - 5, yy, p.x0,
                yy);
        fprintf(f, "  <text x=\"%.2f\" y=\"%.2f\" text-anchor=\"end\" font-size=\"12\">%s</text>\n", p.x0 - 8,
                yy + 4, labels[i]);
    }
    double first = ceil(p.xa.lo / p.xa.step - 1e-9) * p.xa.step;
    if (first < 1) first = p.xa.step == 1 ? 1 : p.xa.step;
    for (int i = 0; i < 50 && first + i * p.xa.step <= p.xa.hi + 1e-9; i++) {
        double x = first + i * p.xa.step;
        double xx = px(&p, x);
        fprintf(f, "  <line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#e3e3e3\"/>\n", xx, p.y0, xx,
                p.y0 + p.h);
        fprintf(f, "  <line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#000\"/>\n", xx, p.y0 + p.h, xx,
                p.y0 + p.h + 5);
        fprintf(f, "  <text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" font-size=\"12\">%.0f</text>\n", xx,
                p.y0 + p.h + 19, x);
    }
    fprintf(f, "  <rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"none\" stroke=\"#000\"/>\n", p.x0,
            p.y0, p.w, p.h);
    fprintf(f, "  <text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" font-size=\"13\">Epoch</text>\n", p.x0 + p.w / 2,
            p.y0 + p.h + 40);
    fprintf(f, "  <text transform=\"translate(%.2f,%.2f) rotate(-90)\" text-anchor=\"middle\" font-size=\"13\">%s</text>\n",
            20.0, p.y0 + p.h / 2, ylabel);
    /* data, clipped to the plot area (with room for the dots on its edges) */
    fprintf(f, "  <defs><clipPath id=\"clip%s\"><rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"/></clipPath></defs>\n",
            what, p.x0 - 5, p.y0 - 5, p.w + 10, p.h + 10);
    fprintf(f, "  <g clip-path=\"url(#clip%s)\">\n", what);
    svg_series(f, &p, train, n, COLOR_TRAIN, 0);
    if (val) svg_series(f, &p, val, n, COLOR_VAL, 0);
    fprintf(f, "  </g>\n");
    /* legend in the corner that hides the fewest points; ties go to the usual place:
     * bottom right for accuracy (it rises), top right for loss (it falls) */
    int rows = val ? 2 : 1;
    double lw = 190, lh = 10 + 20 * rows;
    double right = p.x0 + p.w - lw - 10, left = p.x0 + 10, top_y = p.y0 + 10, bottom_y = p.y0 + p.h - lh - 10;
    double cx[4] = {right, right, left, left};
    double cy[4] = {legend_low ? bottom_y : top_y, legend_low ? top_y : bottom_y, top_y, bottom_y};
    int best = 0, best_hidden = -1;
    for (int c = 0; c < 4; c++) {
        int hidden = points_in(&p, train, val, n, cx[c], cy[c], lw, lh);
        if (best_hidden < 0 || hidden < best_hidden) best = c, best_hidden = hidden;
    }
    double lx = cx[best], ly = cy[best];
    fprintf(f, "  <rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"#fff\" fill-opacity=\"0.85\" stroke=\"#bbb\" rx=\"3\"/>\n",
            lx, ly, lw, lh);
    for (int r = 0; r < rows; r++) {
        double yy = ly + 15 + 20 * r;
        const char *c = r ? COLOR_VAL : COLOR_TRAIN;
        fprintf(f, "  <line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" stroke-width=\"2\"/>\n",
                lx + 10, yy, lx + 38, yy, c);
        if (n <= MARKERS_MAX)
            fprintf(f, "  <circle cx=\"%.2f\" cy=\"%.2f\" r=\"3.5\" fill=\"%s\"/>\n", lx + 24, yy, c);
        fprintf(f, "  <text x=\"%.2f\" y=\"%.2f\" font-size=\"12\">%s %s</text>\n", lx + 46, yy + 4,
                r ? "Validation" : "Training", what);
    }
    fprintf(f, "</g>\n");
}

static ct_status write_svg(FILE *f, void *ctx) {
    const ct_history *h = ctx;
    int n = h->n, any_val = 0;
    double *v = malloc(sizeof(double) * 4 * (size_t)(n ? n : 1));
    if (!v) return ct_set_error(CT_ERR_MEMORY, "history plot: out of host memory");
    double *acc = v, *loss = v + n, *vacc = v + 2 * n, *vloss = v + 3 * n;
    for (int i = 0; i < n; i++) {
        const ct_epoch_stats *s = &h->e[i];
        acc[i] = s->accuracy;
        loss[i] = s->loss;
        vacc[i] = s->has_val ? s->val_accuracy : NAN;
        vloss[i] = s->has_val ? s->val_loss : NAN;
        any_val |= s->has_val;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"%s\">\n",
            SVG_W, 2 * PANEL_H, SVG_W, 2 * PANEL_H, FONT);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n");
    axis ya_acc = y_axis(acc, any_val ? vacc : NULL, n), ya_loss = y_axis(loss, any_val ? vloss : NULL, n);
    char labels[50][32];
    int ny, w1 = y_ticks(&ya_acc, labels, &ny), w2 = y_ticks(&ya_loss, labels, &ny);
    double x0 = plot_left(w1 > w2 ? w1 : w2); /* same for both, so epochs line up */
    svg_panel(f, 0, x0, &ya_acc, any_val ? "Training and validation accuracy" : "Training accuracy", "Accuracy",
              acc, any_val ? vacc : NULL, n, 1, "accuracy");
    svg_panel(f, PANEL_H, x0, &ya_loss, any_val ? "Training and validation loss" : "Training loss", "Loss", loss,
              any_val ? vloss : NULL, n, 0, "loss");
    fprintf(f, "</svg>\n");
    free(v);
    return CT_OK;
}

ct_status ct_history_write_svg(const ct_history *h, const char *path) {
    return ct_write_atomic(path, write_svg, (void *)h);
}

/* ======================================================================== */
/* progress line                                                            */
/* ======================================================================== */

#define BAR_WIDTH 30

void ct_progress_init(ct_progress *p, FILE *f, ct_progress_mode mode) {
    memset(p, 0, sizeof *p);
    p->f = f;
    p->quiet = mode == CT_PROGRESS_QUIET || !f;
    p->tty = mode == CT_PROGRESS_TTY || (mode == CT_PROGRESS_AUTO && f && isatty(fileno(f)));
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

void ct_progress_format(char *buf, size_t n, int step, int steps, double loss, double accuracy, int final,
                        double eta, double seconds, int has_val, double val_loss, double val_accuracy) {
    char bar[BAR_WIDTH + 1];
    int filled = steps > 0 ? (int)((long long)BAR_WIDTH * step / steps) : 0;
    if (filled > BAR_WIDTH) filled = BAR_WIDTH;
    if (filled < 0) filled = 0;
    int i = 0;
    for (; i < filled - 1; i++) bar[i] = '=';
    if (filled > 0) bar[i++] = step < steps ? '>' : '=';
    for (; i < BAR_WIDTH; i++) bar[i] = '.';
    bar[BAR_WIDTH] = 0;
    int digits = snprintf(NULL, 0, "%d", steps);
    size_t k = (size_t)snprintf(buf, n, "%*d/%d [%s]", digits, step, steps, bar);
    if (k >= n) return;
    if (final) {
        double per = steps > 0 ? seconds / steps : 0;
        char ps[32];
        if (per >= 1)
            snprintf(ps, sizeof ps, "%.0fs/step", per);
        else if (per >= 1e-3)
            snprintf(ps, sizeof ps, "%.0fms/step", per * 1e3);
        else
            snprintf(ps, sizeof ps, "%.0fus/step", per * 1e6);
        k += (size_t)snprintf(buf + k, n - k, " - %.0fs %s", seconds, ps);
    } else {
        char e[32];
        fmt_eta(e, sizeof e, eta);
        k += (size_t)snprintf(buf + k, n - k, " - ETA: %s", e);
    }
    if (k < n) k += fmt_value(buf + k, n - k, "loss", loss);
    if (k < n) k += fmt_value(buf + k, n - k, "accuracy", accuracy);
    if (final && has_val) {
        if (k < n) k += fmt_value(buf + k, n - k, "val_loss", val_loss);
        if (k < n) fmt_value(buf + k, n - k, "val_accuracy", val_accuracy);
    }
}

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

/* Draws line in place over the previous one. */
static void redraw(ct_progress *p, const char *line, const char *end) {
    int len = (int)strlen(line);
    int pad = p->last_len > len ? p->last_len - len : 0;
    fprintf(p->f, "\r%s%*s%s", line, pad, "", end);
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
    ct_progress_format(line, sizeof line, step, p->steps, loss, accuracy, 0, eta, 0, 0, 0, 0);
    redraw(p, line, "");
}

void ct_progress_end(ct_progress *p, int has_val, double val_loss, double val_accuracy, double seconds) {
    if (p->quiet) return;
    if (seconds < 0) seconds = ct_now() - p->t0;
    char line[512];
    ct_progress_format(line, sizeof line, p->step, p->steps, p->loss, p->accuracy, 1, 0, seconds, has_val,
                       val_loss, val_accuracy);
    if (p->tty)
        redraw(p, line, "\n");
    else {
        fprintf(p->f, "%s\n", line);
        fflush(p->f);
    }
    p->last_len = 0;
}
