/* A sequential network on the device: spec parsing, shape checking, Keras init,
 * forward/backward, losses and metrics on the device, and Adam over one slab. */
#ifndef CT_MODEL_H
#define CT_MODEL_H

#include <stdint.h>

#include "layers/layer.h"
#include "ops/ops.h"
#include "runtime/tensor.h"

/* A parsed layer (ct_layer_spec, its class in .cls) and the layer classes: layers/layer.h. */

/* Spec grammar (comma separated, whitespace around tokens ignored; docs/LAYERS.md):
 *   conv<F>:<K>[:s<S>][:same|valid][:<act>]   pool<P>[:s<S>]   avgpool<P>[:s<S>]   gap
 *   flatten   dense<U>[:<act>|softmax]   dropout<R>   <act>   softmax
 *   <act> = relu | sigmoid | tanh | leakyrelu[<alpha>] | linear (not as a layer)
 * Defaults are Keras's: conv stride 1, valid padding, linear activation; dense linear;
 * pool and avgpool stride = pool size; leakyrelu's alpha 0.3. Options after conv<F>:<K> may come in any order. Presets
 * "model1", "model2", "model3" expand to the seed's models as its text describes them
 * (relu on every conv and hidden dense, dropout 0.2 before the output dense); "model4" is
 * the recommended batchnorm model (docs/LAYERS.md). An error
 * (CT_ERR_ARG) names the layer index and column and prints the spec with a caret under the
 * bad token. ct_spec_parse accepts a preset name too. *layers is malloc'd. Each token
 * belongs to the layer class that claims it (layers/registry.c), which parses it. */
ct_status ct_spec_parse(const char *spec, ct_layer_spec **layers, int *n);
/* Expanded spec of a preset, or NULL if name is no preset (the one preset table, spec.c). */
const char *ct_spec_preset(const char *name);
/* Canonical token of one layer (every option explicit except defaults). Returns snprintf's. */
int ct_spec_format_layer(const ct_layer_spec *layer, char *out, size_t n);

typedef struct ct_param_info {
    const char *name; /* e.g. "layers.0.weight" */
    int ndim;
    int shape[4];
    size_t n;
    int no_decay; /* AdamW leaves it alone (biases, normalisation parameters) */
} ct_param_info;

/* The optimizer of a training step (layers/layers.h: kind, lr and its hyperparameters);
 * ct_adam is its older name ({lr, beta1, beta2, eps} is Adam). */
typedef ct_optim ct_adam;

typedef struct ct_model ct_model;

/* Builds the model for inputs c x h x w and n_classes (>= 2) classes, allocating device
 * memory for batches of up to max_batch.
 * Output layer: a trailing dense with no activation (or with the one the loss implies:
 * sigmoid on 1 unit, softmax on n_classes units) is the logit layer; it must have 1 unit
 * (only for 2 classes: sigmoid + binary cross-entropy) or n_classes units (softmax +
 * categorical cross-entropy). Otherwise dense1 (2 classes) or dense<n_classes> is appended.
 * Every layer's shape is checked here (CT_ERR_SHAPE naming the layer and the shapes).
 * Parameters: "layers.<i>.weight" / "layers.<i>.bias", i = index in the canonical spec;
 * conv weights OIHW, dense [out][in]; flatten is channel-major (NCHW), unlike Keras.
 * Init from seed: glorot_uniform weights (limit sqrt(6 / (fan_in + fan_out)), conv fans
 * times k*k), zero biases; one splitmix64 stream per tensor, so reproducible. */
ct_status ct_model_create(ct_runtime *rt, const char *spec, int c, int h, int w, int n_classes,
                          int max_batch, uint64_t seed, ct_model **out);
void ct_model_free(ct_model *m);
void ct_model_summary(const ct_model *m, FILE *f); /* like Keras model.summary() */
const char *ct_model_spec(const ct_model *m);      /* canonical spec string */
int ct_model_outputs(const ct_model *m);           /* 1 (binary) or n_classes */
int ct_model_max_batch(const ct_model *m);
ct_runtime *ct_model_runtime(const ct_model *m);      /* the runtime it was built on */        /* the batch size the model was built for */
size_t ct_model_param_count(const ct_model *m); /* trainable floats */
/* The built layers in spec order (shapes, fusion, parameter range p0/np), for exporters
 * (src/export/onnx.c); the first layer's input shape is the model's. */
int ct_model_n_layers(const ct_model *m);
const ct_layer *ct_model_layer(const ct_model *m, int i);
/* FLOP (2 per multiply-add) of one training step per sample: the layers' flops hooks
 * (conv, dense) for forward, backward-weights and backward-data. */
double ct_model_train_flops(const ct_model *m);

/* Parameters, in a fixed order, for save/load. */
int ct_model_n_params(const ct_model *m);
const ct_param_info *ct_model_param(const ct_model *m, int i);
ct_status ct_model_get_param(ct_model *m, int i, float *host);
ct_status ct_model_set_param(ct_model *m, int i, const float *host);
/* Every saved tensor: the parameters (0 .. n_params - 1, as above), then the non-trainable
 * tensors (batchnorm's running_mean / running_var), which the forward pass updates in
 * training but which get no gradient and no optimizer step. Model files, checkpoints and
 * early stopping's best weights hold all of them. */
int ct_model_n_tensors(const ct_model *m);
const ct_param_info *ct_model_tensor(const ct_model *m, int i);
ct_status ct_model_get_tensor(ct_model *m, int i, float *host);
ct_status ct_model_set_tensor(ct_model *m, int i, const float *host);
size_t ct_model_nontrainable_count(const ct_model *m); /* floats (Keras's "Non-trainable params") */
/* Whole optimizer state (the m and v slot slabs, in parameter order and shapes) and step
 * count; the names say Adam, the slots hold whatever the optimizer keeps there. */
ct_status ct_model_get_adam_state(ct_model *m, float *mom, float *vel, long *t);
ct_status ct_model_set_adam_state(ct_model *m, const float *mom, const float *vel, long t);

/* Device input buffers the caller uploads into: x is max_batch*c*h*w floats (NCHW),
 * y is max_batch int32 class indices (0/1 for a binary model; a label out of range makes
 * that sample's loss NaN, so it cannot go unnoticed). */
cl_mem ct_model_input(ct_model *m);
cl_mem ct_model_labels(ct_model *m);

/* One training step on the first n samples of the input: forward (dropout on, masks
 * from (seed, step)), loss + accuracy added to the device sums, backward (loss gradient
 * = mean over the n samples), then the optimizer opt (Keras form; NULL = Adam with Keras's
 * defaults) over the whole parameter slab in one launch. The step count t is kept by the
 * model. The slots are the two "adam" slabs whatever the optimizer (ct_optim_update). */
ct_status ct_model_train_step(ct_model *m, int n, const ct_adam *opt, uint64_t seed, long step);
/* Forward without dropout; adds loss/accuracy to the device sums. */
ct_status ct_model_eval_step(ct_model *m, int n);
/* Class weights of the training loss (ct_model_train_step / compute_grads; evaluation is
 * unweighted, as Keras): one per class (2 for a binary model), copied; NULL: none. */
ct_status ct_model_set_class_weights(ct_model *m, const float *w);
/* After ct_model_eval_step: the t (1..5) best classes of each of its n samples, best
 * first, into top (n * t; a binary model: t = 1, the class sigmoid > 0.5 picks). */
ct_status ct_model_topk(ct_model *m, int n, int t, int32_t *top);
/* Forward without dropout; probabilities (n x outputs) to host. */
ct_status ct_model_predict(ct_model *m, int n, float *probs);
/* Forward (dropout on when train, masks from (seed, step)), loss into the sums, backward:
 * parameter gradients in the gradient slab, no update. For tests and gradient checks. */
ct_status ct_model_compute_grads(ct_model *m, int n, int train, uint64_t seed, long step);
ct_status ct_model_get_grad(ct_model *m, int i, float *host);
/* The same with the batch's first sample at sample0 of a larger global batch (a
 * data-parallel replica's slice): dropout masks are those of the global sample indices. */
ct_status ct_model_compute_grads_at(ct_model *m, int n, int train, uint64_t seed, long step,
                                    int sample0);
/* ct_model_compute_grads_at (training) on R models of one spec (data-parallel replicas),
 * model r on its first n[r] samples (0: it sits the step out) at offset off[r] of the global
 * batch, with the statistics of the layers that have sync hooks (batchnorm) over the whole
 * global batch: those layers run in lockstep, their parts summed on the host in replica
 * order (--sync-bn; docs/SCALING.md). */
ct_status ct_models_compute_grads_sync(ct_model **ms, int R, const int *n, const int *off,
                                       uint64_t seed, long step);
/* The same over several processes (MPI ranks, train/dist.h): fn sums each phase's k parts
 * (k: this process's count, 0 when none of its models has samples; fn sets it to the count
 * over all processes and acc to the sum, in a fixed order) and total is the samples of the
 * global batch over all processes. Every process calls fn the same number of times. */
typedef struct ct_sync_reduce {
    ct_status (*fn)(void *user, double *acc, int *k);
    void *user;
    int total;
} ct_sync_reduce;
ct_status ct_models_compute_grads_sync_ext(ct_model **ms, int R, const int *n, const int *off,
                                           uint64_t seed, long step, const ct_sync_reduce *red);
/* The optimizer step (opt as for ct_model_train_step) on the gradients in the slab, t + 1:
 * ct_model_train_step is ct_model_compute_grads then this. */
ct_status ct_model_apply_grads(ct_model *m, const ct_adam *opt);
/* Whole slabs (parameters or gradients, ct_model_slab_floats floats, padding included, in
 * the one layout every model of the same spec shares): the data-parallel sum. */
typedef enum { CT_SLAB_PARAMS, CT_SLAB_GRADS } ct_model_slab;
size_t ct_model_slab_floats(const ct_model *m);
ct_status ct_model_read_slab(ct_model *m, ct_model_slab which, float *host);
ct_status ct_model_write_slab(ct_model *m, ct_model_slab which, const float *host);
long ct_model_adam_steps(const ct_model *m); /* Adam iterations done (Keras `iterations`) */
/* The 32-bit mask seed dropout layer `layer` uses for run seed `seed` (its mask is
 * ct_hash3(that, (uint32_t)step, element index); see cl/dropout.cl). For references. */
uint32_t ct_model_dropout_seed(const ct_model *m, int layer, uint64_t seed);
/* Reads (then optionally clears) the device sums: mean loss, accuracy and count. */
ct_status ct_model_metrics(ct_model *m, int reset, double *loss, double *acc, long *count);
/* Enqueues a non-blocking read of the device sums into snap (4 floats) and records the
 * sample count of that moment; *ev completes when snap is filled. Lets the trainer check
 * step k's loss while step k+1 is already queued. Decode with ct_model_metrics_decode. */
ct_status ct_model_metrics_snapshot(ct_model *m, float snap[4], long *count, cl_event *ev);
void ct_model_metrics_decode(const float snap[4], long count, double *loss, double *acc);

#endif
