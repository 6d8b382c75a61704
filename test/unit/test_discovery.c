/* Unit tests for discovery: the strategy table, the result helpers, the
 * .hosts.erlang parser, and the Epmd, LocalEpmd and ErlangHosts strategies
 * driven on a real libuv loop against a real epmd and BEAM node started on a
 * private loopback port by support/epmd_fixture.c (pids recorded, stopped at
 * the end). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "discovery.h"
#include "epmd_client.h"
#include "support/epmd_fixture.h"

static epmd_fixture fx;
static char tmpdir[] = "/tmp/clusterd-test-discovery-XXXXXX";
static char short_host[256];

/* ---- helpers: files, evidence ---- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *path_in_tmp(const char *name)
{
    static char buf[4][PATH_MAX];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, PATH_MAX, "%s/%s", tmpdir, name);
    return p;
}

static bool has_evidence(const discovery_result *r, const char *needle)
{
    for (size_t k = 0; k < r->n_evidence; k++)
        if (strstr(r->evidence[k], needle) != NULL) return true;
    return false;
}

/* ---- a second host, 127.0.0.2, that answers and then vanishes ----
 *
 * Its EPMD is a real epmd, a child of ours (pid recorded, stopped by pid),
 * with one name, h2node, registered in it by ALIVE2_REQ the way a node
 * registers, on a socket held open. ErlangHosts asks every host on the same
 * port, the fixture's; but epmd always listens on 127.0.0.1 too, where the
 * fixture's epmd already is, so this one cannot take that port on 127.0.0.2
 * and runs on a port of its own. A plain TCP relay on 127.0.0.2 at the
 * fixture's port carries the bytes both ways unchanged: every answer is the
 * real epmd's. The host vanishes when its epmd is stopped and the relay's
 * listener closed: 127.0.0.2 then refuses connections, as a host with no EPMD
 * does. */

typedef struct second_host {
    pid_t epmd_pid; /* -1 when not running */
    int epmd_port;
    int reg_fd; /* the ALIVE2 connection holding h2node, -1 when closed */
    tcp_relay relay;
} second_host;

static second_host h2 = {.epmd_pid = -1, .reg_fd = -1};

static void second_host_start(void)
{
    h2.epmd_pid = epmd_spawn("127.0.0.2", &h2.epmd_port);
    assert_true(h2.epmd_pid > 0);
    h2.reg_fd = epmd_register("127.0.0.2", h2.epmd_port, "h2node", 5555);
    assert_true(h2.reg_fd >= 0);
    assert_int_equal(tcp_relay_start(&h2.relay, "127.0.0.2", fx.port, "127.0.0.2", h2.epmd_port),
                     0);
}

/* The host vanishes; the name's socket is closed too. Idempotent. */
static void second_host_stop(void)
{
    child_stop(&h2.epmd_pid);
    tcp_relay_stop(&h2.relay);
    if (h2.reg_fd >= 0) close(h2.reg_fd);
    h2.reg_fd = -1;
}

/* ---- running a strategy on a loop ---- */

typedef struct run_ctx run_ctx;
typedef void (*report_hook)(run_ctx *rc, const discovery_result *r);

struct run_ctx {
    discovery d;
    config cfg;
    config_topology topo;
    opt_value values[8];
    int reports;
    int stop_after;              /* stop after this many reports */
    discovery_result results[4]; /* the first reports, copied */
    bool closed;
    report_hook hook;
};

static void on_report(discovery *d, const discovery_result *r)
{
    run_ctx *rc = d->owner;
    if (rc->reports < 4) discovery_result_copy(&rc->results[rc->reports], r);
    rc->reports++;
    if (rc->hook != NULL) rc->hook(rc, r);
    if (rc->reports >= rc->stop_after) discovery_stop(d);
}

static void on_closed(discovery *d)
{
    run_ctx *rc = d->owner;
    rc->closed = true;
}

/* Sets up rc for strategy `name` with every option at its default. */
static void run_init(run_ctx *rc, const char *name)
{
    memset(rc, 0, sizeof *rc);
    const strategy_ops *ops = discovery_find_strategy(name);
    assert_non_null(ops);
    assert_true(ops->n_options <= 8);
    for (size_t k = 0; k < ops->n_options; k++) {
        rc->values[k].i = ops->options[k].def_int;
        rc->values[k].s = (char *)ops->options[k].def_str;
    }
    rc->topo.name = "test";
    rc->topo.strategy = ops;
    rc->topo.prune = true;
    rc->topo.options =
        (opt_values){.specs = ops->options, .count = ops->n_options, .values = rc->values};
    rc->cfg.node.name = "clusterd@127.0.0.1";
    rc->cfg.node.longnames = true;
    rc->stop_after = 1;
    rc->d.topology = &rc->topo;
    rc->d.cfg = &rc->cfg;
    rc->d.report = on_report;
    rc->d.closed = on_closed;
    rc->d.owner = rc;
    rc->d.once = true;
}

static opt_value *run_opt(run_ctx *rc, const char *name)
{
    for (size_t k = 0; k < rc->topo.options.count; k++)
        if (strcmp(rc->topo.options.specs[k].name, name) == 0) return &rc->values[k];
    fail_msg("no option %s", name);
    return NULL;
}

static void run_set_int(run_ctx *rc, const char *name, long long v)
{
    opt_value *o = run_opt(rc, name);
    o->i = v;
    o->set = true;
}

static void run_set_str(run_ctx *rc, const char *name, const char *v)
{
    opt_value *o = run_opt(rc, name);
    o->s = (char *)v;
    o->set = true;
}

/* Runs the loop until the strategy has stopped and closed. */
static void run_loop(run_ctx *rc)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    rc->d.loop = &loop;
    char err[256] = "";
    if (discovery_start(&rc->d, err, sizeof err) != 0) fail_msg("start: %s", err);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (!rc->closed) {
        discovery_stop(&rc->d);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    assert_true(rc->closed);
    assert_null(rc->d.state);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void run_free(run_ctx *rc)
{
    for (int k = 0; k < 4; k++)
        discovery_result_free(&rc->results[k]);
}

/* ---- group set-up ---- */

static int group_setup(void **state)
{
    (void)state;
    if (mkdtemp(tmpdir) == NULL) return -1;
    gethostname(short_host, sizeof short_host);
    short_host[sizeof short_host - 1] = '\0';
    short_host[strcspn(short_host, ".")] = '\0';
    return epmd_fixture_start(&fx, "127.0.0.1");
}

static int group_teardown(void **state)
{
    (void)state;
    second_host_stop();
    epmd_fixture_stop(&fx);
    static const char *const files[] = {"hosts", "bad_hosts", "empty/.hosts.erlang", "empty",
                                        "home"};
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        char *p = path_in_tmp(files[k]);
        if (unlink(p) != 0) rmdir(p);
    }
    rmdir(tmpdir);
    return 0;
}

/* ---- the table ---- */

static void test_find_strategy(void **state)
{
    (void)state;
    const strategy_ops *e = discovery_find_strategy("Cluster.Strategy.Epmd");
    assert_non_null(e);
    assert_ptr_equal(discovery_find_strategy("epmd"), e);
    assert_ptr_equal(discovery_find_strategy("Elixir.Cluster.Strategy.Epmd"), e);
    assert_non_null(discovery_find_strategy("local_epmd"));
    assert_ptr_equal(discovery_find_strategy("Cluster.Strategy.LocalEpmd"),
                     discovery_find_strategy("local_epmd"));
    assert_ptr_equal(discovery_find_strategy("Cluster.Strategy.ErlangHosts"),
                     discovery_find_strategy("erlang_hosts"));
    static const char *const unknown[] = {"",
                                          "Epmd",
                                          "EPMD",
                                          "Elixir.epmd",
                                          "epmd ",
                                          "Cluster.Strategy.Epmd2",
                                          "Cluster.Strategy.epmd",
                                          "Elixir."};
    for (size_t k = 0; k < sizeof unknown / sizeof unknown[0]; k++)
        if (discovery_find_strategy(unknown[k]) != NULL) fail_msg("found %s", unknown[k]);
    assert_null(discovery_find_strategy(NULL));
    size_t n = 0;
    const strategy_ops *const *all = discovery_strategies(&n);
    assert_true(n >= 3);
    for (size_t k = 0; k < n; k++) {
        assert_non_null(all[k]->start);
        assert_non_null(all[k]->stop);
        assert_ptr_equal(discovery_find_strategy(all[k]->alias), all[k]);
        assert_ptr_equal(discovery_find_strategy(all[k]->module), all[k]);
    }
}

/* ---- the result helpers ---- */

static void test_result_members(void **state)
{
    (void)state;
    discovery_result r;
    discovery_result_init(&r);
    assert_int_equal(discovery_result_add_member(&r, "c@h"), 0);
    assert_int_equal(discovery_result_add_member(&r, "a@h"), 0);
    assert_int_equal(discovery_result_add_member(&r, "c@h"), 0);
    assert_int_equal(discovery_result_add_member(&r, "b@h"), 0);
    assert_int_equal(discovery_result_add_member(&r, "a@h"), 0);
    assert_int_equal(discovery_result_add_member(&r, "a@b'c"), -1);
    assert_int_equal(discovery_result_add_member(&r, "x@y\nlevel=error"), -1);
    assert_int_equal(discovery_result_add_member(&r, NULL), -1);
    discovery_result_finish(&r);
    assert_int_equal(r.n_members, 3);
    assert_string_equal(r.members[0], "a@h");
    assert_string_equal(r.members[1], "b@h");
    assert_string_equal(r.members[2], "c@h");
    assert_int_equal(r.verdict, DISCOVERY_OK);
    assert_true(has_evidence(&r, "rejected \"a@b'c\""));
    /* Evidence stays one printable line. */
    for (size_t k = 0; k < r.n_evidence; k++)
        for (const char *c = r.evidence[k]; *c; c++)
            assert_true((unsigned char)*c >= 0x20);
    /* finish again, add after finish: still sorted and unique. */
    assert_int_equal(discovery_result_add_member(&r, "b@h"), 0);
    assert_int_equal(discovery_result_add_member(&r, "0@h"), 0);
    discovery_result_finish(&r);
    assert_int_equal(r.n_members, 4);
    assert_string_equal(r.members[0], "0@h");
    discovery_result_free(&r);
    assert_int_equal(r.n_members, 0);
    assert_null(r.members);
    discovery_result_free(NULL);
}

/* A name that is both a member and leaving (a StatefulSet pod recreated under
 * its name while the old endpoint terminates) stays a member only. */
static void test_result_member_wins_over_leaving(void **state)
{
    (void)state;
    discovery_result r;
    discovery_result_init(&r);
    assert_int_equal(discovery_result_add_leaving(&r, "app@web-0.svc"), 0);
    assert_int_equal(discovery_result_add_leaving(&r, "app@web-1.svc"), 0);
    assert_int_equal(discovery_result_add_member(&r, "app@web-0.svc"), 0);
    assert_int_equal(discovery_result_add_member(&r, "app@web-2.svc"), 0);
    discovery_result_finish(&r);
    assert_int_equal(r.n_members, 2);
    assert_int_equal(r.n_leaving, 1);
    assert_string_equal(r.leaving[0], "app@web-1.svc");
    assert_false(discovery_result_is_leaving(&r, "app@web-0.svc"));
    assert_true(discovery_result_is_leaving(&r, "app@web-1.svc"));
    assert_true(has_evidence(&r, "app@web-0.svc: a member by another address"));
    discovery_result_free(&r);
}

static void test_result_fail_and_caps(void **state)
{
    (void)state;
    discovery_result r;
    discovery_result_init(&r);
    discovery_result_fail(&r, "first %d", 1);
    discovery_result_fail(&r, "second");
    assert_int_equal(r.verdict, DISCOVERY_FAILED);
    assert_string_equal(r.reason, "first 1");
    assert_true(has_evidence(&r, "second"));
    discovery_result_free(&r);

    discovery_result_init(&r);
    for (int k = 0; k < DISCOVERY_MAX_EVIDENCE + 500; k++)
        discovery_result_add_evidence(&r, "line %d", k);
    assert_int_equal(r.n_evidence, DISCOVERY_MAX_EVIDENCE);
    assert_string_equal(r.evidence[DISCOVERY_MAX_EVIDENCE - 1], "(further evidence omitted)");
    assert_string_equal(r.evidence[0], "line 0");
    discovery_result_free(&r);

    discovery_result_init(&r);
    char long_line[4000];
    memset(long_line, 'x', sizeof long_line - 1);
    long_line[sizeof long_line - 1] = '\0';
    discovery_result_add_evidence(&r, "%s", long_line);
    assert_true(strlen(r.evidence[0]) < 2000);
    discovery_result_fail(&r, "%s", long_line);
    assert_true(strlen(r.reason) < sizeof r.reason);
    discovery_result_free(&r);

    /* Past the member cap the round fails rather than report a truncated set. */
    discovery_result_init(&r);
    char name[32];
    for (int k = 0; k < DISCOVERY_MAX_MEMBERS; k++) {
        snprintf(name, sizeof name, "n%d@h", k);
        assert_int_equal(discovery_result_add_member(&r, name), 0);
    }
    assert_int_equal(r.verdict, DISCOVERY_OK);
    assert_int_equal(discovery_result_add_member(&r, "one_more@h"), -1);
    assert_int_equal(r.verdict, DISCOVERY_FAILED);
    assert_non_null(strstr(r.reason, "members"));
    discovery_result_finish(&r);
    assert_int_equal(r.n_members, DISCOVERY_MAX_MEMBERS);
    discovery_result_free(&r);
}

/* ---- the .hosts.erlang parser ---- */

static void test_hosts_parse_valid(void **state)
{
    (void)state;
    static const char text[] = "% the cluster\n"
                               "'host1.example.com'.\n"
                               "  'host2'  . % trailing comment\r\n"
                               "\n"
                               "host3.\n"
                               "'10.0.0.1'.\t'::1'.\n"
                               "'last'.";
    char **hosts = NULL;
    size_t n = 0;
    char err[256] = "";
    if (erlang_hosts_parse(text, strlen(text), "f", &hosts, &n, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(n, 6);
    assert_string_equal(hosts[0], "host1.example.com");
    assert_string_equal(hosts[1], "host2");
    assert_string_equal(hosts[2], "host3");
    assert_string_equal(hosts[3], "10.0.0.1");
    assert_string_equal(hosts[4], "::1");
    assert_string_equal(hosts[5], "last");
    for (size_t k = 0; k < n; k++)
        free(hosts[k]);
    free(hosts);
    assert_int_equal(erlang_hosts_parse("", 0, "f", &hosts, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    static const char comments[] = "% only\n%comments";
    assert_int_equal(
        erlang_hosts_parse(comments, strlen(comments), "f", &hosts, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    free(hosts);
}

static void test_hosts_parse_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *prefix; /* "file:line:" */
    } cases[] = {
        {"'a'\n'b'.\n", "f:2: expected '.'"},
        {"'a'.\n\"b\".\n", "f:2: expected a host name"},
        {"'a'.'b'.\n", "f:1: expected white space"},
        {"'a'.\n\n'a b'.\n", "f:3: not a host name"},
        {"'a'.\n'unterminated.\n", "f:2: control character or newline"},
        {"'a'.\n'open", "f:2: unterminated"},
        {"''.\n", "f:1: empty atom"},
        {"'a\\'b'.\n", "f:1: escape sequences"},
        {"1.\n", "f:1: expected a host name"},
        {"Host.\n", "f:1: expected a host name"},
        {"'a'\n", "f:2: expected '.'"},
        {"'a'.x\n", "f:1: expected white space"},
        {"{'a'}.\n", "f:1: expected a host name"},
        {"'a@b'.\n", "f:1: not a host name"},
        {"a@b.\n", "f:1: not a host name"},
        {"'a'.\n'a\tb'.\n", "f:2: control character"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char **hosts = (char **)1;
        size_t n = 99;
        char err[256] = "";
        int rc = erlang_hosts_parse(cases[k].text, strlen(cases[k].text), "f", &hosts, &n, err,
                                    sizeof err);
        if (rc != -1) fail_msg("accepted: %s", cases[k].text);
        assert_null(hosts);
        assert_int_equal(n, 0);
        if (strncmp(err, cases[k].prefix, strlen(cases[k].prefix)) != 0)
            fail_msg("case %zu: got \"%s\", want \"%s...\"", k, err, cases[k].prefix);
    }
    char err[256];
    char **hosts;
    size_t n;
    static const char with_nul[] = "'a'.\n'b\0'.\n";
    assert_int_equal(
        erlang_hosts_parse(with_nul, sizeof with_nul - 1, "f", &hosts, &n, err, sizeof err), -1);
    assert_string_equal(err, "f:2: NUL byte in file");
    char big[400];
    big[0] = '\'';
    memset(big + 1, 'a', 300);
    memcpy(big + 301, "'.\n", 4);
    assert_int_equal(erlang_hosts_parse(big, strlen(big), "f", &hosts, &n, err, sizeof err), -1);
    assert_non_null(strstr(err, "longer than 255"));
}

/* ---- Cluster.Strategy.Epmd ---- */

static void test_epmd_strategy(void **state)
{
    (void)state;
    run_ctx rc;
    run_init(&rc, "epmd");
    char *hosts[] = {"b@127.0.0.1", "a@127.0.0.1", "bad name@x", "a@127.0.0.1"};
    opt_value *o = run_opt(&rc, "hosts");
    o->list = hosts;
    o->list_len = 4;
    o->set = true;
    char err[256];
    assert_int_equal(rc.topo.strategy->validate(&rc.topo.options, err, sizeof err), -1);
    assert_non_null(strstr(err, "hosts[2]"));
    run_loop(&rc);
    assert_int_equal(rc.reports, 1);
    const discovery_result *r = &rc.results[0];
    assert_int_equal(r->verdict, DISCOVERY_OK);
    assert_int_equal(r->n_members, 2);
    assert_string_equal(r->members[0], "a@127.0.0.1");
    assert_string_equal(r->members[1], "b@127.0.0.1");
    assert_true(has_evidence(r, "rejected \"bad name@x\""));
    run_free(&rc);

    /* With `timeout` it reports again, the same static set. */
    run_init(&rc, "Cluster.Strategy.Epmd");
    o = run_opt(&rc, "hosts");
    o->list = hosts;
    o->list_len = 2;
    run_set_int(&rc, "timeout", 100);
    rc.d.once = false;
    rc.stop_after = 3;
    long long t0 = ms_now();
    run_loop(&rc);
    assert_int_equal(rc.reports, 3);
    assert_true(ms_now() - t0 >= 190);
    assert_int_equal(rc.results[2].n_members, 2);
    assert_int_equal(rc.topo.strategy->validate(&rc.topo.options, err, sizeof err), 0);
    run_free(&rc);

    /* once wins over timeout: one round, then the loop runs dry. */
    run_init(&rc, "epmd");
    o = run_opt(&rc, "hosts");
    o->list = hosts;
    o->list_len = 2;
    run_set_int(&rc, "timeout", 100);
    rc.stop_after = 100;
    run_loop(&rc);
    assert_int_equal(rc.reports, 1);
    run_free(&rc);
}

/* ---- Cluster.Strategy.LocalEpmd ---- */

static void test_local_epmd_long(void **state)
{
    (void)state;
    run_ctx rc;
    run_init(&rc, "local_epmd");
    run_loop(&rc);
    assert_int_equal(rc.reports, 1);
    const discovery_result *r = &rc.results[0];
    assert_int_equal(r->verdict, DISCOVERY_OK);
    assert_int_equal(r->n_members, 1);
    assert_string_equal(r->members[0], "t1@127.0.0.1");
    assert_true(has_evidence(r, "name t1 at port"));
    run_free(&rc);

    /* A long name without a host part: 127.0.0.1. */
    run_init(&rc, "local_epmd");
    rc.cfg.node.name = "clusterd";
    run_loop(&rc);
    assert_string_equal(rc.results[0].members[0], "t1@127.0.0.1");
    run_free(&rc);
}

static void test_local_epmd_skips_self(void **state)
{
    (void)state;
    run_ctx rc;
    run_init(&rc, "local_epmd");
    rc.cfg.node.name = "t1@127.0.0.1";
    run_loop(&rc);
    const discovery_result *r = &rc.results[0];
    assert_int_equal(r->verdict, DISCOVERY_OK);
    assert_int_equal(r->n_members, 0);
    assert_true(has_evidence(r, "ourselves"));
    run_free(&rc);
}

static void test_local_epmd_short(void **state)
{
    (void)state;
    run_ctx rc;
    run_init(&rc, "local_epmd");
    rc.cfg.node.name = NULL;
    rc.cfg.node.longnames = false;
    run_loop(&rc);
    char want[300];
    snprintf(want, sizeof want, "t1@%s", short_host);
    assert_int_equal(rc.results[0].n_members, 1);
    assert_string_equal(rc.results[0].members[0], want);
    run_free(&rc);
}

/* ---- Cluster.Strategy.ErlangHosts ---- */

static void test_erlang_hosts_partial(void **state)
{
    (void)state;
    /* 127.0.0.3 has nothing listening on the EPMD port: a partial failure. */
    write_file(path_in_tmp("hosts"), "'127.0.0.1'.\n'127.0.0.3'.\n'127.0.0.1'.\n");
    run_ctx rc;
    run_init(&rc, "erlang_hosts");
    run_set_str(&rc, "hosts_file", path_in_tmp("hosts"));
    run_loop(&rc);
    const discovery_result *r = &rc.results[0];
    assert_int_equal(r->verdict, DISCOVERY_OK);
    assert_int_equal(r->n_members, 1);
    assert_string_equal(r->members[0], "t1@127.0.0.1");
    assert_int_equal(r->n_partial, 1);
    assert_true(has_evidence(r, "127.0.0.3: no EPMD listening"));
    run_free(&rc);
}

/* After round 1, 127.0.0.2 stops answering; after round 2 the file drops it. */
static void memory_hook(run_ctx *rc, const discovery_result *r)
{
    (void)r;
    if (rc->reports == 1) {
        second_host_stop();
    } else if (rc->reports == 2) {
        write_file(path_in_tmp("hosts"), "'127.0.0.1'.\n");
    }
}

static void test_erlang_hosts_memory(void **state)
{
    (void)state;
    second_host_start();
    /* 127.0.0.2 answers, on the fixture's port, with the real epmd's names. */
    epmd_name seen[4];
    size_t n_seen = 0;
    assert_int_equal(epmd_names("127.0.0.2", 2000, seen, 4, &n_seen), EPMD_OK);
    assert_int_equal(n_seen, 1);
    assert_string_equal(seen[0].name, "h2node");
    write_file(path_in_tmp("hosts"), "% two hosts\n'127.0.0.1'.\n'127.0.0.2'.\n");
    run_ctx rc;
    run_init(&rc, "erlang_hosts");
    run_set_str(&rc, "hosts_file", path_in_tmp("hosts"));
    run_set_int(&rc, "polling_interval", 100);
    rc.d.once = false;
    rc.stop_after = 3;
    rc.hook = memory_hook;
    run_loop(&rc);
    assert_int_equal(rc.reports, 3);
    const discovery_result *r = &rc.results[0];
    assert_int_equal(r->verdict, DISCOVERY_OK);
    assert_int_equal(r->n_members, 2);
    assert_string_equal(r->members[0], "h2node@127.0.0.2");
    assert_string_equal(r->members[1], "t1@127.0.0.1");
    assert_int_equal(r->n_partial, 0);
    r = &rc.results[1]; /* 127.0.0.2 silent now: its names are kept */
    assert_int_equal(r->verdict, DISCOVERY_OK);
    assert_int_equal(r->n_members, 2);
    assert_string_equal(r->members[0], "h2node@127.0.0.2");
    assert_int_equal(r->n_partial, 1);
    assert_true(has_evidence(r, "127.0.0.2: no EPMD listening"));
    assert_true(has_evidence(r, "keeping the 1 name(s) seen before"));
    r = &rc.results[2]; /* the edited file is read again */
    assert_int_equal(r->n_members, 1);
    assert_string_equal(r->members[0], "t1@127.0.0.1");
    assert_int_equal(r->n_partial, 0);
    run_free(&rc);
}

static void test_erlang_hosts_search(void **state)
{
    (void)state;
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    const char *home = getenv("HOME");
    char *saved_home = home ? strdup(home) : NULL;
    mkdir(path_in_tmp("empty"), 0700);
    mkdir(path_in_tmp("home"), 0700);
    assert_int_equal(chdir(path_in_tmp("empty")), 0);
    setenv("HOME", path_in_tmp("home"), 1);

    run_ctx rc;
    run_init(&rc, "erlang_hosts");
    run_loop(&rc);
    const discovery_result *r = &rc.results[0];
    assert_int_equal(r->verdict, DISCOVERY_FAILED);
    if (strstr(r->reason, "no .hosts.erlang found in") == NULL ||
        strstr(r->reason, path_in_tmp("home/.hosts.erlang")) == NULL)
        fail_msg("%s", r->reason);
    run_free(&rc);

    /* Found in the working directory. */
    write_file(path_in_tmp("empty/.hosts.erlang"), "'127.0.0.1'.\n");
    run_init(&rc, "erlang_hosts");
    run_loop(&rc);
    assert_int_equal(rc.results[0].verdict, DISCOVERY_OK);
    assert_int_equal(rc.results[0].n_members, 1);
    run_free(&rc);

    assert_int_equal(chdir(cwd), 0);
    if (saved_home != NULL) setenv("HOME", saved_home, 1);
    free(saved_home);
}

static void test_erlang_hosts_bad_file(void **state)
{
    (void)state;
    write_file(path_in_tmp("bad_hosts"), "'127.0.0.1'.\n127.0.0.2.\n");
    run_ctx rc;
    run_init(&rc, "erlang_hosts");
    run_set_str(&rc, "hosts_file", path_in_tmp("bad_hosts"));
    run_loop(&rc);
    char want[PATH_MAX + 8];
    snprintf(want, sizeof want, "%s:2: ", path_in_tmp("bad_hosts"));
    assert_int_equal(rc.results[0].verdict, DISCOVERY_FAILED);
    if (strncmp(rc.results[0].reason, want, strlen(want)) != 0)
        fail_msg("%s", rc.results[0].reason);
    run_free(&rc);

    /* Empty file, missing file, a directory. */
    write_file(path_in_tmp("bad_hosts"), "% nothing\n");
    run_init(&rc, "erlang_hosts");
    run_set_str(&rc, "hosts_file", path_in_tmp("bad_hosts"));
    run_loop(&rc);
    assert_int_equal(rc.results[0].verdict, DISCOVERY_FAILED);
    assert_non_null(strstr(rc.results[0].reason, "lists no hosts"));
    run_free(&rc);
    run_init(&rc, "erlang_hosts");
    run_set_str(&rc, "hosts_file", path_in_tmp("no_such_file"));
    run_loop(&rc);
    assert_int_equal(rc.results[0].verdict, DISCOVERY_FAILED);
    assert_non_null(strstr(rc.results[0].reason, "No such file"));
    run_free(&rc);
    run_init(&rc, "erlang_hosts");
    run_set_str(&rc, "hosts_file", tmpdir);
    run_loop(&rc);
    assert_non_null(strstr(rc.results[0].reason, "not a regular file"));
    run_free(&rc);

    /* Too big. */
    char *big = malloc(70000);
    memset(big, ' ', 69999);
    big[69999] = '\0';
    write_file(path_in_tmp("bad_hosts"), big);
    free(big);
    run_init(&rc, "erlang_hosts");
    run_set_str(&rc, "hosts_file", path_in_tmp("bad_hosts"));
    run_loop(&rc);
    assert_non_null(strstr(rc.results[0].reason, "larger than"));
    run_free(&rc);
}

static void test_erlang_hosts_options(void **state)
{
    (void)state;
    run_ctx rc;
    run_init(&rc, "erlang_hosts");
    char err[256];
    assert_int_equal(rc.topo.strategy->validate(&rc.topo.options, err, sizeof err), 0);
    run_set_int(&rc, "timeout", 1000);
    assert_int_equal(rc.topo.strategy->validate(&rc.topo.options, err, sizeof err), 0);
    run_set_int(&rc, "polling_interval", 1000);
    assert_int_equal(rc.topo.strategy->validate(&rc.topo.options, err, sizeof err), -1);
    uv_loop_t loop;
    uv_loop_init(&loop);
    rc.d.loop = &loop;
    assert_int_equal(discovery_start(&rc.d, err, sizeof err), -1);
    assert_non_null(strstr(err, "not both"));
    uv_loop_close(&loop);
}

/* Stop while a round waits on a silent host: closed comes after the round
 * finished, and no report is delivered after stop. */
static void stop_timer_cb(uv_timer_t *t)
{
    discovery_stop(t->data);
    uv_close((uv_handle_t *)t, NULL);
}

static void test_stop_during_round(void **state)
{
    (void)state;
    int silent = listen_on("127.0.0.2", fx.port, NULL);
    assert_true(silent >= 0);
    write_file(path_in_tmp("hosts"), "'127.0.0.2'.\n");
    run_ctx rc;
    run_init(&rc, "erlang_hosts");
    run_set_str(&rc, "hosts_file", path_in_tmp("hosts"));
    uv_loop_t loop;
    uv_loop_init(&loop);
    rc.d.loop = &loop;
    char err[256];
    assert_int_equal(discovery_start(&rc.d, err, sizeof err), 0);
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    t.data = &rc.d;
    uv_timer_start(&t, stop_timer_cb, 200, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_true(rc.closed);
    assert_int_equal(rc.reports, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    close(silent);
}

/* ---- fail static: EPMD gone ---- */

static void test_epmd_down_fails(void **state)
{
    (void)state;
    epmd_fixture_stop_epmd(&fx);
    run_ctx rc;
    run_init(&rc, "local_epmd");
    run_loop(&rc);
    const discovery_result *r = &rc.results[0];
    assert_int_equal(r->verdict, DISCOVERY_FAILED);
    assert_non_null(strstr(r->reason, "EPMD on 127.0.0.1:"));
    assert_non_null(strstr(r->reason, "no EPMD listening"));
    run_free(&rc);

    write_file(path_in_tmp("hosts"), "'127.0.0.1'.\n'127.0.0.3'.\n");
    run_init(&rc, "erlang_hosts");
    run_set_str(&rc, "hosts_file", path_in_tmp("hosts"));
    run_loop(&rc);
    r = &rc.results[0];
    assert_int_equal(r->verdict, DISCOVERY_FAILED);
    assert_non_null(strstr(r->reason, "none of the 2 host(s)"));
    assert_int_equal(r->n_partial, 2);
    run_free(&rc);
}

/* A hung loop fails the run instead of blocking CI, and takes our children along. */
static void on_alarm(int sig)
{
    (void)sig;
    epmd_fixture_kill(&fx);
    if (h2.epmd_pid > 0) kill(h2.epmd_pid, SIGKILL);
    static const char msg[] = "test_discovery: timed out\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(1);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_alarm);
    alarm(120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_strategy),
        cmocka_unit_test(test_result_members),
        cmocka_unit_test(test_result_member_wins_over_leaving),
        cmocka_unit_test(test_result_fail_and_caps),
        cmocka_unit_test(test_hosts_parse_valid),
        cmocka_unit_test(test_hosts_parse_errors),
        cmocka_unit_test(test_epmd_strategy),
        cmocka_unit_test(test_local_epmd_long),
        cmocka_unit_test(test_local_epmd_skips_self),
        cmocka_unit_test(test_local_epmd_short),
        cmocka_unit_test(test_erlang_hosts_partial),
        cmocka_unit_test(test_erlang_hosts_memory),
        cmocka_unit_test(test_erlang_hosts_search),
        cmocka_unit_test(test_erlang_hosts_bad_file),
        cmocka_unit_test(test_erlang_hosts_options),
        cmocka_unit_test(test_stop_during_round),
        cmocka_unit_test(test_epmd_down_fails), /* last: stops the epmd */
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
