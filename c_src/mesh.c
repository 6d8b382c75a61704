/* mesh: the pure planner. Owns the bit-matrix graph type, the desired-vs-
 * observed diff, the greedy choice of which member connects which link, and
 * the partition count. No I/O, no globals: every call is a function of its
 * arguments, so the coordinator can re-plan on every observation.
 *
 * Graphs are rows of 64-bit words (node b of row a is bit b % 64 of word
 * b / 64). The diff is word-parallel: a plan over n members costs
 * O(n^2 / 64) word operations (three 64x64-block transposes, masks,
 * popcounts), O(n) per member the greedy picks (at most n picks), and one
 * step per planned link to write the targets out. 5,000 members plan in
 * tens of milliseconds; a cold start with no links at all yields n^2/2
 * targets, which is the size of the answer, not of the work. */
#include "mesh.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WORD_BITS 64

/* Words per row; written so that n near SIZE_MAX cannot wrap. */
static size_t graph_stride(size_t n)
{
    return n / WORD_BITS + (n % WORD_BITS != 0);
}

static uint64_t *graph_row(const mesh_graph *g, size_t a)
{
    return g->bits + a * graph_stride(g->n);
}

static uint64_t bit_mask(size_t b)
{
    return (uint64_t)1 << (b % WORD_BITS);
}

static bool bits_test(const uint64_t *words, size_t b)
{
    return (words[b / WORD_BITS] & bit_mask(b)) != 0;
}

static void bits_set(uint64_t *words, size_t b)
{
    words[b / WORD_BITS] |= bit_mask(b);
}

static void bits_clear(uint64_t *words, size_t b)
{
    words[b / WORD_BITS] &= ~bit_mask(b);
}

/* n x stride zeroed words (n > 0), or NULL with errno = ENOMEM, also when
 * the size would overflow. */
static uint64_t *matrix_alloc(size_t n, size_t stride)
{
    if (stride > SIZE_MAX / sizeof(uint64_t) / n) {
        errno = ENOMEM;
        return NULL;
    }
    uint64_t *m = calloc(n * stride, sizeof(uint64_t));
    if (m == NULL) errno = ENOMEM;
    return m;
}

int mesh_graph_init(mesh_graph *g, size_t n)
{
    g->n = 0;
    g->bits = NULL;
    if (n == 0) return 0;
    uint64_t *bits = matrix_alloc(n, graph_stride(n));
    if (bits == NULL) return -1;
    g->n = n;
    g->bits = bits;
    return 0;
}

void mesh_graph_free(mesh_graph *g)
{
    if (g == NULL) return;
    free(g->bits);
    g->bits = NULL;
    g->n = 0;
}

/* Out-of-range indices are ignored rather than trusted: a stale index from a
 * shrunken member table must not write past the matrix. */
void mesh_graph_set(mesh_graph *g, size_t a, size_t b, bool v)
{
    if (a >= g->n || b >= g->n) return;
    if (v)
        bits_set(graph_row(g, a), b);
    else
        bits_clear(graph_row(g, a), b);
}

bool mesh_graph_get(const mesh_graph *g, size_t a, size_t b)
{
    if (a >= g->n || b >= g->n) return false;
    return bits_test(graph_row(g, a), b);
}

void mesh_graph_set_pair(mesh_graph *g, size_t a, size_t b, bool v)
{
    mesh_graph_set(g, a, b, v);
    mesh_graph_set(g, b, a, v);
}

uint64_t *mesh_graph_row(const mesh_graph *g, size_t a)
{
    return graph_row(g, a);
}

int mesh_graph_add_clique(mesh_graph *g, const size_t *nodes, size_t k)
{
    size_t stride = graph_stride(g->n);
    if (k < 2) return 0;
    uint64_t *mask = calloc(stride, sizeof(uint64_t));
    if (mask == NULL) {
        errno = ENOMEM;
        return -1;
    }
    for (size_t i = 0; i < k; i++)
        if (nodes[i] < g->n) bits_set(mask, nodes[i]);
    for (size_t i = 0; i < k; i++) {
        size_t a = nodes[i];
        if (a >= g->n) continue;
        uint64_t *row = graph_row(g, a), self = row[a / WORD_BITS] & bit_mask(a);
        for (size_t w = 0; w < stride; w++)
            row[w] |= mask[w];
        if (!self) bits_clear(row, a);
    }
    free(mask);
    return 0;
}

/* In-place transpose of a 64 x 64 bit block (row r = w[r], column c = bit c):
 * swap the off-diagonal quadrants at every scale (Hacker's Delight 7-3,
 * mirrored for least-significant-bit-first columns). */
static void block_transpose(uint64_t w[WORD_BITS])
{
    uint64_t m = 0x00000000FFFFFFFFULL;
    for (unsigned j = 32; j != 0; j >>= 1, m ^= m << j) {
        for (unsigned k = 0; k < WORD_BITS; k = ((k | j) + 1) & ~j) {
            uint64_t t = ((w[k] >> j) ^ w[k | j]) & m;
            w[k | j] ^= t;
            w[k] ^= t << j;
        }
    }
}

/* dst = transpose of the n x n matrix src, block by block so that both
 * sides are walked cache-friendly. Bits past column n stay zero. */
static void matrix_transpose(uint64_t *dst, const uint64_t *src, size_t n)
{
    size_t stride = graph_stride(n);
    uint64_t w[WORD_BITS];
    for (size_t bi = 0; bi < stride; bi++) {
        for (size_t bj = 0; bj < stride; bj++) {
            for (size_t r = 0; r < WORD_BITS; r++) {
                size_t row = bi * WORD_BITS + r;
                w[r] = row < n ? src[row * stride + bj] : 0;
            }
            block_transpose(w);
            for (size_t r = 0; r < WORD_BITS; r++) {
                size_t row = bj * WORD_BITS + r;
                if (row < n) dst[row * stride + bi] = w[r];
            }
        }
    }
}

static size_t words_popcount(const uint64_t *words, size_t stride)
{
    size_t c = 0;
    for (size_t i = 0; i < stride; i++)
        c += (size_t)__builtin_popcountll(words[i]);
    return c;
}

int mesh_count_links(const mesh_graph *desired, const mesh_graph *observed, const bool *include,
                     uint64_t *linked, uint64_t *missing)
{
    size_t n = desired->n, stride = graph_stride(n);
    *linked = *missing = 0;
    if (n == 0 || observed->n != n) return 0;
    uint64_t *obs_t = matrix_alloc(n, stride);
    uint64_t *incl = calloc(stride, sizeof(uint64_t));
    if (obs_t == NULL || incl == NULL) {
        free(obs_t);
        free(incl);
        errno = ENOMEM;
        return -1;
    }
    for (size_t a = 0; a < n; a++)
        if (include == NULL || include[a]) bits_set(incl, a);
    matrix_transpose(obs_t, observed->bits, n);
    uint64_t seen = 0, all = 0;
    for (size_t a = 0; a < n; a++) {
        if (!bits_test(incl, a)) continue;
        const uint64_t *d = graph_row(desired, a), *o = graph_row(observed, a);
        const uint64_t *ot = obs_t + a * stride;
        for (size_t i = a / WORD_BITS; i < stride; i++) {
            uint64_t above =
                i == a / WORD_BITS ? ~(((uint64_t)2 << (a % WORD_BITS)) - 1) : ~(uint64_t)0;
            uint64_t want = d[i] & incl[i] & above;
            all += (uint64_t)__builtin_popcountll(want);
            seen += (uint64_t)__builtin_popcountll(want & o[i] & ot[i]);
        }
    }
    free(obs_t);
    free(incl);
    *linked = seen;
    *missing = all - seen;
    return 0;
}

/* Writes the set bits of words (ascending) into out; returns how many. */
static size_t words_list(const uint64_t *words, size_t stride, size_t *out)
{
    size_t k = 0;
    for (size_t i = 0; i < stride; i++) {
        for (uint64_t w = words[i]; w != 0; w &= w - 1)
            out[k++] = i * WORD_BITS + (size_t)__builtin_ctzll(w);
    }
    return k;
}

void mesh_plan_free(mesh_plan *p)
{
    if (p == NULL) return;
    for (size_t i = 0; i < p->n_actions; i++)
        free(p->actions[i].targets);
    free(p->actions);
    p->actions = NULL;
    p->n_actions = 0;
    p->n_missing = 0;
}

static bool graph_fits(const mesh_graph *g, size_t n)
{
    return g != NULL && g->n == n && (n == 0 || g->bits != NULL);
}

/* Appends one action whose targets are the set bits of row; the plan owns
 * the new target array. */
static int plan_push(mesh_plan *p, mesh_action_kind kind, size_t on, const uint64_t *row,
                     size_t stride, size_t count)
{
    size_t *targets = malloc(count * sizeof(size_t));
    if (targets == NULL) {
        errno = ENOMEM;
        return -1;
    }
    mesh_action *act = &p->actions[p->n_actions++];
    act->kind = kind;
    act->on = on;
    act->targets = targets;
    act->n_targets = words_list(row, stride, targets);
    return 0;
}

/* Fills work[a] with the links a must still get: desired (either direction,
 * so an asymmetric caller cannot split a link), both ends active, not
 * observed both ways, not a self-loop. Uses scratch for transposes. Returns
 * the number of missing links (unordered pairs). */
static size_t plan_missing(const mesh_input *in, const uint64_t *active, uint64_t *work,
                           uint64_t *scratch)
{
    size_t n = in->n, stride = graph_stride(n);
    const uint64_t *obs = in->observed->bits, *des = in->desired->bits;

    /* work = observed in both directions */
    matrix_transpose(scratch, obs, n);
    for (size_t i = 0; i < n * stride; i++)
        work[i] = obs[i] & scratch[i];

    matrix_transpose(scratch, des, n);
    size_t twice = 0;
    for (size_t a = 0; a < n; a++) {
        uint64_t *w = work + a * stride;
        const uint64_t *d = des + a * stride, *dt = scratch + a * stride;
        if (!bits_test(active, a)) {
            memset(w, 0, stride * sizeof(uint64_t));
            continue;
        }
        for (size_t i = 0; i < stride; i++)
            w[i] = (d[i] | dt[i]) & active[i] & ~w[i];
        bits_clear(w, a);
        twice += words_popcount(w, stride);
    }
    return twice / 2;
}

/* Removes suppressed pairs (either direction) from work. */
static void plan_suppress(const mesh_graph *suppressed, uint64_t *work, uint64_t *scratch)
{
    size_t n = suppressed->n, stride = graph_stride(n);
    matrix_transpose(scratch, suppressed->bits, n);
    for (size_t i = 0; i < n * stride; i++)
        work[i] &= ~(suppressed->bits[i] | scratch[i]);
}

/* One DISCONNECT per active member that still sees a gone node, except the
 * pairs suppressed (an action in flight, settling or backing off): without
 * this, a disconnect that fails (or has not answered yet) was sent again on
 * every pass, a storm bounded only by the action rate limit. Either
 * direction of a suppressed pair counts, as in plan_suppress. */
static int plan_disconnects(const mesh_input *in, const uint64_t *active, const uint64_t *gone,
                            uint64_t *row, mesh_plan *out)
{
    size_t n = in->n, stride = graph_stride(n);
    for (size_t a = 0; a < n; a++) {
        if (!bits_test(active, a)) continue;
        const uint64_t *obs = graph_row(in->observed, a);
        const uint64_t *sup = in->suppressed ? graph_row(in->suppressed, a) : NULL;
        for (size_t i = 0; i < stride; i++)
            row[i] = obs[i] & gone[i] & (sup ? ~sup[i] : ~(uint64_t)0);
        for (size_t i = 0; sup && i < stride; i++)
            for (uint64_t bits = row[i]; bits; bits &= bits - 1) {
                size_t x = i * WORD_BITS + (size_t)__builtin_ctzll(bits);
                if (mesh_graph_get(in->suppressed, x, a))
                    row[i] &= ~((uint64_t)1 << (x % WORD_BITS));
            }
        size_t count = words_popcount(row, stride);
        if (count > 0 && plan_push(out, MESH_DISCONNECT, a, row, stride, count) != 0) return -1;
    }
    return 0;
}

/* Which members act: a greedy vertex cover of the work graph (the member
 * with most uncovered links, lowest index on ties, until every link has an
 * actor). Marks cover[] and leaves work intact; deg is consumed. Each pick
 * is an O(n) scan plus O(degree) updates. Stops after `limit` picks (0: no
 * limit); order[] (may be NULL) receives the picks in greedy order. Returns
 * true when every link has an actor. */
static bool plan_cover(size_t n, const uint64_t *work, size_t *deg, uint64_t *covered_row,
                       bool *cover, size_t limit, size_t *order, size_t *n_picks)
{
    size_t stride = graph_stride(n), picks = 0;
    for (;;) {
        size_t best = 0, best_deg = 0;
        for (size_t a = 0; a < n; a++) {
            if (deg[a] > best_deg) {
                best_deg = deg[a];
                best = a;
            }
        }
        if (best_deg == 0) break;
        if (limit > 0 && picks == limit) {
            *n_picks = picks;
            return false;
        }
        if (order) order[picks] = best;
        picks++;
        cover[best] = true;
        bits_set(covered_row, best);
        deg[best] = 0;
        const uint64_t *row = work + best * stride;
        for (size_t i = 0; i < stride; i++) {
            for (uint64_t w = row[i]; w != 0; w &= w - 1) {
                size_t u = i * WORD_BITS + (size_t)__builtin_ctzll(w);
                if (u < n && !cover[u]) deg[u]--;
            }
        }
    }
    *n_picks = picks;
    return true;
}

/* Assigns every missing link to one actor of the cover: to the only actor
 * among its ends, or, when both ends act, to the one with fewer targets so
 * far. A member connects its targets one after another (lists:map), so the
 * longest list sets the time a cold start takes: the cover keeps the number
 * of RPCs low, the balance keeps the lists short (a full cold start gives
 * each member about n/2 targets instead of n-1, n-2, ...). Rows of `assign`
 * receive the targets; load[a] their count. */
static void plan_assign(size_t n, const uint64_t *work, const bool *cover, uint64_t *assign,
                        size_t *load)
{
    size_t stride = graph_stride(n);
    /* Pass 0 places the links that have one actor only; pass 1 then spreads
     * the links between two actors over whichever is less loaded. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t a = 0; a < n; a++) {
            const uint64_t *row = work + a * stride;
            for (size_t i = a / WORD_BITS; i < stride; i++) {
                for (uint64_t w = row[i]; w != 0; w &= w - 1) {
                    size_t b = i * WORD_BITS + (size_t)__builtin_ctzll(w);
                    if (b <= a || b >= n) continue;
                    bool both = cover[a] && cover[b];
                    if (both != (pass == 1)) continue;
                    size_t on = both ? (load[a] <= load[b] ? a : b) : (cover[a] ? a : b);
                    bits_set(assign + on * stride, on == a ? b : a);
                    load[on]++;
                }
            }
        }
    }
    /* A few local repairs: move a shared link from a member that has two or
     * more targets than the other end. Each sweep is O(links). */
    for (int sweep = 0; sweep < 4; sweep++) {
        bool moved = false;
        for (size_t a = 0; a < n; a++) {
            if (!cover[a]) continue;
            const uint64_t *row = work + a * stride;
            for (size_t i = a / WORD_BITS; i < stride; i++) {
                for (uint64_t w = row[i]; w != 0; w &= w - 1) {
                    size_t b = i * WORD_BITS + (size_t)__builtin_ctzll(w);
                    if (b <= a || b >= n || !cover[b]) continue;
                    size_t on = bits_test(assign + a * stride, b) ? a : b, to = on == a ? b : a;
                    if (load[on] < load[to] + 2) continue;
                    bits_clear(assign + on * stride, to);
                    bits_set(assign + to * stride, on);
                    load[on]--;
                    load[to]++;
                    moved = true;
                }
            }
        }
        if (!moved) break;
    }
}

/* The window: the k greedy picks in order[] act, each with every link in
 * its work row except those to a pick before it (that one has the link). */
static int plan_window(size_t n, const uint64_t *work, const size_t *order, size_t k,
                       mesh_plan *out)
{
    size_t stride = graph_stride(n);
    uint64_t *row = calloc(stride, sizeof(uint64_t));
    uint64_t *chosen = calloc(stride, sizeof(uint64_t));
    int rc = -1;
    if (row == NULL || chosen == NULL) goto out;
    for (size_t p = 0; p < k; p++) {
        size_t a = order[p];
        const uint64_t *w = work + a * stride;
        for (size_t i = 0; i < stride; i++)
            row[i] = w[i] & ~chosen[i];
        bits_set(chosen, a);
        size_t count = words_popcount(row, stride);
        if (count > 0 && plan_push(out, MESH_CONNECT, a, row, stride, count) != 0) goto out;
    }
    rc = 0;
out:
    free(row);
    free(chosen);
    return rc;
}

/* One CONNECT per member with assigned links, in ascending member order;
 * at most max (0: no limit), see plan_window. */
static int plan_connects(size_t n, uint64_t *work, size_t *deg, uint64_t *spare_row, size_t max,
                         mesh_plan *out)
{
    size_t stride = graph_stride(n);
    bool *cover = calloc(n, sizeof(bool));
    size_t *load = calloc(n, sizeof(size_t));
    size_t *order = max > 0 ? calloc(max, sizeof(size_t)) : NULL;
    uint64_t *assign = NULL;
    int rc = -1;
    if (cover == NULL || load == NULL || (max > 0 && order == NULL)) goto out;
    memset(spare_row, 0, stride * sizeof(uint64_t));
    size_t picks = 0;
    if (!plan_cover(n, work, deg, spare_row, cover, max, order, &picks)) {
        /* more actors than the window: its picks act, the rest waits */
        rc = plan_window(n, work, order, picks, out);
        goto out;
    }
    assign = matrix_alloc(n, stride);
    if (assign == NULL) goto out;
    plan_assign(n, work, cover, assign, load);
    for (size_t a = 0; a < n; a++) {
        if (load[a] == 0) continue;
        if (plan_push(out, MESH_CONNECT, a, assign + a * stride, stride, load[a]) != 0) goto out;
    }
    rc = 0;
out:
    free(cover);
    free(load);
    free(order);
    free(assign);
    if (rc != 0) errno = ENOMEM;
    return rc;
}

int mesh_plan_actions(const mesh_input *in, mesh_plan *out)
{
    uint64_t *active = NULL, *gone = NULL, *work = NULL, *scratch = NULL;
    size_t *deg = NULL;
    int rc = -1;

    out->actions = NULL;
    out->n_actions = 0;
    out->n_missing = 0;

    size_t n = in->n, stride = graph_stride(n);
    if (n == 0) return 0;
    if (in->reachable == NULL || in->gone == NULL || !graph_fits(in->desired, n) ||
        !graph_fits(in->observed, n) ||
        (in->suppressed != NULL && !graph_fits(in->suppressed, n))) {
        errno = EINVAL;
        return -1;
    }

    active = calloc(stride, sizeof(uint64_t));
    gone = calloc(stride, sizeof(uint64_t));
    work = matrix_alloc(n, stride);
    scratch = matrix_alloc(n, stride);
    deg = calloc(n, sizeof(size_t));
    if (active == NULL || gone == NULL || work == NULL || scratch == NULL || deg == NULL) goto out;

    for (size_t a = 0; a < n; a++) {
        if (in->gone[a])
            bits_set(gone, a);
        else if (in->reachable[a])
            bits_set(active, a);
    }

    out->n_missing = plan_missing(in, active, work, scratch);
    if (in->suppressed != NULL) plan_suppress(in->suppressed, work, scratch);

    /* A member acts at most twice, one DISCONNECT and one CONNECT: size the
     * action array once so that pushing never reallocates. */
    size_t capacity = 0;
    for (size_t a = 0; a < n; a++) {
        if (!bits_test(active, a)) continue;
        deg[a] = words_popcount(work + a * stride, stride);
        const uint64_t *obs = graph_row(in->observed, a);
        bool sees_gone = false;
        for (size_t i = 0; i < stride && !sees_gone; i++)
            sees_gone = (obs[i] & gone[i]) != 0;
        capacity += (deg[a] > 0) + sees_gone;
    }
    if (capacity > 0) {
        out->actions = calloc(capacity, sizeof(mesh_action));
        if (out->actions == NULL) goto out;
    }

    /* scratch's first row is free again: reuse it for the disconnect rows */
    if (plan_disconnects(in, active, gone, scratch, out) != 0) goto out;
    if (plan_connects(n, work, deg, scratch, in->max_connects, out) != 0) goto out;
    rc = 0;

out:
    if (rc != 0) mesh_plan_free(out);
    free(active);
    free(gone);
    free(work);
    free(scratch);
    free(deg);
    if (rc != 0) errno = ENOMEM; /* every failure past validation is allocation */
    return rc;
}

/* Union-find kept inside comp itself (no allocation, so no failure path;
 * one find per observed link, O(n^2 alpha(n)) for a full mesh):
 * the smaller root always becomes the parent, hence parent[x] < x for every
 * non-root and every root is its component's lowest member. */
static size_t uf_find(size_t *parent, size_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]]; /* path halving */
        x = parent[x];
    }
    return x;
}

size_t mesh_partitions(const mesh_graph *observed, const bool *include, size_t *comp)
{
    size_t n = observed->n, stride = graph_stride(n);
    for (size_t a = 0; a < n; a++)
        comp[a] = (include == NULL || include[a]) ? a : SIZE_MAX;

    for (size_t a = 0; a < n; a++) {
        if (comp[a] == SIZE_MAX) continue;
        /* a's root only changes when this loop links it: keep it at hand
         * instead of finding it again for every neighbour */
        size_t ra = uf_find(comp, a);
        const uint64_t *row = graph_row(observed, a);
        for (size_t i = 0; i < stride; i++) {
            for (uint64_t w = row[i]; w != 0; w &= w - 1) {
                size_t b = i * WORD_BITS + (size_t)__builtin_ctzll(w);
                if (b >= n) break; /* stray bit past the last column */
                if (comp[b] == SIZE_MAX) continue;
                size_t rb = uf_find(comp, b);
                if (ra < rb) {
                    comp[rb] = ra;
                } else if (rb < ra) {
                    comp[ra] = rb;
                    ra = rb;
                }
            }
        }
    }

    /* Ascending relabel: a root gets the next number; a non-root's parent is
     * smaller, so it already holds its root's number. */
    size_t k = 0;
    for (size_t a = 0; a < n; a++) {
        if (comp[a] == SIZE_MAX) continue;
        comp[a] = comp[a] == a ? k++ : comp[comp[a]];
    }
    return k;
}
