/* term: bounds-checked validation of Erlang external term format received
 * from nodes. ei's decoders trust their input, so every term from the
 * network passes term_validate first; only then are ei_decode_* used. */
#ifndef CLUSTERD_TERM_H
#define CLUSTERD_TERM_H

#include <stddef.h>

#define TERM_MAX_DEPTH 64

/* Validates one encoded term at buf (no version byte) within len bytes.
 * Returns 0 and the term's size in *used, or -1 with a reason in err (err
 * may be NULL when errlen is 0). A validated term is one ei_skip_term and the
 * typed ei_decode_* calls walk without failing or reading past *used; nesting
 * deeper than TERM_MAX_DEPTH (the outermost term is depth 0) is refused. */
int term_validate(const char *buf, size_t len, size_t *used, char *err, size_t errlen);

/* Prints the validated term at buf[*idx] as Erlang-like text into out
 * (always NUL-terminated, cut with "..." when it does not fit; containers
 * show at most 16 elements and 8 levels), and moves *idx past the term.
 * Bounded, unlike ei_s_print_term, which formats into a fixed stack buffer
 * and leaks the free variables of funs. Returns 0, or -1 if the term could
 * not be walked (out then holds what was printed so far). */
int term_print(const char *buf, int *idx, char *out, size_t outlen);

#endif
