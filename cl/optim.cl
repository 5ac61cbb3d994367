/* SGD, RMSprop and AdamW, Keras 3 semantics (keras/src/optimizers/{sgd,rmsprop,adamw}.py),
 * each one launch over the whole parameter slab (p, g and the slot slabs share its layout).
 * Hyperparameters that Keras computes in float64 before the cast (1 - rho, 1 - beta,
 * lr * weight_decay, Adam's alpha_t) come from the host rounded once. Slab padding has
 * g = 0 and p = 0, so it stays 0. */
#include "common.h"

/* SGD. momentum == 0 (use_m 0): p -= lr g, m untouched (Keras creates no slot).
 * Else m = -lr g + momentum m; p += m, or with nesterov p += -lr g + momentum m. */
__kernel void ct_sgd(const int n, const float lr, const float mom, const int use_m,
                     const int nesterov, __global float *p, __global const float *g,
                     __global float *m) {
    int i = get_global_id(0);
    if (i >= n) return;
    float gi = g[i];
    if (!use_m) {
        p[i] -= gi * lr;
        return;
    }
    float mi = -gi * lr + m[i] * mom;
    m[i] = mi;
    p[i] += nesterov ? -gi * lr + mi * mom : mi;
}

/* RMSprop (centered false). v = rho v + (1 - rho) g^2; inc = lr g / sqrt(v + eps);
 * momentum == 0: p -= inc (m untouched); else m = momentum m + inc, p -= m. */
__kernel void ct_rmsprop(const int n, const float lr, const float rho, const float one_m_rho,
                         const float eps, const float mom, const int use_m, __global float *p,
                         __global const float *g, __global float *v, __global float *m) {
    int i = get_global_id(0);
    if (i >= n) return;
    float gi = g[i];
    float vi = rho * v[i] + one_m_rho * (gi * gi);
    v[i] = vi;
    float inc = lr * gi / sqrt(vi + eps);
    if (use_m) {
        float mi = mom * m[i] + inc;
        m[i] = mi;
        inc = mi;
    }
    p[i] -= inc;
}

/* AdamW: Keras's decoupled weight decay first (p -= p * lr * wd, on elements whose decay
 * mask byte is 1), then the Adam step of cl/adam.cl on the decayed p. */
__kernel void ct_adamw(const int n, const float alpha, const float one_m_b1,
                       const float one_m_b2, const float eps, const float lr_wd,
                       __global float *p, __global const float *g, __global float *m,
                       __global float *v, __global const uchar *decay) {
    int i = get_global_id(0);
    if (i >= n) return;
    float pi = p[i];
    if (decay[i]) pi -= pi * lr_wd;
    float gi = g[i];
    float mi = m[i] + (gi - m[i]) * one_m_b1;
    float vi = v[i] + (gi * gi - v[i]) * one_m_b2;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi - alpha * mi / (sqrt(vi) + eps);
}
