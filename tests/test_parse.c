/* base/parse: the one option-number parser takes whole strings in range only, and its
 * errors name the option, the range and the value. Also the public API's behaviour
 * without a device: status strings, the version, datasets, image lists, the loader. */
#include <stdlib.h>
#include <string.h>

#include "base/parse.h"
#include "ctest.h"

static int last_error_has(const char *a, const char *b) {
    return strstr(ct_last_error(), a) && (!b || strstr(ct_last_error(), b));
}

static int log_lines;
static void count_log(void *user, ct_log_level level, const char *msg) {
    (void)user;
    (void)level;
    (void)msg;
    log_lines++;
}

int main(void) {
    long l;
    int i;
    size_t z;
    double d;
    int h, w;
    CHECK_OK(ct_parse_long("--seed", "42", 0, 100, &l));
    CHECK(l == 42, "42");
    CHECK_OK(ct_parse_long("--seed", "-5", -10, 10, &l));
    CHECK(l == -5, "-5");
    const char *bad_long[] = {"", "zero", "4x", "1e3", "101", "99999999999999999999999", " 7x"};
    for (size_t k = 0; k < sizeof bad_long / sizeof *bad_long; k++) {
        CHECK(ct_parse_long("--epochs", bad_long[k], 0, 100, &l) == CT_ERR_ARG, "'%s'", bad_long[k]);
        CHECK(last_error_has("--epochs", "from 0 to 100"), "message: %s", ct_last_error());
    }
    CHECK(ct_parse_int("--steps", "zero", 1, 10, &i) == CT_ERR_ARG && last_error_has("'zero'", "--steps"),
          "int message names the value: %s", ct_last_error());
    CHECK_OK(ct_parse_int("--steps", "10", 1, 10, &i));
    CHECK(i == 10, "upper bound included");
    CHECK(ct_parse_int("--steps", "3000000000", 1, 2147483647, &i) == CT_ERR_ARG, "int overflow");
    CHECK_OK(ct_parse_size("--cache-mb", "2048", 0, 1 << 30, &z));
    CHECK(z == 2048, "size");
    CHECK(ct_parse_size("--cache-mb", "-1", 0, 1 << 30, &z) == CT_ERR_ARG, "negative size");
    CHECK_OK(ct_parse_double("--lr", "1e-4", 1e-12, 10, &d));
    CHECK(d == 1e-4, "1e-4");
    CHECK(ct_parse_double("--lr", "nan", 1e-12, 10, &d) == CT_ERR_ARG, "nan is out of every range");
    CHECK(ct_parse_double("--lr", "0.1x", 0, 10, &d) == CT_ERR_ARG && last_error_has("--lr", NULL),
          "trailing junk");
    CHECK_OK(ct_parse_hw("--input", "112x96", 8192, &h, &w));
    CHECK(h == 112 && w == 96, "HxW");
    const char *bad_hw[] = {"112", "112x", "x112", "0x5", "5x0", "112x112x3", "9000x10", "a1x2"};
    for (size_t k = 0; k < sizeof bad_hw / sizeof *bad_hw; k++)
        CHECK(ct_parse_hw("--input", bad_hw[k], 8192, &h, &w) == CT_ERR_ARG, "'%s'", bad_hw[k]);

    /* public API, no device needed */
    CHECK(!strcmp(ct_version(), CLTRAIN_VERSION_STRING), "version");
    CHECK(CLTRAIN_VERSION >= CLTRAIN_VERSION_AT(0, 1, 0), "version macro");
    CHECK(!strcmp(ct_status_str(CT_ERR_IO), "CT_ERR_IO"), "status string");
    ct_set_log(count_log, NULL);
    const char *data = getenv("CLTRAIN_DATA_DIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/catdog-mini/test", data ? data : "data");
    const char *dirs[] = {dir};
    ct_dataset *ds = NULL;
    CHECK_OK(ct_dataset_open(dirs, 1, &ds));
    if (ds) {
        CHECK(ct_dataset_count(ds) > 0 && ct_dataset_class_count(ds) == 2, "counts");
        CHECK(!strcmp(ct_dataset_class_name(ds, 0), "cats") &&
                  !strcmp(ct_dataset_class_names(ds)[1], "dogs"),
              "class names sorted");
        CHECK(ct_dataset_label(ds, 0) == 0 && ct_dataset_path(ds, ct_dataset_count(ds)) == NULL,
              "labels and bounds");
        char **files = NULL;
        int n = 0;
        CHECK_OK(ct_images_find(dirs, 1, &files, &n));
        CHECK(n == ct_dataset_count(ds) && n > 0 && !strcmp(files[0], ct_dataset_path(ds, 0)),
              "one walk: image lists and datasets agree on the order");
        ct_images_free(files, n);
        ct_dataset *part = NULL;
        CHECK_OK(ct_dataset_subset(ds, 0.2, 1, &part));
        CHECK(part && ct_dataset_count(part) < ct_dataset_count(ds), "subset");
        ct_dataset_free(part);

        ct_loader_config c;
        ct_loader_config_default(&c);
        c.batch = 8;
        c.h = c.w = 16;
        c.workers = 2;
        c.quiet = 1;
        ct_loader *ld = NULL;
        log_lines = 0;
        CHECK_OK(ct_loader_open(ds, &c, &ld));
        CHECK(log_lines == 0, "quiet loader logs nothing");
        if (ld) {
            CHECK(ct_loader_batches(ld) == (ct_dataset_count(ds) + 7) / 8, "batches");
            CHECK_OK(ct_loader_start_epoch(ld, 0));
            ct_batch b;
            CHECK_OK(ct_loader_next(ld, &b));
            CHECK(b.count == 8 && b.x && b.y && b.y[0] == 0 && b.x[0] >= 0 && b.x[0] <= 1, "a batch");
            ct_loader_release(ld, &b);
            ct_loader_free(ld);
        }
        ct_dataset_free(ds);
    }
    ct_dataset *none = NULL;
    const char *missing[] = {"/no/such/folder"};
    CHECK(ct_dataset_open(missing, 1, &none) == CT_ERR_IO && !none &&
              last_error_has("/no/such/folder", NULL),
          "missing folder named: %s", ct_last_error());
    ct_dataset_free(NULL); /* free accepts NULL */
    ct_classifier_free(NULL);
    ct_loader_free(NULL);
    return ct_test_done("parse");
}
