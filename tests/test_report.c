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

/* Everything written to f so far. */
static void read_back(FILE *f, char *out, size_t n) {
    rewind(f);
    size_t k = fread(out, 1, n - 1, f);
    out[k] = 0;
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
    ct_progress_begin(&p, 1, 1, 3);
    ct_progress_update(&p, 1, 0.123456789, 0.5);
    ct_progress_update(&p, 3, 0.5, 0.5);
    ct_progress_end(&p, 1, 0.25, 1, 3);
    read_back(f, out, sizeof out);
    CHECK(count(out, "\r") == 3 && count(out, "\n") == 2 && strstr(out, "Epoch 1/1\n\r1/3 [=========>") &&
              strstr(out, "\r3/3 [==============================] - 3s 1s/step - loss: 0.5000 - accuracy: 0.5000 - "
                          "val_loss: 0.2500 - val_accuracy: 1.0000"), "tty:\n%s", out);

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
    test_svg();
    test_progress();
    if (getenv("CT_KEEP_PLOTS")) /* for looking at the plots: keep the folder */
        printf("plots in %s\n", dir);
    else
        tmpdir_remove(dir);
    return ct_test_done("report");
}
