/* Shared between src/ops/ops_gemm.c and src/ops/ops_conv.c: the per-runtime op state, the GEMM
 * kernel variants and the "job" form of a (batched, fused-epilogue) GEMM. */
#ifndef CT_OPS_INTERNAL_H
#define CT_OPS_INTERNAL_H

#include "ops/ops.h"

typedef struct ct_ops_state ct_ops_state;
/* The runtime's op state, created on first use (freed by ct_runtime_free). */
ct_status ct_ops_state_get(ct_runtime *rt, ct_ops_state **out);

/* C[z] = alpha * sum_{t<nsum} opA(item) opB(item) + bias[row] + beta*C[z], relu optional,
 * item = z*nsum + t < nbatch. Element offsets and strides (see cl/gemm.cl). */
typedef struct ct_gemm_job {
    int M, N, K;
    float alpha, beta;
    cl_mem A;
    int a_off, as_i, as_k, sa;
    cl_mem B;
    int b_off, bs_k, bs_j, sb;
    cl_mem C;
    int c_off, ldc, sc;
    int nsum, nbatch;
    cl_mem bias; /* NULL: none */
    int relu;
} ct_gemm_job;

/* Kernel variants ("simple" is the portable fallback; "blk*" need bs_j == 1; "nt*" need
 * as_k == 1 and bs_k == 1). */
enum { CT_GK_SIMPLE = 0, CT_GK_BLK6x32, CT_GK_BLK8x32, CT_GK_BLK4x16, CT_GK_BLK4x8,
       CT_GK_TILED, CT_GK_NT4x16, CT_GK_NT4x8, CT_GK_COUNT };
const char *ct_gemm_kernel_name(int v);
/* Whether variant v can run a job with these strides (without packing). */
int ct_gemm_kernel_fits(int v, const ct_gemm_job *j);
int ct_gemm_kernel_is_dot(int v);
/* Work-items variant v launches per batch item for an M x N output. */
int ct_gemm_kernel_wi(int v, int M, int N);
/* Whether variant v can run on this runtime (work-group and local-memory limits). */
int ct_gemm_kernel_usable(ct_runtime *rt, int v);
ct_status ct_gemm_job_run(ct_runtime *rt, int variant, const ct_gemm_job *j);
/* Default kernel for jobs inside the conv algorithms (GPU: tiled, else simple; CPU: blk6x32). */
int ct_gemm_kernel_default(ct_runtime *rt);

/* ---- variants by name ---------------------------------------------------------------
 * A variant is an algorithm and a sub-variant index (a GEMM kernel, an implicit config).
 * Names: gemm "simple", "blk6x32", ..., "nt4x16", "tiled", "clblast";
 * conv.forward "direct", "im2col:<gemm kernel>", "implicit:<RM>x<cols>", "winograd:<k>",
 * "winograd-fused:<R>x<VW>" (F(2x2,3x3)), "winograd-fused:f4-<R>x<VW>" (F(4x4,3x3));
 * conv.backward_data "direct", "flip-im2col:<k>", "col2im:<k>", "flip-implicit:<RM>x<cols>",
 * "flip-winograd:<k>", "flip-winograd-fused:<R>x<VW>";
 * conv.backward_weights "direct", "im2col:<k>", "implicit-dot:<CO>x<VW>". */
typedef enum {
    CT_OP_GEMM = 0,
    CT_OP_CONV_FWD,
    CT_OP_CONV_BWD_DATA,
    CT_OP_CONV_BWD_WEIGHTS,
    CT_OP_COUNT
} ct_op_kind;
#define CT_OP_OF_PASS(pass) ((ct_op_kind)((pass) + 1))
typedef enum {
    CT_ALG_NONE = 0,
    CT_ALG_KERNEL,
    CT_ALG_CLBLAST,
    CT_ALG_DIRECT,
    CT_ALG_IM2COL,
    CT_ALG_FLIP_IM2COL,
    CT_ALG_COL2IM,
    CT_ALG_IMPLICIT,
    CT_ALG_FLIP_IMPLICIT,
    CT_ALG_IMPLICIT_DOT,
    CT_ALG_WINOGRAD,      /* F(2x2,3x3) forward with a GEMM kernel (sub) */
    CT_ALG_FLIP_WINOGRAD, /* the same for backward-data (flipped weights) */
    CT_ALG_WINOGRAD_FUSED,      /* F(2x2,3x3) in one kernel (sub: config) */
    CT_ALG_FLIP_WINOGRAD_FUSED, /* the same for backward-data */
    CT_ALG_COUNT
} ct_alg;
#define CT_VARIANT_SUBS 16         /* sub-variant indices are below this */
#define CT_CONV_IMPLICIT_CONFIGS 5 /* forward / flipped backward-data configs */
#define CT_CONV_IMPLW_CONFIGS 4    /* backward-weights configs */
#define CT_CONV_WFUSED_CONFIGS 8   /* fused Winograd configs (4 F(2x2), 4 F(4x4)) */
typedef struct ct_variant {
    ct_alg alg;
    int sub; /* CT_ALG_KERNEL, *IM2COL, COL2IM, *WINOGRAD: GEMM kernel; *IMPLICIT*,
              * *WINOGRAD_FUSED: config */
} ct_variant;
const char *ct_op_kind_name(ct_op_kind op); /* "gemm", "conv.forward", ... */
/* Whether v is a variant of op kind op (whatever the shape). */
int ct_variant_valid(ct_op_kind op, ct_variant v);
/* Name of v, "?" when it is not a variant of op. */
const char *ct_variant_name(ct_op_kind op, ct_variant v, char *buf, size_t n);
/* CT_ERR_FORMAT naming it when name is no variant of op kind op; _quiet: 1/0, no error. */
int ct_variant_parse_quiet(ct_op_kind op, const char *name, ct_variant *out);
ct_status ct_variant_parse(ct_op_kind op, const char *name, ct_variant *out);
/* All variants of op kind op (any device, any shape); returns the count (<= max). */
int ct_variant_all(ct_op_kind op, ct_variant *out, int max);

/* ---- op keys: the table's index ------------------------------------------------------
 * "gemm NT 64x128x3200" (op(A), op(B): N or T; M x N x K) and
 * "conv.forward n64 c3 112x112 o32 k3 s1 p0,0" (pass, planned batch, input, output
 * channels, kernel, stride, top/left padding). */
void ct_gemm_key(int ta, int tb, int M, int N, int K, char *buf, size_t n);
void ct_conv_key(const ct_conv_desc *d, int pass, char *buf, size_t n);
/* Whether key is a well-formed op key; *op gets its kind. */
int ct_op_key_parse(const char *key, ct_op_kind *op);

/* ---- the tuning table ----------------------------------------------------------------
 * Per runtime: op key -> variant. The ops only read it (and record which entries they
 * used, adding the default they ran where there was none); src/tune/ fills it. */
typedef enum { CT_SRC_DEFAULT = 0, CT_SRC_FILE, CT_SRC_TUNED, CT_SRC_PINNED } ct_tune_src;
typedef struct ct_table_entry {
    char key[128];
    ct_op_kind op;
    ct_variant v;
    ct_tune_src src;
    int used;  /* an op ran with it */
    int given; /* set for an item of ct_tune_items, or pinned */
    /* the tuning file's variant, kept there though this run uses v: it did not fit only
     * because this run's plan has no workspace (src/tune/tune.c); cleared by ct_table_set */
    int keep_file;
    ct_variant file_v;
} ct_table_entry;
ct_table_entry *ct_table_find(ct_runtime *rt, const char *key);
/* The end of a conv forward's op key when a 2x2 pool is fused into it (ct_conv_key). */
#define CT_KEY_POOL2 " pool2"
/* ct_table_find for a key about to be run or tuned. A conv forward's key ending in " pool2"
 * that is not pinned itself takes the pin of the same key without it, as a pin of its own:
 * checkpoints written before the pool was fused pin the unpooled key, and a variant's
 * fused and unfused forwards agree bit for bit (tests/test_model.c, fuse_pool_same), so a
 * resumed run keeps the kernels it started with. */
ct_table_entry *ct_table_find_run(ct_runtime *rt, const char *key);
/* Adds or replaces (a PINNED entry is only replaced by another pin). */
ct_status ct_table_set(ct_runtime *rt, const char *key, ct_op_kind op, ct_variant v,
                       ct_tune_src src);
int ct_table_count(ct_runtime *rt);
ct_table_entry *ct_table_at(ct_runtime *rt, int i);
/* Drops the entries of source src. */
void ct_table_drop(ct_runtime *rt, ct_tune_src src);

/* A slot in the op state for the tuning stage's own per-runtime state; free_fn frees it
 * with the runtime. NULL without op state. */
void **ct_ops_tune_slot(ct_runtime *rt, void (*free_fn)(void *));

/* ---- GEMM variants as ct_gemm sees them ---------------------------------------------- */
/* Whether v can run ct_gemm with these transposes on this runtime. */
int ct_gemm_variant_fits(ct_runtime *rt, int ta, int tb, ct_variant v);
/* The documented default (docs/OPS.md): never timed. */
ct_variant ct_gemm_variant_default(ct_runtime *rt, int ta, int tb, int M, int N, int K);
/* Variants worth timing for this device and these transposes. */
int ct_gemm_candidates(ct_runtime *rt, int ta, int tb, ct_variant *out, int max);
/* ct_gemm with variant v; CT_ERR_ARG naming it when v does not fit. */
ct_status ct_gemm_run(ct_runtime *rt, ct_variant v, int trans_a, int trans_b, int M, int N, int K,
                      float alpha, cl_mem A, size_t a_off, int lda, cl_mem B, size_t b_off, int ldb,
                      float beta, cl_mem C, size_t c_off, int ldc);
/* Forcing (tests, benchmarks): every later ct_gemm runs v (NULL: the table again); one
 * that does not fit a call's transposes makes that call fail. ct_gemm also honours env
 * CLTRAIN_GEMM=<variant name> (an unknown name is an error). */
void ct_gemm_force(ct_runtime *rt, const ct_variant *v);

/* ---- conv variants --------------------------------------------------------------------
 * pass: ct_conv_pass. */
int ct_conv_plan_fits(const ct_conv_plan *p, int pass, ct_variant v);
ct_variant ct_conv_plan_default(const ct_conv_plan *p, int pass);
int ct_conv_plan_candidates(const ct_conv_plan *p, int pass, ct_variant *out, int max);
/* Images to time a plan's variants on (a part of the batch: the cost is linear in it). */
int ct_conv_plan_tune_batch(const ct_conv_plan *p);
const ct_conv_desc *ct_conv_plan_desc(const ct_conv_plan *p);
/* Whether the plan got its workspace (without one, only the direct kernels run). */
int ct_conv_plan_has_workspace(const ct_conv_plan *p);
/* The plan runs v for pass from now on (NULL: the table again); CT_ERR_ARG naming it when
 * v does not fit this plan. */
ct_status ct_conv_plan_force(ct_conv_plan *p, int pass, const ct_variant *v);
/* Forcing for every plan of the runtime (tests, benchmarks); NULL restores the table. A
 * forced variant that does not fit a plan makes its calls fail. Env
 * CLTRAIN_CONV=<name>[,<name>...] forces each name for the passes whose kind it names. */
void ct_conv_force(ct_runtime *rt, int pass, const ct_variant *v);
/* 1 and *v when the runtime forces a variant for pass (ct_conv_force). */
int ct_conv_forced_(ct_runtime *rt, int pass, ct_variant *v);
/* Name of the variant the plan's last call of pass ran, e.g. "im2col:blk6x32", or
 * "not run yet". */
const char *ct_conv_plan_choice_name(const ct_conv_plan *p, int pass, char *buf, size_t n);

/* Launch with a fixed local size (l0 x l1 x 1, shrunk to rt->max_wg): PoCL compiles a
 * kernel once per local size, so letting it pick one per global size recompiles for
 * every new shape (0.3-2 s each). */
ct_status ct_ops_launch(ct_runtime *rt, cl_kernel k, cl_uint dims, const size_t *g, size_t l0,
                        size_t l1);

#endif
