/* Augmentation with Keras ImageDataGenerator semantics (docs/AUGMENTATION.md): random
 * draws as get_random_transform, the matrix as apply_affine_transform (Keras 3, with its
 * axis swap), sampling as scipy.ndimage.affine_transform(order=1) with scipy's boundary
 * modes, then apply_transform's channel shift, flips and brightness (PIL's
 * ImageEnhance.Brightness on whole values), then rescale. The warp is one pass over the
 * output pixels writing planar float. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/parse.h"
#include "base/splitmix.h"
#include "data/data.h"

static void augment_defaults(ct_augment *a) {
    memset(a, 0, sizeof *a);
    a->zoom_lo = a->zoom_hi = 1.0f;
    a->fill_mode = CT_FILL_NEAREST;
}

static void update_enabled(ct_augment *a) {
    a->enabled = a->rotation_range != 0 || a->width_shift_range != 0 ||
                 a->height_shift_range != 0 || a->shear_range != 0 || a->zoom_lo != 1.0f ||
                 a->zoom_hi != 1.0f || a->horizontal_flip || a->vertical_flip ||
                 a->channel_shift_range != 0 || a->has_brightness;
}

ct_status ct_augment_preset(const char *name, ct_augment *out) {
    augment_defaults(out);
    if (!strcmp(name, "none")) return CT_OK;
    if (!strcmp(name, "seed")) {
        /* the original project's ImageDataGenerator(rotation_range=20, width_shift_range=0.2,
         * height_shift_range=0.2, shear_range=0.1, zoom_range=0.2, horizontal_flip=True) */
        out->rotation_range = 20.0f;
        out->width_shift_range = 0.2f;
        out->height_shift_range = 0.2f;
        out->shear_range = 0.1f;
        out->zoom_lo = 0.8f;
        out->zoom_hi = 1.2f;
        out->horizontal_flip = 1;
        out->enabled = 1;
        return CT_OK;
    }
    return ct_set_error(CT_ERR_ARG, "unknown augmentation preset '%s': use seed or none", name);
}

/* ---- option values ------------------------------------------------------------ */

/* "LO,HI": two numbers in [lo, hi] with LO <= HI. */
static ct_status parse_pair(const char *what, const char *v, double lo, double hi, double *a,
                            double *b) {
    const char *comma = strchr(v, ',');
    char first[64];
    if (!comma || (size_t)(comma - v) >= sizeof first)
        return ct_set_error(CT_ERR_ARG, "%s expects LO,HI (two numbers from %g to %g), got '%s'",
                            what, lo, hi, v);
    memcpy(first, v, (size_t)(comma - v));
    first[comma - v] = 0;
    if (ct_parse_double(what, first, lo, hi, a) != CT_OK ||
        ct_parse_double(what, comma + 1, lo, hi, b) != CT_OK)
        return ct_set_error(CT_ERR_ARG, "%s expects LO,HI (two numbers from %g to %g), got '%s'",
                            what, lo, hi, v);
    if (*a > *b)
        return ct_set_error(CT_ERR_ARG, "%s %s: LO must not exceed HI (give LO,HI)", what, v);
    return CT_OK;
}

static ct_status parse_bool(const char *what, const char *v, int *out) {
    if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "True")) *out = 1;
    else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "False")) *out = 0;
    else return ct_set_error(CT_ERR_ARG, "%s expects 0 or 1 (or true/false), got '%s'", what, v);
    return CT_OK;
}

/* Keras tells an int shift range from a float one by its Python type: here, a value
 * written with digits only is an int. */
static int is_int_literal(const char *v) {
    if (!*v) return 0;
    for (; *v; v++)
        if (*v < '0' || *v > '9') return 0;
    return 1;
}

#define MAX_SHIFT 1e6 /* pixels: keeps every sampling coordinate far inside a long long */

static ct_status parse_shift(const char *what, const char *v, float *range, int *is_int) {
    double x;
    if (ct_parse_double(what, v, 0, MAX_SHIFT, &x) != CT_OK)
        return ct_set_error(CT_ERR_ARG,
                            "%s expects a number from 0 to %g (below 1: a fraction of the size; "
                            "1 or more: pixels), got '%s'",
                            what, MAX_SHIFT, v);
    *range = (float)x;
    *is_int = is_int_literal(v) && x >= 1;
    return CT_OK;
}

static const char *const fill_names[] = {"nearest", "constant", "reflect", "wrap"};

ct_status ct_augment_set(ct_augment *a, const char *key, const char *v, const char *what) {
    double x, y;
    if (!v) return ct_set_error(CT_ERR_ARG, "%s needs a value", what);
    if (!strcmp(key, "rotation_range")) {
        CT_TRY(ct_parse_double(what, v, 0, 360, &x));
        a->rotation_range = (float)x;
    } else if (!strcmp(key, "width_shift_range")) {
        CT_TRY(parse_shift(what, v, &a->width_shift_range, &a->width_shift_int));
    } else if (!strcmp(key, "height_shift_range")) {
        CT_TRY(parse_shift(what, v, &a->height_shift_range, &a->height_shift_int));
    } else if (!strcmp(key, "shear_range")) {
        CT_TRY(ct_parse_double(what, v, 0, 360, &x));
        a->shear_range = (float)x;
    } else if (!strcmp(key, "zoom_range")) {
        if (strchr(v, ',')) {
            if (parse_pair(what, v, 0, 1000, &x, &y) != CT_OK || x <= 0)
                return ct_set_error(CT_ERR_ARG,
                                    "%s %s: expected LO,HI with 0 < LO <= HI <= 1000 (zoom factors; "
                                    "a zoom of 0 or below is not an image)",
                                    what, v);
        } else {
            double z;
            if (ct_parse_double(what, v, 0, 0.999999, &z) != CT_OK)
                return ct_set_error(CT_ERR_ARG,
                                    "%s %s: expected Z in [0, 1) (zooms drawn from [1-Z, 1+Z], which "
                                    "must stay above 0) or LO,HI with 0 < LO <= HI",
                                    what, v);
            x = 1 - z;
            y = 1 + z;
        }
        a->zoom_lo = (float)x;
        a->zoom_hi = (float)y;
    } else if (!strcmp(key, "brightness_range")) {
        CT_TRY(parse_pair(what, v, 0, 100, &x, &y));
        a->has_brightness = 1;
        a->brightness_lo = (float)x;
        a->brightness_hi = (float)y;
    } else if (!strcmp(key, "channel_shift_range")) {
        CT_TRY(ct_parse_double(what, v, 0, 255, &x));
        a->channel_shift_range = (float)x;
    } else if (!strcmp(key, "horizontal_flip")) {
        CT_TRY(parse_bool(what, v, &a->horizontal_flip));
    } else if (!strcmp(key, "vertical_flip")) {
        CT_TRY(parse_bool(what, v, &a->vertical_flip));
    } else if (!strcmp(key, "fill_mode")) {
        int k = 0;
        while (k < 4 && strcmp(v, fill_names[k])) k++;
        if (k == 4)
            return ct_set_error(CT_ERR_ARG,
                                "%s: unknown fill mode '%s' (use nearest, constant, reflect or wrap)",
                                what, v);
        a->fill_mode = (ct_fill_mode)k;
    } else if (!strcmp(key, "cval")) {
        CT_TRY(ct_parse_double(what, v, 0, 255, &x));
        a->cval = (float)x;
    } else {
        return ct_set_error(CT_ERR_ARG,
                            "%s: unknown augmentation key '%s' (use rotation_range, "
                            "width_shift_range, height_shift_range, shear_range, zoom_range, "
                            "brightness_range, channel_shift_range, horizontal_flip, "
                            "vertical_flip, fill_mode or cval)",
                            what, key);
    }
    update_enabled(a);
    return CT_OK;
}

ct_status ct_augment_parse(const char *spec, ct_augment *out) {
    augment_defaults(out);
    if (!spec) return CT_OK;
    char tok[256];
    int first = 1;
    for (const char *p = spec;;) {
        while (*p == ' ') p++;
        if (!*p) break;
        size_t n = strcspn(p, " ");
        if (n >= sizeof tok)
            return ct_set_error(CT_ERR_ARG, "augmentation '%s': item too long", spec);
        memcpy(tok, p, n);
        tok[n] = 0;
        p += n;
        char *eq = strchr(tok, '=');
        if (!eq) {
            if (!first)
                return ct_set_error(CT_ERR_ARG,
                                    "augmentation '%s': '%s' is not key=value (a preset name "
                                    "comes first)",
                                    spec, tok);
            CT_TRY(ct_augment_preset(tok, out));
        } else {
            *eq = 0;
            CT_TRY(ct_augment_set(out, tok, eq + 1, tok));
        }
        first = 0;
    }
    return CT_OK;
}

static const struct {
    const char *opt, *key, *flag;
} cli_keys[] = {
    {"--rotation-range", "rotation_range", NULL},
    {"--width-shift-range", "width_shift_range", NULL},
    {"--height-shift-range", "height_shift_range", NULL},
    {"--shear-range", "shear_range", NULL},
    {"--zoom-range", "zoom_range", NULL},
    {"--brightness-range", "brightness_range", NULL},
    {"--channel-shift-range", "channel_shift_range", NULL},
    {"--horizontal-flip", "horizontal_flip", "1"},
    {"--no-horizontal-flip", "horizontal_flip", "0"},
    {"--vertical-flip", "vertical_flip", "1"},
    {"--fill-mode", "fill_mode", NULL},
    {"--cval", "cval", NULL},
};

const char *ct_augment_cli_key(const char *opt, const char **flag_value) {
    for (size_t i = 0; i < sizeof cli_keys / sizeof cli_keys[0]; i++)
        if (!strcmp(opt, cli_keys[i].opt)) {
            *flag_value = cli_keys[i].flag;
            return cli_keys[i].key;
        }
    *flag_value = NULL;
    return NULL;
}

ct_status ct_aug_transform_parse(const char *s, ct_aug_draw *d) {
    ct_fill_mode fm = d->fill_mode;
    float cval = d->cval;
    memset(d, 0, sizeof *d);
    d->zx = d->zy = 1;
    d->fill_mode = fm;
    d->cval = cval;
    char tok[128];
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, ",");
        if (n >= sizeof tok) return ct_set_error(CT_ERR_ARG, "--transform: item too long in '%s'", s);
        memcpy(tok, p, n);
        tok[n] = 0;
        p += n + (p[n] == ',');
        char *eq = strchr(tok, '=');
        if (!eq)
            return ct_set_error(CT_ERR_ARG, "--transform expects key=value items, got '%s'", tok);
        *eq = 0;
        const char *v = eq + 1;
        char what[160];
        snprintf(what, sizeof what, "--transform %s", tok);
        double x;
        if (!strcmp(tok, "flip_horizontal")) {
            CT_TRY(parse_bool(what, v, &d->flip));
            continue;
        }
        if (!strcmp(tok, "flip_vertical")) {
            CT_TRY(parse_bool(what, v, &d->flip_vertical));
            continue;
        }
        if (!strcmp(tok, "theta") || !strcmp(tok, "shear")) {
            CT_TRY(ct_parse_double(what, v, -1e6, 1e6, &x));
            *(tok[0] == 't' ? &d->theta_deg : &d->shear_deg) = x;
        } else if (!strcmp(tok, "tx") || !strcmp(tok, "ty")) {
            CT_TRY(ct_parse_double(what, v, -MAX_SHIFT, MAX_SHIFT, &x));
            *(tok[1] == 'x' ? &d->tx : &d->ty) = x;
        } else if (!strcmp(tok, "zx") || !strcmp(tok, "zy")) {
            CT_TRY(ct_parse_double(what, v, 1e-3, 1000, &x));
            *(tok[1] == 'x' ? &d->zx : &d->zy) = x;
        } else if (!strcmp(tok, "channel_shift_intensity")) {
            CT_TRY(ct_parse_double(what, v, -255, 255, &d->channel_shift));
        } else if (!strcmp(tok, "brightness")) {
            CT_TRY(ct_parse_double(what, v, 0, 100, &d->brightness));
            d->has_brightness = 1;
        } else {
            return ct_set_error(CT_ERR_ARG,
                                "--transform: unknown key '%s' (use Keras's apply_transform keys: "
                                "theta, tx, ty, shear, zx, zy, flip_horizontal, flip_vertical, "
                                "channel_shift_intensity, brightness)",
                                tok);
        }
    }
    return CT_OK;
}

/* ---- counter-based RNG: splitmix64 seeding of xoshiro256** ---------------- */

void ct_rng_seed(ct_rng *r, uint64_t seed, uint64_t a, uint64_t b) {
    uint64_t x = seed;
    uint64_t h = ct_splitmix64(&x);
    x = h ^ (a * 0xd1342543de82ef95ULL);
    h = ct_splitmix64(&x);
    x = h ^ (b * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL);
    for (int i = 0; i < 4; i++) r->s[i] = ct_splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t ct_rng_next(ct_rng *r) {
    uint64_t *s = r->s;
    uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

double ct_rng_uniform(ct_rng *r) { return (double)(ct_rng_next(r) >> 11) * 0x1.0p-53; }

static double unif(ct_rng *r, double lo, double hi) { return lo + (hi - lo) * ct_rng_uniform(r); }

/* Keras: a float range r gives U(-r, r), times the size when r < 1; an int n gives
 * choice(n) * choice([-1, 1]) pixels. */
static double draw_shift(ct_rng *r, float range, int is_int, int size) {
    if (is_int) {
        int n = (int)range, k = (int)(ct_rng_uniform(r) * n);
        if (k >= n) k = n - 1;
        return ct_rng_uniform(r) < 0.5 ? -k : k;
    }
    double t = unif(r, -range, range);
    return range < 1 ? t * size : t;
}

void ct_augment_draw(const ct_augment *a, ct_rng *r, int h, int w, ct_aug_draw *d) {
    memset(d, 0, sizeof *d);
    d->zx = d->zy = 1;
    if (!a) return;
    d->fill_mode = a->fill_mode;
    d->cval = a->cval;
    if (!a->enabled) return;
    /* Keras's order: theta, shifts, shear, zx, zy, flips, channel shift, brightness. */
    if (a->rotation_range) d->theta_deg = unif(r, -a->rotation_range, a->rotation_range);
    if (a->width_shift_range) d->tx = draw_shift(r, a->width_shift_range, a->width_shift_int, w);
    if (a->height_shift_range) d->ty = draw_shift(r, a->height_shift_range, a->height_shift_int, h);
    if (a->shear_range) d->shear_deg = unif(r, -a->shear_range, a->shear_range);
    if (!(a->zoom_lo == 1.0f && a->zoom_hi == 1.0f)) {
        d->zx = unif(r, a->zoom_lo, a->zoom_hi);
        d->zy = unif(r, a->zoom_lo, a->zoom_hi);
    }
    d->flip = a->horizontal_flip ? ct_rng_uniform(r) < 0.5 : 0;
    d->flip_vertical = a->vertical_flip ? ct_rng_uniform(r) < 0.5 : 0;
    if (a->channel_shift_range)
        d->channel_shift = unif(r, -a->channel_shift_range, a->channel_shift_range);
    if (a->has_brightness) {
        d->has_brightness = 1;
        d->brightness = unif(r, a->brightness_lo, a->brightness_hi);
    }
}

/* np.dot of two 3x3 matrices */
static void mul3(const double a[9], const double b[9], double o[9]) {
    double t[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            t[3 * i + j] = a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j];
    memcpy(o, t, sizeof t);
}

void ct_augment_matrix(const ct_aug_draw *d, int h, int w, double m[9]) {
    const double deg = M_PI / 180.0; /* np.deg2rad */
    double M[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    if (d->theta_deg != 0) {
        double th = d->theta_deg * deg;
        double R[9] = {cos(th), -sin(th), 0, sin(th), cos(th), 0, 0, 0, 1};
        memcpy(M, R, sizeof R);
    }
    if (d->tx != 0 || d->ty != 0) {
        double T[9] = {1, 0, d->tx, 0, 1, d->ty, 0, 0, 1};
        mul3(M, T, M);
    }
    if (d->shear_deg != 0) {
        double sh = d->shear_deg * deg;
        double S[9] = {1, -sin(sh), 0, 0, cos(sh), 0, 0, 0, 1};
        mul3(M, S, M);
    }
    if (d->zx != 1 || d->zy != 1) {
        double Z[9] = {d->zx, 0, 0, 0, d->zy, 0, 0, 0, 1};
        mul3(M, Z, M);
    }
    /* transform_matrix_offset_center(M, h, w) */
    double ox = h / 2.0 - 0.5, oy = w / 2.0 - 0.5;
    double O[9] = {1, 0, ox, 0, 1, oy, 0, 0, 1};
    double Oi[9] = {1, 0, -ox, 0, 1, -oy, 0, 0, 1};
    mul3(O, M, M);
    mul3(M, Oi, M);
    /* Keras 3 swaps the two axes (M' = P M P: columns 0, 1 then rows 0, 1) */
    double S[9] = {M[4], M[3], M[5], M[1], M[0], M[2], 0, 0, 1};
    memcpy(m, S, sizeof S);
}

static int is_identity(const ct_aug_draw *d) {
    return d->theta_deg == 0 && d->tx == 0 && d->ty == 0 && d->shear_deg == 0 && d->zx == 1 &&
           d->zy == 1;
}

/* ---- scipy.ndimage boundary handling, order 1 ----------------------------------- */

/* Where a filter tap outside 0..n-1 reads (ni_interpolation.c: whole-sample mirror). */
static inline long long mirror_tap(long long i, long long n) {
    if (n <= 1) return 0;
    long long s2 = 2 * n - 2;
    if (i < 0) {
        i = s2 * (-i / s2) + i;
        i = i <= 1 - n ? i + s2 : -i;
    } else if (i >= n) {
        i -= s2 * (i / s2);
        if (i >= n) i = s2 - i;
    }
    return i;
}

/* 'reflect' reads taps half-sample symmetrically: d c b a | a b c d | d c b a */
static inline long long reflect_tap(long long i, long long n) {
    i %= 2 * n;
    if (i < 0) i += 2 * n;
    return i >= n ? 2 * n - 1 - i : i;
}

/* One axis: the two taps and the weight of the second, for coordinate c on n pixels (as
 * scipy's map_coordinate, then the taps). 0: outside, the constant fill applies. */
static inline int axis_taps(double c, int n, ct_fill_mode mode, int *i0, int *i1, double *f) {
    const double last = n - 1;
    switch (mode) {
    case CT_FILL_CONSTANT:
        if (c < 0 || c > last) return 0;
        break;
    case CT_FILL_NEAREST:
        c = c < 0 ? 0 : c > last ? last : c;
        break;
    case CT_FILL_WRAP:
        if (n <= 1) c = 0;
        else if (c < 0) c += (double)(n - 1) * (double)((long long)(-c / (n - 1)) + 1);
        else if (c > last) c -= (double)(n - 1) * (double)(long long)(c / (n - 1));
        break;
    case CT_FILL_REFLECT:
        if (n <= 1) {
            c = 0;
        } else if (c < 0) {
            double s2 = 2.0 * n;
            if (c < -s2) c = s2 * (double)(long long)(-c / s2) + c;
            c = c < -n ? c + s2 : (c > -1e-15 ? 1e-15 : -c) - 1;
        } else if (c > last) {
            double s2 = 2.0 * n;
            c -= s2 * (double)(long long)(c / s2);
            if (c >= n) c = s2 - c - 1;
        }
        break;
    }
    double fl = floor(c);
    long long s = (long long)fl;
    *f = c - fl;
    if (mode == CT_FILL_REFLECT) {
        *i0 = (int)reflect_tap(s, n);
        *i1 = (int)reflect_tap(s + 1, n);
    } else {
        *i0 = (int)mirror_tap(s, n);
        *i1 = (int)mirror_tap(s + 1, n);
    }
    return 1;
}

/* Bilinear in lerp form, which never leaves [min, max] of the four pixels (so rescaled
 * values stay within [0, 255 * rescale]). The 'nearest' fast path. */
static inline float bilerp(const uint8_t *p, int dx, int dy, float fr, float fc) {
    float top = (float)p[0] + fc * ((float)p[dx] - (float)p[0]);
    float bot = (float)p[dy] + fc * ((float)p[dy + dx] - (float)p[dy]);
    return top + fr * (bot - top);
}

/* Output (y, x) samples the warped image at (h-1-y if flipped vertically, w-1-x if
 * flipped horizontally): the flips come after the warp in Keras. */
static void warp_nearest(const uint8_t *in, int h, int w, int c, const double m[9], int hflip,
                         int vflip, float scale, float *out) {
    const size_t plane = (size_t)h * w;
    const double rmax = h - 1, cmax = w - 1;
    const double dr = hflip ? -m[1] : m[1], dc = hflip ? -m[4] : m[4];
    const int x0 = hflip ? w - 1 : 0;
    float *o0 = out, *o1 = out + plane, *o2 = out + 2 * plane;
    for (int y = 0; y < h; y++) {
        const int yy = vflip ? h - 1 - y : y;
        const double br = m[0] * yy + m[1] * x0 + m[2], bc = m[3] * yy + m[4] * x0 + m[5];
        const size_t orow = (size_t)y * w;
        for (int x = 0; x < w; x++) {
            double ir = br + dr * x, ic = bc + dc * x;
            /* mode 'nearest' with linear interpolation == clamping the coordinate */
            ir = ir < 0 ? 0 : ir > rmax ? rmax : ir;
            ic = ic < 0 ? 0 : ic > cmax ? cmax : ic;
            int r0 = (int)ir, c0 = (int)ic;
            float fr = (float)(ir - r0), fc = (float)(ic - c0);
            int dy = r0 + 1 < h ? w * c : 0, dx = c0 + 1 < w ? c : 0;
            const uint8_t *p = in + ((size_t)r0 * w + c0) * c;
            if (c == 3) {
                o0[orow + x] = bilerp(p, dx, dy, fr, fc) * scale;
                o1[orow + x] = bilerp(p + 1, dx, dy, fr, fc) * scale;
                o2[orow + x] = bilerp(p + 2, dx, dy, fr, fc) * scale;
            } else {
                for (int ch = 0; ch < c; ch++)
                    out[ch * plane + orow + x] = bilerp(p + ch, dx, dy, fr, fc) * scale;
            }
        }
    }
}

/* Every fill mode, with scipy's arithmetic: coordinates m * (row, col) + offset, the sum
 * of pixel * row weight * column weight over the four taps in double, rounded to float. */
static void warp_general(const uint8_t *in, int h, int w, int c, const double m[9], int hflip,
                         int vflip, ct_fill_mode mode, float cval, float scale, float *out) {
    const size_t plane = (size_t)h * w;
    const float fill = cval * scale;
    for (int y = 0; y < h; y++) {
        const int yy = vflip ? h - 1 - y : y;
        for (int x = 0; x < w; x++) {
            const int xx = hflip ? w - 1 - x : x;
            const size_t o = (size_t)y * w + x;
            double ir = m[0] * yy + m[1] * xx + m[2], ic = m[3] * yy + m[4] * xx + m[5], fr, fc;
            int r0, r1, c0, c1;
            if (!axis_taps(ir, h, mode, &r0, &r1, &fr) || !axis_taps(ic, w, mode, &c0, &c1, &fc)) {
                for (int ch = 0; ch < c; ch++) out[ch * plane + o] = fill;
                continue;
            }
            const double wr0 = 1.0 - fr, wc0 = 1.0 - fc;
            const uint8_t *p00 = in + ((size_t)r0 * w + c0) * c, *p01 = in + ((size_t)r0 * w + c1) * c;
            const uint8_t *p10 = in + ((size_t)r1 * w + c0) * c, *p11 = in + ((size_t)r1 * w + c1) * c;
            for (int ch = 0; ch < c; ch++) {
                double t = p00[ch] * wr0 * wc0;
                t += p01[ch] * wr0 * fc;
                t += p10[ch] * fr * wc0;
                t += p11[ch] * fr * fc;
                out[ch * plane + o] = (float)t * scale;
            }
        }
    }
}

/* apply_channel_shift (clip to the warped image's min and max over all channels), then
 * apply_brightness_shift (array_to_img truncates to uint8, PIL multiplies in float and
 * truncates, clipping at 255), then rescale. Flips commute with these pixel-wise steps. */
static void post_pass(float *v, size_t n, const ct_aug_draw *d, float rescale) {
    if (d->channel_shift != 0) {
        float lo = v[0], hi = v[0];
        for (size_t i = 1; i < n; i++) {
            lo = v[i] < lo ? v[i] : lo;
            hi = v[i] > hi ? v[i] : hi;
        }
        const float s = (float)d->channel_shift;
        for (size_t i = 0; i < n; i++) {
            float t = v[i] + s;
            v[i] = t < lo ? lo : t > hi ? hi : t;
        }
    }
    if (d->has_brightness) {
        const float f = (float)d->brightness;
        for (size_t i = 0; i < n; i++) {
            float u = v[i] < 0 ? 0.0f : v[i] > 255 ? 255.0f : v[i]; /* already so; no UB */
            float t = f * (float)(uint8_t)u;
            v[i] = t <= 0 ? 0.0f : t >= 255 ? 255.0f : (float)(uint8_t)t;
        }
    }
    if (rescale != 1.0f)
        for (size_t i = 0; i < n; i++) v[i] *= rescale;
}

void ct_augment_apply(const uint8_t *in, int h, int w, int c, const ct_aug_draw *d, float rescale,
                      float *out) {
    const size_t plane = (size_t)h * w;
    const int hflip = d ? d->flip : 0, vflip = d ? d->flip_vertical : 0;
    const int post = d && (d->channel_shift != 0 || d->has_brightness);
    const float scale = post ? 1.0f : rescale;
    if (!d || is_identity(d)) {
        /* Keras skips the affine step when no parameter moves the image */
        for (int y = 0; y < h; y++) {
            const uint8_t *row = in + (size_t)(vflip ? h - 1 - y : y) * w * c;
            for (int x = 0; x < w; x++) {
                int sx = hflip ? w - 1 - x : x;
                for (int ch = 0; ch < c; ch++)
                    out[ch * plane + (size_t)y * w + x] = (float)row[sx * c + ch] * scale;
            }
        }
    } else {
        double m[9];
        ct_augment_matrix(d, h, w, m);
        /* the float fast path unless whole values are taken after it (brightness) */
        if (d->fill_mode == CT_FILL_NEAREST && !d->has_brightness)
            warp_nearest(in, h, w, c, m, hflip, vflip, scale, out);
        else
            warp_general(in, h, w, c, m, hflip, vflip, d->fill_mode, d->cval, scale, out);
    }
    if (post) post_pass(out, plane * c, d, rescale);
}
