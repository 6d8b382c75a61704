/* dns: c-ares on the libuv loop. One ares channel per resolver; its sockets
 * get a uv_poll each (opened and closed through ARES_OPT_SOCK_STATE_CB), its
 * timeouts a uv_timer re-armed from ares_timeout after every step. Answers go
 * through dns_answer_parse. See dns.h.
 *
 * c-ares compatibility: everything here is non-deprecated in 1.18 and in
 * 1.34 except ares_search (deprecated in 1.28 for ares_search_dnsrec), which
 * lives in dns_start_search alone. ares_process_fd is deprecated from 1.34
 * (for ares_process_fds) and is likewise kept in one place. From 1.31 c-ares
 * caches answers; the cache is turned off so that TTLs are ours to honour. */
#define CARES_NO_DEPRECATED /* 1.28+: the two isolated calls below are known */
#include "dns.h"

#include <ares.h>
#include <pthread.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolve.h"

#define SERVERS_TEXT_MAX 512
#define DNS_CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

typedef struct dns_socket {
    struct dns_socket *next;
    dns_resolver *r;
    ares_socket_t fd;
    uv_poll_t poll;
} dns_socket;

struct dns_resolver {
    uv_loop_t *loop;
    ares_channel channel;
    bool channel_live;
    uv_timer_t timer;
    bool closing;
    dns_socket *sockets;
    int open_handles; /* the timer and every poll, until their close callbacks ran */
    void (*closed)(void *arg);
    void *closed_arg;
    char servers[SERVERS_TEXT_MAX];
};

typedef struct dns_lookup {
    dns_resolver *r;
    uint16_t qtype;
    dns_query_cb cb;
    void *arg;
} dns_lookup;

static pthread_once_t library_once = PTHREAD_ONCE_INIT;
static int library_status = ARES_SUCCESS;

static void library_init(void)
{
    library_status = ares_library_init(ARES_LIB_INIT_ALL);
}

static void resolver_maybe_free(dns_resolver *r)
{
    if (!r->closing || r->open_handles > 0) return;
    void (*closed)(void *) = r->closed;
    void *arg = r->closed_arg;
    free(r);
    if (closed != NULL) closed(arg);
}

static void on_handle_closed(uv_handle_t *h)
{
    dns_resolver *r = h->data;
    if (h->type == UV_POLL) free(DNS_CONTAINER_OF((uv_poll_t *)h, dns_socket, poll));
    r->open_handles--;
    resolver_maybe_free(r);
}

/* ---- c-ares driving ---- */

static void on_timer(uv_timer_t *t);

/* The one call of ares_process_fd (deprecated from 1.34). */
static void dns_process(dns_resolver *r, ares_socket_t readable, ares_socket_t writable)
{
    ares_process_fd(r->channel, readable, writable);
}

/* Re-arms the timer for c-ares' next timeout, or stops it when idle. */
static void rearm_timer(dns_resolver *r)
{
    if (r->closing || !r->channel_live) return;
    struct timeval tv;
    if (ares_timeout(r->channel, NULL, &tv) == NULL) {
        uv_timer_stop(&r->timer);
        return;
    }
    uint64_t ms = (uint64_t)tv.tv_sec * 1000 + (uint64_t)(tv.tv_usec + 999) / 1000;
    uv_timer_start(&r->timer, on_timer, ms > 0 ? ms : 1, 0);
}

static void on_timer(uv_timer_t *t)
{
    dns_resolver *r = t->data;
    if (r->closing) return;
    dns_process(r, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    rearm_timer(r);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    dns_socket *s = DNS_CONTAINER_OF(p, dns_socket, poll);
    dns_resolver *r = s->r;
    ares_socket_t fd = s->fd;
    /* On a poll error let c-ares try both directions: it sees the error
     * on the socket itself and fails over. */
    ares_socket_t rd = (status < 0 || (events & UV_READABLE)) ? fd : ARES_SOCKET_BAD;
    ares_socket_t wr = (status < 0 || (events & UV_WRITABLE)) ? fd : ARES_SOCKET_BAD;
    dns_process(r, rd, wr);
    rearm_timer(r);
}

/* c-ares opens, re-targets and closes its sockets through this. A socket
 * that goes away gets (0, 0) *before* c-ares closes it: the poll handle is
 * closed here at once, so the fd leaves epoll while it is still ours. */
static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    dns_resolver *r = data;
    dns_socket **pp = &r->sockets;
    while (*pp != NULL && (*pp)->fd != fd)
        pp = &(*pp)->next;
    dns_socket *s = *pp;
    if (!readable && !writable) {
        if (s == NULL) return;
        *pp = s->next;
        uv_close((uv_handle_t *)&s->poll, on_handle_closed);
        return;
    }
    if (s == NULL) {
        s = calloc(1, sizeof *s);
        if (s == NULL) return; /* the look-up times out: still bounded */
        if (uv_poll_init_socket(r->loop, &s->poll, fd) != 0) {
            free(s);
            return;
        }
        s->r = r;
        s->fd = fd;
        s->poll.data = r;
        s->next = r->sockets;
        r->sockets = s;
        r->open_handles++;
    }
    uv_poll_start(&s->poll, (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0), on_poll);
}

/* ---- look-ups ---- */

static dns_status status_from_ares(int status, const char **detail)
{
    *detail = ares_strerror(status);
    switch (status) {
    case ARES_ENOTFOUND:
        return DNS_NXDOMAIN;
    case ARES_ENODATA:
        return DNS_NODATA;
    case ARES_ESERVFAIL:
        return DNS_SERVFAIL;
    case ARES_EREFUSED:
        return DNS_REFUSED;
    case ARES_ETIMEOUT:
        return DNS_TIMEOUT;
    case ARES_ECONNREFUSED:
        /* c-ares moves on from a server that answers SERVFAIL, REFUSED or
         * NOTIMP (failover), and says this once none is left. */
        *detail = "no server gave an answer: each one refused, failed (SERVFAIL) or could not "
                  "be reached";
        return DNS_ERROR;
    case ARES_EBADRESP:
        return DNS_BAD_ANSWER;
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION:
        return DNS_CANCELLED;
    default:
        return DNS_ERROR;
    }
}

static dns_status status_from_answer(const dns_answer *a, char *detail, size_t len)
{
    char rc[16];
    detail[0] = '\0';
    if (a->truncated) {
        snprintf(detail, len, "answer truncated (TC) and not retried whole");
        return DNS_TRUNCATED;
    }
    switch (a->rcode) {
    case DNS_RCODE_NOERROR:
        return a->n_records > 0 ? DNS_OK : DNS_NODATA;
    case DNS_RCODE_NXDOMAIN:
        return DNS_NXDOMAIN;
    case DNS_RCODE_SERVFAIL:
        return DNS_SERVFAIL;
    case DNS_RCODE_REFUSED:
        return DNS_REFUSED;
    default:
        snprintf(detail, len, "response code %s", dns_rcode_name(a->rcode, rc, sizeof rc));
        return DNS_ERROR;
    }
}

static void on_ares_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    dns_lookup *q = arg;
    char detail[256] = "";
    if (abuf == NULL || alen <= 0) {
        const char *why;
        dns_status st = status_from_ares(status, &why);
        q->cb(q->arg, st, why, NULL);
        free(q);
        return;
    }
    dns_answer a;
    if (dns_answer_parse(abuf, (size_t)alen, q->qtype, &a, detail, sizeof detail) != 0) {
        q->cb(q->arg, DNS_BAD_ANSWER, detail, NULL);
        free(q);
        return;
    }
    dns_status st = status_from_answer(&a, detail, sizeof detail);
    q->cb(q->arg, st, detail, &a);
    dns_answer_free(&a);
    free(q);
}

/* The one call of ares_search (deprecated from 1.28): the search list and
 * ndots apply to names without a final dot, as in a pod. */
static void dns_start_search(dns_resolver *r, const char *name, dns_lookup *q)
{
    ares_search(r->channel, name, 1 /* C_IN */, q->qtype, on_ares_answer, q);
}

/* Starts one look-up; see dns.h. */
void dns_resolve(dns_resolver *r, const char *name, uint16_t qtype, dns_query_cb cb, void *arg)
{
    if (r->closing) {
        cb(arg, DNS_CANCELLED, "resolver is closing", NULL);
        return;
    }
    dns_lookup *q = calloc(1, sizeof *q);
    if (q == NULL) {
        cb(arg, DNS_ERROR, "out of memory", NULL);
        return;
    }
    q->r = r;
    q->qtype = qtype;
    q->cb = cb;
    q->arg = arg;
    dns_start_search(r, name, q);
    rearm_timer(r);
}

void dns_resolver_cancel(dns_resolver *r)
{
    if (r == NULL || !r->channel_live) return;
    ares_cancel(r->channel);
    rearm_timer(r);
}

/* ---- life cycle ---- */

static int set_servers(dns_resolver *r, const dns_options *opts, char *err, size_t errlen)
{
    if (opts == NULL || opts->n_nameservers == 0) {
        snprintf(r->servers, sizeof r->servers, "resolv.conf");
        return 0;
    }
    if (resolve_servers_csv(opts->nameservers, opts->n_nameservers, r->servers,
                            sizeof r->servers) != 0) {
        snprintf(err, errlen, "resolver.nameservers: list longer than %d characters",
                 SERVERS_TEXT_MAX - 1);
        return -1;
    }
    /* Only the _ports_ variant honours ports in c-ares 1.18. */
    int rc = ares_set_servers_ports_csv(r->channel, r->servers);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen,
                 "resolver.nameservers \"%s\": %s (c-ares takes IP addresses, \"ip:port\" or "
                 "\"[ipv6]:port\")",
                 r->servers, ares_strerror(rc));
        return -1;
    }
    return 0;
}

/* Creates a resolver; see dns.h. */
int dns_resolver_new(uv_loop_t *loop, const dns_options *opts, dns_resolver **out, char *err,
                     size_t errlen)
{
    *out = NULL;
    pthread_once(&library_once, library_init);
    if (library_status != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares: %s", ares_strerror(library_status));
        return -1;
    }
    dns_resolver *r = calloc(1, sizeof *r);
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r->loop = loop;
    struct ares_options o;
    memset(&o, 0, sizeof o);
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
    o.sock_state_cb = on_sock_state;
    o.sock_state_cb_data = r;
    o.timeout = opts != NULL && opts->timeout_ms > 0 ? opts->timeout_ms : DNS_DEFAULT_TIMEOUT_MS;
    o.tries = opts != NULL && opts->tries > 0 ? opts->tries : DNS_DEFAULT_TRIES;
#ifdef ARES_OPT_QUERY_CACHE
    mask |= ARES_OPT_QUERY_CACHE;
    o.qcache_max_ttl = 0;
#endif
    int rc = ares_init_options(&r->channel, &o, mask);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
        free(r);
        return -1;
    }
    r->channel_live = true;
    if (set_servers(r, opts, err, errlen) != 0) {
        ares_destroy(r->channel);
        free(r);
        return -1;
    }
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    r->open_handles = 1;
    *out = r;
    return 0;
}

/* Runs on the loop after dns_resolver_close, outside any c-ares callback. */
static void on_close_timer(uv_timer_t *t)
{
    dns_resolver *r = t->data;
    if (r->channel_live) {
        r->channel_live = false;
        ares_destroy(r->channel); /* callbacks run with ARES_EDESTRUCTION */
    }
    while (r->sockets != NULL) { /* c-ares reported every close; this is a safety net */
        dns_socket *s = r->sockets;
        r->sockets = s->next;
        uv_close((uv_handle_t *)&s->poll, on_handle_closed);
    }
    uv_close((uv_handle_t *)&r->timer, on_handle_closed);
}

/* Closes a resolver; see dns.h. */
void dns_resolver_close(dns_resolver *r, void (*closed)(void *arg), void *arg)
{
    if (r == NULL || r->closing) return;
    r->closing = true;
    r->closed = closed;
    r->closed_arg = arg;
    /* Deferred: we may be inside a c-ares callback, where ares_destroy
     * must not run. */
    uv_timer_start(&r->timer, on_close_timer, 0, 0);
}

const char *dns_resolver_servers(const dns_resolver *r)
{
    return r->servers;
}

const char *dns_status_name(dns_status status)
{
    switch (status) {
    case DNS_OK:
        return "ok";
    case DNS_NODATA:
        return "NODATA";
    case DNS_NXDOMAIN:
        return "NXDOMAIN";
    case DNS_SERVFAIL:
        return "SERVFAIL";
    case DNS_REFUSED:
        return "REFUSED";
    case DNS_TIMEOUT:
        return "timeout";
    case DNS_TRUNCATED:
        return "truncated";
    case DNS_BAD_ANSWER:
        return "malformed answer";
    case DNS_ERROR:
        return "error";
    case DNS_CANCELLED:
        return "cancelled";
    }
    return "?";
}
