/* transport: how distribution sockets are made. Plain TCP today, behind
 * erl_interface's socket callbacks (ei_connect_xinit_ussi) so that TLS can
 * live at this layer later and nothing above it knows which transport runs.
 * The visible-mode flag patch lives here: ei offers no API to set
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

#include <ei.h>

/* The callbacks to pass to ei_connect_xinit_ussi. */
ei_socket_callbacks *transport_tcp_callbacks(void);

/* Published (visible) or hidden, for every handshake made after the call
 * (process-wide; set once at start-up, before any connect or accept). */
void transport_set_published(bool published);
bool transport_published(void);

/* Sets DFLAG_PUBLISHED in a handshake packet as ei writes it (2-byte length,
 * then the packet): the name packet on the connect side or the challenge
 * packet on the accept side, new ('N') or old ('n') format. Returns 1 if pkt
 * was such a packet (now patched), 0 if it was another packet (left as is). */
int transport_patch_published(unsigned char *pkt, size_t len);

/* Monotonic clock in milliseconds. */
uint64_t transport_now_ms(void);

/* Per-thread settings for the next ei connect/accept made on this thread:
 * the absolute deadline (monotonic ms; 0 = none), the real peer address to
 * connect to (IPv4 or IPv6; NULL = the one ei passes), and an fd already
 * accepted by the loop (-1 = call accept()). */
void transport_thread_prepare(uint64_t deadline_ms, const struct sockaddr *peer, socklen_t peer_len,
                              int preaccepted_fd);

/* What the last failed handshake on this thread saw, for a clear error:
 * the status the peer sent ("nok", "alive", "not_allowed", ... or "" if none),
 * whether the peer closed after our challenge reply (typically a cookie
 * mismatch), whether the deadline ran out, and whether visible mode could not
 * be applied. */
typedef struct transport_failure {
    char peer_status[32];
    int closed_after_reply;
    int timed_out;
    int not_published; /* visible mode, but the flags could not be patched */
} transport_failure;
void transport_thread_failure(transport_failure *out);

#endif
