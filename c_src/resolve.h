/* resolve: a host name to one address, for blocking callers on worker
 * threads (the EPMD lookup and handshake of a dial, EPMD queries), within a
 * deadline. getaddrinfo has none: a dead resolver would hold a worker thread
 * for as long as libc's own retries last. This uses c-ares instead, with the
 * same sources as getaddrinfo (/etc/hosts first, then the DNS servers of
 * /etc/resolv.conf with its search list and ndots), or the servers set with
 * resolve_set_servers (the config's resolver.nameservers).
 *
 * IP literals are converted without any look-up. IPv4 is preferred when a
 * name has both. */
#ifndef CLUSTERD_RESOLVE_H
#define CLUSTERD_RESOLVE_H

#include <stddef.h>
#include <sys/socket.h>

typedef enum {
    RESOLVE_OK = 0,
    RESOLVE_NOT_FOUND, /* no such name, or no address for it */
    RESOLVE_TIMEOUT,   /* the deadline passed first */
    RESOLVE_ERROR      /* anything else (bad name, resolver set-up) */
} resolve_status;

/* Servers for every later look-up, as the config's resolver.nameservers
 * ("ip", "ip:port", "[v6]", "[v6]:port"), or none (n == 0) for
 * /etc/resolv.conf. Process-wide: call at start-up (and on reload); the
 * text is copied. Returns 0, or -1 if the list is too long. */
int resolve_set_servers(char *const *nameservers, size_t n);

/* The same list as c-ares' "ports CSV" into out (shared with dns.c).
 * Returns 0, or -1 if it does not fit in outlen. */
int resolve_servers_csv(char *const *nameservers, size_t n, char *out, size_t outlen);

/* Resolves host within timeout_ms. On RESOLVE_OK, *addr and *len hold the
 * address (port 0). Otherwise err (if not NULL) says why. Blocking: call it
 * from a worker thread, never from the event loop. Thread-safe. */
resolve_status resolve_host(const char *host, int timeout_ms, struct sockaddr_storage *addr,
                            socklen_t *len, char *err, size_t errlen);

const char *resolve_status_text(resolve_status st);

#endif
