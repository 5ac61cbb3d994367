/* Augmentation (src/data/augment.c): Keras 3's matrix, scipy's boundary modes, the warp
 * against Keras's own apply_transform (tests/golden/augment_keras.txt, written by
 * tools/gen_augment_golden.py), the random draws against Keras's documented
 * distributions, and the option/spec/--transform parsers' errors. No OpenCL. */
#include <stdint.h>

#include "ctest.h"
#include "data/data.h"

static int mat_close(const double *m, const double *want, double tol) {
    for (int i = 0; i < 9; i++)
        if (fabs(m[i] - want[i]) > tol) return 0;
    return 1;
}

static ct_aug_draw geom(double theta, double tx, double ty, double shear, double zx, double zy) {
    ct_aug_draw d;
    memset(&d, 0, sizeof d);
    d.theta_deg = theta;
    d.tx = tx;
    d.ty = ty;
    d.shear_deg = shear;
    d.zx = zx;
    d.zy = zy;
    return d;
}

/* Keras 3: M = R*T*S*Z centred on (h/2-0.5, w/2-0.5) in its (x, y), then P*M*P, so in
 * (row, col): [[M11, M10, M12], [M01, M00, M02]]. */
static void test_matrix(void) {
    double m[9];
    ct_aug_draw d = geom(90, 0, 0, 0, 1, 1);
    ct_augment_matrix(&d, 4, 4, m); /* R centred = [[0,-1,3],[1,0,0]] */
    double want_r[9] = {0, 1, 0, -1, 0, 3, 0, 0, 1};
    CHECK(mat_close(m, want_r, 1e-12), "rotation 90: %g %g %g / %g %g %g", m[0], m[1], m[2], m[3],
          m[4], m[5]);
    d = geom(0, 2, -1, 0, 1, 1);
    ct_augment_matrix(&d, 4, 6, m);
    double want_t[9] = {1, 0, -1, 0, 1, 2, 0, 0, 1};
    CHECK(mat_close(m, want_t, 1e-12), "shift: tx moves columns, ty rows");
    d = geom(0, 0, 0, 0, 2, 0.5);
    ct_augment_matrix(&d, 4, 6, m); /* Keras centres x on h/2-0.5 = 1.5, y on w/2-0.5 = 2.5 */
    double want_z[9] = {0.5, 0, 1.25, 0, 2, -1.5, 0, 0, 1};
    CHECK(mat_close(m, want_z, 1e-12), "zoom: zx columns, zy rows, Keras's swapped centre");
    d = geom(0, 0, 0, 30, 1, 1);
    ct_augment_matrix(&d, 4, 4, m);
    double c30 = cos(M_PI / 6);
    double want_s[9] = {c30, 0, 1.5 * (1 - c30), -0.5, 1, 0.75, 0, 0, 1};
    CHECK(mat_close(m, want_s, 1e-12), "shear 30 deg");
    /* order R*T*S*Z: theta 90, tx 1, zx 2 on 4x4: R*T*Z = [[0,-1,0],[2,0,1]], centred
     * offset t + c - A c = (3, -0.5) */
    d = geom(90, 1, 0, 0, 2, 1);
    ct_augment_matrix(&d, 4, 4, m);
    double want_c[9] = {0, 2, -0.5, -1, 0, 3, 0, 0, 1};
    CHECK(mat_close(m, want_c, 1e-12), "composition R*T*S*Z: %g %g %g / %g %g %g", m[0], m[1], m[2],
          m[3], m[4], m[5]);
}

static void poison(float *v, size_t n) {
    for (size_t i = 0; i < n; i++) v[i] = NAN;
}

/* One row a b c d shifted by whole pixels: out[c] = extension(c + tx), per scipy's docs:
 * nearest a a | a b c d | d d, reflect b a | a b c d | d c, wrap (period n - 1)
 * c | a b c d | b, constant k k | a b c d | k k. */
static void test_modes(void) {
    const uint8_t row[4] = {10, 20, 30, 40};
    static const struct {
        ct_fill_mode mode;
        int tx;
        float want[4];
    } cases[] = {
        {CT_FILL_NEAREST, -2, {10, 10, 10, 20}}, {CT_FILL_NEAREST, 3, {40, 40, 40, 40}},
        {CT_FILL_REFLECT, -2, {20, 10, 10, 20}}, {CT_FILL_REFLECT, 2, {30, 40, 40, 30}},
        {CT_FILL_REFLECT, -7, {20, 30, 40, 40}}, {CT_FILL_WRAP, -1, {30, 10, 20, 30}},
        {CT_FILL_WRAP, 2, {30, 40, 20, 30}},     {CT_FILL_WRAP, 5, {30, 10, 20, 30}},
        {CT_FILL_CONSTANT, -1, {7, 10, 20, 30}}, {CT_FILL_CONSTANT, 2, {30, 40, 7, 7}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ct_aug_draw d = geom(0, cases[k].tx, 0, 0, 1, 1);
        d.fill_mode = cases[k].mode;
        d.cval = 7;
        float out[4];
        poison(out, 4);
        ct_augment_apply(row, 1, 4, 1, &d, 1.0f, out);
        int ok = 1;
        for (int i = 0; i < 4; i++) ok &= out[i] == cases[k].want[i];
        CHECK(ok, "mode %d tx %d: %g %g %g %g", (int)cases[k].mode, cases[k].tx, out[0], out[1],
              out[2], out[3]);
    }
}

static void test_apply(void) {
    enum { H = 6, W = 5, C = 3 };
    uint8_t in[H * W * C];
    float out[C * H * W];
    for (int i = 0; i < H * W * C; i++) in[i] = (uint8_t)(i * 29 + 3);
    ct_aug_draw id = geom(0, 0, 0, 0, 1, 1);
    poison(out, C * H * W);
    ct_augment_apply(in, H, W, C, &id, 1.0f / 255, out);
    int ok = 1;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < C; c++)
                ok &= out[c * H * W + y * W + x] == (float)in[(y * W + x) * C + c] * (1.0f / 255);
    CHECK(ok, "identity parameters return the input (CHW, rescaled)");
    id.flip = 1;
    id.flip_vertical = 1;
    ct_augment_apply(in, H, W, C, &id, 1.0f, out);
    ok = 1;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < C; c++)
                ok &= out[c * H * W + y * W + x] == in[((H - 1 - y) * W + (W - 1 - x)) * C + c];
    CHECK(ok, "both flips");
    /* integer shift through the warp, both paths: columns +1, rows -2, edge replicated;
     * then the flip */
    for (int general = 0; general < 2; general++) {
        ct_aug_draw sh = geom(0, 1, -2, 0, 1, 1);
        sh.flip = 1;
        sh.has_brightness = general; /* brightness 1 on whole values: the same numbers */
        sh.brightness = 1;
        poison(out, C * H * W);
        ct_augment_apply(in, H, W, C, &sh, 1.0f, out);
        ok = 1;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int xc = W - 1 - x; /* flip after warp */
                int ry = y - 2 < 0 ? 0 : y - 2, rx = xc + 1 > W - 1 ? W - 1 : xc + 1;
                for (int c = 0; c < C; c++) ok &= out[c * H * W + y * W + x] == in[(ry * W + rx) * C + c];
            }
        CHECK(ok, "integer shift with nearest fill, then flip (%s path)", general ? "general" : "fast");
    }
    /* rotation 90 on a square: out[r][c] = in[c][3-r] */
    uint8_t sq[16];
    float o16[16];
    for (int i = 0; i < 16; i++) sq[i] = (uint8_t)(i * 15);
    ct_aug_draw r90 = geom(90, 0, 0, 0, 1, 1);
    ct_augment_apply(sq, 4, 4, 1, &r90, 1.0f, o16);
    ok = 1;
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++) ok &= fabsf(o16[y * 4 + x] - sq[x * 4 + 3 - y]) < 1e-3f;
    CHECK(ok, "rotation 90 permutes pixels");
    ct_aug_draw half = geom(0, 0.5, 0, 0, 1, 1); /* half a column: average of neighbours */
    ct_augment_apply(sq, 4, 4, 1, &half, 1.0f, o16);
    CHECK(fabsf(o16[0] - 0.5f * (sq[0] + sq[1])) < 1e-4f && fabsf(o16[3] - sq[3]) < 1e-4f,
          "bilinear half shift");
    /* channel shift clips to the image's min and max; brightness truncates like PIL */
    uint8_t px[4] = {0, 101, 200, 250};
    float o4[4];
    ct_aug_draw cs = geom(0, 0, 0, 0, 1, 1);
    cs.channel_shift = 30;
    ct_augment_apply(px, 1, 4, 1, &cs, 1.0f, o4);
    CHECK(o4[0] == 30 && o4[1] == 131 && o4[2] == 230 && o4[3] == 250, "channel shift + clip: %g %g %g %g",
          o4[0], o4[1], o4[2], o4[3]);
    cs.channel_shift = 0;
    cs.has_brightness = 1;
    cs.brightness = 1.5;
    ct_augment_apply(px, 1, 4, 1, &cs, 0.5f, o4);
    CHECK(o4[0] == 0 && o4[1] == 75.5f && o4[2] == 127.5f && o4[3] == 127.5f,
          "brightness 1.5: trunc(151.5) = 151, 300 -> 255, then rescale: %g %g %g %g", o4[0], o4[1],
          o4[2], o4[3]);
}

/* Keras's own apply_transform. Tolerance 1e-4 on 0..255 values (about 7 float32 ulps at
 * 255): the general path repeats scipy's arithmetic in double (coordinates, taps, the sum
 * of pixel * row weight * column weight) and rounds to float32 once, and matches the
 * goldens bit for bit here; the 'nearest' fast path interpolates uint8 pixels in float
 * (lerp form, a few roundings) and is up to 1.5e-5 off. The whole-value step
 * (brightness truncates to uint8) always takes the general path, so it agrees exactly:
 * one level off would be a difference >= 0.45. */
static void test_golden(void) {
    const char *src = getenv("CLTRAIN_SRC_DIR");
    char p[1024];
    snprintf(p, sizeof p, "%s/tests/golden/augment_keras.txt", src ? src : ".");
    FILE *f = fopen(p, "r");
    CHECK(f != NULL, "cannot open %s", p);
    if (!f) return;
    char line[512];
    int ncase = 0;
    CHECK(fgets(line, sizeof line, f) && !strncmp(line, "augment_keras v1", 16), "golden header");
    enum { MAXV = 4096 };
    static uint8_t in[MAXV];
    static float out[MAXV];
    while (fgets(line, sizeof line, f)) {
        int h, w, c;
        char mode[16], spec[400];
        double cval;
        if (sscanf(line, "case %d %d %d %15s %lf %399s", &h, &w, &c, mode, &cval, spec) != 6 ||
            h * w * c > MAXV) {
            CHECK(0, "bad golden case line: %s", line);
            break;
        }
        char opt[64];
        snprintf(opt, sizeof opt, "fill_mode=%s", mode);
        ct_augment a;
        CHECK_OK(ct_augment_parse(opt, &a));
        ct_aug_draw d;
        memset(&d, 0, sizeof d);
        d.fill_mode = a.fill_mode;
        d.cval = (float)cval;
        CHECK_OK(ct_aug_transform_parse(strcmp(spec, "-") ? spec : "", &d));
        for (int i = 0; i < h * w * c; i++) in[i] = (uint8_t)((i * 7919 + 13) % 251);
        poison(out, (size_t)h * w * c);
        ct_augment_apply(in, h, w, c, &d, 1.0f, out);
        double maxd = 0;
        int at = -1;
        for (int i = 0; i < h * w * c; i++) {
            float want;
            if (fscanf(f, "%f", &want) != 1) want = NAN;
            double e = fabs(out[i] - want);
            if (isnan(e)) e = INFINITY; /* a NaN, an unwritten or a missing value fails */
            if (e > maxd) maxd = e, at = i;
        }
        if (fgets(line, sizeof line, f) == NULL) line[0] = 0; /* rest of the values line */
        CHECK(maxd <= 1e-4, "%dx%dx%d %s cval %g %s: max diff %g at %d", h, w, c, mode, cval, spec, maxd,
              at);
        ncase++;
    }
    fclose(f);
    CHECK(ncase >= 60, "only %d golden cases", ncase);
}

/* The draws against Keras's documented distributions (get_random_transform): uniform
 * ranges (mean (lo+hi)/2, variance (hi-lo)^2/12, within 5 standard errors), shifts
 * scaled by the size below 1, the int form's choice(n) * choice(-1, 1), zx and zy
 * independent, flips p = 0.5. */
typedef struct moments {
    double n, s, s2, lo, hi;
} moments;

static void mom_add(moments *m, double v) {
    if (m->n == 0 || v < m->lo) m->lo = v;
    if (m->n == 0 || v > m->hi) m->hi = v;
    m->n++;
    m->s += v;
    m->s2 += v * v;
}

static void check_uniform(const moments *m, double lo, double hi, const char *what) {
    double mean = m->s / m->n, var = m->s2 / m->n - mean * mean;
    double want_mean = 0.5 * (lo + hi), want_var = (hi - lo) * (hi - lo) / 12;
    double se_mean = sqrt(want_var / m->n), se_var = want_var * sqrt(0.8 / m->n); /* var of U's s^2 */
    CHECK(m->lo >= lo && m->hi <= hi, "%s outside [%g, %g]: %g .. %g", what, lo, hi, m->lo, m->hi);
    CHECK(fabs(mean - want_mean) < 5 * se_mean, "%s mean %g, want %g", what, mean, want_mean);
    CHECK(fabs(var - want_var) < 5 * se_var, "%s variance %g, want %g", what, var, want_var);
    /* the range is covered (not, say, half of it) */
    CHECK(m->lo < lo + 0.01 * (hi - lo) && m->hi > hi - 0.01 * (hi - lo), "%s covers %g .. %g only",
          what, m->lo, m->hi);
}

static void test_draws(void) {
    enum { N = 40000, H = 100, W = 200 };
    ct_augment a;
    CHECK_OK(ct_augment_parse("none rotation_range=25 width_shift_range=0.2 height_shift_range=0.3 "
                              "shear_range=12 zoom_range=0.7,1.4 channel_shift_range=40 "
                              "brightness_range=0.5,1.5 horizontal_flip=1 vertical_flip=1",
                              &a));
    moments th = {0}, tx = {0}, ty = {0}, sh = {0}, zx = {0}, zy = {0}, ch = {0}, br = {0};
    double zxy = 0;
    int fh = 0, fv = 0;
    for (int i = 0; i < N; i++) {
        ct_rng r;
        ct_aug_draw d;
        ct_rng_seed(&r, 42, 3, (uint64_t)i);
        ct_augment_draw(&a, &r, H, W, &d);
        mom_add(&th, d.theta_deg);
        mom_add(&tx, d.tx);
        mom_add(&ty, d.ty);
        mom_add(&sh, d.shear_deg);
        mom_add(&zx, d.zx);
        mom_add(&zy, d.zy);
        mom_add(&ch, d.channel_shift);
        mom_add(&br, d.brightness);
        zxy += (d.zx - 1.05) * (d.zy - 1.05);
        fh += d.flip;
        fv += d.flip_vertical;
    }
    check_uniform(&th, -25, 25, "theta");
    check_uniform(&tx, -0.2 * W, 0.2 * W, "tx (width_shift_range * W, columns)");
    check_uniform(&ty, -0.3 * H, 0.3 * H, "ty (height_shift_range * H, rows)");
    check_uniform(&sh, -12, 12, "shear");
    check_uniform(&zx, 0.7, 1.4, "zx");
    check_uniform(&zy, 0.7, 1.4, "zy");
    check_uniform(&ch, -40, 40, "channel_shift_intensity");
    check_uniform(&br, 0.5, 1.5, "brightness");
    double corr = zxy / N / (0.49 / 12);
    CHECK(fabs(corr) < 5 / sqrt((double)N), "zx, zy correlated: %g", corr);
    double se = sqrt(0.25 / N);
    CHECK(fabs(fh / (double)N - 0.5) < 5 * se && fabs(fv / (double)N - 0.5) < 5 * se,
          "flips p = 0.5: %d, %d of %d", fh, fv, N);

    /* pixels: a float range >= 1 is U(-r, r) pixels; an int n is choice(n) * choice(-1, 1) */
    CHECK_OK(ct_augment_parse("width_shift_range=3.0 height_shift_range=4", &a));
    moments px = {0};
    int hist[9] = {0}, other = 0;
    for (int i = 0; i < N; i++) {
        ct_rng r;
        ct_aug_draw d;
        ct_rng_seed(&r, 7, 0, (uint64_t)i);
        ct_augment_draw(&a, &r, H, W, &d);
        mom_add(&px, d.tx);
        int k = (int)d.ty;
        if (k != d.ty || k < -4 || k > 4) other++;
        else hist[k + 4]++;
    }
    check_uniform(&px, -3, 3, "width_shift_range=3.0 (pixels)");
    CHECK(other == 0 && hist[0] == 0 && hist[8] == 0, "int shift 4 outside -3..3 or not whole");
    /* P(0) = 1/4 (k = 0 with either sign), P(+-k) = 1/8 for k = 1..3 */
    for (int k = -3; k <= 3; k++) {
        double p = k == 0 ? 0.25 : 0.125, got = hist[k + 4] / (double)N;
        CHECK(fabs(got - p) < 5 * sqrt(p * (1 - p) / N), "int shift 4: P(%d) = %g, want %g", k, got, p);
    }

    /* nothing enabled draws nothing; the seed preset is Keras's seed settings */
    CHECK_OK(ct_augment_parse("none fill_mode=wrap cval=3", &a));
    CHECK(!a.enabled, "fill mode alone enables nothing");
    CHECK_OK(ct_augment_parse("seed", &a));
    CHECK(a.enabled && a.rotation_range == 20 && a.width_shift_range == 0.2f &&
              a.height_shift_range == 0.2f && a.shear_range == 0.1f && a.zoom_lo == 0.8f &&
              a.zoom_hi == 1.2f && a.horizontal_flip && !a.vertical_flip && !a.has_brightness &&
              a.channel_shift_range == 0 && a.fill_mode == CT_FILL_NEAREST,
          "seed preset");
    ct_rng r1, r2;
    ct_rng_seed(&r1, 1, 2, 3);
    ct_rng_seed(&r2, 1, 2, 4);
    CHECK(ct_rng_next(&r1) != ct_rng_next(&r2), "streams differ");
}

static void expect_error(ct_status s, const char *needle, const char *what) {
    CHECK(s == CT_ERR_ARG, "%s: accepted", what);
    CHECK(strstr(ct_last_error(), needle) != NULL, "%s: message '%s' lacks '%s'", what, ct_last_error(),
          needle);
}

static void test_parse(void) {
    ct_augment a;
    CHECK_OK(ct_augment_parse("seed rotation_range=30 zoom_range=0.9,1.1 fill_mode=reflect cval=9", &a));
    CHECK(a.rotation_range == 30 && a.width_shift_range == 0.2f && a.zoom_lo == 0.9f &&
              a.zoom_hi == 1.1f && a.fill_mode == CT_FILL_REFLECT && a.cval == 9,
          "explicit keys override the preset");
    CHECK_OK(ct_augment_parse("seed horizontal_flip=0 zoom_range=0", &a));
    CHECK(!a.horizontal_flip && a.zoom_lo == 1 && a.zoom_hi == 1 && a.enabled, "turning parts off");
    CHECK_OK(ct_augment_parse("zoom_range=0.25 width_shift_range=5 height_shift_range=5.0", &a));
    CHECK(a.zoom_lo == 0.75f && a.zoom_hi == 1.25f && a.width_shift_int && !a.height_shift_int,
          "zoom Z = [1-Z, 1+Z]; 5 is Keras's int form, 5.0 a float");
    CHECK_OK(ct_augment_parse(NULL, &a));
    CHECK(!a.enabled, "NULL spec is none");

    expect_error(ct_augment_set(&a, "rotation_range", "-5", "--rotation-range"), "--rotation-range",
                 "negative rotation");
    expect_error(ct_augment_set(&a, "width_shift_range", "abc", "--width-shift-range"),
                 "--width-shift-range", "non-numeric shift");
    expect_error(ct_augment_set(&a, "height_shift_range", "-0.1", "--height-shift-range"), "fraction",
                 "negative shift");
    expect_error(ct_augment_set(&a, "shear_range", "nan", "--shear-range"), "--shear-range", "nan shear");
    expect_error(ct_augment_set(&a, "brightness_range", "2,1", "--brightness-range"),
                 "LO must not exceed HI", "brightness 2,1");
    expect_error(ct_augment_set(&a, "brightness_range", "1.2", "--brightness-range"), "LO,HI",
                 "brightness one number");
    expect_error(ct_augment_set(&a, "brightness_range", "-1,1", "--brightness-range"), "LO,HI",
                 "negative brightness");
    expect_error(ct_augment_set(&a, "zoom_range", "0,1.2", "--zoom-range"), "0 < LO", "zoom LO 0");
    expect_error(ct_augment_set(&a, "zoom_range", "-0.5,1", "--zoom-range"), "--zoom-range", "zoom < 0");
    expect_error(ct_augment_set(&a, "zoom_range", "1", "--zoom-range"), "[0, 1)", "zoom Z = 1");
    expect_error(ct_augment_set(&a, "zoom_range", "-0.2", "--zoom-range"), "[0, 1)", "negative zoom Z");
    expect_error(ct_augment_set(&a, "zoom_range", "1.2,0.8", "--zoom-range"), "--zoom-range", "zoom 1.2,0.8");
    expect_error(ct_augment_set(&a, "fill_mode", "mirror", "--fill-mode"),
                 "nearest, constant, reflect or wrap", "unknown fill mode");
    expect_error(ct_augment_set(&a, "cval", "256", "--cval"), "from 0 to 255", "cval 256");
    expect_error(ct_augment_set(&a, "cval", "-1", "--cval"), "--cval", "cval -1");
    expect_error(ct_augment_set(&a, "channel_shift_range", "-3", "--channel-shift-range"),
                 "--channel-shift-range", "negative channel shift");
    expect_error(ct_augment_set(&a, "vertical_flip", "yes", "--vertical-flip"), "0 or 1", "flip yes");
    expect_error(ct_augment_parse("seed bogus=1", &a), "unknown augmentation key 'bogus'", "unknown key");
    expect_error(ct_augment_parse("rotation_range=3 seed", &a), "preset name comes first", "late preset");
    expect_error(ct_augment_parse("sead", &a), "use seed or none", "bad preset");

    const char *flag, *key = ct_augment_cli_key("--zoom-range", &flag);
    CHECK(key && !strcmp(key, "zoom_range") && !flag, "--zoom-range takes a value");
    key = ct_augment_cli_key("--horizontal-flip", &flag);
    CHECK(key && !strcmp(key, "horizontal_flip") && flag && !strcmp(flag, "1"), "--horizontal-flip flag");
    CHECK(!ct_augment_cli_key("--epochs", &flag), "--epochs is not an augmentation option");

    ct_aug_draw d;
    memset(&d, 0, sizeof d);
    d.fill_mode = CT_FILL_WRAP;
    CHECK_OK(ct_aug_transform_parse("theta=20,tx=3,ty=-2,shear=5,zx=1.1,zy=0.9,flip_horizontal=1,"
                                    "flip_vertical=0,channel_shift_intensity=10,brightness=1.2",
                                    &d));
    CHECK(d.theta_deg == 20 && d.tx == 3 && d.ty == -2 && d.shear_deg == 5 && d.zx == 1.1 && d.zy == 0.9 &&
              d.flip && !d.flip_vertical && d.channel_shift == 10 && d.has_brightness &&
              d.brightness == 1.2 && d.fill_mode == CT_FILL_WRAP,
          "--transform keys");
    CHECK_OK(ct_aug_transform_parse("", &d));
    CHECK(d.zx == 1 && d.zy == 1 && !d.has_brightness && !d.flip, "--transform defaults");
    expect_error(ct_aug_transform_parse("theta=20,spin=3", &d), "unknown key 'spin'", "--transform key");
    expect_error(ct_aug_transform_parse("zx=0", &d), "--transform zx", "--transform zx 0");
    expect_error(ct_aug_transform_parse("tx", &d), "key=value", "--transform no value");
}

int main(void) {
    test_matrix();
    test_modes();
    test_apply();
    test_golden();
    test_draws();
    test_parse();
    return ct_test_done("test_augment");
}
