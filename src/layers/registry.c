/* The layer registry: one line per layer type, in the order of the spec grammar (the
 * order the spec error message lists them and the first class that claims a token wins).
 * Adding a layer type: its file src/layers/<name>.c with its record, its cl/<prog>.cl,
 * its reference and check in src/check/, and one line here (docs/LAYERS.md). */
#include "layers/layer.h"

#define CT_LAYER_LIST(X)                                                                          \
    X(ct_layer_conv)                                                                              \
    X(ct_layer_maxpool)                                                                           \
    X(ct_layer_flatten)                                                                           \
    X(ct_layer_dense)                                                                             \
    X(ct_layer_dropout)                                                                           \
    X(ct_layer_activation)

#define CT_LAYER_DECL_(c) extern const ct_layer_class c;
#define CT_LAYER_ENTRY_(c) &c,
CT_LAYER_LIST(CT_LAYER_DECL_)
const ct_layer_class *const ct_layer_classes[] = {CT_LAYER_LIST(CT_LAYER_ENTRY_) NULL};

const ct_layer_class *ct_layer_class_for(const ct_spec_token *t) {
    for (int i = 0; ct_layer_classes[i]; i++)
        if (ct_layer_classes[i]->claims(t)) return ct_layer_classes[i];
    return NULL;
}
