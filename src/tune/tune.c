/* The tuning stage (tune/tune.h). */
#include <stdlib.h>
#include <string.h>

#include "tune/tune.h"

ct_status ct_tune_items(ct_runtime *rt, const ct_tune_item *items, int n) {
    (void)rt;
    (void)items;
    (void)n;
    return CT_OK; /* the ops still tune on first use until this stage lands */
}

char *ct_tune_used_json(ct_runtime *rt) {
    (void)rt;
    return strdup("{}");
}

ct_status ct_tune_pin_json(ct_runtime *rt, const char *json) {
    (void)rt;
    (void)json;
    return CT_OK;
}
