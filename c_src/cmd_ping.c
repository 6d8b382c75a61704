/* cmd_ping: `clusterd ping NODE...`: for each node at once, the EPMD lookup,
 * the distribution handshake and one RPC round-trip (erlang:node/0), with
 * timings, or the precise reason it failed. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "probe.h"

static double ms(unsigned us)
{
    return (double)us / 1000.0;
}

static void print_text(const probe_target *t, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (strlen(t[i].node) > w) w = strlen(t[i].node);
    for (size_t i = 0; i < n; i++) {
        const probe_target *p = &t[i];
        const probe_reply *r = &p->replies[0];
        if (p->reached && r->ok) {
            printf("%-*s  %spong%s  epmd %.1f ms (port %d)  handshake %.1f ms  rpc %.1f ms\n",
                   (int)w, p->node, cli_color(CLI_GREEN), cli_color(CLI_RESET), ms(p->dial.epmd_us),
                   p->dial.port, ms(p->dial.handshake_us), ms(r->rtt_us));
        } else if (p->reached) {
            printf("%-*s  %spang%s  connected (handshake %.1f ms) but the RPC failed: %s\n", (int)w,
                   p->node, cli_color(CLI_RED), cli_color(CLI_RESET), ms(p->dial.handshake_us),
                   r->reason);
        } else {
            printf("%-*s  %spang%s  %s: %s\n", (int)w, p->node, cli_color(CLI_RED),
                   cli_color(CLI_RESET), dial_failure_word(p->dial.why), p->error);
        }
    }
}

static json_t *to_json(const probe_target *t, size_t n)
{
    json_t *nodes = json_object();
    for (size_t i = 0; i < n; i++) {
        const probe_target *p = &t[i];
        const probe_reply *r = &p->replies[0];
        bool ok = p->reached && r->ok;
        json_t *e = json_object();
        json_object_set_new(e, "ok", json_boolean(ok));
        json_object_set_new(e, "reason",
                            json_string(ok           ? "ok"
                                        : p->reached ? "rpc_failed"
                                                     : dial_failure_word(p->dial.why)));
        json_object_set_new(e, "error",
                            ok           ? json_null()
                            : p->reached ? json_string(r->reason)
                                         : json_string(p->error));
        json_object_set_new(e, "port", p->dial.port ? json_integer(p->dial.port) : json_null());
        json_object_set_new(e, "epmd_ms", json_real(ms(p->dial.epmd_us)));
        json_object_set_new(e, "handshake_ms",
                            p->reached ? json_real(ms(p->dial.handshake_us)) : json_null());
        json_object_set_new(e, "rpc_ms", ok ? json_real(ms(r->rtt_us)) : json_null());
        json_object_set_new(nodes, p->node, e);
    }
    json_t *j = json_object();
    json_object_set_new(j, "nodes", nodes);
    return j;
}

int cmd_ping(int argc, char **argv)
{
    cli_opts o;
    int status = EXIT_USAGE;
    config *cfg = NULL;
    cnode cn;
    cnode_clear(&cn);
    probe_target *t = NULL;
    size_t n = 0;
    signal(SIGPIPE, SIG_IGN);
    if (cli_parse(argc, argv, &o) < 0 || cli_setup_quiet_logging(&o) < 0) goto out;
    cli_color_setup(&o);
    if (o.nargs == 0) {
        fprintf(stderr, "clusterd ping: give at least one NODE (name@host)\n");
        goto out;
    }
    for (int i = 0; i < o.nargs; i++) {
        char why[128];
        if (!nodename_valid(o.args[i], why, sizeof(why))) {
            fprintf(stderr, "clusterd ping: '%s' is not a node name: %s\n", o.args[i], why);
            goto out;
        }
    }
    if (o.config_path && !(cfg = cli_load_config(&o))) goto out;
    if (cli_make_cnode(&o, cfg, o.args[0], &cn) < 0) goto out;
    n = (size_t)o.nargs;
    t = calloc(n, sizeof(*t));
    if (!t) goto out;
    for (size_t i = 0; i < n; i++)
        t[i].node = o.args[i];
    ei_x_buff none;
    ei_x_new(&none);
    ei_x_encode_empty_list(&none);
    probe_call call = {.mod = "erlang", .fun = "node", .args = &none};
    unsigned tmo = cli_timeout(&o, 5000);
    char err[256];
    int rc = probe_run(&cn, t, n, &call, 1, tmo, tmo, err, sizeof(err));
    ei_x_free(&none);
    if (rc < 0) {
        fprintf(stderr, "clusterd ping: %s\n", err);
        goto out;
    }
    status = EXIT_OK;
    for (size_t i = 0; i < n; i++)
        if (!t[i].reached || !t[i].replies[0].ok) status = EXIT_FAIL;
    if (o.json) {
        json_t *j = to_json(t, n);
        char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (s) printf("%s\n", s);
        free(s);
        json_decref(j);
    } else {
        print_text(t, n);
    }
out:
    probe_targets_free(t, n, 1);
    free(t);
    cnode_close(&cn);
    config_free(cfg);
    free(o.args);
    return status;
}
