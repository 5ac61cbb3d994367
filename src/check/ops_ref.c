#include "check/ops_ref.h"

#include <stdlib.h>
#include <string.h>

void ct_ref_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                 int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0;
            for (int k = 0; k < K; k++) {
                double a = trans_a ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                double b = trans_b ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                acc += a * b;
            }
            double c = alpha * acc;
            if (beta != 0.0f) c += (double)beta * C[(size_t)i * ldc + j];
            C[(size_t)i * ldc + j] = (float)c;
        }
}

/* Input coordinate of output o and tap t, or -1 when it falls in the padding. */
static inline int in_coord(int o, int t, int stride, int pad, int size) {
    int i = o * stride - pad + t;
    return (i >= 0 && i < size) ? i : -1;
}

#define CONV_FWD_BODY(T)                                                                     \
    for (int in = 0; in < n; in++)                                                           \
        for (int co = 0; co < d->cout; co++)                                                 \
            for (int oy = 0; oy < d->oh; oy++)                                               \
                for (int ox = 0; ox < d->ow; ox++) {                                         \
                    double acc = b ? (double)b[co] : 0.0;                                    \
                    for (int ci = 0; ci < d->cin; ci++)                                      \
                        for (int ky = 0; ky < d->k; ky++) {                                  \
                            int iy = in_coord(oy, ky, d->stride, d->pad_t, d->h);            \
                            if (iy < 0) continue;                                            \
                            for (int kx = 0; kx < d->k; kx++) {                              \
                                int ix = in_coord(ox, kx, d->stride, d->pad_l, d->w);        \
                                if (ix < 0) continue;                                        \
                                acc += (double)x[(((size_t)in * d->cin + ci) * d->h + iy) *  \
                                                     d->w + ix] *                            \
                                       (double)w[(((size_t)co * d->cin + ci) * d->k + ky) *  \
                                                     d->k + kx];                             \
                            }                                                                \
                        }                                                                    \
                    y[(((size_t)in * d->cout + co) * d->oh + oy) * d->ow + ox] = (T)ACT(acc); \
                }

void ct_ref_conv_forward(const ct_conv_desc *d, int n, const float *x, const float *w,
                         const float *b, float *y) {
    int relu = d->act == CT_ACT_RELU;
#define ACT(v) (relu && (v) < 0 ? 0.0 : (v))
    CONV_FWD_BODY(float)
#undef ACT
}

void ct_ref_conv_forward_d(const ct_conv_desc *d, int n, const double *x, const double *w,
                           const double *b, double *y) {
#define ACT(v) (v)
    CONV_FWD_BODY(double)
#undef ACT
}

void ct_ref_conv_backward_data(const ct_conv_desc *d, int n, const float *dy, const float *w,
                               float *dx) {
    size_t nx = (size_t)n * d->cin * d->h * d->w;
    double *acc = calloc(nx ? nx : 1, sizeof *acc);
    if (!acc) { /* references run on small test shapes; poison so a caller sees it */
        for (size_t i = 0; i < nx; i++) dx[i] = __builtin_nanf("");
        return;
    }
    for (int in = 0; in < n; in++)
        for (int co = 0; co < d->cout; co++)
            for (int oy = 0; oy < d->oh; oy++)
                for (int ox = 0; ox < d->ow; ox++) {
                    double g = dy[(((size_t)in * d->cout + co) * d->oh + oy) * d->ow + ox];
                    for (int ci = 0; ci < d->cin; ci++)
                        for (int ky = 0; ky < d->k; ky++) {
                            int iy = in_coord(oy, ky, d->stride, d->pad_t, d->h);
                            if (iy < 0) continue;
                            for (int kx = 0; kx < d->k; kx++) {
                                int ix = in_coord(ox, kx, d->stride, d->pad_l, d->w);
                                if (ix < 0) continue;
                                acc[(((size_t)in * d->cin + ci) * d->h + iy) * d->w + ix] +=
                                    g * w[(((size_t)co * d->cin + ci) * d->k + ky) * d->k + kx];
                            }
                        }
                }
    for (size_t i = 0; i < nx; i++) dx[i] = (float)acc[i];
    free(acc);
}

void ct_ref_conv_backward_weights(const ct_conv_desc *d, int n, const float *x, const float *dy,
                                  float *dw, float *db) {
    for (int co = 0; co < d->cout; co++) {
        double sb = 0;
        for (int in = 0; in < n; in++)
            for (int p = 0; p < d->oh * d->ow; p++)
                sb += dy[((size_t)in * d->cout + co) * d->oh * d->ow + p];
        db[co] = (float)sb;
        for (int ci = 0; ci < d->cin; ci++)
            for (int ky = 0; ky < d->k; ky++)
                for (int kx = 0; kx < d->k; kx++) {
                    double acc = 0;
                    for (int in = 0; in < n; in++)
                        for (int oy = 0; oy < d->oh; oy++) {
                            int iy = in_coord(oy, ky, d->stride, d->pad_t, d->h);
                            if (iy < 0) continue;
                            for (int ox = 0; ox < d->ow; ox++) {
                                int ix = in_coord(ox, kx, d->stride, d->pad_l, d->w);
                                if (ix < 0) continue;
                                acc += (double)dy[(((size_t)in * d->cout + co) * d->oh + oy) *
                                                      d->ow + ox] *
                                       x[(((size_t)in * d->cin + ci) * d->h + iy) * d->w + ix];
                            }
                        }
                    dw[(((size_t)co * d->cin + ci) * d->k + ky) * d->k + kx] = (float)acc;
                }
    }
}
