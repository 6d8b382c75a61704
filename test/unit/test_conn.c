/* Unit tests for conn.c's bounds on one established connection: a peer that
 * stops reading is dropped once CONN_MAX_OUTBUF bytes wait for it (never
 * waited for, never an unbounded queue), and a peer that sends faster than
 * we read gets at most CONN_READS_PER_WAKEUP reads per turn of the loop. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "conn.h"
#include "log.h"

typedef struct {
    int closed;
    char reason[160];
} closed_rec;

static void on_msg(conn *c, const dist_msg *m, void *arg)
{
    (void)c;
    (void)m;
    (void)arg;
}

static void on_closed(conn *c, const char *reason, void *arg)
{
    (void)c;
    closed_rec *r = arg;
    r->closed++;
    snprintf(r->reason, sizeof(r->reason), "%s", reason ? reason : "");
}

static void nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    assert_true(fl >= 0);
    assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

/* Nobody reads the other end: queued bytes stay bounded and the connection
 * is closed with a reason once the cap is reached. */
static void test_send_buffer_cap_drops_a_peer_that_does_not_read(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    nonblocking(sv[0]);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    closed_rec rec = {0};
    conn *c = conn_open(&loop, sv[0], "slow@127.0.0.1", 60, on_msg, on_closed, &rec);
    assert_non_null(c);

    size_t plen = 65536;
    char *pkt = calloc(1, plen);
    assert_non_null(pkt);
    pkt[0] = 0;
    pkt[1] = 0;
    pkt[2] = (char)0xff;
    pkt[3] = (char)0xfc; /* length 65532: one full 64 KiB packet */
    size_t queued = 0;
    int rc = 0;
    for (int i = 0; i < 1024 && rc == 0; i++) {
        rc = conn_send_packet(c, pkt, plen);
        if (rc == 0) queued += plen;
        assert_true(c->out_len <= CONN_MAX_OUTBUF);
    }
    assert_int_equal(rc, -1);
    assert_int_equal(rec.closed, 1);
    assert_non_null(strstr(rec.reason, "not reading"));
    /* At most the cap plus what the kernel took before it refused more. */
    assert_true(queued <= CONN_MAX_OUTBUF + 8u * 1024u * 1024u);
    assert_true(queued >= CONN_MAX_OUTBUF - plen);
    free(pkt);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&loop), 0);
    close(sv[1]);
}

/* A large packet grows the send buffer; once it has all gone out the
 * buffer is freed (a link must not keep the room of its largest packet for
 * good), and so is the small one sent after it: an idle link holds none. */
static void test_send_buffer_freed_once_drained(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    nonblocking(sv[0]);
    nonblocking(sv[1]);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    closed_rec rec = {0};
    conn *c = conn_open(&loop, sv[0], "big@127.0.0.1", 60, on_msg, on_closed, &rec);
    assert_non_null(c);

    char small[8] = {0, 0, 0, 4, 0, 0, 0, 0};
    assert_int_equal(conn_send_packet(c, small, sizeof(small)), 0);
    size_t plen = 300000;
    char *pkt = calloc(1, plen);
    assert_non_null(pkt);
    pkt[1] = (char)((plen - 4) >> 16);
    pkt[2] = (char)((plen - 4) >> 8);
    pkt[3] = (char)(plen - 4);
    assert_int_equal(conn_send_packet(c, pkt, plen), 0);
    size_t got = 0;
    char sink[65536];
    for (int i = 0; i < 10000 && got < plen + sizeof(small); i++) {
        ssize_t r = read(sv[1], sink, sizeof(sink));
        if (r > 0) got += (size_t)r;
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    assert_int_equal(got, plen + sizeof(small));
    assert_int_equal(c->out_len, 0);
    assert_null(c->out);
    assert_int_equal(c->out_cap, 0);
    assert_int_equal(rec.closed, 0);
    /* a small packet afterwards: sent at once, and no buffer is kept either */
    assert_int_equal(conn_send_packet(c, small, sizeof(small)), 0);
    assert_null(c->out);
    assert_int_equal(c->out_cap, 0);
    free(pkt);
    conn_close(c, "test over");
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&loop), 0);
    close(sv[1]);
}

/* The peer has written far more than one wake-up may read: one turn of the
 * loop reads at most CONN_READS_PER_WAKEUP chunks, later turns read the
 * rest (nothing is lost, nothing waits for an edge that never comes). */
static void test_reads_per_wakeup_are_capped(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    int big = 8 * 1024 * 1024;
    if (setsockopt(sv[1], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) != 0) {
        /* Not root: the kernel's default buffer is too small to show the cap. */
        close(sv[0]);
        close(sv[1]);
        skip();
    }
    nonblocking(sv[0]);
    nonblocking(sv[1]);

    /* Packets the decoder rejects (logged and dropped): no replies to read. */
    size_t plen = 65536;
    char *pkt = malloc(plen);
    assert_non_null(pkt);
    memset(pkt, 0x70, plen);
    pkt[0] = 0;
    pkt[1] = 0;
    pkt[2] = (char)0xff;
    pkt[3] = (char)0xfc;
    size_t sent = 0;
    for (int i = 0; i < 32; i++) {
        ssize_t w = write(sv[1], pkt, plen);
        if (w <= 0) break;
        sent += (size_t)w;
    }
    free(pkt);
    size_t per_wakeup = (size_t)CONN_READS_PER_WAKEUP * 65536u;
    assert_true(sent > 2 * per_wakeup);

    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    closed_rec rec = {0};
    conn *c = conn_open(&loop, sv[0], "fast@127.0.0.1", 60, on_msg, on_closed, &rec);
    assert_non_null(c);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_true(c->bytes_in > 0);
    assert_true(c->bytes_in <= per_wakeup);
    for (int turn = 0; turn < 1000 && c->bytes_in < sent; turn++)
        uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(c->bytes_in, sent);
    assert_int_equal(rec.closed, 0);
    conn_close(c, "test over");
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&loop), 0);
    close(sv[1]);
}

int main(void)
{
    log_init(LOG_LEVEL_ERROR, LOG_FORMAT_LOGFMT);
    ei_init(); /* conn_close ends with ei_close_connection */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_buffer_cap_drops_a_peer_that_does_not_read),
        cmocka_unit_test(test_send_buffer_freed_once_drained),
        cmocka_unit_test(test_reads_per_wakeup_are_capped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
