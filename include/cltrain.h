/* cltrain: train small convolutional networks on any OpenCL device.
 *
 * This header is the whole public API; the `cltrain` program is built on it. Build a
 * program with `cc app.c $(pkg-config --cflags --libs cltrain)`.
 *
 *     #include <cltrain.h>
 *
 *     ct_runtime *rt = NULL;             // NULL devspec: $CLTRAIN_DEVICE or the default
 *     ct_dataset *train = NULL;
 *     ct_classifier *m = NULL;
 *     const char *dirs[] = {"data/train"};  // one sub-folder per class
 *     if (ct_runtime_create(NULL, 0, &rt) != CT_OK ||
 *         ct_dataset_open(dirs, 1, &train) != CT_OK ||
 *         ct_classifier_create(rt, "conv8:3:relu,pool2,flatten,dense1", 32, 32, 3,
 *                              CT_RESIZE_NEAREST, ct_dataset_class_count(train),
 *                              ct_dataset_class_names(train), 32, 1, &m) != CT_OK) {
 *         fprintf(stderr, "%s\n", ct_last_error());
 *         return 1;
 *     }
 *     ct_fit_opts o;
 *     ct_fit_opts_default(&o);           // Keras defaults; set o.on_epoch to see progress
 *     o.epochs = 1;
 *     o.batch = 32;
 *     ct_fit_result r;
 *     if (ct_fit(m, train, NULL, &o, &r) != CT_OK) ...
 *     float p[16];                       // ct_classifier_class_count(m) probabilities
 *     if (ct_classifier_predict_file(m, "cat.jpg", p) != CT_OK) ...
 *     ct_classifier_save(m, "model.safetensors");
 *     ct_classifier_free(m);
 *     ct_dataset_free(train);
 *     ct_runtime_free(rt);
 *
 * Conventions: every function that can fail returns a ct_status; on failure
 * ct_last_error() holds a message (per thread) that names what failed (file, option,
 * tensor, OpenCL call) and what to do. Handles are opaque; each ct_X_create/open/load
 * has a ct_X_free that accepts NULL. The library never exits the process and prints
 * nothing unless asked: messages go to the handler set with ct_set_log, progress to the
 * callbacks in ct_fit_opts, and the ct_*_print / summary functions write to the FILE*
 * they are given. Images are float NCHW (batch, channel, row, column), values 0..1 by
 * default (the model's ct_preprocess: rescale 1/255, optionally standardized).
 */
#ifndef CLTRAIN_H
#define CLTRAIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the functions of the shared library's interface; everything else in libcltrain.so
 * is hidden (tools/export_map.py makes the linker's version script from these marks). */
#if defined(CT_BUILDING_LIBRARY) && defined(__GNUC__)
#define CT_API __attribute__((visibility("default")))
#else
#define CT_API
#endif

#define CLTRAIN_VERSION_MAJOR 0
#define CLTRAIN_VERSION_MINOR 1
#define CLTRAIN_VERSION_PATCH 0
#define CLTRAIN_VERSION_STRING "0.1.0"
/* For compile-time checks: CLTRAIN_VERSION >= CLTRAIN_VERSION_AT(0, 1, 0). */
#define CLTRAIN_VERSION_AT(major, minor, patch) ((major) * 10000 + (minor) * 100 + (patch))
#define CLTRAIN_VERSION \
    CLTRAIN_VERSION_AT(CLTRAIN_VERSION_MAJOR, CLTRAIN_VERSION_MINOR, CLTRAIN_VERSION_PATCH)

/* ---- status, errors, messages ------------------------------------------------ */
typedef enum ct_status {
    CT_OK = 0,
    CT_ERR_ARG,        /* bad option, spec or argument */
    CT_ERR_IO,         /* file or folder missing, unreadable, unwritable */
    CT_ERR_FORMAT,     /* corrupt or foreign file (image, model, cache entry) */
    CT_ERR_NO_DEVICE,  /* no OpenCL platform/device, or unknown P:D */
    CT_ERR_CL,         /* an OpenCL call failed */
    CT_ERR_BUILD,      /* an OpenCL program failed to build */
    CT_ERR_MEMORY,     /* host or device allocation failed or exceeds the device's limits */
    CT_ERR_SHAPE,      /* a layer does not fit its input */
    CT_ERR_NUMERIC,    /* NaN/Inf loss or similar */
    CT_ERR_MISMATCH,   /* a check against a reference failed */
    CT_ERR_INTERNAL
} ct_status;

CT_API const char *ct_status_str(ct_status s);
/* Message of the last error set on this thread ("" if none). */
CT_API const char *ct_last_error(void);
CT_API const char *ct_version(void); /* the library's version, "0.1.0" */

/* Messages the library has for a person (warnings such as a skipped unreadable image or
 * a damaged tuning file; information such as "Decoded 200 images ..." or "Resumed from
 * ...") go to one handler, set per process. Without one the library prints nothing.
 * msg is one line without a newline. */
typedef enum ct_log_level { CT_LOG_ERROR = 0, CT_LOG_WARN, CT_LOG_INFO, CT_LOG_DEBUG } ct_log_level;
typedef void (*ct_log_fn)(void *user, ct_log_level level, const char *msg);
CT_API void ct_set_log(ct_log_fn fn, void *user);

/* ---- runtime and devices ------------------------------------------------------ */
typedef struct ct_runtime ct_runtime;

/* devspec: "P:D" as cldevices numbers them, or NULL for $CLTRAIN_DEVICE, else the
 * default (first GPU over all platforms, else first CPU). flags: CT_RT_* */
#define CT_RT_PROFILE 1u
/* Kernel variants: the fixed per-device-type defaults, no tuning file, nothing timed, so
 * two machines with empty caches compute the same bytes (also env CLTRAIN_DETERMINISTIC=1). */
#define CT_RT_DETERMINISTIC 2u
CT_API ct_status ct_runtime_create(const char *devspec, unsigned flags, ct_runtime **out);
CT_API void ct_runtime_free(ct_runtime *rt);
/* One line: "Device P:D: name (type, driver ...)". */
CT_API void ct_runtime_print_device(const ct_runtime *rt, FILE *f);
/* Kernel programs obtained so far: compiled here, and loaded from the disk cache. */
CT_API void ct_runtime_program_counts(const ct_runtime *rt, int *compiled, int *cached);
/* The per-kernel time table (runtimes created with CT_RT_PROFILE). */
CT_API void ct_runtime_print_profile(const ct_runtime *rt, FILE *f);

typedef struct ct_device_desc {
    char id[16];        /* "P:D", what ct_runtime_create and --device take */
    char name[256];
    char vendor[256];
    char platform[256];
    const char *type;   /* "GPU", "CPU", "ACCELERATOR" or "OTHER" */
    int is_default;     /* the device a NULL devspec picks (without $CLTRAIN_DEVICE) */
} ct_device_desc;

/* Devices over all platforms, numbered 0..n-1 in the order cldevices lists them.
 * No OpenCL platform at all: *n = 0 and CT_OK. */
CT_API ct_status ct_device_count(int *n);
CT_API ct_status ct_device_get(int index, ct_device_desc *out);
/* Index of the default device; CT_ERR_NO_DEVICE when there is none. */
CT_API ct_status ct_device_default(int *index);
/* Prints the device table that `cldevices` and `cltrain devices` show (json: as JSON). */
CT_API ct_status ct_devices_print(FILE *f, int json);

/* ---- datasets ------------------------------------------------------------------ */
/* Class folders as Keras's flow_from_directory reads them: classes are the sub-folders of
 * each root sorted by strcmp; files (.jpg .jpeg .png, any case) are walked recursively in
 * sorted order. Several roots are joined (class sets unioned by name). */
typedef struct ct_dataset ct_dataset;

CT_API ct_status ct_dataset_open(const char *const *dirs, int n_dirs, ct_dataset **out);
/* Keras validation_split: subset 0 = the training part, 1 = the validation part (the
 * FIRST int(fraction * n) files of each class). */
CT_API ct_status ct_dataset_subset(const ct_dataset *src, double fraction, int subset,
                                   ct_dataset **out);
CT_API void ct_dataset_free(ct_dataset *d);
CT_API int ct_dataset_count(const ct_dataset *d);       /* images */
CT_API int ct_dataset_class_count(const ct_dataset *d);
CT_API const char *ct_dataset_class_name(const ct_dataset *d, int i);
/* All class names (ct_dataset_class_count of them), owned by d. */
CT_API const char *const *ct_dataset_class_names(const ct_dataset *d);
CT_API const char *ct_dataset_path(const ct_dataset *d, int i); /* i-th image, scan order */
CT_API int ct_dataset_label(const ct_dataset *d, int i);        /* its class index */

/* Image files under paths: files are kept as given, folders walked recursively in the
 * same sorted order as datasets. *files is malloc'd; free with ct_images_free. */
CT_API ct_status ct_images_find(const char *const *paths, int n_paths, char ***files, int *n_files);
CT_API void ct_images_free(char **files, int n_files);

/* ---- preprocessing and the batch loader ----------------------------------------- */
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
CT_API ct_status ct_resize_parse(const char *s, ct_resize *out);

/* What turns a decoded image (uint8, 0..255) into the network's input, in Keras's
 * ImageDataGenerator.standardize order and maths (docs/MODEL_FORMAT.md, "Preprocessing"):
 *   x *= rescale;
 *   samplewise_center:             x -= mean(x)            (over the whole image)
 *   samplewise_std_normalization:  x /= std(x) + 1e-6
 *   featurewise_center:            x[ch] -= mean[ch]
 *   featurewise_std_normalization: x[ch] /= std[ch] + 1e-6
 * mean/std are statistics of the training set (ct_fit computes them before the first
 * epoch when a featurewise flag is set and n_stats is 0). Model files store all of it. */
typedef struct ct_preprocess {
    float rescale; /* > 0 and finite; default 1/255 */
    int samplewise_center, samplewise_std_normalization;
    int featurewise_center, featurewise_std_normalization;
    int n_stats;           /* channels in mean/std: 0 (not computed) or the image's c */
    float mean[3], std[3]; /* per channel, of the values the featurewise steps see */
} ct_preprocess;
/* rescale 1/255 and nothing else (what cltrain always did; files without the keys). */
CT_API void ct_preprocess_default(ct_preprocess *p);
/* One line such as "rescale 1/255, featurewise center (mean 0.48 0.46 0.41)" into buf. */
CT_API void ct_preprocess_describe(const ct_preprocess *p, char *buf, size_t n);

typedef struct ct_loader_config {
    int batch;           /* samples per batch (the last of an epoch may be short) */
    int h, w, c;         /* image size; c = 3 (RGB) or 1 (grayscale) */
    ct_resize resize;
    const char *augment; /* "none" (default), "seed" (rotation, shifts, shear, zoom, flip), or
                          * a spec: preset then Keras keywords, e.g. "seed zoom_range=0.9,1.1
                          * fill_mode=reflect" (docs/AUGMENTATION.md) */
    int shuffle;         /* reshuffle every epoch, seeded by (seed, epoch) */
    uint64_t seed;
    int workers;         /* decoding threads; <= 0: cores - 1, at least 1 */
    size_t cache_mb;     /* decode-once cache cap in MiB; 0: decode every epoch */
    int quiet;           /* no "Decoded N images ..." message */
    ct_preprocess pre;   /* rescale and standardization (a featurewise flag needs its stats);
                          * all zero: ct_preprocess_default */
} ct_loader_config;
/* batch 32, 112x112x3, nearest, no augmentation, no shuffle, seed 1, cache 2048 MiB,
 * ct_preprocess_default. */
CT_API void ct_loader_config_default(ct_loader_config *c);

/* Turns a dataset into batches of float NCHW images (preprocessed by c->pre) and class indices.
 * Threads decode and augment the next batch while the caller uses the current one;
 * the batches are identical whatever the worker count. Unreadable images are warned
 * about once (ct_set_log) and left out. */
typedef struct ct_loader ct_loader;
typedef struct ct_batch {
    int slot;   /* 0 or 1 */
    int count;  /* samples in this batch; 0 at the end of the epoch */
    int index;  /* batch index within the epoch */
    float *x;   /* count x c x h x w, NCHW */
    int32_t *y; /* class index per sample */
} ct_batch;

CT_API ct_status ct_loader_open(const ct_dataset *ds, const ct_loader_config *c, ct_loader **out);
CT_API void ct_loader_free(ct_loader *l);
CT_API int ct_loader_batches(const ct_loader *l); /* batches per epoch */
/* Starts producing the batches of an epoch (shuffled by seed+epoch if shuffle). */
CT_API ct_status ct_loader_start_epoch(ct_loader *l, int epoch);
/* Blocks until the next batch is ready. Returns CT_OK with b->count == 0 at epoch end.
 * Release each batch before asking for the one after next: with both slots held this
 * returns CT_ERR_ARG instead of waiting forever. */
CT_API ct_status ct_loader_next(ct_loader *l, ct_batch *b);
/* Gives the batch's memory back once its contents have been used. */
CT_API void ct_loader_release(ct_loader *l, const ct_batch *b);
/* Files skipped as unreadable/corrupt so far. */
CT_API int ct_loader_skipped(const ct_loader *l);

/* ---- models ---------------------------------------------------------------------- */
/* A classifier: a sequential network on a runtime's device, with its input shape, its
 * preprocessing and its class names. Spec grammar (docs/LAYERS.md), comma separated:
 *   conv<F>:<K>[:s<S>][:same|valid][:<act>]   pool<P>[:s<S>]   avgpool<P>[:s<S>]   gap
 *   flatten   dense<U>[:<act>|softmax]   dropout<R>   <act>   softmax
 *   <act> = relu | sigmoid | tanh | leakyrelu[<alpha>] (default 0.3) | linear
 * or a preset: "model1", "model2", "model3", "model4". The output layer follows the class count
 * (one sigmoid unit for 2 classes, else softmax); it is appended when missing. */
typedef struct ct_classifier ct_classifier;

/* Expanded spec of a preset name, or NULL when name is no preset. */
CT_API const char *ct_spec_preset(const char *name);

/* Builds a freshly initialised model (glorot uniform from seed) for h x w x c inputs
 * and n_classes (>= 2) classes, for batches of up to max_batch. */
CT_API ct_status ct_classifier_create(ct_runtime *rt, const char *spec, int h, int w, int c,
                                      ct_resize resize, int n_classes,
                                      const char *const *class_names, int max_batch,
                                      uint64_t seed, ct_classifier **out);
/* Opens a model file written by ct_classifier_save (or `cltrain train --out`). */
CT_API ct_status ct_classifier_load(ct_runtime *rt, const char *path, int max_batch,
                                    ct_classifier **out);
/* Replaces the weights with those of a model file of the same architecture. */
CT_API ct_status ct_classifier_load_weights(ct_classifier *m, const char *path);
/* Writes the model (safetensors, with its spec, input and classes; atomic). */
CT_API ct_status ct_classifier_save(ct_classifier *m, const char *path);
CT_API void ct_classifier_free(ct_classifier *m);
/* A copy of m on another runtime (another device) for data-parallel training
 * (ct_fit_opts.replicas): same spec, input, classes and preprocessing, m's tensors, built
 * for batches of up to max_batch (its share of the global batch) and tuned for its device.
 * A device that cannot hold it gives CT_ERR_MEMORY naming the tensor. */
CT_API ct_status ct_classifier_replicate(ct_classifier *m, ct_runtime *rt, int max_batch,
                                         ct_classifier **out);
/* Layer table like Keras's model.summary(). */
CT_API void ct_classifier_summary(const ct_classifier *m, FILE *f);
CT_API const char *ct_classifier_spec(const ct_classifier *m); /* canonical spec */
CT_API size_t ct_classifier_param_count(const ct_classifier *m);
CT_API int ct_classifier_class_count(const ct_classifier *m);
CT_API const char *ct_classifier_class_name(const ct_classifier *m, int i);
CT_API void ct_classifier_input(const ct_classifier *m, int *h, int *w, int *c, ct_resize *resize);
CT_API int ct_classifier_max_batch(const ct_classifier *m);
/* The model's preprocessing (as its file stores it; ct_classifier_create: the default). */
CT_API void ct_classifier_get_preprocess(const ct_classifier *m, ct_preprocess *p);
/* Replaces it (checked: CT_ERR_ARG naming the bad field). Statistics with n_stats 0 are
 * computed by the next ct_fit over its training set. */
CT_API ct_status ct_classifier_set_preprocess(ct_classifier *m, const ct_preprocess *p);
/* Output units: 1 for a binary model (one sigmoid unit; predict still gives both
 * classes' probabilities), else the class count (softmax). */
CT_API int ct_classifier_outputs(const ct_classifier *m);

/* ---- training ---------------------------------------------------------------------- */
typedef struct ct_step_info {
    int epoch, epochs; /* 1-based epoch, total */
    int step, steps;   /* 1-based step within the epoch; 0: the epoch is starting */
    double loss, accuracy; /* running means over the epoch so far (step > 0) */
} ct_step_info;

typedef struct ct_epoch_info {
    int epoch, epochs;
    double loss, accuracy;
    int has_val;
    double val_loss, val_accuracy; /* NaN without validation */
    double seconds;                /* the epoch's wall time, validation included */
} ct_epoch_info;

/* Return nonzero to stop training (ct_fit then returns CT_OK with stopped set). Stopped
 * mid-epoch, the model keeps the weights of the steps done (a saved model records
 * "interrupted": "epoch E step S" in its metadata); the checkpoint keeps the last finished
 * epoch, so --resume repeats the interrupted epoch. The library installs no signal
 * handler: a program that wants Ctrl-C to stop training returns nonzero from on_step. */
typedef int (*ct_step_fn)(void *user, const ct_step_info *s);
typedef int (*ct_epoch_fn)(void *user, const ct_epoch_info *e);

typedef struct ct_fit_opts {
    int epochs, batch;       /* batch <= the model's max_batch */
    int steps_per_epoch;     /* 0: ceil(n / batch) */
    double lr, beta1, beta2, eps; /* the optimizer's (below); NaN: its Keras default */
    const char *augment;     /* as ct_loader_config.augment: "none", "seed" or a spec */
    uint64_t seed;           /* shuffling, augmentation, dropout */
    int patience;            /* early stopping after this many epochs without improvement; 0: off */
    const char *monitor;     /* NULL: val_loss, or loss without validation */
    int restore_best;        /* with patience: restore the best epoch's weights at the end */
    double min_delta;
    const char *checkpoint_dir; /* write DIR/checkpoint.safetensors after every epoch */
    int resume;              /* continue from it (same settings required) */
    const char *history;     /* CSV, rewritten every epoch */
    const char *plot;        /* SVG, rewritten every epoch */
    int workers;             /* data threads (<= 0: cores - 1) */
    size_t cache_mb;         /* decode-once image cache cap */
    int deterministic;       /* require bit-reproducible kernels (runtime flag CT_RT_DETERMINISTIC) */
    int quiet;               /* fewer messages (no "Decoded ..." lines) */
    ct_step_fn on_step;      /* NULL: none */
    ct_epoch_fn on_epoch;    /* NULL: none */
    void *user;              /* passed to the callbacks */
    /* Optimizer, Keras 3 semantics (docs/TRAINING.md). NULL or "adam": lr, beta1, beta2,
     * eps; "adamw": those and weight_decay (decoupled; biases are not decayed); "sgd": lr,
     * momentum, nesterov; "rmsprop": lr, rho, momentum, eps. A hyperparameter left NaN takes
     * the optimizer's Keras default (lr 1e-3, SGD 1e-2; beta1 0.9, beta2 0.999, eps 1e-7;
     * momentum 0; rho 0.9; weight_decay 0.004); one set for an optimizer that has no such
     * parameter is refused (CT_ERR_ARG naming the option). */
    const char *optimizer;
    double momentum, rho, weight_decay;
    int nesterov;            /* SGD with momentum > 0 only */
    /* Learning rate of each step: NULL or "constant", "cosine" (to 0 over the epochs after
     * warmup, per step), "step" (times lr_decay_rate every lr_decay_epochs epochs),
     * "exponential" (times lr_decay_rate per lr_decay_epochs epochs, per step); after a
     * linear warmup over warmup_epochs (< epochs). NaN decay fields: the defaults (step:
     * rate 0.1, epochs required; exponential: rate required, epochs 1). */
    const char *lr_schedule;
    int warmup_epochs;
    double lr_decay_rate, lr_decay_epochs;
    /* Keras's ReduceLROnPlateau on the monitored metric (min_delta 1e-4, cooldown 0):
     * plateau_factor in (0, 1) turns it on (0: off), with plateau_patience >= 1 epochs and
     * the floor plateau_min_lr (>= 0). With the constant schedule only. */
    double plateau_factor;
    int plateau_patience;
    double plateau_min_lr;
    /* Keras's fit(class_weight=): NULL (none), "balanced" (n / (classes * n_class) over the
     * training set, scikit-learn's compute_class_weight) or "NAME:W,..." (classes not named
     * weigh 1). Each training sample's loss and gradient are multiplied by its class's
     * weight, the mean still over the batch (Keras); validation and evaluation unweighted. */
    const char *class_weight;
    /* Data-parallel training over several devices (docs/SCALING.md): n_replicas more
     * copies of the model, each on a runtime of its own (ct_classifier_replicate). The
     * global batch is split over the model and them, evenly with the remainder to the first
     * (ct_fit_split), each takes its contiguous slice, the gradients are summed in replica
     * order, and every replica runs the same optimizer step; the model's parameters and
     * optimizer state are copied to them first (after a resume too). The model is replica
     * 0: checkpoints, history and the result are its. Each replica holds its share (its
     * max_batch), so validation runs on the model in batches of its max_batch. BatchNorm
     * uses each replica's own batch statistics (as PyTorch DDP), so a model with it differs
     * from one device, unless sync_bn (below). NULL / 0: one device, exactly as without. */
    ct_classifier *const *replicas;
    int n_replicas;
    /* With replicas: batchnorm's batch statistics (mean, variance, and their gradients)
     * over the whole global batch, summed across the replicas in replica order, so that a
     * model with batchnorm trains as on one device (PyTorch's SyncBatchNorm). 0: each
     * replica's own (DDP's default). */
    int sync_bn;
} ct_fit_opts;

typedef struct ct_fit_result {
    int epochs_done;         /* including those of a resumed checkpoint */
    int best_epoch;          /* the monitored metric's best (1-based), 0 if none */
    double best;             /* its value */
    int stopped_early;       /* by patience */
    int stopped;             /* by a callback */
    int restored_best;       /* the best epoch's weights were put back */
    long images;             /* images trained on by this call */
    double seconds;          /* of the epochs of this call */
    double wait_fraction;    /* share of that time spent waiting for data */
    int stop_epoch, stop_step; /* stopped by a callback: the epoch (1-based) and the steps of
                                * it the weights include (0 when stopped before its first) */
    int checkpoint_epoch;    /* the epochs the checkpoint file holds (0: none written) */
    unsigned failed;         /* CT_FIT_FAILED_* of the files whose last write failed (a
                              * warning each time; training went on) */
} ct_fit_result;
#define CT_FIT_FAILED_HISTORY 1u
#define CT_FIT_FAILED_PLOT 2u
#define CT_FIT_FAILED_CHECKPOINT 4u

/* Keras defaults: 10 epochs, batch 64, Adam (its hyperparameters NaN: 1e-3 / 0.9 / 0.999 /
 * 1e-7), constant learning rate, no augmentation, seed 1, restore_best on, cache 2048 MiB,
 * no callbacks. */
CT_API void ct_fit_opts_default(ct_fit_opts *o);
/* Checks the optimizer, schedule and plateau options on their own (no data, no device):
 * an unknown name, a value out of range, an option the optimizer does not have. The error
 * names the command-line option and what is allowed. ct_fit checks them too. */
CT_API ct_status ct_fit_opts_check(const ct_fit_opts *o);
/* For a run that will resume (opts.resume) from checkpoint_dir: call after creating the
 * runtime and before creating the model. It pins the kernel variants the checkpoint
 * recorded, so the resumed run repeats the original run's arithmetic exactly (bit-identical
 * result) even when the local tuning cache was wiped or tuned differently, and nothing is
 * timed again. No checkpoint there yet: CT_OK. */
CT_API ct_status ct_fit_resume_prepare(ct_runtime *rt, const char *checkpoint_dir);
/* The split of a global batch over n replicas: batch / n each, one more for the first
 * batch % n (share: n ints). */
CT_API void ct_fit_split(int batch, int n, int *share);
/* Trains m on train (validating on val after every epoch when val is not NULL). Both
 * datasets must have m's classes. result may be NULL. */
CT_API ct_status ct_fit(ct_classifier *m, const ct_dataset *train, const ct_dataset *val,
                        const ct_fit_opts *o, ct_fit_result *result);

typedef struct ct_eval_result {
    double loss, accuracy;
    long n; /* images evaluated */
} ct_eval_result;

/* Mean loss and accuracy of m over a dataset with m's classes (workers <= 0: default). */
CT_API ct_status ct_evaluate(ct_classifier *m, const ct_dataset *ds, int batch, int workers,
                             ct_eval_result *out);
/* The same over every batch of a loader you configured (epoch 0; its images must have
 * m's input shape and its labels m's classes). */
CT_API ct_status ct_evaluate_loader(ct_classifier *m, ct_loader *l, ct_eval_result *out);

/* Class weights of a ct_fit_opts.class_weight spec for a training set: w gets
 * ct_dataset_class_count(train) floats. An unknown class, a weight not finite or <= 0, a
 * malformed list, a class without images under "balanced": CT_ERR_ARG naming
 * --class-weight and the class. NULL or "" spec: all 1. */
CT_API ct_status ct_class_weights(const char *spec, const ct_dataset *train, float *w);

/* A classification report as scikit-learn's classification_report and confusion_matrix:
 * confusion[t * classes + p] counts samples of true class t predicted p. Precision, recall
 * or F1 whose denominator is 0 is 0.0 (sklearn's zero_division="warn" value; no warning is
 * printed, the report's footnote says which). top_k is 5 with more than 5 classes, else 0. */
typedef struct ct_class_report {
    int classes;
    char **names;         /* class names, owned by the report */
    long *confusion;      /* classes x classes, row = true class, column = predicted */
    double *precision, *recall, *f1;
    long *support;        /* samples per true class */
    long n;               /* samples */
    double accuracy;
    double macro_precision, macro_recall, macro_f1;
    double weighted_precision, weighted_recall, weighted_f1; /* weighted by support */
    int top_k;            /* 5 or 0 */
    long top_k_correct;   /* samples whose class is among the top_k best */
    double top_k_accuracy;
    int zero_division;    /* some precision/recall/F1 had a zero denominator (set to 0.0) */
} ct_class_report;

/* From counts (names copied; top_k 0 when not counted). */
CT_API ct_status ct_class_report_create(int classes, const char *const *names,
                                        const long *confusion, int top_k, long top_k_correct,
                                        ct_class_report **out);
CT_API void ct_class_report_free(ct_class_report *r);
/* sklearn's text layout (precision recall f1-score support, accuracy, macro avg,
 * weighted avg), then the confusion matrix and top-5 accuracy. */
CT_API void ct_class_report_print(const ct_class_report *r, FILE *f);
/* The same as one JSON object, no newline (keys in docs/TRAINING.md, "Classification
 * report"). */
CT_API void ct_class_report_print_json(const ct_class_report *r, FILE *f);
/* ct_evaluate plus the report (*rep, free with ct_class_report_free). */
CT_API ct_status ct_evaluate_report(ct_classifier *m, const ct_dataset *ds, int batch,
                                    int workers, ct_eval_result *out, ct_class_report **rep);
/* ct_evaluate_loader plus the report. */
CT_API ct_status ct_evaluate_loader_report(ct_classifier *m, ct_loader *l, ct_eval_result *out,
                                           ct_class_report **rep);

/* ---- prediction --------------------------------------------------------------------- */
/* Probabilities of n images (x: n x c x h x w floats, NCHW, preprocessed as the loader
 * makes them: ct_classifier_preprocess) into probs: n x ct_classifier_class_count(m) floats, rows summing to 1.
 * Any n: batches larger than the model's max_batch are split. */
CT_API ct_status ct_classifier_predict(ct_classifier *m, const float *x, int n, float *probs);
/* Decodes, resizes and preprocesses (the model's ct_preprocess) one image file as the
 * model's training did into x (c x h x w). */
CT_API ct_status ct_classifier_preprocess(const ct_classifier *m, const char *path, float *x);
/* Both: class probabilities of one image file. */
CT_API ct_status ct_classifier_predict_file(ct_classifier *m, const char *path, float *probs);

/* ---- export ------------------------------------------------------------------------- */
/* CT_OK when this library writes ONNX files (built with protobuf-c and Debian's onnx.proto);
 * otherwise an error whose message names the packages to install. */
CT_API ct_status ct_onnx_supported(void);
/* Writes the model in inference mode (dropout removed) as an ONNX file, opset 13
 * (docs/EXPORT.md): input "input" float [N, c, h, w] (what ct_classifier_predict takes),
 * output "probabilities" [N, class count] (what it gives), and in metadata_props every
 * metadata key of the file the model was loaded from (class names, preprocessing,
 * cltrain version, ...). Atomic; an error when ct_onnx_supported() is not CT_OK. */
CT_API ct_status ct_classifier_export_onnx(ct_classifier *m, const char *path);

#ifdef __cplusplus
}
#endif
#endif
