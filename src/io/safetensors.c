/* safetensors reader and writer (see safetensors.h). The JSON header is built and
 * parsed with cJSON; everything from the file is validated before use. */
#include "io/safetensors.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "io/fileutil.h"
#include "base/error.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this reader/writer assumes a little-endian host"
#endif

static const struct {
    const char *name;
    size_t size;
} dtypes[CT_DT_COUNT] = {
    [CT_DT_F32] = {"F32", 4},  [CT_DT_F64] = {"F64", 8}, [CT_DT_F16] = {"F16", 2},
    [CT_DT_BF16] = {"BF16", 2}, [CT_DT_I8] = {"I8", 1},   [CT_DT_I16] = {"I16", 2},
    [CT_DT_I32] = {"I32", 4},  [CT_DT_I64] = {"I64", 8}, [CT_DT_U8] = {"U8", 1},
    [CT_DT_U16] = {"U16", 2},  [CT_DT_U32] = {"U32", 4}, [CT_DT_U64] = {"U64", 8},
    [CT_DT_BOOL] = {"BOOL", 1},
};

const char *ct_dtype_name(ct_dtype dt) { return (unsigned)dt < CT_DT_COUNT ? dtypes[dt].name : "?"; }
size_t ct_dtype_size(ct_dtype dt) { return (unsigned)dt < CT_DT_COUNT ? dtypes[dt].size : 0; }

int ct_dtype_parse(const char *name) {
    for (int i = 0; i < CT_DT_COUNT; i++)
        if (strcmp(name, dtypes[i].name) == 0) return i;
    return -1;
}

/* Largest integer a JSON number (a double) holds exactly. */
#define MAX_EXACT 9007199254740992.0

/* ======================================================================== */
/* reading                                                                  */
/* ======================================================================== */

struct ct_st_file {
    char *label;
    unsigned char *buf; /* the whole file */
    size_t len;
    ct_st_tensor *t;
    int n;
    char **meta_key, **meta_val;
    int n_meta;
};

void ct_st_close(ct_st_file *f) {
    if (!f) return;
    for (int i = 0; i < f->n; i++) free((char *)f->t[i].name);
    for (int i = 0; i < f->n_meta; i++) {
        free(f->meta_key[i]);
        free(f->meta_val[i]);
    }
    free(f->t);
    free(f->meta_key);
    free(f->meta_val);
    free(f->buf);
    free(f->label);
    free(f);
}

/* A JSON number that is a whole number in [0, 2^53]. */
static int json_size(const cJSON *j, size_t *out) {
    if (!cJSON_IsNumber(j)) return 0;
    double d = j->valuedouble;
    if (!(d >= 0) || d > MAX_EXACT || d != floor(d)) return 0;
    *out = (size_t)d;
    return 1;
}

static int cmp_begin(const void *a, const void *b) {
    const ct_st_tensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int cmp_str_ptr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A name that occurs twice among n records of size `size` whose char* name is at offset
 * `off`, or NULL. Sorting keeps this O(n log n): a header with a million entries must not
 * take quadratic time. */
static const char *first_duplicate(const void *recs, int n, size_t size, size_t off) {
    if (n < 2) return NULL;
    const char **names = malloc((size_t)n * sizeof *names);
    if (!names) return NULL; /* the lookups would still find the first one */
    for (int i = 0; i < n; i++)
        names[i] = *(const char *const *)((const char *)recs + (size_t)i * size + off);
    qsort(names, (size_t)n, sizeof *names, cmp_str_ptr);
    const char *dup = NULL;
    for (int i = 1; i < n && !dup; i++)
        if (!strcmp(names[i - 1], names[i])) dup = names[i];
    free(names);
    return dup;
}

static ct_status parse_metadata(ct_st_file *f, const cJSON *m) {
    const char *lb = f->label;
    if (cJSON_IsNull(m)) return CT_OK;
    if (!cJSON_IsObject(m))
        return ct_set_error(CT_ERR_FORMAT, "%s: corrupt header: __metadata__ is not an object", lb);
    int n = cJSON_GetArraySize(m);
    f->meta_key = calloc((size_t)n + 1, sizeof *f->meta_key);
    f->meta_val = calloc((size_t)n + 1, sizeof *f->meta_val);
    if (!f->meta_key || !f->meta_val) return ct_set_error(CT_ERR_MEMORY, "%s: out of host memory", lb);
    const cJSON *e;
    cJSON_ArrayForEach(e, m) {
        if (!cJSON_IsString(e))
            return ct_set_error(CT_ERR_FORMAT, "%s: corrupt header: metadata '%s' is not a string", lb,
                                e->string);
        f->meta_key[f->n_meta] = strdup(e->string);
        f->meta_val[f->n_meta] = strdup(e->valuestring);
        f->n_meta++;
        if (!f->meta_key[f->n_meta - 1] || !f->meta_val[f->n_meta - 1])
            return ct_set_error(CT_ERR_MEMORY, "%s: out of host memory", lb);
    }
    const char *dup = first_duplicate(f->meta_key, f->n_meta, sizeof *f->meta_key, 0);
    if (dup)
        return ct_set_error(CT_ERR_FORMAT, "%s: corrupt header: metadata '%s' appears twice", lb, dup);
    return CT_OK;
}

/* One tensor entry of the header into t (name already set). */
static ct_status parse_tensor(const char *lb, const cJSON *e, ct_st_tensor *t) {
    const char *nm = t->name;
    if (!cJSON_IsObject(e))
        return ct_set_error(CT_ERR_FORMAT, "%s: corrupt header: tensor '%s' is not an object", lb, nm);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt))
        return ct_set_error(CT_ERR_FORMAT, "%s: corrupt header: tensor '%s' has no dtype string", lb, nm);
    int d = ct_dtype_parse(dt->valuestring);
    if (d < 0)
        return ct_set_error(CT_ERR_FORMAT,
                            "%s: tensor '%s' has dtype '%.32s', which cltrain does not know (known: F32 F64 "
                            "F16 BF16 I8 I16 I32 I64 U8 U16 U32 U64 BOOL)",
                            lb, nm, dt->valuestring);
    t->dtype = (ct_dtype)d;
    if (!cJSON_IsArray(sh))
        return ct_set_error(CT_ERR_FORMAT, "%s: corrupt header: tensor '%s' has no shape list", lb, nm);
    int nd = cJSON_GetArraySize(sh);
    if (nd > CT_ST_MAX_DIMS)
        return ct_set_error(CT_ERR_FORMAT, "%s: tensor '%s' has %d dimensions, more than the %d supported",
                            lb, nm, nd, CT_ST_MAX_DIMS);
    t->ndim = nd;
    size_t count = 1;
    int overflow = 0;
    for (int i = 0; i < nd; i++) {
        size_t v;
        if (!json_size(cJSON_GetArrayItem(sh, i), &v))
            return ct_set_error(CT_ERR_FORMAT,
                                "%s: corrupt header: tensor '%s' has a shape entry that is not a whole "
                                "number >= 0", lb, nm);
        t->shape[i] = (int64_t)v;
        if (v && count > SIZE_MAX / v) overflow = 1;
        count *= v;
    }
    t->count = count;
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 ||
        !json_size(cJSON_GetArrayItem(off, 0), &t->begin) || !json_size(cJSON_GetArrayItem(off, 1), &t->end))
        return ct_set_error(CT_ERR_FORMAT,
                            "%s: corrupt header: tensor '%s' needs data_offsets [begin, end] of whole "
                            "numbers >= 0", lb, nm);
    if (t->end < t->begin)
        return ct_set_error(CT_ERR_FORMAT, "%s: corrupt header: tensor '%s' has data_offsets [%zu, %zu], end "
                            "before begin", lb, nm, t->begin, t->end);
    size_t es = ct_dtype_size(t->dtype);
    if (overflow || count > SIZE_MAX / es || count * es != t->end - t->begin)
        return ct_set_error(CT_ERR_FORMAT,
                            "%s: corrupt header: tensor '%s' (%s, %zu elements) needs %zu bytes but its "
                            "data_offsets [%zu, %zu] hold %zu",
                            lb, nm, ct_dtype_name(t->dtype), count, overflow ? SIZE_MAX : count * es,
                            t->begin, t->end, t->end - t->begin);
    return CT_OK;
}

static ct_status parse_header(ct_st_file *f, const char *h, size_t hlen, size_t data_len) {
    const char *lb = f->label;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(h, hlen, &end, 0);
    if (!root) {
        const char *ep = cJSON_GetErrorPtr();
        size_t at = (ep && ep >= h && ep <= h + hlen) ? (size_t)(ep - h) : 0;
        return ct_set_error(CT_ERR_FORMAT,
                            "%s: corrupt header: not valid JSON (at byte %zu of %zu); the file is damaged "
                            "or not a safetensors file", lb, at, hlen);
    }
    ct_status st = CT_OK;
    for (const char *p = end; p < h + hlen; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            st = ct_set_error(CT_ERR_FORMAT, "%s: corrupt header: bytes after the JSON object", lb);
            goto done;
        }
    if (!cJSON_IsObject(root)) {
        st = ct_set_error(CT_ERR_FORMAT, "%s: corrupt header: not a JSON object", lb);
        goto done;
    }
    int n = cJSON_GetArraySize(root);
    f->t = calloc((size_t)n + 1, sizeof *f->t);
    if (!f->t) {
        st = ct_set_error(CT_ERR_MEMORY, "%s: out of host memory", lb);
        goto done;
    }
    int seen_meta = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, root) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (seen_meta++) {
                st = ct_set_error(CT_ERR_FORMAT, "%s: corrupt header: __metadata__ appears twice", lb);
                goto done;
            }
            if ((st = parse_metadata(f, e)) != CT_OK) goto done;
            continue;
        }
        if (!e->string[0]) {
            st = ct_set_error(CT_ERR_FORMAT, "%s: corrupt header: a tensor has an empty name", lb);
            goto done;
        }
        ct_st_tensor *t = &f->t[f->n];
        if (!(t->name = strdup(e->string))) {
            st = ct_set_error(CT_ERR_MEMORY, "%s: out of host memory", lb);
            goto done;
        }
        f->n++;
        if ((st = parse_tensor(lb, e, t)) != CT_OK) goto done;
    }
    const char *dup = first_duplicate(f->t, f->n, sizeof *f->t, offsetof(ct_st_tensor, name));
    if (dup) {
        st = ct_set_error(CT_ERR_FORMAT, "%s: corrupt header: tensor '%s' appears twice", lb, dup);
        goto done;
    }
    /* Offsets: within the data area, and no two tensors share bytes. */
    if (f->n) qsort(f->t, (size_t)f->n, sizeof *f->t, cmp_begin);
    size_t max_end = 0;
    for (int i = 0; i < f->n; i++)
        if (f->t[i].end > max_end) max_end = f->t[i].end;
    if (max_end > data_len) {
        st = ct_set_error(CT_ERR_FORMAT, "%s: truncated: header says %zu bytes of data, file has %zu", lb,
                          max_end, data_len);
        goto done;
    }
    const ct_st_tensor *prev = NULL;
    for (int i = 0; i < f->n; i++) {
        const ct_st_tensor *t = &f->t[i];
        if (t->begin == t->end) continue;
        if (prev && t->begin < prev->end) {
            st = ct_set_error(CT_ERR_FORMAT,
                              "%s: corrupt header: tensors '%s' [%zu, %zu] and '%s' [%zu, %zu] overlap", lb,
                              prev->name, prev->begin, prev->end, t->name, t->begin, t->end);
            goto done;
        }
        prev = t;
    }
done:
    cJSON_Delete(root);
    return st;
}

/* Parses buf (len bytes, malloc'd), which the result owns; buf is freed on failure. */
static ct_status parse_owned(unsigned char *buf, size_t len, const char *label, ct_st_file **out) {
    *out = NULL;
    if (!label) label = "safetensors";
    ct_st_file *f = calloc(1, sizeof *f);
    if (!f || !(f->label = strdup(label))) {
        free(buf);
        ct_st_close(f);
        return ct_set_error(CT_ERR_MEMORY, "%s: out of host memory", label);
    }
    f->buf = buf;
    f->len = len;
    const char *lb = f->label;
    ct_status st = CT_OK;
    uint64_t hlen = 0;
    if (len == 0) {
        st = ct_set_error(CT_ERR_FORMAT, "%s: empty file, not a safetensors model", lb);
        goto fail;
    }
    if (len < 8) {
        st = ct_set_error(CT_ERR_FORMAT, "%s: truncated: %zu bytes, shorter than the 8-byte header length",
                          lb, len);
        goto fail;
    }
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | f->buf[i];
    if (hlen > CT_ST_MAX_HEADER) {
        st = ct_set_error(CT_ERR_FORMAT,
                          "%s: header length %llu is over the %zu-byte limit: not a safetensors file, or "
                          "damaged", lb, (unsigned long long)hlen, CT_ST_MAX_HEADER);
        goto fail;
    }
    if (hlen > len - 8) {
        st = ct_set_error(CT_ERR_FORMAT, "%s: truncated: header says %llu bytes of header, file has %zu", lb,
                          (unsigned long long)hlen, len - 8);
        goto fail;
    }
    if (hlen < 2) {
        st = ct_set_error(CT_ERR_FORMAT, "%s: corrupt header: %llu bytes cannot hold a JSON object", lb,
                          (unsigned long long)hlen);
        goto fail;
    }
    size_t data_off = 8 + (size_t)hlen;
    if ((st = parse_header(f, (const char *)f->buf + 8, (size_t)hlen, len - data_off)) != CT_OK) goto fail;
    for (int i = 0; i < f->n; i++) f->t[i].data = f->buf + data_off + f->t[i].begin;
    *out = f;
    return CT_OK;
fail:
    ct_st_close(f);
    return st;
}

ct_status ct_st_parse(const void *buf, size_t len, const char *label, ct_st_file **out) {
    *out = NULL;
    if (!label) label = "safetensors";
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy) return ct_set_error(CT_ERR_MEMORY, "%s: out of host memory for %zu bytes", label, len);
    if (len) memcpy(copy, buf, len);
    return parse_owned(copy, len, label, out);
}

ct_status ct_st_open(const char *path, ct_st_file **out) {
    *out = NULL;
    unsigned char *buf;
    size_t len;
    CT_TRY(ct_read_file(path, CT_ST_MAX_FILE, &buf, &len));
    return parse_owned(buf, len, path, out);
}

int ct_st_count(const ct_st_file *f) { return f->n; }
const ct_st_tensor *ct_st_tensor_at(const ct_st_file *f, int i) {
    return i >= 0 && i < f->n ? &f->t[i] : NULL;
}
const ct_st_tensor *ct_st_find(const ct_st_file *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->t[i].name, name) == 0) return &f->t[i];
    return NULL;
}
const char *ct_st_meta(const ct_st_file *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta_key[i], key) == 0) return f->meta_val[i];
    return NULL;
}
int ct_st_meta_count(const ct_st_file *f) { return f->n_meta; }
void ct_st_meta_at(const ct_st_file *f, int i, const char **key, const char **value) {
    *key = i >= 0 && i < f->n_meta ? f->meta_key[i] : NULL;
    *value = i >= 0 && i < f->n_meta ? f->meta_val[i] : NULL;
}

static float half_to_float(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    float v;
    if (e == 0)
        v = ldexpf((float)m, -24);
    else if (e == 31)
        v = m ? NAN : INFINITY;
    else
        v = ldexpf((float)(m | 1024), e - 25);
    return (h & 0x8000) ? -v : v;
}

/* Element i of t as a double (exact for every dtype but 64-bit integers over 2^53). */
static double element(const ct_st_tensor *t, size_t i) {
    const unsigned char *p = t->data + i * ct_dtype_size(t->dtype);
    union {
        float f;
        double d;
        int8_t i8;
        int16_t i16;
        int32_t i32;
        int64_t i64;
        uint8_t u8;
        uint16_t u16;
        uint32_t u32;
        uint64_t u64;
    } u;
    memcpy(&u, p, ct_dtype_size(t->dtype));
    switch (t->dtype) {
    case CT_DT_F32: return u.f;
    case CT_DT_F64: return u.d;
    case CT_DT_F16: return half_to_float(u.u16);
    case CT_DT_BF16: {
        uint32_t b = (uint32_t)u.u16 << 16;
        float f;
        memcpy(&f, &b, 4);
        return f;
    }
    case CT_DT_I8: return u.i8;
    case CT_DT_I16: return u.i16;
    case CT_DT_I32: return u.i32;
    case CT_DT_I64: return (double)u.i64;
    case CT_DT_U8: return u.u8;
    case CT_DT_U16: return u.u16;
    case CT_DT_U32: return u.u32;
    case CT_DT_U64: return (double)u.u64;
    case CT_DT_BOOL: return u.u8 != 0;
    case CT_DT_COUNT: break;
    }
    return NAN;
}

static void shape_str(char *s, size_t n, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(s, n, "[");
    for (int i = 0; i < ndim && k < n; i++)
        k += (size_t)snprintf(s + k, n - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < n) snprintf(s + k, n - k, "]");
}

/* The tensor, checked against the expected shape. */
static ct_status find_checked(const ct_st_file *f, const char *name, int ndim, const int64_t *shape,
                              const ct_st_tensor **out) {
    const ct_st_tensor *t = ct_st_find(f, name);
    if (!t)
        return ct_set_error(CT_ERR_FORMAT, "%s: has no tensor '%s' (is it a model of another architecture?)",
                            f->label, name);
    if (shape) {
        int same = t->ndim == ndim;
        for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
        if (!same) {
            char a[160], b[160];
            shape_str(a, sizeof a, t->ndim, t->shape);
            shape_str(b, sizeof b, ndim, shape);
            return ct_set_error(CT_ERR_FORMAT,
                                "%s: tensor '%s' has shape %s but the model needs %s (is it a model of "
                                "another architecture?)", f->label, name, a, b);
        }
    }
    *out = t;
    return CT_OK;
}

ct_status ct_st_read_f32(const ct_st_file *f, const char *name, int ndim, const int64_t *shape, float *out) {
    const ct_st_tensor *t;
    CT_TRY(find_checked(f, name, ndim, shape, &t));
    if (t->dtype == CT_DT_F32) {
        if (t->count) memcpy(out, t->data, t->count * 4);
        return CT_OK;
    }
    for (size_t i = 0; i < t->count; i++) out[i] = (float)element(t, i);
    return CT_OK;
}

ct_status ct_st_read_i64(const ct_st_file *f, const char *name, int ndim, const int64_t *shape, int64_t *out) {
    const ct_st_tensor *t;
    CT_TRY(find_checked(f, name, ndim, shape, &t));
    for (size_t i = 0; i < t->count; i++) {
        if (t->dtype == CT_DT_I64 || t->dtype == CT_DT_U64) {
            memcpy(&out[i], t->data + 8 * i, 8); /* exact, no trip through double */
            if (t->dtype == CT_DT_U64 && out[i] < 0)
                return ct_set_error(CT_ERR_FORMAT, "%s: tensor '%s' element %zu is too large for int64",
                                    f->label, name, i);
            continue;
        }
        double d = element(t, i);
        if (d != floor(d) || fabs(d) > MAX_EXACT)
            return ct_set_error(CT_ERR_FORMAT, "%s: tensor '%s' element %zu (%g) is not a whole number",
                                f->label, name, i, d);
        out[i] = (int64_t)d;
    }
    return CT_OK;
}

/* ======================================================================== */
/* writing                                                                  */
/* ======================================================================== */

typedef struct {
    char *name;
    ct_dtype dtype;
    int ndim;
    int64_t shape[CT_ST_MAX_DIMS];
    size_t nbytes;
    unsigned char *data;
    int order; /* insertion order, for a stable layout */
} w_entry;

struct ct_st_writer {
    w_entry *e;
    int n, cap;
    char **key, **val;
    int n_meta, cap_meta;
};

ct_status ct_st_writer_create(ct_st_writer **out) {
    *out = calloc(1, sizeof **out);
    return *out ? CT_OK : ct_set_error(CT_ERR_MEMORY, "safetensors writer: out of host memory");
}

void ct_st_writer_free(ct_st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) {
        free(w->e[i].name);
        free(w->e[i].data);
    }
    for (int i = 0; i < w->n_meta; i++) {
        free(w->key[i]);
        free(w->val[i]);
    }
    free(w->e);
    free(w->key);
    free(w->val);
    free(w);
}

ct_status ct_st_writer_add(ct_st_writer *w, const char *name, ct_dtype dt, int ndim, const int64_t *shape,
                           const void *data) {
    if (!name || !*name || strcmp(name, "__metadata__") == 0)
        return ct_set_error(CT_ERR_ARG, "safetensors writer: invalid tensor name '%s'", name ? name : "");
    if ((unsigned)dt >= CT_DT_COUNT || ndim < 0 || ndim > CT_ST_MAX_DIMS)
        return ct_set_error(CT_ERR_ARG, "safetensors writer: tensor '%s': bad dtype or %d dimensions", name,
                            ndim);
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->e[i].name, name) == 0)
            return ct_set_error(CT_ERR_ARG, "safetensors writer: tensor '%s' added twice", name);
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (double)shape[i] > MAX_EXACT ||
            (shape[i] && count > SIZE_MAX / ct_dtype_size(dt) / (size_t)shape[i]))
            return ct_set_error(CT_ERR_ARG, "safetensors writer: tensor '%s' has a bad shape", name);
        count *= (size_t)shape[i];
    }
    if (w->n == w->cap) {
        int nc = w->cap ? 2 * w->cap : 16;
        w_entry *ne = realloc(w->e, (size_t)nc * sizeof *ne);
        if (!ne) return ct_set_error(CT_ERR_MEMORY, "safetensors writer: out of host memory");
        w->e = ne;
        w->cap = nc;
    }
    w_entry *e = &w->e[w->n];
    memset(e, 0, sizeof *e);
    e->nbytes = count * ct_dtype_size(dt);
    e->name = strdup(name);
    e->data = malloc(e->nbytes ? e->nbytes : 1);
    if (!e->name || !e->data) {
        free(e->name);
        free(e->data);
        return ct_set_error(CT_ERR_MEMORY, "safetensors writer: out of host memory for tensor '%s'", name);
    }
    if (e->nbytes) memcpy(e->data, data, e->nbytes);
    e->dtype = dt;
    e->ndim = ndim;
    for (int i = 0; i < ndim; i++) e->shape[i] = shape[i];
    e->order = w->n++;
    return CT_OK;
}

ct_status ct_st_writer_add_f32(ct_st_writer *w, const char *name, int ndim, const int *shape,
                               const float *data) {
    int64_t s[CT_ST_MAX_DIMS];
    if (ndim < 0 || ndim > CT_ST_MAX_DIMS)
        return ct_set_error(CT_ERR_ARG, "safetensors writer: tensor '%s' has %d dimensions", name, ndim);
    for (int i = 0; i < ndim; i++) s[i] = shape[i];
    return ct_st_writer_add(w, name, CT_DT_F32, ndim, s, data);
}

ct_status ct_st_writer_meta(ct_st_writer *w, const char *key, const char *value) {
    if (!key || !value) return ct_set_error(CT_ERR_ARG, "safetensors writer: NULL metadata key or value");
    char *v = strdup(value);
    if (!v) return ct_set_error(CT_ERR_MEMORY, "safetensors writer: out of host memory");
    for (int i = 0; i < w->n_meta; i++)
        if (strcmp(w->key[i], key) == 0) {
            free(w->val[i]);
            w->val[i] = v;
            return CT_OK;
        }
    if (w->n_meta == w->cap_meta) {
        int nc = w->cap_meta ? 2 * w->cap_meta : 8;
        char **nk = realloc(w->key, (size_t)nc * sizeof *nk);
        if (nk) w->key = nk;
        char **nv = nk ? realloc(w->val, (size_t)nc * sizeof *nv) : NULL;
        if (nv) w->val = nv;
        if (!nk || !nv) {
            free(v);
            return ct_set_error(CT_ERR_MEMORY, "safetensors writer: out of host memory");
        }
        w->cap_meta = nc;
    }
    if (!(w->key[w->n_meta] = strdup(key))) {
        free(v);
        return ct_set_error(CT_ERR_MEMORY, "safetensors writer: out of host memory");
    }
    w->val[w->n_meta++] = v;
    return CT_OK;
}

/* Largest element first (keeps every tensor aligned to its element size), then as added. */
static int cmp_layout(const void *a, const void *b) {
    const w_entry *x = a, *y = b;
    size_t sx = ct_dtype_size(x->dtype), sy = ct_dtype_size(y->dtype);
    if (sx != sy) return sx > sy ? -1 : 1;
    return x->order - y->order;
}

/* The header JSON, padded with spaces to a multiple of 8 bytes (malloc'd). */
static ct_status build_header(ct_st_writer *w, char **out, size_t *out_len) {
    if (w->n) qsort(w->e, (size_t)w->n, sizeof *w->e, cmp_layout);
    cJSON *root = cJSON_CreateObject();
    if (!root) goto oom;
    if (w->n_meta) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        if (!m) goto oom;
        for (int i = 0; i < w->n_meta; i++)
            if (!cJSON_AddStringToObject(m, w->key[i], w->val[i])) goto oom;
    }
    size_t off = 0;
    for (int i = 0; i < w->n; i++) {
        const w_entry *e = &w->e[i];
        cJSON *t = cJSON_AddObjectToObject(root, e->name);
        if (!t || !cJSON_AddStringToObject(t, "dtype", ct_dtype_name(e->dtype))) goto oom;
        cJSON *sh = cJSON_AddArrayToObject(t, "shape");
        if (!sh) goto oom;
        for (int d = 0; d < e->ndim; d++) {
            cJSON *num = cJSON_CreateNumber((double)e->shape[d]);
            if (!num || !cJSON_AddItemToArray(sh, num)) goto oom;
        }
        cJSON *o = cJSON_AddArrayToObject(t, "data_offsets");
        cJSON *b = cJSON_CreateNumber((double)off), *en = cJSON_CreateNumber((double)(off + e->nbytes));
        if (!o || !b || !en || !cJSON_AddItemToArray(o, b) || !cJSON_AddItemToArray(o, en)) goto oom;
        off += e->nbytes;
    }
    char *js = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    root = NULL;
    if (!js) goto oom;
    size_t n = strlen(js), padded = (n + 7) / 8 * 8;
    char *h = realloc(js, padded + 1);
    if (!h) {
        free(js);
        goto oom;
    }
    memset(h + n, ' ', padded - n);
    h[padded] = 0;
    *out = h;
    *out_len = padded;
    return CT_OK;
oom:
    cJSON_Delete(root);
    return ct_set_error(CT_ERR_MEMORY, "safetensors writer: out of host memory for the header");
}

typedef struct {
    const ct_st_writer *w;
    const char *header;
    size_t hlen;
} write_ctx;

static ct_status write_body(FILE *f, void *ctx) {
    const write_ctx *c = ctx;
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)c->hlen >> (8 * i));
    fwrite(len8, 1, 8, f);
    fwrite(c->header, 1, c->hlen, f);
    for (int i = 0; i < c->w->n; i++)
        if (c->w->e[i].nbytes) fwrite(c->w->e[i].data, 1, c->w->e[i].nbytes, f);
    return CT_OK; /* stream errors are caught by ct_write_atomic */
}

ct_status ct_st_writer_write(ct_st_writer *w, const char *path) {
    write_ctx c = {w, NULL, 0};
    char *h = NULL;
    CT_TRY(build_header(w, &h, &c.hlen));
    c.header = h;
    ct_status st = ct_write_atomic(path, write_body, &c);
    free(h);
    return st;
}
