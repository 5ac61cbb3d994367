/* cltrain: train small convolutional networks on any OpenCL device.
 *
 * Usage (the library behind the `cltrain` program):
 *
 *     ct_runtime *rt;
 *     if (ct_runtime_create(NULL, 0, &rt) != CT_OK) {      // NULL: $CLTRAIN_DEVICE or default
 *         fprintf(stderr, "%s\n", ct_last_error());
 *         return 1;
 *     }
 *     ct_runtime_print_device(rt, stdout);
 *     ...
 *     ct_runtime_free(rt);
 *
 * Every library function returns a ct_status. On failure, ct_last_error() holds a
 * message that names what failed (file, option, tensor, OpenCL call) and what to do.
 * The library never exits the process.
 */
#ifndef CLTRAIN_H
#define CLTRAIN_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CLTRAIN_VERSION_MAJOR 0
#define CLTRAIN_VERSION_MINOR 1
#define CLTRAIN_VERSION_PATCH 0
#define CLTRAIN_VERSION_STRING "0.1.0"

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

const char *ct_status_str(ct_status s);
/* Message of the last error set on this thread ("" if none). */
const char *ct_last_error(void);
const char *ct_version(void);

/* Messages the library has for a person (warnings such as a damaged tuning file, and
 * progress of long stages such as kernel tuning) go to one handler, set per process.
 * Without one the library prints nothing. msg is one line without a newline. */
typedef enum ct_log_level { CT_LOG_ERROR = 0, CT_LOG_WARN, CT_LOG_INFO, CT_LOG_DEBUG } ct_log_level;
typedef void (*ct_log_fn)(void *user, ct_log_level level, const char *msg);
void ct_set_log(ct_log_fn fn, void *user);

typedef struct ct_runtime ct_runtime;

/* devspec: "P:D" as cldevices numbers them, or NULL for $CLTRAIN_DEVICE, else the
 * default (first GPU over all platforms, else first CPU). flags: CT_RT_* */
#define CT_RT_PROFILE 1u
/* Kernel variants: the fixed per-device-type defaults, no tuning file, nothing timed, so
 * two machines with empty caches compute the same bytes (also env CLTRAIN_DETERMINISTIC=1). */
#define CT_RT_DETERMINISTIC 2u
ct_status ct_runtime_create(const char *devspec, unsigned flags, ct_runtime **out);
void ct_runtime_free(ct_runtime *rt);
void ct_runtime_print_device(const ct_runtime *rt, FILE *f);

/* Prints the device table that `cldevices` and `cltrain devices` show. */
ct_status ct_devices_print(FILE *f, int json);

#ifdef __cplusplus
}
#endif
#endif
