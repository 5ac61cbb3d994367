/* The one error path, without OpenCL: status codes (include/cltrain.h), the per-thread
 * message, and the small helpers every module uses (monotonic clock, 64-bit hash).
 * OpenCL's error names and CL_CHECK are in runtime/runtime.h. */
#ifndef CT_BASE_ERROR_H
#define CT_BASE_ERROR_H

#include <stddef.h>
#include <stdint.h>

#include "cltrain.h"

/* Sets this thread's error message and returns s (so: return ct_set_error(...)). */
ct_status ct_set_error(ct_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepends context to the current message ("loading model x: " + old). Returns s. */
ct_status ct_error_prefix(ct_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Propagate a failed ct_status. */
#define CT_TRY(expr)                                                                            \
    do {                                                                                        \
        ct_status ct_s_ = (expr);                                                               \
        if (ct_s_ != CT_OK) return ct_s_;                                                       \
    } while (0)

/* Sends one line to the handler set by ct_set_log (nothing without one). */
void ct_log(ct_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

double ct_now(void); /* monotonic seconds */
/* FNV-1a over bytes with a splitmix64 finish: cache keys, fingerprints, checksums. */
uint64_t ct_hash64(const void *data, size_t len, uint64_t seed);

#endif
