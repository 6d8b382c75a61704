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
    char reason[256];   /* why it failed (empty when ok) */
    char **members;     /* full node names, sorted, no duplicates */
    size_t n_members;
    char **evidence;    /* human lines: what the source answered and why */
    size_t n_evidence;
    size_t n_partial;   /* sources that failed inside an ok round (e.g. one host of many) */
} discovery_result;

void discovery_result_init(discovery_result *r);
/* Adds a member name (copied) unless it is already there or not a valid node name;
 * returns 0 when added or present, -1 when rejected (and adds an evidence line). */
int discovery_result_add_member(discovery_result *r, const char *node);
void discovery_result_add_evidence(discovery_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void discovery_result_fail(discovery_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Sorts members; call before reporting. */
void discovery_result_finish(discovery_result *r);
void discovery_result_free(discovery_result *r);

struct discovery;
typedef void (*discovery_report_fn)(struct discovery *d, const discovery_result *r);
typedef void (*discovery_closed_fn)(struct discovery *d);

typedef struct strategy_ops {
    const char *module; /* libcluster's name, e.g. "Cluster.Strategy.Epmd" */
    const char *alias;  /* clusterd's short name, e.g. "epmd" */
    const opt_spec *options; /* the strategy's `config:` table */
    size_t n_options;
    /* Starts rounds: the first one at once, then as the strategy sees fit
     * (its polling interval, TTLs, watch events). Returns 0 or -1 with err. */
    int (*start)(struct discovery *d, char *err, size_t errlen);
    /* Stops: closes handles; must call discovery_closed(d) once everything
     * (handles, queued work) has finished. */
    void (*stop)(struct discovery *d);
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
    void *state;                /* the strategy's own */
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

#endif
