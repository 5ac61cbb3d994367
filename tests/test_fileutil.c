/* fileutil: atomic writes leave the old file or the new one and never a temp file;
 * errors name the path; capped reads; mkdir -p. */
#include <errno.h>
#include <sys/stat.h>

#include "ctest.h"
#include "io/fileutil.h"
#include "tmpdir.h"

static ct_status write_half_then_fail(FILE *f, void *ctx) {
    (void)ctx;
    fputs("partial", f);
    return ct_set_error(CT_ERR_NUMERIC, "writer gave up");
}

/* Plays a signal handler that ends the process mid-write: the temp file it unlinks must be
 * the one being written (the registry holds it while the writer runs). */
static ct_status write_then_unlink_temps(FILE *f, void *ctx) {
    const char *dir = ctx;
    fputs("half", f);
    fflush(f);
    int before = tmpdir_count(dir, ".tmp.");
    ct_write_unlink_temps();
    int after = tmpdir_count(dir, ".tmp.");
    return before == 1 && after == 0 ? CT_OK
                                     : ct_set_error(CT_ERR_ARG, "temps before %d after %d", before, after);
}

static int file_is(const char *path, const char *want) {
    unsigned char *b;
    size_t n;
    if (ct_read_file(path, 1 << 20, &b, &n) != CT_OK) return 0;
    int ok = n == strlen(want) && memcmp(b, want, n) == 0;
    free(b);
    return ok;
}

int main(void) {
    char dir[512], path[1024], sub[1024];
    tmpdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/a.txt", dir);

    /* write, overwrite, read back */
    CHECK_OK(ct_write_atomic_buf(path, "hello", 5));
    CHECK(file_is(path, "hello"), "first write");
    CHECK_OK(ct_write_atomic_buf(path, "world!", 6));
    CHECK(file_is(path, "world!"), "overwrite");
    CHECK_OK(ct_write_atomic_buf(path, "", 0));
    CHECK(file_is(path, ""), "empty file");
    CHECK_OK(ct_write_atomic_buf(path, "keep", 4));
    CHECK(tmpdir_count(dir, ".tmp.") == 0, "temp files left: %d", tmpdir_count(dir, ".tmp."));

    /* a failing writer keeps the old file, its own status and message, and no temp */
    ct_status s = ct_write_atomic(path, write_half_then_fail, NULL);
    CHECK(s == CT_ERR_NUMERIC, "status %s", ct_status_str(s));
    CHECK(strstr(ct_last_error(), "writer gave up"), "message: %s", ct_last_error());
    CHECK(file_is(path, "keep"), "old content kept");
    CHECK(tmpdir_count(dir, ".tmp.") == 0, "temp left after failure");

    /* a missing folder: CT_ERR_IO naming the path, the reason and what to do */
    snprintf(sub, sizeof sub, "%s/nofolder/model.safetensors", dir);
    s = ct_write_atomic_buf(sub, "x", 1);
    CHECK(s == CT_ERR_IO, "status %s", ct_status_str(s));
    CHECK(strstr(ct_last_error(), sub) && strstr(ct_last_error(), strerror(ENOENT)) &&
              strstr(ct_last_error(), "folder"), "message: %s", ct_last_error());
    /* a file where a folder should be */
    snprintf(sub, sizeof sub, "%s/a.txt/model.safetensors", dir);
    CHECK(ct_write_atomic_buf(sub, "x", 1) == CT_ERR_IO, "write under a file");
    /* an unwritable folder (root may write anyway: then only check nothing is left) */
    snprintf(sub, sizeof sub, "%s/ro", dir);
    CHECK(mkdir(sub, 0555) == 0, "mkdir ro");
    snprintf(path, sizeof path, "%s/ro/out.csv", dir);
    s = ct_write_atomic_buf(path, "x", 1);
    if (geteuid() != 0) {
        CHECK(s == CT_ERR_IO, "read-only folder: %s", ct_status_str(s));
        CHECK(strstr(ct_last_error(), "cannot write") && strstr(ct_last_error(), "out.csv") &&
                  strstr(ct_last_error(), strerror(EACCES)) && strstr(ct_last_error(), "writable"),
              "message: %s", ct_last_error());
    }
    CHECK(tmpdir_count(sub, ".tmp.") == 0, "temp left in read-only folder");
    chmod(sub, 0755);
    CHECK(ct_write_atomic_buf("", "x", 1) == CT_ERR_ARG, "empty path");

    /* reads */
    unsigned char *b;
    size_t n;
    snprintf(path, sizeof path, "%s/a.txt", dir);
    CHECK_OK(ct_read_file(path, 4, &b, &n));
    CHECK(n == 4 && b[4] == 0 && !memcmp(b, "keep", 4), "read with NUL after");
    free(b);
    s = ct_read_file(path, 3, &b, &n);
    CHECK(s == CT_ERR_IO && b == NULL && strstr(ct_last_error(), path), "cap: %s", ct_last_error());
    s = ct_read_file(dir, 100, &b, &n);
    CHECK(s == CT_ERR_IO && strstr(ct_last_error(), "folder"), "folder: %s", ct_last_error());
    snprintf(path, sizeof path, "%s/missing.bin", dir);
    s = ct_read_file(path, 100, &b, &n);
    CHECK(s == CT_ERR_IO && strstr(ct_last_error(), "missing.bin") && strstr(ct_last_error(), strerror(ENOENT)),
          "missing: %s", ct_last_error());

    /* mkdir -p */
    snprintf(sub, sizeof sub, "%s/x/y//z/", dir);
    CHECK_OK(ct_mkdir_p(sub));
    CHECK_OK(ct_mkdir_p(sub)); /* again: fine */
    struct stat sb;
    snprintf(path, sizeof path, "%s/x/y/z", dir);
    CHECK(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode), "made %s", path);
    snprintf(path, sizeof path, "%s/a.txt/q", dir);
    CHECK(ct_mkdir_p(path) == CT_ERR_IO, "file in the way");
    CHECK(strcmp(ct_path_base("out/m.safetensors"), "m.safetensors") == 0, "base");
    CHECK(strcmp(ct_path_base("m"), "m") == 0, "base without folder");

    /* outputs only ever replace regular files */
    char target[1024], link[1024];
    snprintf(target, sizeof target, "%s/target.csv", dir);
    snprintf(link, sizeof link, "%s/link.csv", dir);
    CHECK_OK(ct_write_atomic_buf(target, "old", 3));
    CHECK(symlink("target.csv", link) == 0, "symlink");
    CHECK_OK(ct_write_atomic_buf(link, "new", 3));
    CHECK(lstat(link, &sb) == 0 && S_ISLNK(sb.st_mode), "the link is still a link");
    CHECK(file_is(target, "new"), "written through the link to its target");
    snprintf(path, sizeof path, "%s/fifo", dir);
    CHECK(mkfifo(path, 0644) == 0, "mkfifo");
    s = ct_write_atomic_buf(path, "x", 1);
    CHECK(s == CT_ERR_IO && strstr(ct_last_error(), "FIFO") && strstr(ct_last_error(), "regular"),
          "FIFO refused: %s", ct_last_error());
    CHECK(lstat(path, &sb) == 0 && S_ISFIFO(sb.st_mode), "the FIFO is still a FIFO");
    snprintf(path, sizeof path, "%s/x", dir);
    s = ct_write_atomic_buf(path, "x", 1);
    CHECK(s == CT_ERR_IO && strstr(ct_last_error(), "folder"), "folder refused: %s", ct_last_error());
    CHECK(ct_write_atomic_buf("/dev/null", "x", 1) == CT_ERR_IO &&
              strstr(ct_last_error(), "character device"),
          "/dev/null refused: %s", ct_last_error());
    CHECK(lstat("/dev/null", &sb) == 0 && S_ISCHR(sb.st_mode), "/dev/null untouched");
    CHECK(chmod(target, 0444) == 0, "chmod");
    s = ct_write_atomic_buf(target, "x", 1);
    CHECK(s == CT_ERR_IO && strstr(ct_last_error(), "read-only"), "read-only kept: %s",
          ct_last_error());
    CHECK(file_is(target, "new"), "read-only content kept");
    /* --force replaces a read-only file (and keeps its mode); devices stay refused */
    ct_write_set_force(1);
    CHECK_OK(ct_write_atomic_buf(target, "forced", 6));
    CHECK(file_is(target, "forced"), "--force replaced the read-only file");
    CHECK(stat(target, &sb) == 0 && (sb.st_mode & 0777) == 0444, "forced: mode kept");
    CHECK(ct_write_atomic_buf("/dev/null", "x", 1) == CT_ERR_IO, "--force still refuses devices");
    ct_write_set_force(0);
    CHECK(chmod(target, 0640) == 0, "chmod");
    CHECK_OK(ct_write_atomic_buf(target, "m", 1));
    CHECK(stat(target, &sb) == 0 && (sb.st_mode & 0777) == 0640, "mode kept: %o",
          (unsigned)(sb.st_mode & 0777));
    CHECK(tmpdir_count(dir, ".tmp.") == 0, "temp files left");

    /* the live temp file is registered for a signal handler to unlink, and only while
     * it exists: afterwards the registry is empty (nothing else gets unlinked) */
    snprintf(path, sizeof path, "%s/sig.txt", dir);
    s = ct_write_atomic(path, write_then_unlink_temps, dir);
    CHECK(s == CT_ERR_IO, "the write whose temp was unlinked fails at rename: %s", ct_last_error());
    CHECK(tmpdir_count(dir, ".tmp.") == 0, "temp files left after unlink_temps");
    CHECK_OK(ct_write_atomic_buf(path, "after", 5));
    ct_write_unlink_temps();
    CHECK(file_is(path, "after"), "unlink_temps outside a write touches nothing");

    tmpdir_remove(dir);
    return ct_test_done("fileutil");
}
