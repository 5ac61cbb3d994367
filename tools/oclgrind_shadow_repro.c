/* A minimal program that shows Oclgrind 21.10's --uninitialized plugin reporting memory that
 * is initialised (issue 13, item 4; docs/RESULTS.md "Oclgrind's --uninitialized reports").
 *
 * Every buffer a kernel reads is written in full first: x by the host
 * (clEnqueueWriteBuffer), ws by `copy` from x, and `stage` reads ws through local memory.
 * The result is right (y[0] = 63). Run:
 *
 *   oclgrind --uninitialized build/tools/oclgrind_shadow_repro 1   # clean
 *   oclgrind --uninitialized build/tools/oclgrind_shadow_repro 2   # clean
 *
 * Mode 2 first runs a kernel on three buffers of the same size and releases them, mode 1
 * the same with a fill; both are clean. Mode 3 does the same with buffers a quarter of the
 * size, and then Oclgrind reports "Uninitialized value written to global memory" in `copy`
 * and "... to local memory" in `stage` for every element past the first quarter: the new
 * buffers get the released buffers' ids, and the plugin keeps the old, smaller shadow
 * allocation (its kernelBegin allocates a shadow only where none is valid at the buffer's
 * address, and nothing frees it on release), so the bytes beyond the old size read as
 * poisoned however they were written. That is the pattern of cltrain's reports: the gemm
 * that reads the im2col workspace of work-group z = 1 (the second item, past the size of an
 * earlier check's buffer), and only when an earlier check had released smaller buffers
 * (the same conv check alone is clean). Hand-written: it exists to show a tool's bug. */
#include <CL/cl.h>
#include <stdio.h>
#include <stdlib.h>

static const char *src =
    "__kernel void add(__global const float *a, __global const float *b, __global float *c) {\n"
    "  int i = get_global_id(0); c[i] = a[i] + b[i]; }\n"
    "__kernel void copy(__global const float *x, __global float *ws) {\n"
    "  int i = get_global_id(0); ws[i] = x[i]; }\n"
    "__kernel void stage(__global const float *ws, __global float *y) {\n"
    "  __local float t[64]; int l = get_local_id(0), i = get_global_id(0);\n"
    "  t[l] = ws[i]; barrier(CLK_LOCAL_MEM_FENCE); y[i] = t[63 - l]; }\n";

enum { N = 256 };

static void die(const char *what, cl_int e) {
    fprintf(stderr, "oclgrind_shadow_repro: %s failed (%d)\n", what, e);
    exit(2);
}
#define CK(call)                                                                   \
    do {                                                                           \
        cl_int e_ = (call);                                                        \
        if (e_ != CL_SUCCESS) die(#call, e_);                                      \
    } while (0)

static cl_mem buf(cl_context ctx, size_t bytes) {
    cl_int e;
    cl_mem m = clCreateBuffer(ctx, CL_MEM_READ_WRITE, bytes, NULL, &e);
    if (e != CL_SUCCESS) die("clCreateBuffer", e);
    return m;
}

static void run(cl_command_queue q, cl_kernel k, size_t g, int nargs, cl_mem *args) {
    size_t l = 64;
    for (int i = 0; i < nargs; i++) CK(clSetKernelArg(k, (cl_uint)i, sizeof args[i], &args[i]));
    CK(clEnqueueNDRangeKernel(q, k, 1, NULL, &g, &l, 0, NULL, NULL));
}

int main(int argc, char **argv) {
    int mode = argc > 1 ? atoi(argv[1]) : 3;
    if (mode < 1 || mode > 3) {
        fprintf(stderr, "usage: oclgrind_shadow_repro [1|2|3]\n");
        return 2;
    }
    cl_platform_id p;
    cl_device_id d;
    cl_int e;
    CK(clGetPlatformIDs(1, &p, NULL));
    CK(clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 1, &d, NULL));
    cl_context ctx = clCreateContext(NULL, 1, &d, NULL, NULL, &e);
    if (e != CL_SUCCESS) die("clCreateContext", e);
    cl_command_queue q = clCreateCommandQueue(ctx, d, 0, &e);
    if (e != CL_SUCCESS) die("clCreateCommandQueue", e);
    cl_program pr = clCreateProgramWithSource(ctx, 1, &src, NULL, &e);
    if (e != CL_SUCCESS) die("clCreateProgramWithSource", e);
    CK(clBuildProgram(pr, 1, &d, "", NULL, NULL));
    cl_kernel kadd = clCreateKernel(pr, "add", &e), kcopy = clCreateKernel(pr, "copy", &e),
              kst = clCreateKernel(pr, "stage", &e);
    if (e != CL_SUCCESS) die("clCreateKernel", e);
    float h[N], out[N];
    for (int i = 0; i < N; i++) h[i] = (float)i;

    /* phase 1: c = a + b on buffers of N (modes 1, 2) or N/4 floats (mode 3), released */
    size_t n1 = mode == 3 ? N / 4 : N, s1 = n1 * sizeof(float);
    cl_mem ab[3] = {buf(ctx, s1), buf(ctx, s1), buf(ctx, s1)};
    CK(clEnqueueWriteBuffer(q, ab[0], CL_TRUE, 0, s1, h, 0, NULL, NULL));
    CK(clEnqueueWriteBuffer(q, ab[1], CL_TRUE, 0, s1, h, 0, NULL, NULL));
    if (mode == 1) {
        float nan = __builtin_nanf("");
        CK(clEnqueueFillBuffer(q, ab[2], &nan, sizeof nan, 0, s1, 0, NULL, NULL));
    }
    run(q, kadd, n1, 3, ab);
    CK(clEnqueueReadBuffer(q, ab[2], CL_TRUE, 0, s1, out, 0, NULL, NULL));
    for (int i = 0; i < 3; i++) CK(clReleaseMemObject(ab[i]));

    /* phase 2: x uploaded in full, ws = copy(x), y = stage(ws) */
    cl_mem x = buf(ctx, sizeof h), ws = buf(ctx, sizeof h), y = buf(ctx, sizeof h);
    CK(clEnqueueWriteBuffer(q, x, CL_TRUE, 0, sizeof h, h, 0, NULL, NULL));
    run(q, kcopy, N, 2, (cl_mem[]){x, ws});
    run(q, kst, N, 2, (cl_mem[]){ws, y});
    CK(clEnqueueReadBuffer(q, y, CL_TRUE, 0, sizeof out, out, 0, NULL, NULL));
    int ok = 1;
    for (int i = 0; i < N; i++) ok &= out[i] == (float)(i / 64 * 64 + 63 - i % 64);
    printf("mode %d: y %s (y[0] = %g, want 63)\n", mode, ok ? "right" : "WRONG", out[0]);
    clReleaseMemObject(x), clReleaseMemObject(ws), clReleaseMemObject(y);
    clReleaseKernel(kadd), clReleaseKernel(kcopy), clReleaseKernel(kst);
    clReleaseProgram(pr), clReleaseCommandQueue(q), clReleaseContext(ctx);
    return ok ? 0 : 1;
}
