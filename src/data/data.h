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

/* Scans one or more class-folder roots and joins them (class sets are unioned by name).
 * Prints Keras's "Found N images belonging to C classes." to stdout unless quiet.
 * A missing folder, an empty class folder or an empty dataset is CT_ERR_IO/ARG with a
 * message naming the folder. */
ct_status ct_dataset_scan(const char *const *dirs, int n_dirs, int quiet, ct_dataset *out);
/* Prints "Found N images belonging to C classes." (for a split subset, say). */
void ct_dataset_print(const ct_dataset *d, FILE *f);
/* Keras validation_split: subset 0 = training part, 1 = validation part; the validation
 * part is the FIRST int(fraction * n) of each class's sorted files. */
ct_status ct_dataset_split(const ct_dataset *src, double fraction, int subset, ct_dataset *out);
void ct_dataset_free(ct_dataset *d);

/* ---- decoding ---------------------------------------------------------- */
/* Resize filters are Pillow's (what Keras's load_img uses). Default: nearest, as Keras.
 * JPEGs are decoded with libjpeg-turbo's DCT scaling at the smallest scale still >= the
 * target (much faster, and it low-passes). OR in CT_DECODE_FULL to decode at full size
 * instead, which reproduces Pillow's decode + resize bit for bit (nearest), as Keras. */
typedef enum {
    CT_RESIZE_NEAREST = 0,
    CT_RESIZE_BILINEAR = 1,
    CT_RESIZE_AREA = 2, /* Pillow BOX */
    CT_DECODE_FULL = 0x100
} ct_resize;
/* Parses "nearest|bilinear|area". */
ct_status ct_resize_parse(const char *s, ct_resize *out);

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
    float rescale;      /* usually 1/255 */
    int shuffle;
    uint64_t seed;
    int workers;    /* <= 0: cores - 1, at least 1 */
    size_t cache_mb; /* decode-once cache cap; 0 = decode every time */
    int quiet;
    /* Optional caller-owned slot memory (e.g. mapped pinned buffers): two slots of
     * batch*c*h*w floats and batch labels. NULL: the loader mallocs them. */
    float *x_slots[2];
    int32_t *y_slots[2];
} ct_loader_opts;

typedef struct ct_loader ct_loader;

typedef struct ct_batch {
    int slot;        /* 0 or 1 */
    int count;       /* samples in this batch (the last one of an epoch may be short) */
    int index;       /* batch index within the epoch */
    float *x;        /* count x c x h x w, NCHW */
    int32_t *y;      /* class index per sample */
} ct_batch;

ct_status ct_loader_create(const ct_dataset *ds, const ct_loader_opts *o, ct_loader **out);
int ct_loader_batches(const ct_loader *l); /* ceil(n / batch) */
/* Starts producing the batches of an epoch (shuffled by seed+epoch if shuffle). */
ct_status ct_loader_start_epoch(ct_loader *l, int epoch);
/* Blocks until the next batch is ready. Returns CT_OK with b->count == 0 at epoch end.
 * Release each batch before asking for the one after next: with both slots held this
 * returns CT_ERR_ARG instead of waiting forever. */
ct_status ct_loader_next(ct_loader *l, ct_batch *b);
/* Gives the slot back once its contents have been consumed (uploaded). */
void ct_loader_release(ct_loader *l, const ct_batch *b);
/* Files skipped as unreadable/corrupt so far (each warned once, naming the file). */
int ct_loader_skipped(const ct_loader *l);
/* Seconds the consumer spent blocked in ct_loader_next (for "waiting for data" %). */
double ct_loader_wait_seconds(const ct_loader *l);
void ct_loader_free(ct_loader *l);

#endif
