/* cmd_mesh: `clusterd mesh (-c FILE | --nodes N1,N2,...)`: observes the
 * cluster without changing it. Every node is asked at once, each within its
 * own deadlines, for erlang:nodes(visible), erlang:nodes(hidden), its OTP
 * release and its net_ticktime (stock functions over RPC; no forwarder is
 * started). Prints who sees whom as a matrix, then the verdict: full mesh,
 * or the partitions (mesh_partitions, the planner's own), the missing links
 * and the nodes that are unreachable or reject our cookie. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "discovery.h"
#include "mesh.h"
#include "probe.h"
#include "strv.h"

#define MISSING_SHOWN 20 /* text lines; --json has every pair */

enum { CALL_VISIBLE, CALL_HIDDEN, CALL_OTP, CALL_TICK, N_CALLS };

typedef struct observation {
    size_t n;
    char **nodes;     /* the nodes asked, sorted (owned) */
    probe_target *t;  /* per node */
    bool *reachable;  /* connected and nodes() answered */
    const char **why; /* per unreachable node: failure word (static strings) */
    char **err;       /* per unreachable node: the reason (owned) */
    char ***seen;     /* per node: its nodes(visible), sorted (owned) */
    size_t *n_seen;
    char ***hidden; /* per node: its nodes(hidden) without us (owned) */
    size_t *n_hidden;
    char **otp, **tick;   /* per node: text (owned), "" when unknown */
    mesh_graph observed;  /* i -> j: j in i's nodes() */
    mesh_graph hid;       /* i -> j: j in i's nodes(hidden) */
    size_t (*missing)[2]; /* pairs (i < j) */
    size_t n_missing;
    size_t *comp; /* partition of each node, SIZE_MAX when not placed */
    size_t n_parts;
    bool full_mesh;
    bool otp_differs, tick_differs;
} observation;

static void observation_free(observation *ob)
{
    for (size_t i = 0; i < ob->n; i++) {
        if (ob->err) free(ob->err[i]);
        if (ob->seen && ob->n_seen) strv_free(ob->seen[i], ob->n_seen[i]);
        if (ob->hidden && ob->n_hidden) strv_free(ob->hidden[i], ob->n_hidden[i]);
        if (ob->otp) free(ob->otp[i]);
        if (ob->tick) free(ob->tick[i]);
    }
    probe_targets_free(ob->t, ob->n, N_CALLS);
    free(ob->t);
    strv_free(ob->nodes, ob->n);
    free(ob->reachable);
    free(ob->why);
    free(ob->err);
    free(ob->seen);
    free(ob->n_seen);
    free(ob->hidden);
    free(ob->n_hidden);
    free(ob->otp);
    free(ob->tick);
    free(ob->missing);
    free(ob->comp);
    mesh_graph_free(&ob->observed);
    mesh_graph_free(&ob->hid);
}

static ssize_t index_of(const observation *ob, const char *node)
{
    char *const *hit = bsearch(&node, ob->nodes, ob->n, sizeof(char *), strv_cmp);
    return hit ? hit - ob->nodes : -1;
}

/* Drops our own name (and any other name in drop) from a sorted strv. */
static void strv_remove(char **v, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(v[i], name) != 0) continue;
        free(v[i]);
        memmove(&v[i], &v[i + 1], (*n - i - 1) * sizeof(char *));
        (*n)--;
        v[*n] = NULL;
        return;
    }
}

static bool values_differ(char **v, const bool *reachable, size_t n)
{
    const char *first = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!reachable[i] || !v[i][0]) continue;
        if (!first)
            first = v[i];
        else if (strcmp(first, v[i]) != 0)
            return true;
    }
    return false;
}

/* Fills everything but the nodes/t fields from the probe results. */
static int analyse(observation *ob, const char *self)
{
    size_t n = ob->n;
    ob->reachable = calloc(n + 1, sizeof(bool));
    ob->why = calloc(n + 1, sizeof(const char *));
    ob->err = calloc(n + 1, sizeof(char *));
    ob->seen = calloc(n + 1, sizeof(char **));
    ob->n_seen = calloc(n + 1, sizeof(size_t));
    ob->hidden = calloc(n + 1, sizeof(char **));
    ob->n_hidden = calloc(n + 1, sizeof(size_t));
    ob->otp = calloc(n + 1, sizeof(char *));
    ob->tick = calloc(n + 1, sizeof(char *));
    ob->missing = calloc(n * (n > 0 ? n - 1 : 0) / 2 + 1, sizeof(*ob->missing));
    ob->comp = calloc(n + 1, sizeof(size_t));
    if (!ob->reachable || !ob->why || !ob->err || !ob->seen || !ob->n_seen || !ob->hidden ||
        !ob->n_hidden || !ob->otp || !ob->tick || !ob->missing || !ob->comp ||
        mesh_graph_init(&ob->observed, n) < 0 || mesh_graph_init(&ob->hid, n) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        probe_target *t = &ob->t[i];
        char text[400];
        ob->otp[i] = calloc(1, 64);
        ob->tick[i] = calloc(1, 64);
        if (!ob->otp[i] || !ob->tick[i]) return -1;
        if (!t->reached) {
            ob->why[i] = dial_failure_word(t->dial.why);
            ob->err[i] = strdup(t->error);
            continue;
        }
        if (probe_reply_atoms(&t->replies[CALL_VISIBLE], &ob->seen[i], &ob->n_seen[i]) < 0) {
            ob->why[i] = "rpc_failed";
            snprintf(text, sizeof(text), "connected, but nodes() failed: %s",
                     t->replies[CALL_VISIBLE].ok ? "unexpected reply"
                                                 : t->replies[CALL_VISIBLE].reason);
            ob->err[i] = strdup(text);
            continue;
        }
        ob->reachable[i] = true;
        if (probe_reply_atoms(&t->replies[CALL_HIDDEN], &ob->hidden[i], &ob->n_hidden[i]) == 0)
            strv_remove(ob->hidden[i], &ob->n_hidden[i], self);
        probe_reply_text(&t->replies[CALL_OTP], ob->otp[i], 64);
        probe_reply_text(&t->replies[CALL_TICK], ob->tick[i], 64);
        for (size_t k = 0; k < ob->n_seen[i]; k++) {
            ssize_t j = index_of(ob, ob->seen[i][k]);
            if (j >= 0) mesh_graph_set(&ob->observed, i, (size_t)j, true);
        }
        for (size_t k = 0; k < ob->n_hidden[i]; k++) {
            ssize_t j = index_of(ob, ob->hidden[i][k]);
            if (j >= 0) mesh_graph_set(&ob->hid, i, (size_t)j, true);
        }
    }
    /* A pair is missing when an end we can observe does not see the other;
     * between two unreachable nodes nothing can be said. */
    bool any_unreachable = false;
    for (size_t i = 0; i < n; i++) {
        if (!ob->reachable[i]) any_unreachable = true;
        for (size_t j = i + 1; j < n; j++) {
            bool ok_i = !ob->reachable[i] || mesh_graph_get(&ob->observed, i, j);
            bool ok_j = !ob->reachable[j] || mesh_graph_get(&ob->observed, j, i);
            if ((ob->reachable[i] || ob->reachable[j]) && !(ok_i && ok_j)) {
                ob->missing[ob->n_missing][0] = i;
                ob->missing[ob->n_missing][1] = j;
                ob->n_missing++;
            }
        }
    }
    /* Partitions over the nodes we observed plus the unreachable ones that
     * some observed node sees. */
    bool *include = calloc(n + 1, sizeof(bool));
    if (!include) return -1;
    for (size_t i = 0; i < n; i++) {
        include[i] = ob->reachable[i];
        for (size_t j = 0; j < n && !include[i]; j++)
            include[i] = ob->reachable[j] && mesh_graph_get(&ob->observed, j, i);
    }
    ob->n_parts = mesh_partitions(&ob->observed, include, ob->comp);
    free(include);
    ob->full_mesh = n > 0 && ob->n_missing == 0 && !any_unreachable;
    ob->otp_differs = values_differ(ob->otp, ob->reachable, n);
    ob->tick_differs = values_differ(ob->tick, ob->reachable, n);
    return 0;
}

/* ---- text ---- */

static char mark(const observation *ob, size_t i, size_t j)
{
    if (i == j) return '.';
    if (!ob->reachable[i]) return '?';
    if (mesh_graph_get(&ob->observed, i, j)) return '+';
    if (mesh_graph_get(&ob->hid, i, j)) return 'h';
    return '-';
}

static const char *mark_color(char m)
{
    switch (m) {
    case '+':
        return cli_color(CLI_GREEN);
    case '-':
        return cli_color(CLI_RED);
    case 'h':
        return cli_color(CLI_YELLOW);
    default:
        return cli_color(CLI_DIM);
    }
}

static void print_group(const char *label, char **vals, const bool *reachable, char **nodes,
                        size_t n)
{
    /* "60 on a, b; 20 on c" */
    printf("%swarning%s: %s differs:", cli_color(CLI_YELLOW), cli_color(CLI_RESET), label);
    bool *done = calloc(n + 1, sizeof(bool));
    if (!done) return;
    const char *sep = " ";
    for (size_t i = 0; i < n; i++) {
        if (done[i] || !reachable[i] || !vals[i][0]) continue;
        printf("%s%s on ", sep, vals[i]);
        const char *comma = "";
        for (size_t j = i; j < n; j++) {
            if (done[j] || !reachable[j] || strcmp(vals[i], vals[j]) != 0) continue;
            done[j] = true;
            printf("%s%s", comma, nodes[j]);
            comma = ", ";
        }
        sep = "; ";
    }
    printf("\n");
    free(done);
}

static void print_text(const observation *ob)
{
    size_t n = ob->n, w = 4;
    for (size_t i = 0; i < n; i++)
        if (strlen(ob->nodes[i]) > w) w = strlen(ob->nodes[i]);
    printf("%s%*s", cli_color(CLI_BOLD), (int)(w + 5), "");
    for (size_t j = 0; j < n; j++)
        printf("%3zu", j + 1);
    printf("%s\n", cli_color(CLI_RESET));
    for (size_t i = 0; i < n; i++) {
        printf("%3zu  %-*s", i + 1, (int)w, ob->nodes[i]);
        for (size_t j = 0; j < n; j++) {
            char m = mark(ob, i, j);
            printf("  %s%c%s", mark_color(m), m, cli_color(CLI_RESET));
        }
        if (ob->reachable[i]) {
            printf("   OTP %s, net_ticktime %s", ob->otp[i][0] ? ob->otp[i] : "?",
                   ob->tick[i][0] ? ob->tick[i] : "?");
            /* visible peers outside the list */
            size_t extra = 0;
            for (size_t k = 0; k < ob->n_seen[i]; k++)
                if (index_of(ob, ob->seen[i][k]) < 0) extra++;
            if (extra) printf(", also sees %zu node%s not listed", extra, extra == 1 ? "" : "s");
            if (ob->n_hidden[i])
                printf(", %zu hidden peer%s", ob->n_hidden[i], ob->n_hidden[i] == 1 ? "" : "s");
        } else {
            printf("   %sunreachable%s (%s)", cli_color(CLI_RED), cli_color(CLI_RESET), ob->why[i]);
        }
        printf("\n");
    }
    printf("%s(rows observe, columns are observed: + sees, - missing, h hidden link, "
           ". self, ? cannot ask)%s\n\n",
           cli_color(CLI_DIM), cli_color(CLI_RESET));

    size_t links = n * (n > 0 ? n - 1 : 0) / 2;
    if (ob->full_mesh) {
        printf("%sFULL MESH%s: %zu node%s, %zu link%s\n", cli_color(CLI_GREEN),
               cli_color(CLI_RESET), n, n == 1 ? "" : "s", links, links == 1 ? "" : "s");
    } else {
        printf("%sNOT a full mesh%s: %zu of %zu links missing", cli_color(CLI_RED),
               cli_color(CLI_RESET), ob->n_missing, links);
        size_t unreachable = 0;
        for (size_t i = 0; i < n; i++)
            unreachable += !ob->reachable[i];
        if (unreachable)
            printf(", %zu node%s unreachable", unreachable, unreachable == 1 ? "" : "s");
        printf("\n");
        if (ob->n_parts > 1) {
            printf("partitions: %zu\n", ob->n_parts);
            for (size_t p = 0; p < ob->n_parts; p++) {
                printf("  %zu:", p + 1);
                for (size_t i = 0; i < n; i++)
                    if (ob->comp[i] == p) printf(" %s", ob->nodes[i]);
                printf("\n");
            }
        }
        for (size_t k = 0; k < ob->n_missing; k++) {
            if (k == MISSING_SHOWN && ob->n_missing > MISSING_SHOWN + 1) {
                printf("... and %zu more missing links (--json lists them all)\n",
                       ob->n_missing - k);
                break;
            }
            size_t a = ob->missing[k][0], b = ob->missing[k][1];
            bool hidden = mesh_graph_get(&ob->hid, a, b) || mesh_graph_get(&ob->hid, b, a);
            printf("missing link: %s <-> %s%s\n", ob->nodes[a], ob->nodes[b],
                   hidden ? " (connected, but hidden: not in nodes())" : "");
        }
        for (size_t i = 0; i < n; i++)
            if (!ob->reachable[i])
                printf("unreachable: %s: %s%s\n", ob->nodes[i],
                       !strcmp(ob->why[i], "cookie_rejected") ? "COOKIE REJECTED: " : "",
                       ob->err[i]);
    }
    if (ob->otp_differs) print_group("OTP release", ob->otp, ob->reachable, ob->nodes, n);
    if (ob->tick_differs) print_group("net_ticktime", ob->tick, ob->reachable, ob->nodes, n);
}

/* ---- JSON ---- */

static json_t *strv_json(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *to_json(const observation *ob)
{
    size_t n = ob->n;
    json_t *j = json_object(), *seen = json_object(), *hidden = json_object(),
           *missing = json_array(), *unreachable = json_array(), *errors = json_object(),
           *parts = json_array(), *otp = json_object(), *tick = json_object(),
           *cookie = json_array();
    for (size_t i = 0; i < n; i++) {
        const char *node = ob->nodes[i];
        if (!ob->reachable[i]) {
            json_array_append_new(unreachable, json_string(node));
            json_t *e = json_object();
            json_object_set_new(e, "reason", json_string(ob->why[i]));
            json_object_set_new(e, "error", json_string(ob->err[i] ? ob->err[i] : ""));
            json_object_set_new(errors, node, e);
            if (!strcmp(ob->why[i], "cookie_rejected"))
                json_array_append_new(cookie, json_string(node));
            continue;
        }
        json_object_set_new(seen, node, strv_json(ob->seen[i], ob->n_seen[i]));
        json_object_set_new(hidden, node, strv_json(ob->hidden[i], ob->n_hidden[i]));
        json_object_set_new(otp, node, ob->otp[i][0] ? json_string(ob->otp[i]) : json_null());
        char *end = NULL;
        long long t = strtoll(ob->tick[i], &end, 10);
        json_object_set_new(tick, node,
                            ob->tick[i][0] && end && !*end ? json_integer(t)
                            : ob->tick[i][0]               ? json_string(ob->tick[i])
                                                           : json_null());
    }
    for (size_t k = 0; k < ob->n_missing; k++) {
        json_t *p = json_array();
        json_array_append_new(p, json_string(ob->nodes[ob->missing[k][0]]));
        json_array_append_new(p, json_string(ob->nodes[ob->missing[k][1]]));
        json_array_append_new(missing, p);
    }
    for (size_t p = 0; p < ob->n_parts; p++) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            if (ob->comp[i] == p) json_array_append_new(a, json_string(ob->nodes[i]));
        json_array_append_new(parts, a);
    }
    json_object_set_new(j, "nodes", strv_json(ob->nodes, n));
    json_object_set_new(j, "seen", seen);
    json_object_set_new(j, "hidden", hidden);
    json_object_set_new(j, "missing", missing);
    json_object_set_new(j, "unreachable", unreachable);
    json_object_set_new(j, "cookie_rejected", cookie);
    json_object_set_new(j, "errors", errors);
    json_object_set_new(j, "partitions", parts);
    json_object_set_new(j, "otp_release", otp);
    json_object_set_new(j, "net_ticktime", tick);
    json_t *mm = json_object();
    json_object_set_new(mm, "otp_release", json_boolean(ob->otp_differs));
    json_object_set_new(mm, "net_ticktime", json_boolean(ob->tick_differs));
    json_object_set_new(j, "mismatches", mm);
    json_object_set_new(j, "full_mesh", json_boolean(ob->full_mesh));
    return j;
}

/* ---- the command ---- */

/* The nodes to observe: --nodes, or every topology's members found once. */
static int gather_nodes(const cli_opts *o, const config *cfg, char ***out, size_t *n)
{
    if (o->nodes) return cli_split_nodes(o->nodes, out, n);
    discovery_result *r = NULL;
    char err[256];
    if (cli_discover_once(cfg, &r, err, sizeof(err)) < 0) {
        fprintf(stderr, "clusterd mesh: %s\n", err);
        return -1;
    }
    size_t total = 0;
    for (size_t t = 0; t < cfg->n_topologies; t++) {
        if (r[t].verdict != DISCOVERY_OK)
            fprintf(stderr, "clusterd mesh: topology %s: discovery failed: %s\n",
                    cfg->topologies[t].name, r[t].reason);
        total += r[t].n_members;
    }
    char **v = calloc(total + 1, sizeof(char *));
    size_t k = 0;
    for (size_t t = 0; v && t < cfg->n_topologies; t++)
        for (size_t i = 0; i < r[t].n_members; i++) {
            bool dup = false;
            for (size_t m = 0; m < k && !dup; m++)
                dup = !strcmp(v[m], r[t].members[i]);
            if (!dup) v[k++] = strdup(r[t].members[i]);
        }
    for (size_t t = 0; t < cfg->n_topologies; t++)
        discovery_result_free(&r[t]);
    free(r);
    if (!v) return -1;
    for (size_t i = 0; i < k; i++)
        if (!v[i]) {
            strv_free(v, k);
            return -1;
        }
    *out = v;
    *n = k;
    return 0;
}

int cmd_mesh(int argc, char **argv)
{
    cli_opts o;
    int status = EXIT_USAGE;
    config *cfg = NULL;
    cnode cn;
    cnode_clear(&cn);
    observation ob;
    memset(&ob, 0, sizeof(ob));
    ei_x_buff a_vis, a_hid, a_otp, a_none;
    ei_x_new(&a_vis);
    ei_x_new(&a_hid);
    ei_x_new(&a_otp);
    ei_x_new(&a_none);
    signal(SIGPIPE, SIG_IGN);
    if (cli_parse(argc, argv, &o) < 0 || cli_setup_quiet_logging(&o) < 0) goto out;
    cli_color_setup(&o);
    if (!o.config_path == !o.nodes) {
        fprintf(stderr, "clusterd mesh: give -c FILE or --nodes N1,N2,... (one of them)\n");
        goto out;
    }
    if (o.config_path && !(cfg = cli_load_config(&o))) goto out;
    if (gather_nodes(&o, cfg, &ob.nodes, &ob.n) < 0) goto out;
    if (ob.n == 0) {
        fprintf(stderr, "clusterd mesh: no nodes to observe\n");
        goto out;
    }
    qsort(ob.nodes, ob.n, sizeof(char *), strv_cmp);
    if (cli_make_cnode(&o, cfg, ob.nodes[0], &cn) < 0) goto out;
    ob.t = calloc(ob.n, sizeof(probe_target));
    if (!ob.t) goto out;
    for (size_t i = 0; i < ob.n; i++)
        ob.t[i].node = ob.nodes[i];
    ei_x_encode_list_header(&a_vis, 1);
    ei_x_encode_atom(&a_vis, "visible");
    ei_x_encode_empty_list(&a_vis);
    ei_x_encode_list_header(&a_hid, 1);
    ei_x_encode_atom(&a_hid, "hidden");
    ei_x_encode_empty_list(&a_hid);
    ei_x_encode_list_header(&a_otp, 1);
    ei_x_encode_atom(&a_otp, "otp_release");
    ei_x_encode_empty_list(&a_otp);
    ei_x_encode_empty_list(&a_none);
    probe_call calls[N_CALLS] = {
        [CALL_VISIBLE] = {"erlang", "nodes", &a_vis},
        [CALL_HIDDEN] = {"erlang", "nodes", &a_hid},
        [CALL_OTP] = {"erlang", "system_info", &a_otp},
        [CALL_TICK] = {"net_kernel", "get_net_ticktime", &a_none},
    };
    unsigned ctmo = cli_timeout(&o, cfg ? (unsigned)cfg->node.connect_timeout_ms : 5000);
    unsigned rtmo = cli_timeout(&o, cfg ? (unsigned)cfg->node.rpc_timeout_ms : 5000);
    char err[256];
    if (probe_run(&cn, ob.t, ob.n, calls, N_CALLS, ctmo, rtmo, err, sizeof(err)) < 0 ||
        analyse(&ob, cn.name) < 0) {
        fprintf(stderr, "clusterd mesh: %s\n", "out of memory");
        goto out;
    }
    if (o.json) {
        json_t *j = to_json(&ob);
        char *s = json_dumps(j, JSON_INDENT(2));
        if (s) printf("%s\n", s);
        free(s);
        json_decref(j);
    } else {
        print_text(&ob);
    }
    status = ob.full_mesh ? EXIT_OK : EXIT_FAIL;
out:
    observation_free(&ob);
    ei_x_free(&a_vis);
    ei_x_free(&a_hid);
    ei_x_free(&a_otp);
    ei_x_free(&a_none);
    cnode_close(&cn);
    config_free(cfg);
    free(o.args);
    return status;
}
