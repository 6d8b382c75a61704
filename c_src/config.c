/* config: reads the YAML file with libyaml's document API and validates it
 * against the option tables (config_node_options, config_reconcile_options and
 * each strategy's table). Every problem becomes one "file:line:col: message"
 * entry; validation keeps going after an error so a single run reports them
 * all, sorted by position. The cookie itself is never read here: only the
 * file path or the environment variable name that holds it. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "discovery.h"

#define CONFIG_FILE_MAX (1024 * 1024) /* a config is a few KiB; refuse anything huge */
#define CONFIG_ERRORS_MAX 100         /* stored errors; the rest are only counted */
#define CONFIG_TOPOLOGIES_MAX 256
#define CONFIG_NAME_MAX 255 /* topology names, atoms, node names */
#define QUOTE_MAX 80        /* user text echoed in a message */

/* ---- option tables ------------------------------------------------------ */

static const char *const visibility_choices[] = {"hidden", "visible", NULL};

const opt_spec config_node_options[] = {
    {.name = "name", .type = OPT_STRING, .help = "long node name (alive@host) of clusterd itself"},
    {.name = "sname", .type = OPT_STRING, .help = "short node name; excludes 'name'"},
    {.name = "cookie_file", .type = OPT_STRING, .help = "file holding the cookie (mode 0400/0600)"},
    {.name = "cookie_env", .type = OPT_STRING, .help = "environment variable holding the cookie"},
    {.name = "visibility",
     .type = OPT_ENUM,
     .def_str = "hidden",
     .choices = visibility_choices,
     .help = "hidden (default) or visible in members' nodes()"},
    {.name = "connect_timeout",
     .type = OPT_INT,
     .def_int = 5000,
     .min = 100,
     .max = 600000,
     .help = "ms for EPMD lookup plus handshake"},
    {.name = "rpc_timeout",
     .type = OPT_INT,
     .def_int = 5000,
     .min = 100,
     .max = 600000,
     .help = "ms for every RPC"},
    {.name = "net_ticktime",
     .type = OPT_INT,
     .def_int = 60,
     .min = 1,
     .max = 3600,
     .help = "seconds; the members' net_ticktime"},
};
const size_t config_node_options_count = sizeof config_node_options / sizeof config_node_options[0];

const opt_spec config_reconcile_options[] = {
    {.name = "poll_interval",
     .type = OPT_INT,
     .def_int = 10000,
     .min = 100,
     .max = 3600000,
     .help = "ms between safety-net observations of the mesh"},
    {.name = "backoff_min",
     .type = OPT_INT,
     .def_int = 200,
     .min = 10,
     .max = 60000,
     .help = "ms before the first retry of a failed action"},
    {.name = "backoff_max",
     .type = OPT_INT,
     .def_int = 5000,
     .min = 100,
     .max = 3600000,
     .help = "ms: cap of the retry delay"},
};
const size_t config_reconcile_options_count =
    sizeof config_reconcile_options / sizeof config_reconcile_options[0];

static const opt_spec resolver_options[] = {
    {.name = "nameservers",
     .type = OPT_STRING_LIST,
     .help = "\"host:port\" DNS servers; default /etc/resolv.conf"},
};

static const opt_spec topology_options[] = {
    {.name = "strategy",
     .type = OPT_STRING,
     .required = true,
     .help = "libcluster strategy module or its alias"},
    {.name = "prune",
     .type = OPT_BOOL,
     .def_int = 1,
     .help = "disconnect members missing from a successful answer"},
};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- diagnostics -------------------------------------------------------- */

typedef struct cfg_msg {
    int line, col; /* 1-based; 0 when the message has no position */
    size_t seq;    /* report order, to keep the sort stable */
    bool error;
    char *text; /* complete "label:line:col: message" */
} cfg_msg;

typedef struct cfg_ctx {
    const char *label;
    const char *text;
    size_t len;
    yaml_document_t *doc;
    cfg_msg *msgs;
    size_t n_msgs, cap_msgs;
    size_t n_errors; /* every error, stored or not */
    size_t n_stored_errors;
    bool oom;
} cfg_ctx;

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

static char *str_format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *str_format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = str_vformat(fmt, ap);
    va_end(ap);
    return s;
}

static char *cfg_strdup(cfg_ctx *c, const char *s)
{
    char *d = strdup(s);
    if (!d) c->oom = true;
    return d;
}

/* Copies user text for a message: capped, control bytes replaced, so a
 * hostile or mistyped file cannot flood or garble the terminal. */
static const char *cfg_quote(char *buf, size_t size, const char *s)
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
        if (c->n_stored_errors >= CONFIG_ERRORS_MAX) return;
    }
    char *msg = str_vformat(fmt, ap);
    char *text = NULL;
    if (msg)
        text = line > 0 ? str_format("%s:%d:%d: %s", c->label, line, col, msg)
                        : str_format("%s: %s", c->label, msg);
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

static void cfg_error_pos(cfg_ctx *c, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void cfg_error_pos(cfg_ctx *c, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cfg_vreport(c, true, line, col, fmt, ap);
    va_end(ap);
}

static int mark_line(const yaml_mark_t *m)
{
    return (int)m->line + 1;
}

static int mark_col(const yaml_mark_t *m)
{
    return (int)m->column + 1;
}

/* Errors point at a node: the offending key or value. */
static void cfg_error(cfg_ctx *c, const yaml_node_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void cfg_error(cfg_ctx *c, const yaml_node_t *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cfg_vreport(c, true, at ? mark_line(&at->start_mark) : 1, at ? mark_col(&at->start_mark) : 1,
                fmt, ap);
    va_end(ap);
}

static void cfg_warn_pos(cfg_ctx *c, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void cfg_warn_pos(cfg_ctx *c, int line, int col, const char *fmt, ...)
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
static void cfg_flush_diag(cfg_ctx *c, config_diag *diag)
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
        extra[0] = str_format("%s: too many errors; %zu more not shown", c->label,
                              c->n_errors - c->n_stored_errors);
    if (c->oom)
        extra[1] = str_format("%s: out of memory while reading the configuration", c->label);
    for (size_t k = 0; k < 2; k++) {
        if (extra[k] && diag_push(&diag->errors, &diag->n_errors, extra[k]) < 0) free(extra[k]);
    }
    free(c->msgs);
    c->msgs = NULL;
    c->n_msgs = c->cap_msgs = 0;
}

/* ---- YAML node helpers -------------------------------------------------- */

static yaml_node_t *doc_node(cfg_ctx *c, int index)
{
    return yaml_document_get_node(c->doc, index);
}

static bool node_is_plain(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* An absent value, `key:` with nothing after it, `~` or `null`. */
static bool node_is_null(const yaml_node_t *n)
{
    if (!n) return true;
    if (!node_is_plain(n)) return false;
    const char *s = (const char *)n->data.scalar.value;
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

/* The text of a scalar, or NULL for other nodes and for scalars with an
 * embedded NUL (a "\0" escape), which C strings cannot carry. */
static const char *node_text(const yaml_node_t *n)
{
    if (!n || n->type != YAML_SCALAR_NODE) return NULL;
    const char *s = (const char *)n->data.scalar.value;
    if (strlen(s) != n->data.scalar.length) return NULL;
    return s;
}

static yaml_node_t *map_find(cfg_ctx *c, const yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const char *k = node_text(doc_node(c, p->key));
        if (k && strcmp(k, key) == 0) return doc_node(c, p->value);
    }
    return NULL;
}

static size_t seq_len(const yaml_node_t *n)
{
    return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

/* Sections may be left empty (`node:`); anything but a mapping is an error. */
static bool cfg_expect_map(cfg_ctx *c, const yaml_node_t *val, const char *name)
{
    if (node_is_null(val) || val->type == YAML_MAPPING_NODE) return true;
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

typedef struct suggest {
    const char *best;
    size_t dist;
} suggest;

/* Keeps the closest candidate that is near enough to be a typo of word. */
static void suggest_consider(suggest *s, const char *word, const char *candidate)
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

/* A key the table does not describe but the caller handles itself. */
typedef struct cfg_extra {
    const char *name;
    yaml_node_t *key; /* filled when present */
    yaml_node_t *value;
} cfg_extra;

typedef struct cfg_map {
    const char *where; /* "in node": ends every message about this mapping */
    const opt_spec *specs;
    size_t n_specs;
    cfg_extra *extras;
    size_t n_extras;
    /* Keys that belong somewhere else get a hint rather than a suggestion. */
    const char *const *misplaced;   /* NULL-terminated */
    const opt_spec *misplaced_opts; /* or these names */
    size_t n_misplaced_opts;
    const char *misplaced_hint;
} cfg_map;

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
    char q[QUOTE_MAX];
    cfg_quote(q, sizeof q, key);
    if (cfg_map_is_misplaced(m, key)) {
        cfg_error(c, keynode, "unknown key '%s' %s; %s", q, m->where, m->misplaced_hint);
        return;
    }
    suggest s = {0};
    for (size_t k = 0; k < m->n_specs; k++)
        suggest_consider(&s, key, m->specs[k].name);
    for (size_t k = 0; k < m->n_extras; k++)
        suggest_consider(&s, key, m->extras[k].name);
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
static bool parse_ll(const char *s, long long *out)
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
static const char *scalar_string(const yaml_node_t *n)
{
    if (node_is_null(n)) return NULL;
    const char *s = node_text(n);
    return s && s[0] ? s : NULL;
}

/* Parses one value into v; reports and returns -1 when it does not fit. */
static int cfg_read_value(cfg_ctx *c, const opt_spec *spec, const yaml_node_t *key,
                          const yaml_node_t *val, opt_value *v)
{
    const yaml_node_t *at = node_is_null(val) ? key : val;
    const char *s = scalar_string(val);
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
        if (!s || !node_is_plain(val) || !parse_ll(s, &i) ||
            (bounded && (i < spec->min || i > spec->max)))
            goto bad;
        v->i = i;
        break;
    }
    case OPT_BOOL: {
        bool b;
        if (!s || !node_is_plain(val) || !parse_bool(s, &b)) goto bad;
        v->i = b;
        break;
    }
    case OPT_STRING_LIST: {
        size_t n = 1;
        if (val && val->type == YAML_SEQUENCE_NODE) {
            n = seq_len(val);
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
                                          ? doc_node(c, val->data.sequence.items.start[k])
                                          : val;
            const char *t = scalar_string(item);
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
    v->line = mark_line(&val->start_mark);
    v->col = mark_col(&val->start_mark);
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
static int cfg_read_map(cfg_ctx *c, const yaml_node_t *map, const yaml_node_t *owner,
                        const cfg_map *m, opt_values *out)
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
        yaml_node_t *key = doc_node(c, p->key), *val = doc_node(c, p->value);
        const char *name = node_text(key);
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
                          mark_line(&seen[k]->start_mark));
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
                          mark_line(&m->extras[j].key->start_mark));
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

/* ---- node: -------------------------------------------------------------- */

/* "alive" or "alive@host": the alive part as erl accepts it, any host
 * without spaces (resolution is cnode's business). */
static bool node_name_valid(const char *s)
{
    size_t len = strlen(s);
    const char *at = strchr(s, '@');
    size_t alive = at ? (size_t)(at - s) : len;
    if (len > CONFIG_NAME_MAX || alive == 0) return false;
    for (size_t k = 0; k < alive; k++) {
        char ch = s[k];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-'))
            return false;
    }
    if (!at) return true;
    if (at[1] == '\0') return false;
    for (const char *p = at + 1; *p; p++) {
        if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '@') return false;
    }
    return true;
}

static bool env_name_valid(const char *s)
{
    if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return false;
    for (const char *p = s; *p; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return false;
    }
    return true;
}

static char *steal_str(opt_values *ov, const char *name)
{
    opt_value *v = (opt_value *)opts_get(ov, name);
    char *s = v->s;
    v->s = NULL;
    return s;
}

static void cfg_read_node(cfg_ctx *c, const yaml_node_t *key, const yaml_node_t *val,
                          config_node *node)
{
    static const char *const misplaced[] = {"cookie", NULL};
    cfg_extra extras[] = {{.name = "tls"}};
    cfg_map m = {.where = "in node",
                 .specs = config_node_options,
                 .n_specs = config_node_options_count,
                 .extras = extras,
                 .n_extras = COUNT_OF(extras),
                 .misplaced = misplaced,
                 .misplaced_hint = "the cookie itself never goes in the config: use "
                                   "'cookie_file' or 'cookie_env'"};
    opt_values ov = {0};
    if (!cfg_expect_map(c, val, "node")) val = NULL;
    if (cfg_read_map(c, val, key, &m, &ov) < 0) goto done;
    if (extras[0].key) cfg_error(c, extras[0].key, "'tls' is not supported by this build yet");

    const opt_value *name = opts_get(&ov, "name"), *sname = opts_get(&ov, "sname");
    if (name->set && sname->set) {
        const opt_value *later =
            (name->line > sname->line || (name->line == sname->line && name->col > sname->col))
                ? name
                : sname;
        cfg_error_pos(c, later->line, later->col,
                      "'name' and 'sname' are mutually exclusive; give only one");
    } else if (name->set && !node_name_valid(name->s)) {
        cfg_error_pos(c, name->line, name->col,
                      "'name' must be a node name such as clusterd@127.0.0.1 (letters, digits, "
                      "'_' and '-' before '@')");
    } else if (sname->set && !node_name_valid(sname->s)) {
        cfg_error_pos(c, sname->line, sname->col,
                      "'sname' must be a node name such as clusterd (letters, digits, '_' and "
                      "'-' before '@')");
    } else if (name->set) {
        node->name = steal_str(&ov, "name");
        node->longnames = true;
    } else if (sname->set) {
        node->name = steal_str(&ov, "sname");
        node->longnames = false;
    }

    const opt_value *env = opts_get(&ov, "cookie_env");
    if (env->set && !env_name_valid(env->s))
        cfg_error_pos(c, env->line, env->col,
                      "'cookie_env' must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)");
    node->cookie_file = steal_str(&ov, "cookie_file");
    node->cookie_env = steal_str(&ov, "cookie_env");

    const opt_value *vis = opts_get(&ov, "visibility");
    node->visible = vis->s && strcmp(vis->s, "visible") == 0;
    if (node->visible && vis->set)
        cfg_warn_pos(c, vis->line, vis->col,
                     "visibility: visible puts clusterd in every member's nodes(), so "
                     "rpc:multicall(nodes(), ...) on a member returns {badrpc, notsup} for it; "
                     "changing visibility needs a restart of clusterd");
    node->connect_timeout_ms = opts_int(&ov, "connect_timeout");
    node->rpc_timeout_ms = opts_int(&ov, "rpc_timeout");
    node->net_ticktime_s = opts_int(&ov, "net_ticktime");
done:
    opts_values_free(&ov);
}

/* ---- reconcile: --------------------------------------------------------- */

static void cfg_read_reconcile(cfg_ctx *c, const yaml_node_t *key, const yaml_node_t *val,
                               config *cfg)
{
    cfg_map m = {.where = "in reconcile",
                 .specs = config_reconcile_options,
                 .n_specs = config_reconcile_options_count};
    opt_values ov = {0};
    if (!cfg_expect_map(c, val, "reconcile")) val = NULL;
    size_t errors_before = c->n_errors;
    if (cfg_read_map(c, val, key, &m, &ov) < 0) goto done;
    cfg->poll_interval_ms = opts_int(&ov, "poll_interval");
    cfg->backoff_min_ms = opts_int(&ov, "backoff_min");
    cfg->backoff_max_ms = opts_int(&ov, "backoff_max");
    /* Compare only values that were themselves valid. */
    if (c->n_errors == errors_before && cfg->backoff_min_ms > cfg->backoff_max_ms) {
        const opt_value *at = opts_get(&ov, "backoff_min");
        if (!at->set) at = opts_get(&ov, "backoff_max");
        cfg_error_pos(c, at->line, at->col,
                      "'backoff_min' (%lld) must not exceed 'backoff_max' (%lld)",
                      cfg->backoff_min_ms, cfg->backoff_max_ms);
    }
done:
    opts_values_free(&ov);
}

/* ---- resolver: ---------------------------------------------------------- */

static bool port_valid(const char *s)
{
    long long port;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return false;
    }
    return s[0] && parse_ll(s, &port) && port >= 1 && port <= 65535;
}

/* "host", "host:port", "[v6]" or "[v6]:port". */
static bool nameserver_valid(const char *s)
{
    const char *port = NULL;
    size_t hlen;
    if (s[0] == '[') {
        char host[CONFIG_NAME_MAX + 1];
        const char *close = strchr(s, ']');
        if (!close) return false;
        hlen = (size_t)(close - s - 1);
        if (hlen == 0 || hlen > CONFIG_NAME_MAX) return false;
        memcpy(host, s + 1, hlen);
        host[hlen] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, host, &a6) != 1) return false;
        if (close[1] == ':')
            port = close + 2;
        else if (close[1] != '\0')
            return false;
    } else {
        const char *colon = strchr(s, ':');
        if (colon && strchr(colon + 1, ':'))
            return false; /* a bare IPv6 address: the port would be ambiguous */
        hlen = colon ? (size_t)(colon - s) : strlen(s);
        if (hlen == 0 || hlen > CONFIG_NAME_MAX) return false;
        for (size_t k = 0; k < hlen; k++) {
            char ch = s[k];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_'))
                return false;
        }
        if (colon) port = colon + 1;
    }
    return !port || port_valid(port);
}

static void cfg_read_resolver(cfg_ctx *c, const yaml_node_t *key, const yaml_node_t *val,
                              config *cfg)
{
    cfg_map m = {
        .where = "in resolver", .specs = resolver_options, .n_specs = COUNT_OF(resolver_options)};
    opt_values ov = {0};
    if (!cfg_expect_map(c, val, "resolver")) val = NULL;
    if (cfg_read_map(c, val, key, &m, &ov) < 0) goto done;
    const yaml_node_t *list = map_find(c, val, "nameservers");
    size_t n = list && list->type == YAML_SEQUENCE_NODE ? seq_len(list) : 1;
    for (size_t k = 0; list && k < n; k++) {
        const yaml_node_t *item = list->type == YAML_SEQUENCE_NODE
                                      ? doc_node(c, list->data.sequence.items.start[k])
                                      : list;
        const char *s = scalar_string(item);
        if (s && !nameserver_valid(s)) {
            char q[QUOTE_MAX];
            cfg_error(
                c, item,
                "nameserver '%s' must be \"host\" or \"host:port\" with a port from 1 to 65535 "
                "(IPv6 as \"[::1]:53\")",
                cfg_quote(q, sizeof q, s));
        }
    }
    opt_value *ns = (opt_value *)opts_get(&ov, "nameservers");
    cfg->nameservers = ns->list;
    cfg->n_nameservers = ns->list_len;
    ns->list = NULL;
    ns->list_len = 0;
done:
    opts_values_free(&ov);
}

/* ---- topologies: -------------------------------------------------------- */

/* Atom text we are willing to put on the wire: what real module and function
 * names use, at most 255 bytes. */
static bool atom_text_valid(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > CONFIG_NAME_MAX) return false;
    for (const char *p = s; *p; p++) {
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == '@' || ch == '?' || ch == '!'))
            return false;
    }
    return true;
}

/* "MyApp.Cluster" -> "Elixir.MyApp.Cluster", ":net_kernel" -> "net_kernel". */
static char *mfa_atom(cfg_ctx *c, const char *s, bool module)
{
    if (s[0] == ':') return cfg_strdup(c, s + 1);
    if (module && s[0] >= 'A' && s[0] <= 'Z' && strncmp(s, "Elixir.", 7) != 0) {
        char *p = str_format("Elixir.%s", s);
        if (!p) c->oom = true;
        return p;
    }
    return cfg_strdup(c, s);
}

static void mfa_clear(config_mfa *mfa)
{
    free(mfa->module);
    free(mfa->function);
    for (size_t k = 0; k < mfa->nargs; k++)
        free(mfa->args[k].text);
    free(mfa->args);
    *mfa = (config_mfa){0};
}

static int mfa_set_default(cfg_ctx *c, config_mfa *mfa, const char *module, const char *function)
{
    mfa_clear(mfa);
    mfa->module = cfg_strdup(c, module);
    mfa->function = cfg_strdup(c, function);
    return mfa->module && mfa->function ? 0 : -1;
}

static bool digits_only(const char *s)
{
    if (*s == '+' || *s == '-') s++;
    if (!*s) return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
    }
    return true;
}

/* One argument: 42 -> integer, :name/true/false/nil -> atom, else binary. */
static int mfa_read_arg(cfg_ctx *c, const char *what, const yaml_node_t *n, config_mfa_arg *arg)
{
    const char *s = node_text(n);
    if (!s) {
        cfg_error(c, n,
                  "'%s' arguments must be integers, atoms (:name, true, false, nil) or strings",
                  what);
        return -1;
    }
    bool plain = node_is_plain(n);
    if (plain && digits_only(s)) {
        if (!parse_ll(s, &arg->i)) {
            cfg_error(c, n, "'%s' argument %s does not fit in a 64-bit integer", what, s);
            return -1;
        }
        arg->kind = MFA_ARG_INT;
        return 0;
    }
    if (s[0] == ':') {
        if (!atom_text_valid(s + 1)) {
            char q[QUOTE_MAX];
            cfg_error(c, n, "'%s' argument '%s' is not a valid atom", what,
                      cfg_quote(q, sizeof q, s));
            return -1;
        }
        arg->kind = MFA_ARG_ATOM;
        arg->text = cfg_strdup(c, s + 1);
        return arg->text ? 0 : -1;
    }
    if (plain && (strcmp(s, "true") == 0 || strcmp(s, "false") == 0 || strcmp(s, "nil") == 0)) {
        arg->kind = MFA_ARG_ATOM;
        arg->text = cfg_strdup(c, s);
        return arg->text ? 0 : -1;
    }
    if (node_is_null(n)) { /* YAML's null is Elixir's nil */
        arg->kind = MFA_ARG_ATOM;
        arg->text = cfg_strdup(c, "nil");
        return arg->text ? 0 : -1;
    }
    arg->kind = MFA_ARG_BINARY;
    arg->text = cfg_strdup(c, s);
    return arg->text ? 0 : -1;
}

/* `[module, function]` or `[module, function, [args...]]`. Leaves mfa empty
 * on error; the caller then fills the default. */
static void cfg_read_mfa(cfg_ctx *c, const char *what, const yaml_node_t *key,
                         const yaml_node_t *val, config_mfa *mfa)
{
    config_mfa out = {0};
    if (node_is_null(val) || val->type != YAML_SEQUENCE_NODE ||
        (seq_len(val) != 2 && seq_len(val) != 3)) {
        cfg_error(c, node_is_null(val) ? key : val,
                  "'%s' must be a list [module, function] or [module, function, [args...]]", what);
        return;
    }
    yaml_node_item_t *items = val->data.sequence.items.start;
    const yaml_node_t *mod = doc_node(c, items[0]), *fun = doc_node(c, items[1]);
    const yaml_node_t *args = seq_len(val) == 3 ? doc_node(c, items[2]) : NULL;
    bool ok = true;
    const char *ms = node_is_null(mod) ? NULL : node_text(mod);
    if (ms && !(out.module = mfa_atom(c, ms, true))) goto fail;
    if (!out.module || !atom_text_valid(out.module)) {
        cfg_error(c, mod,
                  "'%s' module must be a module name such as net_kernel or MyApp.Cluster "
                  "(letters, digits, '_', '.', '@'; at most %d bytes)",
                  what, CONFIG_NAME_MAX);
        ok = false;
    }
    const char *fs = node_is_null(fun) ? NULL : node_text(fun);
    if (fs && !(out.function = mfa_atom(c, fs, false))) goto fail;
    if (!out.function || !atom_text_valid(out.function)) {
        cfg_error(c, fun,
                  "'%s' function must be a function name such as connect_node (letters, "
                  "digits, '_', '.', '@', '?', '!'; at most %d bytes)",
                  what, CONFIG_NAME_MAX);
        ok = false;
    }
    if (args && !node_is_null(args)) {
        if (args->type != YAML_SEQUENCE_NODE) {
            cfg_error(c, args, "'%s' arguments must be a list, such as [] or [\":permanent\"]",
                      what);
            ok = false;
        } else if (seq_len(args) > 0) {
            out.args = calloc(seq_len(args), sizeof *out.args);
            if (!out.args) {
                c->oom = true;
                goto fail;
            }
            for (size_t k = 0; k < seq_len(args); k++) {
                if (mfa_read_arg(c, what, doc_node(c, args->data.sequence.items.start[k]),
                                 &out.args[out.nargs]) < 0) {
                    free(out.args[out.nargs].text);
                    out.args[out.nargs].text = NULL;
                    ok = false;
                    continue;
                }
                out.nargs++;
            }
        }
    }
    if (!ok) goto fail;
    mfa_clear(mfa);
    *mfa = out;
    return;
fail:
    mfa_clear(&out);
}

static bool topology_name_valid(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > CONFIG_NAME_MAX) return false;
    for (const char *p = s; *p; p++) {
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == '-'))
            return false;
    }
    return true;
}

static void cfg_unknown_strategy(cfg_ctx *c, const opt_value *v, const char *topology)
{
    size_t n = 0;
    const strategy_ops *const *all = discovery_strategies(&n);
    suggest s = {0};
    char valid[1024] = "";
    size_t used = 0;
    for (size_t k = 0; k < n; k++) {
        suggest_consider(&s, v->s, all[k]->module);
        suggest_consider(&s, v->s, all[k]->alias);
        int w = snprintf(valid + used, sizeof valid - used, "%s%s (%s)", used ? ", " : "",
                         all[k]->module, all[k]->alias);
        if (w < 0 || (size_t)w >= sizeof valid - used) break;
        used += (size_t)w;
    }
    char q[QUOTE_MAX], t[QUOTE_MAX];
    cfg_quote(q, sizeof q, v->s);
    cfg_quote(t, sizeof t, topology);
    if (s.best)
        cfg_error_pos(c, v->line, v->col,
                      "unknown strategy '%s' in topology '%s'; did you mean '%s'? valid "
                      "strategies: %s",
                      q, t, s.best, valid);
    else
        cfg_error_pos(c, v->line, v->col,
                      "unknown strategy '%s' in topology '%s'; valid strategies: %s", q, t, valid);
}

/* The strategy's own check beyond types and bounds. Its message usually
 * starts with the option ("hosts[2]: ..."): point at that value if we can. */
static void cfg_validate_strategy(cfg_ctx *c, const config_topology *t, const yaml_node_t *owner,
                                  const yaml_node_t *cval, const char *where)
{
    char err[512] = "";
    if (!t->strategy->validate || t->strategy->validate(&t->options, err, sizeof err) == 0) return;
    const yaml_node_t *at = owner;
    size_t n = strcspn(err, "[:");
    for (size_t k = 0; k < t->options.count; k++) {
        const char *name = t->options.specs[k].name;
        if (strlen(name) != n || strncmp(err, name, n) != 0) continue;
        const yaml_node_t *val = map_find(c, cval, name);
        long long idx;
        char digits[24] = "";
        if (val && err[n] == '[' && sscanf(err + n, "[%20[0-9]]", digits) == 1 &&
            parse_ll(digits, &idx) && val->type == YAML_SEQUENCE_NODE && (size_t)idx < seq_len(val))
            val = doc_node(c, val->data.sequence.items.start[idx]);
        if (val) at = val;
        break;
    }
    cfg_error(c, at, "%s %s", err[0] ? err : "invalid options", where);
}

static void cfg_read_topology(cfg_ctx *c, const yaml_node_t *key, const yaml_node_t *val,
                              config_topology *t)
{
    static const char *const topology_keys[] = {"strategy", "prune", "connect", "disconnect", NULL};
    char q[QUOTE_MAX], where[QUOTE_MAX + 32], cwhere[2 * QUOTE_MAX + 64];
    cfg_quote(q, sizeof q, t->name);
    snprintf(where, sizeof where, "in topology '%s'", q);
    t->line = mark_line(&key->start_mark);
    t->col = mark_col(&key->start_mark);
    t->prune = true;
    opt_values tv = {0};

    if (!node_is_null(val) && val->type != YAML_MAPPING_NODE) {
        cfg_error(c, val, "topology '%s' must be a mapping with a 'strategy:' key", q);
        val = NULL;
    }
    /* Known before the walk so keys of the strategy's own table that were
     * put beside `strategy:` get a precise hint. */
    const char *sname = node_text(map_find(c, val, "strategy"));
    const strategy_ops *ops = sname ? discovery_find_strategy(sname) : NULL;

    cfg_extra extras[] = {{.name = "config"}, {.name = "connect"}, {.name = "disconnect"}};
    cfg_map m = {.where = where,
                 .specs = topology_options,
                 .n_specs = COUNT_OF(topology_options),
                 .extras = extras,
                 .n_extras = COUNT_OF(extras),
                 .misplaced_opts = ops ? ops->options : NULL,
                 .n_misplaced_opts = ops ? ops->n_options : 0,
                 .misplaced_hint = "strategy options go under 'config:'"};
    if (cfg_read_map(c, val, key, &m, &tv) < 0) goto done;
    t->prune = opts_bool(&tv, "prune");

    const opt_value *strategy = opts_get(&tv, "strategy");
    if (strategy->set) {
        t->strategy = discovery_find_strategy(strategy->s);
        if (!t->strategy) cfg_unknown_strategy(c, strategy, t->name);
    }
    if (t->strategy) {
        const yaml_node_t *ckey = extras[0].key, *cval = extras[0].value;
        snprintf(cwhere, sizeof cwhere, "in config of topology '%s' (%s)", q, t->strategy->module);
        cfg_map cm = {.where = cwhere,
                      .specs = t->strategy->options,
                      .n_specs = t->strategy->n_options,
                      .misplaced = topology_keys,
                      .misplaced_hint = "it belongs beside 'strategy:', not under 'config:'"};
        if (ckey && !cfg_expect_map(c, cval, "config")) cval = NULL;
        size_t errors_before = c->n_errors;
        if (cfg_read_map(c, cval, ckey ? ckey : key, &cm, &t->options) < 0) goto done;
        if (c->n_errors == errors_before)
            cfg_validate_strategy(c, t, ckey ? ckey : key, cval, cwhere);
    } else if (extras[0].key) {
        cfg_expect_map(c, extras[0].value, "config");
    }

    if (extras[1].key) cfg_read_mfa(c, "connect", extras[1].key, extras[1].value, &t->connect);
    if (extras[2].key)
        cfg_read_mfa(c, "disconnect", extras[2].key, extras[2].value, &t->disconnect);
    if (!t->connect.module) mfa_set_default(c, &t->connect, "net_kernel", "connect_node");
    if (!t->disconnect.module) mfa_set_default(c, &t->disconnect, "erlang", "disconnect_node");
done:
    opts_values_free(&tv);
}

static void cfg_read_topologies(cfg_ctx *c, const yaml_node_t *root, const yaml_node_t *key,
                                const yaml_node_t *val, config *cfg)
{
    if (!key) {
        cfg_error(c, root, "at least one topology is required: add a 'topologies:' section");
        return;
    }
    if (!node_is_null(val) && val->type != YAML_MAPPING_NODE) {
        cfg_error(c, val, "'topologies' must be a mapping of topology names to settings");
        return;
    }
    size_t n = node_is_null(val)
                   ? 0
                   : (size_t)(val->data.mapping.pairs.top - val->data.mapping.pairs.start);
    if (n == 0) {
        cfg_error(c, key, "at least one topology is required under 'topologies:'");
        return;
    }
    if (n > CONFIG_TOPOLOGIES_MAX) {
        cfg_error(c, key, "too many topologies (%zu; at most %d)", n, CONFIG_TOPOLOGIES_MAX);
        return;
    }
    cfg->topologies = calloc(n, sizeof *cfg->topologies);
    if (!cfg->topologies) {
        c->oom = true;
        return;
    }
    for (size_t k = 0; k < n; k++) {
        yaml_node_pair_t *p = &val->data.mapping.pairs.start[k];
        const yaml_node_t *tkey = doc_node(c, p->key), *tval = doc_node(c, p->value);
        const char *name = node_text(tkey);
        char q[QUOTE_MAX];
        if (!name || !topology_name_valid(name)) {
            cfg_error(c, tkey,
                      "topology name '%s' must be 1 to %d letters, digits, '_', '.' or '-'",
                      cfg_quote(q, sizeof q, name ? name : ""), CONFIG_NAME_MAX);
            name = name ? name : "";
        }
        for (size_t j = 0; j < k; j++) {
            if (strcmp(cfg->topologies[j].name, name) == 0) {
                cfg_error(c, tkey, "duplicate topology '%s' (first given at line %d)",
                          cfg_quote(q, sizeof q, name), cfg->topologies[j].line);
                break;
            }
        }
        config_topology *t = &cfg->topologies[cfg->n_topologies++];
        if (!(t->name = cfg_strdup(c, name))) return;
        cfg_read_topology(c, tkey, tval, t);
        if (c->oom) return;
    }
}

/* ---- top level ---------------------------------------------------------- */

static void cfg_read_root(cfg_ctx *c, const yaml_node_t *root, config *cfg)
{
    if (root->type != YAML_MAPPING_NODE) {
        cfg_error(c, root,
                  "the configuration must be a mapping of sections (node, reconcile, "
                  "resolver, topologies)");
        return;
    }
    enum { X_NODE, X_RECONCILE, X_RESOLVER, X_TOPOLOGIES, X_HTTP };
    cfg_extra ex[] = {{.name = "node"},
                      {.name = "reconcile"},
                      {.name = "resolver"},
                      {.name = "topologies"},
                      {.name = "http"}};
    cfg_map m = {.where = "at the top level", .extras = ex, .n_extras = COUNT_OF(ex)};
    if (cfg_read_map(c, root, root, &m, NULL) < 0) return;
    cfg_read_node(c, ex[X_NODE].key, ex[X_NODE].value, &cfg->node);
    cfg_read_reconcile(c, ex[X_RECONCILE].key, ex[X_RECONCILE].value, cfg);
    cfg_read_resolver(c, ex[X_RESOLVER].key, ex[X_RESOLVER].value, cfg);
    if (ex[X_HTTP].key) cfg_error(c, ex[X_HTTP].key, "'http' is not supported by this build yet");
    cfg_read_topologies(c, root, ex[X_TOPOLOGIES].key, ex[X_TOPOLOGIES].value, cfg);
}

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
        cfg_error_pos(c, mark_line(&p->problem_mark), mark_col(&p->problem_mark),
                      "YAML syntax error: %s (%s at line %d, column %d)", problem, p->context,
                      mark_line(&p->context_mark), mark_col(&p->context_mark));
    else
        cfg_error_pos(c, mark_line(&p->problem_mark), mark_col(&p->problem_mark),
                      "YAML syntax error: %s", problem);
}

/* The document is loaded and walked inside one parser lifetime. */
static void cfg_parse(cfg_ctx *c, config *cfg)
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
    if (!root || node_is_null(root)) {
        cfg_error_pos(c, 1, 1, "the configuration is empty; at least one topology is required");
        goto done_doc;
    }
    if (!yaml_parser_load(&parser, &next)) {
        cfg_syntax_error(c, &parser);
    } else {
        yaml_node_t *extra = yaml_document_get_root_node(&next);
        if (extra) cfg_error(c, extra, "only one YAML document is allowed");
        yaml_document_delete(&next);
    }
    cfg_read_root(c, root, cfg);
done_doc:
    yaml_document_delete(&doc);
    c->doc = NULL;
done_parser:
    yaml_parser_delete(&parser);
}

int config_load_string(const char *text, size_t len, const char *label, config **out,
                       config_diag *diag)
{
    config_diag scratch = {0};
    if (!diag) diag = &scratch;
    *diag = (config_diag){0};
    if (out) *out = NULL;
    cfg_ctx c = {
        .label = label ? label : "<string>", .text = text ? text : "", .len = text ? len : 0};
    config *cfg = calloc(1, sizeof *cfg);
    if (!cfg || !(cfg->path = cfg_strdup(&c, c.label))) {
        c.oom = true;
        goto done;
    }
    cfg_parse(&c, cfg);
done:;
    bool failed = c.n_errors > 0 || c.oom;
    cfg_flush_diag(&c, diag);
    if (failed || !out)
        config_free(cfg);
    else
        *out = cfg;
    if (diag == &scratch) config_diag_free(&scratch);
    return failed ? -1 : 0;
}

static void diag_cannot_read(const char *path, const char *why, config_diag *diag)
{
    if (!diag) return;
    *diag = (config_diag){0};
    char *msg = str_format("%s: cannot read: %s", path, why);
    if (msg && diag_push(&diag->errors, &diag->n_errors, msg) < 0) free(msg);
}

/* Reads the whole file (capped) and parses it from memory with the path as
 * the label. */
int config_load_file(const char *path, config **out, config_diag *diag)
{
    char *buf = NULL;
    int rc = -1;
    const char *why = NULL;
    if (out) *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        why = strerror(errno);
        goto fail;
    }
    buf = malloc(CONFIG_FILE_MAX + 1);
    if (!buf) {
        why = strerror(ENOMEM);
        goto fail;
    }
    errno = 0;
    size_t len = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
    if (ferror(f)) {
        why = strerror(errno ? errno : EIO);
        goto fail;
    }
    if (len > CONFIG_FILE_MAX) {
        why = "larger than 1 MiB";
        goto fail;
    }
    rc = config_load_string(buf, len, path, out, diag);
    goto done;
fail:
    diag_cannot_read(path, why, diag);
done:
    free(buf);
    if (f) fclose(f);
    return rc;
}

static void topology_free(config_topology *t)
{
    free(t->name);
    mfa_clear(&t->connect);
    mfa_clear(&t->disconnect);
    opts_values_free(&t->options);
}

void config_free(config *cfg)
{
    if (!cfg) return;
    free(cfg->path);
    free(cfg->node.name);
    free(cfg->node.cookie_file);
    free(cfg->node.cookie_env);
    for (size_t k = 0; k < cfg->n_nameservers; k++)
        free(cfg->nameservers[k]);
    free(cfg->nameservers);
    for (size_t k = 0; k < cfg->n_topologies; k++)
        topology_free(&cfg->topologies[k]);
    free(cfg->topologies);
    free(cfg);
}

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
