/* ONNX export: the model's graph from the layer hooks, and its protobuf (export/onnx.h). */
#include "export/onnx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "io/fileutil.h"

#ifdef CT_HAVE_ONNX
#include "onnx.pb-c.h" /* generated at build time by protoc-c from the system onnx.proto */
#endif

ct_status ct_onnx_available(void) {
#ifdef CT_HAVE_ONNX
    return CT_OK;
#else
    return ct_set_error(CT_ERR_ARG, "this cltrain was built without ONNX support; install the "
                        "Debian packages protobuf-c-compiler libprotobuf-c-dev libonnx-dev "
                        "(tools/install_deps.sh) and rebuild (meson setup --reconfigure "
                        "-Donnx=enabled)");
#endif
}

/* ---- the graph ------------------------------------------------------------------- */

/* One layer through its hook, with its parameters downloaded in model order. */
static ct_status export_layer(ct_model *m, const ct_layer *l, ct_graph *g) {
    if (!l->s.cls->export_onnx)
        return ct_set_error(CT_ERR_ARG, "layer %d '%s' (%s) has no ONNX export", l->index, l->tok,
                            l->s.cls->keras);
    /* its parameters, then its non-trainable tensors (batchnorm's moving statistics) */
    float *p[CT_LAYER_MAX_PARAMS + CT_LAYER_MAX_NT] = {NULL};
    int nt = l->np + l->n_nt;
    ct_status s = CT_OK;
    for (int j = 0; s == CT_OK && j < nt; j++) {
        int ti = j < l->np ? l->p0 + j : ct_model_n_params(m) + l->nt0 + (j - l->np);
        const ct_param_info *pi = ct_model_tensor(m, ti);
        p[j] = malloc((pi->n ? pi->n : 1) * sizeof(float));
        s = p[j] ? ct_model_get_tensor(m, ti, p[j])
                 : ct_set_error(CT_ERR_MEMORY, "out of host memory");
    }
    char pre[CT_GRAPH_NAME];
    snprintf(pre, sizeof pre, "layers.%d", l->index);
    ct_graph_set_prefix(g, pre);
    if (s == CT_OK) s = l->s.cls->export_onnx(l, (const float *const *)p, g);
    if (s != CT_OK) s = ct_error_prefix(s, "ONNX export of layer %d '%s': ", l->index, l->tok);
    for (int j = 0; j < nt; j++) free(p[j]);
    return s;
}

/* Logits [N, outputs] -> "probabilities" [N, classes], as ct_classifier_predict gives them. */
static ct_status export_head(ct_graph *g, int outputs) {
    ct_graph_set_prefix(g, "output");
    if (outputs > 1) {
        const char *in[1] = {ct_graph_value(g)};
        ct_graph_attr ax = ct_gattr_int("axis", 1);
        return ct_graph_node_add(g, "Softmax", 1, in, CT_ONNX_OUTPUT, 1, &ax);
    }
    char one[CT_GRAPH_NAME], p1[CT_GRAPH_NAME];
    int64_t d1[1] = {1};
    float v1[1] = {1.0f};
    CT_TRY(ct_graph_add_f32(g, "one", 1, d1, v1, one));
    CT_TRY(ct_graph_apply(g, "Sigmoid", 0, NULL, 0, NULL));
    snprintf(p1, sizeof p1, "%s", ct_graph_value(g));
    const char *sub_in[2] = {one, p1};
    CT_TRY(ct_graph_node_add(g, "Sub", 2, sub_in, "output.Sub", 0, NULL)); /* p(class 0) */
    const char *cat_in[2] = {"output.Sub", p1};
    ct_graph_attr ax = ct_gattr_int("axis", 1);
    return ct_graph_node_add(g, "Concat", 2, cat_in, CT_ONNX_OUTPUT, 1, &ax);
}

ct_status ct_onnx_graph(ct_model *m, ct_graph *g) {
    ct_graph_init(g, CT_ONNX_INPUT);
    for (int i = 0; i < ct_model_n_layers(m); i++)
        CT_TRY(export_layer(m, ct_model_layer(m, i), g));
    return export_head(g, ct_model_outputs(m));
}

/* ---- the protobuf ---------------------------------------------------------------- */

#ifdef CT_HAVE_ONNX

/* Every message of one model, allocated at once and pointing into the graph's storage;
 * nothing here owns strings or tensor data. */
typedef struct pb_model {
    Onnx__ModelProto model;
    Onnx__OperatorSetIdProto opset, *opset_p[1];
    Onnx__GraphProto graph;
    Onnx__NodeProto *nodes, **node_p;
    char **node_io;                        /* n_nodes x (CT_GRAPH_MAX_IN + 1) */
    Onnx__AttributeProto *attrs, **attr_p; /* n_nodes x CT_GRAPH_MAX_ATTR */
    Onnx__TensorProto *tens, **tens_p;
    Onnx__ValueInfoProto vi[2], *in_p[1], *out_p[1];
    Onnx__TypeProto type[2];
    Onnx__TypeProto__Tensor ttype[2];
    Onnx__TensorShapeProto shape[2];
    Onnx__TensorShapeProto__Dimension dims[6], *dim_p[6];
    Onnx__StringStringEntryProto *props, **prop_p;
} pb_model;

static void pb_free(pb_model *pb) {
    free(pb->nodes);
    free(pb->node_p);
    free(pb->node_io);
    free(pb->attrs);
    free(pb->attr_p);
    free(pb->tens);
    free(pb->tens_p);
    free(pb->props);
    free(pb->prop_p);
}

static void pb_attr(Onnx__AttributeProto *a, const ct_graph_attr *ga) {
    onnx__attribute_proto__init(a);
    a->name = (char *)ga->name;
    a->has_type = 1;
    switch (ga->type) {
    case CT_GATTR_INT:
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        a->has_i = 1;
        a->i = ga->i;
        break;
    case CT_GATTR_FLOAT:
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
        a->has_f = 1;
        a->f = ga->f;
        break;
    case CT_GATTR_INTS:
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        a->n_ints = (size_t)ga->n;
        a->ints = (int64_t *)ga->ints;
        break;
    }
}

/* A float tensor value [N, d...]: the graph's input or output. */
static void pb_value(pb_model *pb, int k, const char *name, const char *doc, int nd,
                     const int64_t *d, Onnx__TensorShapeProto__Dimension *dims,
                     Onnx__TensorShapeProto__Dimension **dim_p) {
    Onnx__ValueInfoProto *v = &pb->vi[k];
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(&pb->type[k]);
    onnx__type_proto__tensor__init(&pb->ttype[k]);
    onnx__tensor_shape_proto__init(&pb->shape[k]);
    for (int i = 0; i <= nd; i++) {
        onnx__tensor_shape_proto__dimension__init(&dims[i]);
        if (i == 0) {
            dims[i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dims[i].dim_param = CT_ONNX_BATCH;
        } else {
            dims[i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dims[i].dim_value = d[i - 1];
        }
        dim_p[i] = &dims[i];
    }
    pb->shape[k].n_dim = (size_t)nd + 1;
    pb->shape[k].dim = dim_p;
    pb->ttype[k].has_elem_type = 1;
    pb->ttype[k].elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    pb->ttype[k].shape = &pb->shape[k];
    pb->type[k].value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    pb->type[k].tensor_type = &pb->ttype[k];
    v->name = (char *)name;
    v->doc_string = (char *)doc;
    v->type = &pb->type[k];
}

static ct_status pb_build(pb_model *pb, ct_graph *g, const ct_model *m, int n_meta,
                          const char *const *keys, const char *const *values, const char *doc) {
    size_t nn = (size_t)(g->n_nodes ? g->n_nodes : 1), nt = (size_t)(g->n_inits ? g->n_inits : 1);
    size_t np = (size_t)(n_meta ? n_meta : 1);
    pb->nodes = calloc(nn, sizeof *pb->nodes);
    pb->node_p = calloc(nn, sizeof *pb->node_p);
    pb->node_io = calloc(nn * (CT_GRAPH_MAX_IN + 1), sizeof *pb->node_io);
    pb->attrs = calloc(nn * CT_GRAPH_MAX_ATTR, sizeof *pb->attrs);
    pb->attr_p = calloc(nn * CT_GRAPH_MAX_ATTR, sizeof *pb->attr_p);
    pb->tens = calloc(nt, sizeof *pb->tens);
    pb->tens_p = calloc(nt, sizeof *pb->tens_p);
    pb->props = calloc(np, sizeof *pb->props);
    pb->prop_p = calloc(np, sizeof *pb->prop_p);
    if (!pb->nodes || !pb->node_p || !pb->node_io || !pb->attrs || !pb->attr_p || !pb->tens ||
        !pb->tens_p || !pb->props || !pb->prop_p)
        return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    for (int i = 0; i < g->n_nodes; i++) {
        ct_graph_node *gn = &g->nodes[i];
        Onnx__NodeProto *n = &pb->nodes[i];
        char **io = pb->node_io + (size_t)i * (CT_GRAPH_MAX_IN + 1);
        Onnx__AttributeProto *a = pb->attrs + (size_t)i * CT_GRAPH_MAX_ATTR;
        Onnx__AttributeProto **ap = pb->attr_p + (size_t)i * CT_GRAPH_MAX_ATTR;
        onnx__node_proto__init(n);
        for (int j = 0; j < gn->n_in; j++) io[j] = gn->in[j];
        io[gn->n_in] = gn->out;
        n->n_input = (size_t)gn->n_in;
        n->input = io;
        n->n_output = 1;
        n->output = io + gn->n_in;
        n->name = gn->name;
        n->op_type = gn->op;
        for (int j = 0; j < gn->n_attr; j++) {
            pb_attr(&a[j], &gn->attr[j]);
            ap[j] = &a[j];
        }
        n->n_attribute = (size_t)gn->n_attr;
        n->attribute = ap;
        pb->node_p[i] = n;
    }
    for (int i = 0; i < g->n_inits; i++) {
        ct_graph_tensor *gt = &g->inits[i];
        Onnx__TensorProto *t = &pb->tens[i];
        onnx__tensor_proto__init(t);
        t->name = gt->name;
        t->n_dims = (size_t)gt->ndim;
        t->dims = gt->dims;
        t->has_data_type = 1;
        t->data_type = gt->type == CT_GTENSOR_I64 ? ONNX__TENSOR_PROTO__DATA_TYPE__INT64
                                                  : ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
        t->has_raw_data = 1; /* little-endian, as the host (and safetensors) */
        t->raw_data.len = gt->count * (gt->type == CT_GTENSOR_I64 ? sizeof(int64_t) : sizeof(float));
        t->raw_data.data = gt->data;
        pb->tens_p[i] = t;
    }
    const ct_layer *l0 = ct_model_layer(m, 0);
    int64_t in_d[3] = {l0->ic, l0->ih, l0->iw};
    int outputs = ct_model_outputs(m);
    int64_t out_d[1] = {outputs == 1 ? 2 : outputs};
    pb_value(pb, 0, CT_ONNX_INPUT,
             "float32 NCHW images after cltrain's preprocessing (decode, resize, scaling: the "
             "metadata_props say how), the tensor cltrain's model sees", 3, in_d, pb->dims,
             pb->dim_p);
    pb_value(pb, 1, CT_ONNX_OUTPUT, "class probabilities in the order of metadata 'classes', as "
             "cltrain predict prints them", 1, out_d, pb->dims + 4, pb->dim_p + 4);
    pb->in_p[0] = &pb->vi[0];
    pb->out_p[0] = &pb->vi[1];

    onnx__graph_proto__init(&pb->graph);
    pb->graph.name = "cltrain";
    pb->graph.n_node = (size_t)g->n_nodes;
    pb->graph.node = pb->node_p;
    pb->graph.n_initializer = (size_t)g->n_inits;
    pb->graph.initializer = pb->tens_p;
    pb->graph.n_input = 1;
    pb->graph.input = pb->in_p;
    pb->graph.n_output = 1;
    pb->graph.output = pb->out_p;

    for (int i = 0; i < n_meta; i++) {
        onnx__string_string_entry_proto__init(&pb->props[i]);
        pb->props[i].key = (char *)keys[i];
        pb->props[i].value = (char *)values[i];
        pb->prop_p[i] = &pb->props[i];
    }
    onnx__operator_set_id_proto__init(&pb->opset);
    pb->opset.domain = "";
    pb->opset.has_version = 1;
    pb->opset.version = CT_ONNX_OPSET;
    pb->opset_p[0] = &pb->opset;
    onnx__model_proto__init(&pb->model);
    pb->model.has_ir_version = 1;
    pb->model.ir_version = CT_ONNX_IR_VERSION;
    pb->model.n_opset_import = 1;
    pb->model.opset_import = pb->opset_p;
    pb->model.producer_name = "cltrain";
    pb->model.producer_version = (char *)ct_version();
    pb->model.doc_string = (char *)doc;
    pb->model.graph = &pb->graph;
    pb->model.n_metadata_props = (size_t)n_meta;
    pb->model.metadata_props = pb->prop_p;
    return CT_OK;
}

ct_status ct_onnx_write(ct_model *m, int n_meta, const char *const *keys,
                        const char *const *values, const char *path) {
    const uint16_t probe = 1;
    if (*(const uint8_t *)&probe != 1) /* raw_data is little-endian: copied as the host has it */
        return ct_set_error(CT_ERR_INTERNAL, "ONNX export needs a little-endian host");
    ct_graph g;
    ct_status s = ct_onnx_graph(m, &g);
    pb_model pb;
    memset(&pb, 0, sizeof pb);
    char doc[256];
    snprintf(doc, sizeof doc, "cltrain %s model, inference mode (dropout removed); input '%s' "
             "[N, C, H, W], output '%s' [N, classes]", ct_version(), CT_ONNX_INPUT, CT_ONNX_OUTPUT);
    if (s == CT_OK) s = pb_build(&pb, &g, m, n_meta, keys, values, doc);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (s == CT_OK) {
        len = onnx__model_proto__get_packed_size(&pb.model);
        buf = malloc(len ? len : 1);
        if (!buf) s = ct_set_error(CT_ERR_MEMORY, "out of host memory for the %zu-byte ONNX file", len);
    }
    if (s == CT_OK && onnx__model_proto__pack(&pb.model, buf) != len)
        s = ct_set_error(CT_ERR_INTERNAL, "protobuf-c packed a different size than it announced");
    if (s == CT_OK) s = ct_write_atomic_buf(path, buf, len);
    free(buf);
    pb_free(&pb);
    ct_graph_free(&g);
    return s;
}

#else

ct_status ct_onnx_write(ct_model *m, int n_meta, const char *const *keys,
                        const char *const *values, const char *path) {
    (void)m, (void)n_meta, (void)keys, (void)values, (void)path;
    return ct_onnx_available();
}

#endif
