/* cmd_connect: `clusterd connect A B` and `clusterd disconnect A B`: one
 * action, as the coordinator does it: an RPC on A of the stock OTP function
 * (net_kernel:connect_node/1 or erlang:disconnect_node/1) naming B. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "probe.h"

static int run_action(int argc, char **argv, bool connect)
{
    const char *cmd = connect ? "connect" : "disconnect";
    cli_opts o;
    int status = EXIT_USAGE;
    config *cfg = NULL;
    cnode cn;
    cnode_clear(&cn);
    probe_target t;
    memset(&t, 0, sizeof(t));
    ei_x_buff args;
    ei_x_new(&args);
    signal(SIGPIPE, SIG_IGN);
    if (cli_parse(argc, argv, &o) < 0 || cli_setup_quiet_logging(&o) < 0) goto out;
    cli_color_setup(&o);
    if (o.nargs != 2) {
        fprintf(stderr, "clusterd %s: give two nodes: NODE_A NODE_B\n", cmd);
        goto out;
    }
    for (int i = 0; i < 2; i++) {
        char why[128];
        if (!nodename_valid(o.args[i], why, sizeof(why))) {
            fprintf(stderr, "clusterd %s: '%s' is not a node name: %s\n", cmd, o.args[i], why);
            goto out;
        }
    }
    const char *a = o.args[0], *b = o.args[1];
    if (o.config_path && !(cfg = cli_load_config(&o))) goto out;
    if (cli_make_cnode(&o, cfg, a, &cn) < 0) goto out;
    ei_x_encode_list_header(&args, 1);
    ei_x_encode_atom(&args, b);
    ei_x_encode_empty_list(&args);
    probe_call call = {.mod = connect ? "net_kernel" : "erlang",
                       .fun = connect ? "connect_node" : "disconnect_node",
                       .args = &args};
    t.node = a;
    unsigned tmo = cli_timeout(&o, 5000);
    char err[256];
    /* net_kernel:connect_node/1 waits for its own handshake: give the RPC
     * room for it on top of ours. */
    if (probe_run(&cn, &t, 1, &call, 1, tmo, tmo * 2, err, sizeof(err)) < 0) {
        fprintf(stderr, "clusterd %s: %s\n", cmd, err);
        goto out;
    }
    const char *result;
    char text[256] = "";
    if (!t.reached) {
        fprintf(stderr, "clusterd %s: cannot reach %s: %s\n", cmd, a, t.error);
        result = "unreachable";
        status = EXIT_USAGE;
    } else if (!t.replies[0].ok) {
        fprintf(stderr, "clusterd %s: the RPC on %s failed: %s\n", cmd, a, t.replies[0].reason);
        snprintf(text, sizeof(text), "%s", t.replies[0].reason);
        result = "error";
        status = EXIT_USAGE;
    } else {
        probe_reply_text(&t.replies[0], text, sizeof(text));
        status = strcmp(text, "true") == 0 ? EXIT_OK : EXIT_FAIL;
        result = status == EXIT_OK ? "done" : "refused";
    }
    if (o.json) {
        json_t *j = json_object();
        json_object_set_new(j, "action", json_string(cmd));
        json_object_set_new(j, "on", json_string(a));
        json_object_set_new(j, "target", json_string(b));
        json_object_set_new(j, "result", json_string(result));
        json_object_set_new(j, "reply",
                            t.reached && t.replies[0].ok ? json_string(text) : json_null());
        json_object_set_new(j, "error",
                            !t.reached         ? json_string(t.error)
                            : !t.replies[0].ok ? json_string(t.replies[0].reason)
                                               : json_null());
        char *s = json_dumps(j, JSON_INDENT(2));
        if (s) printf("%s\n", s);
        free(s);
        json_decref(j);
    } else if (status == EXIT_OK) {
        printf("%s%s%s: %s %s %s (%s:%s returned true)\n", cli_color(CLI_GREEN), result,
               cli_color(CLI_RESET), a, connect ? "is connected to" : "is disconnected from", b,
               call.mod, call.fun);
    } else if (status == EXIT_FAIL) {
        printf("%s%s%s: %s:%s('%s') on %s returned %s%s\n", cli_color(CLI_RED), result,
               cli_color(CLI_RESET), call.mod, call.fun, b, a, text,
               !strcmp(text, "ignored") ? " (the node is not distributed)"
               : connect ? " (B unreachable from A, another cookie, or a refused handshake)"
                         : " (A was not connected to B)");
    }
out:
    ei_x_free(&args);
    probe_targets_free(&t, t.replies ? 1 : 0, 1);
    cnode_close(&cn);
    config_free(cfg);
    free(o.args);
    return status;
}

int cmd_connect(int argc, char **argv)
{
    return run_action(argc, argv, true);
}

int cmd_disconnect(int argc, char **argv)
{
    return run_action(argc, argv, false);
}
