/* epmd_client: PORT_PLEASE2 and NAMES against an EPMD, IPv4 or IPv6, with a
 * total deadline per host. One engine drives any number of connections with
 * non-blocking sockets and poll() (never select, so any fd number works):
 * connect, send the request, read until the answer is complete or the peer
 * closes, every answer capped in size and parsed strictly. Blocking for the
 * caller: run it on a worker thread or in the CLI, never on the event loop. */
#include "epmd_client.h"

#include "resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EPMD_DEFAULT_PORT 4369
#define EPMD_PORT2_REQ 122
#define EPMD_PORT2_RESP 119
#define EPMD_NAMES_REQ 110
#define EPMD_BATCH 64 /* connections open at once in epmd_names_many */
#define EPMD_PORT2_ANSWER_MAX (14 + 255 + 65535)

/* Describes a status for logs and evidence lines. */
const char *epmd_status_text(epmd_status st)
{
    switch (st) {
    case EPMD_OK:
        return "ok";
    case EPMD_ERR_RESOLVE:
        return "host name did not resolve";
    case EPMD_ERR_CONNECT:
        return "no EPMD listening (connection refused or unreachable)";
    case EPMD_ERR_TIMEOUT:
        return "EPMD did not answer in time";
    case EPMD_ERR_NOT_FOUND:
        return "name not registered in EPMD";
    case EPMD_ERR_PROTOCOL:
        return "malformed answer from EPMD";
    case EPMD_ERR_IO:
        return "I/O error talking to EPMD";
    }
    return "unknown EPMD status";
}

/* $ERL_EPMD_PORT when it is a decimal number in 1..65535, else 4369. */
int epmd_port(void)
{
    const char *env = getenv("ERL_EPMD_PORT");
    if (env == NULL || env[0] < '0' || env[0] > '9') return EPMD_DEFAULT_PORT;
    char *end = NULL;
    errno = 0;
    long v = strtol(env, &end, 10);
    if (errno != 0 || end == env || *end != '\0' || v < 1 || v > 65535) return EPMD_DEFAULT_PORT;
    return (int)v;
}

/* IP literals without a look-up; names through resolve.c, bounded by
 * timeout_ms (getaddrinfo would have no deadline). The port is left 0: the
 * caller sets it. */
epmd_status epmd_resolve_host(const char *host, int timeout_ms, struct sockaddr_storage *addr,
                              socklen_t *len)
{
    switch (resolve_host(host, timeout_ms, addr, len, NULL, 0)) {
    case RESOLVE_OK:
        return EPMD_OK;
    case RESOLVE_TIMEOUT:
        return EPMD_ERR_TIMEOUT;
    case RESOLVE_NOT_FOUND:
    case RESOLVE_ERROR:
        break;
    }
    return EPMD_ERR_RESOLVE;
}

/* ---- the connection engine ---- */

typedef enum { REQ_PORT_PLEASE2, REQ_NAMES } epmd_request;
typedef enum { PHASE_CONNECTING, PHASE_SENDING, PHASE_READING, PHASE_DONE } epmd_phase;

typedef struct epmd_conn {
    epmd_request kind;
    epmd_phase phase;
    epmd_status status;
    int fd;
    uint64_t deadline_ns;
    unsigned char req[3 + 255];
    size_t req_len, req_sent;
    unsigned char *buf; /* the answer so far, at most max bytes */
    size_t len, max;
} epmd_conn;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint16_t get16(const unsigned char *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static void conn_finish(epmd_conn *c, epmd_status st)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->phase = PHASE_DONE;
    c->status = st;
}

static epmd_status status_from_connect_errno(int e)
{
    switch (e) {
    case ECONNREFUSED:
    case ENETUNREACH:
    case EHOSTUNREACH:
    case EADDRNOTAVAIL:
    case ENETDOWN:
    case EHOSTDOWN:
    case ETIMEDOUT:
        return EPMD_ERR_CONNECT;
    default:
        return EPMD_ERR_IO;
    }
}

/* PORT2_RESP is complete when it says "not found" or when every length in it
 * is covered; 1 complete, 0 more needed, -1 malformed. */
static int port2_complete(const unsigned char *b, size_t len)
{
    if (len >= 1 && b[0] != EPMD_PORT2_RESP) return -1;
    if (len < 2) return 0;
    if (b[1] != 0) return len == 2 ? 1 : -1;
    if (len < 12) return 0;
    size_t need = 12 + (size_t)get16(b + 10) + 2;
    if (len < need) return 0;
    need += get16(b + need - 2);
    if (len < need) return 0;
    return len == need ? 1 : -1;
}

/* Starts the TCP connect to addr (port already set). */
static void conn_start(epmd_conn *c, const struct sockaddr_storage *addr, socklen_t alen)
{
    c->fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        conn_finish(c, EPMD_ERR_IO);
        return;
    }
    c->buf = malloc(c->max);
    if (c->buf == NULL) {
        conn_finish(c, EPMD_ERR_IO);
        return;
    }
    if (connect(c->fd, (const struct sockaddr *)addr, alen) == 0) {
        c->phase = PHASE_SENDING;
    } else if (errno == EINPROGRESS) {
        c->phase = PHASE_CONNECTING;
    } else {
        conn_finish(c, status_from_connect_errno(errno));
    }
}

/* Advances c after poll() reported revents on its fd. */
static void conn_step(epmd_conn *c, short revents)
{
    if (c->phase == PHASE_CONNECTING) {
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) soerr = errno;
        if (soerr != 0) {
            conn_finish(c, status_from_connect_errno(soerr));
            return;
        }
        if (!(revents & POLLOUT)) return;
        c->phase = PHASE_SENDING;
    }
    if (c->phase == PHASE_SENDING) {
        ssize_t w = send(c->fd, c->req + c->req_sent, c->req_len - c->req_sent, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
            conn_finish(c, EPMD_ERR_IO);
            return;
        }
        c->req_sent += (size_t)w;
        if (c->req_sent == c->req_len) c->phase = PHASE_READING;
        return;
    }
    if (c->phase != PHASE_READING) return;
    unsigned char scratch[1];
    unsigned char *dst = c->len < c->max ? c->buf + c->len : scratch;
    size_t room = c->len < c->max ? c->max - c->len : sizeof scratch;
    ssize_t r = recv(c->fd, dst, room, 0);
    if (r < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        conn_finish(c, EPMD_ERR_IO);
        return;
    }
    if (r > 0 && dst == scratch) { /* more than the cap */
        conn_finish(c, EPMD_ERR_PROTOCOL);
        return;
    }
    c->len += (size_t)r;
    if (c->kind == REQ_PORT_PLEASE2) {
        int done = port2_complete(c->buf, c->len);
        if (done != 0) {
            conn_finish(c, done > 0 ? EPMD_OK : EPMD_ERR_PROTOCOL);
            return;
        }
        if (r == 0) conn_finish(c, EPMD_ERR_PROTOCOL); /* closed mid-answer */
        return;
    }
    if (r == 0) conn_finish(c, EPMD_OK); /* NAMES: the answer ends at close */
}

/* Drives every connection until it is done or past its deadline. */
static void conns_run(epmd_conn *c, size_t n)
{
    struct pollfd pfd[EPMD_BATCH];
    size_t idx[EPMD_BATCH];
    for (;;) {
        uint64_t now = now_ns();
        uint64_t next = UINT64_MAX;
        size_t np = 0;
        for (size_t k = 0; k < n; k++) {
            if (c[k].phase == PHASE_DONE) continue;
            if (now >= c[k].deadline_ns) {
                conn_finish(&c[k], EPMD_ERR_TIMEOUT);
                continue;
            }
            if (c[k].deadline_ns < next) next = c[k].deadline_ns;
            pfd[np].fd = c[k].fd;
            pfd[np].events = c[k].phase == PHASE_READING ? POLLIN : POLLOUT;
            pfd[np].revents = 0;
            idx[np++] = k;
        }
        if (np == 0) return;
        uint64_t wait_ms = (next - now + 999999u) / 1000000u;
        int rc = poll(pfd, np, wait_ms > 60000 ? 60000 : (int)wait_ms);
        if (rc < 0 && errno != EINTR) {
            for (size_t k = 0; k < np; k++)
                conn_finish(&c[idx[k]], EPMD_ERR_IO);
            return;
        }
        for (size_t k = 0; rc > 0 && k < np; k++)
            if (pfd[k].revents != 0) conn_step(&c[idx[k]], pfd[k].revents);
    }
}

/* Runs one request against one host, the deadline counted from the call. */
static epmd_status epmd_query_one(const char *host, int timeout_ms, epmd_conn *c)
{
    c->fd = -1;
    c->buf = NULL;
    if (timeout_ms <= 0) return EPMD_ERR_TIMEOUT;
    c->deadline_ns = now_ns() + (uint64_t)timeout_ms * 1000000u;
    struct sockaddr_storage addr;
    socklen_t alen = 0;
    epmd_status st = epmd_resolve_host(host, timeout_ms, &addr, &alen);
    if (st != EPMD_OK) return st;
    if (now_ns() >= c->deadline_ns) return EPMD_ERR_TIMEOUT;
    uint16_t port = htons((uint16_t)epmd_port());
    if (addr.ss_family == AF_INET)
        ((struct sockaddr_in *)&addr)->sin_port = port;
    else
        ((struct sockaddr_in6 *)&addr)->sin6_port = port;
    conn_start(c, &addr, alen);
    conns_run(c, 1);
    return c->status;
}

/* PORT_PLEASE2; see epmd_client.h. */
epmd_status epmd_port_please(const char *host, const char *alive, int timeout_ms,
                             epmd_node_info *info)
{
    size_t alen = alive != NULL ? strnlen(alive, 256) : 0;
    if (alen == 0 || alen > 255) return EPMD_ERR_NOT_FOUND;
    epmd_conn c = {.kind = REQ_PORT_PLEASE2, .max = EPMD_PORT2_ANSWER_MAX};
    c.req[0] = (unsigned char)((alen + 1) >> 8);
    c.req[1] = (unsigned char)((alen + 1) & 0xff);
    c.req[2] = EPMD_PORT2_REQ;
    memcpy(c.req + 3, alive, alen);
    c.req_len = 3 + alen;
    epmd_status st = epmd_query_one(host, timeout_ms, &c);
    if (st == EPMD_OK) st = epmd_port2_parse(c.buf, c.len, info);
    free(c.buf);
    return st;
}

/* PORT2_RESP as read; see epmd_client.h. */
epmd_status epmd_port2_parse(const unsigned char *b, size_t len, epmd_node_info *info)
{
    if (port2_complete(b, len) != 1) return EPMD_ERR_PROTOCOL;
    if (b[1] != 0) return EPMD_ERR_NOT_FOUND;
    epmd_node_info got = {.port = get16(b + 2),
                          .node_type = b[4],
                          .highest_version = get16(b + 6),
                          .lowest_version = get16(b + 8)};
    if (got.port == 0) return EPMD_ERR_PROTOCOL;
    if (info != NULL) *info = got;
    return EPMD_OK;
}

/* Parses "name NAME at port PORT\n" lines after the 4-byte EPMD port into a
 * malloc'd array. Any line out of shape fails the whole answer. */
epmd_status epmd_parse_names(const unsigned char *buf, size_t len, epmd_name **out, size_t *count)
{
    static const char prefix[] = "name ";
    static const char middle[] = " at port ";
    *out = NULL;
    *count = 0;
    if (len < 4) return EPMD_ERR_PROTOCOL;
    const char *text = (const char *)buf + 4;
    size_t tlen = len - 4;
    if (memchr(text, '\0', tlen) != NULL) return EPMD_ERR_PROTOCOL;
    if (tlen > 0 && text[tlen - 1] != '\n') return EPMD_ERR_PROTOCOL;
    size_t lines = 0;
    for (size_t k = 0; k < tlen; k++)
        lines += text[k] == '\n';
    if (lines == 0) return EPMD_OK;
    epmd_name *names = calloc(lines, sizeof *names);
    if (names == NULL) return EPMD_ERR_IO;
    size_t n = 0;
    const char *line = text;
    const char *end = text + tlen;
    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t llen = (size_t)(nl - line);
        if (llen < sizeof prefix - 1 || memcmp(line, prefix, sizeof prefix - 1) != 0) goto bad;
        /* The last " at port " splits: a name cannot be trusted not to contain it. */
        const char *mid = NULL;
        for (const char *p = line + sizeof prefix - 1; p + sizeof middle - 1 <= nl; p++)
            if (memcmp(p, middle, sizeof middle - 1) == 0) mid = p;
        if (mid == NULL) goto bad;
        const char *name = line + sizeof prefix - 1;
        size_t nlen = (size_t)(mid - name);
        if (nlen == 0 || nlen > 255) goto bad;
        const char *digits = mid + sizeof middle - 1;
        size_t dlen = (size_t)(nl - digits);
        if (dlen == 0 || dlen > 5) goto bad;
        char num[6];
        memcpy(num, digits, dlen);
        num[dlen] = '\0';
        for (size_t k = 0; k < dlen; k++)
            if (num[k] < '0' || num[k] > '9') goto bad;
        char *nend = NULL;
        errno = 0;
        long port = strtol(num, &nend, 10);
        if (errno != 0 || *nend != '\0' || port < 1 || port > 65535) goto bad;
        memcpy(names[n].name, name, nlen);
        names[n].name[nlen] = '\0';
        names[n].port = (int)port;
        n++;
        line = nl + 1;
    }
    *out = names;
    *count = n;
    return EPMD_OK;
bad:
    free(names);
    return EPMD_ERR_PROTOCOL;
}

static void names_request(epmd_conn *c)
{
    c->kind = REQ_NAMES;
    c->max = EPMD_NAMES_ANSWER_MAX;
    c->req[0] = 0;
    c->req[1] = 1;
    c->req[2] = EPMD_NAMES_REQ;
    c->req_len = 3;
}

/* NAMES into the caller's array; see epmd_client.h. */
epmd_status epmd_names(const char *host, int timeout_ms, epmd_name *out, size_t max, size_t *count)
{
    *count = 0;
    epmd_conn c = {0};
    names_request(&c);
    epmd_status st = epmd_query_one(host, timeout_ms, &c);
    if (st == EPMD_OK) {
        epmd_name *names = NULL;
        size_t n = 0;
        st = epmd_parse_names(c.buf, c.len, &names, &n);
        if (st == EPMD_OK) {
            *count = n < max ? n : max;
            if (*count > 0) memcpy(out, names, *count * sizeof *out);
        }
        free(names);
    }
    free(c.buf);
    return st;
}

/* NAMES on many hosts, EPMD_BATCH connections at a time; see epmd_client.h. */
void epmd_names_many(epmd_names_query *q, size_t n, int timeout_ms)
{
    epmd_conn c[EPMD_BATCH];
    uint16_t port = htons((uint16_t)epmd_port());
    for (size_t base = 0; base < n; base += EPMD_BATCH) {
        size_t m = n - base;
        if (m > EPMD_BATCH) m = EPMD_BATCH;
        /* Name look-ups of one batch share one deadline, so that a dead
         * resolver costs the batch timeout_ms once, not once per host. */
        uint64_t resolve_deadline =
            now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000u;
        for (size_t k = 0; k < m; k++) {
            epmd_names_query *qk = &q[base + k];
            qk->names = NULL;
            qk->count = 0;
            memset(&c[k], 0, sizeof c[k]);
            names_request(&c[k]);
            c[k].fd = -1;
            struct sockaddr_storage addr;
            socklen_t alen = 0;
            uint64_t t = now_ns();
            int left = t < resolve_deadline ? (int)((resolve_deadline - t) / 1000000u) : 0;
            epmd_status st = epmd_resolve_host(qk->host, left, &addr, &alen);
            if (st != EPMD_OK) {
                conn_finish(&c[k], st);
                continue;
            }
            if (addr.ss_family == AF_INET)
                ((struct sockaddr_in *)&addr)->sin_port = port;
            else
                ((struct sockaddr_in6 *)&addr)->sin6_port = port;
            c[k].deadline_ns = now_ns() + (uint64_t)timeout_ms * 1000000u;
            conn_start(&c[k], &addr, alen);
        }
        conns_run(c, m);
        for (size_t k = 0; k < m; k++) {
            epmd_names_query *qk = &q[base + k];
            qk->status = c[k].status;
            if (qk->status == EPMD_OK)
                qk->status = epmd_parse_names(c[k].buf, c[k].len, &qk->names, &qk->count);
            free(c[k].buf);
        }
    }
}
