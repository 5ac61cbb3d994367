/* Persistent program-binary cache.
 *
 * An entry is <dir>/<hash64(key)>.bin holding:
 *   "CTPCACHE" | u32 format | u32 key_len | key | u64 bin_len | u64 hash64(bin) | bin
 * The key is the full description (source hash, options, device, driver, platform,
 * format version), stored whole so a hash collision or a foreign file is detected.
 * Anything that does not check out is a miss; the caller rebuilds and replaces it.
 * Writes go to a temp name and are renamed. Any failure here only costs a rebuild. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/fileutil.h"
#include "runtime/runtime.h"

#define CACHE_MAGIC "CTPCACHE"
#define CACHE_FORMAT 1u

const char *ct_cache_dir(void) {
    static _Thread_local char dir[4096];
    const char *off = getenv("CLTRAIN_CACHE");
    if (off && (!strcmp(off, "off") || !strcmp(off, "0") || !strcmp(off, "no"))) return NULL;
    const char *d = getenv("CLTRAIN_CACHE_DIR"), *var = "CLTRAIN_CACHE_DIR";
    int n;
    if (d && *d) {
        n = snprintf(dir, sizeof dir, "%s", d);
    } else if ((d = getenv("XDG_CACHE_HOME")) && *d) {
        var = "XDG_CACHE_HOME";
        n = snprintf(dir, sizeof dir, "%s/cltrain", d);
    } else if ((d = getenv("HOME")) && *d) {
        var = "HOME";
        n = snprintf(dir, sizeof dir, "%s/.cache/cltrain", d);
    } else {
        return NULL;
    }
    /* entries and the tuning file add up to ~40 characters: a folder that leaves no room
     * for them is not cut short (that would be another folder) but not used */
    if (n < 0 || (size_t)n + 64 > sizeof dir) {
        static _Atomic int warned;
        if (!warned++)
            ct_log(CT_LOG_WARN, "the cache folder from %s is %d characters long, more than the "
                   "%zu allowed: kernels are compiled and tuned without a cache (set a shorter %s)",
                   var, n, sizeof dir - 64, var);
        return NULL;
    }
    return dir;
}

static void entry_path(const char *dir, const char *key, char *out, size_t n) {
    snprintf(out, n, "%s/%016llx.bin", dir, (unsigned long long)ct_hash64(key, strlen(key), 0));
}

int ct_cache_load(const char *key, unsigned char **bin, size_t *len) {
    const char *dir = ct_cache_dir();
    if (!dir) return 0;
    char path[4200];
    entry_path(dir, key, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    int ok = 0;
    unsigned char *data = NULL;
    char *k = NULL;
    char magic[8];
    uint32_t fmt, klen;
    uint64_t blen, bhash;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, CACHE_MAGIC, 8)) goto done;
    if (fread(&fmt, 4, 1, f) != 1 || fmt != CACHE_FORMAT) goto done;
    if (fread(&klen, 4, 1, f) != 1 || klen != strlen(key)) goto done;
    k = malloc(klen + 1);
    if (!k || fread(k, 1, klen, f) != klen) goto done;
    k[klen] = 0;
    if (strcmp(k, key)) goto done;
    if (fread(&blen, 8, 1, f) != 1 || fread(&bhash, 8, 1, f) != 1) goto done;
    if (blen == 0 || blen > (1ull << 31)) goto done;
    /* The file must hold exactly the announced bytes: catches truncation and junk. */
    long here = ftell(f);
    if (fseek(f, 0, SEEK_END) != 0) goto done;
    long end = ftell(f);
    if (here < 0 || end < 0 || (uint64_t)(end - here) != blen) goto done;
    if (fseek(f, here, SEEK_SET) != 0) goto done;
    data = malloc(blen);
    if (!data || fread(data, 1, blen, f) != blen) goto done;
    if (ct_hash64(data, blen, 1) != bhash) goto done;
    *bin = data;
    *len = blen;
    data = NULL;
    ok = 1;
done:
    free(data);
    free(k);
    fclose(f);
    return ok;
}

typedef struct entry_job {
    const char *key;
    const unsigned char *bin;
    size_t len;
} entry_job;

static ct_status write_entry(FILE *f, void *ctx) {
    const entry_job *e = ctx;
    uint32_t fmt = CACHE_FORMAT, klen = (uint32_t)strlen(e->key);
    uint64_t blen = e->len, bhash = ct_hash64(e->bin, e->len, 1);
    fwrite(CACHE_MAGIC, 1, 8, f);
    fwrite(&fmt, 4, 1, f);
    fwrite(&klen, 4, 1, f);
    fwrite(e->key, 1, klen, f);
    fwrite(&blen, 8, 1, f);
    fwrite(&bhash, 8, 1, f);
    fwrite(e->bin, 1, e->len, f);
    return CT_OK; /* ct_write_atomic checks the stream's error flag */
}

void ct_cache_store(const char *key, const unsigned char *bin, size_t len) {
    const char *dir = ct_cache_dir();
    if (!dir) return;
    /* a cache that cannot be written only costs a rebuild next time: keep the caller's
     * error message as it was */
    char saved[1024];
    snprintf(saved, sizeof saved, "%s", ct_last_error());
    if (ct_mkdir_p(dir) == CT_OK) {
        char path[4200];
        entry_path(dir, key, path, sizeof path);
        entry_job e = {key, bin, len};
        (void)ct_write_atomic(path, write_entry, &e);
    }
    ct_set_error(CT_OK, "%s", saved);
}
