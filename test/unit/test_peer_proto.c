/* Unit tests for peer_proto.c (answers to members' global and net_kernel)
 * and for the visible-mode flag patch of transport.c: each answer is decoded
 * back from the packet and checked field by field; malformed or foreign
 * messages leave the output untouched. */
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
#include "peer_proto.h"
#include "term.h"
#include "transport.h"

#define SELF "clusterd@127.0.0.1"
#define PEER "n1@127.0.0.1"

static erlang_pid make_pid(const char *node, unsigned num)
{
    erlang_pid p;
    memset(&p, 0, sizeof(p));
    snprintf(p.node, sizeof(p.node), "%s", node);
    p.num = num;
    p.serial = 1;
    p.creation = 0x5eed;
    return p;
}

static erlang_ref make_ref(const char *node)
{
    erlang_ref r;
    memset(&r, 0, sizeof(r));
    snprintf(r.node, sizeof(r.node), "%s", node);
    r.len = 3;
    r.n[0] = 11;
    r.n[1] = 22;
    r.n[2] = 33;
    r.creation = 0x5eed;
    return r;
}

/* A message as dist_decode hands it over: to a name, payload versioned. */
typedef struct msg {
    ei_x_buff x;
    dist_msg m;
} msg;

static void msg_begin(msg *g)
{
    assert_int_equal(ei_x_new_with_version(&g->x), 0);
}

static const dist_msg *msg_to(msg *g, const char *name)
{
    size_t used = 0;
    char err[64];
    /* the same check dist_decode makes before anyone sees a payload */
    assert_int_equal(term_validate(g->x.buff + 1, (size_t)g->x.index - 1, &used, err, sizeof(err)),
                     0);
    memset(&g->m, 0, sizeof(g->m));
    g->m.type = DIST_REG_SEND;
    g->m.has_toname = true;
    snprintf(g->m.toname, sizeof(g->m.toname), "%s", name);
    g->m.has_from = true;
    g->m.from = make_pid(PEER, 40);
    g->m.payload = g->x.buff;
    g->m.payload_len = (size_t)g->x.index;
    return &g->m;
}

/* {'$gen_call', {Pid, Tag}, Req}: header and From; the caller adds Req. The
 * tag is OTP 25's [alias | Ref] (alias = true) or multi_call's {Ref, Node}. */
static void gen_call_begin(msg *g, const erlang_pid *from, int alias, int *tag_at, int *tag_end)
{
    msg_begin(g);
    ei_x_buff *x = &g->x;
    erlang_ref ref = make_ref(PEER);
    assert_int_equal(ei_x_encode_tuple_header(x, 3), 0);
    assert_int_equal(ei_x_encode_atom(x, "$gen_call"), 0);
    assert_int_equal(ei_x_encode_tuple_header(x, 2), 0);
    assert_int_equal(ei_x_encode_pid(x, from), 0);
    *tag_at = x->index;
    if (alias) {
        assert_int_equal(ei_x_encode_list_header(x, 1), 0);
        assert_int_equal(ei_x_encode_atom(x, "alias"), 0);
        assert_int_equal(ei_x_encode_ref(x, &ref), 0); /* improper tail */
    } else {
        assert_int_equal(ei_x_encode_tuple_header(x, 2), 0);
        assert_int_equal(ei_x_encode_ref(x, &ref), 0);
        assert_int_equal(ei_x_encode_atom(x, SELF), 0);
    }
    *tag_end = x->index;
}

typedef struct ctx_fixture {
    erlang_pid self_pid;
    peer_proto_ctx ctx;
} ctx_fixture;

static void fixture(ctx_fixture *f)
{
    f->self_pid = make_pid(SELF, 7);
    f->ctx.self = SELF;
    f->ctx.self_pid = &f->self_pid;
    f->ctx.peer = PEER;
}

/* Decodes the one packet in out. */
static void decode_out(const ei_x_buff *out, dist_msg *m)
{
    const char *pkt;
    size_t plen, used;
    char err[128];
    assert_int_equal(dist_frame(out->buff, (size_t)out->index, &pkt, &plen, &used), 1);
    assert_int_equal(used, (size_t)out->index);
    assert_int_equal(dist_decode(pkt, plen, m, err, sizeof(err)), 0);
}

/* Checks that out holds a SEND to `to` of {Tag, reply} with Tag's bytes as
 * in the call. */
static void assert_reply(const ei_x_buff *out, const erlang_pid *to, const msg *call, int tag_at,
                         int tag_end, const char *reply)
{
    dist_msg m;
    decode_out(out, &m);
    assert_int_equal(m.type, DIST_SEND);
    assert_true(m.has_to_pid);
    assert_string_equal(m.to.node, to->node);
    assert_int_equal(m.to.num, to->num);
    int idx = 0, arity = 0;
    assert_int_equal(ei_decode_version(m.payload, &idx, NULL), 0);
    assert_int_equal(ei_decode_tuple_header(m.payload, &idx, &arity), 0);
    assert_int_equal(arity, 2);
    int tag_len = tag_end - tag_at;
    assert_memory_equal(m.payload + idx, call->x.buff + tag_at, (size_t)tag_len);
    idx += tag_len;
    char atom[MAXATOMLEN_UTF8];
    assert_int_equal(ei_decode_atom(m.payload, &idx, atom), 0);
    assert_string_equal(atom, reply);
    assert_int_equal((size_t)idx, m.payload_len);
}

static void test_init_connect_gets_in_sync(void **state)
{
    (void)state;
    ctx_fixture f;
    fixture(&f);
    msg g;
    msg_begin(&g);
    /* {'$gen_cast', {init_connect, {8, Tag}, n1@..., {locker, no_longer_a_pid, #{}, Pid}}} */
    erlang_pid locker = make_pid(PEER, 56);
    ei_x_buff *x = &g.x;
    ei_x_encode_tuple_header(x, 2);
    ei_x_encode_atom(x, "$gen_cast");
    ei_x_encode_tuple_header(x, 4);
    ei_x_encode_atom(x, "init_connect");
    ei_x_encode_tuple_header(x, 2);
    ei_x_encode_long(x, 8);
    ei_x_encode_long(x, -576460752303423484L);
    ei_x_encode_atom(x, PEER);
    ei_x_encode_tuple_header(x, 4);
    ei_x_encode_atom(x, "locker");
    ei_x_encode_atom(x, "no_longer_a_pid");
    ei_x_encode_map_header(x, 0);
    ei_x_encode_pid(x, &locker);

    ei_x_buff out;
    ei_x_new(&out);
    const char *what = NULL;
    assert_int_equal(peer_proto_handle(&f.ctx, msg_to(&g, "global_name_server"), &out, &what),
                     PEER_PROTO_ANSWERED);
    assert_string_equal(what, "global init_connect");

    dist_msg m;
    decode_out(&out, &m);
    assert_int_equal(m.type, DIST_REG_SEND);
    assert_string_equal(m.toname, "global_name_server");
    assert_string_equal(m.from.node, SELF);
    assert_int_equal(m.from.num, 7);
    int idx = 0, arity = 0, b = 0;
    char atom[MAXATOMLEN_UTF8];
    assert_int_equal(ei_decode_version(m.payload, &idx, NULL), 0);
    assert_int_equal(ei_decode_tuple_header(m.payload, &idx, &arity), 0);
    assert_int_equal(arity, 2);
    assert_int_equal(ei_decode_atom(m.payload, &idx, atom), 0);
    assert_string_equal(atom, "$gen_cast");
    assert_int_equal(ei_decode_tuple_header(m.payload, &idx, &arity), 0);
    assert_int_equal(arity, 3);
    assert_int_equal(ei_decode_atom(m.payload, &idx, atom), 0);
    assert_string_equal(atom, "in_sync");
    assert_int_equal(ei_decode_atom(m.payload, &idx, atom), 0);
    assert_string_equal(atom, SELF);
    assert_int_equal(ei_decode_boolean(m.payload, &idx, &b), 0);
    assert_true(b);
    ei_x_free(&out);
    ei_x_free(&g.x);
}

static void test_init_connect_for_another_node_is_dropped(void **state)
{
    (void)state;
    ctx_fixture f;
    fixture(&f);
    msg g;
    msg_begin(&g);
    ei_x_encode_tuple_header(&g.x, 2);
    ei_x_encode_atom(&g.x, "$gen_cast");
    ei_x_encode_tuple_header(&g.x, 4);
    ei_x_encode_atom(&g.x, "init_connect");
    ei_x_encode_tuple_header(&g.x, 2);
    ei_x_encode_long(&g.x, 8);
    ei_x_encode_long(&g.x, 1);
    ei_x_encode_atom(&g.x, "other@127.0.0.1"); /* not the connection's peer */
    ei_x_encode_atom(&g.x, "x");
    ei_x_buff out;
    ei_x_new(&out);
    assert_int_equal(peer_proto_handle(&f.ctx, msg_to(&g, "global_name_server"), &out, NULL),
                     PEER_PROTO_MALFORMED);
    assert_int_equal(out.index, 0);

    /* wrong arity */
    ei_x_free(&g.x);
    msg_begin(&g);
    ei_x_encode_tuple_header(&g.x, 2);
    ei_x_encode_atom(&g.x, "$gen_cast");
    ei_x_encode_tuple_header(&g.x, 2);
    ei_x_encode_atom(&g.x, "init_connect");
    ei_x_encode_atom(&g.x, PEER);
    assert_int_equal(peer_proto_handle(&f.ctx, msg_to(&g, "global_name_server"), &out, NULL),
                     PEER_PROTO_MALFORMED);
    assert_int_equal(out.index, 0);
    ei_x_free(&out);
    ei_x_free(&g.x);
}

/* A global gen_server call {Name, Id...} from a process on the peer. */
static void global_call(const char *req, int extra_args, int alias, const char *reply,
                        peer_proto_result want)
{
    ctx_fixture f;
    fixture(&f);
    erlang_pid caller = make_pid(PEER, 90);
    msg g;
    int tag_at, tag_end;
    gen_call_begin(&g, &caller, alias, &tag_at, &tag_end);
    ei_x_encode_tuple_header(&g.x, 1 + extra_args);
    ei_x_encode_atom(&g.x, req);
    for (int i = 0; i < extra_args; i++) {
        ei_x_encode_tuple_header(&g.x, 2);
        ei_x_encode_atom(&g.x, "res");
        ei_x_encode_pid(&g.x, &caller);
    }
    ei_x_buff out;
    ei_x_new(&out);
    assert_int_equal(peer_proto_handle(&f.ctx, msg_to(&g, "global_name_server"), &out, NULL), want);
    if (want == PEER_PROTO_ANSWERED)
        assert_reply(&out, &caller, &g, tag_at, tag_end, reply);
    else
        assert_int_equal(out.index, 0);
    ei_x_free(&out);
    ei_x_free(&g.x);
}

static void test_global_calls(void **state)
{
    (void)state;
    global_call("set_lock", 1, 1, "true", PEER_PROTO_ANSWERED);
    global_call("set_lock", 1, 0, "true", PEER_PROTO_ANSWERED); /* multi_call's tag */
    global_call("del_lock", 1, 0, "true", PEER_PROTO_ANSWERED);
    global_call("register", 3, 0, "yes", PEER_PROTO_ANSWERED);
    global_call("register_ext", 4, 0, "yes", PEER_PROTO_ANSWERED);
    global_call("unregister", 1, 0, "ok", PEER_PROTO_ANSWERED);
    /* wrong arity, unknown requests: no reply, as global's own fallback */
    global_call("set_lock", 2, 0, NULL, PEER_PROTO_IGNORED);
    global_call("get_known", 0, 0, NULL, PEER_PROTO_IGNORED);
    global_call("sync", 1, 0, NULL, PEER_PROTO_IGNORED);
}

static void test_call_from_elsewhere_or_malformed(void **state)
{
    (void)state;
    ctx_fixture f;
    fixture(&f);
    ei_x_buff out;
    ei_x_new(&out);

    /* a caller that is not on the connection's peer */
    erlang_pid stranger = make_pid("n9@127.0.0.1", 3);
    msg g;
    int a, b;
    gen_call_begin(&g, &stranger, 1, &a, &b);
    ei_x_encode_tuple_header(&g.x, 2);
    ei_x_encode_atom(&g.x, "set_lock");
    ei_x_encode_atom(&g.x, "id");
    assert_int_equal(peer_proto_handle(&f.ctx, msg_to(&g, "global_name_server"), &out, NULL),
                     PEER_PROTO_MALFORMED);
    assert_int_equal(out.index, 0);
    ei_x_free(&g.x);

    /* From is not {Pid, Tag} */
    msg_begin(&g);
    ei_x_encode_tuple_header(&g.x, 3);
    ei_x_encode_atom(&g.x, "$gen_call");
    ei_x_encode_atom(&g.x, "nobody");
    ei_x_encode_tuple_header(&g.x, 2);
    ei_x_encode_atom(&g.x, "set_lock");
    ei_x_encode_atom(&g.x, "id");
    assert_int_equal(peer_proto_handle(&f.ctx, msg_to(&g, "global_name_server"), &out, NULL),
                     PEER_PROTO_MALFORMED);
    assert_int_equal(peer_proto_handle(&f.ctx, msg_to(&g, "net_kernel"), &out, NULL),
                     PEER_PROTO_MALFORMED);
    assert_int_equal(out.index, 0);
    ei_x_free(&g.x);

    /* not a tuple at all: global's handle_info, ignored */
    msg_begin(&g);
    ei_x_encode_long(&g.x, 42);
    assert_int_equal(peer_proto_handle(&f.ctx, msg_to(&g, "global_name_server"), &out, NULL),
                     PEER_PROTO_IGNORED);
    assert_int_equal(out.index, 0);
    ei_x_free(&g.x);
    ei_x_free(&out);
}

static void test_net_kernel_is_auth(void **state)
{
    (void)state;
    ctx_fixture f;
    fixture(&f);
    erlang_pid caller = make_pid(PEER, 91);
    msg g;
    int tag_at, tag_end;
    gen_call_begin(&g, &caller, 1, &tag_at, &tag_end);
    ei_x_encode_tuple_header(&g.x, 2);
    ei_x_encode_atom(&g.x, "is_auth");
    ei_x_encode_atom(&g.x, PEER);
    ei_x_buff out;
    ei_x_new(&out);
    const char *what = NULL;
    assert_int_equal(peer_proto_handle(&f.ctx, msg_to(&g, "net_kernel"), &out, &what),
                     PEER_PROTO_ANSWERED);
    assert_string_equal(what, "net_kernel is_auth");
    assert_reply(&out, &caller, &g, tag_at, tag_end, "yes");
    ei_x_free(&out);
    ei_x_free(&g.x);
}

static void test_silent_and_foreign_names(void **state)
{
    (void)state;
    ctx_fixture f;
    fixture(&f);
    erlang_pid p = make_pid(PEER, 75);
    msg g;
    msg_begin(&g);
    ei_x_encode_tuple_header(&g.x, 2);
    ei_x_encode_atom(&g.x, "discover");
    ei_x_encode_pid(&g.x, &p);
    ei_x_buff out;
    ei_x_new(&out);
    const char *what = NULL;
    assert_int_equal(peer_proto_handle(&f.ctx, msg_to(&g, "pg"), &out, &what), PEER_PROTO_IGNORED);
    assert_string_equal(what, "pg message");
    assert_int_equal(peer_proto_handle(&f.ctx, msg_to(&g, "rex"), &out, &what), PEER_PROTO_IGNORED);
    assert_int_equal(peer_proto_handle(&f.ctx, msg_to(&g, "global_group"), &out, &what),
                     PEER_PROTO_IGNORED);
    assert_int_equal(peer_proto_handle(&f.ctx, msg_to(&g, "clusterd"), &out, &what),
                     PEER_PROTO_NOT_OURS);
    assert_int_equal(peer_proto_handle(&f.ctx, msg_to(&g, "anything_else"), &out, &what),
                     PEER_PROTO_NOT_OURS);
    assert_int_equal(out.index, 0);

    dist_msg to_pid = g.m;
    to_pid.has_toname = false;
    assert_int_equal(peer_proto_handle(&f.ctx, &to_pid, &out, &what), PEER_PROTO_NOT_OURS);
    ei_x_free(&out);
    ei_x_free(&g.x);
}

/* --- transport_patch_published ------------------------------------------ */

static void test_patch_published(void **state)
{
    (void)state;
    /* 'N' name packet: [len:2] 'N' [flags:8] [creation:4] [nlen:2] name */
    unsigned char n[2 + 1 + 8 + 4 + 2 + 3] = {0,    18, 'N', 0, 0, 0, 0x1, 0x3, 0xdf, 0x7f,
                                              0xbc, 0,  0,   0, 1, 0, 3,   'a', '@',  'b'};
    unsigned char before[sizeof(n)];
    memcpy(before, n, sizeof(n));
    assert_int_equal(transport_patch_published(n, sizeof(n), 2), 1);
    assert_int_equal(n[10], 0xbd);
    n[10] = 0xbc;
    assert_memory_equal(n, before, sizeof(n)); /* nothing else changed */

    /* old 'n' packet: [len:2] 'n' [version:2] [flags:4] ... */
    unsigned char o[] = {0, 9, 'n', 0, 5, 0, 0x3, 0x7f, 0xbc, 'a', '@'};
    assert_int_equal(transport_patch_published(o, sizeof(o), 2), 1);
    assert_int_equal(o[8], 0xbd);

    /* status, challenge reply, wrong length, too short: untouched */
    unsigned char s[] = {0, 3, 's', 'o', 'k'};
    assert_int_equal(transport_patch_published(s, sizeof(s), 2), 0);
    unsigned char bad[] = {0, 40, 'N', 0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(transport_patch_published(bad, sizeof(bad), 2), 0);
    assert_int_equal(bad[10], 0);
    unsigned char shortn[] = {0, 3, 'N', 0, 0};
    assert_int_equal(transport_patch_published(shortn, sizeof(shortn), 2), 0);
    assert_int_equal(transport_patch_published(shortn, 2, 2), 0);

    /* inside TLS the length is 4 bytes (OTP's inet_tls_dist): [len:4] 'N' ... */
    unsigned char t[4 + 1 + 8 + 4 + 2 + 3] = {0,    0,    0, 18, 'N', 0, 0, 0, 0x1, 0x3, 0xdf,
                                              0x7f, 0xbc, 0, 0,  0,   1, 0, 3, 'a', '@', 'b'};
    assert_int_equal(transport_patch_published(t, sizeof(t), 4), 1);
    assert_int_equal(t[12], 0xbd);
    /* a 4-byte packet read with a 2-byte header is not recognised */
    assert_int_equal(transport_patch_published(t, sizeof(t), 2), 0);

    assert_false(transport_published());
    transport_set_published(true);
    assert_true(transport_published());
    transport_set_published(false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_connect_gets_in_sync),
        cmocka_unit_test(test_init_connect_for_another_node_is_dropped),
        cmocka_unit_test(test_global_calls),
        cmocka_unit_test(test_call_from_elsewhere_or_malformed),
        cmocka_unit_test(test_net_kernel_is_auth),
        cmocka_unit_test(test_silent_and_foreign_names),
        cmocka_unit_test(test_patch_published),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
