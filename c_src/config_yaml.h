/* config_yaml: the schema-free half of the config reader, used only by
 * config.c (which holds clusterd's sections and their checks). It loads one
 * YAML document with libyaml, reads a mapping against an opt_spec table (types,
 * bounds, defaults, positions; unknown keys with a did-you-mean suggestion;
 * duplicate keys) and collects diagnostics as "label:line:col: message",
 * sorted by position, with at most 100 errors stored (the rest are counted).
 *
 * Ownership:
 * - The caller owns the cfg_ctx (on its stack, zeroed, label/text/len set) and
 *   must end it with cfg_flush_diag(), which moves every message into the
 *   caller's config_diag (freed with config_diag_free()) and frees the rest.
 * - label and text are borrowed for the context's lifetime.
 * - yaml_node_t pointers are borrowed from the document: valid only inside
 *   the cfg_root_reader called by cfg_parse_document().
 * - Strings from cfg_strdup()/cfg_format() are the caller's to free; values
 *   filled by cfg_read_map() are the caller's to free with opts_values_free(),
 *   on failure too. */
#ifndef CLUSTERD_CONFIG_YAML_H
#define CLUSTERD_CONFIG_YAML_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#include "config.h"
#include "opts.h"

#define CFG_QUOTE_MAX 80 /* user text echoed in a message, see cfg_quote() */
#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

struct cfg_msg; /* one stored message, private to config_yaml.c */

typedef struct cfg_ctx {
    /* Set by the caller. */
    const char *label; /* stands for the file name in every message */
    const char *text;  /* the YAML text, len bytes */
    size_t len;
    /* Read by the caller; oom may also be set by it on its own allocations. */
    size_t n_errors; /* every error reported so far, stored or not */
    bool oom;        /* an allocation failed: the result must be discarded */
    /* config_yaml.c's own. */
    yaml_document_t *doc; /* during cfg_parse_document() only */
    struct cfg_msg *msgs;
    size_t n_msgs, cap_msgs;
    size_t n_stored_errors;
} cfg_ctx;

/* ---- diagnostics -------------------------------------------------------- */

/* printf into a new string; NULL when out of memory (c->oom is not set). */
char *cfg_format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* strdup that sets c->oom on failure. */
char *cfg_strdup(cfg_ctx *c, const char *s);
/* Copies user text for a message into buf (capped at size, "..." when cut,
 * control bytes replaced by '?'); returns buf. */
const char *cfg_quote(char *buf, size_t size, const char *s);

/* An error at the node `at` (the offending key or value; NULL means 1:1). */
void cfg_error(cfg_ctx *c, const yaml_node_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An error or a warning at a 1-based line and column. */
void cfg_error_pos(cfg_ctx *c, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void cfg_warn_pos(cfg_ctx *c, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Ends c: moves its messages, in file order, into diag (appending), then the
 * "too many errors" and "out of memory" summaries; c holds nothing after. */
void cfg_flush_diag(cfg_ctx *c, config_diag *diag);
/* Appends text (owned from now on; NULL is ignored) to diag's errors. */
void cfg_diag_add_error(config_diag *diag, char *text);

/* ---- YAML nodes --------------------------------------------------------- */

/* libyaml marks are 0-based; messages are 1-based. */
int cfg_mark_line(const yaml_mark_t *m);
int cfg_mark_col(const yaml_mark_t *m);

yaml_node_t *cfg_doc_node(cfg_ctx *c, int index);
bool cfg_node_is_plain(const yaml_node_t *n); /* an unquoted scalar */
/* An absent value, `key:` with nothing after it, `~` or `null`. */
bool cfg_node_is_null(const yaml_node_t *n);
/* A scalar's text; NULL for other nodes and for text with an embedded NUL. */
const char *cfg_node_text(const yaml_node_t *n);
/* A non-empty string scalar (plain or quoted); NULL otherwise. */
const char *cfg_scalar_string(const yaml_node_t *n);
size_t cfg_seq_len(const yaml_node_t *n);
/* The value of `key` in the mapping map; NULL if absent or map is no mapping. */
yaml_node_t *cfg_find_key(cfg_ctx *c, const yaml_node_t *map, const char *key);
/* True for a mapping or an empty value; otherwise reports "'name' must be a
 * mapping" and returns false. */
bool cfg_expect_map(cfg_ctx *c, const yaml_node_t *val, const char *name);

/* Strict base-10 integer: optional sign, digits only, no overflow. */
bool cfg_parse_ll(const char *s, long long *out);

/* ---- near-miss suggestions ---------------------------------------------- */

/* Start from {0}; best stays NULL when no candidate is close enough. */
typedef struct cfg_suggest {
    const char *best; /* borrowed from the candidates */
    size_t dist;
} cfg_suggest;

/* Keeps the closest candidate that is near enough to be a typo of word. */
void cfg_suggest_consider(cfg_suggest *s, const char *word, const char *candidate);

/* ---- mappings against option tables ------------------------------------- */

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

/* Reads a mapping (or NULL for an absent/empty one) against m: defaults,
 * typed values, extras handed back, unknown and duplicate keys, missing
 * required options (reported at `owner`, the key that holds this mapping).
 * out may be NULL when m has no specs. Returns -1 only when out of memory. */
int cfg_read_map(cfg_ctx *c, const yaml_node_t *map, const yaml_node_t *owner, const cfg_map *m,
                 opt_values *out);

/* ---- the document ------------------------------------------------------- */

/* Reads the root of the document: NULL when the document is empty. */
typedef void cfg_root_reader(cfg_ctx *c, const yaml_node_t *root, void *arg);

/* Parses c->text as exactly one YAML document and hands its root to
 * read_root; syntax errors, and a second document, are reported into c. */
void cfg_parse_document(cfg_ctx *c, cfg_root_reader *read_root, void *arg);

#endif
