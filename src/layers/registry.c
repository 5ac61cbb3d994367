/* The layer registry: one line per layer type, in the order of the spec grammar (the
 * order the spec error message lists them and the first class that claims a token wins).
 * Adding a layer type: its file src/layers/<name>.c with its record, its cl/<prog>.cl,
 * its reference and check in src/check/, and one line here (docs/LAYERS.md). */
#include <pthread.h>
#include <stddef.h>

#include "check/selftest_list.h"
#include "layers/layer.h"

#define CT_LAYER_LIST(X)                                                                          \
    X(ct_layer_conv)                                                                              \
    X(ct_layer_maxpool)                                                                           \
    X(ct_layer_avgpool)                                                                           \
    X(ct_layer_gap)                                                                               \
    X(ct_layer_flatten)                                                                           \
    X(ct_layer_dense)                                                                             \
    X(ct_layer_batchnorm)                                                                         \
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

/* ---- the selftest table ------------------------------------------------ */
/* Checks of the op families that are no layer classes (check/selftest_list.h). */

static const ct_selftest head[] = {
    {"selfcheck.axpy", ct_check_selfcheck_axpy},
    CT_SELFTEST_ENTRIES
};
static const ct_selftest tail[] = {CT_SELFTEST_STAGES};

/* The table: head, then every registered layer class's checks in registry order, then the
 * loss and Adam. Built once. */
enum { TABLE_CAP = 256 };
static ct_selftest table[TABLE_CAP];
static int table_n;
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void add(const ct_selftest *t) {
    if (table_n < TABLE_CAP) table[table_n++] = *t;
}

static void build_table(void) {
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++) add(&head[i]);
    for (int c = 0; ct_layer_classes[c]; c++)
        for (const ct_selftest *t = ct_layer_classes[c]->checks; t && t->name; t++) add(t);
    for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++) add(&tail[i]);
}

const ct_selftest *ct_selftest_table(void) {
    pthread_once(&table_once, build_table);
    return table;
}

int ct_selftest_table_count(void) {
    pthread_once(&table_once, build_table);
    return table_n;
}

