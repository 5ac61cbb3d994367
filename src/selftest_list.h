/* Declarations and table entries of the kernel self-checks, one block per op family.
 * Each check lives beside its op (e.g. src/layer_conv.c) and is named ct_check_<op>. */
#ifndef CT_SELFTEST_LIST_H
#define CT_SELFTEST_LIST_H

#define CT_SELFTEST_ENTRIES /* {"name", ct_check_fn}, ... */

#endif
