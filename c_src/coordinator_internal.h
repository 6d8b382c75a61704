/* coordinator_internal: the coordinator's state, shared by its modules and by
 * nothing else (users include coordinator.h).
 *   coordinator.c           core: reconcile, scheduling, link events, lifecycle
 *   coordinator_member.c    member table and per-pair backoff state
 *   coordinator_action.c    planned actions as RPCs, their replies, history ring
 *   coordinator_topology.c  discovery reports per topology, generations, SIGHUP
 *   coordinator_status.c    the state snapshot as JSON, status requests
 *   coordinator_metrics.c   the snapshot as Prometheus text for the HTTP
 *                           endpoint, readiness, reconcile-duration histogram
 * Everything runs on the coordinator's one libuv loop: no locking (the HTTP
 * thread sees only what coordinator_metrics.c publishes to http.c). */
#ifndef CLUSTERD_COORDINATOR_INTERNAL_H
#define CLUSTERD_COORDINATOR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include <uv.h>

#include "coordinator.h"
#include "discovery.h"
#include "links.h"
#include "mesh.h"
#include "namepool.h"
#include "nodename.h"

#define ACTION_HISTORY 32    /* recent actions kept for status */
#define RECONCILE_DELAY_MS 2 /* batch a burst of node events into one plan */
#define CONNECT_WINDOW 64    /* connect RPCs in flight at most (cold-start memory) */
#define TRIM_TARGETS 256     /* an action this large ended: give the heap back once idle */
#define RECONCILE_BUCKETS 12 /* reconcile-duration histogram bounds, see coordinator_metrics.c */

/* Actions a member ran or runs towards one peer, and when the next may go. */
typedef struct pair_state {
    uint64_t not_before_ms; /* no new action for this pair before then */
    uint32_t peer;          /* its name's id in the coordinator's pool */
    unsigned delay_ms : 31; /* next backoff after a failure */
    unsigned in_flight : 1;
} pair_state;

/* One node some topology wants (or wanted: see gone). Owned by the
 * coordinator's member table; freed by member_delete or member_free. */
/* A member's nodes() as a bit per name id, shared by members whose views
 * are equal (copy on write): in a full mesh every member sees all others,
 * and one copy serves them all instead of n bits for each of n members
 * (5 MiB at 5,000 members). The set also holds the member's own id, so
 * that the views of a full mesh are equal; readers skip it. */
typedef struct seen_set {
    size_t refs;
    size_t words;
    uint64_t bits[];
} seen_set;

/* True if id's bit is set in s (NULL or too short: not set). */
static inline bool seen_set_has(const seen_set *s, long id)
{
    return s && id >= 0 && (size_t)id / 64 < s->words && (s->bits[id / 64] >> (id % 64)) & 1u;
}

typedef struct member {
    char *name;        /* owned */
    long self_id;      /* its own name's id in co->pool (-1: none) */
    mlink *l;          /* owned by links (links_remove); NULL when none */
    bool gone;         /* left on positive evidence; waiting until nobody sees it */
    bool has_snapshot; /* we know its nodes() */
    seen_set *seen;    /* its nodes() and self_id; NULL until the first; shared */
    size_t n_seen;     /* nodes it sees (self_id not counted) */
    pair_state *pairs; /* actions this member ran or runs, sorted by peer id; owned */
    size_t n_pairs;
    size_t cap_pairs;  /* entries allocated in pairs */
    size_t idx;        /* position during a reconcile */
    uint64_t added_ms; /* when it joined the table (monotonic) */
} member;

struct generation;

/* One topology of a generation: its discovery and its last good member set. */
typedef struct topo_state {
    coordinator *co;
    struct generation *gen;   /* the generation holding this entry */
    const config_topology *t; /* points into gen->cfg */
    discovery d;
    bool started;
    char **members; /* last good set, sorted; owned */
    size_t n_members;
    bool answered;
    bool answered_ok;     /* a successful answer came at least once (readiness) */
    bool answered_before; /* a report was handled before this one */
    bool last_ok;
    char last_error[256];
    uint64_t errors;
    uint64_t last_answer_ms;
    size_t failed_sources; /* in the last good round: sources that failed inside it */
} topo_state;

/* One entry of the action history ring (fixed size, no heap). */
typedef struct action_record {
    uint64_t wall_ms;
    char kind[12];
    char on[NODENAME_MAX + 1];
    char targets[512];
    char result[256];
    char reason[64];
} action_record;

/* One loaded configuration and the discoveries that run from it. A reload
 * makes a new generation; the old one lives on until each of its
 * discoveries has closed, since they point into its config. */
typedef struct generation {
    config *cfg;       /* owned */
    topo_state *topos; /* owned, n_topos entries; each owns its members */
    size_t n_topos;
    size_t open; /* discoveries started and not yet closed */
    bool retiring;
    struct generation *next; /* retiring generations */
} generation;

struct coordinator {
    uv_loop_t *loop;
    char *config_path;    /* for SIGHUP reloads; owned */
    generation *gen;      /* the current configuration; owned */
    generation *retiring; /* owned list, each freed once its discoveries closed */
    const config *cfg;    /* gen->cfg */
    cnode *cn;            /* borrowed */
    links *ls;            /* owned */
    topo_state *topos;    /* gen->topos */
    size_t n_topos;
    member **members; /* sorted by name; the array and each member owned */
    namepool pool;    /* every node name a member reported; ids for member->seen */
    size_t n_members;
    uv_timer_t reconcile_timer;
    uv_timer_t poll_timer;
    uv_signal_t sig_term, sig_int, sig_hup;
    bool stopping;
    bool full_mesh;
    uint64_t reconciles;
    uint64_t last_reconcile_us; /* wall time of the last planning pass */
    uint64_t max_reconcile_us;
    uint64_t heals;
    uint64_t last_arrival_ms;           /* a member's first nodes() came (monotonic) */
    uint64_t links_seen, links_missing; /* wanted pairs linked / not, at the last reconcile */
    uint64_t actions_sent;
    /* connect RPCs sent and not answered yet: a pass plans new connects only
     * while fewer than CONNECT_WINDOW are, so a cold start holds the sources,
     * output buffers and pair entries of a window, not of every member. */
    size_t connects_in_flight;
    bool trim_due; /* large actions ended: malloc_trim once none is in flight */
    /* reconcile.max_actions_per_second: a token bucket of action RPCs that
     * holds up to max(rate, 4 x members) tokens, so forming a mesh (about one
     * RPC per member, a few with retries) is never delayed while flapping
     * discovery is. */
    double action_tokens;
    uint64_t action_tokens_ms;  /* monotonic time of the last refill; 0 = full */
    uint64_t actions_deferred;  /* planned actions left for a later pass */
    bool rate_limit_logged;     /* "actions rate-limited" was logged ... */
    uint64_t rate_limit_log_ms; /* ... at this time (at most once a minute) */
    uint64_t deferred_at_log;   /* actions_deferred then */
    uint64_t reconcile_hist[RECONCILE_BUCKETS + 1]; /* per bucket (not cumulative); last: +Inf */
    uint64_t reconcile_sum_us;
    uint64_t reconcile_cpu_us; /* CPU time of all planning passes (the loop's thread) */
    uint64_t reloads_ok, reloads_rejected;
    bool last_reload_ok;
    uint64_t start_wall_ms;
    struct http_server *http;              /* owned; NULL without http.listen */
    uv_timer_t metrics_timer;              /* heartbeat and refresh for the HTTP snapshot */
    uv_timer_t metrics_soon;               /* one coalesced refresh after a change */
    coordinator_full_mesh_fn on_full_mesh; /* `form`; NULL for `run` */
    void *on_full_mesh_arg;
    action_record history[ACTION_HISTORY]; /* ring; see action_history_at */
    size_t history_next;
    size_t history_count;
};

/* Wall-clock milliseconds (for humans: history, last answers). */
static inline uint64_t coordinator_wall_ms(void)
{
    struct timespec ts;
    /* wall clock: shown to humans (status, metrics), never used for a timeout */
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- coordinator.c ---- */

/* Runs a reconcile after delay_ms, unless one is due sooner; not when stopping. */
void coordinator_schedule_reconcile(coordinator *co, uint64_t delay_ms);
/* (Re)starts the safety-net poll at co->cfg's poll interval. */
void coordinator_poll_start(coordinator *co);
/* The links settings that cfg asks for. */
void coordinator_links_settings(const config *cfg, links_settings *s);

/* ---- coordinator_member.c ---- */

/* The member called name, or NULL; member_index gives its position in
 * co->members, or -1. */
member *member_find(const coordinator *co, const char *name);
ssize_t member_index(const coordinator *co, const char *name);
/* True if some current topology lists name. */
bool member_desired(const coordinator *co, const char *name);
/* True if our link is up, it has sent nodes() and the member is not gone. */
bool member_reachable(const member *m);
/* True if some current topology lists both a and b: the link a-b is wanted. */
bool members_share_topology(const coordinator *co, const char *a, const char *b);
/* Adds name to the table and starts its link. NULL when out of memory. */
member *member_add(coordinator *co, const char *name);
/* Removes m from the table, closes its link, drops every pair towards it
 * and frees it. */
void member_delete(coordinator *co, member *m);
/* Frees m and what it owns (not its link). Accepts NULL. */
void member_free(member *m);
/* Lets go of m's view (NULL afterwards). */
void member_view_release(member *m);
/* Members whose views are equal share one copy from now on (the next change
 * to one copies it). O(members x words); for the safety-net poll. */
void members_share_views(member *const *members, size_t n);
/* Replaces m's view of nodes() with nodes (names interned in pool). False
 * when that changed nothing (the view was known and the same) or out of
 * memory. */
bool member_set_seen(namepool *pool, member *m, char *const *nodes, size_t n);
/* Applies one nodeup/nodedown that m reported for peer. False when that
 * changed nothing (already so) or out of memory. Constant time: a cold start
 * brings n events to each of n members. */
bool member_seen_update(namepool *pool, member *m, const char *peer, bool up);
/* True if name is in m's nodes(). */
bool member_sees(const namepool *pool, const member *m, const char *name);
/* Fills out (m->n_seen entries, borrowed from pool) with m's nodes(),
 * sorted. */
void member_seen_names(const namepool *pool, const member *m, const char **out);
/* m's state towards peer (its name interned in pool); with create, added
 * when missing (NULL when out of memory). Owned by m. */
pair_state *pair_get(namepool *pool, member *m, const char *peer, bool create);
/* Drops m's pairs that carry nothing (no action in flight, no backoff, the
 * settle period over): a missing pair means the same, and keeping them
 * would hold one entry per linked peer for good. */
void pair_prune(member *m, uint64_t now_ms);
/* Ends the action in flight on p: after success, wait for the nodeup events
 * to settle; after a failure, back off (doubling within cfg's bounds). */
void pair_record_result(pair_state *p, bool ok, uint64_t now_ms, const config *cfg);
/* The earliest backoff or settle deadline after now_ms of a pair with no
 * action in flight, or UINT64_MAX. */
uint64_t pair_next_due_ms(const coordinator *co, uint64_t now_ms);

/* ---- coordinator_action.c ---- */

/* Sends the RPCs for one planned action (members by index in co->members),
 * grouped by the connect/disconnect MFA of the topology that wants each
 * pair. Replies update pair state and history, then schedule a reconcile. */
void action_dispatch(coordinator *co, const mesh_action *act);
/* The deadline of one action's RPC: rpc_timeout, plus 1 ms per target past
 * the first for a connect. The member runs a connect action's targets side
 * by side, but spawning and answering for thousands of them takes it time
 * that grows with their number: with a flat 5 s, a cold start of 5,000
 * members on a loaded machine saw 248 of its connect actions time out (and
 * be sent again) although every connect was made. */
unsigned action_rpc_timeout_ms(unsigned rpc_timeout_ms, mesh_action_kind kind, size_t n_targets);
/* The k-th oldest of the co->history_count recorded actions. */
const action_record *action_history_at(const coordinator *co, size_t k);

/* ---- coordinator_topology.c ---- */

/* A generation for cfg (owned from here on, also on failure); NULL when out
 * of memory. Its discoveries report to the coordinator once started. */
generation *generation_new(coordinator *co, config *cfg);
/* Starts g's discoveries. 0 or -1 with err. */
int generation_start(generation *g, char *err, size_t errlen);
/* Frees g, its topologies and its config. Accepts NULL. */
void generation_free(generation *g);
/* SIGHUP: reads co->config_path again and swaps generations. */
void coordinator_reload(coordinator *co);

/* ---- coordinator_status.c ---- */

/* links' on_request handler (arg is the coordinator): answers status calls. */
void status_answer_request(conn *c, const dist_msg *m, void *arg);

/* ---- coordinator_metrics.c ---- */

/* coordinator_http_start (coordinator.h) starts the endpoint and the
 * publishing timers. */
/* Closes the timers and stops the HTTP endpoint. */
void metrics_stop(coordinator *co);
/* Something metrics show changed: publish a fresh snapshot soon (coalesced). */
void metrics_changed(coordinator *co);
/* Records one planning pass in the reconcile-duration histogram. */
void metrics_observe_reconcile(coordinator *co, uint64_t us);

#endif
