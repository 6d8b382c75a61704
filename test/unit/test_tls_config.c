/* Unit tests for tls_config.c: the `node.tls:` section read through the real
 * config loader (defaults, every option, every error with its position),
 * and tls_config_differs. Files the section names are made in a temporary
 * directory, since the reader checks that they can be read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "tls_config.h"

#define LABEL "t.yaml"
#define TOPO "topologies: {t: {strategy: local_epmd}}\n"

static char dir[64];
static char crt[128], key[128], ca[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/test_tls_config_XXXXXX");
    if (!mkdtemp(dir)) return -1;
    snprintf(crt, sizeof crt, "%s/node.crt", dir);
    snprintf(key, sizeof key, "%s/node.key", dir);
    snprintf(ca, sizeof ca, "%s/ca.crt", dir);
    const char *files[] = {crt, key, ca};
    for (size_t k = 0; k < 3; k++) {
        FILE *f = fopen(files[k], "w");
        if (!f) return -1;
        fputs("-----BEGIN NOTHING-----\n", f);
        fclose(f);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(crt);
    unlink(key);
    unlink(ca);
    rmdir(dir);
    return 0;
}

/* Loads `node:\n  tls:\n` + body (lines indented by 4) + a topology. */
static int load_tls(const char *body, config **cfg, config_diag *d)
{
    char text[2048];
    snprintf(text, sizeof text, "node:\n  tls:\n%s" TOPO, body);
    return config_load_string(text, strlen(text), LABEL, cfg, d);
}

static void dump(const config_diag *d)
{
    for (size_t k = 0; k < d->n_errors; k++)
        fprintf(stderr, "  error[%zu]: %s\n", k, d->errors[k]);
    for (size_t k = 0; k < d->n_warnings; k++)
        fprintf(stderr, "  warning[%zu]: %s\n", k, d->warnings[k]);
}

static config *expect_ok(const char *body)
{
    config *cfg = NULL;
    config_diag d;
    int rc = load_tls(body, &cfg, &d);
    if (rc != 0 || d.n_warnings) dump(&d);
    assert_int_equal(rc, 0);
    assert_int_equal(d.n_warnings, 0);
    config_diag_free(&d);
    assert_non_null(cfg);
    assert_non_null(cfg->node.tls);
    return cfg;
}

static void expect_error(const char *body, const char *want)
{
    config *cfg = NULL;
    config_diag d;
    assert_int_equal(load_tls(body, &cfg, &d), -1);
    assert_null(cfg);
    if (d.n_errors != 1) dump(&d);
    assert_int_equal(d.n_errors, 1);
    assert_string_equal(d.errors[0], want);
    config_diag_free(&d);
}

static void test_defaults(void **state)
{
    (void)state;
    char body[512];
    snprintf(body, sizeof body, "    certfile: %s\n    cacertfile: %s\n", crt, ca);
    config *cfg = expect_ok(body);
    const config_tls *t = cfg->node.tls;
    assert_string_equal(t->certfile, crt);
    assert_string_equal(t->keyfile, crt); /* the key may sit in the certificate file */
    assert_string_equal(t->cacertfile, ca);
    assert_null(t->password_file);
    assert_true(t->verify_peer);
    assert_false(t->sni_disabled);
    assert_null(t->server_name);
    assert_int_equal(t->versions, TLS_VERSION_12 | TLS_VERSION_13);
    assert_string_equal(tls_versions_text(t->versions), "tlsv1.2,tlsv1.3");
    config_free(cfg);

    /* No tls: section, no TLS. */
    config *plain = NULL;
    assert_int_equal(config_load_string(TOPO, strlen(TOPO), LABEL, &plain, NULL), 0);
    assert_null(plain->node.tls);
    config_free(plain);
}

static void test_every_option(void **state)
{
    (void)state;
    char body[1024];
    snprintf(body, sizeof body,
             "    certfile: %s\n    keyfile: %s\n    cacertfile: %s\n    password_file: %s\n"
             "    verify: verify_peer\n    server_name_indication: nodes.example.com\n"
             "    versions: [tlsv1.3]\n",
             crt, key, ca, key);
    config *cfg = expect_ok(body);
    const config_tls *t = cfg->node.tls;
    assert_string_equal(t->keyfile, key);
    assert_string_equal(t->password_file, key);
    assert_string_equal(t->server_name, "nodes.example.com");
    assert_false(t->sni_disabled);
    assert_int_equal(t->versions, TLS_VERSION_13);
    assert_string_equal(tls_versions_text(t->versions), "tlsv1.3");
    config_free(cfg);

    snprintf(body, sizeof body,
             "    certfile: %s\n    cacertfile: %s\n    server_name_indication: disable\n"
             "    versions: tlsv1.2\n",
             crt, ca);
    cfg = expect_ok(body);
    assert_true(cfg->node.tls->sni_disabled);
    assert_null(cfg->node.tls->server_name);
    assert_int_equal(cfg->node.tls->versions, TLS_VERSION_12);
    config_free(cfg);
}

static void test_verify_none_is_warned(void **state)
{
    (void)state;
    char body[512];
    snprintf(body, sizeof body, "    certfile: %s\n    verify: verify_none\n", crt);
    config *cfg = NULL;
    config_diag d;
    assert_int_equal(load_tls(body, &cfg, &d), 0);
    assert_int_equal(d.n_errors, 0);
    assert_int_equal(d.n_warnings, 1);
    assert_string_equal(d.warnings[0],
                        LABEL ":4:13: verify: verify_none accepts any certificate from any peer "
                              "(no authentication of the nodes); use it only for testing");
    assert_false(cfg->node.tls->verify_peer);
    assert_null(cfg->node.tls->cacertfile);
    config_free(cfg);
    config_diag_free(&d);
}

static void test_errors(void **state)
{
    (void)state;
    char body[1024];

    expect_error("", LABEL ":2:3: 'tls' must be a mapping with at least 'certfile' and "
                           "'cacertfile'");
    expect_error("    - a\n", LABEL ":3:5: 'tls' must be a mapping with at least 'certfile' "
                                    "and 'cacertfile'");

    snprintf(body, sizeof body, "    cacertfile: %s\n", ca);
    expect_error(body, LABEL ":2:3: missing required option 'certfile' in node.tls");

    snprintf(body, sizeof body, "    certfile: %s\n", crt);
    expect_error(body, LABEL ":2:3: 'cacertfile' is required in node.tls with verify: "
                             "verify_peer (the CA the nodes' certificates chain to)");

    snprintf(body, sizeof body, "    certfile: %s/missing.crt\n    cacertfile: %s\n", dir, ca);
    char want[512];
    snprintf(want, sizeof want,
             LABEL ":3:15: 'certfile' %s/missing.crt cannot be read: No such file or directory",
             dir);
    expect_error(body, want);

    snprintf(body, sizeof body, "    certfile: %s\n    cacertfile: %s\n    verify: maybe\n", crt,
             ca);
    expect_error(body, LABEL ":5:13: 'verify' must be one of: verify_peer, verify_none");

    snprintf(body, sizeof body,
             "    certfile: %s\n    cacertfile: %s\n    server_name_indication: \"a b\"\n", crt,
             ca);
    expect_error(body, LABEL ":5:29: 'server_name_indication' must be disable or a host name "
                             "such as node.example.com, not 'a b'");

    snprintf(body, sizeof body, "    certfile: %s\n    cacertfile: %s\n    versions: [tlsv1.1]\n",
             crt, ca);
    expect_error(body, LABEL ":5:15: 'versions' entry 'tlsv1.1' is not supported; use tlsv1.2 "
                             "and/or tlsv1.3");

    snprintf(body, sizeof body, "    certfile: %s\n    cacertfile: %s\n    versions: []\n", crt,
             ca);
    expect_error(body, LABEL ":5:15: 'versions' must list at least one of tlsv1.2, tlsv1.3");

    snprintf(body, sizeof body, "    certfile: %s\n    cacertfile: %s\n    cerfile: x\n", crt, ca);
    expect_error(body, LABEL ":5:5: unknown key 'cerfile' in node.tls; did you mean 'certfile'?");
}

static void test_differs(void **state)
{
    (void)state;
    char body[512];
    snprintf(body, sizeof body, "    certfile: %s\n    cacertfile: %s\n", crt, ca);
    config *a = expect_ok(body);
    config *b = expect_ok(body);
    assert_false(tls_config_differs(a->node.tls, b->node.tls));
    assert_false(tls_config_differs(NULL, NULL));
    assert_true(tls_config_differs(a->node.tls, NULL));
    b->node.tls->versions = TLS_VERSION_13;
    assert_true(tls_config_differs(a->node.tls, b->node.tls));
    b->node.tls->versions = a->node.tls->versions;
    free(b->node.tls->cacertfile);
    b->node.tls->cacertfile = strdup(crt);
    assert_true(tls_config_differs(a->node.tls, b->node.tls));
    config_free(a);
    config_free(b);
    tls_config_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_option),
        cmocka_unit_test(test_verify_none_is_warned),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_differs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
