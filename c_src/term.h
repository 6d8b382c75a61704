/* term: bounds-checked validation of Erlang external term format received
 * from nodes. ei's decoders trust their input, so every term from the
 * network passes term_validate first; only then are ei_decode_* used. */
#ifndef CLUSTERD_TERM_H
#define CLUSTERD_TERM_H

#include <stddef.h>

#define TERM_MAX_DEPTH 64

/* Validates one encoded term at buf (no version byte) within len bytes.
 * Returns 0 and the term's size in *used, or -1 with a reason in err. */
int term_validate(const char *buf, size_t len, size_t *used, char *err, size_t errlen);

#endif
