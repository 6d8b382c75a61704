/* conn: one established distribution connection on the libuv loop. Reads
 * and writes are non-blocking with capped buffers (a peer that stops reading
 * is dropped, never waited for); ticks are answered and sent; a connection
 * silent for longer than net_ticktime is closed. Complete, validated
 * messages are handed to the owner's callback. */
#ifndef CLUSTERD_CONN_H
#define CLUSTERD_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include <ei.h>

#include "dist.h"
#include "nodename.h"
#include "transport.h"

#define CONN_MAX_OUTBUF (16u * 1024u * 1024u)
/* Reads (of up to 64 KiB each) per readiness callback: a fast peer gets at
 * most 256 KiB before the loop serves everything else. */
#define CONN_READS_PER_WAKEUP 4u

struct conn;
typedef void (*conn_msg_fn)(struct conn *c, const dist_msg *m, void *arg);
typedef void (*conn_closed_fn)(struct conn *c, const char *reason, void *arg);

typedef struct conn {
    uv_loop_t *loop;
    int fd;
    uv_poll_t poll;
    transport_stream stream; /* plain TCP or TLS: reads and writes go through it */
    bool read_wants_write;   /* the stream's read waits for the fd to be writable (TLS) */
    bool write_wants_read;   /* and its write for readable */
    bool poll_started;
    bool closing;
    char *in;
    size_t in_len, in_cap;
    char *out;
    size_t out_len, out_cap, out_off;
    uint64_t last_rx_ms;
    uint64_t last_tx_ms;
    uint64_t ticktime_ms;
    uint64_t tick_ms; /* send a tick after this long without writing */
    conn_msg_fn on_msg;
    conn_closed_fn on_closed;
    void *arg;
    uint64_t bytes_in, bytes_out;
    char peer[]; /* the peer's node name */
} conn;

/* Takes ownership of fd (a connection from transport_detach, closed with
 * transport_close).
 * Returns a new conn or NULL. net_ticktime_s as the members use. */
conn *conn_open(uv_loop_t *loop, int fd, const char *peer, unsigned net_ticktime_s,
                conn_msg_fn on_msg, conn_closed_fn on_closed, void *arg);
/* The same in memory the caller allocated with malloc (at least
 * conn_alloc_size(peer) bytes), which the conn owns from then on (also when
 * it fails: mem is freed then). Lets a long-lived owner allocate a
 * connection's memory next to its own, ahead of time. */
conn *conn_open_in(void *mem, uv_loop_t *loop, int fd, const char *peer, unsigned net_ticktime_s,
                   conn_msg_fn on_msg, conn_closed_fn on_closed, void *arg);
size_t conn_alloc_size(const char *peer);

/* Queues a complete packet (as built by dist_encode_*). Returns 0, or -1 if
 * the connection is closing or the peer is not reading (the conn is then
 * closed with a reason). */
int conn_send_packet(conn *c, const char *pkt, size_t len);
/* Hands the connection to another owner: its messages and its close go to
 * on_msg/on_closed with arg from now on. */
void conn_set_handlers(conn *c, conn_msg_fn on_msg, conn_closed_fn on_closed, void *arg);

/* Ticks after interval_ms without writing (default: net_ticktime / 4, which
 * is enough for a hidden node: the BEAM ticks hidden peers itself). */
/* A new net_ticktime (a reload): the silence limit and our tick interval. */
void conn_set_ticktime(conn *c, unsigned net_ticktime_s);
void conn_set_tick_interval(conn *c, uint64_t interval_ms);

/* Called about once a second by the owner: sends a tick when idle, closes
 * the connection when the peer has been silent for net_ticktime. */
void conn_tick(conn *c, uint64_t now_ms);

/* Closes: on_closed runs once (from the loop), then the conn is freed.
 * Safe to call more than once. */
void conn_close(conn *c, const char *reason);

#endif
