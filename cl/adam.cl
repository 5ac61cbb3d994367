/* Adam, Keras semantics (keras/src/optimizers/adam.py), one launch over the whole slab:
 *   m += (g - m) (1 - b1);  v += (g^2 - v) (1 - b2);  p -= alpha_t m / (sqrt(v) + eps)
 * with alpha_t = lr sqrt(1 - b2^t) / (1 - b1^t) computed on the host (epsilon-hat form).
 * 1 - b1 and 1 - b2 come from the host too, computed in double and rounded once, as Keras
 * does (1 - 0.999f in float would be off by 1.3e-5 relative).
 * Slab padding has g = 0, so it stays 0. */
#include "common.h"

__kernel void ct_adam(const int n, const float alpha, const float one_m_b1,
                      const float one_m_b2, const float eps, __global float *p, __global const float *g,
                      __global float *m, __global float *v) {
    int i = get_global_id(0);
    if (i >= n) return;
    float gi = g[i];
    float mi = m[i] + (gi - m[i]) * one_m_b1;
    float vi = v[i] + (gi * gi - v[i]) * one_m_b2;
    m[i] = mi;
    v[i] = vi;
    p[i] -= alpha * mi / (sqrt(vi) + eps);
}
