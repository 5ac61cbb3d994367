/* safetensors files: the model format, readable by numpy and PyTorch users.
 *
 * Layout: 8-byte little-endian header length N, then N bytes of JSON
 *   {"__metadata__": {"key": "value", ...},
 *    "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
 * (padded with spaces to a multiple of 8), then the data area; offsets are relative
 * to the data area, data is little-endian and row-major (C order).
 *
 * Writing:
 *     ct_st_writer *w;
 *     CT_TRY(ct_st_writer_create(&w));
 *     ct_st_writer_add_f32(w, "layers.0.weight", 4, shape, weights);   // copies the data
 *     ct_st_writer_meta(w, "spec", "conv32:3:relu,...");
 *     st = ct_st_writer_write(w, "model.safetensors");                  // atomic
 *     ct_st_writer_free(w);
 * Reading (files from cltrain, safetensors.numpy or safetensors.torch):
 *     ct_st_file *f;
 *     CT_TRY(ct_st_open("model.safetensors", &f));                    // validates fully
 *     const char *spec = ct_st_meta(f, "spec");                        // NULL if absent
 *     st = ct_st_read_f32(f, "layers.0.weight", 4, expected_shape, host); // converts dtype
 *     ct_st_close(f);
 * Every error names the file (and tensor) and says what is wrong. */
#ifndef CT_SAFETENSORS_H
#define CT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "cltrain.h"

typedef enum ct_dtype {
    CT_DT_F32 = 0,
    CT_DT_F64,
    CT_DT_F16,
    CT_DT_BF16,
    CT_DT_I8,
    CT_DT_I16,
    CT_DT_I32,
    CT_DT_I64,
    CT_DT_U8,
    CT_DT_U16,
    CT_DT_U32,
    CT_DT_U64,
    CT_DT_BOOL,
    CT_DT_COUNT
} ct_dtype;

const char *ct_dtype_name(ct_dtype dt); /* "F32", ... */
size_t ct_dtype_size(ct_dtype dt);      /* bytes per element */
/* dtype from its safetensors name; -1 when unknown. */
int ct_dtype_parse(const char *name);

#define CT_ST_MAX_DIMS 8
/* Header limit (the reference implementation's, too). */
#define CT_ST_MAX_HEADER ((size_t)100 << 20)
/* Largest file ct_st_open reads. */
#define CT_ST_MAX_FILE ((size_t)1 << 34)

typedef struct ct_st_tensor {
    const char *name;
    ct_dtype dtype;
    int ndim;                        /* 0 for a scalar */
    int64_t shape[CT_ST_MAX_DIMS];
    size_t count;                    /* number of elements (1 for a scalar) */
    size_t begin, end;               /* data_offsets: bytes within the data area */
    const unsigned char *data;       /* end - begin bytes, little-endian; may be unaligned */
} ct_st_tensor;

/* ---- reading ------------------------------------------------------------ */
typedef struct ct_st_file ct_st_file;

/* Reads and validates the whole file: header length within the file and sane, JSON
 * object, known dtypes, shape product * dtype size == end - begin, offsets within the
 * data area and not overlapping, metadata values strings. */
ct_status ct_st_open(const char *path, ct_st_file **out);
/* The same from memory (len bytes at buf are copied); label names it in messages. */
ct_status ct_st_parse(const void *buf, size_t len, const char *label, ct_st_file **out);
void ct_st_close(ct_st_file *f);

/* Tensors in file order (order of data_offsets). */
int ct_st_count(const ct_st_file *f);
const ct_st_tensor *ct_st_tensor_at(const ct_st_file *f, int i);
/* Tensor by name, or NULL. */
const ct_st_tensor *ct_st_find(const ct_st_file *f, const char *name);

/* Metadata value for key, or NULL. */
const char *ct_st_meta(const ct_st_file *f, const char *key);
int ct_st_meta_count(const ct_st_file *f);
void ct_st_meta_at(const ct_st_file *f, int i, const char **key, const char **value);

/* Copies tensor name into out as floats, converting any numeric dtype (F16/BF16/F64/
 * integers/BOOL). If shape is not NULL the tensor must have exactly that shape (ndim
 * dims), else CT_ERR_FORMAT "model.safetensors: tensor 'x' has shape [3, 3] but the
 * model needs [3, 4]". A missing tensor is CT_ERR_FORMAT naming it. */
ct_status ct_st_read_f32(const ct_st_file *f, const char *name, int ndim, const int64_t *shape,
                         float *out);
/* The same for integers (F32/F64 must hold whole numbers). */
ct_status ct_st_read_i64(const ct_st_file *f, const char *name, int ndim, const int64_t *shape,
                         int64_t *out);

/* ---- writing ------------------------------------------------------------ */
typedef struct ct_st_writer ct_st_writer;

ct_status ct_st_writer_create(ct_st_writer **out);
void ct_st_writer_free(ct_st_writer *w);
/* Adds a tensor; data (count * dtype size bytes, host byte order = little-endian) is
 * copied. Names must be unique, non-empty and not "__metadata__". */
ct_status ct_st_writer_add(ct_st_writer *w, const char *name, ct_dtype dt, int ndim,
                           const int64_t *shape, const void *data);
/* Convenience for float tensors with int dimensions (as ct_param_info has them). */
ct_status ct_st_writer_add_f32(ct_st_writer *w, const char *name, int ndim, const int *shape,
                               const float *data);
/* Sets metadata key to value (both copied; setting a key again replaces it). */
ct_status ct_st_writer_meta(ct_st_writer *w, const char *key, const char *value);
/* Writes the file atomically (temp name, fsync, rename; nothing left on failure).
 * Tensors are laid out largest dtype first, then in the order added, so every
 * tensor's data is aligned to its element size. */
ct_status ct_st_writer_write(ct_st_writer *w, const char *path);

#endif
