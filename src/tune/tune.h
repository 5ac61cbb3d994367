/* The tuning stage: chooses, once per device, the kernel variant of every op shape a
 * model uses. The ops only read the table of choices (ops/ops.h); this module, which sits
 * above ops and check, checks each candidate against its C reference, times the ones that
 * pass, and writes the table and its file. It runs when a model is built for a device
 * (model/model.c) or from `cltrain tune`, never inside a training step. */
#ifndef CT_TUNE_H
#define CT_TUNE_H

#include "ops/ops_internal.h"

typedef enum { CT_TUNE_CONV = 0, CT_TUNE_GEMM } ct_tune_kind;

typedef struct ct_tune_item {
    ct_tune_kind kind;
    ct_conv_plan *plan;  /* CT_TUNE_CONV: forward, backward-weights, and backward-data
                          * when need_bwd_data */
    int need_bwd_data;
    int ta, tb, M, N, K; /* CT_TUNE_GEMM: the shape as ct_gemm gets it */
} ct_tune_item;

/* Gives every item's op a table entry. Entries pinned from a checkpoint and valid entries
 * of the device's tuning file are kept. When the runtime is deterministic
 * (--deterministic, CLTRAIN_DETERMINISTIC=1) the fixed per-device-type defaults are used
 * and nothing is timed. Otherwise the missing ones are tuned, with progress through ct_log
 * ("Tuning kernels for <device> (first run on this device): 3 of 14 ..."). */
ct_status ct_tune_items(ct_runtime *rt, const ct_tune_item *items, int n);

/* The choices this runtime's ops have used, as a JSON object {"<op key>": "<variant>"}
 * (malloc'd), for the checkpoint and the model file's metadata. */
char *ct_tune_used_json(ct_runtime *rt);
/* Pins choices (from a checkpoint): they override the tuning file and are never timed
 * again. An unknown key shape or variant name is CT_ERR_FORMAT naming it. */
ct_status ct_tune_pin_json(ct_runtime *rt, const char *json);

/* The tuning file's text alone, no device (len bytes, changed in place): checks the
 * version line, the checksum, the device line, every op key and variant name, then calls
 * take once per entry (keys point into text). 0 and *why on any fault, before any take.
 * ct_tune_items reads the file through it; tools/fuzz_tune.c fuzzes it. */
typedef ct_status (*ct_tune_take_fn)(void *ctx, const char *key, ct_op_kind op, ct_variant v);
int ct_tune_file_parse(char *text, size_t len, ct_tune_take_fn take, void *ctx, const char **why);

/* This device's tuning file ("" without a cache folder). File format and defaults:
 * docs/OPS.md. */
const char *ct_tune_file(ct_runtime *rt);
/* How many timed runs this runtime's tuning has made (deterministic mode: none). */
long ct_tune_timed_runs(ct_runtime *rt);

/* The conv candidates timed again at the layer's own batch after the screening at
 * ct_conv_plan_tune_batch items: of the screening times score[0..nc-1], the indices of
 * the CT_TUNE_FINALISTS fastest within 1.5x of the fastest, fastest first. Returns how
 * many (0 where fewer than two qualify: nothing to decide). */
#define CT_TUNE_FINALISTS 4
int ct_tune_finalists(const double *score, int nc, int fin[CT_TUNE_FINALISTS]);

#endif
