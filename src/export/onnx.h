/* ONNX export (docs/EXPORT.md): a model in inference mode as an ONNX file, opset 13.
 * Module `export`, above model and below api. The layer records' export_onnx hooks fill
 * a ct_graph (layers/graph.h, no protobuf); this module adds the graph input, the
 * probability head and the metadata, and writes the protobuf with protobuf-c (its C code
 * is generated at build time from Debian's /usr/include/onnx/onnx.proto; meson option
 * -Donnx=auto|enabled|disabled). Without it everything but the file writing builds. */
#ifndef CT_EXPORT_ONNX_H
#define CT_EXPORT_ONNX_H

#include "layers/graph.h"
#include "model/model.h"

#define CT_ONNX_OPSET 13
#define CT_ONNX_IR_VERSION 7 /* the IR of opset 13 (ONNX 1.8) */
#define CT_ONNX_INPUT "input"
#define CT_ONNX_OUTPUT "probabilities"
#define CT_ONNX_BATCH "N" /* the symbolic batch dimension */

/* CT_OK when this build writes ONNX files; otherwise CT_ERR_ARG with a message naming
 * the Debian packages to install and the meson option. Costs nothing. */
ct_status ct_onnx_available(void);

/* The inference graph of m (dropout removed) into g (ct_graph_free it, also on error):
 * input "input" float [N, C, H, W] (the tensor the model sees, after preprocessing),
 * each layer's hook in spec order (weights read from the device), then the head:
 * softmax over axis 1, or for one sigmoid unit Concat(1 - sigmoid(z), sigmoid(z)), so
 * "probabilities" is [N, classes] as `cltrain predict` prints them. An error names a
 * layer whose type has no export hook. */
ct_status ct_onnx_graph(ct_model *m, ct_graph *g);

/* Writes m as an ONNX model to path (ct_write_atomic): the graph above, opset 13,
 * producer "cltrain" and its version, and n_meta metadata_props keys[i] = values[i]. */
ct_status ct_onnx_write(ct_model *m, int n_meta, const char *const *keys,
                        const char *const *values, const char *path);

#endif
