/* Augmentation preview: a PNG grid of n augmented versions of one image (the original
 * project's 2x2 sanity figure), drawn with the "seed" preset or given settings, or one
 * fixed transform (to compare with Keras's apply_transform). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"
#include "base/error.h"

#define PAD 4

ct_status ct_preview_write(const char *image, const char *out_png, int n, uint64_t seed, int h, int w) {
    return ct_preview_write_aug(image, out_png, n, seed, h, w, NULL, NULL);
}

ct_status ct_preview_write_aug(const char *image, const char *out_png, int n, uint64_t seed, int h,
                               int w, const ct_augment *aug_opts, const ct_aug_draw *fixed) {
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
    s = ct_png_write(out_png, grid, gh, gw, 3);
done:
    free(img);
    free(aug);
    free(grid);
    return s;
}
