/* A small inference graph builder in ONNX's terms (op types, attributes, initializers)
 * without protobuf: the layer classes' `export_onnx` hooks (layers/layer.h) add their
 * inference-mode nodes here, and src/export/onnx.c turns the finished graph into an ONNX
 * file. So the layers compile without protobuf-c and know nothing about the file format.
 *
 * The graph is sequential like the model: it has a current value (the tensor the next
 * layer reads, at first the graph input) and each ct_graph_apply adds one node reading the
 * current value (plus extra inputs such as initializers) whose output becomes the current
 * value. Names: initializers as the layer's parameters ("layers.3.weight"), node outputs
 * "<prefix>.<op>" ("layers.3.Conv"), made unique with a counter when an op repeats. */
#ifndef CT_LAYERS_GRAPH_H
#define CT_LAYERS_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "cltrain.h"

#define CT_GRAPH_NAME 64   /* longest value / node name, NUL included */
#define CT_GRAPH_MAX_IN 6  /* inputs of one node (BatchNormalization: 5) */
#define CT_GRAPH_MAX_ATTR 6
#define CT_GRAPH_MAX_INTS 8

typedef enum { CT_GATTR_INT = 0, CT_GATTR_INTS, CT_GATTR_FLOAT } ct_graph_attr_type;

/* One node attribute (ONNX AttributeProto of type INT, INTS or FLOAT). */
typedef struct ct_graph_attr {
    const char *name; /* a string literal: kept by pointer */
    ct_graph_attr_type type;
    int64_t i;
    float f;
    int n; /* INTS: count */
    int64_t ints[CT_GRAPH_MAX_INTS];
} ct_graph_attr;

typedef struct ct_graph_node {
    char op[24];     /* ONNX op type: "Conv", "Gemm", ... (default domain) */
    char name[CT_GRAPH_NAME];
    int n_in;
    char in[CT_GRAPH_MAX_IN][CT_GRAPH_NAME];
    char out[CT_GRAPH_NAME];
    int n_attr;
    ct_graph_attr attr[CT_GRAPH_MAX_ATTR];
} ct_graph_node;

typedef enum { CT_GTENSOR_F32 = 0, CT_GTENSOR_I64 } ct_graph_tensor_type;

/* A constant tensor (ONNX initializer), its data owned by the graph. */
typedef struct ct_graph_tensor {
    char name[CT_GRAPH_NAME];
    ct_graph_tensor_type type;
    int ndim;
    int64_t dims[4];
    size_t count;
    void *data; /* count floats or int64 */
} ct_graph_tensor;

typedef struct ct_graph {
    ct_graph_node *nodes;
    int n_nodes, cap_nodes;
    ct_graph_tensor *inits;
    int n_inits, cap_inits;
    char cur[CT_GRAPH_NAME];    /* the current value */
    char prefix[CT_GRAPH_NAME]; /* for node and value names, e.g. "layers.3" */
} ct_graph;

/* An empty graph whose current value is `input` (the graph input's name). */
void ct_graph_init(ct_graph *g, const char *input);
void ct_graph_free(ct_graph *g);
/* Names what follows (the export driver sets "layers.<i>" before each layer's hook). */
void ct_graph_set_prefix(ct_graph *g, const char *prefix);
/* The current value's name. */
const char *ct_graph_value(const ct_graph *g);

/* Adds a float32 initializer named "<prefix>.<suffix>" (data copied); its full name goes
 * to name_out (CT_GRAPH_NAME bytes) when not NULL. */
ct_status ct_graph_add_f32(ct_graph *g, const char *suffix, int ndim, const int64_t *dims,
                           const float *data, char *name_out);
/* The same for int64 (Reshape shapes and the like). */
ct_status ct_graph_add_i64(ct_graph *g, const char *suffix, int ndim, const int64_t *dims,
                           const int64_t *data, char *name_out);

/* Adds node `op` with inputs (current value, extra[0..n_extra-1]) and attributes; its
 * output "<prefix>.<op>" becomes the current value. */
ct_status ct_graph_apply(ct_graph *g, const char *op, int n_extra, const char *const *extra,
                         int n_attr, const ct_graph_attr *attrs);
/* The general form: any inputs, output named out (which becomes the current value). */
ct_status ct_graph_node_add(ct_graph *g, const char *op, int n_in, const char *const *in,
                            const char *out, int n_attr, const ct_graph_attr *attrs);

/* Attribute constructors. */
ct_graph_attr ct_gattr_int(const char *name, int64_t v);
ct_graph_attr ct_gattr_float(const char *name, float v);
ct_graph_attr ct_gattr_ints2(const char *name, int64_t a, int64_t b);
ct_graph_attr ct_gattr_ints4(const char *name, int64_t a, int64_t b, int64_t c, int64_t d);

#endif
