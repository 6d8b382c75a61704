/* Unit tests for tls_transport.c: loading certificates and keys (with the
 * reasons a bad file gets), the passphrase file rules, and the stream itself:
 * a client and a server stream over a non-blocking socketpair, driven step by
 * step as the loop drives them (handshake, host check, data both ways,
 * pending bytes, end of stream). Certificates are made by `openssl` in a
 * temporary directory. */
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tls_transport.h"

static char dir[64];

static const char *path(const char *name)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static int sh(const char *cmd)
{
    char full[2048];
    snprintf(full, sizeof full, "cd %s && (%s) >/dev/null 2>&1", dir, cmd);
    return system(full);
}

static int setup(void **state)
{
    (void)state;
    /* As every clusterd command: a peer gone must cost an error, not the process. */
    signal(SIGPIPE, SIG_IGN);
    snprintf(dir, sizeof dir, "/tmp/test_tls_transport_XXXXXX");
    if (!mkdtemp(dir)) return -1;
    const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1";
    char cmd[1024];
    const char *cas[] = {"ca", "other_ca"};
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd,
                 "openssl req -x509 %s -nodes -keyout %s.key -out %s.crt -subj /CN=%s -days 30", ec,
                 cas[k], cas[k], cas[k]);
        if (sh(cmd) != 0) return -1;
    }
    /* name, CA */
    const char *nodes[][2] = {{"node", "ca"}, {"peer", "ca"}, {"stranger", "other_ca"}};
    if (sh("printf 'subjectAltName=DNS:127.0.0.1,IP:127.0.0.1\\n' > san.ext") != 0) return -1;
    for (int k = 0; k < 3; k++) {
        snprintf(cmd, sizeof cmd,
                 "openssl req %s -nodes -keyout %s.key -out %s.csr -subj /CN=%s && "
                 "openssl x509 -req -in %s.csr -CA %s.crt -CAkey %s.key -CAcreateserial "
                 "-out %s.crt -days 30 -extfile san.ext",
                 ec, nodes[k][0], nodes[k][0], nodes[k][0], nodes[k][0], nodes[k][1], nodes[k][1],
                 nodes[k][0]);
        if (sh(cmd) != 0) return -1;
    }
    /* A certificate from the right CA that expired yesterday. */
    snprintf(cmd, sizeof cmd,
             "openssl req %s -nodes -keyout old.key -out old.csr -subj /CN=old && "
             "openssl x509 -req -in old.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
             "-out old.crt -days -1 -extfile san.ext",
             ec);
    if (sh(cmd) != 0) return -1;
    /* The node's key, encrypted with a passphrase held in a file. */
    if (sh("printf 'sesame\\n' > pass && chmod 600 pass && "
           "openssl pkey -in node.key -aes256 -passout file:pass -out node.enc.key") != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Settings for `name`'s certificate trusting `ca`; the strings live until
 * the fourth call after this one. */
static config_tls cfg_for(const char *name, const char *ca)
{
    static char bufs[4][3][256];
    static int n;
    char(*b)[256] = bufs[n++ % 4];
    snprintf(b[0], sizeof b[0], "%s/%s.crt", dir, name);
    snprintf(b[1], sizeof b[1], "%s/%s.key", dir, name);
    snprintf(b[2], sizeof b[2], "%s/%s.crt", dir, ca);
    config_tls c = {.certfile = b[0],
                    .keyfile = b[1],
                    .cacertfile = b[2],
                    .verify_peer = true,
                    .versions = TLS_VERSION_12 | TLS_VERSION_13};
    return c;
}

static void test_loading(void **state)
{
    (void)state;
    char err[512];
    config_tls c = cfg_for("node", "ca");
    tls_context *t = tls_context_new(&c, err, sizeof err);
    assert_non_null(t);
    assert_non_null(tls_context_layer(t)->open);
    tls_context_free(t);
    tls_context_free(NULL);

    /* A key that belongs to another certificate. */
    c.keyfile = (char *)path("peer.key");
    assert_null(tls_context_new(&c, err, sizeof err));
    assert_non_null(strstr(err, "does not match certfile"));

    /* Not a certificate at all. */
    c = cfg_for("node", "ca");
    c.certfile = (char *)path("san.ext");
    assert_null(tls_context_new(&c, err, sizeof err));
    assert_non_null(strstr(err, "node.tls: cannot load certfile"));
    assert_non_null(strstr(err, "san.ext"));

    /* An encrypted key: without the passphrase it is refused with a hint... */
    c = cfg_for("node", "ca");
    c.keyfile = (char *)path("node.enc.key");
    assert_null(tls_context_new(&c, err, sizeof err));
    assert_non_null(strstr(err, "cannot load keyfile"));
    assert_non_null(strstr(err, "password_file"));
    /* ...with it, it loads; the file must be private. */
    c.password_file = (char *)path("pass");
    t = tls_context_new(&c, err, sizeof err);
    if (!t) fprintf(stderr, "%s\n", err);
    assert_non_null(t);
    tls_context_free(t);
    assert_int_equal(chmod(path("pass"), 0644), 0);
    assert_null(tls_context_new(&c, err, sizeof err));
    assert_non_null(strstr(err, "accessible by its owner only"));
    assert_null(strstr(err, "sesame")); /* never the secret itself */
    assert_int_equal(chmod(path("pass"), 0600), 0);
}

/* node.tls.password_file is read as the cookie file is (secret.c): through
 * a Kubernetes Secret volume's links, never cut short, one line. */
static void test_password_file_rules(void **state)
{
    (void)state;
    char err[512];
    config_tls c = cfg_for("node", "ca");
    c.keyfile = (char *)path("node.enc.key");
    /* secret -> ..data/pass, as a Secret volume mounts it */
    char data[256], link[256];
    snprintf(data, sizeof data, "%s/..data", dir);
    snprintf(link, sizeof link, "%s/pass-link", dir);
    assert_int_equal(mkdir(data, 0700), 0);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cp -p %s %s/pass", path("pass"), data);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s/pass", data);
    assert_int_equal(symlink(cmd, link), 0);
    c.password_file = link;
    tls_context *t = tls_context_new(&c, err, sizeof err);
    if (!t) fprintf(stderr, "%s\n", err);
    assert_non_null(t);
    tls_context_free(t);

    /* The right passphrase followed by 2000 bytes: refused as too long (it
     * used to be cut at 1023 bytes, silently). */
    FILE *f = fopen(path("long-pass"), "w");
    assert_non_null(f);
    fputs("sesame", f);
    for (int k = 0; k < 2000; k++)
        fputc('Q', f);
    fputc('\n', f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path("long-pass"), 0600), 0);
    c.password_file = (char *)path("long-pass");
    assert_null(tls_context_new(&c, err, sizeof err));
    assert_non_null(strstr(err, "longer than 1023 bytes"));
    assert_non_null(strstr(err, "long-pass"));
    assert_null(strstr(err, "sesame"));

    /* Two lines (the first the right passphrase): refused, not cut. */
    f = fopen(path("two-lines"), "w");
    assert_non_null(f);
    fputs("sesame\nsecond\n", f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path("two-lines"), 0600), 0);
    c.password_file = (char *)path("two-lines");
    assert_null(tls_context_new(&c, err, sizeof err));
    assert_non_null(strstr(err, "more than one line"));
    assert_null(strstr(err, "sesame"));

    /* Empty, and missing. */
    f = fopen(path("empty-pass"), "w");
    assert_non_null(f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path("empty-pass"), 0600), 0);
    c.password_file = (char *)path("empty-pass");
    assert_null(tls_context_new(&c, err, sizeof err));
    assert_non_null(strstr(err, "is empty"));
    c.password_file = (char *)path("no-such-pass");
    assert_null(tls_context_new(&c, err, sizeof err));
    assert_non_null(strstr(err, "no-such-pass"));
    assert_non_null(strstr(err, "No such file"));
}

/* A connected pair: client stream on sv[0], server stream on sv[1]. */
typedef struct pair {
    int sv[2];
    transport_stream c, s;
    tls_context *tc, *ts;
} pair;

static void pair_open(pair *p, const config_tls *client, const config_tls *server,
                      const char *expect_host)
{
    char err[256];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p->sv), 0);
    p->tc = tls_context_new(client, err, sizeof err);
    p->ts = tls_context_new(server, err, sizeof err);
    assert_non_null(p->tc);
    assert_non_null(p->ts);
    const transport_layer *lc = tls_context_layer(p->tc), *ls = tls_context_layer(p->ts);
    assert_int_equal(lc->open(lc->arg, p->sv[0], false, expect_host, &p->c, err, sizeof err), 0);
    assert_int_equal(ls->open(ls->arg, p->sv[1], true, "", &p->s, err, sizeof err), 0);
}

static void pair_close(pair *p)
{
    p->c.ops->free(p->c.st);
    p->s.ops->free(p->s.st);
    close(p->sv[0]);
    close(p->sv[1]);
    tls_context_free(p->tc);
    tls_context_free(p->ts);
}

/* Drives both handshakes; returns 0 when both finished, else the failing
 * side's error (client first). */
static int pair_handshake(pair *p, int *client_rc, int *server_rc)
{
    *client_rc = *server_rc = EAGAIN;
    for (int round = 0; round < 200 && (*client_rc == EAGAIN || *server_rc == EAGAIN); round++) {
        short want = 0;
        if (*client_rc == EAGAIN) *client_rc = p->c.ops->handshake(p->c.st, p->sv[0], &want);
        if (*server_rc == EAGAIN) *server_rc = p->s.ops->handshake(p->s.st, p->sv[1], &want);
        struct pollfd pf[2] = {{.fd = p->sv[0], .events = POLLIN},
                               {.fd = p->sv[1], .events = POLLIN}};
        (void)poll(pf, 2, 10);
    }
    return *client_rc ? *client_rc : *server_rc;
}

static void test_handshake_and_data(void **state)
{
    (void)state;
    config_tls client = cfg_for("node", "ca"), server = cfg_for("peer", "ca");
    pair p;
    pair_open(&p, &client, &server, "127.0.0.1");
    int crc, src;
    assert_int_equal(pair_handshake(&p, &crc, &src), 0);

    /* Nothing to read yet: EAGAIN with a direction, not an error. */
    char buf[256];
    short want = 0;
    assert_int_equal(transport_stream_read(&p.s, p.sv[1], buf, sizeof buf, &want), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(want, POLLIN);

    const char msg[] = "\0\0\0\5hello";
    assert_int_equal(transport_stream_write(&p.c, p.sv[0], msg, 9, &want), 9);
    struct pollfd pf = {.fd = p.sv[1], .events = POLLIN};
    assert_int_equal(poll(&pf, 1, 1000), 1);
    /* Read 4 bytes; the rest stays decoded inside the stream: pending. */
    assert_int_equal(transport_stream_read(&p.s, p.sv[1], buf, 4, &want), 4);
    assert_int_equal(transport_stream_pending(&p.s), 5);
    assert_int_equal(transport_stream_read(&p.s, p.sv[1], buf, sizeof buf, &want), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(transport_stream_pending(&p.s), 0);

    /* And back. */
    assert_int_equal(transport_stream_write(&p.s, p.sv[1], "pong", 4, &want), 4);
    pf.fd = p.sv[0];
    assert_int_equal(poll(&pf, 1, 1000), 1);
    assert_int_equal(transport_stream_read(&p.c, p.sv[0], buf, sizeof buf, &want), 4);
    assert_memory_equal(buf, "pong", 4);
    assert_null(transport_stream_error(&p.c));

    /* The peer goes away: end of stream, not an error. */
    p.s.ops->free(p.s.st);
    p.s.ops = NULL;
    close(p.sv[1]);
    ssize_t r = transport_stream_read(&p.c, p.sv[0], buf, sizeof buf, &want);
    for (int k = 0; k < 100 && r < 0 && errno == EAGAIN; k++) {
        usleep(10000);
        r = transport_stream_read(&p.c, p.sv[0], buf, sizeof buf, &want);
    }
    assert_int_equal(r, 0);
    p.c.ops->free(p.c.st);
    close(p.sv[0]);
    tls_context_free(p.tc);
    tls_context_free(p.ts);
}

static void test_host_check(void **state)
{
    (void)state;
    config_tls client = cfg_for("node", "ca"), server = cfg_for("peer", "ca");
    pair p;
    int crc, src;
    pair_open(&p, &client, &server, "other.example.com");
    assert_int_not_equal(pair_handshake(&p, &crc, &src), 0);
    assert_int_not_equal(crc, 0);
    assert_string_equal(transport_stream_error(&p.c),
                        "the peer's certificate is not valid for host other.example.com (no "
                        "matching subjectAltName)");
    pair_close(&p);

    /* server_name_indication: disable turns the check off (as OTP). */
    client.sni_disabled = true;
    pair_open(&p, &client, &server, "other.example.com");
    assert_int_equal(pair_handshake(&p, &crc, &src), 0);
    pair_close(&p);

    /* server_name_indication: NAME replaces the node's host. */
    client.sni_disabled = false;
    client.server_name = "127.0.0.1";
    pair_open(&p, &client, &server, "other.example.com");
    assert_int_equal(pair_handshake(&p, &crc, &src), 0);
    pair_close(&p);
}

static void test_untrusted(void **state)
{
    (void)state;
    /* The server's certificate comes from another CA: the client says so. */
    config_tls client = cfg_for("node", "ca"), server = cfg_for("stranger", "ca");
    pair p;
    int crc, src;
    pair_open(&p, &client, &server, "127.0.0.1");
    assert_int_not_equal(pair_handshake(&p, &crc, &src), 0);
    assert_int_not_equal(crc, 0);
    assert_string_equal(transport_stream_error(&p.c),
                        "the peer's certificate is not trusted: unable to get local issuer "
                        "certificate");
    pair_close(&p);

    /* The server's certificate has expired. */
    client = cfg_for("node", "ca");
    server = cfg_for("old", "ca");
    pair_open(&p, &client, &server, "127.0.0.1");
    assert_int_not_equal(pair_handshake(&p, &crc, &src), 0);
    assert_string_equal(transport_stream_error(&p.c),
                        "the peer's certificate is not trusted: certificate has expired");
    pair_close(&p);

    /* The client's certificate comes from another CA: the server refuses it,
     * and the client hears why (an alert). */
    client = cfg_for("stranger", "ca");
    server = cfg_for("peer", "ca");
    pair_open(&p, &client, &server, "127.0.0.1");
    assert_int_not_equal(pair_handshake(&p, &crc, &src), 0);
    assert_int_not_equal(src, 0);
    assert_string_equal(transport_stream_error(&p.s),
                        "the peer's certificate is not trusted: unable to get local issuer "
                        "certificate");
    /* TLS 1.3: the client finished first; the alert arrives on its next read. */
    char buf[16];
    short want = 0;
    ssize_t r = -1;
    for (int k = 0; k < 100; k++) {
        r = transport_stream_read(&p.c, p.sv[0], buf, sizeof buf, &want);
        if (!(r < 0 && errno == EAGAIN) || crc != 0) break;
        usleep(10000);
    }
    const char *why = transport_stream_error(&p.c);
    assert_non_null(why);
    assert_non_null(strstr(why, "the peer refused the handshake ("));
    pair_close(&p);

    /* verify_none on both sides: no checks at all. */
    client.verify_peer = server.verify_peer = false;
    pair_open(&p, &client, &server, "127.0.0.1");
    assert_int_equal(pair_handshake(&p, &crc, &src), 0);
    pair_close(&p);
}

static void test_versions(void **state)
{
    (void)state;
    config_tls client = cfg_for("node", "ca"), server = cfg_for("peer", "ca");
    client.versions = TLS_VERSION_13;
    server.versions = TLS_VERSION_12;
    pair p;
    int crc, src;
    pair_open(&p, &client, &server, "127.0.0.1");
    assert_int_not_equal(pair_handshake(&p, &crc, &src), 0);
    assert_non_null(transport_stream_error(&p.c));
    pair_close(&p);
    assert_non_null(strstr(tls_library_version(), "OpenSSL"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loading),    cmocka_unit_test(test_handshake_and_data),
        cmocka_unit_test(test_host_check), cmocka_unit_test(test_untrusted),
        cmocka_unit_test(test_versions),   cmocka_unit_test(test_password_file_rules),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
