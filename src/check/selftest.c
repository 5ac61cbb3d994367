#include "check/selftest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/tensor.h"

void ct_fill_random(float *x, size_t n, uint64_t seed, float lo, float hi) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
    for (size_t i = 0; i < n; i++) {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        uint64_t r = s * 0x2545F4914F6CDD1Dull;
        x[i] = lo + (hi - lo) * (float)((r >> 40) * (1.0 / 16777216.0));
    }
}

double ct_compare(const float *got, const float *want, size_t n, double atol, double rtol) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(got[i]) || isnan(want[i]) || isinf(got[i])) return INFINITY;
        double e = fabs((double)got[i] - (double)want[i]) / (atol + rtol * fabs((double)want[i]));
        if (e > worst) worst = e;
    }
    return worst;
}

ct_status ct_poison(ct_runtime *rt, cl_mem m, size_t bytes) { return ct_fill(rt, m, 0, bytes, NAN); }

/* The trivial program: proves the device builds and runs code at all. */
ct_status ct_check_selfcheck_axpy(ct_runtime *rt, double *max_err) {
    enum { N = 1000 };
    float x[N], y[N], want[N], got[N];
    ct_fill_random(x, N, 1, -1, 1);
    ct_fill_random(y, N, 2, -1, 1);
    for (int i = 0; i < N; i++) want[i] = 0.5f * x[i] + y[i];
    cl_kernel k;
    CT_TRY(ct_kernel_create(rt, "selfcheck", "ct_axpy", NULL, &k));
    cl_mem bx = NULL, by = NULL;
    ct_status s = ct_buffer_create(rt, "axpy.x", sizeof x, CL_MEM_READ_WRITE, &bx);
    if (s == CT_OK) s = ct_buffer_create(rt, "axpy.y", sizeof y, CL_MEM_READ_WRITE, &by);
    if (s == CT_OK) s = ct_upload(rt, bx, 0, sizeof x, x);
    if (s == CT_OK) s = ct_upload(rt, by, 0, sizeof y, y);
    int n = N;
    float a = 0.5f;
    if (s == CT_OK) s = ct_set_args(k, 4, sizeof n, &n, sizeof a, &a, sizeof bx, &bx, sizeof by, &by);
    size_t g = N, l = 64 < rt->max_wg ? 64 : rt->max_wg;
    if (s == CT_OK) s = ct_launch(rt, k, 1, &g, &l);
    if (s == CT_OK) s = ct_download(rt, by, 0, sizeof got, got);
    if (s == CT_OK) *max_err = ct_compare(got, want, N, 1e-6, 1e-6);
    if (bx) clReleaseMemObject(bx);
    if (by) clReleaseMemObject(by);
    clReleaseKernel(k);
    return s;
}

int ct_selftest_run(ct_runtime *rt, const ct_selftest *table, int n, FILE *f) {
    int fails = 0;
    double t0 = ct_now();
    /* Build every embedded program first, so setup time and cache hits cover all of them. */
    for (int i = 0; i < ct_kernel_sources_count; i++) {
        cl_program p;
        if (ct_program_get(rt, ct_kernel_sources[i].name, NULL, &p) != CT_OK) {
            fprintf(f, "program %-24s FAILED to build: %s\n", ct_kernel_sources[i].name, ct_last_error());
            fails++;
        }
    }
    int n_progs = rt->n_progs, n_cached = rt->n_cached;
    double setup = ct_now() - t0;
    for (int i = 0; i < n; i++) {
        double err = 0;
        double t = ct_now();
        ct_status s = table[i].run(rt, &err);
        t = ct_now() - t;
        if (s != CT_OK) {
            fprintf(f, "%-32s FAILED: %s\n", table[i].name, ct_last_error());
            fails++;
        } else if (err < 0) {
            fprintf(f, "%-32s skipped (no variant of it runs on this device)\n",
                    table[i].name);
        } else if (!(err <= 1.0)) {
            fprintf(f, "%-32s FAILED  max error %.3g x tolerance\n", table[i].name, err);
            fails++;
        } else {
            fprintf(f, "%-32s ok      max error %.3g x tolerance  (%.0f ms)\n", table[i].name,
                    err, t * 1e3);
        }
    }
    fprintf(f, "kernels: %d programs, %d from cache, setup %.2f s\n", n_progs, n_cached, setup);
    fprintf(f, "selftest: %d checks, %d failed\n", n, fails);
    return fails;
}
