/* dial: EPMD lookup + ei handshake within one deadline. See dial.h. */
#include "dial.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "epmd_client.h"
#include "nodename.h"
#include "transport.h"

int dial_node(cnode *cn, const char *node, unsigned timeout_ms, char *err, size_t errlen)
{
    char alive[NODENAME_MAX + 1], host[NODENAME_MAX + 1];
    if (nodename_split(node, alive, host) < 0) {
        snprintf(err, errlen, "invalid node name '%s'", node);
        return -1;
    }
    uint64_t deadline = transport_now_ms() + timeout_ms;
    epmd_node_info info;
    epmd_status st = epmd_port_please(host, alive, (int)timeout_ms, &info);
    if (st != EPMD_OK) {
        if (st == EPMD_ERR_NOT_FOUND)
            snprintf(err, errlen, "name '%s' is not registered in EPMD on %s", alive, host);
        else
            snprintf(err, errlen, "EPMD on %s: %s", host, epmd_status_text(st));
        return -1;
    }
    struct sockaddr_storage addr;
    socklen_t alen = 0;
    if (epmd_resolve_host(host, &addr, &alen) != EPMD_OK) {
        snprintf(err, errlen, "cannot resolve host %s", host);
        return -1;
    }
    uint64_t now = transport_now_ms();
    if (now >= deadline) {
        snprintf(err, errlen, "timeout after %u ms (in EPMD lookup)", timeout_ms);
        return -1;
    }
    transport_thread_prepare(deadline, (struct sockaddr *)&addr, alen, -1);
    /* ei wants an IPv4 address; the transport connects to the real one. */
    struct in_addr v4 = {.s_addr = htonl(INADDR_LOOPBACK)};
    if (addr.ss_family == AF_INET) v4 = ((struct sockaddr_in *)&addr)->sin_addr;
    int fd = ei_xconnect_host_port_tmo(&cn->ec, &v4, info.port, (unsigned)(deadline - now));
    if (fd < 0) {
        transport_failure f;
        transport_thread_failure(&f);
        if (f.timed_out || erl_errno == ETIMEDOUT)
            snprintf(err, errlen, "timeout after %u ms (distribution handshake on port %d)",
                     timeout_ms, info.port);
        else if (f.not_published)
            snprintf(err, errlen, "handshake with %s: could not mark ourselves visible", node);
        else if (f.peer_status[0] && strcmp(f.peer_status, "ok") != 0)
            snprintf(err, errlen, "handshake refused by %s: status '%s'", node, f.peer_status);
        else if (f.closed_after_reply)
            snprintf(err, errlen, "handshake rejected by %s: the cookie does not match", node);
        else
            snprintf(err, errlen, "handshake with %s failed (%s)", node, strerror(erl_errno));
        return -1;
    }
    return fd;
}
