/* safetensors: round trip of every dtype with metadata; every truncation, corrupt
 * headers, bad dtypes, offsets and overlaps give CT_ERR_FORMAT naming the file (never a
 * crash); random byte flips never crash; writer errors leave no file. */
#include <stdint.h>

#include "ctest.h"
#include "io/fileutil.h"
#include "io/safetensors.h"
#include "tmpdir.h"

static char dir[512];

/* A file from a header text and len data bytes (value i at byte i). */
static unsigned char *make_file(const char *json, size_t data_len, size_t *len) {
    size_t h = strlen(json);
    *len = 8 + h + data_len;
    unsigned char *b = malloc(*len);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(b + 8, json, h);
    for (size_t i = 0; i < data_len; i++) b[8 + h + i] = (unsigned char)i;
    return b;
}

/* Parsing json + data must fail with CT_ERR_FORMAT and a message holding `want`. */
static void expect_bad(const char *json, size_t data_len, const char *want) {
    size_t len;
    unsigned char *b = make_file(json, data_len, &len);
    ct_st_file *f = NULL;
    ct_status s = ct_st_parse(b, len, "bad.safetensors", &f);
    CHECK(s == CT_ERR_FORMAT && f == NULL, "%s: accepted (%s)", json, ct_status_str(s));
    CHECK(strstr(ct_last_error(), "bad.safetensors:") && strstr(ct_last_error(), want),
          "%s: message '%s' lacks '%s'", json, ct_last_error(), want);
    free(b);
}

static void test_round_trip(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    ct_st_writer *w;
    CHECK_OK(ct_st_writer_create(&w));
    float f32[24];
    for (int i = 0; i < 24; i++) f32[i] = (float)i * 0.5f - 3;
    int sh3[3] = {2, 3, 4};
    CHECK_OK(ct_st_writer_add_f32(w, "layers.0.weight", 3, sh3, f32));
    uint8_t u8[7];
    for (int i = 0; i < 7; i++) u8[i] = (uint8_t)(i * 37);
    int64_t s7 = 7, s5 = 5, s3 = 3, s22[2] = {2, 2}, s03[2] = {0, 3};
    CHECK_OK(ct_st_writer_add(w, "u8", CT_DT_U8, 1, &s7, u8)); /* small first: writer must align */
    double f64[5];
    for (int i = 0; i < 5; i++) f64[i] = i / 3.0;
    CHECK_OK(ct_st_writer_add(w, "f64", CT_DT_F64, 1, &s5, f64));
    int64_t i64[3] = {-5, 1000000000000LL, INT64_MIN + 1};
    CHECK_OK(ct_st_writer_add(w, "i64", CT_DT_I64, 1, &s3, i64));
    int32_t i32[4] = {0, -7, -14, -21};
    CHECK_OK(ct_st_writer_add(w, "i32", CT_DT_I32, 2, s22, i32));
    uint16_t f16[3] = {0x3800, 0xC000, 0x0001}; /* 0.5, -2, 2^-24 */
    CHECK_OK(ct_st_writer_add(w, "f16", CT_DT_F16, 1, &s3, f16));
    uint16_t bf16[3] = {0x3F80, 0xC040, 0x7F80}; /* 1, -3, inf */
    CHECK_OK(ct_st_writer_add(w, "bf16", CT_DT_BF16, 1, &s3, bf16));
    float scalar = 42;
    CHECK_OK(ct_st_writer_add(w, "scalar", CT_DT_F32, 0, NULL, &scalar));
    CHECK_OK(ct_st_writer_add(w, "empty", CT_DT_F32, 2, s03, NULL));
    CHECK_OK(ct_st_writer_meta(w, "spec", "conv32:3:relu,pool2"));
    CHECK_OK(ct_st_writer_meta(w, "classes", "[\"cat\",\"d\xc3\xb6g\"]"));
    CHECK_OK(ct_st_writer_meta(w, "note", "line1\nline2 \\ \"q\""));
    CHECK_OK(ct_st_writer_meta(w, "spec", "conv16:3:relu")); /* replaces */
    CHECK(ct_st_writer_add(w, "u8", CT_DT_U8, 1, &s7, u8) == CT_ERR_ARG, "duplicate name accepted");
    CHECK(ct_st_writer_add(w, "__metadata__", CT_DT_U8, 1, &s7, u8) == CT_ERR_ARG, "reserved name accepted");
    CHECK(ct_st_writer_add(w, "", CT_DT_U8, 1, &s7, u8) == CT_ERR_ARG, "empty name accepted");
    CHECK_OK(ct_st_writer_write(w, path));
    ct_st_writer_free(w);
    CHECK(tmpdir_count(dir, ".tmp.") == 0, "temp file left");

    ct_st_file *f;
    CHECK_OK(ct_st_open(path, &f));
    if (!f) return;
    CHECK(ct_st_count(f) == 9, "count %d", ct_st_count(f));
    CHECK(ct_st_meta_count(f) == 3, "meta count %d", ct_st_meta_count(f));
    CHECK(ct_st_meta(f, "spec") && !strcmp(ct_st_meta(f, "spec"), "conv16:3:relu"), "spec");
    CHECK(ct_st_meta(f, "classes") && !strcmp(ct_st_meta(f, "classes"), "[\"cat\",\"d\xc3\xb6g\"]"), "classes");
    CHECK(ct_st_meta(f, "note") && !strcmp(ct_st_meta(f, "note"), "line1\nline2 \\ \"q\""), "note");
    CHECK(ct_st_meta(f, "nope") == NULL, "absent key");
    for (int i = 0; i < ct_st_count(f); i++) { /* aligned to element size from the data start */
        const ct_st_tensor *t = ct_st_tensor_at(f, i);
        CHECK(t->begin % ct_dtype_size(t->dtype) == 0, "%s at %zu unaligned", t->name, t->begin);
    }
    const ct_st_tensor *t = ct_st_find(f, "layers.0.weight");
    CHECK(t && t->dtype == CT_DT_F32 && t->ndim == 3 && t->shape[0] == 2 && t->shape[2] == 4 && t->count == 24,
          "weight info");
    float got[24];
    int64_t want3[3] = {2, 3, 4};
    CHECK_OK(ct_st_read_f32(f, "layers.0.weight", 3, want3, got));
    CHECK(!memcmp(got, f32, sizeof f32), "f32 data");
    int64_t wrong[3] = {2, 4, 3};
    ct_status s = ct_st_read_f32(f, "layers.0.weight", 3, wrong, got);
    CHECK(s == CT_ERR_FORMAT && strstr(ct_last_error(), "[2, 3, 4]") && strstr(ct_last_error(), "[2, 4, 3]") &&
              strstr(ct_last_error(), "model.safetensors"), "shape message: %s", ct_last_error());
    s = ct_st_read_f32(f, "layers.9.weight", 0, NULL, got);
    CHECK(s == CT_ERR_FORMAT && strstr(ct_last_error(), "layers.9.weight"), "missing: %s", ct_last_error());
    CHECK_OK(ct_st_read_f32(f, "u8", 1, &s7, got));
    for (int i = 0; i < 7; i++) CHECK(got[i] == u8[i], "u8[%d] %g", i, got[i]);
    CHECK_OK(ct_st_read_f32(f, "f64", 0, NULL, got));
    for (int i = 0; i < 5; i++) CHECK(got[i] == (float)f64[i], "f64[%d]", i);
    CHECK_OK(ct_st_read_f32(f, "f16", 0, NULL, got));
    CHECK(got[0] == 0.5f && got[1] == -2 && got[2] == ldexpf(1, -24), "f16 %g %g %g", got[0], got[1], got[2]);
    CHECK_OK(ct_st_read_f32(f, "bf16", 0, NULL, got));
    CHECK(got[0] == 1 && got[1] == -3 && isinf(got[2]), "bf16");
    CHECK_OK(ct_st_read_f32(f, "scalar", 0, NULL, got));
    CHECK(got[0] == 42 && ct_st_find(f, "scalar")->ndim == 0, "scalar");
    CHECK(ct_st_find(f, "empty")->count == 0, "empty tensor");
    int64_t gi[4];
    CHECK_OK(ct_st_read_i64(f, "i64", 1, &s3, gi));
    CHECK(!memcmp(gi, i64, sizeof i64), "i64 exact");
    CHECK_OK(ct_st_read_i64(f, "i32", 2, s22, gi));
    for (int i = 0; i < 4; i++) CHECK(gi[i] == i32[i], "i32[%d]", i);
    CHECK(ct_st_read_i64(f, "f64", 0, NULL, gi) == CT_ERR_FORMAT, "1/3 is no integer");
    ct_st_close(f);

    /* every truncation is an error naming the file, never a crash */
    unsigned char *buf;
    size_t len;
    CHECK_OK(ct_read_file(path, 1 << 20, &buf, &len));
    CHECK(len > 8 && buf[0] % 8 == 0 && (len - 8 - buf[0] - 256 * buf[1]) == 24 * 4 + 7 + 40 + 24 + 16 + 6 + 6 + 4,
          "layout: header padded to 8, data is the sum of the tensors");
    int bad = 0;
    for (size_t cut = 0; cut < len; cut++) {
        ct_st_file *g = NULL;
        if (ct_st_parse(buf, cut, "model.safetensors", &g) != CT_ERR_FORMAT || g ||
            !strstr(ct_last_error(), "model.safetensors:"))
            bad++;
        ct_st_close(g);
    }
    CHECK(bad == 0, "%d of %zu truncations not rejected", bad, len);
    ct_st_parse(buf, len - 3, "model.safetensors", &f);
    char want[128];
    snprintf(want, sizeof want, "truncated: header says %zu bytes of data, file has %zu",
             len - 8 - (buf[0] + 256 * buf[1]), len - 11 - (buf[0] + 256 * buf[1]));
    CHECK(strstr(ct_last_error(), want), "'%s' lacks '%s'", ct_last_error(), want);
    /* a truncated file on disk */
    char cut_path[1024];
    snprintf(cut_path, sizeof cut_path, "%s/cut.safetensors", dir);
    CHECK_OK(ct_write_atomic_buf(cut_path, buf, len / 2));
    CHECK(ct_st_open(cut_path, &f) == CT_ERR_FORMAT && strstr(ct_last_error(), cut_path), "%s", ct_last_error());

    /* random byte flips: any outcome but a crash (run under a sanitizer in CI) */
    uint64_t r = 12345;
    unsigned char *m = malloc(len);
    int accepted = 0;
    for (int it = 0; it < 3000; it++) {
        memcpy(m, buf, len);
        for (int k = 0; k < 1 + it % 4; k++) {
            r = r * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t at = (size_t)(r >> 33) % (it % 2 ? len : (size_t)(buf[0] + 16));
            m[at] = (unsigned char)(r >> 20);
        }
        ct_st_file *g = NULL;
        if (ct_st_parse(m, len, "fuzz", &g) == CT_OK) {
            accepted++;
            for (int i = 0; i < ct_st_count(g); i++) { /* touch every byte it claims */
                const ct_st_tensor *tt = ct_st_tensor_at(g, i);
                volatile unsigned sum = 0;
                for (size_t j = 0; j < tt->end - tt->begin; j++) sum += tt->data[j];
            }
        }
        ct_st_close(g);
    }
    printf("fuzz: %d of 3000 mutated files still valid\n", accepted);
    free(m);
    free(buf);
}

static void test_bad_files(void) {
    static const struct {
        const char *json;
        size_t data_len;
        const char *want; /* in the message */
    } cases[] = {
        {"", 0, "cannot hold a JSON object"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4, "not valid JSON"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} x", 4, "after the JSON"},
        {"[1, 2]  ", 0, "not a JSON object"},
        {"{\"a\":{\"dtype\":\"F8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "dtype 'F8'"},
        {"{\"a\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "no dtype"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "needs 8 bytes"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "shape entry"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "shape entry"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4, "no shape"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "dimensions"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 4,
         "truncated: header says 8 bytes of data, file has 4"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "end before begin"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "data_offsets"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, "data_offsets"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, "data_offsets"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[3,5]}}", 5, "'a' [0, 4] and 'b' [3, 5] overlap"},
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
         "\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}", 4, "'a' appears twice"},
        {"{\"a\":[1]}", 0, "not an object"},
        {"{\"\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0, "empty name"},
        {"{\"__metadata__\":{\"k\":1}}", 0, "metadata 'k' is not a string"},
        {"{\"__metadata__\":[\"k\"]}", 0, "__metadata__ is not an object"},
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[100000000000,100000000000,100000000000],"
         "\"data_offsets\":[0,1]}}", 1, "needs"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        expect_bad(cases[i].json, cases[i].data_len, cases[i].want);

    /* header length: beyond the file, absurd, shorter than 8 bytes of length */
    unsigned char b[16] = {0xe8, 0x03, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    ct_st_file *f = NULL;
    CHECK(ct_st_parse(b, 16, "h.safetensors", &f) == CT_ERR_FORMAT &&
              strstr(ct_last_error(), "h.safetensors: truncated: header says 1000 bytes of header, file has 8"),
          "%s", ct_last_error());
    b[7] = 0x40;
    CHECK(ct_st_parse(b, 16, "h.safetensors", &f) == CT_ERR_FORMAT && strstr(ct_last_error(), "limit"), "%s",
          ct_last_error());
    CHECK(ct_st_parse(b, 0, "h.safetensors", &f) == CT_ERR_FORMAT && strstr(ct_last_error(), "empty"), "%s",
          ct_last_error());
    CHECK(ct_st_parse(b, 5, "h.safetensors", &f) == CT_ERR_FORMAT && strstr(ct_last_error(), "truncated"), "%s",
          ct_last_error());

    /* a header with many entries parses in about linear time (it was quadratic: 160,000
     * entries took 37.6 s); 200,000 tensor entries + 200,000 metadata keys, the last a
     * duplicate, must be refused quickly */
    {
        const int many = 200000;
        size_t cap = (size_t)many * 96 + 64, n = 8;
        unsigned char *big = malloc(cap);
        CHECK(big != NULL, "alloc");
        if (big) {
            n += (size_t)snprintf((char *)big + n, cap - n, "{\"__metadata__\":{");
            for (int i = 0; i < many; i++)
                n += (size_t)snprintf((char *)big + n, cap - n, "%s\"k%d\":\"v\"", i ? "," : "",
                                      i == many - 1 ? 0 : i);
            n += (size_t)snprintf((char *)big + n, cap - n, "}");
            for (int i = 0; i < many; i++)
                n += (size_t)snprintf((char *)big + n, cap - n,
                                      ",\"t%d\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}", i);
            n += (size_t)snprintf((char *)big + n, cap - n, "}");
            uint64_t hl = n - 8;
            for (int i = 0; i < 8; i++) big[i] = (unsigned char)(hl >> (8 * i));
            double t0 = ct_now();
            ct_st_file *g = NULL;
            ct_status s = ct_st_parse(big, n, "many.safetensors", &g);
            double secs = ct_now() - t0;
            CHECK(s == CT_ERR_FORMAT && strstr(ct_last_error(), "'k0' appears twice"), "%s",
                  ct_last_error());
            CHECK(secs < 5.0, "400,000 header entries took %.1f s", secs);
            ct_st_close(g);
            free(big);
        }
    }

    /* valid oddities: "{}", a null __metadata__, touching zero-length tensors, a gap, unpadded header */
    const char *ok[] = {
        "{}",
        "{\"__metadata__\":null}",
        "{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[2,2]},"
        "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}",
        "{\"a\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[2,4]}}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        size_t len;
        unsigned char *fb = make_file(ok[i], 4, &len);
        f = NULL;
        CHECK_OK(ct_st_parse(fb, len, "ok.safetensors", &f));
        ct_st_close(f);
        free(fb);
    }
}

static void test_writer_failures(void) {
    char path[1024];
    ct_st_writer *w;
    CHECK_OK(ct_st_writer_create(&w));
    float x = 1;
    CHECK_OK(ct_st_writer_add(w, "x", CT_DT_F32, 0, NULL, &x));
    snprintf(path, sizeof path, "%s/missing/m.safetensors", dir);
    ct_status s = ct_st_writer_write(w, path);
    CHECK(s == CT_ERR_IO && strstr(ct_last_error(), path), "%s", ct_last_error());
    /* an empty model file is still a valid file */
    ct_st_writer *e;
    CHECK_OK(ct_st_writer_create(&e));
    snprintf(path, sizeof path, "%s/empty.safetensors", dir);
    CHECK_OK(ct_st_writer_write(e, path));
    ct_st_file *f = NULL;
    CHECK_OK(ct_st_open(path, &f));
    CHECK(f && ct_st_count(f) == 0 && ct_st_meta_count(f) == 0, "empty file content");
    ct_st_close(f);
    ct_st_writer_free(e);
    ct_st_writer_free(w);
    CHECK(ct_st_open(dir, &f) == CT_ERR_IO, "a folder is no model");
}

int main(void) {
    tmpdir_make(dir, sizeof dir);
    test_round_trip();
    test_bad_files();
    test_writer_failures();
    tmpdir_remove(dir);
    return ct_test_done("safetensors");
}
