/* opts: typed option tables. Every option clusterd reads from YAML is declared
 * once in a table (name, type, bounds, default, required); the config parser
 * validates against the table and stores one opt_value per entry. */
#ifndef CLUSTERD_OPTS_H
#define CLUSTERD_OPTS_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    OPT_STRING,      /* YAML scalar */
    OPT_INT,         /* YAML integer scalar within [min, max] */
    OPT_BOOL,        /* true/false (also yes/no, on/off) */
    OPT_ENUM,        /* one of choices[] */
    OPT_STRING_LIST, /* YAML sequence of scalars, or a single scalar */
} opt_type;

typedef struct opt_spec {
    const char *name;
    opt_type type;
    bool required;
    const char *def_str;        /* default for OPT_STRING/OPT_ENUM (NULL: none) */
    long long def_int;          /* default for OPT_INT, and OPT_BOOL (0/1) */
    long long min, max;         /* bounds for OPT_INT */
    const char *const *choices; /* OPT_ENUM: NULL-terminated list */
    const char *help;           /* one line for --help and README */
} opt_spec;

typedef struct opt_value {
    bool set;    /* given in the file; otherwise the default is stored */
    long long i; /* OPT_INT, OPT_BOOL */
    char *s;     /* OPT_STRING, OPT_ENUM (owned; NULL when unset and no default) */
    char **list; /* OPT_STRING_LIST (owned, list_len entries) */
    size_t list_len;
    int line, col; /* 1-based position of the value in the file (0 if unset) */
} opt_value;

/* A filled table: values[k] belongs to specs[k]. */
typedef struct opt_values {
    const opt_spec *specs;
    size_t count;
    opt_value *values;
} opt_values;

/* Look-ups by name; the name must be in the table (a programming error otherwise). */
const opt_value *opts_get(const opt_values *ov, const char *name);
const char *opts_str(const opt_values *ov, const char *name);
long long opts_int(const opt_values *ov, const char *name);
bool opts_bool(const opt_values *ov, const char *name);
char *const *opts_list(const opt_values *ov, const char *name, size_t *len);
bool opts_is_set(const opt_values *ov, const char *name);

/* Frees the owned strings inside ov (not ov itself). Accepts NULL. */
void opts_values_free(opt_values *ov);

#endif
