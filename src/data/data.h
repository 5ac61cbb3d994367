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

/* ---- augmentation (ImageDataGenerator semantics, docs/AUGMENTATION.md) ---- */
typedef enum ct_fill_mode {
    CT_FILL_NEAREST = 0, /* aaaa|abcd|dddd (the default, as Keras) */
    CT_FILL_CONSTANT,    /* kkkk|abcd|kkkk with k = cval; no interpolation across the edge */
    CT_FILL_REFLECT,     /* dcba|abcd|dcba (scipy 'reflect': half-sample symmetric) */
    CT_FILL_WRAP         /* scipy 'wrap': period n - 1, the first and last pixel coincide */
} ct_fill_mode;

typedef struct ct_augment {
    float rotation_range;     /* degrees */
    float width_shift_range;  /* < 1: fraction of the width, >= 1: pixels (moves columns) */
    float height_shift_range; /* the same for rows */
    float shear_range;        /* degrees */
    float zoom_lo, zoom_hi;   /* zx, zy drawn independently from U(lo, hi) */
    int horizontal_flip;
    int enabled; /* 0: no augmentation at all */
    /* Keras's int form of a shift range (written without '.' or exponent): the shift is
     * choice(0..n-1) * choice(-1, 1) pixels. */
    int width_shift_int, height_shift_int;
    int vertical_flip;
    float channel_shift_range;           /* U(-r, r) added to every channel, 0: off */
    int has_brightness;                  /* brightness_range given */
    float brightness_lo, brightness_hi;  /* PIL ImageEnhance.Brightness factor ~ U(lo, hi) */
    ct_fill_mode fill_mode;
    float cval; /* 0..255, for CT_FILL_CONSTANT */
} ct_augment;

/* "seed" (the original project's settings) or "none". */
ct_status ct_augment_preset(const char *name, ct_augment *out);
/* An augmentation spec: an optional preset name, then space-separated key=value items
 * with Keras's keyword names, each overriding the preset, e.g.
 * "seed rotation_range=30 zoom_range=0.9,1.1 fill_mode=reflect". Keys: rotation_range,
 * width_shift_range, height_shift_range, shear_range, zoom_range (Z or LO,HI),
 * brightness_range (LO,HI), channel_shift_range, horizontal_flip, vertical_flip (0/1),
 * fill_mode (nearest|constant|reflect|wrap), cval. NULL or "" is "none". */
ct_status ct_augment_parse(const char *spec, ct_augment *out);
/* Sets one key (as in a spec) on a; errors name `what` (an option such as
 * "--rotation-range", or the key) and say what is allowed. */
ct_status ct_augment_set(ct_augment *a, const char *key, const char *value, const char *what);
/* The spec key of a command-line option ("--rotation-range" -> "rotation_range"), NULL if
 * opt is not an augmentation option. *flag_value is the value a flag option implies
 * ("1" for --horizontal-flip) or NULL when the option takes a value. */
const char *ct_augment_cli_key(const char *opt, const char **flag_value);

/* The parameters of one image: Keras's apply_transform keys. tx moves columns, ty rows
 * (Keras's matrix; see ct_augment_draw for which range feeds which). */
typedef struct ct_aug_draw {
    double theta_deg, tx, ty, shear_deg, zx, zy;
    int flip; /* flip_horizontal */
    int flip_vertical;
    double channel_shift;  /* channel_shift_intensity; 0: none */
    int has_brightness;    /* brightness given (1.0 still truncates to whole values, as Keras) */
    double brightness;
    ct_fill_mode fill_mode; /* copied from the ct_augment by ct_augment_draw */
    float cval;
} ct_aug_draw;

/* One fixed transform from Keras's apply_transform keys, comma separated:
 * "theta=20,tx=3,ty=-2,shear=5,zx=1.1,zy=0.9,flip_horizontal=1,flip_vertical=0,
 * channel_shift_intensity=10,brightness=1.2"; absent keys take Keras's defaults. Fill
 * mode and cval are left as they are in *d. Errors name --transform and the key. */
ct_status ct_aug_transform_parse(const char *s, ct_aug_draw *d);

/* The 3x3 output->input matrix in (row, col), row-major, exactly as Keras's
 * apply_affine_transform builds it: M = R*T*S*Z centred by transform_matrix_offset_center
 * (h, w), then the axis swap P*M*P (which makes tx a column shift, and centres on
 * (w/2-0.5, h/2-0.5) -- the same point for square images). */
void ct_augment_matrix(const ct_aug_draw *d, int h, int w, double m[9]);
/* out[y,x] = bilinear(in, M*(y,x)) with the fill mode (scipy.ndimage.affine_transform,
 * order 1), then the channel shift, the flips and the brightness (Keras's
 * apply_transform), then * rescale. in: uint8 HWC, out: float CHW (planar). The warp is
 * one pass; channel shift and brightness add one pass over out when drawn. */
void ct_augment_apply(const uint8_t *in, int h, int w, int c, const ct_aug_draw *d, float rescale,
                      float *out);

/* Counter-based RNG: a stream from (seed, epoch, index) — independent of thread count. */
typedef struct ct_rng {
    uint64_t s[4];
} ct_rng;
void ct_rng_seed(ct_rng *r, uint64_t seed, uint64_t a, uint64_t b);
uint64_t ct_rng_next(ct_rng *r);
double ct_rng_uniform(ct_rng *r); /* [0,1) */
/* Draws as Keras's get_random_transform (theta, shifts, shear, zx, zy, flips, channel
 * shift, brightness; a disabled one draws nothing), except that the names are followed:
 * width_shift_range feeds tx (columns) and height_shift_range ty (rows). */
void ct_augment_draw(const ct_augment *a, ct_rng *r, int h, int w, ct_aug_draw *out);

/* Writes a grid (ceil(sqrt(n)) columns, white gaps) of n augmented versions of one image
 * with the "seed" preset; image i uses the RNG stream (seed, 0, i). h, w: size of each tile
 * (<= 0: 224x224). The file type follows the name (ct_preview_format); another name is
 * refused before the image is decoded. */
ct_status ct_preview_write(const char *image, const char *out_png, int n, uint64_t seed, int h, int w);
typedef enum { CT_PREVIEW_UNKNOWN, CT_PREVIEW_PNG, CT_PREVIEW_JPEG } ct_preview_type;
/* From the name's extension, any case: .png, .jpg or .jpeg. */
ct_preview_type ct_preview_format(const char *path);
/* The same with augmentation a (NULL: the "seed" preset); fixed non-NULL: every tile
 * shows that one transform (its fill mode and cval come from a). */
ct_status ct_preview_write_aug(const char *image, const char *out_png, int n, uint64_t seed, int h,
                               int w, const ct_augment *a, const ct_aug_draw *fixed);

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
/* Sharded batches (MPI ranks, docs/SCALING.md): each global batch of count samples is split
 * over parts replicas by ct_fit_split's rule, and only the rows of replicas [first, first + n)
 * are made (decoded, augmented), the order and every sample's augmentation unchanged; a
 * batch's count is then those rows. Call before the first ct_loader_start_epoch; parts 0:
 * whole batches. */
void ct_loader_set_shard(ct_loader *l, int parts, int first, int n);
/* Of a sharded batch: the samples of the whole global batch and the global row of its
 * first row (count and 0 unsharded). */
void ct_loader_batch_rows(const ct_loader *l, const ct_batch *b, int *total, int *row0);

#endif
