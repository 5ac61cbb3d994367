/* The protobuf-free inference graph (layers/graph.h). */
#include "layers/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

void ct_graph_init(ct_graph *g, const char *input) {
    memset(g, 0, sizeof *g);
    snprintf(g->cur, sizeof g->cur, "%s", input);
}

void ct_graph_free(ct_graph *g) {
    for (int i = 0; i < g->n_inits; i++) free(g->inits[i].data);
    free(g->inits);
    free(g->nodes);
    memset(g, 0, sizeof *g);
}

void ct_graph_set_prefix(ct_graph *g, const char *prefix) {
    snprintf(g->prefix, sizeof g->prefix, "%s", prefix);
}

const char *ct_graph_value(const ct_graph *g) { return g->cur; }

static int name_used(const ct_graph *g, const char *name) {
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].out, name)) return 1;
    for (int i = 0; i < g->n_inits; i++)
        if (!strcmp(g->inits[i].name, name)) return 1;
    return 0;
}

/* "<prefix>.<what>", or "<prefix>.<what>_<k>" when taken. */
static ct_status make_name(const ct_graph *g, const char *what, char *out) {
    const char *dot = g->prefix[0] ? "." : "";
    int w = snprintf(out, CT_GRAPH_NAME, "%s%s%s", g->prefix, dot, what);
    for (int k = 2; w > 0 && w < CT_GRAPH_NAME && name_used(g, out); k++)
        w = snprintf(out, CT_GRAPH_NAME, "%s%s%s_%d", g->prefix, dot, what, k);
    if (w < 0 || w >= CT_GRAPH_NAME)
        return ct_set_error(CT_ERR_INTERNAL, "graph name '%s%s%s' is too long", g->prefix, dot, what);
    return CT_OK;
}

/* Room for one more element in a growing array. */
static ct_status grow(void **arr, int *cap, int n, size_t elem) {
    if (n < *cap) return CT_OK;
    int nc = *cap ? 2 * *cap : 16;
    void *a = realloc(*arr, (size_t)nc * elem);
    if (!a) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    *arr = a;
    *cap = nc;
    return CT_OK;
}

static ct_status add_tensor(ct_graph *g, const char *suffix, ct_graph_tensor_type type, int ndim,
                            const int64_t *dims, const void *data, size_t elem, char *name_out) {
    if (ndim < 0 || ndim > 4)
        return ct_set_error(CT_ERR_INTERNAL, "graph tensor '%s' with %d dimensions", suffix, ndim);
    CT_TRY(grow((void **)&g->inits, &g->cap_inits, g->n_inits, sizeof *g->inits));
    ct_graph_tensor *t = &g->inits[g->n_inits];
    memset(t, 0, sizeof *t);
    CT_TRY(make_name(g, suffix, t->name));
    t->type = type;
    t->ndim = ndim;
    t->count = 1;
    for (int i = 0; i < ndim; i++) {
        t->dims[i] = dims[i];
        t->count *= (size_t)dims[i];
    }
    t->data = malloc(t->count ? t->count * elem : 1);
    if (!t->data) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    memcpy(t->data, data, t->count * elem);
    if (name_out) memcpy(name_out, t->name, CT_GRAPH_NAME);
    g->n_inits++;
    return CT_OK;
}

ct_status ct_graph_add_f32(ct_graph *g, const char *suffix, int ndim, const int64_t *dims,
                           const float *data, char *name_out) {
    return add_tensor(g, suffix, CT_GTENSOR_F32, ndim, dims, data, sizeof(float), name_out);
}

ct_status ct_graph_add_i64(ct_graph *g, const char *suffix, int ndim, const int64_t *dims,
                           const int64_t *data, char *name_out) {
    return add_tensor(g, suffix, CT_GTENSOR_I64, ndim, dims, data, sizeof(int64_t), name_out);
}

ct_status ct_graph_node_add(ct_graph *g, const char *op, int n_in, const char *const *in,
                            const char *out, int n_attr, const ct_graph_attr *attrs) {
    if (n_in < 0 || n_in > CT_GRAPH_MAX_IN || n_attr < 0 || n_attr > CT_GRAPH_MAX_ATTR ||
        strlen(op) >= sizeof g->nodes[0].op || strlen(out) >= CT_GRAPH_NAME)
        return ct_set_error(CT_ERR_INTERNAL, "graph node '%s' (%d inputs, %d attributes) exceeds "
                            "the builder's limits", op, n_in, n_attr);
    CT_TRY(grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes, sizeof *g->nodes));
    ct_graph_node *nd = &g->nodes[g->n_nodes];
    memset(nd, 0, sizeof *nd);
    snprintf(nd->op, sizeof nd->op, "%s", op);
    snprintf(nd->out, sizeof nd->out, "%s", out);
    snprintf(nd->name, sizeof nd->name, "%s", out);
    nd->n_in = n_in;
    for (int i = 0; i < n_in; i++) {
        if (strlen(in[i]) >= CT_GRAPH_NAME)
            return ct_set_error(CT_ERR_INTERNAL, "graph value name '%s' is too long", in[i]);
        snprintf(nd->in[i], CT_GRAPH_NAME, "%s", in[i]);
    }
    nd->n_attr = n_attr;
    for (int i = 0; i < n_attr; i++) nd->attr[i] = attrs[i];
    g->n_nodes++;
    snprintf(g->cur, sizeof g->cur, "%s", out);
    return CT_OK;
}

ct_status ct_graph_apply(ct_graph *g, const char *op, int n_extra, const char *const *extra,
                         int n_attr, const ct_graph_attr *attrs) {
    if (n_extra < 0 || n_extra >= CT_GRAPH_MAX_IN)
        return ct_set_error(CT_ERR_INTERNAL, "graph node '%s' with %d extra inputs", op, n_extra);
    const char *in[CT_GRAPH_MAX_IN];
    char cur[CT_GRAPH_NAME], out[CT_GRAPH_NAME];
    memcpy(cur, g->cur, sizeof cur);
    in[0] = cur;
    for (int i = 0; i < n_extra; i++) in[1 + i] = extra[i];
    CT_TRY(make_name(g, op, out));
    return ct_graph_node_add(g, op, 1 + n_extra, in, out, n_attr, attrs);
}

ct_graph_attr ct_gattr_int(const char *name, int64_t v) {
    ct_graph_attr a = {.name = name, .type = CT_GATTR_INT, .i = v};
    return a;
}

ct_graph_attr ct_gattr_float(const char *name, float v) {
    ct_graph_attr a = {.name = name, .type = CT_GATTR_FLOAT, .f = v};
    return a;
}

ct_graph_attr ct_gattr_ints2(const char *name, int64_t a, int64_t b) {
    ct_graph_attr r = {.name = name, .type = CT_GATTR_INTS, .n = 2, .ints = {a, b}};
    return r;
}

ct_graph_attr ct_gattr_ints4(const char *name, int64_t a, int64_t b, int64_t c, int64_t d) {
    ct_graph_attr r = {.name = name, .type = CT_GATTR_INTS, .n = 4, .ints = {a, b, c, d}};
    return r;
}
