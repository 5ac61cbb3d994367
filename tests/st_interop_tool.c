/* Helper for tests/st_interop.py: `write PATH` writes the reference tensors with
 * cltrain; `read PATH` checks a file Python's safetensors.numpy wrote. The reference
 * content is defined the same way in both places (see st_interop.py). */
#include <stdint.h>

#include "ctest.h"
#include "io/safetensors.h"

static const char *meta_keys[] = {"spec", "classes", "note"};
static const char *meta_vals[] = {"conv32:3:relu,pool2,flatten,dense1", "[\"cat\", \"d\xc3\xb6g\"]",
                                  "line1\nline2 \"quoted\""};
static const uint16_t f16_bits[6] = {0x3800, 0xC000, 0x7BFF, 0x0001, 0x8000, 0x3E00};
static const float f16_vals[6] = {0.5f, -2, 65504, 5.9604645e-08f, -0.0f, 1.5f};
static const int64_t i64_vals[4] = {-5, 0, 1000000000000LL, -4611686018427387904LL};

static int do_write(const char *path) {
    ct_st_writer *w;
    CHECK_OK(ct_st_writer_create(&w));
    float f32[24], scalar = 42;
    double f64[5];
    int32_t i32[4];
    uint8_t u8[7], b[3] = {1, 0, 1};
    for (int i = 0; i < 24; i++) f32[i] = i * 0.5f - 3;
    for (int i = 0; i < 5; i++) f64[i] = i / 3.0;
    for (int i = 0; i < 4; i++) i32[i] = -7 * i;
    for (int i = 0; i < 7; i++) u8[i] = (uint8_t)(i * 37 % 256);
    int sh[3] = {2, 3, 4};
    int64_t s5 = 5, s4 = 4, s22[2] = {2, 2}, s7 = 7, s3 = 3, s6 = 6, s03[2] = {0, 3};
    CHECK_OK(ct_st_writer_add_f32(w, "f32", 3, sh, f32));
    CHECK_OK(ct_st_writer_add(w, "f64", CT_DT_F64, 1, &s5, f64));
    CHECK_OK(ct_st_writer_add(w, "f16", CT_DT_F16, 1, &s6, f16_bits));
    CHECK_OK(ct_st_writer_add(w, "i64", CT_DT_I64, 1, &s4, i64_vals));
    CHECK_OK(ct_st_writer_add(w, "i32", CT_DT_I32, 2, s22, i32));
    CHECK_OK(ct_st_writer_add(w, "u8", CT_DT_U8, 1, &s7, u8));
    CHECK_OK(ct_st_writer_add(w, "bool", CT_DT_BOOL, 1, &s3, b));
    CHECK_OK(ct_st_writer_add(w, "scalar", CT_DT_F32, 0, NULL, &scalar));
    CHECK_OK(ct_st_writer_add(w, "empty", CT_DT_F32, 2, s03, NULL));
    for (int i = 0; i < 3; i++) CHECK_OK(ct_st_writer_meta(w, meta_keys[i], meta_vals[i]));
    CHECK_OK(ct_st_writer_write(w, path));
    ct_st_writer_free(w);
    return ct_test_done("st_interop write");
}

static int do_read(const char *path) {
    ct_st_file *f;
    CHECK_OK(ct_st_open(path, &f));
    if (!f) return 1;
    for (int i = 0; i < 3; i++) {
        const char *v = ct_st_meta(f, meta_keys[i]);
        CHECK(v && !strcmp(v, meta_vals[i]), "metadata %s = %s", meta_keys[i], v ? v : "(absent)");
    }
    CHECK(ct_st_count(f) == 9, "%d tensors", ct_st_count(f));
    float g[24];
    int64_t sh[3] = {2, 3, 4}, s22[2] = {2, 2}, s03[2] = {0, 3};
    CHECK_OK(ct_st_read_f32(f, "f32", 3, sh, g));
    for (int i = 0; i < 24; i++) CHECK(g[i] == i * 0.5f - 3, "f32[%d] = %g", i, g[i]);
    const ct_st_tensor *t = ct_st_find(f, "f64");
    CHECK(t && t->dtype == CT_DT_F64, "f64 dtype");
    for (int i = 0; t && i < 5; i++) {
        double d;
        memcpy(&d, t->data + 8 * i, 8);
        CHECK(d == i / 3.0, "f64[%d] = %.17g", i, d);
    }
    CHECK_OK(ct_st_read_f32(f, "f16", 0, NULL, g));
    for (int i = 0; i < 6; i++) CHECK(g[i] == f16_vals[i] && signbit(g[i]) == signbit(f16_vals[i]), "f16[%d] = %g", i, g[i]);
    int64_t v[7];
    CHECK_OK(ct_st_read_i64(f, "i64", 0, NULL, v));
    for (int i = 0; i < 4; i++) CHECK(v[i] == i64_vals[i], "i64[%d]", i);
    CHECK_OK(ct_st_read_i64(f, "i32", 2, s22, v));
    for (int i = 0; i < 4; i++) CHECK(v[i] == -7 * i, "i32[%d]", i);
    CHECK_OK(ct_st_read_i64(f, "u8", 0, NULL, v));
    for (int i = 0; i < 7; i++) CHECK(v[i] == i * 37 % 256, "u8[%d]", i);
    CHECK_OK(ct_st_read_f32(f, "bool", 0, NULL, g));
    CHECK(g[0] == 1 && g[1] == 0 && g[2] == 1, "bool");
    CHECK_OK(ct_st_read_f32(f, "scalar", 0, NULL, g));
    CHECK(g[0] == 42 && ct_st_find(f, "scalar")->ndim == 0, "scalar");
    CHECK_OK(ct_st_read_f32(f, "empty", 2, s03, g));
    ct_st_close(f);
    return ct_test_done("st_interop read");
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "write")) return do_write(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "read")) return do_read(argv[2]);
    fprintf(stderr, "usage: st_interop_tool write|read FILE\n");
    return 2;
}
