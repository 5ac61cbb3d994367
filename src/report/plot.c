/* The history plot (see report.h): accuracy above loss, train vs validation. One layout
 * drawn on a small canvas with two back ends: SVG text written here (always there, the
 * same with or without cairo, small and greppable) and cairo for PNG and PDF (when built
 * with it, -Dcairo). */
#include "report/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/error.h"
#include "io/fileutil.h"

#ifdef CT_HAVE_CAIRO
#include <cairo-pdf.h>
#include <cairo.h>
#endif

#define SVG_W 720
#define PANEL_H 340
#define M_RIGHT 24
#define M_TOP 44
#define M_BOTTOM 58
#define MARKERS_MAX 40 /* dots on the points up to this many epochs */
#define COLOR_TRAIN "#1f77b4"
#define COLOR_VAL "#ff7f0e"
#define FONT "DejaVu Sans, Helvetica, Arial, sans-serif"
#define CAIRO_FONT "DejaVu Sans"
#define PNG_SCALE 2 /* PNG pixels per plot unit */

/* ---- canvas: SVG elements, or the same drawn with cairo ------------------------- */

typedef struct canvas {
    FILE *f; /* SVG */
#ifdef CT_HAVE_CAIRO
    cairo_t *cr; /* NULL: SVG */
#endif
} canvas;

#ifdef CT_HAVE_CAIRO
#define CAIRO(c) ((c)->cr)
/* "#rrggbb" or "#rgb" */
static void cr_color(cairo_t *cr, const char *hex, double alpha) {
    unsigned v = (unsigned)strtoul(hex + 1, NULL, 16);
    double r, g, b;
    if (strlen(hex) == 4)
        r = (v >> 8 & 15) / 15.0, g = (v >> 4 & 15) / 15.0, b = (v & 15) / 15.0;
    else
        r = (v >> 16 & 255) / 255.0, g = (v >> 8 & 255) / 255.0, b = (v & 255) / 255.0;
    cairo_set_source_rgba(cr, r, g, b, alpha);
}
#else
#define CAIRO(c) 0
#endif

typedef enum { A_START, A_MIDDLE, A_END } anchor;

static void cv_text(canvas *c, double x, double y, anchor a, int size, int bold, int vertical,
                    const char *s) {
    static const char *names[] = {"start", "middle", "end"};
#ifdef CT_HAVE_CAIRO
    if (CAIRO(c)) {
        cairo_t *cr = c->cr;
        cairo_save(cr);
        cairo_select_font_face(cr, CAIRO_FONT, CAIRO_FONT_SLANT_NORMAL,
                               bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
        cairo_set_font_size(cr, size);
        cairo_text_extents_t e;
        cairo_text_extents(cr, s, &e);
        cairo_translate(cr, x, y);
        if (vertical) cairo_rotate(cr, -M_PI / 2);
        cairo_move_to(cr, a == A_START ? 0 : a == A_MIDDLE ? -e.x_advance / 2 : -e.x_advance, 0);
        cr_color(cr, "#000", 1);
        cairo_show_text(cr, s);
        cairo_restore(cr);
        return;
    }
#endif
    if (vertical)
        fprintf(c->f,
                "  <text transform=\"translate(%.2f,%.2f) rotate(-90)\" text-anchor=\"%s\" "
                "font-size=\"%d\">%s</text>\n",
                x, y, names[a], size, s);
    else
        fprintf(c->f,
                "  <text x=\"%.2f\" y=\"%.2f\" text-anchor=\"%s\" font-size=\"%d\"%s>%s</text>\n",
                x, y, names[a], size, bold ? " font-weight=\"bold\"" : "", s);
}

static void cv_line(canvas *c, double x1, double y1, double x2, double y2, const char *color,
                    int width) {
#ifdef CT_HAVE_CAIRO
    if (CAIRO(c)) {
        cairo_move_to(c->cr, x1, y1);
        cairo_line_to(c->cr, x2, y2);
        cr_color(c->cr, color, 1);
        cairo_set_line_width(c->cr, width);
        cairo_stroke(c->cr);
        return;
    }
#endif
    fprintf(c->f, "  <line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\"", x1, y1,
            x2, y2, color);
    if (width != 1) fprintf(c->f, " stroke-width=\"%d\"", width);
    fprintf(c->f, "/>\n");
}

/* A box: fill (NULL: none) at opacity, stroke (NULL: none), corner radius rx. */
static void cv_rect(canvas *c, double x, double y, double w, double h, const char *fill,
                    double opacity, const char *stroke, double rx) {
#ifdef CT_HAVE_CAIRO
    if (CAIRO(c)) {
        cairo_t *cr = c->cr;
        cairo_new_sub_path(cr);
        if (rx > 0) {
            cairo_arc(cr, x + w - rx, y + rx, rx, -M_PI / 2, 0);
            cairo_arc(cr, x + w - rx, y + h - rx, rx, 0, M_PI / 2);
            cairo_arc(cr, x + rx, y + h - rx, rx, M_PI / 2, M_PI);
            cairo_arc(cr, x + rx, y + rx, rx, M_PI, 3 * M_PI / 2);
            cairo_close_path(cr);
        } else {
            cairo_rectangle(cr, x, y, w, h);
        }
        if (fill) {
            cr_color(cr, fill, opacity);
            stroke ? cairo_fill_preserve(cr) : cairo_fill(cr);
        }
        if (stroke) {
            cr_color(cr, stroke, 1);
            cairo_set_line_width(cr, 1);
            cairo_stroke(cr);
        }
        cairo_new_path(cr);
        return;
    }
#endif
    fprintf(c->f, "  <rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"", x, y,
            w, h, fill ? fill : "none");
    if (fill && opacity < 1) fprintf(c->f, " fill-opacity=\"%.2f\"", opacity);
    if (stroke) fprintf(c->f, " stroke=\"%s\"", stroke);
    if (rx > 0) fprintf(c->f, " rx=\"%.0f\"", rx);
    fprintf(c->f, "/>\n");
}

/* n points xy[2i], xy[2i+1] joined by a line 2 wide. */
static void cv_polyline(canvas *c, const double *xy, int n, const char *color, int dashed) {
#ifdef CT_HAVE_CAIRO
    if (CAIRO(c)) {
        cairo_t *cr = c->cr;
        for (int i = 0; i < n; i++)
            (i ? cairo_line_to : cairo_move_to)(cr, xy[2 * i], xy[2 * i + 1]);
        static const double dash[] = {6, 3};
        cairo_set_dash(cr, dash, dashed ? 2 : 0, 0);
        cr_color(cr, color, 1);
        cairo_set_line_width(cr, 2);
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
        cairo_stroke(cr);
        cairo_set_dash(cr, dash, 0, 0);
        return;
    }
#endif
    fprintf(c->f, "  <polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", color,
            dashed ? " stroke-dasharray=\"6 3\"" : "");
    for (int i = 0; i < n; i++)
        fprintf(c->f, "%.2f,%.2f ", xy[2 * i], xy[2 * i + 1]);
    fprintf(c->f, "\"/>\n");
}

static void cv_dot(canvas *c, double x, double y, const char *color) {
#ifdef CT_HAVE_CAIRO
    if (CAIRO(c)) {
        cairo_new_sub_path(c->cr);
        cairo_arc(c->cr, x, y, 3.5, 0, 2 * M_PI);
        cr_color(c->cr, color, 1);
        cairo_fill(c->cr);
        return;
    }
#endif
    fprintf(c->f, "  <circle cx=\"%.2f\" cy=\"%.2f\" r=\"3.5\" fill=\"%s\"/>\n", x, y, color);
}

/* What is drawn until cv_clip_end is cut to the box (id: a name unique in the file). */
static void cv_clip_begin(canvas *c, const char *id, double x, double y, double w, double h) {
#ifdef CT_HAVE_CAIRO
    if (CAIRO(c)) {
        cairo_save(c->cr);
        cairo_rectangle(c->cr, x, y, w, h);
        cairo_clip(c->cr);
        return;
    }
#endif
    fprintf(c->f,
            "  <defs><clipPath id=\"clip%s\"><rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" "
            "height=\"%.2f\"/></clipPath></defs>\n",
            id, x, y, w, h);
    fprintf(c->f, "  <g clip-path=\"url(#clip%s)\">\n", id);
}

static void cv_clip_end(canvas *c) {
#ifdef CT_HAVE_CAIRO
    if (CAIRO(c)) {
        cairo_restore(c->cr);
        return;
    }
#endif
    fprintf(c->f, "  </g>\n");
}

/* SVG groups (nothing for cairo). */
static void cv_group(canvas *c, int begin) {
    if (!CAIRO(c)) fputs(begin ? "<g>\n" : "</g>\n", c->f);
}

/* ---- layout ------------------------------------------------------------------------ */

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
    double x0, y0, w, h; /* plot area in plot units */
    axis xa, ya;
} panel;

static double px(const panel *p, double x) {
    return p->x0 + (x - p->xa.lo) / (p->xa.hi - p->xa.lo) * p->w;
}
static double py(const panel *p, double y) {
    return p->y0 + p->h - (y - p->ya.lo) / (p->ya.hi - p->ya.lo) * p->h;
}

/* A series as lines broken at non-finite values, with dots when there are few points.
 * xy: room for 2 n coordinates. */
static void draw_series(canvas *c, const panel *p, const double *v, int n, const char *color,
                        int dashed, double *xy) {
    int k = 0;
    for (int i = 0; i <= n; i++) {
        if (i < n && isfinite(v[i])) {
            xy[2 * k] = px(p, i + 1);
            xy[2 * k + 1] = py(p, v[i]);
            k++;
        } else if (k) {
            cv_polyline(c, xy, k, color, dashed);
            k = 0;
        }
    }
    if (n > MARKERS_MAX) return;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) cv_dot(c, px(p, i + 1), py(p, v[i]), color);
}

/* How much of the series' lines (sampled 8 times per segment) falls in the box (x, y, w, h),
 * with a margin. */
static int points_in(const panel *p, const double *a, const double *b, int n, double x, double y,
                     double w, double h) {
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
static double plot_left(int widest) {
    return 38 + 7.2 * widest;
}

static void draw_panel(canvas *c, double top, double x0, const axis *ya, const char *title,
                       const char *ylabel, const double *train, const double *val, int n,
                       int legend_low, const char *what, double *xy) {
    panel p;
    p.xa = x_axis(n);
    p.ya = *ya;
    char labels[50][32], num[32];
    int ny;
    y_ticks(ya, labels, &ny);
    p.x0 = x0;
    p.y0 = top + M_TOP;
    p.w = SVG_W - p.x0 - M_RIGHT;
    p.h = PANEL_H - M_TOP - M_BOTTOM;

    cv_group(c, 1);
    cv_text(c, p.x0 + p.w / 2, top + 26, A_MIDDLE, 16, 1, 0, title);
    /* grid and ticks */
    for (int i = 0; i < ny; i++) {
        double y = p.ya.lo + i * p.ya.step, yy = py(&p, y);
        cv_line(c, p.x0, yy, p.x0 + p.w, yy, "#e3e3e3", 1);
        cv_line(c, p.x0 - 5, yy, p.x0, yy, "#000", 1);
        cv_text(c, p.x0 - 8, yy + 4, A_END, 12, 0, 0, labels[i]);
    }
    double first = ceil(p.xa.lo / p.xa.step - 1e-9) * p.xa.step;
    if (first < 1) first = p.xa.step == 1 ? 1 : p.xa.step;
    for (int i = 0; i < 50 && first + i * p.xa.step <= p.xa.hi + 1e-9; i++) {
        double x = first + i * p.xa.step;
        double xx = px(&p, x);
        cv_line(c, xx, p.y0, xx, p.y0 + p.h, "#e3e3e3", 1);
        cv_line(c, xx, p.y0 + p.h, xx, p.y0 + p.h + 5, "#000", 1);
        snprintf(num, sizeof num, "%.0f", x);
        cv_text(c, xx, p.y0 + p.h + 19, A_MIDDLE, 12, 0, 0, num);
    }
    cv_rect(c, p.x0, p.y0, p.w, p.h, NULL, 1, "#000", 0);
    cv_text(c, p.x0 + p.w / 2, p.y0 + p.h + 40, A_MIDDLE, 13, 0, 0, "Epoch");
    cv_text(c, 20.0, p.y0 + p.h / 2, A_MIDDLE, 13, 0, 1, ylabel);
    /* data, clipped to the plot area (with room for the dots on its edges) */
    cv_clip_begin(c, what, p.x0 - 5, p.y0 - 5, p.w + 10, p.h + 10);
    draw_series(c, &p, train, n, COLOR_TRAIN, 0, xy);
    if (val) draw_series(c, &p, val, n, COLOR_VAL, 0, xy);
    cv_clip_end(c);
    /* legend in the corner that hides the fewest points; ties go to the usual place:
     * bottom right for accuracy (it rises), top right for loss (it falls) */
    int rows = val ? 2 : 1;
    double lw = 190, lh = 10 + 20 * rows;
    double right = p.x0 + p.w - lw - 10, left = p.x0 + 10, top_y = p.y0 + 10,
           bottom_y = p.y0 + p.h - lh - 10;
    double cx[4] = {right, right, left, left};
    double cy[4] = {legend_low ? bottom_y : top_y, legend_low ? top_y : bottom_y, top_y, bottom_y};
    int best = 0, best_hidden = -1;
    for (int k = 0; k < 4; k++) {
        int hidden = points_in(&p, train, val, n, cx[k], cy[k], lw, lh);
        if (best_hidden < 0 || hidden < best_hidden) best = k, best_hidden = hidden;
    }
    double lx = cx[best], ly = cy[best];
    cv_rect(c, lx, ly, lw, lh, "#fff", 0.85, "#bbb", 3);
    for (int r = 0; r < rows; r++) {
        double yy = ly + 15 + 20 * r;
        const char *col = r ? COLOR_VAL : COLOR_TRAIN;
        cv_line(c, lx + 10, yy, lx + 38, yy, col, 2);
        if (n <= MARKERS_MAX) cv_dot(c, lx + 24, yy, col);
        char name[64];
        snprintf(name, sizeof name, "%s %s", r ? "Validation" : "Training", what);
        cv_text(c, lx + 46, yy + 4, A_START, 12, 0, 0, name);
    }
    cv_group(c, 0);
}

/* The whole figure (SVG_W x 2 PANEL_H units) on c. */
static ct_status draw_plot(canvas *c, const ct_history *h) {
    int n = h->n, any_val = 0;
    double *v = malloc(sizeof(double) * 6 * (size_t)(n ? n : 1));
    if (!v) return ct_set_error(CT_ERR_MEMORY, "history plot: out of host memory");
    double *acc = v, *loss = v + n, *vacc = v + 2 * n, *vloss = v + 3 * n, *xy = v + 4 * n;
    for (int i = 0; i < n; i++) {
        const ct_epoch_stats *s = &h->e[i];
        acc[i] = s->accuracy;
        loss[i] = s->loss;
        vacc[i] = s->has_val ? s->val_accuracy : NAN;
        vloss[i] = s->has_val ? s->val_loss : NAN;
        any_val |= s->has_val;
    }
    axis ya_acc = y_axis(acc, any_val ? vacc : NULL, n),
         ya_loss = y_axis(loss, any_val ? vloss : NULL, n);
    char labels[50][32];
    int ny, w1 = y_ticks(&ya_acc, labels, &ny), w2 = y_ticks(&ya_loss, labels, &ny);
    double x0 = plot_left(w1 > w2 ? w1 : w2); /* same for both, so epochs line up */
    draw_panel(c, 0, x0, &ya_acc,
               any_val ? "Training and validation accuracy" : "Training accuracy", "Accuracy", acc,
               any_val ? vacc : NULL, n, 1, "accuracy", xy);
    draw_panel(c, PANEL_H, x0, &ya_loss, any_val ? "Training and validation loss" : "Training loss",
               "Loss", loss, any_val ? vloss : NULL, n, 0, "loss", xy);
    free(v);
    return CT_OK;
}

static ct_status write_svg(FILE *f, void *ctx) {
    canvas c;
    memset(&c, 0, sizeof c);
    c.f = f;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d "
            "%d\" "
            "font-family=\"%s\">\n",
            SVG_W, 2 * PANEL_H, SVG_W, 2 * PANEL_H, FONT);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n");
    ct_status s = draw_plot(&c, ctx);
    fprintf(f, "</svg>\n");
    return s;
}

ct_status ct_history_write_svg(const ct_history *h, const char *path) {
    return ct_write_atomic(path, write_svg, (void *)h);
}

/* ---- PNG and PDF with cairo ---------------------------------------------------------- */

typedef enum { PLOT_UNKNOWN, PLOT_SVG, PLOT_PNG, PLOT_PDF } plot_type;

/* By the extension; a name without one gets SVG, as every plot did before PNG and PDF. */
static plot_type plot_type_of(const char *path) {
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash) || dot == (slash ? slash + 1 : path)) return PLOT_SVG;
    return !strcasecmp(dot, ".svg")   ? PLOT_SVG
           : !strcasecmp(dot, ".png") ? PLOT_PNG
           : !strcasecmp(dot, ".pdf") ? PLOT_PDF
                                      : PLOT_UNKNOWN;
}

int ct_plot_has_cairo(void) {
#ifdef CT_HAVE_CAIRO
    return 1;
#else
    return 0;
#endif
}

ct_status ct_plot_check(const char *path) {
    plot_type t = plot_type_of(path);
    if (t == PLOT_UNKNOWN)
        return ct_set_error(CT_ERR_ARG,
                            "%s: unknown plot type; the name must end in .svg, .png or .pdf "
                            "(no extension: SVG)",
                            path);
    if (t != PLOT_SVG && !ct_plot_has_cairo())
        return ct_set_error(
            CT_ERR_ARG,
            "%s: PNG and PDF plots need cairo, which this build lacks "
            "(install the Debian package libcairo2-dev and rebuild; .svg works as is)",
            path);
    return CT_OK;
}

#ifdef CT_HAVE_CAIRO
static cairo_status_t to_file(void *f, const unsigned char *data, unsigned int len) {
    return fwrite(data, 1, len, f) == len ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

typedef struct cairo_job {
    const ct_history *h;
    plot_type type;
} cairo_job;

static ct_status write_cairo(FILE *f, void *ctx) {
    const cairo_job *j = ctx;
    cairo_surface_t *sf = j->type == PLOT_PDF
                              ? cairo_pdf_surface_create_for_stream(to_file, f, SVG_W, 2 * PANEL_H)
                              : cairo_image_surface_create(CAIRO_FORMAT_RGB24, SVG_W * PNG_SCALE,
                                                           2 * PANEL_H * PNG_SCALE);
    canvas c;
    memset(&c, 0, sizeof c);
    c.cr = cairo_create(sf);
    if (j->type == PLOT_PNG) cairo_scale(c.cr, PNG_SCALE, PNG_SCALE);
    cr_color(c.cr, "#fff", 1);
    cairo_paint(c.cr);
    ct_status s = draw_plot(&c, j->h);
    cairo_status_t cs = cairo_status(c.cr);
    cairo_destroy(c.cr);
    if (s == CT_OK && cs == CAIRO_STATUS_SUCCESS && j->type == PLOT_PNG)
        cs = cairo_surface_write_to_png_stream(sf, to_file, f);
    cairo_surface_finish(sf); /* the PDF is written here */
    if (cs == CAIRO_STATUS_SUCCESS) cs = cairo_surface_status(sf);
    cairo_surface_destroy(sf);
    if (s == CT_OK && cs != CAIRO_STATUS_SUCCESS)
        s = ct_set_error(CT_ERR_IO, "history plot: cairo: %s", cairo_status_to_string(cs));
    return s;
}
#endif

ct_status ct_history_write_plot(const ct_history *h, const char *path) {
    CT_TRY(ct_plot_check(path));
    plot_type t = plot_type_of(path);
    if (t == PLOT_SVG) return ct_history_write_svg(h, path);
#ifdef CT_HAVE_CAIRO
    cairo_job j = {h, t};
    return ct_write_atomic(path, write_cairo, &j);
#else
    return ct_set_error(CT_ERR_ARG, "%s: no cairo", path); /* not reached: ct_plot_check */
#endif
}
