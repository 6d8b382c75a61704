/* Unit tests for the Kubernetes pieces that need no server: watch-stream
 * framing and events, Status bodies and Retry-After (kube_json), membership
 * rules and node names (kube_members), kubeconfig parsing and base64
 * (kubeconfig), RFC 3339 times (kube_client), and leaving members in a
 * discovery result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "discovery.h"
#include "kube_client.h"
#include "kube_json.h"
#include "kube_members.h"
#include "kubeconfig.h"

/* ---- helpers ---- */

typedef struct collected {
    char lines[8][256];
    int n;
    int fail_at; /* -1: never */
} collected;

static int collect(void *arg, const char *line, size_t len)
{
    collected *c = arg;
    if (c->n == c->fail_at) return -1;
    if (c->n < 8) {
        snprintf(c->lines[c->n], sizeof c->lines[0], "%.*s", (int)len, line);
    }
    c->n++;
    return 0;
}

static bool has_evidence(const discovery_result *r, const char *needle)
{
    for (size_t k = 0; k < r->n_evidence; k++)
        if (strstr(r->evidence[k], needle) != NULL) return true;
    return false;
}

static json_t *parse(const char *text)
{
    json_t *o = json_loads(text, 0, NULL);
    assert_non_null(o);
    return o;
}

/* ---- kube_lines ---- */

static void test_lines_split_across_chunks(void **state)
{
    (void)state;
    kube_lines l;
    kube_lines_init(&l, 64);
    collected c = {.fail_at = -1};
    char err[128];
    const char *part1 = "{\"a\":1}\n{\"b\"";
    assert_int_equal(kube_lines_feed(&l, part1, strlen(part1), collect, &c, err, sizeof err), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.lines[0], "{\"a\":1}");
    assert_true(kube_lines_pending(&l) > 0);
    assert_int_equal(kube_lines_feed(&l, ":2}\r\n\n", 6, collect, &c, err, sizeof err), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.lines[1], "{\"b\":2}");
    assert_int_equal(kube_lines_pending(&l), 0);
    kube_lines_free(&l);
}

static void test_lines_cap(void **state)
{
    (void)state;
    kube_lines l;
    kube_lines_init(&l, 8);
    collected c = {.fail_at = -1};
    char err[128];
    /* a line longer than the cap, in one piece and in pieces */
    assert_int_equal(kube_lines_feed(&l, "0123456789\n", 11, collect, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "larger than 8"));
    kube_lines_reset(&l);
    assert_int_equal(kube_lines_feed(&l, "01234", 5, collect, &c, err, sizeof err), 0);
    assert_int_equal(kube_lines_feed(&l, "56789", 5, collect, &c, err, sizeof err), -1);
    kube_lines_reset(&l);
    /* the callback's refusal stops the feed */
    c.fail_at = 0;
    assert_int_equal(kube_lines_feed(&l, "x\ny\n", 4, collect, &c, err, sizeof err), -1);
    kube_lines_free(&l);
}

/* ---- events and Status ---- */

static void test_event_parse(void **state)
{
    (void)state;
    kube_event ev;
    char err[128];
    const char *added = "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":"
                        "\"p\",\"resourceVersion\":\"17\"}}}";
    assert_int_equal(kube_event_parse(added, strlen(added), &ev, err, sizeof err), 0);
    assert_int_equal(ev.type, KUBE_EV_ADDED);
    assert_string_equal(ev.rv, "17");
    kube_event_free(&ev);

    const char *bm = "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"metadata\":{"
                     "\"resourceVersion\":\"99\"}}}";
    assert_int_equal(kube_event_parse(bm, strlen(bm), &ev, err, sizeof err), 0);
    assert_int_equal(ev.type, KUBE_EV_BOOKMARK);
    assert_string_equal(ev.rv, "99");
    kube_event_free(&ev);

    const char *e410 = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                       "\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource "
                       "version: 1 (5)\",\"reason\":\"Expired\",\"code\":410}}";
    assert_int_equal(kube_event_parse(e410, strlen(e410), &ev, err, sizeof err), 0);
    assert_int_equal(ev.type, KUBE_EV_ERROR);
    assert_int_equal(ev.code, 410);
    assert_string_equal(ev.reason, "Expired");
    kube_event_free(&ev);

    const char *bad[] = {
        "not json",
        "{\"type\":\"ADDED\"}",
        "{\"type\":\"WHAT\",\"object\":{}}",
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{}}}",
        "{\"type\":1,\"object\":{}}",
        "{\"type\":\"ADDED\",\"object\":[]}",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        assert_int_equal(kube_event_parse(bad[k], strlen(bad[k]), &ev, err, sizeof err), -1);
        assert_null(ev.object);
    }
}

static void test_status_parse(void **state)
{
    (void)state;
    kube_status st;
    const char *forbidden =
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
        "\"message\":\"pods is forbidden\",\"reason\":\"Forbidden\",\"code\":403}";
    kube_status_parse(forbidden, strlen(forbidden), &st);
    assert_int_equal(st.code, 403);
    assert_string_equal(st.reason, "Forbidden");
    assert_string_equal(st.message, "pods is forbidden");
    assert_int_equal(st.retry_after_s, -1);

    const char *tmr = "{\"kind\":\"Status\",\"reason\":\"TooManyRequests\",\"details\":{"
                      "\"retryAfterSeconds\":3},\"code\":429}";
    kube_status_parse(tmr, strlen(tmr), &st);
    assert_int_equal(st.retry_after_s, 3);

    const char *text = "Too many requests, please try again later.\n";
    kube_status_parse(text, strlen(text), &st);
    assert_int_equal(st.code, 0);
    assert_string_equal(st.message, "Too many requests, please try again later.");

    kube_status_parse("", 0, &st);
    assert_string_equal(st.message, "");
    kube_status_parse("\x01\x02zz", 4, &st); /* control characters never reach logs */
    assert_null(strchr(st.message, '\x01'));

    assert_int_equal(kube_retry_after_parse("1"), 1);
    assert_int_equal(kube_retry_after_parse(" 120\r\n"), 120);
    assert_int_equal(kube_retry_after_parse("99999999"), 3600);
    assert_int_equal(kube_retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT"), -1);
    assert_int_equal(kube_retry_after_parse("-5"), -1);
    assert_int_equal(kube_retry_after_parse("5x"), -1);
    assert_int_equal(kube_retry_after_parse(NULL), -1);
}

/* ---- membership ---- */

static const kube_naming ip_naming = {.mode = KUBE_NAME_IP,
                                      .basename = "app",
                                      .namespace_ = "default",
                                      .service_name = "myapp",
                                      .cluster_domain = "cluster.local",
                                      .require_ready = true};

static void test_members_endpointslices(void **state)
{
    (void)state;
    /* two slices; 10.0.0.2 shows up in both for a moment (deduplicated), a
     * nil ready counts as ready, terminating is leaving, not ready is out,
     * FQDN slices are skipped */
    json_t *s1 =
        parse("{\"metadata\":{\"name\":\"s1\",\"namespace\":\"default\"},\"addressType\":\"IPv4\","
              "\"endpoints\":["
              "{\"addresses\":[\"10.0.0.1\"],\"conditions\":{\"ready\":true}},"
              "{\"addresses\":[\"10.0.0.2\"],\"conditions\":{}},"
              "{\"addresses\":[\"10.0.0.3\"],\"conditions\":{\"ready\":false,\"serving\":true,"
              "\"terminating\":true},\"targetRef\":{\"name\":\"myapp-3\"}},"
              "{\"addresses\":[\"10.0.0.4\"],\"conditions\":{\"ready\":false}}]}");
    json_t *s2 = parse("{\"metadata\":{\"name\":\"s2\"},\"addressType\":\"IPv4\",\"endpoints\":["
                       "{\"addresses\":[\"10.0.0.2\"],\"conditions\":{\"ready\":true}}]}");
    json_t *s3 = parse("{\"metadata\":{\"name\":\"s3\"},\"addressType\":\"FQDN\",\"endpoints\":["
                       "{\"addresses\":[\"x.example\"]}]}");
    json_t *objs[] = {s1, s2, s3};
    discovery_result r;
    discovery_result_init(&r);
    kube_members_compute(KUBE_LOOKUP_ENDPOINTSLICES, &ip_naming, objs, 3, &r);
    discovery_result_finish(&r);
    assert_int_equal(r.verdict, DISCOVERY_OK);
    assert_int_equal(r.n_members, 2);
    assert_string_equal(r.members[0], "app@10.0.0.1");
    assert_string_equal(r.members[1], "app@10.0.0.2");
    assert_int_equal(r.n_leaving, 1);
    assert_string_equal(r.leaving[0], "app@10.0.0.3");
    assert_true(discovery_result_is_leaving(&r, "app@10.0.0.3"));
    assert_false(discovery_result_is_leaving(&r, "app@10.0.0.1"));
    assert_true(has_evidence(&r, "10.0.0.4 (pod ?, s1): not ready: not a member"));
    assert_true(has_evidence(&r, "myapp-3"));
    assert_true(has_evidence(&r, "addressType \"FQDN\" skipped"));
    discovery_result_free(&r);

    /* require_ready off: not-ready endpoints are members, terminating still leaving */
    kube_naming lax = ip_naming;
    lax.require_ready = false;
    discovery_result_init(&r);
    kube_members_compute(KUBE_LOOKUP_ENDPOINTSLICES, &lax, objs, 3, &r);
    discovery_result_finish(&r);
    assert_int_equal(r.n_members, 3);
    assert_int_equal(r.n_leaving, 1);
    discovery_result_free(&r);
    for (size_t k = 0; k < 3; k++)
        json_decref(objs[k]);
}

static void test_members_endpoints_and_pods(void **state)
{
    (void)state;
    json_t *ep = parse(
        "{\"metadata\":{\"name\":\"myapp\",\"namespace\":\"ns\"},\"subsets\":[{"
        "\"addresses\":[{\"ip\":\"10.1.0.1\",\"hostname\":\"myapp-0\",\"targetRef\":{"
        "\"kind\":\"Pod\",\"namespace\":\"ns\",\"name\":\"myapp-0\"}}],"
        "\"notReadyAddresses\":[{\"ip\":\"10.1.0.2\",\"targetRef\":{\"name\":\"myapp-1\"}}]}]}");
    discovery_result r;
    discovery_result_init(&r);
    kube_members_compute(KUBE_LOOKUP_ENDPOINTS, &ip_naming, &ep, 1, &r);
    discovery_result_finish(&r);
    assert_int_equal(r.n_members, 1);
    assert_string_equal(r.members[0], "app@10.1.0.1");
    assert_true(has_evidence(&r, "10.1.0.2 (pod myapp-1, myapp): not ready"));
    discovery_result_free(&r);

    /* hostname mode uses the address's hostname and the service name */
    kube_naming hn = ip_naming;
    hn.mode = KUBE_NAME_HOSTNAME;
    discovery_result_init(&r);
    kube_members_compute(KUBE_LOOKUP_ENDPOINTS, &hn, &ep, 1, &r);
    discovery_result_finish(&r);
    assert_int_equal(r.n_members, 1);
    assert_string_equal(r.members[0], "app@myapp-0.myapp.ns.svc.cluster.local");
    discovery_result_free(&r);
    json_decref(ep);

    json_t *pods[] = {
        parse("{\"metadata\":{\"name\":\"a\",\"namespace\":\"ns\"},\"status\":{\"phase\":"
              "\"Running\",\"podIP\":\"10.2.0.1\",\"conditions\":[{\"type\":\"Ready\","
              "\"status\":\"True\"}]}}"),
        parse("{\"metadata\":{\"name\":\"b\",\"deletionTimestamp\":\"2026-01-01T00:00:00Z\"},"
              "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.2.0.2\",\"conditions\":[{"
              "\"type\":\"Ready\",\"status\":\"True\"}]}}"),
        parse("{\"metadata\":{\"name\":\"c\"},\"status\":{\"phase\":\"Pending\"}}"),
        parse("{\"metadata\":{\"name\":\"d\"},\"status\":{\"phase\":\"Succeeded\",\"podIP\":"
              "\"10.2.0.4\"}}"),
        parse("{\"metadata\":{\"name\":\"e\"},\"status\":{\"phase\":\"Running\",\"podIPs\":[{"
              "\"ip\":\"fd00::5\"}],\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}]}}"),
        parse("[1,2]"),
    };
    discovery_result_init(&r);
    kube_members_compute(KUBE_LOOKUP_PODS, &ip_naming, pods, 6, &r);
    discovery_result_finish(&r);
    assert_int_equal(r.n_members, 1);
    assert_string_equal(r.members[0], "app@10.2.0.1");
    assert_int_equal(r.n_leaving, 1);
    assert_string_equal(r.leaving[0], "app@10.2.0.2");
    assert_true(has_evidence(&r, "pod c: no IP yet"));
    assert_true(has_evidence(&r, "pod d: finished (phase Succeeded)"));
    assert_true(has_evidence(&r, "fd00::5 (pod e, e): not ready"));
    discovery_result_free(&r);
    for (size_t k = 0; k < 6; k++)
        json_decref(pods[k]);
}

static void test_node_names(void **state)
{
    (void)state;
    char out[300], why[160];
    kube_naming nm = ip_naming;
    assert_int_equal(kube_node_name(&nm, "10.0.0.1", NULL, "ns", out, sizeof out, why, sizeof why),
                     0);
    assert_string_equal(out, "app@10.0.0.1");
    nm.mode = KUBE_NAME_DNS;
    assert_int_equal(kube_node_name(&nm, "10.0.0.1", NULL, "ns", out, sizeof out, why, sizeof why),
                     0);
    assert_string_equal(out, "app@10-0-0-1.ns.pod.cluster.local");
    /* IPv6: ':' becomes '-' like the dots */
    assert_int_equal(kube_node_name(&nm, "fd00::1", NULL, "ns", out, sizeof out, why, sizeof why),
                     0);
    assert_string_equal(out, "app@fd00--1.ns.pod.cluster.local");
    nm.mode = KUBE_NAME_HOSTNAME;
    assert_int_equal(kube_node_name(&nm, "10.0.0.1", NULL, "ns", out, sizeof out, why, sizeof why),
                     -1);
    assert_non_null(strstr(why, "no hostname"));
    nm.service_name = NULL;
    assert_int_equal(kube_node_name(&nm, "10.0.0.1", "h", "ns", out, sizeof out, why, sizeof why),
                     -1);
    char tiny[8];
    nm.mode = KUBE_NAME_IP;
    assert_int_equal(
        kube_node_name(&nm, "10.0.0.1", NULL, "ns", tiny, sizeof tiny, why, sizeof why), -1);
}

/* ---- kubeconfig ---- */

static const char *kubeconfig_text =
    "apiVersion: v1\n"
    "kind: Config\n"
    "current-context: dev\n"
    "clusters:\n"
    "- name: c1\n"
    "  cluster:\n"
    "    server: https://10.1.2.3:6443/\n"
    "    certificate-authority-data: aGVsbG8=\n"
    "    tls-server-name: kubernetes.test\n"
    "- name: c2\n"
    "  cluster: {server: \"https://[fd00::1]:443\", certificate-authority: ca.pem,"
    " insecure-skip-tls-verify: true}\n"
    "users:\n"
    "- name: u1\n"
    "  user: {token: abc}\n"
    "- name: u2\n"
    "  user:\n"
    "    client-certificate: certs/c.pem\n"
    "    client-key: /abs/k.pem\n"
    "    tokenFile: tok\n"
    "- name: u3\n"
    "  user:\n"
    "    exec:\n"
    "      apiVersion: client.authentication.k8s.io/v1beta1\n"
    "      command: ./plugin\n"
    "      args: [get-token, --x]\n"
    "      env: [{name: A, value: b}]\n"
    "contexts:\n"
    "- name: dev\n"
    "  context: {cluster: c1, user: u1, namespace: team}\n"
    "- name: prod\n"
    "  context: {cluster: c2, user: u2}\n"
    "- name: ex\n"
    "  context: {cluster: c1, user: u3}\n"
    "- name: broken\n"
    "  context: {cluster: nope, user: u1}\n";

static void test_kubeconfig_parse(void **state)
{
    (void)state;
    kube_access a;
    char err[300];
    size_t len = strlen(kubeconfig_text);
    assert_int_equal(kubeconfig_parse(kubeconfig_text, len, "/etc/kube", NULL, &a, err, sizeof err),
                     0);
    assert_string_equal(a.server, "https://10.1.2.3:6443");
    assert_string_equal(a.ca_data, "hello");
    assert_int_equal(a.ca_data_len, 5);
    assert_string_equal(a.tls_server_name, "kubernetes.test");
    assert_string_equal(a.token, "abc");
    assert_string_equal(a.namespace_, "team");
    assert_false(a.insecure);
    kube_access_free(&a);

    assert_int_equal(
        kubeconfig_parse(kubeconfig_text, len, "/etc/kube", "prod", &a, err, sizeof err), 0);
    assert_string_equal(a.server, "https://[fd00::1]:443");
    assert_string_equal(a.ca_file, "/etc/kube/ca.pem");
    assert_true(a.insecure);
    assert_string_equal(a.cert_file, "/etc/kube/certs/c.pem");
    assert_string_equal(a.key_file, "/abs/k.pem");
    assert_string_equal(a.token_file, "/etc/kube/tok");
    assert_null(a.namespace_);
    kube_access_free(&a);

    assert_int_equal(kubeconfig_parse(kubeconfig_text, len, "/etc/kube", "ex", &a, err, sizeof err),
                     0);
    assert_non_null(a.exec);
    assert_string_equal(a.exec->command, "/etc/kube/./plugin");
    assert_int_equal(a.exec->n_args, 2);
    assert_string_equal(a.exec->args[1], "--x");
    assert_int_equal(a.exec->n_env, 1);
    assert_string_equal(a.exec->env[0], "A=b");
    kube_access_free(&a);

    assert_int_equal(
        kubeconfig_parse(kubeconfig_text, len, "/etc/kube", "broken", &a, err, sizeof err), -1);
    assert_non_null(strstr(err, "cluster \"nope\" not found"));
    assert_int_equal(
        kubeconfig_parse(kubeconfig_text, len, "/etc/kube", "missing", &a, err, sizeof err), -1);
    assert_non_null(strstr(err, "context \"missing\" not found"));
}

static void test_kubeconfig_errors(void **state)
{
    (void)state;
    kube_access a;
    char err[300];
    const struct {
        const char *text;
        const char *expect;
    } cases[] = {
        {"[1, 2", "1:"},
        {"- a\n- b\n", "no mapping"},
        {"contexts: []\n", "no context"},
        {"current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
         "clusters: [{name: c, cluster: {server: \"http://1.2.3.4\"}}]\n",
         "https://"},
        {"current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
         "clusters: [{name: c, cluster: {server: \"https://h\", certificate-authority-data: "
         "\"!!\"}}]\nusers: [{name: u, user: {}}]\n",
         "not valid base64"},
        {"current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
         "clusters: [{name: c, cluster: {server: \"https://h\"}}]\n"
         "users: [{name: u, user: {client-certificate: a}}]\n",
         "needs its key"},
        {"current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
         "clusters: [{name: c, cluster: {server: \"https://h\"}}]\n"
         "users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, "
         "command: x}}}]\n",
         "interactiveMode"},
        {"current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
         "clusters: [{name: c, cluster: {server: \"https://h\"}}]\n"
         "users: [{name: u, user: {auth-provider: {name: gcp}}}]\n",
         "auth-provider"},
        {"current-context: x\ncontexts: [{name: x, context: {cluster: c, user: nobody}}]\n"
         "clusters: [{name: c, cluster: {server: \"https://h\"}}]\n",
         "user \"nobody\" not found"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        err[0] = '\0';
        int rc =
            kubeconfig_parse(cases[k].text, strlen(cases[k].text), "/d", NULL, &a, err, sizeof err);
        if (rc != -1 || strstr(err, cases[k].expect) == NULL)
            fail_msg("case %zu: rc %d, err \"%s\", expected \"%s\"", k, rc, err, cases[k].expect);
    }
}

static void test_base64_and_time(void **state)
{
    (void)state;
    char *out = NULL;
    size_t n = 0;
    assert_int_equal(kube_base64_decode("aGVs\nbG8=", 9, &out, &n), 0);
    assert_string_equal(out, "hello");
    free(out);
    assert_int_equal(kube_base64_decode("", 0, &out, &n), 0);
    assert_int_equal(n, 0);
    free(out);
    assert_int_equal(kube_base64_decode("a", 1, &out, &n), -1);
    assert_int_equal(kube_base64_decode("aG=Vs", 5, &out, &n), -1);
    assert_int_equal(kube_base64_decode("a*b=", 4, &out, &n), -1);

    assert_true(kube_parse_time("1970-01-01T00:00:00Z") == 0);
    assert_true(kube_parse_time("2026-01-02T03:04:05Z") == 1767323045LL);
    assert_true(kube_parse_time("2026-01-02T03:04:05.123456Z") == 1767323045LL);
    assert_true(kube_parse_time("2026-01-02T04:04:05+01:00") == 1767323045LL);
    assert_true(kube_parse_time("2026-13-02T03:04:05Z") == -1);
    assert_true(kube_parse_time("2026-01-02 03:04:05Z") == -1);
    assert_true(kube_parse_time("2026-01-02T03:04:05") == -1);
    assert_true(kube_parse_time(NULL) == -1);
}

static void test_result_leaving(void **state)
{
    (void)state;
    discovery_result r;
    discovery_result_init(&r);
    assert_int_equal(discovery_result_add_leaving(&r, "b@h"), 0);
    assert_int_equal(discovery_result_add_leaving(&r, "a@h"), 0);
    assert_int_equal(discovery_result_add_leaving(&r, "a@h"), 0);
    assert_int_equal(discovery_result_add_leaving(&r, "not a node"), -1);
    discovery_result_finish(&r);
    assert_int_equal(r.n_leaving, 2);
    assert_string_equal(r.leaving[0], "a@h");
    assert_true(discovery_result_is_leaving(&r, "b@h"));
    assert_false(discovery_result_is_leaving(&r, "c@h"));
    discovery_result_free(&r);
    assert_int_equal(r.n_leaving, 0);
}

static void test_strategy_table(void **state)
{
    (void)state;
    const strategy_ops *s = discovery_find_strategy("Cluster.Strategy.Kubernetes");
    assert_non_null(s);
    assert_ptr_equal(discovery_find_strategy("Elixir.Cluster.Strategy.Kubernetes"), s);
    assert_ptr_equal(discovery_find_strategy("kubernetes"), s);
    const char *names[] = {"kubernetes_selector",
                           "kubernetes_node_basename",
                           "kubernetes_namespace",
                           "kubernetes_service_name",
                           "kubernetes_ip_lookup_mode",
                           "mode",
                           "kubernetes_master",
                           "kubernetes_cluster_name",
                           "kubernetes_service_account_path",
                           "kubernetes_use_cached_resources",
                           "polling_interval"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        bool found = false;
        for (size_t i = 0; i < s->n_options; i++)
            if (strcmp(s->options[i].name, names[k]) == 0) found = true;
        if (!found) fail_msg("libcluster option %s missing", names[k]);
    }
}

/* A selector too long for the request is refused, not cut into another one. */
static void test_long_selector_refused(void **state)
{
    (void)state;
    char sel[1200];
    memset(sel, 'a', sizeof sel - 3);
    memcpy(sel + sizeof sel - 3, "=b", 3);
    char text[1600];
    snprintf(text, sizeof text,
             "topologies:\n  t:\n    strategy: kubernetes\n    config:\n"
             "      kubernetes_selector: \"%s\"\n      kubernetes_node_basename: app\n",
             sel);
    config *cfg = NULL;
    config_diag diag = {0};
    assert_int_not_equal(config_load_string(text, strlen(text), "t.yaml", &cfg, &diag), 0);
    assert_null(cfg);
    assert_true(diag.n_errors >= 1);
    assert_non_null(strstr(diag.errors[0], "too long"));
    config_diag_free(&diag);

    snprintf(text, sizeof text,
             "topologies:\n  t:\n    strategy: kubernetes\n    config:\n"
             "      kubernetes_selector: app=x\n      kubernetes_node_basename: app\n");
    assert_int_equal(config_load_string(text, strlen(text), "t.yaml", &cfg, &diag), 0);
    config_free(cfg);
    config_diag_free(&diag);
}

/* What an exec credential plugin prints: the token or the client
 * certificate pair is taken, anything else refused with a reason that never
 * quotes the output. */
static void test_exec_credential(void **state)
{
    (void)state;
    kube_exec_credential c;
    char err[160];
    const char *tok = "{\"kind\":\"ExecCredential\",\"status\":{\"token\":\"SecretTok1\","
                      "\"expirationTimestamp\":\"2026-01-02T03:04:05Z\"}}";
    assert_int_equal(kube_exec_credential_parse(tok, strlen(tok), &c, err, sizeof err), 0);
    assert_string_equal(c.token, "SecretTok1");
    assert_null(c.cert);
    assert_true(c.expiry == 1767323045LL);
    kube_exec_credential_free(&c);
    assert_null(c.token);
    kube_exec_credential_free(NULL);

    const char *pair = "{\"kind\":\"ExecCredential\",\"status\":{\"clientCertificateData\":\"C\","
                       "\"clientKeyData\":\"SecretKey\",\"expirationTimestamp\":\"bad\"}}";
    assert_int_equal(kube_exec_credential_parse(pair, strlen(pair), &c, err, sizeof err), 0);
    assert_null(c.token);
    assert_string_equal(c.cert, "C");
    assert_string_equal(c.key, "SecretKey");
    assert_true(c.expiry == 0); /* a malformed time: no expiry, not a refusal */
    kube_exec_credential_free(&c);

    static const struct {
        const char *out, *why;
    } bad[] = {
        {"SecretTok2", "not an ExecCredential"},
        {"{\"kind\":\"Status\",\"status\":{\"token\":\"SecretTok2\"}}", "not an ExecCredential"},
        {"[\"ExecCredential\"]", "not an ExecCredential"},
        {"{\"kind\":\"ExecCredential\",\"status\":{\"token\":42}}", "neither a token"},
        {"{\"kind\":\"ExecCredential\",\"status\":\"SecretTok2\"}", "neither a token"},
        {"{\"kind\":\"ExecCredential\",\"status\":{\"clientKeyData\":\"SecretTok2\"}}",
         "neither a token"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        err[0] = '\0';
        assert_int_equal(
            kube_exec_credential_parse(bad[k].out, strlen(bad[k].out), &c, err, sizeof err), -1);
        if (!strstr(err, bad[k].why)) fail_msg("\"%s\": %s", bad[k].out, err);
        assert_null(strstr(err, "SecretTok2"));
        assert_null(c.token);
        assert_null(c.key);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_split_across_chunks),
        cmocka_unit_test(test_long_selector_refused),
        cmocka_unit_test(test_lines_cap),
        cmocka_unit_test(test_event_parse),
        cmocka_unit_test(test_status_parse),
        cmocka_unit_test(test_members_endpointslices),
        cmocka_unit_test(test_members_endpoints_and_pods),
        cmocka_unit_test(test_node_names),
        cmocka_unit_test(test_kubeconfig_parse),
        cmocka_unit_test(test_kubeconfig_errors),
        cmocka_unit_test(test_base64_and_time),
        cmocka_unit_test(test_result_leaving),
        cmocka_unit_test(test_strategy_table),
        cmocka_unit_test(test_exec_credential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
