/* Trivial program used by the runtime tests and `cltrain selftest` to check that the
 * device builds and runs code at all. */
#include "common.h"

__kernel void ct_axpy(const int n, const float a, __global const float *x, __global float *y) {
    int i = get_global_id(0);
    if (i < n) y[i] = a * x[i] + y[i];
}
