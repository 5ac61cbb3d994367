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

/* MPI (train/dist.h): rank k of K's part of ds, samples k, k + K, ... into out (its arrays
 * malloc'd, the strings ds's: free out->paths and out->labels only); ds itself, a copy of
 * the struct, with one rank. */
ct_status ct_dataset_rank_part(const ct_dataset *ds, ct_dataset *out);
/* ct_evaluate_loader_report over every rank's part (l: this rank's loader, NULL when its
 * part is empty): the loss, accuracy and confusion counts summed over the ranks in rank
 * order, the same report on every rank. One rank: ct_evaluate_loader_report. */
ct_status ct_evaluate_report_ranks(ct_classifier *cm, ct_loader *l, ct_eval_result *out,
                                   ct_class_report **rep);

#endif
