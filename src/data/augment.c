/* Augmentation with Keras ImageDataGenerator semantics (shared/docs/REFERENCE.md, beside
 * the repository): random draws as get_random_transform, the matrix as
 * apply_affine_transform, sampling as scipy.ndimage.affine_transform(order=1,
 * mode='nearest'), then the horizontal flip, then rescale. All of it is one pass over the
 * output pixels writing planar float. */
#include <math.h>
#include <string.h>

#include "base/splitmix.h"
#include "data/data.h"
#include "base/error.h"

ct_status ct_augment_preset(const char *name, ct_augment *out) {
    memset(out, 0, sizeof *out);
    out->zoom_lo = out->zoom_hi = 1.0f;
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

void ct_augment_draw(const ct_augment *a, ct_rng *r, int h, int w, ct_aug_draw *d) {
    memset(d, 0, sizeof *d);
    d->zx = d->zy = 1.0f;
    if (!a || !a->enabled) return;
    /* Keras's order: theta, tx (height shift, rows), ty (width shift, columns), shear, zx, zy,
     * flip. Ranges >= 1 are pixels, below 1 fractions of the size (Keras). */
    if (a->rotation_range) d->theta_deg = (float)unif(r, -a->rotation_range, a->rotation_range);
    if (a->height_shift_range) {
        double t = unif(r, -a->height_shift_range, a->height_shift_range);
        d->tx = (float)(a->height_shift_range < 1 ? t * h : t);
    }
    if (a->width_shift_range) {
        double t = unif(r, -a->width_shift_range, a->width_shift_range);
        d->ty = (float)(a->width_shift_range < 1 ? t * w : t);
    }
    if (a->shear_range) d->shear_deg = (float)unif(r, -a->shear_range, a->shear_range);
    if (!(a->zoom_lo == 1.0f && a->zoom_hi == 1.0f)) {
        d->zx = (float)unif(r, a->zoom_lo, a->zoom_hi);
        d->zy = (float)unif(r, a->zoom_lo, a->zoom_hi);
    }
    d->flip = a->horizontal_flip ? ct_rng_uniform(r) < 0.5 : 0;
}

static void mul3(const double a[9], const double b[9], double o[9]) {
    double t[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            t[3 * i + j] = a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j];
    memcpy(o, t, sizeof t);
}

void ct_augment_matrix(const ct_aug_draw *d, int h, int w, double m[9]) {
    const double deg = M_PI / 180.0;
    double th = d->theta_deg * deg, sh = d->shear_deg * deg;
    double R[9] = {cos(th), -sin(th), 0, sin(th), cos(th), 0, 0, 0, 1};
    double T[9] = {1, 0, d->tx, 0, 1, d->ty, 0, 0, 1};
    double S[9] = {1, -sin(sh), 0, 0, cos(sh), 0, 0, 0, 1};
    double Z[9] = {d->zx, 0, 0, 0, d->zy, 0, 0, 0, 1};
    double M[9];
    mul3(R, T, M);
    mul3(M, S, M);
    mul3(M, Z, M);
    double orow = h / 2.0 - 0.5, ocol = w / 2.0 - 0.5;
    double O[9] = {1, 0, orow, 0, 1, ocol, 0, 0, 1};
    double Oi[9] = {1, 0, -orow, 0, 1, -ocol, 0, 0, 1};
    mul3(O, M, M);
    mul3(M, Oi, m);
}

static int is_identity(const ct_aug_draw *d) {
    return d->theta_deg == 0 && d->tx == 0 && d->ty == 0 && d->shear_deg == 0 && d->zx == 1 &&
           d->zy == 1;
}

/* Bilinear in lerp form, which never leaves [min, max] of the four pixels (so rescaled
 * values stay within [0, 255 * rescale]). */
static inline float bilerp(const uint8_t *p, int dx, int dy, float fr, float fc) {
    float top = (float)p[0] + fc * ((float)p[dx] - (float)p[0]);
    float bot = (float)p[dy] + fc * ((float)p[dy + dx] - (float)p[dy]);
    return top + fr * (bot - top);
}

void ct_augment_apply(const uint8_t *in, int h, int w, int c, const ct_aug_draw *d, float rescale,
                      float *out) {
    const size_t plane = (size_t)h * w;
    int flip = d ? d->flip : 0;
    if (!d || is_identity(d)) {
        /* Keras skips the affine step when no parameter moves the image */
        for (int y = 0; y < h; y++) {
            const uint8_t *row = in + (size_t)y * w * c;
            for (int x = 0; x < w; x++) {
                int sx = flip ? w - 1 - x : x;
                for (int ch = 0; ch < c; ch++)
                    out[ch * plane + (size_t)y * w + x] = (float)row[sx * c + ch] * rescale;
            }
        }
        return;
    }
    double m[9];
    ct_augment_matrix(d, h, w, m);
    const double rmax = h - 1, cmax = w - 1;
    /* flip after the warp: output column x shows warped column w-1-x */
    const double dr = flip ? -m[1] : m[1], dc = flip ? -m[4] : m[4];
    const int x0 = flip ? w - 1 : 0;
    float *o0 = out, *o1 = out + plane, *o2 = out + 2 * plane;
    for (int y = 0; y < h; y++) {
        const double br = m[0] * y + m[1] * x0 + m[2], bc = m[3] * y + m[4] * x0 + m[5];
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
                o0[orow + x] = bilerp(p, dx, dy, fr, fc) * rescale;
                o1[orow + x] = bilerp(p + 1, dx, dy, fr, fc) * rescale;
                o2[orow + x] = bilerp(p + 2, dx, dy, fr, fc) * rescale;
            } else {
                for (int ch = 0; ch < c; ch++)
                    out[ch * plane + orow + x] = bilerp(p + ch, dx, dy, fr, fc) * rescale;
            }
        }
    }
}
