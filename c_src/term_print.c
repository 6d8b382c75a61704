/* term_print: a bounded printer for validated terms from nodes, for log
 * lines (badrpc reasons, nodedown infos). See term.h. */
#include "term.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ei.h>

#define PRINT_MAX_ELEMS 16
#define PRINT_MAX_DEPTH 8

typedef struct printer {
    char *out;
    size_t cap, len;
    bool full;
} printer;

static void put(printer *p, const char *s, size_t n)
{
    if (p->full) return;
    if (p->len + n + 4 > p->cap) { /* keep room for "..." and the NUL */
        size_t room = p->cap > p->len + 4 ? p->cap - p->len - 4 : 0;
        memcpy(p->out + p->len, s, room);
        p->len += room;
        memcpy(p->out + p->len, "...", 3);
        p->len += 3;
        p->full = true;
    } else {
        memcpy(p->out + p->len, s, n);
        p->len += n;
    }
    p->out[p->len] = '\0';
}

static void puts_(printer *p, const char *s)
{
    put(p, s, strlen(s));
}

static void putf(printer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(printer *p, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0) put(p, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Printable bytes as they are, others as \xNN. */
static void put_text(printer *p, const char *s, size_t n)
{
    for (size_t i = 0; i < n && !p->full; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            put(p, (const char *)&c, 1);
        else
            putf(p, "\\x%02x", c);
    }
}

static int print_term(printer *p, const char *buf, int *idx, int depth);

static int print_elems(printer *p, const char *buf, int *idx, int n, int depth, const char *sep)
{
    for (int i = 0; i < n; i++) {
        if (i >= PRINT_MAX_ELEMS || depth >= PRINT_MAX_DEPTH) {
            if (ei_skip_term(buf, idx) < 0) return -1;
            if (i == PRINT_MAX_ELEMS || (depth >= PRINT_MAX_DEPTH && i == 0)) puts_(p, "...");
            continue;
        }
        if (i > 0) puts_(p, sep);
        if (print_term(p, buf, idx, depth + 1) < 0) return -1;
    }
    return 0;
}

static int print_term(printer *p, const char *buf, int *idx, int depth)
{
    int type = 0, size = 0;
    if (ei_get_type(buf, idx, &type, &size) < 0) return -1;
    switch (type) {
    case ERL_SMALL_INTEGER_EXT:
    case ERL_INTEGER_EXT:
    case ERL_SMALL_BIG_EXT:
    case ERL_LARGE_BIG_EXT: {
        long long v;
        int at = *idx;
        if (ei_decode_longlong(buf, idx, &v) == 0) {
            putf(p, "%lld", v);
            return 0;
        }
        *idx = at;
        puts_(p, "<bignum>");
        return ei_skip_term(buf, idx);
    }
    case ERL_FLOAT_EXT:
    case NEW_FLOAT_EXT: {
        double d;
        if (ei_decode_double(buf, idx, &d) < 0) return -1;
        putf(p, "%g", d);
        return 0;
    }
    case ERL_ATOM_EXT:
    case ERL_SMALL_ATOM_EXT:
    case ERL_ATOM_UTF8_EXT:
    case ERL_SMALL_ATOM_UTF8_EXT: {
        char atom[MAXATOMLEN_UTF8];
        /* as UTF-8: ei_decode_atom wants Latin-1 and refuses other atoms */
        if (ei_decode_atom_as(buf, idx, atom, sizeof(atom), ERLANG_UTF8, NULL, NULL) < 0) return -1;
        put_text(p, atom, strlen(atom));
        return 0;
    }
    case ERL_SMALL_TUPLE_EXT:
    case ERL_LARGE_TUPLE_EXT: {
        int n;
        if (ei_decode_tuple_header(buf, idx, &n) < 0) return -1;
        puts_(p, "{");
        if (print_elems(p, buf, idx, n, depth, ",") < 0) return -1;
        puts_(p, "}");
        return 0;
    }
    case ERL_NIL_EXT:
        puts_(p, "[]");
        return ei_skip_term(buf, idx);
    case ERL_STRING_EXT: {
        char *str = malloc((size_t)size + 1);
        if (!str) return -1;
        int rc = ei_decode_string(buf, idx, str);
        if (rc == 0) {
            puts_(p, "\"");
            put_text(p, str, strlen(str));
            puts_(p, "\"");
        }
        free(str);
        return rc;
    }
    case ERL_LIST_EXT: {
        int n;
        if (ei_decode_list_header(buf, idx, &n) < 0) return -1;
        puts_(p, "[");
        if (print_elems(p, buf, idx, n, depth, ",") < 0) return -1;
        int t2, s2;
        if (ei_get_type(buf, idx, &t2, &s2) < 0) return -1;
        if (t2 != ERL_NIL_EXT) {
            puts_(p, "|");
            if (print_term(p, buf, idx, depth + 1) < 0) return -1;
        } else if (ei_skip_term(buf, idx) < 0) {
            return -1;
        }
        puts_(p, "]");
        return 0;
    }
    case ERL_BINARY_EXT: {
        const char *data = buf + *idx + 5; /* tag and 4-byte length */
        size_t n = (size_t)size;
        puts_(p, "<<\"");
        put_text(p, data, n < 64 ? n : 64);
        puts_(p, n > 64 ? "\"...>>" : "\">>");
        return ei_skip_term(buf, idx);
    }
    case ERL_PID_EXT:
    case ERL_NEW_PID_EXT: {
        erlang_pid pid;
        if (ei_decode_pid(buf, idx, &pid) < 0) return -1;
        putf(p, "<%s.%u.%u>", pid.node, pid.num, pid.serial);
        return 0;
    }
    case ERL_MAP_EXT: {
        int n;
        if (ei_decode_map_header(buf, idx, &n) < 0) return -1;
        puts_(p, "#{");
        for (int i = 0; i < n; i++) {
            if (i >= PRINT_MAX_ELEMS || depth >= PRINT_MAX_DEPTH) {
                if (ei_skip_term(buf, idx) < 0 || ei_skip_term(buf, idx) < 0) return -1;
                if (i == PRINT_MAX_ELEMS || (depth >= PRINT_MAX_DEPTH && i == 0)) puts_(p, "...");
                continue;
            }
            if (i > 0) puts_(p, ",");
            if (print_term(p, buf, idx, depth + 1) < 0) return -1;
            puts_(p, " => ");
            if (print_term(p, buf, idx, depth + 1) < 0) return -1;
        }
        puts_(p, "}");
        return 0;
    }
    default: /* references, ports, funs, bit strings */
        putf(p, "#Term<%d>", type);
        return ei_skip_term(buf, idx);
    }
}

int term_print(const char *buf, int *idx, char *out, size_t outlen)
{
    if (outlen < 8) return -1;
    printer p = {.out = out, .cap = outlen, .len = 0, .full = false};
    out[0] = '\0';
    int start = *idx;
    int rc = print_term(&p, buf, idx, 0);
    if (rc < 0) {
        *idx = start;
        if (ei_skip_term(buf, idx) < 0) *idx = start;
    }
    return rc;
}
