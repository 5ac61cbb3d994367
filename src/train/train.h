/* fit / evaluate / predict: the loops that join the data path and the model. */
#ifndef CT_TRAIN_H
#define CT_TRAIN_H

#include <stdint.h>

#include "data/data.h"
#include "model/model.h"

#define CT_MAX_DATA_DIRS 16

typedef struct ct_fit_opts {
    const char *data_dirs[CT_MAX_DATA_DIRS];
    int n_data;
    const char *val_dir;     /* NULL: none (or validation_split) */
    double validation_split; /* 0: none */
    const char *test_dir;    /* evaluated after training when set */
    const char *model;       /* preset or spec */
    int h, w, c;
    ct_resize resize;
    int epochs, batch, steps_per_epoch; /* steps 0: ceil(n / batch) */
    ct_adam adam;
    const char *augment; /* "seed" | "none" */
    uint64_t seed;
    const char *out, *history, *plot;
    int patience; /* 0: no early stopping */
    const char *monitor; /* NULL: val_loss, or loss when there is no validation */
    int restore_best;
    float min_delta;
    const char *init;
    const char *checkpoint_dir;
    int resume;
    const char *device;
    int workers;
    size_t cache_mb;
    int profile;
    int quiet;
} ct_fit_opts;

void ct_fit_opts_default(ct_fit_opts *o);
/* Runs the whole job; prints progress to stdout. Returns CT_OK or an error with message. */
ct_status ct_fit(const ct_fit_opts *o);

typedef struct ct_eval_result {
    double loss, accuracy;
    long n;
} ct_eval_result;

/* Evaluates a saved model on class folders; prints the device line (to stderr when
 * json, so stdout stays machine-readable). */
ct_status ct_evaluate(const char *model_path, const char *data_dir, const char *device, int batch,
                      int workers, int json, ct_eval_result *out);
/* Predicts files and folders (walked recursively, sorted); one line (or CSV row) each.
 * Unreadable images get a warning on stderr and are skipped. */
ct_status ct_predict_files(const char *model_path, const char *const *inputs, int n_inputs,
                           const char *device, int csv, FILE *out);

#endif
