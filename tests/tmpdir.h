/* A scratch folder for tests that write files: made under $TMPDIR (or /tmp), emptied
 * and removed by tmpdir_remove(). */
#ifndef CT_TEST_TMPDIR_H
#define CT_TEST_TMPDIR_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline const char *tmpdir_make(char *buf, size_t n) {
    const char *base = getenv("TMPDIR");
    snprintf(buf, n, "%s/cltrain-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        exit(1);
    }
    return buf;
}

/* Number of entries in dir whose name contains part (e.g. ".tmp."). */
static inline int tmpdir_count(const char *dir, const char *part) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int k = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && strstr(e->d_name, part)) k++;
    closedir(d);
    return k;
}

/* Removes dir and everything in it (two levels are enough for these tests). */
static inline void tmpdir_remove(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p) continue;
        if (unlink(p) != 0) tmpdir_remove(p);
    }
    closedir(d);
    rmdir(dir);
}

#endif
