/* Learning-rate schedules and ReduceLROnPlateau (schedule.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "train/schedule.h"

static const char *const names[] = {"constant", "cosine", "step", "exponential"};

const char *ct_sched_name(ct_sched_kind k) { return (unsigned)k < 4 ? names[k] : "?"; }

int ct_sched_parse(const char *name) {
    for (int i = 0; name && i < 4; i++)
        if (!strcmp(name, names[i])) return i;
    return -1;
}

double ct_lr_at(const ct_lr_schedule *s, double base, long t) {
    long steps = s->steps > 0 ? s->steps : 1;
    long w = (long)s->warmup_epochs * steps;
    if (t < 0) t = 0;
    if (t < w) return base * (double)(t + 1) / (double)w;
    double u = (double)(t - w), e = u / (double)steps;
    switch (s->kind) {
    case CT_SCHED_COSINE: {
        double d = (double)(s->epochs - s->warmup_epochs) * (double)steps;
        double x = d > 0 ? fmin(u / d, 1.0) : 1.0;
        return base * 0.5 * (1.0 + cos(3.14159265358979323846 * x));
    }
    case CT_SCHED_STEP:
        return base * pow(s->decay_rate, floor(e / s->decay_epochs));
    case CT_SCHED_EXPONENTIAL:
        return base * pow(s->decay_rate, e / s->decay_epochs);
    default:
        return base;
    }
}

int ct_sched_describe(const ct_lr_schedule *s, char *out, size_t n) {
    int k = snprintf(out, n, "%s warmup_epochs=%d", ct_sched_name(s->kind), s->warmup_epochs);
    if (k >= 0 && (size_t)k < n && (s->kind == CT_SCHED_STEP || s->kind == CT_SCHED_EXPONENTIAL))
        k += snprintf(out + k, n - (size_t)k, " decay_rate=%.12g decay_epochs=%.12g",
                      s->decay_rate, s->decay_epochs);
    return k;
}

int ct_plateau_update(ct_plateau *p, double current) {
    int better = p->maximize ? current > p->best + p->min_delta : current < p->best - p->min_delta;
    if (better) {
        p->best = current;
        p->wait = 0;
        return 0;
    }
    if (++p->wait < p->patience) return 0;
    /* Keras compares the float32 rate with np.float32(min_lr). */
    if (!((float)p->lr > (float)p->min_lr)) return 0;
    p->lr = fmax(p->lr * p->factor, p->min_lr);
    p->wait = 0;
    return 1;
}
