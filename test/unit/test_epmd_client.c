/* Unit tests for epmd_client against a real epmd and a real BEAM node, both
 * started on a private port on loopback by support/epmd_fixture.c (pids
 * recorded, stopped at the end), plus scripted peers for malformed and
 * hostile answers (which a real epmd never sends), a silent listener for the
 * deadline, and a closed port for "no EPMD". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "epmd_client.h"
#include "support/epmd_fixture.h"

static epmd_fixture fx;

/* ---- helpers: ports ---- */

/* A port on which nothing listens (bound, then closed). */
static int closed_port(void)
{
    int port = 0;
    int fd = listen_on("127.0.0.1", 0, &port);
    close(fd);
    return port;
}

static void use_port(int port)
{
    char text[8];
    snprintf(text, sizeof text, "%d", port);
    setenv("ERL_EPMD_PORT", text, 1);
}

/* ---- a scripted EPMD peer: one connection, one canned answer ----
 *
 * Real answers are tested against the real epmd above. The parsing tests
 * below are about what a real epmd never sends: truncated, oversized or
 * malformed answers, wrong tags, forged "at port" text, an early close. The
 * client must reject those from a broken or hostile peer, and the only way to
 * put such bytes on the wire is a peer that sends exactly the bytes the test
 * scripts, whatever the request was (the few well-formed answers among them
 * are the baselines the malformed variants are cut from). */

typedef struct scripted_epmd {
    int lfd;
    int port;
    const unsigned char *reply;
    size_t len;
    pthread_t thread;
} scripted_epmd;

static void *scripted_serve(void *arg)
{
    scripted_epmd *f = arg;
    int c = accept(f->lfd, NULL, NULL);
    if (c < 0) return NULL;
    unsigned char req[512];
    ssize_t got = recv(c, req, sizeof req, 0);
    (void)got;
    size_t off = 0;
    while (off < f->len) {
        ssize_t w = send(c, f->reply + off, f->len - off, MSG_NOSIGNAL);
        if (w <= 0) break;
        off += (size_t)w;
    }
    close(c);
    return NULL;
}

static void scripted_start(scripted_epmd *f, const void *reply, size_t len)
{
    f->lfd = listen_on("127.0.0.1", 0, &f->port);
    assert_true(f->lfd >= 0);
    f->reply = reply;
    f->len = len;
    assert_int_equal(pthread_create(&f->thread, NULL, scripted_serve, f), 0);
    use_port(f->port);
}

static void scripted_stop(scripted_epmd *f)
{
    pthread_join(f->thread, NULL);
    close(f->lfd);
    setenv("ERL_EPMD_PORT", fx.port_text, 1);
}

/* NAMES against a scripted peer answering "port(4) + text". */
static epmd_status scripted_names(const char *text, epmd_name *out, size_t max, size_t *count)
{
    size_t tlen = strlen(text);
    unsigned char *reply = malloc(4 + tlen);
    memcpy(reply, "\0\0\x11\x11", 4);
    memcpy(reply + 4, text, tlen);
    scripted_epmd f;
    scripted_start(&f, reply, 4 + tlen);
    epmd_status st = epmd_names("127.0.0.1", 2000, out, max, count);
    scripted_stop(&f);
    free(reply);
    return st;
}

/* ---- group set-up: a real epmd and a real node ---- */

static int group_setup(void **state)
{
    (void)state;
    return epmd_fixture_start(&fx, "127.0.0.1,::1");
}

static int group_teardown(void **state)
{
    (void)state;
    epmd_fixture_stop(&fx);
    return 0;
}

/* ---- tests ---- */

static void test_port_please_found(void **state)
{
    (void)state;
    epmd_node_info info = {0};
    assert_int_equal(epmd_port_please("127.0.0.1", "t1", 2000, &info), EPMD_OK);
    assert_true(info.port > 0 && info.port < 65536);
    assert_int_equal(info.node_type, 77); /* 'M': a normal node */
    assert_true(info.lowest_version >= 5 && info.highest_version >= info.lowest_version);
}

static void test_port_please_not_found(void **state)
{
    (void)state;
    epmd_node_info info;
    assert_int_equal(epmd_port_please("127.0.0.1", "nosuch", 2000, &info), EPMD_ERR_NOT_FOUND);
    assert_int_equal(epmd_port_please("127.0.0.1", "", 2000, &info), EPMD_ERR_NOT_FOUND);
}

static void test_names_real(void **state)
{
    (void)state;
    epmd_node_info info = {0};
    assert_int_equal(epmd_port_please("127.0.0.1", "t1", 2000, &info), EPMD_OK);
    epmd_name names[16];
    size_t n = 0;
    assert_int_equal(epmd_names("127.0.0.1", 2000, names, 16, &n), EPMD_OK);
    assert_int_equal(n, 1);
    assert_string_equal(names[0].name, "t1");
    assert_int_equal(names[0].port, info.port);
    /* The same over IPv6 loopback and through getaddrinfo. */
    n = 0;
    assert_int_equal(epmd_names("::1", 2000, names, 16, &n), EPMD_OK);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(epmd_names("localhost", 2000, names, 16, &n), EPMD_OK);
    assert_int_equal(n, 1);
    /* max caps the copy. */
    n = 99;
    assert_int_equal(epmd_names("127.0.0.1", 2000, names, 0, &n), EPMD_OK);
    assert_int_equal(n, 0);
}

static void test_no_epmd(void **state)
{
    (void)state;
    use_port(closed_port());
    long long t0 = ms_now();
    epmd_name names[4];
    size_t n = 0;
    assert_int_equal(epmd_names("127.0.0.1", 2000, names, 4, &n), EPMD_ERR_CONNECT);
    epmd_node_info info;
    assert_int_equal(epmd_port_please("127.0.0.1", "t1", 2000, &info), EPMD_ERR_CONNECT);
    assert_true(ms_now() - t0 < 1000);
    setenv("ERL_EPMD_PORT", fx.port_text, 1);
}

static void test_silent_listener_deadline(void **state)
{
    (void)state;
    int port = 0;
    int lfd = listen_on("127.0.0.1", 0, &port); /* accepts in the kernel, never answers */
    assert_true(lfd >= 0);
    use_port(port);
    const int deadline = 500;
    epmd_name names[4];
    size_t n = 0;
    long long t0 = ms_now();
    assert_int_equal(epmd_names("127.0.0.1", deadline, names, 4, &n), EPMD_ERR_TIMEOUT);
    long long took = ms_now() - t0;
    assert_true(took >= deadline - 50 && took < 3 * deadline);
    epmd_node_info info;
    t0 = ms_now();
    assert_int_equal(epmd_port_please("127.0.0.1", "t1", deadline, &info), EPMD_ERR_TIMEOUT);
    took = ms_now() - t0;
    assert_true(took >= deadline - 50 && took < 3 * deadline);
    assert_int_equal(epmd_names("127.0.0.1", 0, names, 4, &n), EPMD_ERR_TIMEOUT);
    close(lfd);
    setenv("ERL_EPMD_PORT", fx.port_text, 1);
}

static void test_names_parsing(void **state)
{
    (void)state;
    epmd_name names[8];
    size_t n = 0;
    assert_int_equal(scripted_names("", names, 8, &n), EPMD_OK);
    assert_int_equal(n, 0);
    assert_int_equal(scripted_names("name a at port 1\nname b_2 at port 65535\n", names, 8, &n),
                     EPMD_OK);
    assert_int_equal(n, 2);
    assert_string_equal(names[1].name, "b_2");
    assert_int_equal(names[1].port, 65535);
    /* The last " at port " splits, so a hostile name cannot forge a port. */
    assert_int_equal(scripted_names("name a at port 9 at port 12\n", names, 8, &n), EPMD_OK);
    assert_string_equal(names[0].name, "a at port 9");
    assert_int_equal(names[0].port, 12);
    static const char *const bad[] = {
        "name a at port 1",        /* no final newline */
        "nam a at port 1\n",       /* wrong keyword */
        "name  at port 1\n",       /* empty name */
        "name a at port\n",        /* no port */
        "name a at port x1\n",     /* not a number */
        "name a at port -1\n",     /* sign */
        "name a at port 0\n",      /* out of range */
        "name a at port 65536\n",  /* out of range */
        "name a at port 1 \n",     /* trailing junk */
        "name a at port 000001\n", /* too many digits */
        "name a at port 1\n\n",    /* empty line */
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        epmd_status st = scripted_names(bad[k], names, 8, &n);
        if (st != EPMD_ERR_PROTOCOL) fail_msg("accepted %s", bad[k]);
    }
    /* Shorter than the 4-byte port. */
    scripted_epmd f;
    scripted_start(&f, "\0\0", 2);
    assert_int_equal(epmd_names("127.0.0.1", 2000, names, 8, &n), EPMD_ERR_PROTOCOL);
    scripted_stop(&f);
}

static void test_names_size_cap(void **state)
{
    (void)state;
    size_t big = EPMD_NAMES_ANSWER_MAX + 100;
    unsigned char *reply = malloc(big);
    memset(reply, 0, 4);
    size_t off = 4;
    while (off + 17 <= big) {
        memcpy(reply + off, "name a at port 1\n", 17);
        off += 17;
    }
    scripted_epmd f;
    scripted_start(&f, reply, off);
    epmd_name names[4];
    size_t n = 0;
    assert_int_equal(epmd_names("127.0.0.1", 2000, names, 4, &n), EPMD_ERR_PROTOCOL);
    scripted_stop(&f);
    free(reply);
}

static void test_port_please_parsing(void **state)
{
    (void)state;
    epmd_node_info info;
    scripted_epmd f;
    /* A full answer: port 4242, 'H', tcp, 6, 5, name "zz", no extra. */
    static const unsigned char good[] = {119, 0, 0x10, 0x92, 72,  0,   0, 6,
                                         0,   5, 0,    2,    'z', 'z', 0, 0};
    scripted_start(&f, good, sizeof good);
    assert_int_equal(epmd_port_please("127.0.0.1", "zz", 2000, &info), EPMD_OK);
    scripted_stop(&f);
    assert_int_equal(info.port, 4242);
    assert_int_equal(info.node_type, 72);
    assert_int_equal(info.highest_version, 6);
    assert_int_equal(info.lowest_version, 5);
    static const unsigned char truncated[] = {119, 0, 0x10, 0x92, 72, 0, 0, 6, 0, 5, 0, 9, 'z'};
    scripted_start(&f, truncated, sizeof truncated);
    assert_int_equal(epmd_port_please("127.0.0.1", "zz", 2000, &info), EPMD_ERR_PROTOCOL);
    scripted_stop(&f);
    static const unsigned char trailing[] = {119, 0, 0x10, 0x92, 72,  0, 0, 6,
                                             0,   5, 0,    1,    'z', 0, 0, 'X'};
    scripted_start(&f, trailing, sizeof trailing);
    assert_int_equal(epmd_port_please("127.0.0.1", "zz", 2000, &info), EPMD_ERR_PROTOCOL);
    scripted_stop(&f);
    static const unsigned char wrong_tag[] = {120, 0};
    scripted_start(&f, wrong_tag, sizeof wrong_tag);
    assert_int_equal(epmd_port_please("127.0.0.1", "zz", 2000, &info), EPMD_ERR_PROTOCOL);
    scripted_stop(&f);
    static const unsigned char not_found[] = {119, 1};
    scripted_start(&f, not_found, sizeof not_found);
    assert_int_equal(epmd_port_please("127.0.0.1", "zz", 2000, &info), EPMD_ERR_NOT_FOUND);
    scripted_stop(&f);
    scripted_start(&f, "", 0); /* closes without a word */
    assert_int_equal(epmd_port_please("127.0.0.1", "zz", 2000, &info), EPMD_ERR_PROTOCOL);
    scripted_stop(&f);
}

static void test_epmd_port_env(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "abc", "0", "65536", "12x", " 4399", "-1", "+5", "99999999999999999999"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        setenv("ERL_EPMD_PORT", bad[k], 1);
        assert_int_equal(epmd_port(), 4369);
    }
    setenv("ERL_EPMD_PORT", "4399", 1);
    assert_int_equal(epmd_port(), 4399);
    unsetenv("ERL_EPMD_PORT");
    assert_int_equal(epmd_port(), 4369);
    setenv("ERL_EPMD_PORT", fx.port_text, 1);
}

static void test_resolve(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    socklen_t len = 0;
    assert_int_equal(epmd_resolve_host("10.1.2.3", 2000, &ss, &len), EPMD_OK);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(len, sizeof(struct sockaddr_in));
    assert_int_equal(epmd_resolve_host("fd00::1", 2000, &ss, &len), EPMD_OK);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(epmd_resolve_host("localhost", 2000, &ss, &len), EPMD_OK);
    assert_int_equal(ss.ss_family, AF_INET); /* IPv4 preferred */
    assert_int_equal(epmd_resolve_host("", 2000, &ss, &len), EPMD_ERR_RESOLVE);
    assert_int_equal(epmd_resolve_host(NULL, 2000, &ss, &len), EPMD_ERR_RESOLVE);
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(epmd_resolve_host(longname, 2000, &ss, &len), EPMD_ERR_RESOLVE);
}

/* Several hosts at once: each has its own deadline, so a silent host and a
 * refusing host do not add up. */
static void test_names_many(void **state)
{
    (void)state;
    int port = fx.port;
    int silent = listen_on("127.0.0.2", port, NULL);
    assert_true(silent >= 0);
    int silent2 = listen_on("127.0.0.4", port, NULL);
    assert_true(silent2 >= 0);
    epmd_names_query q[] = {
        {.host = "127.0.0.1"}, {.host = "127.0.0.2"}, {.host = "127.0.0.3"},
        {.host = "::1"},       {.host = "127.0.0.4"},
    };
    long long t0 = ms_now();
    epmd_names_many(q, 5, 1000);
    long long took = ms_now() - t0;
    assert_int_equal(q[0].status, EPMD_OK);
    assert_int_equal(q[0].count, 1);
    assert_string_equal(q[0].names[0].name, "t1");
    assert_int_equal(q[1].status, EPMD_ERR_TIMEOUT);
    assert_int_equal(q[2].status, EPMD_ERR_CONNECT);
    assert_int_equal(q[3].status, EPMD_OK);
    assert_int_equal(q[4].status, EPMD_ERR_TIMEOUT);
    assert_true(took < 2000); /* two silent hosts, one deadline */
    for (size_t k = 0; k < 5; k++)
        free(q[k].names);
    close(silent);
    close(silent2);

    /* More hosts than one batch of connections. */
    enum { N = 150 };
    epmd_names_query *many = calloc(N, sizeof *many);
    for (size_t k = 0; k < N; k++)
        many[k].host = "127.0.0.1";
    epmd_names_many(many, N, 2000);
    for (size_t k = 0; k < N; k++) {
        assert_int_equal(many[k].status, EPMD_OK);
        assert_int_equal(many[k].count, 1);
        free(many[k].names);
    }
    free(many);
}

static void test_status_text(void **state)
{
    (void)state;
    for (int st = EPMD_OK; st <= EPMD_ERR_IO; st++)
        assert_true(strlen(epmd_status_text((epmd_status)st)) > 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_port_please_found),
        cmocka_unit_test(test_port_please_not_found),
        cmocka_unit_test(test_names_real),
        cmocka_unit_test(test_no_epmd),
        cmocka_unit_test(test_silent_listener_deadline),
        cmocka_unit_test(test_names_parsing),
        cmocka_unit_test(test_names_size_cap),
        cmocka_unit_test(test_port_please_parsing),
        cmocka_unit_test(test_epmd_port_env),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_names_many),
        cmocka_unit_test(test_status_text),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
