/* config_yaml: the generic half of the config reader (see config_yaml.h):
 * libyaml document loading, typed reading of a mapping against an opt_spec
 * table, duplicate and unknown keys with a did-you-mean suggestion, and the
 * diagnostics list. Nothing here knows clusterd's sections; config.c does. */
#include "config_yaml.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CFG_ERRORS_MAX 100 /* stored errors; the rest are only counted */

/* ---- diagnostics -------------------------------------------------------- */

typedef struct cfg_msg {
    int line, col; /* 1-based; 0 when the message has no position */
    size_t seq;    /* report order, to keep the sort stable */
    bool error;
    char *text; /* complete "label:line:col: message" */
} cfg_msg;

static char *str_vformat(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static char *str_vformat(const char *fmt, va_list ap)
{
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0) return NULL;
    char *s = malloc((size_t)n + 1);
    if (s) vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

char *cfg_format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = str_vformat(fmt, ap);
    va_end(ap);
    return s;
}

char *cfg_strdup(cfg_ctx *c, const char *s)
{
    char *d = strdup(s);
    if (!d) c->oom = true;
    return d;
}

/* Copies user text for a message: capped, control bytes replaced, so a
 * hostile or mistyped file cannot flood or garble the terminal. */
const char *cfg_quote(char *buf, size_t size, const char *s)
{
    size_t n = 0;
    for (; s[n] && n + 4 < size; n++)
        buf[n] = ((unsigned char)s[n] < 0x20 || s[n] == 0x7f) ? '?' : s[n];
    if (s[n]) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

static void cfg_vreport(cfg_ctx *c, bool error, int line, int col, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));
static void cfg_vreport(cfg_ctx *c, bool error, int line, int col, const char *fmt, va_list ap)
{
    if (error) {
        c->n_errors++;
        if (c->n_stored_errors >= CFG_ERRORS_MAX) return;
    }
    char *msg = str_vformat(fmt, ap);
    char *text = NULL;
    if (msg)
        text = line > 0 ? cfg_format("%s:%d:%d: %s", c->label, line, col, msg)
                        : cfg_format("%s: %s", c->label, msg);
    free(msg);
    if (!text) goto oom;
    if (c->n_msgs == c->cap_msgs) {
        size_t cap = c->cap_msgs ? c->cap_msgs * 2 : 8;
        cfg_msg *m = realloc(c->msgs, cap * sizeof *m);
        if (!m) goto oom;
        c->msgs = m;
        c->cap_msgs = cap;
    }
    c->msgs[c->n_msgs] = (cfg_msg){line, col, c->n_msgs, error, text};
    c->n_msgs++;
    if (error) c->n_stored_errors++;
    return;
oom:
    free(text);
    c->oom = true;
}

void cfg_error_pos(cfg_ctx *c, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cfg_vreport(c, true, line, col, fmt, ap);
    va_end(ap);
}

int cfg_mark_line(const yaml_mark_t *m)
{
    return (int)m->line + 1;
}

int cfg_mark_col(const yaml_mark_t *m)
{
    return (int)m->column + 1;
}

/* Errors point at a node: the offending key or value. */
void cfg_error(cfg_ctx *c, const yaml_node_t *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cfg_vreport(c, true, at ? cfg_mark_line(&at->start_mark) : 1,
                at ? cfg_mark_col(&at->start_mark) : 1, fmt, ap);
    va_end(ap);
}

void cfg_warn_pos(cfg_ctx *c, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cfg_vreport(c, false, line, col, fmt, ap);
    va_end(ap);
}

static int cfg_msg_compare(const void *a, const void *b)
{
    const cfg_msg *x = a, *y = b;
    if (x->line != y->line) return x->line < y->line ? -1 : 1;
    if (x->col != y->col) return x->col < y->col ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int diag_push(char ***list, size_t *n, char *text)
{
    char **l = realloc(*list, (*n + 1) * sizeof *l);
    if (!l) return -1;
    l[(*n)++] = text;
    *list = l;
    return 0;
}

/* Moves the messages, in file order, into diag. */
void cfg_flush_diag(cfg_ctx *c, config_diag *diag)
{
    if (c->n_msgs) qsort(c->msgs, c->n_msgs, sizeof *c->msgs, cfg_msg_compare);
    for (size_t k = 0; k < c->n_msgs; k++) {
        cfg_msg *m = &c->msgs[k];
        int rc = m->error ? diag_push(&diag->errors, &diag->n_errors, m->text)
                          : diag_push(&diag->warnings, &diag->n_warnings, m->text);
        if (rc < 0) free(m->text);
    }
    /* Positionless summaries go last, past the stored-error cap. */
    char *extra[2] = {NULL, NULL};
    if (c->n_errors > c->n_stored_errors)
        extra[0] = cfg_format("%s: too many errors; %zu more not shown", c->label,
                              c->n_errors - c->n_stored_errors);
    if (c->oom)
        extra[1] = cfg_format("%s: out of memory while reading the configuration", c->label);
    for (size_t k = 0; k < 2; k++) {
        if (extra[k] && diag_push(&diag->errors, &diag->n_errors, extra[k]) < 0) free(extra[k]);
    }
    free(c->msgs);
    c->msgs = NULL;
    c->n_msgs = c->cap_msgs = 0;
}

/* For messages outside a parse (the file cannot be read). */
void cfg_diag_add_error(config_diag *diag, char *text)
{
    if (text && diag_push(&diag->errors, &diag->n_errors, text) < 0) free(text);
}

/* Public (config.h): frees both lists and zeroes diag; accepts NULL. */
void config_diag_free(config_diag *diag)
{
    if (!diag) return;
    for (size_t k = 0; k < diag->n_errors; k++)
        free(diag->errors[k]);
    free(diag->errors);
    for (size_t k = 0; k < diag->n_warnings; k++)
        free(diag->warnings[k]);
    free(diag->warnings);
    *diag = (config_diag){0};
}

/* ---- YAML node helpers -------------------------------------------------- */

yaml_node_t *cfg_doc_node(cfg_ctx *c, int index)
{
    return yaml_document_get_node(c->doc, index);
}

bool cfg_node_is_plain(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* An absent value, `key:` with nothing after it, `~` or `null`. */
bool cfg_node_is_null(const yaml_node_t *n)
{
    if (!n) return true;
    if (!cfg_node_is_plain(n)) return false;
    const char *s = (const char *)n->data.scalar.value;
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

/* The text of a scalar, or NULL for other nodes and for scalars with an
 * embedded NUL (a "\0" escape), which C strings cannot carry. */
const char *cfg_node_text(const yaml_node_t *n)
{
    if (!n || n->type != YAML_SCALAR_NODE) return NULL;
    const char *s = (const char *)n->data.scalar.value;
    if (strlen(s) != n->data.scalar.length) return NULL;
    return s;
}

yaml_node_t *cfg_find_key(cfg_ctx *c, const yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const char *k = cfg_node_text(cfg_doc_node(c, p->key));
        if (k && strcmp(k, key) == 0) return cfg_doc_node(c, p->value);
    }
    return NULL;
}

size_t cfg_seq_len(const yaml_node_t *n)
{
    return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

/* Sections may be left empty (`node:`); anything but a mapping is an error. */
bool cfg_expect_map(cfg_ctx *c, const yaml_node_t *val, const char *name)
{
    if (cfg_node_is_null(val) || val->type == YAML_MAPPING_NODE) return true;
    cfg_error(c, val, "'%s' must be a mapping", name);
    return false;
}

/* ---- near-miss suggestions ---------------------------------------------- */

static int lower(int ch)
{
    return ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch;
}

/* Optimal string alignment distance, case-insensitive; long inputs are not
 * compared (returns a large value). */
static size_t edit_distance(const char *a, const char *b)
{
    enum { MAXLEN = 64 };
    size_t la = strlen(a), lb = strlen(b);
    if (la > MAXLEN || lb > MAXLEN) return SIZE_MAX;
    size_t d[MAXLEN + 1][MAXLEN + 1];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
            size_t best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best) best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
                lower(a[i - 2]) == lower(b[j - 1]) && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

/* Keeps the closest candidate that is near enough to be a typo of word. */
void cfg_suggest_consider(cfg_suggest *s, const char *word, const char *candidate)
{
    size_t d = edit_distance(word, candidate);
    size_t limit = 1 + strlen(candidate) / 5;
    if (strcmp(word, candidate) == 0 || d > limit || d >= strlen(word)) return;
    if (!s->best || d < s->dist) {
        s->best = candidate;
        s->dist = d;
    }
}

/* ---- generic mapping reader --------------------------------------------- */

static bool cfg_map_is_misplaced(const cfg_map *m, const char *key)
{
    for (size_t k = 0; m->misplaced && m->misplaced[k]; k++) {
        if (strcmp(m->misplaced[k], key) == 0) return true;
    }
    for (size_t k = 0; k < m->n_misplaced_opts; k++) {
        if (strcmp(m->misplaced_opts[k].name, key) == 0) return true;
    }
    return false;
}

static void cfg_unknown_key(cfg_ctx *c, const yaml_node_t *keynode, const char *key,
                            const cfg_map *m)
{
    char q[CFG_QUOTE_MAX];
    cfg_quote(q, sizeof q, key);
    if (cfg_map_is_misplaced(m, key)) {
        cfg_error(c, keynode, "unknown key '%s' %s; %s", q, m->where, m->misplaced_hint);
        return;
    }
    cfg_suggest s = {0};
    for (size_t k = 0; k < m->n_specs; k++)
        cfg_suggest_consider(&s, key, m->specs[k].name);
    for (size_t k = 0; k < m->n_extras; k++)
        cfg_suggest_consider(&s, key, m->extras[k].name);
    if (s.best) {
        cfg_error(c, keynode, "unknown key '%s' %s; did you mean '%s'?", q, m->where, s.best);
        return;
    }
    char valid[512] = "";
    size_t used = 0;
    for (size_t k = 0; k < m->n_specs + m->n_extras; k++) {
        const char *name = k < m->n_specs ? m->specs[k].name : m->extras[k - m->n_specs].name;
        int n = snprintf(valid + used, sizeof valid - used, "%s%s", used ? ", " : "", name);
        if (n < 0 || (size_t)n >= sizeof valid - used) break;
        used += (size_t)n;
    }
    if (used)
        cfg_error(c, keynode, "unknown key '%s' %s; valid keys: %s", q, m->where, valid);
    else
        cfg_error(c, keynode, "unknown key '%s' %s", q, m->where);
}

static void cfg_value_error(cfg_ctx *c, const yaml_node_t *at, const opt_spec *spec)
{
    switch (spec->type) {
    case OPT_STRING:
        cfg_error(c, at, "'%s' must be a non-empty string", spec->name);
        break;
    case OPT_INT:
        if (spec->min == 0 && spec->max == 0)
            cfg_error(c, at, "'%s' must be an integer", spec->name);
        else
            cfg_error(c, at, "'%s' must be an integer between %lld and %lld", spec->name, spec->min,
                      spec->max);
        break;
    case OPT_BOOL:
        cfg_error(c, at, "'%s' must be true or false", spec->name);
        break;
    case OPT_ENUM: {
        char list[256] = "";
        size_t used = 0;
        for (size_t k = 0; spec->choices && spec->choices[k]; k++) {
            int n = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "",
                             spec->choices[k]);
            if (n < 0 || (size_t)n >= sizeof list - used) break;
            used += (size_t)n;
        }
        cfg_error(c, at, "'%s' must be one of: %s", spec->name, list);
        break;
    }
    case OPT_STRING_LIST:
        cfg_error(c, at, "'%s' must be a list of non-empty strings", spec->name);
        break;
    }
}

/* Strict base-10 integer: optional sign, digits only, no overflow. */
bool cfg_parse_ll(const char *s, long long *out)
{
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    if (*p < '0' || *p > '9') return false;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || !end || *end != '\0') return false;
    *out = v;
    return true;
}

static bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    for (size_t k = 0; k < COUNT_OF(yes); k++) {
        if (strcasecmp(s, yes[k]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[k]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* A non-empty string scalar (plain or quoted); NULL otherwise. */
const char *cfg_scalar_string(const yaml_node_t *n)
{
    if (cfg_node_is_null(n)) return NULL;
    const char *s = cfg_node_text(n);
    return s && s[0] ? s : NULL;
}

/* Parses one value into v; reports and returns -1 when it does not fit. */
static int cfg_read_value(cfg_ctx *c, const opt_spec *spec, const yaml_node_t *key,
                          const yaml_node_t *val, opt_value *v)
{
    const yaml_node_t *at = cfg_node_is_null(val) ? key : val;
    const char *s = cfg_scalar_string(val);
    switch (spec->type) {
    case OPT_STRING:
    case OPT_ENUM:
        if (!s) goto bad;
        if (spec->type == OPT_ENUM) {
            size_t k = 0;
            while (spec->choices && spec->choices[k] && strcmp(spec->choices[k], s) != 0)
                k++;
            if (!spec->choices || !spec->choices[k]) goto bad;
        }
        free(v->s);
        v->s = cfg_strdup(c, s);
        break;
    case OPT_INT: {
        long long i;
        /* min == max == 0 in a table means "no bounds". */
        bool bounded = spec->min != 0 || spec->max != 0;
        if (!s || !cfg_node_is_plain(val) || !cfg_parse_ll(s, &i) ||
            (bounded && (i < spec->min || i > spec->max)))
            goto bad;
        v->i = i;
        break;
    }
    case OPT_BOOL: {
        bool b;
        if (!s || !cfg_node_is_plain(val) || !parse_bool(s, &b)) goto bad;
        v->i = b;
        break;
    }
    case OPT_STRING_LIST: {
        size_t n = 1;
        if (val && val->type == YAML_SEQUENCE_NODE) {
            n = cfg_seq_len(val);
        } else if (!s) {
            goto bad;
        }
        char **list = n ? calloc(n, sizeof *list) : NULL;
        if (n && !list) {
            c->oom = true;
            return -1;
        }
        size_t got = 0;
        bool ok = true;
        for (size_t k = 0; k < n; k++) {
            const yaml_node_t *item = val->type == YAML_SEQUENCE_NODE
                                          ? cfg_doc_node(c, val->data.sequence.items.start[k])
                                          : val;
            const char *t = cfg_scalar_string(item);
            if (!t) {
                cfg_error(c, item ? item : at, "'%s' must be a list of non-empty strings",
                          spec->name);
                ok = false;
                continue;
            }
            if (!(list[got++] = cfg_strdup(c, t))) ok = false;
        }
        if (!ok) {
            for (size_t k = 0; k < got; k++)
                free(list[k]);
            free(list);
            return -1;
        }
        for (size_t k = 0; k < v->list_len; k++)
            free(v->list[k]);
        free(v->list);
        v->list = list;
        v->list_len = got;
        break;
    }
    }
    v->set = true;
    v->line = cfg_mark_line(&val->start_mark);
    v->col = cfg_mark_col(&val->start_mark);
    return 0;
bad:
    cfg_value_error(c, at, spec);
    return -1;
}

static int cfg_fill_defaults(cfg_ctx *c, const opt_spec *specs, size_t n, opt_values *out)
{
    out->specs = specs;
    out->count = n;
    out->values = calloc(n ? n : 1, sizeof *out->values);
    if (!out->values) {
        c->oom = true;
        return -1;
    }
    for (size_t k = 0; k < n; k++) {
        opt_value *v = &out->values[k];
        v->i = specs[k].def_int;
        if ((specs[k].type == OPT_STRING || specs[k].type == OPT_ENUM) && specs[k].def_str &&
            !(v->s = cfg_strdup(c, specs[k].def_str)))
            return -1;
    }
    return 0;
}

/* Reads a mapping (or NULL for an absent/empty one) against m: defaults,
 * typed values, extras handed back, unknown and duplicate keys, missing
 * required options (reported at `owner`, the key that holds this mapping).
 * out may be NULL when m has no specs. Returns -1 only when out of memory. */
int cfg_read_map(cfg_ctx *c, const yaml_node_t *map, const yaml_node_t *owner, const cfg_map *m,
                 opt_values *out)
{
    const yaml_node_t **seen = NULL;
    int rc = -1;
    if (out && cfg_fill_defaults(c, m->specs, m->n_specs, out) < 0) goto done;
    seen = calloc(m->n_specs ? m->n_specs : 1, sizeof *seen);
    if (!seen) {
        c->oom = true;
        goto done;
    }
    if (map && map->type != YAML_MAPPING_NODE) map = NULL;
    for (yaml_node_pair_t *p = map ? map->data.mapping.pairs.start : NULL;
         map && p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *key = cfg_doc_node(c, p->key), *val = cfg_doc_node(c, p->value);
        const char *name = cfg_node_text(key);
        if (!name || !name[0]) {
            cfg_error(c, key, "keys must be non-empty strings %s", m->where);
            continue;
        }
        size_t k = 0;
        while (k < m->n_specs && strcmp(m->specs[k].name, name) != 0)
            k++;
        if (k < m->n_specs) {
            if (seen[k]) {
                cfg_error(c, key, "duplicate key '%s' %s (first given at line %d)", name, m->where,
                          cfg_mark_line(&seen[k]->start_mark));
                continue;
            }
            seen[k] = key;
            if (out) cfg_read_value(c, &m->specs[k], key, val, &out->values[k]);
            continue;
        }
        size_t j = 0;
        while (j < m->n_extras && strcmp(m->extras[j].name, name) != 0)
            j++;
        if (j < m->n_extras) {
            if (m->extras[j].key) {
                cfg_error(c, key, "duplicate key '%s' %s (first given at line %d)", name, m->where,
                          cfg_mark_line(&m->extras[j].key->start_mark));
                continue;
            }
            m->extras[j].key = key;
            m->extras[j].value = val;
            continue;
        }
        cfg_unknown_key(c, key, name, m);
    }
    for (size_t k = 0; k < m->n_specs; k++) {
        if (m->specs[k].required && !seen[k])
            cfg_error(c, owner, "missing required option '%s' %s", m->specs[k].name, m->where);
    }
    rc = c->oom ? -1 : 0;
done:
    free(seen);
    return rc;
}

/* ---- the document ------------------------------------------------------- */

/* libyaml's own message, at its 0-based mark made 1-based. Reader errors
 * (bad UTF-8, control characters) carry a byte offset instead of a mark. */
static void cfg_syntax_error(cfg_ctx *c, const yaml_parser_t *p)
{
    const char *problem = p->problem ? p->problem : "unknown error";
    if (p->error == YAML_MEMORY_ERROR) {
        c->oom = true;
        return;
    }
    if (p->error == YAML_READER_ERROR) {
        int line = 1, col = 1;
        for (size_t k = 0; k < p->problem_offset && k < c->len; k++) {
            if (c->text[k] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        cfg_error_pos(c, line, col, "invalid YAML input: %s", problem);
        return;
    }
    if (p->context)
        cfg_error_pos(c, cfg_mark_line(&p->problem_mark), cfg_mark_col(&p->problem_mark),
                      "YAML syntax error: %s (%s at line %d, column %d)", problem, p->context,
                      cfg_mark_line(&p->context_mark), cfg_mark_col(&p->context_mark));
    else
        cfg_error_pos(c, cfg_mark_line(&p->problem_mark), cfg_mark_col(&p->problem_mark),
                      "YAML syntax error: %s", problem);
}

/* The document is loaded and walked inside one parser lifetime. */
void cfg_parse_document(cfg_ctx *c, cfg_root_reader *read_root, void *arg)
{
    yaml_parser_t parser;
    yaml_document_t doc, next;
    if (!yaml_parser_initialize(&parser)) {
        c->oom = true;
        return;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)c->text, c->len);
    if (!yaml_parser_load(&parser, &doc)) {
        cfg_syntax_error(c, &parser);
        goto done_parser;
    }
    c->doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root || cfg_node_is_null(root)) {
        read_root(c, NULL, arg);
        goto done_doc;
    }
    if (!yaml_parser_load(&parser, &next)) {
        cfg_syntax_error(c, &parser);
    } else {
        yaml_node_t *extra = yaml_document_get_root_node(&next);
        if (extra) cfg_error(c, extra, "only one YAML document is allowed");
        yaml_document_delete(&next);
    }
    read_root(c, root, arg);
done_doc:
    yaml_document_delete(&doc);
    c->doc = NULL;
done_parser:
    yaml_parser_delete(&parser);
}
