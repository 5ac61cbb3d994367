/* What a training run reports: the history (CSV and a plot of accuracy and loss against
 * epochs, like the original project's figure: SVG, or PNG/PDF with cairo; plot.c) and a
 * Keras-style progress line.
 *
 *     ct_history h = {0};
 *     ct_progress p;
 *     ct_progress_init(&p, stdout, CT_PROGRESS_AUTO);
 *     for (epoch = 1..epochs) {
 *         ct_progress_begin(&p, epoch, epochs, steps);
 *         for (step = 1..steps) { ...; ct_progress_update(&p, step, loss, acc); }
 *         ...validation...
 *         ct_progress_end(&p, 1, val_loss, val_acc, seconds);
 *         ct_history_append(&h, &(ct_epoch_stats){epoch, loss, acc, val_loss, val_acc, seconds, 1});
 *         ct_history_write_csv(&h, "history.csv");   // atomic: always a complete file
 *         ct_history_write_svg(&h, "history.svg");
 *     }
 *     ct_history_free(&h);
 */
#ifndef CT_REPORT_H
#define CT_REPORT_H

#include <stdio.h>

#include "cltrain.h"

/* ---- history ------------------------------------------------------------- */
typedef struct ct_epoch_stats {
    int epoch; /* 1-based */
    double loss, accuracy;
    double val_loss, val_accuracy; /* meaningful only when has_val */
    double seconds;
    int has_val;
    double lr; /* the learning rate of the epoch's first step; <= 0 or NaN: not known */
} ct_epoch_stats;

typedef struct ct_history {
    ct_epoch_stats *e;
    int n, cap;
} ct_history; /* zero-initialise; ct_history_free when done */

ct_status ct_history_append(ct_history *h, const ct_epoch_stats *s);
void ct_history_free(ct_history *h);

/* CSV with header "epoch,loss,accuracy,val_loss,val_accuracy,seconds,learning_rate"; the
 * val fields are empty for epochs without validation, learning_rate when not known.
 * Written atomically. The reader also takes the older header without learning_rate. */
ct_status ct_history_write_csv(const ct_history *h, const char *path);
/* Reads such a CSV back (to continue the history on --resume); h is replaced. Numbers
 * are printed with enough digits that read + write reproduces the file exactly. */
ct_status ct_history_read_csv(const char *path, ct_history *h);

/* One CSV field as RFC 4180 has it: quoted when it holds a comma, a double quote, CR or
 * LF, with its double quotes doubled; as it is otherwise. (Rows end in LF, which every CSV
 * reader takes.) */
void ct_csv_field(FILE *f, const char *s);

/* SVG: "Training and validation accuracy" above "Training and validation loss", epochs
 * on x, train vs validation (when any epoch has validation), with axes, ticks and
 * legends. Non-finite values are left out. Written atomically (whatever the name). */
ct_status ct_history_write_svg(const ct_history *h, const char *path);
/* The same figure in the type the name says: .svg (always; also a name without an
 * extension), .png or .pdf (drawn with cairo, in builds that have it), any case. Written
 * atomically. */
ct_status ct_history_write_plot(const ct_history *h, const char *path);
/* Whether ct_history_write_plot can write path: CT_OK, or CT_ERR_ARG naming the file and
 * saying what is allowed (and, for .png/.pdf without cairo, what to install). Nothing
 * is opened: for checking options before any work. */
ct_status ct_plot_check(const char *path);
int ct_plot_has_cairo(void); /* 1 when built with cairo (PNG and PDF plots) */

/* ---- progress line --------------------------------------------------------- */
typedef enum {
    CT_PROGRESS_AUTO = 0, /* redraw in place if the stream is a terminal, else plain */
    CT_PROGRESS_TTY,      /* redraw in place with '\r' */
    CT_PROGRESS_PLAIN,    /* "Epoch e/E" then one line per epoch, at its end */
    CT_PROGRESS_QUIET     /* print nothing */
} ct_progress_mode;

typedef struct ct_progress {
    FILE *f;
    int tty, quiet;
    int epoch, epochs, steps, step;
    double loss, accuracy;
    double t0, last_draw;
    int last_len; /* length of the line drawn last (to blank leftovers) */
    int width;    /* columns the lines may use (0: no limit); on a terminal its width */
} ct_progress;

/* On a terminal the lines fit its width: TIOCGWINSZ, else $COLUMNS, else 80 (see
 * ct_progress_format_width); plain output is never cut. */
void ct_progress_init(ct_progress *p, FILE *f, ct_progress_mode mode);
/* Overrides the width (columns; 0: no limit). */
void ct_progress_set_width(ct_progress *p, int columns);
/* Prints "Epoch 3/100" and starts the epoch's clock. */
void ct_progress_begin(ct_progress *p, int epoch, int epochs, int steps);
/* After step (1..steps) with the running mean loss and accuracy; on a terminal redraws
 *   12/32 [==========>...................] - ETA: 4s - loss: 0.6812 - accuracy: 0.5521
 * at most 10 times a second (and always at the last step). */
void ct_progress_update(ct_progress *p, int step, double loss, double accuracy);
/* Finishes the epoch's line:
 *   32/32 [==============================] - 5s 156ms/step - loss: 0.6812 - accuracy: 0.5521
 *   - val_loss: 0.6523 - val_accuracy: 0.6100    (on one line; val fields when has_val)
 * seconds: the epoch's wall time (< 0: measured since begin). */
void ct_progress_end(ct_progress *p, int has_val, double val_loss, double val_accuracy, double seconds);

/* Formats the line for the given state into buf (for tests and for other front ends).
 * final selects the end-of-epoch form; eta and seconds are in seconds. */
void ct_progress_format(char *buf, size_t n, int step, int steps, double loss, double accuracy, int final,
                        double eta, double seconds, int has_val, double val_loss, double val_accuracy);
/* The same within width columns (0: no limit), no line longer than width - 1: the bar
 * shrinks (30 down to 10, then none) so that count, time, loss and accuracy stay on the
 * first line; the end-of-epoch form goes on over further lines, indented, where it does
 * not fit; the in-progress form is cut. */
void ct_progress_format_width(char *buf, size_t n, int width, int step, int steps, double loss,
                              double accuracy, int final, double eta, double seconds, int has_val,
                              double val_loss, double val_accuracy);

/* ---- classification report (classreport.c; the public ct_class_report_*) ---- */
struct cJSON;
/* The report as the JSON object ct_class_report_print_json writes (caller frees). */
struct cJSON *ct_class_report_json(const ct_class_report *r);

#endif
