/* transport: plain-TCP socket callbacks for erl_interface with total
 * deadlines, poll()-based waits, pre-accepted fds and the visible-mode flag
 * patch. See transport.h. */
#include "transport.h"

#include "hostid.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Per-socket state ei hands back to every callback. */
typedef struct tcp_ctx {
    int fd;
    uint64_t deadline_ms; /* 0 = none; cleared once the handshake completes */
    int writes;           /* packets written during the handshake */
    bool handshaking;     /* until ei reports the handshake complete */
    bool published;       /* DFLAG_PUBLISHED wanted on this connection */
    bool flags_patched;   /* the packet carrying our flags was patched */
    unsigned char rx_head[32];
    size_t rx_head_len;           /* bytes of the status packet seen after our first write */
    const transport_layer *layer; /* secure layer (TLS) or NULL */
    transport_stream stream;      /* plain TCP unless the layer made one */
    bool detached;                /* transport_detach took the stream: close keeps it */
    int keep_fd;                  /* detached onto this same number: close keeps it open */
} tcp_ctx;

/* Settings for the next ei call on this thread (see transport_thread_prepare). */
static _Thread_local uint64_t tl_deadline_ms;
static _Thread_local struct sockaddr_storage tl_peer;
static _Thread_local socklen_t tl_peer_len;
static _Thread_local int tl_preaccepted_fd = -1;
static _Thread_local transport_failure tl_failure;
static _Thread_local char tl_expect_host[256];
/* The connection whose handshake this thread completed last, for
 * transport_detach; cleared when it is closed. */
static _Thread_local tcp_ctx *tl_completed;

/* ---- the plain TCP stream ---- */

static ssize_t tcp_read(void *st, int fd, void *buf, size_t len, short *want)
{
    (void)st;
    *want = POLLIN;
    return read(fd, buf, len);
}

static ssize_t tcp_write(void *st, int fd, const void *buf, size_t len, short *want)
{
    (void)st;
    *want = POLLOUT;
    return write(fd, buf, len);
}

static const transport_stream_ops tcp_stream_ops = {
    .name = "tcp", .read = tcp_read, .write = tcp_write};

ssize_t transport_stream_read(const transport_stream *s, int fd, void *buf, size_t len, short *want)
{
    return s->ops->read(s->st, fd, buf, len, want);
}

ssize_t transport_stream_write(const transport_stream *s, int fd, const void *buf, size_t len,
                               short *want)
{
    return s->ops->write(s->st, fd, buf, len, want);
}

size_t transport_stream_pending(const transport_stream *s)
{
    return s->ops->pending ? s->ops->pending(s->st) : 0;
}

const char *transport_stream_error(const transport_stream *s)
{
    return s->ops->error ? s->ops->error(s->st) : NULL;
}

/* ---- streams of established connections, by fd, for the loop ----
 * Written by worker threads (connect, accept) and by whoever closes;
 * read by the loop once a worker handed it the fd. */
static pthread_mutex_t streams_lock = PTHREAD_MUTEX_INITIALIZER;
static transport_stream *streams;
static size_t streams_cap;

static void streams_set(int fd, const transport_stream *s)
{
    if (fd < 0) return;
    pthread_mutex_lock(&streams_lock);
    if ((size_t)fd >= streams_cap && s) {
        size_t ncap = streams_cap ? streams_cap : 64;
        while (ncap <= (size_t)fd)
            ncap *= 2;
        transport_stream *n = realloc(streams, ncap * sizeof(*n));
        if (n) {
            memset(n + streams_cap, 0, (ncap - streams_cap) * sizeof(*n));
            streams = n;
            streams_cap = ncap;
        }
    }
    if ((size_t)fd < streams_cap) streams[fd] = s ? *s : (transport_stream){0};
    pthread_mutex_unlock(&streams_lock);
}

transport_stream transport_stream_of(int fd)
{
    transport_stream s = {.ops = &tcp_stream_ops};
    pthread_mutex_lock(&streams_lock);
    if (fd >= 0 && (size_t)fd < streams_cap && streams[fd].ops) s = streams[fd];
    pthread_mutex_unlock(&streams_lock);
    return s;
}

void transport_thread_expect_host(const char *host)
{
    snprintf(tl_expect_host, sizeof(tl_expect_host), "%s", host ? host : "");
}

/* Set once at start-up, read by the worker threads that run handshakes. */
static atomic_bool g_published;

#define DFLAG_PUBLISHED 0x1u

void transport_set_published(bool published)
{
    atomic_store(&g_published, published);
}

bool transport_published(void)
{
    return atomic_load(&g_published);
}

int transport_patch_published(unsigned char *pkt, size_t len, size_t hdr)
{
    /* [len:hdr] then 'N' [flags:8] ... (OTP 23+) or 'n' [version:2]
     * [flags:4] ...; flags are big-endian, so DFLAG_PUBLISHED is in their
     * last byte. hdr is 2 over plain TCP, 4 inside TLS. The length must
     * cover the rest exactly: ei writes each handshake packet whole, in one
     * call. */
    if ((hdr != 2 && hdr != 4) || len < hdr + 1) return 0;
    size_t declared = 0;
    for (size_t i = 0; i < hdr; i++)
        declared = (declared << 8) | pkt[i];
    if (declared != len - hdr) return 0;
    size_t low;
    if (pkt[hdr] == 'N')
        low = hdr + 1 + 7;
    else if (pkt[hdr] == 'n')
        low = hdr + 1 + 2 + 3;
    else
        return 0;
    if (len <= low) return 0;
    pkt[low] |= DFLAG_PUBLISHED;
    return 1;
}

uint64_t transport_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void transport_thread_prepare(uint64_t deadline_ms, const struct sockaddr *peer, socklen_t peer_len,
                              int preaccepted_fd)
{
    tl_deadline_ms = deadline_ms;
    tl_peer_len = 0;
    if (peer && peer_len <= sizeof(tl_peer)) {
        memcpy(&tl_peer, peer, peer_len);
        tl_peer_len = peer_len;
    }
    tl_preaccepted_fd = preaccepted_fd;
    tl_completed = NULL;
    memset(&tl_failure, 0, sizeof(tl_failure));
}

void transport_thread_failure(transport_failure *out)
{
    *out = tl_failure;
}

static int set_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -1;
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return 0;
}

/* Milliseconds to wait: the smaller of ei's per-operation tmo and what is
 * left of the total deadline; -1 = forever; 0 when the deadline has passed. */
static int wait_budget(const tcp_ctx *c, unsigned tmo)
{
    long long budget = tmo == EI_SCLBK_INF_TMO ? -1 : (long long)tmo;
    if (c->deadline_ms) {
        uint64_t now = transport_now_ms();
        long long left = c->deadline_ms > now ? (long long)(c->deadline_ms - now) : 0;
        if (budget < 0 || left < budget) budget = left;
    }
    if (budget > 0x7fffffff) budget = 0x7fffffff;
    return (int)budget;
}

/* Waits for events on fd within budget; 0 when ready, else an errno value. */
static int wait_fd(const tcp_ctx *c, short events, unsigned tmo)
{
    for (;;) {
        int budget = wait_budget(c, tmo);
        if (budget == 0) {
            if (c->deadline_ms) tl_failure.timed_out = 1;
            return ETIMEDOUT;
        }
        struct pollfd p = {.fd = c->fd, .events = events};
        int r = poll(&p, 1, budget);
        if (r > 0) return 0;
        if (r == 0) {
            if (c->deadline_ms) tl_failure.timed_out = 1;
            return ETIMEDOUT;
        }
        if (errno != EINTR) return errno;
    }
}

/* A handshake step that starts after the deadline (ei's own work between
 * two packets overran it) is a timeout: without this, a late challenge
 * reply went out whole, met the peer's close, and read as a cookie
 * rejection. */
static int past_deadline(const tcp_ctx *c)
{
    if (!c->deadline_ms || transport_now_ms() < c->deadline_ms) return 0;
    tl_failure.timed_out = 1;
    return ETIMEDOUT;
}

static tcp_ctx *ctx_new(int fd)
{
    tcp_ctx *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->fd = fd;
    c->deadline_ms = tl_deadline_ms;
    c->stream.ops = &tcp_stream_ops;
    c->handshaking = true;
    c->published = atomic_load(&g_published);
    c->keep_fd = -1;
    return c;
}

static int cb_socket(void **ctx, void *setup_ctx)
{
    /* The socket itself is made in cb_connect or cb_listen, once the
     * address family is known (ei only speaks IPv4; we may override). */
    tcp_ctx *c = ctx_new(-1);
    if (!c) return ENOMEM;
    c->layer = setup_ctx;
    *ctx = c;
    return 0;
}

static int cb_close(void *ctx)
{
    tcp_ctx *c = ctx;
    if (tl_completed == c) tl_completed = NULL;
    if (c->stream.ops != &tcp_stream_ops) {
        streams_set(c->fd, NULL); /* before close: the fd number may be reused at once */
        if (!c->detached && c->stream.ops->free) c->stream.ops->free(c->stream.st);
    }
    if (c->fd >= 0 && c->fd != c->keep_fd) close(c->fd);
    free(c);
    return 0;
}

int transport_detach(int fd, char *err, size_t errlen)
{
    tcp_ctx *c = tl_completed;
    tl_completed = NULL;
    if (!c || c->fd != fd) {
        ei_close_connection(fd);
        snprintf(err, errlen, "internal error: no handshake state for fd %d", fd);
        return -1;
    }
    /* The duplicate shares the open socket (and its O_NONBLOCK, TCP_NODELAY). */
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, TRANSPORT_ESTABLISHED_FD_BASE);
    if (nfd < 0) {
        nfd = fd; /* no number free above the base: keep this one, ei still forgets it */
        c->keep_fd = fd;
    }
    transport_stream s = c->stream;
    c->detached = true;
    ei_close_connection(fd); /* cb_close: closes the old number only, keeps the stream */
    if (s.ops != &tcp_stream_ops) {
        if (nfd != fd && s.ops->set_fd && s.ops->set_fd(s.st, nfd) < 0) {
            if (s.ops->free) s.ops->free(s.st);
            close(nfd);
            snprintf(err, errlen, "cannot move the TLS stream to fd %d", nfd);
            return -1;
        }
        streams_set(nfd, &s);
    }
    return nfd;
}

void transport_close(int fd)
{
    if (fd < 0) return;
    transport_stream s = {0};
    pthread_mutex_lock(&streams_lock);
    if ((size_t)fd < streams_cap) {
        s = streams[fd];
        streams[fd] = (transport_stream){0};
    }
    pthread_mutex_unlock(&streams_lock);
    if (s.ops && s.ops->free) s.ops->free(s.st);
    close(fd);
}

static int ensure_socket(tcp_ctx *c, int family)
{
    if (c->fd >= 0) return 0;
    c->fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) return errno;
    if (set_nonblocking(c->fd) < 0) return errno;
    return 0;
}

static int cb_listen(void *ctx, void *addr, int *len, int backlog)
{
    tcp_ctx *c = ctx;
    const struct sockaddr *sa = addr;
    int err = ensure_socket(c, sa->sa_family);
    if (err) return err;
    int one = 1;
    (void)setsockopt(c->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(c->fd, sa, (socklen_t)*len) < 0) return errno;
    if (listen(c->fd, backlog) < 0) return errno;
    socklen_t sl = (socklen_t)*len;
    if (getsockname(c->fd, addr, &sl) < 0) return errno;
    *len = (int)sl;
    return 0;
}

/* The secure layer's handshake on a fresh connection, within the deadline
 * (TLS first, then ei's distribution handshake inside it, as OTP does). */
static int layer_start(tcp_ctx *c, bool server, unsigned tmo)
{
    if (!c->layer) return 0;
    transport_stream s;
    if (c->layer->open(c->layer->arg, c->fd, server, server ? "" : tl_expect_host, &s,
                       tl_failure.layer_error, sizeof(tl_failure.layer_error)) < 0) {
        tl_failure.layer_handshake = 1;
        return EPROTO;
    }
    c->stream = s;
    for (;;) {
        short want = POLLIN;
        int r = s.ops->handshake ? s.ops->handshake(s.st, c->fd, &want) : 0;
        if (r == 0) break;
        if (r != EAGAIN) {
            const char *why = transport_stream_error(&s);
            snprintf(tl_failure.layer_error, sizeof(tl_failure.layer_error), "%s",
                     why ? why : strerror(r));
            tl_failure.layer_handshake = 1;
            return r;
        }
        int err = wait_fd(c, want, tmo);
        if (err) {
            if (err == ETIMEDOUT) tl_failure.layer_handshake = 1;
            return err;
        }
    }
    streams_set(c->fd, &c->stream);
    return 0;
}

static int cb_accept(void **ctx, void *addr, int *len, unsigned tmo)
{
    tcp_ctx *lc = *ctx;
    int fd = tl_preaccepted_fd;
    tl_preaccepted_fd = -1;
    if (fd < 0) {
        int err = wait_fd(lc, POLLIN, tmo);
        if (err) return err;
        socklen_t sl = (socklen_t)*len;
        fd = accept4(lc->fd, addr, &sl, SOCK_CLOEXEC);
        if (fd < 0) return errno;
        *len = (int)sl;
    } else {
        socklen_t sl = (socklen_t)*len;
        if (getpeername(fd, addr, &sl) == 0) *len = (int)sl;
    }
    if (set_nonblocking(fd) < 0) {
        int e = errno;
        close(fd);
        return e;
    }
    tcp_ctx *c = ctx_new(fd);
    if (!c) {
        close(fd);
        return ENOMEM;
    }
    c->layer = lc->layer;
    int err = layer_start(c, true, tmo);
    if (err) {
        cb_close(c);
        return err;
    }
    *ctx = c;
    return 0;
}

static int cb_connect(void *ctx, void *addr, int len, unsigned tmo)
{
    tcp_ctx *c = ctx;
    const struct sockaddr *sa = addr;
    socklen_t sl = (socklen_t)len;
    if (tl_peer_len) { /* the real peer (may be IPv6), found by our own EPMD lookup */
        sa = (const struct sockaddr *)&tl_peer;
        sl = tl_peer_len;
        /* keep the port ei asks for: it came from our PORT_PLEASE2 */
        if (sa->sa_family == AF_INET6 && ((const struct sockaddr *)addr)->sa_family == AF_INET) {
            ((struct sockaddr_in6 *)&tl_peer)->sin6_port =
                ((const struct sockaddr_in *)addr)->sin_port;
        } else if (sa->sa_family == AF_INET &&
                   ((const struct sockaddr *)addr)->sa_family == AF_INET) {
            ((struct sockaddr_in *)&tl_peer)->sin_port =
                ((const struct sockaddr_in *)addr)->sin_port;
        }
    }
    int err = ensure_socket(c, sa->sa_family);
    if (err) return err;
    if (connect(c->fd, sa, sl) < 0) {
        if (errno != EINPROGRESS) return errno;
        err = wait_fd(c, POLLOUT, tmo);
        if (err) return err;
        int soerr = 0;
        socklen_t el = sizeof(soerr);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &el) < 0) return errno;
        if (soerr) return soerr;
    }
    return layer_start(c, false, tmo);
}

/* During the handshake, keeps what the secure layer said about a failure. */
static void note_stream_error(const tcp_ctx *c)
{
    if (!c->deadline_ms || tl_failure.layer_error[0]) return;
    const char *why = transport_stream_error(&c->stream);
    if (why) snprintf(tl_failure.layer_error, sizeof(tl_failure.layer_error), "%s", why);
}

/* Writes buf whole; 0 or an errno value. */
static int write_all(tcp_ctx *c, const char *buf, ssize_t len, unsigned tmo)
{
    ssize_t done = 0;
    while (done < len) {
        short want = POLLOUT;
        ssize_t w =
            transport_stream_write(&c->stream, c->fd, buf + done, (size_t)(len - done), &want);
        if (w > 0) {
            done += w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int err = wait_fd(c, want, tmo);
            if (err) return err;
            continue;
        }
        int err = w < 0 ? errno : EIO;
        note_stream_error(c);
        return err;
    }
    return 0;
}

static size_t handshake_header_size(const tcp_ctx *c);

static int cb_write(void *ctx, const char *buf, ssize_t *len, unsigned tmo)
{
    tcp_ctx *c = ctx;
    int err = past_deadline(c);
    if (err) return err;
    size_t hdr = handshake_header_size(c);
    if (c->handshaking && c->published && !c->flags_patched && (size_t)*len > hdr &&
        (buf[hdr] == 'N' || buf[hdr] == 'n')) {
        /* Our name (connect side) or challenge (accept side): a copy with
         * DFLAG_PUBLISHED set; handshake packets are a few hundred bytes. */
        unsigned char copy[1024];
        if ((size_t)*len > sizeof(copy)) return EMSGSIZE;
        memcpy(copy, buf, (size_t)*len);
        c->flags_patched = transport_patch_published(copy, (size_t)*len, hdr) == 1;
        err = write_all(c, (const char *)copy, *len, tmo);
    } else {
        err = write_all(c, buf, *len, tmo);
    }
    if (err) return err;
    if (c->deadline_ms) c->writes++;
    return 0;
}

/* Distribution handshake packets carry a 2-byte length over plain TCP and a
 * 4-byte one inside TLS (OTP's inet_tls_dist runs its handshake with
 * {packet, 4}). */
static size_t handshake_header_size(const tcp_ctx *c)
{
    return c->layer ? 4 : 2;
}

/* Keeps the first bytes of the peer's status packet ("sok", "snok",
 * "salive", ...) so that a failed connect can say why. */
static void sniff_status(tcp_ctx *c, const char *buf, ssize_t n)
{
    if (c->writes != 1) return;
    size_t room = sizeof(c->rx_head) - c->rx_head_len;
    size_t take = (size_t)n < room ? (size_t)n : room;
    memcpy(c->rx_head + c->rx_head_len, buf, take);
    c->rx_head_len += take;
    /* A TLS record (handshake 0x16 or alert 0x15, version 3.x) where a
     * distribution status packet belongs: the node runs inet_tls. */
    if (!c->layer && c->rx_head_len >= 3 && (c->rx_head[0] == 0x15 || c->rx_head[0] == 0x16) &&
        c->rx_head[1] == 0x03 && c->rx_head[2] <= 0x04)
        tl_failure.peer_speaks_tls = 1;
    size_t hs = handshake_header_size(c);
    if (c->rx_head_len >= hs + 1 && c->rx_head[hs] == 's') {
        size_t plen = 0;
        for (size_t k = 0; k < hs; k++)
            plen = (plen << 8) | c->rx_head[k];
        if (plen >= 1 && plen <= sizeof(c->rx_head) && c->rx_head_len >= hs + plen) {
            size_t sl = plen - 1 < sizeof(tl_failure.peer_status) - 1
                            ? plen - 1
                            : sizeof(tl_failure.peer_status) - 1;
            memcpy(tl_failure.peer_status, c->rx_head + hs + 1, sl);
            tl_failure.peer_status[sl] = '\0';
        }
    }
}

static int cb_read(void *ctx, char *buf, ssize_t *len, unsigned tmo)
{
    tcp_ctx *c = ctx;
    int late = past_deadline(c);
    if (late) return late;
    for (;;) {
        short want = POLLIN;
        ssize_t r = transport_stream_read(&c->stream, c->fd, buf, (size_t)*len, &want);
        if (r > 0) {
            if (c->deadline_ms) sniff_status(c, buf, r);
            *len = r;
            return 0;
        }
        if (r == 0) {
            /* EOF right after our challenge reply: the peer rejected it. */
            if (c->deadline_ms && c->writes >= 2) tl_failure.closed_after_reply = 1;
            if (c->deadline_ms && c->writes == 1 && c->rx_head_len == 0)
                tl_failure.closed_after_name = 1;
            note_stream_error(c);
            *len = 0;
            return 0;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int err = wait_fd(c, want, tmo);
            if (err) return err;
            continue;
        }
        int err = errno;
        if (err == ECONNRESET && c->deadline_ms && c->writes >= 2)
            tl_failure.closed_after_reply = 1;
        if (err == ECONNRESET && c->deadline_ms && c->writes == 1 && c->rx_head_len == 0)
            tl_failure.closed_after_name = 1;
        note_stream_error(c);
        return err;
    }
}

static int cb_header_size(void *ctx, int *sz)
{
    *sz = (int)handshake_header_size(ctx);
    return 0;
}

static int cb_handshake_complete(void *ctx)
{
    tcp_ctx *c = ctx;
    c->deadline_ms = 0; /* after the handshake the event loop owns the fd */
    c->handshaking = false;
    /* Visible wanted but the flags never went out patched: refuse the
     * connection rather than run hidden while configured visible. */
    if (c->published && !c->flags_patched) {
        tl_failure.not_published = 1;
        return EPROTO;
    }
    tl_completed = c;
    return 0;
}

static int cb_get_fd(void *ctx, int *fd)
{
    tcp_ctx *c = ctx;
    if (c->fd < 0) return EBADF;
    *fd = c->fd;
    return 0;
}

static ei_socket_callbacks tcp_callbacks = {
    .flags = EI_SCLBK_FLG_FULL_IMPL,
    .socket = cb_socket,
    .close = cb_close,
    .listen = cb_listen,
    .EI_ACCEPT_NAME = cb_accept,
    .connect = cb_connect,
    .writev = NULL,
    .write = cb_write,
    .read = cb_read,
    .handshake_packet_header_size = cb_header_size,
    .connect_handshake_complete = cb_handshake_complete,
    .accept_handshake_complete = cb_handshake_complete,
    .get_fd = cb_get_fd,
};

ei_socket_callbacks *transport_tcp_callbacks(void)
{
    hostid_prime(); /* ei's challenges call gethostid(): no look-up in a handshake */
    return &tcp_callbacks;
}
