/* cmd_status: `clusterd status`: asks a running coordinator (a C-node) for
 * its view with a gen_server-style call and prints it. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "dial.h"
#include "term.h"
#include "transport.h"

/* Sends {'$gen_call', {Self, Ref}, status} and waits for {Ref, Reply}. */
static int call_status(cnode *cn, int fd, unsigned timeout_ms, char **json_out, char *err,
                       size_t errlen)
{
    erlang_pid self;
    erlang_ref ref;
    ei_make_pid(&cn->ec, &self);
    ei_make_ref(&cn->ec, &ref);
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 3);
    ei_x_encode_atom(&x, "$gen_call");
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_pid(&x, &self);
    ei_x_encode_ref(&x, &ref);
    ei_x_encode_atom(&x, "status");
    int rc = ei_send_reg_encoded_tmo(fd, &self, "clusterd", x.buff, x.index, timeout_ms);
    ei_x_free(&x);
    if (rc < 0) {
        snprintf(err, errlen, "could not send the request");
        return -1;
    }
    uint64_t deadline = transport_now_ms() + timeout_ms;
    ei_x_buff in;
    ei_x_new(&in);
    int result = -1;
    for (;;) {
        uint64_t now = transport_now_ms();
        if (now >= deadline) {
            snprintf(err, errlen, "no answer within %u ms", timeout_ms);
            break;
        }
        erlang_msg msg;
        in.index = 0;
        int r = ei_xreceive_msg_tmo(fd, &msg, &in, (unsigned)(deadline - now));
        if (r == ERL_TICK) continue;
        if (r == ERL_ERROR) {
            snprintf(err, errlen, "connection lost while waiting for the answer");
            break;
        }
        if (msg.msgtype != ERL_SEND) continue;
        size_t used;
        char verr[128];
        if (in.index < 1 ||
            term_validate(in.buff + 1, (size_t)in.index - 1, &used, verr, sizeof(verr)) < 0)
            continue;
        int idx = 0, arity;
        erlang_ref got;
        char atom[MAXATOMLEN_UTF8];
        if (ei_decode_version(in.buff, &idx, NULL) < 0 ||
            ei_decode_tuple_header(in.buff, &idx, &arity) < 0 || arity != 2 ||
            ei_decode_ref(in.buff, &idx, &got) < 0 || got.n[0] != ref.n[0] ||
            got.n[1] != ref.n[1] || got.n[2] != ref.n[2])
            continue;
        long blen;
        int type, size;
        if (ei_decode_tuple_header(in.buff, &idx, &arity) < 0 || arity != 2 ||
            ei_decode_atom(in.buff, &idx, atom) < 0 || strcmp(atom, "ok") != 0 ||
            ei_get_type(in.buff, &idx, &type, &size) < 0 || type != ERL_BINARY_EXT) {
            snprintf(err, errlen, "unexpected answer from the coordinator");
            break;
        }
        char *text = malloc((size_t)size + 1);
        if (!text || ei_decode_binary(in.buff, &idx, text, &blen) < 0) {
            free(text);
            snprintf(err, errlen, "unexpected answer from the coordinator");
            break;
        }
        text[blen] = '\0';
        *json_out = text;
        result = 0;
        break;
    }
    ei_x_free(&in);
    return result;
}

static void print_text(json_t *j)
{
    bool full = json_is_true(json_object_get(j, "full_mesh"));
    printf("coordinator %s: %s%s%s\n", json_string_value(json_object_get(j, "node")),
           cli_color(full ? CLI_GREEN : CLI_RED), full ? "FULL MESH" : "NOT a full mesh",
           cli_color(CLI_RESET));
    const char *name;
    json_t *t;
    json_object_foreach(json_object_get(j, "topologies"), name, t)
    {
        json_t *err = json_object_get(t, "error");
        printf("topology %s (%s): %zu members%s%s\n", name,
               json_string_value(json_object_get(t, "strategy")),
               json_array_size(json_object_get(t, "members")),
               json_is_string(err) ? ", last discovery failed: " : "",
               json_is_string(err) ? json_string_value(err) : "");
    }
    json_t *links = json_object_get(j, "links");
    json_object_foreach(links, name, t)
    {
        json_t *e = json_object_get(t, "error");
        printf("  %-40s %-10s sees %zu%s%s\n", name, json_string_value(json_object_get(t, "state")),
               json_array_size(json_object_get(t, "sees")), json_is_string(e) ? "  error: " : "",
               json_is_string(e) ? json_string_value(e) : "");
    }
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(j, "missing"), i, v)
    {
        printf("missing link: %s <-> %s\n", json_string_value(json_array_get(v, 0)),
               json_string_value(json_array_get(v, 1)));
    }
    json_array_foreach(json_object_get(j, "unreachable"), i, v)
    {
        json_t *e = json_object_get(json_object_get(links, json_string_value(v)), "error");
        printf("%sunreachable%s: %s%s%s\n", cli_color(CLI_RED), cli_color(CLI_RESET),
               json_string_value(v), json_is_string(e) ? ": " : "",
               json_is_string(e) ? json_string_value(e) : "");
    }
    json_array_foreach(json_object_get(j, "last_actions"), i, v)
    {
        json_t *why = json_object_get(v, "reason");
        printf("action: %s on %s -> %s: %s%s%s%s\n",
               json_string_value(json_object_get(v, "action")),
               json_string_value(json_object_get(v, "on")),
               json_string_value(json_object_get(v, "targets")),
               json_string_value(json_object_get(v, "result")), json_is_string(why) ? " (" : "",
               json_is_string(why) ? json_string_value(why) : "", json_is_string(why) ? ")" : "");
    }
}

int cmd_status(int argc, char **argv)
{
    cli_opts o;
    int status = EXIT_USAGE;
    config *cfg = NULL;
    cnode cn;
    cnode_clear(&cn);
    int fd = -1;
    char *text = NULL;
    signal(SIGPIPE, SIG_IGN);
    if (cli_parse(argc, argv, &o) < 0 || cli_setup_logging(&o) < 0) goto out;
    cli_color_setup(&o);
    if (o.config_path && !(cfg = cli_load_config(&o))) goto out;
    char target[NODENAME_MAX + 1];
    if (o.coordinator) {
        snprintf(target, sizeof(target), "%s", o.coordinator);
    } else if (cfg && cfg->node.name && strchr(cfg->node.name, '@')) {
        snprintf(target, sizeof(target), "%s", cfg->node.name);
    } else {
        fprintf(stderr, "clusterd status: give --coordinator NODE (or -c with node.name)\n");
        goto out;
    }
    if (cli_make_cnode(&o, cfg, target, &cn) < 0) goto out;
    unsigned tmo = o.timeout_ms ? (unsigned)o.timeout_ms : 5000;
    char err[512];
    fd = dial_node(&cn, target, tmo, err, sizeof(err));
    if (fd < 0) {
        fprintf(stderr, "clusterd status: cannot reach %s: %s\n", target, err);
        status = EXIT_FAIL;
        goto out;
    }
    if (call_status(&cn, fd, tmo, &text, err, sizeof(err)) < 0) {
        fprintf(stderr, "clusterd status: %s: %s\n", target, err);
        status = EXIT_FAIL;
        goto out;
    }
    if (o.json) {
        printf("%s\n", text);
    } else {
        json_error_t jerr;
        json_t *j = json_loads(text, 0, &jerr);
        if (j) print_text(j);
        json_decref(j);
    }
    status = EXIT_OK;
out:
    free(text);
    if (fd >= 0) ei_close_connection(fd);
    cnode_close(&cn);
    config_free(cfg);
    free(o.args);
    return status;
}
