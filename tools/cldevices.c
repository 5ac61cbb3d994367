/* cldevices: lists every OpenCL platform and device with the P:D numbering that
 * --device and CLTRAIN_DEVICE take (the same as `cltrain devices`). --json for
 * machine-readable output. */
#include "cli/args.h"

int main(int argc, char **argv) {
    return ct_devices_main("cldevices", argc, argv);
}
