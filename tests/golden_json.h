/* A committed JSON golden (tests/golden/<name>, under $CLTRAIN_SRC_DIR) read and parsed for a
 * test; NULL (with a failed check) when it is missing or not JSON. The caller frees it with
 * cJSON_Delete. */
#ifndef CT_TEST_GOLDEN_JSON_H
#define CT_TEST_GOLDEN_JSON_H

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctest.h"
#include "io/fileutil.h"

static inline cJSON *ct_test_golden_json(const char *name) {
    const char *src = getenv("CLTRAIN_SRC_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/golden/%s", src ? src : ".", name);
    unsigned char *js = NULL;
    size_t len = 0;
    CHECK_OK(ct_read_file(path, (size_t)1 << 24, &js, &len));
    cJSON *root = js ? cJSON_ParseWithLength((const char *)js, len) : NULL;
    free(js);
    CHECK(root != NULL, "%s is not JSON", path);
    return root;
}

#endif
