/* Atomic writes, capped reads and mkdir -p (see fileutil.h). */
#include "io/fileutil.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"

static volatile sig_atomic_t g_force;
void ct_write_set_force(int force) { g_force = force != 0; }
int ct_write_force(void) { return g_force; }

/* Live temp files: a slot holds a malloc'd path from just before the temp file is created
 * until it is renamed or removed. A signal handler reads the slots and unlinks. */
#define CT_TEMP_SLOTS 32
static char *volatile g_temps[CT_TEMP_SLOTS];
static pthread_mutex_t g_temps_mu = PTHREAD_MUTEX_INITIALIZER;

static int temp_register(char *path) {
    pthread_mutex_lock(&g_temps_mu);
    int slot = -1;
    for (int i = 0; i < CT_TEMP_SLOTS && slot < 0; i++)
        if (!g_temps[i]) {
            g_temps[i] = path;
            slot = i;
        }
    pthread_mutex_unlock(&g_temps_mu);
    return slot;
}

static void temp_unregister(int slot) {
    if (slot < 0) return;
    pthread_mutex_lock(&g_temps_mu);
    g_temps[slot] = NULL;
    pthread_mutex_unlock(&g_temps_mu);
}

void ct_write_unlink_temps(void) {
    for (int i = 0; i < CT_TEMP_SLOTS; i++) {
        char *p = g_temps[i];
        if (p) unlink(p);
    }
}

const char *ct_path_base(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Message for a failed write to path with errno e; adds a hint for the usual causes. */
static ct_status write_error(const char *path, const char *what, int e) {
    const char *hint = "";
    if (e == EACCES || e == EPERM || e == EROFS)
        hint = " (choose a writable output path)";
    else if (e == ENOENT || e == ENOTDIR)
        hint = " (its folder does not exist: create it or choose another path)";
    else if (e == ENOSPC || e == EDQUOT)
        hint = " (free some disk space or write elsewhere)";
    return ct_set_error(CT_ERR_IO, "cannot write %s: %s%s%s", path, what, strerror(e), hint);
}

/* Best effort: make the rename durable by syncing the folder that holds path. */
static void sync_parent(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = !slash ? strdup(".") : slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
    if (!dir) return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    free(dir);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* The file a write to path lands in: a symlink (or a chain of them) is followed to its
 * target, so the link stays a link and the file it names gets the new content. Returns a
 * malloc'd path, or NULL with the error set. */
static char *write_target(const char *path) {
    char *cur = strdup(path);
    for (int hops = 0; cur && hops < 40; hops++) {
        struct stat sb;
        if (lstat(cur, &sb) != 0 || !S_ISLNK(sb.st_mode)) return cur;
        char link[4096];
        ssize_t r = readlink(cur, link, sizeof link - 1);
        if (r < 0) break;
        link[r] = 0;
        char *next;
        const char *slash = strrchr(cur, '/');
        if (link[0] == '/' || !slash) {
            next = strdup(link);
        } else { /* relative to the link's folder */
            size_t dl = (size_t)(slash - cur) + 1, n = dl + strlen(link) + 1;
            next = malloc(n);
            if (next) snprintf(next, n, "%.*s%s", (int)dl, cur, link);
        }
        free(cur);
        cur = next;
    }
    if (!cur) {
        ct_set_error(CT_ERR_MEMORY, "cannot write %s: out of host memory", path);
        return NULL;
    }
    free(cur);
    ct_set_error(CT_ERR_IO, "cannot write %s: too many levels of symbolic links (fix the link)",
                 path);
    return NULL;
}

static const char *file_kind(mode_t m) {
    return S_ISDIR(m) ? "a folder" : S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device"
         : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

ct_status ct_write_atomic(const char *path, ct_write_fn fn, void *ctx) {
    if (!path || !*path) return ct_set_error(CT_ERR_ARG, "cannot write a file with an empty name");
    /* Only ever replace a regular file: a device, FIFO or folder named as an output is
     * refused (renaming over /dev/null would replace the system's node), a read-only file
     * is kept, and a symlink is written through to its target. */
    char *target = write_target(path);
    if (!target) return CT_ERR_IO;
    struct stat tsb;
    int exists = stat(target, &tsb) == 0;
    if (exists && !S_ISREG(tsb.st_mode)) {
        ct_status e = ct_set_error(CT_ERR_IO, "cannot write %s: it is %s; cltrain writes outputs "
                                   "only to regular files (choose a file path)", path,
                                   file_kind(tsb.st_mode));
        free(target);
        return e;
    }
    if (exists && !g_force && !(tsb.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH))) {
        ct_status e = ct_set_error(CT_ERR_IO, "cannot write %s: the file is read-only (make it "
                                   "writable with chmod u+w, choose another path, or give --force)", path);
        free(target);
        return e;
    }
    size_t n = strlen(target) + 32;
    char *tmp = malloc(n);
    if (!tmp) {
        free(target);
        return ct_set_error(CT_ERR_MEMORY, "cannot write %s: out of host memory", path);
    }
    snprintf(tmp, n, "%s.tmp.%ld", target, (long)getpid());

    ct_status st = CT_OK;
    int slot = temp_register(tmp);
    if (slot < 0) {
        free(tmp);
        free(target);
        return ct_set_error(CT_ERR_IO, "cannot write %s: more than %d files being written at once",
                            path, CT_TEMP_SLOTS);
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        st = write_error(path, "", errno);
        temp_unregister(slot);
        free(tmp);
        free(target);
        return st;
    }
    if (exists) (void)fchmod(fd, tsb.st_mode & 07777); /* the replaced file's permissions */
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        st = write_error(path, "", errno);
        close(fd);
        goto fail;
    }
    errno = 0;
    st = fn(f, ctx);
    if (st != CT_OK) {
        fclose(f);
        goto fail;
    }
    if (ferror(f) || fflush(f) != 0) {
        st = write_error(path, "", errno ? errno : EIO);
        fclose(f);
        goto fail;
    }
    if (fsync(fd) != 0) {
        st = write_error(path, "fsync: ", errno);
        fclose(f);
        goto fail;
    }
    if (fclose(f) != 0) {
        st = write_error(path, "", errno);
        goto fail;
    }
    if (rename(tmp, target) != 0) {
        st = write_error(path, "rename: ", errno);
        goto fail;
    }
    temp_unregister(slot);
    sync_parent(target);
    free(tmp);
    free(target);
    return CT_OK;
fail:
    unlink(tmp);
    temp_unregister(slot);
    free(tmp);
    free(target);
    return st;
}

typedef struct {
    const void *buf;
    size_t len;
} buf_ctx;

static ct_status write_buf(FILE *f, void *ctx) {
    const buf_ctx *b = ctx;
    if (b->len) fwrite(b->buf, 1, b->len, f); /* ferror is checked by the caller */
    return CT_OK;
}

ct_status ct_write_atomic_buf(const char *path, const void *buf, size_t len) {
    buf_ctx b = {buf, len};
    return ct_write_atomic(path, write_buf, &b);
}

ct_status ct_read_file(const char *path, size_t max_len, unsigned char **buf, size_t *len) {
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ct_set_error(CT_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return ct_set_error(CT_ERR_IO, "cannot read %s: %s", path, strerror(e));
    }
    if (S_ISDIR(sb.st_mode)) {
        close(fd);
        return ct_set_error(CT_ERR_IO, "cannot read %s: it is a folder, not a file", path);
    }
    if (sb.st_size < 0 || (unsigned long long)sb.st_size > max_len) {
        close(fd);
        return ct_set_error(CT_ERR_IO, "cannot read %s: it has %lld bytes, more than the %zu allowed",
                            path, (long long)sb.st_size, max_len);
    }
    /* Read until EOF rather than trusting st_size (pipes, files that change). */
    size_t cap = (size_t)sb.st_size + 1, n = 0;
    unsigned char *b = malloc(cap + 1);
    if (!b) {
        close(fd);
        return ct_set_error(CT_ERR_MEMORY, "cannot read %s: out of host memory for %zu bytes", path, cap);
    }
    for (;;) {
        if (n == cap) {
            if (cap > max_len) {
                free(b);
                close(fd);
                return ct_set_error(CT_ERR_IO, "cannot read %s: it has more than the %zu bytes allowed",
                                    path, max_len);
            }
            size_t ncap = cap * 2 > max_len + 1 ? max_len + 1 : cap * 2;
            unsigned char *nb = realloc(b, ncap + 1);
            if (!nb) {
                free(b);
                close(fd);
                return ct_set_error(CT_ERR_MEMORY, "cannot read %s: out of host memory", path);
            }
            b = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            free(b);
            close(fd);
            return ct_set_error(CT_ERR_IO, "cannot read %s: %s", path, strerror(e));
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    if (n > max_len) {
        free(b);
        return ct_set_error(CT_ERR_IO, "cannot read %s: it has more than the %zu bytes allowed", path, max_len);
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return CT_OK;
}

ct_status ct_mkdir_p(const char *path) {
    if (!path || !*path) return ct_set_error(CT_ERR_ARG, "cannot create a folder with an empty name");
    char *p = strdup(path);
    if (!p) return ct_set_error(CT_ERR_MEMORY, "cannot create %s: out of host memory", path);
    ct_status st = CT_OK;
    size_t n = strlen(p);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != 0) continue;
        if (p[i - 1] == '/') continue; /* "a//b" or a trailing slash */
        char c = p[i];
        p[i] = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            st = ct_set_error(CT_ERR_IO, "cannot create folder %s: %s", p, strerror(errno));
            break;
        }
        struct stat sb;
        if (stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            st = ct_set_error(CT_ERR_IO, "cannot create folder %s: %s is a file, not a folder", path, p);
            break;
        }
        p[i] = c;
    }
    free(p);
    return st;
}
