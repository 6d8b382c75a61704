/* Unit tests for term.c: every term ei's encoders produce validates to its
 * exact size and agrees with ei_skip_term; every truncation, oversized
 * length, over-deep nesting, unknown tag and term ei would mis-handle is
 * refused with a reason. Inputs are copied to exact-size allocations so a
 * read past the end shows under ASan and valgrind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ei.h>

#include "term.h"

/* --- helpers ------------------------------------------------------------ */

/* Validates bytes[0..len) from an exact-size copy; returns term_validate's
 * result and fills used and err. */
static int validate(const void *bytes, size_t len, size_t *used, char *err, size_t errlen)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len) memcpy(copy, bytes, len);
    *used = (size_t)-1;
    int rc = term_validate(copy, len, used, err, errlen);
    free(copy);
    return rc;
}

/* Asserts that bytes[0..len) is refused with a reason mentioning `what`. */
static void expect_invalid(const void *bytes, size_t len, const char *what)
{
    char err[160] = "";
    size_t used;
    assert_int_equal(validate(bytes, len, &used, err, sizeof(err)), -1);
    assert_true(strlen(err) > 0);
    if (what && !strstr(err, what)) fail_msg("error \"%s\" does not mention \"%s\"", err, what);
}

/* Asserts that the term in x (after its version byte) is valid, of exactly
 * its encoded size, skipped identically by ei, still valid with trailing
 * bytes, and that every strict prefix is refused. */
static void expect_valid_x(const ei_x_buff *x)
{
    assert_true(x->index >= 2);
    assert_int_equal((unsigned char)x->buff[0], 131);
    const char *term = x->buff + 1;
    size_t size = (size_t)x->index - 1;
    char err[160] = "";
    size_t used;

    if (validate(term, size, &used, err, sizeof(err)) != 0) fail_msg("refused: %s", err);
    assert_int_equal(used, size);

    int idx = 0;
    assert_int_equal(ei_skip_term(term, &idx), 0);
    assert_int_equal((size_t)idx, size);

    char *more = malloc(size + 3);
    assert_non_null(more);
    memcpy(more, term, size);
    memcpy(more + size, "\x61\x01\x6a", 3);
    assert_int_equal(validate(more, size + 3, &used, err, sizeof(err)), 0);
    assert_int_equal(used, size);
    free(more);

    for (size_t cut = 0; cut < size; cut++) {
        if (validate(term, cut, &used, err, sizeof(err)) != -1)
            fail_msg("prefix of %zu of %zu bytes accepted", cut, size);
    }
}

static void x_begin(ei_x_buff *x)
{
    assert_int_equal(ei_x_new_with_version(x), 0);
}

static erlang_pid sample_pid(const char *node)
{
    erlang_pid p;
    memset(&p, 0, sizeof(p));
    snprintf(p.node, sizeof(p.node), "%s", node);
    p.num = 77;
    p.serial = 3;
    p.creation = 0x5f3759df;
    return p;
}

/* --- every tag ei encodes ----------------------------------------------- */

static void test_atoms(void **state)
{
    ei_x_buff x;
    x_begin(&x);
    assert_int_equal(ei_x_encode_atom(&x, "hello"), 0);
    expect_valid_x(&x);
    ei_x_free(&x);

    x_begin(&x); /* UTF-8 text: ATOM_UTF8 encodings */
    assert_int_equal(
        ei_x_encode_atom_as(&x, "h\xc3\xa9llo_\xce\xb1\xcf\x84", ERLANG_UTF8, ERLANG_UTF8), 0);
    expect_valid_x(&x);
    ei_x_free(&x);

    x_begin(&x);
    assert_int_equal(ei_x_encode_atom(&x, ""), 0);
    expect_valid_x(&x);
    ei_x_free(&x);

    x_begin(&x); /* booleans are atoms */
    assert_int_equal(ei_x_encode_boolean(&x, 1), 0);
    expect_valid_x(&x);
    ei_x_free(&x);
}

static void test_integers(void **state)
{
    const long values[] = {0, 1, 255, 256, -1, 134217727, -134217728, 2147483647L, -2147483647L};
    for (size_t k = 0; k < sizeof(values) / sizeof(values[0]); k++) {
        ei_x_buff x;
        x_begin(&x);
        assert_int_equal(ei_x_encode_long(&x, values[k]), 0);
        expect_valid_x(&x);
        ei_x_free(&x);
    }
    ei_x_buff x;
    x_begin(&x); /* SMALL_BIG_EXT */
    assert_int_equal(ei_x_encode_longlong(&x, -9223372036854775807LL), 0);
    assert_int_equal((unsigned char)x.buff[1], 110);
    expect_valid_x(&x);
    ei_x_free(&x);
    x_begin(&x);
    assert_int_equal(ei_x_encode_ulonglong(&x, 18446744073709551615ULL), 0);
    expect_valid_x(&x);
    ei_x_free(&x);
}

static void test_bigs(void **state)
{
    /* 300 digit bytes: a LARGE_BIG_EXT from ei_x_encode_big. */
    const unsigned sizes[] = {1, 9, 255, 256, 300, 800};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        erlang_big *b = ei_alloc_big(sizes[k]);
        assert_non_null(b);
        memset(b->digits, 0xa5, (sizes[k] + 1) / 2 * 2);
        b->is_neg = (int)(k & 1);
        ei_x_buff x;
        x_begin(&x);
        assert_int_equal(ei_x_encode_big(&x, b), 0);
        assert_int_equal((unsigned char)x.buff[1], sizes[k] > 255 ? 111 : 110);
        expect_valid_x(&x);
        ei_x_free(&x);
        ei_free_big(b);
    }
}

static void test_floats(void **state)
{
    const double values[] = {0.0, -1.5, 3.141592653589793, 1e300, -2.2250738585072014e-308};
    for (size_t k = 0; k < sizeof(values) / sizeof(values[0]); k++) {
        ei_x_buff x;
        x_begin(&x);
        assert_int_equal(ei_x_encode_double(&x, values[k]), 0);
        assert_int_equal((unsigned char)x.buff[1], 70); /* NEW_FLOAT_EXT */
        expect_valid_x(&x);
        ei_x_free(&x);
    }
}

static void test_tuples(void **state)
{
    ei_x_buff x;
    x_begin(&x);
    assert_int_equal(ei_x_encode_tuple_header(&x, 0), 0);
    expect_valid_x(&x);
    ei_x_free(&x);

    x_begin(&x);
    assert_int_equal(ei_x_encode_tuple_header(&x, 3), 0);
    assert_int_equal(ei_x_encode_atom(&x, "ok"), 0);
    assert_int_equal(ei_x_encode_long(&x, 42), 0);
    assert_int_equal(ei_x_encode_string(&x, "text"), 0);
    expect_valid_x(&x);
    ei_x_free(&x);

    x_begin(&x); /* LARGE_TUPLE_EXT */
    assert_int_equal(ei_x_encode_tuple_header(&x, 300), 0);
    assert_int_equal((unsigned char)x.buff[1], 105);
    for (long i = 0; i < 300; i++)
        assert_int_equal(ei_x_encode_long(&x, i * 1000), 0);
    expect_valid_x(&x);
    ei_x_free(&x);
}

static void test_lists_strings_nil(void **state)
{
    ei_x_buff x;
    x_begin(&x);
    assert_int_equal(ei_x_encode_empty_list(&x), 0);
    expect_valid_x(&x);
    ei_x_free(&x);

    x_begin(&x); /* proper */
    assert_int_equal(ei_x_encode_list_header(&x, 3), 0);
    assert_int_equal(ei_x_encode_atom(&x, "a"), 0);
    assert_int_equal(ei_x_encode_long(&x, 100000), 0);
    assert_int_equal(ei_x_encode_list_header(&x, 1), 0);
    assert_int_equal(ei_x_encode_atom(&x, "inner"), 0);
    assert_int_equal(ei_x_encode_empty_list(&x), 0);
    assert_int_equal(ei_x_encode_empty_list(&x), 0);
    expect_valid_x(&x);
    ei_x_free(&x);

    x_begin(&x); /* improper: [1, 2 | tail] */
    assert_int_equal(ei_x_encode_list_header(&x, 2), 0);
    assert_int_equal(ei_x_encode_long(&x, 1), 0);
    assert_int_equal(ei_x_encode_long(&x, 2), 0);
    assert_int_equal(ei_x_encode_atom(&x, "tail"), 0);
    expect_valid_x(&x);
    ei_x_free(&x);

    x_begin(&x);
    assert_int_equal(ei_x_encode_string(&x, "a string"), 0);
    assert_int_equal((unsigned char)x.buff[1], 107);
    expect_valid_x(&x);
    ei_x_free(&x);

    x_begin(&x);
    assert_int_equal(ei_x_encode_string(&x, ""), 0); /* NIL_EXT */
    expect_valid_x(&x);
    ei_x_free(&x);
}

static void test_binaries(void **state)
{
    ei_x_buff x;
    x_begin(&x);
    assert_int_equal(ei_x_encode_binary(&x, "\x00\x01\xff", 3), 0);
    expect_valid_x(&x);
    ei_x_free(&x);

    x_begin(&x);
    assert_int_equal(ei_x_encode_binary(&x, "", 0), 0);
    expect_valid_x(&x);
    ei_x_free(&x);

    x_begin(&x); /* BIT_BINARY_EXT: 11 bits */
    assert_int_equal(ei_x_encode_bitstring(&x, "\xab\xe0", 0, 11), 0);
    assert_int_equal((unsigned char)x.buff[1], 77);
    expect_valid_x(&x);
    ei_x_free(&x);
}

static void test_maps(void **state)
{
    ei_x_buff x;
    x_begin(&x);
    assert_int_equal(ei_x_encode_map_header(&x, 0), 0);
    expect_valid_x(&x);
    ei_x_free(&x);

    x_begin(&x);
    assert_int_equal(ei_x_encode_map_header(&x, 2), 0);
    assert_int_equal(ei_x_encode_atom(&x, "key"), 0);
    assert_int_equal(ei_x_encode_binary(&x, "value", 5), 0);
    assert_int_equal(ei_x_encode_long(&x, 7), 0);
    assert_int_equal(ei_x_encode_map_header(&x, 1), 0);
    assert_int_equal(ei_x_encode_atom(&x, "nested"), 0);
    assert_int_equal(ei_x_encode_empty_list(&x), 0);
    expect_valid_x(&x);
    ei_x_free(&x);
}

static void test_pids_ports_refs(void **state)
{
    erlang_pid pid = sample_pid("node@127.0.0.1");
    ei_x_buff x;
    x_begin(&x);
    assert_int_equal(ei_x_encode_pid(&x, &pid), 0);
    assert_int_equal((unsigned char)x.buff[1], 88); /* NEW_PID_EXT */
    expect_valid_x(&x);
    ei_x_free(&x);

    erlang_port port;
    memset(&port, 0, sizeof(port));
    snprintf(port.node, sizeof(port.node), "n@h");
    port.id = 12;
    port.creation = 4;
    x_begin(&x); /* NEW_PORT_EXT */
    assert_int_equal(ei_x_encode_port(&x, &port), 0);
    expect_valid_x(&x);
    ei_x_free(&x);
    port.id = 0x123456789aULL;
    x_begin(&x); /* V4_PORT_EXT */
    assert_int_equal(ei_x_encode_port(&x, &port), 0);
    assert_int_equal((unsigned char)x.buff[1], 120);
    expect_valid_x(&x);
    ei_x_free(&x);

    for (int len = 1; len <= 5; len++) {
        erlang_ref ref;
        memset(&ref, 0, sizeof(ref));
        snprintf(ref.node, sizeof(ref.node), "node@host");
        ref.len = len;
        for (int i = 0; i < len; i++)
            ref.n[i] = 1000u * (unsigned)i + 1u;
        ref.creation = 9;
        x_begin(&x);
        assert_int_equal(ei_x_encode_ref(&x, &ref), 0);
        assert_int_equal((unsigned char)x.buff[1], 90); /* NEWER_REFERENCE_EXT */
        expect_valid_x(&x);
        ei_x_free(&x);
    }
}

static void test_funs(void **state)
{
    erlang_fun f;
    memset(&f, 0, sizeof(f));
    f.type = EI_FUN_EXPORT;
    f.arity = 2;
    snprintf(f.module, sizeof(f.module), "lists");
    char func[] = "map";
    f.u.exprt.func = func;
    ei_x_buff x;
    x_begin(&x);
    assert_int_equal(ei_x_encode_fun(&x, &f), 0);
    assert_int_equal((unsigned char)x.buff[1], 113);
    expect_valid_x(&x);
    ei_x_free(&x);

    /* A closure with two free variables (each an encoded term). */
    ei_x_buff env;
    assert_int_equal(ei_x_new(&env), 0);
    assert_int_equal(ei_x_encode_atom(&env, "captured"), 0);
    assert_int_equal(ei_x_encode_tuple_header(&env, 1), 0);
    assert_int_equal(ei_x_encode_long(&env, 5), 0);
    memset(&f, 0, sizeof(f));
    f.type = EI_FUN_CLOSURE;
    f.arity = 1;
    snprintf(f.module, sizeof(f.module), "erl_eval");
    memcpy(f.u.closure.md5, "0123456789abcdef", 16);
    f.u.closure.index = 3;
    f.u.closure.old_index = 42;
    f.u.closure.uniq = 3316493;
    f.u.closure.n_free_vars = 2;
    f.u.closure.pid = sample_pid("nonode@nohost");
    f.u.closure.free_vars = env.buff;
    f.u.closure.free_var_len = env.index;
    x_begin(&x);
    assert_int_equal(ei_x_encode_fun(&x, &f), 0);
    assert_int_equal((unsigned char)x.buff[1], 112);
    expect_valid_x(&x);
    ei_x_free(&x);
    ei_x_free(&env);
}

static void test_nested(void **state)
{
    /* {rex, {badrpc, {'EXIT', {undef, [{m, f, [1], []}]}}}} plus a map and pid. */
    erlang_pid pid = sample_pid("a@b");
    ei_x_buff x;
    x_begin(&x);
    ei_x_encode_tuple_header(&x, 3);
    ei_x_encode_atom(&x, "rex");
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_atom(&x, "badrpc");
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_atom(&x, "EXIT");
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_atom(&x, "undef");
    ei_x_encode_list_header(&x, 1);
    ei_x_encode_tuple_header(&x, 4);
    ei_x_encode_atom(&x, "m");
    ei_x_encode_atom(&x, "f");
    ei_x_encode_list_header(&x, 1);
    ei_x_encode_long(&x, 1);
    ei_x_encode_empty_list(&x);
    ei_x_encode_empty_list(&x);
    ei_x_encode_empty_list(&x);
    ei_x_encode_map_header(&x, 1);
    ei_x_encode_pid(&x, &pid);
    ei_x_encode_double(&x, 0.25);
    expect_valid_x(&x);
    ei_x_free(&x);
}

/* --- hostile lengths ----------------------------------------------------- */

static void test_huge_announced_lengths(void **state)
{
    /* Each announces far more than the data; padded so only the length lies. */
    static const unsigned char list[] = {108, 0xff, 0xff, 0xff, 0xff, 97, 1, 106};
    static const unsigned char tuple[] = {105, 0xff, 0xff, 0xff, 0xff, 97, 1};
    static const unsigned char map[] = {116, 0xff, 0xff, 0xff, 0xff, 97, 1, 97, 2};
    static const unsigned char bin[] = {109, 0xff, 0xff, 0xff, 0xff, 1, 2, 3};
    static const unsigned char bits[] = {77, 0xff, 0xff, 0xff, 0xff, 3, 1, 2};
    static const unsigned char str[] = {107, 0xff, 0xff, 'a', 'b'};
    static const unsigned char big[] = {111, 0xff, 0xff, 0xff, 0xff, 0, 1};
    static const unsigned char atom[] = {118, 0xff, 0xff, 'a'};
    static const unsigned char fun[] = {112, 0xff, 0xff, 0xff, 0xff, 1};
    static const unsigned char ref[] = {90, 0xff, 0xff, 115, 1, 'n', 0, 0, 0, 0};
    expect_invalid(list, sizeof(list), "list length exceeds the data");
    expect_invalid(tuple, sizeof(tuple), "tuple arity exceeds the data");
    expect_invalid(map, sizeof(map), "map size exceeds the data");
    expect_invalid(bin, sizeof(bin), "truncated");
    expect_invalid(bits, sizeof(bits), "truncated");
    expect_invalid(str, sizeof(str), "truncated");
    expect_invalid(big, sizeof(big), "big integer too large");
    expect_invalid(atom, sizeof(atom), "atom too long");
    expect_invalid(fun, sizeof(fun), "fun size exceeds the data");
    expect_invalid(ref, sizeof(ref), "reference too long");

    /* Lengths that just fit the data, but not the elements' minimum size. */
    static const unsigned char map_half[] = {116, 0, 0, 0, 3, 97, 1, 97, 2, 97, 3};
    expect_invalid(map_half, sizeof(map_half), NULL);
}

static void test_big_limit(void **state)
{
    size_t len = 5 + 1 + 801;
    unsigned char *b = calloc(1, len);
    assert_non_null(b);
    b[0] = 111;
    b[3] = 0x03;
    b[4] = 0x20; /* 800 digit bytes */
    char err[160];
    size_t used;
    assert_int_equal(validate(b, len - 1, &used, err, sizeof(err)), 0);
    assert_int_equal(used, len - 1);
    b[4] = 0x21; /* 801: more than ei_s_print_term's buffer takes */
    expect_invalid(b, len, "big integer too large");
    free(b);
}

/* --- nesting depth ------------------------------------------------------- */

/* Builds `levels` nested one-element containers of the given kind around 1. */
static void encode_nested(ei_x_buff *x, int levels, char kind)
{
    x_begin(x);
    for (int i = 0; i < levels; i++) {
        if (kind == 't') assert_int_equal(ei_x_encode_tuple_header(x, 1), 0);
        if (kind == 'l') assert_int_equal(ei_x_encode_list_header(x, 1), 0);
        if (kind == 'm') {
            assert_int_equal(ei_x_encode_map_header(x, 1), 0);
            assert_int_equal(ei_x_encode_atom(x, "k"), 0);
        }
    }
    assert_int_equal(ei_x_encode_long(x, 1), 0);
    if (kind == 'l')
        for (int i = 0; i < levels; i++)
            assert_int_equal(ei_x_encode_empty_list(x), 0);
}

static void test_depth_limit(void **state)
{
    const char kinds[] = {'t', 'l', 'm'};
    for (size_t k = 0; k < sizeof(kinds); k++) {
        ei_x_buff x;
        encode_nested(&x, TERM_MAX_DEPTH, kinds[k]); /* innermost at depth 64 */
        expect_valid_x(&x);
        ei_x_free(&x);

        encode_nested(&x, TERM_MAX_DEPTH + 1, kinds[k]);
        expect_invalid(x.buff + 1, (size_t)x.index - 1, "nested too deeply");
        ei_x_free(&x);
    }

    /* An improper-list chain nests through its tails. */
    ei_x_buff x;
    x_begin(&x);
    for (int i = 0; i < TERM_MAX_DEPTH + 1; i++) {
        ei_x_encode_list_header(&x, 1);
        ei_x_encode_long(&x, i);
    }
    ei_x_encode_atom(&x, "end");
    expect_invalid(x.buff + 1, (size_t)x.index - 1, "nested too deeply");
    ei_x_free(&x);

    /* A million levels fail fast, without recursing a million times. */
    size_t n = 2u * 1000000u;
    unsigned char *deep = malloc(n + 1);
    assert_non_null(deep);
    for (size_t i = 0; i < n; i += 2) {
        deep[i] = 104;
        deep[i + 1] = 1;
    }
    deep[n] = 106;
    expect_invalid(deep, n + 1, "nested too deeply");
    free(deep);
}

/* --- tags and atoms ------------------------------------------------------ */

static void test_unknown_tags(void **state)
{
    /* The tags the walk accepts; everything else must be refused. */
    static const unsigned char known[] = {70,  77,  88,  89,  90,  97,  98,  99,  100, 101,
                                          102, 103, 104, 105, 106, 107, 108, 109, 110, 111,
                                          112, 113, 114, 115, 116, 118, 119, 120};
    for (int tag = 0; tag < 256; tag++) {
        if (memchr(known, tag, sizeof(known))) continue;
        unsigned char b[8] = {(unsigned char)tag, 0, 0, 0, 1, 97, 1, 106};
        expect_invalid(b, sizeof(b), "unsupported or invalid term tag");
    }
    /* Old FUN_EXT, atom cache refs, a version byte where a term belongs. */
    static const unsigned char fun_ext[] = {117, 0, 0, 0, 0, 106};
    expect_invalid(fun_ext, sizeof(fun_ext), "tag at byte 0");
    static const unsigned char versioned[] = {131, 106};
    expect_invalid(versioned, sizeof(versioned), "tag at byte 0");
    /* An unknown tag deep inside: the position points at it. */
    static const unsigned char inner[] = {104, 2, 97, 1, 200};
    expect_invalid(inner, sizeof(inner), "tag at byte 4");
    expect_invalid("", 0, "truncated");
}

/* Builds an atom term of the given tag and length filled with ch. */
static unsigned char *make_atom(unsigned char tag, size_t n, unsigned char ch, size_t *len)
{
    size_t hdr = (tag == 115 || tag == 119) ? 2 : 3;
    unsigned char *b = malloc(hdr + n);
    assert_non_null(b);
    b[0] = tag;
    if (hdr == 2) {
        b[1] = (unsigned char)n;
    } else {
        b[1] = (unsigned char)(n >> 8);
        b[2] = (unsigned char)n;
    }
    memset(b + hdr, ch, n);
    *len = hdr + n;
    return b;
}

static void check_atom(unsigned char tag, size_t n, unsigned char ch, int ok)
{
    size_t len, used;
    char err[160];
    unsigned char *b = make_atom(tag, n, ch, &len);
    if (ok) {
        assert_int_equal(validate(b, len, &used, err, sizeof(err)), 0);
        assert_int_equal(used, len);
        int idx = 0;
        assert_int_equal(ei_skip_term((const char *)b, &idx), 0);
        assert_int_equal((size_t)idx, len);
    } else {
        expect_invalid(b, len, "atom too long");
    }
    free(b);
}

static void test_atom_length_limits(void **state)
{
    check_atom(100, 255, 0xe9, 1); /* ATOM_EXT: Latin-1, 255 characters */
    check_atom(100, 256, 'a', 0);
    check_atom(115, 255, 0xe9, 1); /* SMALL_ATOM_EXT */
    check_atom(119, 255, 'a', 1);  /* SMALL_ATOM_UTF8_EXT */
    check_atom(118, 1020, 'a', 1); /* ATOM_UTF8_EXT: 255 x 4 bytes */
    check_atom(118, 1021, 'a', 0);
    check_atom(118, 0, 'a', 1);

    /* A pid whose node is a 255-character Latin-1 atom: ei converts it to
     * 510 bytes of UTF-8, which fits. */
    size_t alen;
    unsigned char *atom = make_atom(100, 255, 0xe9, &alen);
    unsigned char *pid = calloc(1, 1 + alen + 12);
    assert_non_null(pid);
    pid[0] = 88;
    memcpy(pid + 1, atom, alen);
    char err[160];
    size_t used;
    assert_int_equal(validate(pid, 1 + alen + 12, &used, err, sizeof(err)), 0);
    int idx = 0;
    erlang_pid p;
    assert_int_equal(ei_decode_pid((const char *)pid, &idx, &p), 0);
    assert_int_equal((size_t)idx, used);
    free(pid);
    free(atom);
}

/* --- terms ei would mis-handle (found by fuzz_term / fuzz_dist) ---------- */

static void test_float_ext_text(void **state)
{
    unsigned char b[32];
    memset(b, 0, sizeof(b));
    b[0] = 99;
    memcpy(b + 1, "2.50000000000000000000e+00", 26); /* as erl wrote it */
    char err[160];
    size_t used;
    assert_int_equal(validate(b, sizeof(b), &used, err, sizeof(err)), 0);
    assert_int_equal(used, 32);
    int idx = 0;
    assert_int_equal(ei_skip_term((const char *)b, &idx), 0);

    /* No NUL inside: ei's sscanf would read past the term. */
    memset(b + 1, '1', 31);
    expect_invalid(b, sizeof(b), "float text not terminated");
    /* Not a number: ei_skip_term would fail, and containers skip on. */
    memset(b + 1, 0, 31);
    expect_invalid(b, sizeof(b), "float text is not a number");
    memcpy(b + 1, "zz", 2);
    expect_invalid(b, sizeof(b), "float text is not a number");
    /* A bare hex prefix: strtod reads "0", ei's sscanf matches nothing
     * (found by fuzz_term). */
    memset(b + 1, 0, 31);
    memcpy(b + 1, "0X", 2);
    expect_invalid(b, sizeof(b), "float text is not a number");
}

static void test_bit_binary_bits(void **state)
{
    static const unsigned char zero_bits[] = {77, 0, 0, 0, 1, 0, 0xff};
    static const unsigned char nine_bits[] = {77, 0, 0, 0, 1, 9, 0xff};
    static const unsigned char empty_bits[] = {77, 0, 0, 0, 0, 3};
    static const unsigned char empty_ok[] = {77, 0, 0, 0, 0, 0};
    expect_invalid(zero_bits, sizeof(zero_bits), "invalid bit count");
    expect_invalid(nine_bits, sizeof(nine_bits), "invalid bit count");
    expect_invalid(empty_bits, sizeof(empty_bits), "invalid bit count");
    size_t used;
    char err[160];
    assert_int_equal(validate(empty_ok, sizeof(empty_ok), &used, err, sizeof(err)), 0);
    assert_int_equal(used, sizeof(empty_ok));
}

static void test_empty_list_ext(void **state)
{
    /* LIST_EXT of 0 elements with a tail: callers see a header of 0 as []
     * and would leave the tail unread (fuzz_term regression). */
    static const unsigned char b[] = {108, 0, 0, 0, 0, 97, 1};
    expect_invalid(b, sizeof(b), "empty list with a tail");
}

static void test_export_fun_fields(void **state)
{
    static const unsigned char ok[] = {113, 119, 1, 'm', 119, 1, 'f', 97, 2};
    static const unsigned char arity_int[] = {113, 119, 1, 'm', 119, 1, 'f', 98, 0, 0, 0, 2};
    static const unsigned char module_tuple[] = {113, 104, 0, 119, 1, 'f', 97, 2};
    size_t used;
    char err[160];
    assert_int_equal(validate(ok, sizeof(ok), &used, err, sizeof(err)), 0);
    assert_int_equal(used, sizeof(ok));
    expect_invalid(arity_int, sizeof(arity_int), "expected a small integer");
    expect_invalid(module_tuple, sizeof(module_tuple), "expected an atom");

    /* fun M:F/A with two 1020-byte names: ei_s_print_term's 2000-byte
     * buffer would overflow. */
    size_t alen;
    unsigned char *atom = make_atom(118, 1020, 'a', &alen);
    size_t len = 1 + 2 * alen + 2;
    unsigned char *b = malloc(len);
    assert_non_null(b);
    b[0] = 113;
    memcpy(b + 1, atom, alen);
    memcpy(b + 1 + alen, atom, alen);
    b[len - 2] = 97;
    b[len - 1] = 0;
    expect_invalid(b, len, "fun name too long");
    free(b);
    free(atom);
}

/* The NEW_FUN_EXT from the first fuzz_term crash: a plausible size around
 * fields ei would decode past the end of the data. */
static void test_new_fun_fields(void **state)
{
    static const unsigned char crash[] = {
        0x70, 0x00, 0x00, 0x00, 0x66, 0x01, 0x60, 0x37, 0xd2, 0xdb, 0x58, 0xa6, 0xb1, 0x82, 0x6b,
        0xd9, 0xc8, 0xb3, 0x3b, 0xd0, 0x32, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x64,
        0x00, 0x05, 0x73, 0x65, 0x65, 0x64, 0x73, 0x61, 0x00, 0x62, 0x03, 0x01, 0xbe, 0x96, 0x58,
        0x64, 0x00, 0x0d, 0x6e, 0x6f, 0x6e, 0x6f, 0x64, 0x65, 0x40, 0x6e, 0x6f, 0x68, 0x6f, 0x73,
        0x74, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x58, 0x64,
        0x00, 0x0d, 0x6e, 0x6f, 0x6e, 0x6f, 0x64, 0x65, 0x40, 0x6e, 0x6f, 0x68, 0x6f, 0x32, 0xc8,
        0xb3, 0x3b, 0xd0, 0x32, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x64, 0x00, 0x05,
        0x73, 0x65, 0x65, 0x64, 0x73, 0x61, 0x00, 0x62, 0x03, 0x01, 0xbe, 0x96, 0x58, 0x64, 0x00,
        0x0d, 0x6e, 0x6f, 0x6e, 0x6f, 0x64, 0x65, 0x40, 0x6e, 0x6f, 0x68, 0x6f, 0x73, 0x74, 0x00,
        0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x58, 0x64, 0x00, 0x0d,
        0x6e, 0x6f, 0x6e, 0x6f, 0x64, 0x65, 0x40, 0x6e, 0x6f, 0x68, 0x6f, 0x73, 0x74, 0x00, 0x00,
        0x00, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    expect_invalid(crash, sizeof(crash), NULL);

    /* Build a good closure by hand, then break one field at a time. */
    ei_x_buff x;
    x_begin(&x);
    erlang_fun f;
    memset(&f, 0, sizeof(f));
    f.type = EI_FUN_CLOSURE;
    f.arity = 0;
    snprintf(f.module, sizeof(f.module), "m");
    f.u.closure.pid = sample_pid("n@h");
    assert_int_equal(ei_x_encode_fun(&x, &f), 0);
    expect_valid_x(&x);
    unsigned char *t = (unsigned char *)x.buff + 1;
    size_t len = (size_t)x.index - 1;
    unsigned char *b = malloc(len + 8);
    assert_non_null(b);

    memcpy(b, t, len); /* Size one byte short of the contents */
    b[4] = (unsigned char)(b[4] - 1);
    expect_invalid(b, len, NULL);
    memcpy(b, t, len); /* NumFree 1 but no environment */
    b[29] = 1;
    expect_invalid(b, len, NULL);
    memcpy(b, t, len); /* Size claims 3 more bytes than the contents */
    memcpy(b + len, "\x61\x01\x6a", 3);
    b[4] = (unsigned char)(b[4] + 3);
    expect_invalid(b, len + 3, "fun size does not match its contents");
    memcpy(b, t, len); /* Module is not an atom */
    b[30] = 97;
    expect_invalid(b, len, "expected an atom");
    memcpy(b, t, len); /* Size too small to hold the fixed fields */
    b[1] = b[2] = b[3] = 0;
    b[4] = 28;
    expect_invalid(b, len, "fun too small");
    free(b);
    ei_x_free(&x);
}

static void test_error_buffer(void **state)
{
    static const unsigned char bad[] = {104, 1, 250};
    size_t used = 123;
    char tiny[4] = "xyz";
    assert_int_equal(term_validate((const char *)bad, sizeof(bad), &used, tiny, sizeof(tiny)), -1);
    assert_int_equal(strlen(tiny), 3);
    assert_int_equal(used, 123); /* untouched on failure */
    assert_int_equal(term_validate((const char *)bad, sizeof(bad), &used, NULL, 0), -1);
}

/* term_print: what a badrpc reason or a nodedown info looks like in a log. */
static void print_encoded(ei_x_buff *x, char *out, size_t outlen)
{
    int idx = 0;
    assert_int_equal(term_print(x->buff, &idx, out, outlen), 0);
    assert_int_equal(idx, x->index);
}

static void test_print_shapes(void **state)
{
    ei_x_buff x;
    char out[256];
    ei_x_new(&x);
    /* {badrpc, {'EXIT', [1, -2, "ab", <<"hi">>, #{k => 3.5}, {}]}} */
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_atom(&x, "badrpc");
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_atom(&x, "EXIT");
    ei_x_encode_list_header(&x, 6);
    ei_x_encode_long(&x, 1);
    ei_x_encode_long(&x, -2);
    ei_x_encode_string(&x, "ab");
    ei_x_encode_binary(&x, "hi", 2);
    ei_x_encode_map_header(&x, 1);
    ei_x_encode_atom(&x, "k");
    ei_x_encode_double(&x, 3.5);
    ei_x_encode_tuple_header(&x, 0);
    ei_x_encode_empty_list(&x);
    print_encoded(&x, out, sizeof(out));
    assert_string_equal(out, "{badrpc,{EXIT,[1,-2,\"ab\",<<\"hi\">>,#{k => 3.5},{}]}}");
    ei_x_free(&x);

    /* a UTF-8 atom beyond Latin-1 (ei_decode_atom refuses it) */
    ei_x_new(&x);
    ei_x_encode_atom_as(&x, "\xce\xb1", ERLANG_UTF8, ERLANG_UTF8);
    print_encoded(&x, out, sizeof(out));
    assert_string_equal(out, "\\xce\\xb1");
    ei_x_free(&x);

    /* an improper list and a control character in a binary */
    ei_x_new(&x);
    ei_x_encode_list_header(&x, 1);
    ei_x_encode_atom(&x, "a");
    ei_x_encode_atom(&x, "b");
    print_encoded(&x, out, sizeof(out));
    assert_string_equal(out, "[a|b]");
    ei_x_free(&x);
    ei_x_new(&x);
    ei_x_encode_binary(&x, "a\nb", 3);
    print_encoded(&x, out, sizeof(out));
    assert_string_equal(out, "<<\"a\\x0ab\">>");
    ei_x_free(&x);
}

static void test_print_bounded(void **state)
{
    ei_x_buff x;
    char out[32];
    ei_x_new(&x);
    /* a list of 1000 integers: cut at 16 elements and at the buffer */
    ei_x_encode_list_header(&x, 1000);
    for (int i = 0; i < 1000; i++)
        ei_x_encode_long(&x, 100000 + i);
    ei_x_encode_empty_list(&x);
    print_encoded(&x, out, sizeof(out));
    assert_true(strlen(out) < sizeof(out));
    assert_non_null(strstr(out, "..."));
    ei_x_free(&x);

    /* deep nesting is cut at 8 levels, the index still lands after the term */
    ei_x_new(&x);
    for (int i = 0; i < 40; i++)
        ei_x_encode_tuple_header(&x, 1);
    ei_x_encode_atom(&x, "deep");
    char big[512];
    print_encoded(&x, big, sizeof(big));
    assert_null(strstr(big, "deep"));
    assert_non_null(strstr(big, "..."));
    ei_x_free(&x);

    /* too small an output buffer is refused */
    ei_x_new(&x);
    ei_x_encode_atom(&x, "a");
    int idx = 0;
    assert_int_equal(term_print(x.buff, &idx, out, 4), -1);
    ei_x_free(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_atoms),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_bigs),
        cmocka_unit_test(test_floats),
        cmocka_unit_test(test_tuples),
        cmocka_unit_test(test_lists_strings_nil),
        cmocka_unit_test(test_binaries),
        cmocka_unit_test(test_maps),
        cmocka_unit_test(test_pids_ports_refs),
        cmocka_unit_test(test_funs),
        cmocka_unit_test(test_nested),
        cmocka_unit_test(test_huge_announced_lengths),
        cmocka_unit_test(test_big_limit),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_unknown_tags),
        cmocka_unit_test(test_atom_length_limits),
        cmocka_unit_test(test_float_ext_text),
        cmocka_unit_test(test_bit_binary_bits),
        cmocka_unit_test(test_empty_list_ext),
        cmocka_unit_test(test_export_fun_fields),
        cmocka_unit_test(test_new_fun_fields),
        cmocka_unit_test(test_error_buffer),
        cmocka_unit_test(test_print_shapes),
        cmocka_unit_test(test_print_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
