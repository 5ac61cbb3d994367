/* Data pipeline benchmark (prints figures; not a test): augmented images/s at 112x112 with the
 * "seed" preset, batch 64, for 1..N workers, with the decode-once cache on and off.
 *
 *   bench_pipeline DIR [--images N] [--max-workers W] [--keras-rate R]
 *
 * --images: how many images each configuration processes (an evenly strided subset of DIR;
 * default 384). --keras-rate: Keras's images/s measured by bench/keras_pipeline.py on the same
 * machine, to print the ratio (bench/pipeline.sh runs both). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "data/data.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* one configuration: returns epoch images/s; *create_s gets the create (decode pass) time */
static double run(const ct_dataset *ds, int workers, size_t cache_mb, double *create_s, int *skipped) {
    ct_loader_opts o = {0};
    o.batch = 64;
    o.h = o.w = 112;
    o.c = 3;
    ct_preprocess_default(&o.pre);
    o.shuffle = 1;
    o.seed = 1;
    o.workers = workers;
    o.cache_mb = cache_mb;
    o.quiet = 1;
    ct_augment_preset("seed", &o.augment);
    ct_loader *l;
    double t0 = now_s();
    if (ct_loader_create(ds, &o, &l) != CT_OK) {
        fprintf(stderr, "bench_pipeline: %s\n", ct_last_error());
        exit(1);
    }
    *create_s = now_s() - t0;
    t0 = now_s();
    ct_loader_start_epoch(l, 0);
    long n = 0;
    ct_batch b;
    while (ct_loader_next(l, &b) == CT_OK && b.count > 0) {
        n += b.count;
        ct_loader_release(l, &b);
    }
    double dt = now_s() - t0;
    *skipped = ct_loader_skipped(l);
    ct_loader_free(l);
    return (double)n / dt;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_pipeline DIR [--images N] [--max-workers W] [--keras-rate R]\n");
        return 2;
    }
    int images = 384, maxw = (int)sysconf(_SC_NPROCESSORS_ONLN);
    double keras = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--images") && i + 1 < argc) images = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--max-workers") && i + 1 < argc) maxw = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--keras-rate") && i + 1 < argc) keras = atof(argv[++i]);
        else {
            fprintf(stderr, "bench_pipeline: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (maxw < 1) maxw = 1;
    const char *dirs[1] = {argv[1]};
    ct_dataset full;
    if (ct_dataset_scan(dirs, 1, &full) == CT_OK) ct_dataset_print(&full, stdout);
    else {
        fprintf(stderr, "bench_pipeline: %s\n", ct_last_error());
        return 1;
    }
    /* evenly strided subset, so both classes are in it */
    if (images <= 0 || images > full.n) images = full.n;
    ct_dataset ds = full;
    char **paths = malloc(sizeof(char *) * images);
    int *labels = malloc(sizeof(int) * images);
    for (int i = 0; i < images; i++) {
        int k = (int)((long)i * full.n / images);
        paths[i] = full.paths[k];
        labels[i] = full.labels[k];
    }
    ds.paths = paths;
    ds.labels = labels;
    ds.n = images;
    printf("pipeline: %d images/config, 112x112x3, batch 64, preset seed, %ld cores online\n", images,
           sysconf(_SC_NPROCESSORS_ONLN));
    printf("%-7s %-8s %12s %14s %10s%s\n", "cache", "workers", "images/s", "create s", "skipped",
           keras > 0 ? "   x Keras" : "");
    for (int cache = 1; cache >= 0; cache--)
        for (int w = 1; w <= maxw; w++) {
            double cs;
            int sk;
            double r = run(&ds, w, cache ? 4096 : 0, &cs, &sk);
            printf("%-7s %-8d %12.1f %14.2f %10d", cache ? "on" : "off", w, r, cs, sk);
            if (keras > 0) printf("   %7.1fx", r / keras);
            printf("\n");
            fflush(stdout);
        }
    if (keras > 0) printf("keras ImageDataGenerator.flow_from_directory: %.1f images/s\n", keras);
    free(paths);
    free(labels);
    ct_dataset_clear(&full);
    return 0;
}
