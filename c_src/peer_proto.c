/* peer_proto: answers to the OTP system servers on members. See peer_proto.h. */
#include "peer_proto.h"

#include <stdbool.h>
#include <string.h>

typedef struct gen_msg {
    enum { GEN_CALL, GEN_CAST, GEN_INFO } kind;
    erlang_pid from;                /* GEN_CALL */
    int tag_start, tag_end;         /* GEN_CALL: the reply tag's bytes in the payload */
    int req;                        /* index of the request (call/cast) or the message (info) */
    char req_name[MAXATOMLEN_UTF8]; /* first atom of a request tuple, or the atom itself */
    int req_arity;                  /* arity of the request tuple; 0 for an atom */
} gen_msg;

/* Names the request at buf[*idx]: a tuple's first atom, or an atom. */
static void request_name(const char *buf, int idx, gen_msg *g)
{
    int arity = 0;
    g->req_name[0] = '\0';
    g->req_arity = 0;
    if (ei_decode_tuple_header(buf, &idx, &arity) == 0) {
        if (arity >= 1 && ei_decode_atom(buf, &idx, g->req_name) == 0)
            g->req_arity = arity;
        else
            g->req_name[0] = '\0';
        return;
    }
    if (ei_decode_atom(buf, &idx, g->req_name) < 0) g->req_name[0] = '\0';
}

/* Classifies a validated payload as gen_server traffic:
 * {'$gen_call', {Pid, Tag}, Req}, {'$gen_cast', Req} or anything else (info).
 * Returns -1 for a '$gen_call' whose From is not {Pid, Tag}. */
static int gen_decode(const char *buf, gen_msg *g)
{
    memset(g, 0, sizeof(*g));
    int idx = 0, arity = 0;
    char atom[MAXATOMLEN_UTF8];
    if (ei_decode_version(buf, &idx, NULL) < 0) return -1;
    int start = idx;
    g->kind = GEN_INFO;
    g->req = start;
    if (ei_decode_tuple_header(buf, &idx, &arity) < 0 || arity < 2 ||
        ei_decode_atom(buf, &idx, atom) < 0) {
        request_name(buf, start, g);
        return 0;
    }
    if (strcmp(atom, "$gen_cast") == 0 && arity == 2) {
        g->kind = GEN_CAST;
        g->req = idx;
        request_name(buf, idx, g);
        return 0;
    }
    if (strcmp(atom, "$gen_call") == 0 && arity == 3) {
        int from_arity = 0;
        g->kind = GEN_CALL;
        if (ei_decode_tuple_header(buf, &idx, &from_arity) < 0 || from_arity != 2 ||
            ei_decode_pid(buf, &idx, &g->from) < 0)
            return -1;
        g->tag_start = idx;
        if (ei_skip_term(buf, &idx) < 0) return -1;
        g->tag_end = idx;
        g->req = idx;
        request_name(buf, idx, g);
        return 0;
    }
    request_name(buf, start, g);
    return 0;
}

/* Appends a packet answering the call g with the atom reply: {Tag, reply} to
 * the caller's pid. */
static int reply_atom(const dist_msg *m, const gen_msg *g, const char *reply, ei_x_buff *out)
{
    ei_x_buff msg;
    if (ei_x_new_with_version(&msg) < 0) return -1;
    int rc = -1;
    if (ei_x_encode_tuple_header(&msg, 2) == 0 &&
        ei_x_append_buf(&msg, m->payload + g->tag_start, g->tag_end - g->tag_start) == 0 &&
        ei_x_encode_atom(&msg, reply) == 0)
        rc = dist_encode_send(out, &g->from, msg.buff, (size_t)msg.index);
    ei_x_free(&msg);
    return rc;
}

/* {'$gen_cast', {in_sync, Us, true}} to global_name_server on the peer. */
static int send_in_sync(const peer_proto_ctx *ctx, ei_x_buff *out)
{
    ei_x_buff msg;
    if (ei_x_new_with_version(&msg) < 0) return -1;
    int rc = -1;
    if (ei_x_encode_tuple_header(&msg, 2) == 0 && ei_x_encode_atom(&msg, "$gen_cast") == 0 &&
        ei_x_encode_tuple_header(&msg, 3) == 0 && ei_x_encode_atom(&msg, "in_sync") == 0 &&
        ei_x_encode_atom(&msg, ctx->self) == 0 && ei_x_encode_boolean(&msg, 1) == 0)
        rc = dist_encode_reg_send(out, ctx->self_pid, "global_name_server", msg.buff,
                                  (size_t)msg.index);
    ei_x_free(&msg);
    return rc;
}

/* The caller of a call must be a process on the peer: we answer over the
 * connection the call came on. */
static bool caller_on_peer(const peer_proto_ctx *ctx, const gen_msg *g)
{
    return strcmp(g->from.node, ctx->peer) == 0;
}

static peer_proto_result answered(int rc)
{
    return rc == 0 ? PEER_PROTO_ANSWERED : PEER_PROTO_MALFORMED;
}

static peer_proto_result global_handle(const peer_proto_ctx *ctx, const dist_msg *m,
                                       const gen_msg *g, ei_x_buff *out, const char **what)
{
    if (g->kind == GEN_CAST && strcmp(g->req_name, "init_connect") == 0) {
        /* {init_connect, {Vsn, Tag}, Node, InitMsg}, sent by global on the
         * peer when it sees us come up. */
        *what = "global init_connect";
        int idx = g->req, arity = 0;
        char node[MAXATOMLEN_UTF8];
        if (g->req_arity != 4 || ei_decode_tuple_header(m->payload, &idx, &arity) < 0 ||
            ei_skip_term(m->payload, &idx) < 0 || ei_skip_term(m->payload, &idx) < 0 ||
            ei_decode_atom(m->payload, &idx, node) < 0 || strcmp(node, ctx->peer) != 0)
            return PEER_PROTO_MALFORMED;
        return answered(send_in_sync(ctx, out));
    }
    if (g->kind == GEN_CALL) {
        static const struct {
            const char *req;
            int arity;
            const char *reply;
            const char *what;
        } calls[] = {
            {"set_lock", 2, "true", "global set_lock"},
            {"del_lock", 2, "true", "global del_lock"},
            {"register", 4, "yes", "global register"},
            {"register_ext", 5, "yes", "global register_ext"},
            {"unregister", 2, "ok", "global unregister"},
        };
        for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
            if (strcmp(g->req_name, calls[i].req) != 0 || g->req_arity != calls[i].arity) continue;
            *what = calls[i].what;
            if (!caller_on_peer(ctx, g)) return PEER_PROTO_MALFORMED;
            return answered(reply_atom(m, g, calls[i].reply, out));
        }
        /* Like global's own fallback: an unknown call gets no reply. */
        *what = "global unknown call";
        return PEER_PROTO_IGNORED;
    }
    /* Casts and messages that global sends only to nodes it knows (we never
     * become one): lock_is_set, exchange, new_nodes, init_connect_ack,
     * lost_connection, cancel_connect, ... */
    *what = "global message";
    return PEER_PROTO_IGNORED;
}

static peer_proto_result net_kernel_handle(const peer_proto_ctx *ctx, const dist_msg *m,
                                           const gen_msg *g, ei_x_buff *out, const char **what)
{
    if (g->kind == GEN_CALL && strcmp(g->req_name, "is_auth") == 0 && g->req_arity == 2) {
        *what = "net_kernel is_auth";
        if (!caller_on_peer(ctx, g)) return PEER_PROTO_MALFORMED;
        return answered(reply_atom(m, g, "yes", out));
    }
    *what = "net_kernel message";
    return PEER_PROTO_IGNORED;
}

peer_proto_result peer_proto_handle(const peer_proto_ctx *ctx, const dist_msg *m, ei_x_buff *out,
                                    const char **what)
{
    const char *dummy;
    if (!what) what = &dummy;
    *what = "";
    if (!m->has_toname || !m->payload) return PEER_PROTO_NOT_OURS;
    enum { GLOBAL, NET_KERNEL, SILENT } who;
    if (strcmp(m->toname, "global_name_server") == 0)
        who = GLOBAL;
    else if (strcmp(m->toname, "net_kernel") == 0)
        who = NET_KERNEL;
    else if (strcmp(m->toname, "pg") == 0 || strcmp(m->toname, "rex") == 0 ||
             strcmp(m->toname, "global_group") == 0)
        who = SILENT;
    else
        return PEER_PROTO_NOT_OURS;
    gen_msg g;
    if (gen_decode(m->payload, &g) < 0) {
        *what = "malformed gen_server call";
        return PEER_PROTO_MALFORMED;
    }
    switch (who) {
    case GLOBAL:
        return global_handle(ctx, m, &g, out, what);
    case NET_KERNEL:
        return net_kernel_handle(ctx, m, &g, out, what);
    default:
        /* pg {discover, Pid}: no answer keeps us out of the scope; rex
         * {Pid, features_request}: no answer, rpc/erpc fail with notsup. */
        *what = m->toname[0] == 'p'   ? "pg message"
                : m->toname[0] == 'r' ? "rex message"
                                      : "global_group message";
        return PEER_PROTO_IGNORED;
    }
}
