/* Model spec strings: splitting into tokens, asking the layer registry which class owns
 * each (the classes parse and format their own tokens, src/layers/<name>.c), errors that
 * point at the bad token, the one preset table, and the canonical form. Grammar in model.h. */
#include <ctype.h>
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
    /* The recommended model for small photo sets (issue 10, docs/RESULTS.md): a stride-2
     * first conv keeps the 112x112 step near Model 2's, batchnorm after every conv, global
     * average pooling instead of a wide flatten + dense. */
    {"model4", "conv32:3:s2:same,batchnorm:relu,conv32:3:same,batchnorm:relu,pool2,"
               "conv64:3:same,batchnorm:relu,pool2,conv128:3:same,batchnorm:relu,pool2,"
               "conv256:3:same,batchnorm:relu,gap,dropout0.3"},
};

const char *ct_spec_preset(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (!strcmp(presets[i].name, name)) return presets[i].spec;
    return NULL;
}

/* "a, b, c" of the registry's grammars / presets, and "a, b or c" of its head words. */
static void registry_text(char *grammar, size_t gn, char *words, size_t wn) {
    size_t gp = 0, wp = 0;
    const char *w[64];
    int wl[64], nw = 0;
    grammar[0] = words[0] = 0;
    for (int i = 0; ct_layer_classes[i]; i++) {
        const ct_layer_class *c = ct_layer_classes[i];
        gp += (size_t)snprintf(grammar + gp, gp < gn ? gn - gp : 0, "%s%s", i ? ", " : "",
                               c->grammar);
        for (const char *p = c->words; *p && nw < 64;) {
            const char *e = strchr(p, ',');
            int l = e ? (int)(e - p) : (int)strlen(p);
            w[nw] = p;
            wl[nw++] = l;
            p += l + (e != NULL);
        }
    }
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        gp += (size_t)snprintf(grammar + gp, gp < gn ? gn - gp : 0, "%s%s",
                               i ? ", " : "; comma separated; presets ", presets[i].name);
    for (int i = 0; i < nw; i++)
        wp += (size_t)snprintf(words + wp, wp < wn ? wn - wp : 0, "%s%.*s",
                               !i ? "" : i == nw - 1 ? " or " : ", ", wl[i], w[i]);
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
    char grammar[1024], words[256];
    registry_text(grammar, sizeof grammar, words, sizeof words);
    return ct_set_error(CT_ERR_ARG, "model spec, layer %d at column %d: %s\n  %.*s\n  %s\n"
                        "  (grammar: %s)", layer, start + 1, why, sl, spec, caret, grammar);
}

/* One token [pos, pos+len) of spec: split on ':', find its class, let the class parse it. */
static ct_status parse_token(const char *spec, int pos, int len, ct_layer_spec *L) {
    const char *t = spec + pos;
    memset(L, 0, sizeof *L);
    L->tok_start = pos;
    L->tok_len = len;
    L->act = CT_ACT_NONE;
    ct_spec_token tk = {.t = t, .len = len};
    int st = 0;
    for (int i = 0; i <= len; i++) {
        if (i == len || t[i] == ':') {
            if (tk.nf == CT_SPEC_MAX_FIELDS)
                return spec_error(spec, pos, len, "too many ':' options in '%.*s'", len, t);
            tk.f[tk.nf] = t + st;
            tk.fl[tk.nf++] = i - st;
            st = i + 1;
        }
    }
    for (int i = 0; i < tk.nf; i++)
        if (tk.fl[i] == 0) return spec_error(spec, pos, len, "empty ':' field in '%.*s'", len, t);
    const ct_layer_class *c = ct_layer_class_for(&tk);
    if (!c) {
        char grammar[1024], words[256];
        registry_text(grammar, sizeof grammar, words, sizeof words);
        return spec_error(spec, pos, len, "unknown layer '%.*s' (expected %s)", len, t, words);
    }
    L->cls = c;
    ct_status s = c->parse(&tk, L);
    if (s == CT_ERR_ARG) {
        char why[512];
        snprintf(why, sizeof why, "%s", ct_last_error());
        return spec_error(spec, pos, len, "%s", why);
    }
    return s;
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
        ct_status s = parse_token(spec, a, b - a, &L[cnt]);
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

int ct_spec_format_layer(const ct_layer_spec *L, char *out, size_t n) {
    return L->cls->format(L, out, n);
}
