/* `cltrain selftest`: every kernel once on small random inputs against its C reference.
 * The table: the ops' checks (selftest_list.h), every registered layer class's checks
 * (ct_layer_class.checks, layers/layer.h), then the loss's and Adam's. */
#ifndef CT_SELFTEST_H
#define CT_SELFTEST_H

#include "runtime/runtime.h"

typedef struct ct_selftest {
    const char *name;
    /* Runs the kernel(s) on random inputs (outputs poisoned first), compares with the C
     * reference; *max_err gets the largest error scaled by tolerance (<= 1 passes; < 0:
     * skipped, nothing of it runs on this device). */
    ct_status (*run)(ct_runtime *rt, double *max_err);
} ct_selftest;

/* Builds every embedded program, runs the n checks of table (the whole table is
 * ct_selftests, assembled from the layer registry in layers/registry.c), prints one line
 * each plus a summary. Returns the number of failures. */
int ct_selftest_run(ct_runtime *rt, const ct_selftest *table, int n, FILE *f);

/* Helpers for checks: deterministic random fill, NaN poisoning, tolerance compare. */
void ct_fill_random(float *x, size_t n, uint64_t seed, float lo, float hi);
/* max over i of |a-b| / (atol + rtol*|b|); NaN anywhere gives +inf. */
double ct_compare(const float *got, const float *want, size_t n, double atol, double rtol);
/* A host copy of a device buffer poisoned with NaN: fills the buffer with NaN. */
ct_status ct_poison(ct_runtime *rt, cl_mem m, size_t bytes);

#endif
