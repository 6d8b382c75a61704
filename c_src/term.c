/* term: a bounded walk over the external term format (see term.h).
 *
 * The walk accepts exactly what erl_interface's decoders then handle:
 * ei_skip_term's container loops ignore a failing element and go on reading
 * at a wrong offset, so a term ei would refuse anywhere inside must be
 * refused here. Hence the rules beyond bounds checks: atom lengths ei can
 * convert, FLOAT_EXT text that is NUL-terminated (ei parses it with sscanf),
 * bit-binary tail bits, funs checked field by field, no empty LIST_EXT, and
 * sizes ei_s_print_term can format. */
#include "term.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Erlang atoms hold at most 255 characters: 255 bytes in Latin-1, up to 4
 * bytes each in UTF-8 (ei's MAXATOMLEN_UTF8 - 1). */
#define ATOM_MAX_LATIN1 255u
#define ATOM_MAX_UTF8 (255u * 4u)
/* ei_s_print_term formats bignums and `fun M:F/A` into a 2000-byte stack
 * buffer: 800 bytes of digits are at most 1927 decimal digits. */
#define BIG_MAX_BYTES 800u
#define EXPORT_MAX_NAME_BYTES 1900u

enum {
    NEW_FLOAT_EXT = 70,
    BIT_BINARY_EXT = 77,
    NEW_PID_EXT = 88,
    NEW_PORT_EXT = 89,
    NEWER_REFERENCE_EXT = 90,
    SMALL_INTEGER_EXT = 97,
    INTEGER_EXT = 98,
    FLOAT_EXT = 99,
    ATOM_EXT = 100,
    REFERENCE_EXT = 101,
    PORT_EXT = 102,
    PID_EXT = 103,
    SMALL_TUPLE_EXT = 104,
    LARGE_TUPLE_EXT = 105,
    NIL_EXT = 106,
    STRING_EXT = 107,
    LIST_EXT = 108,
    BINARY_EXT = 109,
    SMALL_BIG_EXT = 110,
    LARGE_BIG_EXT = 111,
    NEW_FUN_EXT = 112,
    EXPORT_EXT = 113,
    NEW_REFERENCE_EXT = 114,
    SMALL_ATOM_EXT = 115,
    MAP_EXT = 116,
    ATOM_UTF8_EXT = 118,
    SMALL_ATOM_UTF8_EXT = 119,
    V4_PORT_EXT = 120,
};

typedef struct walker {
    const unsigned char *p;
    size_t len; /* the walk never reads at or past p + len */
    size_t pos;
    char *err;
    size_t errlen;
} walker;

static int fail(walker *w, const char *what)
{
    if (w->errlen) snprintf(w->err, w->errlen, "%s at byte %zu", what, w->pos);
    return -1;
}

static int need(walker *w, size_t n)
{
    if (w->len - w->pos < n) return fail(w, "term truncated");
    return 0;
}

static int skip(walker *w, size_t n)
{
    if (need(w, n) < 0) return -1;
    w->pos += n;
    return 0;
}

static uint32_t be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint16_t be16(const unsigned char *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

/* Reads a length field of n (1, 2 or 4) bytes. */
static int get_len(walker *w, size_t n, uint32_t *out)
{
    if (need(w, n) < 0) return -1;
    const unsigned char *q = w->p + w->pos;
    *out = n == 1 ? q[0] : n == 2 ? be16(q) : be32(q);
    w->pos += n;
    return 0;
}

static int walk(walker *w, int depth);

/* An atom of any encoding; *utf8_len (may be NULL) receives its length once
 * converted to UTF-8, as ei hands it out. */
static int walk_atom(walker *w, size_t *utf8_len)
{
    if (need(w, 1) < 0) return -1;
    unsigned char tag = w->p[w->pos++];
    uint32_t n;
    int latin1 = tag == ATOM_EXT || tag == SMALL_ATOM_EXT;
    if (tag == ATOM_EXT || tag == ATOM_UTF8_EXT) {
        if (get_len(w, 2, &n) < 0) return -1;
    } else if (tag == SMALL_ATOM_EXT || tag == SMALL_ATOM_UTF8_EXT) {
        if (get_len(w, 1, &n) < 0) return -1;
    } else {
        w->pos--;
        return fail(w, "expected an atom");
    }
    if (n > (latin1 ? ATOM_MAX_LATIN1 : ATOM_MAX_UTF8)) return fail(w, "atom too long");
    if (need(w, n) < 0) return -1;
    if (utf8_len) {
        *utf8_len = n;
        if (latin1)
            for (uint32_t i = 0; i < n; i++)
                *utf8_len += w->p[w->pos + i] >> 7;
    }
    w->pos += n;
    return 0;
}

static int walk_elements(walker *w, uint64_t n, int depth)
{
    for (uint64_t i = 0; i < n; i++)
        if (walk(w, depth) < 0) return -1;
    return 0;
}

/* An element that must be an integer of one of the two small encodings. */
static int walk_small_int(walker *w, int allow_integer_ext)
{
    if (need(w, 1) < 0) return -1;
    unsigned char tag = w->p[w->pos];
    if (tag == SMALL_INTEGER_EXT) return skip(w, 2);
    if (tag == INTEGER_EXT && allow_integer_ext) return skip(w, 5);
    return fail(w, "expected a small integer");
}

static int walk_pid(walker *w)
{
    if (need(w, 1) < 0) return -1;
    unsigned char tag = w->p[w->pos];
    if (tag != PID_EXT && tag != NEW_PID_EXT) return fail(w, "expected a pid");
    w->pos++;
    if (walk_atom(w, NULL) < 0) return -1;
    return skip(w, tag == PID_EXT ? 9 : 12);
}

/* FLOAT_EXT: 31 bytes of "%.20e" text. ei reads it with sscanf, which scans
 * to a NUL, so the NUL must lie inside, and the text must convert. */
static int walk_float_text(walker *w)
{
    if (need(w, 31) < 0) return -1;
    char text[32];
    memcpy(text, w->p + w->pos, 31);
    text[31] = '\0';
    if (!memchr(w->p + w->pos, '\0', 31)) return fail(w, "float text not terminated");
    /* The same call as ei's, since strtod and sscanf disagree on edge
     * cases: "0x" is 0 for strtod but no match for sscanf. */
    double d;
    if (sscanf(text, "%lf", &d) != 1) return fail(w, "float text is not a number");
    w->pos += 31;
    return 0;
}

/* EXPORT_EXT: Module atom, Function atom, Arity small integer. */
static int walk_export(walker *w)
{
    size_t mod = 0, fun = 0;
    if (walk_atom(w, &mod) < 0 || walk_atom(w, &fun) < 0) return -1;
    if (mod + fun > EXPORT_MAX_NAME_BYTES) return fail(w, "fun name too long");
    return walk_small_int(w, 0);
}

/* NEW_FUN_EXT: Size (counting itself), Arity, Uniq[16], Index, NumFree,
 * Module, OldIndex, OldUniq, Pid, then NumFree terms, ending at Size. The
 * inner terms are walked with the end of the fun as the limit. */
static int walk_new_fun(walker *w, int depth)
{
    size_t start = w->pos;
    uint32_t size;
    if (get_len(w, 4, &size) < 0) return -1;
    if (size < 4 + 1 + 16 + 4 + 4) return fail(w, "fun too small");
    if (size > w->len - start) return fail(w, "fun size exceeds the data");
    size_t outer_len = w->len;
    w->len = start + size;
    w->pos += 1 + 16 + 4;
    uint32_t nfree;
    int r = -1;
    if (get_len(w, 4, &nfree) < 0) goto out;
    if (nfree > w->len - w->pos) {
        fail(w, "fun environment exceeds the data");
        goto out;
    }
    if (walk_atom(w, NULL) < 0 || walk_small_int(w, 1) < 0 || walk_small_int(w, 1) < 0 ||
        walk_pid(w) < 0 || walk_elements(w, nfree, depth + 1) < 0)
        goto out;
    if (w->pos != w->len) {
        fail(w, "fun size does not match its contents");
        goto out;
    }
    r = 0;
out:
    w->len = outer_len;
    return r;
}

static int walk(walker *w, int depth)
{
    if (depth > TERM_MAX_DEPTH) return fail(w, "term nested too deeply");
    if (need(w, 1) < 0) return -1;
    unsigned char tag = w->p[w->pos++];
    uint32_t n;
    switch (tag) {
    case SMALL_INTEGER_EXT:
        return skip(w, 1);
    case INTEGER_EXT:
        return skip(w, 4);
    case FLOAT_EXT:
        return walk_float_text(w);
    case NEW_FLOAT_EXT:
        return skip(w, 8);
    case ATOM_EXT:
    case ATOM_UTF8_EXT:
    case SMALL_ATOM_EXT:
    case SMALL_ATOM_UTF8_EXT:
        w->pos--;
        return walk_atom(w, NULL);
    case PID_EXT:
    case NEW_PID_EXT:
        w->pos--;
        return walk_pid(w);
    case PORT_EXT:
        if (walk_atom(w, NULL) < 0) return -1;
        return skip(w, 5);
    case NEW_PORT_EXT:
        if (walk_atom(w, NULL) < 0) return -1;
        return skip(w, 8);
    case V4_PORT_EXT:
        if (walk_atom(w, NULL) < 0) return -1;
        return skip(w, 12);
    case REFERENCE_EXT:
        if (walk_atom(w, NULL) < 0) return -1;
        return skip(w, 5);
    case NEW_REFERENCE_EXT:
    case NEWER_REFERENCE_EXT:
        if (get_len(w, 2, &n) < 0) return -1;
        if (n > 5) return fail(w, "reference too long"); /* ei's erlang_ref holds 5 words */
        if (walk_atom(w, NULL) < 0) return -1;
        return skip(w, (tag == NEW_REFERENCE_EXT ? 1u : 4u) + 4u * n);
    case SMALL_TUPLE_EXT:
        if (get_len(w, 1, &n) < 0) return -1;
        return walk_elements(w, n, depth + 1);
    case LARGE_TUPLE_EXT:
        /* Every element takes at least one byte: a bound before the loop. */
        if (get_len(w, 4, &n) < 0) return -1;
        if (n > w->len - w->pos) return fail(w, "tuple arity exceeds the data");
        return walk_elements(w, n, depth + 1);
    case MAP_EXT:
        if (get_len(w, 4, &n) < 0) return -1;
        if (n > (w->len - w->pos) / 2) return fail(w, "map size exceeds the data");
        return walk_elements(w, 2 * (uint64_t)n, depth + 1);
    case NIL_EXT:
        return 0;
    case STRING_EXT:
        if (get_len(w, 2, &n) < 0) return -1;
        return skip(w, n);
    case LIST_EXT: /* elements, then the tail */
        if (get_len(w, 4, &n) < 0) return -1;
        /* [] is NIL_EXT; ei callers take a list header of 0 for [] and
         * would never read the tail of an empty LIST_EXT. */
        if (n == 0) return fail(w, "empty list with a tail");
        if (n > w->len - w->pos) return fail(w, "list length exceeds the data");
        if (walk_elements(w, n, depth + 1) < 0) return -1;
        return walk(w, depth + 1);
    case BINARY_EXT:
        if (get_len(w, 4, &n) < 0) return -1;
        return skip(w, n);
    case BIT_BINARY_EXT: {
        if (get_len(w, 4, &n) < 0 || need(w, 1) < 0) return -1;
        unsigned bits = w->p[w->pos];
        if ((bits == 0) != (n == 0) || bits > 8) return fail(w, "invalid bit count");
        w->pos++;
        return skip(w, n);
    }
    case SMALL_BIG_EXT:
        if (get_len(w, 1, &n) < 0) return -1;
        return skip(w, 1u + (size_t)n);
    case LARGE_BIG_EXT:
        if (get_len(w, 4, &n) < 0) return -1;
        if (n > BIG_MAX_BYTES) return fail(w, "big integer too large");
        return skip(w, 1u + (size_t)n);
    case EXPORT_EXT:
        return walk_export(w);
    case NEW_FUN_EXT:
        return walk_new_fun(w, depth);
    default:
        w->pos--;
        return fail(w, "unsupported or invalid term tag");
    }
}

int term_validate(const char *buf, size_t len, size_t *used, char *err, size_t errlen)
{
    walker w = {
        .p = (const unsigned char *)buf, .len = len, .pos = 0, .err = err, .errlen = errlen};
    if (walk(&w, 0) < 0) return -1;
    *used = w.pos;
    return 0;
}
