/* libFuzzer target for model files: the safetensors reader (ct_st_parse: header length,
 * JSON header, dtypes, shapes, offsets, metadata), every tensor converted to float and to
 * integers as a model load would, and the cltrain metadata (ct_model_meta_parse: format,
 * version, spec, input shape, resize, classes). Build and run: docs/FUZZING.md. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "io/safetensors.h"
#include "model/modelio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ct_st_file *f;
    if (ct_st_parse(data, size, "fuzz.safetensors", &f) == CT_OK) {
        for (int i = 0; i < ct_st_meta_count(f); i++) {
            const char *k, *v;
            ct_st_meta_at(f, i, &k, &v);
            if (!k || !v || ct_st_meta(f, k) == NULL) abort();
        }
        for (int i = 0; i < ct_st_count(f); i++) {
            const ct_st_tensor *t = ct_st_tensor_at(f, i);
            if (ct_st_find(f, t->name) == NULL) abort();
            if (t->count > ((size_t)1 << 20)) continue; /* converting 4 MB is enough */
            float *fo = malloc((t->count ? t->count : 1) * sizeof *fo);
            int64_t *io = malloc((t->count ? t->count : 1) * sizeof *io);
            if (fo && io) {
                ct_st_read_f32(f, t->name, t->ndim, t->shape, fo);
                ct_st_read_i64(f, t->name, t->ndim, t->shape, io);
                int64_t wrong[CT_ST_MAX_DIMS] = {3};
                ct_st_read_f32(f, t->name, 1, wrong, fo); /* a shape error message */
            }
            free(fo);
            free(io);
        }
        ct_st_close(f);
    }
    ct_model_meta meta;
    if (ct_model_meta_parse(data, size, "fuzz.safetensors", &meta) == CT_OK) {
        if (meta.n_classes < 2 || meta.h < 1 || meta.w < 1) abort();
        ct_model_meta_free(&meta);
    }
    return 0;
}
