/* Small file helpers shared by the modules that write or read files (safetensors,
 * report, checkpoints): atomic writes, whole-file reads with a size cap, mkdir -p.
 * Every failure returns a ct_status with a message that names the path and the reason. */
#ifndef CT_FILEUTIL_H
#define CT_FILEUTIL_H

#include <stddef.h>
#include <stdio.h>

#include "cltrain.h"

/* Writes the file's contents to f. Returns CT_OK, or a status after ct_set_error()
 * (write errors on f itself need no message: ct_write_atomic checks ferror). */
typedef ct_status (*ct_write_fn)(FILE *f, void *ctx);

/* Writes path atomically: fn writes "<path>.tmp.<pid>" in the same folder, which is
 * flushed, fsync'd and renamed over path. On any failure the temp file is removed,
 * path is left as it was, and the result is CT_ERR_IO (or fn's status) with a message
 * such as "cannot write out/model.safetensors: Permission denied (choose a writable
 * output path)". */
ct_status ct_write_atomic(const char *path, ct_write_fn fn, void *ctx);
/* With force set (the CLI's --force), a read-only regular file is replaced too. Devices,
 * FIFOs and folders are refused whatever force says. */
void ct_write_set_force(int force);
int ct_write_force(void);

/* Removes every temp file of a ct_write_atomic now in progress. Async-signal-safe (only
 * unlink on paths registered before the temp file was created): a signal handler that
 * ends the process calls it so no "<name>.tmp.<pid>" is left behind. */
void ct_write_unlink_temps(void);

/* The same for a buffer of len bytes. */
ct_status ct_write_atomic_buf(const char *path, const void *buf, size_t len);

/* Reads all of path into *buf (malloc'd, with a NUL byte after the len bytes, so text
 * can be used as a string). Files over max_len bytes, folders and unreadable files
 * give CT_ERR_IO with a message naming the path. */
ct_status ct_read_file(const char *path, size_t max_len, unsigned char **buf, size_t *len);

/* Creates folder path and its missing parents (like mkdir -p). An existing folder is
 * fine; an existing file in the way is CT_ERR_IO. */
ct_status ct_mkdir_p(const char *path);

/* Last path component ("out/model.safetensors" -> "model.safetensors"). */
const char *ct_path_base(const char *path);

#endif
