/* What both builds share (train/dist.h): the launcher's environment. */
#include <stdlib.h>

#include "train/dist.h"

static int env_int(const char *name) {
    const char *v = getenv(name);
    return v && *v ? atoi(v) : 0;
}

int ct_dist_env_size(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE",
                                       "MPI_LOCALNRANKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (env_int(vars[i]) > 1) return env_int(vars[i]);
    /* srun --mpi=pmix sets PMIX_RANK and SLURM_NTASKS */
    if (getenv("PMIX_RANK") && env_int("SLURM_NTASKS") > 1) return env_int("SLURM_NTASKS");
    return 1;
}
