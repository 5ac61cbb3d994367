/* Fault injection for the OpenCL calls the library makes (tests; see docs/ARCHITECTURE.md).
 *
 * Always compiled in, inactive unless the environment asks:
 *   CLTRAIN_FAULT=<call>:<n>[:<error name>]  the n-th call (1-based, counted over the whole
 *       process, all threads) of <call> fails with that error (default: a plausible one per
 *       call, see fault.c); the call itself is not made.
 *   CLTRAIN_FAULT_COUNT=<file>  at exit, write "<call> <count>" for every wrapped call, then
 *       "live.mem|live.kernel|live.program <n>": objects the library created and did not
 *       release (not 0 after a clean exit: a leak LeakSanitizer cannot see, the objects
 *       being the driver's allocations).
 * When neither is set, a wrapped call costs one relaxed atomic load more than the call.
 *
 * Included by runtime/runtime.h right after CL/cl.h: every listed entry point called in src/
 * then goes through ct_fault_<name>, which calls the real one unless its fault is due. The
 * macros are function-like, so CL_CHECK's #call still names the call as written. */
#ifndef CT_RUNTIME_FAULT_H
#define CT_RUNTIME_FAULT_H

#include <CL/cl.h>

/* X(name, default error) for every wrapped OpenCL entry point. */
#define CT_FAULT_CALLS(X)                                                                       \
    X(clCreateContext, CL_DEVICE_NOT_AVAILABLE)                                                 \
    X(clCreateCommandQueue, CL_OUT_OF_RESOURCES)                                                \
    X(clCreateBuffer, CL_MEM_OBJECT_ALLOCATION_FAILURE)                                         \
    X(clCreateSubBuffer, CL_MEM_OBJECT_ALLOCATION_FAILURE)                                      \
    X(clCreateProgramWithSource, CL_OUT_OF_HOST_MEMORY)                                         \
    X(clCreateProgramWithBinary, CL_OUT_OF_HOST_MEMORY)                                         \
    X(clBuildProgram, CL_OUT_OF_RESOURCES)                                                      \
    X(clCreateKernel, CL_OUT_OF_RESOURCES)                                                      \
    X(clSetKernelArg, CL_OUT_OF_RESOURCES)                                                      \
    X(clEnqueueNDRangeKernel, CL_OUT_OF_RESOURCES)                                              \
    X(clEnqueueWriteBuffer, CL_OUT_OF_RESOURCES)                                                \
    X(clEnqueueReadBuffer, CL_OUT_OF_RESOURCES)                                                 \
    X(clEnqueueFillBuffer, CL_OUT_OF_RESOURCES)                                                 \
    X(clEnqueueCopyBuffer, CL_OUT_OF_RESOURCES)                                                 \
    X(clEnqueueMapBuffer, CL_MAP_FAILURE)                                                       \
    X(clFinish, CL_INVALID_COMMAND_QUEUE)                                                       \
    X(clWaitForEvents, CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)

typedef enum {
#define CT_FAULT_ENUM_(name, err) CT_FAULT_##name,
    CT_FAULT_CALLS(CT_FAULT_ENUM_)
#undef CT_FAULT_ENUM_
    CT_FAULT_N_CALLS
} ct_fault_call;

/* Counts one call of `c`; returns the error to inject, or CL_SUCCESS to make the call. */
cl_int ct_fault_hit(ct_fault_call c);
/* Name of a wrapped call ("clFinish"), NULL past the end. */
const char *ct_fault_call_name(int c);
/* Error code by symbolic name ("CL_OUT_OF_RESOURCES") or number; 1 on success. */
int ct_fault_error_code(const char *name, cl_int *out);

cl_context ct_fault_clCreateContext(const cl_context_properties *props, cl_uint n,
                                    const cl_device_id *devs,
                                    void(CL_CALLBACK *notify)(const char *, const void *, size_t,
                                                              void *),
                                    void *user, cl_int *err);
cl_command_queue ct_fault_clCreateCommandQueue(cl_context ctx, cl_device_id dev,
                                               cl_command_queue_properties props, cl_int *err);
cl_mem ct_fault_clCreateBuffer(cl_context ctx, cl_mem_flags flags, size_t size, void *host,
                               cl_int *err);
cl_mem ct_fault_clCreateSubBuffer(cl_mem buf, cl_mem_flags flags, cl_buffer_create_type type,
                                  const void *info, cl_int *err);
cl_program ct_fault_clCreateProgramWithSource(cl_context ctx, cl_uint n, const char **strings,
                                              const size_t *lengths, cl_int *err);
cl_program ct_fault_clCreateProgramWithBinary(cl_context ctx, cl_uint n, const cl_device_id *devs,
                                              const size_t *lengths,
                                              const unsigned char **binaries, cl_int *status,
                                              cl_int *err);
cl_int ct_fault_clBuildProgram(cl_program p, cl_uint n, const cl_device_id *devs, const char *opts,
                               void(CL_CALLBACK *notify)(cl_program, void *), void *user);
cl_kernel ct_fault_clCreateKernel(cl_program p, const char *name, cl_int *err);
cl_int ct_fault_clSetKernelArg(cl_kernel k, cl_uint i, size_t size, const void *value);
cl_int ct_fault_clEnqueueNDRangeKernel(cl_command_queue q, cl_kernel k, cl_uint dims,
                                       const size_t *off, const size_t *gws, const size_t *lws,
                                       cl_uint nw, const cl_event *wait, cl_event *ev);
cl_int ct_fault_clEnqueueWriteBuffer(cl_command_queue q, cl_mem m, cl_bool blocking, size_t off,
                                     size_t size, const void *ptr, cl_uint nw,
                                     const cl_event *wait, cl_event *ev);
cl_int ct_fault_clEnqueueReadBuffer(cl_command_queue q, cl_mem m, cl_bool blocking, size_t off,
                                    size_t size, void *ptr, cl_uint nw, const cl_event *wait,
                                    cl_event *ev);
cl_int ct_fault_clEnqueueFillBuffer(cl_command_queue q, cl_mem m, const void *pattern,
                                    size_t psize, size_t off, size_t size, cl_uint nw,
                                    const cl_event *wait, cl_event *ev);
cl_int ct_fault_clEnqueueCopyBuffer(cl_command_queue q, cl_mem src, cl_mem dst, size_t soff,
                                    size_t doff, size_t size, cl_uint nw, const cl_event *wait,
                                    cl_event *ev);
void *ct_fault_clEnqueueMapBuffer(cl_command_queue q, cl_mem m, cl_bool blocking,
                                  cl_map_flags flags, size_t off, size_t size, cl_uint nw,
                                  const cl_event *wait, cl_event *ev, cl_int *err);
cl_int ct_fault_clReleaseMemObject(cl_mem m);
cl_int ct_fault_clReleaseKernel(cl_kernel k);
cl_int ct_fault_clReleaseProgram(cl_program p);
cl_int ct_fault_clFinish(cl_command_queue q);
cl_int ct_fault_clWaitForEvents(cl_uint n, const cl_event *evs);

#ifndef CT_FAULT_NO_WRAP
#define clCreateContext(...) ct_fault_clCreateContext(__VA_ARGS__)
#define clCreateCommandQueue(...) ct_fault_clCreateCommandQueue(__VA_ARGS__)
#define clCreateBuffer(...) ct_fault_clCreateBuffer(__VA_ARGS__)
#define clCreateSubBuffer(...) ct_fault_clCreateSubBuffer(__VA_ARGS__)
#define clCreateProgramWithSource(...) ct_fault_clCreateProgramWithSource(__VA_ARGS__)
#define clCreateProgramWithBinary(...) ct_fault_clCreateProgramWithBinary(__VA_ARGS__)
#define clBuildProgram(...) ct_fault_clBuildProgram(__VA_ARGS__)
#define clCreateKernel(...) ct_fault_clCreateKernel(__VA_ARGS__)
#define clSetKernelArg(...) ct_fault_clSetKernelArg(__VA_ARGS__)
#define clEnqueueNDRangeKernel(...) ct_fault_clEnqueueNDRangeKernel(__VA_ARGS__)
#define clEnqueueWriteBuffer(...) ct_fault_clEnqueueWriteBuffer(__VA_ARGS__)
#define clEnqueueReadBuffer(...) ct_fault_clEnqueueReadBuffer(__VA_ARGS__)
#define clEnqueueFillBuffer(...) ct_fault_clEnqueueFillBuffer(__VA_ARGS__)
#define clEnqueueCopyBuffer(...) ct_fault_clEnqueueCopyBuffer(__VA_ARGS__)
#define clEnqueueMapBuffer(...) ct_fault_clEnqueueMapBuffer(__VA_ARGS__)
#define clReleaseMemObject(...) ct_fault_clReleaseMemObject(__VA_ARGS__)
#define clReleaseKernel(...) ct_fault_clReleaseKernel(__VA_ARGS__)
#define clReleaseProgram(...) ct_fault_clReleaseProgram(__VA_ARGS__)
#define clFinish(...) ct_fault_clFinish(__VA_ARGS__)
#define clWaitForEvents(...) ct_fault_clWaitForEvents(__VA_ARGS__)
#endif

#endif
