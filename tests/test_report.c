/* report: history CSV (exact round trip, empty validation fields), SVG plot (1 and 100
 * epochs, without validation, with NaN), progress line format and modes. */
#include "ctest.h"
#include "io/fileutil.h"
#include "report/report.h"
#include "tmpdir.h"

static char dir[512];

static char *slurp(const char *path) {
    unsigned char *b = NULL;
    size_t n;
    if (ct_read_file(path, 1 << 24, &b, &n) != CT_OK) return NULL;
    return (char *)b;
}

static int count(const char *s, const char *part) {
    int k = 0;
    for (const char *p = s; (p = strstr(p, part)); p++) k++;
    return k;
}

/* Everything written to f so far. */
static void read_back(FILE *f, char *out, size_t n) {
    rewind(f);
    size_t k = fread(out, 1, n - 1, f);
    out[k] = 0;
    fclose(f);
}

static ct_history make_history(int n, int with_val) {
    ct_history h = {0};
    for (int i = 1; i <= n; i++) {
        ct_epoch_stats s = {i, 0.7 * exp(-0.03 * i) + 0.01 * sin(i), 0.5 + 0.4 * (1 - exp(-0.05 * i)),
                            0.72 * exp(-0.02 * i) + 0.02 * cos(i), 0.5 + 0.3 * (1 - exp(-0.04 * i)),
                            1.25 + i * 1e-3, with_val, 1e-3 * pow(0.9, i)};
        ct_history_append(&h, &s);
    }
    return h;
}

static void test_csv(void) {
    char p1[1024], p2[1024];
    snprintf(p1, sizeof p1, "%s/h.csv", dir);
    snprintf(p2, sizeof p2, "%s/h2.csv", dir);
    ct_history h = {0};
    ct_epoch_stats a = {1, 0.5, 0.75, 0.625, 0.5, 1.5, 1, 0.001}, b = {2, 0.25, 1, 0, 0, 2, 0, 0};
    ct_history_append(&h, &a);
    ct_history_append(&h, &b);
    CHECK_OK(ct_history_write_csv(&h, p1));
    char *s = slurp(p1);
    CHECK(s && !strcmp(s, "epoch,loss,accuracy,val_loss,val_accuracy,seconds,learning_rate\n"
                          "1,0.5,0.75,0.625,0.5,1.5,0.001\n2,0.25,1,,,2,\n"), "csv:\n%s", s);
    free(s);
    ct_history_free(&h);

    /* a history written before the learning_rate column still reads */
    const char *old = "epoch,loss,accuracy,val_loss,val_accuracy,seconds\n1,0.5,0.75,,,1\n";
    ct_write_atomic_buf(p1, old, strlen(old));
    CHECK_OK(ct_history_read_csv(p1, &h));
    CHECK(h.n == 1 && h.e[0].loss == 0.5 && !h.e[0].has_val && !(h.e[0].lr > 0), "old csv");
    ct_history_free(&h);

    /* read + write reproduces the file byte for byte, and the values exactly */
    h = make_history(37, 1);
    h.e[5].has_val = 0;
    h.e[7].loss = NAN;
    CHECK_OK(ct_history_write_csv(&h, p1));
    ct_history r = {0};
    CHECK_OK(ct_history_read_csv(p1, &r));
    CHECK(r.n == 37, "rows %d", r.n);
    int same = 1;
    for (int i = 0; i < r.n && i < h.n; i++) {
        const ct_epoch_stats *x = &h.e[i], *y = &r.e[i];
        same &= x->epoch == y->epoch && (x->loss == y->loss || (isnan(x->loss) && isnan(y->loss))) &&
                x->accuracy == y->accuracy && x->seconds == y->seconds && x->has_val == y->has_val &&
                x->lr == y->lr &&
                (!x->has_val || (x->val_loss == y->val_loss && x->val_accuracy == y->val_accuracy));
    }
    CHECK(same, "values differ after read");
    CHECK_OK(ct_history_write_csv(&r, p2));
    char *s1 = slurp(p1), *s2 = slurp(p2);
    CHECK(s1 && s2 && !strcmp(s1, s2), "rewrite differs");
    free(s1);
    free(s2);
    ct_history_free(&r);
    ct_history_free(&h);

    /* bad files */
    const char *bad[] = {"", "epoch,loss\n1,2\n", "epoch,loss,accuracy,val_loss,val_accuracy,seconds\n1,2,3\n",
                         "epoch,loss,accuracy,val_loss,val_accuracy,seconds\n1,x,3,,,1\n",
                         "epoch,loss,accuracy,val_loss,val_accuracy,seconds\n1,1,3,0.5,,1\n",
                         "epoch,loss,accuracy,val_loss,val_accuracy,seconds\n1,1,3,,,1,0.1\n",
                         "epoch,loss,accuracy,val_loss,val_accuracy,seconds,learning_rate\n1,1,3,,,1\n",
                         "epoch,loss,accuracy,val_loss,val_accuracy,seconds,learning_rate\n1,1,3,,,1,x\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ct_write_atomic_buf(p1, bad[i], strlen(bad[i]));
        ct_history_append(&r, &a);
        ct_status st = ct_history_read_csv(p1, &r);
        CHECK(st == CT_ERR_FORMAT && strstr(ct_last_error(), "h.csv") && r.n == 1, "bad csv %zu: %s", i,
              ct_last_error());
        ct_history_free(&r);
    }
    CHECK(tmpdir_count(dir, ".tmp.") == 0, "temp files left");
}

/* RFC 4180 fields: quoted when they hold , " CR or LF, with quotes doubled. */
static void test_csv_field(void) {
    const char *in[] = {"plain/a.jpg", "a,b.jpg", "say \"hi\".png", "cr\rlf\n", "", "x\"\"y,"};
    const char *want[] = {"plain/a.jpg", "\"a,b.jpg\"", "\"say \"\"hi\"\".png\"", "\"cr\rlf\n\"", "",
                          "\"x\"\"\"\"y,\""};
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
        FILE *f = tmpfile();
        ct_csv_field(f, in[i]);
        char out[256];
        read_back(f, out, sizeof out);
        CHECK(!strcmp(out, want[i]), "field %zu: [%s], expected [%s]", i, out, want[i]);
    }
}

/* The first n bytes of a file equal magic. */
static int starts_with(const char *path, const char *magic, size_t n) {
    char *s = slurp(path);
    int ok = s && !memcmp(s, magic, n);
    free(s);
    return ok;
}

/* --plot by the name: .svg always, .png/.pdf with cairo (else refused, saying what to
 * install), anything else refused, before anything is written. */
static void test_plot_types(void) {
    char path[1024];
    ct_history h = make_history(12, 1);
    snprintf(path, sizeof path, "%s/p.svg", dir);
    CHECK_OK(ct_plot_check(path));
    CHECK_OK(ct_history_write_plot(&h, path));
    char *a = slurp(path);
    CHECK_OK(ct_history_write_svg(&h, path));
    char *b = slurp(path);
    CHECK(a && b && !strcmp(a, b) && strstr(a, "<svg"), "the .svg plot is the SVG writer's");
    free(a);
    free(b);
    snprintf(path, sizeof path, "%s/p.BMP", dir);
    CHECK(ct_plot_check(path) == CT_ERR_ARG && strstr(ct_last_error(), "p.BMP") &&
              strstr(ct_last_error(), ".svg, .png or .pdf"), "bmp: %s", ct_last_error());
    CHECK(ct_history_write_plot(&h, path) == CT_ERR_ARG && tmpdir_count(dir, "p.BMP") == 0, "bmp written");
    snprintf(path, sizeof path, "%s/noext", dir);
    CHECK_OK(ct_plot_check(path)); /* SVG, as before there were other types */
    snprintf(path, sizeof path, "%s/.hidden", dir);
    CHECK_OK(ct_plot_check(path));
    const char *ext[] = {"png", "pdf"}, *magic[] = {"\x89PNG\r\n\x1a\n", "%PDF-"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/p.%s", dir, ext[i]);
        if (!ct_plot_has_cairo()) {
            CHECK(ct_plot_check(path) == CT_ERR_ARG && strstr(ct_last_error(), "libcairo2-dev"),
                  "%s without cairo: %s", ext[i], ct_last_error());
            continue;
        }
        CHECK_OK(ct_plot_check(path));
        CHECK_OK(ct_history_write_plot(&h, path));
        CHECK(starts_with(path, magic[i], strlen(magic[i])), "%s: not a %s file", path, ext[i]);
    }
    if (!ct_plot_has_cairo()) printf("report: built without cairo, PNG/PDF plots not drawn\n");
    ct_history_free(&h);
}

static void test_svg(void) {
    char path[1024];
    int ns[] = {1, 2, 100};
    for (int k = 0; k < 3; k++)
        for (int v = 0; v < 2; v++) {
            ct_history h = make_history(ns[k], v);
            snprintf(path, sizeof path, "%s/plot_%d_%s.svg", dir, ns[k], v ? "val" : "noval");
            CHECK_OK(ct_history_write_svg(&h, path));
            char *s = slurp(path);
            CHECK(s && !strncmp(s, "<?xml", 5) && strstr(s, "</svg>\n"), "svg frame");
            if (!s) continue;
            CHECK(count(s, v ? "bold\">Training and validation accuracy<" : "bold\">Training accuracy<") == 1, "title 1");
            CHECK(count(s, v ? "bold\">Training and validation loss<" : "bold\">Training loss<") == 1, "title 2");
            CHECK(count(s, ">Epoch</text>") == 2 && count(s, ">Accuracy</text>") == 1 && count(s, ">Loss</text>") == 1,
                  "axis labels");
            CHECK(count(s, "Validation accuracy") == v && count(s, "Validation loss") == v, "legend n=%d v=%d", ns[k], v);
            CHECK(count(s, "<polyline") == 2 * (1 + v), "%d lines", count(s, "<polyline"));
            CHECK(count(s, "<circle") == (ns[k] <= 40 ? 2 * (ns[k] + 1) * (1 + v) : 0), "markers");
            CHECK(!strstr(s, "nan") && !strstr(s, "inf"), "non-finite coordinate");
            CHECK(count(s, "<") == count(s, ">"), "unbalanced tags");
            free(s);
            ct_history_free(&h);
        }
    /* NaN losses break the line; a history of only NaN still gives a plot */
    ct_history h = make_history(10, 1);
    h.e[4].loss = NAN;
    h.e[9].val_loss = INFINITY;
    snprintf(path, sizeof path, "%s/plot_nan.svg", dir);
    CHECK_OK(ct_history_write_svg(&h, path));
    char *s = slurp(path);
    CHECK(s && count(s, "<polyline") == 5 && !strstr(s, "nan") && !strstr(s, "inf"), "broken lines");
    free(s);
    for (int i = 0; i < h.n; i++) h.e[i].loss = h.e[i].accuracy = h.e[i].val_loss = h.e[i].val_accuracy = NAN;
    CHECK_OK(ct_history_write_svg(&h, path));
    ct_history_free(&h);
    /* huge values with a tiny spread: ticks in exponent form, and no endless tick loop */
    h = make_history(7, 1);
    for (int i = 0; i < h.n; i++) h.e[i].loss = 1e17 + 16 * i;
    CHECK_OK(ct_history_write_svg(&h, path));
    s = slurp(path);
    CHECK(s && strstr(s, "e+17</text>"), "exponent labels");
    free(s);
    ct_history_free(&h);
    ct_history empty = {0};
    CHECK_OK(ct_history_write_svg(&empty, path));
    snprintf(path, sizeof path, "%s/nofolder/p.svg", dir);
    CHECK(ct_history_write_svg(&empty, path) == CT_ERR_IO && strstr(ct_last_error(), "p.svg"), "unwritable");
}


/* The longest line of s, lines ending at '\r' or '\n'. */
static int widest_line(const char *s) {
    int w = 0, c = 0;
    for (; *s; s++) {
        c = *s == '\r' || *s == '\n' ? 0 : c + 1;
        if (c > w) w = c;
    }
    return w;
}

/* On a terminal of W columns no line is wider than W - 1 (a full line would scroll at
 * every redraw): the bar shrinks, the end-of-epoch line goes on below. */
static void test_progress_width(void) {
    char line[512];
    int widths[] = {80, 60, 40, 20};
    for (int k = 0; k < 4; k++) {
        int w = widths[k];
        for (int fin = 0; fin < 2; fin++) {
            ct_progress_format_width(line, sizeof line, w, 12, 3200, 0.6812, 0.5521, fin, 4000, 500, fin,
                                     0.65234, 0.61);
            CHECK(widest_line(line) <= w - 1, "width %d final %d: %d columns:\n%s", w, fin,
                  widest_line(line), line);
        }
    }
    /* 80 columns: the in-progress line keeps loss and accuracy and a shorter bar */
    ct_progress_format_width(line, sizeof line, 80, 12, 32, 0.6812, 0.5521, 0, 4.2, 0, 0, 0, 0);
    CHECK(!strcmp(line, "12/32 [=========>.................] - ETA: 4s - loss: 0.6812 - accuracy: 0.5521"),
          "80: %s", line);
    /* the end-of-epoch line with validation wraps under the count, nothing lost */
    ct_progress_format_width(line, sizeof line, 80, 32, 32, 0.6812, 0.5521, 1, 0, 5, 1, 0.65234, 0.61);
    CHECK(strstr(line, "- loss: 0.6812 - accuracy: 0.5521\n      - val_loss: 0.6523 - val_accuracy: 0.6100") &&
              strstr(line, "32/32 [====="), "80 final: %s", line);
    /* no bar at all where even 10 characters of it do not fit */
    ct_progress_format_width(line, sizeof line, 55, 12, 32, 0.6812, 0.5521, 0, 4.2, 0, 0, 0, 0);
    CHECK(!strchr(line, '[') && strstr(line, "accuracy: 0.5521"), "55: %s", line);
    /* unlimited is the plain format */
    char plain[512];
    ct_progress_format_width(line, sizeof line, 0, 32, 32, 0.6812, 0.5521, 1, 0, 5, 1, 0.65234, 0.61);
    ct_progress_format(plain, sizeof plain, 32, 32, 0.6812, 0.5521, 1, 0, 5, 1, 0.65234, 0.61);
    CHECK(!strcmp(line, plain), "width 0: %s", line);

    /* a terminal of 80 columns, from $COLUMNS (a file is no terminal to ask) */
    setenv("COLUMNS", "80", 1);
    FILE *f = tmpfile();
    ct_progress p;
    ct_progress_init(&p, f, CT_PROGRESS_TTY);
    CHECK(p.width == 80, "width %d from COLUMNS=80", p.width);
    ct_progress_begin(&p, 1, 1, 300);
    for (int i = 1; i <= 300; i += 99) ct_progress_update(&p, i, 0.123456789, 0.5);
    ct_progress_end(&p, 1, 0.25, 1, 3);
    char out[4096];
    read_back(f, out, sizeof out);
    CHECK(widest_line(out) <= 79 && strstr(out, "val_accuracy: 1.0000\n"), "tty at 80: %d\n%s",
          widest_line(out), out);
    setenv("COLUMNS", "junk", 1);
    f = tmpfile();
    ct_progress_init(&p, f, CT_PROGRESS_TTY);
    CHECK(p.width == 80, "width %d from COLUMNS=junk (default 80)", p.width);
    fclose(f);
    unsetenv("COLUMNS");
    f = tmpfile();
    ct_progress_init(&p, f, CT_PROGRESS_PLAIN);
    CHECK(p.width == 0, "plain output is never cut");
    fclose(f);
}

static void test_progress(void) {
    char line[512];
    ct_progress_format(line, sizeof line, 12, 32, 0.6812, 0.5521, 0, 4.2, 0, 0, 0, 0);
    CHECK(!strcmp(line, "12/32 [==========>...................] - ETA: 4s - loss: 0.6812 - accuracy: 0.5521"), "%s",
          line);
    ct_progress_format(line, sizeof line, 32, 32, 0.6812, 0.5521, 1, 0, 5, 1, 0.65234, 0.61);
    CHECK(!strcmp(line, "32/32 [==============================] - 5s 156ms/step - loss: 0.6812 - accuracy: 0.5521"
                        " - val_loss: 0.6523 - val_accuracy: 0.6100"), "%s", line);
    ct_progress_format(line, sizeof line, 3, 100, 2.5, 0, 0, 3725, 0, 0, 0, 0);
    CHECK(!strcmp(line, "  3/100 [..............................] - ETA: 1:02:05 - loss: 2.5000 - accuracy: 0.0000e+00"),
          "%s", line);
    ct_progress_format(line, sizeof line, 1, 2, NAN, 0.5, 0, 75, 0, 0, 0, 0);
    CHECK(strstr(line, "[==============>...............] - ETA: 1:15 - loss: nan"), "%s", line);
    ct_progress_format(line, sizeof line, 2, 2, 0.1, 0.5, 1, 0, 0.0005, 0, 0, 0);
    CHECK(strstr(line, "- 0s 250us/step -") && !strstr(line, "val_"), "%s", line);
    ct_progress_format(line, sizeof line, 2, 2, 0.1, 0.5, 1, 0, 7, 0, 0, 0);
    CHECK(strstr(line, "- 7s 4s/step -"), "%s", line);

    /* piped: the epoch header and one line at the end, no carriage returns */
    FILE *f = tmpfile();
    ct_progress p;
    ct_progress_init(&p, f, CT_PROGRESS_PLAIN);
    ct_progress_begin(&p, 3, 100, 4);
    for (int i = 1; i <= 4; i++) ct_progress_update(&p, i, 0.5, 0.75);
    ct_progress_end(&p, 0, 0, 0, 2);
    char out[1024];
    read_back(f, out, sizeof out);
    CHECK(!strcmp(out, "Epoch 3/100\n4/4 [==============================] - 2s 500ms/step - loss: 0.5000 - accuracy: "
                       "0.7500\n"), "plain:\n%s", out);

    /* terminal: redrawn in place, leftovers blanked, one newline at the end */
    f = tmpfile();
    ct_progress_init(&p, f, CT_PROGRESS_TTY);
    ct_progress_set_width(&p, 0); /* unlimited: Keras's lines as they are */
    ct_progress_begin(&p, 1, 1, 3);
    ct_progress_update(&p, 1, 0.123456789, 0.5);
    ct_progress_update(&p, 3, 0.5, 0.5);
    ct_progress_end(&p, 1, 0.25, 1, 3);
    read_back(f, out, sizeof out);
    CHECK(count(out, "\r") == 3 && count(out, "\n") == 2 && strstr(out, "Epoch 1/1\n\r1/3 [=========>") &&
              strstr(out, "\r3/3 [==============================] - 3s 1s/step - loss: 0.5000 - accuracy: 0.5000 - "
                          "val_loss: 0.2500 - val_accuracy: 1.0000"), "tty:\n%s", out);

    test_progress_width();

    f = tmpfile();
    ct_progress_init(&p, f, CT_PROGRESS_QUIET);
    ct_progress_begin(&p, 1, 1, 3);
    ct_progress_update(&p, 3, 0.5, 0.5);
    ct_progress_end(&p, 0, 0, 0, -1);
    CHECK(ftell(f) == 0, "quiet printed");
    fclose(f);
}

int main(void) {
    tmpdir_make(dir, sizeof dir);
    test_csv();
    test_csv_field();
    test_svg();
    test_plot_types();
    test_progress();
    if (getenv("CT_KEEP_PLOTS")) /* for looking at the plots: keep the folder */
        printf("plots in %s\n", dir);
    else
        tmpdir_remove(dir);
    return ct_test_done("report");
}
