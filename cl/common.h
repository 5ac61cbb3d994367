/* Shared by every cltrain kernel program. Build options come from ct_build_options()
 * in src/runtime/runtime.c: CT_DEVICE_CPU / CT_DEVICE_GPU, CT_LOCAL_MEM, CT_MAX_WG, plus
 * the variant's own -D's that src/ops/ passes as extra options. */
#ifndef CT_CL_COMMON_H
#define CT_CL_COMMON_H

/* Stable log(1 + exp(x)). */
inline float ct_softplus(float x) { return fmax(x, 0.0f) + log1p(exp(-fabs(x))); }

/* Counter-based hash RNG (splitmix-style), for dropout masks: one draw per element
 * from (seed, step, index) so any work-item count gives the same mask. */
inline uint ct_hash3(uint a, uint b, uint c) {
    uint h = a * 0x9E3779B1u ^ (b + 0x7F4A7C15u) * 0x85EBCA77u ^ (c + 0x165667B1u) * 0xC2B2AE3Du;
    h ^= h >> 16; h *= 0x7FEB352Du; h ^= h >> 15; h *= 0x846CA68Bu; h ^= h >> 16;
    return h;
}

/* Horizontal sums of float vectors (shared by the dot-product GEMM and conv kernels). */
inline float ct_hsum8(float8 v) {
    float4 b = v.lo + v.hi;
    float2 c = b.lo + b.hi;
    return c.x + c.y;
}
inline float ct_hsum16(float16 v) { return ct_hsum8(v.lo + v.hi); }

/* Max-pool's order (cl/pool.cl): v replaces the maximum m so far when greater, or NaN over
 * a number (PyTorch: the first maximum in row-major order wins, NaN wins). Scalars or
 * vectors. CT_POOL_POS: the bit of a pool-2 argmax code (window position 0..3 in its low
 * bits) that says the maximum is > 0; written by ct_pool2_fwd_rows and the fused
 * Winograd forward (cl/conv.cl), read by ct_pool2_bwd_idx. */
#define CT_GT(v, m) ((v) > (m) || (isnan(v) && !isnan(m)))
#define CT_POOL_POS 4
/* The maximum m of one pool-2 window's four values a, b, c, d (row-major) by CT_GT, and
 * its code k (the position | CT_POOL_POS when m > 0); float vectors, IT the int vector of
 * their width. */
#define CT_POOL4(a, b, c, d, m, k, IT)                                                      \
    do {                                                                                    \
        IT t_;                                                                              \
        (m) = (a);                                                                          \
        (k) = (IT)(0);                                                                      \
        t_ = CT_GT((b), (m));                                                               \
        (m) = select((m), (b), t_);                                                         \
        (k) = select((k), (IT)(1), t_);                                                     \
        t_ = CT_GT((c), (m));                                                               \
        (m) = select((m), (c), t_);                                                         \
        (k) = select((k), (IT)(2), t_);                                                     \
        t_ = CT_GT((d), (m));                                                               \
        (m) = select((m), (d), t_);                                                         \
        (k) = select((k), (IT)(3), t_);                                                     \
        (k) = select((k), (k) | (IT)(CT_POOL_POS), (m) > 0.0f);                             \
    } while (0)

#endif
