/* cldevices: lists every OpenCL platform and device with the P:D numbering that
 * --device and CLTRAIN_DEVICE take. --json for machine-readable output. */
#include <stdio.h>
#include <string.h>

#include "cltrain.h"

int main(int argc, char **argv) {
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("Usage: cldevices [--json]\n"
                   "Lists OpenCL platforms and devices as P:D (use with --device P:D or "
                   "CLTRAIN_DEVICE=P:D).\n"
                   "\n"
                   "Options:\n"
                   "  --json         machine-readable output (one object per device)\n"
                   "  -h, --help     show this help and exit\n"
                   "  --version      show the version and exit\n");
            return 0;
        } else if (!strcmp(argv[i], "--version")) {
            printf("cldevices (cltrain) %s\n", ct_version());
            return 0;
        } else {
            fprintf(stderr, "cldevices: unknown option '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    if (ct_devices_print(stdout, json) != CT_OK) {
        fprintf(stderr, "cldevices: %s\n", ct_last_error());
        return 1;
    }
    return 0;
}
