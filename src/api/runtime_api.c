/* Public device and runtime queries (cltrain.h) over runtime/runtime.h. */
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

void ct_runtime_program_counts(const ct_runtime *rt, int *compiled, int *cached) {
    if (compiled) *compiled = rt ? rt->n_built : 0;
    if (cached) *cached = rt ? rt->n_cached : 0;
}

void ct_runtime_print_profile(const ct_runtime *rt, FILE *f) {
    if (rt && f) ct_profile_print(rt, f);
}

ct_status ct_device_count(int *n) {
    ct_device_info *list = NULL;
    *n = 0;
    CT_TRY(ct_devices_enumerate(&list, n));
    free(list);
    return CT_OK;
}

ct_status ct_device_get(int index, ct_device_desc *out) {
    ct_device_info *list = NULL;
    int n = 0;
    memset(out, 0, sizeof *out);
    CT_TRY(ct_devices_enumerate(&list, &n));
    if (index < 0 || index >= n) {
        free(list);
        return ct_set_error(CT_ERR_NO_DEVICE, "device index %d: there are %d OpenCL devices "
                            "(see cldevices)", index, n);
    }
    const ct_device_info *d = &list[index];
    snprintf(out->id, sizeof out->id, "%d:%d", d->platform, d->device);
    snprintf(out->name, sizeof out->name, "%s", d->name);
    snprintf(out->vendor, sizeof out->vendor, "%s", d->vendor);
    snprintf(out->platform, sizeof out->platform, "%s", d->platform_name);
    out->type = ct_device_type_str(d->type);
    out->is_default = d->is_default;
    free(list);
    return CT_OK;
}

ct_status ct_device_default(int *index) {
    ct_device_info *list = NULL;
    int n = 0;
    *index = -1;
    CT_TRY(ct_devices_enumerate(&list, &n));
    *index = ct_devices_default(list, n);
    free(list);
    if (*index < 0)
        return ct_set_error(CT_ERR_NO_DEVICE, "no OpenCL device found. Install a vendor driver, or "
                            "for the CPU: sudo apt-get install pocl-opencl-icd");
    return CT_OK;
}
