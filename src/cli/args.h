/* Command-line options of cltrain's commands and of cldevices, on glibc's getopt_long.
 *
 * Every command declares its options in a table and walks them in one loop:
 *
 *     static const ct_optdef opts[] = {{"data", "DIR"}, {"quiet", NULL}, {NULL, NULL}};
 *     ct_args p;
 *     ct_args_init(&p, "cltrain train", help_text, opts, argc, argv);
 *     const char *a, *v;
 *     int r;
 *     while ((r = ct_args_next(&p, &a, &v)) > 0) {
 *         if (!strcmp(a, "--data")) ...v is the value...
 *         else if (!strcmp(a, "--quiet")) ...v is NULL...
 *         else if (ct_args_is_operand(a)) ...v is a file name...
 *         else return ct_args_unhandled(&p, a, v);
 *     }
 *     if (r < 0) return p.rc;   // help or version printed (0), or an error printed (2)
 *
 * so adding an option is one table entry and one branch (and its line in the help text).
 *
 * Conventions (the same for every command): --opt VALUE and --opt=VALUE; -h/--help and
 * -V/--version everywhere (added here, not in the tables); "--" ends the options (what
 * follows is an operand even if it starts with '-'); operands and options mix in any order.
 * Long options are never abbreviated: getopt_long's prefix matching would make `--val`
 * mean --validation today and an error ("ambiguous") once another --val... option exists,
 * so a script that works would break when an option is added; an unknown name gets
 * "unknown option" with the options it is a prefix of as suggestions. A value that is
 * itself one of the command's option names (`--out --quiet`) is taken for a forgotten
 * value; `--out=--quiet` says it is meant. */
#ifndef CT_CLI_ARGS_H
#define CT_CLI_ARGS_H

#include <getopt.h>

typedef struct ct_optdef {
    const char *name; /* without the leading "--"; NULL ends the table */
    const char *arg;  /* the value's name in messages ("DIR"), NULL: the option takes none */
} ct_optdef;

#define CT_ARGS_MAX 128

typedef struct ct_args {
    const char *prog; /* "cltrain train", "cldevices": starts every message */
    const char *help; /* printed by -h/--help, followed by the common options */
    const ct_optdef *defs;
    int n_defs, argc;
    char **argv;
    int rest; /* after "--": everything is an operand */
    int rc;   /* the exit code when ct_args_next returned -1 */
    struct option longopts[CT_ARGS_MAX + 3];
    char names[CT_ARGS_MAX][40]; /* "--data": what ct_args_next returns */
} ct_args;

void ct_args_init(ct_args *p, const char *prog, const char *help, const ct_optdef *defs, int argc,
                  char **argv);
/* The next option or operand: 1 with *name = "--data" (the table's name) and *value its
 * value (NULL for an option without one), or an operand with *name = "" (see
 * ct_args_is_operand) and *value the argument; 0 at the end; -1 when the command must exit
 * with p->rc (help or version printed: 0; an error printed on stderr: 2). */
int ct_args_next(ct_args *p, const char **name, const char **value);
int ct_args_is_operand(const char *name);
/* The last branch of a command's loop: an operand where the command takes none, or an
 * option in the table that no branch handles (a programming error); prints it, returns 2. */
int ct_args_unhandled(const ct_args *p, const char *name, const char *value);
/* Prints "PROG: MESSAGE (see PROG --help)" on stderr and returns 2. */
int ct_args_error(const ct_args *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* `cltrain devices` and cldevices, one program under two names (prog: "cldevices"). */
int ct_devices_main(const char *prog, int argc, char **argv);

#endif
