/* libFuzzer target for model spec strings (ct_spec_parse: tokens, presets, each layer
 * class's own parse through the registry, the error message with its caret line). A spec
 * that parses must print back (ct_spec_format_layer) to a canonical form that parses to
 * the same layers and prints the same again. No device. Build and run: docs/FUZZING.md. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

static char *canonical(const ct_layer_spec *L, int n) {
    size_t cap = (size_t)n * 64 + 1, pos = 0;
    char *s = malloc(cap);
    if (!s) return NULL;
    s[0] = 0;
    for (int i = 0; i < n; i++) {
        char tok[64];
        int l = ct_spec_format_layer(&L[i], tok, sizeof tok);
        if (l < 0 || (size_t)l >= sizeof tok) abort(); /* a token that does not fit */
        pos += (size_t)snprintf(s + pos, cap - pos, "%s%s", i ? "," : "", tok);
    }
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *spec = malloc(size + 1);
    if (!spec) return 0;
    memcpy(spec, data, size);
    spec[size] = 0;
    ct_layer_spec *L = NULL, *L2 = NULL;
    int n = 0, n2 = 0;
    if (ct_spec_parse(spec, &L, &n) == CT_OK) {
        char *c1 = canonical(L, n);
        if (c1) {
            if (ct_spec_parse(c1, &L2, &n2) != CT_OK || n2 != n) abort();
            char *c2 = canonical(L2, n2);
            if (c2 && strcmp(c1, c2)) abort();
            free(c2);
        }
        free(c1);
    }
    free(L);
    free(L2);
    free(spec);
    return 0;
}
