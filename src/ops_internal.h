/* Shared between src/ops_gemm.c and src/ops_conv.c: the per-runtime op state. */
#ifndef CT_OPS_INTERNAL_H
#define CT_OPS_INTERNAL_H

#include "ops.h"

typedef struct ct_ops_state ct_ops_state;
/* The runtime's op state, created on first use (freed by ct_runtime_free). */
ct_status ct_ops_state_get(ct_runtime *rt, ct_ops_state **out);

#endif
