/* fma_peak: measures the host's fp32 FMA peak with register-only loops on every core
 * (the denominator of "% of peak" in the benchmarks). Built with -march=native.
 * Usage: fma_peak [--threads N] [--json] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__AVX512F__)
#define VW 16
#elif defined(__AVX__)
#define VW 8
#else
#define VW 4
#endif
typedef float vf __attribute__((vector_size(VW * 4)));
#define NACC 12
static const long ITERS = 20000000;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void *worker(void *arg) {
    vf a, b;
    for (int i = 0; i < VW; i++) {
        a[i] = 0.999999f;
        b[i] = 1e-7f;
    }
    /* Twelve independent chains in named variables so they stay in registers. */
    vf c0 = b, c1 = b * 2, c2 = b * 3, c3 = b * 4, c4 = b * 5, c5 = b * 6;
    vf c6 = b * 7, c7 = b * 8, c8 = b * 9, c9 = b * 10, c10 = b * 11, c11 = b * 12;
    for (long it = 0; it < ITERS; it++) {
        c0 = c0 * a + b; c1 = c1 * a + b; c2 = c2 * a + b; c3 = c3 * a + b;
        c4 = c4 * a + b; c5 = c5 * a + b; c6 = c6 * a + b; c7 = c7 * a + b;
        c8 = c8 * a + b; c9 = c9 * a + b; c10 = c10 * a + b; c11 = c11 * a + b;
    }
    vf acc = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11;
    float s = 0;
    for (int i = 0; i < VW; i++) s += acc[i];
    *(float *)arg = s;
    return NULL;
}

int main(int argc, char **argv) {
    int threads = (int)sysconf(_SC_NPROCESSORS_ONLN), json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: fma_peak [--threads N] [--json]\n");
            return 2;
        }
    }
    if (threads < 1) threads = 1;
    pthread_t *t = calloc((size_t)threads, sizeof *t);
    float *sink = calloc((size_t)threads, sizeof *sink);
    if (!t || !sink) return 1;
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, worker, &sink[i]);
        for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
        double g = 2.0 * VW * NACC * (double)ITERS * threads / (now() - t0) / 1e9;
        if (g > best) best = g;
    }
    if (json) printf("{\"gflops\": %.1f, \"threads\": %d, \"vector_width\": %d}\n", best, threads, VW);
    else printf("fp32 FMA peak: %.1f GFLOP/s on %d threads (%d-wide vectors)\n", best, threads, VW);
    free(t);
    free(sink);
    return 0;
}
