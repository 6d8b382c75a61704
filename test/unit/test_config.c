/* Unit tests for config.c and opts.c: the YAML schema, its defaults and every
 * kind of error message (exact text and file:line:col), against the real
 * strategy table in discovery.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "discovery.h"

#define LABEL "t.yaml"

/* Loads text under LABEL; the caller frees cfg and diag. */
static int load(const char *text, config **cfg, config_diag *diag)
{
    return config_load_string(text, strlen(text), LABEL, cfg, diag);
}

static void dump_diag(const config_diag *d)
{
    for (size_t k = 0; k < d->n_errors; k++)
        fprintf(stderr, "  error[%zu]: %s\n", k, d->errors[k]);
    for (size_t k = 0; k < d->n_warnings; k++)
        fprintf(stderr, "  warning[%zu]: %s\n", k, d->warnings[k]);
}

/* Asserts the exact error list, in order. */
static void expect_errors(const config_diag *d, const char *const *want, size_t n)
{
    if (d->n_errors != n) dump_diag(d);
    assert_int_equal(d->n_errors, n);
    for (size_t k = 0; k < n; k++)
        assert_string_equal(d->errors[k], want[k]);
}

/* Loads text expecting failure with exactly the given errors. */
static void expect_fail(const char *text, const char *const *want, size_t n)
{
    config *cfg = (config *)0x1;
    config_diag d;
    assert_int_equal(load(text, &cfg, &d), -1);
    assert_null(cfg);
    expect_errors(&d, want, n);
    config_diag_free(&d);
}

#define EXPECT_FAIL(text, ...)                                                                     \
    do {                                                                                           \
        const char *const want_[] = {__VA_ARGS__};                                                 \
        expect_fail(text, want_, sizeof want_ / sizeof want_[0]);                                  \
    } while (0)

/* Loads text expecting success and no warnings. */
static config *expect_ok(const char *text)
{
    config *cfg = NULL;
    config_diag d;
    int rc = load(text, &cfg, &d);
    if (rc != 0 || d.n_warnings) dump_diag(&d);
    assert_int_equal(rc, 0);
    assert_non_null(cfg);
    assert_int_equal(d.n_errors, 0);
    assert_int_equal(d.n_warnings, 0);
    config_diag_free(&d);
    return cfg;
}

static const char *const full_yaml =
    "# every section\n"
    "node:\n"
    "  name: clusterd@127.0.0.1\n"
    "  cookie_file: /etc/clusterd/cookie\n"
    "  cookie_env: RELEASE_COOKIE\n"
    "  visibility: hidden\n"
    "  connect_timeout: 2500\n"
    "  rpc_timeout: 7000\n"
    "  net_ticktime: 20\n"
    "reconcile:\n"
    "  poll_interval: 3000\n"
    "  backoff_min: 50\n"
    "  backoff_max: 5000\n"
    "resolver:\n"
    "  nameservers: [\"127.0.0.1:5300\", \"[::1]:53\", \"10.0.0.53\"]\n"
    "topologies:\n"
    "  example:\n"
    "    strategy: Cluster.Strategy.Epmd\n"
    "    prune: no\n"
    "    config:\n"
    "      hosts: [\"a@127.0.0.1\", \"b@127.0.0.1\"]\n"
    "      timeout: 30000\n"
    "    connect: [MyApp.Cluster, connect_node?, [42, \":permanent\", "
    "true, nil, \"text\", \"123\"]]\n"
    "    disconnect: [\":erlang\", disconnect_node]\n"
    "  local:\n"
    "    strategy: local_epmd\n"
    "    config:\n"
    "      polling_interval: 1000\n"
    "  hosts-file.v2:\n"
    "    strategy: erlang_hosts\n"
    "    config:\n"
    "      hosts_file: /etc/hosts.erlang\n";

static void test_full_file_values(void **state)
{
    (void)state;
    config *cfg = expect_ok(full_yaml);
    assert_string_equal(cfg->path, LABEL);
    assert_string_equal(cfg->node.name, "clusterd@127.0.0.1");
    assert_true(cfg->node.longnames);
    assert_string_equal(cfg->node.cookie_file, "/etc/clusterd/cookie");
    assert_string_equal(cfg->node.cookie_env, "RELEASE_COOKIE");
    assert_false(cfg->node.visible);
    assert_int_equal(cfg->node.connect_timeout_ms, 2500);
    assert_int_equal(cfg->node.rpc_timeout_ms, 7000);
    assert_int_equal(cfg->node.net_ticktime_s, 20);
    assert_int_equal(cfg->poll_interval_ms, 3000);
    assert_int_equal(cfg->backoff_min_ms, 50);
    assert_int_equal(cfg->backoff_max_ms, 5000);
    assert_int_equal(cfg->n_nameservers, 3);
    assert_string_equal(cfg->nameservers[0], "127.0.0.1:5300");
    assert_string_equal(cfg->nameservers[1], "[::1]:53");
    assert_string_equal(cfg->nameservers[2], "10.0.0.53");

    assert_int_equal(cfg->n_topologies, 3);
    const config_topology *t = &cfg->topologies[0];
    assert_string_equal(t->name, "example");
    assert_ptr_equal(t->strategy, discovery_find_strategy("epmd"));
    assert_false(t->prune);
    assert_int_equal(t->line, 17);
    assert_int_equal(t->col, 3);
    size_t n = 0;
    char *const *hosts = opts_list(&t->options, "hosts", &n);
    assert_int_equal(n, 2);
    assert_string_equal(hosts[0], "a@127.0.0.1");
    assert_string_equal(hosts[1], "b@127.0.0.1");
    assert_int_equal(opts_int(&t->options, "timeout"), 30000);
    assert_true(opts_is_set(&t->options, "timeout"));
    const opt_value *v = opts_get(&t->options, "hosts");
    assert_int_equal(v->line, 21);
    assert_int_equal(v->col, 14);

    assert_string_equal(t->connect.module, "Elixir.MyApp.Cluster");
    assert_string_equal(t->connect.function, "connect_node?");
    assert_int_equal(t->connect.nargs, 6);
    assert_int_equal(t->connect.args[0].kind, MFA_ARG_INT);
    assert_int_equal(t->connect.args[0].i, 42);
    assert_int_equal(t->connect.args[1].kind, MFA_ARG_ATOM);
    assert_string_equal(t->connect.args[1].text, "permanent");
    assert_int_equal(t->connect.args[2].kind, MFA_ARG_ATOM);
    assert_string_equal(t->connect.args[2].text, "true");
    assert_int_equal(t->connect.args[3].kind, MFA_ARG_ATOM);
    assert_string_equal(t->connect.args[3].text, "nil");
    assert_int_equal(t->connect.args[4].kind, MFA_ARG_BINARY);
    assert_string_equal(t->connect.args[4].text, "text");
    assert_int_equal(t->connect.args[5].kind, MFA_ARG_BINARY); /* quoted: not an integer */
    assert_string_equal(t->connect.args[5].text, "123");
    assert_string_equal(t->disconnect.module, "erlang");
    assert_string_equal(t->disconnect.function, "disconnect_node");
    assert_int_equal(t->disconnect.nargs, 0);
    assert_null(t->disconnect.args);

    t = &cfg->topologies[1];
    assert_string_equal(t->name, "local");
    assert_ptr_equal(t->strategy, discovery_find_strategy("Cluster.Strategy.LocalEpmd"));
    assert_true(t->prune);
    assert_int_equal(opts_int(&t->options, "polling_interval"), 1000);

    t = &cfg->topologies[2];
    assert_string_equal(t->name, "hosts-file.v2");
    assert_ptr_equal(t->strategy, discovery_find_strategy("erlang_hosts"));
    assert_string_equal(opts_str(&t->options, "hosts_file"), "/etc/hosts.erlang");
    config_free(cfg);
}

static void test_defaults(void **state)
{
    (void)state;
    config *cfg = expect_ok("topologies:\n  t:\n    strategy: local_epmd\n");
    assert_null(cfg->node.name);
    assert_false(cfg->node.longnames);
    assert_null(cfg->node.cookie_file);
    assert_null(cfg->node.cookie_env);
    assert_false(cfg->node.visible);
    assert_int_equal(cfg->node.connect_timeout_ms, 5000);
    assert_int_equal(cfg->node.rpc_timeout_ms, 5000);
    assert_int_equal(cfg->node.net_ticktime_s, 60);
    assert_int_equal(cfg->poll_interval_ms, 10000);
    assert_int_equal(cfg->backoff_min_ms, 200);
    assert_int_equal(cfg->backoff_max_ms, 5000);
    assert_int_equal(cfg->n_nameservers, 0);
    assert_null(cfg->nameservers);
    assert_int_equal(cfg->n_topologies, 1);
    const config_topology *t = &cfg->topologies[0];
    assert_true(t->prune);
    assert_string_equal(t->connect.module, "net_kernel");
    assert_string_equal(t->connect.function, "connect_node");
    assert_int_equal(t->connect.nargs, 0);
    assert_string_equal(t->disconnect.module, "erlang");
    assert_string_equal(t->disconnect.function, "disconnect_node");
    assert_int_equal(t->disconnect.nargs, 0);
    assert_false(opts_is_set(&t->options, "polling_interval"));
    assert_int_equal(opts_get(&t->options, "polling_interval")->line, 0);
    assert_int_equal(opts_int(&t->options, "polling_interval"), 5000);
    config_free(cfg);

    /* Empty sections are the same as absent ones. */
    cfg = expect_ok("node:\nreconcile: ~\nresolver: {}\n"
                    "topologies:\n  t:\n    strategy: local_epmd\n    config:\n");
    assert_int_equal(cfg->node.net_ticktime_s, 60);
    assert_int_equal(cfg->poll_interval_ms, 10000);
    assert_int_equal(opts_int(&cfg->topologies[0].options, "polling_interval"), 5000);
    config_free(cfg);

    cfg = expect_ok("node: {sname: clusterd}\n"
                    "topologies: {t: {strategy: local_epmd}}\n");
    assert_string_equal(cfg->node.name, "clusterd");
    assert_false(cfg->node.longnames);
    config_free(cfg);
}

/* Fills every required option of s with a value of the right type. */
static void append_required(char *buf, size_t size, const strategy_ops *s)
{
    size_t used = strlen(buf);
    for (size_t k = 0; k < s->n_options; k++) {
        const opt_spec *o = &s->options[k];
        if (!o->required) continue;
        const char *fmt = NULL;
        char value[64] = "";
        switch (o->type) {
        case OPT_STRING:
            fmt = "x";
            break;
        case OPT_INT:
            snprintf(value, sizeof value, "%lld", o->min);
            fmt = value;
            break;
        case OPT_BOOL:
            fmt = "true";
            break;
        case OPT_ENUM:
            fmt = o->choices[0];
            break;
        case OPT_STRING_LIST:
            fmt = "[\"a@127.0.0.1\"]";
            break;
        }
        used += (size_t)snprintf(buf + used, size - used, "      %s: %s\n", o->name, fmt);
    }
}

static void check_strategy_name(const strategy_ops *s, const char *name)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml, "topologies:\n  t:\n    strategy: %s\n    config:\n", name);
    append_required(yaml, sizeof yaml, s);
    config *cfg = NULL;
    config_diag d;
    if (load(yaml, &cfg, &d) == 0) {
        assert_ptr_equal(cfg->topologies[0].strategy, s);
    } else {
        /* A strategy's own validate may dislike our filler values; the name
         * itself must still have been recognised. */
        for (size_t k = 0; k < d.n_errors; k++)
            assert_null(strstr(d.errors[k], "unknown strategy"));
    }
    config_free(cfg);
    config_diag_free(&d);
}

static void test_every_strategy_name_and_alias(void **state)
{
    (void)state;
    size_t n = 0;
    const strategy_ops *const *all = discovery_strategies(&n);
    assert_true(n >= 3);
    for (size_t k = 0; k < n; k++) {
        char elixir[256];
        snprintf(elixir, sizeof elixir, "Elixir.%s", all[k]->module);
        check_strategy_name(all[k], all[k]->module);
        check_strategy_name(all[k], all[k]->alias);
        check_strategy_name(all[k], elixir);
    }
    static const char *const names[][2] = {
        {"Cluster.Strategy.Epmd", "epmd"},
        {"Cluster.Strategy.LocalEpmd", "local_epmd"},
        {"Cluster.Strategy.ErlangHosts", "erlang_hosts"},
    };
    for (size_t k = 0; k < 3; k++) {
        const strategy_ops *s = discovery_find_strategy(names[k][0]);
        assert_non_null(s);
        assert_ptr_equal(s, discovery_find_strategy(names[k][1]));
    }
}

static void test_unknown_keys(void **state)
{
    (void)state;
    EXPECT_FAIL("node:\n  nmae: x@h\ntopologies: {t: {strategy: local_epmd}}\n",
                LABEL ":2:3: unknown key 'nmae' in node; did you mean 'name'?");
    EXPECT_FAIL("topologies:\n  t:\n    strategy: local_epmd\n    config:\n"
                "      poll_interval: 100\n",
                LABEL ":5:7: unknown key 'poll_interval' in config of topology 't' "
                      "(Cluster.Strategy.LocalEpmd); did you mean 'polling_interval'?");
    EXPECT_FAIL("topologies: {t: {strategy: local_epmd}}\nreconcile:\n  foo: 1\n",
                LABEL ":3:3: unknown key 'foo' in reconcile; valid keys: poll_interval, "
                      "backoff_min, backoff_max, max_actions_per_second");
    EXPECT_FAIL("Topologies: {t: {strategy: local_epmd}}\n",
                LABEL ":1:1: unknown key 'Topologies' at the top level; did you mean "
                      "'topologies'?",
                LABEL ":1:1: at least one topology is required: add a 'topologies:' section");
    EXPECT_FAIL("topologies: {t: {strategy: local_epmd}}\nfoo: 1\n",
                LABEL ":2:1: unknown key 'foo' at the top level; valid keys: node, reconcile, "
                      "resolver, topologies, http");
    EXPECT_FAIL("topologies: {t: {strategy: local_epmd}}\ntopology: 1\n",
                LABEL ":2:1: unknown key 'topology' at the top level; did you mean 'topologies'?");
    /* Keys in the wrong place get a hint instead. */
    EXPECT_FAIL("topologies:\n  t:\n    strategy: epmd\n    hosts: [a@h]\n",
                LABEL ":2:3: missing required option 'hosts' in config of topology 't' "
                      "(Cluster.Strategy.Epmd)",
                LABEL ":4:5: unknown key 'hosts' in topology 't'; strategy options go under "
                      "'config:'");
    EXPECT_FAIL("topologies:\n  t:\n    strategy: local_epmd\n    config:\n      prune: false\n",
                LABEL ":5:7: unknown key 'prune' in config of topology 't' "
                      "(Cluster.Strategy.LocalEpmd); it belongs beside 'strategy:', not under "
                      "'config:'");
    EXPECT_FAIL("node:\n  cookie: secret\ntopologies: {t: {strategy: local_epmd}}\n",
                LABEL ":2:3: unknown key 'cookie' in node; the cookie itself never goes in the "
                      "config: use 'cookie_file' or 'cookie_env'");
}

static void test_all_errors_in_one_run(void **state)
{
    (void)state;
    EXPECT_FAIL("node:\n"
                "  connect_timeout: 50\n" /* 2 */
                "  visibilty: hidden\n"   /* 3 */
                "reconcile:\n"
                "  backoff_max: lots\n" /* 5 */
                "topologies:\n"
                "  a:\n" /* 7 */
                "    strategy: epmd\n"
                "  b:\n"
                "    strategy: nope\n" /* 10 */
                "  c:\n"
                "    strategy: local_epmd\n"
                "    prune: sometimes\n"       /* 13 */
                "    connect: [net_kernel]\n", /* 14 */
                LABEL ":2:20: 'connect_timeout' must be an integer between 100 and 600000",
                LABEL ":3:3: unknown key 'visibilty' in node; did you mean 'visibility'?",
                LABEL ":5:16: 'backoff_max' must be an integer between 100 and 3600000",
                LABEL ":7:3: missing required option 'hosts' in config of topology 'a' "
                      "(Cluster.Strategy.Epmd)",
                LABEL ":10:15: unknown strategy 'nope' in topology 'b'; valid strategies: "
                      "Cluster.Strategy.Epmd (epmd), Cluster.Strategy.LocalEpmd (local_epmd), "
                      "Cluster.Strategy.ErlangHosts (erlang_hosts), "
                      "Cluster.Strategy.Kubernetes.DNS (kubernetes_dns), "
                      "Cluster.Strategy.Kubernetes.DNSSRV (kubernetes_dnssrv), "
                      "Cluster.Strategy.DNSPoll (dns_poll), "
                      "Cluster.Strategy.Kubernetes (kubernetes)",
                LABEL ":13:12: 'prune' must be true or false",
                LABEL ":14:14: 'connect' must be a list [module, function] or [module, "
                      "function, [args...]]");
}

static void test_wrong_types_and_bounds(void **state)
{
    (void)state;
    const char *topo = "topologies: {t: {strategy: local_epmd}}\n";
    char yaml[512];
    static const struct {
        const char *line;
        const char *error;
    } cases[] = {
        {"node:\n  connect_timeout: 99\n",
         ":2:20: 'connect_timeout' must be an integer between 100 and 600000"},
        {"node:\n  connect_timeout: 600001\n",
         ":2:20: 'connect_timeout' must be an integer between 100 and 600000"},
        {"node:\n  connect_timeout: \"5000\"\n",
         ":2:20: 'connect_timeout' must be an integer between 100 and 600000"},
        {"node:\n  connect_timeout: 5e3\n",
         ":2:20: 'connect_timeout' must be an integer between 100 and 600000"},
        {"node:\n  connect_timeout: [1]\n",
         ":2:20: 'connect_timeout' must be an integer between 100 and 600000"},
        {"node:\n  connect_timeout:\n",
         ":2:3: 'connect_timeout' must be an integer between 100 and 600000"},
        {"node:\n  rpc_timeout: 99999999999999999999999\n",
         ":2:16: 'rpc_timeout' must be an integer between 100 and 600000"},
        {"node:\n  rpc_timeout: \" 500\"\n",
         ":2:16: 'rpc_timeout' must be an integer between 100 and 600000"},
        {"node:\n  net_ticktime: 0\n",
         ":2:17: 'net_ticktime' must be an integer between 1 and 3600"},
        {"node:\n  net_ticktime: -5\n",
         ":2:17: 'net_ticktime' must be an integer between 1 and 3600"},
        {"node:\n  visibility: shown\n", ":2:15: 'visibility' must be one of: hidden, visible"},
        {"node:\n  cookie_file: \"\"\n", ":2:16: 'cookie_file' must be a non-empty string"},
        {"node:\n  cookie_file: {a: 1}\n", ":2:16: 'cookie_file' must be a non-empty string"},
        {"node:\n  cookie_env: 1BAD\n",
         ":2:15: 'cookie_env' must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)"},
        {"node: 5\n", ":1:7: 'node' must be a mapping"},
        {"reconcile:\n  poll_interval: 99\n",
         ":2:18: 'poll_interval' must be an integer between 100 and 3600000"},
        {"reconcile:\n  backoff_min: 9\n",
         ":2:16: 'backoff_min' must be an integer between 10 and 60000"},
        {"reconcile:\n  backoff_min: 5000\n  backoff_max: 1000\n",
         ":2:16: 'backoff_min' (5000) must not exceed 'backoff_max' (1000)"},
        {"reconcile:\n  backoff_min: 50000\n", /* above the default backoff_max */
         ":2:16: 'backoff_min' (50000) must not exceed 'backoff_max' (5000)"},
        {"resolver:\n  nameservers: {a: b}\n",
         ":2:16: 'nameservers' must be a list of non-empty strings"},
        {"resolver:\n  nameservers: [[1]]\n",
         ":2:17: 'nameservers' must be a list of non-empty strings"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char want[512];
        snprintf(yaml, sizeof yaml, "%s%s", cases[k].line, topo);
        snprintf(want, sizeof want, "%s%s", LABEL, cases[k].error);
        EXPECT_FAIL(yaml, want);
    }

    /* Booleans in all their YAML spellings. */
    static const struct {
        const char *text;
        bool value;
    } bools[] = {{"true", true},   {"yes", true}, {"on", true},   {"True", true},
                 {"false", false}, {"no", false}, {"off", false}, {"OFF", false}};
    for (size_t k = 0; k < sizeof bools / sizeof bools[0]; k++) {
        snprintf(yaml, sizeof yaml, "topologies: {t: {strategy: local_epmd, prune: %s}}\n",
                 bools[k].text);
        config *cfg = expect_ok(yaml);
        assert_int_equal(cfg->topologies[0].prune, bools[k].value);
        config_free(cfg);
    }
    EXPECT_FAIL("topologies: {t: {strategy: local_epmd, prune: \"true\"}}\n",
                LABEL ":1:47: 'prune' must be true or false");

    /* Bounds are inclusive; a strategy's int options are checked too. */
    config *cfg = expect_ok("node: {connect_timeout: 100, rpc_timeout: 600000, net_ticktime: +1}\n"
                            "reconcile: {backoff_min: 100, backoff_max: 100}\n"
                            "topologies: {t: {strategy: local_epmd}}\n");
    assert_int_equal(cfg->node.connect_timeout_ms, 100);
    assert_int_equal(cfg->node.rpc_timeout_ms, 600000);
    assert_int_equal(cfg->node.net_ticktime_s, 1);
    config_free(cfg);
    EXPECT_FAIL("topologies: {t: {strategy: local_epmd, config: {polling_interval: 1}}}\n",
                LABEL ":1:67: 'polling_interval' must be an integer between 100 and 86400000");
    /* A single string where a list is expected is a one-element list. */
    cfg = expect_ok("topologies: {t: {strategy: epmd, config: {hosts: a@127.0.0.1}}}\n");
    size_t n = 0;
    char *const *hosts = opts_list(&cfg->topologies[0].options, "hosts", &n);
    assert_int_equal(n, 1);
    assert_string_equal(hosts[0], "a@127.0.0.1");
    config_free(cfg);
}

static void test_name_and_sname(void **state)
{
    (void)state;
    EXPECT_FAIL("node:\n  name: a@127.0.0.1\n  sname: a\ntopologies: {t: {strategy: local_epmd}}\n",
                LABEL ":3:10: 'name' and 'sname' are mutually exclusive; give only one");
    EXPECT_FAIL("node:\n  sname: a\n  name: a@127.0.0.1\ntopologies: {t: {strategy: local_epmd}}\n",
                LABEL ":3:9: 'name' and 'sname' are mutually exclusive; give only one");
    EXPECT_FAIL("node:\n  name: \"bad name@host\"\ntopologies: {t: {strategy: local_epmd}}\n",
                LABEL ":2:9: 'name' must be a node name such as clusterd@127.0.0.1 (letters, "
                      "digits, '_' and '-' before '@')");
    EXPECT_FAIL("node:\n  sname: \"a@\"\ntopologies: {t: {strategy: local_epmd}}\n",
                LABEL ":2:10: 'sname' must be a node name such as clusterd (letters, digits, "
                      "'_' and '-' before '@')");
}

static void test_missing_required_option(void **state)
{
    (void)state;
    /* No config: at all: reported at the topology's key. */
    EXPECT_FAIL("topologies:\n  example:\n    strategy: epmd\n",
                LABEL ":2:3: missing required option 'hosts' in config of topology 'example' "
                      "(Cluster.Strategy.Epmd)");
    /* An empty config: at the config key. */
    EXPECT_FAIL("topologies:\n  example:\n    strategy: epmd\n    config: {}\n",
                LABEL ":4:5: missing required option 'hosts' in config of topology 'example' "
                      "(Cluster.Strategy.Epmd)");
    EXPECT_FAIL("topologies:\n  example:\n    prune: true\n",
                LABEL ":2:3: missing required option 'strategy' in topology 'example'");
    EXPECT_FAIL("topologies:\n  example:\n",
                LABEL ":2:3: missing required option 'strategy' in topology 'example'");
    EXPECT_FAIL("topologies:\n  example: epmd\n",
                LABEL ":2:3: missing required option 'strategy' in topology 'example'",
                LABEL ":2:12: topology 'example' must be a mapping with a 'strategy:' key");
}

static void test_unknown_strategy(void **state)
{
    (void)state;
    EXPECT_FAIL("topologies:\n  t:\n    strategy: Cluster.Strategy.Epmdd\n    config: {x: 1}\n",
                LABEL ":3:15: unknown strategy 'Cluster.Strategy.Epmdd' in topology 't'; did you "
                      "mean 'Cluster.Strategy.Epmd'? valid strategies: Cluster.Strategy.Epmd "
                      "(epmd), Cluster.Strategy.LocalEpmd (local_epmd), "
                      "Cluster.Strategy.ErlangHosts (erlang_hosts), "
                      "Cluster.Strategy.Kubernetes.DNS (kubernetes_dns), "
                      "Cluster.Strategy.Kubernetes.DNSSRV (kubernetes_dnssrv), "
                      "Cluster.Strategy.DNSPoll (dns_poll), "
                      "Cluster.Strategy.Kubernetes (kubernetes)");
    EXPECT_FAIL("topologies:\n  t:\n    strategy: gossip\n",
                LABEL ":3:15: unknown strategy 'gossip' in topology 't'; valid strategies: "
                      "Cluster.Strategy.Epmd (epmd), Cluster.Strategy.LocalEpmd (local_epmd), "
                      "Cluster.Strategy.ErlangHosts (erlang_hosts), "
                      "Cluster.Strategy.Kubernetes.DNS (kubernetes_dns), "
                      "Cluster.Strategy.Kubernetes.DNSSRV (kubernetes_dnssrv), "
                      "Cluster.Strategy.DNSPoll (dns_poll), "
                      "Cluster.Strategy.Kubernetes (kubernetes)");
    EXPECT_FAIL("topologies:\n  t:\n    strategy: EPMD\n",
                LABEL ":3:15: unknown strategy 'EPMD' in topology 't'; did you mean 'epmd'? valid "
                      "strategies: Cluster.Strategy.Epmd (epmd), Cluster.Strategy.LocalEpmd "
                      "(local_epmd), Cluster.Strategy.ErlangHosts (erlang_hosts), "
                      "Cluster.Strategy.Kubernetes.DNS (kubernetes_dns), "
                      "Cluster.Strategy.Kubernetes.DNSSRV (kubernetes_dnssrv), "
                      "Cluster.Strategy.DNSPoll (dns_poll), "
                      "Cluster.Strategy.Kubernetes (kubernetes)");
    EXPECT_FAIL("topologies:\n  t:\n    strategy: [epmd]\n",
                LABEL ":3:15: 'strategy' must be a non-empty string");
}

static void test_strategy_validate_hook(void **state)
{
    (void)state;
    /* Epmd's own check points at the offending list element. */
    config *cfg = NULL;
    config_diag d;
    assert_int_equal(load("topologies:\n  t:\n    strategy: epmd\n    config:\n"
                          "      hosts: [a@127.0.0.1, not-a-node]\n",
                          &cfg, &d),
                     -1);
    assert_null(cfg);
    assert_int_equal(d.n_errors, 1);
    const char *want = LABEL ":5:28: hosts[1]: ";
    assert_memory_equal(d.errors[0], want, strlen(want));
    assert_non_null(strstr(d.errors[0], "in config of topology 't' (Cluster.Strategy.Epmd)"));
    config_diag_free(&d);
}

static void test_mfa_forms(void **state)
{
    (void)state;
    config *cfg = expect_ok("topologies:\n  t:\n    strategy: local_epmd\n"
                            "    connect: [Elixir.MyApp.C, \":connect\"]\n"
                            "    disconnect: [\":net_kernel\", disconnect, []]\n");
    const config_topology *t = &cfg->topologies[0];
    assert_string_equal(t->connect.module, "Elixir.MyApp.C");
    assert_string_equal(t->connect.function, "connect");
    assert_int_equal(t->connect.nargs, 0);
    assert_string_equal(t->disconnect.module, "net_kernel");
    assert_string_equal(t->disconnect.function, "disconnect");
    assert_int_equal(t->disconnect.nargs, 0);
    config_free(cfg);

    /* In block style a plain :atom works; flow style needs it quoted
     * (libyaml reads ':' there as a value indicator). */
    cfg = expect_ok("topologies:\n  t:\n    strategy: local_epmd\n    connect:\n"
                    "      - :net_kernel\n      - :connect_node\n      - - :permanent\n");
    t = &cfg->topologies[0];
    assert_string_equal(t->connect.module, "net_kernel");
    assert_string_equal(t->connect.function, "connect_node");
    assert_int_equal(t->connect.nargs, 1);
    assert_int_equal(t->connect.args[0].kind, MFA_ARG_ATOM);
    assert_string_equal(t->connect.args[0].text, "permanent");
    config_free(cfg);

    cfg = expect_ok("topologies:\n  t:\n    strategy: local_epmd\n"
                    "    connect: [my_mod, f, [-7, \":x\", ~, false, 1.5, \"\"]]\n");
    t = &cfg->topologies[0];
    assert_string_equal(t->connect.module, "my_mod");
    assert_int_equal(t->connect.nargs, 6);
    assert_int_equal(t->connect.args[0].kind, MFA_ARG_INT);
    assert_int_equal(t->connect.args[0].i, -7);
    assert_int_equal(t->connect.args[1].kind, MFA_ARG_ATOM);
    assert_string_equal(t->connect.args[1].text, "x");
    assert_int_equal(t->connect.args[2].kind, MFA_ARG_ATOM);
    assert_string_equal(t->connect.args[2].text, "nil");
    assert_int_equal(t->connect.args[3].kind, MFA_ARG_ATOM);
    assert_string_equal(t->connect.args[3].text, "false");
    assert_int_equal(t->connect.args[4].kind, MFA_ARG_BINARY);
    assert_string_equal(t->connect.args[4].text, "1.5");
    assert_int_equal(t->connect.args[5].kind, MFA_ARG_BINARY);
    assert_string_equal(t->connect.args[5].text, "");
    config_free(cfg);

    const char *head = "topologies:\n  t:\n    strategy: local_epmd\n";
    static const struct {
        const char *line;
        const char *error;
    } cases[] = {
        {"    connect: net_kernel\n",
         ":4:14: 'connect' must be a list [module, function] or [module, function, [args...]]"},
        {"    connect:\n",
         ":4:5: 'connect' must be a list [module, function] or [module, function, [args...]]"},
        {"    connect: [a, b, [], c]\n",
         ":4:14: 'connect' must be a list [module, function] or [module, function, [args...]]"},
        {"    connect: {m: a}\n",
         ":4:14: 'connect' must be a list [module, function] or [module, function, [args...]]"},
        {"    connect: [\"my mod\", f]\n",
         ":4:15: 'connect' module must be a module name such as net_kernel or MyApp.Cluster "
         "(letters, digits, '_', '.', '@'; at most 255 bytes)"},
        {"    connect: [\":\", f]\n",
         ":4:15: 'connect' module must be a module name such as net_kernel or MyApp.Cluster "
         "(letters, digits, '_', '.', '@'; at most 255 bytes)"},
        {"    disconnect: [m, [f]]\n",
         ":4:21: 'disconnect' function must be a function name such as connect_node (letters, "
         "digits, '_', '.', '@', '?', '!'; at most 255 bytes)"},
        {"    connect: [m, f, x]\n",
         ":4:21: 'connect' arguments must be a list, such as [] or [\":permanent\"]"},
        {"    connect: [m, f, [[1]]]\n",
         ":4:22: 'connect' arguments must be integers, atoms (:name, true, false, nil) or "
         "strings"},
        {"    connect: [m, f, [99999999999999999999]]\n",
         ":4:22: 'connect' argument 99999999999999999999 does not fit in a 64-bit integer"},
        {"    connect: [m, f, [\":bad atom\"]]\n",
         ":4:22: 'connect' argument ':bad atom' is not a valid atom"},
    };
    char yaml[512], want[512];
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        snprintf(yaml, sizeof yaml, "%s%s", head, cases[k].line);
        snprintf(want, sizeof want, "%s%s", LABEL, cases[k].error);
        EXPECT_FAIL(yaml, want);
    }

    /* 255 bytes is the atom limit, after the Elixir prefix. */
    char longname[300];
    memset(longname, 'a', 255);
    longname[255] = '\0';
    snprintf(yaml, sizeof yaml, "%s    connect: [%s, f]\n", head, longname);
    cfg = expect_ok(yaml);
    config_free(cfg);
    longname[0] = 'A'; /* becomes Elixir.Aaa...: 262 bytes */
    snprintf(yaml, sizeof yaml, "%s    connect: [%s, f]\n", head, longname);
    snprintf(want, sizeof want,
             "%s:4:15: 'connect' module must be a module name such as net_kernel or "
             "MyApp.Cluster (letters, digits, '_', '.', '@'; at most 255 bytes)",
             LABEL);
    EXPECT_FAIL(yaml, want);
}

static void test_elixir_module_prefix(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"MyApp.Cluster", "Elixir.MyApp.Cluster"},
        {"Elixir.MyApp.Cluster", "Elixir.MyApp.Cluster"},
        {"\":net_kernel\"", "net_kernel"},
        {":'Elixir.X'", NULL}, /* quotes are not atom text */
        {"net_kernel", "net_kernel"},
        {"Cluster", "Elixir.Cluster"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char yaml[256];
        snprintf(yaml, sizeof yaml,
                 "topologies:\n  t:\n    strategy: local_epmd\n    connect: [%s, f]\n",
                 cases[k][0]);
        config *cfg = NULL;
        config_diag d;
        int rc = load(yaml, &cfg, &d);
        if (cases[k][1]) {
            assert_int_equal(rc, 0);
            assert_string_equal(cfg->topologies[0].connect.module, cases[k][1]);
        } else {
            assert_int_equal(rc, -1);
        }
        config_free(cfg);
        config_diag_free(&d);
    }
}

static void test_yaml_syntax_errors(void **state)
{
    (void)state;
    EXPECT_FAIL("node:\n  name: a\n   bad: x\ntopologies: {}\n",
                LABEL ":3:7: YAML syntax error: mapping values are not allowed in this context");
    EXPECT_FAIL("topologies:\n  t: {strategy: epmd\n",
                LABEL ":3:1: YAML syntax error: did not find expected ',' or '}' (while parsing "
                      "a flow mapping at line 2, column 6)");
    EXPECT_FAIL("topologies:\n  t: *nothing\n",
                LABEL ":2:6: YAML syntax error: found undefined alias");
    /* Bad UTF-8 is reported at its byte. */
    EXPECT_FAIL("node:\n  name: \xff\n",
                LABEL ":2:9: invalid YAML input: invalid leading UTF-8 octet");
    EXPECT_FAIL("topologies: {t: {strategy: local_epmd}}\n---\nmore: 1\n",
                LABEL ":3:1: only one YAML document is allowed");
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    EXPECT_FAIL("node:\n  rpc_timeout: 1000\n  rpc_timeout: 2000\n"
                "topologies: {t: {strategy: local_epmd}}\n",
                LABEL ":3:3: duplicate key 'rpc_timeout' in node (first given at line 2)");
    EXPECT_FAIL("topologies: {t: {strategy: local_epmd}}\nnode: {}\nnode: {}\n",
                LABEL ":3:1: duplicate key 'node' at the top level (first given at line 2)");
    EXPECT_FAIL("topologies:\n  t: {strategy: local_epmd}\n  t: {strategy: local_epmd}\n",
                LABEL ":3:3: duplicate topology 't' (first given at line 2)");
    EXPECT_FAIL("topologies:\n  t:\n    strategy: local_epmd\n    strategy: epmd\n",
                LABEL ":4:5: duplicate key 'strategy' in topology 't' (first given at line 3)");
    EXPECT_FAIL("topologies:\n  t:\n    strategy: local_epmd\n    config:\n"
                "      polling_interval: 100\n      polling_interval: 200\n",
                LABEL ":6:7: duplicate key 'polling_interval' in config of topology 't' "
                      "(Cluster.Strategy.LocalEpmd) (first given at line 5)");
}

static void test_empty_and_malformed_files(void **state)
{
    (void)state;
    const char *empty = LABEL ":1:1: the configuration is empty; at least one topology is required";
    EXPECT_FAIL("", empty);
    EXPECT_FAIL("# nothing here\n\n", empty);
    EXPECT_FAIL("---\n", empty);
    EXPECT_FAIL("- a\n- b\n", LABEL ":1:1: the configuration must be a mapping of sections (node, "
                                    "reconcile, resolver, topologies, http)");
    EXPECT_FAIL("node: {}\n",
                LABEL ":1:1: at least one topology is required: add a 'topologies:' section");
    EXPECT_FAIL("topologies:\n",
                LABEL ":1:1: at least one topology is required under 'topologies:'");
    EXPECT_FAIL("topologies: {}\n",
                LABEL ":1:1: at least one topology is required under 'topologies:'");
    EXPECT_FAIL("topologies: [a]\n",
                LABEL ":1:13: 'topologies' must be a mapping of topology names to settings");
    EXPECT_FAIL("topologies:\n  \"a b\": {strategy: local_epmd}\n", LABEL
                ":2:3: topology name 'a b' must be 1 to 255 letters, digits, '_', '.' or '-'");
    EXPECT_FAIL("topologies:\n  \"\": {strategy: local_epmd}\n",
                LABEL ":2:3: topology name '' must be 1 to 255 letters, digits, '_', '.' or '-'");

    /* config_load_string with a NULL label and out. */
    config_diag d;
    assert_int_equal(config_load_string("x: 1\n", 5, NULL, NULL, &d), -1);
    assert_int_equal(d.n_errors, 2);
    assert_memory_equal(d.errors[0], "<string>:1:1: ", 14);
    config_diag_free(&d);
    assert_int_equal(config_load_string("topologies: {t: {strategy: epmd, config: {hosts: []}}}",
                                        54, NULL, NULL, NULL),
                     0);
}

static void test_http(void **state)
{
    (void)state;
    const char *topo = "topologies: {t: {strategy: local_epmd}}\n";
    char text[512];

    /* No http section: no endpoint. */
    config *cfg = expect_ok(topo);
    assert_null(cfg->http.listen);
    config_free(cfg);

    snprintf(text, sizeof text, "http:\n  listen: \"127.0.0.1:9568\"\n%s", topo);
    cfg = expect_ok(text);
    assert_string_equal(cfg->http.listen, "127.0.0.1:9568");
    assert_string_equal(cfg->http.addr, "127.0.0.1");
    assert_int_equal(cfg->http.port, 9568);
    assert_int_equal(cfg->http.max_connections, 16);
    assert_int_equal(cfg->http.connection_timeout_s, 10);
    config_free(cfg);

    snprintf(text, sizeof text,
             "http:\n  listen: \"[::]:0\"\n  max_connections: 2\n  connection_timeout: 1\n%s",
             topo);
    cfg = expect_ok(text);
    assert_string_equal(cfg->http.addr, "::");
    assert_int_equal(cfg->http.port, 0);
    assert_int_equal(cfg->http.max_connections, 2);
    assert_int_equal(cfg->http.connection_timeout_s, 1);
    config_free(cfg);

    static const char *const bad[] = {
        "localhost:9568", "127.0.0.1",  "127.0.0.1:",   "127.0.0.1:70000", "::1:9568",    "[::1]",
        "[::1]9568",      "1.2.3.4:-1", "[1.2.3.4]:80", ":9568",           "127.0.0.1:9x"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        snprintf(text, sizeof text, "http:\n  listen: \"%s\"\n%s", bad[k], topo);
        char want[512];
        snprintf(want, sizeof want,
                 LABEL ":2:11: 'listen' must be \"address:port\" with an IP address and a port "
                       "from 0 to 65535, such as \"127.0.0.1:9568\", \"0.0.0.0:9568\" or "
                       "\"[::]:9568\" (got '%s')",
                 bad[k]);
        EXPECT_FAIL(text, want);
    }
    EXPECT_FAIL("http: {}\ntopologies: {t: {strategy: local_epmd}}\n",
                LABEL ":1:1: missing required option 'listen' in http");
    EXPECT_FAIL("http:\n  listen: \"127.0.0.1:1\"\n  max_connections: 0\n  port: 1\n"
                "topologies: {t: {strategy: local_epmd}}\n",
                LABEL ":3:20: 'max_connections' must be an integer between 1 and 1024",
                LABEL ":4:3: unknown key 'port' in http; valid keys: listen, max_connections, "
                      "connection_timeout");
}

static void test_visible_warning(void **state)
{
    (void)state;
    config *cfg = NULL;
    config_diag d;
    assert_int_equal(
        load("node:\n  visibility: visible\ntopologies: {t: {strategy: local_epmd}}\n", &cfg, &d),
        0);
    assert_non_null(cfg);
    assert_true(cfg->node.visible);
    assert_int_equal(d.n_errors, 0);
    assert_int_equal(d.n_warnings, 1);
    assert_string_equal(d.warnings[0],
                        LABEL ":2:15: visibility: visible puts clusterd in every member's nodes(), "
                              "so rpc:multicall(nodes(), ...) on a member returns {badrpc, "
                              "notsup} for it and code that calls every node in nodes() must "
                              "leave it out; members with global_groups disconnect it; changing "
                              "visibility needs a restart of clusterd");
    config_free(cfg);
    config_diag_free(&d);

    /* Warnings also come back with errors. */
    assert_int_equal(load("node: {visibility: visible, rpc_timeout: 1}\n", &cfg, &d), -1);
    assert_null(cfg);
    assert_int_equal(d.n_errors, 2);
    assert_int_equal(d.n_warnings, 1);
    config_diag_free(&d);
}

static void test_nameservers(void **state)
{
    (void)state;
    config *cfg = expect_ok("resolver:\n  nameservers: [\"10.0.0.1\", \"10.0.0.2:53\", "
                            "\"[fe80::1]\", \"10.0.0.4:65535\"]\n"
                            "topologies: {t: {strategy: local_epmd}}\n");
    assert_int_equal(cfg->n_nameservers, 4);
    assert_string_equal(cfg->nameservers[3], "10.0.0.4:65535");
    config_free(cfg);

    EXPECT_FAIL(
        "resolver:\n  nameservers:\n    - \"127.0.0.1:0\"\n    - \":53\"\n"
        "    - \"::1\"\n    - \"[::1]:53\"\n    - \"[::1]x\"\n    - \"[zz]:53\"\n"
        "    - \"h:65536\"\n    - \"h:5x\"\n    - \"h:\"\n"
        "topologies: {t: {strategy: local_epmd}}\n",
        LABEL ":3:7: nameserver '127.0.0.1:0' must be an IP address or \"ip:port\" with a "
              "port from 1 to 65535 (IPv6 as \"[::1]:53\")",
        LABEL ":4:7: nameserver ':53' must be an IP address or \"ip:port\" with a port from "
              "1 to 65535 (IPv6 as \"[::1]:53\")",
        LABEL ":5:7: nameserver '::1' must be an IP address or \"ip:port\" with a port from "
              "1 to 65535 (IPv6 as \"[::1]:53\")",
        LABEL ":7:7: nameserver '[::1]x' must be an IP address or \"ip:port\" with a port "
              "from 1 to 65535 (IPv6 as \"[::1]:53\")",
        LABEL ":8:7: nameserver '[zz]:53' must be an IP address or \"ip:port\" with a port "
              "from 1 to 65535 (IPv6 as \"[::1]:53\")",
        LABEL ":9:7: nameserver 'h:65536' must be an IP address or \"ip:port\" with a port "
              "from 1 to 65535 (IPv6 as \"[::1]:53\")",
        LABEL ":10:7: nameserver 'h:5x' must be an IP address or \"ip:port\" with a port "
              "from 1 to 65535 (IPv6 as \"[::1]:53\")",
        LABEL ":11:7: nameserver 'h:' must be an IP address or \"ip:port\" with a port from "
              "1 to 65535 (IPv6 as \"[::1]:53\")");
    /* A resolver cannot be found by name. */
    EXPECT_FAIL("resolver:\n  nameservers: [\"dns.local:53\"]\n"
                "topologies: {t: {strategy: local_epmd}}\n",
                LABEL
                ":2:17: nameserver 'dns.local:53' must be an IP address or \"ip:port\" with a "
                "port from 1 to 65535 (IPv6 as \"[::1]:53\")");
}

static void test_load_file(void **state)
{
    (void)state;
    config *cfg = (config *)0x1;
    config_diag d;
    assert_int_equal(config_load_file("/nonexistent/clusterd.yaml", &cfg, &d), -1);
    assert_null(cfg);
    const char *const want[] = {
        "/nonexistent/clusterd.yaml: cannot read: No such file or directory"};
    expect_errors(&d, want, 1);
    config_diag_free(&d);

    assert_int_equal(config_load_file("/", &cfg, &d), -1);
    const char *const want_dir[] = {"/: cannot read: Is a directory"};
    expect_errors(&d, want_dir, 1);
    config_diag_free(&d);

    char path[] = "/tmp/test_config_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "topologies:\n  t:\n    strategy: local_epmd\n    bogus: 1\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(config_load_file(path, &cfg, &d), -1);
    assert_int_equal(d.n_errors, 1);
    char want_file[256];
    snprintf(want_file, sizeof want_file,
             "%s:4:5: unknown key 'bogus' in topology 't'; valid keys: strategy, prune, config, "
             "connect, disconnect",
             path);
    assert_string_equal(d.errors[0], want_file);
    config_diag_free(&d);

    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    text = "topologies:\n  t:\n    strategy: local_epmd\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(config_load_file(path, &cfg, &d), 0);
    assert_string_equal(cfg->path, path);
    assert_int_equal(d.n_errors, 0);
    config_free(cfg);
    config_diag_free(&d);
    unlink(path);
}

static void test_too_many_errors(void **state)
{
    (void)state;
    size_t size = 64 + 150 * 16;
    char *yaml = malloc(size);
    assert_non_null(yaml);
    size_t used = (size_t)snprintf(yaml, size, "topologies: {t: {strategy: local_epmd}}\nnode:\n");
    for (int k = 0; k < 150; k++)
        used += (size_t)snprintf(yaml + used, size - used, "  zz%03d: 1\n", k);
    config *cfg = NULL;
    config_diag d;
    assert_int_equal(load(yaml, &cfg, &d), -1);
    assert_int_equal(d.n_errors, 101);
    assert_string_equal(d.errors[0],
                        LABEL ":3:3: unknown key 'zz000' in node; valid keys: name, sname, "
                              "cookie_file, cookie_env, visibility, connect_timeout, rpc_timeout, "
                              "net_ticktime, tls");
    assert_string_equal(d.errors[100], LABEL ": too many errors; 50 more not shown");
    config_diag_free(&d);
    free(yaml);
}

static void test_opts_accessors(void **state)
{
    (void)state;
    static const char *const colors[] = {"red", "blue", NULL};
    static const opt_spec specs[] = {
        {.name = "s", .type = OPT_STRING, .def_str = "dflt"},
        {.name = "i", .type = OPT_INT, .def_int = 7, .min = 1, .max = 10},
        {.name = "b", .type = OPT_BOOL, .def_int = 1},
        {.name = "e", .type = OPT_ENUM, .def_str = "red", .choices = colors},
        {.name = "l", .type = OPT_STRING_LIST},
    };
    opt_value values[5] = {0};
    values[0].s = strdup("hello");
    values[0].set = true;
    values[1].i = 3;
    values[2].i = 0;
    values[3].s = strdup("blue");
    values[4].list = calloc(2, sizeof(char *));
    values[4].list[0] = strdup("x");
    values[4].list[1] = strdup("y");
    values[4].list_len = 2;
    opt_value *heap = malloc(sizeof values);
    memcpy(heap, values, sizeof values);
    opt_values ov = {.specs = specs, .count = 5, .values = heap};
    assert_string_equal(opts_str(&ov, "s"), "hello");
    assert_true(opts_is_set(&ov, "s"));
    assert_false(opts_is_set(&ov, "i"));
    assert_int_equal(opts_int(&ov, "i"), 3);
    assert_false(opts_bool(&ov, "b"));
    assert_string_equal(opts_str(&ov, "e"), "blue");
    size_t n = 0;
    char *const *l = opts_list(&ov, "l", &n);
    assert_int_equal(n, 2);
    assert_string_equal(l[1], "y");
    assert_ptr_equal(opts_get(&ov, "l"), &heap[4]);
    opts_values_free(&ov);
    assert_null(ov.values);
    opts_values_free(&ov);
    opts_values_free(NULL);
    config_free(NULL);
    config_diag_free(NULL);
    config_diag empty = {0};
    config_diag_free(&empty);

    /* The published tables carry their defaults. */
    assert_int_equal(config_node_options_count, 8);
    assert_int_equal(config_reconcile_options_count, 4);
    assert_string_equal(config_node_options[4].name, "visibility");
    assert_string_equal(config_node_options[4].def_str, "hidden");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_file_values),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_strategy_name_and_alias),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_all_errors_in_one_run),
        cmocka_unit_test(test_wrong_types_and_bounds),
        cmocka_unit_test(test_name_and_sname),
        cmocka_unit_test(test_missing_required_option),
        cmocka_unit_test(test_unknown_strategy),
        cmocka_unit_test(test_strategy_validate_hook),
        cmocka_unit_test(test_mfa_forms),
        cmocka_unit_test(test_elixir_module_prefix),
        cmocka_unit_test(test_yaml_syntax_errors),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_empty_and_malformed_files),
        cmocka_unit_test(test_http),
        cmocka_unit_test(test_visible_warning),
        cmocka_unit_test(test_nameservers),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_too_many_errors),
        cmocka_unit_test(test_opts_accessors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
