/* Device memory: checked buffers, slabs and (offset, shape) views.
 *
 * A slab is one cl_mem holding many tensors. Reserve views first (each offset is
 * padded to the device's base-address alignment), then allocate once; each view then
 * gets a sub-buffer so kernels take plain pointers. Padding stays zero. */
#ifndef CT_TENSOR_H
#define CT_TENSOR_H

#include "runtime/runtime.h"

#define CT_MAX_DIMS 4

typedef struct ct_view {
    char name[64];
    size_t off; /* in floats, from the slab start */
    size_t n;   /* floats */
    int ndim;
    int shape[CT_MAX_DIMS];
    cl_mem mem; /* sub-buffer, valid after ct_slab_alloc */
} ct_view;

typedef struct ct_slab {
    char name[64];
    ct_runtime *rt;
    size_t n;           /* floats, including padding */
    size_t align;       /* floats */
    cl_mem mem;
    ct_view *views;
    int n_views, cap_views;
} ct_slab;

void ct_slab_init(ct_slab *s, ct_runtime *rt, const char *name);
/* Reserves a view; returns its index (>= 0), or -1 on host OOM. */
int ct_slab_reserve(ct_slab *s, const char *name, int ndim, const int *shape);
/* Allocates the device buffer (zero-filled) and the views' sub-buffers. Fails with
 * CT_ERR_MEMORY naming the slab and both sizes when over the device's limits. */
ct_status ct_slab_alloc(ct_slab *s);
void ct_slab_free(ct_slab *s);
static inline ct_view *ct_slab_view(ct_slab *s, int i) { return &s->views[i]; }

/* One device buffer, checked against CL_DEVICE_MAX_MEM_ALLOC_SIZE and global memory. */
ct_status ct_buffer_create(ct_runtime *rt, const char *name, size_t bytes, cl_mem_flags flags,
                           cl_mem *out);
ct_status ct_upload(ct_runtime *rt, cl_mem m, size_t off_bytes, size_t bytes, const void *src);
ct_status ct_download(ct_runtime *rt, cl_mem m, size_t off_bytes, size_t bytes, void *dst);
ct_status ct_fill(ct_runtime *rt, cl_mem m, size_t off_bytes, size_t bytes, float value);

size_t ct_shape_count(int ndim, const int *shape);

#endif
