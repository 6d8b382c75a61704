/* strv: NULL-safe helpers for heap vectors of heap strings (char **, n),
 * as the coordinator keeps member sets. A vector and every string in it
 * belong to whoever holds the vector; strv_free releases both. */
#ifndef CLUSTERD_STRV_H
#define CLUSTERD_STRV_H

#include <stdbool.h>
#include <stddef.h>

/* qsort/bsearch comparator over char * elements (strcmp order). */
int strv_cmp(const void *a, const void *b);
/* True if s is in v, which is sorted with strv_cmp. */
bool strv_contains_sorted(char *const *v, size_t n, const char *s);
/* Binary search in v (sorted with strv_cmp): true if s is there, with *pos
 * its index; false with *pos where it would be inserted to keep v sorted. */
bool strv_find_sorted(char *const *v, size_t n, const char *s, size_t *pos);
/* Frees the n strings of v and v itself. Accepts NULL. */
void strv_free(char **v, size_t n);
/* A deep copy with a NULL after the last entry (caller frees with
 * strv_free), or NULL when out of memory. */
char **strv_dup(char *const *v, size_t n);

#endif
