/* A build without MPI: one rank (train/dist.h). Started under mpirun it is refused by the
 * command line (ct_dist_env_size > 1 and ct_dist_built() == 0). */
#include <string.h>

#include "train/dist.h"

int ct_dist_built(void) {
    return 0;
}
ct_status ct_dist_init(int *argc, char ***argv) {
    (void)argc, (void)argv;
    return CT_OK;
}
void ct_dist_finalize(void) {}
void ct_dist_abort(int rc) {
    (void)rc;
}
int ct_dist_rank(void) {
    return 0;
}
int ct_dist_size(void) {
    return 1;
}
int ct_dist_local_rank(void) {
    return 0;
}
ct_status ct_dist_sum(double *buf, size_t n, const char *what) {
    (void)buf, (void)n, (void)what;
    return CT_OK;
}
ct_status ct_dist_bcast(float *buf, size_t n, const char *what) {
    (void)buf, (void)n, (void)what;
    return CT_OK;
}
ct_status ct_dist_gather_u64(const uint64_t *mine, size_t n, uint64_t *all, const char *what) {
    (void)what;
    memcpy(all, mine, n * sizeof *mine);
    return CT_OK;
}
void ct_dist_stats(double *seconds, double *bytes, long *calls) {
    *seconds = *bytes = 0;
    *calls = 0;
}
