/* Convolution plans: NCHW activations, OIHW weights, Keras 'valid'/'same' padding. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ops_internal.h"
#include "ops_ref.h"
#include "selftest.h"
#include "tensor.h"

struct ct_conv_plan {
    ct_runtime *rt;
    ct_conv_desc d;
    cl_kernel fwd, bwd_data, bwd_w, bwd_b;
};

ct_status ct_conv_desc_init(ct_conv_desc *d, int n, int cin, int h, int w, int cout, int k,
                            int stride, int same, ct_act act) {
    memset(d, 0, sizeof *d);
    if (n < 1 || cin < 1 || h < 1 || w < 1 || cout < 1 || k < 1 || stride < 1)
        return ct_set_error(CT_ERR_SHAPE,
                            "conv: bad shape n=%d cin=%d h=%d w=%d cout=%d k=%d stride=%d (all "
                            "must be >= 1)", n, cin, h, w, cout, k, stride);
    if (act != CT_ACT_NONE && act != CT_ACT_RELU)
        return ct_set_error(CT_ERR_ARG, "conv: fused activation must be none or relu");
    d->n = n, d->cin = cin, d->h = h, d->w = w, d->cout = cout, d->k = k, d->stride = stride;
    d->act = act;
    if (same) {
        /* Keras/TF: out = ceil(in/s); pad_total = max((out-1)*s + k - in, 0), extra at the end */
        d->oh = (h + stride - 1) / stride;
        d->ow = (w + stride - 1) / stride;
        int th = (d->oh - 1) * stride + k - h, tw = (d->ow - 1) * stride + k - w;
        d->pad_t = th > 0 ? th / 2 : 0;
        d->pad_l = tw > 0 ? tw / 2 : 0;
    } else {
        if (k > h || k > w)
            return ct_set_error(CT_ERR_SHAPE,
                                "conv: %dx%d kernel does not fit a %dx%d input with 'valid' "
                                "padding (use 'same' or a smaller kernel)", k, k, h, w);
        d->oh = (h - k) / stride + 1;
        d->ow = (w - k) / stride + 1;
    }
    if ((double)n * cin * h * w > INT_MAX || (double)n * cout * d->oh * d->ow > INT_MAX ||
        (double)cout * cin * k * k > INT_MAX)
        return ct_set_error(CT_ERR_SHAPE, "conv: tensor above 2^31 elements (n=%d cin=%d %dx%d "
                            "cout=%d): use a smaller batch", n, cin, h, w, cout);
    return CT_OK;
}

void ct_conv_plan_free(ct_conv_plan *p) {
    if (!p) return;
    if (p->fwd) clReleaseKernel(p->fwd);
    if (p->bwd_data) clReleaseKernel(p->bwd_data);
    if (p->bwd_w) clReleaseKernel(p->bwd_w);
    if (p->bwd_b) clReleaseKernel(p->bwd_b);
    free(p);
}

ct_status ct_conv_plan_create(ct_runtime *rt, const ct_conv_desc *d, ct_conv_plan **out) {
    *out = NULL;
    if (d->oh < 1 || d->ow < 1)
        return ct_set_error(CT_ERR_ARG, "conv plan: descriptor not initialised (ct_conv_desc_init)");
    ct_conv_plan *p = calloc(1, sizeof *p);
    if (!p) return ct_set_error(CT_ERR_MEMORY, "out of host memory (conv plan)");
    p->rt = rt;
    p->d = *d;
    ct_status s = ct_kernel_create(rt, "conv", "conv_fwd_direct", NULL, &p->fwd);
    if (s == CT_OK) s = ct_kernel_create(rt, "conv", "conv_bwd_data_direct", NULL, &p->bwd_data);
    if (s == CT_OK) s = ct_kernel_create(rt, "conv", "conv_bwd_weights_direct", NULL, &p->bwd_w);
    if (s == CT_OK) s = ct_kernel_create(rt, "conv", "conv_bwd_bias", NULL, &p->bwd_b);
    if (s != CT_OK) {
        ct_conv_plan_free(p);
        return s;
    }
    *out = p;
    return CT_OK;
}

static ct_status check_n(const ct_conv_plan *p, int n, const char *what) {
    if (n < 1 || n > p->d.n)
        return ct_set_error(CT_ERR_ARG, "conv %s: batch %d outside 1..%d (the planned batch)",
                            what, n, p->d.n);
    return CT_OK;
}

ct_status ct_conv_forward(ct_conv_plan *p, int n, cl_mem x, cl_mem w, cl_mem b, cl_mem y) {
    CT_TRY(check_n(p, n, "forward"));
    const ct_conv_desc *d = &p->d;
    int relu = d->act == CT_ACT_RELU;
    CT_TRY(ct_set_args(p->fwd, 15, sizeof(int), &d->cin, sizeof(int), &d->h, sizeof(int), &d->w,
                       sizeof(int), &d->cout, sizeof(int), &d->k, sizeof(int), &d->stride,
                       sizeof(int), &d->pad_t, sizeof(int), &d->pad_l, sizeof(int), &d->oh,
                       sizeof(int), &d->ow, sizeof relu, &relu, sizeof x, &x, sizeof w, &w,
                       sizeof b, &b, sizeof y, &y));
    size_t g[3] = {(size_t)(d->ow + 3) / 4, (size_t)d->oh, (size_t)n * ((d->cout + 3) / 4)};
    return ct_launch(p->rt, p->fwd, 3, g, NULL);
}

ct_status ct_conv_backward_data(ct_conv_plan *p, int n, cl_mem dy, cl_mem w, cl_mem dx) {
    CT_TRY(check_n(p, n, "backward_data"));
    const ct_conv_desc *d = &p->d;
    CT_TRY(ct_set_args(p->bwd_data, 13, sizeof(int), &d->cin, sizeof(int), &d->h, sizeof(int),
                       &d->w, sizeof(int), &d->cout, sizeof(int), &d->k, sizeof(int), &d->stride,
                       sizeof(int), &d->pad_t, sizeof(int), &d->pad_l, sizeof(int), &d->oh,
                       sizeof(int), &d->ow, sizeof dy, &dy, sizeof w, &w, sizeof dx, &dx));
    size_t g[3] = {(size_t)d->w, (size_t)d->h, (size_t)n * d->cin};
    return ct_launch(p->rt, p->bwd_data, 3, g, NULL);
}

static ct_status bias_grad(ct_conv_plan *p, int n, cl_mem dy, cl_mem db) {
    const ct_conv_desc *d = &p->d;
    int npix = d->oh * d->ow;
    size_t ls = 1;
    while (ls * 2 <= p->rt->max_wg && ls * 2 <= 256 && ls * 2 * sizeof(float) <= p->rt->local_mem)
        ls *= 2;
    CT_TRY(ct_set_args(p->bwd_b, 6, sizeof n, &n, sizeof(int), &d->cout, sizeof npix, &npix,
                       sizeof dy, &dy, sizeof db, &db, ls * sizeof(float), NULL));
    size_t g = (size_t)d->cout * ls;
    return ct_launch(p->rt, p->bwd_b, 1, &g, &ls);
}

ct_status ct_conv_backward_weights(ct_conv_plan *p, int n, cl_mem x, cl_mem dy, cl_mem dw,
                                   cl_mem db) {
    CT_TRY(check_n(p, n, "backward_weights"));
    const ct_conv_desc *d = &p->d;
    CT_TRY(ct_set_args(p->bwd_w, 14, sizeof n, &n, sizeof(int), &d->cin, sizeof(int), &d->h,
                       sizeof(int), &d->w, sizeof(int), &d->cout, sizeof(int), &d->k,
                       sizeof(int), &d->stride, sizeof(int), &d->pad_t, sizeof(int), &d->pad_l,
                       sizeof(int), &d->oh, sizeof(int), &d->ow, sizeof x, &x, sizeof dy, &dy,
                       sizeof dw, &dw));
    size_t g = (size_t)d->cout * d->cin * d->k * d->k;
    CT_TRY(ct_launch(p->rt, p->bwd_w, 1, &g, NULL));
    return bias_grad(p, n, dy, db);
}
