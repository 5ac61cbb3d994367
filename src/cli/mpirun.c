/* mpirun glue of cltrain train (cli/mpirun.h); the collectives are train/dist.h's. */
#include "cli/mpirun.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "train/dist.h"

int ct_mpirun_start(const char *cmd) {
    int n = ct_dist_env_size();
    if (n <= 1) return 0;
    if (!ct_dist_built()) {
        fprintf(stderr,
                "cltrain %s: started by an MPI launcher with %d processes, but this build has no "
                "MPI: install Open MPI (Debian: sudo apt-get install openmpi-bin libopenmpi-dev, "
                "or tools/install_deps.sh) and rebuild (meson setup --reconfigure -Dmpi=enabled "
                "BUILD && ninja -C BUILD); or run cltrain without mpirun\n",
                cmd, n);
        return 2;
    }
    if (ct_dist_init(NULL, NULL) != CT_OK) {
        fprintf(stderr, "cltrain %s: %s\n", cmd, ct_last_error());
        return 2;
    }
    if (ct_dist_rank() > 0 && !freopen("/dev/null", "w", stdout)) {
        fprintf(stderr, "cltrain %s: rank %d: cannot silence stdout\n", cmd, ct_dist_rank());
        return 2;
    }
    return 0;
}

const char *ct_mpirun_device(char *buf, size_t n) {
    if (ct_dist_size() <= 1 || getenv("CLTRAIN_DEVICE")) return NULL;
    int nd = 0, k = 0;
    if (ct_device_count(&nd) != CT_OK || nd == 0) return NULL;
    ct_device_desc d0, d;
    if (ct_device_get(0, &d0) != CT_OK) return NULL;
    char plat[16];
    snprintf(plat, sizeof plat, "%s", d0.id);
    char *colon = strchr(plat, ':');
    if (colon) colon[1] = 0;
    for (int i = 0; i < nd; i++) /* the devices of the first platform */
        if (ct_device_get(i, &d) == CT_OK && !strncmp(d.id, plat, strlen(plat))) k++;
    int want = ct_dist_local_rank() % (k > 0 ? k : 1);
    for (int i = 0, j = 0; i < nd; i++)
        if (ct_device_get(i, &d) == CT_OK && !strncmp(d.id, plat, strlen(plat)) && j++ == want) {
            snprintf(buf, n, "%s", d.id);
            return buf;
        }
    return NULL;
}

#define MAX_ARGS 512

static int g_agreed;      /* every rank ends alike (finalize, no abort) */
static int g_check_failed; /* a start-up check failed (on every rank alike) */

static uint64_t hash_str(const char *s, uint64_t seed) {
    return ct_hash64(s ? s : "(unset)", s ? strlen(s) : 7, seed);
}

/* Gathers h[0 .. n) of every rank; the first rank and index that differ from rank 0's. */
static int first_diff(const uint64_t *h, size_t n, int *rank, size_t *idx) {
    int K = ct_dist_size();
    uint64_t *all = malloc((size_t)K * n * sizeof *all);
    if (!all || ct_dist_gather_u64(h, n, all, "the start-up check") != CT_OK) {
        free(all);
        return -1;
    }
    int found = 0;
    for (int q = 1; q < K && !found; q++)
        for (size_t i = 0; i < n && !found; i++)
            if (all[(size_t)q * n + i] != all[i]) {
                *rank = q, *idx = i;
                found = 1;
            }
    free(all);
    return found;
}

int ct_mpirun_check_args(const char *cmd, int argc, char **argv, int local_replicas) {
    if (ct_dist_size() <= 1) return 0;
    /* 0: the count, 1: the devices' environment, 2: the local replicas, 3..: the arguments */
    uint64_t h[3 + MAX_ARGS];
    memset(h, 0, sizeof h);
    int na = argc < MAX_ARGS ? argc : MAX_ARGS;
    h[0] = (uint64_t)argc;
    h[1] = hash_str(getenv("CLTRAIN_DEVICES"), hash_str(getenv("CLTRAIN_DETERMINISTIC"), 1));
    h[2] = (uint64_t)local_replicas;
    for (int i = 0; i < na; i++)
        h[3 + i] = hash_str(argv[i], 2);
    int q = 0;
    size_t i = 0;
    int d = first_diff(h, 3 + MAX_ARGS, &q, &i);
    if (d < 0) {
        fprintf(stderr, "cltrain %s: rank %d: %s\n", cmd, ct_dist_rank(), ct_last_error());
        return 2;
    }
    if (d == 0) return 0;
    g_agreed = g_check_failed = 1;
    if (ct_dist_rank() == 0) {
        char what[512];
        if (i == 0)
            snprintf(what, sizeof what, "it has another number of arguments");
        else if (i == 1)
            snprintf(what, sizeof what, "CLTRAIN_DEVICES or CLTRAIN_DETERMINISTIC differs");
        else if (i == 2)
            snprintf(what, sizeof what, "it runs another number of devices (--devices)");
        else {
            int a = (int)(i - 3), o = a; /* the option the differing argument belongs to */
            while (o > 0 && strncmp(argv[o], "--", 2))
                o--;
            if (o == a || a >= argc)
                snprintf(what, sizeof what, "option %s differs", a < argc ? argv[a] : "?");
            else
                snprintf(what, sizeof what, "option %s differs (rank 0 has %s %s)", argv[o],
                         argv[o], argv[a]);
        }
        fprintf(stderr,
                "cltrain %s: rank %d was started with other options than rank 0: %s; every rank "
                "must run the same command\n",
                cmd, q, what);
    }
    return 2;
}

ct_status ct_mpirun_check_data(const ct_dataset *const *sets, int n) {
    if (ct_dist_size() <= 1) return CT_OK;
    uint64_t h[8] = {0};
    for (int k = 0; k < n && k < 8; k++) {
        const ct_dataset *d = sets[k];
        uint64_t x = 5;
        for (int i = 0; d && i < d->n; i++) {
            x = hash_str(d->paths[i], x);
            x = ct_hash64(&d->labels[i], sizeof d->labels[i], x);
        }
        h[k] = d ? x : 0;
    }
    int q = 0;
    size_t i = 0;
    int d = first_diff(h, 8, &q, &i);
    if (d < 0) return CT_ERR_IO;
    if (d == 0) return CT_OK;
    g_agreed = g_check_failed = 1;
    static const char *const names[] = {"training (--data)", "validation", "test (--test)"};
    return ct_set_error(CT_ERR_ARG,
                        "rank %d sees other %s files than rank 0 (paths or classes differ); "
                        "every rank must see the same data (a shared or identical folder)",
                        q, i < 3 ? names[i] : "data");
}

int ct_mpirun_check_failed(void) {
    return g_check_failed;
}

int ct_mpirun_finalize_all(int rc) {
    g_agreed = 1;
    return rc;
}

int ct_mpirun_writer(void) {
    return ct_dist_rank() == 0;
}

int ct_mpirun_end(int rc) {
    if (ct_dist_size() <= 1) return rc;
    if (rc == 0 || g_agreed)
        ct_dist_finalize();
    else
        ct_dist_abort(rc);
    return rc;
}
