/* The one checked number parser for option values. Each function accepts the whole
 * string or nothing (no trailing junk, no overflow, within [lo, hi]); on failure it
 * returns CT_ERR_ARG with a message that names the option, the range and the value:
 *   "--epochs expects a whole number from 1 to 1000000, got 'zero'". */
#ifndef CT_BASE_PARSE_H
#define CT_BASE_PARSE_H

#include <stddef.h>

#include "cltrain.h"

ct_status ct_parse_long(const char *opt, const char *v, long lo, long hi, long *out);
ct_status ct_parse_int(const char *opt, const char *v, int lo, int hi, int *out);
ct_status ct_parse_size(const char *opt, const char *v, size_t lo, size_t hi, size_t *out);
ct_status ct_parse_double(const char *opt, const char *v, double lo, double hi, double *out);
/* "HxW" (each 1..max), e.g. --input 112x112. */
ct_status ct_parse_hw(const char *opt, const char *v, int max, int *h, int *w);

/* A whole number in [lo, hi] from environment variable `name` (for measuring knobs such
 * as CLTRAIN_BLK_LWS): def when unset; a bad value is ignored with a warning naming it. */
long ct_env_long(const char *name, long lo, long hi, long def);

#endif
