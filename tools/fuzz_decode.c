/* libFuzzer target for the image decode path (JPEG/PNG by content, then resize).
 * Build and run: see docs/FUZZING.md. The last input byte picks the target size, channel
 * count and resize mode, and the length's parity full vs DCT-scaled JPEG decoding. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "data/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    unsigned sel = size ? data[size - 1] : 0;
    int h = 1 + (int)(sel & 31), w = 1 + (int)((sel >> 3) & 31) * 2;
    int c = (sel & 0x40) ? 1 : 3;
    ct_resize rs = (ct_resize)((sel >> 5) % 3);
    if (size & 1) rs = (ct_resize)(rs | CT_DECODE_FULL);
    uint8_t *out = malloc((size_t)h * w * c);
    if (!out) return 0;
    ct_image_decode_mem(data, size, "fuzz", h, w, c, rs, out);
    free(out);
    return 0;
}
