/* namepool: node names interned to small stable ids (0, 1, 2, ... in the
 * order they were first seen), so that a member's view of nodes() can be a
 * bit per id instead of a copy of every name: n members seeing n nodes cost
 * n^2 bits, not n^2 strings. Ids are never reused while the pool lives. */
#ifndef CLUSTERD_NAMEPOOL_H
#define CLUSTERD_NAMEPOOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct namepool {
    char **names;    /* by id; owned */
    uint32_t *order; /* ids sorted by name (strcmp) */
    size_t n, cap;
} namepool;

/* The id of name, added when missing; -1 when out of memory. */
long namepool_intern(namepool *p, const char *name);
/* The id of name, or -1 when it was never interned. */
long namepool_find(const namepool *p, const char *name);
/* The name of an id below p->n. */
const char *namepool_name(const namepool *p, size_t id);
/* Frees what p holds and empties it. */
void namepool_free(namepool *p);

#endif
