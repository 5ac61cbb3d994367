/* Variant names and op keys (ops/ops_internal.h): what the tuning table, its file and
 * the checkpoints store. Calls nothing else in ops, so both op files can use it. */
#include <stdio.h>
#include <string.h>

#include "ops/ops_internal.h"

/* GEMM kernels (ops_gemm.c's table is in the same order) and whether each is a dot kernel
 * (A * B^T only) */
static const struct {
    const char *name;
    int dot;
} gk_names[CT_GK_COUNT] = {
    [CT_GK_SIMPLE] = {"simple", 0},   [CT_GK_BLK6x32] = {"blk6x32", 0},
    [CT_GK_BLK8x32] = {"blk8x32", 0}, [CT_GK_BLK4x16] = {"blk4x16", 0},
    [CT_GK_BLK4x8] = {"blk4x8", 0},   [CT_GK_TILED] = {"tiled", 0},
    [CT_GK_NT4x16] = {"nt4x16", 1},   [CT_GK_NT4x8] = {"nt4x8", 1},
};
const char *ct_gemm_kernel_name(int v) {
    return v >= 0 && v < CT_GK_COUNT ? gk_names[v].name : "?";
}
int ct_gemm_kernel_is_dot(int v) {
    return v >= 0 && v < CT_GK_COUNT && gk_names[v].dot;
}

/* implicit configs (ops_conv.c's icfg / iwcfg, same order): RM x cols, CO x VW */
static const char *const icfg_names[CT_CONV_IMPLICIT_CONFIGS] = {"4x32", "6x32", "4x16", "4x8",
                                                                 "8x32"};
static const char *const iwcfg_names[CT_CONV_IMPLW_CONFIGS] = {"4x16", "4x8", "2x16", "6x8"};
/* fused Winograd configs (ops_conv.c's wfcfg): output channels per block x tiles per vector */
static const char *const wfcfg_names[CT_CONV_WFUSED_CONFIGS] = {
    "8x16", "4x16", "8x8", "4x8", "f4-8x16", "f4-4x16", "f4-8x8", "f4-4x8"};

/* ---- variants by name ---------------------------------------------------- */
static const char *const op_names[CT_OP_COUNT] = {"gemm", "conv.forward", "conv.backward_data",
                                                  "conv.backward_weights"};
const char *ct_op_kind_name(ct_op_kind op) {
    return op >= 0 && op < CT_OP_COUNT ? op_names[op] : "?";
}

static const char *const alg_names[CT_ALG_COUNT] = {[CT_ALG_CLBLAST] = "clblast",
                                                    [CT_ALG_DIRECT] = "direct",
                                                    [CT_ALG_IM2COL] = "im2col",
                                                    [CT_ALG_FLIP_IM2COL] = "flip-im2col",
                                                    [CT_ALG_COL2IM] = "col2im",
                                                    [CT_ALG_IMPLICIT] = "implicit",
                                                    [CT_ALG_FLIP_IMPLICIT] = "flip-implicit",
                                                    [CT_ALG_IMPLICIT_DOT] = "implicit-dot",
                                                    [CT_ALG_WINOGRAD] = "winograd",
                                                    [CT_ALG_FLIP_WINOGRAD] = "flip-winograd",
                                                    [CT_ALG_WINOGRAD_FUSED] = "winograd-fused",
                                                    [CT_ALG_FLIP_WINOGRAD_FUSED] =
                                                        "flip-winograd-fused"};

int ct_variant_valid(ct_op_kind op, ct_variant v) {
    int gemm_k = v.sub >= 0 && v.sub < CT_GK_COUNT;
    int plain_k = gemm_k && !ct_gemm_kernel_is_dot(v.sub);
    int wf = v.sub >= 0 && v.sub < CT_CONV_WFUSED_CONFIGS;
    switch (op) {
    case CT_OP_GEMM:
        return (v.alg == CT_ALG_KERNEL && gemm_k) || (v.alg == CT_ALG_CLBLAST && v.sub == 0);
    case CT_OP_CONV_FWD:
        return (v.alg == CT_ALG_DIRECT && v.sub == 0) || (v.alg == CT_ALG_IM2COL && plain_k) ||
               (v.alg == CT_ALG_IMPLICIT && v.sub >= 0 && v.sub < CT_CONV_IMPLICIT_CONFIGS) ||
               (v.alg == CT_ALG_WINOGRAD && plain_k) || (v.alg == CT_ALG_WINOGRAD_FUSED && wf);
    case CT_OP_CONV_BWD_DATA:
        return (v.alg == CT_ALG_DIRECT && v.sub == 0) ||
               ((v.alg == CT_ALG_FLIP_IM2COL || v.alg == CT_ALG_COL2IM) && plain_k) ||
               (v.alg == CT_ALG_FLIP_IMPLICIT && v.sub >= 0 && v.sub < CT_CONV_IMPLICIT_CONFIGS) ||
               (v.alg == CT_ALG_FLIP_WINOGRAD && plain_k) ||
               (v.alg == CT_ALG_FLIP_WINOGRAD_FUSED && wf);
    case CT_OP_CONV_BWD_WEIGHTS:
        return (v.alg == CT_ALG_DIRECT && v.sub == 0) || (v.alg == CT_ALG_IM2COL && gemm_k) ||
               (v.alg == CT_ALG_IMPLICIT_DOT && v.sub >= 0 && v.sub < CT_CONV_IMPLW_CONFIGS) ||
               (v.alg == CT_ALG_WINOGRAD_FUSED && (v.sub == 1 || v.sub == 3)); /* 4x16, 4x8 */
    default:
        return 0;
    }
}

const char *ct_variant_name(ct_op_kind op, ct_variant v, char *buf, size_t n) {
    if (!ct_variant_valid(op, v))
        snprintf(buf, n, "?");
    else if (v.alg == CT_ALG_KERNEL)
        snprintf(buf, n, "%s", ct_gemm_kernel_name(v.sub));
    else if (v.alg == CT_ALG_CLBLAST || v.alg == CT_ALG_DIRECT)
        snprintf(buf, n, "%s", alg_names[v.alg]);
    else if (v.alg == CT_ALG_IMPLICIT || v.alg == CT_ALG_FLIP_IMPLICIT)
        snprintf(buf, n, "%s:%s", alg_names[v.alg], icfg_names[v.sub]);
    else if (v.alg == CT_ALG_IMPLICIT_DOT)
        snprintf(buf, n, "%s:%s", alg_names[v.alg], iwcfg_names[v.sub]);
    else if (v.alg == CT_ALG_WINOGRAD_FUSED || v.alg == CT_ALG_FLIP_WINOGRAD_FUSED)
        snprintf(buf, n, "%s:%s", alg_names[v.alg], wfcfg_names[v.sub]);
    else
        snprintf(buf, n, "%s:%s", alg_names[v.alg], ct_gemm_kernel_name(v.sub));
    return buf;
}

int ct_variant_all(ct_op_kind op, ct_variant *out, int max) {
    int c = 0;
    for (int a = 1; a < CT_ALG_COUNT; a++)
        for (int sub = 0; sub < CT_VARIANT_SUBS; sub++) {
            ct_variant v = {(ct_alg)a, sub};
            if (c < max && ct_variant_valid(op, v)) out[c++] = v;
        }
    return c;
}

int ct_variant_parse_quiet(ct_op_kind op, const char *name, ct_variant *out) {
    ct_variant all[CT_ALG_COUNT * CT_VARIANT_SUBS];
    int n = ct_variant_all(op, all, (int)(sizeof all / sizeof all[0]));
    char buf[64];
    for (int i = 0; i < n; i++)
        if (!strcmp(name, ct_variant_name(op, all[i], buf, sizeof buf))) {
            *out = all[i];
            return 1;
        }
    return 0;
}

ct_status ct_variant_parse(ct_op_kind op, const char *name, ct_variant *out) {
    if ((int)op < 0 || (int)op >= (int)CT_OP_COUNT || !ct_variant_parse_quiet(op, name, out))
        return ct_set_error(CT_ERR_FORMAT, "\"%s\" is not a %s variant (docs/OPS.md lists them)",
                            name, ct_op_kind_name(op));
    return CT_OK;
}

/* ---- op keys -------------------------------------------------------------- */
/* The forward of a conv with a fused pool is timed with it: " pool2" at the end. */
void ct_conv_key(const ct_conv_desc *d, int pass, char *buf, size_t n) {
    snprintf(buf, n, "%s n%d c%d %dx%d o%d k%d s%d p%d,%d%s", ct_op_kind_name(CT_OP_OF_PASS(pass)),
             d->n, d->cin, d->h, d->w, d->cout, d->k, d->stride, d->pad_t, d->pad_l,
             pass == CT_CONV_FWD && d->pool == 2 ? CT_KEY_POOL2 : "");
}

int ct_op_key_parse(const char *key, ct_op_kind *op) {
    char again[160];
    int len = (int)strlen(key), used = -1;
    if (!strncmp(key, "gemm ", 5)) {
        char a, b;
        int M, N, K;
        if (sscanf(key, "gemm %c%c %dx%dx%d%n", &a, &b, &M, &N, &K, &used) != 5 || used != len ||
            (a != 'N' && a != 'T') || (b != 'N' && b != 'T') || M < 0 || N < 0 || K < 0)
            return 0;
        ct_gemm_key(a == 'T', b == 'T', M, N, K, again, sizeof again);
        *op = CT_OP_GEMM;
        return !strcmp(again, key);
    }
    for (int k = CT_OP_CONV_FWD; k < CT_OP_COUNT; k++) {
        size_t pl = strlen(op_names[k]);
        if (strncmp(key, op_names[k], pl) || key[pl] != ' ') continue;
        ct_conv_desc d = {0};
        if (sscanf(key + pl, " n%d c%d %dx%d o%d k%d s%d p%d,%d%n", &d.n, &d.cin, &d.h, &d.w,
                   &d.cout, &d.k, &d.stride, &d.pad_t, &d.pad_l, &used) != 9 ||
            d.n < 1 || d.cin < 1 || d.h < 1 || d.w < 1 || d.cout < 1 ||
            d.k < 1 || d.stride < 1 || d.pad_t < 0 || d.pad_l < 0)
            return 0;
        if (used != len - (int)pl) {
            if (strcmp(key + pl + used, CT_KEY_POOL2)) return 0;
            d.pool = 2;
        }
        ct_conv_key(&d, k - 1, again, sizeof again);
        *op = (ct_op_kind)k;
        return !strcmp(again, key);
    }
    return 0;
}

void ct_gemm_key(int ta, int tb, int M, int N, int K, char *buf, size_t n) {
    snprintf(buf, n, "gemm %c%c %dx%dx%d", ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K);
}
