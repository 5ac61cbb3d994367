/* The tuning stage (src/tune/): tunes a few items and writes the device's tuning file; a
 * fresh runtime reads it back without timing; an edited, truncated, foreign file, or one
 * naming a variant of the wrong kind or one that does not fit its key, gives a warning
 * naming the file and is redone (never a crash); pin/used JSON round trip (pins also
 * cover shapes met later); deterministic mode times nothing and gives the documented
 * defaults; a forced variant that does not fit is an error; names round-trip. */
#include "check/ops_ref.h"
#include "ctest.h"
#include "ops/ops_internal.h"
#include "runtime/tensor.h"
#include "tune/tune.h"

static int n_warn, n_warn_file, n_tuning, n_first;
static char tune_file[4300];

static void log_fn(void *user, ct_log_level level, const char *msg) {
    (void)user;
    if (getenv("TEST_TUNE_VERBOSE")) printf("log %d: %s\n", (int)level, msg);
    if (level == CT_LOG_WARN) {
        n_warn++;
        if (tune_file[0] && strstr(msg, tune_file)) n_warn_file++;
    }
    if (level == CT_LOG_INFO && strstr(msg, "Tuning kernels for ")) {
        n_tuning++;
        if (strstr(msg, "(first run on this device)")) n_first++;
    }
}
static void log_reset(void) {
    n_warn = n_warn_file = n_tuning = n_first = 0;
}

typedef struct {
    ct_conv_plan *p1, *p2;
    ct_tune_item it[4];
} items;

static void items_make(ct_runtime *rt, items *x) {
    ct_conv_desc d1, d2;
    CHECK_OK(ct_conv_desc_init(&d1, 4, 3, 12, 10, 8, 3, 1, 1, CT_ACT_RELU));
    CHECK_OK(ct_conv_desc_init(&d2, 4, 8, 12, 10, 6, 3, 2, 1, CT_ACT_RELU));
    CHECK_OK(ct_conv_plan_create(rt, &d1, &x->p1));
    CHECK_OK(ct_conv_plan_create(rt, &d2, &x->p2));
    x->it[0] = (ct_tune_item){.kind = CT_TUNE_CONV, .plan = x->p1, .need_bwd_data = 0};
    x->it[1] = (ct_tune_item){.kind = CT_TUNE_CONV, .plan = x->p2, .need_bwd_data = 1};
    x->it[2] = (ct_tune_item){.kind = CT_TUNE_GEMM, .ta = 0, .tb = 1, .M = 8, .N = 16, .K = 40};
    x->it[3] = (ct_tune_item){.kind = CT_TUNE_GEMM, .ta = 1, .tb = 0, .M = 16, .N = 40, .K = 8};
}
static void items_free(items *x) {
    ct_conv_plan_free(x->p1);
    ct_conv_plan_free(x->p2);
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *b = malloc(1 << 20);
    *len = b ? fread(b, 1, (1 << 20) - 1, f) : 0;
    if (b) b[*len] = 0;
    fclose(f);
    return b;
}
static void spit(const char *path, const char *s, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(s, 1, len, f);
    fclose(f);
}
/* text (without a checksum line) plus a correct checksum line */
static void spit_summed(const char *path, const char *body) {
    char buf[1 << 16];
    int n = snprintf(buf, sizeof buf, "%schecksum %016llx\n", body,
                     (unsigned long long)ct_hash64(body, strlen(body), 0));
    spit(path, buf, (size_t)n);
}

/* A fresh runtime tunes the items: returns its timed runs; *json the used choices. */
static long tune_once(unsigned flags, char **json) {
    ct_runtime *rt = ct_test_runtime(flags);
    items x;
    items_make(rt, &x);
    CHECK_OK(ct_tune_items(rt, x.it, 4));
    long timed = ct_tune_timed_runs(rt);
    if (json) *json = ct_tune_used_json(rt);
    items_free(&x);
    ct_runtime_free(rt);
    return timed;
}

static void file_cases(void) {
    ct_runtime *rt = ct_test_runtime(0);
    snprintf(tune_file, sizeof tune_file, "%s", ct_tune_file(rt));
    ct_runtime_free(rt);
    if (!tune_file[0]) {
        printf("no cache folder: tuning-file cases skipped\n");
        return;
    }
    remove(tune_file);
    log_reset();
    char *j1 = NULL, *j2 = NULL;
    long t = tune_once(0, &j1);
    CHECK(t > 0 && n_tuning > 0 && n_first > 0,
          "cold tune: timed %ld, progress lines %d (%d first)", t, n_tuning, n_first);
    CHECK(n_warn == 0, "cold tune: %d warnings", n_warn);
    size_t len = 0;
    char *good = slurp(tune_file, &len);
    CHECK(good && strstr(good, "cltrain-tune-2\n") == good && strstr(good, "\nchecksum "),
          "tuning file written: %s", good ? good : "(none)");
    CHECK(good && strstr(good, "gemm NT 8x16x40="), "gemm key in the file");
    if (getenv("TEST_TUNE_VERBOSE"))
        printf("file:\n%s\nused: %s\n", good ? good : "", j1 ? j1 : "");
    CHECK(j1 && strstr(j1, "\"conv.forward n4 c3 12x10 o8 k3 s1 p1,1\":") &&
              strstr(j1, "\"conv.backward_data n4 c8 12x10 o6 k3 s2 p0,0\":") &&
              !strstr(j1, "\"conv.backward_data n4 c3 12x10"),
          "used json: %s", j1 ? j1 : "(null)");
    /* warm: read back, nothing timed, same choices */
    log_reset();
    t = tune_once(0, &j2);
    CHECK(t == 0 && n_tuning == 0 && n_warn == 0, "warm: timed %ld, progress %d, warnings %d", t,
          n_tuning, n_warn);
    CHECK(j1 && j2 && !strcmp(j1, j2), "warm choices %s vs %s", j2 ? j2 : "", j1 ? j1 : "");
    free(j2);
    if (!good) return;
    /* damaged files: each is ignored with a warning naming it, and redone */
    char *bad = malloc(len + 4096);
    struct {
        const char *what;
        int kind;
    } cases[] = {{"edited", 0},
                 {"truncated", 1},
                 {"foreign", 2},
                 {"empty", 3},
                 {"unknown variant (checksum fixed)", 4},
                 {"wrong kind (checksum fixed)", 5},
                 {"does not fit its key (checksum fixed)", 6},
                 {"bad key (checksum fixed)", 7}};
    for (size_t c = 0; bad && c < sizeof cases / sizeof cases[0]; c++) {
        memcpy(bad, good, len + 1);
        char *eq = strstr(bad, "gemm NT 8x16x40=");
        char body[8192];
        switch (cases[c].kind) {
        case 0: /* one byte of a variant name */
            if (eq) eq[16] = eq[16] == 'n' ? 'b' : 'n';
            spit(tune_file, bad, len);
            break;
        case 1:
            spit(tune_file, bad, len / 2);
            break;
        case 2: {
            const char *old = "cltrain-tune-1 some device\ngemm 0 1 8 16 40=conv:3\n";
            spit(tune_file, old, strlen(old));
            break;
        }
        case 3:
            spit(tune_file, "", 0);
            break;
        default: {
            const char *lines[] = {"gemm NT 8x16x40=nosuchkernel\n",
                                   "gemm NT 8x16x40=implicit:4x32\n",
                                   "conv.forward n4 c8 12x10 o6 k3 s2 p0,0=implicit:4x32\n",
                                   "gemm NT 8x16x40x9=blk6x32\n"};
            snprintf(body, sizeof body, "cltrain-tune-2\ndevice x\n%s", lines[cases[c].kind - 4]);
            spit_summed(tune_file, body);
        }
        }
        log_reset();
        char *j = NULL;
        t = tune_once(0, &j);
        CHECK(n_warn_file >= 1, "%s file: %d warnings naming it (%d in all)", cases[c].what,
              n_warn_file, n_warn);
        CHECK(t > 0, "%s file: tuned again (timed %ld)", cases[c].what, t);
        free(j);
        log_reset();
        t = tune_once(0, NULL);
        CHECK(t == 0 && n_warn == 0, "%s file: rewritten (timed %ld, warnings %d)", cases[c].what,
              t, n_warn);
    }
    free(bad);
    free(good);
    free(j1);
}

static void pin_cases(void) {
    ct_runtime *rt = ct_test_runtime(0);
    /* bad pins: CT_ERR_FORMAT naming what is wrong; nothing taken */
    struct {
        const char *json, *names;
    } bad[] = {{"not json", "JSON"},
               {"[1, 2]", "JSON"},
               {"{\"gemm XX 1x2x3\": \"blk6x32\"}", "gemm XX 1x2x3"},
               {"{\"gemm NT 8x16x40\": \"nope\"}", "nope"},
               {"{\"gemm NT 8x16x40\": \"implicit:4x32\"}", "implicit:4x32"},
               {"{\"conv.forward n4 c3 12x10 o8 k3 s1 p1,1\": \"blk6x32\"}", "blk6x32"},
               {"{\"gemm NT 8x16x40\": 3}", "gemm NT 8x16x40"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ct_status s = ct_tune_pin_json(rt, bad[i].json);
        CHECK(s == CT_ERR_FORMAT && strstr(ct_last_error(), bad[i].names), "pin %s: %s (%s)",
              bad[i].json, ct_status_str(s), ct_last_error());
    }
    CHECK(ct_table_count(rt) == 0, "bad pins took nothing (%d entries)", ct_table_count(rt));
    /* good pins win over the file and the defaults, and cover a shape met later */
    const char *pins = "{\"gemm NT 8x16x40\": \"blk4x8\", \"gemm NN 3x40x8\": \"blk4x16\", "
                       "\"conv.forward n4 c3 12x10 o8 k3 s1 p1,1\": \"direct\"}";
    CHECK_OK(ct_tune_pin_json(rt, pins));
    items x;
    items_make(rt, &x);
    CHECK_OK(ct_tune_items(rt, x.it, 4));
    ct_table_entry *e = ct_table_find(rt, "gemm NT 8x16x40");
    char nm[64];
    CHECK(e && e->src == CT_SRC_PINNED &&
              !strcmp(ct_variant_name(e->op, e->v, nm, sizeof nm), "blk4x8"),
          "pinned gemm kept");
    /* the partial batch: a shape no item named, pinned from the checkpoint */
    double err = INFINITY;
    CHECK_OK(ct_check_gemm_case(rt, 0, 0, 3, 40, 8, 1.0f, 0.0f, 9, &err));
    CHECK(err <= 1.0, "pinned gemm result: err %.3g", err);
    e = ct_table_find(rt, "gemm NN 3x40x8");
    CHECK(e && e->used && e->v.alg == CT_ALG_KERNEL && e->v.sub == CT_GK_BLK4x16,
          "pinned variant used for a shape met later");
    char *j = ct_tune_used_json(rt);
    CHECK(j && strstr(j, "\"gemm NN 3x40x8\":\"blk4x16\"") &&
              strstr(j, "\"gemm NT 8x16x40\":\"blk4x8\"") &&
              strstr(j, "\"conv.forward n4 c3 12x10 o8 k3 s1 p1,1\":\"direct\""),
          "used json has the pins: %s", j ? j : "");
    items_free(&x);
    ct_runtime_free(rt);
    /* round trip: a new runtime pinned with the used JSON reports the same choices */
    rt = ct_test_runtime(0);
    CHECK_OK(ct_tune_pin_json(rt, j));
    char *j2 = ct_tune_used_json(rt);
    CHECK(j && j2 && !strcmp(j, j2), "pin/used round trip: %s vs %s", j2 ? j2 : "", j ? j : "");
    free(j);
    free(j2);
    ct_runtime_free(rt);
}

/* A checkpoint from before the pool was fused pins the conv's forward without " pool2":
 * the pooled key takes that pin (and is recorded), unless it has a pin of its own. */
static void old_pin_cases(void) {
    const char *base = "conv.forward n4 c3 12x10 o8 k3 s1 p1,1";
    const char *pooled = "conv.forward n4 c3 12x10 o8 k3 s1 p1,1 pool2";
    for (int own = 0; own < 2; own++) {
        ct_runtime *rt = ct_test_runtime(0);
        char pins[256];
        snprintf(pins, sizeof pins, "{\"%s\": \"direct\"%s%s%s}", base, own ? ", \"" : "",
                 own ? pooled : "", own ? "\": \"winograd-fused:8x16\"" : "");
        CHECK_OK(ct_tune_pin_json(rt, pins));
        ct_conv_desc d;
        CHECK_OK(ct_conv_desc_init(&d, 4, 3, 12, 10, 8, 3, 1, 1, CT_ACT_RELU));
        d.pool = 2;
        ct_conv_plan *p;
        CHECK_OK(ct_conv_plan_create(rt, &d, &p));
        ct_tune_item it = {.kind = CT_TUNE_CONV, .plan = p, .need_bwd_data = 0};
        log_reset();
        CHECK_OK(ct_tune_items(rt, &it, 1));
        ct_table_entry *e = ct_table_find(rt, pooled);
        char nm[64];
        const char *want = own ? "winograd-fused:8x16" : "direct";
        CHECK(e && e->src == CT_SRC_PINNED &&
                  !strcmp(ct_variant_name(e->op, e->v, nm, sizeof nm), want),
              "pooled forward pinned to %s (own pin %d): %s", want, own,
              e ? ct_variant_name(e->op, e->v, nm, sizeof nm) : "no entry");
        char *j = ct_tune_used_json(rt);
        char rec[160];
        snprintf(rec, sizeof rec, "\"%s\":\"%s\"", pooled, want);
        CHECK(j && strstr(j, rec), "recorded %s: %s", rec, j ? j : "");
        free(j);
        e = ct_table_find(rt, base);
        CHECK(e && e->src == CT_SRC_PINNED, "old pin kept as it was");
        ct_conv_plan_free(p);
        ct_runtime_free(rt);
    }
    /* an unpinned base leaves the pooled key to the tuner; a gemm pin maps to nothing */
    ct_runtime *rt = ct_test_runtime(0);
    CHECK_OK(ct_tune_pin_json(rt, "{\"gemm NT 8x16x40\": \"blk4x8\"}"));
    CHECK(!ct_table_find_run(rt, pooled) && !ct_table_find_run(rt, "gemm NT 8x16x40 pool2"),
          "no pin to take");
    ct_runtime_free(rt);
}

static void deterministic_cases(void) {
    if (tune_file[0]) spit(tune_file, "junk", 4); /* must not even be read */
    log_reset();
    char *j1 = NULL, *j2 = NULL;
    long t = tune_once(CT_RT_DETERMINISTIC, &j1);
    CHECK(t == 0 && n_tuning == 0 && n_warn == 0,
          "deterministic: timed %ld, progress %d, warnings %d", t, n_tuning, n_warn);
    tune_once(CT_RT_DETERMINISTIC, &j2);
    CHECK(j1 && j2 && !strcmp(j1, j2), "deterministic twice: %s vs %s", j1 ? j1 : "", j2 ? j2 : "");
    ct_runtime *rt = ct_test_runtime(CT_RT_DETERMINISTIC);
    int gpu = (rt->dev.type & CL_DEVICE_TYPE_GPU) != 0;
    char gk[32];
    snprintf(gk, sizeof gk, "%s", ct_gemm_kernel_name(ct_gemm_kernel_default(rt)));
    ct_runtime_free(rt);
    /* the documented defaults (docs/OPS.md) */
    char want[6][160];
    snprintf(want[0], sizeof want[0], "\"conv.forward n4 c3 12x10 o8 k3 s1 p1,1\":\"%s\"",
             gpu ? "im2col:tiled" : "winograd-fused:4x16");
    snprintf(want[1], sizeof want[1], "\"conv.backward_weights n4 c3 12x10 o8 k3 s1 p1,1\":\"%s\"",
             gpu ? "im2col:tiled" : "implicit-dot:4x16");
    snprintf(want[2], sizeof want[2], "\"conv.forward n4 c8 12x10 o6 k3 s2 p0,0\":\"im2col:%s\"",
             gk);
    snprintf(want[3], sizeof want[3],
             "\"conv.backward_data n4 c8 12x10 o6 k3 s2 p0,0\":\"col2im:%s\"", gk);
    snprintf(want[4], sizeof want[4], "\"gemm NT 8x16x40\":\"%s\"", gpu ? gk : "nt4x16");
    snprintf(want[5], sizeof want[5], "\"gemm TN 16x40x8\":\"%s\"", gpu ? gk : "blk6x32");
    for (int i = 0; i < 6; i++)
        if (!gpu || i >= 2)
            CHECK(j1 && strstr(j1, want[i]), "default %s in %s", want[i], j1 ? j1 : "");
    free(j1);
    free(j2);
    if (tune_file[0]) remove(tune_file);
}

static void force_cases(void) {
    ct_runtime *rt = ct_test_runtime(0);
    ct_conv_desc d;
    ct_conv_plan *p = NULL;
    CHECK_OK(ct_conv_desc_init(&d, 2, 3, 9, 9, 4, 3, 2, 1, CT_ACT_NONE));
    CHECK_OK(ct_conv_plan_create(rt, &d, &p));
    ct_variant impl = {CT_ALG_IMPLICIT, 0}, nt = {CT_ALG_KERNEL, CT_GK_NT4x16};
    CHECK(p && ct_conv_plan_force(p, CT_CONV_FWD, &impl) == CT_ERR_ARG,
          "implicit at stride 2 forced");
    double e;
    ct_conv_force(rt, CT_CONV_FWD, &impl);
    ct_status s = ct_check_conv_case(rt, &d, 2, CT_CONV_FWD, 3, &e);
    CHECK(s == CT_ERR_ARG && strstr(ct_last_error(), "implicit:4x32"),
          "runtime force that does "
          "not fit: %s (%s)",
          ct_status_str(s), ct_last_error());
    ct_conv_force(rt, CT_CONV_FWD, NULL);
    ct_gemm_force(rt, &nt);
    s = ct_check_gemm_case(rt, 0, 0, 5, 6, 7, 1.0f, 0.0f, 3, &e);
    CHECK(s == CT_ERR_ARG && strstr(ct_last_error(), "nt4x16"), "nt4x16 forced on NN: %s (%s)",
          ct_status_str(s), ct_last_error());
    ct_gemm_force(rt, NULL);
    CHECK_OK(ct_check_gemm_case(rt, 0, 0, 5, 6, 7, 1.0f, 0.0f, 3, &e));
    ct_conv_plan_free(p);
    ct_runtime_free(rt);
    /* names: every variant round-trips; a name of another kind is rejected */
    for (int op = 0; op < CT_OP_COUNT; op++) {
        ct_variant all[CT_ALG_COUNT * CT_VARIANT_SUBS], v;
        int n = ct_variant_all((ct_op_kind)op, all, (int)(sizeof all / sizeof all[0]));
        CHECK(n > 0, "variants of %s", ct_op_kind_name((ct_op_kind)op));
        for (int i = 0; i < n; i++) {
            char nm[64];
            ct_variant_name((ct_op_kind)op, all[i], nm, sizeof nm);
            CHECK(ct_variant_parse((ct_op_kind)op, nm, &v) == CT_OK && v.alg == all[i].alg &&
                      v.sub == all[i].sub,
                  "round trip %s", nm);
        }
    }
    ct_variant v;
    CHECK(ct_variant_parse(CT_OP_GEMM, "implicit:4x32", &v) == CT_ERR_FORMAT, "conv name on gemm");
    CHECK(ct_variant_parse(CT_OP_CONV_FWD, "flip-im2col:blk6x32", &v) == CT_ERR_FORMAT,
          "bwd name on fwd");
    CHECK(ct_variant_parse(CT_OP_CONV_FWD, "im2col:nt4x16", &v) == CT_ERR_FORMAT,
          "dot kernel on fwd");
    CHECK(ct_variant_parse(CT_OP_CONV_BWD_WEIGHTS, "im2col:nt4x16", &v) == CT_OK, "dot on bwd_w");
    ct_op_kind k;
    CHECK(ct_op_key_parse("gemm NT 64x128x3200", &k) && k == CT_OP_GEMM, "gemm key");
    CHECK(ct_op_key_parse("conv.forward n64 c3 112x112 o32 k3 s1 p0,0", &k) && k == CT_OP_CONV_FWD,
          "conv key");
    CHECK(ct_op_key_parse("conv.forward n64 c3 112x112 o32 k3 s1 p0,0 pool2", &k) &&
              k == CT_OP_CONV_FWD,
          "conv key with its fused pool");
    CHECK(!ct_op_key_parse("gemm NT 64x128", &k) && !ct_op_key_parse("conv.forward n64", &k) &&
              !ct_op_key_parse("gemm NT 064x128x3200", &k) &&
              !ct_op_key_parse("gemm NT 1x2x3 ", &k) &&
              !ct_op_key_parse("conv.backward_data n64 c3 112x112 o32 k3 s1 p0,0 pool2", &k) &&
              !ct_op_key_parse("conv.forward n64 c3 112x112 o32 k3 s1 p0,0 pool3", &k) &&
              !ct_op_key_parse("conv.forward n64 c3 112x112 o32 k3 s1 p0,0 pool2 ", &k),
          "bad keys");
}

/* The final at the layer's batch takes the fastest few within 1.5x of the screening's
 * best, fastest first; one alone or none timed: no final. */
static void finalist_cases(void) {
    int fin[CT_TUNE_FINALISTS];
    const double sc[] = {5.0, 1.0, 1.4, 2.0, 1.2, 1.1, INFINITY, 1.45};
    int nf = ct_tune_finalists(sc, 8, fin);
    CHECK(nf == 4 && fin[0] == 1 && fin[1] == 5 && fin[2] == 4 && fin[3] == 2,
          "finalists: %d [%d %d %d %d], want 4 [1 5 4 2]", nf, fin[0], fin[1], fin[2], fin[3]);
    const double two[] = {3.5, 2.0, 2.9};
    nf = ct_tune_finalists(two, 3, fin);
    CHECK(nf == 2 && fin[0] == 1 && fin[1] == 2, "finalists of 3: %d [%d %d]", nf, fin[0],
          fin[1]);
    const double alone[] = {1.0, 2.0, INFINITY};
    CHECK(ct_tune_finalists(alone, 3, fin) == 0, "one within 1.5x: no final");
    const double none[] = {INFINITY, INFINITY};
    CHECK(ct_tune_finalists(none, 2, fin) == 0, "nothing timed: no final");
}

int main(void) {
    ct_set_log(log_fn, NULL);
    finalist_cases();
    force_cases();
    file_cases();
    pin_cases();
    old_pin_cases();
    deterministic_cases();
    return ct_test_done("tune");
}
