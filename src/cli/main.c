/* cltrain: command dispatcher. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "runtime/runtime.h"
#include "check/selftest.h"
#include "layers/layer.h"

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} command;

static const command commands[] = {
    {"train", ct_cmd_train, "train a model on image class folders (Keras-like fit)"},
    {"evaluate", ct_cmd_evaluate, "loss and accuracy of a saved model on class folders"},
    {"predict", ct_cmd_predict, "class probabilities of images with a saved model"},
    {"preview", ct_cmd_preview, "PNG or JPEG grid of augmented versions of one image"},
    {"bench", ct_cmd_bench, "time the training step on synthetic data (bench step)"},
    {"tune", ct_cmd_tune, "choose the kernel variants of a model on this device"},
    {"export", ct_cmd_export, "write a saved model as an ONNX file (inference, opset 13)"},
    {"devices", ct_cmd_devices, "list OpenCL platforms and devices (same as cldevices)"},
    {"selftest", ct_cmd_selftest, "build every kernel and check each against its C reference"},
};
static const int n_commands = (int)(sizeof commands / sizeof commands[0]);

static void usage(FILE *f) {
    fprintf(f, "Usage: cltrain COMMAND [options]   (cltrain help COMMAND for details)\n"
               "Trains small convolutional networks (image classifiers) on any OpenCL device.\n"
               "\nCommands:\n");
    for (int i = 0; i < n_commands; i++) fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\nOptions:\n"
               "  -h, --help     show this help and exit\n"
               "  -V, --version  show the version and exit\n"
               "\nEvery command takes -h/--help and -V/--version. Values go as --opt VALUE or\n"
               "--opt=VALUE; options are never abbreviated; -- ends the options.\n"
               "cltrain help COMMAND is cltrain COMMAND --help.\n"
               "\nDevice choice: --device P:D or CLTRAIN_DEVICE=P:D (see cltrain devices).\n"
               "Environment: CLTRAIN_CACHE_DIR, CLTRAIN_CACHE=off, CLTRAIN_KERNEL_DIR,\n"
               "CLTRAIN_DETERMINISTIC=1 (as train --deterministic).\n");
}

int ct_cmd_devices(int argc, char **argv) { return ct_devices_main("cltrain devices", argc, argv); }

int ct_cmd_selftest(int argc, char **argv) {
    static const ct_optdef opts[] = {{"device", "P:D"}, {NULL, NULL}};
    ct_args p;
    ct_args_init(&p, "cltrain selftest",
                 "Usage: cltrain selftest [--device P:D]\n"
                 "Builds every kernel program on the device (using the compile cache) and runs\n"
                 "each kernel once on small random inputs against its C reference.\n"
                 "  --device P:D            device (default: $CLTRAIN_DEVICE, else the first GPU)\n",
                 opts, argc, argv);
    const char *dev = NULL, *a, *v;
    int r;
    while ((r = ct_args_next(&p, &a, &v)) > 0) {
        if (!strcmp(a, "--device")) dev = v;
        else return ct_args_unhandled(&p, a, v);
    }
    if (r < 0) return p.rc;
    ct_runtime *rt;
    if (ct_runtime_create(dev, 0, &rt) != CT_OK) {
        fprintf(stderr, "cltrain selftest: %s\n", ct_last_error());
        return 1;
    }
    ct_runtime_print_device(rt, stdout);
    int fails = ct_selftest_run(rt, ct_selftests, ct_selftests_count, stdout);
    ct_runtime_free(rt);
    return fails ? 1 : 0;
}

static int log_info = 1;
void ct_cli_log_info(int on) { log_info = on; }

/* The library's messages: warnings and errors to stderr, progress to stdout (to stderr
 * too where stdout holds the command's data: predict's lines, evaluate --json). */
static void print_log(void *user, ct_log_level level, const char *msg) {
    (void)user;
    if (level == CT_LOG_DEBUG && !getenv("CLTRAIN_DEBUG")) return;
    FILE *f = level <= CT_LOG_WARN || !log_info ? stderr : stdout;
    fprintf(f, "%s%s\n", level == CT_LOG_WARN ? "warning: " : "", msg);
    fflush(f);
}

static const command *find_command(const char *name) {
    for (int i = 0; i < n_commands; i++)
        if (!strcmp(name, commands[i].name)) return &commands[i];
    return NULL;
}

int main(int argc, char **argv) {
    ct_set_log(print_log, NULL);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        (!strcmp(argv[1], "help") && argc == 2)) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V") || !strcmp(argv[1], "version")) {
        printf("cltrain %s\n", ct_version());
        return 0;
    }
    if (!strcmp(argv[1], "help")) { /* help COMMAND: that command's --help */
        const command *c = find_command(argv[2]);
        if (!c || argc > 3) {
            if (c) fprintf(stderr, "cltrain help: one command at a time (got '%s' too)\n", argv[3]);
            else fprintf(stderr, "cltrain help: unknown command '%s'; the commands are:", argv[2]);
            for (int i = 0; !c && i < n_commands; i++) fprintf(stderr, " %s", commands[i].name);
            if (!c) fputc('\n', stderr);
            return 2;
        }
        char *hargv[] = {argv[2], "--help", NULL};
        return c->fn(2, hargv);
    }
    const command *c = find_command(argv[1]);
    if (c) return c->fn(argc - 1, argv + 1);
    fprintf(stderr, "cltrain: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
