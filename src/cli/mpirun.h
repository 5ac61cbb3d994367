/* `mpirun -np N cltrain train ...` (docs/SCALING.md): start-up, the device of each rank,
 * the check that every rank runs the same command on the same data, and the end. */
#ifndef CT_CLI_MPIRUN_H
#define CT_CLI_MPIRUN_H

#include <stddef.h>

#include "data/data.h"

/* Started by an MPI launcher: a build without MPI says how to get one and returns 2;
 * else MPI is set up, ranks other than 0 print nothing on stdout, and 0 is returned. */
int ct_mpirun_start(const char *cmd);
/* The device of this rank when none was chosen (--device, --devices, CLTRAIN_DEVICE):
 * the local rank modulo the devices of the first platform, into buf; NULL without MPI. */
const char *ct_mpirun_device(char *buf, size_t n);
/* Every rank's arguments, the environment that chooses devices and the local replica count
 * against rank 0's; a difference is printed naming the rank and the option, and 2 returned. */
int ct_mpirun_check_args(const char *cmd, int argc, char **argv, int local_replicas);
/* The same for the data files (paths and classes of every listed set, NULL: none); a
 * difference is an error naming the rank. */
ct_status ct_mpirun_check_data(const ct_dataset *const *sets, int n);
/* 1 when a start-up check failed (on every rank alike: the exit status is 2). */
int ct_mpirun_check_failed(void);
/* A failure every rank finds alike (rc returned): ct_mpirun_end finalizes, no abort. */
int ct_mpirun_finalize_all(int rc);
/* 1 on rank 0 (and without MPI): the rank that writes files. */
int ct_mpirun_writer(void);
/* After the run: rc 0 everywhere, MPI_Finalize; an error (one rank may be alone with it),
 * MPI_Abort so that no rank waits for it. Returns rc. */
int ct_mpirun_end(int rc);

#endif
