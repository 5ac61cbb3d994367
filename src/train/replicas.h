/* Data-parallel training in one process (docs/SCALING.md): one replica of the model per
 * device, each on its own runtime; the global batch split into contiguous slices, the
 * gradient slabs summed in replica order, the same optimizer step on every replica. */
#ifndef CT_REPLICAS_H
#define CT_REPLICAS_H

#include <stdint.h>

#include "train/train.h"

typedef struct ct_replicas {
    int n;             /* replicas, the fitted model (0) included; >= 2 (>= 1 under MPI) */
    ct_classifier **c; /* c[0] is the fitted model */
    size_t floats;     /* slab length (the same on every replica) */
    size_t n_weights;  /* optimizer slot floats */
    float *g;          /* host: one replica's slab */
    double *acc;       /* host: the running sum */
    int *share;        /* samples of the current batch per replica */
    int sync_bn;       /* batchnorm statistics over the global batch (--sync-bn) */
    int *off;          /* first row of each replica's share */
    ct_model **ms;     /* the replicas' models */
    double reduce_s;   /* wall time in ct_replicas_allreduce (transfers and the sum) */
    long reduces;      /* its calls */
    /* MPI (train/dist.h): the replicas of all ranks are one list, rank k's n replicas at
     * [k * n, k * n + n); the global batch is split over all of them by ct_fit_split. */
    int ranks, rank;  /* 1 and 0 without MPI */
    int n_all;        /* ranks x n */
    int *share_all;   /* every replica's share of the current batch */
    double mpi_s;     /* of reduce_s: the part in MPI (the cross-rank sum) */
    double mpi_bytes; /* bytes this rank sent in the gradient sums */
} ct_replicas;

/* Checks every replica against the model (same spec, input and classes) and that each can
 * hold its share of the global batch; allocates the host buffers. */
ct_status ct_replicas_open(ct_replicas *R, ct_classifier *m, ct_classifier *const *more, int n_more,
                           int batch);
void ct_replicas_free(ct_replicas *R);
/* Replica 0's tensors (parameters, non-trainable ones) and optimizer state to the others. */
ct_status ct_replicas_broadcast(ct_replicas *R);
/* One training step on the global batch of total samples, of which b holds the rows from
 * row0 on (all of it: total = b->count, row0 = 0; under MPI this rank's rows, from a
 * sharded loader): replica r takes rows [off_r, off_r + share_r), computes its gradients
 * (dropout keyed by the global sample), ct_replicas_allreduce, then every replica runs the
 * same optimizer step. */
ct_status ct_replicas_step(ct_replicas *R, const ct_batch *b, int total, int row0, size_t chw,
                           const ct_optim *opt, uint64_t seed, long step);
/* The reduction: gradient = sum over r in order 0, 1, ... of (share_r / total) * grad_r (each
 * replica's loss gradient is the mean over its share_r samples), in double, then the float
 * sum written to every replica. The one place an MPI_Allreduce would take over. */
ct_status ct_replicas_allreduce(ct_replicas *R, int total);
/* The device sums of all replicas as one: mean loss and accuracy over every sample. */
ct_status ct_replicas_metrics(ct_replicas *R, int reset, double *loss, double *acc, long *count);
/* After an epoch: hashes every replica's parameter slab; identical is what the fixed-order
 * sum guarantees on devices with the same arithmetic. One that differs (devices of other
 * kinds round differently) is warned about and gets replica 0's parameters. */
ct_status ct_replicas_check(ct_replicas *R, int epoch, uint64_t *hash);

#endif
