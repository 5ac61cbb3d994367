/* Minimal test harness shared by the C tests: CHECK counts failures and keeps going;
 * ct_test_runtime() gives a runtime on $CLTRAIN_DEVICE/default or exits 77 (skipped)
 * when the machine has no OpenCL device. */
#ifndef CT_TEST_H
#define CT_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

static int ct_test_failures = 0;
static int ct_test_checks = 0;

#define CHECK(cond, ...)                                                                         \
    do {                                                                                         \
        ct_test_checks++;                                                                        \
        if (!(cond)) {                                                                           \
            ct_test_failures++;                                                                  \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                      \
            fprintf(stderr, __VA_ARGS__);                                                        \
            fprintf(stderr, "\n");                                                               \
        }                                                                                        \
    } while (0)

#define CHECK_OK(expr)                                                                           \
    do {                                                                                         \
        ct_status s_ = (expr);                                                                   \
        CHECK(s_ == CT_OK, "%s -> %s: %s", #expr, ct_status_str(s_), ct_last_error());         \
    } while (0)

static inline ct_runtime *ct_test_runtime(unsigned flags) {
    ct_device_info *list;
    int n;
    if (ct_devices_enumerate(&list, &n) != CT_OK || n == 0) {
        printf("SKIP: no OpenCL device on this machine\n");
        exit(77);
    }
    free(list);
    ct_runtime *rt;
    if (ct_runtime_create(NULL, flags, &rt) != CT_OK) {
        fprintf(stderr, "FAIL: runtime: %s\n", ct_last_error());
        exit(1);
    }
    return rt;
}

static inline int ct_test_done(const char *name) {
    printf("%s: %d checks, %d failed\n", name, ct_test_checks, ct_test_failures);
    return ct_test_failures ? 1 : 0;
}

#endif
