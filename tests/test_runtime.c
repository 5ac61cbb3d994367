/* Runtime: device choice, error names, program cache hit/miss/corrupt/disabled,
 * build-failure messages, allocation limits. */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctest.h"
#include "check/selftest.h"
#include "layers/layer.h"
#include "runtime/tensor.h"

static char cache_dir[512];

static int count_entries(void) {
    DIR *d = opendir(cache_dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".bin") && !strstr(e->d_name, ".tmp")) n++;
    closedir(d);
    return n;
}

static void first_entry(char *out, size_t n) {
    out[0] = 0;
    DIR *d = opendir(cache_dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".bin")) {
            snprintf(out, n, "%s/%s", cache_dir, e->d_name);
            break;
        }
    closedir(d);
}

static void clear_cache(void) {
    DIR *d = opendir(cache_dir);
    if (!d) return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(p, sizeof p, "%s/%s", cache_dir, e->d_name);
            unlink(p);
        }
    closedir(d);
}

/* Builds the selfcheck program in a fresh runtime; returns 1 if it came from cache. */
static int build_once(int *ok) {
    ct_runtime *rt;
    *ok = 0;
    if (ct_runtime_create(NULL, 0, &rt) != CT_OK) return -1;
    double err = 1e9;
    ct_status s = ct_selftests[0].run(rt, &err);
    *ok = (s == CT_OK && err <= 1.0);
    int cached = rt->n_cached;
    ct_runtime_free(rt);
    return cached;
}

static void corrupt(const char *path, int how) {
    FILE *f = fopen(path, "r+b");
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    if (how == 0) { /* truncate */
        fclose(f);
        if (truncate(path, len / 2) != 0) perror("truncate");
        return;
    }
    if (how == 1) { /* flip a byte in the binary payload */
        fseek(f, len - 10, SEEK_SET);
        int c = fgetc(f);
        fseek(f, len - 10, SEEK_SET);
        fputc(c ^ 0x5a, f);
    } else { /* foreign file: garbage from the start */
        fseek(f, 0, SEEK_SET);
        fputs("this is not a cltrain cache entry at all, just junk bytes", f);
    }
    fclose(f);
}

int main(void) {
    ct_runtime *rt = ct_test_runtime(0);

    /* error names */
    CHECK(!strcmp(ct_cl_error_name(-54), "CL_INVALID_WORK_GROUP_SIZE"), "%s", ct_cl_error_name(-54));
    CHECK(!strcmp(ct_cl_error_name(-5), "CL_OUT_OF_RESOURCES"), "-5");
    CHECK(!strcmp(ct_status_str(CT_ERR_NO_DEVICE), "CT_ERR_NO_DEVICE"), "status str");

    /* device choice */
    ct_runtime *bad = NULL;
    ct_status s = ct_runtime_create("9:9", 0, &bad);
    CHECK(s == CT_ERR_NO_DEVICE, "9:9 gave %s", ct_status_str(s));
    CHECK(strstr(ct_last_error(), "9:9") && strstr(ct_last_error(), rt->dev.name),
          "message should name the spec and list devices: %s", ct_last_error());
    s = ct_runtime_create("junk", 0, &bad);
    CHECK(s == CT_ERR_NO_DEVICE, "junk spec gave %s", ct_status_str(s));
    char spec[32];
    snprintf(spec, sizeof spec, "%d:%d", rt->dev.platform, rt->dev.device);
    setenv("CLTRAIN_DEVICE", "7:3", 1);
    s = ct_runtime_create(NULL, 0, &bad);
    CHECK(s == CT_ERR_NO_DEVICE && strstr(ct_last_error(), "CLTRAIN_DEVICE"),
          "env device should be used and named: %s", ct_last_error());
    setenv("CLTRAIN_DEVICE", spec, 1);
    s = ct_runtime_create(NULL, 0, &bad);
    CHECK(s == CT_OK, "env device %s: %s", spec, ct_last_error());
    if (s == CT_OK) ct_runtime_free(bad);
    unsetenv("CLTRAIN_DEVICE");

    /* build options: -cl-std from the OpenCL C version; never fast-relaxed-math */
    char opts[1024];
    ct_build_options(rt, "-DX=1", opts, sizeof opts);
    CHECK(strstr(opts, "-cl-std=CL") && strstr(opts, "-DX=1") && !strstr(opts, "fast-relaxed"),
          "options: %s", opts);

    /* cache: miss, hit, corrupt (3 ways), disabled */
    snprintf(cache_dir, sizeof cache_dir, "/tmp/cltrain-test-cache-%d", (int)getpid());
    setenv("CLTRAIN_CACHE_DIR", cache_dir, 1);
    unsetenv("CLTRAIN_CACHE");
    clear_cache();
    int ok;
    CHECK(build_once(&ok) == 0 && ok, "cold build should compile");
    CHECK(count_entries() == 1, "one entry after cold build, got %d", count_entries());
    CHECK(build_once(&ok) == 1 && ok, "warm build should come from cache");
    char entry[1024];
    for (int how = 0; how < 3; how++) {
        first_entry(entry, sizeof entry);
        corrupt(entry, how);
        CHECK(build_once(&ok) == 0 && ok, "corrupt entry (%d) must be rebuilt, not used", how);
        CHECK(build_once(&ok) == 1 && ok, "rebuilt entry (%d) must be cached again", how);
    }
    CHECK(count_entries() == 1, "still one entry, got %d", count_entries());
    clear_cache();
    setenv("CLTRAIN_CACHE", "off", 1);
    CHECK(build_once(&ok) == 0 && ok, "disabled cache compiles");
    CHECK(count_entries() == 0, "disabled cache writes nothing");
    unsetenv("CLTRAIN_CACHE");
    rmdir(cache_dir);

    /* a failed build names the program, the options and the log */
    char kdir[512];
    snprintf(kdir, sizeof kdir, "/tmp/cltrain-test-kdir-%d", (int)getpid());
    mkdir(kdir, 0755);
    char kp[600];
    snprintf(kp, sizeof kp, "%s/broken.cl", kdir);
    FILE *f = fopen(kp, "w");
    if (f) {
        fputs("__kernel void k(__global float *x) { x[0] = undefined_symbol_xyz; }\n", f);
        fclose(f);
    }
    setenv("CLTRAIN_KERNEL_DIR", kdir, 1);
    setenv("CLTRAIN_CACHE", "off", 1);
    cl_program p;
    s = ct_program_get(rt, "broken", NULL, &p);
    CHECK(s == CT_ERR_BUILD, "broken program gave %s", ct_status_str(s));
    CHECK(strstr(ct_last_error(), "broken") && strstr(ct_last_error(), "-cl-std") &&
              strstr(ct_last_error(), "undefined_symbol_xyz"),
          "build error must name program, options, log: %s", ct_last_error());
    unsetenv("CLTRAIN_KERNEL_DIR");
    unsetenv("CLTRAIN_CACHE");
    unlink(kp);
    rmdir(kdir);

    /* allocation over the device limit is an error naming the tensor and sizes */
    cl_mem m;
    s = ct_buffer_create(rt, "huge.activations", (size_t)rt->dev.max_alloc + 4096, CL_MEM_READ_WRITE, &m);
    CHECK(s == CT_ERR_MEMORY && strstr(ct_last_error(), "huge.activations") &&
              strstr(ct_last_error(), "MiB"),
          "over-limit alloc: %s", ct_last_error());
    ct_slab slab;
    ct_slab_init(&slab, rt, "params");
    int sh1[2] = {3, 5}, sh2[1] = {7};
    int a = ct_slab_reserve(&slab, "w", 2, sh1), b = ct_slab_reserve(&slab, "b", 1, sh2);
    CHECK_OK(ct_slab_alloc(&slab));
    CHECK(slab.views[b].off % slab.align == 0 && slab.views[b].off >= slab.views[a].n, "aligned views");
    float host[7] = {1, 2, 3, 4, 5, 6, 7}, back[7] = {0};
    CHECK_OK(ct_upload(rt, slab.views[b].mem, 0, sizeof host, host));
    CHECK_OK(ct_download(rt, slab.mem, slab.views[b].off * 4, sizeof back, back));
    CHECK(!memcmp(host, back, sizeof host), "sub-buffer view maps into the slab");
    ct_slab_free(&slab);

    ct_runtime_free(rt);
    return ct_test_done("runtime");
}
