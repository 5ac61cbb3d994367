/* Fault injection for the library's OpenCL calls: see runtime/fault.h. */
#define CT_FAULT_NO_WRAP
#include "runtime/runtime.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const call_names[] = {
#define CT_FAULT_NAME_(name, err) #name,
    CT_FAULT_CALLS(CT_FAULT_NAME_)
#undef CT_FAULT_NAME_
};
static const cl_int call_default_err[] = {
#define CT_FAULT_ERR_(name, err) err,
    CT_FAULT_CALLS(CT_FAULT_ERR_)
#undef CT_FAULT_ERR_
};

static atomic_long counts[CT_FAULT_N_CALLS];
enum { LIVE_MEM, LIVE_KERNEL, LIVE_PROGRAM, N_LIVE };
static const char *const live_names[N_LIVE] = {"live.mem", "live.kernel", "live.program"};
static atomic_long live[N_LIVE]; /* created minus released, counted while active */
static atomic_int active; /* 0 until the environment was read and asks for something */
static int fault_call = -1;
static long fault_n;
static cl_int fault_err;
static char count_path[4096];
static pthread_once_t once = PTHREAD_ONCE_INIT;

const char *ct_fault_call_name(int c) {
    return c >= 0 && c < CT_FAULT_N_CALLS ? call_names[c] : NULL;
}

int ct_fault_error_code(const char *name, cl_int *out) {
    char *end;
    long v = strtol(name, &end, 10);
    if (*name && !*end && v <= 0 && v > -10000) {
        *out = (cl_int)v;
        return 1;
    }
    for (int e = 0; e > -1200; e--) {
        if (e == -100) e = -1000; /* the core codes stop at -72; the KHR ones start at -1000 */
        if (!strcmp(ct_cl_error_name(e), name)) {
            *out = e;
            return 1;
        }
    }
    return 0;
}

static void write_counts(void) {
    FILE *f = fopen(count_path, "w");
    if (!f) return;
    for (int i = 0; i < CT_FAULT_N_CALLS; i++)
        fprintf(f, "%s %ld\n", call_names[i], atomic_load(&counts[i]));
    for (int i = 0; i < N_LIVE; i++) fprintf(f, "%s %ld\n", live_names[i], atomic_load(&live[i]));
    fclose(f);
}

/* A malformed CLTRAIN_FAULT is a test's mistake: it is said once on stderr and ignored (the
 * library has no other channel before a runtime exists). */
static void read_env(void) {
    const char *cp = getenv("CLTRAIN_FAULT_COUNT");
    int want = 0;
    if (cp && *cp) {
        snprintf(count_path, sizeof count_path, "%s", cp);
        atexit(write_counts);
        want = 1;
    }
    const char *spec = getenv("CLTRAIN_FAULT");
    if (spec && *spec) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", spec);
        char *n = strchr(buf, ':');
        char *err = n ? strchr(n + 1, ':') : NULL;
        if (n) *n++ = 0;
        if (err) *err++ = 0;
        int c = -1;
        for (int i = 0; i < CT_FAULT_N_CALLS; i++)
            if (!strcmp(buf, call_names[i])) c = i;
        char *end = NULL;
        long nv = n ? strtol(n, &end, 10) : 0;
        cl_int ev = c >= 0 ? call_default_err[c] : CL_SUCCESS;
        if (c < 0 || !n || *end || nv < 1 || (err && !ct_fault_error_code(err, &ev)) ||
            ev == CL_SUCCESS) {
            fprintf(stderr, "cltrain: CLTRAIN_FAULT='%s' ignored: expected <call>:<n>[:<error>] "
                            "with a wrapped call (runtime/fault.h), n >= 1 and a CL_ error name\n",
                    spec);
        } else {
            fault_call = c;
            fault_n = nv;
            fault_err = ev;
            want = 1;
        }
    }
    atomic_store(&active, want);
}

cl_int ct_fault_hit(ct_fault_call c) {
    static atomic_int checked;
    if (!atomic_load_explicit(&checked, memory_order_acquire)) {
        pthread_once(&once, read_env);
        atomic_store_explicit(&checked, 1, memory_order_release);
    }
    if (!atomic_load_explicit(&active, memory_order_relaxed) || c == CT_FAULT_N_CALLS)
        return CL_SUCCESS;
    long k = atomic_fetch_add(&counts[c], 1) + 1;
    return (int)c == fault_call && k == fault_n ? fault_err : CL_SUCCESS;
}

static int active_now(void) {
    (void)ct_fault_hit(CT_FAULT_N_CALLS); /* reads the environment once; counts nothing */
    return atomic_load_explicit(&active, memory_order_relaxed);
}

static void *born_(int kind, void *obj) {
    if (obj && active_now()) atomic_fetch_add(&live[kind], 1);
    return obj;
}
#define born(kind, obj) ((__typeof__(obj))born_(kind, (void *)(obj)))

static cl_int died(int kind, cl_int e) {
    if (e == CL_SUCCESS && active_now()) atomic_fetch_sub(&live[kind], 1);
    return e;
}

cl_int ct_fault_clReleaseMemObject(cl_mem m) { return died(LIVE_MEM, clReleaseMemObject(m)); }
cl_int ct_fault_clReleaseKernel(cl_kernel k) { return died(LIVE_KERNEL, clReleaseKernel(k)); }
cl_int ct_fault_clReleaseProgram(cl_program p) { return died(LIVE_PROGRAM, clReleaseProgram(p)); }

#define HIT_OR(call, fail_value)                                                                \
    cl_int fe_ = ct_fault_hit(CT_FAULT_##call);                                                 \
    if (fe_ != CL_SUCCESS) {                                                                    \
        if (err) *err = fe_;                                                                    \
        return fail_value;                                                                      \
    }
#define HIT_RET(call)                                                                           \
    cl_int fe_ = ct_fault_hit(CT_FAULT_##call);                                                 \
    if (fe_ != CL_SUCCESS) return fe_;

cl_context ct_fault_clCreateContext(const cl_context_properties *props, cl_uint n,
                                    const cl_device_id *devs,
                                    void(CL_CALLBACK *notify)(const char *, const void *, size_t,
                                                              void *),
                                    void *user, cl_int *err) {
    HIT_OR(clCreateContext, NULL);
    return clCreateContext(props, n, devs, notify, user, err);
}

cl_command_queue ct_fault_clCreateCommandQueue(cl_context ctx, cl_device_id dev,
                                               cl_command_queue_properties props, cl_int *err) {
    HIT_OR(clCreateCommandQueue, NULL);
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
    return clCreateCommandQueue(ctx, dev, props, err);
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
}

cl_mem ct_fault_clCreateBuffer(cl_context ctx, cl_mem_flags flags, size_t size, void *host,
                               cl_int *err) {
    HIT_OR(clCreateBuffer, NULL);
    return born(LIVE_MEM, clCreateBuffer(ctx, flags, size, host, err));
}

cl_mem ct_fault_clCreateSubBuffer(cl_mem buf, cl_mem_flags flags, cl_buffer_create_type type,
                                  const void *info, cl_int *err) {
    HIT_OR(clCreateSubBuffer, NULL);
    return born(LIVE_MEM, clCreateSubBuffer(buf, flags, type, info, err));
}

cl_program ct_fault_clCreateProgramWithSource(cl_context ctx, cl_uint n, const char **strings,
                                              const size_t *lengths, cl_int *err) {
    HIT_OR(clCreateProgramWithSource, NULL);
    return born(LIVE_PROGRAM, clCreateProgramWithSource(ctx, n, strings, lengths, err));
}

cl_program ct_fault_clCreateProgramWithBinary(cl_context ctx, cl_uint n, const cl_device_id *devs,
                                              const size_t *lengths,
                                              const unsigned char **binaries, cl_int *status,
                                              cl_int *err) {
    HIT_OR(clCreateProgramWithBinary, NULL);
    return born(LIVE_PROGRAM, clCreateProgramWithBinary(ctx, n, devs, lengths, binaries, status, err));
}

cl_int ct_fault_clBuildProgram(cl_program p, cl_uint n, const cl_device_id *devs, const char *opts,
                               void(CL_CALLBACK *notify)(cl_program, void *), void *user) {
    HIT_RET(clBuildProgram);
    return clBuildProgram(p, n, devs, opts, notify, user);
}

cl_kernel ct_fault_clCreateKernel(cl_program p, const char *name, cl_int *err) {
    HIT_OR(clCreateKernel, NULL);
    return born(LIVE_KERNEL, clCreateKernel(p, name, err));
}

cl_int ct_fault_clSetKernelArg(cl_kernel k, cl_uint i, size_t size, const void *value) {
    HIT_RET(clSetKernelArg);
    return clSetKernelArg(k, i, size, value);
}

cl_int ct_fault_clEnqueueNDRangeKernel(cl_command_queue q, cl_kernel k, cl_uint dims,
                                       const size_t *off, const size_t *gws, const size_t *lws,
                                       cl_uint nw, const cl_event *wait, cl_event *ev) {
    HIT_RET(clEnqueueNDRangeKernel);
    return clEnqueueNDRangeKernel(q, k, dims, off, gws, lws, nw, wait, ev);
}

cl_int ct_fault_clEnqueueWriteBuffer(cl_command_queue q, cl_mem m, cl_bool blocking, size_t off,
                                     size_t size, const void *ptr, cl_uint nw,
                                     const cl_event *wait, cl_event *ev) {
    HIT_RET(clEnqueueWriteBuffer);
    return clEnqueueWriteBuffer(q, m, blocking, off, size, ptr, nw, wait, ev);
}

cl_int ct_fault_clEnqueueReadBuffer(cl_command_queue q, cl_mem m, cl_bool blocking, size_t off,
                                    size_t size, void *ptr, cl_uint nw, const cl_event *wait,
                                    cl_event *ev) {
    HIT_RET(clEnqueueReadBuffer);
    return clEnqueueReadBuffer(q, m, blocking, off, size, ptr, nw, wait, ev);
}

cl_int ct_fault_clEnqueueFillBuffer(cl_command_queue q, cl_mem m, const void *pattern,
                                    size_t psize, size_t off, size_t size, cl_uint nw,
                                    const cl_event *wait, cl_event *ev) {
    HIT_RET(clEnqueueFillBuffer);
    return clEnqueueFillBuffer(q, m, pattern, psize, off, size, nw, wait, ev);
}

cl_int ct_fault_clEnqueueCopyBuffer(cl_command_queue q, cl_mem src, cl_mem dst, size_t soff,
                                    size_t doff, size_t size, cl_uint nw, const cl_event *wait,
                                    cl_event *ev) {
    HIT_RET(clEnqueueCopyBuffer);
    return clEnqueueCopyBuffer(q, src, dst, soff, doff, size, nw, wait, ev);
}

void *ct_fault_clEnqueueMapBuffer(cl_command_queue q, cl_mem m, cl_bool blocking,
                                  cl_map_flags flags, size_t off, size_t size, cl_uint nw,
                                  const cl_event *wait, cl_event *ev, cl_int *err) {
    HIT_OR(clEnqueueMapBuffer, NULL);
    return clEnqueueMapBuffer(q, m, blocking, flags, off, size, nw, wait, ev, err);
}

cl_int ct_fault_clFinish(cl_command_queue q) {
    HIT_RET(clFinish);
    return clFinish(q);
}

cl_int ct_fault_clWaitForEvents(cl_uint n, const cl_event *evs) {
    HIT_RET(clWaitForEvents);
    return clWaitForEvents(n, evs);
}
