/* Data path on the CPU: directory scan, JPEG/PNG decode + resize, decode-once cache,
 * Keras-faithful augmentation, and a double-buffered producer with worker threads.
 * Nothing here touches the OpenCL device. */
#ifndef CT_DATA_H
#define CT_DATA_H

#include <stdint.h>

#include "cltrain.h"

/* ---- datasets ------------------------------------------------------------ */
typedef struct ct_dataset {
    int n_classes;
    char **class_names; /* sorted by strcmp */
    int n;              /* samples */
    char **paths;       /* walked recursively, sorted */
    int *labels;        /* class index per sample */
} ct_dataset;

/* The public ct_dataset (cltrain.h) is this struct behind a pointer.
 * Scans one or more class-folder roots and joins them (class sets are unioned by name).
 * Prints nothing (ct_dataset_print writes Keras's "Found N images ..." line).
 * A missing folder, an empty class folder or an empty dataset is CT_ERR_IO/ARG with a
 * message naming the folder. */
ct_status ct_dataset_scan(const char *const *dirs, int n_dirs, ct_dataset *out);
/* Prints "Found N images belonging to C classes." (for a split subset, say). */
void ct_dataset_print(const ct_dataset *d, FILE *f);
/* Keras validation_split: subset 0 = training part, 1 = validation part; the validation
 * part is the FIRST int(fraction * n) of each class's sorted files. */
ct_status ct_dataset_split(const ct_dataset *src, double fraction, int subset, ct_dataset *out);
/* Frees what d holds (not d itself; the public ct_dataset_free frees both). */
void ct_dataset_clear(ct_dataset *d);
/* Appends the image files under dir (recursive, Keras's sorted os.walk order) to
 * (*paths, *n, *cap), a growing malloc'd array of malloc'd strings. */
ct_status ct_image_walk(const char *dir, char ***paths, int *n, int *cap);

/* ---- decoding ---------------------------------------------------------- */

/* Decodes a JPEG/PNG file (by content, not by name) and resizes it to h x w with c
 * channels (3 = RGB, 1 = grayscale), uint8 HWC. Corrupt input: CT_ERR_FORMAT with a
 * message naming the file. Never crashes on bad input. */
ct_status ct_image_load(const char *path, int h, int w, int c, ct_resize rs, uint8_t *out);
/* Same from memory (used by the fuzzer); name is only for messages. */
ct_status ct_image_decode_mem(const unsigned char *buf, size_t len, const char *name, int h, int w,
                              int c, ct_resize rs, uint8_t *out);
/* Writes uint8 HWC (c = 1 or 3) as PNG, to a temp name then renamed. */
ct_status ct_png_write(const char *path, const uint8_t *img, int h, int w, int c);

/* ---- augmentation (ImageDataGenerator semantics) ----------------------- */
typedef struct ct_augment {
    float rotation_range;     /* degrees */
    float width_shift_range;  /* fraction of width (moves columns) */
    float height_shift_range; /* fraction of height (moves rows) */
    float shear_range;        /* degrees */
    float zoom_lo, zoom_hi;   /* zx, zy drawn independently from U(lo, hi) */
    int horizontal_flip;
    int enabled; /* 0: no augmentation at all */
} ct_augment;

/* "seed" (the original project's settings) or "none". */
ct_status ct_augment_preset(const char *name, ct_augment *out);

/* The drawn parameters of one image. */
typedef struct ct_aug_draw {
    float theta_deg, tx, ty, shear_deg, zx, zy;
    int flip;
} ct_aug_draw;

/* 3x3 output->input matrix M = R*T*S*Z centred on (h/2-0.5, w/2-0.5), row-major, in
 * (row, col) coordinates as Keras's apply_affine_transform. */
void ct_augment_matrix(const ct_aug_draw *d, int h, int w, double m[9]);
/* One pass: out[y,x] = bilinear(in, M*(y,x)) with fill 'nearest', then flip, then
 * scale. in: uint8 HWC, out: float CHW (planar), out = value * rescale. */
void ct_augment_apply(const uint8_t *in, int h, int w, int c, const ct_aug_draw *d, float rescale,
                      float *out);

/* Counter-based RNG: a stream from (seed, epoch, index) — independent of thread count. */
typedef struct ct_rng {
    uint64_t s[4];
} ct_rng;
void ct_rng_seed(ct_rng *r, uint64_t seed, uint64_t a, uint64_t b);
uint64_t ct_rng_next(ct_rng *r);
double ct_rng_uniform(ct_rng *r); /* [0,1) */
void ct_augment_draw(const ct_augment *a, ct_rng *r, int h, int w, ct_aug_draw *out);

/* Writes a PNG grid (ceil(sqrt(n)) columns, white gaps) of n augmented versions of one
 * image with the "seed" preset; image i uses the RNG stream (seed, 0, i). h, w: size of
 * each tile (<= 0: 224x224). */
ct_status ct_preview_write(const char *image, const char *out_png, int n, uint64_t seed, int h, int w);

/* ---- producer ----------------------------------------------------------- */
typedef struct ct_loader_opts {
    int batch;
    int h, w, c;
    ct_resize resize; /* may include CT_DECODE_FULL */
    ct_augment augment; /* .enabled = 0 for none */
    ct_preprocess pre;  /* rescale and standardization (ct_preprocess_image) */
    int shuffle;
    uint64_t seed;
    int workers;    /* <= 0: cores - 1, at least 1 */
    size_t cache_mb; /* decode-once cache cap; 0 = decode every time */
    int quiet;
} ct_loader_opts;

/* ---- preprocessing (standardize.c): the one path from decoded pixels to network input */
/* Nonzero when a featurewise step is on (it needs the training set's statistics). */
int ct_preprocess_featurewise(const ct_preprocess *p);
/* NULL when p fits c-channel images, else the model-file key at fault ("rescale",
 * "featurewise_mean", "featurewise_std") with the reason in why. need_stats: a featurewise
 * flag without its statistics is an error too (a model file), else they may be computed. */
const char *ct_preprocess_invalid(const ct_preprocess *p, int c, int need_stats, char *why,
                                  size_t n);
/* "--rescale" values: a number or a fraction "A/B"; > 0 and finite, else CT_ERR_ARG. */
ct_status ct_rescale_parse(const char *s, float *out);
/* Keras's ImageDataGenerator.standardize after the rescale, on one planar image (c planes
 * of hw floats): samplewise center, samplewise std (x /= std + 1e-6), featurewise center
 * (x -= mean[ch]), featurewise std (x /= std[ch] + 1e-6). Featurewise steps are skipped
 * while p->n_stats is 0. */
void ct_standardize(const ct_preprocess *p, int c, size_t hw, float *x);
/* Decoded uint8 HWC -> network input float CHW: ct_augment_apply (d may be NULL) with
 * p->rescale, then ct_standardize. */
void ct_preprocess_image(const ct_preprocess *p, const uint8_t *in, int h, int w, int c,
                         const ct_aug_draw *d, float *out);
/* Fills p's featurewise statistics (n_stats = o->c) from one pass over ds decoded with o
 * (no augmentation, in order) and preprocessed by p's rescale and samplewise steps. No
 * featurewise flag: nothing to do. */
ct_status ct_preprocess_fit(const ct_dataset *ds, const ct_loader_opts *o, ct_preprocess *p);

/* The public loader (cltrain.h: ct_loader_open, _next, _release, ...) from these options. */
ct_status ct_loader_create(const ct_dataset *ds, const ct_loader_opts *o, ct_loader **out);
/* Seconds the consumer spent blocked in ct_loader_next (for "waiting for data" %). */
double ct_loader_wait_seconds(const ct_loader *l);

#endif
