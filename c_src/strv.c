/* strv: vectors of heap strings. See strv.h. */
#include "strv.h"

#include <stdlib.h>
#include <string.h>

int strv_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

bool strv_contains_sorted(char *const *v, size_t n, const char *s)
{
    if (n == 0) return false;
    return bsearch(&s, v, n, sizeof(char *), strv_cmp) != NULL;
}

bool strv_find_sorted(char *const *v, size_t n, const char *s, size_t *pos)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(v[mid], s);
        if (c == 0) {
            *pos = mid;
            return true;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return false;
}

void strv_free(char **v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

char **strv_dup(char *const *v, size_t n)
{
    char **out = calloc(n + 1, sizeof(char *));
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        out[i] = strdup(v[i]);
        if (!out[i]) {
            strv_free(out, i);
            return NULL;
        }
    }
    return out;
}
