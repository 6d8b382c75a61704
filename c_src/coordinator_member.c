/* coordinator_member: the coordinator's member table (sorted by name, each
 * member with its link and its view of nodes()) and the per-pair state that
 * spaces out actions: in flight, settling after a success, backing off after
 * a failure. See coordinator_internal.h. */
#include "coordinator_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "strv.h"
#include "transport.h"

/* After a connect succeeds, the pair waits for both nodeup events; the
 * reconcile drops it as soon as both are seen, so this is only the cap for
 * events that never come (a nodedown ends the wait at once). Loaded members
 * deliver their events late: a short fixed wait re-sent connects. */
#define SETTLE_MS 5000

static int cmp_member(const void *a, const void *b)
{
    return strcmp((*(member *const *)a)->name, (*(member *const *)b)->name);
}

member *member_find(const coordinator *co, const char *name)
{
    if (co->n_members == 0) return NULL;
    member key = {.name = (char *)name};
    member *kp = &key;
    member **m = bsearch(&kp, co->members, co->n_members, sizeof(member *), cmp_member);
    return m ? *m : NULL;
}

ssize_t member_index(const coordinator *co, const char *name)
{
    if (co->n_members == 0) return -1;
    member key = {.name = (char *)name};
    member *kp = &key;
    member **m = bsearch(&kp, co->members, co->n_members, sizeof(member *), cmp_member);
    return m ? (ssize_t)(m - co->members) : -1;
}

bool member_desired(const coordinator *co, const char *name)
{
    for (size_t t = 0; t < co->n_topos; t++)
        if (strv_contains_sorted(co->topos[t].members, co->topos[t].n_members, name)) return true;
    return false;
}

bool member_reachable(const member *m)
{
    return !m->gone && m->l && link_get_state(m->l) == LINK_UP && m->has_snapshot;
}

bool members_share_topology(const coordinator *co, const char *a, const char *b)
{
    for (size_t t = 0; t < co->n_topos; t++) {
        const topo_state *ts = &co->topos[t];
        if (strv_contains_sorted(ts->members, ts->n_members, a) &&
            strv_contains_sorted(ts->members, ts->n_members, b))
            return true;
    }
    return false;
}

/* Binary search of m's pairs by peer id: true if found, with *pos its
 * index; false with *pos the insertion point. */
static bool pair_find(const member *m, uint32_t peer, size_t *pos)
{
    size_t lo = 0, hi = m->n_pairs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->pairs[mid].peer == peer) {
            *pos = mid;
            return true;
        }
        if (m->pairs[mid].peer < peer)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return false;
}

pair_state *pair_get(namepool *pool, member *m, const char *peer, bool create)
{
    long id = create ? namepool_intern(pool, peer) : namepool_find(pool, peer);
    if (id < 0) return NULL;
    size_t i;
    if (pair_find(m, (uint32_t)id, &i)) return &m->pairs[i];
    if (!create) return NULL;
    if (m->n_pairs == m->cap_pairs) {
        size_t cap = m->cap_pairs ? m->cap_pairs * 2 : 8;
        pair_state *np = realloc(m->pairs, cap * sizeof(*np));
        if (!np) return NULL;
        m->pairs = np;
        m->cap_pairs = cap;
    }
    memmove(&m->pairs[i + 1], &m->pairs[i], (m->n_pairs - i) * sizeof(pair_state));
    pair_state *p = &m->pairs[i];
    memset(p, 0, sizeof(*p));
    p->peer = (uint32_t)id;
    m->n_pairs++;
    return p;
}

static void pair_forget(const namepool *pool, member *m, const char *peer)
{
    long id = namepool_find(pool, peer);
    size_t i;
    if (id < 0 || !pair_find(m, (uint32_t)id, &i)) return;
    memmove(&m->pairs[i], &m->pairs[i + 1], (m->n_pairs - i - 1) * sizeof(pair_state));
    m->n_pairs--;
}

void pair_prune(member *m, uint64_t now_ms)
{
    size_t k = 0;
    for (size_t i = 0; i < m->n_pairs; i++) {
        pair_state *p = &m->pairs[i];
        if (!p->in_flight && p->delay_ms == 0 && p->not_before_ms <= now_ms) continue;
        m->pairs[k++] = *p;
    }
    m->n_pairs = k;
    /* Give the room back: a member that connected thousands of peers in
     * one action would otherwise keep an entry per peer allocated for good
     * (16 bytes x n per member: hundreds of MiB at 5,000). */
    if (k == 0) {
        free(m->pairs);
        m->pairs = NULL;
        m->cap_pairs = 0;
    } else if (m->cap_pairs > 32 && k < m->cap_pairs / 4) {
        size_t cap = k * 2;
        pair_state *np = realloc(m->pairs, cap * sizeof(*np));
        if (np) {
            m->pairs = np;
            m->cap_pairs = cap;
        }
    }
}

void pair_record_result(pair_state *p, bool ok, uint64_t now_ms, const config *cfg)
{
    p->in_flight = false;
    if (ok) {
        p->delay_ms = 0;
        p->not_before_ms = now_ms + SETTLE_MS;
    } else {
        unsigned min = (unsigned)cfg->backoff_min_ms;
        unsigned max = (unsigned)cfg->backoff_max_ms;
        p->delay_ms = p->delay_ms ? (p->delay_ms * 2 > max ? max : p->delay_ms * 2) : min;
        /* +-20 % jitter, as for connects: actions that failed together
         * (a member that went away) are not retried in lockstep. */
        unsigned span = p->delay_ms / 5, r = 0;
        if (span > 0 && getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
            r = (unsigned)rand();
        p->not_before_ms = now_ms + p->delay_ms - span + (span ? r % (2 * span + 1) : 0);
    }
}

uint64_t pair_next_due_ms(const coordinator *co, uint64_t now_ms)
{
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < co->n_members; i++)
        for (size_t k = 0; k < co->members[i]->n_pairs; k++) {
            const pair_state *p = &co->members[i]->pairs[k];
            if (!p->in_flight && p->not_before_ms > now_ms && p->not_before_ms < next)
                next = p->not_before_ms;
        }
    return next;
}

static void seen_release(seen_set *s)
{
    if (s && --s->refs == 0) free(s);
}

void member_view_release(member *m)
{
    seen_release(m->seen);
    m->seen = NULL;
}

static void seen_set_bit(seen_set *s, size_t id)
{
    s->bits[id / 64] |= (uint64_t)1 << (id % 64);
}

/* Makes m's view its own (a copy when shared) with room for bit id; a new
 * view starts with the member's own id set. New words are zero. */
static int seen_own(member *m, size_t id)
{
    seen_set *s = m->seen;
    size_t need = id / 64 + 1;
    if (m->self_id >= 0 && (size_t)m->self_id / 64 + 1 > need) need = (size_t)m->self_id / 64 + 1;
    if (s && s->refs == 1 && s->words >= need) return 0;
    size_t words = s ? s->words : 4;
    while (words < need)
        words *= 2;
    seen_set *n = calloc(1, sizeof(*n) + words * sizeof(uint64_t));
    if (!n) return -1;
    n->refs = 1;
    n->words = words;
    if (s)
        memcpy(n->bits, s->bits, s->words * sizeof(uint64_t));
    else if (m->self_id >= 0)
        seen_set_bit(n, (size_t)m->self_id);
    seen_release(s);
    m->seen = n;
    return 0;
}

static bool seen_test(const member *m, size_t id)
{
    return seen_set_has(m->seen, (long)id);
}

/* Equal sets, whatever their allocated sizes (missing words are zero). */
static bool seen_equal(const seen_set *a, const seen_set *b)
{
    size_t words = a->words > b->words ? a->words : b->words;
    for (size_t w = 0; w < words; w++) {
        uint64_t x = w < a->words ? a->bits[w] : 0;
        uint64_t y = w < b->words ? b->bits[w] : 0;
        if (x != y) return false;
    }
    return true;
}

/* A hash that, like seen_equal, ignores trailing zero words. */
static uint64_t seen_hash(const seen_set *s)
{
    size_t used = s->words;
    while (used > 0 && s->bits[used - 1] == 0)
        used--;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t w = 0; w < used; w++) {
        h ^= s->bits[w];
        h *= 0x100000001b3ULL;
        h ^= h >> 29;
    }
    return h;
}

bool member_set_seen(namepool *pool, member *m, char *const *nodes, size_t n)
{
    member fresh;
    memset(&fresh, 0, sizeof(fresh));
    fresh.self_id = m->self_id;
    if (seen_own(&fresh, 0) < 0) return false;
    for (size_t i = 0; i < n; i++) {
        long id = namepool_intern(pool, nodes[i]);
        if (id < 0 || seen_own(&fresh, (size_t)id) < 0) {
            member_view_release(&fresh);
            return false;
        }
        if (id == m->self_id) continue; /* a node is never in its own nodes() */
        if (!seen_test(&fresh, (size_t)id)) fresh.n_seen++;
        seen_set_bit(fresh.seen, (size_t)id);
    }
    if (m->has_snapshot && m->seen && fresh.n_seen == m->n_seen &&
        seen_equal(fresh.seen, m->seen)) {
        /* the usual answer to the safety-net poll: nothing to re-plan */
        member_view_release(&fresh);
        return false;
    }
    seen_release(m->seen);
    m->seen = fresh.seen;
    m->n_seen = fresh.n_seen;
    m->has_snapshot = true;
    return true;
}

bool member_seen_update(namepool *pool, member *m, const char *peer, bool up)
{
    long id = up ? namepool_intern(pool, peer) : namepool_find(pool, peer);
    if (id < 0) return false; /* out of memory, or a nodedown of a name never seen */
    if (id == m->self_id) return false;
    bool present = seen_test(m, (size_t)id);
    if (up == present) return false;
    if (seen_own(m, (size_t)id) < 0) return false;
    if (up) {
        seen_set_bit(m->seen, (size_t)id);
        m->n_seen++;
    } else {
        m->seen->bits[id / 64] &= ~((uint64_t)1 << (id % 64));
        m->n_seen--;
    }
    return true;
}

bool member_sees(const namepool *pool, const member *m, const char *name)
{
    long id = namepool_find(pool, name);
    return id >= 0 && id != m->self_id && seen_test(m, (size_t)id);
}

void members_share_views(member *const *members, size_t n)
{
    if (n < 2) return;
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    seen_set **tab = calloc(cap, sizeof(*tab));
    uint64_t *hashes = calloc(cap, sizeof(*hashes));
    if (!tab || !hashes) {
        free(tab);
        free(hashes);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        member *m = members[i];
        if (!m->seen) continue;
        uint64_t h = seen_hash(m->seen);
        for (size_t k = (size_t)h & (cap - 1);; k = (k + 1) & (cap - 1)) {
            if (!tab[k]) {
                tab[k] = m->seen;
                hashes[k] = h;
                break;
            }
            if (hashes[k] == h && seen_equal(tab[k], m->seen)) {
                if (tab[k] != m->seen) {
                    tab[k]->refs++;
                    seen_release(m->seen);
                    m->seen = tab[k];
                }
                break;
            }
        }
    }
    free(tab);
    free(hashes);
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void member_seen_names(const namepool *pool, const member *m, const char **out)
{
    size_t k = 0;
    const seen_set *s = m->seen;
    for (size_t w = 0; s && w < s->words; w++)
        for (uint64_t bits = s->bits[w]; bits != 0 && k < m->n_seen; bits &= bits - 1) {
            size_t id = w * 64 + (size_t)__builtin_ctzll(bits);
            if ((long)id != m->self_id) out[k++] = namepool_name(pool, id);
        }
    qsort(out, k, sizeof(*out), cmp_cstr);
}

void member_free(member *m)
{
    if (!m) return;
    free(m->name);
    seen_release(m->seen);
    free(m->pairs);
    free(m);
}

member *member_add(coordinator *co, const char *name)
{
    member *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    m->added_ms = transport_now_ms();
    m->name = strdup(name);
    m->self_id = namepool_intern(&co->pool, name);
    member **nv = realloc(co->members, (co->n_members + 1) * sizeof(member *));
    if (!m->name || m->self_id < 0 || !nv) {
        if (nv) co->members = nv;
        member_free(m);
        return NULL;
    }
    co->members = nv;
    /* Into its place (binary search, one memmove): a sort per added member
     * made a discovery answer of n new members O(n^2 log n). */
    size_t lo = 0, hi = co->n_members;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(co->members[mid]->name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    memmove(&co->members[lo + 1], &co->members[lo], (co->n_members - lo) * sizeof(member *));
    co->members[lo] = m;
    co->n_members++;
    m->l = links_add(co->ls, name);
    if (m->l) link_set_user(m->l, m);
    return m;
}

void member_delete(coordinator *co, member *m)
{
    ssize_t i = member_index(co, m->name);
    if (i < 0) return;
    memmove(&co->members[i], &co->members[i + 1],
            (co->n_members - (size_t)i - 1) * sizeof(member *));
    co->n_members--;
    if (m->l) links_remove(co->ls, m->l);
    for (size_t k = 0; k < co->n_members; k++)
        pair_forget(&co->pool, co->members[k], m->name);
    member_free(m);
}
