/* coordinator_metrics: the state snapshot as Prometheus text (format 0.0.4)
 * and the readiness verdict, published to the HTTP endpoint (http.c) once
 * a second (the loop's heartbeat for /healthz) and shortly after anything
 * they show changes (coalesced, so a burst of events costs one rendering).
 * Reads the coordinator, never changes it apart from the histogram it
 * keeps. Nothing here knows the cookie. See coordinator_internal.h. */
#include "coordinator_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "http.h"
#include "log.h"
#include "strv.h"

#define METRICS_TICK_MS 1000u /* heartbeat and refresh */
#define METRICS_SOON_MS 50u   /* a change is published within this */

/* Upper bounds of the reconcile-duration buckets, in µs (the last bucket,
 * reconcile_hist[RECONCILE_BUCKETS], is +Inf). */
static const uint64_t reconcile_bounds_us[RECONCILE_BUCKETS] = {
    50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 1000000};

void metrics_observe_reconcile(coordinator *co, uint64_t us)
{
    size_t b = 0;
    while (b < RECONCILE_BUCKETS && us > reconcile_bounds_us[b])
        b++;
    co->reconcile_hist[b]++;
    co->reconcile_sum_us += us;
}

/* ---- rendering ---- */

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value as the text format wants it: \, " and newline escaped. */
static void label_value(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fprintf(f, "\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

static void sample_topo(FILE *f, const char *name, const topo_state *ts, uint64_t v)
{
    fprintf(f, "%s{topology=\"", name);
    label_value(f, ts->t->name);
    fprintf(f, "\"} %" PRIu64 "\n", v);
}

static const char *own_link_state(const member *m)
{
    if (!m->l) return "none";
    switch (link_get_state(m->l)) {
    case LINK_UP:
        return m->has_snapshot ? "up" : "starting";
    case LINK_CONNECTING:
        return "connecting";
    case LINK_BACKOFF:
        return "backoff";
    default:
        return "none";
    }
}

/* Pairs of members that some topology wants linked: seen (both list each
 * other in nodes()) or missing, counted as `status` counts them: only
 * between members whose nodes() we know. */
static void render(const coordinator *co, FILE *f)
{
    family(f, "clusterd_build_info", "gauge", "clusterd's version (the value is always 1).");
    fprintf(f, "clusterd_build_info{version=\"%s\"} 1\n", CLUSTERD_VERSION);
    family(f, "clusterd_start_time_seconds", "gauge", "When this clusterd started (Unix time).");
    fprintf(f, "clusterd_start_time_seconds %.3f\n", (double)co->start_wall_ms / 1000.0);

    family(f, "clusterd_topology_members", "gauge",
           "Members in the topology's last good discovery answer.");
    for (size_t t = 0; t < co->n_topos; t++) {
        const topo_state *ts = &co->topos[t];
        fprintf(f, "clusterd_topology_members{topology=\"");
        label_value(f, ts->t->name);
        fprintf(f, "\",strategy=\"");
        label_value(f, ts->t->strategy->module);
        fprintf(f, "\"} %zu\n", ts->n_members);
    }
    family(f, "clusterd_topology_ready", "gauge",
           "1 once the topology's discovery has answered successfully at least once.");
    for (size_t t = 0; t < co->n_topos; t++)
        sample_topo(f, "clusterd_topology_ready", &co->topos[t], co->topos[t].answered_ok);
    family(f, "clusterd_topology_discovery_ok", "gauge",
           "1 if the topology's last discovery round succeeded, 0 if it failed or none ran yet.");
    for (size_t t = 0; t < co->n_topos; t++)
        sample_topo(f, "clusterd_topology_discovery_ok", &co->topos[t],
                    co->topos[t].answered && co->topos[t].last_ok);
    family(f, "clusterd_discovery_errors_total", "counter",
           "Failed discovery rounds per topology (the last good members were kept).");
    for (size_t t = 0; t < co->n_topos; t++)
        sample_topo(f, "clusterd_discovery_errors_total", &co->topos[t], co->topos[t].errors);
    family(f, "clusterd_discovery_failed_sources", "gauge",
           "Sources that failed inside the last good round (their last members were kept).");
    for (size_t t = 0; t < co->n_topos; t++)
        sample_topo(f, "clusterd_discovery_failed_sources", &co->topos[t],
                    co->topos[t].failed_sources);
    family(f, "clusterd_topology_last_answer_timestamp_seconds", "gauge",
           "When the topology's discovery last answered, successfully or not (Unix time).");
    for (size_t t = 0; t < co->n_topos; t++) {
        const topo_state *ts = &co->topos[t];
        if (!ts->answered) continue;
        fprintf(f, "clusterd_topology_last_answer_timestamp_seconds{topology=\"");
        label_value(f, ts->t->name);
        fprintf(f, "\"} %.3f\n", (double)ts->last_answer_ms / 1000.0);
    }

    uint64_t n_members = 0, n_unreachable = 0;
    static const char *const states[] = {"up", "starting", "connecting", "backoff", "none"};
    uint64_t by_state[5] = {0};
    for (size_t i = 0; i < co->n_members; i++) {
        const member *m = co->members[i];
        if (m->gone) continue;
        n_members++;
        if (!member_reachable(m)) n_unreachable++;
        const char *st = own_link_state(m);
        for (size_t k = 0; k < 5; k++)
            if (strcmp(st, states[k]) == 0) by_state[k]++;
    }
    family(f, "clusterd_members", "gauge", "Members some topology wants, across topologies.");
    fprintf(f, "clusterd_members %" PRIu64 "\n", n_members);
    family(f, "clusterd_members_unreachable", "gauge",
           "Wanted members clusterd cannot reach or whose nodes() it does not know yet.");
    fprintf(f, "clusterd_members_unreachable %" PRIu64 "\n", n_unreachable);
    family(f, "clusterd_member_links", "gauge", "clusterd's own links to members, by state.");
    for (size_t k = 0; k < 5; k++)
        fprintf(f, "clusterd_member_links{state=\"%s\"} %" PRIu64 "\n", states[k], by_state[k]);

    uint64_t seen, missing;
    seen = co->links_seen;
    missing = co->links_missing;
    family(f, "clusterd_links_seen", "gauge",
           "Wanted member pairs that are linked (each lists the other in nodes()).");
    fprintf(f, "clusterd_links_seen %" PRIu64 "\n", seen);
    family(f, "clusterd_links_missing", "gauge",
           "Wanted member pairs that are not linked (between members whose nodes() is known).");
    fprintf(f, "clusterd_links_missing %" PRIu64 "\n", missing);
    family(f, "clusterd_full_mesh", "gauge",
           "1 when every wanted member is reachable and every wanted link is up.");
    fprintf(f, "clusterd_full_mesh %d\n", co->full_mesh ? 1 : 0);

    family(f, "clusterd_reconciles_total", "counter", "Planning passes (desired vs observed).");
    fprintf(f, "clusterd_reconciles_total %" PRIu64 "\n", co->reconciles);
    family(f, "clusterd_reconcile_cpu_seconds_total", "counter",
           "CPU time of all planning passes (clusterd's event-loop thread).");
    fprintf(f, "clusterd_reconcile_cpu_seconds_total %.6f\n", (double)co->reconcile_cpu_us / 1e6);
    family(f, "clusterd_reconcile_duration_seconds", "histogram",
           "Time of one planning pass, from the graphs to the actions sent.");
    uint64_t cum = 0;
    for (size_t b = 0; b < RECONCILE_BUCKETS; b++) {
        cum += co->reconcile_hist[b];
        fprintf(f, "clusterd_reconcile_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
                (double)reconcile_bounds_us[b] / 1e6, cum);
    }
    cum += co->reconcile_hist[RECONCILE_BUCKETS];
    fprintf(f, "clusterd_reconcile_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
    fprintf(f, "clusterd_reconcile_duration_seconds_sum %.6f\n",
            (double)co->reconcile_sum_us / 1e6);
    fprintf(f, "clusterd_reconcile_duration_seconds_count %" PRIu64 "\n", cum);

    family(f, "clusterd_actions_total", "counter",
           "RPCs sent to members to connect or disconnect.");
    fprintf(f, "clusterd_actions_total %" PRIu64 "\n", co->actions_sent);
    family(f, "clusterd_actions_deferred_total", "counter",
           "Planned actions put off by reconcile.max_actions_per_second.");
    fprintf(f, "clusterd_actions_deferred_total %" PRIu64 "\n", co->actions_deferred);
    family(f, "clusterd_heals_total", "counter",
           "Links between members that clusterd made (connects that succeeded).");
    fprintf(f, "clusterd_heals_total %" PRIu64 "\n", co->heals);

    const links_stats *st = links_get_stats(co->ls);
    family(f, "clusterd_rpcs_total", "counter", "RPCs to members, by result.");
    fprintf(f, "clusterd_rpcs_total{result=\"ok\"} %" PRIu64 "\n", st->rpcs_ok);
    fprintf(f, "clusterd_rpcs_total{result=\"failed\"} %" PRIu64 "\n", st->rpcs_failed);
    fprintf(f, "clusterd_rpcs_total{result=\"timeout\"} %" PRIu64 "\n", st->rpcs_timeout);
    family(f, "clusterd_connects_total", "counter",
           "clusterd's own connection attempts to members (EPMD lookup + handshake), by result.");
    fprintf(f, "clusterd_connects_total{result=\"ok\"} %" PRIu64 "\n", st->connects_ok);
    fprintf(f, "clusterd_connects_total{result=\"failed\"} %" PRIu64 "\n", st->connects_failed);
    family(f, "clusterd_node_events_total", "counter",
           "nodeup/nodedown events the members pushed to clusterd.");
    fprintf(f, "clusterd_node_events_total %" PRIu64 "\n", st->events);
    family(f, "clusterd_resyncs_unchanged_total", "counter",
           "Safety-net poll answers saying nodes() is what the member already reported.");
    fprintf(f, "clusterd_resyncs_unchanged_total %" PRIu64 "\n", st->resyncs_unchanged);
    family(f, "clusterd_dropped_messages_total", "counter",
           "Messages from nodes that clusterd dropped (malformed, unexpected or stale).");
    fprintf(f, "clusterd_dropped_messages_total %" PRIu64 "\n", st->dropped_messages);

    family(f, "clusterd_config_reloads_total", "counter", "SIGHUP reloads, by result.");
    fprintf(f, "clusterd_config_reloads_total{result=\"ok\"} %" PRIu64 "\n", co->reloads_ok);
    fprintf(f, "clusterd_config_reloads_total{result=\"rejected\"} %" PRIu64 "\n",
            co->reloads_rejected);
    family(f, "clusterd_config_last_reload_successful", "gauge",
           "0 if the last SIGHUP reload was rejected (the running configuration stayed), else 1.");
    fprintf(f, "clusterd_config_last_reload_successful %d\n", co->last_reload_ok ? 1 : 0);
}

/* Ready once every topology has answered successfully once; otherwise why
 * names the topologies still waiting (and their last error). */
static bool ready(const coordinator *co, char *why, size_t len)
{
    bool ok = true;
    size_t off = 0;
    for (size_t t = 0; t < co->n_topos && off < len; t++) {
        const topo_state *ts = &co->topos[t];
        if (ts->answered_ok) continue;
        int w = snprintf(why + off, len - off, "%s'%s'%s%s%s",
                         ok ? "no successful discovery answer yet from topology " : ", ",
                         ts->t->name, ts->answered ? " (" : "", ts->answered ? ts->last_error : "",
                         ts->answered ? ")" : "");
        ok = false;
        if (w > 0) off += (size_t)w;
    }
    return ok;
}

static void publish(coordinator *co)
{
    if (!co->http) return;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f) {
        render(co, f);
        if (fclose(f) != 0) {
            free(text);
            text = NULL;
        }
    }
    char why[512];
    bool ok = ready(co, why, sizeof why);
    http_publish(co->http, text, len, ok, why); /* text NULL keeps the previous one */
}

static void tick_cb(uv_timer_t *t)
{
    publish(t->data);
}

void metrics_changed(coordinator *co)
{
    if (!co->http || co->stopping) return;
    if (!uv_is_active((uv_handle_t *)&co->metrics_soon))
        uv_timer_start(&co->metrics_soon, tick_cb, METRICS_SOON_MS, 0);
}

int coordinator_http_start(coordinator *co, char *err, size_t errlen)
{
    const config_http *h = &co->cfg->http;
    if (!h->listen) return 0;
    co->http = http_start(h, err, errlen);
    if (!co->http) return -1;
    char port[16], limit[24], timeout[24];
    snprintf(port, sizeof port, "%d", http_port(co->http));
    snprintf(limit, sizeof limit, "%lld", h->max_connections);
    snprintf(timeout, sizeof timeout, "%lld", h->connection_timeout_s);
    log_event(LOG_LEVEL_INFO, "http listening", "addr", h->addr, "port", port, "max_connections",
              limit, "connection_timeout_s", timeout, LOG_END);
    publish(co);
    uv_timer_start(&co->metrics_timer, tick_cb, METRICS_TICK_MS, METRICS_TICK_MS);
    return 0;
}

static void close_handle(uv_handle_t *h)
{
    if (h->loop && !uv_is_closing(h)) uv_close(h, NULL);
}

void metrics_stop(coordinator *co)
{
    close_handle((uv_handle_t *)&co->metrics_timer);
    close_handle((uv_handle_t *)&co->metrics_soon);
    http_stop(co->http);
    co->http = NULL;
}
