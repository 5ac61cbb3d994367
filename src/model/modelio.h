/* Model files and checkpoints (safetensors).
 *
 * Model file: tensors "layers.<i>.weight" (conv OIHW, dense [out][in]) and
 * "layers.<i>.bias" (batchnorm also "layers.<i>.running_mean" / "running_var": every tensor of
 * ct_model_n_tensors, non-trainable ones included), float32, plus __metadata__:
 *   format "cltrain-model", format_version "1", cltrain_version, spec (canonical),
 *   input "HxWxC", color_mode "rgb|grayscale", resize, classes (JSON array of names),
 *   rescale, samplewise_center, samplewise_std_normalization, featurewise_center,
 *   featurewise_std_normalization, featurewise_mean, featurewise_std (docs/MODEL_FORMAT.md).
 * Checkpoint: the same, plus "adam.m", "adam.v" (the optimizer's two slot slabs, flat, in
 * parameter order, whatever the optimizer), "adam.t" (steps done), "best.<name>" and
 * metadata state (JSON): epoch, step, history (with each epoch's learning rate),
 * early-stopping state, run fingerprint, the optimizer and schedule ("optim") and the
 * ReduceLROnPlateau state. Every key and tensor: docs/MODEL_FORMAT.md. */
#ifndef CT_MODELIO_H
#define CT_MODELIO_H

#include "data/data.h"
#include "model/model.h"
#include "report/report.h"

#define CT_MODEL_FORMAT_VERSION "1"

typedef struct ct_model_meta {
    char *spec; /* malloc'd canonical spec (any length) */
    int c, h, w;
    ct_resize resize;
    int n_classes;
    char **class_names;
    char interrupted[64]; /* "" or "epoch E step S": written as metadata "interrupted" */
    ct_preprocess pre;    /* metadata rescale, samplewise_*, featurewise_* (absent: default) */
} ct_model_meta;

void ct_model_meta_free(ct_model_meta *m); /* the spec and the class names */
/* Replaces the spec with a copy of spec. */
ct_status ct_model_meta_set_spec(ct_model_meta *m, const char *spec);
ct_status ct_model_meta_set_classes(ct_model_meta *m, int n, char *const *names);

ct_status ct_model_save(ct_model *m, const ct_model_meta *meta, const char *path);
/* Reads only the metadata (architecture) of a model or checkpoint file. */
ct_status ct_model_file_meta(const char *path, ct_model_meta *meta);
/* The same from len bytes at buf (label names it in messages). */
ct_status ct_model_meta_parse(const void *buf, size_t len, const char *label, ct_model_meta *meta);
/* Loads weights into m; every tensor must exist with the model's shape, else an error
 * naming the file, the tensor and both shapes. prefix: "" or "best." */
ct_status ct_model_load_weights(ct_model *m, const char *path, const char *prefix);
/* Opens a saved model: builds it on rt for batches up to max_batch, loads the weights. */
ct_status ct_model_open(ct_runtime *rt, const char *path, int max_batch, ct_model **out,
                        ct_model_meta *meta);

typedef struct ct_ckpt_state {
    int epochs_done;
    long step;
    ct_history hist;
    double best;
    int best_epoch, wait;
    int has_best; /* best weights stored */
    char fingerprint[512];
    /* The optimizer and schedule, as ct_optim_describe + "; " + ct_sched_describe write
     * them ("" in checkpoints from before they were recorded: those ran Adam, constant). */
    char optim[512];
    /* ReduceLROnPlateau: has_plateau when the run uses it; its rate, best and wait. */
    int has_plateau, plateau_wait;
    double plateau_lr, plateau_best;
    /* Class weights "NAME:W,..." of every class, %.9g ("" without --class-weight, and in
     * checkpoints from before it). */
    char class_weight[1024];
} ct_ckpt_state;

/* best_params: host copy of the best weights in parameter order (or NULL). */
ct_status ct_checkpoint_save(ct_model *m, const ct_model_meta *meta, const ct_ckpt_state *st,
                             float *const *best_params, const char *path);
/* Restores weights, Adam state and st (history included). best_params, if the file
 * has them, are filled (arrays sized per parameter). */
ct_status ct_checkpoint_load(ct_model *m, const char *path, ct_ckpt_state *st,
                             float **best_params);
/* Parses a checkpoint's state JSON into st (label names it in messages); st->hist gets the
 * history rows (free with ct_history_free). No model or device: the fuzz target's entry. */
ct_status ct_checkpoint_state_parse(const char *json, const char *label, ct_ckpt_state *st);

/* Pins the kernel variants recorded in a checkpoint (or model file) on rt, so that a
 * model built afterwards runs exactly the variants of the run that wrote it, whatever the
 * local tuning table says. Call before building the model. A file without them: CT_OK. */
ct_status ct_checkpoint_pin_variants(ct_runtime *rt, const char *path);

#endif
