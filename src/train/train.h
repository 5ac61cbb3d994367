/* fit / evaluate: the loops that join the data path and the model (the public
 * ct_fit / ct_evaluate of cltrain.h), and the public ct_classifier behind its handle. */
#ifndef CT_TRAIN_H
#define CT_TRAIN_H

#include <stdint.h>

#include "cltrain.h"
#include "data/data.h"
#include "model/model.h"
#include "model/modelio.h"

/* A model with what using it needs: its runtime (not owned), its metadata (input shape,
 * resize, class names, as model files store them) and where it was loaded from. */
struct ct_classifier {
    ct_runtime *rt;
    ct_model *m;
    ct_model_meta meta;
    char *path; /* malloc'd: the file it was loaded from (NULL when created) */
};

/* Checks that ds has m's classes (names in order); what: "validation", "test", ... */
ct_status ct_classifier_check_classes(const ct_classifier *m, const ct_dataset *ds, const char *what);

#endif
