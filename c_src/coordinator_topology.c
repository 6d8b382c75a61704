/* coordinator_topology: what each topology wants. Discovery reports become
 * the topology's last good member set (a failed round changes nothing: fail
 * static; without prune, members absent from an answer stay); members that
 * join or leave update the member table. A loaded configuration and its
 * discoveries form a generation; SIGHUP loads a new one and retires the old
 * once its discoveries have closed. See coordinator_internal.h. */
#include "coordinator_internal.h"
#include "resolve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "strv.h"
#include "tls_config.h"

/* ---- discovery reports ---- */

static void on_discovery(discovery *d, const discovery_result *r)
{
    topo_state *ts = d->owner;
    coordinator *co = ts->co;
    ts->answered = true;
    ts->last_answer_ms = coordinator_wall_ms();
    metrics_changed(co);
    if (r->verdict != DISCOVERY_OK) {
        /* Warn when a source starts failing or fails differently; repeats
         * of the same failure go to debug, so a long outage is one line. */
        bool repeat = ts->answered_before && !ts->last_ok && strcmp(ts->last_error, r->reason) == 0;
        ts->last_ok = false;
        ts->errors++;
        snprintf(ts->last_error, sizeof(ts->last_error), "%s", r->reason);
        log_event(repeat ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN,
                  "discovery failed; keeping the last good members", "topology", ts->t->name,
                  "reason", r->reason, LOG_END);
        ts->answered_before = true;
        return;
    }
    if (ts->answered_before && !ts->last_ok)
        log_event(LOG_LEVEL_INFO, "discovery answers again", "topology", ts->t->name, LOG_END);
    ts->answered_before = true;
    ts->answered_ok = true;
    ts->last_ok = true;
    ts->last_error[0] = '\0';
    ts->failed_sources = r->n_partial;
    /* New set: the answer, plus (without prune) every member we had. */
    size_t cap = r->n_members + (ts->t->prune ? 0 : ts->n_members);
    char **next = calloc(cap + 1, sizeof(char *));
    if (!next) return;
    size_t nn = 0;
    bool oom = false;
    for (size_t i = 0; i < r->n_members && !oom; i++)
        oom = !(next[nn++] = strdup(r->members[i]));
    if (!ts->t->prune)
        for (size_t i = 0; i < ts->n_members && !oom; i++)
            if (!strv_contains_sorted(r->members, r->n_members, ts->members[i]) &&
                !discovery_result_is_leaving(r, ts->members[i]))
                oom = !(next[nn++] = strdup(ts->members[i]));
    if (oom) {
        /* Out of memory: keep the last good set rather than a partial one. */
        strv_free(next, nn);
        log_errorf("discovery answer for topology %s dropped: out of memory", ts->t->name);
        return;
    }
    qsort(next, nn, sizeof(char *), strv_cmp);
    char **old = ts->members;
    size_t n_old = ts->n_members;
    ts->members = next;
    ts->n_members = nn;

    for (size_t i = 0; i < nn; i++) {
        if (strv_contains_sorted(old, n_old, next[i])) continue;
        if (strcmp(next[i], co->cn->name) == 0) continue;
        member *m = member_find(co, next[i]);
        log_event(LOG_LEVEL_INFO, "member joined", "topology", ts->t->name, "node", next[i],
                  LOG_END);
        if (!m) {
            member_add(co, next[i]);
        } else if (m->gone) {
            m->gone = false;
            if (!m->l) {
                m->l = links_add(co->ls, m->name);
                if (m->l) link_set_user(m->l, m);
            }
        }
    }
    for (size_t i = 0; i < n_old; i++) {
        if (strv_contains_sorted(next, nn, old[i])) continue;
        if (member_desired(co, old[i])) continue;
        member *m = member_find(co, old[i]);
        if (!m) continue;
        if (discovery_result_is_leaving(r, old[i])) {
            /* On its way out (a terminating pod): its own shutdown closes
             * its links, which applications need for hand-off until then.
             * Forget it without asking anyone to disconnect it. */
            log_event(LOG_LEVEL_INFO, "member leaving; forgotten without disconnecting", "topology",
                      ts->t->name, "node", old[i], LOG_END);
            member_delete(co, m);
            continue;
        }
        log_event(LOG_LEVEL_INFO, "member left (absent from a successful answer)", "topology",
                  ts->t->name, "node", old[i], LOG_END);
        m->gone = true;
        m->has_snapshot = false;
        if (m->l) {
            links_remove(co->ls, m->l);
            m->l = NULL;
        }
    }
    strv_free(old, n_old);
    coordinator_schedule_reconcile(co, RECONCILE_DELAY_MS);
}

/* ---- generations ---- */

void generation_free(generation *g)
{
    if (!g) return;
    for (size_t t = 0; t < g->n_topos; t++)
        strv_free(g->topos[t].members, g->topos[t].n_members);
    free(g->topos);
    config_free(g->cfg);
    free(g);
}

static void on_discovery_closed(discovery *d)
{
    topo_state *ts = d->owner;
    generation *g = ts->gen;
    coordinator *co = ts->co;
    if (g->open > 0) g->open--;
    if (!g->retiring || g->open > 0) return;
    for (generation **pp = &co->retiring; *pp; pp = &(*pp)->next) {
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    }
    generation_free(g);
}

/* A generation for cfg (owned from here on, also on failure). */
generation *generation_new(coordinator *co, config *cfg)
{
    generation *g = calloc(1, sizeof(*g));
    topo_state *topos = calloc(cfg->n_topologies + 1, sizeof(topo_state));
    if (!g || !topos) {
        free(g);
        free(topos);
        config_free(cfg);
        return NULL;
    }
    g->cfg = cfg;
    g->topos = topos;
    g->n_topos = cfg->n_topologies;
    for (size_t t = 0; t < g->n_topos; t++) {
        topo_state *ts = &g->topos[t];
        ts->co = co;
        ts->gen = g;
        ts->t = &cfg->topologies[t];
        ts->d.loop = co->loop;
        ts->d.topology = ts->t;
        ts->d.cfg = cfg;
        ts->d.report = on_discovery;
        ts->d.closed = on_discovery_closed;
        ts->d.owner = ts;
        ts->d.once = false;
    }
    return g;
}

int generation_start(generation *g, char *err, size_t errlen)
{
    for (size_t t = 0; t < g->n_topos; t++) {
        topo_state *ts = &g->topos[t];
        if (discovery_start(&ts->d, err, errlen) < 0) return -1;
        ts->started = true;
        g->open++;
    }
    return 0;
}

/* Stops g's discoveries; g is freed once they have all closed. */
static void generation_retire(coordinator *co, generation *g)
{
    g->retiring = true;
    g->next = co->retiring;
    co->retiring = g;
    size_t to_stop = 0;
    for (size_t t = 0; t < g->n_topos; t++)
        if (g->topos[t].started) to_stop++;
    if (to_stop == 0) {
        co->retiring = g->next;
        generation_free(g);
        return;
    }
    for (size_t t = 0; t < g->n_topos; t++) {
        if (!g->topos[t].started) continue;
        g->topos[t].started = false;
        discovery_stop(&g->topos[t].d); /* may free g on its last close */
    }
}

/* ---- SIGHUP reload ---- */

static bool str_differs(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

static void reload_rejected(coordinator *co)
{
    co->reloads_rejected++;
    co->last_reload_ok = false;
    metrics_changed(co);
}

/* SIGHUP: load the file again. A bad file is rejected whole and the running
 * configuration kept. Otherwise topologies are swapped: a topology that keeps
 * its name keeps its last good members until its new discovery answers, so
 * links that stay desired are never dropped; members no topology wants any
 * more are forgotten (our link closed; nothing is disconnected on the
 * members, as removal needs positive evidence from discovery). */
void coordinator_reload(coordinator *co)
{
    config *cfg = NULL;
    config_diag diag = {0};
    int rc = config_load_file(co->config_path, &cfg, &diag);
    for (size_t i = 0; i < diag.n_errors; i++)
        log_event(LOG_LEVEL_ERROR, "reload rejected: configuration error", "error", diag.errors[i],
                  LOG_END);
    for (size_t i = 0; i < diag.n_warnings; i++)
        log_event(LOG_LEVEL_WARN, "configuration warning", "warning", diag.warnings[i], LOG_END);
    config_diag_free(&diag);
    if (rc < 0) {
        log_event(LOG_LEVEL_WARN, "reload rejected; the running configuration stays", "config",
                  co->config_path, LOG_END);
        reload_rejected(co);
        return;
    }
    const config_node *a = &co->cfg->node, *b = &cfg->node;
    if (str_differs(a->name, b->name) || a->longnames != b->longnames ||
        str_differs(a->cookie_file, b->cookie_file) || str_differs(a->cookie_env, b->cookie_env) ||
        tls_config_differs(a->tls, b->tls))
        log_event(LOG_LEVEL_WARN,
                  "node name, cookie and tls settings change only with a restart; keeping the "
                  "running ones",
                  LOG_END);
    if (b->visible != co->cn->visible)
        log_event(LOG_LEVEL_WARN,
                  "visibility changes only with a restart of clusterd; keeping the running one",
                  "running", co->cn->visible ? "visible" : "hidden", "configured",
                  b->visible ? "visible" : "hidden", LOG_END);
    const config_http *ha = &co->cfg->http, *hb = &cfg->http;
    if (str_differs(ha->listen, hb->listen) || ha->max_connections != hb->max_connections ||
        ha->connection_timeout_s != hb->connection_timeout_s)
        log_event(LOG_LEVEL_WARN,
                  "http settings change only with a restart; keeping the running endpoint",
                  LOG_END);
    generation *g = generation_new(co, cfg);
    if (!g) {
        log_errorf("reload failed: out of memory");
        reload_rejected(co);
        return;
    }
    /* Carry over each kept topology's last good members and state. */
    for (size_t t = 0; t < g->n_topos; t++) {
        topo_state *nt = &g->topos[t];
        for (size_t k = 0; k < co->n_topos; k++) {
            topo_state *ot = &co->topos[k];
            if (strcmp(ot->t->name, nt->t->name) != 0) continue;
            nt->members = strv_dup(ot->members, ot->n_members);
            nt->n_members = nt->members ? ot->n_members : 0;
            nt->answered = ot->answered;
            nt->answered_ok = ot->answered_ok;
            nt->last_answer_ms = ot->last_answer_ms;
            nt->answered_before = ot->answered_before;
            nt->last_ok = ot->last_ok;
            nt->errors = ot->errors;
            nt->failed_sources = ot->failed_sources;
            snprintf(nt->last_error, sizeof(nt->last_error), "%s", ot->last_error);
        }
    }
    generation *old = co->gen;
    co->gen = g;
    co->cfg = g->cfg;
    if (resolve_set_servers(co->cfg->nameservers, co->cfg->n_nameservers) != 0)
        log_event(LOG_LEVEL_WARN, "resolver.nameservers is too long; keeping the previous servers",
                  LOG_END);
    co->topos = g->topos;
    co->n_topos = g->n_topos;
    generation_retire(co, old);

    links_settings s;
    coordinator_links_settings(co->cfg, &s);
    links_update_settings(co->ls, &s);
    coordinator_poll_start(co);

    for (size_t i = co->n_members; i-- > 0;) {
        member *m = co->members[i];
        if (!member_desired(co, m->name) && !m->gone) {
            log_event(LOG_LEVEL_INFO, "member no longer in any topology; forgotten", "node",
                      m->name, LOG_END);
            member_delete(co, m);
        }
    }
    char err[512];
    if (generation_start(g, err, sizeof(err)) < 0)
        log_event(LOG_LEVEL_ERROR, "reload: a discovery did not start", "reason", err, LOG_END);
    char count[24];
    snprintf(count, sizeof(count), "%zu", g->n_topos);
    log_event(LOG_LEVEL_INFO, "configuration reloaded", "config", co->config_path, "topologies",
              count, LOG_END);
    co->reloads_ok++;
    co->last_reload_ok = true;
    metrics_changed(co);
    coordinator_schedule_reconcile(co, RECONCILE_DELAY_MS);
}
