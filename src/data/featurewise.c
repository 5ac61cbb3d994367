/* The featurewise statistics of a training set (Keras's ImageDataGenerator.fit): per
 * channel mean and std, in double, over one in-order pass of a loader that applies the
 * rescale and samplewise steps. */
#include <math.h>

#include "base/error.h"
#include "data/data.h"

/* One pass of the loader's epoch 0 over every image: per channel, the sum of (x - centre)^k. */
static ct_status channel_sums(ct_loader *l, int c, size_t hw, const double *centre, int k,
                              double *sum, long *count) {
    CT_TRY(ct_loader_start_epoch(l, 0));
    *count = 0;
    for (;;) {
        ct_batch b;
        CT_TRY(ct_loader_next(l, &b));
        if (b.count == 0) break;
        for (int j = 0; j < b.count; j++)
            for (int ch = 0; ch < c; ch++) {
                const float *v = b.x + ((size_t)j * c + ch) * hw;
                double s = 0;
                for (size_t i = 0; i < hw; i++) {
                    double d = (double)v[i] - centre[ch];
                    s += k == 1 ? d : d * d;
                }
                sum[ch] += s;
            }
        *count += b.count;
        ct_loader_release(l, &b);
    }
    return CT_OK;
}

ct_status ct_preprocess_fit(const ct_dataset *ds, const ct_loader_opts *o, ct_preprocess *p) {
    if (!ct_preprocess_featurewise(p)) return CT_OK;
    /* The statistics are those of what reaches the featurewise steps: the images rescaled
     * and, when asked, samplewise normalized (docs/MODEL_FORMAT.md says why). */
    ct_loader_opts so = *o;
    so.pre = *p;
    so.pre.featurewise_center = so.pre.featurewise_std_normalization = 0;
    so.pre.n_stats = 0;
    so.augment.enabled = 0;
    so.shuffle = 0;
    so.quiet = 1;
    ct_loader *l;
    CT_TRY(ct_loader_create(ds, &so, &l));
    int c = o->c;
    size_t hw = (size_t)o->h * o->w;
    double zero[3] = {0, 0, 0}, sum[3] = {0, 0, 0}, mean[3], sq[3] = {0, 0, 0};
    long cnt = 0;
    ct_status s = channel_sums(l, c, hw, zero, 1, sum, &cnt);
    if (s == CT_OK && cnt == 0)
        s = ct_set_error(CT_ERR_IO, "featurewise statistics: none of the training images could "
                                    "be read");
    for (int ch = 0; s == CT_OK && ch < c; ch++)
        mean[ch] = sum[ch] / ((double)cnt * (double)hw);
    if (s == CT_OK) s = channel_sums(l, c, hw, mean, 2, sq, &cnt);
    ct_loader_free(l);
    CT_TRY(s);
    for (int ch = 0; ch < c; ch++) {
        p->mean[ch] = (float)mean[ch];
        p->std[ch] = (float)sqrt(sq[ch] / ((double)cnt * (double)hw));
    }
    p->n_stats = c;
    return CT_OK;
}
