/* Losses from logits, accuracy and their device-side sums; output probabilities. */
#include "layers/layers.h"

ct_status ct_loss_forward(ct_layer_kernels *k, int n, int classes, cl_mem z, cl_mem labels,
                          cl_mem stats, cl_mem sums, cl_mem dz) {
    return ct_loss_forward_w(k, n, classes, z, labels, NULL, stats, sums, dz);
}

ct_status ct_loss_forward_w(ct_layer_kernels *k, int n, int classes, cl_mem z, cl_mem labels,
                            cl_mem cw, cl_mem stats, cl_mem sums, cl_mem dz) {
    if (n <= 0) return CT_OK;
    int want = dz != NULL, use_w = cw != NULL;
    cl_mem cwm = cw ? cw : labels; /* never read when use_w == 0 */
    float inv_n = 1.0f / (float)n;
    cl_mem dzm = dz ? dz : z; /* never written when want == 0 */
    size_t g = (size_t)n;
    if (classes == 1) {
        CT_TRY(ct_set_args(k->loss_binary, 9, sizeof n, &n, sizeof z, &z, sizeof labels, &labels,
                           sizeof stats, &stats, sizeof want, &want, sizeof inv_n, &inv_n,
                           sizeof dzm, &dzm, sizeof use_w, &use_w, sizeof cwm, &cwm));
        CT_TRY(ct_launch(k->rt, k->loss_binary, 1, &g, NULL));
    } else {
        CT_TRY(ct_set_args(k->loss_softmax, 10, sizeof n, &n, sizeof classes, &classes, sizeof z,
                           &z, sizeof labels, &labels, sizeof stats, &stats, sizeof want, &want,
                           sizeof inv_n, &inv_n, sizeof dzm, &dzm, sizeof use_w, &use_w,
                           sizeof cwm, &cwm));
        CT_TRY(ct_launch(k->rt, k->loss_softmax, 1, &g, NULL));
    }
    size_t ls = k->reduce_wg;
    CT_TRY(ct_set_args(k->loss_reduce, 4, sizeof n, &n, sizeof stats, &stats, sizeof sums, &sums,
                       2 * ls * sizeof(float), (const void *)NULL));
    return ct_launch(k->rt, k->loss_reduce, 1, &ls, &ls);
}

ct_status ct_output_probs(ct_layer_kernels *k, int n, int classes, cl_mem z, cl_mem p) {
    size_t g = (size_t)n;
    CT_TRY(ct_set_args(k->output_probs, 4, sizeof n, &n, sizeof classes, &classes, sizeof z, &z,
                       sizeof p, &p));
    return ct_launch(k->rt, k->output_probs, 1, &g, NULL);
}

ct_status ct_loss_topk(ct_layer_kernels *k, int n, int classes, int t, cl_mem z, cl_mem top) {
    if (n <= 0) return CT_OK;
    if (classes == 1) t = 1;
    size_t g = (size_t)n;
    CT_TRY(ct_set_args(k->loss_topk, 5, sizeof n, &n, sizeof classes, &classes, sizeof t, &t,
                       sizeof z, &z, sizeof top, &top));
    return ct_launch(k->rt, k->loss_topk, 1, &g, NULL);
}
