/* coordinator: desired graph (discovered members, full mesh per topology)
 * against observed graph (each member's nodes()), acting only on the
 * difference. Idempotent: a restarted or second coordinator only ever asks
 * members to connect links that are missing. This file holds the core:
 * reconcile and its scheduling, link events, signals and the lifecycle; the
 * member table, actions, topologies and status live beside it (see
 * coordinator_internal.h). See coordinator.h. */
#include "coordinator.h"
#include "coordinator_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#include <unistd.h>
#endif

#include "http.h"
#include "log.h"
#include "strv.h"
#include "transport.h"

/* ---- reconcile ---- */

/* The positions in co->members of the names in v (sorted, as members are),
 * in one merge walk instead of a binary search per name; names that are no
 * member are skipped. Returns how many were written to out. */
static size_t members_indices(const coordinator *co, char *const *v, size_t n, ssize_t *out)
{
    size_t i = 0, j = 0, k = 0;
    while (i < n && j < co->n_members) {
        int c = strcmp(v[i], co->members[j]->name);
        if (c == 0) {
            out[k++] = (ssize_t)j;
            i++;
            j++;
        } else if (c < 0) {
            i++;
        } else {
            j++;
        }
    }
    return k;
}

/* Wanted pairs between members whose nodes() is known (and not gone):
 * linked (each sees the other) or missing, for /metrics. From the graphs
 * this pass built, so the metrics never walk name lists. */
static void count_links(coordinator *co, const mesh_graph *desired, const mesh_graph *observed)
{
    size_t n = co->n_members;
    bool *known = malloc((n + 1) * sizeof(bool));
    if (!known) return;
    for (size_t a = 0; a < n; a++)
        known[a] = !co->members[a]->gone && co->members[a]->has_snapshot;
    uint64_t seen, missing;
    if (mesh_count_links(desired, observed, known, &seen, &missing) == 0) {
        co->links_seen = seen;
        co->links_missing = missing;
    }
    free(known);
}

#ifdef __GLIBC__
/* Resident set in KiB (-1 when unknown), for the trim log line. */
static long resident_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = -1;
    if (!f) return -1;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = -1;
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return resident < 0 || page <= 0 ? -1 : resident * (page / 1024);
}
#endif

/* Returns the free pages inside the heap to the kernel (malloc_trim), and
 * logs VmRSS before and after at level. */
static void heap_give_back(log_level level, const char *msg)
{
#ifdef __GLIBC__
    if (!log_enabled(level)) {
        malloc_trim(0);
        return;
    }
    long before = resident_kib();
    uint64_t t0 = uv_hrtime();
    malloc_trim(0);
    uint64_t took_us = (uv_hrtime() - t0) / 1000u;
    long after = resident_kib();
    char b[24], a[24], t[24];
    snprintf(b, sizeof(b), "%ld", before);
    snprintf(a, sizeof(a), "%ld", after);
    snprintf(t, sizeof(t), "%llu", (unsigned long long)took_us);
    log_event(level, msg, "rss_kib_before", b, "rss_kib_after", a, "took_us", t, LOG_END);
#else
    (void)level;
    (void)msg;
#endif
}

static uint64_t thread_cpu_us(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

#define ARRIVAL_QUIET_MS 100 /* members still arriving: plan once none came for this long */

/* How long to hold planning because members are still arriving on their
 * first connect (0: plan now). Planning while they arrive gives a member one
 * RPC per wave; one plan over all of them gives it one. Held only while a
 * newly added member is on its first attempt (within connect_timeout) and
 * another arrived less than ARRIVAL_QUIET_MS ago. */
static uint64_t arrival_hold_ms(const coordinator *co, uint64_t now)
{
    if (now - co->last_arrival_ms >= ARRIVAL_QUIET_MS) return 0;
    uint64_t cap = (uint64_t)co->cfg->node.connect_timeout_ms;
    for (size_t i = 0; i < co->n_members; i++) {
        const member *m = co->members[i];
        if (m->gone || m->has_snapshot || !m->l || link_failures(m->l) > 0) continue;
        link_state st = link_get_state(m->l);
        if ((st == LINK_CONNECTING || st == LINK_UP) && now - m->added_ms < cap)
            return co->last_arrival_ms + ARRIVAL_QUIET_MS - now;
    }
    return 0;
}

/* Refills the action bucket for the time since the last refill and takes up
 * to `want` tokens; returns how many it took. */
static size_t action_tokens_take(coordinator *co, uint64_t now, size_t want)
{
    double rate = (double)co->cfg->max_actions_per_s;
    double burst = 4.0 * (double)co->n_members;
    double cap = rate > burst ? rate : burst;
    if (co->action_tokens_ms == 0) {
        co->action_tokens = cap;
    } else if (now > co->action_tokens_ms) {
        co->action_tokens += (double)(now - co->action_tokens_ms) * rate / 1000.0;
    }
    if (co->action_tokens > cap) co->action_tokens = cap;
    co->action_tokens_ms = now ? now : 1;
    size_t n = 0;
    while (n < want && co->action_tokens >= 1.0) {
        co->action_tokens -= 1.0;
        n++;
    }
    return n;
}

static void reconcile(coordinator *co)
{
    uint64_t hold = arrival_hold_ms(co, transport_now_ms());
    if (hold > 0) {
        coordinator_schedule_reconcile(co, hold);
        return;
    }
    /* More than half the connect window in flight: the next answer plans
     * again (every action answer schedules a pass). Refilling once half of
     * it is free makes about n / (CONNECT_WINDOW / 2) passes of O(n^2 / 64)
     * for a cold start instead of one per answer. */
    if (co->connects_in_flight >= CONNECT_WINDOW / 2) return;
    uint64_t t0 = uv_hrtime();
    uint64_t cpu0 = thread_cpu_us();
    size_t n = co->n_members;
    for (size_t i = 0; i < n; i++)
        co->members[i]->idx = i;
    mesh_graph desired = {0}, observed = {0}, suppressed = {0};
    ssize_t *idx = NULL, *by_id = NULL;
    bool *reachable = calloc(n + 1, sizeof(bool));
    bool *gone = calloc(n + 1, sizeof(bool));
    mesh_plan plan = {0};
    if (!reachable || !gone || mesh_graph_init(&desired, n) < 0 ||
        mesh_graph_init(&observed, n) < 0 || mesh_graph_init(&suppressed, n) < 0)
        goto out;

    idx = malloc((n + 1) * sizeof(ssize_t));
    if (!idx) goto out;
    for (size_t t = 0; t < co->n_topos; t++) {
        const topo_state *ts = &co->topos[t];
        size_t k = members_indices(co, ts->members, ts->n_members, idx);
        if (mesh_graph_add_clique(&desired, (const size_t *)idx, k) < 0) goto out;
    }
    /* pool id -> member index, for the views */
    size_t n_ids = co->pool.n;
    by_id = malloc((n_ids + 1) * sizeof(ssize_t));
    if (!by_id) goto out;
    for (size_t id = 0; id < n_ids; id++)
        by_id[id] = -1;
    for (size_t j = 0; j < n; j++) {
        long id = namepool_find(&co->pool, co->members[j]->name);
        if (id >= 0) by_id[id] = (ssize_t)j;
    }
    uint64_t now = transport_now_ms();
    bool any_gone = false;
    /* Members that share one view (all of a settled full mesh) have the
     * same row but for their own two bits: the row of the first of them,
     * copied, instead of n bits walked per member (n^2 per pass). */
    const seen_set *shared = NULL;
    size_t shared_row = 0;
    size_t row_words = (n + 63) / 64;
    for (size_t i = 0; i < n; i++) {
        member *m = co->members[i];
        gone[i] = m->gone;
        any_gone |= m->gone;
        reachable[i] = member_reachable(m);
        uint64_t *row = mesh_graph_row(&observed, i);
        const seen_set *seen = m->seen;
        if (seen && seen == shared) {
            memcpy(row, mesh_graph_row(&observed, shared_row), row_words * sizeof(uint64_t));
            /* that row left out its own member */
            if (seen_set_has(seen, co->members[shared_row]->self_id))
                row[shared_row / 64] |= (uint64_t)1 << (shared_row % 64);
            row[i / 64] &= ~((uint64_t)1 << (i % 64));
            continue;
        }
        if (seen && seen->refs > 1) {
            shared = seen;
            shared_row = i;
        }
        for (size_t w = 0; seen && w < seen->words; w++)
            for (uint64_t bits = seen->bits[w]; bits != 0; bits &= bits - 1) {
                size_t id = w * 64 + (size_t)__builtin_ctzll(bits);
                if (id >= n_ids || by_id[id] < 0 || (long)id == m->self_id) continue;
                size_t j = (size_t)by_id[id];
                row[j / 64] |= (uint64_t)1 << (j % 64);
            }
    }
    for (size_t i = 0; i < n; i++) {
        member *m = co->members[i];
        /* A settling pair whose wanted link is now seen both ways is done (a
         * disconnect's pair, not wanted, waits out its settle period). */
        for (size_t q = 0; q < m->n_pairs; q++) {
            pair_state *p = &m->pairs[q];
            if (p->peer >= n_ids || by_id[p->peer] < 0) continue;
            size_t j = (size_t)by_id[p->peer];
            if (!p->in_flight && p->delay_ms == 0 && mesh_graph_get(&desired, i, j) &&
                mesh_graph_get(&observed, i, j) && mesh_graph_get(&observed, j, i))
                p->not_before_ms = 0;
            else if (p->in_flight || p->not_before_ms > now)
                mesh_graph_set_pair(&suppressed, i, j, true);
        }
        pair_prune(m, now);
    }
    count_links(co, &desired, &observed);
    mesh_input in = {.n = n,
                     .reachable = reachable,
                     .desired = &desired,
                     .observed = &observed,
                     .gone = gone,
                     .suppressed = &suppressed};
    in.max_connects = CONNECT_WINDOW - co->connects_in_flight;
    if (mesh_plan_actions(&in, &plan) < 0) {
        log_errorf("reconcile: out of memory");
        goto out;
    }
    co->reconciles++;
    bool all_reachable = true;
    for (size_t i = 0; i < n; i++)
        if (!gone[i] && !reachable[i] && member_desired(co, co->members[i]->name))
            all_reachable = false;
    bool was_full = co->full_mesh;
    co->full_mesh = plan.n_missing == 0 && all_reachable && n > 0;
    if (co->full_mesh && !was_full) {
        char cnt[24];
        snprintf(cnt, sizeof(cnt), "%zu", n);
        log_event(LOG_LEVEL_INFO, "full mesh", "members", cnt, LOG_END);
    }
    size_t allowed = action_tokens_take(co, now, plan.n_actions);
    for (size_t k = 0; k < allowed; k++)
        action_dispatch(co, &plan.actions[k]);
    if (allowed < plan.n_actions) {
        /* The rest is planned again (from what is observed then) once the
         * bucket has a token: nothing is queued. */
        co->actions_deferred += plan.n_actions - allowed;
        uint64_t wait = (uint64_t)(1000.0 / (double)co->cfg->max_actions_per_s) + 1;
        coordinator_schedule_reconcile(co, wait);
        /* Said at most once a minute, with what was put off since. */
        if (!co->rate_limit_logged || now - co->rate_limit_log_ms >= 60000) {
            char rate[24], deferred[24];
            snprintf(rate, sizeof(rate), "%lld", co->cfg->max_actions_per_s);
            snprintf(deferred, sizeof(deferred), "%llu",
                     (unsigned long long)(co->actions_deferred - co->deferred_at_log));
            log_event(LOG_LEVEL_WARN, "actions rate-limited", "max_actions_per_second", rate,
                      "deferred", deferred, LOG_END);
            co->rate_limit_logged = true;
            co->rate_limit_log_ms = now;
            co->deferred_at_log = co->actions_deferred;
        }
    }

    /* Forget gone members nobody sees any more. */
    for (size_t i = n; i-- > 0;) {
        member *m = co->members[i];
        if (!m->gone) continue;
        bool seen = false;
        for (size_t j = 0; j < co->n_members && !seen; j++)
            if (co->members[j] != m && !co->members[j]->gone &&
                member_sees(&co->pool, co->members[j], m->name))
                seen = true;
        if (!seen) {
            log_event(LOG_LEVEL_INFO, "member forgotten", "node", m->name, LOG_END);
            member_delete(co, m);
        }
    }
    /* Come back when the earliest backoff or settle period ends. */
    uint64_t next = pair_next_due_ms(co, now);
    bool work_left = plan.n_missing > 0;
    /* A gone member still seen is work too (a disconnect settling or
     * backing off): without this its retry waited for the next poll. */
    for (size_t i = 0; any_gone && i < n && !work_left && next != UINT64_MAX; i++)
        for (size_t j = 0; j < n && !work_left; j++)
            work_left = !gone[i] && gone[j] && mesh_graph_get(&observed, i, j);
    if (next != UINT64_MAX && work_left) coordinator_schedule_reconcile(co, next - now + 1);
    if (co->on_full_mesh && co->full_mesh && plan.n_actions == 0) {
        bool all_answered = true;
        for (size_t t = 0; t < co->n_topos; t++)
            if (!co->topos[t].answered) all_answered = false;
        if (all_answered) co->on_full_mesh(co, co->on_full_mesh_arg);
    }
    /* A cold start of thousands of members frees many MiB of sources and
     * buffers; glibc keeps freed heap pages otherwise (VmRSS stays at the
     * peak). Once per burst, when the last large action has ended. */
    if (co->trim_due && co->connects_in_flight == 0) {
        co->trim_due = false;
        heap_give_back(LOG_LEVEL_INFO, "heap trimmed after large actions");
    }
out:
    co->last_reconcile_us = (uv_hrtime() - t0) / 1000u;
    if (co->last_reconcile_us > co->max_reconcile_us) co->max_reconcile_us = co->last_reconcile_us;
    metrics_observe_reconcile(co, co->last_reconcile_us);
    co->reconcile_cpu_us += thread_cpu_us() - cpu0;
    metrics_changed(co);
    mesh_plan_free(&plan);
    mesh_graph_free(&desired);
    mesh_graph_free(&observed);
    mesh_graph_free(&suppressed);
    free(reachable);
    free(gone);
    free(idx);
    free(by_id);
}

static void reconcile_cb(uv_timer_t *t)
{
    coordinator *co = t->data;
    if (!co->stopping) reconcile(co);
}

void coordinator_schedule_reconcile(coordinator *co, uint64_t delay_ms)
{
    if (co->stopping) return;
    /* Keep an earlier pending run rather than pushing it back. */
    if (uv_is_active((uv_handle_t *)&co->reconcile_timer)) {
        uint64_t due = uv_timer_get_due_in(&co->reconcile_timer);
        if (due <= delay_ms) return;
    }
    uv_timer_start(&co->reconcile_timer, reconcile_cb, delay_ms, 0);
}

/* ---- link events ---- */

static void on_link_down(mlink *l, const char *reason, void *arg)
{
    (void)reason;
    coordinator *co = arg;
    member *m = link_get_user(l);
    if (m) {
        m->has_snapshot = false;
        for (size_t k = 0; k < m->n_pairs; k++)
            m->pairs[k].in_flight = false;
    }
    coordinator_schedule_reconcile(co, RECONCILE_DELAY_MS);
}

static void on_snapshot(mlink *l, char *const *nodes, size_t n, void *arg)
{
    coordinator *co = arg;
    member *m = link_get_user(l);
    if (!m) return;
    if (!m->has_snapshot && log_enabled(LOG_LEVEL_DEBUG)) {
        char cnt[24];
        snprintf(cnt, sizeof(cnt), "%zu", n);
        log_event(LOG_LEVEL_DEBUG, "observation", "node", m->name, "sees", cnt, LOG_END);
    }
    /* An unchanged view (each answer to the safety-net poll, once meshed)
     * needs no planning pass: n members answering would otherwise make up
     * to n passes of O(n^2) each. */
    if (!m->has_snapshot) co->last_arrival_ms = transport_now_ms();
    if (member_set_seen(&co->pool, m, nodes, n))
        coordinator_schedule_reconcile(co, RECONCILE_DELAY_MS);
}

static void on_event(mlink *l, bool up, const char *peer, const char *reason, void *arg)
{
    coordinator *co = arg;
    member *m = link_get_user(l);
    if (!m) return;
    bool changed = member_seen_update(&co->pool, m, peer, up);
    if (up) {
        /* A member just reached this node: if our own link to it is
         * waiting out a backoff, it is evidently back, so retry now. */
        member *other = member_find(co, peer);
        if (other && other->l && link_get_state(other->l) == LINK_BACKOFF)
            links_retry_now(other->l);
    }
    log_event(LOG_LEVEL_DEBUG, up ? "nodeup" : "nodedown", "observer", m->name, "node", peer,
              "reason", reason, LOG_END);
    member *gone_peer = up ? NULL : member_find(co, peer);
    if (!up && !m->gone && !(gone_peer && gone_peer->gone)) {
        /* A wanted link went down: allow an immediate repair of that pair.
         * (Not for a member we want gone: that nodedown is our own doing,
         * and a member that redials at once would otherwise be cut again
         * on every event instead of after the settle period.) */
        pair_state *p = pair_get(&co->pool, m, peer, false);
        if (p && !p->in_flight) p->not_before_ms = 0;
        member *other = gone_peer;
        if (other) {
            p = pair_get(&co->pool, other, m->name, false);
            if (p && !p->in_flight) p->not_before_ms = 0;
        }
    }
    if (changed) coordinator_schedule_reconcile(co, RECONCILE_DELAY_MS);
}

/* ---- lifecycle ---- */

void coordinator_on_full_mesh(coordinator *co, coordinator_full_mesh_fn fn, void *arg)
{
    co->on_full_mesh = fn;
    co->on_full_mesh_arg = arg;
}

static void poll_cb(uv_timer_t *t)
{
    coordinator *co = t->data;
    links_resync_all(co->ls);
    coordinator_schedule_reconcile(co, RECONCILE_DELAY_MS);
    members_share_views(co->members, co->n_members);
    /* What the last interval freed (nodes() lists, action sources, events
     * in bulk) stays resident until given back: at 5,000 members that was
     * 6 MiB of free heap pages after the cold start's own trim. A trim
     * walks the free chunks only: well under a millisecond here. */
    heap_give_back(LOG_LEVEL_DEBUG, "heap trimmed");
}

void coordinator_poll_start(coordinator *co)
{
    uint64_t pi = (uint64_t)co->cfg->poll_interval_ms;
    uv_timer_start(&co->poll_timer, poll_cb, pi, pi);
}

void coordinator_links_settings(const config *cfg, links_settings *s)
{
    s->connect_timeout_ms = (unsigned)cfg->node.connect_timeout_ms;
    s->rpc_timeout_ms = (unsigned)cfg->node.rpc_timeout_ms;
    s->net_ticktime_s = (unsigned)cfg->node.net_ticktime_s;
    s->backoff_min_ms = (unsigned)cfg->backoff_min_ms;
    s->backoff_max_ms = (unsigned)cfg->backoff_max_ms;
    s->no_forwarder = false;
}

static void signal_cb(uv_signal_t *s, int signum)
{
    coordinator *co = s->data;
    if (signum == SIGHUP) {
        log_event(LOG_LEVEL_INFO, "SIGHUP: reloading the configuration", "config", co->config_path,
                  LOG_END);
        if (!co->stopping) coordinator_reload(co);
        return;
    }
    log_event(LOG_LEVEL_INFO, "stopping", "signal", signum == SIGTERM ? "TERM" : "INT", LOG_END);
    coordinator_stop(co);
}

coordinator *coordinator_new(uv_loop_t *loop, config *cfg, const char *config_path, cnode *cn)
{
    coordinator *co = calloc(1, sizeof(*co));
    if (!co) {
        config_free(cfg);
        return NULL;
    }
    co->loop = loop;
    co->cn = cn;
    co->config_path = config_path ? strdup(config_path) : NULL;
    co->gen = generation_new(co, cfg);
    if (!co->gen) {
        coordinator_free(co);
        return NULL;
    }
    co->cfg = co->gen->cfg;
    co->topos = co->gen->topos;
    co->n_topos = co->gen->n_topos;
    links_settings s;
    coordinator_links_settings(co->cfg, &s);
    links_handlers h = {.on_up = NULL,
                        .on_down = on_link_down,
                        .on_snapshot = on_snapshot,
                        .on_event = on_event,
                        .on_request = status_answer_request};
    co->ls = links_new(loop, cn, &s, &h, co);
    if (!co->ls) {
        coordinator_free(co);
        return NULL;
    }
    uv_timer_init(loop, &co->reconcile_timer);
    co->reconcile_timer.data = co;
    uv_timer_init(loop, &co->poll_timer);
    co->poll_timer.data = co;
    uv_timer_init(loop, &co->metrics_timer);
    co->metrics_timer.data = co;
    uv_timer_init(loop, &co->metrics_soon);
    co->metrics_soon.data = co;
    co->last_reload_ok = true;
    co->start_wall_ms = coordinator_wall_ms();
    return co;
}

int coordinator_start(coordinator *co, char *err, size_t errlen)
{
    if (co->cn->listen_fd >= 0 && links_accept_start(co->ls) < 0) {
        snprintf(err, errlen, "cannot accept connections");
        return -1;
    }
    uv_signal_init(co->loop, &co->sig_term);
    uv_signal_init(co->loop, &co->sig_int);
    uv_signal_init(co->loop, &co->sig_hup);
    co->sig_term.data = co->sig_int.data = co->sig_hup.data = co;
    uv_signal_start(&co->sig_term, signal_cb, SIGTERM);
    uv_signal_start(&co->sig_int, signal_cb, SIGINT);
    if (co->config_path) uv_signal_start(&co->sig_hup, signal_cb, SIGHUP);
    coordinator_poll_start(co);
    return generation_start(co->gen, err, errlen);
}

static void close_handle(uv_handle_t *h)
{
    if (h->loop && !uv_is_closing(h)) uv_close(h, NULL);
}

void coordinator_stop(coordinator *co)
{
    if (co->stopping) return;
    co->stopping = true;
    for (size_t t = 0; t < co->n_topos; t++)
        if (co->topos[t].started) {
            co->topos[t].started = false;
            discovery_stop(&co->topos[t].d);
        }
    links_shutdown(co->ls);
    for (size_t i = 0; i < co->n_members; i++)
        co->members[i]->l = NULL;
    close_handle((uv_handle_t *)&co->reconcile_timer);
    close_handle((uv_handle_t *)&co->poll_timer);
    metrics_stop(co);
    close_handle((uv_handle_t *)&co->sig_term);
    close_handle((uv_handle_t *)&co->sig_int);
    close_handle((uv_handle_t *)&co->sig_hup);
}

void coordinator_free(coordinator *co)
{
    if (!co) return;
    for (size_t i = 0; i < co->n_members; i++)
        member_free(co->members[i]);
    free(co->members);
    namepool_free(&co->pool);
    generation_free(co->gen);
    while (co->retiring) {
        generation *g = co->retiring;
        co->retiring = g->next;
        generation_free(g);
    }
    links_free(co->ls);
    http_stop(co->http);
    free(co->config_path);
    free(co);
}
