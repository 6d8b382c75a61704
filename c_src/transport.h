/* transport: how distribution sockets are made, behind erl_interface's
 * socket callbacks (ei_connect_xinit_ussi), so that nothing above it knows
 * which transport runs. Each connection carries a stream: plain TCP, or TLS
 * when a secure layer (tls_transport.c) was given as ei's setup_ctx; the
 * TLS handshake runs inside connect/accept, ei's distribution handshake then
 * runs through the stream (with 4-byte packet headers inside TLS, as OTP's
 * inet_tls_dist), and conn.c reads and writes through the same stream on
 * the loop (transport_stream_of).
 * The visible-mode flag patch lives here too: ei offers no API to set
 * DFLAG_PUBLISHED, so the write callback sets it in the handshake packet that
 * carries our flags, on both the connect and the accept side.
 *
 * The callbacks give every blocking step a *total* deadline (ei's own _tmo is
 * per socket operation, so a peer that trickles bytes could stretch a connect
 * without bound), use poll() rather than select() (fds >= 1024 are fine), and
 * let a worker thread hand ei an fd that the event loop accepted already. */
#ifndef CLUSTERD_TRANSPORT_H
#define CLUSTERD_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <ei.h>

/* ---- streams: what runs on top of the connected socket ----
 * A byte stream over a connected, non-blocking socket: plain TCP or TLS.
 * read/write move bytes and return how many, 0 for end of stream (read), or
 * -1 with errno set; EAGAIN means "wait until the fd is ready for *want
 * (POLLIN or POLLOUT) and call again" (TLS may want to write while reading).
 * Nothing above this interface knows which stream runs. */
typedef struct transport_stream_ops {
    const char *name; /* "tcp", "tls" */
    /* The stream's own handshake, step by step: 0 done, EAGAIN with *want,
     * or another errno value (error() says why). NULL: there is none. */
    int (*handshake)(void *st, int fd, short *want);
    ssize_t (*read)(void *st, int fd, void *buf, size_t len, short *want);
    ssize_t (*write)(void *st, int fd, const void *buf, size_t len, short *want);
    /* Bytes already received and decoded, readable without waiting for the fd. */
    size_t (*pending)(void *st);
    /* The last failure in words, or NULL when errno says it all. */
    const char *(*error)(void *st);
    /* Releases st (not the fd); sends a polite goodbye if it can without waiting. */
    void (*free)(void *st);
    /* The connection moved to another fd number (transport_detach). NULL:
     * the stream keeps no fd of its own (it is passed to every call). */
    int (*set_fd)(void *st, int fd);
} transport_stream_ops;

typedef struct transport_stream {
    const transport_stream_ops *ops;
    void *st;
} transport_stream;

/* The stream of an established connection (plain TCP unless a secure layer
 * was set up). Valid until it is closed. */
transport_stream transport_stream_of(int fd);

/* Takes a connection that ei's connect or accept just returned on this
 * thread away from ei: the socket moves to a number at or above
 * TRANSPORT_ESTABLISHED_FD_BASE (when there is room) and ei forgets it.
 * Call on the thread that ran the handshake, right after it. Returns the
 * fd to use from now on, closed with transport_close (never with ei), or
 * -1 with err (the connection is closed then).
 * Why: ei keeps a record of every connection it knows (a copy of our cnode
 * and the cookie, ~2.9 KiB) in segments of 32 fd numbers that it allocates
 * for a number's range and never frees; clusterd needs ei for the handshake
 * only, conn.c does the rest. Handshakes then run on the low numbers the
 * kernel hands out first, and ei's table stays a few segments however many
 * members there are (it was 14 MiB of 56 at 5,000 members). */
#define TRANSPORT_ESTABLISHED_FD_BASE 256
int transport_detach(int fd, char *err, size_t errlen);
/* Closes a connection that transport_detach returned: its stream, then the fd. */
void transport_close(int fd);
ssize_t transport_stream_read(const transport_stream *s, int fd, void *buf, size_t len,
                              short *want);
ssize_t transport_stream_write(const transport_stream *s, int fd, const void *buf, size_t len,
                               short *want);
size_t transport_stream_pending(const transport_stream *s);
const char *transport_stream_error(const transport_stream *s);

/* A layer that wraps each new connection in its own stream (TLS). Passed as
 * ei_connect_xinit_ussi's setup_ctx; NULL = plain TCP. open() makes the stream
 * for fd: server for accepted connections, else client, which expects the
 * peer to be peer_host (the host part of the node name, or "" if unknown). */
typedef struct transport_layer {
    int (*open)(void *arg, int fd, bool server, const char *peer_host, transport_stream *out,
                char *err, size_t errlen);
    void *arg;
} transport_layer;

/* The callbacks to pass to ei_connect_xinit_ussi (with a transport_layer, or
 * NULL, as setup_ctx). */
ei_socket_callbacks *transport_tcp_callbacks(void);

/* Published (visible) or hidden, for every handshake made after the call
 * (process-wide; set once at start-up, before any connect or accept). */
void transport_set_published(bool published);
bool transport_published(void);

/* Sets DFLAG_PUBLISHED in a handshake packet as ei writes it (an hdr-byte
 * length, 2 over plain TCP and 4 inside TLS, then the packet): the name packet on the connect side
 * or the challenge packet on the accept side, new ('N') or old ('n') format. Returns 1 if pkt was
 * such a packet (now patched), 0 if it was another packet (left as is). */
int transport_patch_published(unsigned char *pkt, size_t len, size_t hdr);

/* Monotonic clock in milliseconds. */
uint64_t transport_now_ms(void);

/* Per-thread settings for the next ei connect/accept made on this thread:
 * the absolute deadline (monotonic ms; 0 = none), the real peer address to
 * connect to (IPv4 or IPv6; NULL = the one ei passes), and an fd already
 * accepted by the loop (-1 = call accept()). */
void transport_thread_prepare(uint64_t deadline_ms, const struct sockaddr *peer, socklen_t peer_len,
                              int preaccepted_fd);

/* The host the next connect on this thread expects to reach (for the secure
 * layer's certificate check); "" or NULL = unknown. */
void transport_thread_expect_host(const char *host);

/* What the last failed handshake on this thread saw, for a clear error:
 * the status the peer sent ("nok", "alive", "not_allowed", ... or "" if none),
 * whether the peer closed after our challenge reply (typically a cookie
 * mismatch), whether the deadline ran out, and whether visible mode could not
 * be applied. With a secure layer: what failed in it (certificate not
 * trusted, alert from the peer, ...). Without one: whether the peer answered
 * with TLS records, or closed right after our first packet (both: a node
 * running TLS distribution). */
typedef struct transport_failure {
    char peer_status[32];
    int closed_after_reply;
    int timed_out;
    char layer_error[200]; /* "" when the secure layer did not fail */
    int layer_handshake;   /* the failure was in the secure layer's own handshake */
    int peer_speaks_tls;   /* plain TCP got a TLS record back */
    int closed_after_name; /* plain TCP: peer closed right after our name packet */
    int not_published;     /* visible mode, but the flags could not be patched */
} transport_failure;
void transport_thread_failure(transport_failure *out);

#endif
