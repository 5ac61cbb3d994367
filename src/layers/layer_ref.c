/* Plain-C double-precision references for the layer kernels. */
#include "layers/layer_ref.h"

#include <math.h>
#include <string.h>

#include "check/ops_ref.h"

void ct_to_double(const float *a, double *b, size_t n) {
    for (size_t i = 0; i < n; i++) b[i] = a[i];
}
void ct_to_float(const double *a, float *b, size_t n) {
    for (size_t i = 0; i < n; i++) b[i] = (float)a[i];
}

static int argmax_win(const double *xc, int w, int y0, int x0, int p) {
    int best = y0 * w + x0;
    for (int dy = 0; dy < p; dy++)
        for (int dx = 0; dx < p; dx++) {
            int idx = (y0 + dy) * w + x0 + dx;
            if (xc[idx] > xc[best]) best = idx;
        }
    return best;
}

void ct_ref_pool_fwd(int nc, int h, int w, int p, int s, const double *x, double *y) {
    int oh = ct_pool_out(h, p, s), ow = ct_pool_out(w, p, s);
    for (int c = 0; c < nc; c++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
                y[((size_t)c * oh + oy) * ow + ox] =
                    x[(size_t)c * h * w + argmax_win(x + (size_t)c * h * w, w, oy * s, ox * s, p)];
}

void ct_ref_pool_bwd(int nc, int h, int w, int p, int s, int relu, const double *x,
                     const double *dy, double *dx) {
    int oh = ct_pool_out(h, p, s), ow = ct_pool_out(w, p, s);
    memset(dx, 0, (size_t)nc * h * w * sizeof *dx);
    for (int c = 0; c < nc; c++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                int a = argmax_win(x + (size_t)c * h * w, w, oy * s, ox * s, p);
                dx[(size_t)c * h * w + a] += dy[((size_t)c * oh + oy) * ow + ox];
            }
    if (relu)
        for (size_t i = 0; i < (size_t)nc * h * w; i++)
            if (!(x[i] > 0)) dx[i] = 0;
}

void ct_ref_avgpool_fwd(int nc, int h, int w, int ph, int pw, int sh, int sw, const double *x,
                        double *y) {
    int oh = ct_pool_out(h, ph, sh), ow = ct_pool_out(w, pw, sw);
    for (int c = 0; c < nc; c++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                double s = 0;
                for (int dy = 0; dy < ph; dy++)
                    for (int dx = 0; dx < pw; dx++)
                        s += x[((size_t)c * h + oy * sh + dy) * w + ox * sw + dx];
                y[((size_t)c * oh + oy) * ow + ox] = s / (ph * pw);
            }
}

void ct_ref_avgpool_bwd(int nc, int h, int w, int ph, int pw, int sh, int sw, const double *dy,
                        double *dx) {
    int oh = ct_pool_out(h, ph, sh), ow = ct_pool_out(w, pw, sw);
    memset(dx, 0, (size_t)nc * h * w * sizeof *dx);
    for (int c = 0; c < nc; c++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                double g = dy[((size_t)c * oh + oy) * ow + ox] / (ph * pw);
                for (int ky = 0; ky < ph; ky++)
                    for (int kx = 0; kx < pw; kx++)
                        dx[((size_t)c * h + oy * sh + ky) * w + ox * sw + kx] += g;
            }
}

static double act1(ct_act act, double alpha, double v) {
    switch (act) {
    case CT_ACT_RELU: return v > 0 ? v : 0;
    case CT_ACT_SIGMOID: return 1.0 / (1.0 + exp(-v));
    case CT_ACT_TANH: return tanh(v);
    case CT_ACT_LEAKYRELU: return v > 0 ? v : alpha * v;
    default: return v;
    }
}

/* From the output y, as the kernels (cl/act.cl) */
static double act1_grad(ct_act act, double alpha, double y, double g) {
    switch (act) {
    case CT_ACT_RELU: return y > 0 ? g : 0;
    case CT_ACT_SIGMOID: return g * y * (1 - y);
    case CT_ACT_TANH: return g * (1 - y * y);
    case CT_ACT_LEAKYRELU: return y > 0 ? g : alpha * g;
    default: return g;
    }
}

void ct_ref_act_fwd(ct_act act, float alpha, int n, int f, const double *x, double *y) {
    size_t total = (size_t)n * f;
    if (act == CT_ACT_SOFTMAX) {
        for (int r = 0; r < n; r++) {
            const double *xr = x + (size_t)r * f;
            double *yr = y + (size_t)r * f;
            double m = xr[0], s = 0;
            for (int j = 1; j < f; j++) m = fmax(m, xr[j]);
            for (int j = 0; j < f; j++) s += exp(xr[j] - m);
            for (int j = 0; j < f; j++) yr[j] = exp(xr[j] - m) / s;
        }
        return;
    }
    for (size_t i = 0; i < total; i++) y[i] = act1(act, alpha, x[i]);
}

void ct_ref_act_bwd(ct_act act, float alpha, int n, int f, const double *y, const double *dy,
                    double *dx) {
    size_t total = (size_t)n * f;
    if (act == CT_ACT_SOFTMAX) {
        for (int r = 0; r < n; r++) {
            size_t o = (size_t)r * f;
            double dot = 0;
            for (int j = 0; j < f; j++) dot += dy[o + j] * y[o + j];
            for (int j = 0; j < f; j++) dx[o + j] = y[o + j] * (dy[o + j] - dot);
        }
        return;
    }
    for (size_t i = 0; i < total; i++) dx[i] = act1_grad(act, alpha, y[i], dy[i]);
}

void ct_ref_dense_fwd(int n, int in, int out, ct_act act, float alpha, const double *x,
                      const double *w, const double *b, double *y) {
    for (int r = 0; r < n; r++)
        for (int o = 0; o < out; o++) {
            double s = b[o];
            for (int i = 0; i < in; i++) s += x[(size_t)r * in + i] * w[(size_t)o * in + i];
            y[(size_t)r * out + o] = s;
        }
    ct_ref_act_fwd(act, alpha, n, out, y, y);
}

void ct_ref_dense_bwd(int n, int in, int out, const double *x, const double *w, const double *dy,
                      double *dx, double *dw, double *db) {
    for (int o = 0; o < out; o++) {
        double sb = 0;
        for (int r = 0; r < n; r++) sb += dy[(size_t)r * out + o];
        db[o] = sb;
        for (int i = 0; i < in; i++) {
            double s = 0;
            for (int r = 0; r < n; r++) s += dy[(size_t)r * out + o] * x[(size_t)r * in + i];
            dw[(size_t)o * in + i] = s;
        }
    }
    if (dx)
        for (int r = 0; r < n; r++)
            for (int i = 0; i < in; i++) {
                double s = 0;
                for (int o = 0; o < out; o++) s += dy[(size_t)r * out + o] * w[(size_t)o * in + i];
                dx[(size_t)r * in + i] = s;
            }
}

void ct_ref_dropout(size_t count, float rate, uint32_t seed, uint32_t step, const double *x,
                    double *y) {
    double scale = 1.0 / (1.0 - (double)rate);
    for (size_t i = 0; i < count; i++)
        y[i] = ct_dropout_keep_host(seed, step, (uint32_t)i, rate) ? x[i] * (double)(float)scale : 0;
}

double ct_ref_loss(int n, int classes, const double *z, const int *labels, double *loss,
                   double *correct, double *dz) {
    return ct_ref_loss_w(n, classes, z, labels, NULL, loss, correct, dz);
}

void ct_ref_topk(int n, int classes, int t, const double *z, int *top) {
    if (classes == 1) {
        for (int i = 0; i < n; i++) top[i] = 1.0 / (1.0 + exp(-z[i])) > 0.5;
        return;
    }
    for (int i = 0; i < n; i++) {
        const double *zr = z + (size_t)i * classes;
        int *tr = top + (size_t)i * t;
        for (int r = 0; r < t; r++) {
            int best = -1;
            for (int j = 0; j < classes; j++) {
                int taken = 0;
                for (int q = 0; q < r; q++) taken |= tr[q] == j;
                if (!taken && (best < 0 || zr[j] > zr[best])) best = j;
            }
            tr[r] = best;
        }
    }
}

double ct_ref_loss_w(int n, int classes, const double *z, const int *labels, const double *cw,
                     double *loss, double *correct, double *dz) {
    double total = 0;
    for (int i = 0; i < n; i++) {
        double l;
        int ok;
        double w = cw ? cw[labels[i]] : 1.0;
        if (classes == 1) {
            double v = z[i], y = labels[i];
            l = fmax(v, 0) - v * y + log1p(exp(-fabs(v)));
            double p = 1.0 / (1.0 + exp(-v));
            ok = (p > 0.5) == (labels[i] == 1);
            if (dz) dz[i] = w * (p - y) / n;
        } else {
            const double *zr = z + (size_t)i * classes;
            double m = zr[0];
            int am = 0;
            for (int j = 1; j < classes; j++)
                if (zr[j] > m) {
                    m = zr[j];
                    am = j;
                }
            double s = 0;
            for (int j = 0; j < classes; j++) s += exp(zr[j] - m);
            double lse = m + log(s);
            l = lse - zr[labels[i]];
            ok = am == labels[i];
            if (dz)
                for (int j = 0; j < classes; j++)
                    dz[(size_t)i * classes + j] = w * (exp(zr[j] - lse) - (j == labels[i])) / n;
        }
        l *= w;
        if (loss) loss[i] = l;
        if (correct) correct[i] = ok;
        total += l;
    }
    return total / n;
}

void ct_ref_adam(size_t count, double lr, double b1, double b2, double eps, long t, double *p,
                 const double *g, double *m, double *v) {
    double alpha = lr * sqrt(1 - pow(b2, (double)t)) / (1 - pow(b1, (double)t));
    for (size_t i = 0; i < count; i++) {
        m[i] += (g[i] - m[i]) * (1 - b1);
        v[i] += (g[i] * g[i] - v[i]) * (1 - b2);
        p[i] -= alpha * m[i] / (sqrt(v[i]) + eps);
    }
}

void ct_ref_optim(const ct_optim *o, size_t count, long t, double *p, const double *g, double *m,
                  double *v, const unsigned char *decay) {
    double lr = o->lr, mu = o->momentum;
    switch (o->kind) {
    case CT_OPTIM_ADAMW: /* the decay, then Adam */
        for (size_t i = 0; i < count; i++)
            if (decay[i]) p[i] -= p[i] * lr * o->weight_decay;
        ct_ref_adam(count, lr, o->beta1, o->beta2, o->eps, t, p, g, m, v);
        break;
    case CT_OPTIM_ADAM:
        ct_ref_adam(count, lr, o->beta1, o->beta2, o->eps, t, p, g, m, v);
        break;
    case CT_OPTIM_SGD:
        for (size_t i = 0; i < count; i++) {
            if (mu == 0) {
                p[i] -= lr * g[i];
                continue;
            }
            m[i] = mu * m[i] - lr * g[i];
            p[i] += o->nesterov ? mu * m[i] - lr * g[i] : m[i];
        }
        break;
    case CT_OPTIM_RMSPROP:
        for (size_t i = 0; i < count; i++) {
            v[i] = o->rho * v[i] + (1 - o->rho) * g[i] * g[i];
            double inc = lr * g[i] / sqrt(v[i] + o->eps);
            if (mu != 0) inc = m[i] = mu * m[i] + inc;
            p[i] -= inc;
        }
        break;
    }
}

void ct_ref_layer_conv(const ct_layer *l, int n, const double *x, const double *const *p,
                       double *y) {
    ct_conv_desc d;
    ct_conv_desc_init(&d, n, l->ic, l->ih, l->iw, l->oc, l->s.k, l->s.stride, l->s.same,
                      CT_ACT_NONE);
    ct_ref_conv_forward_d(&d, n, x, p[0], p[1], y);
    ct_ref_act_fwd(l->s.act, l->s.alpha, n, (int)l->out_feat, y, y);
}

void ct_ref_layer_maxpool(const ct_layer *l, int n, const double *x, const double *const *p,
                          double *y) {
    (void)p;
    ct_ref_pool_fwd(n * l->ic, l->ih, l->iw, l->s.pool, l->s.stride, x, y);
}

void ct_ref_layer_avgpool(const ct_layer *l, int n, const double *x, const double *const *p,
                          double *y) {
    (void)p;
    ct_ref_avgpool_fwd(n * l->ic, l->ih, l->iw, l->s.pool, l->s.pool, l->s.stride, l->s.stride, x,
                       y);
}

void ct_ref_layer_gap(const ct_layer *l, int n, const double *x, const double *const *p,
                      double *y) {
    (void)p;
    ct_ref_avgpool_fwd(n * l->ic, l->ih, l->iw, l->ih, l->iw, 1, 1, x, y);
}

void ct_ref_layer_dense(const ct_layer *l, int n, const double *x, const double *const *p,
                        double *y) {
    ct_ref_dense_fwd(n, (int)l->in_feat, l->oc, l->s.act, l->s.alpha, x, p[0], p[1], y);
}

void ct_ref_layer_activation(const ct_layer *l, int n, const double *x, const double *const *p,
                             double *y) {
    (void)p;
    ct_ref_act_fwd(l->s.act, l->s.alpha, n, (int)l->in_feat, x, y);
}

void ct_ref_layer_copy(const ct_layer *l, int n, const double *x, const double *const *p,
                       double *y) {
    (void)p;
    memmove(y, x, (size_t)n * l->in_feat * sizeof *y);
}

/* ---- batchnorm ---- */

static size_t bn_at(int s, int C, int hw, int c, int j) { return ((size_t)s * C + c) * hw + j; }

/* mean/var of channel c: the batch's (biased variance) in training, else the moving ones. */
static void bn_stats(int n, int C, int hw, int train, int c, const double *x, const double *mm,
                     const double *mv, double *mean, double *var) {
    if (!train) {
        *mean = mm[c];
        *var = mv[c];
        return;
    }
    double M = (double)n * hw, s = 0, q = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < hw; j++) s += x[bn_at(i, C, hw, c, j)];
    s /= M;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < hw; j++) {
            double d = x[bn_at(i, C, hw, c, j)] - s;
            q += d * d;
        }
    *mean = s;
    *var = q / M;
}

void ct_ref_bn_fwd(int n, int C, int hw, int train, double eps, ct_act act, const double *x,
                   const double *gamma, const double *beta, const double *mm, const double *mv,
                   double *y, double *bmean, double *bvar) {
    for (int c = 0; c < C; c++) {
        double mean, var;
        bn_stats(n, C, hw, train, c, x, mm, mv, &mean, &var);
        double inv = 1.0 / sqrt(var + eps);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++) {
                size_t k = bn_at(i, C, hw, c, j);
                double v = (x[k] - mean) * inv * gamma[c] + beta[c];
                y[k] = act == CT_ACT_RELU && !(v > 0) ? 0.0 : v;
            }
        if (bmean) bmean[c] = mean;
        if (bvar) bvar[c] = var;
    }
}

void ct_ref_bn_moving(int C, double momentum, const double *bmean, const double *bvar, double *mm,
                      double *mv) {
    for (int c = 0; c < C; c++) {
        mm[c] = mm[c] * momentum + bmean[c] * (1 - momentum);
        mv[c] = mv[c] * momentum + bvar[c] * (1 - momentum);
    }
}

void ct_ref_bn_bwd(int n, int C, int hw, int train, double eps, ct_act act, const double *x,
                   const double *gamma, const double *mm, const double *mv, const double *y,
                   const double *dy, double *dx, double *dgamma, double *dbeta) {
    double M = (double)n * hw;
    for (int c = 0; c < C; c++) {
        double mean, var, sg = 0, sgx = 0;
        bn_stats(n, C, hw, train, c, x, mm, mv, &mean, &var);
        double inv = 1.0 / sqrt(var + eps);
#define BN_G(k) (act == CT_ACT_RELU && !(y[k] > 0) ? 0.0 : dy[k])
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++) {
                size_t k = bn_at(i, C, hw, c, j);
                sg += BN_G(k);
                sgx += BN_G(k) * (x[k] - mean) * inv;
            }
        dgamma[c] = sgx;
        dbeta[c] = sg;
        for (int i = 0; dx && i < n; i++)
            for (int j = 0; j < hw; j++) {
                size_t k = bn_at(i, C, hw, c, j);
                double g = BN_G(k);
                if (train) g -= (sg + (x[k] - mean) * inv * sgx) / M;
                dx[k] = gamma[c] * inv * g;
            }
#undef BN_G
    }
}

/* p: gamma, beta, then the non-trainable moving mean and variance (inference). */
void ct_ref_layer_batchnorm(const ct_layer *l, int n, const double *x, const double *const *p,
                            double *y) {
    ct_ref_bn_fwd(n, l->oc, l->flat_in ? 1 : l->ih * l->iw, 0, 1e-3, l->s.act, x, p[0], p[1], p[2],
                  p[3], y, NULL, NULL);
}
