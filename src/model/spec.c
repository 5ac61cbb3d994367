/* Model spec strings: parsing with errors that point at the bad token, presets, and the
 * canonical form. Grammar in model.h. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

/* The seed's models, as its text intends (relu on every conv and hidden dense, dropout 0.2
 * before the output). The output dense is appended by the model builder: dense1 for two
 * classes (sigmoid + binary cross-entropy), dense<N> with softmax otherwise. */
static const struct {
    const char *name, *spec;
} presets[] = {
    {"model1", "conv32:3:relu,pool2,conv64:3:relu,pool2,conv64:3:relu,pool2,flatten,"
               "dense64:relu,dropout0.2"},
    {"model2", "conv32:3:relu,pool2,conv64:3:relu,pool2,conv64:3:relu,pool2,conv64:3:relu,pool2,"
               "flatten,dense248:relu,dropout0.2"},
    {"model3", "conv32:3:relu,pool2,conv64:3:relu,pool2,conv128:3:relu,pool2,flatten,"
               "dense128:relu,dropout0.2"},
};

const char *ct_spec_preset(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (!strcmp(presets[i].name, name)) return presets[i].spec;
    return NULL;
}

/* Error with the spec printed and a caret line under [start, start+len). */
static ct_status spec_error(const char *spec, int start, int len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static ct_status spec_error(const char *spec, int start, int len, const char *fmt, ...) {
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    int sl = (int)strlen(spec);
    if (sl > 900) sl = 900; /* keep the message bounded */
    char caret[1024];
    int p = 0;
    for (int i = 0; i < start && p < 1000; i++) caret[p++] = ' ';
    for (int i = 0; i < (len > 0 ? len : 1) && p < 1000; i++) caret[p++] = i ? '~' : '^';
    caret[p] = 0;
    int layer = 0;
    for (int i = 0; i < start && spec[i]; i++) layer += spec[i] == ',';
    return ct_set_error(CT_ERR_ARG,
                        "model spec, layer %d at column %d: %s\n  %.*s\n  %s\n"
                        "  (grammar: conv<F>:<K>[:s<S>][:same|valid][:relu|sigmoid|linear], "
                        "pool<P>[:s<S>], flatten, dense<U>[:relu|sigmoid|softmax|linear], "
                        "dropout<R>, relu, sigmoid, softmax; comma separated; presets model1, "
                        "model2, model3)",
                        layer, start + 1, why, sl, spec, caret);
}

/* Parses a positive int from [s, s+len) completely. */
static int parse_int(const char *s, int len, int *out) {
    if (len <= 0 || len > 9) return 0;
    int v = 0;
    for (int i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i])) return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return v > 0;
}

static int parse_act(const char *s, int len, ct_act *out, int allow_softmax) {
    if (len == 4 && !strncmp(s, "relu", 4)) *out = CT_ACT_RELU;
    else if (len == 7 && !strncmp(s, "sigmoid", 7)) *out = CT_ACT_SIGMOID;
    else if (len == 6 && !strncmp(s, "linear", 6)) *out = CT_ACT_NONE;
    else if (allow_softmax && len == 7 && !strncmp(s, "softmax", 7)) *out = CT_ACT_SOFTMAX;
    else return 0;
    return 1;
}

static int has_prefix(const char *s, int len, const char *p) {
    int pl = (int)strlen(p);
    return len >= pl && !strncmp(s, p, (size_t)pl);
}

/* One token [t, t+len) at column pos of spec. */
static ct_status parse_token(const char *spec, int pos, int len, int index, ct_layer_spec *L) {
    const char *t = spec + pos;
    memset(L, 0, sizeof *L);
    L->tok_start = pos;
    L->tok_len = len;
    L->stride = 1;
    L->act = CT_ACT_NONE;
    /* split on ':' */
    int parts_s[8] = {0}, parts_l[8] = {0}, np = 0;
    int st = 0;
    for (int i = 0; i <= len; i++) {
        if (i == len || t[i] == ':') {
            if (np == 8) return spec_error(spec, pos, len, "too many ':' options in '%.*s'", len, t);
            parts_s[np] = st;
            parts_l[np] = i - st;
            np++;
            st = i + 1;
        }
    }
    for (int i = 0; i < np; i++)
        if (parts_l[i] == 0)
            return spec_error(spec, pos, len, "empty ':' field in '%.*s'", len, t);
    const char *head = t;
    int hl = parts_l[0];
#define PART(i) (t + parts_s[i])
#define BAD(...) return spec_error(spec, pos, len, __VA_ARGS__)
    (void)index;
    if (has_prefix(head, hl, "conv")) {
        L->type = CT_L_CONV;
        if (!parse_int(head + 4, hl - 4, &L->units))
            BAD("'%.*s': conv needs a positive filter count, e.g. conv32:3", len, t);
        if (np < 2 || !parse_int(PART(1), parts_l[1], &L->k))
            BAD("'%.*s': conv needs a positive kernel size after the filters, e.g. conv32:3", len, t);
        int seen_s = 0, seen_pad = 0, seen_act = 0;
        for (int i = 2; i < np; i++) {
            const char *p = PART(i);
            int pl = parts_l[i];
            ct_act a;
            if (p[0] == 's' && pl > 1 && isdigit((unsigned char)p[1])) {
                if (seen_s++ || !parse_int(p + 1, pl - 1, &L->stride))
                    BAD("'%.*s': bad or repeated stride '%.*s' (use s1, s2, ...)", len, t, pl, p);
            } else if (pl == 4 && !strncmp(p, "same", 4)) {
                if (seen_pad++) BAD("'%.*s': padding given twice", len, t);
                L->same = 1;
            } else if (pl == 5 && !strncmp(p, "valid", 5)) {
                if (seen_pad++) BAD("'%.*s': padding given twice", len, t);
                L->same = 0;
            } else if (parse_act(p, pl, &a, 0)) {
                if (seen_act++) BAD("'%.*s': activation given twice", len, t);
                L->act = a;
            } else {
                BAD("'%.*s': unknown conv option '%.*s' (expected s<S>, same, valid, relu, sigmoid "
                    "or linear)", len, t, pl, p);
            }
        }
    } else if (has_prefix(head, hl, "pool")) {
        L->type = CT_L_POOL;
        if (!parse_int(head + 4, hl - 4, &L->pool))
            BAD("'%.*s': pool needs a positive size, e.g. pool2", len, t);
        L->stride = L->pool;
        if (np > 2) BAD("'%.*s': pool takes at most one option, the stride s<S>", len, t);
        if (np == 2) {
            const char *p = PART(1);
            int pl = parts_l[1];
            if (p[0] != 's' || !parse_int(p + 1, pl - 1, &L->stride))
                BAD("'%.*s': bad pool option '%.*s' (expected a stride like s2)", len, t, pl, p);
        }
    } else if (hl == 7 && !strncmp(head, "flatten", 7)) {
        L->type = CT_L_FLATTEN;
        if (np > 1) BAD("'%.*s': flatten takes no options", len, t);
    } else if (has_prefix(head, hl, "dense")) {
        L->type = CT_L_DENSE;
        if (!parse_int(head + 5, hl - 5, &L->units))
            BAD("'%.*s': dense needs a positive unit count, e.g. dense64", len, t);
        if (np > 2) BAD("'%.*s': dense takes at most one option, its activation", len, t);
        if (np == 2 && !parse_act(PART(1), parts_l[1], &L->act, 1))
            BAD("'%.*s': unknown dense activation '%.*s' (expected relu, sigmoid, softmax or "
                "linear)", len, t, parts_l[1], PART(1));
    } else if (has_prefix(head, hl, "dropout")) {
        L->type = CT_L_DROPOUT;
        if (np > 1) BAD("'%.*s': dropout takes no options, write e.g. dropout0.2", len, t);
        char num[32];
        int nl = hl - 7;
        if (nl <= 0 || nl >= (int)sizeof num) BAD("'%.*s': dropout needs a rate, e.g. dropout0.2", len, t);
        memcpy(num, head + 7, (size_t)nl);
        num[nl] = 0;
        char *end;
        errno = 0;
        double r = strtod(num, &end);
        if (*end || errno || !isdigit((unsigned char)num[0]) || !(r >= 0.0 && r < 1.0))
            BAD("'%.*s': dropout rate must be a number in [0, 1), e.g. dropout0.2", len, t);
        L->rate = (float)r;
    } else if (np == 1 && parse_act(head, hl, &L->act, 1) && L->act != CT_ACT_NONE) {
        L->type = CT_L_ACT;
    } else {
        BAD("unknown layer '%.*s' (expected conv, pool, flatten, dense, dropout, relu, sigmoid or "
            "softmax)", len, t);
    }
#undef PART
#undef BAD
    return CT_OK;
}

ct_status ct_spec_parse(const char *spec, ct_layer_spec **layers, int *n) {
    *layers = NULL;
    *n = 0;
    if (!spec) return ct_set_error(CT_ERR_ARG, "model spec is missing");
    const char *pre = ct_spec_preset(spec);
    if (pre) spec = pre;
    int len = (int)strlen(spec);
    int cap = 1;
    for (int i = 0; i < len; i++) cap += spec[i] == ',';
    ct_layer_spec *L = calloc((size_t)cap, sizeof *L);
    if (!L) return ct_set_error(CT_ERR_MEMORY, "out of host memory parsing the model spec");
    int cnt = 0, st = 0;
    for (int i = 0; i <= len; i++) {
        if (i < len && spec[i] != ',') continue;
        int a = st, b = i;
        while (a < b && isspace((unsigned char)spec[a])) a++;
        while (b > a && isspace((unsigned char)spec[b - 1])) b--;
        if (a == b) {
            ct_status s = len == 0 ? spec_error(spec, 0, 1, "the spec is empty")
                                   : spec_error(spec, st, i - st > 0 ? i - st : 1,
                                                "empty layer (two commas in a row, or a trailing "
                                                "comma)");
            free(L);
            return s;
        }
        ct_status s = parse_token(spec, a, b - a, cnt, &L[cnt]);
        if (s != CT_OK) {
            free(L);
            return s;
        }
        cnt++;
        st = i + 1;
    }
    *layers = L;
    *n = cnt;
    return CT_OK;
}

static const char *act_name(ct_act a) {
    switch (a) {
    case CT_ACT_RELU: return "relu";
    case CT_ACT_SIGMOID: return "sigmoid";
    case CT_ACT_SOFTMAX: return "softmax";
    default: return "linear";
    }
}

int ct_spec_format_layer(const ct_layer_spec *L, char *out, size_t n) {
    switch (L->type) {
    case CT_L_CONV: {
        char st[16] = "";
        if (L->stride != 1) snprintf(st, sizeof st, ":s%d", L->stride);
        return snprintf(out, n, "conv%d:%d%s%s:%s", L->units, L->k, st, L->same ? ":same" : "",
                        act_name(L->act));
    }
    case CT_L_POOL:
        if (L->stride != L->pool) return snprintf(out, n, "pool%d:s%d", L->pool, L->stride);
        return snprintf(out, n, "pool%d", L->pool);
    case CT_L_FLATTEN: return snprintf(out, n, "flatten");
    case CT_L_DENSE:
        if (L->act == CT_ACT_NONE) return snprintf(out, n, "dense%d", L->units);
        return snprintf(out, n, "dense%d:%s", L->units, act_name(L->act));
    case CT_L_DROPOUT: return snprintf(out, n, "dropout%g", (double)L->rate);
    case CT_L_ACT: return snprintf(out, n, "%s", act_name(L->act));
    }
    return snprintf(out, n, "?");
}
