/* Learning-rate schedules and Keras's ReduceLROnPlateau, as pure functions of the global
 * step, so that a resumed run computes the same rates (docs/TRAINING.md). */
#ifndef CT_SCHEDULE_H
#define CT_SCHEDULE_H

typedef enum {
    CT_SCHED_CONSTANT = 0,
    CT_SCHED_COSINE,
    CT_SCHED_STEP,
    CT_SCHED_EXPONENTIAL
} ct_sched_kind;

typedef struct ct_lr_schedule {
    ct_sched_kind kind;
    double lr;          /* the base rate (the optimizer's --lr) */
    int epochs;         /* the run's --epochs (cosine decays over epochs - warmup) */
    long steps;         /* steps per epoch (> 0) */
    int warmup_epochs;  /* linear warmup over the first warmup_epochs * steps steps */
    double decay_rate;  /* step, exponential: the factor per decay_epochs */
    double decay_epochs;
} ct_lr_schedule;

/* "constant", "cosine", "step", "exponential"; parse returns -1 for another name. */
const char *ct_sched_name(ct_sched_kind k);
int ct_sched_parse(const char *name);

/* The rate of global step t (0-based), with base rate `base` instead of s->lr (the
 * plateau's reduced rate; pass s->lr otherwise). Warmup: base * (t + 1) / W for t < W =
 * warmup_epochs * steps; then, with u = t - W steps and e = u / steps epochs after warmup:
 *   constant     base
 *   cosine       base * 0.5 * (1 + cos(pi * u / D)), D = (epochs - warmup) * steps
 *                (Keras CosineDecay, alpha 0, per step)
 *   step         base * rate ^ floor(e / decay_epochs)   (PyTorch StepLR; Keras staircase)
 *   exponential  base * rate ^ (e / decay_epochs)        (Keras ExponentialDecay, per step) */
double ct_lr_at(const ct_lr_schedule *s, double base, long t);
/* One line naming the schedule and its parameters (what a checkpoint records). */
int ct_sched_describe(const ct_lr_schedule *s, char *out, size_t n);

/* Keras's ReduceLROnPlateau (cooldown 0): at each epoch's end, an improvement beyond
 * min_delta (below best - min_delta, or above best + min_delta when maximize) resets wait;
 * otherwise wait grows, and at patience the rate becomes max(lr * factor, min_lr) if it is
 * above min_lr, and wait restarts. */
typedef struct ct_plateau {
    double factor, min_lr, min_delta;
    int patience, maximize;
    double lr, best; /* state: the current rate, the best value seen (+-inf at first) */
    int wait;
} ct_plateau;
/* Returns 1 when the rate was reduced. */
int ct_plateau_update(ct_plateau *p, double current);

#endif
