/* Kernel objects of the layer programs, created once per model (or check). */
#include <stddef.h>
#include <string.h>

#include "layers/layers.h"

ct_status ct_layer_kernels_init(ct_runtime *rt, ct_layer_kernels *k) {
    memset(k, 0, sizeof *k);
    k->rt = rt;
    static const struct {
        const char *prog, *name;
        size_t off;
    } list[] = {
        {"pool", "ct_pool_fwd", offsetof(ct_layer_kernels, pool_fwd)},
        {"pool", "ct_pool_bwd", offsetof(ct_layer_kernels, pool_bwd)},
        {"pool", "ct_pool_bwd_cells", offsetof(ct_layer_kernels, pool_bwd_cells)},
        {"pool", "ct_pool2_fwd_rows", offsetof(ct_layer_kernels, pool2_fwd_rows)},
        {"pool", "ct_pool2_bwd_rows", offsetof(ct_layer_kernels, pool2_bwd_rows)},
        {"act", "ct_act_fwd", offsetof(ct_layer_kernels, act_fwd)},
        {"act", "ct_act_bwd", offsetof(ct_layer_kernels, act_bwd)},
        {"act", "ct_softmax_fwd", offsetof(ct_layer_kernels, softmax_fwd)},
        {"act", "ct_softmax_bwd", offsetof(ct_layer_kernels, softmax_bwd)},
        {"act", "ct_bias_act", offsetof(ct_layer_kernels, bias_act)},
        {"act", "ct_bias_grad", offsetof(ct_layer_kernels, bias_grad)},
        {"dropout", "ct_dropout_fwd", offsetof(ct_layer_kernels, dropout_fwd)},
        {"dropout", "ct_dropout_bwd", offsetof(ct_layer_kernels, dropout_bwd)},
        {"loss", "ct_loss_binary", offsetof(ct_layer_kernels, loss_binary)},
        {"loss", "ct_loss_softmax", offsetof(ct_layer_kernels, loss_softmax)},
        {"loss", "ct_loss_reduce", offsetof(ct_layer_kernels, loss_reduce)},
        {"loss", "ct_output_probs", offsetof(ct_layer_kernels, output_probs)},
        {"adam", "ct_adam", offsetof(ct_layer_kernels, adam)},
    };
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++) {
        cl_kernel *dst = (cl_kernel *)((char *)k + list[i].off);
        ct_status s = ct_kernel_create(rt, list[i].prog, list[i].name, NULL, dst);
        if (s != CT_OK) {
            ct_layer_kernels_free(k);
            return s;
        }
    }
    /* One work-group reduces the per-sample stats: the largest power of two the device
     * and this kernel allow, at most 256. */
    size_t kwg = 0;
    clGetKernelWorkGroupInfo(k->loss_reduce, rt->dev.did, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg,
                             &kwg, NULL);
    size_t lim = rt->max_wg < 256 ? rt->max_wg : 256;
    if (kwg && kwg < lim) lim = kwg;
    size_t wg = 1;
    while (wg * 2 <= lim && wg * 2 * 2 * sizeof(float) <= rt->local_mem) wg *= 2;
    k->reduce_wg = wg;
    return CT_OK;
}

void ct_layer_kernels_free(ct_layer_kernels *k) {
    cl_kernel *all[] = {&k->pool_fwd, &k->pool_bwd, &k->pool_bwd_cells, &k->pool2_fwd_rows, &k->pool2_bwd_rows,     &k->act_fwd,      &k->act_bwd,
                        &k->softmax_fwd, &k->softmax_bwd,  &k->bias_act,     &k->bias_grad,
                        &k->dropout_fwd, &k->dropout_bwd,  &k->loss_binary,  &k->loss_softmax,
                        &k->loss_reduce, &k->output_probs, &k->adam};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (*all[i]) {
            clReleaseKernel(*all[i]);
            *all[i] = NULL;
        }
}
