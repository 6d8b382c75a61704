/* Unit tests for dist.c: framing of the byte stream (partial header, partial
 * body, ticks, packets back to back, the size cap), decoding of the
 * pass-through messages clusterd acts on with every field checked, refusal of
 * malformed control messages with a reason, and the encoders' round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ei.h>

#include "dist.h"

/* --- helpers ------------------------------------------------------------ */

static erlang_pid make_pid(const char *node, unsigned num)
{
    erlang_pid p;
    memset(&p, 0, sizeof(p));
    snprintf(p.node, sizeof(p.node), "%s", node);
    p.num = num;
    p.serial = 2;
    p.creation = 0x64a1b2c3;
    return p;
}

static void assert_pid_equal(const erlang_pid *a, const erlang_pid *b)
{
    assert_string_equal(a->node, b->node);
    assert_int_equal(a->num, b->num);
    assert_int_equal(a->serial, b->serial);
    assert_int_equal(a->creation, b->creation);
}

/* A packet body under construction: 'p', control term, message term. */
typedef struct body {
    ei_x_buff x;
} body;

static void body_begin(body *b)
{
    assert_int_equal(ei_x_new(&b->x), 0);
    assert_int_equal(ei_x_append_buf(&b->x, "p", 1), 0);
    assert_int_equal(ei_x_encode_version(&b->x), 0);
}

/* Appends a versioned message term {hello, N, "text"}. */
static void body_add_message(body *b, long n)
{
    assert_int_equal(ei_x_encode_version(&b->x), 0);
    assert_int_equal(ei_x_encode_tuple_header(&b->x, 3), 0);
    assert_int_equal(ei_x_encode_atom(&b->x, "hello"), 0);
    assert_int_equal(ei_x_encode_long(&b->x, n), 0);
    assert_int_equal(ei_x_encode_string(&b->x, "text"), 0);
}

/* Decodes b's bytes from an exact-size copy; the copy is returned in *copy
 * (m->payload points into it), freed by the caller. */
static int decode(const body *b, dist_msg *m, char *err, size_t errlen, char **copy)
{
    *copy = malloc((size_t)b->x.index);
    assert_non_null(*copy);
    memcpy(*copy, b->x.buff, (size_t)b->x.index);
    return dist_decode(*copy, (size_t)b->x.index, m, err, errlen);
}

/* Asserts that raw bytes are refused with a reason mentioning `what`. */
static void expect_refused(const void *bytes, size_t len, const char *what)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len) memcpy(copy, bytes, len);
    dist_msg m;
    char err[160] = "";
    assert_int_equal(dist_decode(copy, len, &m, err, sizeof(err)), -1);
    assert_true(strlen(err) > 0);
    if (what && !strstr(err, what)) fail_msg("error \"%s\" does not mention \"%s\"", err, what);
    free(copy);
}

static void expect_body_refused(body *b, const char *what)
{
    expect_refused(b->x.buff, (size_t)b->x.index, what);
    ei_x_free(&b->x);
}

/* The bytes of the message term body_add_message(n) appends. */
static void expected_message(ei_x_buff *x, long n)
{
    assert_int_equal(ei_x_new(x), 0);
    assert_int_equal(ei_x_encode_version(x), 0);
    assert_int_equal(ei_x_encode_tuple_header(x, 3), 0);
    assert_int_equal(ei_x_encode_atom(x, "hello"), 0);
    assert_int_equal(ei_x_encode_long(x, n), 0);
    assert_int_equal(ei_x_encode_string(x, "text"), 0);
}

static void assert_payload(const dist_msg *m, long n)
{
    ei_x_buff want;
    expected_message(&want, n);
    assert_non_null(m->payload);
    assert_int_equal(m->payload_len, (size_t)want.index);
    assert_memory_equal(m->payload, want.buff, (size_t)want.index);
    ei_x_free(&want);
}

/* --- dist_frame --------------------------------------------------------- */

static void test_frame_partial_header(void **state)
{
    static const char hdr[4] = {0, 0, 0, 5};
    const char *pkt = NULL;
    size_t plen = 99, used = 99;
    for (size_t n = 0; n < 4; n++) {
        assert_int_equal(dist_frame(hdr, n, &pkt, &plen, &used), 0);
        assert_null(pkt);
    }
}

static void test_frame_partial_body(void **state)
{
    static const char buf[] = {0, 0, 0, 5, 'p', 1, 2, 3, 4};
    const char *pkt = NULL;
    size_t plen = 0, used = 0;
    for (size_t n = 4; n < sizeof(buf); n++)
        assert_int_equal(dist_frame(buf, n, &pkt, &plen, &used), 0);
    assert_int_equal(dist_frame(buf, sizeof(buf), &pkt, &plen, &used), 1);
    assert_ptr_equal(pkt, buf + 4);
    assert_int_equal(plen, 5);
    assert_int_equal(used, 9);
}

static void test_frame_tick(void **state)
{
    static const char tick[] = {0, 0, 0, 0};
    const char *pkt = NULL;
    size_t plen = 99, used = 0;
    assert_int_equal(dist_frame(tick, sizeof(tick), &pkt, &plen, &used), 1);
    assert_int_equal(plen, 0);
    assert_int_equal(used, 4);
}

static void test_frame_back_to_back(void **state)
{
    /* tick, a 3-byte packet, a 1-byte packet, then half a header */
    static const char buf[] = {0, 0, 0, 0, 0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 1, 'd', 0, 0};
    const char *pkt;
    size_t plen, used, off = 0;
    assert_int_equal(dist_frame(buf + off, sizeof(buf) - off, &pkt, &plen, &used), 1);
    assert_int_equal(plen, 0);
    off += used;
    assert_int_equal(dist_frame(buf + off, sizeof(buf) - off, &pkt, &plen, &used), 1);
    assert_int_equal(plen, 3);
    assert_memory_equal(pkt, "abc", 3);
    off += used;
    assert_int_equal(dist_frame(buf + off, sizeof(buf) - off, &pkt, &plen, &used), 1);
    assert_int_equal(plen, 1);
    assert_int_equal(pkt[0], 'd');
    off += used;
    assert_int_equal(off, 16);
    assert_int_equal(dist_frame(buf + off, sizeof(buf) - off, &pkt, &plen, &used), 0);
}

static void test_frame_size_cap(void **state)
{
    const char *pkt;
    size_t plen, used;
    const uint32_t at_cap = DIST_MAX_PACKET, over = DIST_MAX_PACKET + 1;
    char hdr[5] = {(char)(at_cap >> 24), (char)(at_cap >> 16), (char)(at_cap >> 8), (char)at_cap,
                   'p'};
    /* At the cap: allowed, waits for the body. */
    assert_int_equal(dist_frame(hdr, sizeof(hdr), &pkt, &plen, &used), 0);
    hdr[0] = (char)(over >> 24);
    hdr[1] = (char)(over >> 16);
    hdr[2] = (char)(over >> 8);
    hdr[3] = (char)over;
    assert_int_equal(dist_frame(hdr, 4, &pkt, &plen, &used), -1);
    static const char max[] = {(char)0xff, (char)0xff, (char)0xff, (char)0xff};
    assert_int_equal(dist_frame(max, sizeof(max), &pkt, &plen, &used), -1);
}

/* --- dist_decode: the messages clusterd acts on -------------------------- */

static void test_decode_send(void **state)
{
    erlang_pid to = make_pid("clusterd@127.0.0.1", 40);
    body b;
    body_begin(&b); /* {2, '', To} */
    ei_x_encode_tuple_header(&b.x, 3);
    ei_x_encode_long(&b.x, DIST_SEND);
    ei_x_encode_atom(&b.x, "");
    ei_x_encode_pid(&b.x, &to);
    body_add_message(&b, 1);
    dist_msg m;
    char err[160];
    char *copy;
    assert_int_equal(decode(&b, &m, err, sizeof(err), &copy), 0);
    assert_int_equal(m.type, DIST_SEND);
    assert_true(m.has_to_pid);
    assert_false(m.has_from);
    assert_false(m.has_toname);
    assert_pid_equal(&m.to, &to);
    assert_payload(&m, 1);
    free(copy);
    ei_x_free(&b.x);
}

static void test_decode_reg_send(void **state)
{
    erlang_pid from = make_pid("a@127.0.0.1", 91);
    body b;
    body_begin(&b); /* {6, From, '', rex} */
    ei_x_encode_tuple_header(&b.x, 4);
    ei_x_encode_long(&b.x, DIST_REG_SEND);
    ei_x_encode_pid(&b.x, &from);
    ei_x_encode_atom(&b.x, "");
    ei_x_encode_atom(&b.x, "rex");
    body_add_message(&b, 2);
    dist_msg m;
    char err[160];
    char *copy;
    assert_int_equal(decode(&b, &m, err, sizeof(err), &copy), 0);
    assert_int_equal(m.type, DIST_REG_SEND);
    assert_true(m.has_from);
    assert_true(m.has_toname);
    assert_false(m.has_to_pid);
    assert_pid_equal(&m.from, &from);
    assert_string_equal(m.toname, "rex");
    assert_payload(&m, 2);
    free(copy);
    ei_x_free(&b.x);
}

/* A trace token as the BEAM sends it: {Flags, Label, Serial, From, Prev}. */
static void encode_token(ei_x_buff *x, const erlang_pid *from)
{
    ei_x_encode_tuple_header(x, 5);
    ei_x_encode_long(x, 7);
    ei_x_encode_long(x, 0);
    ei_x_encode_long(x, 12);
    ei_x_encode_pid(x, from);
    ei_x_encode_long(x, 11);
}

static void test_decode_send_tt(void **state)
{
    erlang_pid to = make_pid("c@h", 5), tracer = make_pid("t@h", 6);
    body b;
    body_begin(&b); /* {12, '', To, Token} */
    ei_x_encode_tuple_header(&b.x, 4);
    ei_x_encode_long(&b.x, DIST_SEND_TT);
    ei_x_encode_atom(&b.x, "");
    ei_x_encode_pid(&b.x, &to);
    encode_token(&b.x, &tracer);
    body_add_message(&b, 3);
    dist_msg m;
    char err[160];
    char *copy;
    assert_int_equal(decode(&b, &m, err, sizeof(err), &copy), 0);
    assert_int_equal(m.type, DIST_SEND_TT);
    assert_true(m.has_to_pid);
    assert_pid_equal(&m.to, &to);
    assert_payload(&m, 3);
    free(copy);
    ei_x_free(&b.x);
}

static void test_decode_reg_send_tt(void **state)
{
    erlang_pid from = make_pid("a@h", 8), tracer = make_pid("t@h", 6);
    body b;
    body_begin(&b); /* {16, From, '', ToName, Token} */
    ei_x_encode_tuple_header(&b.x, 5);
    ei_x_encode_long(&b.x, DIST_REG_SEND_TT);
    ei_x_encode_pid(&b.x, &from);
    ei_x_encode_atom(&b.x, "");
    ei_x_encode_atom(&b.x, "net_kernel");
    encode_token(&b.x, &tracer);
    body_add_message(&b, 4);
    dist_msg m;
    char err[160];
    char *copy;
    assert_int_equal(decode(&b, &m, err, sizeof(err), &copy), 0);
    assert_int_equal(m.type, DIST_REG_SEND_TT);
    assert_true(m.has_from && m.has_toname);
    assert_pid_equal(&m.from, &from);
    assert_string_equal(m.toname, "net_kernel");
    assert_payload(&m, 4);
    free(copy);
    ei_x_free(&b.x);
}

static void test_decode_send_sender(void **state)
{
    erlang_pid from = make_pid("a@h", 1), to = make_pid("clusterd@h", 2);
    const long types[] = {DIST_SEND_SENDER, DIST_SEND_SENDER_TT};
    for (size_t k = 0; k < 2; k++) {
        body b;
        body_begin(&b); /* {22, From, To} / {23, From, To, Token} */
        ei_x_encode_tuple_header(&b.x, k ? 4 : 3);
        ei_x_encode_long(&b.x, types[k]);
        ei_x_encode_pid(&b.x, &from);
        ei_x_encode_pid(&b.x, &to);
        if (k) encode_token(&b.x, &from);
        body_add_message(&b, 5);
        dist_msg m;
        char err[160];
        char *copy;
        assert_int_equal(decode(&b, &m, err, sizeof(err), &copy), 0);
        assert_int_equal(m.type, types[k]);
        assert_true(m.has_from && m.has_to_pid);
        assert_false(m.has_toname);
        assert_pid_equal(&m.from, &from);
        assert_pid_equal(&m.to, &to);
        assert_payload(&m, 5);
        free(copy);
        ei_x_free(&b.x);
    }
}

static void test_decode_unknown_types(void **state)
{
    erlang_pid a = make_pid("a@h", 1), c = make_pid("c@h", 2);
    /* LINK {1, From, To}, UNLINK_ID {35, Id, From, To}, a future {99}, {-4}. */
    const long types[] = {DIST_LINK, DIST_UNLINK_ID, 99, -4, DIST_ALIAS_SEND};
    for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
        body b;
        body_begin(&b);
        ei_x_encode_tuple_header(&b.x, 4);
        ei_x_encode_long(&b.x, types[k]);
        ei_x_encode_long(&b.x, 77);
        ei_x_encode_pid(&b.x, &a);
        ei_x_encode_pid(&b.x, &c);
        dist_msg m;
        char err[160];
        char *copy;
        assert_int_equal(decode(&b, &m, err, sizeof(err), &copy), 0);
        assert_int_equal(m.type, types[k]);
        assert_false(m.has_from || m.has_to_pid || m.has_toname);
        assert_null(m.payload);
        assert_int_equal(m.payload_len, 0);
        free(copy);
        ei_x_free(&b.x);
    }
}

/* --- dist_decode: malformed input --------------------------------------- */

static void test_decode_not_pass_through(void **state)
{
    static const char q[] = {'q', (char)131, 106};
    expect_refused(q, sizeof(q), "not a pass-through packet");
    expect_refused("", 0, "not a pass-through packet");
    static const char p_only[] = {'p'};
    expect_refused(p_only, sizeof(p_only), "missing version byte at 1");
}

static void test_decode_bad_control(void **state)
{
    body b;
    body_begin(&b); /* an atom, not a tuple */
    ei_x_encode_atom(&b.x, "send");
    body_add_message(&b, 1);
    expect_body_refused(&b, "control message is not a tuple");

    body_begin(&b); /* {} */
    ei_x_encode_tuple_header(&b.x, 0);
    body_add_message(&b, 1);
    expect_body_refused(&b, "control message is not a tuple");

    body_begin(&b); /* {send, ...}: type not an integer */
    ei_x_encode_tuple_header(&b.x, 3);
    ei_x_encode_atom(&b.x, "send");
    ei_x_encode_atom(&b.x, "");
    ei_x_encode_atom(&b.x, "x");
    body_add_message(&b, 1);
    expect_body_refused(&b, "control message type is not an integer");

    body_begin(&b); /* {2, ''}: SEND without its pid */
    ei_x_encode_tuple_header(&b.x, 2);
    ei_x_encode_long(&b.x, DIST_SEND);
    ei_x_encode_atom(&b.x, "");
    body_add_message(&b, 1);
    expect_body_refused(&b, "malformed control message of type 2");

    body_begin(&b); /* {2, '', name}: To is not a pid */
    ei_x_encode_tuple_header(&b.x, 3);
    ei_x_encode_long(&b.x, DIST_SEND);
    ei_x_encode_atom(&b.x, "");
    ei_x_encode_atom(&b.x, "name");
    body_add_message(&b, 1);
    expect_body_refused(&b, "malformed control message of type 2");

    erlang_pid from = make_pid("a@h", 3);
    body_begin(&b); /* {6, From, '', "rex"}: ToName is not an atom */
    ei_x_encode_tuple_header(&b.x, 4);
    ei_x_encode_long(&b.x, DIST_REG_SEND);
    ei_x_encode_pid(&b.x, &from);
    ei_x_encode_atom(&b.x, "");
    ei_x_encode_string(&b.x, "rex");
    body_add_message(&b, 1);
    expect_body_refused(&b, "malformed control message of type 6");

    body_begin(&b); /* {6, From, '', 'αβ'}: a name outside Latin-1 */
    ei_x_encode_tuple_header(&b.x, 4);
    ei_x_encode_long(&b.x, DIST_REG_SEND);
    ei_x_encode_pid(&b.x, &from);
    ei_x_encode_atom(&b.x, "");
    ei_x_encode_atom_as(&b.x, "\xce\xb1\xce\xb2", ERLANG_UTF8, ERLANG_UTF8);
    body_add_message(&b, 1);
    expect_body_refused(&b, "malformed control message of type 6");

    body_begin(&b); /* {22, name, To}: From is not a pid */
    ei_x_encode_tuple_header(&b.x, 3);
    ei_x_encode_long(&b.x, DIST_SEND_SENDER);
    ei_x_encode_atom(&b.x, "name");
    ei_x_encode_pid(&b.x, &from);
    body_add_message(&b, 1);
    expect_body_refused(&b, "malformed control message of type 22");
}

static void test_decode_missing_or_bad_message(void **state)
{
    erlang_pid to = make_pid("c@h", 1);
    body b;
    body_begin(&b); /* SEND without a message */
    ei_x_encode_tuple_header(&b.x, 3);
    ei_x_encode_long(&b.x, DIST_SEND);
    ei_x_encode_atom(&b.x, "");
    ei_x_encode_pid(&b.x, &to);
    int ctl_end = b.x.index;
    expect_refused(b.x.buff, (size_t)b.x.index, "missing version byte");

    /* A message without its version byte. */
    ei_x_encode_atom(&b.x, "hello");
    expect_refused(b.x.buff, (size_t)b.x.index, "missing version byte");

    /* A version byte then garbage. */
    b.x.index = ctl_end;
    ei_x_append_buf(&b.x, "\x83\xfa\x00", 3);
    expect_refused(b.x.buff, (size_t)b.x.index, "unsupported or invalid term tag");

    /* A message cut short. */
    b.x.index = ctl_end;
    body_add_message(&b, 1);
    expect_refused(b.x.buff, (size_t)b.x.index - 2, "term truncated");
    ei_x_free(&b.x);

    /* Garbage right after the control message's version byte. */
    static const char garbage[] = {'p', (char)131, (char)0xfe, 1, 2, 3};
    expect_refused(garbage, sizeof(garbage), "unsupported or invalid term tag");
    static const char cut[] = {'p', (char)131, 104, 3, 97, 2};
    expect_refused(cut, sizeof(cut), "term truncated");
}

/* The payload of the first fuzz_dist crash: {Pid, FLOAT_EXT whose text is
 * not a number}; ei_skip_term failed on it inside a validated term. */
static void test_decode_float_text_payload(void **state)
{
    static const unsigned char crash[] = {
        0x00, 0x00, 0x00, 0x6d, 0x70, 0x83, 0x68, 0x04, 0x61, 0x06, 0x58, 0x64, 0x00, 0x0d, 0x6e,
        0x6f, 0x6e, 0x6f, 0x64, 0x65, 0x40, 0x6e, 0x6f, 0x68, 0x6f, 0x73, 0x74, 0x00, 0x00, 0x00,
        0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x64, 0x00, 0x03,
        0x72, 0x65, 0x78, 0x83, 0x68, 0x02, 0x58, 0x64, 0x00, 0x0d, 0x6e, 0x6f, 0x6e, 0x6f, 0x64,
        0x65, 0x40, 0x6e, 0x6f, 0x68, 0x6f, 0x73, 0x74, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00,
        0x00, 0x04, 0x68, 0x05, 0x64, 0x63, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x68, 0x05,
        0x64, 0x63, 0x61, 0x6c, 0x6c, 0x64, 0x00, 0x06, 0x65, 0x72, 0x6c, 0x61, 0x6e, 0x67, 0x64,
        0x00, 0x04, 0x6e, 0x6f, 0x64, 0x65, 0x6a, 0x6b, 0x65, 0x72, 0x6e, 0x65, 0x65, 0x72,
    };
    const char *pkt;
    size_t plen, used;
    assert_int_equal(dist_frame((const char *)crash, sizeof(crash), &pkt, &plen, &used), 1);
    assert_int_equal(used, 4 + 0x6d);
    expect_refused(pkt, plen, "float text is not a number");
    /* The rest ("kerneer") announces 1.8 GB: conn.c closes the link. */
    assert_int_equal(
        dist_frame((const char *)crash + used, sizeof(crash) - used, &pkt, &plen, &used), -1);
}

/* --- encoders ------------------------------------------------------------ */

/* Frames and decodes the packet at x[off..]; returns the bytes it used. */
static size_t frame_and_decode(const ei_x_buff *x, size_t off, dist_msg *m)
{
    const char *pkt;
    size_t plen, used;
    char err[160];
    assert_int_equal(dist_frame(x->buff + off, (size_t)x->index - off, &pkt, &plen, &used), 1);
    if (dist_decode(pkt, plen, m, err, sizeof(err)) != 0) fail_msg("decode: %s", err);
    return used;
}

static void test_encode_round_trip(void **state)
{
    erlang_pid to = make_pid("member@10.0.0.7", 300), from = make_pid("clusterd@10.0.0.1", 1);
    ei_x_buff msg1, msg2;
    expected_message(&msg1, 10);
    expected_message(&msg2, 20);

    ei_x_buff out;
    assert_int_equal(ei_x_new(&out), 0);
    assert_int_equal(dist_encode_send(&out, &to, msg1.buff, (size_t)msg1.index), 0);
    assert_int_equal(dist_encode_reg_send(&out, &from, "net_kernel", msg2.buff, (size_t)msg2.index),
                     0);

    dist_msg m;
    size_t off = frame_and_decode(&out, 0, &m);
    assert_int_equal(m.type, DIST_SEND);
    assert_true(m.has_to_pid);
    assert_pid_equal(&m.to, &to);
    assert_payload(&m, 10);

    off += frame_and_decode(&out, off, &m);
    assert_int_equal(m.type, DIST_REG_SEND);
    assert_true(m.has_from && m.has_toname);
    assert_pid_equal(&m.from, &from);
    assert_string_equal(m.toname, "net_kernel");
    assert_payload(&m, 20);
    assert_int_equal(off, (size_t)out.index);

    ei_x_free(&out);
    ei_x_free(&msg1);
    ei_x_free(&msg2);
}

static void test_encode_failure_leaves_buffer(void **state)
{
    erlang_pid from = make_pid("a@h", 1);
    ei_x_buff msg;
    expected_message(&msg, 1);
    ei_x_buff out;
    assert_int_equal(ei_x_new(&out), 0);
    assert_int_equal(dist_encode_send(&out, &from, msg.buff, (size_t)msg.index), 0);
    int before = out.index;

    char longname[300];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(dist_encode_reg_send(&out, &from, longname, msg.buff, (size_t)msg.index), -1);
    assert_int_equal(out.index, before);
    /* Larger than the peer accepts: refused before msg is read. */
    assert_int_equal(dist_encode_send(&out, &from, msg.buff, DIST_MAX_PACKET + 1), -1);
    assert_int_equal(out.index, before);

    dist_msg m;
    assert_int_equal(frame_and_decode(&out, 0, &m), (size_t)before);
    ei_x_free(&out);
    ei_x_free(&msg);
}

/* Builds the packet body of an UNLINK_ID {35, Id, From, To}. */
static void unlink_id_body(body *b, long type, unsigned long long id, const erlang_pid *from,
                           const erlang_pid *to)
{
    body_begin(b);
    ei_x_encode_tuple_header(&b->x, 4);
    ei_x_encode_long(&b->x, type);
    ei_x_encode_ulonglong(&b->x, id);
    ei_x_encode_pid(&b->x, from);
    ei_x_encode_pid(&b->x, to);
}

static void test_encode_unlink_id_ack(void **state)
{
    erlang_pid peer = make_pid("member@h", 12), self = make_pid("clusterd@h", 1);
    const unsigned long long ids[] = {1, 4000000000ULL, 18446744073709551615ULL};
    for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++) {
        body b;
        unlink_id_body(&b, DIST_UNLINK_ID, ids[k], &peer, &self);
        dist_msg m;
        char err[160];
        char *copy;
        assert_int_equal(decode(&b, &m, err, sizeof(err), &copy), 0);
        assert_int_equal(m.type, DIST_UNLINK_ID);

        ei_x_buff out;
        assert_int_equal(ei_x_new(&out), 0);
        assert_int_equal(dist_encode_unlink_id_ack(&out, copy, (size_t)b.x.index), 0);
        dist_msg ack;
        assert_int_equal(frame_and_decode(&out, 0, &ack), (size_t)out.index);
        assert_int_equal(ack.type, DIST_UNLINK_ID_ACK);

        /* {36, Id, To, From}: the ack comes from the unlinked side. */
        int idx = 5 + 1, arity;
        long type;
        unsigned long long id;
        erlang_pid p1, p2;
        assert_int_equal(ei_decode_tuple_header(out.buff, &idx, &arity), 0);
        assert_int_equal(arity, 4);
        assert_int_equal(ei_decode_long(out.buff, &idx, &type), 0);
        assert_int_equal(type, DIST_UNLINK_ID_ACK);
        assert_int_equal(ei_decode_ulonglong(out.buff, &idx, &id), 0);
        assert_true(id == ids[k]);
        assert_int_equal(ei_decode_pid(out.buff, &idx, &p1), 0);
        assert_int_equal(ei_decode_pid(out.buff, &idx, &p2), 0);
        assert_pid_equal(&p1, &self);
        assert_pid_equal(&p2, &peer);
        assert_int_equal(idx, out.index);
        ei_x_free(&out);
        free(copy);
        ei_x_free(&b.x);
    }
}

static void test_encode_unlink_id_ack_refuses(void **state)
{
    erlang_pid a = make_pid("a@h", 1), c = make_pid("c@h", 2);
    ei_x_buff out;
    assert_int_equal(ei_x_new(&out), 0);

    body b; /* a LINK, not an UNLINK_ID */
    unlink_id_body(&b, DIST_LINK, 5, &a, &c);
    assert_int_equal(dist_encode_unlink_id_ack(&out, b.x.buff, (size_t)b.x.index), -1);
    ei_x_free(&b.x);

    body_begin(&b); /* {35, Id, From}: one pid short */
    ei_x_encode_tuple_header(&b.x, 3);
    ei_x_encode_long(&b.x, DIST_UNLINK_ID);
    ei_x_encode_long(&b.x, 5);
    ei_x_encode_pid(&b.x, &a);
    assert_int_equal(dist_encode_unlink_id_ack(&out, b.x.buff, (size_t)b.x.index), -1);
    ei_x_free(&b.x);

    unlink_id_body(&b, DIST_UNLINK_ID, 5, &a, &c); /* truncated */
    assert_int_equal(dist_encode_unlink_id_ack(&out, b.x.buff, (size_t)b.x.index - 1), -1);
    b.x.buff[0] = 'q'; /* not a pass-through packet */
    assert_int_equal(dist_encode_unlink_id_ack(&out, b.x.buff, (size_t)b.x.index), -1);
    ei_x_free(&b.x);

    assert_int_equal(dist_encode_unlink_id_ack(&out, "p", 1), -1);
    assert_int_equal(out.index, 0);
    ei_x_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_partial_header),
        cmocka_unit_test(test_frame_partial_body),
        cmocka_unit_test(test_frame_tick),
        cmocka_unit_test(test_frame_back_to_back),
        cmocka_unit_test(test_frame_size_cap),
        cmocka_unit_test(test_decode_send),
        cmocka_unit_test(test_decode_reg_send),
        cmocka_unit_test(test_decode_send_tt),
        cmocka_unit_test(test_decode_reg_send_tt),
        cmocka_unit_test(test_decode_send_sender),
        cmocka_unit_test(test_decode_unknown_types),
        cmocka_unit_test(test_decode_not_pass_through),
        cmocka_unit_test(test_decode_bad_control),
        cmocka_unit_test(test_decode_missing_or_bad_message),
        cmocka_unit_test(test_decode_float_text_payload),
        cmocka_unit_test(test_encode_round_trip),
        cmocka_unit_test(test_encode_failure_leaves_buffer),
        cmocka_unit_test(test_encode_unlink_id_ack),
        cmocka_unit_test(test_encode_unlink_id_ack_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
