/* links: clusterd's connections to members, one per member node, on the
 * event loop. Connects (our EPMD lookup + ei handshake) run on worker
 * threads with a total deadline, so a dead or slow node costs a worker, never
 * the loop. Failed connects retry with capped exponential backoff and jitter.
 * Over each link: RPCs correlated per request with deadlines, and a
 * forwarder started on the member that pushes its nodes() and nodeup/nodedown
 * events to us. Also accepts incoming connections (CLI `status` clients, BEAM
 * code calling us) and hands their messages to the owner. */
#ifndef CLUSTERD_LINKS_H
#define CLUSTERD_LINKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include <ei.h>

#include "cnode.h"
#include "conn.h"
#include "dial.h"

typedef struct links links;
typedef struct mlink mlink;

typedef enum { LINK_CONNECTING, LINK_UP, LINK_BACKOFF, LINK_STOPPED } link_state;

typedef struct links_settings {
    unsigned connect_timeout_ms;
    unsigned rpc_timeout_ms;
    unsigned net_ticktime_s;
    unsigned backoff_min_ms;
    unsigned backoff_max_ms;
    /* Observe only (CLI commands): start no event forwarder on members; the
     * caller asks what it needs over RPC. */
    bool no_forwarder;
} links_settings;

typedef struct links_handlers {
    /* A link came up (the forwarder is being started). */
    void (*on_up)(mlink *l, void *arg);
    /* A link went down or a connect attempt failed; reason says why. */
    void (*on_down)(mlink *l, const char *reason, void *arg);
    /* The member's full nodes() (visible nodes), in order with events. */
    void (*on_snapshot)(mlink *l, char *const *nodes, size_t n, void *arg);
    /* nodeup/nodedown seen by the member. */
    void (*on_event)(mlink *l, bool up, const char *peer, const char *reason, void *arg);
    /* A message to our registered name "clusterd" that is not forwarder
     * traffic (e.g. a status call), from a member link or an accepted conn. */
    void (*on_request)(conn *c, const dist_msg *m, void *arg);
} links_handlers;

links *links_new(uv_loop_t *loop, cnode *cn, const links_settings *s, const links_handlers *h,
                 void *arg);
/* Starts accepting on cn->listen_fd. */
int links_accept_start(links *ls);
/* Closes every link, accepted conn and handle; the loop then drains. */
void links_shutdown(links *ls);
/* Frees after the loop has drained. Accepts NULL. */
void links_free(links *ls);
void links_update_settings(links *ls, const links_settings *s);

/* Adds a member and starts connecting on the loop's next turn. Returns NULL
 * on error. */
mlink *links_add(links *ls, const char *node);
/* Closes and forgets a member (its forwarder exits with the connection). */
void links_remove(links *ls, mlink *l);
/* Retries a link in backoff now (e.g. discovery saw it again). */
void links_retry_now(mlink *l);
/* Asks every up link's forwarder for a fresh snapshot; restarts forwarders
 * that did not answer the previous request. The safety-net poll. */
void links_resync_all(links *ls);

const char *link_node(const mlink *l);
link_state link_get_state(const mlink *l);
const char *link_last_error(const mlink *l);
uint64_t link_up_since_ms(const mlink *l);
unsigned link_failures(const mlink *l);
/* What the last connect attempt saw: failure kind, port and timings. */
const dial_info *link_last_dial(const mlink *l);
void link_set_user(mlink *l, void *user);
void *link_get_user(const mlink *l);

/* RPC result: status 0 with the reply term at buf[idx] (validated), or -1
 * with a reason (timeout, link down, badrpc text). */
typedef void (*rpc_done_fn)(mlink *l, int status, const char *buf, int idx, const char *reason,
                            void *arg);
/* Calls M:F(Args) on the member through its `rex` server, where args is an
 * encoded list (no version byte). Reply or failure arrives exactly once via
 * done, within timeout_ms (0 = the configured rpc_timeout). */
int link_rpc(mlink *l, const char *mod, const char *fun, const ei_x_buff *args, unsigned timeout_ms,
             rpc_done_fn done, void *arg);

/* Counters for status and metrics. */
typedef struct links_stats {
    uint64_t rpcs_ok, rpcs_failed, rpcs_timeout;
    uint64_t connects_ok, connects_failed;
    uint64_t events;
    uint64_t resyncs_unchanged; /* poll answers "nodes() is what I reported" */
    uint64_t dropped_messages;
    uint64_t peer_answers; /* answers to members' global / net_kernel (peer_proto) */
} links_stats;
const links_stats *links_get_stats(const links *ls);

/* Sends a reply term (encoded with version byte) to a pid over conn c. */
int conn_reply(conn *c, const erlang_pid *to, const ei_x_buff *msg);

#endif
