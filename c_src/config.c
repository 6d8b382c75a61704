/* config: clusterd's configuration schema. It validates the YAML file against
 * the option tables (config_node_options, config_reconcile_options and each
 * strategy's table) plus the checks no table can express (node names, MFAs,
 * nameservers, strategies, topologies). Every problem becomes one
 * "file:line:col: message" entry; validation keeps going after an error so a
 * single run reports them all, sorted by position. The YAML reading, typed
 * option reading and the diagnostics list live in config_yaml.c. The cookie
 * itself is never read here: only the file path or the environment variable
 * name that holds it. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_yaml.h"
#include "discovery.h"
#include "tls_config.h"

#define CONFIG_FILE_MAX (1024 * 1024) /* a config is a few KiB; refuse anything huge */
#define CONFIG_TOPOLOGIES_MAX 256
#define CONFIG_NAME_MAX 255 /* topology names, atoms, node names */

/* ---- option tables ------------------------------------------------------ */

static const char *const visibility_choices[] = {"hidden", "visible", NULL};

const opt_spec config_node_options[] = {
    {.name = "name", .type = OPT_STRING, .help = "long node name (alive@host) of clusterd itself"},
    {.name = "sname", .type = OPT_STRING, .help = "short node name; excludes 'name'"},
    {.name = "cookie_file", .type = OPT_STRING, .help = "file holding the cookie (mode 0400/0600)"},
    {.name = "cookie_env", .type = OPT_STRING, .help = "environment variable holding the cookie"},
    {.name = "visibility",
     .type = OPT_ENUM,
     .def_str = "hidden",
     .choices = visibility_choices,
     .help = "hidden (default) or visible in members' nodes()"},
    {.name = "connect_timeout",
     .type = OPT_INT,
     .def_int = 5000,
     .min = 100,
     .max = 600000,
     .help = "ms for EPMD lookup plus handshake"},
    {.name = "rpc_timeout",
     .type = OPT_INT,
     .def_int = 5000,
     .min = 100,
     .max = 600000,
     .help = "ms for every RPC"},
    {.name = "net_ticktime",
     .type = OPT_INT,
     .def_int = 60,
     .min = 1,
     .max = 3600,
     .help = "seconds; the members' net_ticktime"},
};
const size_t config_node_options_count = sizeof config_node_options / sizeof config_node_options[0];

const opt_spec config_reconcile_options[] = {
    {.name = "poll_interval",
     .type = OPT_INT,
     .def_int = 10000,
     .min = 100,
     .max = 3600000,
     .help = "ms between safety-net observations of the mesh"},
    {.name = "backoff_min",
     .type = OPT_INT,
     .def_int = 200,
     .min = 10,
     .max = 60000,
     .help = "ms before the first retry of a failed action"},
    {.name = "backoff_max",
     .type = OPT_INT,
     .def_int = 5000,
     .min = 100,
     .max = 3600000,
     .help = "ms: cap of the retry delay"},
    {.name = "max_actions_per_second",
     .type = OPT_INT,
     .def_int = 50,
     .min = 1,
     .max = 100000,
     .help = "planned actions (one per member and pass) started per second at most; bursts "
             "up to 4 per member"},
};
const size_t config_reconcile_options_count =
    sizeof config_reconcile_options / sizeof config_reconcile_options[0];

const opt_spec config_http_options[] = {
    {.name = "listen",
     .type = OPT_STRING,
     .required = true,
     .help = "\"address:port\" to serve /metrics, /healthz, /readyz on (IPv6 as \"[::1]:9568\")"},
    {.name = "max_connections",
     .type = OPT_INT,
     .def_int = 16,
     .min = 1,
     .max = 1024,
     .help = "connections served at once; further ones are refused"},
    {.name = "connection_timeout",
     .type = OPT_INT,
     .def_int = 10,
     .min = 1,
     .max = 600,
     .help = "seconds: an idle or slow connection is closed after this"},
};
const size_t config_http_options_count = sizeof config_http_options / sizeof config_http_options[0];

static const opt_spec resolver_options[] = {
    {.name = "nameservers",
     .type = OPT_STRING_LIST,
     .help = "\"ip:port\" DNS servers (IPv6 as \"[::1]:53\"); default /etc/resolv.conf"},
};

static const opt_spec topology_options[] = {
    {.name = "strategy",
     .type = OPT_STRING,
     .required = true,
     .help = "libcluster strategy module or its alias"},
    {.name = "prune",
     .type = OPT_BOOL,
     .def_int = 1,
     .help = "disconnect members missing from a successful answer"},
};

/* ---- node: -------------------------------------------------------------- */

/* "alive" or "alive@host": the alive part as erl accepts it, any host
 * without spaces (resolution is cnode's business). */
static bool node_name_valid(const char *s)
{
    size_t len = strlen(s);
    const char *at = strchr(s, '@');
    size_t alive = at ? (size_t)(at - s) : len;
    if (len > CONFIG_NAME_MAX || alive == 0) return false;
    for (size_t k = 0; k < alive; k++) {
        char ch = s[k];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-'))
            return false;
    }
    if (!at) return true;
    if (at[1] == '\0') return false;
    for (const char *p = at + 1; *p; p++) {
        if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '@') return false;
    }
    return true;
}

static bool env_name_valid(const char *s)
{
    if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return false;
    for (const char *p = s; *p; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return false;
    }
    return true;
}

static char *steal_str(opt_values *ov, const char *name)
{
    opt_value *v = (opt_value *)opts_get(ov, name);
    char *s = v->s;
    v->s = NULL;
    return s;
}

static void cfg_read_node(cfg_ctx *c, const yaml_node_t *key, const yaml_node_t *val,
                          config_node *node)
{
    static const char *const misplaced[] = {"cookie", NULL};
    cfg_extra extras[] = {{.name = "tls"}};
    cfg_map m = {.where = "in node",
                 .specs = config_node_options,
                 .n_specs = config_node_options_count,
                 .extras = extras,
                 .n_extras = COUNT_OF(extras),
                 .misplaced = misplaced,
                 .misplaced_hint = "the cookie itself never goes in the config: use "
                                   "'cookie_file' or 'cookie_env'"};
    opt_values ov = {0};
    if (!cfg_expect_map(c, val, "node")) val = NULL;
    if (cfg_read_map(c, val, key, &m, &ov) < 0) goto done;
    if (extras[0].key) tls_config_read(c, extras[0].key, extras[0].value, &node->tls);

    const opt_value *name = opts_get(&ov, "name"), *sname = opts_get(&ov, "sname");
    if (name->set && sname->set) {
        const opt_value *later =
            (name->line > sname->line || (name->line == sname->line && name->col > sname->col))
                ? name
                : sname;
        cfg_error_pos(c, later->line, later->col,
                      "'name' and 'sname' are mutually exclusive; give only one");
    } else if (name->set && !node_name_valid(name->s)) {
        cfg_error_pos(c, name->line, name->col,
                      "'name' must be a node name such as clusterd@127.0.0.1 (letters, digits, "
                      "'_' and '-' before '@')");
    } else if (sname->set && !node_name_valid(sname->s)) {
        cfg_error_pos(c, sname->line, sname->col,
                      "'sname' must be a node name such as clusterd (letters, digits, '_' and "
                      "'-' before '@')");
    } else if (name->set) {
        node->name = steal_str(&ov, "name");
        node->longnames = true;
    } else if (sname->set) {
        node->name = steal_str(&ov, "sname");
        node->longnames = false;
    }

    const opt_value *env = opts_get(&ov, "cookie_env");
    if (env->set && !env_name_valid(env->s))
        cfg_error_pos(c, env->line, env->col,
                      "'cookie_env' must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)");
    node->cookie_file = steal_str(&ov, "cookie_file");
    node->cookie_env = steal_str(&ov, "cookie_env");

    const opt_value *vis = opts_get(&ov, "visibility");
    node->visible = vis->s && strcmp(vis->s, "visible") == 0;
    if (node->visible && vis->set)
        cfg_warn_pos(c, vis->line, vis->col,
                     "visibility: visible puts clusterd in every member's nodes(), so "
                     "rpc:multicall(nodes(), ...) on a member returns {badrpc, notsup} for it "
                     "and code that calls every node in nodes() must leave it out; members "
                     "with global_groups disconnect it; changing visibility needs a restart "
                     "of clusterd");
    node->connect_timeout_ms = opts_int(&ov, "connect_timeout");
    node->rpc_timeout_ms = opts_int(&ov, "rpc_timeout");
    node->net_ticktime_s = opts_int(&ov, "net_ticktime");
done:
    opts_values_free(&ov);
}

/* ---- reconcile: --------------------------------------------------------- */

static void cfg_read_reconcile(cfg_ctx *c, const yaml_node_t *key, const yaml_node_t *val,
                               config *cfg)
{
    cfg_map m = {.where = "in reconcile",
                 .specs = config_reconcile_options,
                 .n_specs = config_reconcile_options_count};
    opt_values ov = {0};
    if (!cfg_expect_map(c, val, "reconcile")) val = NULL;
    size_t errors_before = c->n_errors;
    if (cfg_read_map(c, val, key, &m, &ov) < 0) goto done;
    cfg->poll_interval_ms = opts_int(&ov, "poll_interval");
    cfg->backoff_min_ms = opts_int(&ov, "backoff_min");
    cfg->backoff_max_ms = opts_int(&ov, "backoff_max");
    cfg->max_actions_per_s = opts_int(&ov, "max_actions_per_second");
    /* Compare only values that were themselves valid. */
    if (c->n_errors == errors_before && cfg->backoff_min_ms > cfg->backoff_max_ms) {
        const opt_value *at = opts_get(&ov, "backoff_min");
        if (!at->set) at = opts_get(&ov, "backoff_max");
        cfg_error_pos(c, at->line, at->col,
                      "'backoff_min' (%lld) must not exceed 'backoff_max' (%lld)",
                      cfg->backoff_min_ms, cfg->backoff_max_ms);
    }
done:
    opts_values_free(&ov);
}

/* ---- resolver: ---------------------------------------------------------- */

static bool port_valid(const char *s)
{
    long long port;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return false;
    }
    return s[0] && cfg_parse_ll(s, &port) && port >= 1 && port <= 65535;
}

/* "ip", "ip:port", "[v6]" or "[v6]:port". */
static bool nameserver_valid(const char *s)
{
    const char *port = NULL;
    size_t hlen;
    if (s[0] == '[') {
        char host[CONFIG_NAME_MAX + 1];
        const char *close = strchr(s, ']');
        if (!close) return false;
        hlen = (size_t)(close - s - 1);
        if (hlen == 0 || hlen > CONFIG_NAME_MAX) return false;
        memcpy(host, s + 1, hlen);
        host[hlen] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, host, &a6) != 1) return false;
        if (close[1] == ':')
            port = close + 2;
        else if (close[1] != '\0')
            return false;
    } else {
        const char *colon = strchr(s, ':');
        if (colon && strchr(colon + 1, ':'))
            return false; /* a bare IPv6 address: the port would be ambiguous */
        hlen = colon ? (size_t)(colon - s) : strlen(s);
        if (hlen == 0 || hlen > CONFIG_NAME_MAX) return false;
        /* An address: a resolver cannot be found by name (c-ares takes IPs). */
        char host[CONFIG_NAME_MAX + 1];
        memcpy(host, s, hlen);
        host[hlen] = '\0';
        struct in_addr a4;
        if (inet_pton(AF_INET, host, &a4) != 1) return false;
        if (colon) port = colon + 1;
    }
    return !port || port_valid(port);
}

static void cfg_read_resolver(cfg_ctx *c, const yaml_node_t *key, const yaml_node_t *val,
                              config *cfg)
{
    cfg_map m = {
        .where = "in resolver", .specs = resolver_options, .n_specs = COUNT_OF(resolver_options)};
    opt_values ov = {0};
    if (!cfg_expect_map(c, val, "resolver")) val = NULL;
    if (cfg_read_map(c, val, key, &m, &ov) < 0) goto done;
    const yaml_node_t *list = cfg_find_key(c, val, "nameservers");
    size_t n = list && list->type == YAML_SEQUENCE_NODE ? cfg_seq_len(list) : 1;
    for (size_t k = 0; list && k < n; k++) {
        const yaml_node_t *item = list->type == YAML_SEQUENCE_NODE
                                      ? cfg_doc_node(c, list->data.sequence.items.start[k])
                                      : list;
        const char *s = cfg_scalar_string(item);
        if (s && !nameserver_valid(s)) {
            char q[CFG_QUOTE_MAX];
            cfg_error(c, item,
                      "nameserver '%s' must be an IP address or \"ip:port\" with a port from 1 to "
                      "65535 (IPv6 as \"[::1]:53\")",
                      cfg_quote(q, sizeof q, s));
        }
    }
    opt_value *ns = (opt_value *)opts_get(&ov, "nameservers");
    cfg->nameservers = ns->list;
    cfg->n_nameservers = ns->list_len;
    ns->list = NULL;
    ns->list_len = 0;
done:
    opts_values_free(&ov);
}

/* ---- http: -------------------------------------------------------------- */

/* "a.b.c.d:port" or "[v6]:port" with an IP literal (the endpoint binds to
 * exactly that address) and a port from 0 (any free port) to 65535. Fills
 * addr (without brackets) and port. */
static bool http_listen_parse(const char *s, char *addr, size_t addrlen, int *port)
{
    const char *host = s, *colon;
    size_t hlen;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') return false;
        host = s + 1;
        hlen = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || memchr(s, ':', (size_t)(colon - s))) return false;
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0 || hlen >= addrlen) return false;
    memcpy(addr, host, hlen);
    addr[hlen] = '\0';
    struct in6_addr a6;
    struct in_addr a4;
    if (s[0] == '[' ? inet_pton(AF_INET6, addr, &a6) != 1 : inet_pton(AF_INET, addr, &a4) != 1)
        return false;
    const char *p = colon + 1;
    long long v;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9') return false;
    if (!p[0] || !cfg_parse_ll(p, &v) || v < 0 || v > 65535) return false;
    *port = (int)v;
    return true;
}

static void cfg_read_http(cfg_ctx *c, const yaml_node_t *key, const yaml_node_t *val,
                          config_http *http)
{
    cfg_map m = {
        .where = "in http", .specs = config_http_options, .n_specs = config_http_options_count};
    opt_values ov = {0};
    if (!cfg_expect_map(c, val, "http")) val = NULL;
    if (cfg_read_map(c, val, key, &m, &ov) < 0) goto done;
    http->max_connections = opts_int(&ov, "max_connections");
    http->connection_timeout_s = opts_int(&ov, "connection_timeout");
    const opt_value *listen = opts_get(&ov, "listen");
    if (!listen->set || !listen->s) goto done;
    char addr[INET6_ADDRSTRLEN + 1];
    if (!http_listen_parse(listen->s, addr, sizeof addr, &http->port)) {
        char q[CFG_QUOTE_MAX];
        cfg_error_pos(c, listen->line, listen->col,
                      "'listen' must be \"address:port\" with an IP address and a port from 0 "
                      "to 65535, such as \"127.0.0.1:9568\", \"0.0.0.0:9568\" or \"[::]:9568\" "
                      "(got '%s')",
                      cfg_quote(q, sizeof q, listen->s));
        goto done;
    }
    if (!(http->addr = cfg_strdup(c, addr))) goto done;
    http->listen = steal_str(&ov, "listen");
done:
    opts_values_free(&ov);
}

/* ---- topologies: -------------------------------------------------------- */

/* Atom text we are willing to put on the wire: what real module and function
 * names use, at most 255 bytes. */
static bool atom_text_valid(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > CONFIG_NAME_MAX) return false;
    for (const char *p = s; *p; p++) {
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == '@' || ch == '?' || ch == '!'))
            return false;
    }
    return true;
}

/* "MyApp.Cluster" -> "Elixir.MyApp.Cluster", ":net_kernel" -> "net_kernel". */
static char *mfa_atom(cfg_ctx *c, const char *s, bool module)
{
    if (s[0] == ':') return cfg_strdup(c, s + 1);
    if (module && s[0] >= 'A' && s[0] <= 'Z' && strncmp(s, "Elixir.", 7) != 0) {
        char *p = cfg_format("Elixir.%s", s);
        if (!p) c->oom = true;
        return p;
    }
    return cfg_strdup(c, s);
}

static void mfa_clear(config_mfa *mfa)
{
    free(mfa->module);
    free(mfa->function);
    for (size_t k = 0; k < mfa->nargs; k++)
        free(mfa->args[k].text);
    free(mfa->args);
    *mfa = (config_mfa){0};
}

static int mfa_set_default(cfg_ctx *c, config_mfa *mfa, const char *module, const char *function)
{
    mfa_clear(mfa);
    mfa->module = cfg_strdup(c, module);
    mfa->function = cfg_strdup(c, function);
    return mfa->module && mfa->function ? 0 : -1;
}

static bool digits_only(const char *s)
{
    if (*s == '+' || *s == '-') s++;
    if (!*s) return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
    }
    return true;
}

/* One argument: 42 -> integer, :name/true/false/nil -> atom, else binary. */
static int mfa_read_arg(cfg_ctx *c, const char *what, const yaml_node_t *n, config_mfa_arg *arg)
{
    const char *s = cfg_node_text(n);
    if (!s) {
        cfg_error(c, n,
                  "'%s' arguments must be integers, atoms (:name, true, false, nil) or strings",
                  what);
        return -1;
    }
    bool plain = cfg_node_is_plain(n);
    if (plain && digits_only(s)) {
        if (!cfg_parse_ll(s, &arg->i)) {
            cfg_error(c, n, "'%s' argument %s does not fit in a 64-bit integer", what, s);
            return -1;
        }
        arg->kind = MFA_ARG_INT;
        return 0;
    }
    if (s[0] == ':') {
        if (!atom_text_valid(s + 1)) {
            char q[CFG_QUOTE_MAX];
            cfg_error(c, n, "'%s' argument '%s' is not a valid atom", what,
                      cfg_quote(q, sizeof q, s));
            return -1;
        }
        arg->kind = MFA_ARG_ATOM;
        arg->text = cfg_strdup(c, s + 1);
        return arg->text ? 0 : -1;
    }
    if (plain && (strcmp(s, "true") == 0 || strcmp(s, "false") == 0 || strcmp(s, "nil") == 0)) {
        arg->kind = MFA_ARG_ATOM;
        arg->text = cfg_strdup(c, s);
        return arg->text ? 0 : -1;
    }
    if (cfg_node_is_null(n)) { /* YAML's null is Elixir's nil */
        arg->kind = MFA_ARG_ATOM;
        arg->text = cfg_strdup(c, "nil");
        return arg->text ? 0 : -1;
    }
    arg->kind = MFA_ARG_BINARY;
    arg->text = cfg_strdup(c, s);
    return arg->text ? 0 : -1;
}

/* `[module, function]` or `[module, function, [args...]]`. Leaves mfa empty
 * on error; the caller then fills the default. */
static void cfg_read_mfa(cfg_ctx *c, const char *what, const yaml_node_t *key,
                         const yaml_node_t *val, config_mfa *mfa)
{
    config_mfa out = {0};
    if (cfg_node_is_null(val) || val->type != YAML_SEQUENCE_NODE ||
        (cfg_seq_len(val) != 2 && cfg_seq_len(val) != 3)) {
        cfg_error(c, cfg_node_is_null(val) ? key : val,
                  "'%s' must be a list [module, function] or [module, function, [args...]]", what);
        return;
    }
    yaml_node_item_t *items = val->data.sequence.items.start;
    const yaml_node_t *mod = cfg_doc_node(c, items[0]), *fun = cfg_doc_node(c, items[1]);
    const yaml_node_t *args = cfg_seq_len(val) == 3 ? cfg_doc_node(c, items[2]) : NULL;
    bool ok = true;
    const char *ms = cfg_node_is_null(mod) ? NULL : cfg_node_text(mod);
    if (ms && !(out.module = mfa_atom(c, ms, true))) goto fail;
    if (!out.module || !atom_text_valid(out.module)) {
        cfg_error(c, mod,
                  "'%s' module must be a module name such as net_kernel or MyApp.Cluster "
                  "(letters, digits, '_', '.', '@'; at most %d bytes)",
                  what, CONFIG_NAME_MAX);
        ok = false;
    }
    const char *fs = cfg_node_is_null(fun) ? NULL : cfg_node_text(fun);
    if (fs && !(out.function = mfa_atom(c, fs, false))) goto fail;
    if (!out.function || !atom_text_valid(out.function)) {
        cfg_error(c, fun,
                  "'%s' function must be a function name such as connect_node (letters, "
                  "digits, '_', '.', '@', '?', '!'; at most %d bytes)",
                  what, CONFIG_NAME_MAX);
        ok = false;
    }
    if (args && !cfg_node_is_null(args)) {
        if (args->type != YAML_SEQUENCE_NODE) {
            cfg_error(c, args, "'%s' arguments must be a list, such as [] or [\":permanent\"]",
                      what);
            ok = false;
        } else if (cfg_seq_len(args) > 0) {
            out.args = calloc(cfg_seq_len(args), sizeof *out.args);
            if (!out.args) {
                c->oom = true;
                goto fail;
            }
            for (size_t k = 0; k < cfg_seq_len(args); k++) {
                if (mfa_read_arg(c, what, cfg_doc_node(c, args->data.sequence.items.start[k]),
                                 &out.args[out.nargs]) < 0) {
                    free(out.args[out.nargs].text);
                    out.args[out.nargs].text = NULL;
                    ok = false;
                    continue;
                }
                out.nargs++;
            }
        }
    }
    if (!ok) goto fail;
    mfa_clear(mfa);
    *mfa = out;
    return;
fail:
    mfa_clear(&out);
}

static bool topology_name_valid(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > CONFIG_NAME_MAX) return false;
    for (const char *p = s; *p; p++) {
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == '-'))
            return false;
    }
    return true;
}

static void cfg_unknown_strategy(cfg_ctx *c, const opt_value *v, const char *topology)
{
    size_t n = 0;
    const strategy_ops *const *all = discovery_strategies(&n);
    cfg_suggest s = {0};
    char valid[1024] = "";
    size_t used = 0;
    for (size_t k = 0; k < n; k++) {
        cfg_suggest_consider(&s, v->s, all[k]->module);
        cfg_suggest_consider(&s, v->s, all[k]->alias);
        int w = snprintf(valid + used, sizeof valid - used, "%s%s (%s)", used ? ", " : "",
                         all[k]->module, all[k]->alias);
        if (w < 0 || (size_t)w >= sizeof valid - used) break;
        used += (size_t)w;
    }
    char q[CFG_QUOTE_MAX], t[CFG_QUOTE_MAX];
    cfg_quote(q, sizeof q, v->s);
    cfg_quote(t, sizeof t, topology);
    if (s.best)
        cfg_error_pos(c, v->line, v->col,
                      "unknown strategy '%s' in topology '%s'; did you mean '%s'? valid "
                      "strategies: %s",
                      q, t, s.best, valid);
    else
        cfg_error_pos(c, v->line, v->col,
                      "unknown strategy '%s' in topology '%s'; valid strategies: %s", q, t, valid);
}

/* The strategy's own check beyond types and bounds. Its message usually
 * starts with the option ("hosts[2]: ..."): point at that value if we can. */
static void cfg_validate_strategy(cfg_ctx *c, const config_topology *t, const yaml_node_t *owner,
                                  const yaml_node_t *cval, const char *where)
{
    char err[512] = "";
    if (!t->strategy->validate || t->strategy->validate(&t->options, err, sizeof err) == 0) return;
    const yaml_node_t *at = owner;
    size_t n = strcspn(err, "[:");
    for (size_t k = 0; k < t->options.count; k++) {
        const char *name = t->options.specs[k].name;
        if (strlen(name) != n || strncmp(err, name, n) != 0) continue;
        const yaml_node_t *val = cfg_find_key(c, cval, name);
        long long idx;
        char digits[24] = "";
        if (val && err[n] == '[' && sscanf(err + n, "[%20[0-9]]", digits) == 1 &&
            cfg_parse_ll(digits, &idx) && val->type == YAML_SEQUENCE_NODE &&
            (size_t)idx < cfg_seq_len(val))
            val = cfg_doc_node(c, val->data.sequence.items.start[idx]);
        if (val) at = val;
        break;
    }
    cfg_error(c, at, "%s %s", err[0] ? err : "invalid options", where);
}

static void cfg_read_topology(cfg_ctx *c, const yaml_node_t *key, const yaml_node_t *val,
                              config_topology *t)
{
    static const char *const topology_keys[] = {"strategy", "prune", "connect", "disconnect", NULL};
    char q[CFG_QUOTE_MAX], where[CFG_QUOTE_MAX + 32], cwhere[2 * CFG_QUOTE_MAX + 64];
    cfg_quote(q, sizeof q, t->name);
    snprintf(where, sizeof where, "in topology '%s'", q);
    t->line = cfg_mark_line(&key->start_mark);
    t->col = cfg_mark_col(&key->start_mark);
    t->prune = true;
    opt_values tv = {0};

    if (!cfg_node_is_null(val) && val->type != YAML_MAPPING_NODE) {
        cfg_error(c, val, "topology '%s' must be a mapping with a 'strategy:' key", q);
        val = NULL;
    }
    /* Known before the walk so keys of the strategy's own table that were
     * put beside `strategy:` get a precise hint. */
    const char *sname = cfg_node_text(cfg_find_key(c, val, "strategy"));
    const strategy_ops *ops = sname ? discovery_find_strategy(sname) : NULL;

    cfg_extra extras[] = {{.name = "config"}, {.name = "connect"}, {.name = "disconnect"}};
    cfg_map m = {.where = where,
                 .specs = topology_options,
                 .n_specs = COUNT_OF(topology_options),
                 .extras = extras,
                 .n_extras = COUNT_OF(extras),
                 .misplaced_opts = ops ? ops->options : NULL,
                 .n_misplaced_opts = ops ? ops->n_options : 0,
                 .misplaced_hint = "strategy options go under 'config:'"};
    if (cfg_read_map(c, val, key, &m, &tv) < 0) goto done;
    t->prune = opts_bool(&tv, "prune");

    const opt_value *strategy = opts_get(&tv, "strategy");
    if (strategy->set) {
        t->strategy = discovery_find_strategy(strategy->s);
        if (!t->strategy) cfg_unknown_strategy(c, strategy, t->name);
    }
    if (t->strategy) {
        const yaml_node_t *ckey = extras[0].key, *cval = extras[0].value;
        snprintf(cwhere, sizeof cwhere, "in config of topology '%s' (%s)", q, t->strategy->module);
        cfg_map cm = {.where = cwhere,
                      .specs = t->strategy->options,
                      .n_specs = t->strategy->n_options,
                      .misplaced = topology_keys,
                      .misplaced_hint = "it belongs beside 'strategy:', not under 'config:'"};
        if (ckey && !cfg_expect_map(c, cval, "config")) cval = NULL;
        size_t errors_before = c->n_errors;
        if (cfg_read_map(c, cval, ckey ? ckey : key, &cm, &t->options) < 0) goto done;
        if (c->n_errors == errors_before)
            cfg_validate_strategy(c, t, ckey ? ckey : key, cval, cwhere);
    } else if (extras[0].key) {
        cfg_expect_map(c, extras[0].value, "config");
    }

    if (extras[1].key) cfg_read_mfa(c, "connect", extras[1].key, extras[1].value, &t->connect);
    if (extras[2].key)
        cfg_read_mfa(c, "disconnect", extras[2].key, extras[2].value, &t->disconnect);
    if (!t->connect.module) mfa_set_default(c, &t->connect, "net_kernel", "connect_node");
    if (!t->disconnect.module) mfa_set_default(c, &t->disconnect, "erlang", "disconnect_node");
done:
    opts_values_free(&tv);
}

static void cfg_read_topologies(cfg_ctx *c, const yaml_node_t *root, const yaml_node_t *key,
                                const yaml_node_t *val, config *cfg)
{
    if (!key) {
        cfg_error(c, root, "at least one topology is required: add a 'topologies:' section");
        return;
    }
    if (!cfg_node_is_null(val) && val->type != YAML_MAPPING_NODE) {
        cfg_error(c, val, "'topologies' must be a mapping of topology names to settings");
        return;
    }
    size_t n = cfg_node_is_null(val)
                   ? 0
                   : (size_t)(val->data.mapping.pairs.top - val->data.mapping.pairs.start);
    if (n == 0) {
        cfg_error(c, key, "at least one topology is required under 'topologies:'");
        return;
    }
    if (n > CONFIG_TOPOLOGIES_MAX) {
        cfg_error(c, key, "too many topologies (%zu; at most %d)", n, CONFIG_TOPOLOGIES_MAX);
        return;
    }
    cfg->topologies = calloc(n, sizeof *cfg->topologies);
    if (!cfg->topologies) {
        c->oom = true;
        return;
    }
    for (size_t k = 0; k < n; k++) {
        yaml_node_pair_t *p = &val->data.mapping.pairs.start[k];
        const yaml_node_t *tkey = cfg_doc_node(c, p->key), *tval = cfg_doc_node(c, p->value);
        const char *name = cfg_node_text(tkey);
        char q[CFG_QUOTE_MAX];
        if (!name || !topology_name_valid(name)) {
            cfg_error(c, tkey,
                      "topology name '%s' must be 1 to %d letters, digits, '_', '.' or '-'",
                      cfg_quote(q, sizeof q, name ? name : ""), CONFIG_NAME_MAX);
            name = name ? name : "";
        }
        for (size_t j = 0; j < k; j++) {
            if (strcmp(cfg->topologies[j].name, name) == 0) {
                cfg_error(c, tkey, "duplicate topology '%s' (first given at line %d)",
                          cfg_quote(q, sizeof q, name), cfg->topologies[j].line);
                break;
            }
        }
        config_topology *t = &cfg->topologies[cfg->n_topologies++];
        if (!(t->name = cfg_strdup(c, name))) return;
        cfg_read_topology(c, tkey, tval, t);
        if (c->oom) return;
    }
}

/* ---- top level ---------------------------------------------------------- */

/* A cfg_root_reader: root is NULL for an empty document. */
static void cfg_read_root(cfg_ctx *c, const yaml_node_t *root, void *arg)
{
    config *cfg = arg;
    if (!root) {
        cfg_error_pos(c, 1, 1, "the configuration is empty; at least one topology is required");
        return;
    }
    if (root->type != YAML_MAPPING_NODE) {
        cfg_error(c, root,
                  "the configuration must be a mapping of sections (node, reconcile, "
                  "resolver, topologies, http)");
        return;
    }
    enum { X_NODE, X_RECONCILE, X_RESOLVER, X_TOPOLOGIES, X_HTTP };
    cfg_extra ex[] = {{.name = "node"},
                      {.name = "reconcile"},
                      {.name = "resolver"},
                      {.name = "topologies"},
                      {.name = "http"}};
    cfg_map m = {.where = "at the top level", .extras = ex, .n_extras = COUNT_OF(ex)};
    if (cfg_read_map(c, root, root, &m, NULL) < 0) return;
    cfg_read_node(c, ex[X_NODE].key, ex[X_NODE].value, &cfg->node);
    cfg_read_reconcile(c, ex[X_RECONCILE].key, ex[X_RECONCILE].value, cfg);
    cfg_read_resolver(c, ex[X_RESOLVER].key, ex[X_RESOLVER].value, cfg);
    if (ex[X_HTTP].key) cfg_read_http(c, ex[X_HTTP].key, ex[X_HTTP].value, &cfg->http);
    cfg_read_topologies(c, root, ex[X_TOPOLOGIES].key, ex[X_TOPOLOGIES].value, cfg);
}

int config_load_string(const char *text, size_t len, const char *label, config **out,
                       config_diag *diag)
{
    config_diag scratch = {0};
    if (!diag) diag = &scratch;
    *diag = (config_diag){0};
    if (out) *out = NULL;
    cfg_ctx c = {
        .label = label ? label : "<string>", .text = text ? text : "", .len = text ? len : 0};
    config *cfg = calloc(1, sizeof *cfg);
    if (!cfg || !(cfg->path = cfg_strdup(&c, c.label))) {
        c.oom = true;
        goto done;
    }
    cfg_parse_document(&c, cfg_read_root, cfg);
done:;
    bool failed = c.n_errors > 0 || c.oom;
    cfg_flush_diag(&c, diag);
    if (failed || !out)
        config_free(cfg);
    else
        *out = cfg;
    if (diag == &scratch) config_diag_free(&scratch);
    return failed ? -1 : 0;
}

static void diag_cannot_read(const char *path, const char *why, config_diag *diag)
{
    if (!diag) return;
    *diag = (config_diag){0};
    cfg_diag_add_error(diag, cfg_format("%s: cannot read: %s", path, why));
}

/* Reads the whole file (capped) and parses it from memory with the path as
 * the label. */
int config_load_file(const char *path, config **out, config_diag *diag)
{
    char *buf = NULL;
    int rc = -1;
    const char *why = NULL;
    if (out) *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        why = strerror(errno);
        goto fail;
    }
    buf = malloc(CONFIG_FILE_MAX + 1);
    if (!buf) {
        why = strerror(ENOMEM);
        goto fail;
    }
    errno = 0;
    size_t len = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
    if (ferror(f)) {
        why = strerror(errno ? errno : EIO);
        goto fail;
    }
    if (len > CONFIG_FILE_MAX) {
        why = "larger than 1 MiB";
        goto fail;
    }
    rc = config_load_string(buf, len, path, out, diag);
    goto done;
fail:
    diag_cannot_read(path, why, diag);
done:
    free(buf);
    if (f) fclose(f);
    return rc;
}

static void topology_free(config_topology *t)
{
    free(t->name);
    mfa_clear(&t->connect);
    mfa_clear(&t->disconnect);
    opts_values_free(&t->options);
}

void config_free(config *cfg)
{
    if (!cfg) return;
    free(cfg->path);
    free(cfg->node.name);
    free(cfg->node.cookie_file);
    free(cfg->node.cookie_env);
    tls_config_free(cfg->node.tls);
    free(cfg->http.listen);
    free(cfg->http.addr);
    for (size_t k = 0; k < cfg->n_nameservers; k++)
        free(cfg->nameservers[k]);
    free(cfg->nameservers);
    for (size_t k = 0; k < cfg->n_topologies; k++)
        topology_free(&cfg->topologies[k]);
    free(cfg->topologies);
    free(cfg);
}
