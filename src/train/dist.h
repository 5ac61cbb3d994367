/* Many processes through MPI (docs/SCALING.md): `mpirun -np N cltrain train ...` runs one
 * rank per process, each with its own replicas. The MPI calls live in dist_mpi.c, built when
 * Open MPI is found (meson -Dmpi); dist_none.c stands in without it (one rank). Every
 * reduction here is in rank order, so every rank gets the same bits and a run is
 * deterministic for a given rank count. */
#ifndef CT_DIST_H
#define CT_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define CT_DIST_MAX_RANKS 4096

/* 1 when this build has MPI. */
int ct_dist_built(void);
/* The world size the launcher's environment announces (OMPI_COMM_WORLD_SIZE, PMI_SIZE,
 * PMIX_SIZE / SLURM_NTASKS with PMIX_RANK); 1 when not started by one. */
int ct_dist_env_size(void);
/* MPI_Init when started by a launcher with more than one process (else nothing; one rank).
 * Communicator errors return (MPI_ERRORS_RETURN) and a watchdog (CLTRAIN_MPI_TIMEOUT
 * seconds, default 120) ends a rank that waits longer in one collective. */
ct_status ct_dist_init(int *argc, char ***argv);
/* MPI_Finalize after a run every rank finished; ct_dist_abort(rc) after an error on one
 * (MPI_Abort: the launcher ends every rank and names this one). */
void ct_dist_finalize(void);
void ct_dist_abort(int rc);
int ct_dist_rank(void);       /* 0 without MPI */
int ct_dist_size(void);       /* 1 without MPI */
int ct_dist_local_rank(void); /* rank among the ranks of this host */
/* In place: buf = the sum over ranks 0, 1, ... of every rank's buf, in double, the same
 * bits on every rank (MPI_Allgather, then the sum in rank order: MPI_SUM's order is
 * the implementation's). what names the collective in an error. */
ct_status ct_dist_sum(double *buf, size_t n, const char *what);
/* Rank 0's n floats to every rank. */
ct_status ct_dist_bcast(float *buf, size_t n, const char *what);
/* Every rank's n values (n the same on all, at most 4096) gathered into all (size x n). */
ct_status ct_dist_gather_u64(const uint64_t *mine, size_t n, uint64_t *all, const char *what);
/* Seconds spent in the collectives and the bytes each rank sent. */
void ct_dist_stats(double *seconds, double *bytes, long *calls);

#endif
