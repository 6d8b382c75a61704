/* resolve.c: bounded host-name look-ups for worker threads (dials, EPMD
 * queries), against /etc/hosts, a real bind9, and a server that never
 * answers. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "resolve.h"
#include "support/bind9_fixture.h"

static bind9_fixture bind9 = {.pid = -1};

static const char *addr_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
    if (ss->ss_family == AF_INET)
        return inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf, len);
    return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, buf, len);
}

static void use_bind9(void)
{
    char *ns[] = {bind9.server};
    assert_int_equal(resolve_set_servers(ns, 1), 0);
}

static void test_literals_need_no_lookup(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    socklen_t len = 0;
    char buf[64];
    assert_int_equal(resolve_host("10.1.2.3", 0, &ss, &len, NULL, 0), RESOLVE_OK);
    assert_string_equal(addr_text(&ss, buf, sizeof buf), "10.1.2.3");
    assert_int_equal(len, sizeof(struct sockaddr_in));
    assert_int_equal(resolve_host("fd00::7", 0, &ss, &len, NULL, 0), RESOLVE_OK);
    assert_string_equal(addr_text(&ss, buf, sizeof buf), "fd00::7");
    char err[128];
    assert_int_equal(resolve_host("", 1000, &ss, &len, err, sizeof err), RESOLVE_ERROR);
    assert_int_equal(resolve_host(NULL, 1000, &ss, &len, err, sizeof err), RESOLVE_ERROR);
    /* A name with no time left is not looked up at all. */
    assert_int_equal(resolve_host("example.invalid", 0, &ss, &len, err, sizeof err),
                     RESOLVE_TIMEOUT);
}

static void test_hosts_file_first(void **state)
{
    (void)state;
    assert_int_equal(resolve_set_servers(NULL, 0), 0);
    struct sockaddr_storage ss;
    socklen_t len = 0;
    char err[256], buf[64];
    assert_int_equal(resolve_host("localhost", 5000, &ss, &len, err, sizeof err), RESOLVE_OK);
    const char *a = addr_text(&ss, buf, sizeof buf);
    assert_true(strcmp(a, "127.0.0.1") == 0 || strcmp(a, "::1") == 0);
}

static void test_names_through_dns(void **state)
{
    (void)state;
    use_bind9();
    struct sockaddr_storage ss;
    socklen_t len = 0;
    char err[256], buf[64];
    /* A and AAAA: IPv4 preferred. */
    assert_int_equal(resolve_host("both.cluster.local.", 5000, &ss, &len, err, sizeof err),
                     RESOLVE_OK);
    assert_string_equal(addr_text(&ss, buf, sizeof buf), "10.9.0.1");
    /* AAAA only. */
    assert_int_equal(resolve_host("six.cluster.local.", 5000, &ss, &len, err, sizeof err),
                     RESOLVE_OK);
    assert_string_equal(addr_text(&ss, buf, sizeof buf), "fd00:9::1");
    assert_int_equal(len, sizeof(struct sockaddr_in6));
    /* Through a CNAME. */
    assert_int_equal(resolve_host("alias.cluster.local.", 5000, &ss, &len, err, sizeof err),
                     RESOLVE_OK);
    assert_string_equal(addr_text(&ss, buf, sizeof buf), "10.9.0.1");
    /* No such name. */
    assert_int_equal(resolve_host("nope.cluster.local.", 5000, &ss, &len, err, sizeof err),
                     RESOLVE_NOT_FOUND);
    assert_non_null(strstr(err, "nope.cluster.local"));
    assert_int_equal(resolve_set_servers(NULL, 0), 0);
}

/* A DNS server that never answers: the look-up ends at our deadline with a
 * timeout, not at whatever libc's or c-ares' own retries would take. */
static void test_silent_server_times_out(void **state)
{
    (void)state;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(s >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
    char server[64];
    snprintf(server, sizeof server, "127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
    char *ns[] = {server};
    assert_int_equal(resolve_set_servers(ns, 1), 0);

    struct sockaddr_storage ss;
    socklen_t len = 0;
    char err[256];
    assert_int_equal(resolve_host("quiet.example.", 300, &ss, &len, err, sizeof err),
                     RESOLVE_TIMEOUT);
    assert_non_null(strstr(err, "quiet.example"));
    close(s);
    assert_int_equal(resolve_set_servers(NULL, 0), 0);
}

static void test_server_list_forms(void **state)
{
    (void)state;
    char *ok[] = {"127.0.0.1", "127.0.0.1:5353", "[::1]", "[::1]:53", "::1"};
    assert_int_equal(resolve_set_servers(ok, 5), 0);
    char longname[1100];
    memset(longname, '1', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    char *toolong[] = {longname};
    assert_int_equal(resolve_set_servers(toolong, 1), -1);
    assert_int_equal(resolve_set_servers(NULL, 0), 0);
}

static int group_setup(void **state)
{
    (void)state;
    const char *records = "both 30 IN A 10.9.0.1\n"
                          "both 30 IN AAAA fd00:9::2\n"
                          "six 30 IN AAAA fd00:9::1\n"
                          "alias 30 IN CNAME both\n";
    if (bind9_start(&bind9, "cluster.local", records) != 0) {
        fprintf(stderr, "cannot start named (bind9)\n");
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    bind9_stop(&bind9);
    return 0;
}

static void on_alarm(int sig)
{
    (void)sig;
    bind9_kill(&bind9);
    _exit(3);
}

int main(void)
{
    signal(SIGALRM, on_alarm);
    alarm(120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals_need_no_lookup),
        cmocka_unit_test(test_hosts_file_first),
        cmocka_unit_test(test_names_through_dns),
        cmocka_unit_test(test_silent_server_times_out),
        cmocka_unit_test(test_server_list_forms),
    };
    return cmocka_run_group_tests_name("resolve", tests, group_setup, group_teardown);
}
