/* Kernel objects of the layer programs, created once per model (or check): every kernel a
 * registered layer class lists (ct_layer_class.kernels) plus those of the loss and Adam. */
#include <stddef.h>
#include <string.h>

#include "layers/layer.h"

/* The stages that are no spec layers: loss (layers/loss.c) and the optimizers
 * (model/optim.c). */
static const ct_kernel_ref stage_kernels[] = {
    {"loss", "ct_loss_binary", offsetof(ct_layer_kernels, loss_binary)},
    {"loss", "ct_loss_softmax", offsetof(ct_layer_kernels, loss_softmax)},
    {"loss", "ct_loss_reduce", offsetof(ct_layer_kernels, loss_reduce)},
    {"loss", "ct_output_probs", offsetof(ct_layer_kernels, output_probs)},
    {"loss", "ct_loss_topk", offsetof(ct_layer_kernels, loss_topk)},
    {"adam", "ct_adam", offsetof(ct_layer_kernels, adam)},
    {"optim", "ct_adamw", offsetof(ct_layer_kernels, adamw)},
    {"optim", "ct_sgd", offsetof(ct_layer_kernels, sgd)},
    {"optim", "ct_rmsprop", offsetof(ct_layer_kernels, rmsprop)},
    {NULL, NULL, 0},
};

static cl_kernel *slot(ct_layer_kernels *k, const ct_kernel_ref *r) {
    return (cl_kernel *)((char *)k + r->off);
}

/* Creates the kernels of one list not created yet (classes share some, e.g. act). */
static ct_status create_list(ct_runtime *rt, ct_layer_kernels *k, const ct_kernel_ref *list) {
    for (const ct_kernel_ref *r = list; r && r->prog; r++) {
        cl_kernel *dst = slot(k, r);
        if (!*dst) CT_TRY(ct_kernel_create(rt, r->prog, r->name, NULL, dst));
    }
    return CT_OK;
}

static void release_list(ct_layer_kernels *k, const ct_kernel_ref *list) {
    for (const ct_kernel_ref *r = list; r && r->prog; r++) {
        cl_kernel *dst = slot(k, r);
        if (*dst) {
            clReleaseKernel(*dst);
            *dst = NULL;
        }
    }
}

ct_status ct_layer_kernels_init(ct_runtime *rt, ct_layer_kernels *k) {
    memset(k, 0, sizeof *k);
    k->rt = rt;
    ct_status s = CT_OK;
    for (int i = 0; s == CT_OK && ct_layer_classes[i]; i++)
        s = create_list(rt, k, ct_layer_classes[i]->kernels);
    if (s == CT_OK) s = create_list(rt, k, stage_kernels);
    if (s != CT_OK) {
        ct_layer_kernels_free(k);
        return s;
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
    for (int i = 0; ct_layer_classes[i]; i++) release_list(k, ct_layer_classes[i]->kernels);
    release_list(k, stage_kernels);
}
