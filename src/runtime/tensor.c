/* Checked device buffers, slabs and views. */
#include "runtime/tensor.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

size_t ct_shape_count(int ndim, const int *shape) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    return n;
}

/* Buffers on CPU devices, summed over every runtime of the process: CPU devices (two PoCL
 * pthread devices, say) each report the host's memory as their own, but they share it, so
 * a check per runtime let two replicas together take more than the host has, and the
 * kernel's OOM killer ended the run instead of an error. */
static _Atomic size_t host_backed_bytes;

static int host_backed(const ct_runtime *rt) { return (rt->dev.type & CL_DEVICE_TYPE_CPU) != 0; }

static ct_status check_size(ct_runtime *rt, const char *name, size_t bytes) {
    const ct_device_info *d = &rt->dev;
    if (bytes > d->max_alloc)
        return ct_set_error(CT_ERR_MEMORY,
                            "tensor '%s' needs %.1f MiB but device %s allows at most %.1f MiB in one "
                            "buffer (CL_DEVICE_MAX_MEM_ALLOC_SIZE); use a smaller --batch-size or "
                            "input size",
                            name, bytes / 1048576.0, d->name, d->max_alloc / 1048576.0);
    if (bytes > d->global_mem)
        return ct_set_error(CT_ERR_MEMORY,
                            "tensor '%s' needs %.1f MiB but device %s has %.1f MiB of global memory; "
                            "use a smaller --batch-size or input size",
                            name, bytes / 1048576.0, d->name, d->global_mem / 1048576.0);
    /* The sum matters too: every buffer may fit alone while the model does not. On a CPU
     * device the memory is the process's own, so an address-space limit (ulimit -v) bounds
     * it as well; past it PoCL aborts instead of failing the allocation. */
    size_t limit = (size_t)d->global_mem;
    const char *what = "global memory";
    struct rlimit rl;
    if ((d->type & CL_DEVICE_TYPE_CPU) && getrlimit(RLIMIT_AS, &rl) == 0 &&
        rl.rlim_cur != RLIM_INFINITY && (size_t)rl.rlim_cur / 4 * 3 < limit) {
        limit = (size_t)rl.rlim_cur / 4 * 3; /* leave room for the host side of the run */
        what = "memory the process may use (ulimit -v, less a quarter for the host side)";
    }
    size_t in_use = host_backed(rt) ? (size_t)host_backed_bytes : (size_t)rt->mem_bytes;
    const char *shared = host_backed(rt) && in_use > rt->mem_bytes
                             ? " (this run's CPU devices share the host's memory)"
                             : "";
    if (bytes > limit || in_use > limit - bytes)
        return ct_set_error(CT_ERR_MEMORY,
                            "tensor '%s' (%.1f MiB) would bring this run's device memory to %.1f "
                            "MiB, more than the %.1f MiB of %s on %s%s; use a smaller --batch-size "
                            "or input size",
                            name, bytes / 1048576.0, (in_use + (double)bytes) / 1048576.0,
                            limit / 1048576.0, what, d->name, shared);
    return CT_OK;
}

typedef struct mem_record {
    ct_runtime *rt;
    size_t bytes;
} mem_record;

static void CL_CALLBACK mem_released(cl_mem m, void *user) {
    (void)m;
    mem_record *r = user;
    r->rt->mem_bytes -= r->bytes;
    if (host_backed(r->rt)) host_backed_bytes -= r->bytes;
    free(r);
}

ct_status ct_buffer_create(ct_runtime *rt, const char *name, size_t bytes, cl_mem_flags flags,
                           cl_mem *out) {
    *out = NULL;
    if (bytes == 0) bytes = 4;
    CT_TRY(check_size(rt, name, bytes));
    cl_int e;
    *out = clCreateBuffer(rt->ctx, flags, bytes, NULL, &e);
    if (e != CL_SUCCESS)
        return ct_set_error(CT_ERR_MEMORY, "allocating tensor '%s' (%.1f MiB) on %s failed: clCreateBuffer: %s; use "
                            "a smaller --batch-size",
                            name, bytes / 1048576.0, rt->dev.name, ct_cl_error_name(e));
    /* count it until the buffer is released, wherever that happens */
    mem_record *r = malloc(sizeof *r);
    if (r) {
        r->rt = rt;
        r->bytes = bytes;
        if (clSetMemObjectDestructorCallback(*out, mem_released, r) == CL_SUCCESS) {
            rt->mem_bytes += bytes;
            if (host_backed(rt)) host_backed_bytes += bytes;
        } else
            free(r);
    }
    return CT_OK;
}

void ct_slab_init(ct_slab *s, ct_runtime *rt, const char *name) {
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->rt = rt;
    size_t a = rt->dev.base_align_bytes / sizeof(float);
    s->align = a ? a : 32;
}

int ct_slab_reserve(ct_slab *s, const char *name, int ndim, const int *shape) {
    if (s->n_views == s->cap_views) {
        int nc = s->cap_views ? s->cap_views * 2 : 16;
        ct_view *nv = realloc(s->views, (size_t)nc * sizeof *nv);
        if (!nv) return -1;
        s->views = nv;
        s->cap_views = nc;
    }
    ct_view *v = &s->views[s->n_views];
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s", name);
    v->ndim = ndim;
    for (int i = 0; i < ndim && i < CT_MAX_DIMS; i++) v->shape[i] = shape[i];
    v->n = ct_shape_count(ndim, shape);
    v->off = (s->n + s->align - 1) / s->align * s->align;
    s->n = v->off + v->n;
    return s->n_views++;
}

ct_status ct_slab_alloc(ct_slab *s) {
    size_t bytes = (s->n ? s->n : 1) * sizeof(float);
    CT_TRY(ct_buffer_create(s->rt, s->name, bytes, CL_MEM_READ_WRITE, &s->mem));
    CT_TRY(ct_fill(s->rt, s->mem, 0, bytes, 0.0f));
    for (int i = 0; i < s->n_views; i++) {
        ct_view *v = &s->views[i];
        cl_buffer_region r = {v->off * sizeof(float), (v->n ? v->n : 1) * sizeof(float)};
        cl_int e;
        v->mem = clCreateSubBuffer(s->mem, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &r, &e);
        if (e != CL_SUCCESS)
            return ct_set_error(CT_ERR_CL, "clCreateSubBuffer for tensor '%s' in slab '%s' failed: %s",
                                v->name, s->name, ct_cl_error_name(e));
    }
    return CT_OK;
}

void ct_slab_free(ct_slab *s) {
    for (int i = 0; i < s->n_views; i++)
        if (s->views[i].mem) clReleaseMemObject(s->views[i].mem);
    if (s->mem) clReleaseMemObject(s->mem);
    free(s->views);
    memset(s, 0, sizeof *s);
}

ct_status ct_upload(ct_runtime *rt, cl_mem m, size_t off, size_t bytes, const void *src) {
    CL_CHECK(clEnqueueWriteBuffer(rt->q, m, CL_TRUE, off, bytes, src, 0, NULL, NULL));
    return CT_OK;
}

ct_status ct_download(ct_runtime *rt, cl_mem m, size_t off, size_t bytes, void *dst) {
    CL_CHECK(clEnqueueReadBuffer(rt->q, m, CL_TRUE, off, bytes, dst, 0, NULL, NULL));
    return CT_OK;
}

ct_status ct_fill(ct_runtime *rt, cl_mem m, size_t off, size_t bytes, float value) {
    CL_CHECK(clEnqueueFillBuffer(rt->q, m, &value, sizeof value, off, bytes, 0, NULL, NULL));
    return CT_OK;
}
