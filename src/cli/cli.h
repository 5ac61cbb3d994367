/* Subcommands of the cltrain program. Each returns the process exit code; only main()
 * and these command functions print errors and decide exit codes. */
#ifndef CT_CLI_H
#define CT_CLI_H

int ct_cmd_devices(int argc, char **argv);
int ct_cmd_selftest(int argc, char **argv);
int ct_cmd_train(int argc, char **argv);
int ct_cmd_evaluate(int argc, char **argv);
int ct_cmd_predict(int argc, char **argv);
int ct_cmd_preview(int argc, char **argv);
int ct_cmd_bench(int argc, char **argv);
int ct_cmd_tune(int argc, char **argv);
int ct_cmd_export(int argc, char **argv);

/* Whether the library's information messages (CT_LOG_INFO) go to stdout (default on);
 * off (to stderr) where stdout must stay machine-readable. */
void ct_cli_log_info(int on);

#endif
