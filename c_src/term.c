/* term: a bounded walk over the external term format (see term.h). */
#include "term.h"

#include <stdint.h>
#include <stdio.h>

typedef struct walker {
    const unsigned char *p;
    size_t len;
    size_t pos;
    char *err;
    size_t errlen;
} walker;

static int fail(walker *w, const char *what)
{
    snprintf(w->err, w->errlen, "%s at byte %zu", what, w->pos);
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

static int walk(walker *w, int depth);

/* An atom of any encoding (used inside pids, ports, refs, funs). */
static int walk_atom(walker *w)
{
    if (need(w, 1) < 0) return -1;
    unsigned char tag = w->p[w->pos++];
    switch (tag) {
    case 100: /* ATOM_EXT */
    case 118: /* ATOM_UTF8_EXT */
        if (need(w, 2) < 0) return -1;
        {
            uint16_t n = be16(w->p + w->pos);
            w->pos += 2;
            if (n > 255 * 4) return fail(w, "atom too long");
            return skip(w, n);
        }
    case 115: /* SMALL_ATOM_EXT */
    case 119: /* SMALL_ATOM_UTF8_EXT */
        if (need(w, 1) < 0) return -1;
        return skip(w, w->p[w->pos++]);
    default:
        w->pos--;
        return fail(w, "expected an atom");
    }
}

static int walk_elements(walker *w, uint32_t n, int depth)
{
    for (uint32_t i = 0; i < n; i++)
        if (walk(w, depth) < 0) return -1;
    return 0;
}

static int walk(walker *w, int depth)
{
    if (depth > TERM_MAX_DEPTH) return fail(w, "term nested too deeply");
    if (need(w, 1) < 0) return -1;
    unsigned char tag = w->p[w->pos++];
    switch (tag) {
    case 97: /* SMALL_INTEGER_EXT */
        return skip(w, 1);
    case 98: /* INTEGER_EXT */
        return skip(w, 4);
    case 99: /* FLOAT_EXT */
        return skip(w, 31);
    case 70: /* NEW_FLOAT_EXT */
        return skip(w, 8);
    case 100:
    case 118:
    case 115:
    case 119:
        w->pos--;
        return walk_atom(w);
    case 103: /* PID_EXT */
        if (walk_atom(w) < 0) return -1;
        return skip(w, 9);
    case 88: /* NEW_PID_EXT */
        if (walk_atom(w) < 0) return -1;
        return skip(w, 12);
    case 102: /* PORT_EXT */
        if (walk_atom(w) < 0) return -1;
        return skip(w, 5);
    case 89: /* NEW_PORT_EXT */
        if (walk_atom(w) < 0) return -1;
        return skip(w, 8);
    case 120: /* V4_PORT_EXT */
        if (walk_atom(w) < 0) return -1;
        return skip(w, 12);
    case 101: /* REFERENCE_EXT */
        if (walk_atom(w) < 0) return -1;
        return skip(w, 5);
    case 114: /* NEW_REFERENCE_EXT */
    case 90:  /* NEWER_REFERENCE_EXT */
    {
        if (need(w, 2) < 0) return -1;
        uint16_t n = be16(w->p + w->pos);
        w->pos += 2;
        if (n > 5) return fail(w, "reference too long");
        if (walk_atom(w) < 0) return -1;
        return skip(w, (tag == 114 ? 1u : 4u) + 4u * n);
    }
    case 104: /* SMALL_TUPLE_EXT */
        if (need(w, 1) < 0) return -1;
        return walk_elements(w, w->p[w->pos++], depth + 1);
    case 105: /* LARGE_TUPLE_EXT */
    {
        if (need(w, 4) < 0) return -1;
        uint32_t n = be32(w->p + w->pos);
        w->pos += 4;
        if (n > w->len - w->pos) return fail(w, "tuple arity exceeds the data");
        return walk_elements(w, n, depth + 1);
    }
    case 116: /* MAP_EXT */
    {
        if (need(w, 4) < 0) return -1;
        uint32_t n = be32(w->p + w->pos);
        w->pos += 4;
        if (n > (w->len - w->pos) / 2) return fail(w, "map size exceeds the data");
        return walk_elements(w, 2 * n, depth + 1);
    }
    case 106: /* NIL_EXT */
        return 0;
    case 107: /* STRING_EXT */
    {
        if (need(w, 2) < 0) return -1;
        uint16_t n = be16(w->p + w->pos);
        w->pos += 2;
        return skip(w, n);
    }
    case 108: /* LIST_EXT: elements, then the tail */
    {
        if (need(w, 4) < 0) return -1;
        uint32_t n = be32(w->p + w->pos);
        w->pos += 4;
        if (n > w->len - w->pos) return fail(w, "list length exceeds the data");
        if (walk_elements(w, n, depth + 1) < 0) return -1;
        return walk(w, depth + 1);
    }
    case 109: /* BINARY_EXT */
    {
        if (need(w, 4) < 0) return -1;
        uint32_t n = be32(w->p + w->pos);
        w->pos += 4;
        return skip(w, n);
    }
    case 77: /* BIT_BINARY_EXT */
    {
        if (need(w, 5) < 0) return -1;
        uint32_t n = be32(w->p + w->pos);
        w->pos += 5;
        return skip(w, n);
    }
    case 110: /* SMALL_BIG_EXT */
    {
        if (need(w, 1) < 0) return -1;
        uint8_t n = w->p[w->pos++];
        return skip(w, 1u + n);
    }
    case 111: /* LARGE_BIG_EXT */
    {
        if (need(w, 4) < 0) return -1;
        uint32_t n = be32(w->p + w->pos);
        w->pos += 4;
        if (n > 1024) return fail(w, "big integer too large");
        return skip(w, 1u + n);
    }
    case 113: /* EXPORT_EXT: three terms */
        return walk_elements(w, 3, depth + 1);
    case 112: /* NEW_FUN_EXT: size-prefixed; checked by its size only */
    {
        if (need(w, 4) < 0) return -1;
        uint32_t n = be32(w->p + w->pos);
        if (n < 4) return fail(w, "fun size too small");
        return skip(w, n);
    }
    default:
        w->pos--;
        return fail(w, "unsupported or invalid term tag");
    }
}

int term_validate(const char *buf, size_t len, size_t *used, char *err, size_t errlen)
{
    walker w = {.p = (const unsigned char *)buf, .len = len, .pos = 0, .err = err, .errlen = errlen};
    if (walk(&w, 0) < 0) return -1;
    *used = w.pos;
    return 0;
}
