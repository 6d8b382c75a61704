/* discovery: the one small interface every strategy implements, and the table
 * that looks strategies up by libcluster module name or alias. Nothing outside
 * a strategy knows which strategy runs.
 *
 * A strategy reports, per round, a *complete* member set with a verdict. A
 * failed verdict never shrinks anything (fail static): the coordinator keeps
 * the last good set. Strategies run on the libuv loop and never block it;
 * blocking work (EPMD queries) goes through uv_queue_work. */
#ifndef CLUSTERD_DISCOVERY_H
#define CLUSTERD_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "config.h"
#include "opts.h"

typedef enum { DISCOVERY_OK, DISCOVERY_FAILED } discovery_verdict;

/* One round's answer. Strings are owned by the result. */
typedef struct discovery_result {
    discovery_verdict verdict;
    char reason[256]; /* why it failed (empty when ok) */
    char **members;   /* full node names, sorted, no duplicates */
    size_t n_members;
    char **evidence; /* human lines: what the source answered and why */
    size_t n_evidence;
    size_t n_partial; /* sources that failed inside an ok round (e.g. one host of many) */
    /* Nodes on their way out (a terminating Kubernetes pod): never in members
     * (discovery_result_finish drops a leaving name that is also a member).
     * A current member listed here is dropped from the topology without being
     * disconnected (its own shutdown closes its links, and applications need
     * them for hand-off); a node listed here is never newly connected. */
    char **leaving;
    size_t n_leaving;
} discovery_result;

void discovery_result_init(discovery_result *r);
/* Adds a member name (copied) unless it is already there or not a valid node name;
 * returns 0 when added or present, -1 when rejected (and adds an evidence line). */
int discovery_result_add_member(discovery_result *r, const char *node);
/* Adds a leaving node (see above); same validation as add_member. */
int discovery_result_add_leaving(discovery_result *r, const char *node);
/* True if node is in r's (finished, sorted) leaving list. */
bool discovery_result_is_leaving(const discovery_result *r, const char *node);
void discovery_result_add_evidence(discovery_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void discovery_result_fail(discovery_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Copies src into dst (whose old content, if any, the caller has freed):
 * members, leaving, evidence, verdict, reason and failed sources, finished.
 * For keeping a report beyond its callback. */
void discovery_result_copy(discovery_result *dst, const discovery_result *src);
/* Sorts members; call before reporting. */
void discovery_result_finish(discovery_result *r);
void discovery_result_free(discovery_result *r);

struct discovery;
typedef void (*discovery_report_fn)(struct discovery *d, const discovery_result *r);
typedef void (*discovery_closed_fn)(struct discovery *d);

typedef struct strategy_ops {
    const char *module;      /* libcluster's name, e.g. "Cluster.Strategy.Epmd" */
    const char *alias;       /* clusterd's short name, e.g. "epmd" */
    const opt_spec *options; /* the strategy's `config:` table */
    size_t n_options;
    /* Starts rounds: the first one at once, then as the strategy sees fit
     * (its polling interval, TTLs, watch events). Returns 0 or -1 with err. */
    int (*start)(struct discovery *d, char *err, size_t errlen);
    /* Stops: closes handles; must call discovery_closed(d) once everything
     * (handles, queued work) has finished. */
    void (*stop)(struct discovery *d);
    /* Optional (NULL: none): checks the filled `config:` table beyond what the
     * table's types and bounds say (e.g. node names in a list), for `clusterd
     * check`. Returns 0, or -1 with one message in err. */
    int (*validate)(const opt_values *ov, char *err, size_t errlen);
} strategy_ops;

typedef struct discovery {
    uv_loop_t *loop;
    const config_topology *topology;
    const config *cfg;
    discovery_report_fn report; /* called on the loop for every round */
    discovery_closed_fn closed; /* called once after stop completes */
    void *owner;                /* the caller's context */
    bool once;                  /* CLI `discover`: one round, no timers */
    bool stopping;
    void *state; /* the strategy's own */
} discovery;

/* The strategy table. */
const strategy_ops *discovery_find_strategy(const char *name);
const strategy_ops *const *discovery_strategies(size_t *count);

/* Starts d->topology's strategy; d's loop, topology, cfg, report, owner and once must be set. */
int discovery_start(discovery *d, char *err, size_t errlen);
/* Stops; d->closed (if set) runs when it is safe to free d. */
void discovery_stop(discovery *d);
/* For strategies: signals that stop has completed. */
void discovery_closed(discovery *d);

/* Limits of one result: a round with more members fails (a truncated set is
 * not a complete one); evidence beyond the cap is dropped with a note. */
#define DISCOVERY_MAX_MEMBERS 100000
#define DISCOVERY_MAX_EVIDENCE 1000

/* The poller, shared by polling strategies: runs `round` at once, then every
 * interval_ms after the previous round finished (never overlapping), or once
 * when interval_ms is 0 or d->once. With in_worker, round runs on libuv's
 * thread pool and may block (EPMD queries, file reads); it may then read only
 * the immutable parts of d (topology, cfg) and its ctx, which no other thread
 * touches while a round runs. Without in_worker it runs on the loop and must
 * not block. The poller finishes each result and calls d->report on the loop
 * (the result is freed after report returns; report may call discovery_stop).
 * The poller lives in d->state and owns ctx: free_ctx(ctx) (if not NULL) runs
 * when the poller stops. Returns 0, or -1 with err (ctx is then freed too). */
typedef void (*discovery_round_fn)(const discovery *d, void *ctx, discovery_result *r);
int discovery_poller_start(discovery *d, unsigned long long interval_ms, bool in_worker,
                           discovery_round_fn round, void *ctx, void (*free_ctx)(void *ctx),
                           char *err, size_t errlen);
/* Stops the poller in d->state: closes its timer, waits for a running round
 * (a queued one is cancelled), frees ctx, then calls discovery_closed(d). */
void discovery_poller_stop(discovery *d);

/* ErlangHosts' .hosts.erlang parser (discovery/erlang_hosts.c), shared with
 * tests and `clusterd check`: text holds Erlang terms, each a host name as an
 * atom followed by '.', with %-comments. On success *hosts is a malloc'd array
 * of n malloc'd strings in file order (the caller frees both); on error
 * returns -1 with "label:line: message" in err and nothing allocated. */
int erlang_hosts_parse(const char *text, size_t len, const char *label, char ***hosts, size_t *n,
                       char *err, size_t errlen);

#endif
