/* namepool: interned node names. See namepool.h. */
#include "namepool.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Binary search of p->order: true with *pos the index of name in order, or
 * false with *pos where its id would be inserted. */
static bool find_pos(const namepool *p, const char *name, size_t *pos)
{
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(p->names[p->order[mid]], name);
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

long namepool_find(const namepool *p, const char *name)
{
    size_t pos;
    return find_pos(p, name, &pos) ? (long)p->order[pos] : -1;
}

long namepool_intern(namepool *p, const char *name)
{
    size_t pos;
    if (find_pos(p, name, &pos)) return (long)p->order[pos];
    if (p->n >= UINT32_MAX) return -1;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        char **nn = realloc(p->names, cap * sizeof(*nn));
        if (!nn) return -1;
        p->names = nn;
        uint32_t *no = realloc(p->order, cap * sizeof(*no));
        if (!no) return -1;
        p->order = no;
        p->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy) return -1;
    size_t id = p->n;
    p->names[id] = copy;
    memmove(&p->order[pos + 1], &p->order[pos], (p->n - pos) * sizeof(uint32_t));
    p->order[pos] = (uint32_t)id;
    p->n++;
    return (long)id;
}

const char *namepool_name(const namepool *p, size_t id)
{
    return p->names[id];
}

void namepool_free(namepool *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->names[i]);
    free(p->names);
    free(p->order);
    memset(p, 0, sizeof(*p));
}
