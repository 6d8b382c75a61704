/* conn: non-blocking distribution I/O on the event loop. See conn.h. */
#include "conn.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "transport.h"

#define CONN_READ_CHUNK 65536

static void conn_update_poll(conn *c);

static int buf_reserve(char **buf, size_t *cap, size_t need, size_t limit)
{
    if (need <= *cap) return 0;
    if (need > limit) return -1;
    size_t ncap = *cap ? *cap : 4096;
    while (ncap < need)
        ncap *= 2;
    if (ncap > limit) ncap = limit;
    char *nb = realloc(*buf, ncap);
    if (!nb) return -1;
    *buf = nb;
    *cap = ncap;
    return 0;
}

static void conn_free_cb(uv_handle_t *h)
{
    conn *c = h->data;
    free(c->in);
    free(c->out);
    free(c);
}

void conn_close(conn *c, const char *reason)
{
    if (!c || c->closing) return;
    c->closing = true;
    if (c->on_closed) c->on_closed(c, reason, c->arg);
    if (c->poll_started) uv_poll_stop(&c->poll);
    /* The poll handle must be closed before the fd (libuv's rule). */
    int fd = c->fd;
    c->fd = -1;
    uv_close((uv_handle_t *)&c->poll, conn_free_cb);
    if (fd >= 0) transport_close(fd);
}

/* A reason for a failed read or write: the stream's own words if it has
 * them (TLS), else errno's. */
static void io_reason(const conn *c, const char *what, char *out, size_t outlen)
{
    const char *why = transport_stream_error(&c->stream);
    snprintf(out, outlen, "%s failed: %s", what, why ? why : strerror(errno));
}

/* Writes as much of the output buffer as the socket takes now. */
static int conn_flush(conn *c)
{
    c->write_wants_read = false;
    while (c->out_off < c->out_len) {
        short want = 0;
        ssize_t w = transport_stream_write(&c->stream, c->fd, c->out + c->out_off,
                                           c->out_len - c->out_off, &want);
        if (w > 0) {
            c->out_off += (size_t)w;
            c->bytes_out += (uint64_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->write_wants_read = want == POLLIN;
            break;
        }
        return -1;
    }
    if (c->out_off == c->out_len) {
        c->out_off = c->out_len = 0;
        /* Give the buffer back once everything is sent: an idle link then
         * holds no send buffer at all. Kept, 4-16 KiB per link were most of
         * clusterd's heap at thousands of members (a large connect action
         * grew it to 256 KiB); a malloc per burst of sends costs nothing. */
        free(c->out);
        c->out = NULL;
        c->out_cap = 0;
    } else if (c->out_off > c->out_cap / 2) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    return 0;
}

int conn_send_packet(conn *c, const char *pkt, size_t len)
{
    if (c->closing) return -1;
    if (buf_reserve(&c->out, &c->out_cap, c->out_len + len, CONN_MAX_OUTBUF) < 0) {
        conn_close(c, "peer is not reading (send buffer full)");
        return -1;
    }
    memcpy(c->out + c->out_len, pkt, len);
    c->out_len += len;
    c->last_tx_ms = transport_now_ms();
    if (conn_flush(c) < 0) {
        char reason[256];
        io_reason(c, "write", reason, sizeof(reason));
        conn_close(c, reason);
        return -1;
    }
    conn_update_poll(c);
    return 0;
}

static void conn_handle_packet(conn *c, const char *pkt, size_t len)
{
    if (len == 0) return; /* a tick: last_rx_ms already moved */
    dist_msg m;
    char err[160];
    if (dist_decode(pkt, len, &m, err, sizeof(err)) < 0) {
        log_event(LOG_LEVEL_WARN, "dropped a malformed message", "node", c->peer, "reason", err,
                  LOG_END);
        return;
    }
    if (m.type == DIST_UNLINK_ID) {
        ei_x_buff x;
        if (ei_x_new(&x) == 0) {
            if (dist_encode_unlink_id_ack(&x, pkt, len) == 0)
                (void)conn_send_packet(c, x.buff, (size_t)x.index);
            ei_x_free(&x);
        }
        return;
    }
    if (c->on_msg) c->on_msg(c, &m, c->arg);
}

/* Delivers the complete packets in data[0..len) and returns how many bytes
 * they took, or -1 when the connection closed meanwhile. */
static ssize_t conn_deliver(conn *c, const char *data, size_t len)
{
    size_t off = 0;
    for (;;) {
        const char *pkt;
        size_t plen, used;
        int fr = dist_frame(data + off, len - off, &pkt, &plen, &used);
        if (fr < 0) {
            conn_close(c, "packet larger than the 16 MiB limit");
            return -1;
        }
        if (fr == 0) break;
        if (plen == 0) {
            /* Answer the peer's tick, as a distribution node must. */
            static const char tock[4] = {0, 0, 0, 0};
            if (conn_send_packet(c, tock, 4) < 0) return -1;
        } else {
            conn_handle_packet(c, pkt, plen);
        }
        off += used;
        if (c->closing) return -1;
    }
    return (ssize_t)off;
}

/* Reads go to one scratch buffer per thread (conns live on their loop's
 * thread); a connection keeps only the part of a packet that has not fully
 * arrived, and nothing between packets. A buffer of its own for every link
 * was 64-128 KiB each: most of the memory at 1,000 members. The buffer is
 * allocated on a thread's first read: as a _Thread_local array it was in
 * every thread's static TLS block, 64 KiB touched on each of libuv's 16
 * workers that never read a conn. */
static _Thread_local char *read_scratch;

static char *read_scratch_get(void)
{
    if (!read_scratch) read_scratch = malloc(CONN_READ_CHUNK);
    return read_scratch;
}

/* At most CONN_READS_PER_WAKEUP reads per callback, so that a peer that sends
 * as fast as we read cannot keep the loop to itself: the fd is polled
 * level-triggered, so what is left is read on the next turn of the loop
 * (after every other ready handle), and data already decrypted inside a TLS
 * stream makes conn_update_poll come back at once (pending). */
static void conn_on_readable(conn *c)
{
    if (!read_scratch_get()) {
        conn_close(c, "out of memory");
        return;
    }
    for (unsigned reads = 0; reads < CONN_READS_PER_WAKEUP; reads++) {
        short want = 0;
        c->read_wants_write = false;
        ssize_t r = transport_stream_read(&c->stream, c->fd, read_scratch, CONN_READ_CHUNK, &want);
        if (r > 0) {
            c->bytes_in += (uint64_t)r;
            c->last_rx_ms = transport_now_ms();
        } else if (r == 0) {
            conn_close(c, "connection closed by peer");
            return;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->read_wants_write = want == POLLOUT;
            break;
        } else {
            char reason[256];
            io_reason(c, "read", reason, sizeof(reason));
            conn_close(c, reason);
            return;
        }
        const char *data = read_scratch;
        size_t len = (size_t)r;
        if (c->in_len > 0) {
            /* the rest of a packet begun earlier */
            if (buf_reserve(&c->in, &c->in_cap, c->in_len + len,
                            DIST_MAX_PACKET + 4 + CONN_READ_CHUNK) < 0) {
                conn_close(c, "out of memory for the receive buffer");
                return;
            }
            memcpy(c->in + c->in_len, read_scratch, len);
            c->in_len += len;
            data = c->in;
            len = c->in_len;
        }
        ssize_t off = conn_deliver(c, data, len);
        if (off < 0) return;
        size_t rest = len - (size_t)off;
        if (data == read_scratch) {
            if (rest > 0) {
                if (buf_reserve(&c->in, &c->in_cap, rest, DIST_MAX_PACKET + 4 + CONN_READ_CHUNK) <
                    0) {
                    conn_close(c, "out of memory for the receive buffer");
                    return;
                }
                memcpy(c->in, read_scratch + off, rest);
            }
        } else if (off > 0) {
            memmove(c->in, c->in + off, rest);
        }
        c->in_len = rest;
        if (rest == 0 && c->in) {
            free(c->in);
            c->in = NULL;
            c->in_cap = 0;
        }
    }
}

static void conn_poll_cb(uv_poll_t *h, int status, int events)
{
    conn *c = h->data;
    if (c->closing) return;
    if (status < 0) {
        conn_close(c, uv_strerror(status));
        return;
    }
    /* A TLS stream may need the other direction to make progress, and may
     * hold received data the socket no longer signals (pending). */
    bool out_waiting = c->out_len > c->out_off;
    if (out_waiting &&
        ((events & UV_WRITABLE) || (c->write_wants_read && (events & UV_READABLE)))) {
        if (conn_flush(c) < 0) {
            char reason[256];
            io_reason(c, "write", reason, sizeof(reason));
            conn_close(c, reason);
            return;
        }
    }
    if ((events & UV_READABLE) || (c->read_wants_write && (events & UV_WRITABLE)) ||
        transport_stream_pending(&c->stream) > 0)
        conn_on_readable(c);
    if (!c->closing) conn_update_poll(c);
}

static void conn_update_poll(conn *c)
{
    if (c->closing) return;
    bool out_waiting = c->out_len > c->out_off && !c->write_wants_read;
    /* Data already decoded inside the stream: come back at once. */
    bool pending = transport_stream_pending(&c->stream) > 0;
    int ev = UV_READABLE | (out_waiting || c->read_wants_write || pending ? UV_WRITABLE : 0);
    uv_poll_start(&c->poll, ev, conn_poll_cb);
    c->poll_started = true;
}

size_t conn_alloc_size(const char *peer)
{
    return sizeof(conn) + strnlen(peer, NODENAME_MAX) + 1;
}

conn *conn_open(uv_loop_t *loop, int fd, const char *peer, unsigned net_ticktime_s,
                conn_msg_fn on_msg, conn_closed_fn on_closed, void *arg)
{
    void *mem = malloc(conn_alloc_size(peer));
    if (!mem) return NULL;
    return conn_open_in(mem, loop, fd, peer, net_ticktime_s, on_msg, on_closed, arg);
}

conn *conn_open_in(void *mem, uv_loop_t *loop, int fd, const char *peer, unsigned net_ticktime_s,
                   conn_msg_fn on_msg, conn_closed_fn on_closed, void *arg)
{
    size_t peer_len = strnlen(peer, NODENAME_MAX);
    conn *c = mem;
    memset(c, 0, sizeof(*c));
    c->loop = loop;
    c->fd = fd;
    c->stream = transport_stream_of(fd);
    memcpy(c->peer, peer, peer_len);
    c->peer[peer_len] = '\0';
    c->on_msg = on_msg;
    c->on_closed = on_closed;
    c->arg = arg;
    c->ticktime_ms = (uint64_t)net_ticktime_s * 1000u;
    c->tick_ms = c->ticktime_ms / 4;
    c->last_rx_ms = c->last_tx_ms = transport_now_ms();
    if (uv_poll_init(loop, &c->poll, fd) != 0) {
        free(c);
        return NULL;
    }
    c->poll.data = c;
    conn_update_poll(c);
    return c;
}

void conn_set_ticktime(conn *c, unsigned net_ticktime_s)
{
    c->ticktime_ms = (uint64_t)net_ticktime_s * 1000u;
    c->tick_ms = c->ticktime_ms / 4;
}

void conn_set_tick_interval(conn *c, uint64_t interval_ms)
{
    c->tick_ms = interval_ms;
}

void conn_tick(conn *c, uint64_t now_ms)
{
    if (c->closing) return;
    /* Like the BEAM: silent for a whole ticktime (4 missed ticks) = dead. */
    if (now_ms - c->last_rx_ms > c->ticktime_ms) {
        char reason[96];
        snprintf(reason, sizeof(reason), "no traffic for %llu s (net_ticktime)",
                 (unsigned long long)(c->ticktime_ms / 1000u));
        conn_close(c, reason);
        return;
    }
    if (now_ms - c->last_tx_ms >= c->tick_ms) {
        static const char tick[4] = {0, 0, 0, 0};
        (void)conn_send_packet(c, tick, 4);
    }
}

void conn_set_handlers(conn *c, conn_msg_fn on_msg, conn_closed_fn on_closed, void *arg)
{
    c->on_msg = on_msg;
    c->on_closed = on_closed;
    c->arg = arg;
}
