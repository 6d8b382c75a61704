/* cmd_form: `clusterd form (-c FILE | --nodes N1,...) [--timeout MS]`: the
 * coordinator itself (coordinator*.c), run until every topology has answered
 * and the full mesh holds, then stopped cleanly: every link closed and every
 * forwarder told to stop, so nothing of clusterd is left on the members.
 * For CI scripts that start nodes and need them clustered before tests. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <jansson.h>

#include "cli.h"
#include "coordinator.h"
#include "strv.h"
#include "transport.h"

typedef struct form_ctx {
    coordinator *co;
    uv_timer_t deadline;
    uv_timer_t stopper;
    bool full;
    bool timed_out;
    json_t *snapshot; /* the coordinator's view when it ended */
} form_ctx;

static void close_timers(form_ctx *f)
{
    if (!uv_is_closing((uv_handle_t *)&f->deadline)) uv_close((uv_handle_t *)&f->deadline, NULL);
    if (!uv_is_closing((uv_handle_t *)&f->stopper)) uv_close((uv_handle_t *)&f->stopper, NULL);
}

static void end(form_ctx *f)
{
    if (!f->snapshot) f->snapshot = coordinator_status_json(f->co);
    coordinator_stop(f->co);
    close_timers(f);
}

static void stopper_cb(uv_timer_t *t)
{
    end(t->data);
}

static void deadline_cb(uv_timer_t *t)
{
    form_ctx *f = t->data;
    if (f->full) return;
    f->timed_out = true;
    end(f);
}

static void on_full_mesh(coordinator *co, void *arg)
{
    (void)co;
    form_ctx *f = arg;
    if (f->full || f->timed_out) return;
    f->full = true;
    /* Stop from a timer, outside the reconcile that called us. */
    uv_timer_start(&f->stopper, stopper_cb, 0, 0);
}

/* A config with one Epmd topology "nodes" listing the names (validated). */
static config *config_for_nodes(char *const *nodes, size_t n)
{
    size_t cap = 128;
    for (size_t i = 0; i < n; i++)
        cap += strlen(nodes[i]) + 4;
    char *yaml = malloc(cap);
    if (!yaml) return NULL;
    size_t off = (size_t)snprintf(yaml, cap,
                                  "topologies:\n  nodes:\n    strategy: epmd\n    config:\n"
                                  "      hosts: [");
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(yaml + off, cap - off, "%s\"%s\"", i ? ", " : "", nodes[i]);
    snprintf(yaml + off, cap - off, "]\n");
    config *cfg = NULL;
    config_diag diag = {0};
    if (config_load_string(yaml, strlen(yaml), "--nodes", &cfg, &diag) < 0) {
        for (size_t i = 0; i < diag.n_errors; i++)
            fprintf(stderr, "%s\n", diag.errors[i]);
        cfg = NULL;
    }
    config_diag_free(&diag);
    free(yaml);
    return cfg;
}

static void print_result(const form_ctx *f, uint64_t elapsed_ms, bool json)
{
    json_t *s = f->snapshot;
    json_t *members = json_object_get(s, "members");
    if (json) {
        json_t *j = json_object();
        json_object_set_new(j, "full_mesh", json_boolean(f->full));
        json_object_set_new(j, "elapsed_ms", json_integer((json_int_t)elapsed_ms));
        json_object_set(j, "members", members ? members : json_array());
        json_t *miss = json_object_get(s, "missing");
        json_t *unr = json_object_get(s, "unreachable");
        json_object_set(j, "missing", miss ? miss : json_array());
        json_object_set(j, "unreachable", unr ? unr : json_array());
        json_t *topos = json_object_get(s, "topologies");
        if (topos) json_object_set(j, "topologies", topos);
        char *text = json_dumps(j, JSON_INDENT(2));
        if (text) printf("%s\n", text);
        free(text);
        json_decref(j);
        return;
    }
    if (f->full) {
        printf("%sFULL MESH%s: %zu members in %llu ms\n", cli_color(CLI_GREEN),
               cli_color(CLI_RESET), json_array_size(members), (unsigned long long)elapsed_ms);
        size_t i;
        json_t *v;
        json_array_foreach(members, i, v)
        {
            json_t *name = json_is_object(v) ? json_object_get(v, "node") : v;
            printf("  %s\n", json_string_value(name) ? json_string_value(name) : "?");
        }
        return;
    }
    printf("%sNOT a full mesh%s after %llu ms%s\n", cli_color(CLI_RED), cli_color(CLI_RESET),
           (unsigned long long)elapsed_ms, f->timed_out ? " (timeout)" : " (interrupted)");
    const char *name;
    json_t *t;
    json_object_foreach(json_object_get(s, "topologies"), name, t)
    {
        json_t *err = json_object_get(t, "error");
        if (json_is_string(err))
            printf("topology %s: discovery failed: %s\n", name, json_string_value(err));
        else if (!json_is_true(json_object_get(t, "answered")) && json_object_get(t, "answered"))
            printf("topology %s: discovery has not answered\n", name);
    }
    json_t *links = json_object_get(s, "links");
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(s, "unreachable"), i, v)
    {
        const char *node = json_string_value(v);
        json_t *e = node ? json_object_get(json_object_get(links, node), "error") : NULL;
        printf("unreachable: %s%s%s\n", node ? node : "?", json_is_string(e) ? ": " : "",
               json_is_string(e) ? json_string_value(e) : "");
    }
    json_array_foreach(json_object_get(s, "missing"), i, v)
    {
        printf("missing link: %s <-> %s\n", json_string_value(json_array_get(v, 0)),
               json_string_value(json_array_get(v, 1)));
    }
}

int cmd_form(int argc, char **argv)
{
    cli_opts o;
    int status = EXIT_USAGE;
    config *cfg = NULL;
    char **nodes = NULL;
    size_t n_nodes = 0;
    cnode cn;
    cnode_clear(&cn);
    uv_loop_t loop;
    bool loop_ok = false;
    form_ctx f;
    memset(&f, 0, sizeof(f));
    signal(SIGPIPE, SIG_IGN);
    if (cli_parse(argc, argv, &o) < 0 || cli_setup_quiet_logging(&o) < 0) goto out;
    cli_color_setup(&o);
    if (!o.config_path == !o.nodes) {
        fprintf(stderr, "clusterd form: give -c FILE or --nodes N1,N2,... (one of them)\n");
        goto out;
    }
    const char *hint = NULL;
    if (o.nodes) {
        if (cli_split_nodes(o.nodes, &nodes, &n_nodes) < 0) goto out;
        if (!(cfg = config_for_nodes(nodes, n_nodes))) goto out;
        hint = nodes[0];
    } else {
        if (!(cfg = cli_load_config(&o))) goto out;
        hint = cfg->node.name; /* long or short names as the config's own node */
    }
    /* Our own identity: a unique hidden name (never the config's, which a
     * running coordinator may hold); never registered in EPMD. */
    if (cli_make_cnode(&o, cfg, hint, &cn) < 0) goto out;
    if (uv_loop_init(&loop) != 0) goto out;
    loop_ok = true;
    setenv("UV_THREADPOOL_SIZE", "16", 0);
    f.co = coordinator_new(&loop, cfg, NULL, &cn);
    cfg = NULL; /* owned by the coordinator */
    if (!f.co) goto out;
    coordinator_on_full_mesh(f.co, on_full_mesh, &f);
    uv_timer_init(&loop, &f.deadline);
    uv_timer_init(&loop, &f.stopper);
    f.deadline.data = f.stopper.data = &f;
    /* Only the coordinator keeps the loop alive: after a SIGINT/SIGTERM stop
     * the loop ends without waiting for the deadline. */
    uv_unref((uv_handle_t *)&f.deadline);
    uv_unref((uv_handle_t *)&f.stopper);
    uint64_t timeout = o.timeout_ms ? (uint64_t)o.timeout_ms : 30000;
    uv_timer_start(&f.deadline, deadline_cb, timeout, 0);
    uint64_t t0 = transport_now_ms();
    char err[256];
    if (coordinator_start(f.co, err, sizeof(err)) < 0) {
        fprintf(stderr, "clusterd form: %s\n", err);
        coordinator_stop(f.co);
        close_timers(&f);
        uv_run(&loop, UV_RUN_DEFAULT);
        goto out;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uint64_t elapsed = transport_now_ms() - t0;
    if (!f.snapshot) f.snapshot = coordinator_status_json(f.co); /* stopped by a signal */
    close_timers(&f);
    uv_run(&loop, UV_RUN_DEFAULT);
    print_result(&f, elapsed, o.json);
    status = f.full ? EXIT_OK : EXIT_FAIL;
out:
    coordinator_free(f.co);
    if (loop_ok) {
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
    }
    json_decref(f.snapshot);
    strv_free(nodes, n_nodes);
    cnode_close(&cn);
    config_free(cfg);
    free(o.args);
    return status;
}
