/* resolve: bounded host-name look-ups for worker threads; see resolve.h.
 *
 * One c-ares channel per look-up (look-ups are rare: one per dial of a
 * member named by host name), driven by poll() until the callback fires or
 * the deadline passes, then destroyed. ares_getsock and ares_process_fd are
 * deprecated from c-ares 1.34 (for ares_process_fds); both are used in
 * resolve_wait alone. */
#include "resolve.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SERVERS_MAX 1024

static pthread_once_t library_once = PTHREAD_ONCE_INIT;
static int library_status = ARES_SUCCESS;
static pthread_mutex_t servers_lock = PTHREAD_MUTEX_INITIALIZER;
static char servers[SERVERS_MAX]; /* "" = resolv.conf */

static void library_init(void)
{
    library_status = ares_library_init(ARES_LIB_INIT_ALL);
}

int resolve_servers_csv(char *const *nameservers, size_t n, char *out, size_t outlen)
{
    size_t used = 0;
    if (outlen == 0) return -1;
    out[0] = '\0';
    for (size_t k = 0; k < n; k++) {
        /* c-ares 1.18 takes "[v6]:port" and a bare "v6", not "[v6]". */
        const char *ns = nameservers[k];
        size_t l = strlen(ns);
        bool bracketed = l > 2 && ns[0] == '[' && ns[l - 1] == ']';
        int w = snprintf(out + used, outlen - used, "%s%.*s", k ? "," : "",
                         (int)(bracketed ? l - 2 : l), bracketed ? ns + 1 : ns);
        if (w < 0 || (size_t)w >= outlen - used) return -1;
        used += (size_t)w;
    }
    return 0;
}

int resolve_set_servers(char *const *nameservers, size_t n)
{
    char text[SERVERS_MAX];
    if (resolve_servers_csv(nameservers, n, text, sizeof text) != 0) return -1;
    pthread_mutex_lock(&servers_lock);
    memcpy(servers, text, strlen(text) + 1);
    pthread_mutex_unlock(&servers_lock);
    return 0;
}

const char *resolve_status_text(resolve_status st)
{
    switch (st) {
    case RESOLVE_OK:
        return "ok";
    case RESOLVE_NOT_FOUND:
        return "no such host";
    case RESOLVE_TIMEOUT:
        return "timeout";
    case RESOLVE_ERROR:
        break;
    }
    return "resolver error";
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

typedef struct lookup {
    bool done;
    int status;
    struct sockaddr_storage addr;
    socklen_t len;
} lookup;

static void on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    (void)timeouts;
    lookup *q = arg;
    q->done = true;
    q->status = status;
    const struct ares_addrinfo_node *pick = NULL;
    for (const struct ares_addrinfo_node *n = res ? res->nodes : NULL; n; n = n->ai_next) {
        if (n->ai_family == AF_INET) {
            pick = n;
            break;
        }
        if (n->ai_family == AF_INET6 && pick == NULL) pick = n;
    }
    if (status == ARES_SUCCESS && pick == NULL) q->status = ARES_ENODATA;
    if (pick != NULL && (size_t)pick->ai_addrlen <= sizeof q->addr) {
        memcpy(&q->addr, pick->ai_addr, (size_t)pick->ai_addrlen);
        q->len = (socklen_t)pick->ai_addrlen;
    }
    if (res) ares_freeaddrinfo(res);
}

/* Drives the channel until the look-up is done or the deadline passes.
 * Returns false on the deadline (the look-up is still pending). */
static bool resolve_wait(ares_channel ch, const lookup *q, uint64_t deadline)
{
    while (!q->done) {
        uint64_t now = now_ms();
        if (now >= deadline) return false;
        uint64_t left = deadline - now;
        ares_socket_t socks[ARES_GETSOCK_MAXNUM];
        int bits = ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
        struct pollfd pfd[ARES_GETSOCK_MAXNUM];
        nfds_t n = 0;
        for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
            /* c-ares' ARES_GETSOCK_WRITABLE shifts an int 1 by up to 31
             * places (undefined behaviour, UBSan stops there): unsigned. */
            unsigned ub = (unsigned)bits;
            short ev = (short)((ub & (1u << i) ? POLLIN : 0) |
                               (ub & (1u << (i + ARES_GETSOCK_MAXNUM)) ? POLLOUT : 0));
            if (ev == 0) continue;
            pfd[n].fd = socks[i];
            pfd[n].events = ev;
            pfd[n].revents = 0;
            n++;
        }
        struct timeval max = {.tv_sec = (time_t)(left / 1000),
                              .tv_usec = (suseconds_t)((left % 1000) * 1000)};
        struct timeval tv;
        const struct timeval *t = ares_timeout(ch, &max, &tv);
        int wait_ms = (int)(t->tv_sec * 1000 + (t->tv_usec + 999) / 1000);
        int rc = poll(pfd, n, wait_ms);
        if (rc <= 0) { /* timeouts inside c-ares (next server, next try) */
            ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
            continue;
        }
        for (nfds_t k = 0; k < n; k++) {
            if (pfd[k].revents == 0) continue;
            bool rd = pfd[k].revents & (POLLIN | POLLERR | POLLHUP);
            bool wr = pfd[k].revents & POLLOUT;
            ares_process_fd(ch, rd ? pfd[k].fd : ARES_SOCKET_BAD, wr ? pfd[k].fd : ARES_SOCKET_BAD);
        }
    }
    return true;
}

resolve_status resolve_host(const char *host, int timeout_ms, struct sockaddr_storage *addr,
                            socklen_t *len, char *err, size_t errlen)
{
    char dummy[1];
    if (err == NULL) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    if (host == NULL || host[0] == '\0' || strnlen(host, 256) > 255) {
        snprintf(err, errlen, "not a host name");
        return RESOLVE_ERROR;
    }
    memset(addr, 0, sizeof *addr);
    struct sockaddr_in *v4 = (struct sockaddr_in *)addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)addr;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        *len = sizeof *v4;
        return RESOLVE_OK;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        *len = sizeof *v6;
        return RESOLVE_OK;
    }
    if (timeout_ms <= 0) {
        snprintf(err, errlen, "no time left to resolve %s", host);
        return RESOLVE_TIMEOUT;
    }
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;

    pthread_once(&library_once, library_init);
    if (library_status != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares: %s", ares_strerror(library_status));
        return RESOLVE_ERROR;
    }
    /* Per try at most a second (c-ares doubles it per round), so that a
     * second server gets its turn inside a few seconds' deadline. */
    struct ares_options o = {.timeout = timeout_ms < 1000 ? timeout_ms : 1000, .tries = 2};
    ares_channel ch;
    int rc = ares_init_options(&ch, &o, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
        return RESOLVE_ERROR;
    }
    pthread_mutex_lock(&servers_lock);
    rc = servers[0] ? ares_set_servers_ports_csv(ch, servers) : ARES_SUCCESS;
    pthread_mutex_unlock(&servers_lock);
    if (rc != ARES_SUCCESS) {
        ares_destroy(ch);
        snprintf(err, errlen, "c-ares servers: %s", ares_strerror(rc));
        return RESOLVE_ERROR;
    }

    lookup q = {.done = false};
    struct ares_addrinfo_hints hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    ares_getaddrinfo(ch, host, NULL, &hints, on_addrinfo, &q);
    bool finished = resolve_wait(ch, &q, deadline);
    ares_destroy(ch); /* a pending look-up ends here (its callback runs) */

    if (!finished) {
        snprintf(err, errlen, "resolving %s: no answer within %d ms", host, timeout_ms);
        return RESOLVE_TIMEOUT;
    }
    if (q.status == ARES_SUCCESS && q.len > 0) {
        *addr = q.addr;
        *len = q.len;
        return RESOLVE_OK;
    }
    snprintf(err, errlen, "resolving %s: %s", host, ares_strerror(q.status));
    if (q.status == ARES_ENOTFOUND || q.status == ARES_ENODATA) return RESOLVE_NOT_FOUND;
    if (q.status == ARES_ETIMEOUT) return RESOLVE_TIMEOUT;
    return RESOLVE_ERROR;
}
