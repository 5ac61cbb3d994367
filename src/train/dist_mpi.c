/* The MPI side of train/dist.h (Open MPI 4.1 tested). Only the main thread calls MPI. */
#include <mpi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "train/dist.h"

static int g_on, g_rank, g_size = 1, g_local;
static double g_secs, g_bytes;
static long g_calls;
static double *g_all; /* gather buffer of ct_dist_sum */
static size_t g_all_n;

/* The watchdog: a collective that waits longer than g_timeout seconds ends this rank with
 * a message (another rank died without the launcher noticing, or hangs). */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static double g_since; /* 0: in no collective */
static const char *g_what = "";
static double g_timeout = 300;

static void *watchdog(void *arg) {
    (void)arg;
    for (;;) {
        sleep(1);
        pthread_mutex_lock(&g_mu);
        double since = g_since;
        const char *what = g_what;
        pthread_mutex_unlock(&g_mu);
        if (since > 0 && ct_now() - since > g_timeout) {
            fprintf(stderr,
                    "cltrain train: rank %d of %d waited more than %.0f s in %s: another rank "
                    "stopped or hangs (CLTRAIN_MPI_TIMEOUT sets the limit); ending this rank\n",
                    g_rank, g_size, g_timeout, what);
            fflush(stderr);
            _exit(3);
        }
    }
    return NULL;
}

static void enter(const char *what) {
    pthread_mutex_lock(&g_mu);
    g_since = ct_now();
    g_what = what;
    pthread_mutex_unlock(&g_mu);
}

static double leave(void) {
    pthread_mutex_lock(&g_mu);
    double t = ct_now() - g_since;
    g_since = 0;
    pthread_mutex_unlock(&g_mu);
    g_secs += t;
    g_calls++;
    return t;
}

static ct_status mpi_error(int e, const char *what) {
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(e, msg, &len);
    return ct_set_error(CT_ERR_IO, "rank %d of %d: %s failed: %s (another rank may have died)",
                        g_rank, g_size, what, msg);
}

int ct_dist_built(void) {
    return 1;
}

ct_status ct_dist_init(int *argc, char ***argv) {
    if (g_on || ct_dist_env_size() <= 1) return CT_OK;
    if (MPI_Init(argc, argv) != MPI_SUCCESS) return ct_set_error(CT_ERR_IO, "MPI_Init failed");
    g_on = 1;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    if (g_size > CT_DIST_MAX_RANKS)
        return ct_set_error(CT_ERR_ARG, "%d MPI ranks: at most %d", g_size, CT_DIST_MAX_RANKS);
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL, &node) ==
        MPI_SUCCESS) {
        MPI_Comm_rank(node, &g_local);
        MPI_Comm_free(&node);
    }
    const char *t = getenv("CLTRAIN_MPI_TIMEOUT");
    if (t && atof(t) > 0) g_timeout = atof(t);
    pthread_t th;
    if (pthread_create(&th, NULL, watchdog, NULL) == 0) pthread_detach(th);
    return CT_OK;
}

void ct_dist_finalize(void) {
    if (!g_on) return;
    free(g_all);
    g_all = NULL;
    g_all_n = 0;
    MPI_Finalize();
    g_on = 0;
}

void ct_dist_abort(int rc) {
    if (!g_on) return;
    fflush(stdout);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, rc);
}

int ct_dist_rank(void) {
    return g_rank;
}
int ct_dist_size(void) {
    return g_size;
}
int ct_dist_local_rank(void) {
    return g_local;
}

ct_status ct_dist_sum(double *buf, size_t n, const char *what) {
    if (!g_on || g_size <= 1 || n == 0) return CT_OK;
    if (n > (size_t)INT32_MAX) return ct_set_error(CT_ERR_ARG, "%s: %zu values", what, n);
    size_t need = n * (size_t)g_size;
    if (need > g_all_n) {
        double *p = realloc(g_all, need * sizeof *p);
        if (!p) return ct_set_error(CT_ERR_MEMORY, "out of host memory (%s)", what);
        g_all = p;
        g_all_n = need;
    }
    enter(what);
    int e = MPI_Allgather(buf, (int)n, MPI_DOUBLE, g_all, (int)n, MPI_DOUBLE, MPI_COMM_WORLD);
    leave();
    if (e != MPI_SUCCESS) return mpi_error(e, what);
    g_bytes += (double)n * sizeof(double) * (double)(g_size - 1);
    for (size_t i = 0; i < n; i++) { /* rank order: the same bits on every rank */
        double s = 0;
        for (int r = 0; r < g_size; r++)
            s += g_all[(size_t)r * n + i];
        buf[i] = s;
    }
    return CT_OK;
}

ct_status ct_dist_bcast(float *buf, size_t n, const char *what) {
    if (!g_on || g_size <= 1 || n == 0) return CT_OK;
    for (size_t done = 0; done < n;) {
        size_t k = n - done > (1u << 30) ? (1u << 30) : n - done;
        enter(what);
        int e = MPI_Bcast(buf + done, (int)k, MPI_FLOAT, 0, MPI_COMM_WORLD);
        leave();
        if (e != MPI_SUCCESS) return mpi_error(e, what);
        done += k;
    }
    return CT_OK;
}

ct_status ct_dist_gather_u64(const uint64_t *mine, size_t n, uint64_t *all, const char *what) {
    if (!g_on || g_size <= 1) {
        memcpy(all, mine, n * sizeof *mine);
        return CT_OK;
    }
    if (n > 4096) return ct_set_error(CT_ERR_ARG, "%s: %zu values, more than 4096", what, n);
    enter(what);
    int e = MPI_Allgather(mine, (int)n, MPI_UINT64_T, all, (int)n, MPI_UINT64_T, MPI_COMM_WORLD);
    leave();
    if (e != MPI_SUCCESS) return mpi_error(e, what);
    return CT_OK;
}

void ct_dist_stats(double *seconds, double *bytes, long *calls) {
    *seconds = g_secs;
    *bytes = g_bytes;
    *calls = g_calls;
}
