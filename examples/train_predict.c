/* train_predict DIR: trains a small network for one epoch on DIR/train (one sub-folder
 * per class), then predicts the first image of DIR/test (in sorted order) in memory and
 * prints "<file> <class> <probability>". Uses only the public header:
 *
 *     cc train_predict.c $(pkg-config --cflags --libs cltrain) -o train_predict
 */
#include <stdio.h>
#include <stdlib.h>

#include <cltrain.h>

static int fail(const char *what) {
    fprintf(stderr, "train_predict: %s: %s\n", what, ct_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: train_predict DIR (with DIR/train and DIR/test class folders)\n");
        return 2;
    }
    char train_dir[4096], test_dir[4096];
    snprintf(train_dir, sizeof train_dir, "%s/train", argv[1]);
    snprintf(test_dir, sizeof test_dir, "%s/test", argv[1]);
    const char *train_dirs[] = {train_dir}, *test_dirs[] = {test_dir};

    ct_runtime *rt = NULL;
    ct_dataset *train = NULL, *test = NULL;
    ct_classifier *m = NULL;
    float *probs = NULL;
    int rc = 1;
    if (ct_runtime_create(NULL, 0, &rt) != CT_OK) { rc = fail("device"); goto done; }
    if (ct_dataset_open(train_dirs, 1, &train) != CT_OK) { rc = fail(train_dir); goto done; }
    if (ct_dataset_open(test_dirs, 1, &test) != CT_OK) { rc = fail(test_dir); goto done; }
    if (ct_classifier_create(rt, "conv8:3:relu,pool2,flatten,dense1", 32, 32, 3, CT_RESIZE_NEAREST,
                             ct_dataset_class_count(train), ct_dataset_class_names(train), 32, 1,
                             &m) != CT_OK) {
        rc = fail("model");
        goto done;
    }
    ct_fit_opts o;
    ct_fit_opts_default(&o);
    o.epochs = 1;
    o.batch = 32;
    ct_fit_result r;
    if (ct_fit(m, train, NULL, &o, &r) != CT_OK) { rc = fail("training"); goto done; }

    const char *file = ct_dataset_path(test, 0); /* classes and files in sorted order */
    int k = ct_classifier_class_count(m);
    probs = malloc((size_t)k * sizeof *probs);
    if (!probs) goto done;
    if (ct_classifier_predict_file(m, file, probs) != CT_OK) { rc = fail(file); goto done; }
    int best = 0;
    for (int j = 1; j < k; j++)
        if (probs[j] > probs[best]) best = j;
    printf("%s %s %.6f\n", file, ct_classifier_class_name(m, best), probs[best]);
    rc = 0;
done:
    free(probs);
    ct_classifier_free(m);
    ct_dataset_free(test);
    ct_dataset_free(train);
    ct_runtime_free(rt);
    return rc;
}
