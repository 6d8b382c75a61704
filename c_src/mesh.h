/* mesh: the pure planner. Given the desired graph (full mesh per topology),
 * the observed graph (each member's erlang:nodes/0) and what clusterd may act
 * on, it returns the actions. No I/O: unit-tested exhaustively.
 *
 * Nodes are indices 0..n-1 into a caller-owned table. Graphs are n x n bit
 * matrices; mesh_graph_* helpers manage them. */
#ifndef CLUSTERD_MESH_H
#define CLUSTERD_MESH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mesh_graph {
    size_t n;
    uint64_t *bits; /* row-major n x n bits; owned */
} mesh_graph;

int mesh_graph_init(mesh_graph *g, size_t n);                   /* all zero; 0 or -1 (ENOMEM) */
void mesh_graph_free(mesh_graph *g);                            /* accepts NULL and zeroed */
void mesh_graph_set(mesh_graph *g, size_t a, size_t b, bool v); /* directed a->b */
bool mesh_graph_get(const mesh_graph *g, size_t a, size_t b);   /* directed a->b */
void mesh_graph_set_pair(mesh_graph *g, size_t a, size_t b, bool v); /* both directions */
/* Row a's words (node b is bit b % 64 of word b / 64), for callers that set
 * many bits of one row: a function call per bit is most of the cost of
 * filling a 5,000-node graph. a < g->n. */
uint64_t *mesh_graph_row(const mesh_graph *g, size_t a);
/* Links every pair of the k nodes (each < g->n, no self-loops): a full mesh
 * in O(k * n / 64) word operations. 0, or -1 when out of memory. */
int mesh_graph_add_clique(mesh_graph *g, const size_t *nodes, size_t k);
/* Desired pairs a < b with include[a] and include[b] (include may be NULL:
 * every node): *linked gets those observed both ways, *missing the rest.
 * Word-parallel (one transpose). 0, or -1 when out of memory (both 0). */
int mesh_count_links(const mesh_graph *desired, const mesh_graph *observed, const bool *include,
                     uint64_t *linked, uint64_t *missing);

typedef struct mesh_input {
    size_t n;
    /* reachable[i]: clusterd holds a working link to i and has a current
     * observation of its nodes(). Only reachable nodes act or are targets. */
    const bool *reachable;
    /* desired: symmetric; desired links (a<->b). */
    const mesh_graph *desired;
    /* observed: observed[a][b] = b is in a's nodes(). */
    const mesh_graph *observed;
    /* gone[i]: i left on positive evidence and is desired by no topology:
     * every reachable member that sees it should disconnect it. */
    const bool *gone;
    /* suppressed: symmetric; pairs with an action in flight or in backoff:
     * plan nothing for them this round. May be NULL. */
    const mesh_graph *suppressed;
    /* max_connects: at most this many CONNECT actions (0: no limit). When
     * the plan would need more, the lowest-numbered actors of the greedy
     * cover act and each gets every missing link it has (except to an actor
     * before it in this plan), so a member that acted has nothing left to
     * do: a bounded window of actions in flight costs no extra RPC. */
    size_t max_connects;
} mesh_input;

typedef enum { MESH_CONNECT, MESH_DISCONNECT } mesh_action_kind;

/* One RPC on member `on`: connect to (or disconnect from) every target. */
typedef struct mesh_action {
    mesh_action_kind kind;
    size_t on;
    size_t *targets; /* sorted ascending; owned by the plan */
    size_t n_targets;
} mesh_action;

typedef struct mesh_plan {
    mesh_action *actions; /* disconnects first, then connects; owned */
    size_t n_actions;
    size_t n_missing; /* desired links between reachable nodes not observed both ways */
} mesh_plan;

/* Computes the cheapest plan: a missing link a<->b (desired, both reachable,
 * not observed both ways, not suppressed) is assigned to one endpoint, chosen
 * greedily so that few members get an RPC (each chosen member gets one
 * CONNECT with all its targets). Returns 0, or -1 on allocation failure
 * (errno ENOMEM), or -1 with errno EINVAL when reachable or gone is NULL or a
 * graph's n differs from in->n. On -1, *out is left empty (nothing to free).
 * The caller frees a successful plan with mesh_plan_free. */
int mesh_plan_actions(const mesh_input *in, mesh_plan *out);
void mesh_plan_free(mesh_plan *p); /* accepts NULL and zeroed */

/* Connected components of the observed graph over the nodes with include[i]
 * (a link counts when either end reports it). comp[i] receives a component
 * number (0..k-1, numbered in order of lowest member) or SIZE_MAX when not
 * included. Returns k. comp has observed->n entries; include may be NULL
 * (every node). Never allocates, so it cannot fail. */
size_t mesh_partitions(const mesh_graph *observed, const bool *include, size_t *comp);

#endif
