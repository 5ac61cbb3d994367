/* Augmentation preview: a PNG or JPEG grid of n augmented versions of one image (the
 * original project's 2x2 sanity figure), drawn with the "seed" preset or given settings, or
 * one fixed transform (to compare with Keras's apply_transform). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <turbojpeg.h>

#include "data/data.h"
#include "base/error.h"
#include "io/fileutil.h"

#define PAD 4
#define JPEG_QUALITY 92

ct_preview_type ct_preview_format(const char *path) {
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash)) return CT_PREVIEW_UNKNOWN;
    if (!strcasecmp(dot, ".png")) return CT_PREVIEW_PNG;
    if (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg")) return CT_PREVIEW_JPEG;
    return CT_PREVIEW_UNKNOWN;
}

/* RGB (h x w x 3) to a JPEG file with libjpeg-turbo, written atomically. */
static ct_status jpeg_write(const char *path, const uint8_t *rgb, int h, int w) {
    tjhandle tj = tjInitCompress();
    if (!tj) return ct_set_error(CT_ERR_MEMORY, "%s: libturbojpeg could not start", path);
    unsigned char *jpg = NULL;
    unsigned long len = 0;
    ct_status s = CT_OK;
    if (tjCompress2(tj, rgb, w, 0, h, TJPF_RGB, &jpg, &len, TJSAMP_444, JPEG_QUALITY, 0) != 0)
        s = ct_set_error(CT_ERR_IO, "%s: JPEG encoding failed: %s", path, tjGetErrorStr2(tj));
    else
        s = ct_write_atomic_buf(path, jpg, (size_t)len);
    tjFree(jpg);
    tjDestroy(tj);
    return s;
}

ct_status ct_preview_write(const char *image, const char *out_png, int n, uint64_t seed, int h, int w) {
    return ct_preview_write_aug(image, out_png, n, seed, h, w, NULL, NULL);
}

ct_status ct_preview_write_aug(const char *image, const char *out_png, int n, uint64_t seed, int h,
                               int w, const ct_augment *aug_opts, const ct_aug_draw *fixed) {
    ct_preview_type type = ct_preview_format(out_png);
    if (type == CT_PREVIEW_UNKNOWN)
        return ct_set_error(CT_ERR_ARG, "preview: %s: unknown image type; the name must end in "
                            ".png, .jpg or .jpeg", out_png);
    if (n <= 0 || n > 1024) return ct_set_error(CT_ERR_ARG, "preview: --n %d must be in 1..1024", n);
    if (h <= 0 || w <= 0) h = w = 224;
    if (h > 4096 || w > 4096) return ct_set_error(CT_ERR_ARG, "preview: size %dx%d is too large", h, w);
    ct_augment a;
    if (aug_opts) a = *aug_opts;
    else CT_TRY(ct_augment_preset("seed", &a));
    int cols = (int)ceil(sqrt((double)n)), rows = (n + cols - 1) / cols;
    int gw = cols * w + (cols + 1) * PAD, gh = rows * h + (rows + 1) * PAD;
    uint8_t *img = malloc((size_t)h * w * 3);
    float *aug = malloc(sizeof(float) * 3 * h * w);
    uint8_t *grid = malloc((size_t)gh * gw * 3);
    ct_status s = CT_OK;
    if (!img || !aug || !grid) {
        s = ct_set_error(CT_ERR_MEMORY, "preview: out of memory");
        goto done;
    }
    s = ct_image_load(image, h, w, 3, CT_RESIZE_NEAREST, img);
    if (s != CT_OK) {
        ct_error_prefix(s, "preview: ");
        goto done;
    }
    memset(grid, 255, (size_t)gh * gw * 3);
    for (int i = 0; i < n; i++) {
        ct_rng r;
        ct_aug_draw d;
        ct_rng_seed(&r, seed, 0, (uint64_t)i);
        ct_augment_draw(&a, &r, h, w, &d);
        if (fixed) {
            d = *fixed;
            d.fill_mode = a.fill_mode;
            d.cval = a.cval;
        }
        ct_augment_apply(img, h, w, 3, &d, 1.0f, aug);
        int oy = PAD + (i / cols) * (h + PAD), ox = PAD + (i % cols) * (w + PAD);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++) {
                    float v = aug[(size_t)c * h * w + (size_t)y * w + x] + 0.5f;
                    grid[((size_t)(oy + y) * gw + ox + x) * 3 + c] =
                        (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
                }
    }
    s = type == CT_PREVIEW_JPEG ? jpeg_write(out_png, grid, gh, gw) : ct_png_write(out_png, grid, gh, gw, 3);
done:
    free(img);
    free(aug);
    free(grid);
    return s;
}
