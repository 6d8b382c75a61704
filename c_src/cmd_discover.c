/* cmd_discover: `clusterd discover -c FILE`: runs each topology's discovery
 * once (the strategies themselves, with `once` set) and prints the members
 * and the strategy's evidence: what its source answered and why each member
 * is in or out. Connects to nothing. cli_discover_once is shared with
 * `mesh -c`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <jansson.h>

#include "cli.h"
#include "discovery.h"

typedef struct once_topo {
    struct once_ctx *ctx;
    discovery d;
    discovery_result *out;
    bool started, answered, closed;
} once_topo;

typedef struct once_ctx {
    once_topo *topos;
    size_t n;
    size_t open;
    uv_timer_t guard;
} once_ctx;

static void maybe_done(once_ctx *c)
{
    if (c->open == 0 && !uv_is_closing((uv_handle_t *)&c->guard))
        uv_close((uv_handle_t *)&c->guard, NULL);
}

static void on_closed(discovery *d)
{
    once_topo *t = d->owner;
    t->closed = true;
    t->ctx->open--;
    maybe_done(t->ctx);
}

static void on_report(discovery *d, const discovery_result *r)
{
    once_topo *t = d->owner;
    if (t->answered) return;
    t->answered = true;
    discovery_result_copy(t->out, r);
    discovery_stop(d);
}

static void guard_cb(uv_timer_t *h)
{
    once_ctx *c = h->data;
    for (size_t i = 0; i < c->n; i++) {
        once_topo *t = &c->topos[i];
        if (t->started && !t->answered) {
            t->answered = true;
            discovery_result_fail(t->out, "no answer within %llu ms",
                                  (unsigned long long)uv_timer_get_repeat(h));
            discovery_stop(&t->d);
        }
    }
}

int cli_discover_once(const config *cfg, discovery_result **results, char *err, size_t errlen)
{
    size_t n = cfg->n_topologies;
    discovery_result *res = calloc(n + 1, sizeof(*res));
    once_topo *topos = calloc(n + 1, sizeof(*topos));
    uv_loop_t loop;
    if (!res || !topos || uv_loop_init(&loop) != 0) {
        free(res);
        free(topos);
        snprintf(err, errlen, "cannot start the event loop");
        return -1;
    }
    once_ctx c = {.topos = topos, .n = n};
    uv_timer_init(&loop, &c.guard);
    c.guard.data = &c;
    /* A backstop: each strategy bounds its own queries. */
    uv_timer_set_repeat(&c.guard, 60000);
    uv_timer_start(&c.guard, guard_cb, 60000, 0);
    for (size_t i = 0; i < n; i++) {
        discovery_result_init(&res[i]);
        once_topo *t = &topos[i];
        t->ctx = &c;
        t->out = &res[i];
        t->d.loop = &loop;
        t->d.topology = &cfg->topologies[i];
        t->d.cfg = cfg;
        t->d.report = on_report;
        t->d.closed = on_closed;
        t->d.owner = t;
        t->d.once = true;
        char serr[256];
        c.open++;
        if (discovery_start(&t->d, serr, sizeof(serr)) < 0) {
            c.open--;
            discovery_result_fail(&res[i], "cannot start: %s", serr);
            continue;
        }
        t->started = true;
    }
    maybe_done(&c);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    free(topos);
    *results = res;
    return 0;
}

static void print_text(const config *cfg, const discovery_result *r)
{
    for (size_t i = 0; i < cfg->n_topologies; i++) {
        const config_topology *t = &cfg->topologies[i];
        bool ok = r[i].verdict == DISCOVERY_OK;
        printf("%stopology %s%s (%s): ", cli_color(CLI_BOLD), t->name, cli_color(CLI_RESET),
               t->strategy->module);
        if (ok)
            printf("%s%zu member%s%s%s\n", cli_color(CLI_GREEN), r[i].n_members,
                   r[i].n_members == 1 ? "" : "s", cli_color(CLI_RESET),
                   r[i].n_partial ? " (some sources failed: see evidence)" : "");
        else
            printf("%sFAILED%s: %s\n", cli_color(CLI_RED), cli_color(CLI_RESET), r[i].reason);
        for (size_t k = 0; k < r[i].n_members; k++)
            printf("  %s\n", r[i].members[k]);
        for (size_t k = 0; k < r[i].n_leaving; k++)
            printf("  %s (leaving: not connected, not disconnected)\n", r[i].leaving[k]);
        if (r[i].n_evidence) printf("  %sevidence:%s\n", cli_color(CLI_DIM), cli_color(CLI_RESET));
        for (size_t k = 0; k < r[i].n_evidence; k++)
            printf("    %s\n", r[i].evidence[k]);
    }
}

static json_t *to_json(const config *cfg, const discovery_result *r)
{
    json_t *topos = json_object();
    for (size_t i = 0; i < cfg->n_topologies; i++) {
        json_t *e = json_object(), *m = json_array(), *ev = json_array(), *lv = json_array();
        for (size_t k = 0; k < r[i].n_members; k++)
            json_array_append_new(m, json_string(r[i].members[k]));
        for (size_t k = 0; k < r[i].n_leaving; k++)
            json_array_append_new(lv, json_string(r[i].leaving[k]));
        for (size_t k = 0; k < r[i].n_evidence; k++)
            json_array_append_new(ev, json_string(r[i].evidence[k]));
        json_object_set_new(e, "strategy", json_string(cfg->topologies[i].strategy->module));
        json_object_set_new(e, "members", m);
        json_object_set_new(e, "leaving", lv);
        json_object_set_new(e, "error",
                            r[i].verdict == DISCOVERY_OK ? json_null() : json_string(r[i].reason));
        json_object_set_new(e, "evidence", ev);
        json_object_set_new(e, "failed_sources", json_integer((json_int_t)r[i].n_partial));
        json_object_set_new(topos, cfg->topologies[i].name, e);
    }
    json_t *j = json_object();
    json_object_set_new(j, "topologies", topos);
    return j;
}

int cmd_discover(int argc, char **argv)
{
    cli_opts o;
    int status = EXIT_USAGE;
    config *cfg = NULL;
    discovery_result *r = NULL;
    if (cli_parse(argc, argv, &o) < 0 || cli_setup_quiet_logging(&o) < 0) goto out;
    cli_color_setup(&o);
    if (!o.config_path) {
        fprintf(stderr, "clusterd discover: -c FILE is required\n");
        goto out;
    }
    if (!(cfg = cli_load_config(&o))) goto out;
    char err[256];
    if (cli_discover_once(cfg, &r, err, sizeof(err)) < 0) {
        fprintf(stderr, "clusterd discover: %s\n", err);
        goto out;
    }
    status = EXIT_OK;
    for (size_t i = 0; i < cfg->n_topologies; i++)
        if (r[i].verdict != DISCOVERY_OK || r[i].n_partial) status = EXIT_FAIL;
    if (o.json) {
        json_t *j = to_json(cfg, r);
        char *s = json_dumps(j, JSON_INDENT(2));
        if (s) printf("%s\n", s);
        free(s);
        json_decref(j);
    } else {
        print_text(cfg, r);
    }
out:
    if (r && cfg)
        for (size_t i = 0; i < cfg->n_topologies; i++)
            discovery_result_free(&r[i]);
    free(r);
    config_free(cfg);
    free(o.args);
    return status;
}
