/* Convolution plans: NCHW activations, OIHW weights, Keras 'valid'/'same' padding. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/parse.h"
#include "ops/ops_internal.h"
#include "runtime/tensor.h"

struct ct_conv_plan {
    ct_runtime *rt;
    ct_conv_desc d;
    cl_kernel fwd, bwd_data, bwd_w, bwd_b, im2col, im2col_t, col2im, sum_parts, bias_parts;
    cl_kernel flip, pad_input, pack, wino_w, wino_w6, wino_in, wino_out, wino_bw_out;
    cl_kernel impl[CT_CONV_IMPLICIT_CONFIGS]; /* created on first use */
    cl_kernel impl_pool[CT_CONV_IMPLICIT_CONFIGS]; /* the same with the fused pool */
    cl_kernel implw[CT_CONV_IMPLW_CONFIGS];   /* backward-weights (iwcfg) */
    cl_kernel wfused[CT_CONV_WFUSED_CONFIGS]; /* fused Winograd (wfcfg) */
    cl_kernel wbw[CT_CONV_WFUSED_CONFIGS];    /* its backward-weights (wfcfg's VW) */
    cl_kernel pool2;                          /* cl/pool.cl ct_pool2_fwd_rows (d.pool) */
    cl_mem pool_y, pool_idx; /* ct_conv_forward_pool's outputs during its call, else NULL */
    cl_mem ws;         /* workspace: im2col columns | split-K partials | flipped weights */
    size_t ws_floats;
    size_t col_floats; /* column area; a pass handles as many items as fit in it */
    size_t part_off;   /* partial sums start here (floats) */
    size_t wf_off;     /* flipped weights (backward-data as a forward conv) */
    size_t bp_off;     /* bias-gradient partials of the implicit backward-weights */
    int parts;         /* partial slots available */
    int force_on[3];   /* per pass: ct_conv_plan_force */
    ct_variant force[3];
    int ran[3]; /* per pass: whether last[] holds the variant the last call ran */
    ct_variant last[3];
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
    cl_kernel *ks[] = {&p->fwd, &p->bwd_data, &p->bwd_w, &p->bwd_b,
                       &p->im2col, &p->im2col_t, &p->col2im, &p->sum_parts, &p->bias_parts,
                       &p->flip, &p->pad_input, &p->pack, &p->wino_w, &p->wino_w6,
                       &p->wino_in, &p->wino_out, &p->wino_bw_out, &p->pool2};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++)
        if (*ks[i]) clReleaseKernel(*ks[i]);
    for (int i = 0; i < CT_CONV_IMPLICIT_CONFIGS; i++)
        if (p->impl[i]) clReleaseKernel(p->impl[i]);
    for (int i = 0; i < CT_CONV_IMPLICIT_CONFIGS; i++)
        if (p->impl_pool[i]) clReleaseKernel(p->impl_pool[i]);
    for (int i = 0; i < CT_CONV_IMPLW_CONFIGS; i++)
        if (p->implw[i]) clReleaseKernel(p->implw[i]);
    for (int i = 0; i < CT_CONV_WFUSED_CONFIGS; i++)
        if (p->wfused[i]) clReleaseKernel(p->wfused[i]);
    for (int i = 0; i < CT_CONV_WFUSED_CONFIGS; i++)
        if (p->wbw[i]) clReleaseKernel(p->wbw[i]);
    if (p->ws) clReleaseMemObject(p->ws);
    free(p);
}

/* Workspace budget for one im2col pass: big enough to amortise launches, small enough
 * that the columns are still in cache when the GEMM reads them. On the 2-core PoCL
 * machine 6 MiB gave 657-699 ms for Model 2's conv+dense ops vs 844-870 ms with 24 MiB
 * (alternating runs, tools/bench_layers). */
#define WS_TARGET_BYTES ((size_t)6 << 20)
#define MAX_PARTS 64
static size_t wfused_need(const ct_conv_desc *d);

ct_status ct_conv_plan_create(ct_runtime *rt, const ct_conv_desc *d, ct_conv_plan **out) {
    *out = NULL;
    if (d->oh < 1 || d->ow < 1 || d->n < 1)
        return ct_set_error(CT_ERR_ARG, "conv plan: descriptor not initialised (ct_conv_desc_init)");
    ct_conv_plan *p = calloc(1, sizeof *p);
    if (!p) return ct_set_error(CT_ERR_MEMORY, "out of host memory (conv plan)");
    p->rt = rt;
    p->d = *d;
    ct_ops_state *st;
    ct_status s = ct_ops_state_get(rt, &st);
    struct { const char *prog, *name; cl_kernel *k; } ks[] = {
        {"conv", "conv_fwd_direct", &p->fwd},       {"conv", "conv_bwd_data_direct", &p->bwd_data},
        {"conv", "conv_bwd_weights_direct", &p->bwd_w}, {"conv", "conv_bwd_bias", &p->bwd_b},
        {"conv", "im2col", &p->im2col},             {"conv", "im2col_t", &p->im2col_t},
        {"conv", "col2im", &p->col2im},             {"gemm", "sum_parts", &p->sum_parts},
        {"conv", "bias_parts", &p->bias_parts},     {"conv", "flip_weights", &p->flip},
        {"conv", "pad_input", &p->pad_input},     {"conv", "pack_weights", &p->pack},
        {"conv", "wino_weights", &p->wino_w},     {"conv", "wino_input", &p->wino_in},
        {"conv", "wino_output", &p->wino_out},   {"conv", "wino_bwd_w_out", &p->wino_bw_out},
        {"conv", "wino_weights6", &p->wino_w6}};
    for (size_t i = 0; s == CT_OK && i < sizeof ks / sizeof ks[0]; i++)
        s = ct_kernel_create(rt, ks[i].prog, ks[i].name, NULL, ks[i].k);
    if (s != CT_OK) {
        ct_conv_plan_free(p);
        return s;
    }
    size_t nw = (size_t)d->cout * d->cin * d->k * d->k;
    size_t per = (size_t)d->cin * d->k * d->k * d->oh * d->ow;         /* columns of x */
    size_t per_bd = (size_t)d->cout * d->k * d->k * d->h * d->w;      /* columns of dy */
    size_t colf = WS_TARGET_BYTES / sizeof(float);
    if (rt->dev.type & CL_DEVICE_TYPE_GPU) {
        /* GPUs need many items per launch to fill the machine, and have no cache to keep */
        size_t cap = (size_t)rt->dev.max_alloc / 4;
        if (cap > ((size_t)256 << 20)) cap = (size_t)256 << 20;
        if (cap > (size_t)rt->dev.global_mem / 16) cap = (size_t)rt->dev.global_mem / 16;
        if (cap / sizeof(float) > colf) colf = cap / sizeof(float);
    }
    long wse = ct_env_long("CLTRAIN_CONV_WS_MB", 1, 65536, 0); /* for measuring only */
    if (wse > 0) colf = ((size_t)wse << 20) / sizeof(float);
    if (colf > (size_t)d->n * (per > per_bd ? per : per_bd)) colf = (size_t)d->n * (per > per_bd ? per : per_bd);
    if (colf < per) colf = per;
    if (colf < per_bd) colf = per_bd;
    /* room for the fused Winograd's U (F(4x4)) where that is within the target:
     * with a small batch the im2col size above would shut out F(4x4), whose U alone is
     * 36 x cin x cout floats */
    size_t wneed = wfused_need(d);
    if (colf < wneed && wneed <= WS_TARGET_BYTES / sizeof(float)) colf = wneed;
    size_t parts = (size_t)MAX_PARTS * nw;
    if (parts < (size_t)d->n * d->cout) parts = (size_t)d->n * d->cout; /* bias partials */
    p->col_floats = colf;
    p->part_off = colf;
    p->wf_off = colf + parts;
    p->parts = MAX_PARTS;
    /* flipped or packed weights; packing rounds the output channels up to a block (<= 16) */
    p->bp_off = p->wf_off + nw + (size_t)16 * (d->cin > d->cout ? d->cin : d->cout) * d->k * d->k;
    p->ws_floats = p->bp_off + (size_t)MAX_PARTS * d->cout;
    if ((double)p->ws_floats > INT_MAX ||
        ct_buffer_create(rt, "conv im2col workspace", p->ws_floats * sizeof(float),
                         CL_MEM_READ_WRITE, &p->ws) != CT_OK) {
        /* no room for a workspace: the direct kernels need none. They round differently,
         * so a run that falls back is not bit-identical to one that did not: say so. */
        if ((double)p->ws_floats <= INT_MAX)
            ct_log(CT_LOG_WARN, "conv %dx%dx%d -> %d runs the direct kernels (slower; results "
                   "differ in the last digits from a run with a workspace): %s", d->cin, d->h,
                   d->w, d->cout, ct_last_error());
        p->ws = NULL;
        p->ws_floats = 0;
    }
    *out = p;
    return CT_OK;
}

/* items per pass whose columns (per item) fit the column area */
static int chunk_of(const ct_conv_plan *p, size_t per, int n) {
    size_t c = p->col_floats / (per ? per : 1);
    if (c < 1) c = 1;
    return c > (size_t)n ? n : (int)c;
}

static ct_status check_n(const ct_conv_plan *p, int n, const char *what) {
    if (n < 1 || n > p->d.n)
        return ct_set_error(CT_ERR_ARG, "conv %s: batch %d outside 1..%d (the planned batch)",
                            what, n, p->d.n);
    return CT_OK;
}

/* ---- direct kernels ------------------------------------------------------ */
static ct_status fwd_direct(ct_conv_plan *p, int n, cl_mem x, cl_mem w, cl_mem b, cl_mem y) {
    const ct_conv_desc *d = &p->d;
    int relu = d->act == CT_ACT_RELU, use_bias = b != NULL;
    cl_mem bb = b ? b : w; /* not read without use_bias */
    CT_TRY(ct_set_args(p->fwd, 16, sizeof(int), &d->cin, sizeof(int), &d->h, sizeof(int), &d->w,
                       sizeof(int), &d->cout, sizeof(int), &d->k, sizeof(int), &d->stride,
                       sizeof(int), &d->pad_t, sizeof(int), &d->pad_l, sizeof(int), &d->oh,
                       sizeof(int), &d->ow, sizeof relu, &relu, sizeof x, &x, sizeof w, &w,
                       sizeof bb, &bb, sizeof use_bias, &use_bias, sizeof y, &y));
    size_t g[3] = {(size_t)(d->ow + 3) / 4, (size_t)d->oh, (size_t)n * ((d->cout + 3) / 4)};
    return ct_ops_launch(p->rt, p->fwd, 3, g, 8, 4);
}

static ct_status bwd_data_direct(ct_conv_plan *p, int n, cl_mem dy, cl_mem w, cl_mem dx) {
    const ct_conv_desc *d = &p->d;
    CT_TRY(ct_set_args(p->bwd_data, 13, sizeof(int), &d->cin, sizeof(int), &d->h, sizeof(int),
                       &d->w, sizeof(int), &d->cout, sizeof(int), &d->k, sizeof(int), &d->stride,
                       sizeof(int), &d->pad_t, sizeof(int), &d->pad_l, sizeof(int), &d->oh,
                       sizeof(int), &d->ow, sizeof dy, &dy, sizeof w, &w, sizeof dx, &dx));
    size_t g[3] = {(size_t)d->w, (size_t)d->h, (size_t)n * d->cin};
    return ct_ops_launch(p->rt, p->bwd_data, 3, g, 16, 4);
}

static ct_status bwd_w_direct(ct_conv_plan *p, int n, cl_mem x, cl_mem dy, cl_mem dw) {
    const ct_conv_desc *d = &p->d;
    CT_TRY(ct_set_args(p->bwd_w, 14, sizeof n, &n, sizeof(int), &d->cin, sizeof(int), &d->h,
                       sizeof(int), &d->w, sizeof(int), &d->cout, sizeof(int), &d->k,
                       sizeof(int), &d->stride, sizeof(int), &d->pad_t, sizeof(int), &d->pad_l,
                       sizeof(int), &d->oh, sizeof(int), &d->ow, sizeof x, &x, sizeof dy, &dy,
                       sizeof dw, &dw));
    size_t g = (size_t)d->cout * d->cin * d->k * d->k;
    return ct_ops_launch(p->rt, p->bwd_w, 1, &g, 64, 1);
}

static ct_status bias_grad(ct_conv_plan *p, int n, cl_mem dy, cl_mem db) {
    const ct_conv_desc *d = &p->d;
    int npix = d->oh * d->ow;
    if (p->ws) { /* two stages without barriers: per (item, channel) sums, then over items */
        int off = (int)p->part_off, cout = d->cout;
        cl_mem ws = p->ws;
        CT_TRY(ct_set_args(p->bias_parts, 5, sizeof cout, &cout, sizeof npix, &npix, sizeof dy,
                           &dy, sizeof ws, &ws, sizeof off, &off));
        size_t g[2] = {(size_t)cout, (size_t)n};
        CT_TRY(ct_ops_launch(p->rt, p->bias_parts, 2, g, 16, 1));
        CT_TRY(ct_set_args(p->sum_parts, 5, sizeof cout, &cout, sizeof n, &n, sizeof ws, &ws,
                           sizeof off, &off, sizeof db, &db));
        size_t g1 = (size_t)cout;
        return ct_ops_launch(p->rt, p->sum_parts, 1, &g1, 64, 1);
    }
    size_t ls = 1;
    while (ls * 2 <= p->rt->max_wg && ls * 2 <= 256 && ls * 2 * sizeof(float) <= p->rt->local_mem)
        ls *= 2;
    CT_TRY(ct_set_args(p->bwd_b, 6, sizeof n, &n, sizeof(int), &d->cout, sizeof npix, &npix,
                       sizeof dy, &dy, sizeof db, &db, ls * sizeof(float), NULL));
    size_t g = (size_t)d->cout * ls;
    return ct_launch(p->rt, p->bwd_b, 1, &g, &ls);
}

/* ---- im2col + GEMM --------------------------------------------------------- */
static ct_status run_im2col(ct_conv_plan *p, cl_kernel k, int n0, int nb, cl_mem src, int transposed) {
    const ct_conv_desc *d = &p->d;
    cl_mem ws = p->ws;
    (void)transposed;
    CT_TRY(ct_set_args(k, 12, sizeof(int), &d->cin, sizeof(int), &d->h, sizeof(int), &d->w,
                       sizeof(int), &d->k, sizeof(int), &d->stride, sizeof(int), &d->pad_t,
                       sizeof(int), &d->pad_l, sizeof(int), &d->oh, sizeof(int), &d->ow,
                       sizeof n0, &n0, sizeof src, &src, sizeof ws, &ws));
    size_t g[3] = {(size_t)d->oh, transposed ? (size_t)d->cin : (size_t)d->cin * d->k * d->k, (size_t)nb};
    return ct_ops_launch(p->rt, k, 3, g, 4, 4);
}

static int identity_cols(const ct_conv_desc *d) {
    return d->k == 1 && d->stride == 1 && d->pad_t == 0 && d->pad_l == 0;
}

static ct_status fwd_im2col(ct_conv_plan *p, int gv, int n, cl_mem x, cl_mem w, cl_mem b, cl_mem y) {
    const ct_conv_desc *d = &p->d;
    int P = d->oh * d->ow, KK = d->cin * d->k * d->k;
    int direct_b = identity_cols(d);
    int chunk = chunk_of(p, (size_t)KK * P, n);
    for (int n0 = 0; n0 < n; n0 += chunk) {
        int nb = n - n0 < chunk ? n - n0 : chunk;
        if (!direct_b) CT_TRY(run_im2col(p, p->im2col, n0, nb, x, 0));
        ct_gemm_job j = {.M = d->cout, .N = P, .K = KK, .alpha = 1.0f, .beta = 0.0f,
                         .A = w, .as_i = KK, .as_k = 1,
                         .B = direct_b ? x : p->ws, .b_off = direct_b ? n0 * KK * P : 0,
                         .bs_k = P, .bs_j = 1, .sb = KK * P,
                         .C = y, .c_off = n0 * d->cout * P, .ldc = P, .sc = d->cout * P,
                         .nsum = 1, .nbatch = nb, .bias = b, .relu = d->act == CT_ACT_RELU};
        CT_TRY(ct_gemm_job_run(p->rt, gv, &j));
    }
    return CT_OK;
}

/* Stride 1: dx = conv(dy, flipped w) with padding k-1-pad, an ordinary im2col + GEMM
 * (the col2im gather and its large column matrix are avoided). */
static ct_status bwd_data_flip(ct_conv_plan *p, int gv, int n, cl_mem dy, cl_mem w, cl_mem dx) {
    const ct_conv_desc *d = &p->d;
    int HW = d->h * d->w, KK = d->cout * d->k * d->k, wfo = (int)p->wf_off;
    cl_mem ws = p->ws;
    CT_TRY(ct_set_args(p->flip, 6, sizeof(int), &d->cout, sizeof(int), &d->cin, sizeof(int),
                       &d->k, sizeof w, &w, sizeof ws, &ws, sizeof wfo, &wfo));
    size_t gf = (size_t)d->cout * d->cin * d->k * d->k;
    CT_TRY(ct_ops_launch(p->rt, p->flip, 1, &gf, 64, 1));
    int one = 1, pt = d->k - 1 - d->pad_t, pl = d->k - 1 - d->pad_l;
    int chunk = chunk_of(p, (size_t)KK * HW, n);
    for (int n0 = 0; n0 < n; n0 += chunk) {
        int nb = n - n0 < chunk ? n - n0 : chunk;
        CT_TRY(ct_set_args(p->im2col, 12, sizeof(int), &d->cout, sizeof(int), &d->oh,
                           sizeof(int), &d->ow, sizeof(int), &d->k, sizeof one, &one, sizeof pt,
                           &pt, sizeof pl, &pl, sizeof(int), &d->h, sizeof(int), &d->w,
                           sizeof n0, &n0, sizeof dy, &dy, sizeof ws, &ws));
        size_t g[3] = {(size_t)d->h, (size_t)KK, (size_t)nb};
        CT_TRY(ct_ops_launch(p->rt, p->im2col, 3, g, 4, 4));
        ct_gemm_job j = {.M = d->cin, .N = HW, .K = KK, .alpha = 1.0f, .beta = 0.0f,
                         .A = ws, .a_off = wfo, .as_i = KK, .as_k = 1,
                         .B = ws, .bs_k = HW, .bs_j = 1, .sb = KK * HW,
                         .C = dx, .c_off = n0 * d->cin * HW, .ldc = HW, .sc = d->cin * HW,
                         .nsum = 1, .nbatch = nb};
        CT_TRY(ct_gemm_job_run(p->rt, gv, &j));
    }
    return CT_OK;
}

/* Zero-padded copy (cl/conv.cl pad_input) of items n0 .. n0+nb-1 of src (c x h x w) into
 * the workspace at float offset off: hp rows of wp, the input at row pt, column pl. */
static ct_status pad_run(ct_conv_plan *p, int c, int h, int w, int pt, int pl, int hp, int wp,
                         int n0, int nb, cl_mem src, int off) {
    cl_mem ws = p->ws;
    CT_TRY(ct_set_args(p->pad_input, 11, sizeof c, &c, sizeof h, &h, sizeof w, &w, sizeof pt,
                       &pt, sizeof pl, &pl, sizeof hp, &hp, sizeof wp, &wp, sizeof n0, &n0,
                       sizeof src, &src, sizeof ws, &ws, sizeof off, &off));
    size_t g[2] = {(size_t)hp, (size_t)c * nb};
    return ct_ops_launch(p->rt, p->pad_input, 2, g, 16, 1);
}

static int flip_fits(const ct_conv_desc *d) {
    return d->stride == 1 && d->pad_t < d->k && d->pad_l < d->k && !identity_cols(d);
}

/* flip: the flipped-weights forward conv where it fits, else the GEMM + col2im gather */
static ct_status bwd_data_im2col(ct_conv_plan *p, int gv, int flip, int n, cl_mem dy, cl_mem w,
                                 cl_mem dx) {
    const ct_conv_desc *d = &p->d;
    int P = d->oh * d->ow, KK = d->cin * d->k * d->k;
    if (flip && flip_fits(d)) return bwd_data_flip(p, gv, n, dy, w, dx);
    int direct_c = identity_cols(d);
    int chunk = chunk_of(p, (size_t)KK * P, n);
    for (int n0 = 0; n0 < n; n0 += chunk) {
        int nb = n - n0 < chunk ? n - n0 : chunk;
        ct_gemm_job j = {.M = KK, .N = P, .K = d->cout, .alpha = 1.0f, .beta = 0.0f,
                         .A = w, .as_i = 1, .as_k = KK,
                         .B = dy, .b_off = n0 * d->cout * P, .bs_k = P, .bs_j = 1,
                         .sb = d->cout * P,
                         .C = direct_c ? dx : p->ws, .c_off = direct_c ? n0 * KK * P : 0,
                         .ldc = P, .sc = KK * P, .nsum = 1, .nbatch = nb};
        CT_TRY(ct_gemm_job_run(p->rt, gv, &j));
        if (direct_c) continue;
        cl_mem ws = p->ws;
        CT_TRY(ct_set_args(p->col2im, 12, sizeof(int), &d->cin, sizeof(int), &d->h, sizeof(int),
                           &d->w, sizeof(int), &d->k, sizeof(int), &d->stride, sizeof(int),
                           &d->pad_t, sizeof(int), &d->pad_l, sizeof(int), &d->oh, sizeof(int),
                           &d->ow, sizeof n0, &n0, sizeof ws, &ws, sizeof dx, &dx));
        size_t g[3] = {(size_t)d->h, (size_t)d->cin, (size_t)nb};
        CT_TRY(ct_ops_launch(p->rt, p->col2im, 3, g, 4, 4));
    }
    return CT_OK;
}

static ct_status bwd_w_im2col(ct_conv_plan *p, int gv, int n, cl_mem x, cl_mem dy, cl_mem dw) {
    const ct_conv_desc *d = &p->d;
    int P = d->oh * d->ow, KK = d->cin * d->k * d->k;
    int dot = ct_gemm_kernel_is_dot(gv);
    int chunk = chunk_of(p, (size_t)KK * P, n);
    /* split K (= items x pixels) into `parts` partial sums so that small outputs still
     * give enough work-items; the partials are added by sum_parts */
    size_t per_slot = (size_t)ct_gemm_kernel_wi(gv, d->cout, KK);
    size_t want = (p->rt->dev.type & CL_DEVICE_TYPE_GPU) ? 8192 : 256;
    int first = chunk;
    int parts = (int)((want + per_slot - 1) / per_slot);
    if (parts > first) parts = first;
    if (parts > p->parts) parts = p->parts;
    if (parts < 1) parts = 1;
    int nsum = (first + parts - 1) / parts;
    parts = (first + nsum - 1) / nsum;
    for (int n0 = 0; n0 < n; n0 += chunk) {
        int nb = n - n0 < chunk ? n - n0 : chunk;
        /* the dot kernel reads the ordinary columns (K x P: both operands contiguous in
         * pixels); the others need them transposed (P x K) */
        CT_TRY(run_im2col(p, dot ? p->im2col : p->im2col_t, n0, nb, x, !dot));
        ct_gemm_job j = {.M = d->cout, .N = KK, .K = P, .alpha = 1.0f,
                         .beta = n0 == 0 ? 0.0f : 1.0f,
                         .A = dy, .a_off = n0 * d->cout * P, .as_i = P, .as_k = 1,
                         .sa = d->cout * P,
                         .B = p->ws, .bs_k = dot ? 1 : KK, .bs_j = dot ? P : 1, .sb = P * KK,
                         .C = parts > 1 ? p->ws : dw, .c_off = parts > 1 ? (int)p->part_off : 0,
                         .ldc = KK, .sc = d->cout * KK, .nsum = nsum, .nbatch = nb};
        CT_TRY(ct_gemm_job_run(p->rt, gv, &j));
    }
    if (parts > 1) {
        int cnt = d->cout * KK, off = (int)p->part_off;
        cl_mem ws = p->ws;
        CT_TRY(ct_set_args(p->sum_parts, 5, sizeof cnt, &cnt, sizeof parts, &parts, sizeof ws,
                           &ws, sizeof off, &off, sizeof dw, &dw));
        size_t g = (size_t)cnt;
        CT_TRY(ct_ops_launch(p->rt, p->sum_parts, 1, &g, 64, 1));
    }
    return CT_OK;
}

/* ---- implicit GEMM (stride 1) ------------------------------------------- */
static const struct {
    const char *name, *opts;
    int rm, bw; /* output channels x columns per work-item */
} icfg[CT_CONV_IMPLICIT_CONFIGS] = {
    {"4x32", "-DIRM=4 -DINV=2 -DIVW=16", 4, 32}, {"6x32", "-DIRM=6 -DINV=2 -DIVW=16", 6, 32},
    {"4x16", "-DIRM=4 -DINV=1 -DIVW=16", 4, 16}, {"4x8", "-DIRM=4 -DINV=1 -DIVW=8", 4, 8},
    {"8x32", "-DIRM=8 -DINV=2 -DIVW=16", 8, 32},
};

/* Geometry of the implicit conv with cin input channels of h x w into oh x ow, padding
 * pt/pl: padded rows hp and row length wp, floats per item. */
static size_t impl_geom(int cfg, int cin, int oh, int ow, int k, int *hp, int *wp) {
    int bw = icfg[cfg].bw, nxb = (ow + bw - 1) / bw;
    *hp = oh + k - 1;
    *wp = (nxb * bw + k - 1 + 15) / 16 * 16;
    return (size_t)cin * *hp * *wp;
}

/* y (cout x oh x ow) = conv(src (cin x h x w), w), stride 1; flip: w holds the layer's
 * weights and this is its backward-data (cin, cout swapped against the layer's).
 * pidx != NULL: out is the 2x2 max pool of that (oh/2 x ow/2), pidx its argmax code. */
static ct_status implicit_run(ct_conv_plan *p, int cfg, int n, int cin, int h, int w, int cout,
                              int oh, int ow, int pt, int pl, cl_mem src, cl_mem wt, int flip,
                              cl_mem bias, int relu, cl_mem out, cl_mem pidx) {
    const ct_conv_desc *d = &p->d;
    int pool = pidx != NULL;
    cl_kernel *kp = pool ? &p->impl_pool[cfg] : &p->impl[cfg];
    if (!*kp) {
        char opts[96];
        snprintf(opts, sizeof opts, "-DCT_PROG=1 %s -DKS=%d%s", icfg[cfg].opts, d->k,
                 pool ? " -DIPOOL=1" : "");
        CT_TRY(ct_kernel_create(p->rt, "conv", "conv_implicit", opts, kp));
    }
    int hp, wp, k = d->k, rm = icfg[cfg].rm;
    size_t per = impl_geom(cfg, cin, oh, ow, k, &hp, &wp);
    /* 'valid' and at least one whole block per row: the kernel reads x in place (with the
     * pool only when the shifted last block starts at an even column) */
    int in_place = pt == 0 && pl == 0 && oh + k - 1 == h && ow + k - 1 == w && ow >= icfg[cfg].bw &&
                   (!pool || ((ow - icfg[cfg].bw) & 1) == 0);
    if (in_place) hp = h, wp = w;
    int chunk = in_place ? n : chunk_of(p, per, n), use_bias = bias != NULL;
    cl_mem ws = p->ws, bb = bias ? bias : wt, pi = pool ? pidx : out;
    int nxb = (ow + icfg[cfg].bw - 1) / icfg[cfg].bw, rb = (cout + rm - 1) / rm;
    int wfo = (int)p->wf_off;
    CT_TRY(ct_set_args(p->pack, 8, sizeof cout, &cout, sizeof cin, &cin, sizeof k, &k,
                       sizeof rm, &rm, sizeof flip, &flip, sizeof wt, &wt, sizeof ws, &ws,
                       sizeof wfo, &wfo));
    size_t gp = (size_t)rb * rm * cin * k * k;
    CT_TRY(ct_ops_launch(p->rt, p->pack, 1, &gp, 64, 1));
    size_t lws = 1;
    while (lws < (size_t)rb && lws < 16) lws *= 2;
    for (int n0 = 0; n0 < n; n0 += chunk) {
        int nb = n - n0 < chunk ? n - n0 : chunk, xn0 = in_place ? n0 : 0;
        cl_mem xs = in_place ? src : ws;
        if (!in_place) {
            CT_TRY(pad_run(p, cin, h, w, pt, pl, hp, wp, n0, nb, src, 0));
        }
        cl_kernel kk = *kp;
        CT_TRY(ct_set_args(kk, 17, sizeof cin, &cin, sizeof hp, &hp, sizeof wp, &wp, sizeof cout,
                           &cout, sizeof oh, &oh, sizeof ow, &ow, sizeof n0, &n0,
                           sizeof xs, &xs, sizeof in_place, &in_place, sizeof xn0, &xn0,
                           sizeof ws, &ws, sizeof wfo, &wfo, sizeof bb,
                           &bb, sizeof use_bias, &use_bias, sizeof relu, &relu, sizeof out, &out,
                           sizeof pi, &pi));
        /* the kernel reads the input (copy) by xn0 + item and writes y at n0 + item */
        size_t g[3] = {(size_t)rb, (size_t)(pool ? oh / 2 : oh) * nxb, (size_t)nb};
        CT_TRY(ct_ops_launch(p->rt, kk, 3, g, lws, 1));
    }
    return CT_OK;
}

static ct_status fwd_implicit(ct_conv_plan *p, int cfg, int n, cl_mem x, cl_mem w, cl_mem b,
                              cl_mem y) {
    const ct_conv_desc *d = &p->d;
    return implicit_run(p, cfg, n, d->cin, d->h, d->w, d->cout, d->oh, d->ow, d->pad_t, d->pad_l,
                        x, w, 0, b, d->act == CT_ACT_RELU, p->pool_y ? p->pool_y : y,
                        p->pool_y ? p->pool_idx : NULL);
}

static ct_status bwd_data_implicit(ct_conv_plan *p, int cfg, int n, cl_mem dy, cl_mem w, cl_mem dx) {
    const ct_conv_desc *d = &p->d;
    return implicit_run(p, cfg, n, d->cout, d->oh, d->ow, d->cin, d->h, d->w,
                        d->k - 1 - d->pad_t, d->k - 1 - d->pad_l, dy, w, 1, NULL, 0, dx, NULL);
}

/* backward-weights configs: output channels per work-item x vector width */
static const struct {
    const char *name;
    int co, vw;
} iwcfg[CT_CONV_IMPLW_CONFIGS] = {{"4x16", 4, 16}, {"4x8", 4, 8}, {"2x16", 2, 16}, {"6x8", 6, 8}};

/* dW by dot products along output rows of dy and the padded input (stride 1) */
static size_t implw_geom(const ct_conv_desc *d, int *hp, int *wp) {
    *hp = d->oh + d->k - 1;
    *wp = d->ow + d->k - 1;
    return (size_t)d->cin * *hp * *wp;
}

/* also the bias gradient db: one more row of work-items sums dy while it is in cache */
static ct_status bwd_w_implicit(ct_conv_plan *p, int cfg, int n, cl_mem x, cl_mem dy, cl_mem dw,
                                cl_mem db) {
    const ct_conv_desc *d = &p->d;
    if (!p->implw[cfg]) {
        char opts[64];
        snprintf(opts, sizeof opts, "-DCT_PROG=2 -DKS=%d -DDVW=%d -DDCO=%d", d->k, iwcfg[cfg].vw,
                 iwcfg[cfg].co);
        CT_TRY(ct_kernel_create(p->rt, "conv", "conv_bwd_w_implicit", opts, &p->implw[cfg]));
    }
    int hp, wp, cin = d->cin, h = d->h, w = d->w, pt = d->pad_t, pl = d->pad_l;
    size_t per = implw_geom(d, &hp, &wp);
    /* 'valid' padding: the padded copy would be x itself, so x is read in place */
    int direct = pt == 0 && pl == 0 && hp == h && wp == w;
    int chunk = chunk_of(p, per, n);
    int dco = iwcfg[cfg].co;
    size_t rows = (size_t)((d->cout + dco - 1) / dco) * d->cin * d->k;
    size_t want = (p->rt->dev.type & CL_DEVICE_TYPE_GPU) ? 8192 : 256;
    int parts = (int)((want + rows - 1) / rows);
    /* the work-items of a group share their dy planes: keep one item group's planes
     * (nsum x DCO planes) within about 512 KiB of L2 */
    size_t planes = (size_t)dco * d->oh * d->ow * sizeof(float);
    int cap = (int)(((size_t)512 << 10) / (planes ? planes : 1));
    if (cap < 1) cap = 1;
    if ((chunk + cap - 1) / cap > parts) parts = (chunk + cap - 1) / cap;
    int nch = (n + chunk - 1) / chunk;
    /* each chunk writes its own partial slots: parts per chunk, all summed at the end */
    if (parts > chunk) parts = chunk;
    if (parts < 1) parts = 1;
    while (parts > 1 && parts * nch > p->parts) parts--;
    if (nch > p->parts)
        return ct_set_error(CT_ERR_INTERNAL, "conv backward-weights: too many chunks");
    int nsum = (chunk + parts - 1) / parts, slots = 0;
    cl_mem ws = p->ws;
    for (int n0 = 0; n0 < n; n0 += chunk) {
        int nb = n - n0 < chunk ? n - n0 : chunk, xn0 = direct ? n0 : 0;
        cl_mem xs = direct ? x : ws;
        if (!direct) {
            CT_TRY(pad_run(p, cin, h, w, pt, pl, hp, wp, n0, nb, x, 0));
        }
        int z = (nb + nsum - 1) / nsum;
        int off = (int)p->part_off + slots * d->cout * d->cin * d->k * d->k;
        int boff = (int)p->bp_off + slots * d->cout;
        cl_kernel kk = p->implw[cfg];
        CT_TRY(ct_set_args(kk, 15, sizeof cin, &cin, sizeof hp, &hp, sizeof wp, &wp,
                           sizeof(int), &d->cout, sizeof(int), &d->oh, sizeof(int), &d->ow,
                           sizeof n0, &n0, sizeof nsum, &nsum, sizeof nb, &nb, sizeof xs, &xs,
                           sizeof xn0, &xn0, sizeof dy, &dy, sizeof ws, &ws, sizeof off, &off,
                           sizeof boff, &boff));
        size_t g[3] = {(size_t)(d->cout + dco - 1) / dco, (size_t)d->cin * d->k + 1, (size_t)z};
        CT_TRY(ct_ops_launch(p->rt, kk, 3, g, 1, 16));
        slots += z;
    }
    int cnt = d->cout * d->cin * d->k * d->k, off = (int)p->part_off;
    CT_TRY(ct_set_args(p->sum_parts, 5, sizeof cnt, &cnt, sizeof slots, &slots, sizeof ws, &ws,
                       sizeof off, &off, sizeof dw, &dw));
    size_t g = (size_t)cnt;
    CT_TRY(ct_ops_launch(p->rt, p->sum_parts, 1, &g, 64, 1));
    int bcnt = d->cout, boff = (int)p->bp_off;
    CT_TRY(ct_set_args(p->sum_parts, 5, sizeof bcnt, &bcnt, sizeof slots, &slots, sizeof ws, &ws,
                       sizeof boff, &boff, sizeof db, &db));
    size_t gb = (size_t)bcnt;
    return ct_ops_launch(p->rt, p->sum_parts, 1, &gb, 64, 1);
}

/* whether the implicit config fits this pass (stride 1) and the workspace */
static int implicit_fits(const ct_conv_plan *p, int pass, int cfg) {
    const ct_conv_desc *d = &p->d;
    int hp, wp;
    if (cfg < 0 || cfg >= CT_CONV_IMPLICIT_CONFIGS || d->stride != 1) return 0;
    if (pass == CT_CONV_FWD)
        return impl_geom(cfg, d->cin, d->oh, d->ow, d->k, &hp, &wp) <= p->col_floats;
    if (pass == CT_CONV_BWD_DATA)
        return d->pad_t < d->k && d->pad_l < d->k &&
               impl_geom(cfg, d->cout, d->h, d->w, d->k, &hp, &wp) <= p->col_floats;
    /* backward-weights: configs 0 and 1 (16- and 8-wide), kernel sizes up to 7 */
    return cfg < CT_CONV_IMPLW_CONFIGS && d->k <= 7 && implw_geom(d, &hp, &wp) <= p->col_floats &&
           (d->n + chunk_of(p, implw_geom(d, &hp, &wp), d->n) - 1) /
                   chunk_of(p, implw_geom(d, &hp, &wp), d->n) <= p->parts;
}

/* ---- Winograd F(2x2, 3x3) (stride 1; cl/conv.cl) ------------------------------ */
/* Column area: U (16 x cout x cin) first, then per item V (16 x cin x T) and M
 * (16 x cout x T), T = tiles per item. */
static size_t wino_tiles(int oh, int ow) {
    return (size_t)((oh + 1) / 2) * (size_t)((ow + 1) / 2);
}
static size_t wino_fixed(int cin, int cout) {
    return (size_t)16 * cin * cout;
}
static size_t wino_per(int cin, int cout, int oh, int ow) {
    return (size_t)16 * (cin + cout) * wino_tiles(oh, ow);
}

/* y (cout x oh x ow) = conv3x3(src (cin x h x w), w), stride 1, padding pt/pl; flip: w
 * holds the layer's weights and this is its backward-data */
static ct_status winograd_run(ct_conv_plan *p, int gv, int n, int cin, int h, int w, int cout,
                              int oh, int ow, int pt, int pl, cl_mem src, cl_mem wt, int flip,
                              cl_mem bias, int relu, cl_mem out) {
    int th = (oh + 1) / 2, tw = (ow + 1) / 2, T = (int)wino_tiles(oh, ow);
    size_t fixed = wino_fixed(cin, cout), per = wino_per(cin, cout, oh, ow);
    size_t avail = p->col_floats > fixed ? (p->col_floats - fixed) / per : 0;
    int chunk = avail < 1 ? 1 : avail > (size_t)n ? n : (int)avail;
    cl_mem ws = p->ws;
    int uo = 0, use_bias = bias != NULL, se = cout * cin, sco = cin, sci = 1;
    cl_mem bb = bias ? bias : wt;
    CT_TRY(ct_set_args(p->wino_w, 10, sizeof cout, &cout, sizeof cout, &cout, sizeof cin, &cin,
                       sizeof flip, &flip, sizeof wt, &wt, sizeof ws, &ws, sizeof uo, &uo,
                       sizeof se, &se, sizeof sco, &sco, sizeof sci, &sci));
    size_t gw[2] = {(size_t)cout, (size_t)cin};
    CT_TRY(ct_ops_launch(p->rt, p->wino_w, 2, gw, 16, 4));
    for (int n0 = 0; n0 < n; n0 += chunk) {
        int nb = n - n0 < chunk ? n - n0 : chunk, ncols = nb * T;
        int vo = (int)fixed, mo = (int)(fixed + (size_t)16 * cin * ncols);
        CT_TRY(ct_set_args(p->wino_in, 12, sizeof cin, &cin, sizeof h, &h, sizeof w, &w,
                           sizeof pt, &pt, sizeof pl, &pl, sizeof th, &th, sizeof tw, &tw,
                           sizeof n0, &n0, sizeof ncols, &ncols, sizeof src, &src, sizeof ws, &ws,
                           sizeof vo, &vo));
        size_t gi[3] = {(size_t)tw, (size_t)th, (size_t)nb};
        CT_TRY(ct_ops_launch(p->rt, p->wino_in, 3, gi, 16, 4));
        ct_gemm_job j = {.M = cout, .N = ncols, .K = cin, .alpha = 1.0f, .beta = 0.0f,
                         .A = ws, .a_off = uo, .as_i = cin, .as_k = 1, .sa = cout * cin,
                         .B = ws, .b_off = vo, .bs_k = ncols, .bs_j = 1, .sb = cin * ncols,
                         .C = ws, .c_off = mo, .ldc = ncols, .sc = cout * ncols,
                         .nsum = 1, .nbatch = 16, .bias = NULL, .relu = 0};
        CT_TRY(ct_gemm_job_run(p->rt, gv, &j));
        CT_TRY(ct_set_args(p->wino_out, 13, sizeof cout, &cout, sizeof oh, &oh, sizeof ow, &ow,
                           sizeof th, &th, sizeof tw, &tw, sizeof n0, &n0, sizeof ncols, &ncols,
                           sizeof ws, &ws, sizeof mo, &mo, sizeof bb, &bb, sizeof use_bias,
                           &use_bias, sizeof relu, &relu, sizeof out, &out));
        size_t go[3] = {(size_t)tw, (size_t)th, (size_t)nb};
        CT_TRY(ct_ops_launch(p->rt, p->wino_out, 3, go, 16, 4));
    }
    return CT_OK;
}

static int winograd_fits(const ct_conv_plan *p, int pass, int gv) {
    const ct_conv_desc *d = &p->d;
    if (d->k != 3 || d->stride != 1 || !ct_gemm_kernel_usable(p->rt, gv)) return 0;
    if (pass == CT_CONV_FWD)
        return wino_fixed(d->cin, d->cout) + wino_per(d->cin, d->cout, d->oh, d->ow) <=
               p->col_floats;
    return pass == CT_CONV_BWD_DATA && d->pad_t < 3 && d->pad_l < 3 &&
           wino_fixed(d->cout, d->cin) + wino_per(d->cout, d->cin, d->h, d->w) <= p->col_floats;
}

/* ---- fused Winograd F(2x2, 3x3) and F(4x4, 3x3) (stride 1; cl/conv.cl) ---------- */
/* output channels per register block, tiles per vector, output tile side: F(2x2,3x3)
 * or F(4x4,3x3) (conv_wino_fused built with -DWT=2 or 4; F(4x4): forward and
 * backward-data only) */
static const struct {
    int wr, vw, t;
} wfcfg[CT_CONV_WFUSED_CONFIGS] = {{8, 16, 2}, {4, 16, 2}, {8, 8, 2}, {4, 8, 2},
                                   {8, 16, 4}, {4, 16, 4}, {8, 8, 4}, {4, 8, 4}};
#define WF_E(cfg) (wfcfg[cfg].t == 4 ? 36 : 16) /* transform-domain points */
#define WF_CB 32 /* at most this many output channels' products are kept at once */

/* output channels rounded up to the block, and the floats of U (the kernels read the
 * unpadded input, cl/conv.cl wf_load) */
static void wfused_geom(int cfg, int cin, int cout, int *coutp, size_t *fixed) {
    *coutp = (cout + wfcfg[cfg].wr - 1) / wfcfg[cfg].wr * wfcfg[cfg].wr;
    *fixed = (size_t)WF_E(cfg) * cin * *coutp;
}

/* local memory of one work-item: V (E x cin) and M (E x cb) vectors, E = 16 or 36 */
static size_t wfused_local(int cfg, int cin, int cb) {
    return (size_t)WF_E(cfg) * (cin + cb) * wfcfg[cfg].vw * sizeof(float);
}

/* column floats any F(4x4) fused Winograd config needs (f4-8x16: U with the output
 * channels rounded up to 8), forward and backward-data; 0 when the conv is not 3x3
 * stride 1 */
static size_t wfused_need(const ct_conv_desc *d) {
    if (d->k != 3 || d->stride != 1) return 0;
    int coutp;
    size_t f1, f2;
    wfused_geom(4, d->cin, d->cout, &coutp, &f1);
    wfused_geom(4, d->cout, d->cin, &coutp, &f2);
    return f1 > f2 ? f1 : f2;
}

/* output channels kept at once: WF_CB, or fewer (a multiple of the block) where local
 * memory is small; 0 where not even one block fits */
static int wfused_cb(const ct_conv_plan *p, int cfg, int cin, int coutp) {
    int wr = wfcfg[cfg].wr, cb = coutp < WF_CB ? coutp : WF_CB;
    cb = cb / wr * wr;
    while (cb >= wr && wfused_local(cfg, cin, cb) > p->rt->local_mem) cb -= wr;
    return cb >= wr ? cb : 0;
}

/* pidx != NULL: out is the 2x2 max pool of the conv output, pidx its argmax code */
static ct_status wfused_run(ct_conv_plan *p, int cfg, int n, int cin, int h, int w, int cout,
                            int oh, int ow, int pt, int pl, cl_mem src, cl_mem wt, int flip,
                            cl_mem bias, int relu, cl_mem out, cl_mem pidx) {
    int t4 = wfcfg[cfg].t == 4, ne = WF_E(cfg);
    if (!p->wfused[cfg]) {
        char opts[64];
        snprintf(opts, sizeof opts, "-DCT_PROG=3 -DWVW=%d -DWR=%d -DWT=%d", wfcfg[cfg].vw,
                 wfcfg[cfg].wr, wfcfg[cfg].t);
        CT_TRY(ct_kernel_create(p->rt, "conv", "conv_wino_fused", opts, &p->wfused[cfg]));
    }
    int coutp;
    size_t fixed;
    wfused_geom(cfg, cin, cout, &coutp, &fixed);
    int uo = 0, se = cin * coutp, sco = 1, sci = coutp;
    int use_bias = bias != NULL;
    cl_mem ws = p->ws, bb = bias ? bias : wt;
    cl_kernel wk = t4 ? p->wino_w6 : p->wino_w;
    CT_TRY(ct_set_args(wk, 10, sizeof cout, &cout, sizeof coutp, &coutp, sizeof cin, &cin,
                       sizeof flip, &flip, sizeof wt, &wt, sizeof ws, &ws, sizeof uo, &uo,
                       sizeof se, &se, sizeof sco, &sco, sizeof sci, &sci));
    size_t gw[2] = {(size_t)coutp, (size_t)cin};
    CT_TRY(ct_ops_launch(p->rt, wk, 2, gw, 16, 4));
    int ts = wfcfg[cfg].t, th = (oh + ts - 1) / ts, tw = (ow + ts - 1) / ts;
    int nbx = (tw + wfcfg[cfg].vw - 1) / wfcfg[cfg].vw;
    int cb = wfused_cb(p, cfg, cin, coutp);
    size_t loc = wfused_local(cfg, cin, cb), lv = (size_t)ne * cin * wfcfg[cfg].vw * sizeof(float);
    cl_kernel kk = p->wfused[cfg];
    int pool = pidx != NULL;
    cl_mem pi = pool ? pidx : out; /* not touched without pool */
    cl_long xlen = (cl_long)n * cin * h * w;
    CT_TRY(ct_set_args(kk, 22, sizeof cin, &cin, sizeof h, &h, sizeof w, &w, sizeof pt, &pt,
                       sizeof pl, &pl, sizeof xlen, &xlen, sizeof cout, &cout, sizeof coutp,
                       &coutp, sizeof cb, &cb, sizeof oh, &oh, sizeof ow, &ow, sizeof src, &src,
                       sizeof ws, &ws, sizeof uo, &uo, sizeof bb, &bb, sizeof use_bias,
                       &use_bias, sizeof relu, &relu, sizeof out, &out, sizeof pool, &pool,
                       sizeof pi, &pi, lv, NULL, loc - lv, NULL));
    /* one work-item per group: the local area is exactly one work-item's */
    size_t g[3] = {(size_t)nbx, (size_t)th, (size_t)n}, l[3] = {1, 1, 1};
    return ct_launch(p->rt, kk, 3, g, l);
}

/* Backward-weights (conv_wino_bwd_w): tile vectors per local batch (nbk); slots */
#define WBW_SLOTS 16
/* X in 4x4 blocks of (co, ci) */
static size_t wbw_lx(const ct_conv_desc *d) {
    return (size_t)4 * ((d->cout + 3) / 4) * ((d->cin + 3) / 4) * 16 * sizeof(float);
}
static size_t wbw_local(int cfg, const ct_conv_desc *d, int nbk) {
    return (size_t)4 * (d->cin + d->cout) * nbk * wfcfg[cfg].vw * sizeof(float) + wbw_lx(d);
}
static int wbw_nbk(const ct_conv_plan *p, int cfg) {
    int nbk = 32;
    while (nbk >= 1 && wbw_local(cfg, &p->d, nbk) > p->rt->local_mem) nbk /= 2;
    return nbk;
}

static ct_status wbw_run(ct_conv_plan *p, int cfg, int n, cl_mem x, cl_mem dy, cl_mem dw,
                         cl_mem db) {
    const ct_conv_desc *d = &p->d;
    if (!p->wbw[cfg]) {
        char opts[48];
        snprintf(opts, sizeof opts, "-DCT_PROG=4 -DWVW=%d", wfcfg[cfg].vw);
        CT_TRY(ct_kernel_create(p->rt, "conv", "conv_wino_bwd_w", opts, &p->wbw[cfg]));
    }
    int cin = d->cin, cout = d->cout, oh = d->oh, ow = d->ow, h = d->h, w = d->w;
    int pt = d->pad_t, pl = d->pad_l, th = (oh + 1) / 2, vw = wfcfg[cfg].vw;
    int nbx = ((ow + 1) / 2 + vw - 1) / vw;
    int nbk = wbw_nbk(p, cfg), blocks = n * th * nbx;
    int zn = (blocks + nbk - 1) / nbk;
    if (zn > WBW_SLOTS) zn = WBW_SLOTS; /* 16: 2, 4 and 8 measured slower on 2 cores */
    int part_off = (int)p->part_off;
    cl_long xlen = (cl_long)n * cin * h * w, dylen = (cl_long)n * cout * oh * ow;
    cl_mem ws = p->ws;
    cl_kernel kk = p->wbw[cfg];
    size_t lv = (size_t)4 * cin * nbk * vw * sizeof(float), ly = (size_t)4 * cout * nbk * vw * sizeof(float);
    size_t lx = wbw_lx(d);
    CT_TRY(ct_set_args(kk, 22, sizeof cin, &cin, sizeof h, &h, sizeof w, &w, sizeof pt, &pt,
                       sizeof pl, &pl, sizeof xlen, &xlen, sizeof cout, &cout, sizeof oh, &oh,
                       sizeof ow, &ow, sizeof dylen, &dylen, sizeof th, &th, sizeof nbx, &nbx,
                       sizeof n, &n, sizeof zn, &zn, sizeof nbk, &nbk, sizeof x, &x, sizeof dy,
                       &dy, sizeof ws, &ws, sizeof part_off, &part_off, lv, NULL, ly, NULL, lx,
                       NULL));
    /* one work-item per group: the local areas are exactly one work-item's */
    size_t g[3] = {4, (size_t)zn, 1}, l[3] = {1, 1, 1};
    CT_TRY(ct_launch(p->rt, kk, 3, g, l));
    /* the slots summed first by sum_parts (in slot order, as wino_bwd_w_out would: the same
     * floats) into the column area, unused here: a flat sum over 16 x cout x cin floats is
     * a plain vector loop, faster than wino_bwd_w_out walking the slots itself */
    int cnt = 16 * cout * cin, sum_off = 0;
    CT_TRY(ct_set_args(p->sum_parts, 5, sizeof cnt, &cnt, sizeof zn, &zn, sizeof ws, &ws,
                       sizeof part_off, &part_off, sizeof ws, &ws));
    size_t gs = (size_t)cnt;
    CT_TRY(ct_ops_launch(p->rt, p->sum_parts, 1, &gs, 64, 1));
    CT_TRY(ct_set_args(p->wino_bw_out, 5, sizeof cout, &cout, sizeof cin, &cin, sizeof ws, &ws,
                       sizeof sum_off, &sum_off, sizeof dw, &dw));
    size_t go[2] = {(size_t)cin, (size_t)cout};
    CT_TRY(ct_ops_launch(p->rt, p->wino_bw_out, 2, go, 16, 4));
    return bias_grad(p, n, dy, db);
}

static int wfused_fits(const ct_conv_plan *p, int pass, int cfg) {
    const ct_conv_desc *d = &p->d;
    if (cfg < 0 || cfg >= CT_CONV_WFUSED_CONFIGS || d->k != 3 || d->stride != 1) return 0;
    int coutp, cin = d->cin, cout = d->cout;
    if (pass == CT_CONV_BWD_DATA) {
        if (d->pad_t >= 3 || d->pad_l >= 3) return 0;
        cin = d->cout, cout = d->cin;
    } else if (pass == CT_CONV_BWD_WEIGHTS) {
        /* the slots: WBW_SLOTS x 16 x cout x cin floats in the partial-sum area */
        return wfcfg[cfg].wr == 4 && wfcfg[cfg].t == 2 && wbw_nbk(p, cfg) >= 1 &&
               (size_t)WBW_SLOTS * 16 <= (size_t)p->parts * 9 &&
               (size_t)16 * d->cout * d->cin <= p->col_floats; /* the slots' sum */
    } else if (pass != CT_CONV_FWD) {
        return 0;
    }
    size_t fixed;
    wfused_geom(cfg, cin, cout, &coutp, &fixed);
    return wfused_cb(p, cfg, cin, coutp) > 0 && fixed <= p->col_floats &&
           fixed <= (size_t)INT_MAX;
}

/* ---- fitting, defaults, candidates --------------------------------------- */
int ct_conv_plan_fits(const ct_conv_plan *p, int pass, ct_variant v) {
    if (pass < 0 || pass > 2 || !ct_variant_valid(CT_OP_OF_PASS(pass), v)) return 0;
    if (v.alg == CT_ALG_DIRECT) return 1;
    if (!p->ws) return 0;
    switch (v.alg) {
    case CT_ALG_IM2COL:
    case CT_ALG_COL2IM:
        return ct_gemm_kernel_usable(p->rt, v.sub);
    case CT_ALG_FLIP_IM2COL:
        return flip_fits(&p->d) && ct_gemm_kernel_usable(p->rt, v.sub);
    case CT_ALG_WINOGRAD:
    case CT_ALG_FLIP_WINOGRAD:
        return winograd_fits(p, pass, v.sub);
    case CT_ALG_WINOGRAD_FUSED:
    case CT_ALG_FLIP_WINOGRAD_FUSED:
        return wfused_fits(p, pass, v.sub);
    default: /* the implicit kinds */
        return implicit_fits(p, pass, v.sub);
    }
}

/* Documented in docs/OPS.md. CPUs: the implicit kernels where they fit (stride 1), else
 * im2col with the float-vector GEMM kernels; GPUs: im2col (flipped at stride 1 for
 * backward-data) with the tiled (or simple) kernel. Direct without a workspace. */
ct_variant ct_conv_plan_default(const ct_conv_plan *p, int pass) {
    const ct_conv_desc *d = &p->d;
    int gpu = (p->rt->dev.type & CL_DEVICE_TYPE_GPU) != 0, gk = ct_gemm_kernel_default(p->rt);
    ct_variant c[4];
    int n = 0;
    /* CPUs, 3x3 stride 1: the fused Winograd (4x16: the tuning stage's most frequent choice
     * on Model 2's convs on the 2-core PoCL machine, docs/RESULTS.md) */
    if (pass == CT_CONV_FWD) {
        if (!gpu) c[n++] = (ct_variant){CT_ALG_WINOGRAD_FUSED, 1};
        if (!gpu) c[n++] = (ct_variant){CT_ALG_IMPLICIT, d->cin > 4 && d->cout >= 8 ? 4 : 0};
        c[n++] = (ct_variant){CT_ALG_IM2COL, gk};
    } else if (pass == CT_CONV_BWD_DATA) {
        if (!gpu) c[n++] = (ct_variant){CT_ALG_FLIP_WINOGRAD_FUSED, 1};
        if (!gpu) c[n++] = (ct_variant){CT_ALG_FLIP_IMPLICIT, 2};
        c[n++] = (ct_variant){CT_ALG_FLIP_IM2COL, gk};
        c[n++] = (ct_variant){CT_ALG_COL2IM, gk};
    } else {
        if (!gpu) c[n++] = (ct_variant){CT_ALG_IMPLICIT_DOT, 0};
        c[n++] = (ct_variant){CT_ALG_IM2COL, gpu ? gk : CT_GK_NT4x16};
    }
    for (int i = 0; i < n; i++)
        if (ct_conv_plan_fits(p, pass, c[i])) return c[i];
    return (ct_variant){CT_ALG_DIRECT, 0};
}

int ct_conv_plan_candidates(const ct_conv_plan *p, int pass, ct_variant *out, int max) {
    ct_variant all[CT_ALG_COUNT * CT_VARIANT_SUBS];
    int n = ct_variant_all(CT_OP_OF_PASS(pass), all, (int)(sizeof all / sizeof all[0])), c = 0;
    int gpu = (p->rt->dev.type & CL_DEVICE_TYPE_GPU) != 0;
    for (int i = 0; i < n && c < max; i++) {
        ct_variant v = all[i];
        /* the float-vector conv kernels (configs, not GEMM kernels) */
        int implicit = v.alg == CT_ALG_IMPLICIT || v.alg == CT_ALG_FLIP_IMPLICIT ||
                       v.alg == CT_ALG_IMPLICIT_DOT || v.alg == CT_ALG_WINOGRAD_FUSED ||
                       v.alg == CT_ALG_FLIP_WINOGRAD_FUSED;
        if (v.alg != CT_ALG_DIRECT && !implicit) {
            /* On CPUs the scalar kernels (simple, tiled) measured 5-10x slower than the
             * vector ones, and on GPUs the float16 blocks spill: skip what cannot win. */
            int vec = v.sub != CT_GK_SIMPLE && v.sub != CT_GK_TILED;
            if (gpu ? (vec && v.sub != CT_GK_BLK4x8) : !vec) continue;
        }
        if (implicit && gpu) continue; /* float-vector kernels */
        /* Winograd with separate transform and GEMM kernels measured 2-3x slower than the
         * implicit kernels on the 2-core PoCL machine (docs/RESULTS.md): not timed there */
        if ((v.alg == CT_ALG_WINOGRAD || v.alg == CT_ALG_FLIP_WINOGRAD) && !gpu) continue;
        if (ct_conv_plan_fits(p, pass, v)) out[c++] = v;
    }
    return c;
}

/* Items the tuning stage times a conv with: 8 (or the batch). It was one im2col chunk's
 * worth (2 items for a 55x55 layer), which misjudged kernels with a fixed cost per call,
 * such as the fused Winograd backward-weights' sum over its slots. */
int ct_conv_plan_tune_batch(const ct_conv_plan *p) {
    return p->d.n < 8 ? p->d.n : 8;
}

const ct_conv_desc *ct_conv_plan_desc(const ct_conv_plan *p) {
    return &p->d;
}

int ct_conv_plan_has_workspace(const ct_conv_plan *p) {
    return p->ws != NULL;
}

/* ---- running ------------------------------------------------------------- */
/* The pool after a variant that cannot run it in its kernel: pools y (the conv output of n
 * items) into p->pool_y / p->pool_idx with the pool layer's own kernel. */
static ct_status pool_after(ct_conv_plan *p, int n, cl_mem y) {
    const ct_conv_desc *d = &p->d;
    if (!p->pool2) CT_TRY(ct_kernel_create(p->rt, "pool", "ct_pool2_fwd_rows", NULL, &p->pool2));
    int nc = n * d->cout, h = d->oh, w = d->ow, poh = d->oh / 2, pw = d->ow / 2, want = 1;
    cl_mem py = p->pool_y, pi = p->pool_idx;
    CT_TRY(ct_set_args(p->pool2, 9, sizeof nc, &nc, sizeof h, &h, sizeof w, &w, sizeof poh, &poh,
                       sizeof pw, &pw, sizeof y, &y, sizeof py, &py, sizeof want, &want,
                       sizeof pi, &pi));
    size_t rows = (size_t)nc * poh * ((pw + 7) / 8);
    return ct_launch(p->rt, p->pool2, 1, &rows, NULL);
}

static ct_status run_variant_(ct_conv_plan *p, int pass, ct_variant v, int n, cl_mem a, cl_mem b,
                              cl_mem bias, cl_mem out, cl_mem out2);

static ct_status run_variant(ct_conv_plan *p, int pass, ct_variant v, int n, cl_mem a, cl_mem b,
                             cl_mem bias, cl_mem out, cl_mem out2) {
    CT_TRY(run_variant_(p, pass, v, n, a, b, bias, out, out2));
    if (pass == CT_CONV_FWD && p->pool_y && v.alg != CT_ALG_WINOGRAD_FUSED &&
        v.alg != CT_ALG_IMPLICIT) /* the others cannot pool in their kernel */
        return pool_after(p, n, out);
    return CT_OK;
}

static ct_status run_variant_(ct_conv_plan *p, int pass, ct_variant v, int n, cl_mem a, cl_mem b,
                              cl_mem bias, cl_mem out, cl_mem out2) {
    int gv = v.sub;
    switch (v.alg) {
    case CT_ALG_DIRECT:
        if (pass == CT_CONV_FWD) return fwd_direct(p, n, a, b, bias, out);
        if (pass == CT_CONV_BWD_DATA) return bwd_data_direct(p, n, a, b, out);
        CT_TRY(bwd_w_direct(p, n, a, b, out));
        return bias_grad(p, n, b, out2);
    case CT_ALG_IM2COL:
        if (pass == CT_CONV_FWD) return fwd_im2col(p, gv, n, a, b, bias, out);
        CT_TRY(bwd_w_im2col(p, gv, n, a, b, out));
        return bias_grad(p, n, b, out2);
    case CT_ALG_FLIP_IM2COL:
    case CT_ALG_COL2IM:
        return bwd_data_im2col(p, gv, v.alg == CT_ALG_FLIP_IM2COL, n, a, b, out);
    case CT_ALG_IMPLICIT:
        return fwd_implicit(p, gv, n, a, b, bias, out);
    case CT_ALG_FLIP_IMPLICIT:
        return bwd_data_implicit(p, gv, n, a, b, out);
    case CT_ALG_IMPLICIT_DOT:
        return bwd_w_implicit(p, gv, n, a, b, out, out2);
    case CT_ALG_WINOGRAD: {
        const ct_conv_desc *d = &p->d;
        return winograd_run(p, gv, n, d->cin, d->h, d->w, d->cout, d->oh, d->ow, d->pad_t,
                            d->pad_l, a, b, 0, bias, d->act == CT_ACT_RELU, out);
    }
    case CT_ALG_FLIP_WINOGRAD: { /* dx = conv(dy, flipped w), padding k-1-pad */
        const ct_conv_desc *d = &p->d;
        return winograd_run(p, gv, n, d->cout, d->oh, d->ow, d->cin, d->h, d->w, 2 - d->pad_t,
                            2 - d->pad_l, a, b, 1, NULL, 0, out);
    }
    case CT_ALG_WINOGRAD_FUSED: {
        const ct_conv_desc *d = &p->d;
        if (pass == CT_CONV_BWD_WEIGHTS) return wbw_run(p, gv, n, a, b, out, out2);
        if (p->pool_y) /* the pool in the conv kernel */
            return wfused_run(p, gv, n, d->cin, d->h, d->w, d->cout, d->oh, d->ow, d->pad_t,
                              d->pad_l, a, b, 0, bias, d->act == CT_ACT_RELU, p->pool_y,
                              p->pool_idx);
        return wfused_run(p, gv, n, d->cin, d->h, d->w, d->cout, d->oh, d->ow, d->pad_t,
                          d->pad_l, a, b, 0, bias, d->act == CT_ACT_RELU, out, NULL);
    }
    case CT_ALG_FLIP_WINOGRAD_FUSED: {
        const ct_conv_desc *d = &p->d;
        return wfused_run(p, gv, n, d->cout, d->oh, d->ow, d->cin, d->h, d->w, 2 - d->pad_t,
                          2 - d->pad_l, a, b, 1, NULL, 0, out, NULL);
    }
    default:
        return ct_set_error(CT_ERR_INTERNAL, "conv: no such variant");
    }
}

ct_status ct_conv_plan_force(ct_conv_plan *p, int pass, const ct_variant *v) {
    if (pass < 0 || pass > 2) return ct_set_error(CT_ERR_ARG, "conv: no pass %d", pass);
    if (v && !ct_conv_plan_fits(p, pass, *v)) {
        char nm[64], key[160];
        ct_conv_key(&p->d, pass, key, sizeof key);
        return ct_set_error(CT_ERR_ARG, "conv variant %s does not fit %s on this device",
                            ct_variant_name(CT_OP_OF_PASS(pass), *v, nm, sizeof nm), key);
    }
    p->force_on[pass] = v != NULL;
    if (v) p->force[pass] = *v;
    return CT_OK;
}

/* CLTRAIN_CONV=<name>[,<name>...]: the first name that is a variant of this pass's kind.
 * 0: none for this pass; -1: a name that is no variant of any pass (error set). */
static int env_variant(int pass, ct_variant *out) {
    const char *e = getenv("CLTRAIN_CONV");
    if (!e || !*e) return 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", e);
    int found = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        ct_variant v;
        int any = 0;
        for (int k = CT_OP_CONV_FWD; k < CT_OP_COUNT; k++)
            if (ct_variant_parse_quiet((ct_op_kind)k, t, &v)) {
                any = 1;
                if (k == (int)CT_OP_OF_PASS(pass) && !found) {
                    *out = v;
                    found = 1;
                }
            }
        if (!any) {
            ct_set_error(CT_ERR_ARG, "CLTRAIN_CONV: \"%s\" is not a conv variant (docs/OPS.md)", t);
            return -1;
        }
    }
    return found;
}

static ct_status dispatch(ct_conv_plan *p, int pass, int n, cl_mem a, cl_mem b, cl_mem bias,
                          cl_mem out, cl_mem out2) {
    ct_variant v;
    int forced = 1;
    if (p->force_on[pass]) {
        v = p->force[pass];
    } else if (!ct_conv_forced_(p->rt, pass, &v)) {
        int ev = env_variant(pass, &v);
        if (ev < 0) return CT_ERR_ARG;
        if (!ev) {
            forced = 0;
            char key[160];
            ct_conv_key(&p->d, pass, key, sizeof key);
            ct_table_entry *e = ct_table_find_run(p->rt, key);
            if (e && e->op == CT_OP_OF_PASS(pass) && ct_conv_plan_fits(p, pass, e->v)) {
                v = e->v;
                e->used = 1;
            } else {
                /* no entry (or one that cannot run here): the default, recorded as used */
                v = ct_conv_plan_default(p, pass);
                if (!e) {
                    CT_TRY(ct_table_set(p->rt, key, CT_OP_OF_PASS(pass), v, CT_SRC_DEFAULT));
                    e = ct_table_find(p->rt, key);
                    if (e) e->used = 1;
                }
            }
        }
    }
    if (forced && !ct_conv_plan_fits(p, pass, v)) {
        char nm[64], key[160];
        ct_conv_key(&p->d, pass, key, sizeof key);
        return ct_set_error(CT_ERR_ARG, "conv: forced variant %s does not fit %s on this device",
                            ct_variant_name(CT_OP_OF_PASS(pass), v, nm, sizeof nm), key);
    }
    p->last[pass] = v;
    p->ran[pass] = 1;
    return run_variant(p, pass, v, n, a, b, bias, out, out2);
}

ct_status ct_conv_forward_pool(ct_conv_plan *p, int n, cl_mem x, cl_mem w, cl_mem b, cl_mem y,
                               cl_mem py, cl_mem idx) {
    if (p->d.pool != 2 || !py || !idx)
        return ct_set_error(CT_ERR_INTERNAL, "conv: forward with pool on a plan without one");
    if (p->d.oh < 2 || p->d.ow < 2)
        return ct_set_error(CT_ERR_SHAPE, "conv: a %dx%d output has no 2x2 pool window",
                            p->d.oh, p->d.ow);
    p->pool_y = py;
    p->pool_idx = idx;
    ct_status s = ct_conv_forward(p, n, x, w, b, y);
    p->pool_y = p->pool_idx = NULL;
    return s;
}

ct_status ct_conv_forward(ct_conv_plan *p, int n, cl_mem x, cl_mem w, cl_mem b, cl_mem y) {
    CT_TRY(check_n(p, n, "forward"));
    return dispatch(p, CT_CONV_FWD, n, x, w, b, y, NULL);
}

ct_status ct_conv_backward_data(ct_conv_plan *p, int n, cl_mem dy, cl_mem w, cl_mem dx) {
    CT_TRY(check_n(p, n, "backward_data"));
    return dispatch(p, CT_CONV_BWD_DATA, n, dy, w, NULL, dx, NULL);
}

ct_status ct_conv_backward_weights(ct_conv_plan *p, int n, cl_mem x, cl_mem dy, cl_mem dw,
                                   cl_mem db) {
    CT_TRY(check_n(p, n, "backward_weights"));
    return dispatch(p, CT_CONV_BWD_WEIGHTS, n, x, dy, NULL, dw, db);
}

const char *ct_conv_plan_choice_name(const ct_conv_plan *p, int pass, char *buf, size_t n) {
    if (pass < 0 || pass > 2 || !p->ran[pass])
        snprintf(buf, n, "not run yet");
    else
        ct_variant_name(CT_OP_OF_PASS(pass), p->last[pass], buf, n);
    return buf;
}
