/* Adam with Keras semantics over the whole parameter slab in one launch. */
#include <limits.h>
#include <math.h>

#include "layers/layers.h"

ct_status ct_adam_update(ct_layer_kernels *k, size_t count, double lr, double b1, double b2,
                         double eps, long t, cl_mem p, cl_mem g, cl_mem m, cl_mem v) {
    if (count > (size_t)INT_MAX)
        return ct_set_error(CT_ERR_SHAPE, "Adam over %zu parameters exceeds 32-bit indexing", count);
    if (t < 1) return ct_set_error(CT_ERR_ARG, "Adam step number %ld must be >= 1", t);
    /* Keras: alpha_t = lr * sqrt(1 - b2^t) / (1 - b1^t), t = iterations + 1 (float32 there;
     * double here, the difference is far below float rounding of the update). */
    double alpha = lr * sqrt(1.0 - pow(b2, (double)t)) / (1.0 - pow(b1, (double)t));
    int n = (int)count;
    float fa = (float)alpha, f1 = (float)(1.0 - b1), f2 = (float)(1.0 - b2), fe = (float)eps;
    CT_TRY(ct_set_args(k->adam, 9, sizeof n, &n, sizeof fa, &fa, sizeof f1, &f1, sizeof f2, &f2,
                       sizeof fe, &fe, sizeof p, &p, sizeof g, &g, sizeof m, &m, sizeof v, &v));
    return ct_launch(k->rt, k->adam, 1, &count, NULL);
}
