/* opts: look-ups into filled option tables (see opts.h). The tables themselves
 * live beside their users (config.c and each strategy's file); config.c fills them. */
#include "opts.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

/* A name missing from the table is a typo in our own code, not in user input:
 * stop loudly rather than hand back a silent default. */
static const opt_value *opts_find(const opt_values *ov, const char *name)
{
    if (ov && ov->specs && ov->values) {
        for (size_t k = 0; k < ov->count; k++) {
            if (strcmp(ov->specs[k].name, name) == 0) return &ov->values[k];
        }
    }
    log_errorf("internal error: option '%s' is not in this table", name);
    abort();
}

const opt_value *opts_get(const opt_values *ov, const char *name)
{
    return opts_find(ov, name);
}

const char *opts_str(const opt_values *ov, const char *name)
{
    return opts_find(ov, name)->s;
}

long long opts_int(const opt_values *ov, const char *name)
{
    return opts_find(ov, name)->i;
}

bool opts_bool(const opt_values *ov, const char *name)
{
    return opts_find(ov, name)->i != 0;
}

char *const *opts_list(const opt_values *ov, const char *name, size_t *len)
{
    const opt_value *v = opts_find(ov, name);
    if (len) *len = v->list_len;
    return v->list;
}

bool opts_is_set(const opt_values *ov, const char *name)
{
    return opts_find(ov, name)->set;
}

void opts_values_free(opt_values *ov)
{
    if (!ov) return;
    if (ov->values) {
        for (size_t k = 0; k < ov->count; k++) {
            opt_value *v = &ov->values[k];
            free(v->s);
            for (size_t j = 0; j < v->list_len; j++)
                free(v->list[j]);
            free(v->list);
        }
        free(ov->values);
    }
    ov->values = NULL;
    ov->count = 0;
}
