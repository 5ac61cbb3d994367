/* The one error path: status names, a per-thread message; the clock and the hash. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/error.h"

static _Thread_local char last_error[4096];

const char *ct_version(void) { return CLTRAIN_VERSION_STRING; }

const char *ct_status_str(ct_status s) {
    switch (s) {
    case CT_OK: return "CT_OK";
    case CT_ERR_ARG: return "CT_ERR_ARG";
    case CT_ERR_IO: return "CT_ERR_IO";
    case CT_ERR_FORMAT: return "CT_ERR_FORMAT";
    case CT_ERR_NO_DEVICE: return "CT_ERR_NO_DEVICE";
    case CT_ERR_CL: return "CT_ERR_CL";
    case CT_ERR_BUILD: return "CT_ERR_BUILD";
    case CT_ERR_MEMORY: return "CT_ERR_MEMORY";
    case CT_ERR_SHAPE: return "CT_ERR_SHAPE";
    case CT_ERR_NUMERIC: return "CT_ERR_NUMERIC";
    case CT_ERR_MISMATCH: return "CT_ERR_MISMATCH";
    case CT_ERR_INTERNAL: return "CT_ERR_INTERNAL";
    }
    return "CT_ERR_UNKNOWN";
}

const char *ct_last_error(void) { return last_error; }

static ct_log_fn log_fn;
static void *log_user;

void ct_set_log(ct_log_fn fn, void *user) {
    log_fn = fn;
    log_user = user;
}

void ct_log(ct_log_level level, const char *fmt, ...) {
    if (!log_fn) return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_fn(log_user, level, msg);
}

ct_status ct_set_error(ct_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return s;
}

ct_status ct_error_prefix(ct_status s, const char *fmt, ...) {
    char old[sizeof last_error];
    memcpy(old, last_error, sizeof old);
    char pre[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    size_t lp = strlen(pre), lo = strlen(old);
    if (lp > sizeof last_error - 1) lp = sizeof last_error - 1;
    if (lo > sizeof last_error - 1 - lp) lo = sizeof last_error - 1 - lp;
    memcpy(last_error, pre, lp);
    memcpy(last_error + lp, old, lo);
    last_error[lp + lo] = 0;
    return s;
}

double ct_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

uint64_t ct_hash64(const void *data, size_t len, uint64_t seed) {
    /* FNV-1a over bytes, finished with a 64-bit avalanche (splitmix64). */
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}
