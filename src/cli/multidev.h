/* --devices LIST for train (docs/SCALING.md): the device list, checked before any data is
 * read, and the replicas of the model on the devices after the first. */
#ifndef CT_CLI_MULTIDEV_H
#define CT_CLI_MULTIDEV_H

#include "cltrain.h"

#define CT_MAX_DEVICES 16

typedef struct ct_devlist {
    int n;                              /* devices in the list (0: --devices not given) */
    char id[CT_MAX_DEVICES][16];        /* "P:D" as `cltrain devices` prints them */
    ct_runtime *rt[CT_MAX_DEVICES];     /* rt[0] is the run's own runtime (not owned here) */
    ct_classifier *rep[CT_MAX_DEVICES]; /* rep[0] unused: the model itself */
} ct_devlist;

/* Parses LIST ("P:D,P:D,..." or "all"; opt names where it came from: "--devices" or
 * "CLTRAIN_DEVICES"). A device that does not exist, one listed twice, a bad token, more
 * than CT_MAX_DEVICES: an error (printed, naming opt and the device) and 0. */
int ct_devlist_parse(const char *cmd, const char *opt, const char *list, ct_devlist *d);
/* The replicas 1 .. n-1 of m, each on a new runtime of its own device, built for its share
 * of batch (ct_fit_split); resume: the checkpoint's kernel variants on each
 * (ct_fit_resume_prepare). An error names the device and suggests a batch size. */
ct_status ct_devlist_replicate(ct_devlist *d, ct_classifier *m, unsigned flags, int batch,
                               const char *resume_dir);
/* The error of a device that cannot hold its share (the model of device i), else s. */
ct_status ct_devlist_explain(const ct_devlist *d, int i, int batch, ct_status s);
void ct_devlist_free(ct_devlist *d);

#endif
