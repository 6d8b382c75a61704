/* fuzz_term: term_validate on arbitrary bytes. A term it accepts must be one
 * that erl_interface's decoders (which trust their input) then walk without
 * failing and without going past the validated size: ei_skip_term, and a
 * typed decode of every element the way the rest of clusterd decodes
 * payloads. A disagreement aborts, since ei's loops ignore inner failures and
 * would go on reading at a wrong offset. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ei.h>

#include "term.h"

/* Decodes the term at buf[*idx] with the typed ei decoders; -1 if ei refuses
 * it. Recursion depth is bounded by TERM_MAX_DEPTH (already validated). */
static int decode_typed(const char *buf, int *idx)
{
    int type = 0, size = 0;
    if (ei_get_type(buf, idx, &type, &size) < 0) return -1;
    switch (type) {
    case ERL_ATOM_EXT: {
        char atom[MAXATOMLEN_UTF8];
        return ei_decode_atom_as(buf, idx, atom, sizeof(atom), ERLANG_UTF8 | ERLANG_LATIN1, NULL,
                                 NULL);
    }
    case ERL_SMALL_INTEGER_EXT:
    case ERL_INTEGER_EXT: {
        long l;
        return ei_decode_long(buf, idx, &l);
    }
    case ERL_SMALL_BIG_EXT:
    case ERL_LARGE_BIG_EXT: {
        erlang_big *b = ei_alloc_big((unsigned)size);
        if (!b) return -1;
        int r = ei_decode_big(buf, idx, b);
        ei_free_big(b);
        return r;
    }
    case ERL_FLOAT_EXT: {
        double d;
        return ei_decode_double(buf, idx, &d);
    }
    case ERL_PID_EXT: {
        erlang_pid p;
        return ei_decode_pid(buf, idx, &p);
    }
    case ERL_PORT_EXT: {
        erlang_port p;
        return ei_decode_port(buf, idx, &p);
    }
    case ERL_NEW_REFERENCE_EXT:
    case ERL_REFERENCE_EXT: {
        erlang_ref r;
        return ei_decode_ref(buf, idx, &r);
    }
    case ERL_NIL_EXT:
    case ERL_LIST_EXT: {
        int n = 0;
        if (ei_decode_list_header(buf, idx, &n) < 0) return -1;
        if (type == ERL_NIL_EXT) return 0;
        for (int i = 0; i < n; i++)
            if (decode_typed(buf, idx) < 0) return -1;
        return decode_typed(buf, idx); /* the tail */
    }
    case ERL_STRING_EXT: {
        char *s = malloc((size_t)size + 1);
        if (!s) return -1;
        int r = ei_decode_string(buf, idx, s);
        free(s);
        return r;
    }
    case ERL_SMALL_TUPLE_EXT:
    case ERL_LARGE_TUPLE_EXT: {
        int n = 0;
        if (ei_decode_tuple_header(buf, idx, &n) < 0) return -1;
        for (int i = 0; i < n; i++)
            if (decode_typed(buf, idx) < 0) return -1;
        return 0;
    }
    case ERL_MAP_EXT: {
        int n = 0;
        if (ei_decode_map_header(buf, idx, &n) < 0) return -1;
        for (int i = 0; i < 2 * n; i++)
            if (decode_typed(buf, idx) < 0) return -1;
        return 0;
    }
    case ERL_BINARY_EXT: {
        char *b = malloc((size_t)size + 1);
        long blen = 0;
        if (!b) return -1;
        int r = ei_decode_binary(buf, idx, b, &blen);
        free(b);
        return r;
    }
    case ERL_BIT_BINARY_EXT: {
        const char *bits;
        unsigned int off;
        size_t nbits;
        return ei_decode_bitstring(buf, idx, &bits, &off, &nbits);
    }
    case ERL_NEW_FUN_EXT:
    case ERL_EXPORT_EXT:
    case ERL_FUN_EXT: {
        erlang_fun f;
        if (ei_decode_fun(buf, idx, &f) < 0) return -1;
        free_fun(&f);
        return 0;
    }
    default:
        return -1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    char err[160];
    size_t used = 0;
    if (term_validate(buf, size, &used, err, sizeof(err)) < 0) {
        if (!memchr(err, '\0', sizeof(err))) abort(); /* the reason is a string */
        return 0;
    }
    if (used == 0 || used > size) abort();

    int idx = 0;
    if (ei_skip_term(buf, &idx) < 0 || (size_t)idx != used) {
        fprintf(stderr, "ei_skip_term disagrees: validated %zu bytes, skipped %d\n", used, idx);
        abort();
    }
    idx = 0;
    if (decode_typed(buf, &idx) < 0 || (size_t)idx != used) {
        fprintf(stderr, "typed decode disagrees: validated %zu bytes, decoded %d\n", used, idx);
        abort();
    }
    /* A validated prefix validates alone, to the same size. */
    size_t again = 0;
    if (term_validate(buf, used, &again, err, sizeof(err)) < 0 || again != used) abort();
    /* The bounded printer (log lines of badrpc reasons and nodedown infos)
     * walks every validated term to the same end and never overruns. */
    char text[64];
    idx = 0;
    if (term_print(buf, &idx, text, sizeof(text)) < 0 || (size_t)idx != used ||
        !memchr(text, '\0', sizeof(text)))
        abort();
    return 0;
}
