/* links: member connections, connect workers, RPCs, forwarders, accepts.
 * See links.h. */
#include "links.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "dial.h"
#include "forwarder_msg.h"
#include "log.h"
#include "peer_proto.h"
#include "term.h"
#include "transport.h"

#define FORWARDER_NAME "clusterd"
#define ERR_LEN 256

typedef struct rpc_call rpc_call;
typedef struct connect_job connect_job;

struct rpc_call {
    mlink *l;
    erlang_pid pid;
    uv_timer_t timer;
    rpc_done_fn done;
    void *arg;
    unsigned timeout_ms;
    rpc_call *next;
};

/* The forwarder's pid without its node (always the member's own: an
 * erlang_pid carries a 1 KiB node buffer). */
typedef struct forwarder_ref {
    unsigned num, serial, creation;
} forwarder_ref;

/* One per member: kept small, there may be thousands (a few hundred bytes
 * with the name; the error text only while there is one). */
struct mlink {
    links *ls;
    link_state state;
    conn *c;
    connect_job *job;
    uv_timer_t retry_timer;
    unsigned backoff_ms;
    unsigned failures;
    char *last_error; /* owned; NULL = none */
    dial_info dial;
    uint64_t up_since_ms;
    bool has_forwarder;
    bool forwarder_starting;
    bool resync_pending;
    forwarder_ref forwarder;
    rpc_call *rpcs;
    void *user;
    mlink *prev, *next;
    /* Memory for the next connection, allocated with the link: a cold start
     * of thousands of members made their connections amid its burst of
     * short-lived buffers, scattered over a heap that the burst had grown,
     * and every page holding one stayed resident (RssAnon 13 MiB for 5.5 MB
     * in use at 5,000). NULL once used (a reconnect allocates anew). */
    void *conn_mem;
    char node[]; /* the member's name */
};

struct connect_job {
    uv_work_t req;
    mlink *l; /* NULL once the link was removed: the result is then discarded */
    cnode *cn;
    char node[NODENAME_MAX + 1];
    unsigned timeout_ms;
    int fd;
    dial_info dial;
    char err[ERR_LEN];
};

typedef struct accept_job {
    uv_work_t req;
    links *ls;
    int fd;     /* accepted by the loop; handed to ei's accept on the worker */
    int result; /* ei's fd or -1 */
    char peer[NODENAME_MAX + 1];
    char err[ERR_LEN];
} accept_job;

typedef struct accepted {
    conn *c;
    struct accepted *next;
} accepted;

struct links {
    uv_loop_t *loop;
    cnode *cn;
    links_settings s;
    links_handlers h;
    void *arg;
    mlink *head;
    accepted *acc;
    uv_poll_t listen_poll;
    bool listening;
    uv_timer_t housekeeping;
    bool shutting_down;
    int accepts_in_flight;
    erlang_pid self_pid; /* the sender of what we send by name (peer_proto) */
    links_stats stats;
};

static void link_conn_msg(conn *c, const dist_msg *m, void *arg);
static void link_conn_closed(conn *c, const char *reason, void *arg);
static void link_start_connect(mlink *l);
#define LINKS_MAX_ACCEPTS_IN_FLIGHT 4
static void link_start_forwarder(mlink *l);
static void housekeeping_cb(uv_timer_t *t);

/* ---- settings and small helpers ---- */

/* Ticks: a quarter of net_ticktime, at most once a second. */
static unsigned housekeeping_period(const links_settings *s)
{
    unsigned period = s->net_ticktime_s * 1000u / 4u;
    if (period > 1000) period = 1000;
    if (period == 0) period = 250;
    return period;
}

/* Every connection gets our ticks. Hidden, a quarter of net_ticktime is
 * enough (the BEAM ticks a hidden peer whenever it has read nothing). A
 * visible node is ticked by the BEAM only while the BEAM itself writes
 * nothing, so a member streaming to us would see silence and drop us:
 * visible, we tick at every housekeeping round unless we just wrote, which
 * also covers members whose net_ticktime is shorter than ours. */
static void links_conn_retick(links *ls, conn *c)
{
    conn_set_ticktime(c, ls->s.net_ticktime_s);
    if (ls->cn->visible) conn_set_tick_interval(c, housekeeping_period(&ls->s) / 2);
}

/* A connection with our ticks, in mem (malloc'd, see conn_open_in) or in
 * memory of its own when mem is NULL. */
static conn *links_conn_open(links *ls, void *mem, int fd, const char *peer, conn_msg_fn on_msg,
                             conn_closed_fn on_closed, void *arg)
{
    unsigned tt = ls->s.net_ticktime_s;
    conn *c = mem ? conn_open_in(mem, ls->loop, fd, peer, tt, on_msg, on_closed, arg)
                  : conn_open(ls->loop, fd, peer, tt, on_msg, on_closed, arg);
    if (c && ls->cn->visible) conn_set_tick_interval(c, housekeeping_period(&ls->s) / 2);
    return c;
}

/* A member link's own connection, in the memory set aside with the link. */
static conn *link_conn_open(mlink *l, int fd)
{
    void *mem = l->conn_mem;
    l->conn_mem = NULL;
    return links_conn_open(l->ls, mem, fd, l->node, link_conn_msg, link_conn_closed, l);
}

links *links_new(uv_loop_t *loop, cnode *cn, const links_settings *s, const links_handlers *h,
                 void *arg)
{
    links *ls = calloc(1, sizeof(*ls));
    if (!ls) return NULL;
    ls->loop = loop;
    ls->cn = cn;
    ls->s = *s;
    ls->h = *h;
    ls->arg = arg;
    ei_make_pid(&cn->ec, &ls->self_pid);
    uv_timer_init(loop, &ls->housekeeping);
    ls->housekeeping.data = ls;
    unsigned period = housekeeping_period(&ls->s);
    uv_timer_start(&ls->housekeeping, housekeeping_cb, period, period);
    return ls;
}

/* Applies new settings (a reload). A new net_ticktime reaches the links that
 * are up too, and the housekeeping round that sends our ticks. */
void links_update_settings(links *ls, const links_settings *s)
{
    bool ticktime_changed = s->net_ticktime_s != ls->s.net_ticktime_s;
    ls->s = *s;
    if (!ticktime_changed) return;
    unsigned period = housekeeping_period(&ls->s);
    uv_timer_start(&ls->housekeeping, housekeeping_cb, period, period);
    for (mlink *l = ls->head; l; l = l->next)
        if (l->c) links_conn_retick(ls, l->c);
    for (accepted *a = ls->acc; a; a = a->next)
        links_conn_retick(ls, a->c);
    char secs[16];
    snprintf(secs, sizeof secs, "%u", ls->s.net_ticktime_s);
    log_event(LOG_LEVEL_INFO, "net_ticktime changed", "net_ticktime_s", secs, LOG_END);
}

const links_stats *links_get_stats(const links *ls)
{
    return &ls->stats;
}

const char *link_node(const mlink *l)
{
    return l->node;
}
link_state link_get_state(const mlink *l)
{
    return l->state;
}
const char *link_last_error(const mlink *l)
{
    return l->last_error ? l->last_error : "";
}

static void link_set_error(mlink *l, const char *why)
{
    if (l->last_error && why && strcmp(l->last_error, why) == 0) return;
    free(l->last_error);
    l->last_error = why && why[0] ? strdup(why) : NULL;
}

/* The forwarder's pid as a member's pid: false (and nothing kept) when it is
 * not on the member's node. */
static bool forwarder_ref_set(const mlink *l, forwarder_ref *out, const erlang_pid *p)
{
    if (strcmp(p->node, l->node) != 0) return false;
    *out = (forwarder_ref){.num = p->num, .serial = p->serial, .creation = p->creation};
    return true;
}

static void forwarder_pid(const mlink *l, const forwarder_ref *f, erlang_pid *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->node, sizeof(out->node), "%s", l->node);
    out->num = f->num;
    out->serial = f->serial;
    out->creation = f->creation;
}
uint64_t link_up_since_ms(const mlink *l)
{
    return l->up_since_ms;
}
unsigned link_failures(const mlink *l)
{
    return l->failures;
}
const dial_info *link_last_dial(const mlink *l)
{
    return &l->dial;
}
void link_set_user(mlink *l, void *user)
{
    l->user = user;
}
void *link_get_user(const mlink *l)
{
    return l->user;
}

static unsigned jitter(unsigned ms)
{
    /* +-20 %, so that many members failing together do not retry together */
    unsigned r = 0;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) r = (unsigned)rand();
    unsigned span = ms / 5;
    if (span == 0) return ms;
    return ms - span + r % (2 * span + 1);
}

/* ---- RPC ---- */

static void rpc_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Unlinks call from its link and releases it; the callback is the caller's. */
static void rpc_release(rpc_call *call)
{
    mlink *l = call->l;
    for (rpc_call **pp = &l->rpcs; *pp; pp = &(*pp)->next) {
        if (*pp == call) {
            *pp = call->next;
            break;
        }
    }
    uv_timer_stop(&call->timer);
    uv_close((uv_handle_t *)&call->timer, rpc_timer_closed);
}

static void rpc_fail(rpc_call *call, const char *reason)
{
    mlink *l = call->l;
    rpc_done_fn done = call->done;
    void *arg = call->arg;
    rpc_release(call);
    done(l, -1, NULL, 0, reason, arg);
}

static void rpc_timeout_cb(uv_timer_t *t)
{
    rpc_call *call = t->data;
    call->l->ls->stats.rpcs_timeout++;
    char reason[64];
    snprintf(reason, sizeof(reason), "timeout after %u ms", call->timeout_ms);
    rpc_fail(call, reason);
}

static void link_fail_rpcs(mlink *l, const char *reason)
{
    while (l->rpcs) {
        l->ls->stats.rpcs_failed++;
        rpc_fail(l->rpcs, reason);
    }
}

int link_rpc(mlink *l, const char *mod, const char *fun, const ei_x_buff *args, unsigned timeout_ms,
             rpc_done_fn done, void *arg)
{
    if (l->state != LINK_UP || !l->c) return -1;
    rpc_call *call = calloc(1, sizeof(*call));
    if (!call) return -1;
    call->l = l;
    call->done = done;
    call->arg = arg;
    /* A fresh pid per request: the reply comes back addressed to it, which is
     * how replies are matched (ei_rpc has no request id). */
    ei_make_pid(&l->ls->cn->ec, &call->pid);

    ei_x_buff msg, pkt;
    if (ei_x_new_with_version(&msg) < 0) {
        free(call);
        return -1;
    }
    ei_x_new(&pkt);
    int rc = -1;
    if (ei_x_encode_tuple_header(&msg, 2) < 0 || ei_x_encode_pid(&msg, &call->pid) < 0 ||
        ei_x_encode_tuple_header(&msg, 5) < 0 || ei_x_encode_atom(&msg, "call") < 0 ||
        ei_x_encode_atom(&msg, mod) < 0 || ei_x_encode_atom(&msg, fun) < 0 ||
        ei_x_append_buf(&msg, args->buff, args->index) < 0 || ei_x_encode_atom(&msg, "user") < 0)
        goto out;
    if (dist_encode_reg_send(&pkt, &call->pid, "rex", msg.buff, (size_t)msg.index) < 0) goto out;
    uv_timer_init(l->ls->loop, &call->timer);
    call->timer.data = call;
    call->next = l->rpcs;
    l->rpcs = call;
    unsigned tmo = timeout_ms ? timeout_ms : l->ls->s.rpc_timeout_ms;
    call->timeout_ms = tmo;
    uv_timer_start(&call->timer, rpc_timeout_cb, tmo, 0);
    conn *c = l->c;
    if (conn_send_packet(c, pkt.buff, (size_t)pkt.index) < 0) {
        /* conn_close ran: link_conn_closed already failed the call. */
        rc = 0;
        goto out_keep;
    }
    rc = 0;
    goto out_keep;
out:
    free(call);
out_keep:
    ei_x_free(&msg);
    ei_x_free(&pkt);
    return rc;
}

static void link_handle_rpc_reply(mlink *l, const dist_msg *m)
{
    rpc_call *call = NULL;
    for (rpc_call *c = l->rpcs; c; c = c->next) {
        if (c->pid.num == m->to.num && c->pid.serial == m->to.serial) {
            call = c;
            break;
        }
    }
    if (!call) {
        /* A late reply to a call that already timed out: dropped by design. */
        l->ls->stats.dropped_messages++;
        log_event(LOG_LEVEL_DEBUG, "dropped a reply with no waiting call", "node", l->node,
                  LOG_END);
        return;
    }
    int idx = 0, arity = 0;
    char atom[MAXATOMLEN_UTF8];
    if (ei_decode_version(m->payload, &idx, NULL) < 0 ||
        ei_decode_tuple_header(m->payload, &idx, &arity) < 0 || arity != 2 ||
        ei_decode_atom(m->payload, &idx, atom) < 0 || strcmp(atom, "rex") != 0) {
        l->ls->stats.rpcs_failed++;
        rpc_fail(call, "malformed RPC reply");
        return;
    }
    /* {badrpc, Reason} is a failure with Reason as text. */
    int tidx = idx, tarity = 0;
    if (ei_decode_tuple_header(m->payload, &tidx, &tarity) == 0 && tarity == 2 &&
        ei_decode_atom(m->payload, &tidx, atom) == 0 && strcmp(atom, "badrpc") == 0) {
        char text[200];
        int pidx = tidx;
        char reason[ERR_LEN];
        (void)term_print(m->payload, &pidx, text, sizeof(text));
        snprintf(reason, sizeof(reason), "badrpc: %s", text);
        l->ls->stats.rpcs_failed++;
        rpc_fail(call, reason);
        return;
    }
    rpc_done_fn done = call->done;
    void *arg = call->arg;
    rpc_release(call);
    l->ls->stats.rpcs_ok++;
    done(l, 0, m->payload, idx, NULL, arg);
}

/* ---- the forwarder on each member ---- */

/* The forwarder is plain Erlang source evaluated by erl_eval on the member:
 * stock OTP only, nothing installed. It sends its nodes() first and then
 * every nodeup/nodedown, all from one process, so order is kept; it exits
 * when clusterd's connection goes (monitor_node), leaving nothing behind.
 * It keeps what it has reported (the last list, updated by the events it
 * forwarded) as a map. A resync first forwards the events already waiting
 * in its mailbox (a link made just before is then no difference), then
 * compares the real nodes() with what it reported and answers
 * {clusterd_unchanged, Cr, Node, Pid, Count} when they are equal, the whole
 * list only when they differ: the safety-net poll costs O(1) bytes per
 * member instead of O(n), and a drift is still caught. */
static int forwarder_source(const links *ls, char *out, size_t outlen)
{
    static const char body[] =
        "erlang:monitor_node(C, true),\n"
        "ok = net_kernel:monitor_nodes(true, [nodedown_reason]),\n"
        "K = fun(Ns) -> maps:from_list([{N, []} || N <- Ns]) end,\n"
        "S = fun(Ns) -> {clusterd, C} ! {clusterd_nodes, Cr, node(), Me, Ns}, K(Ns) end,\n"
        "E = fun(Ev, N, I) -> {clusterd, C} ! {clusterd_event, Cr, node(), Me, Ev, N, I} end,\n"
        "U = fun(nodeup, N, R) -> maps:put(N, [], R); (nodedown, N, R) -> maps:remove(N, R) end,\n"
        "F = fun Flush(R) -> receive {Ev, N, I} when Ev =:= nodeup; Ev =:= nodedown ->\n"
        "  E(Ev, N, I), Flush(U(Ev, N, R)) after 0 -> R end end,\n"
        "L = fun Loop(R) -> receive\n"
        "  {nodedown, C} -> exit(normal);\n"
        "  {clusterd_stop, Cr} -> exit(normal);\n"
        "  {clusterd_resync, Cr} -> R1 = F(R), Ns = nodes(), case K(Ns) of\n"
        "    R1 -> {clusterd, C} ! {clusterd_unchanged, Cr, node(), Me, maps:size(R1)}, Loop(R1);\n"
        "    _ -> Loop(S(Ns)) end;\n"
        "  {Ev, N, I} when Ev =:= nodeup; Ev =:= nodedown -> E(Ev, N, I), Loop(U(Ev, N, R));\n"
        "  _ -> Loop(R)\n"
        "end end,\n"
        "L(S(nodes())).\n";
    const cnode *cn = ls->cn;
    int n =
        snprintf(out, outlen, "C = '%s', Cr = %u, Me = self(),\n%s", cn->name, cn->creation, body);
    return (n > 0 && (size_t)n < outlen) ? 0 : -1;
}

static void forwarder_send_to(mlink *l, const forwarder_ref *to, const char *tag);

static void forwarder_spawned(mlink *l, int status, const char *buf, int idx, const char *reason,
                              void *arg)
{
    (void)arg;
    l->forwarder_starting = false;
    if (status != 0) {
        log_event(LOG_LEVEL_WARN, "could not start the event forwarder", "node", l->node, "reason",
                  reason, LOG_END);
        return;
    }
    erlang_pid pid;
    if (ei_decode_pid(buf, &idx, &pid) < 0) {
        log_event(LOG_LEVEL_WARN, "event forwarder: unexpected spawn reply", "node", l->node,
                  LOG_END);
        return;
    }
    forwarder_ref ref;
    if (!forwarder_ref_set(l, &ref, &pid)) {
        log_event(LOG_LEVEL_WARN, "event forwarder: spawned on another node", "node", l->node,
                  LOG_END);
        return;
    }
    if (!l->has_forwarder) {
        l->forwarder = ref;
        l->has_forwarder = true;
    } else if (ref.num != l->forwarder.num || ref.serial != l->forwarder.serial) {
        /* Another forwarder spoke first: one that outlived the previous
         * connection (its send to us is what made the member connect again).
         * The one just started is ours; stop the other and ask ours for the
         * view it may have sent before we knew its pid. */
        forwarder_ref old = l->forwarder;
        l->forwarder = ref;
        forwarder_send_to(l, &old, "clusterd_stop");
        l->resync_pending = true;
        forwarder_send_to(l, &l->forwarder, "clusterd_resync");
    }
}

static void link_start_forwarder(mlink *l)
{
    char src[2048];
    if (forwarder_source(l->ls, src, sizeof(src)) < 0) return;
    ei_x_buff args;
    ei_x_new(&args);
    /* [erl_eval, eval_str, [Src]] for erlang:spawn/3 */
    ei_x_encode_list_header(&args, 3);
    ei_x_encode_atom(&args, "erl_eval");
    ei_x_encode_atom(&args, "eval_str");
    ei_x_encode_list_header(&args, 1);
    ei_x_encode_string(&args, src);
    ei_x_encode_empty_list(&args);
    ei_x_encode_empty_list(&args);
    l->has_forwarder = false;
    l->resync_pending = false;
    l->forwarder_starting = true;
    if (link_rpc(l, "erlang", "spawn", &args, 0, forwarder_spawned, NULL) < 0)
        l->forwarder_starting = false;
    ei_x_free(&args);
}

/* Sends {Tag, Creation} to the forwarder (a plain message, not an RPC). */
static void forwarder_send_to(mlink *l, const forwarder_ref *to, const char *tag)
{
    erlang_pid pid;
    forwarder_pid(l, to, &pid);
    ei_x_buff msg, pkt;
    ei_x_new_with_version(&msg);
    ei_x_new(&pkt);
    ei_x_encode_tuple_header(&msg, 2);
    ei_x_encode_atom(&msg, tag);
    ei_x_encode_ulong(&msg, l->ls->cn->creation);
    if (dist_encode_send(&pkt, &pid, msg.buff, (size_t)msg.index) == 0 && l->c)
        (void)conn_send_packet(l->c, pkt.buff, (size_t)pkt.index);
    ei_x_free(&msg);
    ei_x_free(&pkt);
}

static void forwarder_send(mlink *l, const char *tag)
{
    forwarder_send_to(l, &l->forwarder, tag);
}

void links_resync_all(links *ls)
{
    if (ls->s.no_forwarder) return;
    for (mlink *l = ls->head; l; l = l->next) {
        if (l->state != LINK_UP || !l->c || l->forwarder_starting) continue;
        if (!l->has_forwarder || l->resync_pending) {
            /* No answer to the last resync: the forwarder is gone (killed,
             * or its spawn failed). Stop any survivor and start a new one. */
            if (l->has_forwarder) {
                log_event(LOG_LEVEL_WARN, "event forwarder did not answer; restarting it", "node",
                          l->node, LOG_END);
                forwarder_send(l, "clusterd_stop");
            }
            link_start_forwarder(l);
            continue;
        }
        l->resync_pending = true;
        forwarder_send(l, "clusterd_resync");
    }
}

/* {clusterd_nodes, ...}, {clusterd_unchanged, ...} or {clusterd_event, ...}
 * (forwarder_msg.h).
 * Returns 1 if it was forwarder traffic (handled), 0 otherwise. */
static int link_handle_forwarder_msg(mlink *l, const dist_msg *m)
{
    forwarder_msg f;
    forwarder_kind kind = forwarder_msg_decode(m->payload, l->ls->cn->name, &f);
    if (kind == FWD_NOT_OURS) return 0;
    if (kind == FWD_MALFORMED) {
        log_event(LOG_LEVEL_WARN, "dropped a malformed forwarder message", "node", l->node,
                  LOG_END);
        return 1;
    }
    if (f.creation != l->ls->cn->creation || strcmp(f.node, l->node) != 0) {
        l->ls->stats.dropped_messages++;
        forwarder_msg_free(&f);
        return 1; /* an earlier incarnation's forwarder, or a confused sender */
    }
    forwarder_ref ref;
    if (!forwarder_ref_set(l, &ref, &f.pid)) {
        l->ls->stats.dropped_messages++;
        forwarder_msg_free(&f);
        return 1; /* a forwarder pid that is not on the member */
    }
    if (!l->has_forwarder) {
        l->forwarder = ref;
        l->has_forwarder = true;
    } else if (ref.num != l->forwarder.num || ref.serial != l->forwarder.serial) {
        l->ls->stats.dropped_messages++;
        forwarder_msg_free(&f);
        return 1; /* a replaced forwarder still talking */
    }
    switch (kind) {
    case FWD_MALFORMED_NODES:
        log_event(LOG_LEVEL_WARN, "dropped a malformed nodes() list", "node", l->node, LOG_END);
        break;
    case FWD_MALFORMED_EVENT:
        log_event(LOG_LEVEL_WARN, "dropped a malformed node event", "node", l->node, LOG_END);
        break;
    case FWD_UNCHANGED:
        /* The forwarder compared its real nodes() with what it reported:
         * our view (that list plus the events since) is current. */
        l->resync_pending = false;
        l->ls->stats.resyncs_unchanged++;
        break;
    case FWD_NODES:
        l->resync_pending = false;
        if (l->ls->h.on_snapshot) l->ls->h.on_snapshot(l, f.nodes, f.n_nodes, l->ls->arg);
        break;
    case FWD_EVENT:
        if (strcmp(f.peer, l->ls->cn->name) == 0) break; /* our own link, seen visible */
        l->ls->stats.events++;
        if (l->ls->h.on_event) l->ls->h.on_event(l, f.nodeup, f.peer, f.reason, l->ls->arg);
        break;
    default:
        break;
    }
    forwarder_msg_free(&f);
    return 1;
}

/* ---- message dispatch ---- */

/* Messages to the OTP system servers a member believes we run (global,
 * net_kernel, ...): answered by peer_proto on the same connection.
 * Returns false if the name is not one peer_proto serves. */
static bool links_peer_proto(links *ls, conn *c, const dist_msg *m)
{
    peer_proto_ctx ctx = {.self = ls->cn->name, .self_pid = &ls->self_pid, .peer = c->peer};
    ei_x_buff out;
    if (ei_x_new(&out) < 0) return true;
    const char *what = "";
    peer_proto_result r = peer_proto_handle(&ctx, m, &out, &what);
    switch (r) {
    case PEER_PROTO_NOT_OURS:
        ei_x_free(&out);
        return false;
    case PEER_PROTO_ANSWERED:
        ls->stats.peer_answers++;
        log_event(LOG_LEVEL_DEBUG, "answered", "node", c->peer, "message", what, LOG_END);
        (void)conn_send_packet(c, out.buff, (size_t)out.index);
        break;
    case PEER_PROTO_IGNORED:
        log_event(LOG_LEVEL_DEBUG, "ignored", "node", c->peer, "message", what, LOG_END);
        break;
    case PEER_PROTO_MALFORMED:
        ls->stats.dropped_messages++;
        log_event(LOG_LEVEL_DEBUG, "dropped a malformed message", "node", c->peer, "to", m->toname,
                  "message", what, LOG_END);
        break;
    }
    ei_x_free(&out);
    return true;
}

/* Messages to a pid of ours: only this incarnation's pids are accepted. */
static bool addressed_to_us(const links *ls, const erlang_pid *to)
{
    return to->creation == ls->cn->creation && strcmp(to->node, ls->cn->name) == 0;
}

static void link_conn_msg(conn *c, const dist_msg *m, void *arg)
{
    mlink *l = arg;
    if (!m->payload) return;
    if (m->has_to_pid) {
        if (!addressed_to_us(l->ls, &m->to)) {
            l->ls->stats.dropped_messages++;
            log_event(LOG_LEVEL_DEBUG, "dropped a message for an earlier incarnation", "node",
                      l->node, LOG_END);
            return;
        }
        link_handle_rpc_reply(l, m);
        return;
    }
    if (m->has_toname && strcmp(m->toname, FORWARDER_NAME) == 0) {
        if (link_handle_forwarder_msg(l, m)) return;
        if (l->ls->h.on_request) l->ls->h.on_request(c, m, l->ls->arg);
        return;
    }
    if (m->has_toname && links_peer_proto(l->ls, c, m)) return;
    l->ls->stats.dropped_messages++;
}

static void accepted_conn_msg(conn *c, const dist_msg *m, void *arg)
{
    links *ls = arg;
    if (!m->payload) return;
    if (m->has_toname && strcmp(m->toname, FORWARDER_NAME) == 0) {
        if (ls->h.on_request) ls->h.on_request(c, m, ls->arg);
        return;
    }
    if (m->has_toname && links_peer_proto(ls, c, m)) return;
    ls->stats.dropped_messages++;
}

int conn_reply(conn *c, const erlang_pid *to, const ei_x_buff *msg)
{
    ei_x_buff pkt;
    ei_x_new(&pkt);
    int rc = dist_encode_send(&pkt, to, msg->buff, (size_t)msg->index);
    if (rc == 0) rc = conn_send_packet(c, pkt.buff, (size_t)pkt.index);
    ei_x_free(&pkt);
    return rc;
}

/* ---- link lifecycle ---- */

static void link_retry_cb(uv_timer_t *t)
{
    mlink *l = t->data;
    if (l->state == LINK_BACKOFF) link_start_connect(l);
}

/* A new link's first connect, on the loop's next turn (see links_add). */
static void link_first_connect_cb(uv_timer_t *t)
{
    mlink *l = t->data;
    if (l->state == LINK_CONNECTING && !l->job && !l->c) link_start_connect(l);
}

static void link_schedule_retry(mlink *l)
{
    links *ls = l->ls;
    if (l->backoff_ms == 0)
        l->backoff_ms = ls->s.backoff_min_ms;
    else
        l->backoff_ms =
            l->backoff_ms * 2 > ls->s.backoff_max_ms ? ls->s.backoff_max_ms : l->backoff_ms * 2;
    l->state = LINK_BACKOFF;
    uv_timer_start(&l->retry_timer, link_retry_cb, jitter(l->backoff_ms), 0);
}

static void link_conn_closed(conn *c, const char *reason, void *arg)
{
    (void)c;
    mlink *l = arg;
    l->c = NULL;
    l->has_forwarder = false;
    l->forwarder_starting = false;
    link_set_error(l, reason);
    link_fail_rpcs(l, "link down");
    if (l->state == LINK_STOPPED) return;
    log_event(LOG_LEVEL_WARN, "link down", "node", l->node, "reason", reason, LOG_END);
    link_schedule_retry(l);
    if (l->ls->h.on_down) l->ls->h.on_down(l, reason, l->ls->arg);
}

/* Worker thread: our EPMD lookup, then ei's handshake, all within one deadline. */
static void connect_work(uv_work_t *req)
{
    connect_job *job = req->data;
    job->fd =
        dial_node_info(job->cn, job->node, job->timeout_ms, &job->dial, job->err, sizeof(job->err));
    if (job->fd >= 0) {
        job->fd = transport_detach(job->fd, job->err, sizeof(job->err));
        if (job->fd < 0) job->dial.why = DIAL_FAILED;
    }
}

/* The link runs over c from now on (our connect, or the member's own
 * connection to us adopted): state, log, the owner's hook, the forwarder. */
static void link_went_up(mlink *l, conn *c, const char *how)
{
    links *ls = l->ls;
    l->c = c;
    l->state = LINK_UP;
    l->backoff_ms = 0;
    l->failures = 0;
    link_set_error(l, NULL);
    l->up_since_ms = transport_now_ms();
    if (how)
        log_event(LOG_LEVEL_INFO, "link up", "node", l->node, "via", how, LOG_END);
    else
        log_event(LOG_LEVEL_INFO, "link up", "node", l->node, LOG_END);
    if (ls->h.on_up) ls->h.on_up(l, ls->arg);
    if (l->state == LINK_UP && !ls->s.no_forwarder) link_start_forwarder(l);
}

/* A member that connected to us first (say, by sending to a name of ours)
 * owns the only connection the BEAM allows between us: our own connect would
 * be refused with status 'alive', which ei cannot answer. So a member link
 * that is not up adopts the member's connection instead. */
static void link_adopt(mlink *l, conn *c)
{
    if (l->job) {
        l->job->l = NULL; /* a connect in flight: its result is discarded */
        l->job = NULL;
    }
    uv_timer_stop(&l->retry_timer);
    conn_set_handlers(c, link_conn_msg, link_conn_closed, l);
    link_went_up(l, c, "the member's connection");
}

/* Takes the accepted connection from node out of the accepted list, if any. */
static conn *accepted_take(links *ls, const char *node)
{
    for (accepted **pp = &ls->acc; *pp; pp = &(*pp)->next) {
        accepted *a = *pp;
        if (!a->c->closing && strcmp(a->c->peer, node) == 0) {
            conn *c = a->c;
            *pp = a->next;
            free(a);
            return c;
        }
    }
    return NULL;
}

static mlink *links_find(links *ls, const char *node)
{
    for (mlink *l = ls->head; l; l = l->next)
        if (strcmp(l->node, node) == 0) return l;
    return NULL;
}

static void connect_done(uv_work_t *req, int status)
{
    connect_job *job = req->data;
    mlink *l = job->l;
    if (!l) { /* the link was removed meanwhile */
        if (job->fd >= 0) transport_close(job->fd);
        free(job);
        return;
    }
    l->job = NULL;
    links *ls = l->ls;
    l->dial = job->dial;
    if (status != 0 && job->fd < 0) snprintf(job->err, sizeof(job->err), "connect cancelled");
    if (job->fd < 0) {
        ls->stats.connects_failed++;
        l->failures++;
        link_set_error(l, job->err);
        free(job);
        /* Log each distinct failure once at warn level, repeats at debug. */
        log_event(l->failures == 1 ? LOG_LEVEL_WARN : LOG_LEVEL_DEBUG, "cannot connect to member",
                  "node", l->node, "reason", link_last_error(l), LOG_END);
        link_schedule_retry(l);
        if (ls->h.on_down) ls->h.on_down(l, link_last_error(l), ls->arg);
        return;
    }
    int fd = job->fd;
    free(job);
    if (ls->shutting_down || l->state == LINK_STOPPED) {
        transport_close(fd);
        return;
    }
    conn *c = link_conn_open(l, fd);
    if (!c) {
        transport_close(fd);
        link_set_error(l, "out of memory");
        link_schedule_retry(l);
        return;
    }
    ls->stats.connects_ok++;
    link_went_up(l, c, NULL);
}

static void link_start_connect(mlink *l)
{
    links *ls = l->ls;
    conn *mine = accepted_take(ls, l->node);
    if (mine) {
        link_adopt(l, mine);
        return;
    }
    connect_job *job = calloc(1, sizeof(*job));
    if (!job) {
        link_schedule_retry(l);
        return;
    }
    job->req.data = job;
    job->l = l;
    job->cn = ls->cn;
    job->timeout_ms = ls->s.connect_timeout_ms;
    snprintf(job->node, sizeof(job->node), "%s", l->node);
    l->state = LINK_CONNECTING;
    l->job = job;
    if (uv_queue_work(ls->loop, &job->req, connect_work, connect_done) != 0) {
        l->job = NULL;
        free(job);
        link_schedule_retry(l);
    }
}

mlink *links_add(links *ls, const char *node)
{
    if (ls->shutting_down) return NULL;
    if (!nodename_valid(node, NULL, 0)) return NULL;
    size_t len = strlen(node);
    mlink *l = calloc(1, sizeof(*l) + len + 1);
    if (!l) return NULL;
    l->ls = ls;
    memcpy(l->node, node, len + 1);
    l->conn_mem = malloc(conn_alloc_size(node)); /* may be NULL: allocated when needed */
    uv_timer_init(ls->loop, &l->retry_timer);
    l->retry_timer.data = l;
    l->next = ls->head;
    if (ls->head) ls->head->prev = l;
    ls->head = l;
    /* Connect on the loop's next turn rather than now: when discovery adds
     * thousands of members at once, their connect jobs (≈ 700 bytes each,
     * freed once connected) are then allocated after all the links rather
     * than between them, and leave one free stretch of heap instead of a
     * hole next to every link (half of each page, at 5,000 members). */
    l->state = LINK_CONNECTING;
    uv_timer_start(&l->retry_timer, link_first_connect_cb, 0, 0);
    return l;
}

void links_retry_now(mlink *l)
{
    if (l->state != LINK_BACKOFF) return;
    uv_timer_stop(&l->retry_timer);
    link_start_connect(l);
}

static void link_freed_cb(uv_handle_t *h)
{
    mlink *l = h->data;
    free(l->last_error);
    free(l->conn_mem);
    free(l);
}

void links_remove(links *ls, mlink *l)
{
    if (!l) return;
    l->state = LINK_STOPPED;
    if (l->job) l->job->l = NULL;
    link_fail_rpcs(l, "link removed");
    /* Stop the forwarder explicitly rather than leave it to notice the
     * closed connection: a one-shot command (form) exits right after. */
    if (l->c && l->has_forwarder) forwarder_send(l, "clusterd_stop");
    if (l->c) conn_close(l->c, "member removed");
    if (l->prev)
        l->prev->next = l->next;
    else
        ls->head = l->next;
    if (l->next) l->next->prev = l->prev;
    uv_timer_stop(&l->retry_timer);
    uv_close((uv_handle_t *)&l->retry_timer, link_freed_cb);
}

/* ---- accepting ---- */

static void accepted_closed(conn *c, const char *reason, void *arg)
{
    links *ls = arg;
    for (accepted **pp = &ls->acc; *pp; pp = &(*pp)->next) {
        if ((*pp)->c == c) {
            accepted *a = *pp;
            *pp = a->next;
            free(a);
            break;
        }
    }
    log_event(LOG_LEVEL_DEBUG, "incoming connection closed", "node", c->peer, "reason", reason,
              LOG_END);
}

static void accept_work(uv_work_t *req)
{
    accept_job *job = req->data;
    links *ls = job->ls;
    transport_thread_prepare(transport_now_ms() + ls->s.connect_timeout_ms, NULL, 0, job->fd);
    ErlConnect con;
    memset(&con, 0, sizeof(con));
    job->result = ei_accept_tmo(&ls->cn->ec, ls->cn->listen_fd, &con, ls->s.connect_timeout_ms);
    if (job->result < 0) {
        snprintf(job->err, sizeof(job->err), "handshake failed (%s)", strerror(erl_errno));
        return;
    }
    job->result = transport_detach(job->result, job->err, sizeof(job->err));
    if (job->result < 0) return;
    snprintf(job->peer, sizeof(job->peer), "%.255s", con.nodename);
}

static void accept_done(uv_work_t *req, int status)
{
    accept_job *job = req->data;
    links *ls = job->ls;
    ls->accepts_in_flight--;
    if (status != 0 || job->result < 0) {
        log_event(LOG_LEVEL_INFO, "rejected an incoming connection", "reason",
                  status != 0 ? "cancelled" : job->err, LOG_END);
        free(job);
        return;
    }
    if (ls->shutting_down) {
        transport_close(job->result);
        free(job);
        return;
    }
    mlink *l = links_find(ls, job->peer);
    if (l && l->state != LINK_UP && l->state != LINK_STOPPED) {
        conn *c =
            links_conn_open(ls, NULL, job->result, job->peer, link_conn_msg, link_conn_closed, l);
        if (c)
            link_adopt(l, c);
        else
            transport_close(job->result);
        free(job);
        return;
    }
    accepted *a = calloc(1, sizeof(*a));
    conn *c = a ? links_conn_open(ls, NULL, job->result, job->peer, accepted_conn_msg,
                                  accepted_closed, ls)
                : NULL;
    if (!c) {
        free(a);
        transport_close(job->result);
    } else {
        a->c = c;
        a->next = ls->acc;
        ls->acc = a;
        log_event(LOG_LEVEL_DEBUG, "incoming connection", "node", job->peer, LOG_END);
    }
    free(job);
}

static void listen_cb(uv_poll_t *h, int status, int events)
{
    (void)events;
    links *ls = h->data;
    if (status < 0 || ls->shutting_down) return;
    for (;;) {
        int fd = accept4(ls->cn->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR) continue;
            return; /* EAGAIN, or a transient error such as EMFILE */
        }
        /* Bound the handshakes a flood can start: each holds a worker of
         * the pool (16) for up to connect_timeout, and connects and EPMD
         * polls need workers too, so strangers get a quarter of it. */
        if (ls->accepts_in_flight >= LINKS_MAX_ACCEPTS_IN_FLIGHT) {
            close(fd);
            continue;
        }
        accept_job *job = calloc(1, sizeof(*job));
        if (!job) {
            close(fd);
            continue;
        }
        job->req.data = job;
        job->ls = ls;
        job->fd = fd;
        ls->accepts_in_flight++;
        if (uv_queue_work(ls->loop, &job->req, accept_work, accept_done) != 0) {
            ls->accepts_in_flight--;
            close(fd);
            free(job);
        }
    }
}

static void housekeeping_cb(uv_timer_t *t)
{
    links *ls = t->data;
    uint64_t now = transport_now_ms();
    for (mlink *l = ls->head; l; l = l->next)
        if (l->c) conn_tick(l->c, now);
    for (accepted *a = ls->acc, *next; a; a = next) {
        next = a->next;
        conn_tick(a->c, now);
    }
}

int links_accept_start(links *ls)
{
    if (ls->cn->listen_fd < 0) return -1;
    /* the listening socket must be non-blocking for accept4 on the loop */
    if (uv_poll_init(ls->loop, &ls->listen_poll, ls->cn->listen_fd) != 0) return -1;
    ls->listen_poll.data = ls;
    ls->listening = true;
    uv_poll_start(&ls->listen_poll, UV_READABLE, listen_cb);
    return 0;
}

void links_shutdown(links *ls)
{
    ls->shutting_down = true;
    while (ls->head)
        links_remove(ls, ls->head);
    while (ls->acc)
        conn_close(ls->acc->c, "shutting down"); /* accepted_closed unlinks */
    if (ls->listening) {
        uv_poll_stop(&ls->listen_poll);
        uv_close((uv_handle_t *)&ls->listen_poll, NULL);
        ls->listening = false;
    }
    uv_timer_stop(&ls->housekeeping);
    uv_close((uv_handle_t *)&ls->housekeeping, NULL);
}

void links_free(links *ls)
{
    free(ls);
}
