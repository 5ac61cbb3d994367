/* The public ONNX export (cltrain.h: ct_classifier_export_onnx) over export/onnx.h: the
 * classifier's model plus, in metadata_props, every metadata key of the model file it
 * was loaded from (copied generically, so keys added to model files travel unchanged). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "export/onnx.h"
#include "io/safetensors.h"
#include "train/train.h"

ct_status ct_onnx_supported(void) { return ct_onnx_available(); }

/* A classifier made in memory has no file: its own metadata, the keys a model file has. */
static ct_status export_created(ct_classifier *m, const char *path) {
    const ct_model_meta *mt = &m->meta;
    char input[64];
    snprintf(input, sizeof input, "%dx%dx%d", mt->h, mt->w, mt->c);
    const char *rs = mt->resize == CT_RESIZE_BILINEAR ? "bilinear"
                     : mt->resize == CT_RESIZE_AREA   ? "area"
                                                      : "nearest";
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < mt->n_classes; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(mt->class_names[i]));
    char *cls = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    if (!cls) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    const char *keys[] = {"cltrain_version", "spec", "input", "color_mode", "resize", "classes"};
    const char *vals[] = {ct_version(), mt->spec, input, mt->c == 1 ? "grayscale" : "rgb", rs, cls};
    ct_status s = ct_onnx_write(m->m, 6, keys, vals, path);
    free(cls);
    return s;
}

ct_status ct_classifier_export_onnx(ct_classifier *m, const char *path) {
    if (!m || !path) return ct_set_error(CT_ERR_ARG, "ct_classifier_export_onnx: NULL model or path");
    CT_TRY(ct_onnx_available());
    if (!m->path) return export_created(m, path);
    ct_st_file *f;
    CT_TRY(ct_st_open(m->path, &f));
    int n = ct_st_meta_count(f);
    const char **keys = calloc((size_t)(n ? n : 1), sizeof *keys);
    const char **vals = calloc((size_t)(n ? n : 1), sizeof *vals);
    ct_status s = keys && vals ? CT_OK : ct_set_error(CT_ERR_MEMORY, "out of host memory");
    for (int i = 0; s == CT_OK && i < n; i++) ct_st_meta_at(f, i, &keys[i], &vals[i]);
    if (s == CT_OK) s = ct_onnx_write(m->m, n, keys, vals, path);
    free(keys);
    free(vals);
    ct_st_close(f);
    return s;
}
