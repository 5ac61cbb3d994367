/* libFuzzer target for the tuning file (ct_tune_file_parse: version line, checksum line,
 * device line, op keys, variant names; the text ct_tune_items reads from the cache folder).
 * The file is checksummed, so a mutated input almost never gets past the checksum: when
 * the first byte is odd the rest of the input is taken as the file's body and the
 * harness appends the right "checksum <hash64>" line, so the fuzzer reaches the entries.
 * An accepted entry must print back to its own key and variant name. No device. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tune/tune.h"

static ct_status take(void *ctx, const char *key, ct_op_kind op, ct_variant v) {
    ct_op_kind op2;
    char nm[64];
    if (!ct_op_key_parse(key, &op2) || op2 != op) abort();
    if (!strcmp(ct_variant_name(op, v, nm, sizeof nm), "?")) abort();
    ++*(int *)ctx;
    return CT_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int fix = data[0] & 1;
    const uint8_t *body = data + 1;
    size_t bl = size - 1, len = bl;
    char *text = malloc(bl + 32);
    if (!text) return 0;
    memcpy(text, body, bl);
    if (fix)
        len += (size_t)snprintf(text + bl, 32, "checksum %016llx\n",
                                (unsigned long long)ct_hash64(body, bl, 0));
    int n = 0;
    const char *why = NULL;
    if (!ct_tune_file_parse(text, len, take, &n, &why) && !why) abort();
    free(text);
    return 0;
}
