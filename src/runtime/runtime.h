/* Internal runtime: devices, context/queue, program build + persistent binary cache,
 * the one error path, and kernel launch helpers. */
#ifndef CT_RUNTIME_H
#define CT_RUNTIME_H

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
/* after CL/cl.h: the library's OpenCL calls go through the fault injector */
#include "runtime/fault.h"
#include <stdarg.h>
#include <stdint.h>

#include "base/error.h"
#include "cltrain.h"

/* ---- OpenCL errors (the rest of the error path: base/error.h) ------- */
const char *ct_cl_error_name(cl_int err);

/* In a function returning ct_status: names the call, the symbolic error and file:line. */
#define CL_CHECK(call)                                                                          \
    do {                                                                                        \
        cl_int ct_e_ = (call);                                                                  \
        if (ct_e_ != CL_SUCCESS)                                                                \
            return ct_set_error(CT_ERR_CL, "%s failed: %s (%d) at %s:%d", #call,                \
                                ct_cl_error_name(ct_e_), (int)ct_e_, __FILE__, __LINE__);       \
    } while (0)

/* ---- devices ----------------------------------------------------------- */
typedef struct ct_device_info {
    int platform, device; /* indices as cldevices prints them */
    cl_platform_id pid;
    cl_device_id did;
    char name[256], vendor[256], platform_name[256], platform_version[256];
    char driver[128], version[128], c_version[64];
    cl_device_type type;
    cl_uint compute_units, clock_mhz;
    cl_ulong global_mem, local_mem, max_alloc;
    size_t max_wg;
    cl_uint base_align_bytes;
    int fp16, fp64;
    int c_major, c_minor; /* from CL_DEVICE_OPENCL_C_VERSION */
    int is_default;
} ct_device_info;

/* All devices over all platforms. *out is malloc'd (free it). n may be 0. */
ct_status ct_devices_enumerate(ct_device_info **out, int *n);
/* Index into list of the default device (first GPU, else first CPU, else first). -1 if n==0 */
int ct_devices_default(const ct_device_info *list, int n);
const char *ct_device_type_str(cl_device_type t);

/* ---- runtime ----------------------------------------------------------- */
typedef struct ct_program_entry {
    char *name;    /* program name = cl file stem, e.g. "conv" */
    char *options; /* full build options */
    cl_program prog;
    int from_cache;
} ct_program_entry;

typedef struct ct_prof_entry {
    char name[64];
    double ms;
    long count;
} ct_prof_entry;

struct ct_runtime {
    ct_device_info dev;
    cl_context ctx;
    cl_command_queue q;
    unsigned flags;
    size_t local_mem; /* usable local memory: device's, or less via CLTRAIN_LOCAL_MEM */
    size_t max_wg;    /* usable work-group size (device's, or less via CLTRAIN_MAX_WG) */
    ct_program_entry *progs;
    int n_progs, cap_progs;
    int n_built, n_cached; /* programs compiled vs loaded from the disk cache */
    double setup_seconds;  /* time spent obtaining programs */
    ct_prof_entry *prof;
    int n_prof, cap_prof;
    _Atomic size_t mem_bytes;    /* device memory this runtime's buffers hold (runtime/tensor.c) */
    void *ops;                   /* op state (kernels, tuning table); owned by src/ops/ops_gemm.c */
    void (*ops_free)(void *ops); /* called by ct_runtime_free */
};

/* Build options for a program: -cl-std from the device's OpenCL C version, device
 * facts as -D, plus extra (may be NULL): the ops pass their variant's -D's (block sizes,
 * tile sizes, kernel size) as extra, so this is where every option list is assembled. */
void ct_build_options(const ct_runtime *rt, const char *extra, char *out, size_t outlen);

/* Program by cl file stem ("conv") and extra options; built once per runtime, binaries
 * cached on disk. */
ct_status ct_program_get(ct_runtime *rt, const char *name, const char *extra, cl_program *out);
/* New kernel object from that program (caller releases it). */
ct_status ct_kernel_create(ct_runtime *rt, const char *program, const char *kernel,
                           const char *extra, cl_kernel *out);

/* Kernel sources (embedded at build time, or from $CLTRAIN_KERNEL_DIR). */
typedef struct ct_kernel_source {
    const char *name; /* file stem */
    const char *text; /* local #includes already inlined */
} ct_kernel_source;
extern const ct_kernel_source ct_kernel_sources[];
extern const int ct_kernel_sources_count;
/* Text of program `name`: from $CLTRAIN_KERNEL_DIR if set (caller frees *owned), else embedded. */
ct_status ct_kernel_source_get(const char *name, const char **text, char **owned);

/* Launch: gws rounded up to a multiple of lws (lws may be NULL). With profiling on,
 * the time is added to the table under the kernel's name. */
ct_status ct_launch(ct_runtime *rt, cl_kernel k, cl_uint dims, const size_t *gws, const size_t *lws);
void ct_profile_print(const ct_runtime *rt, FILE *f);
void ct_profile_reset(ct_runtime *rt);

/* Argument helper: set args in order. */
ct_status ct_set_args(cl_kernel k, int n, ...); /* n pairs of (size_t size, const void *ptr) */

/* ---- disk cache (cache.c) --------------------------------------------- */
/* Directory in use (CLTRAIN_CACHE_DIR, XDG_CACHE_HOME/cltrain, ~/.cache/cltrain), or NULL
 * when CLTRAIN_CACHE=off or no home. */
const char *ct_cache_dir(void);
/* key: full description string. Returns 1 and a malloc'd binary on a valid hit. */
int ct_cache_load(const char *key, unsigned char **bin, size_t *len);
void ct_cache_store(const char *key, const unsigned char *bin, size_t len);

#endif
