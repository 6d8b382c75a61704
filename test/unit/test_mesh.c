/* test_mesh: the mesh planner's feature list, one test per behaviour. A small
 * simulator applies plans the way members would (CONNECT links both ways,
 * DISCONNECT unlinks, optionally with OTP 25's overlapping-partition cascade
 * and failing connects), and a naive O(n^3) reference planner pins the exact
 * greedy choice on random inputs so the word-parallel code cannot drift. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mesh.h"

/* ---- deterministic PRNG (splitmix64): failures reproduce from the seed ---- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static bool rng_pct(uint64_t *s, unsigned pct)
{
    return rng_next(s) % 100 < pct;
}

/* ---- a world: the planner's input, owned by the test ---- */

typedef struct world {
    size_t n;
    bool *reachable;
    bool *gone;
    mesh_graph desired, observed, suppressed;
    bool use_suppressed;
} world;

static void world_init(world *w, size_t n)
{
    memset(w, 0, sizeof(*w));
    w->n = n;
    w->reachable = calloc(n ? n : 1, sizeof(bool));
    w->gone = calloc(n ? n : 1, sizeof(bool));
    assert_non_null(w->reachable);
    assert_non_null(w->gone);
    for (size_t i = 0; i < n; i++)
        w->reachable[i] = true;
    assert_int_equal(mesh_graph_init(&w->desired, n), 0);
    assert_int_equal(mesh_graph_init(&w->observed, n), 0);
    assert_int_equal(mesh_graph_init(&w->suppressed, n), 0);
}

static void world_free(world *w)
{
    free(w->reachable);
    free(w->gone);
    mesh_graph_free(&w->desired);
    mesh_graph_free(&w->observed);
    mesh_graph_free(&w->suppressed);
}

static mesh_input world_input(const world *w)
{
    mesh_input in = {
        .n = w->n,
        .reachable = w->reachable,
        .desired = &w->desired,
        .observed = &w->observed,
        .gone = w->gone,
        .suppressed = w->use_suppressed ? &w->suppressed : NULL,
    };
    return in;
}

static bool is_active(const world *w, size_t i)
{
    return w->reachable[i] && !w->gone[i];
}

/* One topology: a full mesh over members[0..k). */
static void desire_mesh(world *w, const size_t *members, size_t k)
{
    for (size_t i = 0; i < k; i++)
        for (size_t j = i + 1; j < k; j++)
            mesh_graph_set_pair(&w->desired, members[i], members[j], true);
}

static void desire_all(world *w)
{
    for (size_t a = 0; a < w->n; a++)
        for (size_t b = a + 1; b < w->n; b++)
            mesh_graph_set_pair(&w->desired, a, b, true);
}

static void observe_mesh(world *w, const size_t *members, size_t k)
{
    for (size_t i = 0; i < k; i++)
        for (size_t j = i + 1; j < k; j++)
            mesh_graph_set_pair(&w->observed, members[i], members[j], true);
}

static bool linked(const mesh_graph *g, size_t a, size_t b)
{
    return mesh_graph_get(g, a, b) && mesh_graph_get(g, b, a);
}

static bool wanted(const world *w, size_t a, size_t b)
{
    return a != b && (mesh_graph_get(&w->desired, a, b) || mesh_graph_get(&w->desired, b, a));
}

static bool held_back(const world *w, size_t a, size_t b)
{
    return w->use_suppressed &&
           (mesh_graph_get(&w->suppressed, a, b) || mesh_graph_get(&w->suppressed, b, a));
}

static bool is_missing(const world *w, size_t a, size_t b)
{
    return wanted(w, a, b) && is_active(w, a) && is_active(w, b) && !linked(&w->observed, a, b);
}

static size_t count_missing(const world *w)
{
    size_t c = 0;
    for (size_t a = 0; a < w->n; a++)
        for (size_t b = a + 1; b < w->n; b++)
            c += is_missing(w, a, b);
    return c;
}

/* ---- plan checks: every property the header promises ---- */

static size_t count_kind(const mesh_plan *p, mesh_action_kind kind)
{
    size_t c = 0;
    for (size_t i = 0; i < p->n_actions; i++)
        c += p->actions[i].kind == kind;
    return c;
}

static const mesh_action *find_action(const mesh_plan *p, mesh_action_kind kind, size_t on)
{
    for (size_t i = 0; i < p->n_actions; i++)
        if (p->actions[i].kind == kind && p->actions[i].on == on) return &p->actions[i];
    return NULL;
}

static bool action_targets(const mesh_action *a, size_t t)
{
    for (size_t i = 0; i < a->n_targets; i++)
        if (a->targets[i] == t) return true;
    return false;
}

/* Checks p against w independently of how it was computed: disconnects
 * first, each actor active and acting at most once per kind, sorted targets,
 * exactly the gone nodes an actor sees, every missing unsuppressed link
 * assigned to exactly one endpoint and nothing else, n_missing exact. */
static void check_plan(const world *w, const mesh_plan *p)
{
    size_t n = w->n;
    mesh_graph assigned;
    assert_int_equal(mesh_graph_init(&assigned, n), 0);
    bool *has_conn = calloc(n ? n : 1, sizeof(bool));
    bool *has_disc = calloc(n ? n : 1, sizeof(bool));
    assert_non_null(has_conn);
    assert_non_null(has_disc);

    assert_int_equal(p->n_missing, count_missing(w));
    bool seen_connect = false;
    for (size_t i = 0; i < p->n_actions; i++) {
        const mesh_action *a = &p->actions[i];
        assert_true(a->on < n);
        assert_true(is_active(w, a->on));
        assert_true(a->n_targets > 0);
        assert_non_null(a->targets);
        for (size_t k = 1; k < a->n_targets; k++)
            assert_true(a->targets[k - 1] < a->targets[k]);
        if (a->kind == MESH_DISCONNECT) {
            assert_false(seen_connect);
            assert_false(has_disc[a->on]);
            has_disc[a->on] = true;
            size_t expect = 0;
            for (size_t x = 0; x < n; x++)
                expect +=
                    w->gone[x] && mesh_graph_get(&w->observed, a->on, x) && !held_back(w, a->on, x);
            assert_int_equal(a->n_targets, expect);
            for (size_t k = 0; k < a->n_targets; k++) {
                size_t x = a->targets[k];
                assert_true(x < n);
                assert_true(w->gone[x]);
                assert_true(mesh_graph_get(&w->observed, a->on, x));
                assert_false(held_back(w, a->on, x));
            }
        } else {
            assert_int_equal(a->kind, MESH_CONNECT);
            seen_connect = true;
            assert_false(has_conn[a->on]);
            has_conn[a->on] = true;
            for (size_t k = 0; k < a->n_targets; k++) {
                size_t t = a->targets[k];
                assert_true(t < n);
                assert_true(is_missing(w, a->on, t));
                assert_false(held_back(w, a->on, t));
                assert_false(mesh_graph_get(&assigned, a->on, t)); /* never twice */
                mesh_graph_set_pair(&assigned, a->on, t, true);
            }
        }
    }
    for (size_t a = 0; a < n; a++) {
        bool sees_gone = false;
        for (size_t x = 0; x < n; x++)
            sees_gone |= w->gone[x] && mesh_graph_get(&w->observed, a, x) && !held_back(w, a, x);
        assert_int_equal(has_disc[a], is_active(w, a) && sees_gone);
        for (size_t b = a + 1; b < n; b++) {
            bool due = is_missing(w, a, b) && !held_back(w, a, b);
            assert_int_equal(mesh_graph_get(&assigned, a, b), due);
        }
    }
    free(has_conn);
    free(has_disc);
    mesh_graph_free(&assigned);
}

static void plan_checked(const world *w, mesh_plan *p)
{
    mesh_input in = world_input(w);
    assert_int_equal(mesh_plan_actions(&in, p), 0);
    check_plan(w, p);
}

/* Plans and checks w, which must need nothing: no action, nothing missing. */
static void assert_nothing_to_do(const world *w)
{
    mesh_plan p;
    plan_checked(w, &p);
    assert_int_equal(p.n_actions, 0);
    assert_int_equal(p.n_missing, 0);
    mesh_plan_free(&p);
}

/* ---- the simulator: what members do with a plan ---- */

typedef struct sim_opts {
    /* OTP 25 prevent_overlapping_partitions, pessimistically: when a
     * disconnects x, a also loses every node that still sees x. */
    bool cascade;
    /* connects to a target fail with this probability; failed pairs are
     * recorded in failed (if set) so the caller can suppress them. */
    unsigned fail_pct;
    uint64_t *rng;
    mesh_graph *failed;
} sim_opts;

static void sim_disconnect(world *w, size_t a, size_t x, bool cascade)
{
    if (cascade) {
        for (size_t y = 0; y < w->n; y++) {
            if (y == a || y == x) continue;
            if (mesh_graph_get(&w->observed, y, x) || mesh_graph_get(&w->observed, x, y))
                mesh_graph_set_pair(&w->observed, a, y, false);
        }
    }
    mesh_graph_set_pair(&w->observed, a, x, false);
}

static void sim_apply(world *w, const mesh_plan *p, const sim_opts *o)
{
    for (size_t i = 0; i < p->n_actions; i++) {
        const mesh_action *a = &p->actions[i];
        for (size_t k = 0; k < a->n_targets; k++) {
            size_t t = a->targets[k];
            if (a->kind == MESH_DISCONNECT) {
                sim_disconnect(w, a->on, t, o && o->cascade);
            } else if (o && o->fail_pct && rng_pct(o->rng, o->fail_pct)) {
                if (o->failed) mesh_graph_set_pair(o->failed, a->on, t, true);
            } else {
                mesh_graph_set_pair(&w->observed, a->on, t, true);
            }
        }
    }
}

/* Plans, checks and applies one round; returns the number of actions. */
static size_t sim_round(world *w, const sim_opts *o)
{
    mesh_plan p;
    plan_checked(w, &p);
    sim_apply(w, &p, o);
    size_t k = p.n_actions;
    mesh_plan_free(&p);
    return k;
}

/* Every desired pair of active nodes is linked both ways (except held-back
 * pairs when honour_suppressed) and no active node still sees a gone one. */
static bool converged(const world *w, bool honour_suppressed)
{
    for (size_t a = 0; a < w->n; a++) {
        if (!is_active(w, a)) continue;
        for (size_t b = 0; b < w->n; b++) {
            if (honour_suppressed && held_back(w, a, b)) continue;
            if (w->gone[b] && mesh_graph_get(&w->observed, a, b)) return false;
            if (!is_active(w, b) || !wanted(w, a, b)) continue;
            if (!linked(&w->observed, a, b)) return false;
        }
    }
    return true;
}

/* ---- naive reference planner: the greedy spelled out in O(n^3) ---- */

static void ref_plan(const world *w, mesh_plan *p)
{
    size_t n = w->n;
    p->actions = calloc(2 * n + 1, sizeof(mesh_action));
    p->n_actions = 0;
    p->n_missing = count_missing(w);
    assert_non_null(p->actions);
    for (size_t a = 0; a < n; a++) {
        if (!is_active(w, a)) continue;
        size_t *t = malloc((n + 1) * sizeof(size_t)), k = 0;
        assert_non_null(t);
        for (size_t x = 0; x < n; x++)
            if (w->gone[x] && mesh_graph_get(&w->observed, a, x) && !held_back(w, a, x)) t[k++] = x;
        if (k == 0) {
            free(t);
            continue;
        }
        p->actions[p->n_actions++] = (mesh_action){MESH_DISCONNECT, a, t, k};
    }
    mesh_graph work;
    assert_int_equal(mesh_graph_init(&work, n), 0);
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b < n; b++)
            if (is_missing(w, a, b) && !held_back(w, a, b)) mesh_graph_set(&work, a, b, true);
    /* the cover: greedy by uncovered degree, lowest index on ties */
    bool *cover = calloc(n + 1, sizeof(bool));
    size_t *load = calloc(n + 1, sizeof(size_t));
    assert_non_null(cover);
    assert_non_null(load);
    for (;;) {
        size_t best = 0, best_deg = 0;
        for (size_t a = 0; a < n; a++) {
            if (cover[a]) continue;
            size_t d = 0;
            for (size_t b = 0; b < n; b++)
                d += mesh_graph_get(&work, a, b) && !cover[b];
            if (d > best_deg) best_deg = d, best = a;
        }
        if (best_deg == 0) break;
        cover[best] = true;
    }
    /* the balance: each link to its only actor, or the less loaded one */
    mesh_graph assign;
    assert_int_equal(mesh_graph_init(&assign, n), 0);
    for (int pass = 0; pass < 2; pass++) /* single-actor links first */
        for (size_t a = 0; a < n; a++)
            for (size_t b = a + 1; b < n; b++) {
                if (!mesh_graph_get(&work, a, b)) continue;
                bool both = cover[a] && cover[b];
                if (both != (pass == 1)) continue;
                size_t on = both ? (load[a] <= load[b] ? a : b) : (cover[a] ? a : b);
                mesh_graph_set(&assign, on, on == a ? b : a, true);
                load[on]++;
            }
    for (int sweep = 0; sweep < 4; sweep++) { /* local repairs of the balance */
        bool moved = false;
        for (size_t a = 0; a < n; a++)
            for (size_t b = a + 1; b < n; b++) {
                if (!cover[a] || !cover[b] || !mesh_graph_get(&work, a, b)) continue;
                size_t on = mesh_graph_get(&assign, a, b) ? a : b, to = on == a ? b : a;
                if (load[on] < load[to] + 2) continue;
                mesh_graph_set(&assign, on, to, false);
                mesh_graph_set(&assign, to, on, true);
                load[on]--;
                load[to]++;
                moved = true;
            }
        if (!moved) break;
    }
    for (size_t a = 0; a < n; a++) {
        if (load[a] == 0) continue;
        size_t *t = malloc(load[a] * sizeof(size_t)), k = 0;
        assert_non_null(t);
        for (size_t b = 0; b < n; b++)
            if (mesh_graph_get(&assign, a, b)) t[k++] = b;
        p->actions[p->n_actions++] = (mesh_action){MESH_CONNECT, a, t, k};
    }
    mesh_graph_free(&assign);
    free(cover);
    free(load);
    mesh_graph_free(&work);
}

static void assert_same_plan(const mesh_plan *x, const mesh_plan *y)
{
    assert_int_equal(x->n_missing, y->n_missing);
    assert_int_equal(x->n_actions, y->n_actions);
    for (size_t i = 0; i < x->n_actions; i++) {
        const mesh_action *a = &x->actions[i], *b = &y->actions[i];
        assert_int_equal(a->kind, b->kind);
        assert_int_equal(a->on, b->on);
        assert_int_equal(a->n_targets, b->n_targets);
        assert_memory_equal(a->targets, b->targets, a->n_targets * sizeof(size_t));
    }
}

/* Naive components by repeated relaxation, for cross-checking. */
static size_t ref_partitions(const mesh_graph *g, const bool *include, size_t *comp)
{
    size_t n = g->n, k = 0;
    for (size_t a = 0; a < n; a++)
        comp[a] = SIZE_MAX;
    for (size_t s = 0; s < n; s++) {
        if (!include[s] || comp[s] != SIZE_MAX) continue;
        comp[s] = k;
        for (bool grew = true; grew;) {
            grew = false;
            for (size_t a = 0; a < n; a++) {
                if (comp[a] != k) continue;
                for (size_t b = 0; b < n; b++) {
                    if (!include[b] || comp[b] != SIZE_MAX) continue;
                    if (mesh_graph_get(g, a, b) || mesh_graph_get(g, b, a))
                        comp[b] = k, grew = true;
                }
            }
        }
        k++;
    }
    return k;
}

/* ---- graph helpers ---- */

static void test_graph_bits(void **state)
{
    (void)state;
    mesh_graph g;
    assert_int_equal(mesh_graph_init(&g, 0), 0);
    assert_false(mesh_graph_get(&g, 0, 0));
    mesh_graph_set(&g, 0, 0, true); /* out of range: ignored */
    mesh_graph_free(&g);
    mesh_graph_free(&g); /* zeroed */
    mesh_graph_free(NULL);

    assert_int_equal(mesh_graph_init(&g, 130), 0);
    const size_t probes[] = {0, 1, 63, 64, 65, 127, 128, 129};
    for (size_t i = 0; i < 8; i++) {
        for (size_t j = 0; j < 8; j++) {
            size_t a = probes[i], b = probes[j];
            assert_false(mesh_graph_get(&g, a, b));
            mesh_graph_set(&g, a, b, true);
            assert_true(mesh_graph_get(&g, a, b));
            assert_int_equal(mesh_graph_get(&g, b, a), a == b);
            mesh_graph_set(&g, a, b, false);
            assert_false(mesh_graph_get(&g, a, b));
        }
    }
    mesh_graph_set_pair(&g, 5, 100, true);
    assert_true(mesh_graph_get(&g, 5, 100) && mesh_graph_get(&g, 100, 5));
    mesh_graph_set_pair(&g, 100, 5, false);
    assert_false(mesh_graph_get(&g, 5, 100) || mesh_graph_get(&g, 100, 5));
    mesh_graph_set(&g, 130, 0, true); /* out of range: ignored, no write */
    mesh_graph_set(&g, 0, 130, true);
    assert_false(mesh_graph_get(&g, 130, 0));
    assert_false(mesh_graph_get(&g, 0, 130));
    mesh_graph_free(&g);
    assert_null(g.bits);
    assert_int_equal(g.n, 0);
}

static void test_graph_init_overflow(void **state)
{
    (void)state;
    mesh_graph g;
    errno = 0;
    assert_int_equal(mesh_graph_init(&g, SIZE_MAX), -1);
    assert_int_equal(errno, ENOMEM);
    assert_null(g.bits);
    assert_int_equal(g.n, 0);
    mesh_graph_free(&g);
}

/* ---- planner: the feature list ---- */

static void test_empty_input(void **state)
{
    (void)state;
    world w;
    world_init(&w, 0);
    mesh_plan p;
    plan_checked(&w, &p);
    assert_int_equal(p.n_actions, 0);
    assert_int_equal(p.n_missing, 0);
    assert_null(p.actions);
    mesh_plan_free(&p);
    mesh_plan_free(&p); /* zeroed */
    mesh_plan_free(NULL);
    world_free(&w);

    /* members but no topology: nothing is desired, nothing to do */
    world_init(&w, 5);
    assert_nothing_to_do(&w);
    world_free(&w);
}

static void test_full_mesh_needs_nothing(void **state)
{
    (void)state;
    world w;
    world_init(&w, 7);
    desire_all(&w);
    const size_t all[] = {0, 1, 2, 3, 4, 5, 6};
    observe_mesh(&w, all, 7);
    assert_nothing_to_do(&w);
    world_free(&w);
}

static void test_six_unconnected_one_round(void **state)
{
    (void)state;
    world w;
    world_init(&w, 6);
    desire_all(&w);
    mesh_plan p;
    plan_checked(&w, &p);
    assert_int_equal(p.n_missing, 15);
    size_t links = 0;
    for (size_t i = 0; i < p.n_actions; i++)
        links += p.actions[i].n_targets;
    assert_int_equal(links, 15);
    /* K6 needs a cover of 5 nodes: the greedy finds it, and the 15 links
     * are spread evenly over the 5 actors (3 each), not 5, 4, 3, 2, 1 */
    assert_int_equal(p.n_actions, 5);
    assert_int_equal(count_kind(&p, MESH_CONNECT), 5);
    for (size_t i = 0; i < p.n_actions; i++)
        assert_int_equal(p.actions[i].n_targets, 3);
    sim_apply(&w, &p, NULL);
    mesh_plan_free(&p);
    assert_true(converged(&w, false));
    plan_checked(&w, &p);
    assert_int_equal(p.n_actions, 0);
    mesh_plan_free(&p);
    world_free(&w);
}

static void test_star_is_one_rpc(void **state)
{
    (void)state;
    world w;
    world_init(&w, 6);
    desire_all(&w);
    const size_t rest[] = {1, 2, 3, 4, 5};
    observe_mesh(&w, rest, 5); /* node 0 just booted */
    mesh_plan p;
    plan_checked(&w, &p);
    assert_int_equal(p.n_missing, 5);
    assert_int_equal(p.n_actions, 1);
    assert_int_equal(p.actions[0].kind, MESH_CONNECT);
    assert_int_equal(p.actions[0].on, 0);
    assert_int_equal(p.actions[0].n_targets, 5);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(p.actions[0].targets[i], i + 1);
    mesh_plan_free(&p);

    /* the same star around a higher index: still one RPC, on the hub */
    world_free(&w);
    world_init(&w, 6);
    desire_all(&w);
    const size_t rest4[] = {0, 1, 2, 3, 5};
    observe_mesh(&w, rest4, 5);
    plan_checked(&w, &p);
    assert_int_equal(p.n_actions, 1);
    assert_int_equal(p.actions[0].on, 4);
    mesh_plan_free(&p);
    world_free(&w);
}

static void test_two_partitions_heal(void **state)
{
    (void)state;
    world w;
    world_init(&w, 6);
    desire_all(&w);
    const size_t left[] = {0, 1, 2}, right[] = {3, 4, 5};
    observe_mesh(&w, left, 3);
    observe_mesh(&w, right, 3);
    size_t comp[6];
    assert_int_equal(mesh_partitions(&w.observed, w.reachable, comp), 2);

    mesh_plan p;
    plan_checked(&w, &p);
    assert_int_equal(p.n_missing, 9);
    assert_true(p.n_actions <= 3);
    for (size_t i = 0; i < p.n_actions; i++) {
        const mesh_action *a = &p.actions[i];
        for (size_t k = 0; k < a->n_targets; k++)
            assert_true((a->on < 3) != (a->targets[k] < 3)); /* only cross links */
    }
    sim_apply(&w, &p, NULL);
    mesh_plan_free(&p);
    assert_true(converged(&w, false));
    assert_int_equal(mesh_partitions(&w.observed, w.reachable, comp), 1);
    world_free(&w);
}

static void test_asymmetric_observation_is_missing(void **state)
{
    (void)state;
    world w;
    world_init(&w, 2);
    desire_all(&w);
    mesh_graph_set(&w.observed, 0, 1, true); /* 0 sees 1, 1 does not see 0 */
    mesh_plan p;
    plan_checked(&w, &p);
    assert_int_equal(p.n_missing, 1);
    assert_int_equal(p.n_actions, 1);
    sim_apply(&w, &p, NULL);
    mesh_plan_free(&p);
    assert_true(linked(&w.observed, 0, 1));
    world_free(&w);
}

static void test_unreachable_never_acts_nor_targeted(void **state)
{
    (void)state;
    world w;
    world_init(&w, 5);
    desire_all(&w);
    w.reachable[0] = false; /* the node with most links would be first pick */
    w.reachable[3] = false;
    mesh_plan p;
    plan_checked(&w, &p);
    assert_int_equal(p.n_missing, 3); /* only {1,2,4} among themselves */
    for (size_t i = 0; i < p.n_actions; i++) {
        assert_true(p.actions[i].on != 0 && p.actions[i].on != 3);
        assert_false(action_targets(&p.actions[i], 0));
        assert_false(action_targets(&p.actions[i], 3));
    }
    mesh_plan_free(&p);
    world_free(&w);
}

static void test_removal_disconnects_watchers(void **state)
{
    (void)state;
    world w;
    world_init(&w, 5);
    const size_t members[] = {0, 1, 2, 3};
    desire_mesh(&w, members, 4);
    observe_mesh(&w, members, 4);
    w.gone[4] = true;
    for (size_t a = 0; a < 3; a++)
        mesh_graph_set_pair(&w.observed, a, 4, true); /* 0,1,2 still see 4; 3 does not */
    mesh_plan p;
    plan_checked(&w, &p);
    assert_int_equal(p.n_missing, 0);
    assert_int_equal(p.n_actions, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(p.actions[i].kind, MESH_DISCONNECT);
        assert_int_equal(p.actions[i].on, i);
        assert_int_equal(p.actions[i].n_targets, 1);
        assert_int_equal(p.actions[i].targets[0], 4);
    }
    assert_null(find_action(&p, MESH_DISCONNECT, 4)); /* gone nodes never act */
    sim_apply(&w, &p, NULL);
    mesh_plan_free(&p);
    assert_true(converged(&w, false));
    world_free(&w);
}

/* A disconnect in flight, settling or backing off (suppressed) is not sent
 * again on the next pass: before, a failing disconnect went out on every
 * pass. Either direction of the suppressed pair holds it back. */
static void test_removal_honours_suppressed_pairs(void **state)
{
    (void)state;
    world w;
    world_init(&w, 4);
    const size_t members[] = {0, 1, 2};
    desire_mesh(&w, members, 3);
    observe_mesh(&w, members, 3);
    w.gone[3] = true;
    mesh_graph_set_pair(&w.observed, 0, 3, true);
    mesh_graph_set_pair(&w.observed, 1, 3, true);
    w.use_suppressed = true;
    mesh_graph_set(&w.suppressed, 0, 3, true); /* 0's disconnect of 3 is in flight */
    mesh_graph_set(&w.suppressed, 3, 1, true); /* the other direction for 1 */
    mesh_plan p;
    plan_checked(&w, &p);
    assert_null(find_action(&p, MESH_DISCONNECT, 0));
    assert_null(find_action(&p, MESH_DISCONNECT, 1));
    mesh_plan_free(&p);
    /* Once 0's pair is free again, 0 (only) is asked. */
    mesh_graph_set(&w.suppressed, 0, 3, false);
    plan_checked(&w, &p);
    const mesh_action *a = find_action(&p, MESH_DISCONNECT, 0);
    assert_non_null(a);
    assert_int_equal(a->n_targets, 1);
    assert_int_equal(a->targets[0], 3);
    assert_null(find_action(&p, MESH_DISCONNECT, 1));
    mesh_plan_free(&p);
    world_free(&w);
}

static void test_removal_batches_and_orders_first(void **state)
{
    (void)state;
    /* two gone nodes seen by 0 become one RPC; a missing link still gets a
     * CONNECT, after every DISCONNECT; an unreachable gone node is cut too */
    world w;
    world_init(&w, 6);
    const size_t members[] = {0, 1, 2, 3};
    desire_mesh(&w, members, 4);
    observe_mesh(&w, members, 4);
    mesh_graph_set_pair(&w.observed, 2, 3, false);
    w.gone[4] = w.gone[5] = true;
    w.reachable[5] = false;
    mesh_graph_set_pair(&w.observed, 0, 4, true);
    mesh_graph_set_pair(&w.observed, 0, 5, true);
    mesh_graph_set(&w.observed, 1, 5, true);
    mesh_graph_set_pair(&w.observed, 4, 5, true);
    mesh_plan p;
    plan_checked(&w, &p);
    assert_int_equal(p.n_missing, 1);
    assert_int_equal(p.n_actions, 3);
    const mesh_action *d0 = find_action(&p, MESH_DISCONNECT, 0);
    assert_non_null(d0);
    assert_int_equal(d0->n_targets, 2);
    assert_int_equal(d0->targets[0], 4);
    assert_int_equal(d0->targets[1], 5);
    assert_non_null(find_action(&p, MESH_DISCONNECT, 1));
    assert_int_equal(p.actions[2].kind, MESH_CONNECT);
    assert_int_equal(p.actions[2].on, 2);
    sim_apply(&w, &p, NULL);
    mesh_plan_free(&p);
    assert_true(converged(&w, false));
    world_free(&w);
}

static void test_non_members_left_alone(void **state)
{
    (void)state;
    /* node 3 is in nobody's topology and not gone (an iex shell, say): links
     * to it are not ours to cut or make */
    world w;
    world_init(&w, 4);
    const size_t members[] = {0, 1, 2};
    desire_mesh(&w, members, 3);
    observe_mesh(&w, members, 3);
    mesh_graph_set_pair(&w.observed, 0, 3, true);
    assert_nothing_to_do(&w);
    world_free(&w);
}

static void test_self_loops_ignored(void **state)
{
    (void)state;
    /* a caller that builds "every member with every member" includes a<->a */
    world w;
    world_init(&w, 3);
    for (size_t a = 0; a < 3; a++)
        for (size_t b = 0; b < 3; b++)
            mesh_graph_set(&w.desired, a, b, true);
    mesh_plan p;
    plan_checked(&w, &p);
    assert_int_equal(p.n_missing, 3);
    for (size_t i = 0; i < p.n_actions; i++)
        assert_false(action_targets(&p.actions[i], p.actions[i].on));
    mesh_plan_free(&p);
    world_free(&w);
}

static void test_cascade_heals_within_two_rounds(void **state)
{
    (void)state;
    /* OTP 25's prevent_overlapping_partitions tears down more than asked:
     * the planner must rebuild the rest in the following round */
    for (size_t gone_seen_by = 1; gone_seen_by <= 8; gone_seen_by++) {
        world w;
        world_init(&w, 10);
        const size_t members[] = {0, 1, 2, 3, 4, 5, 6, 7};
        desire_mesh(&w, members, 8);
        observe_mesh(&w, members, 8);
        w.gone[8] = w.gone[9] = true;
        mesh_graph_set_pair(&w.observed, 8, 9, true);
        for (size_t a = 0; a < gone_seen_by; a++)
            mesh_graph_set_pair(&w.observed, members[7 - a], a % 2 ? 8 : 9, true);
        mesh_graph_set_pair(&w.observed, 1, 2, false); /* and one missing link */

        sim_opts o = {.cascade = true};
        size_t rounds = 0;
        while (!converged(&w, false) && rounds < 5) {
            sim_round(&w, &o);
            rounds++;
        }
        assert_true(converged(&w, false));
        assert_true(rounds <= 2);
        size_t comp[10];
        bool include[10] = {true, true, true, true, true, true, true, true, false, false};
        assert_int_equal(mesh_partitions(&w.observed, include, comp), 1);
        world_free(&w);
    }
}

/* Rebuilds desired as one full mesh over the member slots. */
static void desire_members(world *w, const bool *member)
{
    for (size_t a = 0; a < w->n; a++)
        for (size_t b = 0; b < w->n; b++)
            mesh_graph_set(&w->desired, a, b, a != b && member[a] && member[b]);
}

/* Random joins, leaves and clusterd losing sight of members, over many
 * rounds; fail_pct > 0 adds failing connects whose pairs are held back for a
 * round (backoff). After every round without failures the mesh is whole. */
static void run_churn(uint64_t seed, unsigned fail_pct)
{
    enum { SLOTS = 30, ROUNDS = 60, CALM = 50 };
    uint64_t rng = seed;
    world w;
    world_init(&w, SLOTS);
    w.use_suppressed = true;
    bool member[SLOTS] = {false};
    for (size_t i = 0; i < 8; i++)
        member[i] = true;
    for (size_t i = 8; i < SLOTS; i++)
        w.reachable[i] = false;
    mesh_graph failed;
    assert_int_equal(mesh_graph_init(&failed, SLOTS), 0);

    for (size_t round = 0; round < ROUNDS; round++) {
        for (size_t i = 0; i < SLOTS; i++) {
            if (member[i] && rng_pct(&rng, 8)) { /* leaves: still seen by its peers */
                member[i] = false;
                w.gone[i] = true;
            } else if (!member[i] && !w.gone[i] && rng_pct(&rng, 10)) {
                member[i] = true; /* joins knowing one seed, or nobody */
                w.reachable[i] = true;
                size_t seed_node = (size_t)(rng_next(&rng) % SLOTS);
                if (member[seed_node] && seed_node != i)
                    mesh_graph_set_pair(&w.observed, i, seed_node, true);
            } else if (member[i] && rng_pct(&rng, 5)) {
                w.reachable[i] = !w.reachable[i]; /* clusterd's link flaps */
            } else if (w.gone[i]) {
                bool seen = false;
                for (size_t a = 0; a < SLOTS; a++)
                    seen |= is_active(&w, a) && mesh_graph_get(&w.observed, a, i);
                if (!seen) { /* fully removed: the slot is free again */
                    w.gone[i] = false;
                    w.reachable[i] = false;
                    for (size_t a = 0; a < SLOTS; a++)
                        mesh_graph_set_pair(&w.observed, a, i, false);
                }
            }
        }
        desire_members(&w, member);
        bool failing = fail_pct > 0 && round < CALM;
        /* last round's failures are in backoff now */
        memcpy(w.suppressed.bits, failed.bits, (SLOTS * ((SLOTS + 63) / 64)) * sizeof(uint64_t));
        memset(failed.bits, 0, (SLOTS * ((SLOTS + 63) / 64)) * sizeof(uint64_t));
        sim_opts o = {.fail_pct = failing ? fail_pct : 0, .rng = &rng, .failed = &failed};
        sim_round(&w, &o);
        if (!failing) {
            assert_true(converged(&w, true));
            if (round > CALM) assert_true(converged(&w, false));
        }
    }
    mesh_graph_free(&failed);
    world_free(&w);
}

static void test_churn_converges_every_round(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 20; seed++)
        run_churn(seed, 0);
}

static void test_flapping_converges_after_failures_stop(void **state)
{
    (void)state;
    for (uint64_t seed = 100; seed < 110; seed++)
        run_churn(seed, 30);
}

static void test_suppressed_counted_not_planned(void **state)
{
    (void)state;
    world w;
    world_init(&w, 4);
    desire_all(&w);
    w.use_suppressed = true;
    mesh_graph_set(&w.suppressed, 0, 1, true); /* one direction is enough */
    mesh_graph_set_pair(&w.suppressed, 2, 3, true);
    mesh_plan p;
    plan_checked(&w, &p);
    assert_int_equal(p.n_missing, 6);
    size_t links = 0;
    for (size_t i = 0; i < p.n_actions; i++)
        links += p.actions[i].n_targets;
    assert_int_equal(links, 4);
    sim_apply(&w, &p, NULL);
    mesh_plan_free(&p);
    assert_true(converged(&w, true));
    assert_false(converged(&w, false));

    /* backoff over: the held pairs are planned now */
    w.use_suppressed = false;
    plan_checked(&w, &p);
    assert_int_equal(p.n_missing, 2);
    sim_apply(&w, &p, NULL);
    mesh_plan_free(&p);
    assert_true(converged(&w, false));
    world_free(&w);
}

static void test_overlapping_topologies(void **state)
{
    (void)state;
    world w;
    world_init(&w, 5);
    const size_t t1[] = {0, 1, 2}, t2[] = {2, 3, 4};
    desire_mesh(&w, t1, 3);
    desire_mesh(&w, t2, 3);
    mesh_plan p;
    plan_checked(&w, &p);
    assert_int_equal(p.n_missing, 6);
    for (size_t i = 0; i < p.n_actions; i++) {
        const mesh_action *a = &p.actions[i];
        for (size_t k = 0; k < a->n_targets; k++) {
            size_t x = a->on, y = a->targets[k];
            assert_false((x < 2 && y > 2) || (x > 2 && y < 2)); /* 0,1 never meet 3,4 */
        }
    }
    /* the cover is {2, 0, 3}: three RPCs, none with more than three targets */
    assert_int_equal(p.n_actions, 3);
    for (size_t i = 0; i < p.n_actions; i++)
        assert_true(p.actions[i].n_targets <= 3);
    sim_apply(&w, &p, NULL);
    mesh_plan_free(&p);
    assert_true(converged(&w, false));
    assert_false(mesh_graph_get(&w.observed, 0, 3));
    world_free(&w);
}

static void random_world(world *w, uint64_t *rng, size_t n)
{
    world_init(w, n);
    for (size_t i = 0; i < n; i++) {
        w->reachable[i] = rng_pct(rng, 85);
        w->gone[i] = rng_pct(rng, 10);
    }
    size_t topologies = 1 + rng_next(rng) % 3;
    unsigned density = (unsigned[]){0, 30, 70, 95, 100}[rng_next(rng) % 5];
    bool *in_topology = calloc(n ? n : 1, sizeof(bool));
    assert_non_null(in_topology);
    for (size_t t = 0; t < topologies; t++) {
        unsigned share = 30 + (unsigned)(rng_next(rng) % 71);
        for (size_t a = 0; a < n; a++)
            in_topology[a] = !w->gone[a] && rng_pct(rng, share);
        for (size_t a = 0; a < n; a++)
            for (size_t b = a + 1; b < n; b++)
                if (in_topology[a] && in_topology[b]) mesh_graph_set_pair(&w->desired, a, b, true);
    }
    free(in_topology);
    if (rng_pct(rng, 20))
        for (size_t a = 0; a < n; a++)
            mesh_graph_set(&w->desired, a, a, true);
    for (size_t a = 0; a < n; a++) {
        for (size_t b = 0; b < n; b++) {
            if (a == b) continue;
            bool p = w->gone[b] ? rng_pct(rng, 50) : rng_pct(rng, density);
            mesh_graph_set(&w->observed, a, b, p);
        }
    }
    if (rng_pct(rng, 30)) {
        w->use_suppressed = true;
        for (size_t a = 0; a < n; a++)
            for (size_t b = a + 1; b < n; b++)
                if (rng_pct(rng, 10)) mesh_graph_set(&w->suppressed, a, b, true);
    }
}

/* One random case: the plan satisfies every promise, equals the reference
 * greedy exactly, and applying it heals everything not held back. */
static void check_random_case(uint64_t *rng, size_t n)
{
    world w;
    random_world(&w, rng, n);
    mesh_plan p, ref;
    plan_checked(&w, &p);
    ref_plan(&w, &ref);
    assert_same_plan(&p, &ref);
    mesh_plan_free(&ref);

    bool *include = calloc(n ? n : 1, sizeof(bool));
    size_t *comp = calloc(n ? n : 1, sizeof(size_t)), *comp_ref = calloc(n ? n : 1, sizeof(size_t));
    assert_non_null(include);
    assert_non_null(comp);
    assert_non_null(comp_ref);
    for (size_t i = 0; i < n; i++)
        include[i] = is_active(&w, i);
    assert_int_equal(mesh_partitions(&w.observed, include, comp),
                     ref_partitions(&w.observed, include, comp_ref));
    assert_memory_equal(comp, comp_ref, n * sizeof(size_t));

    sim_apply(&w, &p, NULL);
    mesh_plan_free(&p);
    assert_true(converged(&w, true));
    plan_checked(&w, &p);
    assert_int_equal(count_kind(&p, MESH_CONNECT), 0);
    assert_int_equal(count_kind(&p, MESH_DISCONNECT), 0);
    mesh_plan_free(&p);

    assert_int_equal(mesh_partitions(&w.observed, include, comp),
                     ref_partitions(&w.observed, include, comp_ref));
    assert_memory_equal(comp, comp_ref, n * sizeof(size_t));
    free(include);
    free(comp);
    free(comp_ref);
    world_free(&w);
}

static void test_random_property(void **state)
{
    (void)state;
    uint64_t rng = 0xC1A57E4D;
    for (size_t i = 0; i < 200; i++)
        check_random_case(&rng, (size_t)(rng_next(&rng) % 41));
}

static void test_random_word_boundaries(void **state)
{
    (void)state;
    /* rows that end exactly at, just before and just after a 64-bit word */
    const size_t sizes[] = {63, 64, 65, 127, 128, 129, 200};
    uint64_t rng = 42;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        check_random_case(&rng, sizes[i]);
}

static void test_deterministic(void **state)
{
    (void)state;
    uint64_t rng1 = 7, rng2 = 7;
    for (size_t i = 0; i < 20; i++) {
        world w1, w2;
        random_world(&w1, &rng1, 37);
        random_world(&w2, &rng2, 37);
        mesh_plan a, b, c;
        plan_checked(&w1, &a);
        plan_checked(&w1, &b);
        plan_checked(&w2, &c);
        assert_same_plan(&a, &b);
        assert_same_plan(&a, &c);
        mesh_plan_free(&a);
        mesh_plan_free(&b);
        mesh_plan_free(&c);
        world_free(&w1);
        world_free(&w2);
    }
}

static void test_large_mesh(void **state)
{
    (void)state;
    enum { N = 2000 };
    uint64_t rng = 2000;
    world w;
    world_init(&w, N);
    desire_all(&w);
    for (size_t i = 0; i < N; i++) {
        w.reachable[i] = rng_pct(&rng, 98);
        w.gone[i] = i % 97 == 5;
    }
    for (size_t a = 0; a < N; a++) {
        if (w.gone[a]) {
            for (size_t b = 0; b < N; b++) {
                mesh_graph_set(&w.desired, a, b, false);
                mesh_graph_set(&w.desired, b, a, false);
            }
        }
        for (size_t b = 0; b < N; b++)
            if (a != b && rng_pct(&rng, 90)) mesh_graph_set(&w.observed, a, b, true);
    }
    mesh_input in = world_input(&w);
    mesh_plan p;
    assert_int_equal(mesh_plan_actions(&in, &p), 0);
    assert_true(p.n_missing > 0);
    assert_true(count_kind(&p, MESH_CONNECT) < N);
    sim_apply(&w, &p, NULL);
    mesh_plan_free(&p);
    assert_true(converged(&w, false));
    size_t *comp = malloc(N * sizeof(size_t));
    assert_non_null(comp);
    assert_int_equal(mesh_partitions(&w.observed, NULL, comp), 1);
    free(comp);
    world_free(&w);
}

/* A bounded window of connects (max_connects): a cold start of N members
 * with at most W connects planned per pass, each answered one pass later
 * (its pairs suppressed while in flight), converges with every member
 * getting at most one CONNECT over the whole run, and no pass plans more
 * than W. */
static void test_connect_window(void **state)
{
    (void)state;
    enum { N = 300, W = 16 };
    world w;
    world_init(&w, N);
    w.use_suppressed = true;
    desire_all(&w);
    unsigned rpcs[N] = {0};
    mesh_plan pending = {0};
    size_t rounds = 0;
    for (;;) {
        /* the previous plan is in flight: its pairs are suppressed */
        memset(w.suppressed.bits, 0, sizeof(uint64_t) * N * ((N + 63) / 64));
        for (size_t i = 0; i < pending.n_actions; i++)
            for (size_t k = 0; k < pending.actions[i].n_targets; k++)
                mesh_graph_set_pair(&w.suppressed, pending.actions[i].on,
                                    pending.actions[i].targets[k], true);
        mesh_input in = world_input(&w);
        in.max_connects = W;
        mesh_plan p;
        assert_int_equal(mesh_plan_actions(&in, &p), 0);
        assert_true(count_kind(&p, MESH_CONNECT) <= W);
        for (size_t i = 0; i < p.n_actions; i++) {
            const mesh_action *a = &p.actions[i];
            rpcs[a->on]++;
            for (size_t k = 0; k < a->n_targets; k++)
                assert_false(held_back(&w, a->on, a->targets[k]));
        }
        /* the previous plan's answers arrive: its links are made */
        sim_apply(&w, &pending, NULL);
        mesh_plan_free(&pending);
        pending = p;
        rounds++;
        assert_true(rounds < N);
        if (pending.n_actions == 0 && count_missing(&w) == 0) break;
    }
    mesh_plan_free(&pending);
    assert_true(rounds > N / W);
    size_t actors = 0;
    for (size_t i = 0; i < N; i++) {
        assert_true(rpcs[i] <= 1);
        actors += rpcs[i];
    }
    assert_int_equal(actors, N - 1); /* as one unbounded plan: a cover of K_N */
    w.use_suppressed = false;
    assert_true(converged(&w, false));

    world_free(&w);
}

/* mesh_graph_add_clique equals set_pair over every pair (word boundaries
 * included, a self-loop set before kept, none added), and mesh_count_links
 * equals a naive count over the included pairs. */
static void test_clique_and_count_links(void **state)
{
    (void)state;
    enum { N = 130 };
    uint64_t rng = 77;
    mesh_graph a, b, obs;
    assert_int_equal(mesh_graph_init(&a, N), 0);
    assert_int_equal(mesh_graph_init(&b, N), 0);
    assert_int_equal(mesh_graph_init(&obs, N), 0);
    size_t nodes[N], k = 0;
    for (size_t i = 0; i < N; i++)
        if (rng_pct(&rng, 60)) nodes[k++] = i;
    mesh_graph_set(&a, nodes[0], nodes[0], true);
    mesh_graph_set(&b, nodes[0], nodes[0], true);
    assert_int_equal(mesh_graph_add_clique(&a, nodes, k), 0);
    for (size_t i = 0; i < k; i++)
        for (size_t j = i + 1; j < k; j++)
            mesh_graph_set_pair(&b, nodes[i], nodes[j], true);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++)
            assert_int_equal(mesh_graph_get(&a, i, j), mesh_graph_get(&b, i, j));
    bool include[N];
    for (size_t i = 0; i < N; i++) {
        include[i] = rng_pct(&rng, 80);
        for (size_t j = 0; j < N; j++)
            if (rng_pct(&rng, 70)) mesh_graph_set(&obs, i, j, true);
    }
    uint64_t want_linked = 0, want_missing = 0, got_linked = 0, got_missing = 0;
    for (size_t i = 0; i < N; i++)
        for (size_t j = i + 1; j < N; j++) {
            if (!include[i] || !include[j] || !mesh_graph_get(&a, i, j)) continue;
            if (linked(&obs, i, j))
                want_linked++;
            else
                want_missing++;
        }
    mesh_count_links(&a, &obs, include, &got_linked, &got_missing);
    assert_int_equal(got_linked, want_linked);
    assert_int_equal(got_missing, want_missing);
    assert_true(want_linked > 0 && want_missing > 0);
    mesh_graph_free(&a);
    mesh_graph_free(&b);
    mesh_graph_free(&obs);
}

static void test_invalid_input(void **state)
{
    (void)state;
    world w;
    world_init(&w, 4);
    mesh_graph small;
    assert_int_equal(mesh_graph_init(&small, 3), 0);
    mesh_input in = world_input(&w);
    mesh_plan p;

    in.observed = &small;
    errno = 0;
    assert_int_equal(mesh_plan_actions(&in, &p), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(p.n_actions, 0);
    assert_null(p.actions);

    in = world_input(&w);
    in.suppressed = &small;
    assert_int_equal(mesh_plan_actions(&in, &p), -1);
    in = world_input(&w);
    in.gone = NULL;
    assert_int_equal(mesh_plan_actions(&in, &p), -1);
    in = world_input(&w);
    in.desired = NULL;
    assert_int_equal(mesh_plan_actions(&in, &p), -1);
    mesh_plan_free(&p);
    mesh_graph_free(&small);
    world_free(&w);
}

/* ---- allocation failure: -1/ENOMEM and nothing leaked ---- */

static size_t heap_in_use(void)
{
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

static size_t address_space(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (f == NULL) return 0;
    if (fscanf(f, "%lu", &pages) != 1) pages = 0;
    fclose(f);
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

#define ENOMEM_CHILD_ARG "--enomem-child"
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAS_ASAN 1
#endif
#endif
#ifndef HAS_ASAN
#define HAS_ASAN 0
#endif

/* In a child: cap the address space ever closer to what the plan needs, so
 * that each allocation in turn fails. Exit code 0 = all good. */
static int enomem_child(void)
{
    /* Every allocation from the brk heap, trimmed on every free and grown by
     * exactly what is asked: each allocation then needs fresh address space,
     * so stepping the cap a page at a time fails each one in turn. */
    mallopt(M_MMAP_THRESHOLD, 16 << 20);
    mallopt(M_TRIM_THRESHOLD, 0);
    mallopt(M_TOP_PAD, 0);
    enum { N = 1500 };
    world w;
    world_init(&w, N);
    desire_all(&w);
    for (size_t a = 0; a < N; a++)
        for (size_t b = a + 1; b < N; b++)
            mesh_graph_set_pair(&w.observed, a, b, a >= 10 || b % 7 != 0);
    w.gone[N - 1] = true; /* a DISCONNECT on everybody, and a few CONNECTs */
    mesh_input in = world_input(&w);
    size_t failures = 0, successes = 0;
    for (size_t delta = 0; delta < ((size_t)64 << 20) && successes == 0; delta += 4096) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_AS, &rl) != 0) return 10;
        size_t before = heap_in_use();
        rl.rlim_cur = address_space() + delta;
        if (setrlimit(RLIMIT_AS, &rl) != 0) return 11;
        mesh_plan p;
        errno = 0;
        int rc = mesh_plan_actions(&in, &p);
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_AS, &rl) != 0) return 12;
        if (rc == 0) {
            successes++;
            if (p.n_actions == 0) return 13;
            mesh_plan_free(&p);
        } else {
            failures++;
            if (rc != -1 || errno != ENOMEM) return 14;
            if (p.actions != NULL || p.n_actions != 0) return 15;
            if (heap_in_use() != before) return 16; /* leaked */
        }
    }
    world_free(&w);
    if (failures == 0) return 17;
    if (successes == 0) return 18;
    return 0;
}

static void test_allocation_failure(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__) || HAS_ASAN
    skip(); /* ASan reserves terabytes of shadow: RLIMIT_AS cannot be used */
#endif
    /* A fresh process: this one's heap is full of holes left by earlier
     * tests, and a hole would satisfy an allocation the cap should fail.
     * readlink, not exec of /proc/self/exe itself: under valgrind that link
     * is the tool, and only readlink is redirected to the real binary. */
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    assert_true(len > 0);
    self[len] = '\0';
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* no tcache: mallinfo2 counts cached free chunks as in use */
        char *const env[] = {"GLIBC_TUNABLES=glibc.malloc.tcache_count=0", NULL};
        execle(self, "test_mesh", ENOMEM_CHILD_ARG, (char *)NULL, env);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- partitions ---- */

static void test_partitions(void **state)
{
    (void)state;
    mesh_graph g;
    assert_int_equal(mesh_graph_init(&g, 0), 0);
    assert_int_equal(mesh_partitions(&g, NULL, NULL), 0);
    mesh_graph_free(&g);

    assert_int_equal(mesh_graph_init(&g, 6), 0);
    size_t comp[6];
    assert_int_equal(mesh_partitions(&g, NULL, comp), 6); /* all isolated */
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(comp[i], i);

    /* {1,4} {0,3} {2} and excluded 5; a one-way report links 0 and 3 */
    mesh_graph_set_pair(&g, 1, 4, true);
    mesh_graph_set(&g, 3, 0, true);
    mesh_graph_set_pair(&g, 5, 2, true); /* 5 excluded: does not bridge */
    mesh_graph_set_pair(&g, 5, 0, true);
    const bool include[6] = {true, true, true, true, true, false};
    assert_int_equal(mesh_partitions(&g, include, comp), 3);
    const size_t expect[6] = {0, 1, 2, 0, 1, SIZE_MAX};
    assert_memory_equal(comp, expect, sizeof(expect));

    /* a chain whose links point "downwards" merges into one component */
    mesh_graph_free(&g);
    assert_int_equal(mesh_graph_init(&g, 70), 0);
    for (size_t i = 69; i > 0; i--)
        mesh_graph_set(&g, i, i - 1, true);
    size_t comp70[70];
    assert_int_equal(mesh_partitions(&g, NULL, comp70), 1);
    for (size_t i = 0; i < 70; i++)
        assert_int_equal(comp70[i], 0);
    mesh_graph_free(&g);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], ENOMEM_CHILD_ARG) == 0) return enomem_child();

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_graph_bits),
        cmocka_unit_test(test_graph_init_overflow),
        cmocka_unit_test(test_empty_input),
        cmocka_unit_test(test_full_mesh_needs_nothing),
        cmocka_unit_test(test_six_unconnected_one_round),
        cmocka_unit_test(test_star_is_one_rpc),
        cmocka_unit_test(test_two_partitions_heal),
        cmocka_unit_test(test_asymmetric_observation_is_missing),
        cmocka_unit_test(test_unreachable_never_acts_nor_targeted),
        cmocka_unit_test(test_removal_disconnects_watchers),
        cmocka_unit_test(test_removal_honours_suppressed_pairs),
        cmocka_unit_test(test_removal_batches_and_orders_first),
        cmocka_unit_test(test_non_members_left_alone),
        cmocka_unit_test(test_self_loops_ignored),
        cmocka_unit_test(test_cascade_heals_within_two_rounds),
        cmocka_unit_test(test_churn_converges_every_round),
        cmocka_unit_test(test_flapping_converges_after_failures_stop),
        cmocka_unit_test(test_suppressed_counted_not_planned),
        cmocka_unit_test(test_overlapping_topologies),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_random_property),
        cmocka_unit_test(test_random_word_boundaries),
        cmocka_unit_test(test_large_mesh),
        cmocka_unit_test(test_connect_window),
        cmocka_unit_test(test_clique_and_count_links),
        cmocka_unit_test(test_invalid_input),
        cmocka_unit_test(test_allocation_failure),
        cmocka_unit_test(test_partitions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
