/* Unit tests for transport.c's handshake deadline and for hostid.c: a
 * handshake step that starts after the dial's deadline is a timeout (not a
 * peer that closed after our reply, i.e. a cookie rejection), and the
 * program's gethostid(), which erl_interface calls in every handshake, is
 * hostid.c's rather than libc's (which may wait on DNS). And a connection
 * that ei made, once detached: above the base fd number, unknown to ei,
 * still carrying bytes both ways. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hostid.h"
#include "transport.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* A listening socket on 127.0.0.1; its address in *addr. */
static int listener(struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)addr, sizeof *addr), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t l = sizeof *addr;
    assert_int_equal(getsockname(fd, (struct sockaddr *)addr, &l), 0);
    return fd;
}

/* A client context connected through the callbacks, with a deadline
 * deadline_in ms from now; the server side's fd in *peer. */
static void *connected(ei_socket_callbacks *cb, int lfd, struct sockaddr_in *addr,
                       unsigned deadline_in, int *peer)
{
    transport_thread_prepare(transport_now_ms() + deadline_in, NULL, 0, -1);
    void *ctx = NULL;
    assert_int_equal(cb->socket(&ctx, NULL), 0);
    assert_int_equal(cb->connect(ctx, addr, (int)sizeof *addr, EI_SCLBK_INF_TMO), 0);
    *peer = accept(lfd, NULL, NULL);
    assert_true(*peer >= 0);
    return ctx;
}

/* The peer reads our two packets, then closes (an EOF, not a reset). */
static void drain_and_close(int peer)
{
    char buf[16];
    size_t got = 0;
    while (got < 10) {
        ssize_t n = read(peer, buf, sizeof buf);
        assert_true(n > 0);
        got += (size_t)n;
    }
    close(peer);
}

static void test_write_after_deadline_is_timeout(void **state)
{
    (void)state;
    ei_socket_callbacks *cb = transport_tcp_callbacks();
    struct sockaddr_in addr;
    int lfd = listener(&addr);
    int peer;
    void *ctx = connected(cb, lfd, &addr, 300, &peer);

    ssize_t len = 5;
    assert_int_equal(cb->write(ctx, "\0\3abc", &len, EI_SCLBK_INF_TMO), 0);
    sleep_ms(400);
    len = 5;
    assert_int_equal(cb->write(ctx, "\0\3def", &len, EI_SCLBK_INF_TMO), ETIMEDOUT);

    transport_failure f;
    transport_thread_failure(&f);
    assert_int_equal(f.timed_out, 1);
    assert_int_equal(f.closed_after_reply, 0);
    char buf[16];
    assert_int_equal(read(peer, buf, sizeof buf), 5); /* the late packet never went out */
    cb->close(ctx);
    close(peer);
    close(lfd);
}

/* Our name and our challenge reply went out in time, the peer closed (its
 * own setup timer), and we read that only after our deadline: a timeout,
 * not "the cookie does not match". */
static void test_eof_read_after_deadline_is_timeout(void **state)
{
    (void)state;
    ei_socket_callbacks *cb = transport_tcp_callbacks();
    struct sockaddr_in addr;
    int lfd = listener(&addr);
    int peer;
    void *ctx = connected(cb, lfd, &addr, 300, &peer);
    ssize_t len = 5;
    assert_int_equal(cb->write(ctx, "\0\3abc", &len, EI_SCLBK_INF_TMO), 0);
    len = 5;
    assert_int_equal(cb->write(ctx, "\0\3def", &len, EI_SCLBK_INF_TMO), 0);
    drain_and_close(peer);
    sleep_ms(400);

    char buf[16];
    len = sizeof buf;
    assert_int_equal(cb->read(ctx, buf, &len, EI_SCLBK_INF_TMO), ETIMEDOUT);
    transport_failure f;
    transport_thread_failure(&f);
    assert_int_equal(f.timed_out, 1);
    assert_int_equal(f.closed_after_reply, 0);
    cb->close(ctx);
    close(lfd);
}

/* Before the deadline, the same EOF still reads as a rejected reply. */
static void test_eof_after_reply_in_time_is_rejection(void **state)
{
    (void)state;
    ei_socket_callbacks *cb = transport_tcp_callbacks();
    struct sockaddr_in addr;
    int lfd = listener(&addr);
    int peer;
    void *ctx = connected(cb, lfd, &addr, 5000, &peer);
    ssize_t len = 5;
    assert_int_equal(cb->write(ctx, "\0\3abc", &len, EI_SCLBK_INF_TMO), 0);
    len = 5;
    assert_int_equal(cb->write(ctx, "\0\3def", &len, EI_SCLBK_INF_TMO), 0);
    drain_and_close(peer);

    char buf[16];
    len = sizeof buf;
    assert_int_equal(cb->read(ctx, buf, &len, EI_SCLBK_INF_TMO), 0);
    assert_int_equal(len, 0);
    transport_failure f;
    transport_thread_failure(&f);
    assert_int_equal(f.closed_after_reply, 1);
    assert_int_equal(f.timed_out, 0);
    cb->close(ctx);
    close(lfd);
}

/* The gethostid() this program (and so libei.a) calls is hostid.c's, not
 * libc's, and it is one value for the process. */
static void test_gethostid_is_ours(void **state)
{
    (void)state;
    hostid_prime();
    void *libc = dlsym(RTLD_NEXT, "gethostid");
    assert_non_null(libc);
    assert_true((void *)gethostid != libc);
    long a = gethostid();
    assert_int_equal(a, gethostid());
    assert_true(a >= INT32_MIN && a <= INT32_MAX);
}

typedef struct side {
    ei_cnode ec;
    int lfd;
    int fd;  /* what ei returned */
    int nfd; /* after transport_detach */
    char err[160];
} side;

static void side_init(side *s, const char *alive)
{
    char node[64];
    snprintf(node, sizeof node, "%s@127.0.0.1", alive);
    struct in_addr lo = {.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(ei_connect_xinit_ussi(&s->ec, "127.0.0.1", alive, node, &lo, "detach-test", 1,
                                           transport_tcp_callbacks(), sizeof(ei_socket_callbacks),
                                           NULL),
                     0);
    s->lfd = s->fd = s->nfd = -1;
}

static void *accept_side(void *arg)
{
    side *s = arg;
    transport_thread_prepare(transport_now_ms() + 5000, NULL, 0, -1);
    ErlConnect con;
    s->fd = ei_accept_tmo(&s->ec, s->lfd, &con, 5000);
    if (s->fd >= 0) s->nfd = transport_detach(s->fd, s->err, sizeof s->err);
    return NULL;
}

static void test_detach_takes_the_connection_from_ei(void **state)
{
    (void)state;
    assert_int_equal(ei_init(), 0);
    side srv, cli;
    side_init(&srv, "detachsrv");
    side_init(&cli, "detachcli");
    struct in_addr lo = {.s_addr = htonl(INADDR_LOOPBACK)};
    int port = 0;
    srv.lfd = ei_xlisten(&srv.ec, &lo, &port, 4);
    assert_true(srv.lfd >= 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, accept_side, &srv), 0);
    transport_thread_prepare(transport_now_ms() + 5000, NULL, 0, -1);
    cli.fd = ei_xconnect_host_port_tmo(&cli.ec, &lo, port, 5000);
    assert_true(cli.fd >= 0);
    cli.nfd = transport_detach(cli.fd, cli.err, sizeof cli.err);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_true(srv.fd >= 0);

    /* Both ends moved up (the handshakes ran on low numbers) ... */
    assert_true(cli.fd < TRANSPORT_ESTABLISHED_FD_BASE);
    assert_true(cli.nfd >= TRANSPORT_ESTABLISHED_FD_BASE);
    assert_true(srv.nfd >= TRANSPORT_ESTABLISHED_FD_BASE);
    /* ... ei knows neither (no record kept for them) ... */
    assert_int_equal(ei_close_connection(cli.nfd), ERL_ERROR);
    assert_int_equal(ei_close_connection(srv.nfd), ERL_ERROR);
    /* ... and the handshake numbers are closed, free for the next one. */
    assert_int_equal(fcntl(cli.fd, F_GETFD), -1);
    assert_int_equal(fcntl(srv.fd, F_GETFD), -1);

    /* The connection still works both ways, through its stream. */
    transport_stream cs = transport_stream_of(cli.nfd), ss = transport_stream_of(srv.nfd);
    short want;
    assert_int_equal(transport_stream_write(&cs, cli.nfd, "\0\0\0\0", 4, &want), 4);
    char buf[8];
    ssize_t n;
    while ((n = transport_stream_read(&ss, srv.nfd, buf, sizeof buf, &want)) < 0 && errno == EAGAIN)
        sleep_ms(5);
    assert_int_equal(n, 4);
    assert_int_equal(transport_stream_write(&ss, srv.nfd, "ok", 2, &want), 2);
    while ((n = transport_stream_read(&cs, cli.nfd, buf, sizeof buf, &want)) < 0 && errno == EAGAIN)
        sleep_ms(5);
    assert_int_equal(n, 2);
    assert_memory_equal(buf, "ok", 2);

    /* transport_close ends it: the other side reads the end of the stream. */
    transport_close(cli.nfd);
    while ((n = transport_stream_read(&ss, srv.nfd, buf, sizeof buf, &want)) < 0 && errno == EAGAIN)
        sleep_ms(5);
    assert_int_equal(n, 0);
    transport_close(srv.nfd);
    ei_close_connection(srv.lfd);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_after_deadline_is_timeout),
        cmocka_unit_test(test_eof_read_after_deadline_is_timeout),
        cmocka_unit_test(test_eof_after_reply_in_time_is_rejection),
        cmocka_unit_test(test_gethostid_is_ours),
        cmocka_unit_test(test_detach_takes_the_connection_from_ei),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
