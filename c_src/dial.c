/* dial: EPMD lookup + ei handshake within one deadline. See dial.h. */
#include "dial.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "epmd_client.h"
#include "nodename.h"
#include "transport.h"

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

const char *dial_failure_word(dial_failure f)
{
    switch (f) {
    case DIAL_OK:
        return "ok";
    case DIAL_BAD_NAME:
        return "bad_name";
    case DIAL_NO_EPMD:
        return "no_epmd";
    case DIAL_NOT_REGISTERED:
        return "not_registered";
    case DIAL_EPMD_ERROR:
        return "epmd_error";
    case DIAL_PORT_CLOSED:
        return "port_closed";
    case DIAL_COOKIE:
        return "cookie_rejected";
    case DIAL_REFUSED:
        return "refused";
    case DIAL_TIMEOUT:
        return "timeout";
    case DIAL_TLS:
        return "tls";
    case DIAL_FAILED:
        break;
    }
    return "failed";
}

int dial_node_info(cnode *cn, const char *node, unsigned timeout_ms, dial_info *info, char *err,
                   size_t errlen)
{
    dial_info scratch = {0};
    dial_info *di = info ? info : &scratch;
    memset(di, 0, sizeof(*di));
    di->why = DIAL_FAILED;
    char alive[NODENAME_MAX + 1], host[NODENAME_MAX + 1];
    if (nodename_split(node, alive, host) < 0) {
        di->why = DIAL_BAD_NAME;
        snprintf(err, errlen, "invalid node name '%s'", node);
        return -1;
    }
    uint64_t deadline = transport_now_ms() + timeout_ms;
    uint64_t t0 = now_us();
    epmd_node_info einfo;
    epmd_status st = epmd_port_please(host, alive, (int)timeout_ms, &einfo);
    di->epmd_us = (unsigned)(now_us() - t0);
    if (st != EPMD_OK) {
        if (st == EPMD_ERR_NOT_FOUND) {
            di->why = DIAL_NOT_REGISTERED;
            snprintf(err, errlen, "name '%s' is not registered in EPMD on %s", alive, host);
        } else {
            di->why = st == EPMD_ERR_CONNECT   ? DIAL_NO_EPMD
                      : st == EPMD_ERR_TIMEOUT ? DIAL_TIMEOUT
                                               : DIAL_EPMD_ERROR;
            snprintf(err, errlen, "EPMD on %s: %s", host, epmd_status_text(st));
        }
        return -1;
    }
    di->port = einfo.port;
    struct sockaddr_storage addr;
    socklen_t alen = 0;
    uint64_t before = transport_now_ms();
    int left = before < deadline ? (int)(deadline - before) : 0;
    epmd_status rs = epmd_resolve_host(host, left, &addr, &alen);
    if (rs != EPMD_OK) {
        di->why = rs == EPMD_ERR_TIMEOUT ? DIAL_TIMEOUT : DIAL_EPMD_ERROR;
        snprintf(err, errlen, "cannot resolve host %s (%s)", host, epmd_status_text(rs));
        return -1;
    }
    uint64_t now = transport_now_ms();
    if (now >= deadline) {
        di->why = DIAL_TIMEOUT;
        snprintf(err, errlen, "timeout after %u ms (in EPMD lookup)", timeout_ms);
        return -1;
    }
    transport_thread_prepare(deadline, (struct sockaddr *)&addr, alen, -1);
    transport_thread_expect_host(host); /* for the TLS certificate check */
    /* ei wants an IPv4 address; the transport connects to the real one. */
    struct in_addr v4 = {.s_addr = htonl(INADDR_LOOPBACK)};
    if (addr.ss_family == AF_INET) v4 = ((struct sockaddr_in *)&addr)->sin_addr;
    t0 = now_us();
    int fd = ei_xconnect_host_port_tmo(&cn->ec, &v4, einfo.port, (unsigned)(deadline - now));
    di->handshake_us = (unsigned)(now_us() - t0);
    if (fd < 0) {
        transport_failure f;
        transport_thread_failure(&f);
        if (f.layer_error[0]) {
            di->why = DIAL_TLS;
            snprintf(err, errlen, "TLS %s %s failed: %s",
                     f.layer_handshake ? "handshake with" : "connection to", node, f.layer_error);
        } else if (f.timed_out && f.layer_handshake) {
            di->why = DIAL_TIMEOUT;
            snprintf(err, errlen,
                     "timeout after %u ms (TLS handshake on port %d: is %s running "
                     "-proto_dist inet_tls?)",
                     timeout_ms, einfo.port, node);
        } else if (f.peer_speaks_tls) {
            di->why = DIAL_TLS;
            snprintf(err, errlen,
                     "%s answered the distribution handshake with TLS: it runs TLS distribution "
                     "(-proto_dist inet_tls); configure node.tls",
                     node);
        } else if (f.closed_after_name) {
            di->why = DIAL_TLS;
            snprintf(err, errlen,
                     "%s closed the connection right after our name, without a status: does it "
                     "run TLS distribution (-proto_dist inet_tls)? then configure node.tls",
                     node);
        } else if (f.timed_out || erl_errno == ETIMEDOUT) {
            di->why = DIAL_TIMEOUT;
            snprintf(err, errlen, "timeout after %u ms (distribution handshake on port %d)",
                     timeout_ms, einfo.port);
        } else if (f.not_published) {
            di->why = DIAL_FAILED;
            snprintf(err, errlen, "handshake with %s: could not mark ourselves visible", node);
        } else if (f.peer_status[0] && strcmp(f.peer_status, "ok") != 0) {
            di->why = DIAL_REFUSED;
            snprintf(err, errlen, "handshake refused by %s: status '%s'", node, f.peer_status);
        } else if (f.closed_after_reply) {
            di->why = DIAL_COOKIE;
            snprintf(err, errlen, "handshake rejected by %s: the cookie does not match", node);
        } else if (erl_errno == ECONNREFUSED) {
            di->why = DIAL_PORT_CLOSED;
            snprintf(err, errlen,
                     "port %d on %s refused the connection (registered in EPMD, but not "
                     "listening: a stale registration?)",
                     einfo.port, host);
        } else {
            snprintf(err, errlen, "handshake with %s failed (%s)", node, strerror(erl_errno));
        }
        return -1;
    }
    di->why = DIAL_OK;
    return fd;
}

int dial_node(cnode *cn, const char *node, unsigned timeout_ms, char *err, size_t errlen)
{
    return dial_node_info(cn, node, timeout_ms, NULL, err, errlen);
}
