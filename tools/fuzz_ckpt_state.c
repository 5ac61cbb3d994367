/* libFuzzer target for a checkpoint's state (the JSON in its "state" metadata: epochs,
 * step, early-stopping state, fingerprint, history rows; every number range-checked):
 * ct_checkpoint_state_parse, the parser ct_checkpoint_load runs. Build and run:
 * docs/FUZZING.md. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/modelio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *json = malloc(size + 1);
    if (!json) return 0;
    memcpy(json, data, size);
    json[size] = 0;
    ct_ckpt_state st;
    memset(&st, 0, sizeof st);
    if (ct_checkpoint_state_parse(json, "fuzz checkpoint", &st) == CT_OK) {
        /* what resume relies on */
        if (st.epochs_done < 0 || st.hist.n != st.epochs_done || st.wait > st.epochs_done ||
            st.best_epoch > st.epochs_done || st.step < 0 || !memchr(st.fingerprint, 0, sizeof st.fingerprint))
            abort();
        if (!memchr(st.optim, 0, sizeof st.optim) ||
            (st.has_plateau && (!(st.plateau_lr > 0) || !isfinite(st.plateau_lr) || st.plateau_wait < 0)))
            abort();
        for (int i = 0; i < st.hist.n; i++)
            if (!(st.hist.e[i].lr >= 0)) abort();
    }
    ct_history_free(&st.hist);
    free(json);
    return 0;
}
