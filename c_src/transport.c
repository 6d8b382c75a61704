/* transport: plain-TCP socket callbacks for erl_interface with total
 * deadlines, poll()-based waits, pre-accepted fds and the visible-mode flag
 * patch. See transport.h. */
#include "transport.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
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
    size_t rx_head_len; /* bytes of the status packet seen after our first write */
} tcp_ctx;

/* Settings for the next ei call on this thread (see transport_thread_prepare). */
static _Thread_local uint64_t tl_deadline_ms;
static _Thread_local struct sockaddr_storage tl_peer;
static _Thread_local socklen_t tl_peer_len;
static _Thread_local int tl_preaccepted_fd = -1;
static _Thread_local transport_failure tl_failure;

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

int transport_patch_published(unsigned char *pkt, size_t len)
{
    /* [len:2] then 'N' [flags:8] ... (OTP 23+) or 'n' [version:2] [flags:4]
     * ...; flags are big-endian, so DFLAG_PUBLISHED is in their last byte.
     * The length must cover the rest exactly: ei writes each handshake
     * packet whole, in one call. */
    if (len < 3 || (((size_t)pkt[0] << 8) | pkt[1]) != len - 2) return 0;
    size_t low;
    if (pkt[2] == 'N')
        low = 2 + 1 + 7;
    else if (pkt[2] == 'n')
        low = 2 + 1 + 2 + 3;
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

static tcp_ctx *ctx_new(int fd)
{
    tcp_ctx *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->fd = fd;
    c->deadline_ms = tl_deadline_ms;
    c->handshaking = true;
    c->published = atomic_load(&g_published);
    return c;
}

static int cb_socket(void **ctx, void *setup_ctx)
{
    (void)setup_ctx;
    /* The socket itself is made in cb_connect or cb_listen, once the
     * address family is known (ei only speaks IPv4; we may override). */
    tcp_ctx *c = ctx_new(-1);
    if (!c) return ENOMEM;
    *ctx = c;
    return 0;
}

static int cb_close(void *ctx)
{
    tcp_ctx *c = ctx;
    if (c->fd >= 0) close(c->fd);
    free(c);
    return 0;
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
    if (connect(c->fd, sa, sl) == 0) return 0;
    if (errno != EINPROGRESS) return errno;
    err = wait_fd(c, POLLOUT, tmo);
    if (err) return err;
    int soerr = 0;
    socklen_t el = sizeof(soerr);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &el) < 0) return errno;
    return soerr;
}

/* Writes buf whole; 0 or an errno value. */
static int write_all(tcp_ctx *c, const char *buf, ssize_t len, unsigned tmo)
{
    ssize_t done = 0;
    while (done < len) {
        ssize_t w = write(c->fd, buf + done, (size_t)(len - done));
        if (w > 0) {
            done += w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int err = wait_fd(c, POLLOUT, tmo);
            if (err) return err;
            continue;
        }
        return w < 0 ? errno : EIO;
    }
    return 0;
}

static int cb_write(void *ctx, const char *buf, ssize_t *len, unsigned tmo)
{
    tcp_ctx *c = ctx;
    int err;
    if (c->handshaking && c->published && !c->flags_patched && *len > 2 &&
        (buf[2] == 'N' || buf[2] == 'n')) {
        /* Our name (connect side) or challenge (accept side): a copy with
         * DFLAG_PUBLISHED set; handshake packets are a few hundred bytes. */
        unsigned char copy[1024];
        if ((size_t)*len > sizeof(copy)) return EMSGSIZE;
        memcpy(copy, buf, (size_t)*len);
        c->flags_patched = transport_patch_published(copy, (size_t)*len) == 1;
        err = write_all(c, (const char *)copy, *len, tmo);
    } else {
        err = write_all(c, buf, *len, tmo);
    }
    if (err) return err;
    if (c->deadline_ms) c->writes++;
    return 0;
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
    if (c->rx_head_len >= 3 && c->rx_head[2] == 's') {
        size_t plen = ((size_t)c->rx_head[0] << 8) | c->rx_head[1];
        if (plen >= 1 && c->rx_head_len >= 2 + plen) {
            size_t sl = plen - 1 < sizeof(tl_failure.peer_status) - 1
                            ? plen - 1
                            : sizeof(tl_failure.peer_status) - 1;
            memcpy(tl_failure.peer_status, c->rx_head + 3, sl);
            tl_failure.peer_status[sl] = '\0';
        }
    }
}

static int cb_read(void *ctx, char *buf, ssize_t *len, unsigned tmo)
{
    tcp_ctx *c = ctx;
    for (;;) {
        ssize_t r = read(c->fd, buf, (size_t)*len);
        if (r > 0) {
            if (c->deadline_ms) sniff_status(c, buf, r);
            *len = r;
            return 0;
        }
        if (r == 0) {
            /* EOF right after our challenge reply: the peer rejected it. */
            if (c->deadline_ms && c->writes >= 2) tl_failure.closed_after_reply = 1;
            *len = 0;
            return 0;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int err = wait_fd(c, POLLIN, tmo);
            if (err) return err;
            continue;
        }
        if (errno == ECONNRESET && c->deadline_ms && c->writes >= 2)
            tl_failure.closed_after_reply = 1;
        return errno;
    }
}

static int cb_header_size(void *ctx, int *sz)
{
    (void)ctx;
    *sz = 2; /* handshake packets carry a 2-byte length */
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
    return &tcp_callbacks;
}
