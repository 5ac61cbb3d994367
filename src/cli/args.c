/* Command-line options on getopt_long (see args.h for the conventions and why long
 * options are never abbreviated). */
#include "cli/args.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cltrain.h"

static const char common_help[] =
    "common options:\n"
    "  -h, --help              show this help and exit\n"
    "  -V, --version           show the version and exit\n"
    "Values are given as --opt VALUE or --opt=VALUE; options are never abbreviated;\n"
    "-- ends the options (for a file name that starts with '-').\n";

void ct_args_init(ct_args *p, const char *prog, const char *help, const ct_optdef *defs, int argc,
                  char **argv) {
    memset(p, 0, sizeof *p);
    p->prog = prog;
    p->help = help;
    p->defs = defs;
    p->argc = argc;
    p->argv = argv;
    int n = 0;
    for (; defs[n].name; n++) {
        if (n == CT_ARGS_MAX || strlen(defs[n].name) + 3 > sizeof p->names[0]) {
            fprintf(stderr, "%s: internal error: option table too big or name too long at '%s'\n",
                    prog, defs[n].name);
            abort();
        }
        snprintf(p->names[n], sizeof p->names[n], "--%s", defs[n].name);
        p->longopts[n] = (struct option){
            defs[n].name, defs[n].arg ? required_argument : no_argument, NULL, 256 + n};
    }
    p->n_defs = n;
    p->longopts[n] = (struct option){"help", no_argument, NULL, 'h'};
    p->longopts[n + 1] = (struct option){"version", no_argument, NULL, 'V'};
    p->longopts[n + 2] = (struct option){NULL, 0, NULL, 0};
    optind = 0; /* glibc: a full restart of the scan */
    opterr = 0; /* the messages are ours */
}

int ct_args_is_operand(const char *name) {
    return !*name;
}

/* "PROG: MESSAGE (see PROG --help)", or "...; see PROG --help)" when MESSAGE ends in ")". */
static int verror(const ct_args *p, const char *fmt, va_list ap) {
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    int paren = n > 0 && msg[n - 1] == ')';
    if (paren) msg[n - 1] = 0;
    fprintf(stderr, "%s: %s%ssee %s --help)\n", p->prog, msg, paren ? "; " : " (", p->prog);
    return 2;
}

int ct_args_error(const ct_args *p, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    verror(p, fmt, ap);
    va_end(ap);
    return 2;
}

/* -1 with rc 2 after an error message. */
static int fail(ct_args *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(ct_args *p, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    p->rc = verror(p, fmt, ap);
    va_end(ap);
    return -1;
}

/* The longopts index of the option spelled name[0..len), exactly; -1 if none. */
static int lookup(const ct_args *p, const char *name, size_t len) {
    for (int i = 0; p->longopts[i].name; i++)
        if (strlen(p->longopts[i].name) == len && !strncmp(p->longopts[i].name, name, len))
            return i;
    return -1;
}

/* Whether argument s, taken as the value of an option, is rather one of the options. */
static int is_option(const ct_args *p, const char *s) {
    if (!strcmp(s, "-h") || !strcmp(s, "-V")) return 1;
    if (strncmp(s, "--", 2) || !s[2]) return 0;
    const char *eq = strchr(s + 2, '=');
    return lookup(p, s + 2, eq ? (size_t)(eq - s - 2) : strlen(s + 2)) >= 0;
}

/* "unknown option", with the options whose names start with what was typed. */
static int unknown(ct_args *p, const char *arg, const char *name, size_t len) {
    char sugg[256] = "";
    int n = 0;
    size_t k = 0;
    for (int i = 0; p->longopts[i].name && len > 0; i++) {
        if (strncmp(p->longopts[i].name, name, len)) continue;
        if (n < 4 && k < sizeof sugg) {
            int more = 0; /* another match follows: "a, b or c" */
            for (int j = i + 1; p->longopts[j].name && !more; j++)
                more = !strncmp(p->longopts[j].name, name, len);
            k += (size_t)snprintf(sugg + k, sizeof sugg - k, "%s--%s",
                                  !n     ? ""
                                  : more ? ", "
                                         : " or ",
                                  p->longopts[i].name);
        }
        n++;
    }
    if (!n) return fail(p, "unknown option '%s'", arg);
    return fail(p, "unknown option '%s'; did you mean %s%s? (options are never abbreviated)", arg,
                sugg, n > 4 ? " ..." : "");
}

/* What getopt_long cannot say well, checked on the argument it is about to read: unknown
 * or abbreviated names, a value given to a flag, a missing value. 0: fine. */
static int precheck(ct_args *p, int i) {
    const char *s = p->argv[i];
    if (s[0] != '-' || !s[1] || !strcmp(s, "--")) return 0;
    if (s[1] != '-') { /* -h, -V, or a long name with one dash */
        if (strspn(s + 1, "hV") == strlen(s + 1)) return 0;
        return lookup(p, s + 1, strlen(s + 1)) >= 0
                   ? fail(p, "unknown option '%s' (long options take two dashes: -%s)", s, s)
                   : unknown(p, s, s + 1, strlen(s + 1) > 1 ? strlen(s + 1) : 0);
    }
    const char *name = s + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    int k = lookup(p, name, len);
    if (k < 0) return unknown(p, s, name, len);
    if (p->longopts[k].has_arg == no_argument && eq)
        return fail(p, "--%.*s takes no value (got '%s')", (int)len, name, s);
    if (p->longopts[k].has_arg == required_argument && !eq) {
        const char *what = k < p->n_defs ? p->defs[k].arg : "VALUE";
        if (i + 1 >= p->argc) return fail(p, "%s needs a value, as in %s %s", s, s, what);
        if (is_option(p, p->argv[i + 1]))
            return fail(p,
                        "%s needs a value, as in %s %s, but the next argument is the option "
                        "%s (write %s=%s if that is the value)",
                        s, s, what, p->argv[i + 1], s, p->argv[i + 1]);
    }
    return 0;
}

int ct_args_next(ct_args *p, const char **name, const char **value) {
    *name = "";
    *value = NULL;
    for (;;) {
        if (p->rest) {
            if (optind >= p->argc) return 0;
            *value = p->argv[optind++];
            return 1;
        }
        int i = optind ? optind : 1;
        if (i < p->argc && precheck(p, i)) return -1;
        /* "-": operands come back in order (code 1), nothing is permuted */
        int c = getopt_long(p->argc, p->argv, "-:hV", p->longopts, NULL);
        if (c == -1) {
            if (optind < p->argc) { /* stopped at "--" */
                p->rest = 1;
                continue;
            }
            return 0;
        }
        if (c == 1) {
            *value = optarg;
            return 1;
        }
        if (c == 'h') {
            fputs(p->help, stdout);
            fputs(common_help, stdout);
            p->rc = 0;
            return -1;
        }
        if (c == 'V') {
            if (!strncmp(p->prog, "cltrain", 7))
                printf("cltrain %s\n", ct_version());
            else
                printf("%s (cltrain) %s\n", p->prog, ct_version());
            p->rc = 0;
            return -1;
        }
        if (c >= 256 && c < 256 + p->n_defs) {
            *name = p->names[c - 256];
            *value = p->defs[c - 256].arg ? optarg : NULL;
            return 1;
        }
        /* left for getopt: an unknown short option, a missing value it found itself */
        if (c == ':')
            return fail(p, "%s needs a value",
                        optopt >= 256 && optopt < 256 + p->n_defs ? p->names[optopt - 256]
                                                                  : "option");
        if (optopt > 0 && optopt < 256) return fail(p, "unknown option '-%c'", optopt);
        return fail(p, "unknown option '%s'", p->argv[optind - 1]);
    }
}

int ct_args_unhandled(const ct_args *p, const char *name, const char *value) {
    if (ct_args_is_operand(name))
        return ct_args_error(p, "unexpected argument '%s' (this command takes options only)",
                             value);
    fprintf(stderr, "%s: internal error: option %s is in the table but not handled\n", p->prog,
            name);
    return 2;
}

int ct_devices_main(const char *prog, int argc, char **argv) {
    static const ct_optdef opts[] = {{"json", NULL}, {NULL, NULL}};
    char help[512];
    snprintf(help, sizeof help,
             "Usage: %s [--json]\n"
             "Lists OpenCL platforms and devices as P:D (use with --device P:D or\n"
             "CLTRAIN_DEVICE=P:D).\n"
             "\n"
             "Options:\n"
             "  --json                  machine-readable output (one object per device)\n",
             prog);
    ct_args p;
    ct_args_init(&p, prog, help, opts, argc, argv);
    int json = 0, r;
    const char *a, *v;
    while ((r = ct_args_next(&p, &a, &v)) > 0) {
        if (!strcmp(a, "--json"))
            json = 1;
        else
            return ct_args_unhandled(&p, a, v);
    }
    if (r < 0) return p.rc;
    if (ct_devices_print(stdout, json) != CT_OK) {
        fprintf(stderr, "%s: %s\n", prog, ct_last_error());
        return 1;
    }
    return 0;
}
